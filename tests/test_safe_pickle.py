"""No code from data files: `hpd3d check` and BlenderDataset read npz files with a restricted unpickler.

Each hostile file is first proven live (plain np.load(..., allow_pickle=True) in a child process writes the
marker file), then refused by check and by the loader with one line naming the file, and the marker never
appears. Legitimate files (ours, VideoPose3D's np.savez_compressed of dicts, pickle protocols 2 to 5, numpy
1.x and 2.x module names) still load, equal to np.load's result.
"""
import io
import pickle
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from conftest import REPO
from pickle_payloads import Raw, evil_dict_payload, nested_npy_payload, payloads, write_npz
from test_loader import INTERFACE, _load_dataset
from hpd3d_addon.core.check import check_folder
from hpd3d_addon.core.safe_pickle import UnsafeNpzError, npz_item, read_npz


def _block(path):
    text = path.read_text(encoding="utf-8")
    return text[text.index("# BEGIN restricted npz reader"):text.index("# END restricted npz reader")]


def test_loader_carries_the_same_unpickler():
    assert _block(REPO / "blender_dataset.py") == _block(REPO / "hpd3d_addon" / "core" / "safe_pickle.py")
    assert "hpd3d" not in "".join(l for l in (REPO / "blender_dataset.py").read_text().splitlines()
                                  if l.startswith(("import", "from")))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, sample_bvh_module):
    out = tmp_path_factory.mktemp("safe") / "data"
    subprocess.run([sys.executable, "-m", "hpd3d_addon", "generate", str(sample_bvh_module), "--subject", "S1",
                    "--out", str(out), "--rig", "ring:2", "--quiet"], check=True, cwd=REPO, capture_output=True)
    return out


@pytest.fixture(scope="module")
def sample_bvh_module():
    return sorted((REPO / "hpd3d_addon" / "samples").glob("*.bvh"))[0]


def _members(path):
    with np.load(path, allow_pickle=True) as z:
        return {k: z[k].item() if z[k].dtype.hasobject else z[k] for k in z.files}


def _place(members, placement, raw):
    """Put the payload `raw` at one placement of a file's members (a dict {key: value})."""
    if placement == "member":
        key = "cameras" if "cameras" in members else "positions_2d"
        members[key] = raw
    elif placement == "metadata":
        members["metadata"]["fps"] = raw
    elif placement == "cameras":
        members["cameras"]["intrinsics"][0]["focal_length"] = raw
    elif placement == "positions":
        key = "positions_3d" if "positions_3d" in members else "positions_2d"
        subject = next(iter(members[key]))
        members[key][subject]["evil"] = raw
    elif placement == "dict subclass":
        members["metadata"] = raw
    return members


PLACEMENTS = [("3d", "member"), ("3d", "metadata"), ("3d", "cameras"), ("3d", "positions"), ("3d", "dict subclass"),
              ("2d", "member"), ("2d", "metadata"), ("2d", "positions"), ("2d", "dict subclass")]
PAYLOADS = sorted(payloads("m")) + ["numpy.load"]


def _hostile_folder(dataset, root, which, placement, payload):
    folder = root / f"{which}-{placement}-{payload}".replace(" ", "_")
    shutil.copytree(dataset, folder)
    marker = folder / "MARKER"
    if placement == "dict subclass":
        raw = evil_dict_payload(marker)
    elif payload == "numpy.load":
        raw = nested_npy_payload(marker, folder)
    else:
        raw = payloads(marker)[payload]
    path = folder / ("data_3d_blender.npz" if which == "3d" else "data_2d_blender_gt.npz")
    write_npz(path, _place(_members(path), placement, raw))
    return folder, path, marker


