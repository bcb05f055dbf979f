"""The folder commit (core/commit.py) against kill -9, Ctrl-C, a second writer and a full disk.

Promise under test: at every instant a dataset folder is wholly the old dataset, wholly the new one, or
recognisably incomplete (`check` fails it, naming `check --repair`), and `check --repair` or the next
`generate` leaves one whole dataset. `check` fails a folder with any one file from another run.

Kills are of forked children (tests/commit_harness.py): at every counted system call of a run (each mkdir,
fsync, rename, unlink, rmdir of the lock, staging, commit point and roll-forward), at moments spread over
the run, and at every system call of the repair of a folder killed after its commit point.
"""
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from commit_harness import run_child, snapshot, state, stopped_writer, whole_run
from conftest import REPO, SAMPLES
from hpd3d_addon.core.check import check_folder
from hpd3d_addon.core.commit import JOURNAL_NAME, LOCK_NAME, STAGE_NAME
from hpd3d_addon.core.folder_lock import FolderLock

NEW = ("--overwrite", "--rig", "ring:3", "--quiet")


@pytest.fixture(scope="module")
def old_dataset(tmp_path_factory):
    """A dataset with a preview (the new run writes none: the old preview must go in the same commit)."""
    out = tmp_path_factory.mktemp("old") / "ds"
    code, _ = run_child(["generate", SAMPLES, "--out", out, "--preview", "--quiet"], out.parent / "log")
    assert code == 0, (out.parent / "log").read_text()
    assert check_folder(out).passed
    return out


@pytest.fixture(scope="module")
def commit_calls(old_dataset, tmp_path_factory):
    """The counted system calls of an uninterrupted --overwrite run, and its duration in seconds."""
    work = tmp_path_factory.mktemp("calls") / "ds"
    shutil.copytree(old_dataset, work)
    started = time.perf_counter()
    code, calls = run_child(["generate", SAMPLES, "--out", work, *NEW], work.parent / "log")
    seconds = time.perf_counter() - started
    assert code == 0 and calls, (work.parent / "log").read_text()
    return calls, seconds


def _copy(old_dataset, tmp_path, label):
    work = tmp_path / label
    shutil.copytree(old_dataset, work)
    return work


def _assert_old_new_or_repairable(work, old, tmp_path, via_generate=False):
    """After a kill: old or new wholly and check passes, or check fails naming --repair and the repair (or
    the next generate) leaves one whole dataset. Returns what the folder held ('old', 'new', 'repaired')."""
    report = check_folder(work)
    held = state(work, old)
    if report.passed:
        assert held in ("old", "new"), f"check passed a mixed folder: {report.lines()}"
        return held
    assert any("--repair" in p for p in report.problems), report.lines()
    if via_generate:
        code, _ = run_child(["generate", SAMPLES, "--out", work, *NEW], tmp_path / "next.log")
        log = (tmp_path / "next.log").read_text()
        assert code == 0, log
        assert "hpd3d: note: " in log and "interrupted" in log, log
    else:
        code, _ = run_child(["check", work, "--repair"], tmp_path / "repair.log")
        log = (tmp_path / "repair.log").read_text()
        assert code == 0 and "repair: " in log and "PASS" in log, log
    assert check_folder(work).passed
    assert state(work, old) in ("old", "new"), sorted(os.listdir(work))
    _assert_clean(work)
    return "repaired"


def _assert_clean(work):
    leftovers = [n for n in os.listdir(work) if n in (STAGE_NAME, JOURNAL_NAME) or ".tmp-" in n]
    assert not leftovers, leftovers


