"""Streamed npz members read back (np.load) exactly as the dicts np.savez writes; read back one take at a time."""
import io
import zipfile

import numpy as np
import pytest

from hpd3d_addon.core import npz_stream
from hpd3d_addon.core.npz_stream import Chunks, Items, Lazy


def _data():
    rng = np.random.default_rng(0)
    p2 = {s: {a: [rng.normal(size=(n, 17, 2)).astype(np.float32) for _ in range(3)]
              for a, n in (("walk", 5), ("run", 1), ("empty", 0))} for s in ("S1", "S9")}
    p3 = {s: {a: rng.normal(size=(n, 17, 3)).astype(np.float32) for a, n in (("walk", 7), ("b", 2))} for s in ("S1", "S2")}
    vis = {s: {a: [np.ones((len(v[0]), 17), bool) for _ in v] for a, v in acts.items()} for s, acts in p2.items()}
    meta = {"layout_name": "h36m17", "num_joints": 17, "keypoints_symmetry": [[4, 5, 6], [1, 2, 3]], "fps": 30.0,
            "fps_per_action": {"S1/walk": 30.0}, "visibility": vis, "nothing": None, "scale": np.float64(0.01),
            "cams": {"intrinsics": [{"f": [1.0, 2.0]}]}}
    return {"positions_2d": p2, "positions_3d": p3, "visibility": vis, "metadata": meta}


def _same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes() and b.flags.writeable
    else:
        assert a == b


def _streamed(path, data, how):
    with zipfile.ZipFile(path, "w", allowZip64=True) as zf:
        for key, value in data.items():
            npz_stream.write_member(zf, key, how(value), deflate=key != "positions_2d")
        npz_stream.write_member(zf, "plain", np.arange(6.0).reshape(2, 3))


def _lazily(value):
    """The same dict as Items of Lazy leaves and Chunks of 2 frames."""
    if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
        return Items((s, Items((a, Lazy(lambda v=v: _chunked(v))) for a, v in acts.items())) for s, acts in value.items())
    return value


def _chunked(v):
    if isinstance(v, list):
        return [_chunked(x) for x in v]
    return Chunks(v.dtype, v.shape, (v[i:i + 2] for i in range(0, len(v), 2)))


@pytest.mark.parametrize("how", [lambda v: v, _lazily], ids=["dicts", "items-lazy-chunks"])
def test_streamed_npz_loads_like_savez(tmp_path, how):
    data = _data()
    ref, ours = tmp_path / "ref.npz", tmp_path / "ours.npz"
    np.savez(ref, **data, plain=np.arange(6.0).reshape(2, 3))
    _streamed(ours, data, how)
    with np.load(ref, allow_pickle=True) as a, np.load(ours, allow_pickle=True) as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            x, y = a[key], b[key]
            assert x.dtype == y.dtype and x.shape == y.shape
            _same(x.item() if x.dtype == object else x, y.item() if y.dtype == object else y)


def test_iter_items_yields_one_take_at_a_time(tmp_path):
    data = _data()
    path = tmp_path / "ours.npz"
    _streamed(path, data, _lazily)
    for key in ("positions_2d", "positions_3d", "visibility"):
        seen = []
        for subject, action, value in npz_stream.iter_items(path, key):
            _same(data[key][subject][action], value)
            seen.append((subject, action))
        assert seen == [(s, a) for s, acts in data[key].items() for a in acts]
    np.savez(tmp_path / "ref.npz", **data)  # what the C pickler writes (frames, SETITEMS batches) reads alike
    assert [(s, a) for s, a, _ in npz_stream.iter_items(tmp_path / "ref.npz", "positions_2d")] == \
           [(s, a) for s, acts in data["positions_2d"].items() for a in acts]


def test_chunks_must_fill_the_array(tmp_path):
    with zipfile.ZipFile(io.BytesIO(), "w") as zf, pytest.raises(ValueError, match="got 24 of its 48 bytes"):
        npz_stream.write_member(zf, "x", {"a": Chunks(np.float32, (4, 3), [np.zeros((2, 3), np.float32)])})
