"""BlenderDataset: loads an HPD3D dataset in VideoPose3D-family training code (VideoPose3D, MixSTE, KTPFormer,
PoseFormerV2, ...), for every keypoint source (-k gt, -k detector) and joint layout.

Copy this file into the repository's `common/` folder, put data_3d_<name>.npz and data_2d_<name>_<k>.npz in
`data/`, and paste this branch into the `if args.dataset == 'h36m':` chain of the training script, before
the line named below, indented like it:

    elif args.dataset.startswith('blender'):
        from common.blender_dataset import BlenderDataset
        dataset = BlenderDataset(dataset_path)

  VideoPose3D   run.py             before `elif args.dataset.startswith('humaneva'):`
  MixSTE        run.py             the same, and before `elif args.dataset=='humaneva15':` the loss weights
                                   (NameError 'w_mpjpe' without them; needs a GPU: unconditional .cuda()):
      elif args.dataset.startswith('blender'):
          w_mpjpe = torch.tensor([1, 1, 2.5, 2.5, 1, 2.5, 2.5, 1, 1, 1, 1.5, 1.5, 4, 4, 1.5, 4, 4]).cuda()
  KTPFormer     run_ktpformer.py   as MixSTE; on current torch also `x += self.Spatial_pos_embed` and
                                   `x += self.Temporal_pos_embed` -> `x = x + ...` in common/model_ktpformer.py;
                                   evaluate with --evaluate s_<s>_L_<dep>_C_<cs>_H_8_f_<f>_ktpformer_<k>_best_epoch.bin
  PoseFormerV2  run_poseformer.py  before `elif args.dataset.startswith('custom'):`; always pass -g 0
Train with `-d blender -k gt -str S1,S2 -ste S3`; on torch >= 2.6 evaluate checkpoints with
TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 (they hold numpy state). MotionBERT reads another format: run
`hpd3d export motionbert DIR --out data/motion3d/blender.pkl --clips data/motion3d/MB3D_f243s81/BLENDER`.
The README of HPD3D has each recipe in full.

Cameras, skeleton and frame rate are read from the npz files. The 2D files (`-k gt` exact, `-k detector`
detector-like with `confidence`) carry their keypoint order in metadata['layout_2d']: h36m17 (the 3D's
joints) or coco17 (COCO order; run.py takes keypoints_symmetry and num_joints from that metadata, so a
COCO-17 input with a Human3.6M-17 3D target trains unchanged); the skeleton always comes from the 3D file. Datasets written by the original
genDataset3D.py (cameras only in camera_intrinsics.txt / camera_extrinsics.txt, beside the npz or in
common/) load too, with its 17-joint skeleton and 30 fps.
"""
import ast
import copy
import glob
import os
import pickle
import zipfile

import numpy as np

from common.camera import normalize_screen_coordinates
from common.mocap_dataset import MocapDataset
from common.skeleton import Skeleton

H36M_PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
H36M_LEFT = [4, 5, 6, 11, 12, 13]
H36M_RIGHT = [1, 2, 3, 14, 15, 16]
LEGACY_FPS = 30

# The npz files are read with a restricted unpickler (a file someone sent you cannot run code when it is
# loaded): the same code as hpd3d_addon/core/safe_pickle.py, copied here so that this file needs nothing
# but numpy. The files stay plain npz: np.load(..., allow_pickle=True) reads them as before.
# BEGIN restricted npz reader (blender_dataset.py holds an identical copy of this block)
MAX_DEPTH = 32          # nesting of dicts/lists/tuples/object arrays (our format uses 4)
_READ_CHUNK = 1 << 24   # a plain member is read in 16 MB pieces: memory follows the bytes present


class UnsafeNpzError(ValueError):
    """An npz file (or one member of it) refused: the message is one line naming the file and member."""


def _numpy_function(make):
    """The function numpy itself names in its pickles, found through numpy's own __reduce__ (the running
    numpy's object whether it calls the module numpy.core or numpy._core)."""
    try:
        return make()
    except Exception:  # pragma: no cover - a numpy without that reduction never names it either
        return None


