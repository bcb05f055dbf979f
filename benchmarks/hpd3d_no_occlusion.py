"""`hpd3d` with the self-occlusion model (core/occlusion.py) replaced by "nothing occluded", for measuring
the rest of the pipeline: since that model landed it takes ~95% of a run (37 of 39 s for the three fixtures
with 24 cameras on the 2-core machine), which hides every other figure. Outputs are the same except the
`occluded` masks (all False). Not for making datasets.

    python benchmarks/hpd3d_no_occlusion.py generate ... (the arguments of hpd3d)
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _nothing_occluded(points, capsules, cameras, normals=None, ignored=None):
    return [np.zeros(np.shape(points)[:2], dtype=bool) for _ in cameras]


def main():
    from hpd3d_addon.core import dataset, occlusion
    occlusion.occlusion_masks = _nothing_occluded
    dataset.occlusion_masks = _nothing_occluded
    from hpd3d_addon.cli import main as cli_main
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
