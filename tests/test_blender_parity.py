"""Parity with Blender itself (pip's bpy): the core's 3D joints equal Blender's own BVH import evaluated by
Blender, and the stored 2D keypoints equal bpy_extras.object_utils.world_to_camera_view for Blender cameras
built from the stored camera parameters.

3D: every frame and every joint of the embedded sample and of every file in ../shared/fixtures/bvh. The
world frame is Blender's importer with axis_forward='-Z', axis_up='Y' and global_scale = the scale the core
used; a joint is the pose bone's head (obj.matrix_world @ pb.head). An End Site with length is the bone's
tail (the importer makes the tail from the End Site exactly when that offset is longer than 0.001 BVH units
and 0.001 scaled units); a zero-length End Site has no counterpart in Blender and is not compared.

Blender runs in a subprocess (tests/bpy_reference.py) so its global state stays out of pytest.
"""
import ast
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_BVH, shared_bvh_files
from hpd3d_addon.cli import main as hpd3d
from hpd3d_addon.core.sequence import sequence_from_bvh

HELPER = Path(__file__).resolve().parent / "bpy_reference.py"
TOL_3D_M = 1e-4       # 0.1 mm
TOL_2D_PX = 0.01


@pytest.fixture(scope="session")
def blender():
    """A function running bpy_reference.py on a request dict; skips when bpy cannot be imported."""
    probe = subprocess.run([sys.executable, "-c", "import bpy; print(bpy.app.version_string)"],
                           capture_output=True, text=True, timeout=600)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"bpy is not importable by {sys.executable} ({last}); `make test` installs bpy==5.0.1")

    def run(request, workdir):
        workdir = Path(workdir)
        req, res = workdir / "bpy_request.pkl", workdir / "bpy_result.pkl"
        req.write_bytes(pickle.dumps(request))
        done = subprocess.run([sys.executable, str(HELPER), str(req), str(res)], capture_output=True, text=True,
                              timeout=1800)
        if done.returncode != 0:
            pytest.fail(f"Blender reference failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        return pickle.loads(res.read_bytes())
    run.version = probe.stdout.strip()
    return run


def blender_bone_name(name):
    """The importer joins a multi-word joint name with underscores."""
    return "_".join(name.split())


def compare_3d(seq, ref):
    """(max head difference, max End Site difference, End Sites compared, End Sites skipped), metres."""
    assert ref["frames"] == seq.frame_count, "Blender and the core disagree on the frame count"
    assert ref["first_frame"] == 1
    index = {n: i for i, n in enumerate(ref["names"])}
    joints = [j for j in range(len(seq.names)) if not seq.is_end_site[j]]
    assert sorted(blender_bone_name(seq.names[j]) for j in joints) == sorted(index), "joint sets differ"
    bones = [index[blender_bone_name(seq.names[j])] for j in joints]
    head_diff = np.abs(seq.positions[:, joints] - ref["heads"][:, bones])
    ends = [j for j in range(len(seq.names)) if seq.is_end_site[j]]
    compared = [j for j in ends
                if np.linalg.norm(seq.rest_offsets[j]) / seq.scale > 0.001 and np.linalg.norm(seq.rest_offsets[j]) >= 0.001]
    tail_bones = [index[blender_bone_name(seq.names[seq.parents[j]])] for j in compared]
    end_diff = np.abs(seq.positions[:, compared] - ref["tails"][:, tail_bones]) if compared else np.zeros(1)
    # Frames must really differ (the pose is evaluated per frame, not read once).
    motion = np.abs(np.diff(ref["heads"], axis=0)).max() if ref["frames"] > 1 else 1.0
    assert motion > 1e-3, "Blender's pose does not change between frames"
    return float(head_diff.max()), float(end_diff.max()), len(compared), len(ends) - len(compared)


def check_files_3d(blender, tmp_path, items):
    """items: [(path, scale spec)]; compares every frame and joint, prints the measured figures."""
    seqs = [sequence_from_bvh(path, "S", Path(path).stem, scale=scale) for path, scale in items]
    ref = blender({"bvh": [{"path": str(p), "scale": s.scale} for (p, _), s in zip(items, seqs)]}, tmp_path)
    failures = []
    for (path, _), seq, r in zip(items, seqs, ref["bvh"]):
        heads, ends, n_ends, skipped = compare_3d(seq, r)
        print(f"\n3D parity {Path(path).name} (scale {seq.scale:g}): {seq.frame_count} frames x "
              f"{len(seq.names) - int(seq.is_end_site.sum())} joints, max |core - Blender| {heads * 1000:.5f} mm; "
              f"{n_ends} End Sites {ends * 1000:.5f} mm ({skipped} zero-length not compared); "
              f"Blender import+evaluation {r['seconds']:.2f} s")
        if heads > TOL_3D_M or ends > TOL_3D_M:
            failures.append(f"{path}: joints {heads * 1000:.4f} mm, End Sites {ends * 1000:.4f} mm")
    assert not failures, "3D differs from Blender's evaluation by more than 0.1 mm: " + "; ".join(failures)
    return seqs


def test_sample_3d_equals_blender_import(blender, sample_bvh, tmp_path):
    # The automatic unit (cm) and a forced scale: global_scale is whatever the core used.
    seqs = check_files_3d(blender, tmp_path, [(sample_bvh, "auto"), (sample_bvh, 0.0254)])
    assert seqs[0].scale == 0.01
    assert int(seqs[0].is_end_site.sum()) == 5  # toes, hands and head: all End Sites with length compared


def test_shared_fixtures_3d_equal_blender_import(blender, shared_bvh_dir, tmp_path):
    files = shared_bvh_files()
    check_files_3d(blender, tmp_path, [(f, "auto") for f in files])


# ---------------------------------------------------------------------------------------------------------
# 2D: stored keypoints vs world_to_camera_view through Blender cameras built from the stored parameters.

def quaternion_from_matrix(m):
    """(w, x, y, z) of a rotation matrix (test's own helper; m is proper and not a half-turn)."""
    w = np.sqrt(max(0.0, 1 + m[0, 0] + m[1, 1] + m[2, 2])) / 2
    return [w, (m[2, 1] - m[1, 2]) / (4 * w), (m[0, 2] - m[2, 0]) / (4 * w), (m[1, 0] - m[0, 1]) / (4 * w)]


def rotation_from_quaternion(q):
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def stored_cameras(out):
    """{subject: [camera dict for bpy_reference]} from camera_intrinsics.txt / camera_extrinsics.txt."""
    intrinsics = ast.literal_eval((out / "camera_intrinsics.txt").read_text())
    extrinsics = ast.literal_eval((out / "camera_extrinsics.txt").read_text())
    cams = {}
    for subject, entries in extrinsics.items():
        cams[subject] = []
        for i, e in enumerate(entries):
            d = dict(intrinsics[i])
            d.update(e)
            cams[subject].append(dict(res_w=d["res_w"], res_h=d["res_h"], focal=d["focal_length"],
                                      center=d["center"], rotation=rotation_from_quaternion(d["orientation"]),
                                      translation=np.array(d["translation"]) / 1000.0,
                                      distorted=any(d["radial_distortion"]) or any(d["tangential_distortion"])))
    return cams


def check_2d_against_blender(blender, out, tmp_path):
    """Max |stored 2D - Blender's world_to_camera_view pixels| over every subject, action, camera, frame."""
    positions_3d = np.load(out / "data_3d_blender.npz", allow_pickle=True)["positions_3d"].item()
    positions_2d = np.load(out / "data_2d_blender_gt.npz", allow_pickle=True)["positions_2d"].item()
    cams = stored_cameras(out)
    worst, count, seconds = 0.0, 0, 0.0
    for subject, actions in positions_3d.items():
        assert not any(c["distorted"] for c in cams[subject]), "Blender cameras have no lens distortion"
        points = np.concatenate([a.reshape(-1, 3) for a in actions.values()]).astype(np.float64)
        ref = blender({"projection": {"cameras": cams[subject], "points": points}}, tmp_path)["projection"]
        seconds += ref["seconds"]
        assert (ref["depth"] > 0).all()
        for c in range(len(cams[subject])):
            ours = np.concatenate([positions_2d[subject][a][c].reshape(-1, 2) for a in actions]).astype(np.float64)
            worst = max(worst, float(np.abs(ours - ref["pixels"][c]).max()))
            count += ours.shape[0]
    return worst, count, seconds


def generate(tmp_path, inputs, *args):
    out = tmp_path / "out"
    code = hpd3d(["generate", *map(str, inputs), "--out", str(out), "--quiet", *args])
    assert code == 0
    return out


def write_json_rig(path):
    """Explicit cameras with fy > fx and an off-centre principal point on a 1280x720 sensor, plus a placed one."""
    ahead = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # at -Y looking +Y: x right = +X, y down = -Z
    side = np.array([[0, 0, -1.0], [1, 0, 0], [0, -1, 0]])  # at +X looking -X: x right = +Y, y down = -Z
    cams = [
        dict(id="ahead", orientation=quaternion_from_matrix(ahead), translation=[300.0, -7000.0, 1100.0],
             focal_length=[1000.0, 1100.0], center=[600.0, 400.0], res_w=1280, res_h=720),
        dict(id="side", orientation=quaternion_from_matrix(side), translation=[7000.0, 400.0, 1500.0],
             focal_length=[1210.0, 1190.0], center=[660.0, 350.0], res_w=1280, res_h=720),
        dict(id="placed", azimuth=35.0, elevation=15.0, distance=6.0, roll=4.0, focal_length=900.0,
             res_w=1280, res_h=720),
    ]
    for c, m in ((cams[0], ahead), (cams[1], side)):
        assert np.allclose(rotation_from_quaternion(c["orientation"]), m)
    path.write_text(json.dumps({"cameras": cams}))
    return path


@pytest.mark.parametrize("rig_args", [
    pytest.param(["--rig", "h36m"], id="h36m"),                       # fx != fy (fx > fy), off-centre centre
    pytest.param(["--rig", "random:4", "--seed", "3", "--resolution", "1920x1080"], id="random4-1920x1080"),
    pytest.param(["--rig", "JSON"], id="json-explicit-and-placed"),    # fy > fx, 1280x720
])
def test_sample_2d_equals_world_to_camera_view(blender, sample_bvh, tmp_path, rig_args):
    if "JSON" in rig_args:
        rig_args = ["--rig", str(write_json_rig(tmp_path / "rig.json"))]
    out = generate(tmp_path, [sample_bvh], "--subject", "S1", *rig_args)
    worst, count, seconds = check_2d_against_blender(blender, out, tmp_path)
    print(f"\n2D parity sample {' '.join(rig_args)}: {count} projected joints, max |stored - Blender| "
          f"{worst:.2e} px (world_to_camera_view {seconds:.2f} s)")
    assert worst <= TOL_2D_PX


def test_shared_fixtures_2d_equal_world_to_camera_view(blender, shared_bvh_dir, tmp_path):
    out = generate(tmp_path, shared_bvh_files(), "--subject", "S9", "--rig", "ring:5", "--resolution", "1280x960")
    worst, count, seconds = check_2d_against_blender(blender, out, tmp_path)
    print(f"\n2D parity {SHARED_BVH} ring:5: {count} projected joints, max |stored - Blender| {worst:.2e} px "
          f"(world_to_camera_view {seconds:.2f} s)")
    assert worst <= TOL_2D_PX