_RECONSTRUCT = _numpy_function(lambda: np.zeros(1).__reduce__()[0])
_SCALAR = _numpy_function(lambda: np.float64(0).__reduce__()[0])
_FROMBUFFER = _numpy_function(lambda: np.zeros(1).__reduce_ex__(5)[0])
_NDARRAY = object()  # stands for numpy.ndarray: only _reconstruct may use it, nobody can call it


def _count(shape, what):
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise pickle.UnpicklingError(f"{what}: bad shape {shape!r:.60}")
    count = 1
    for n in shape:
        count *= n
    return count


def _reconstruct(subtype, shape, dtype):
    if subtype is not _NDARRAY or _count(shape, "array") > 1:
        raise pickle.UnpicklingError("array reconstruction with unexpected arguments")
    return _RECONSTRUCT(np.ndarray, shape, dtype)


def _scalar(dtype, data):
    if not isinstance(dtype, np.dtype) or (not dtype.hasobject and not isinstance(data, bytes)):
        raise pickle.UnpicklingError("numpy scalar with unexpected arguments")
    return _SCALAR(dtype, data)


def _frombuffer(buf, dtype, shape, order):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or order not in ("C", "F"):
        raise pickle.UnpicklingError("array buffer with unexpected arguments")
    if _count(shape, "array") * dtype.itemsize != len(memoryview(buf).cast("B")):
        raise pickle.UnpicklingError(f"array of shape {shape} does not match its {len(buf)} bytes")
    return _FROMBUFFER(buf, dtype, shape, order)


def _dtype(spec, align=False, copy=False):
    if not isinstance(spec, str) or not isinstance(align, bool) or not isinstance(copy, bool):
        raise pickle.UnpicklingError(f"dtype with unexpected arguments {spec!r:.40}")
    return np.dtype(spec, align, copy)


def _latin1(text, encoding="latin1"):
    """_codecs.encode as protocol 2 uses it for bytes."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode with unexpected arguments")
    return text.encode("latin1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct, ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar, ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer, ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): _NDARRAY, ("numpy", "dtype"): _dtype, ("_codecs", "encode"): _latin1,
}


class _RestrictedUnpickler(pickle._Unpickler):
    """pickle's own (pure-Python) unpickler, with two gates: find_class admits only _ALLOWED, and BUILD
    checks an array's state (shape against the data that comes with it) before numpy allocates the shape."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module, name):
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refused to load the global {module}.{name} (only dicts, lists, "
                                         "tuples, str, numbers, bool, None and numpy arrays are allowed)")
        return found

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused a persistent id")

    def load_build(self):
        state = self.stack[-1]
        inst = self.stack[-2]
        if isinstance(inst, np.ndarray):
            _check_array_state(state)
        elif not isinstance(inst, np.dtype):
            raise pickle.UnpicklingError(f"refused to set the state of a {type(inst).__name__}")
        pickle._Unpickler.load_build(self)

    dispatch[pickle.BUILD[0]] = load_build


def _check_array_state(state):
    if not isinstance(state, tuple) or len(state) != 5 or not isinstance(state[2], np.dtype):
        raise pickle.UnpicklingError("array with an unexpected state")
    _, shape, dtype, _, data = state
    count = _count(shape, "array")
    if dtype.hasobject:
        ok = isinstance(data, list) and len(data) == count
    else:
        ok = isinstance(data, (bytes, bytearray)) and len(data) == count * dtype.itemsize
    if not ok:
        raise pickle.UnpicklingError(f"array of shape {shape} does not match the data that comes with it")


def _check_depth(value):
    """Refuse structures nested deeper than MAX_DEPTH (iteratively: no recursion on hostile input)."""
    todo = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise pickle.UnpicklingError(f"structure nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            todo.extend((v, depth + 1) for kv in item.items() for v in kv)
        elif isinstance(item, (list, tuple)):
            todo.extend((v, depth + 1) for v in item)
        elif isinstance(item, np.ndarray) and item.dtype.hasobject:
            todo.extend((v, depth + 1) for v in item.flat)


def load_pickle(fh):
    """One pickle from the binary file `fh` through the restricted unpickler, its nesting bounded."""
    value = _RestrictedUnpickler(fh).load()
    _check_depth(value)
    return value


def _read_header(fh):
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fh)
    raise ValueError(f"npy format version {version[0]}.{version[1]} is not supported")


