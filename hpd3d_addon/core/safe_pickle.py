"""Reading .npz files without running code from them.

VideoPose3D's npz files hold dicts, pickled (np.savez of a dict makes a 0-d object array). np.load with
allow_pickle=True lets such a file call any function it names (os.system, builtins.exec, ...). Here the
npy header is read with np.lib.format and the pickle with an unpickler that admits only what the format
holds: dicts, lists, tuples, str, bytes, numbers, bool, None, numpy arrays, dtypes and scalars. Anything
else is refused, by name, before it is called, as one line naming the file and the member.

Which globals numpy's own pickles name (numpy 1.x and 2.x, pickle protocols 2 to 5): ndarrays
`numpy.core.multiarray._reconstruct` (1.x) or `numpy._core.multiarray._reconstruct` (2.x) with `numpy.ndarray`
and `numpy.dtype`; numpy scalars `...multiarray.scalar`; protocol 5 `...numeric._frombuffer`; protocol 2
`_codecs.encode` for bytes. Each name maps to a checking wrapper of the running numpy's own function (never
an import by name), so a file written by numpy 1.x loads in 2.x and back. Allocation follows the bytes
present in the file: an array's claimed shape is checked against the data it comes with before numpy
allocates it, and a structure is nested at most MAX_DEPTH levels.

blender_dataset.py (a single file users copy into VideoPose3D's common/, importing nothing of ours) carries
an exact copy of the block between the BEGIN/END lines below; a test keeps the two identical.
"""
import os
import pickle
import zipfile

import numpy as np

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
