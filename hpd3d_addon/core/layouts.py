"""Output joint layouts: Human3.6M's 17 joints, and 'source' (every joint of the input skeleton)."""
from dataclasses import dataclass


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
