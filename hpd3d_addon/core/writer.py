"""Atomic writing of a dataset folder: every file goes to a temporary name first, then all are renamed.

An existing dataset is never touched unless `overwrite` is set, and a failure part-way leaves the
folder as it was.
"""
import json
import os
import pprint
from pathlib import Path

import numpy as np

from .errors import OutputError


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
    """Write {file name: bytes, or an object with write_to(fh) (a format's streamed content, e.g.
    formats.videopose3d.NpzContent)} into out_dir atomically.

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
                if hasattr(data, "write_to"):
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
    except BaseException:  # streamed content pickles while it writes: nothing half-written stays behind either
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


__all__ = ["literal_text", "json_text", "write_files", "loader_source", "copy_loader_bytes"]
