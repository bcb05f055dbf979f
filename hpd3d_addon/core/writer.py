"""Atomic writing of a dataset folder: every file goes to a temporary name first, then all are renamed.

An existing dataset is never touched unless `overwrite` is set, and a failure part-way leaves the
folder as it was.
"""
import json
import os
import pickle
import pprint
import time
import zipfile
from pathlib import Path

import numpy as np

from .errors import OutputError


def _stored(key):
    """Whether npz member `key` is stored uncompressed.

    Float keypoints hardly compress (zlib saves ~17% of float32 positions, at ~25 MB/s: it was the largest
    cost of a run, more than reading, kinematics and projection together), so positions_* are stored;
    visibility masks and metadata shrink ~100x for almost no time, so they are deflated. np.load reads
    both kinds of member alike.
    """
    return key.startswith("positions")


def write_npz(fh, arrays):
    """Write an .npz (what np.savez writes: one KEY.npy member per key, dicts pickled as VideoPose3D
    expects) to the binary file object `fh`."""
    with zipfile.ZipFile(fh, mode="w", allowZip64=True) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=time.localtime(time.time())[:6])
            info.compress_type = zipfile.ZIP_STORED if _stored(key) else zipfile.ZIP_DEFLATED
            # Level 1: masks and metadata deflate ~100x at level 1 too, in half the time of the default 6.
            info._compresslevel = 1  # the attribute zipfile reads in ZipFile.open (compress_level from 3.13)
            if hasattr(info, "compress_level"):
                info.compress_level = 1
            with zf.open(info, "w", force_zip64=True) as member:
                _write_npy(member, np.asanyarray(value))


def _write_npy(fh, array):
    """One .npy member: np.lib.format.write_array, except that an object array (our pickled dicts) is pickled
    without a memo. pickle's memo keeps every array's byte copy alive until the end, doubling the peak memory
    (+1.4 GB for the 2D of the Bandai Namco corpus); without it each frame is written out as it is made, and
    faster. Our dicts of lists of arrays hold no cycles, which is what the memo is needed for; np.load reads
    the result alike."""
    if not array.dtype.hasobject:
        np.lib.format.write_array(fh, array, allow_pickle=True)
        return
    np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(array))
    pickler = pickle.Pickler(fh, protocol=4)  # the protocol np.save uses
    pickler.fast = True
    pickler.dump(array)


class NpzContent:
    """A file's content that write_files streams into the output file (no copy of it in memory)."""

    def __init__(self, **arrays):
        self.arrays = arrays

    def write_to(self, fh):
        write_npz(fh, self.arrays)


def literal_text(value):
    """A Python literal that ast.literal_eval reads back."""
    return pprint.pformat(value, indent=1, width=110, sort_dicts=False) + "\n"


def json_text(value):
    return json.dumps(value, indent=2, sort_keys=False, default=_json_default) + "\n"


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


def write_files(out_dir, files, overwrite=False, protect=(), stale=()):
    """Write {file name: bytes or NpzContent} into out_dir atomically.

    `protect` holds glob patterns of files whose existence means a dataset is already there: refused
    without overwrite (the camera files and manifest are shared by every dataset in a folder).
    `stale` names files of the same dataset that this write does not produce (an old preview): removed once
    the new files are in place, so a replaced dataset does not keep a picture of the old one.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create output folder ({exc.strerror or exc})") from None
    existing = sorted(p for pattern in protect for p in out.glob(pattern))
    if existing and not overwrite:
        raise OutputError(f"{existing[0]}: a dataset already exists here; pass --overwrite to replace it "
                          "or choose another --out")
    temps = []
    try:
        for name, data in files.items():
            tmp = out / f".{name}.tmp-{os.getpid()}"
            temps.append((tmp, out / name))  # before writing: a write that fails part-way is cleaned up too
            with open(tmp, "wb") as fh:
                if isinstance(data, NpzContent):
                    data.write_to(fh)
                else:
                    fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, final in temps:
            os.replace(tmp, final)
    except OSError as exc:
        _remove(temps)
        raise OutputError(f"{out}: cannot write dataset ({exc.strerror or exc})") from None
    except BaseException:  # NpzContent pickles while it writes: nothing half-written stays behind either
        _remove(temps)
        raise
    for name in stale:
        if name not in files and (out / name).is_file():
            (out / name).unlink()
    return [final for _, final in temps]


def _remove(temps):
    for tmp, _ in temps:
        if tmp.exists():
            tmp.unlink()


def copy_loader_bytes():
    return loader_source().read_bytes()


__all__ = ["write_npz", "NpzContent", "literal_text", "json_text", "write_files", "loader_source", "copy_loader_bytes"]
