"""The program's entry point (`hpd3d`, `python -m hpd3d_addon`): Ctrl-C is caught from its first line.

Importing the command line means importing numpy and the core (a few hundred ms). A SIGINT or SIGTERM in
that time is only noted, and acted on once the imports are done (an exception raised inside an extension
module's initialisation would come out as numpy's ImportError, not as the interrupt); then cli.main
installs its own handlers for the run.
"""
import signal
import sys


def main(argv=None):
    arrived = []

    def note(signum, frame):
        arrived.append(signum)
        signal.signal(signum, signal.SIG_IGN)

    saved = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        from .cli import main as cli_main
    finally:
        for sig, handler in saved.items():
            if not arrived:
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
    try:
        if not arrived:
            return cli_main(argv)
    except KeyboardInterrupt:  # in the instant before cli.main's own handlers
        arrived.append(signal.SIGINT)
    what = "interrupted" if arrived[0] == signal.SIGINT else f"stopped by {signal.Signals(arrived[0]).name}"
    sys.stderr.write(f"hpd3d: {what}, nothing written\n")
    return 128 + arrived[0]
