"""Streaming .npz files of pickled dicts (VideoPose3D's format) in both directions, one array at a time.

An npz member such as positions_2d.npy holds a 0-d object array whose item is {subject: {action: [array per
camera]}}, pickled. `write_member` writes that pickle stream piece by piece: the containers' opcodes by
hand, each array's bytes straight from its buffer (or from an iterator of chunks, for arrays larger than
memory should hold), so the whole dict never exists in memory. The opcodes of each piece come from the
standard pickler (protocol 3, no memo) and numpy's own `__reduce__`, so `np.load(...)[key].item()` returns
what it returns for np.savez of the same dict (test_npz_stream.py compares them).

`iter_items(path, key)` reads such a member back one innermost item at a time: (subject, action, value),
the values of the other entries being dropped as they are yielded, so a reader holds one take at a time.
"""
import io
import math
import pickle
import struct
import time
import zipfile
from pathlib import Path

import numpy as np

PROTOCOL_HEADER = pickle.PROTO + bytes([4])  # as np.save's pickles; BINBYTES8 (a protocol 4 op) for >= 4 GiB
_MARK, _TUPLE, _BUILD, _REDUCE, _STOP = pickle.MARK, pickle.TUPLE, pickle.BUILD, pickle.REDUCE, pickle.STOP
_EMPTY_DICT, _SETITEM, _EMPTY_LIST, _APPEND = pickle.EMPTY_DICT, pickle.SETITEM, pickle.EMPTY_LIST, pickle.APPEND


