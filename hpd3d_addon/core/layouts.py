"""Output joint layouts: Human3.6M's 17 joints, and 'source' (every joint of the input skeleton); the COCO-17
2D keypoint layout, its conversion to and from Human3.6M-17, and the face points COCO needs."""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layout:
    """Joint names, parents and left/right symmetry of an output layout."""
    name: str
    joint_names: tuple
    parents: tuple
    joints_left: tuple
    joints_right: tuple

    @property
    def num_joints(self):
        return len(self.joint_names)

    @property
    def keypoints_symmetry(self):
        return [list(self.joints_left), list(self.joints_right)]


H36M17 = Layout(
    name="h36m",
    joint_names=("Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax", "Neck/Nose",
                 "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist"),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    joints_left=(4, 5, 6, 11, 12, 13),
    joints_right=(1, 2, 3, 14, 15, 16),
)

LAYOUT_CHOICES = ("h36m17", "source")

# COCO-17 keypoints (COCO keypoint annotations; the docstring of MotionBERT's coco2h36m,
# Walter0807/MotionBERT:lib/data/dataset_action.py; training-realism.md section 2). COCO's own links are not
# a tree (faces link to shoulders): `parents` here is a drawing tree (face from the nose, shoulders from the
# nose, hips from the shoulders), for previews only.
COCO17 = Layout(
    name="coco17",
    joint_names=("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                 "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
                 "left_knee", "right_knee", "left_ankle", "right_ankle"),
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    joints_left=(1, 3, 5, 7, 9, 11, 13, 15),
    joints_right=(2, 4, 6, 8, 10, 12, 14, 16),
)
LAYOUT_2D_CHOICES = ("h36m17", "coco17")

# COCO index -> H36M-17 index of the same joint, for the 12 body keypoints (training-realism.md section 2)
COCO_BODY_FROM_H36M = {5: 11, 6: 14, 7: 12, 8: 15, 9: 13, 10: 16, 11: 4, 12: 1, 13: 5, 14: 2, 15: 6, 16: 3}
COCO_FACE = (0, 1, 2, 3, 4)

# Face points from the head: offsets (forward, up, left) as fractions of the head height (head joint ->
# top of the head, `Neck/Nose` -> `Head`), from the adult means collected in training-realism.md section 2
# (ANSUR II 2012; Dodgson 2004, interpupillary distance ~6.3 cm) over a 20 cm head height (the middle of its
# 18-22 cm): eyes 8.5 cm forward, 8 cm up, 3.15 cm sideways; nose tip 11.5 cm forward, 4.5 cm up; ears
# (tragion) 1.5 cm forward, 6.5 cm up, 7.25 cm sideways.
FACE_OFFSETS = {
    "nose": (0.575, 0.225, 0.0),
    "left_eye": (0.425, 0.40, 0.1575), "right_eye": (0.425, 0.40, -0.1575),
    "left_ear": (0.075, 0.325, 0.3625), "right_ear": (0.075, 0.325, -0.3625),
}


def coco_to_h36m(kp):
    """COCO-17 keypoints (..., 17, C) -> Human3.6M-17 (..., 17, C), as MotionBERT's coco2h36m
    (Walter0807/MotionBERT:lib/data/dataset_action.py): root = mid-hips, thorax = mid-shoulders,
    belly = mid(root, thorax), nose = COCO nose, head = mid-eyes, limbs 1:1."""
    kp = np.asarray(kp)
    out = np.zeros(kp.shape, dtype=np.result_type(kp.dtype, np.float32))
    out[..., 0, :] = (kp[..., 11, :] + kp[..., 12, :]) * 0.5
    out[..., 8, :] = (kp[..., 5, :] + kp[..., 6, :]) * 0.5
    out[..., 7, :] = (out[..., 0, :] + out[..., 8, :]) * 0.5
    out[..., 9, :] = kp[..., 0, :]
    out[..., 10, :] = (kp[..., 1, :] + kp[..., 2, :]) * 0.5
    for coco, h36m in COCO_BODY_FROM_H36M.items():
        out[..., h36m, :] = kp[..., coco, :]
    return out


def h36m_to_coco(joints, face):
    """COCO-17 points (..., 17, C) from Human3.6M-17 joints (..., 17, C) and face points (..., 5, C) in
    COCO order (nose, left eye, right eye, left ear, right ear): the body points are the joints exactly."""
    joints = np.asarray(joints)
    out = np.empty(joints.shape[:-2] + (17, joints.shape[-1]), dtype=np.result_type(joints.dtype, face.dtype))
    out[..., COCO_FACE, :] = face
    for coco, h36m in COCO_BODY_FROM_H36M.items():
        out[..., coco, :] = joints[..., h36m, :]
    return out


