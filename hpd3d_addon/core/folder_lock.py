"""One writer per folder: an advisory lock on `DIR/.hpd3d.lock`.

Before it writes a byte (the CLI: before it reads any input), a run takes `fcntl.flock` (msvcrt.locking on
Windows) on the lock file and writes its PID there. A second run into the same folder fails at once with
one line naming the folder and that PID. The kernel drops the lock when its process dies (kill -9
included), so a dead run never blocks the next one; the lock file is removed when the run ends, and so is
the folder when the lock made it and nothing was written.
"""
import errno
import os
import threading
import time
from pathlib import Path

from .commit import LOCK_NAME, signals_held
from .errors import OutputError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

_held = {}  # real path of a folder -> [fd, owner thread id, depth, folders the lock created]
_held_guard = threading.Lock()


def _forget_locks_in_child():
    """A forked child (a worker process) does not own its parent's lock: close its copies of the lock files
    (the parent keeps the lock: flock belongs to the open file, which the parent still has open)."""
    for fd, *_ in _held.values():
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks_in_child)


def _remove_empty(folders):
    for p in folders:
        try:
            p.rmdir()
        except OSError:
            return


def _try_lock(fd):
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
            return False
        raise


def _read_pid(path):
    """The PID the lock's holder wrote (it writes it right after locking: wait a moment for it)."""
    for _ in range(50):
        try:
            text = Path(path).read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            text = ""
        if text.isdigit():
            return text
        time.sleep(0.01)
    return "unknown"


def _busy(folder, pid):
    return OutputError(f"{folder}: another hpd3d run (PID {pid}) is writing to this folder; "
                       "wait for it to finish or choose another output folder")


def _make_folder(folder):
    """Create the folder (and missing parents); returns the folders created, innermost first."""
    created = []
    p = Path(os.path.abspath(folder))
    while not p.exists() and p.parent != p:
        created.append(p)
        p = p.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create output folder ({exc.strerror or exc})") from None
    if not folder.is_dir():
        raise OutputError(f"{folder}: not a folder")
    return created


class FolderLock:
    """The one-writer lock of a dataset folder (re-entrant within a thread: generate() holds it while it
    reads the inputs, and the write inside takes it again)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.key = None

    def acquire(self):
        created = _make_folder(self.folder)
        key = os.path.realpath(self.folder)
        me = threading.get_ident()
        with _held_guard:
            entry = _held.get(key)
            if entry is not None:
                if entry[1] != me:
                    raise _busy(self.folder, f"{os.getpid()}, this process")
                entry[2] += 1
                self.key = key
                return self
            fd = self._lock_file(Path(key) / LOCK_NAME)
            _held[key] = [fd, me, 1, created]
        self.key = key
        return self

    def _lock_file(self, path):
        for attempt in range(100):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            except FileNotFoundError:  # a run that had made the folder and wrote nothing just removed it
                _make_folder(self.folder)
                continue
            except OSError as exc:
                raise OutputError(f"{self.folder}: cannot write to this folder ({exc.strerror or exc})") from None
            if not _try_lock(fd):
                os.close(fd)
                raise _busy(self.folder, _read_pid(path))
            # The holder before us may have removed the file between our open and our lock: then we hold a
            # lock on a file nobody else will open. Only a lock on the file at the path counts.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        else:
            raise OutputError(f"{self.folder}: cannot take the folder's lock {path}")
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:  # a full disk, a file size limit
            try:
                os.unlink(path)
            finally:
                os.close(fd)
            raise OutputError(f"{self.folder}: cannot write to this folder ({exc.strerror or exc}); nothing "
                              "written, the folder is unchanged") from None
        return fd

    def release(self):
        if self.key is None:
            return
        with signals_held(), _held_guard:
            entry = _held.get(self.key)
            self_key, self.key = self.key, None
            if entry is None:
                return
            entry[2] -= 1
            if entry[2] > 0:
                return
            del _held[self_key]
            try:
                os.unlink(os.path.join(self_key, LOCK_NAME))  # while still locked: see _lock_file
            except OSError:
                pass
            os.close(entry[0])
            _remove_empty(entry[3])  # a run that wrote nothing leaves no folder it made behind

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def lock_holder(folder):
    """The PID (text) of a live run holding the folder's lock, or None (for readers: `check`)."""
    path = Path(folder) / LOCK_NAME
    if os.path.realpath(folder) in _held:
        return str(os.getpid())
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if fcntl is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


__all__ = ["FolderLock", "lock_holder", "LOCK_NAME"]
