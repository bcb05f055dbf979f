"""`hpd3d export motionbert`: the file MotionBERT's DataReaderH36M reads, read the way it reads it
(tests/motionbert_interface, or the real repository with HPD3D_MOTIONBERT), the clip folder, `check`."""
import importlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, SHARED_BVH
from hpd3d_addon.core.dataset import GenerateOptions, generate
from hpd3d_addon.core.errors import HPD3DError, InputError
from hpd3d_addon.core.formats import export, get
from hpd3d_addon.core.formats.motionbert import H36M_CAMERAS, check_file, read
from hpd3d_addon.core.rigs import parse_rig

INTERFACE = Path(__file__).resolve().parent / "motionbert_interface"
MB = get("motionbert")


def _reader_roots():
    roots = [pytest.param(INTERFACE, id="doc-interface")]
    real = os.environ.get("HPD3D_MOTIONBERT")
    if real:  # the real lib/utils/utils_data.py imports torch
        roots.append(pytest.param(Path(real), id="motionbert", marks=pytest.mark.skipif(
            importlib.util.find_spec("torch") is None, reason="MotionBERT's lib/ needs torch")))
    return roots


def _reader(root, pkl, **kw):
    """DataReaderH36M from `root`/lib (fresh modules each time), reading pkl as train.py does."""
    for name in [m for m in sys.modules if m == "lib" or m.startswith("lib.")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module("lib.data.datareader_h36m")
        args = dict(n_frames=243, sample_stride=1, data_stride_train=81, data_stride_test=243)
        args.update(kw)
        return module.DataReaderH36M(dt_root=str(pkl.parent), dt_file=pkl.name, **args)
    finally:
        del sys.path[0]
        for name in [m for m in sys.modules if m == "lib" or m.startswith("lib.")]:
            del sys.modules[name]


def _subjects(tmp, layout):
    """A folder of subject folders (symlinks to the real BVH fixtures)."""
    if not all((SHARED_BVH / f).is_file() for files in layout.values() for f in files):
        pytest.skip(f"real BVH fixtures not found at {SHARED_BVH}")
    for subject, files in layout.items():
        (tmp / subject).mkdir(parents=True)
        for f in files:
            (tmp / subject / f).symlink_to(SHARED_BVH / f)
    return tmp


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """S1, S2 short Bandai takes (195, 128 frames), S3 CMU 01_01 at 30 fps (688 frames), h36m rig."""
    tmp = tmp_path_factory.mktemp("mb")
    mocap = _subjects(tmp / "in", {"S1": ["bandai_walk_normal_001.bvh"], "S2": ["bandai_bow_active_001.bvh"],
                                   "S3": ["cmu_01_01.bvh"]})
    generate([mocap], GenerateOptions(out=str(tmp / "data"), fps=30))
    return tmp / "data"


@pytest.fixture(scope="module")
def exported(dataset):
    out = dataset.parent / "motion3d" / "blender.pkl"
    result = export("motionbert", dataset, out=out, clips=dataset.parent / "clips" / "BLENDER")
    return out, result


@pytest.mark.parametrize("root", _reader_roots())
def test_reader_slices_243_frame_clips_of_finite_values(exported, root):
    pkl, result = exported
    reader = _reader(root, pkl)
    train_data, test_data, train_labels, test_labels = reader.get_sliced_data()
    # train: S1 (195) and S2 (128) x 4 cameras, each short video one resampled clip, the last one dropped
    # unless a long take goes last (none here); test: S3 688 frames -> 2 windows per camera at stride 243.
    assert train_data.shape == train_labels.shape == (7, 243, 17, 3)
    assert test_data.shape == test_labels.shape == (8, 243, 17, 3)
    assert result.clips == {"train": 7, "test": 8} and result.subjects == {"train": ["S1", "S2"], "test": ["S3"]}
    for a in (train_data, test_data, train_labels, test_labels):
        assert np.isfinite(a).all()
    assert np.abs(test_data[..., :2]).max() <= 1.0 and (test_data[..., 2] == 1).all()  # gt: confidence 1


@pytest.mark.parametrize("root", _reader_roots())
def test_denormalised_2d_is_our_gt_projection(exported, dataset, root):
    pkl, _ = exported
    reader = _reader(root, pkl)
    _, test_2d = reader.read_2d()
    _, test_ids = reader.get_split_id()
    clips = reader.denormalize(np.stack([test_2d[np.asarray(i)] for i in test_ids]).copy())
    gt = np.load(dataset / "data_2d_blender_gt.npz", allow_pickle=True)["positions_2d"].item()["S3"]["cmu_01_01"]
    worst = 0.0
    for k, ids in enumerate(test_ids):  # videos in camera order, 2 clips each, frames 0-242 and 243-485
        camera, first = divmod(k, 2)
        frames = np.arange(243) + first * 243
        worst = max(worst, float(np.abs(clips[k][..., :2] - gt[camera][frames]).max()))
    assert worst <= 0.01, worst


@pytest.mark.parametrize("root", _reader_roots())
def test_clip_folder_holds_the_readers_clips(exported, root):
    """--clips writes what tools/convert_h36m.py would: every window clip identical; a resampled one (random
    frame repeats in MotionBERT) made of frames of the same video."""
    pkl, _ = exported
    reader = _reader(root, pkl)
    train_data, test_data, train_labels, test_labels = reader.get_sliced_data()
    full_train, full_2d = reader.read_3d()[0], reader.read_2d()[0]
    sources = np.asarray(reader.dt_dataset["train"]["source"])
    train_ids, _ = reader.get_split_id()
    folder = pkl.parent.parent / "clips" / "BLENDER"
    for split, data, labels in (("train", train_data, train_labels), ("test", test_data, test_labels)):
        files = sorted((folder / split).iterdir())
        assert [f.name for f in files] == [f"{i:08d}.pkl" for i in range(len(data))]
        for k, (f, x, y) in enumerate(zip(files, data, labels)):
            with open(f, "rb") as fh:
                clip = pickle.load(fh)
            assert set(clip) == {"data_input", "data_label"} and clip["data_input"].shape == (243, 17, 3)
            if split == "test":
                np.testing.assert_allclose(clip["data_input"], x, atol=1e-6)
                np.testing.assert_allclose(clip["data_label"], y, atol=1e-6)
            else:  # all train videos here are short: compare with the frames of the clip's video
                rows = sources == sources[np.asarray(train_ids[k])[0]]
                for got, video in ((clip["data_label"], full_train[rows]), (clip["data_input"], full_2d[rows])):
                    nearest = np.abs(got.reshape(243, 1, -1) - video.reshape(1, len(video), -1)).max(axis=2).min(axis=1)
                    assert nearest.max() < 1e-6  # every frame of the clip is a frame of its video


def test_file_holds_plain_types_and_the_2_5d_convention(exported, dataset):
    pkl, _ = exported
    content = read(pkl)  # restricted unpickler
    test = content["test"]
    n = 4 * 688
    assert set(test) >= {"joint_2d", "confidence", "joint3d_image", "camera_name", "source", "action",
                         "2.5d_factor", "joints_2.5d_image"}
    assert test["joint_2d"].shape == (n, 17, 2) and test["confidence"].shape == (n, 17)
    assert test["joint3d_image"].dtype == np.float32 and test["2.5d_factor"].shape == (n,)
    assert list(dict.fromkeys(test["camera_name"])) == list(H36M_CAMERAS)
    assert list(dict.fromkeys(test["source"])) == [f"S3/cmu_01_01_ca_{k:02d}" for k in (1, 2, 3, 4)]
    assert set(test["action"]) == {"cmu_01_01"} and "2.5d_factor" not in content["train"]
    # 2.5D: root depth 0, z = (Z - Z_root) * f / Z_root; joints_2.5d = joint3d_image * factor (mm) has the
    # camera-frame depth offsets exactly and x, y close to the camera-frame offsets (the 2.5D approximation).
    data = get("videopose3d").read(dataset)
    cam = data.cameras["S3"][0]
    from hpd3d_addon.core.projection import world_to_camera
    world = data.positions_3d["S3"]["cmu_01_01"].astype(np.float64)
    cam_mm = world_to_camera(world, cam.rotation, cam.translation) * 1000
    rel = cam_mm - cam_mm[:, :1]
    j25 = test["joints_2.5d_image"][:688].astype(np.float64)
    j25 = j25 - j25[:, :1]
    assert np.abs(test["joint3d_image"][:688, 0, 2]).max() == 0
    np.testing.assert_allclose(j25[..., 2], rel[..., 2], atol=0.01)
    assert np.abs(j25[..., :2] - rel[..., :2]).mean() < 0.05 * np.abs(rel[..., :2]).max()
    np.testing.assert_allclose(test["2.5d_factor"][:688], cam_mm[:, 0, 2] / cam.focal[0], rtol=1e-6)


def test_check_passes_and_fails_on_a_moved_2d(exported, tmp_path):
    pkl, _ = exported
    report = check_file(pkl)
    assert report.passed, report.lines()
    assert report.reprojection["max_error_px"] <= 0.01
    content = read(pkl)
    content["test"]["joint_2d"][5, 3, 0] += 0.02
    bad = tmp_path / "moved.pkl"
    bad.write_bytes(pickle.dumps(content, protocol=4))
    report = check_file(bad)
    assert not report.passed and any("differs from the projection by up to 0.02" in p for p in report.problems)


@pytest.mark.parametrize("change, message", [
    (lambda c: c["train"]["camera_name"].__setitem__(0, "cam1"), "not Human3.6M's"),
    (lambda c: c["test"]["joint3d_image"].__setitem__((0, 0, 0), np.nan), "non-finite"),
    (lambda c: c["test"].pop("2.5d_factor"), "missing 2.5d_factor"),
    (lambda c: c["train"]["source"].__setitem__(0, c["train"]["source"][-1]), "not contiguous"),
    (lambda c: c["test"].__setitem__("joint_2d", c["test"]["joint_2d"][:, :16]), "joint_2d has shape"),
])
def test_check_names_what_the_reader_would_trip_on(exported, tmp_path, change, message):
    content = read(exported[0])
    change(content)
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps(content, protocol=4))
    report = check_file(bad)
    assert not report.passed and any(message in p for p in report.problems), report.problems


