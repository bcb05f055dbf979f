"""Hostile npz files for the restricted-unpickler tests (and the fuzzer): pickles that run a shell command
writing a marker file when loaded with plain pickle (np.load(..., allow_pickle=True)).

A payload is raw pickle opcodes (`Raw`) placed anywhere in an otherwise legitimate structure; `write_npz`
pickles the structure as np.savez does (a 0-d object array per member) with the payload's bytes spliced in
where the Raw object stands.
"""
import pickle
import struct
import zipfile

import numpy as np


class Raw:
    """Pickle opcodes written as they are where this object stands in a structure."""

    def __init__(self, data):
        self.data = data


class _Pickler(pickle._Pickler):
    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Raw):
            self.write(obj.data)
            return
        super().save(obj, save_persistent_id)


def _global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _str(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _tuple(*items):
    return b"(" + b"".join(items) + b"t"


def _call(func, *args):
    return func + _tuple(*args) + b"R"


def shell(marker):
    return f"echo ran > '{marker}'"


def payloads(marker):
    """{name: Raw} each running `shell(marker)` (or an equivalent) when unpickled by plain pickle."""
    cmd = shell(marker)
    system = _global("os", "system")
    return {
        "os.system": Raw(_call(system, _str(cmd))),
        "posix.system": Raw(_call(_global("posix", "system"), _str(cmd))),
        "builtins.exec": Raw(_call(_global("builtins", "exec"), _str(f"import os; os.system({cmd!r})"))),
        "builtins.eval": Raw(_call(_global("builtins", "eval"), _str(f"__import__('os').system({cmd!r})"))),
        "subprocess.call": Raw(_call(_global("subprocess", "call"), b"](" + _str("sh") + _str("-c") + _str(cmd) + b"e")),
        "functools.partial": Raw(_call(_global("functools", "partial"), system, _str(cmd)) + b")R"),
        "builtins.getattr": Raw(_call(_call(_global("builtins", "getattr"),
                                            _call(_global("builtins", "__import__"), _str("os")), _str("system")),
                                      _str(cmd))),
        "numpy.testing runstring": Raw(_call(_global("numpy.testing._private.utils", "runstring"),
                                             _str(f"import os; os.system({cmd!r})"), b"}")),
        # protocol 4 resolves dotted names: numpy's own modules hold `os`
        "numpy.f2py os.system": Raw(b"\x80\x04" + _call(_global("numpy.f2py", "os.system"), _str(cmd))),
        "numpy.lib._datasource os.system": Raw(b"\x80\x04" + _call(_global("numpy.lib._datasource", "os.system"), _str(cmd))),
    }


def evil_dict_payload(marker):
    """A dict subclass whose __reduce__ runs the command: what pickle writes for such an object."""
    return Raw(_call(_global("os", "system"), _str(shell(marker))))


def nested_npy_payload(marker, folder):
    """numpy.load(file, None, True) of a second file holding the os.system pickle: code one file away."""
    inner = folder / "inner.npy"
    inner.write_bytes(_npy_bytes(payloads(marker)["os.system"]))
    return Raw(_call(_global("numpy", "load"), _str(str(inner)), b"N", b"\x88"))


def _npy_bytes(value, protocol=2):
    import io
    buf = io.BytesIO()
    array = np.empty((), dtype=object)
    array[()] = value
    np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(array))
    _Pickler(buf, protocol=protocol).dump(array)
    return buf.getvalue()


def write_npz(path, members, protocol=2):
    """An npz whose members are {key: structure}: dicts pickled as np.savez does, Raw payloads spliced in;
    a bare Raw member is the whole pickle of that member."""
    with zipfile.ZipFile(path, "w") as zf:
        for key, value in members.items():
            if isinstance(value, np.ndarray) and not value.dtype.hasobject:
                import io
                buf = io.BytesIO()
                np.lib.format.write_array(buf, value)
                zf.writestr(f"{key}.npy", buf.getvalue())
                continue
            if isinstance(value, Raw):  # the member's whole pickle is the payload
                array = np.empty((), dtype=object)
                header = np.lib.format.header_data_from_array_1_0(array)
                import io
                buf = io.BytesIO()
                np.lib.format.write_array_header_1_0(buf, header)
                zf.writestr(f"{key}.npy", buf.getvalue() + b"\x80\x02" + value.data + b".")
                continue
            zf.writestr(f"{key}.npy", _npy_bytes(value, protocol))