@pytest.fixture(scope="module")
def hostile(dataset, tmp_path_factory):
    """{(which, placement, payload): (folder, file, marker)}, every file proven to run its payload under plain
    np.load in a child process (then the markers are removed)."""
    root = tmp_path_factory.mktemp("hostile")
    cases = {}
    for which, placement in PLACEMENTS:
        for payload in (PAYLOADS if placement != "dict subclass" else ["os.system"]):
            cases[which, placement, payload] = _hostile_folder(dataset, root, which, placement, payload)
    script = ("import sys, numpy as np\n"
              "for p in sys.argv[1:]:\n"
              "    with np.load(p, allow_pickle=True) as z:\n"
              "        for k in z.files:\n"
              "            try: z[k]\n"
              "            except Exception: pass\n")
    subprocess.run([sys.executable, "-c", script] + [str(c[1]) for c in cases.values()], check=True,
                   capture_output=True, timeout=300)
    dead = [k for k, (_, _, marker) in cases.items() if not marker.exists()]
    assert not dead, f"payloads that plain pickle did not run: {dead}"
    for _, _, marker in cases.values():
        marker.unlink()
    return cases


def test_check_refuses_every_payload(hostile):
    for key, (folder, path, marker) in hostile.items():
        report = check_folder(folder)
        assert not report.passed, key
        assert len(report.problems) == 1, (key, report.problems)
        line = report.problems[0]
        assert str(path) in line and "refused" in line and "\n" not in line, (key, line)
        assert not marker.exists(), key


def test_check_cli_refuses_with_one_line(hostile):
    folder, path, marker = hostile["2d", "metadata", "os.system"]
    r = subprocess.run([sys.executable, "-m", "hpd3d_addon", "check", str(folder)], capture_output=True, text=True,
                       cwd=REPO, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr
    problems = [l for l in r.stdout.splitlines() if "problem:" in l]
    assert len(problems) == 1 and "refused to load the global os.system" in problems[0], r.stdout
    assert "member 'metadata'" in problems[0]
    assert not marker.exists()


def test_loader_refuses_every_payload(hostile):
    for key, (folder, path, marker) in hostile.items():
        with pytest.raises(ValueError) as exc:  # blender_dataset.py's own copy of UnsafeNpzError
            _load_dataset(INTERFACE, folder / "data_3d_blender.npz", REPO)
        assert type(exc.value).__name__ == "UnsafeNpzError"
        line = str(exc.value)
        assert str(path) in line and "\n" not in line, (key, line)
        assert not marker.exists(), key


def test_loader_refuses_a_pair_from_two_runs(dataset, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(dataset, folder)
    for name, run in (("data_3d_blender.npz", "run-a"), ("data_2d_blender_gt.npz", "run-b")):
        members = _members(folder / name)
        members.setdefault("metadata", {})["run_id"] = run
        write_npz(folder / name, members)
    with pytest.raises(ValueError, match="another run.*run-b vs run-a"):
        _load_dataset(INTERFACE, folder / "data_3d_blender.npz", REPO)
    members = _members(folder / "data_2d_blender_gt.npz")
    members["metadata"]["run_id"] = "run-a"
    write_npz(folder / "data_2d_blender_gt.npz", members)
    assert list(_load_dataset(INTERFACE, folder / "data_3d_blender.npz", REPO).subjects()) == ["S1"]


def _same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    return type(a) is type(b) and (a == b or a != a)


LEGIT = {
    "S1": {"Walking 1": [np.random.default_rng(0).random((5, 17, 2)).astype(np.float32) for _ in range(4)]},
    "meta": {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[4, 5, 6], [1, 2, 3]], "fps": 50.0,
             "f64": np.float64(2.5), "i64": np.int64(-3), "b": np.bool_(True), "s": np.str_("x"), "none": None,
             "t": (1, 2.0, True, b"\x00\xff"), "dtype": np.dtype("<f4"), "fortran": np.asfortranarray(np.eye(3)),
             "structured": np.zeros(2, dtype=[("a", "<f4"), ("b", "<i8")]), "strings": np.array(["ab", "c"]),
             "objects": np.array([[1, 2], "x"], dtype=object)},
}


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_legit_pickles_load_as_np_load_reads_them(tmp_path, protocol):
    path = tmp_path / "legit.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, value in (("positions_2d", LEGIT), ("plain", np.arange(12.0).reshape(3, 4).T)):
            buf = io.BytesIO()
            array = np.asanyarray(value) if key == "plain" else np.array(value, dtype=object)
            np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(array))
            pickle.dump(array, buf, protocol=protocol) if array.dtype.hasobject else buf.write(array.tobytes("A"))
            zf.writestr(f"{key}.npy", buf.getvalue())
    ours, ref = read_npz(path), _members(path)
    assert _same(ours["positions_2d"].item(), ref["positions_2d"]) and _same(ours["plain"], ref["plain"])
    assert ours["plain"].flags.writeable and ours["positions_2d"].item()["S1"]["Walking 1"][0].flags.writeable