def test_read_refuses_code_in_the_pickle(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps({"train": {}, "test": {"x": Evil()}}))
    with pytest.raises(InputError, match="evil.pkl: .*system"):
        read(bad)
    assert not check_file(bad).passed


def test_split_options(dataset, tmp_path):
    r = export("motionbert", dataset, out=tmp_path / "a.pkl", train=["S1"], test=["S3"])
    assert r.subjects == {"train": ["S1"], "test": ["S3"]} and r.rows == {"train": 4 * 195, "test": 4 * 688}
    r = export("motionbert", dataset, out=tmp_path / "b.pkl", test=["S1"])
    assert r.subjects == {"train": ["S2", "S3"], "test": ["S1"]}
    with pytest.raises(HPD3DError, match="subject 'S9' is not in the dataset"):
        export("motionbert", dataset, out=tmp_path / "c.pkl", train=["S9"])
    with pytest.raises(HPD3DError, match=r"data_2d_blender_detector\.npz: no such file"):
        export("motionbert", dataset, out=tmp_path / "c.pkl", keypoints="detector")
    with pytest.raises(HPD3DError, match="already exists"):
        export("motionbert", dataset, out=tmp_path / "a.pkl")


def test_one_subject_needs_explicit_splits(sample_bvh, tmp_path):
    generate([sample_bvh], GenerateOptions(out=str(tmp_path / "d")))
    with pytest.raises(HPD3DError, match="one subject"):
        export("motionbert", tmp_path / "d", out=tmp_path / "x.pkl")
    r = export("motionbert", tmp_path / "d", out=tmp_path / "x.pkl", train=["samples"], test=["samples"])
    assert r.rows == {"train": 480, "test": 480}


