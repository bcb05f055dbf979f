"""A short seeded slice of `make fuzz` (tools/fuzz.py): every input kind, each case in a forked child with
memory and time limits; no case may give a traceback, run out of memory or time, write a NaN/inf or
non-strict JSON, or run a pickle payload."""
import subprocess
import sys

from conftest import REPO


def test_fuzz_slice_has_only_ok_and_clean_errors():
    run = subprocess.run([sys.executable, str(REPO / "tools" / "fuzz.py"), "--cases", "240", "--seed", "1",
                          "--jobs", "2", "--time", "60"], capture_output=True, text=True, cwd=REPO, timeout=600)
    summary = run.stdout[run.stdout.index("fuzz: 240 cases"):] if "fuzz: 240 cases" in run.stdout else run.stdout
    assert run.returncode == 0, summary[-4000:] + run.stderr[-2000:]
    counts = {line.split()[0]: int(line.split()[1]) for line in summary.splitlines()[1:11]}
    assert counts["ok"] > 20 and counts["ok"] + counts["clean-error"] == 240, summary