def test_uninterrupted_overwrite_is_wholly_new_and_clean(old_dataset, commit_calls, tmp_path):
    calls, _ = commit_calls
    # every step of the commit is counted: the staging folder, one fsync per file and per folder,
    # the commit point and one rename per file, the stale preview, the cleanup, the lock file
    assert calls.count("replace") == 1 + 6 and calls.count("fsync") >= 6 + 1 + 1 + 3, calls
    work = _copy(old_dataset, tmp_path, "ds")
    old = snapshot(work)
    code, _ = run_child(["generate", SAMPLES, "--out", work, *NEW], tmp_path / "log")
    assert code == 0
    assert state(work, old) == "new" and check_folder(work).passed
    assert "preview_blender.png" not in os.listdir(work)
    assert sorted(n for n in os.listdir(work) if n.startswith(".")) == []  # no lock, stage or journal left


def test_kill_9_at_every_system_call_of_the_commit(old_dataset, commit_calls, tmp_path):
    """SIGKILL before each counted call (and after the last): old, new, or repairable. Half the folders are
    repaired by `check --repair`, half by the next `generate`."""
    calls, _ = commit_calls
    seen = {"old": 0, "new": 0, "repaired": 0}
    for k in range(1, len(calls) + 2):
        work = _copy(old_dataset, tmp_path, f"k{k}")
        old = snapshot(work)
        code, _ = run_child(["generate", SAMPLES, "--out", work, *NEW], tmp_path / f"k{k}.log", at=k)
        assert code == (-signal.SIGKILL if k <= len(calls) else 0), (k, (tmp_path / f"k{k}.log").read_text())
        seen[_assert_old_new_or_repairable(work, old, tmp_path, via_generate=k % 2 == 1)] += 1
        shutil.rmtree(work)
    print(f"kill -9 at {len(calls) + 1} system calls: {seen}")
    assert seen["old"] and seen["new"] and seen["repaired"], seen


def test_kill_9_at_moments_spread_over_the_run(old_dataset, commit_calls, tmp_path):
    """SIGKILL from the parent at 30 moments spread over a run's duration (reading, projecting, staging,
    committing), seeded."""
    _, seconds = commit_calls
    rng = random.Random(10)
    moments = sorted(rng.uniform(0.0, seconds * 1.2) for _ in range(30))
    outcomes = []
    for i, t in enumerate(moments):
        work = _copy(old_dataset, tmp_path, f"t{i}")
        old = snapshot(work)
        run_child(["generate", SAMPLES, "--out", work, *NEW], tmp_path / f"t{i}.log", kill_after=t)
        outcomes.append(_assert_old_new_or_repairable(work, old, tmp_path, via_generate=i % 2 == 0))
        shutil.rmtree(work)
    print(f"kill -9 at {len(moments)} moments over {seconds:.2f} s: "
          f"{ {k: outcomes.count(k) for k in set(outcomes)} }")


def test_kill_9_while_repairing(old_dataset, commit_calls, tmp_path):
    """A run killed after its commit point, then `check --repair` killed at each of its calls: the repair
    is re-done from the journal every time, ending in the new dataset."""
    calls, _ = commit_calls
    commit_point = calls.index("replace") + 1 + 1  # just after the journal's rename and before the fsync
    base = _copy(old_dataset, tmp_path, "base")
    old = snapshot(base)
    code, _ = run_child(["generate", SAMPLES, "--out", base, *NEW], tmp_path / "base.log", at=commit_point)
    assert code == -signal.SIGKILL and (base / JOURNAL_NAME).is_file()
    assert not check_folder(base).passed
    code, repair_calls = run_child(["check", _copy(base, tmp_path, "probe"), "--repair"], tmp_path / "probe.log")
    assert code == 0 and repair_calls
    for j in range(1, len(repair_calls) + 1):
        work = _copy(base, tmp_path, f"r{j}")
        code, _ = run_child(["check", work, "--repair"], tmp_path / f"r{j}.log", at=j)
        assert code == -signal.SIGKILL
        if not check_folder(work).passed:
            code, _ = run_child(["check", work, "--repair"], tmp_path / f"r{j}b.log")
            assert code == 0, (tmp_path / f"r{j}b.log").read_text()
        assert check_folder(work).passed and state(work, old) == "new", j
        shutil.rmtree(work)


# ---- check fails a folder with one file from another run ------------------------------------------------------

