"""Folder-level commit: a dataset folder is always wholly the old dataset, wholly the new one, or marked
incomplete in a way the next writer (or `hpd3d check --repair`) completes.

One writer per folder. Before it writes a byte, a run takes an advisory lock: `fcntl.flock` on
`DIR/.hpd3d.lock`, which holds the run's PID. A second run into the same folder fails at once with one line
naming the folder and that PID. The kernel drops the lock when its process dies (kill -9 included), so a
dead run never blocks the next one. The lock file is removed when the run ends.

The commit, in the order of its system calls (a journal and one commit point, like SQLite's rollback
journal turned around, or git's ref update):

1. stage: every new file is written into `DIR/.hpd3d-stage/`, flushed and fsync'ed; then the staging folder
   is fsync'ed. The manifest goes last: it records every other file's size and SHA-256 and the run id.
2. journal: `.hpd3d-stage/journal.json` names the files to move in and the old files to remove; fsync.
3. COMMIT POINT: the journal is renamed to `DIR/.hpd3d-commit.json`, and DIR is fsync'ed.
4. roll forward: each staged file is renamed over its final name (os.replace, atomic per file); stale files
   of the old dataset named in the journal are removed; DIR is fsync'ed; the empty staging folder and then
   the journal are removed, with an fsync of DIR after each.

Recovery (`recover`, run under the lock by every writer before it starts and by `check --repair`):
a journal in DIR means the commit point was passed: roll forward again (each step is idempotent: a staged
file that is gone was already moved). A staging folder without a journal means it was not: delete it, the
old dataset is untouched. Temporary files of earlier hpd3d versions (`.NAME.tmp-PID`) are deleted too.
Readers (`check`) treat a journal or a staging folder as "incomplete: run check --repair".

Signals: from the commit point to the end of step 4, SIGINT and SIGTERM are held back (when their Python
handlers are ours to change) and re-raised afterwards, so Ctrl-C never splits the roll-forward; a kill -9
there is what the journal is for. Before the commit point, any exception (Ctrl-C, a full disk, a file size
limit) removes the staging folder and re-raises: the old dataset stays as it was.
"""
import errno
import hashlib
import json
import os
import signal
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError

LOCK_NAME = ".hpd3d.lock"
STAGE_NAME = ".hpd3d-stage"
JOURNAL_NAME = ".hpd3d-commit.json"
STAGED_JOURNAL = "journal.json"
MANIFEST_NAME = "manifest.json"
JOURNAL_VERSION = 1

# Folders whose commit finished in this process (the CLI's Ctrl-C message tells the truth with it).
COMMITTED = []


def new_run_id():
    """A run's identity, repeated in the manifest and in every npz's metadata."""
    return uuid.uuid4().hex


def is_commit_file(name):
    """Whether a file name in a dataset folder belongs to the commit machinery (lock, stage, journal)."""
    return name in (LOCK_NAME, STAGE_NAME, JOURNAL_NAME) or _is_legacy_temp(name)


def _is_legacy_temp(name):
    """`.data_3d_x.npz.tmp-1234`: the temporary names of hpd3d before the folder commit."""
    head, sep, pid = name.rpartition(".tmp-")
    return bool(sep) and name.startswith(".") and pid.isdigit()


# ---- the lock ------------------------------------------------------------------------------------------------

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
        with _signals_held(), _held_guard:
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


# ---- durable steps ------------------------------------------------------------------------------------------

def fsync_dir(folder):
    """Make a folder's entries (creations, renames, removals) durable. Not possible (nor needed) on Windows."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path, content, digest=False):
    """Write bytes, or an object with write_to(fh), to a new file; flush and fsync it. With `digest`, returns
    file_digest(path), computed while the fsync waits for the disk (both release the GIL)."""
    with open(path, "xb") as fh:
        if isinstance(content, (bytes, bytearray, memoryview)):
            fh.write(content)
        else:
            content.write_to(fh)
        fh.flush()
        if not digest:
            os.fsync(fh.fileno())
            return None
        result = []
        hasher = threading.Thread(target=lambda: result.append(file_digest(path)), daemon=True)
        hasher.start()
        try:
            os.fsync(fh.fileno())
        finally:
            hasher.join()
        if not result:
            raise OSError(errno.EIO, f"cannot read back {path}")
        return result[0]


def file_digest(path):
    """(size in bytes, SHA-256 hex) of a file."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(1 << 20)
            if not block:
                break
            size += len(block)
            h.update(block)
    return size, h.hexdigest()


@contextmanager
def _signals_held():
    """Hold SIGINT/SIGTERM back for the duration, then re-raise the first that came. Only where the Python
    handlers are ours to swap (the main thread, handlers installed from Python): inside Blender, whose own
    C handlers Python cannot put back, nothing changes."""
    swapped, arrived = {}, []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
            if sig is None:
                continue
            old = signal.getsignal(sig)
            if old is None or old in (signal.SIG_IGN,):
                continue
            try:
                signal.signal(sig, lambda signum, frame: arrived.append((signum, frame)))
            except (ValueError, OSError):
                continue
            swapped[sig] = old
    try:
        yield
    finally:
        for sig, old in swapped.items():
            signal.signal(sig, old)
        if arrived:
            signal.raise_signal(arrived[0][0])  # delivered again, to the handler that was there


# ---- recovery -----------------------------------------------------------------------------------------------