def _read_member(fh, size):
    """One .npy member from the open file `fh` holding `size` bytes (as the zip directory says)."""
    shape, fortran, dtype = _read_header(fh)
    count = _count(tuple(shape), "header")
    if dtype.hasobject:
        value = load_pickle(fh)
        if not isinstance(value, np.ndarray) or value.shape != tuple(shape):
            raise pickle.UnpicklingError("the pickle does not hold the array its header describes")
        return value
    nbytes = count * dtype.itemsize
    if nbytes > size:  # before any allocation: the header cannot claim more than the member holds
        raise ValueError(f"header claims {nbytes} bytes of data, the member holds {size}")
    data = bytearray()
    while len(data) < nbytes:
        chunk = fh.read(min(_READ_CHUNK, nbytes - len(data)))
        if not chunk:
            raise ValueError(f"truncated: {len(data)} of {nbytes} bytes of data")
        data += chunk
    return np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")


def _one_line(exc):
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, (pickle.UnpicklingError, ValueError)) else f"{type(exc).__name__}: {text}"


def read_npz(path, keys=None):
    """{key: array} of an .npz file's members (only those in `keys`, when given), read without running code.
    Raises UnsafeNpzError (one line: file, member, reason) for anything refused or unreadable."""
    try:
        if os.path.exists(path) and not os.path.isfile(path):  # a FIFO or /dev/zero would be read forever
            raise ValueError("not a regular file")
        archive = zipfile.ZipFile(path)
    except Exception as exc:
        raise UnsafeNpzError(f"{path}: not a readable npz file ({_one_line(exc)})") from None
    out = {}
    with archive:
        for info in archive.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if keys is not None and key not in keys:
                continue
            try:
                with archive.open(info) as fh:
                    out[key] = _read_member(fh, info.file_size)
            except (Exception, RecursionError, MemoryError) as exc:
                raise UnsafeNpzError(f"{path}: member '{key}': {_one_line(exc)}") from None
    return out


def npz_item(path, key):
    """The value of member `key` (a pickled dict is returned as the dict, like np.load(...)[key].item()),
    or None when the file has no such member."""
    value = read_npz(path, keys=(key,)).get(key)
    if isinstance(value, np.ndarray) and value.dtype.hasobject and value.shape == ():
        return value.item()
    return value


# The structure of what was read, checked before use: one line naming the file and key, never a traceback.
def _real(v):
    if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, (bool, np.bool_)):
        return False
    try:
        return bool(np.isfinite(float(v)))
    except OverflowError:  # an int beyond float range
        return False


def _vector(value, n, where):
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf" and value.shape == (n,):
        out = value.astype(np.float64)
    elif isinstance(value, (list, tuple)) and len(value) == n and all(_real(v) for v in value):
        out = np.array([float(v) for v in value])
    else:
        raise UnsafeNpzError(f"{where}: must be {n} numbers")
    if not np.isfinite(out).all():
        raise UnsafeNpzError(f"{where}: must be finite")
    return out


def _whole(value, low, high, where):
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        value = int(value)
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or not low <= value <= high:
        raise UnsafeNpzError(f"{where}: must be a whole number from {low} to {high}")
    return int(value)