@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two datasets of the same input and settings (so only the run differs), and a third with other cameras."""
    root = tmp_path_factory.mktemp("runs")
    outs = []
    for i, rig in enumerate(("ring:3", "ring:3", "ring:4")):
        out = root / f"run{i}"
        code, _ = run_child(["generate", SAMPLES, "--out", out, "--rig", rig, "--quiet"], root / "log")
        assert code == 0
        outs.append(out)
    return outs


@pytest.mark.parametrize("name", ["data_3d_blender.npz", "data_2d_blender_gt.npz", "manifest.json",
                                  "camera_intrinsics.txt", "camera_extrinsics.txt"])
@pytest.mark.parametrize("donor", [1, 2])
def test_check_fails_a_folder_with_one_file_from_another_run(two_runs, tmp_path, name, donor):
    work = tmp_path / "ds"
    shutil.copytree(two_runs[0], work)
    assert check_folder(work).passed
    shutil.copyfile(two_runs[donor] / name, work / name)
    if donor == 1 and name.endswith(".txt"):
        # the same settings give the same camera files: a swap changes nothing, and check may pass
        assert (two_runs[0] / name).read_bytes() == (two_runs[1] / name).read_bytes()
        return
    report = check_folder(work)
    assert not report.passed
    assert any("run" in p for p in report.problems), report.lines()


def test_check_fails_a_changed_file_and_a_manifest_without_record(two_runs, tmp_path):
    work = tmp_path / "ds"
    shutil.copytree(two_runs[0], work)
    with open(work / "camera_extrinsics.txt", "a") as fh:
        fh.write("\n")
    assert any("SHA-256" in p for p in check_folder(work).problems)
    shutil.copyfile(two_runs[0] / "camera_extrinsics.txt", work / "camera_extrinsics.txt")
    manifest = json.loads((work / "manifest.json").read_text())
    manifest.pop("contents"), manifest.pop("run_id")
    (work / "manifest.json").write_text(json.dumps(manifest))
    assert any("no run record" in p for p in check_folder(work).problems)
    (work / "manifest.json").write_text((two_runs[0] / "manifest.json").read_text().replace("1.6", "NaN", 1))
    assert any("strict JSON" in p for p in check_folder(work).problems)


# ---- one writer per folder ---------------------------------------------------------------------------------

def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "hpd3d_addon", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=300, **kw)


def test_second_concurrent_run_fails_at_once_naming_the_folder_and_pid(old_dataset, tmp_path):
    """Run A stops (SIGSTOP) in the middle of staging, holding the lock; run B into the same folder exits
    non-zero at once with one line naming the folder and A's PID; A then finishes: one dataset, A's."""
    work = _copy(old_dataset, tmp_path, "ds")
    old = snapshot(work)
    pid = stopped_writer(["generate", SAMPLES, "--out", work, *NEW], tmp_path / "a.log")
    assert (work / STAGE_NAME).is_dir() and not check_folder(work).passed  # "a run is writing this folder"
    assert any(f"PID {pid}" in p for p in check_folder(work).problems)
    started = time.perf_counter()
    b = _cli("generate", SAMPLES, "--out", work, *NEW)
    seconds = time.perf_counter() - started
    lines = b.stderr.strip().splitlines()
    assert b.returncode != 0 and len(lines) == 1, b.stderr
    assert str(work) in lines[0] and f"PID {pid}" in lines[0] and "Traceback" not in b.stderr, lines
    assert seconds < 10, seconds  # at once: before reading any input (a Python start-up is most of it)
    os.kill(pid, signal.SIGCONT)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, (tmp_path / "a.log").read_text()
    assert state(work, old) == "new" and check_folder(work).passed
    assert not (work / LOCK_NAME).exists()


def test_two_runs_started_together_leave_exactly_one_dataset(tmp_path):
    for i in range(4):
        out = tmp_path / f"ds{i}"
        procs = [subprocess.Popen([sys.executable, "-m", "hpd3d_addon", "generate", str(SAMPLES), "--out", str(out),
                                   "--rig", rig, "--quiet"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for rig in ("ring:3", "ring:4")]
        results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
        assert sorted(code == 0 for code, _ in results) == [False, True], results
        code, err = next(r for r in results if r[0] != 0)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hpd3d: error: ") and str(out) in lines[0], err
        assert "another hpd3d run" in lines[0] or "already exists" in lines[0], lines
        assert check_folder(out).passed and whole_run(out)


def test_lock_is_one_per_folder_and_released(tmp_path):
    out = tmp_path / "ds"
    with FolderLock(out):
        assert (out / LOCK_NAME).read_text().strip() == str(os.getpid())
        with FolderLock(out):  # re-entrant in one thread (generate holds it while finish() writes)
            pass
        assert (out / LOCK_NAME).is_file()
        r = _cli("generate", SAMPLES, "--out", out)
        assert r.returncode != 0 and f"PID {os.getpid()}" in r.stderr and str(out) in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        r = _cli("check", out, "--repair")
        assert r.returncode != 0 and f"PID {os.getpid()}" in r.stderr, r.stderr
    assert not out.exists()  # the lock made the folder, nothing was written: it goes too


# ---- Ctrl-C ------------------------------------------------------------------------------------------------

def _assert_interrupted(work, old, log, code):
    lines = log.strip().splitlines()
    assert code == 130, (code, log)
    assert len(lines) == 1 and lines[0].startswith("hpd3d: interrupted") and "Traceback" not in log, log
    held = state(work, old)
    if "nothing written" in lines[0]:
        assert held == "old", lines
    else:
        assert "after the dataset was written" in lines[0] and held == "new", lines
    assert check_folder(work).passed
    assert sorted(n for n in os.listdir(work) if n.startswith(".")) == []  # no stage, journal or lock left
    return held


def test_ctrl_c_at_every_system_call(old_dataset, commit_calls, tmp_path):
    """SIGINT at each counted call: before the commit point the staged files go and the old dataset stays;
    after it the roll-forward is finished first. Exit 130 and one line that says which."""
    calls, _ = commit_calls
    held = []
    for k in range(1, len(calls) + 1):
        work = _copy(old_dataset, tmp_path, f"c{k}")
        old = snapshot(work)
        code, _ = run_child(["generate", SAMPLES, "--out", work, *NEW], tmp_path / "c.log", at=k,
                            sig=signal.SIGINT)
        held.append(_assert_interrupted(work, old, (tmp_path / "c.log").read_text(), code))
        shutil.rmtree(work)
    assert "old" in held and "new" in held, held


def _wait_for_numpy(pid, timeout=60):
    """Until numpy's C extension is mapped into the process: its start-up imports are under way (hpd3d's
    signal handlers are installed before numpy is imported). Earlier than that is Python's own start-up
    (site), which hpd3d's code does not run in yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text():
                return True
        except OSError:
            return False
        time.sleep(0.0005)
    return False