def _plain_name(name):
    """A journal may only name files directly in the folder (a crafted journal must not reach outside)."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\0" not in name)


def read_journal(folder):
    """The committed journal of an interrupted commit, or None. A journal that is not ours: OutputError."""
    path = Path(folder) / JOURNAL_NAME
    if not path.exists():
        return None
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
        ok = (isinstance(journal, dict) and journal.get("version") == JOURNAL_VERSION
              and isinstance(journal.get("moves"), list) and isinstance(journal.get("remove"), list)
              and all(_plain_name(n) and not n.startswith(".") for n in journal["moves"] + journal["remove"]))
    except (OSError, ValueError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise OutputError(f"{path}: not a commit journal of this hpd3d version; cannot complete the interrupted "
                          "write (remove the file and regenerate the dataset)")
    return journal


def _roll_forward(folder, journal):
    stage = folder / STAGE_NAME
    for name in journal["moves"]:
        if (stage / name).exists():
            os.replace(stage / name, folder / name)
    for name in journal["remove"]:
        if name not in journal["moves"] and (folder / name).exists():
            os.unlink(folder / name)
    fsync_dir(folder)
    if stage.is_dir():
        _remove_tree(stage)
        fsync_dir(folder)
    os.unlink(folder / JOURNAL_NAME)
    fsync_dir(folder)


def _remove_tree(stage):
    for entry in os.scandir(stage):
        if entry.is_dir(follow_symlinks=False):
            _remove_tree(Path(entry.path))
        else:
            os.unlink(entry.path)
    os.rmdir(stage)


def recover(folder):
    """Finish or undo a commit a dead run left (call with the lock held). Returns a one-line note of what was
    done, or None when the folder was clean."""
    folder = Path(folder)
    journal = read_journal(folder)
    notes = []
    try:
        with _signals_held():
            if journal is not None:
                _roll_forward(folder, journal)
                notes.append(f"completed the interrupted write of run {journal.get('run_id', '?')} "
                             f"(PID {journal.get('pid', '?')}): the folder holds its dataset")
            elif (folder / STAGE_NAME).exists():
                _remove_tree(folder / STAGE_NAME)
                fsync_dir(folder)
                notes.append("removed the staged files of an interrupted run (it had not committed: the "
                             "folder's dataset is unchanged)")
            legacy = sorted(p for p in folder.iterdir() if _is_legacy_temp(p.name) and p.is_file())
            for p in legacy:
                p.unlink()
            if legacy:
                fsync_dir(folder)
                notes.append(f"removed {len(legacy)} temporary file(s) of an interrupted run ({legacy[0].name}"
                             f"{', ...' if len(legacy) > 1 else ''})")
    except OSError as exc:
        raise OutputError(f"{folder}: cannot repair the interrupted write ({exc.strerror or exc})") from None
    return f"{folder}: {'; '.join(notes)}" if notes else None


# ---- the commit ---------------------------------------------------------------------------------------------

def commit_files(folder, files, manifest=None, remove=()):
    """Replace files of `folder` as one commit (call with the lock held, after recover()).

    files: {name: bytes or an object with write_to(fh)}, written in this order; `manifest` (a dict, or None):
    written last as manifest.json with the size and SHA-256 of every other file added as
    manifest['contents'] (the manifest cannot hold its own). `remove`: names of old files to delete in the
    same commit. Returns the final paths.
    """
    from .writer import json_text  # strict JSON, one line naming the key of a non-finite value

    folder = Path(folder)
    stage = folder / STAGE_NAME
    names = [n for n in files if n != MANIFEST_NAME]
    for name in list(names) + list(remove):
        if not _plain_name(name) or name.startswith("."):
            raise OutputError(f"{name}: not a plain file name for a dataset folder")
    try:
        os.mkdir(stage)
    except FileExistsError:
        raise OutputError(f"{stage}: staged files of another run; run `hpd3d check --repair {folder}`") from None
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write dataset ({exc.strerror or exc})") from None
    try:
        contents = {}
        for name in names:
            size, sha = _write_durably(stage / name, files[name], digest=True)
            contents[name] = {"bytes": size, "sha256": sha}
        if manifest is not None:
            names.append(MANIFEST_NAME)
            _write_durably(stage / MANIFEST_NAME, json_text(dict(manifest, contents=contents),
                                                            source=MANIFEST_NAME).encode())
        elif MANIFEST_NAME in files:
            names.append(MANIFEST_NAME)
            _write_durably(stage / MANIFEST_NAME, files[MANIFEST_NAME])
        journal = {"version": JOURNAL_VERSION, "run_id": (manifest or {}).get("run_id"), "pid": os.getpid(),
                   "moves": names, "remove": [n for n in remove if n not in names]}
        _write_durably(stage / STAGED_JOURNAL, json.dumps(journal, indent=1).encode())
        fsync_dir(stage)
    except OSError as exc:
        _discard(folder, stage)
        raise OutputError(f"{folder}: cannot write dataset ({exc.strerror or exc}); the folder is unchanged") from None
    except BaseException:  # Ctrl-C, or an error while an npz is pickled: the old dataset stays
        _discard(folder, stage)
        raise
    try:
        with _signals_held():
            os.replace(stage / STAGED_JOURNAL, folder / JOURNAL_NAME)  # the commit point
            fsync_dir(folder)
            _roll_forward(folder, journal)
            COMMITTED.append(str(folder))
    except OSError as exc:
        raise OutputError(f"{folder}: the write was committed but could not be completed ({exc.strerror or exc}); "
                          f"run `hpd3d check --repair {folder}`") from None
    return [folder / n for n in names]


def _discard(folder, stage):
    with _signals_held():
        try:
            if stage.exists():
                _remove_tree(stage)
                fsync_dir(folder)
        except OSError:
            pass  # the next run (or check --repair) removes it: nothing was committed


__all__ = ["FolderLock", "recover", "commit_files", "new_run_id", "lock_holder", "read_journal", "file_digest",
           "is_commit_file", "LOCK_NAME", "STAGE_NAME", "JOURNAL_NAME", "COMMITTED"]
