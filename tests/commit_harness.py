"""Running `hpd3d` in a forked child that dies (SIGKILL), is interrupted (SIGINT) or stops (SIGSTOP) at a
chosen system call of the writer, and telling afterwards what the folder holds: the old dataset wholly,
the new one wholly, or something else.

The child is a fork of the test process (numpy and the core already imported: a run costs a few ms, so
every step of the commit can be tried). In the child, the file-system calls the commit is made of
(os.mkdir, os.fsync, os.replace, os.unlink, os.rmdir) are wrapped by a counter; at call number k the child
sends itself the signal just before the call, i.e. between call k-1 and call k. Used by tests/test_commit.py
and tools/crash_test.py.
"""
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np

import hpd3d_addon.cli  # noqa: F401  (imported here, once: every forked child runs this same code)
from hpd3d_addon.core.commit import file_digest, is_commit_file

OPS = ("mkdir", "fsync", "replace", "unlink", "rmdir")


def _instrument(at, sig, report_fd):
    """Wrap the commit's system calls; at call number `at` (1-based) send `sig` to ourselves first."""
    calls = []

    def wrap(name, real):
        def call(*args, **kwargs):
            calls.append(name)
            if at is not None and len(calls) == at:
                os.kill(os.getpid(), sig)
                if sig == signal.SIGINT:  # a Python handler runs at the next bytecode: let it
                    time.sleep(0)
            return real(*args, **kwargs)
        return call

    for name in OPS:
        setattr(os, name, wrap(name, getattr(os, name)))

    def report():
        os.write(report_fd, (json.dumps(calls) + "\n").encode())
    return report


def run_child(argv, log, at=None, sig=signal.SIGKILL, kill_after=None, timeout=120):
    """Run cli.main(argv) in a forked child. Returns (status, calls): status is the exit code, or -N when
    signal N ended it; calls is the list of counted system calls of a child that ran to the end (else None).
    `at`: the call before which the child signals itself; `kill_after`: seconds after which the parent
    SIGKILLs it."""
    r, w = os.pipe()
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child
        code = 99
        try:
            os.close(r)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1), os.dup2(fd, 2)
            sys.stdout = os.fdopen(1, "w", buffering=1)
            sys.stderr = os.fdopen(2, "w", buffering=1)
            report = _instrument(at, sig, w)
            from hpd3d_addon.cli import main
            code = main(list(map(str, argv)))
            report()
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush(), sys.stderr.flush()
            finally:
                os._exit(code if isinstance(code, int) else 98)
    os.close(w)
    deadline = time.monotonic() + timeout
    killed_by_us = False
    started = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        now = time.monotonic()
        if kill_after is not None and not killed_by_us and now - started >= kill_after:
            os.kill(pid, signal.SIGKILL)
            killed_by_us = True
        if now > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            raise AssertionError(f"child {argv} hung (log: {Path(log).read_text()})")
        time.sleep(0.0005 if kill_after is not None else 0.002)
    with os.fdopen(r) as fh:
        text = fh.read().strip()
    calls = json.loads(text) if text else None
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return code, calls


# ---- what a folder holds -----------------------------------------------------------------------------------

def snapshot(folder):
    """{name: bytes} of the dataset files of a folder (the lock, journal and staging folder left out)."""
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())
            if p.is_file() and not is_commit_file(p.name)}


def _run_id(path):
    with np.load(path, allow_pickle=True) as z:
        return z["metadata"].item().get("run_id")


def whole_run(folder):
    """The run id when the folder's dataset files are exactly one run's, as its manifest records them
    (every file listed, sizes and SHA-256 equal, npz run ids equal, no other dataset file), else None.
    Independent of hpd3d check."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    contents, run_id = manifest.get("contents") or {}, manifest.get("run_id")
    present = set(snapshot(folder)) - {"manifest.json"}
    if not run_id or present != set(contents):
        return None
    for name, rec in contents.items():
        if file_digest(folder / name) != (rec["bytes"], rec["sha256"]):
            return None
        if name.endswith(".npz") and _run_id(folder / name) != run_id:
            return None
    return run_id


def state(folder, old):
    """'old' (byte for byte the old dataset), 'new' (wholly one other run), or 'mixed'."""
    if snapshot(folder) == old:
        return "old"
    return "new" if whole_run(folder) not in (None, whole_run_of(old)) else "mixed"


def whole_run_of(snap):
    return json.loads(snap["manifest.json"])["run_id"]


def stopped_writer(argv, log, at=2):
    """Fork a child running cli.main(argv) that stops itself (SIGSTOP) at its `at`-th os.fsync, i.e. while
    it holds the folder's lock in the middle of staging. Returns its PID once it is stopped; SIGCONT it and
    waitpid for its exit status."""
    r, w = os.pipe()
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            os.close(r)
            os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 1)
            os.dup2(1, 2)
            real, count = os.fsync, [0]

            def fsync_then_stop(fd):
                count[0] += 1
                if count[0] == at:
                    os.write(w, b"s")
                    os.kill(os.getpid(), signal.SIGSTOP)
                return real(fd)
            os.fsync = fsync_then_stop
            from hpd3d_addon.cli import main
            code = main(list(map(str, argv)))
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code if isinstance(code, int) else 98)
    os.close(w)
    got = os.read(r, 1)
    os.close(r)
    if got != b"s":
        os.waitpid(pid, 0)
        raise AssertionError(f"the writer ended before it stopped: {Path(log).read_text()}")
    os.waitpid(pid, os.WUNTRACED)
    return pid
