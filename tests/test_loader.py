"""blender_dataset.py as VideoPose3D's run.py uses it: cameras normalised like Human36mDataset, the 9-float
intrinsic reproducing the stored 2D through project_to_2d, skeleton and fps from the metadata, and the
original script's layout (camera_*.txt only) still loading."""
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

INTERFACE = Path(__file__).resolve().parent / "vp3d_interface"


def _common_roots():
    roots = [pytest.param(INTERFACE, id="doc-interface")]
    real = os.environ.get("HPD3D_VIDEOPOSE3D")
    if real:  # the real common/camera.py imports torch
        roots.append(pytest.param(Path(real), id="videopose3d", marks=pytest.mark.skipif(
            importlib.util.find_spec("torch") is None, reason="VideoPose3D's common/ needs torch")))
    return roots


def _load_dataset(common_root, dataset_path, loader_dir):
    """Import BlenderDataset with `common` from common_root (fresh modules each time)."""
    for name in [m for m in sys.modules if m == "common" or m.startswith("common.") or m == "blender_dataset"]:
        del sys.modules[name]
    sys.path[:0] = [str(common_root), str(loader_dir)]
    try:
        module = importlib.import_module("blender_dataset")
        return module.BlenderDataset(str(dataset_path))
    finally:
        del sys.path[:2]


def project_to_2d_normalised(X, camera_params):
    """VideoPose3D's project_to_2d (numpy), in normalised screen coordinates."""
    f, c, k, p = camera_params[:2], camera_params[2:4], camera_params[4:7], camera_params[7:]
    XX = np.clip(X[..., :2] / X[..., 2:], -1, 1)
    r2 = np.sum(XX ** 2, axis=-1, keepdims=True)
    radial = 1 + np.sum(k * np.concatenate((r2, r2 ** 2, r2 ** 3), axis=-1), axis=-1, keepdims=True)
    tan = np.sum(p * XX, axis=-1, keepdims=True)
    XXX = XX * (radial + tan) + p * r2
    return f * XXX + c


def qrot_inverse(q, v):
    """Rotate v by the inverse of unit quaternion q (w, x, y, z)."""
    w, xyz = q[0], -q[1:]
    t = 2 * np.cross(xyz, v)
    return v + w * t + np.cross(xyz, t)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory, request):
    out = tmp_path_factory.mktemp("ds")
    subj = out / "in" / "S7"
    subj.mkdir(parents=True)
    sample = sorted((REPO / "hpd3d_addon" / "samples").glob("*.bvh"))
    if not sample:
        pytest.skip("sample BVH not yet in the package")
    shutil.copy(sample[0], subj / "walk.bvh")
    subprocess.run([sys.executable, "-m", "hpd3d_addon", "generate", str(out / "in"), "--out", str(out / "data"),
                    "--rig", "random:3", "--distortion", "h36m", "--resolution", "1280x720", "--quiet"],
                   check=True, cwd=REPO, capture_output=True)
    return out / "data"


@pytest.mark.parametrize("common_root", _common_roots())
def test_loader_normalises_cameras_and_reprojects(dataset_dir, common_root):
    ds = _load_dataset(common_root, dataset_dir / "data_3d_blender.npz", dataset_dir)
    assert list(ds.subjects()) == ["S7"]
    assert ds.supports_semi_supervised()
    meta = np.load(dataset_dir / "data_2d_blender_gt.npz", allow_pickle=True)["metadata"].item()
    assert ds.fps() == meta["fps"] == 30
    assert list(ds.skeleton().parents()) == meta["parents"]
    assert list(ds.skeleton().joints_left()) == [4, 5, 6, 11, 12, 13]
    pos2d = np.load(dataset_dir / "data_2d_blender_gt.npz", allow_pickle=True)["positions_2d"].item()
    anim = ds["S7"]["walk"]
    assert len(anim["cameras"]) == 3
    worst = 0.0
    for i, cam in enumerate(anim["cameras"]):
        assert cam["intrinsic"].shape == (9,)
        w, h = cam["res_w"], cam["res_h"]
        assert (w, h) == (1280, 720)
        # world_to_camera as run.py does it, then project_to_2d with the normalised intrinsic.
        X = anim["positions"].astype(np.float64)
        Xc = qrot_inverse(cam["orientation"].astype(np.float64), (X - cam["translation"]).reshape(-1, 3))
        uv = project_to_2d_normalised(Xc, cam["intrinsic"].astype(np.float64))
        pixels = (uv + np.array([1, h / w])) * w / 2  # inverse of normalize_screen_coordinates
        err = np.abs(pixels.reshape(X.shape[:2] + (2,)) - pos2d["S7"]["walk"][i]).max()
        worst = max(worst, err)
    # float32 camera parameters (as VideoPose3D stores them) bound the agreement: well under 0.05 px.
    assert worst < 0.05, worst


@pytest.mark.parametrize("common_root", _common_roots())
def test_loader_reads_original_script_layout(dataset_dir, tmp_path, common_root):
    """Original layout: npz without cameras/metadata, camera_*.txt in common/ next to the loader."""
    data = tmp_path / "data"
    common = tmp_path / "common"
    data.mkdir()
    common.mkdir()
    pos3d = np.load(dataset_dir / "data_3d_blender.npz", allow_pickle=True)["positions_3d"].item()
    np.savez_compressed(data / "data_3d_blender.npz", positions_3d=pos3d)
    for name in ("camera_intrinsics.txt", "camera_extrinsics.txt"):
        shutil.copy(dataset_dir / name, common / name)
    shutil.copy(REPO / "blender_dataset.py", common / "blender_dataset.py")
    ds = _load_dataset(common_root, data / "data_3d_blender.npz", common)
    assert ds.fps() == 30  # the original script's rate
    assert ds.skeleton().num_joints() == 17
    assert len(ds["S7"]["walk"]["cameras"]) == 3
    np.testing.assert_array_equal(ds["S7"]["walk"]["positions"], pos3d["S7"]["walk"])
