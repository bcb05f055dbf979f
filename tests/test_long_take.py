"""Long takes (core/long_take.py): read, kinematised and mapped window by window, they give what the usual
whole-take path gives. The windows are made small here (a few hundred rows) so files of the repository
take that path with many windows; the memory figure for a 1,000,000-frame take is a benchmark
(benchmarks/peak_memory.py), not a test."""
import numpy as np
import pytest

from conftest import FAMILIES, SAMPLES
from hpd3d_addon.core import bvh as bvh_module
from hpd3d_addon.core import long_take
from hpd3d_addon.core.dataset import GenerateOptions, load_take
from hpd3d_addon.core.discovery import Take
from hpd3d_addon.core.errors import InputError

FILES = [SAMPLES / "hpd3d_sample_walk.bvh", FAMILIES / "cmu_index_86_02.bvh", FAMILIES / "crlf_namespaced_metres.bvh",
         FAMILIES / "bandai_like_dance.bvh", FAMILIES / "mixamo_idle.bvh"]


def _both(path, monkeypatch, **opts):
    options = GenerateOptions(**opts)
    take = Take(path=path, subject="S1", action=path.stem)
    whole = load_take(take, options)
    monkeypatch.setattr(long_take, "LONG_TAKE_BYTES", 0)
    monkeypatch.setattr(bvh_module, "CHUNK_BYTES", 1024)
    windows = long_take.open_stream(path)
    count = sum(1 for _ in windows.windows())
    windows.close()
    streamed = load_take(take, options)
    monkeypatch.undo()
    return whole, streamed, count


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("opts", [{}, {"fps": 50}, {"layout_2d": "coco17"}, {"fps": 24, "layout_2d": "coco17"}],
                         ids=["plain", "fps50", "coco17", "fps24-coco17"])
def test_windows_give_the_whole_take(path, opts, monkeypatch):
    whole, streamed, windows = _both(path, monkeypatch, **opts)
    assert windows >= 3
    assert streamed.joints.shape == whole.joints.shape
    # the scale is applied after the mapping's sums instead of before: equal to ~1e-16 relative
    assert np.abs(streamed.joints - whole.joints).max() < 1e-12
    if whole.face is not None:
        assert np.abs(streamed.face - whole.face).max() < 1e-12
    assert streamed.info == whole.info
    assert (streamed.fps, streamed.joint_names, streamed.source) == (whole.fps, whole.joint_names, whole.source)


