"""VideoPose3D's format: data_3d_<name>.npz and data_2d_<name>_<keypoints>.npz, read by its run.py and every
repository that keeps its common/ (MixSTE, KTPFormer, PoseFormerV2) through our blender_dataset.py.

Writer: `NpzContent` (the streamed content of one npz that core/writer.write_files puts into the folder).
Reader: `read(folder)` -> PoseData, the in-memory dataset every format's writer takes.
"""
import pickle
import time
import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..safe_pickle import npz_item, read_npz
from .base import PoseData

NAME = "videopose3d"


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


def dataset_names(folder):
    """Names of the datasets in a folder (data_3d_<name>.npz)."""
    return sorted(p.name[len("data_3d_"):-len(".npz")] for p in Path(folder).glob("data_3d_*.npz"))


def keypoint_sources(folder, name):
    """Keypoint sources of dataset `name` (data_2d_<name>_<source>.npz), gt first."""
    prefix = f"data_2d_{name}_"
    found = sorted(p.name[len(prefix):-len(".npz")] for p in Path(folder).glob(prefix + "*.npz"))
    return sorted(found, key=lambda s: s != "gt")


def available_keypoints(folder, name=None):
    """Keypoint sources of the dataset `name` (default: the folder's first) without reading them."""
    names = dataset_names(folder) if name is None else [name]
    if not names:
        raise InputError(folder, "no data_3d_<name>.npz here (not a dataset folder)")
    return keypoint_sources(folder, names[0])


def _load(path, key):
    return npz_item(path, key)


def read(folder, name=None, keypoints=None):
    """The dataset `name` of a folder as PoseData, with the keypoint sources listed in `keypoints`
    (default: every data_2d_<name>_*.npz there). Raises InputError (one line naming the file) when the
    folder holds no readable dataset."""
    from ..check import load_cameras
    folder = Path(folder)
    if name is None:
        names = dataset_names(folder)
        if not names:
            raise InputError(folder, "no data_3d_<name>.npz here (not a dataset folder)")
        name = names[0]
    p3 = folder / f"data_3d_{name}.npz"
    if not p3.is_file():
        raise InputError(p3, "no such file")
    sources = keypoint_sources(folder, name) if keypoints is None else list(keypoints)
    if not sources:
        raise InputError(folder, f"no data_2d_{name}_<keypoints>.npz here")
    points_2d, confidence, visibility, metadata = {}, {}, None, {}
    try:
        positions_3d = _load(p3, "positions_3d")
        metadata.update(_load(p3, "metadata") or {})
        cameras = load_cameras(folder, p3)
        for source in sources:
            p2 = folder / f"data_2d_{name}_{source}.npz"
            if not p2.is_file():
                raise InputError(p2, "no such file (keypoint sources here: "
                                 f"{', '.join(keypoint_sources(folder, name)) or 'none'})")
            data = {k: v.item() if v.dtype.hasobject and v.shape == () else v for k, v in read_npz(
                p2, keys=("positions_2d", "confidence", "visibility", "metadata")).items()}
            points_2d[source] = data["positions_2d"]
            if "confidence" in data:
                confidence[source] = data["confidence"]
            if visibility is None and "visibility" in data:
                visibility = data["visibility"]
            metadata = {**data.get("metadata", {}), **metadata}
    except InputError:
        raise
    except Exception as exc:  # a broken file is one line naming it, not a traceback
        raise InputError(folder, f"cannot read dataset '{name}' ({type(exc).__name__}: {exc})") from None
    if positions_3d is None or cameras is None:
        raise InputError(p3, "lacks positions_3d or cameras")
    metadata.pop("visibility", None)
    return PoseData(name=name, positions_3d=positions_3d, cameras=cameras, keypoints=points_2d,
                    confidence=confidence, visibility=visibility or {}, metadata=metadata)