def test_ctrl_c_in_a_real_process_from_start_up_on(old_dataset, tmp_path):
    """SIGINT to `python -m hpd3d_addon generate` at moments from its imports (numpy half-loaded) to its end."""
    if not Path("/proc/self/maps").is_file():
        pytest.skip("no /proc to see the start-up")
    probe = _copy(old_dataset, tmp_path, "probe")
    started = time.perf_counter()
    assert _cli("generate", SAMPLES, "--out", probe, *NEW).returncode == 0
    seconds = time.perf_counter() - started
    codes = []
    for i, t in enumerate([0.0, 0.0] + list(np.linspace(0.01, seconds * 0.8, 6))):
        work = _copy(old_dataset, tmp_path, f"s{i}")
        old = snapshot(work)
        p = subprocess.Popen([sys.executable, "-m", "hpd3d_addon", "generate", str(SAMPLES), "--out", str(work), *NEW],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert _wait_for_numpy(p.pid)
        time.sleep(t)
        p.send_signal(signal.SIGINT)
        code = p.wait(timeout=300)
        err = p.stderr.read()
        codes.append(code)
        if code == 0:  # it had finished
            assert state(work, old) == "new"
            continue
        _assert_interrupted(work, old, err, code)
    assert codes.count(130) >= 4, codes


def test_sigterm_is_a_clean_stop(old_dataset, tmp_path):
    work = _copy(old_dataset, tmp_path, "ds")
    old = snapshot(work)
    code, _ = run_child(["generate", SAMPLES, "--out", work, *NEW], tmp_path / "log", at=5, sig=signal.SIGTERM)
    log = (tmp_path / "log").read_text()
    assert code == 128 + signal.SIGTERM and log.strip() == f"hpd3d: stopped by SIGTERM, nothing written ({work} unchanged)"
    assert snapshot(work) == old and sorted(os.listdir(work)) == sorted(old)


# ---- full disk ---------------------------------------------------------------------------------------------

def _file_size_limit(nbytes):
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return limit


@pytest.mark.parametrize("limit", [1, 5000, 30000, 70000])
def test_file_size_limit_mid_write_keeps_the_old_dataset(old_dataset, tmp_path, limit):
    work = _copy(old_dataset, tmp_path, "ds")
    old = snapshot(work)
    r = _cli("generate", SAMPLES, "--out", work, *NEW[:-1], "--rig", "ring:8", preexec_fn=_file_size_limit(limit))
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert str(work) in lines[0] and "unchanged" in lines[0], lines
    assert snapshot(work) == old and sorted(os.listdir(work)) == sorted(old)


FULL_DISK = r"""
import json, os, subprocess, sys
out = sys.argv[1] + "/ds"
def run(*args):
    r = subprocess.run([sys.executable, "-m", "hpd3d_addon", *args], capture_output=True, text=True, cwd=sys.argv[2])
    return r.returncode, r.stderr
first = run("generate", sys.argv[3], "--out", out, "--quiet")
before = {n: open(os.path.join(out, n), "rb").read().hex() for n in sorted(os.listdir(out))}
second = run("generate", sys.argv[3], "--out", out, "--overwrite", "--rig", "dome", "--quiet")
after = {n: open(os.path.join(out, n), "rb").read().hex() for n in sorted(os.listdir(out))}
check = run("check", out)
print(json.dumps({"first": first, "second": second, "same": before == after, "check": check[0],
                  "names": sorted(os.listdir(out))}))
"""


def test_full_disk_mid_write_keeps_the_old_dataset(tmp_path):
    """A real ENOSPC: a 300 kB tmpfs (in a private mount namespace) holds the first dataset (4 cameras,
    ~100 kB), not a 24-camera one (~450 kB) staged beside it."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not available")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = tmp_path / "full_disk.py"
    script.write_text(FULL_DISK)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run(["unshare", "-rm", "sh", "-c", f'mount -t tmpfs -o size=300k tmpfs "{mnt}" && '
                        f'"{sys.executable}" "{script}" "{mnt}" "{REPO}" "{SAMPLES}"'],
                       capture_output=True, text=True, env=env, timeout=300)
    if r.returncode != 0 and "mount" in r.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["first"][0] == 0, got
    code, err = got["second"]
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and "No space left" in lines[0] and "unchanged" in lines[0], err
    assert got["same"] and got["check"] == 0 and not [n for n in got["names"] if n.startswith(".")], got


# ---- strict output -----------------------------------------------------------------------------------------

def test_a_non_finite_array_is_one_line_and_nothing_is_written(old_dataset, tmp_path):
    from hpd3d_addon.core.errors import OutputError
    from hpd3d_addon.core.formats.videopose3d import NpzContent
    from hpd3d_addon.core.writer import write_files
    work = _copy(old_dataset, tmp_path, "ds")
    old = snapshot(work)
    bad = np.zeros((4, 17, 3), np.float32)
    bad[2, 5, 1] = np.nan
    files = {"data_3d_blender.npz": NpzContent(positions_3d={"S1": {"walk": bad}}), "camera_intrinsics.txt": b"[]\n"}
    with pytest.raises(OutputError) as err:
        write_files(work, files, overwrite=True, manifest={"run_id": "x"})
    assert str(err.value) == ("data_3d_blender.npz: positions_3d/S1/walk holds a non-finite value (NaN or infinity); "
                              "nothing written")
    with pytest.raises(OutputError, match=r"^manifest.json: settings/fps is not a finite number"):
        write_files(work, {"camera_intrinsics.txt": b"[]\n"}, overwrite=True,
                    manifest={"run_id": "x", "settings": {"fps": np.float32("inf")}})
    assert snapshot(work) == old and sorted(os.listdir(work)) == sorted(old)


def test_a_denormal_frame_time_never_writes_a_non_strict_manifest(tmp_path):
    """The issue's case: `Frame Time: 1e-320` made a dataset 'at inf fps' with Infinity in manifest.json.
    Now either one line and nothing written, or a dataset whose manifest is strict JSON."""
    text = (SAMPLES / "hpd3d_sample_walk.bvh").read_text()
    head, _, rest = text.partition("Frame Time:")
    bvh = tmp_path / "S1" / "walk.bvh"
    bvh.parent.mkdir()
    bvh.write_text(head + "Frame Time: 1e-320\n" + rest.split("\n", 1)[1])
    out = tmp_path / "out"
    r = _cli("generate", bvh, "--out", out, "--rig", "ring:2")
    assert "Traceback" not in r.stderr
    if r.returncode != 0:
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not out.exists() or not [n for n in os.listdir(out) if not n.startswith(".")]
    else:
        json.loads((out / "manifest.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in manifest"))


# ---- what a replacing run removes, and what it leaves ----------------------------------------------------

def test_overwrite_under_another_name_replaces_the_folder_wholly(old_dataset, tmp_path):
    """The folder holds one dataset (the camera files and manifest are the folder's): the old run's files
    go in the same commit, so the folder is wholly the new run's."""
    work = _copy(old_dataset, tmp_path, "ds")
    code, _ = run_child(["generate", SAMPLES, "--out", work, "--name", "other", *NEW], tmp_path / "log")
    assert code == 0, (tmp_path / "log").read_text()
    assert not list(work.glob("*_blender*")) and whole_run(work) and check_folder(work).passed


def test_a_write_without_manifest_leaves_the_dataset_beside_it(old_dataset, tmp_path):
    """An export into a dataset folder (no manifest of its own) touches only its own files."""
    from hpd3d_addon.core.writer import write_files
    work = _copy(old_dataset, tmp_path, "ds")
    old = snapshot(work)
    write_files(work, {"motionbert.pkl": b"\x80\x04N."}, protect=("motionbert.pkl",))
    after = snapshot(work)
    assert after.pop("motionbert.pkl") == b"\x80\x04N." and after == old
    assert check_folder(work).passed


def test_ctrl_c_to_the_process_group_with_workers(old_dataset, tmp_path):
    """A terminal's Ctrl-C reaches the workers too: they leave it to the main process, which stops them;
    one line, exit 130, the old dataset intact."""
    mocap = tmp_path / "mocap" / "S1"
    mocap.mkdir(parents=True)
    for i in range(12):
        shutil.copyfile(SAMPLES / "hpd3d_sample_walk.bvh", mocap / f"walk{i}.bvh")
    codes = []
    for delay in (0.3, 0.8):
        work = _copy(old_dataset, tmp_path, f"w{delay}")
        old = snapshot(work)
        p = subprocess.Popen([sys.executable, "-m", "hpd3d_addon", "generate", str(mocap.parent), "--out", str(work),
                              "--workers", "2", "--fps", "240", *NEW], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        assert _wait_for_numpy(p.pid)
        time.sleep(delay)
        os.killpg(p.pid, signal.SIGINT)
        code = p.wait(timeout=300)
        err = p.stderr.read()
        codes.append(code)
        if code == 0:
            continue
        _assert_interrupted(work, old, err, code)
    assert 130 in codes, codes