def check_cameras(blob, where):
    """A camera table {'intrinsics': [dict], 'extrinsics': {subject: [dict]}} (Human3.6M's fields): every
    camera's numbers present, finite and sane. Returns {subject: [merged camera dict]}."""
    if not isinstance(blob, dict) or not isinstance(blob.get("intrinsics"), (list, tuple)) \
            or not isinstance(blob.get("extrinsics"), dict):
        raise UnsafeNpzError(f"{where}: cameras must be {{'intrinsics': [...], 'extrinsics': {{subject: [...]}}}}")
    intrinsics = blob["intrinsics"]
    out = {}
    for subject, entries in blob["extrinsics"].items():
        at = f"{where}: extrinsics[{subject!r}]"
        if not isinstance(subject, str) or not isinstance(entries, (list, tuple)) or not entries:
            raise UnsafeNpzError(f"{at}: must be a non-empty list of cameras under a subject name")
        if len(entries) > len(intrinsics):
            raise UnsafeNpzError(f"{at}: {len(entries)} cameras but {len(intrinsics)} intrinsics")
        cams = []
        for i, extrinsic in enumerate(entries):
            if not isinstance(extrinsic, dict) or not isinstance(intrinsics[i], dict):
                raise UnsafeNpzError(f"{at}[{i}]: a camera must be a dict")
            cam = dict(intrinsics[i])
            cam.update(extrinsic)
            for key, n in (("focal_length", 2), ("center", 2), ("orientation", 4), ("translation", 3),
                           ("radial_distortion", 3), ("tangential_distortion", 2)):
                if key in cam or key in ("focal_length", "center", "orientation", "translation"):
                    cam[key] = _vector(cam.get(key), n, f"{at}[{i}] '{key}'")
            for key in ("res_w", "res_h"):
                cam[key] = _whole(cam.get(key), 1, 1 << 16, f"{at}[{i}] '{key}'")
            if (cam["focal_length"] <= 0).any() or not (cam["orientation"] ** 2).sum() > 1e-12:
                raise UnsafeNpzError(f"{at}[{i}]: focal lengths must be > 0 and the orientation a rotation")
            cams.append(cam)
        out[subject] = cams
    return out


def check_positions(data, where, dims, finite=True):
    """{subject: {action: array (F, J, 3)}} (dims 3) or {subject: {action: [array (F, J, 2) per camera]}}
    (dims 2) of floats; finite when asked."""
    if not isinstance(data, dict):
        raise UnsafeNpzError(f"{where}: must be a dict {{subject: {{action: ...}}}}")
    for subject, actions in data.items():
        if not isinstance(subject, str) or not isinstance(actions, dict):
            raise UnsafeNpzError(f"{where}[{subject!r}]: must be a dict of actions under a subject name")
        for action, value in actions.items():
            at = f"{where}[{subject!r}][{action!r}]"
            if not isinstance(action, str):
                raise UnsafeNpzError(f"{at}: action names must be strings")
            for k, a in enumerate([value] if dims == 3 else value if isinstance(value, (list, tuple)) else [None]):
                if not isinstance(a, np.ndarray) or a.dtype.kind != "f" or a.ndim != 3 or a.shape[2] != dims:
                    what = "an array (frames, joints, 3)" if dims == 3 else "a list of arrays (frames, joints, 2)"
                    raise UnsafeNpzError(f"{at}: must be {what} of floats")
                if finite and not np.isfinite(a).all():
                    raise UnsafeNpzError(f"{at}{'' if dims == 3 else f'[{k}]'}: holds NaN or infinite values")


def check_metadata(meta, where):
    """VideoPose3D's metadata fields, where present: num_joints, keypoints_symmetry, parents, fps."""
    if not isinstance(meta, dict):
        raise UnsafeNpzError(f"{where}: metadata must be a dict")
    joints = None
    if "num_joints" in meta:
        joints = _whole(meta["num_joints"], 1, 100000, f"{where} 'num_joints'")
    if "parents" in meta:
        parents = meta["parents"]
        if not isinstance(parents, (list, tuple, np.ndarray)) or not len(parents) \
                or any(_whole(p, -1, len(parents) - 1, f"{where} 'parents'") >= k for k, p in enumerate(parents)):
            raise UnsafeNpzError(f"{where} 'parents': must list each joint's parent (-1 or an earlier joint)")
        joints = len(parents)
    if "keypoints_symmetry" in meta:
        sym = meta["keypoints_symmetry"]
        top = (joints or 100000) - 1
        if not isinstance(sym, (list, tuple)) or len(sym) != 2 or not all(isinstance(s, (list, tuple, np.ndarray)) for s in sym) \
                or len(sym[0]) != len(sym[1]):
            raise UnsafeNpzError(f"{where} 'keypoints_symmetry': must be two lists of joint indices of equal length")
        for side in sym:
            for j in side:
                _whole(j, 0, top, f"{where} 'keypoints_symmetry'")
    if "joint_names" in meta and (not isinstance(meta["joint_names"], (list, tuple))
                                  or not all(isinstance(n, str) for n in meta["joint_names"])):
        raise UnsafeNpzError(f"{where} 'joint_names': must be a list of names")
    for key in ("layout_name", "layout_2d"):
        if key in meta and not isinstance(meta[key], str):
            raise UnsafeNpzError(f"{where} '{key}': must be a name")
    if "fps" in meta and not (_real(meta["fps"]) and 0 < meta["fps"] <= 1e6):
        raise UnsafeNpzError(f"{where} 'fps': must be a number > 0")