def ops(obj):
    """The pickle opcodes of `obj` alone (no PROTO, no STOP, no memo: pieces can be concatenated)."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=3)  # protocol 3: no frames, so the pieces are self-contained
    pickler.fast = True
    pickler.dump(obj)
    return buf.getvalue()[2:-1]


class Items:
    """A dict given as an iterator of (key, value) pairs, consumed as it is written (nothing kept)."""

    def __init__(self, pairs):
        self.pairs = pairs


class Chunks:
    """An array given as an iterator of C-ordered pieces along its first axis (written as they come)."""

    def __init__(self, dtype, shape, pieces):
        self.dtype, self.shape, self.pieces = np.dtype(dtype), tuple(int(n) for n in shape), pieces


class Lazy:
    """A value made only when it is written (and dropped right after)."""

    def __init__(self, make):
        self.make = make


class PickleWriter:
    """Writes one pickled 0-d object array (the content of an npz member) to a binary file object."""

    def __init__(self, fh, source=None):
        self.out, self.source = fh, source
        self.path = []  # keys and indices down to the value being written, for the error message
        self.buffer = bytearray()  # small opcodes gathered: each write into a zip member costs ~10 us

    def _write(self, data):
        if len(data) >= BUFFER_BYTES:
            self._flush()
            self.out.write(data)
            return
        self.buffer += data
        if len(self.buffer) >= BUFFER_BYTES:
            self._flush()

    def _flush(self):
        if self.buffer:
            self.out.write(self.buffer)
            self.buffer = bytearray()

    def write(self, value):
        """The whole member: a 0-d object array holding `value` (dicts, lists, Items, Chunks, Lazy, arrays,
        and plain picklable values)."""
        holder = np.empty((), dtype=object)
        call, args, state = holder.__reduce__()
        self._write(PROTOCOL_HEADER + ops(call) + ops(args) + _REDUCE + _MARK + b"".join(ops(s) for s in state[:4])
                      + _EMPTY_LIST)
        self.value(value)
        self._write(_APPEND + _TUPLE + _BUILD + _STOP)
        self._flush()

    def value(self, v):
        if isinstance(v, Lazy):
            v = v.make()
        if isinstance(v, (dict, Items)):
            self._write(_EMPTY_DICT)
            for key, item in (v.items() if isinstance(v, dict) else v.pairs):
                self._write(_key_ops(key))
                self.path.append(key)
                self.value(item)
                self.path.pop()
                self._write(_SETITEM)
        elif isinstance(v, list):
            self._write(_EMPTY_LIST)
            for i, item in enumerate(v):
                self.path.append(i)
                self.value(item)
                self.path.pop()
                self._write(_APPEND)
        elif isinstance(v, np.ndarray) and not v.dtype.hasobject:
            v = np.ascontiguousarray(v)
            self.array(v.dtype, v.shape, [v])
        elif isinstance(v, Chunks):
            self.array(v.dtype, v.shape, v.pieces)
        else:
            self._write(ops(v))

    def array(self, dtype, shape, pieces):
        """An ndarray as numpy pickles it: _reconstruct, then the state (version, shape, dtype, fortran,
        data bytes) with the data written piece by piece."""
        nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow, no numpy call per array
        size = (pickle.BINBYTES + struct.pack("<I", nbytes) if nbytes < 2 ** 32
                else pickle.BINBYTES8 + struct.pack("<Q", nbytes))
        head, tail = _array_ops(dtype, len(shape))
        self._write(head + _shape_ops(tuple(shape)) + tail + size)
        written = 0
        for piece in pieces:
            piece = np.ascontiguousarray(piece, dtype=dtype)
            if piece.shape[1:] != tuple(shape[1:]):
                raise ValueError(f"chunk of shape {piece.shape} in an array of shape {tuple(shape)}")
            if self.source is not None and dtype.kind in "fc" and not np.isfinite(piece).all():
                from .errors import OutputError
                where = "/".join(map(str, self.path))
                raise OutputError(f"{self.source}/{where} holds a non-finite value (NaN or infinity); nothing written")
            if piece.nbytes:
                self._write(memoryview(piece.reshape(-1)).cast("B"))
            written += piece.nbytes
        if written != nbytes:
            raise ValueError(f"array of shape {tuple(shape)} got {written} of its {nbytes} bytes")
        self._write(_TUPLE + _BUILD)


BUFFER_BYTES = 1 << 16
_ARRAY_OPS = {}
_SHAPE_OPS = {}
_KEY_OPS = {}


def _key_ops(key):
    if not isinstance(key, str):
        return ops(key)
    if key not in _KEY_OPS:
        if len(_KEY_OPS) > 100_000:
            _KEY_OPS.clear()
        _KEY_OPS[key] = ops(key)
    return _KEY_OPS[key]


def _array_ops(dtype, ndim):
    """The opcodes of an array pickle before and after its shape (the same for every array of a dtype and
    number of dimensions: pickled once, not once per array)."""
    key = (dtype.str, dtype.descr if dtype.fields else None, ndim)
    if key not in _ARRAY_OPS:
        call, args, state = np.empty((0,) * ndim, dtype=dtype).__reduce__()
        _ARRAY_OPS[key] = (ops(call) + ops(args) + _REDUCE + _MARK + ops(state[0]), ops(state[2]) + ops(False))
    return _ARRAY_OPS[key]


def _shape_ops(shape):
    if shape not in _SHAPE_OPS:
        if len(_SHAPE_OPS) > 100_000:
            _SHAPE_OPS.clear()
        _SHAPE_OPS[shape] = ops(shape)
    return _SHAPE_OPS[shape]


def npy_object_header():
    """The .npy header np.save writes before a pickled 0-d object array."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(np.empty((), dtype=object)))
    return buf.getvalue()


def write_member(zf, key, value, deflate=False, source=None):
    """Write npz member KEY.npy to the open zipfile.ZipFile `zf`: `value` is an ndarray (written as np.save
    writes it) or anything PickleWriter.write takes. Masks and metadata are deflated (level 1: ~100x smaller
    for those, in half the time of the default level); float keypoints are stored (they hardly compress)."""
    info = zipfile.ZipInfo(f"{key}.npy", date_time=time.localtime(time.time())[:6])
    info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    info._compresslevel = 1  # the attribute zipfile reads in ZipFile.open (compress_level from 3.13)
    if hasattr(info, "compress_level"):
        info.compress_level = 1
    with zf.open(info, "w", force_zip64=True) as member:
        if isinstance(value, np.ndarray) and not value.dtype.hasobject:
            np.lib.format.write_array(member, value, allow_pickle=False)
        else:
            member.write(npy_object_header())
            PickleWriter(member, source).write(value)


