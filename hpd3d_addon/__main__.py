"""`python -m hpd3d_addon ...` runs the command-line tool."""
import sys

from .entry import main

sys.exit(main())
