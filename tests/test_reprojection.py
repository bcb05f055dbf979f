"""Reprojection: the stored 3D joints through the stored cameras land on the stored 2D keypoints within
0.01 px, for every rig type with and without lens distortion; fitted rigs keep every joint inside every
image; the visibility mask has positions_2d's nesting and flags exactly the joints outside an image or
behind a camera; --fps resamples rotations so bone lengths stay constant, and the rate is in the metadata.

The projection here is this test's own implementation of ../shared/docs/videopose3d-format.md (it does not
use hpd3d_addon.core.projection): cameras are read back from camera_intrinsics.txt / camera_extrinsics.txt
with ast.literal_eval (orientation w, x, y, z camera->world; translation mm; camera x right, y down,
z forward; Human3.6M's distortion model with its clamp).
"""
import ast
import json
import shutil

import numpy as np
import pytest

from conftest import shared_bvh_files
from hpd3d_addon.cli import main as hpd3d

TOL_PX = 0.01
DEFAULT_MARGIN_PX = 20.0
EXPLICIT_DISTORTION = (-0.21, 0.17, -0.012, 0.0013, -0.0021)  # k1, k2, k3, p1, p2


# --- the shared doc's model, written out here --------------------------------------------------------------

def rotate_inverse(q, v):
    """Rotate vectors v (..., 3) by the inverse of unit quaternion q = (w, x, y, z)."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    # Rotation matrix of q; its transpose is the inverse rotation.
    m = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])
    return v @ m  # (m.T @ v.T).T


def doc_project(points_world, cam):
    """Pixels (..., 2) and camera-frame depth (...) of world points (metres) through one camera dict."""
    X = rotate_inverse(cam["orientation"], points_world - np.asarray(cam["translation"]) / 1000.0)
    u = np.clip(X[..., 0] / X[..., 2], -1, 1)
    v = np.clip(X[..., 1] / X[..., 2], -1, 1)
    r2 = u * u + v * v
    k1, k2, k3 = cam["radial_distortion"]
    p1, p2 = cam["tangential_distortion"]
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    tan = p1 * u + p2 * v
    ud = u * (radial + tan) + p1 * r2
    vd = v * (radial + tan) + p2 * r2
    fx, fy = cam["focal_length"]
    cx, cy = cam["center"]
    return np.stack([fx * ud + cx, fy * vd + cy], axis=-1), X[..., 2]


# --- reading a dataset folder ------------------------------------------------------------------------------

def load_dataset(out, name="blender"):
    d3 = np.load(out / f"data_3d_{name}.npz", allow_pickle=True)
    d2 = np.load(out / f"data_2d_{name}_gt.npz", allow_pickle=True)
    intrinsics = ast.literal_eval((out / "camera_intrinsics.txt").read_text())
    extrinsics = ast.literal_eval((out / "camera_extrinsics.txt").read_text())
    cameras = {}
    for subject, entries in extrinsics.items():
        cameras[subject] = []
        for i, e in enumerate(entries):
            cam = dict(intrinsics[i])
            cam.update(e)  # a subject with its own intrinsics (random rigs) carries them here
            cameras[subject].append(cam)
    return dict(
        positions_3d=d3["positions_3d"].item(), metadata_3d=d3["metadata"].item(), cameras_npz=d3["cameras"].item(),
        positions_2d=d2["positions_2d"].item(), metadata=d2["metadata"].item(),
        visibility=d2["visibility"].item() if "visibility" in d2.files else None,
        intrinsics=intrinsics, extrinsics=extrinsics, cameras=cameras,
        manifest=json.loads((out / "manifest.json").read_text()),
    )


def generate(out, inputs, *args):
    code = hpd3d(["generate", *map(str, inputs), "--out", str(out), "--quiet", *args])
    assert code == 0, f"hpd3d generate exited {code}"
    return out


@pytest.fixture(scope="module")
def two_subjects(tmp_path_factory, request):
    """Input folder of subject folders: S1 and S2, each with the embedded sample under its own action name."""
    from conftest import SAMPLES
    sample = sorted(SAMPLES.glob("*.bvh"))[0]
    root = tmp_path_factory.mktemp("subjects")
    for subject, action in (("S1", "walk"), ("S2", "walk_again")):
        (root / subject).mkdir()
        shutil.copy(sample, root / subject / f"{action}.bvh")
    return root


# --- rigs ---------------------------------------------------------------------------------------------------

def look_at_quaternion(position, target):
    """(w, x, y, z) camera->world for a camera at `position` looking at `target`, image up = world +Z."""
    f = np.asarray(target, float) - np.asarray(position, float)
    f /= np.linalg.norm(f)
    r = np.cross(f, [0.0, 0.0, 1.0])
    r /= np.linalg.norm(r)
    d = np.cross(f, r)
    m = np.stack([r, d, f], axis=1)
    w = np.sqrt(max(0.0, 1 + np.trace(m))) / 2
    return [w, (m[2, 1] - m[1, 2]) / (4 * w), (m[0, 2] - m[2, 0]) / (4 * w), (m[1, 0] - m[0, 1]) / (4 * w)]


def json_rig(path, explicit):
    if explicit:
        # Kept where placed (never fitted): one sees the whole walk, one is so narrow that most joints fall
        # outside it, one stands in the walking path so the subject passes it and ends up behind it.
        cams = [
            dict(id="far", orientation=look_at_quaternion([0.4, -9.0, 1.2], [0, 0, 0.9]),
                 translation=[400.0, -9000.0, 1200.0], focal_length=[1000.0, 1060.0], center=[630.0, 350.0],
                 res_w=1280, res_h=720),
            dict(id="narrow", orientation=look_at_quaternion([3.0, 0.5, 1.0], [0, 0, 1.0]),
                 translation=[3000.0, 500.0, 1000.0], focal_length=3000.0, res_w=800, res_h=600,
                 radial_distortion=[-0.05, 0.01, 0.0], tangential_distortion=[0.0004, 0.0002]),
            dict(id="in_path", orientation=look_at_quaternion([0.2, -0.8, 1.0], [0.2, 3.0, 1.0]),
                 translation=[200.0, -800.0, 1000.0], focal_length=[800.0, 800.0], res_w=1000, res_h=1000),
        ]
    else:
        cams = [dict(azimuth=20.0, elevation=5.0, distance=4.0), dict(azimuth=140.0, elevation=40.0, roll=6.0),
                dict(azimuth=-100.0, distance=7.0, focal_length=[1500.0, 1480.0], center=[700.0, 380.0],
                     res_w=1280, res_h=800)]
    path.write_text(json.dumps({"cameras": cams}))
    return path


RIGS = {
    "h36m": (["--rig", "h36m"], 4),
    "ring:6": (["--rig", "ring:6", "--resolution", "1280x720"], 6),
    "dome": (["--rig", "dome:4@0,3@35,2@70"], 9),
    "random:5": (["--rig", "random:5", "--seed", "11", "--resolution", "640x480"], 5),
    "json-placed": ("placed", 3),
    "json-explicit": ("explicit", 3),
}
DISTORTIONS = {
    "none": [],
    "h36m": ["--distortion", "h36m"],
    # As the README writes it: a separate value, here starting with "-" (k1 < 0, barrel distortion).
    "explicit": ["--distortion", ",".join(map(str, EXPLICIT_DISTORTION))],
}


@pytest.mark.parametrize("distortion", list(DISTORTIONS))
@pytest.mark.parametrize("rig", list(RIGS))
def test_reprojection_every_rig(two_subjects, tmp_path, rig, distortion):
    rig_args, n_cams = RIGS[rig]
    if isinstance(rig_args, str):
        rig_args = ["--rig", str(json_rig(tmp_path / "rig.json", explicit=rig_args == "explicit"))]
    out = generate(tmp_path / "out", [two_subjects], *rig_args, *DISTORTIONS[distortion])
    ds = load_dataset(out)
    fitted = rig != "json-explicit"

    # The cameras inside the npz are the ones in the text files.
    assert ds["cameras_npz"] == {"intrinsics": ds["intrinsics"], "extrinsics": ds["extrinsics"]}
    assert set(ds["cameras"]) == {"S1", "S2"}

    worst = 0.0
    visible_total = hidden_total = 0
    vis = ds["visibility"]
    assert vis is not None, "no visibility mask in the 2D file"
    assert _nested_equal(vis, ds["metadata"]["visibility"])
    assert set(vis) == set(ds["positions_2d"]) == set(ds["positions_3d"])
    for subject, actions in ds["positions_3d"].items():
        cams = ds["cameras"][subject]
        assert len(cams) == n_cams
        assert set(vis[subject]) == set(ds["positions_2d"][subject]) == set(actions)
        for cam in cams:
            k, p = np.array(cam["radial_distortion"]), np.array(cam["tangential_distortion"])
            if rig == "json-explicit" and cam["id"] == "narrow":
                assert np.allclose(k, [-0.05, 0.01, 0.0]) and np.allclose(p, [0.0004, 0.0002])  # the file's own
            elif distortion == "none":
                assert not k.any() and not p.any()
            elif distortion == "h36m":
                assert np.abs(k).max() > 0.1 and np.abs(p).max() > 1e-4, f"camera {cam['id']}: no distortion"
            else:
                assert np.allclose(np.concatenate([k, p]), EXPLICIT_DISTORTION), f"camera {cam['id']}"
        for action, pos3d in actions.items():
            per_cam_2d, per_cam_vis = ds["positions_2d"][subject][action], vis[subject][action]
            assert isinstance(per_cam_2d, list) and isinstance(per_cam_vis, list)
            assert len(per_cam_2d) == len(per_cam_vis) == len(cams)
            for cam, p2d, v in zip(cams, per_cam_2d, per_cam_vis):
                assert p2d.shape == pos3d.shape[:-1] + (2,) and p2d.dtype == np.float32
                assert v.shape == p2d.shape[:-1] and v.dtype == np.bool_
                assert np.isfinite(p2d).all()
                px, depth = doc_project(pos3d.astype(np.float64), cam)
                worst = max(worst, float(np.abs(px - p2d).max()))
                inside = ((depth > 0) & (px[..., 0] >= 0) & (px[..., 0] < cam["res_w"])
                          & (px[..., 1] >= 0) & (px[..., 1] < cam["res_h"]))
                assert np.array_equal(v, inside), f"{subject}/{action} camera {cam['id']}: visibility mask is wrong"
                visible_total += int(v.sum())
                hidden_total += int((~v).sum())
                if fitted:
                    m = DEFAULT_MARGIN_PX - 1e-3
                    assert (depth > 0).all()
                    assert ((px[..., 0] >= m) & (px[..., 0] <= cam["res_w"] - m)
                            & (px[..., 1] >= m) & (px[..., 1] <= cam["res_h"] - m)).all(), \
                        f"{subject}/{action} camera {cam['id']}: a joint leaves the image"
    print(f"\nreprojection {rig} distortion={distortion}: max {worst:.2e} px; "
          f"{visible_total} visible, {hidden_total} flagged outside/behind")
    assert worst <= TOL_PX
    if fitted:
        assert hidden_total == 0
    else:
        assert visible_total > 0 and hidden_total > 0  # the explicit rig really has joints out of view
    # The generator's own check agrees.
    assert ds["manifest"]["reprojection_check"]["passed"] is True


def _nested_equal(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_nested_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_nested_equal(x, y) for x, y in zip(a, b))
    return np.array_equal(a, b)


def test_reprojection_real_fixtures_with_distortion(shared_bvh_dir, tmp_path):
    """The real files (Bandai with position channels on every joint, CMU's 2752-frame walk) in one subject."""
    out = generate(tmp_path / "out", shared_bvh_files(), "--subject", "S1", "--rig", "random:6", "--distortion", "h36m")
    ds = load_dataset(out)
    worst = 0.0
    for action, pos3d in ds["positions_3d"]["S1"].items():
        for cam, p2d, v in zip(ds["cameras"]["S1"], ds["positions_2d"]["S1"][action], ds["visibility"]["S1"][action]):
            px, depth = doc_project(pos3d.astype(np.float64), cam)
            worst = max(worst, float(np.abs(px - p2d).max()))
            assert v.all() and (depth > 0).all()
    print(f"\nreprojection real fixtures random:6 h36m distortion: max {worst:.2e} px")
    assert worst <= TOL_PX


# --- --fps ----------------------------------------------------------------------------------------------------

def bone_lengths(pos, parents):
    """(F, bones) distances joint-parent, and the (child, parent) pairs."""
    pairs = [(j, p) for j, p in enumerate(parents) if p >= 0]
    return np.stack([np.linalg.norm(pos[:, j] - pos[:, p], axis=-1) for j, p in pairs], axis=1), pairs


def _only(d):
    (subject, actions), = d.items()
    (action, value), = actions.items()
    return value


@pytest.mark.parametrize("fps", [60.0, 15.0, 24.0, 50.0])
def test_fps_resampling_keeps_bone_lengths(sample_bvh, tmp_path, fps):
    base = load_dataset(generate(tmp_path / "src", [sample_bvh], "--layout", "source", "--end-sites"))
    res = load_dataset(generate(tmp_path / "res", [sample_bvh], "--layout", "source", "--end-sites",
                                "--fps", str(fps)))
    src_fps = base["metadata"]["fps"]
    assert src_fps == 30.0
    src, out = _only(base["positions_3d"]), _only(res["positions_3d"])
    parents = res["metadata"]["parents"]
    assert parents == base["metadata"]["parents"] and res["metadata"]["joint_names"] == base["metadata"]["joint_names"]

    # The rate is in the metadata (2D and 3D files) and the manifest.
    assert res["metadata"]["fps"] == fps and res["metadata_3d"]["fps"] == fps
    assert [f["fps"] for f in res["manifest"]["files"]] == [fps]
    # Frames at t = k / fps from the first source frame up to the last one.
    duration = (src.shape[0] - 1) / src_fps
    assert out.shape[0] == int(np.floor(duration * fps + 1e-9)) + 1
    # Every 2D array has the new frame count.
    assert all(a.shape[0] == out.shape[0] for a in _only(res["positions_2d"]))

    # Bone lengths: constant over the resampled frames, equal to the source's.
    src_len, pairs = bone_lengths(src.astype(np.float64), parents)
    out_len, _ = bone_lengths(out.astype(np.float64), parents)
    assert (np.ptp(src_len, axis=0) < 1e-5).all()   # only the root has position channels: all bones rigid
    spread = float(np.abs(out_len - src_len[0]).max())
    print(f"\n--fps {fps:g}: {out.shape[0]} frames, bone lengths within {spread * 1000:.5f} mm of the source's")
    assert spread < 1e-5
    # The test has teeth: interpolating positions instead would shorten bones by far more than that.
    lerp = (src[:-1].astype(np.float64) + src[1:]) / 2
    lerp_len, _ = bone_lengths(lerp, parents)
    assert np.abs(lerp_len - src_len[0]).max() > 100 * 1e-5

    # Resampled frames that fall on source frames are those frames.
    times = np.arange(out.shape[0]) / fps
    on_source = np.isclose(times * src_fps, np.round(times * src_fps), atol=1e-9)
    assert on_source.sum() >= 2
    idx = np.round(times[on_source] * src_fps).astype(int)
    assert np.abs(out[on_source] - src[idx]).max() < 1e-5


def test_fps_resampling_real_fixtures(shared_bvh_dir, tmp_path):
    """CMU's 120 fps and Bandai's 30 fps (position channels on every joint) to 50 fps: rigid bones stay rigid."""
    for f in shared_bvh_files():      # one dataset each: the source layouts differ
        base = load_dataset(generate(tmp_path / f.stem / "src", [f], "--layout", "source"))
        res = load_dataset(generate(tmp_path / f.stem / "res", [f], "--layout", "source", "--fps", "50"))
        assert res["metadata"]["fps"] == 50.0
        src, out = _only(base["positions_3d"]), _only(res["positions_3d"])
        duration = (src.shape[0] - 1) / base["metadata"]["fps"]
        assert out.shape[0] == int(np.floor(duration * 50 + 1e-6)) + 1
        parents = res["metadata"]["parents"]
        src_len, _ = bone_lengths(src.astype(np.float64), parents)
        out_len, _ = bone_lengths(out.astype(np.float64), parents)
        rigid = np.ptp(src_len, axis=0) < 1e-5       # Bandai's Hips translation channel is no bone
        assert rigid.sum() >= len(rigid) - 1
        spread = float(np.abs(out_len[:, rigid] - src_len[0, rigid]).max())
        print(f"\n{f.name}: {src.shape[0]} -> {out.shape[0]} frames at 50 fps, rigid bones within {spread * 1000:.5f} mm")
        assert spread < 1e-5


def test_fps_resampling_reaches_the_last_frame(sample_bvh, tmp_path):
    """'Frame Time: 0.0333333' is 30 fps: 91 frames (3 s) at --fps 15 are 46 frames, the last one the take's
    last frame (a raw 0.0333333 s frame time would make the take 2.99999 s long and drop it)."""
    lines = sample_bvh.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Frames:"))
    assert lines[start + 1].startswith("Frame Time: 0.0333333")
    short = tmp_path / "walk91.bvh"
    short.write_text("\n".join(lines[:start] + ["Frames: 91"] + lines[start + 1:start + 2 + 91]) + "\n")
    src = _only(load_dataset(generate(tmp_path / "src", [short], "--layout", "source"))["positions_3d"])
    out = _only(load_dataset(generate(tmp_path / "res", [short], "--layout", "source", "--fps", "15"))["positions_3d"])
    assert src.shape[0] == 91
    assert out.shape[0] == 46
    assert np.abs(out - src[::2]).max() < 1e-6