class StreamedNpz:
    """A file's content for writer.write_files: an npz whose members, (key, make value, deflate), are made
    and streamed when the file is written, in that order; `then()` runs once they all are. Float arrays must
    be finite (core/integrity.py's rule for every file): else OutputError, and the commit writes nothing."""

    def __init__(self, *members, then=None):
        self.members, self.then = members, then

    def write_to(self, fh):
        name = getattr(fh, "name", "npz")
        with zipfile.ZipFile(fh, mode="w", allowZip64=True) as zf:
            for key, make, deflate in self.members:
                write_member(zf, key, make(), deflate=deflate, source=f"{Path(str(name)).name}: {key}")
        if self.then:
            self.then()


# ---- reading back, one take at a time ----------------------------------------------------------------------

class _TakeUnpickler(pickle._Unpickler):
    """The pure-Python unpickler, except that items set into a dict whose values are arrays (or lists of
    arrays) go to `pending` as (outer key, key, value) instead of into the dict: {subject: {action: arrays}} is read
    with one action's arrays alive at a time."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, fh):
        super().__init__(fh)
        self.pending = []

    @staticmethod
    def _is_take(value):
        return isinstance(value, np.ndarray) or (isinstance(value, list) and value and
                                                 all(isinstance(v, np.ndarray) for v in value))

    def _set(self, target, outer, pairs):
        for key, value in pairs:
            if isinstance(target, dict) and not target and self._is_take(value) and isinstance(outer, str):
                self.pending.append((outer, key, value))
            else:
                target[key] = value

    def load_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        self._set(self.stack[-1], self.stack[-2] if len(self.stack) > 1 else None, [(key, value)])
    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self):
        items = self.pop_mark()
        self._set(self.stack[-1], self.stack[-2] if len(self.stack) > 1 else None,
                  [(items[i], items[i + 1]) for i in range(0, len(items), 2)])
    dispatch[pickle.SETITEMS[0]] = load_setitems


    def _hand_out_batched(self):
        """pickle's C pickler writes a dict's items in batches (MARK k1 v1 k2 v2 ... SETITEMS, up to 1000):
        a take is complete once the next key (a str) follows it, so it is handed out then, not at SETITEMS."""
        stack = self.stack
        if len(stack) >= 3 and self.metastack:
            below = self.metastack[-1]
            if (len(below) >= 2 and isinstance(below[-1], dict) and not below[-1] and isinstance(below[-2], str)
                    and isinstance(stack[0], str) and self._is_take(stack[1]) and isinstance(stack[2], str)):
                self.pending.append((below[-2], stack[0], stack[1]))
                del stack[:2]

    def items(self):
        """pickle._Unpickler.load as a generator: after each opcode, the takes it completed are yielded."""
        self._unframer = pickle._Unframer(self._file_read, self._file_readline)
        self.read, self.readinto, self.readline = self._unframer.read, self._unframer.readinto, self._unframer.readline
        self.metastack, self.stack, self.proto = [], [], 0
        self.append = self.stack.append
        read, dispatch, pending = self.read, self.dispatch, self.pending
        try:
            while True:
                op = read(1)
                if not op:
                    raise EOFError("pickle stream ended before STOP")
                dispatch[op[0]](self)
                self._hand_out_batched()
                while pending:
                    yield pending.pop(0)
        except pickle._Stop as stop:
            self.result = stop.value


def iter_items(path, key):
    """(subject, action, value) of npz member KEY.npy of the file at `path`, in file order; each take is read
    only when the previous one was handed out, so one take's arrays are in memory at a time."""
    with zipfile.ZipFile(path) as zf, zf.open(f"{key}.npy") as member:
        np.lib.format.read_magic(member)
        np.lib.format.read_array_header_1_0(member)
        yield from _TakeUnpickler(io.BufferedReader(member, 1 << 16)).items()


def load_without_takes(path, key):
    """The object of npz member KEY.npy with its takes left out ({subject: {}}): the small rest of a member,
    such as the 2D file's metadata (whose 'visibility' holds every take's masks), without loading them."""
    with zipfile.ZipFile(path) as zf, zf.open(f"{key}.npy") as member:
        np.lib.format.read_magic(member)
        np.lib.format.read_array_header_1_0(member)
        reader = _TakeUnpickler(io.BufferedReader(member, 1 << 16))
        for _ in reader.items():
            pass
    return reader.result.item()