def literal_depth(text):
    """Deepest bracket nesting of a Python literal's text, found before parsing it (Python's parser answers a
    deep one with MemoryError or RecursionError; brackets inside strings only make it larger)."""
    b = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    step = np.isin(b, (40, 91, 123)).astype(np.int64) - np.isin(b, (41, 93, 125))
    return int(np.cumsum(step).max(initial=0))
# END restricted npz reader


def _npz_item(path, key):
    if not os.path.isfile(path):
        return None
    return npz_item(path, key)


def _check_2d_files(path, run_id):
    """Read every data_2d_<name>_*.npz beside data_3d_<name>.npz with the restricted unpickler (run.py
    loads one of them with plain np.load next: a file that would run code is refused here first) and refuse
    one whose run id (HPD3D's metadata) differs from the 3D file's."""
    folder, base = os.path.split(os.path.abspath(path))
    if not (base.startswith("data_3d_") and base.endswith(".npz")):
        return
    names = [os.path.basename(p)[len("data_3d_"):-len(".npz")] for p in glob.glob(os.path.join(folder, "data_3d_*.npz"))]
    name = base[len("data_3d_"):-len(".npz")]
    for candidate in sorted(glob.glob(os.path.join(folder, glob.escape(f"data_2d_{name}_") + "*.npz"))):
        rest = os.path.basename(candidate)[len("data_2d_"):]
        if max((n for n in names if rest.startswith(n + "_")), key=len, default=name) != name:
            continue  # data_2d_<name>_x_gt.npz belongs to a dataset named <name>_x
        members = read_npz(candidate)
        if "positions_2d" in members:
            value = members["positions_2d"]
            check_positions(value.item() if value.shape == () and value.dtype.hasobject else value,
                            f"{candidate}: positions_2d", 2, finite=False)
        meta = members.get("metadata")
        other = meta.item().get("run_id") if meta is not None and meta.shape == () and isinstance(meta.item(), dict) else None
        if run_id is not None and other is not None and other != run_id:
            raise UnsafeNpzError(f"{candidate}: from another run than {path} (run id {other} vs {run_id}): "
                                 "use the 3D and 2D files of one run")


def _camera_text_files(npz_path):
    """The original script's camera files: beside the npz, in common/ next to this file, or ./common/."""
    folders = [os.path.dirname(os.path.abspath(npz_path)), os.path.dirname(os.path.abspath(__file__)), "common"]
    for folder in folders:
        intr = os.path.join(folder, "camera_intrinsics.txt")
        extr = os.path.join(folder, "camera_extrinsics.txt")
        if os.path.isfile(intr) and os.path.isfile(extr):
            return {"intrinsics": _literal_file(intr), "extrinsics": _literal_file(extr)}
    raise FileNotFoundError(f"no cameras in {npz_path} and no camera_intrinsics.txt/camera_extrinsics.txt "
                            "beside it or in common/")


MAX_CAMERA_TEXT = 64 << 20  # bytes of a camera_*.txt file (24 cameras for 1,000 subjects take ~8 MB)


