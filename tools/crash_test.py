"""`make crash`: many more kill -9 points than the test suite tries, seeded.

Each case copies an old dataset (with a preview), runs `generate --overwrite` in a forked child and kills
it: at a counted system call of the commit (every one of them, in turn), or at a random moment of the run
(most of them inside the staging and commit phase, measured from an uninterrupted run). Then the folder
must be the old dataset wholly or the new one (and `check` passes it), or `check` must fail it and
`check --repair` (every other case: the next `generate`) must make it whole. Prints counts per outcome;
exits non-zero at the first violation.

    python tools/crash_test.py [--cases N] [--seed S] [--rig SPEC]
"""
import argparse
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(HERE), str(HERE / "tests")]

from commit_harness import run_child, snapshot, state  # noqa: E402
from hpd3d_addon.core.check import check_folder  # noqa: E402

SAMPLES = HERE / "hpd3d_addon" / "samples"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rig", default="dome", help="rig of the new run (a bigger one: longer staging)")
    a = p.parse_args()
    rng = random.Random(a.seed)
    new = ["--overwrite", "--rig", a.rig, "--quiet"]
    with tempfile.TemporaryDirectory(prefix="hpd3d-crash-") as tmp:
        tmp = Path(tmp)
        old_dir = tmp / "old"
        code, _ = run_child(["generate", SAMPLES, "--out", old_dir, "--preview", "--quiet"], tmp / "log")
        assert code == 0, (tmp / "log").read_text()
        probe = tmp / "probe"
        shutil.copytree(old_dir, probe)
        started = time.perf_counter()
        code, calls = run_child(["generate", SAMPLES, "--out", probe, *new], tmp / "log")
        seconds = time.perf_counter() - started
        assert code == 0 and calls
        counts = {}
        for case in range(a.cases):
            work = tmp / "work"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(old_dir, work)
            old = snapshot(work)
            if case < len(calls) + 1:
                how, at, after = f"call {case + 1}", case + 1, None
            else:
                after = rng.uniform(0, seconds * 1.1)
                how, at = f"{after * 1000:.1f} ms", None
            run_child(["generate", SAMPLES, "--out", work, *new], tmp / "log", at=at, kill_after=after)
            outcome = _outcome(work, old, tmp, repair_by_generate=case % 2 == 1, new=new)
            if outcome.startswith("VIOLATION"):
                print(f"case {case} (kill at {how}): {outcome}")
                return 1
            counts[outcome] = counts.get(outcome, 0) + 1
        print(f"{a.cases} kill -9 cases ({len(calls) + 1} at system calls, {a.cases - len(calls) - 1} at moments "
              f"over {seconds * 1000:.0f} ms), seed {a.seed}: {counts}; 0 violations")
    return 0


def _outcome(work, old, tmp, repair_by_generate, new):
    report = check_folder(work)
    held = state(work, old)
    if report.passed:
        return held if held in ("old", "new") else f"VIOLATION: check passed a mixed folder {report.lines()}"
    if not any("--repair" in p for p in report.problems):
        return f"VIOLATION: check failed without naming --repair: {report.lines()}"
    args = ["generate", SAMPLES, "--out", work, *new] if repair_by_generate else ["check", work, "--repair"]
    code, _ = run_child(args, tmp / "repair.log")
    if code != 0 or not check_folder(work).passed or state(work, old) not in ("old", "new"):
        return f"VIOLATION: repair left {state(work, old)} (exit {code}): {(tmp / 'repair.log').read_text()}"
    return "repaired by generate" if repair_by_generate else "repaired by check --repair"


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