def test_wide_images_six_cameras_and_distortion(sample_bvh, tmp_path):
    """1920x1080, 6 cameras, H36M distortion: pixels rescaled by 1000/1920 into the reader's 1000-px frame,
    names cycle over the four, and the 2D still comes back to our gt within 0.01 px."""
    for subject in ("A", "B"):
        (tmp_path / "in" / subject).mkdir(parents=True)
        (tmp_path / "in" / subject / "walk.bvh").symlink_to(sample_bvh)
    rig = parse_rig("ring:6", distance=5, height=1.6, focal=1145, res_w=1920, res_h=1080, fit=True, margin=20,
                    seed=0, distortion="h36m")
    generate([tmp_path / "in"], GenerateOptions(out=str(tmp_path / "d"), rig=rig))
    r = export("motionbert", tmp_path / "d", out=tmp_path / "m.pkl")
    assert any("6 cameras per subject" in n for n in r.notes)
    content = read(tmp_path / "m.pkl")
    names = list(dict.fromkeys(zip(content["test"]["source"], content["test"]["camera_name"])))
    assert [n for _, n in names] == list(H36M_CAMERAS) + list(H36M_CAMERAS[:2])
    reader = _reader(INTERFACE, tmp_path / "m.pkl")
    _, test_2d = reader.read_2d()
    assert np.abs(test_2d[..., 0]).max() <= 1.0
    two_d, _ = MB.pixels(content, "test")
    gt = np.load(tmp_path / "d" / "data_2d_blender_gt.npz", allow_pickle=True)["positions_2d"].item()["B"]["walk"]
    assert np.abs(two_d - np.concatenate(gt)).max() <= 0.01
    assert check_file(tmp_path / "m.pkl").passed