def _literal_file(path):
    """A Python literal file (camera_*.txt), size-bounded, read with ast.literal_eval: one-line errors."""
    if os.path.getsize(path) > MAX_CAMERA_TEXT:
        raise ValueError(f"{path}: larger than {MAX_CAMERA_TEXT >> 20} MB, not a camera file")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text, not a camera file") from None
    if literal_depth(text) > 32:
        raise ValueError(f"{path}: nested deeper than 32 levels, not a camera file")
    try:
        return ast.literal_eval(text)
    except SyntaxError as exc:
        raise ValueError(f"{path}:{exc.lineno}: not a Python literal ({exc.msg})") from None
    except (ValueError, TypeError, RecursionError, MemoryError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a Python literal ({type(exc).__name__})") from None


def _metadata(path):
    meta = _npz_item(path, "metadata")
    if meta is None:  # older files: the 2D file beside holds it
        folder, base = os.path.split(path)
        meta = _npz_item(os.path.join(folder, base.replace("data_3d_", "data_2d_").replace(".npz", "_gt.npz")),
                         "metadata")
        if isinstance(meta, dict) and meta.get("layout_2d", "h36m17") not in ("h36m17", meta.get("layout_name")):
            # a 2D layout of its own (coco17): its names, parents and symmetry are not the 3D skeleton's
            meta = {k: v for k, v in meta.items() if k not in ("joint_names", "parents", "keypoints_symmetry",
                                                                  "num_joints")}
    return {} if meta is None else meta


class BlenderDataset(MocapDataset):
    """An HPD3D dataset, prepared as VideoPose3D's Human36mDataset prepares Human3.6M."""

    def __init__(self, path):
        meta = _metadata(path)
        check_metadata(meta, f"{path}: metadata")
        _check_2d_files(path, meta.get("run_id"))
        left, right = meta.get("keypoints_symmetry", [H36M_LEFT, H36M_RIGHT])
        skeleton = Skeleton(parents=list(meta.get("parents", H36M_PARENTS)),
                            joints_left=list(left), joints_right=list(right))
        super().__init__(fps=meta.get("fps", LEGACY_FPS), skeleton=skeleton)

        blob = _npz_item(path, "cameras")
        where = f"{path}: cameras"
        if blob is None:
            blob, where = _camera_text_files(path), "camera_intrinsics.txt/camera_extrinsics.txt"
        self._cameras = {}
        for subject, entries in check_cameras(copy.deepcopy(blob), where).items():
            cams = []
            for i, cam in enumerate(entries):  # intrinsics merged with the subject's extrinsics (these win)
                cam.setdefault("radial_distortion", np.zeros(3))
                cam.setdefault("tangential_distortion", np.zeros(2))
                for k, v in cam.items():
                    if k not in ["id", "res_w", "res_h"]:
                        try:
                            cam[k] = np.array(v, dtype="float32")
                        except (TypeError, ValueError):
                            raise ValueError(f"{where}: camera {i} of {subject!r}: '{k}' is not numeric") from None
                # Normalise as Human36mDataset does.
                cam["center"] = normalize_screen_coordinates(cam["center"], w=cam["res_w"], h=cam["res_h"]).astype("float32")
                cam["focal_length"] = cam["focal_length"] / cam["res_w"] * 2
                cam["translation"] = cam["translation"] / 1000  # millimetres to metres
                cam["intrinsic"] = np.concatenate((cam["focal_length"], cam["center"],
                                                   cam["radial_distortion"], cam["tangential_distortion"]))
                cams.append(cam)
            self._cameras[subject] = cams

        data = npz_item(path, "positions_3d")
        if data is None:
            raise ValueError(f"{path}: no positions_3d")
        check_positions(data, f"{path}: positions_3d", 3)
        self._data = {}
        for subject, actions in data.items():
            if subject not in self._cameras:
                raise ValueError(f"{path}: subject {subject!r} has no cameras")
            self._data[subject] = {}
            for action_name, positions in actions.items():
                self._data[subject][action_name] = {
                    "positions": positions,
                    "cameras": self._cameras[subject],
                }

    def supports_semi_supervised(self):
        return True