def face_points(joints, head_rotation, rest_forward):
    """(F, 5, 3) nose, eyes, ears in COCO order, from H36M-17 joints (F, 17, 3) in world metres.

    Head frame: up = Head - Neck/Nose (the head joint to the top of the head), forward = the skeleton's rest
    forward carried by the head joint's rotation (F, 3, 3) and made perpendicular to up, left = up x forward.
    Offsets: FACE_OFFSETS x the sequence's median head height."""
    return face_points_from_forward(joints, head_rotation @ np.asarray(rest_forward, dtype=np.float64))


def face_points_from_forward(joints, fwd):
    """face_points, given the rest forward already carried by the head rotation (F, 3)."""
    base, top = joints[:, 9], joints[:, 10]
    up_vec = top - base
    height = float(np.median(np.linalg.norm(up_vec, axis=-1)))
    up = up_vec / np.maximum(np.linalg.norm(up_vec, axis=-1, keepdims=True), 1e-12)
    fwd = fwd - np.sum(fwd * up, axis=-1, keepdims=True) * up
    fwd /= np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-12)
    left = np.cross(up, fwd)
    offsets = np.array([FACE_OFFSETS[n] for n in COCO17.joint_names[:5]]) * height  # (5, 3)
    return (base[:, None] + offsets[None, :, 0:1] * fwd[:, None] + offsets[None, :, 1:2] * up[:, None]
            + offsets[None, :, 2:3] * left[:, None])


def face_normals(joints, face):
    """Outward normals (F, 5, 3) of the face points: from the middle of the head line (Neck/Nose-Head)."""
    centre = (joints[:, 9] + joints[:, 10]) * 0.5
    n = face - centre[:, None]
    return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)


def rest_forward(rest_offsets, parents, weights):
    """The direction a skeleton faces at rest (world axes, horizontal): left x up, with left from the rest
    positions of its mapped shoulders and hips (`weights`: the joint map's (17, N) weights)."""
    rest = np.zeros((len(parents), 3))
    for i, p in enumerate(parents):  # parents precede their children in BVH order
        rest[i] = rest_offsets[i] + (rest[p] if p >= 0 else 0.0)
    j = weights @ rest
    left = (j[11] - j[14]) + (j[4] - j[1])
    left[2] = 0.0
    n = np.linalg.norm(left)
    if n < 1e-9:
        return np.array([0.0, -1.0, 0.0])  # BVH convention: a subject faces +Z in BVH, -Y in our world
    forward = np.cross(left / n, [0.0, 0.0, 1.0])
    return forward / np.linalg.norm(forward)


def layout_2d(name):
    """The 2D keypoint layout for --layout-2d, given the 3D layout is H36M-17."""
    return {"h36m17": H36M17, "coco17": COCO17}[name]


_SIDE_SWAPS = (("Left", "Right"), ("left", "right"), ("LEFT", "RIGHT"))
_SUFFIX_SWAPS = (("_L", "_R"), ("_l", "_r"), (".L", ".R"), (".l", ".r"))
_PREFIX_SWAPS = (("L_", "R_"), ("l_", "r_"))


def _mirror(name):
    """(side, mirrored name) for a left/right name such as LeftArm, Hand_L, l_hip or LHipJoint, else ('', '')."""
    if name.endswith("_End") and len(name) > 4:  # an End Site mirrors with its joint
        side, other = _mirror(name[:-4])
        return (side, other + "_End") if side else ("", "")
    prefix, _, base = name.rpartition(":")
    prefix = prefix + ":" if prefix else ""
    for left, right in _SIDE_SWAPS:
        if left in base:
            return "L", prefix + base.replace(left, right, 1)
        if right in base:
            return "R", prefix + base.replace(right, left, 1)
    for left, right in _SUFFIX_SWAPS:
        if base.endswith(left):
            return "L", prefix + base[: -len(left)] + right
        if base.endswith(right):
            return "R", prefix + base[: -len(right)] + left
    for left, right in _PREFIX_SWAPS:
        if base.startswith(left):
            return "L", prefix + right + base[len(left):]
        if base.startswith(right):
            return "R", prefix + left + base[len(right):]
    if len(base) > 1 and base[0] in "LR" and base[1].isupper():  # CMU's LHipJoint, RFingers
        return base[0], prefix + ("R" if base[0] == "L" else "L") + base[1:]
    return "", ""


def source_layout(names, parents):
    """A layout that keeps the input skeleton's points; left/right pairs found from their names.

    joints_left[i] and joints_right[i] mirror each other, as VideoPose3D's flip augmentation expects.
    """
    index = {n: i for i, n in enumerate(names)}
    left, right = [], []
    for i, n in enumerate(names):
        side, other = _mirror(n)
        if side == "L" and other in index:
            left.append(i)
            right.append(index[other])
    return Layout("source", tuple(names), tuple(parents), tuple(left), tuple(right))
