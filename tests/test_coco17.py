"""COCO-17 2D layout (--layout-2d coco17): on the skeleton-family files the synthesised nose, eyes and ears lie
within 0.25 head heights of the test adult's face landmarks on every frame (the landmarks ride on the head
joint: the files' later frames turn the head); the 12 body keypoints equal the projection of the matching 3D
joints within 0.01 px, `check` passes, and MotionBERT's coco2h36m gives back the body joints.

The face landmarks of the families' made-up adult (tests/data/make_families.py: skull base at 1.58 m, vertex
1.76 m, facing +Z in BVH axes) are placed here from vertex-relative adult figures, independent of the
head-joint-relative offsets the code uses (core/layouts.py FACE_OFFSETS): eyes 11.5 cm below the vertex
(stature minus standing eye height, ANSUR II means), 3.15 cm to each side (interpupillary distance 6.3 cm);
tragion 13 cm below the vertex, 7.25 cm to each side (bitragion breadth 14.5 cm), 1 cm in front of the
skull base; eyes 7.5 cm in front of the tragion, nose tip 16.3 cm below the vertex and 3 cm in front of the
eyes.
"""
import numpy as np
import pytest

from conftest import FAMILIES
from hpd3d_addon.core.check import check_folder, load_cameras
from hpd3d_addon.core.dataset import GenerateOptions, generate, map_sequence
from hpd3d_addon.core.kinematics import BVH_TO_WORLD
from hpd3d_addon.core.layouts import COCO17, COCO_BODY_FROM_H36M, H36M17, coco_to_h36m, h36m_to_coco
from hpd3d_addon.core.projection import project
from hpd3d_addon.core.rigs import parse_rig
from hpd3d_addon.core.sequence import sequence_from_bvh
from hpd3d_addon.core.skeleton_presets import resolve

VERTEX_Y, SKULL_BASE_Y = 1.76, 1.58
HEAD_HEIGHT = VERTEX_Y - SKULL_BASE_Y
FACE_BVH = np.array([  # COCO order, metres, BVH axes (x = subject's left, y up, z forward)
    (0.0, VERTEX_Y - 0.163, 0.115),                                           # nose tip
    (0.0315, VERTEX_Y - 0.115, 0.085), (-0.0315, VERTEX_Y - 0.115, 0.085),    # eyes
    (0.0725, VERTEX_Y - 0.13, 0.01), (-0.0725, VERTEX_Y - 0.13, 0.01),        # ears (tragion)
])
FAMILY_STEMS = ["lafan1_walk1", "mixamo_idle", "cmu_index_86_02", "cmu_lfingers_02_01", "bandai_like_dance",
                "motionbuilder_walk", "h36m_converter_s1", "crlf_namespaced_metres"]


def true_face(seq):
    """(F, 5, 3) world landmarks: fixed to the head joint (the source point of Neck/Nose), frame 0 = rest."""
    head = int(np.argmax(resolve(seq).weights[H36M17.joint_names.index("Neck/Nose")]))
    rest = FACE_BVH @ BVH_TO_WORLD.T - seq.positions[0, head]          # offsets from the head joint at rest
    return seq.positions[:, head, None] + np.einsum("fij,pj->fpi", seq.rotations[:, head], rest)


@pytest.mark.parametrize("stem", FAMILY_STEMS)
def test_face_points_near_the_true_landmarks(stem):
    seq = sequence_from_bvh(FAMILIES / f"{stem}.bvh", "S1", "a")
    take = map_sequence(seq, GenerateOptions(layout_2d="coco17"))
    truth = true_face(seq)
    assert seq.frame_count > 1 and np.abs(truth[-1] - truth[0]).max() > 0.005  # the head does move
    err = np.linalg.norm(take.face - truth, axis=-1)
    # 0.25 of the head's height (the skeleton's head joint -> top, which the offsets are scaled by); where
    # the head joint is the anatomical skull base (all but the Bandai-like file, whose head joint sits in
    # the neck and whose head top is estimated 25 cm above it) the points are within 0.1 of the adult's.
    head_line = np.median(np.linalg.norm(take.joints[:, 10] - take.joints[:, 9], axis=-1))
    assert err.max() < 0.25 * head_line, (stem, err.max(axis=0), head_line)
    if stem != "bandai_like_dance":
        assert err.max() < 0.1 * HEAD_HEIGHT, (stem, err.max(axis=0))
    # left is left: the left eye and ear are on the subject's left (+X in the world at rest)
    assert take.face[0, 1, 0] > take.face[0, 2, 0] and take.face[0, 3, 0] > take.face[0, 4, 0]


def test_coco_body_keypoints_are_the_projected_joints(tmp_path):
    files = [FAMILIES / f"{s}.bvh" for s in ("lafan1_walk1", "bandai_like_dance")]
    opts = GenerateOptions(out=str(tmp_path), subject="S1", rig=parse_rig("random:5"), layout_2d="coco17",
                           keypoints=("gt", "detector"))
    generate(files, opts)
    cams = load_cameras(tmp_path, tmp_path / "data_3d_blender.npz")
    with np.load(tmp_path / "data_3d_blender.npz", allow_pickle=True) as d:
        pos3 = d["positions_3d"].item()
    coco, h36m = zip(*COCO_BODY_FROM_H36M.items())
    for kind in ("gt", "detector"):
        with np.load(tmp_path / f"data_2d_blender_{kind}.npz", allow_pickle=True) as d:
            pos2, meta = d["positions_2d"].item(), d["metadata"].item()
        assert meta["layout_2d"] == "coco17" and meta["num_joints"] == 17
        assert meta["keypoints_symmetry"] == [list(COCO17.joints_left), list(COCO17.joints_right)]
        assert meta["joint_names"] == list(COCO17.joint_names)
        if kind == "gt":
            worst = 0.0
            for action, p in pos3["S1"].items():
                for i, cam in enumerate(cams["S1"]):
                    px, _ = project(p[:, list(h36m)].astype(np.float64), cam)
                    worst = max(worst, np.abs(px - pos2["S1"][action][i][:, list(coco)]).max())
            assert worst < 0.01, worst
    report = check_folder(tmp_path)
    assert report.passed, report.lines()
    assert report.reprojection["max_error_px"] < 0.01
    with np.load(tmp_path / "data_3d_blender.npz", allow_pickle=True) as d:  # the 3D stays Human3.6M-17
        assert d["metadata"].item()["joint_names"] == list(H36M17.joint_names)


def test_coco2h36m_round_trip():
    rng = np.random.default_rng(0)
    joints, face = rng.normal(size=(4, 17, 3)), rng.normal(size=(4, 5, 3))
    back = coco_to_h36m(h36m_to_coco(joints, face))
    limbs = list(COCO_BODY_FROM_H36M.values())
    assert np.array_equal(back[:, limbs], joints[:, limbs])
    assert np.allclose(back[:, 0], (joints[:, 1] + joints[:, 4]) / 2)       # root = mid-hips
    assert np.allclose(back[:, 8], (joints[:, 11] + joints[:, 14]) / 2)     # thorax = mid-shoulders
    assert np.array_equal(back[:, 9], face[:, 0])                           # nose = COCO nose
    assert np.allclose(back[:, 10], (face[:, 1] + face[:, 2]) / 2)          # head = mid-eyes