@pytest.mark.parametrize("mutate, message", [
    (lambda rows, k: rows[:k] + ["1 2 x"] + rows[k + 1:], "non-numeric motion value 'x'"),
    (lambda rows, k: rows[:k] + [" ".join(rows[k].split()[:-1])] + rows[k + 1:], "motion row has"),
    (lambda rows, k: rows[:k] + [" ".join(["nan"] + rows[k].split()[1:])] + rows[k + 1:], "NaN or infinite"),
    (lambda rows, k: rows[:k] + ["", "  "] + rows[k:], None),
    (lambda rows, k: rows[:-5], "motion rows"),
    (lambda rows, k: rows + rows[:3], "motion rows"),
])
def test_errors_name_the_same_line_as_the_whole_reader(tmp_path, monkeypatch, mutate, message):
    text = (SAMPLES / "hpd3d_sample_walk.bvh").read_text()
    head, _, motion = text.partition("Frame Time:")
    time_line, _, body = motion.partition("\n")
    rows = body.rstrip("\n").split("\n")
    rows = mutate(rows, len(rows) * 2 // 3)
    bad = tmp_path / "bad.bvh"
    bad.write_text(head + "Frame Time:" + time_line + "\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(bvh_module, "CHUNK_BYTES", 1024)
    stream = long_take.open_stream(bad)
    if message is None:  # blank lines inside the motion block: read alike
        whole = bvh_module.read_bvh(bad).motion
        assert np.array_equal(np.concatenate([m for _, m in stream.windows()]), whole)
        return
    with pytest.raises(InputError) as whole:
        bvh_module.read_bvh(bad)
    with pytest.raises(InputError) as streamed:
        for _ in stream.windows():
            pass
    stream.close()
    assert message in str(streamed.value)
    assert str(streamed.value) == str(whole.value)


def test_a_header_the_stream_does_not_take_goes_the_usual_way(tmp_path, monkeypatch):
    utf16 = tmp_path / "u16.bvh"
    utf16.write_bytes((SAMPLES / "hpd3d_sample_walk.bvh").read_text().encode("utf-16"))
    assert long_take.open_stream(utf16) is None
    monkeypatch.setattr(long_take, "LONG_TAKE_BYTES", 0)
    take = load_take(Take(path=utf16, subject="S1", action="u16"), GenerateOptions())
    assert take.joints.shape[1:] == (17, 3)


def _load_all(folder):
    out = {}
    for f in sorted(folder.glob("*.npz")):
        with np.load(f, allow_pickle=True) as d:
            out[f.name] = {k: d[k].item() if d[k].dtype == object else d[k] for k in d.files}
    return out


def _same(a, b, path=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            if k in ("run_id",):
                continue
            _same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}/{i}")
    elif isinstance(a, np.ndarray):
        assert a.shape == b.shape and a.dtype == b.dtype, path
        if a.dtype.kind == "f":
            assert np.abs(a.astype(np.float64) - b).max() <= 2e-6 * max(1.0, np.abs(a).max()), path
        else:
            assert np.array_equal(a, b), path
    else:
        assert a == b, path


@pytest.mark.parametrize("args", [[], ["--layout-2d", "coco17", "--rig", "ring:3"], ["--keypoints", "gt,detector"]],
                         ids=["gt", "coco17", "detector"])
def test_a_long_take_streamed_writes_the_usual_dataset(tmp_path, monkeypatch, capsys, args):
    """Read in windows and projected and written in blocks per camera (stream.BLOCK_FRAMES small), a take gives
    the dataset the whole-take path gives (float32 rounding of ~1e-16 differences at most), and check passes."""
    from hpd3d_addon.cli import main
    from hpd3d_addon.core import stream

    def run_cli(argv):
        rc = main(argv)
        out = capsys.readouterr()
        return rc, out.out, out.err
    src = SAMPLES / "hpd3d_sample_walk.bvh"
    rc, _, err = run_cli(["generate", str(src), "--out", str(tmp_path / "whole"), *args])
    assert rc == 0, err
    monkeypatch.setattr(long_take, "LONG_TAKE_BYTES", 0)
    monkeypatch.setattr(bvh_module, "CHUNK_BYTES", 2048)
    monkeypatch.setattr(stream, "BLOCK_FRAMES", 37)
    calls = []
    for owner, name in ((long_take, "_load"), (stream.Views, "_long_views")):
        def spy(*a, _f=getattr(owner, name), _n=name, **k):
            calls.append(_n)
            return _f(*a, **k)
        monkeypatch.setattr(owner, name, spy)
    rc, out, err = run_cli(["generate", str(src), "--out", str(tmp_path / "long"), *args])
    assert rc == 0, err
    # read in windows always; projected per camera in blocks when nothing is realised from the take
    assert calls == (["_load", "_long_views"] if not any("detector" in a for a in args) else ["_load"]), calls
    rc, report, err = run_cli(["check", str(tmp_path / "long")])
    assert rc == 0 and "PASS" in report, report + err
    monkeypatch.undo()
    _same(_load_all(tmp_path / "whole"), _load_all(tmp_path / "long"))


def test_stream_reader_fuzzed_against_the_whole_reader(tmp_path, monkeypatch):
    """300 seeded single mutations of a motion block (a byte dropped, doubled or replaced, a token or a line
    inserted or removed, CR line ends): the window reader gives the whole reader's array, or its error."""
    monkeypatch.setattr(bvh_module, "CHUNK_BYTES", 700)
    text = (FAMILIES / "lafan1_walk1.bvh").read_bytes()
    cut = text.index(b"Frame Time:")
    cut = text.index(b"\n", cut) + 1
    head, body = text[:cut], text[cut:]
    rng = np.random.default_rng(12)
    junk = [b"x", b"nan", b"1e999", b"-", b".", b" ", b"\n", b"\t", b"1e5", b"\r\n", b"\xff", b"1,5", b"+.5", b"0x10"]
    outcomes = set()
    for case in range(300):
        b = bytearray(body)
        i = int(rng.integers(len(b)))
        kind = case % 6
        if kind == 0:
            del b[i]
        elif kind == 1:
            b[i:i] = b[i:i + 1]
        elif kind == 2:
            b[i:i + 1] = junk[int(rng.integers(len(junk)))]
        elif kind == 3:
            b[i:i] = b" " + junk[int(rng.integers(len(junk)))] + b" "
        elif kind == 4:
            lines = bytes(b).split(b"\n")
            k = int(rng.integers(len(lines)))
            lines.insert(k, lines[k]) if rng.random() < 0.5 else lines.pop(k)
            b = bytearray(b"\n".join(lines))
        else:
            b = bytearray(bytes(b).replace(b"\n", b"\r\n"))
        f = tmp_path / f"c{case}.bvh"
        f.write_bytes(head + bytes(b))
        try:
            whole = bvh_module.read_bvh(f).motion
        except InputError as exc:
            whole = str(exc)
        stream = long_take.open_stream(f)
        assert stream is not None, case
        try:
            got = np.concatenate([m for _, m in stream.windows()])
        except InputError as exc:
            got = str(exc)
        finally:
            stream.close()
        if isinstance(whole, str):
            assert got == whole, (case, got, whole)
            outcomes.add(whole.split(": ", 1)[1].split(" '")[0][:30])
        else:
            assert isinstance(got, np.ndarray) and np.array_equal(got, whole), case
            outcomes.add("ok")
    assert "ok" in outcomes and len(outcomes) >= 4, outcomes


@pytest.mark.parametrize("spec, distortion", [("h36m", "h36m"), ("dome", "none"), ("random:4", "h36m")])
def test_rig_fit_in_blocks_gives_the_same_cameras(monkeypatch, spec, distortion):
    """A long take's rig is fitted without a centred copy of its points and its distortion check projects
    them in blocks: the same cameras, bit for bit, as the shared copy and the whole projection."""
    from hpd3d_addon.core import rigs
    take = load_take(Take(path=SAMPLES / "hpd3d_sample_walk.bvh", subject="S1", action="walk"), GenerateOptions())
    settings = rigs.parse_rig(spec, distortion=distortion)
    whole = rigs.build_rig(settings, take.joints, "S1")
    monkeypatch.setattr(rigs, "SHARED_CENTRE_POINTS", 10)
    monkeypatch.setattr(rigs, "PROJECT_BLOCK_POINTS", 97)
    blocks = rigs.build_rig(settings, take.joints, "S1")
    for a, b in zip(whole, blocks):
        assert np.array_equal(a.translation, b.translation) and np.array_equal(a.rotation, b.rotation), a.id
