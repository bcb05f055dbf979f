"""Writing a dataset folder: strict output, one writer per folder, one commit for all files.

The protocol (lock, staging folder, journal, commit point, roll forward, recovery) is core/commit.py's;
this module decides what a dataset is (the files whose presence means "a dataset is here") and refuses
to replace one without `overwrite`. Everything written is checked first: the manifest is strict JSON and
every array finite (core/integrity.py), or nothing is written and one line names the key.
"""
import json
import pprint
from pathlib import Path

import numpy as np

from .commit import commit_files, recover
from .folder_lock import FolderLock
from .errors import InputError, OutputError
from .limits import read_json_file
from .integrity import assert_finite, find_non_finite


def literal_text(value):
    """A Python literal that ast.literal_eval reads back."""
    return pprint.pformat(value, indent=1, width=110, sort_dicts=False) + "\n"


def json_text(value, source="manifest.json"):
    """Strict JSON (no NaN or Infinity, which Python's json would write and JSON readers refuse)."""
    try:
        return json.dumps(value, indent=2, sort_keys=False, default=_json_default, allow_nan=False) + "\n"
    except ValueError:
        where = find_non_finite(_json_ready(value)) or "a value"
        raise OutputError(f"{source}: {where} is not a finite number (NaN or infinity), which JSON cannot "
                          "hold; nothing written") from None


def _json_ready(value):
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return _json_default(value)
    return value


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def loader_source():
    """Path of the blender_dataset.py loader shipped with this package (inside it in the add-on zip,
    beside it in a checkout or an installed wheel)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "blender_dataset.py", here.parent / "blender_dataset.py"):
        if candidate.is_file():
            return candidate
    raise OutputError("blender_dataset.py is missing from this installation")


# The files whose presence means a dataset is in a folder (camera_*.txt and manifest.json are shared by
# every dataset of a folder, so any dataset name counts).
DATASET_FILES = ("data_3d_*.npz", "data_2d_*.npz", "manifest.json")


def existing_dataset(out, protect=DATASET_FILES):
    """The first file of a dataset already in `out`, or None."""
    out = Path(out)
    if not out.is_dir():
        return None
    found = sorted(p for pattern in protect for p in out.glob(pattern) if p.is_file())
    return found[0] if found else None


def refuse_existing(out, name=None, overwrite=False, protect=DATASET_FILES):
    """Raise OutputError at once when `out` holds a dataset and `overwrite` is off: callers check before doing
    any work (write_files checks again under the lock). `name` is the dataset about to be written: any
    dataset of the folder counts, since the camera files and the manifest are the folder's."""
    if overwrite:
        return
    found = existing_dataset(out, protect)
    if found is not None:
        raise OutputError(f"{found}: a dataset already exists here; pass --overwrite to replace it "
                          "or choose another --out")


def lock_output(out):
    """Take the one-writer lock of an output folder (creating the folder) and complete or undo a commit a
    dead run left there. Returns (lock, note): call lock.release() when done (or use `with lock:`); `note`
    is one line saying what was repaired, or None."""
    lock = FolderLock(out).acquire()
    try:
        note = recover(out)
    except BaseException:
        lock.release()
        raise
    return lock, note


def write_files(out_dir, files, overwrite=False, protect=DATASET_FILES, stale=(), manifest=None, notes=None):
    """Write {file name: bytes, or an object with write_to(fh) (a format's streamed content, e.g.
    formats.videopose3d.NpzContent)} into out_dir as one commit (core/commit.py).

    `protect`: glob patterns of files whose existence means a dataset is already there: refused without
    overwrite. `stale`: files of the old dataset this write does not produce (an old preview): removed in
    the same commit. `manifest`: a dict written last as manifest.json, with the size and SHA-256 of every
    other file added. Contents with an `arrays` dict (npz contents) must be finite, or nothing is written.
    `notes`: a list that receives the one-line note of a repaired interrupted write.
    """
    out = Path(out_dir)
    for name, data in files.items():
        arrays = getattr(data, "arrays", None)
        if isinstance(arrays, dict):
            assert_finite(arrays, name)
    if manifest is not None:
        json_text(manifest)  # strict JSON or one line now, before anything is written
    lock, note = lock_output(out)
    try:
        if note and notes is not None:
            notes.append(note)
        refuse_existing(out, overwrite=overwrite, protect=protect)
        # A write with a manifest replaces the folder's dataset: the old run's files go wholly. Other writes
        # (an export beside a dataset) touch only their own files.
        previous = _old_run_files(out) if manifest is not None else []
        old = [n for n in list(stale) + previous if n not in files and (out / n).is_file()]
        return commit_files(out, files, manifest=manifest, remove=list(dict.fromkeys(old)))
    finally:
        lock.release()


def _old_run_files(out):
    """The files the previous run recorded in its manifest: a replaced dataset goes wholly (another --name's
    npz included), not only the files this run happens to write again."""
    try:
        contents = read_json_file(Path(out) / "manifest.json", "manifest").get("contents")
    except (InputError, AttributeError):
        return []
    if not isinstance(contents, dict):
        return []
    return [n for n in contents if isinstance(n, str) and n == Path(n).name and not n.startswith(".")]


def copy_loader_bytes():
    return loader_source().read_bytes()


__all__ = ["literal_text", "json_text", "write_files", "refuse_existing", "lock_output",
           "existing_dataset", "DATASET_FILES", "loader_source", "copy_loader_bytes"]