def test_numpy_2_module_names_load_too(tmp_path):
    """numpy 2 names numpy._core.multiarray where 1.x names numpy.core.multiarray: both are admitted."""
    array = np.array(LEGIT, dtype=object)
    data = pickle.dumps(array, protocol=2)
    for old, new in ((b"numpy.core.multiarray", b"numpy._core.multiarray"), (b"numpy._core.multiarray", b"numpy.core.multiarray")):
        if old in data:
            data = data.replace(old, new)
            break
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(array))
    path = tmp_path / "other_numpy.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("positions_2d.npy", buf.getvalue() + data)
    assert _same(npz_item(path, "positions_2d"), LEGIT)


def test_videopose3d_style_npz_loads(tmp_path):
    """What VideoPose3D's prepare_data_h36m.py and the original genDataset3D.py write."""
    path = tmp_path / "data_2d_h36m_gt.npz"
    meta = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    np.savez_compressed(path, positions_2d=LEGIT, metadata=meta)
    assert _same(npz_item(path, "positions_2d"), LEGIT) and npz_item(path, "metadata") == meta
    assert npz_item(path, "absent") is None


def _header(descr, shape):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


@pytest.mark.parametrize("member, message", [
    # _reconstruct(ndarray, (1410065408,), 'b'): a huge first shape, refused before numpy allocates it
    (_header("|O", ()) + b"\x80\x02cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\nJ\x00\xe4\x0b\x54\x85"
     b"U\x01btR.", "unexpected arguments"),
    # numpy.ndarray itself cannot be called (it would allocate any shape it is given)
    (_header("|O", ()) + b"\x80\x02cnumpy\nndarray\n(J\x00\xe4\x0b\x54\x85tR.", "not callable"),
    (_header("<f8", (100000000000,)) + b"\x00" * 64, "header claims"),
    (_header("<f8", (100,)) + b"\x00" * 64, "header claims"),
    (b"not an npy member", "magic"),
])
def test_hostile_shapes_are_refused_without_allocating(tmp_path, member, message):
    path = tmp_path / "bad.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("positions_2d.npy", member)
    with pytest.raises(UnsafeNpzError, match=message):
        read_npz(path)


def test_array_state_must_match_its_data(tmp_path):
    """BUILD of an object array claiming 10**12 elements with 2 items: numpy would allocate the claim first."""
    array = np.empty(2, dtype=object)
    data = pickle.dumps(array, protocol=2).replace(b"K\x02\x85", b"\x8a\x06\x00\x10\xa5\xd4\xe8\x00\x85")
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(array))
    path = tmp_path / "claim.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("positions_2d.npy", buf.getvalue() + data)
    with pytest.raises(UnsafeNpzError, match="does not match"):
        read_npz(path)


def test_deep_nesting_and_garbage_are_one_line(tmp_path):
    deep = []
    for _ in range(100):
        deep = [deep]
    path = tmp_path / "deep.npz"
    np.savez(path, metadata=_wrap(deep))
    with pytest.raises(UnsafeNpzError, match="deeper than"):
        read_npz(path)
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(UnsafeNpzError, match="not a readable npz"):
        read_npz(tmp_path / "junk.npz")


def _wrap(value):
    array = np.empty((), dtype=object)
    array[()] = value
    return array
