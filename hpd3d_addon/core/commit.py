"""Folder-level commit: a dataset folder is always wholly the old dataset, wholly the new one, or marked
incomplete in a way the next writer (or `hpd3d check --repair`) completes.

One writer per folder: every step below runs under the folder's lock (core/folder_lock.py).

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
import uuid
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError, OutputError
from .limits import read_json_file

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
def signals_held():
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
        journal = read_json_file(path, "commit journal")  # bounded: a crafted journal gives this one line
        ok = (isinstance(journal, dict) and journal.get("version") == JOURNAL_VERSION
              and isinstance(journal.get("moves"), list) and isinstance(journal.get("remove"), list)
              and all(_plain_name(n) and not n.startswith(".") for n in journal["moves"] + journal["remove"]))
    except (OSError, ValueError, UnicodeDecodeError, InputError):
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
        with signals_held():
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
        with signals_held():
            os.replace(stage / STAGED_JOURNAL, folder / JOURNAL_NAME)  # the commit point
            fsync_dir(folder)
            _roll_forward(folder, journal)
            COMMITTED.append(str(folder))
    except OSError as exc:
        raise OutputError(f"{folder}: the write was committed but could not be completed ({exc.strerror or exc}); "
                          f"run `hpd3d check --repair {folder}`") from None
    return [folder / n for n in names]


def _discard(folder, stage):
    with signals_held():
        try:
            if stage.exists():
                _remove_tree(stage)
                fsync_dir(folder)
        except OSError:
            pass  # the next run (or check --repair) removes it: nothing was committed


__all__ = ["recover", "commit_files", "new_run_id", "read_journal", "file_digest", "fsync_dir", "signals_held",
           "is_commit_file", "LOCK_NAME", "STAGE_NAME", "JOURNAL_NAME", "COMMITTED"]