def test_source_layout_is_refused(sample_bvh, tmp_path):
    generate([sample_bvh], GenerateOptions(out=str(tmp_path / "d"), layout="source"))
    with pytest.raises(HPD3DError, match="Human3.6M's 17 joints only"):
        export("motionbert", tmp_path / "d", out=tmp_path / "x.pkl", train=["samples"], test=["samples"])


def test_cli_export_and_check(dataset, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "hpd3d_addon", *map(str, args)], capture_output=True,
                              text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    out = tmp_path / "blender.pkl"
    r = run("export", "motionbert", dataset, "--out", out, "--train", "S1,S2", "--test", "S3", "--keypoints", "gt")
    assert r.returncode == 0 and "test: subjects S3, 4 videos, 2752 frames" in r.stdout, r.stdout + r.stderr
    r = run("check", out)
    assert r.returncode == 0 and r.stdout.strip().endswith("PASS"), r.stdout
    r = run("export", "motionbert", tmp_path, "--out", tmp_path / "y.pkl")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "no data_3d_<name>.npz here" in r.stderr
    r = run("check", tmp_path / "missing.pkl")
    assert r.returncode == 1 and "missing.pkl: no such file" in r.stdout


def test_detector_keypoints_are_the_default_with_their_confidence(sample_bvh, tmp_path):
    generate([sample_bvh], GenerateOptions(out=str(tmp_path / "d"), keypoints=("gt", "detector")))
    r = export("motionbert", tmp_path / "d", out=tmp_path / "m.pkl", train=["samples"], test=["samples"])
    assert r.keypoints == "detector"
    content = read(tmp_path / "m.pkl")
    det = np.load(tmp_path / "d" / "data_2d_blender_detector.npz", allow_pickle=True)
    conf = det["confidence"].item()["samples"]["hpd3d_sample_walk"]
    pos = det["positions_2d"].item()["samples"]["hpd3d_sample_walk"]
    np.testing.assert_array_equal(content["test"]["confidence"], np.clip(np.concatenate(conf), 0, 1))
    finite = np.isfinite(np.concatenate(pos)).all(axis=-1)
    np.testing.assert_allclose(content["test"]["joint_2d"][finite], np.concatenate(pos)[finite], atol=1e-4)
    two_d, proj = MB.pixels(content, "test")
    assert np.abs(two_d - proj).max() > 0.5  # detector noise, not the projection
    report = check_file(tmp_path / "m.pkl")
    assert report.passed and report.facts["keypoints"] == "detector", report.lines()
