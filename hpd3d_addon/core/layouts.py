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


def source_layout(names, parents):
    """A layout that keeps the input skeleton's points; left/right found from common name patterns."""
    from .skeleton_presets import normalise_name

    def side(name):
        n = normalise_name(name)
        if n.startswith(("left", "l_")) or n.endswith(("_l", ".l", "left")) or (n[:1] == "l" and n[1:2].isupper()):
            return "L"
        if n.startswith(("right", "r_")) or n.endswith(("_r", ".r", "right")) or (n[:1] == "r" and n[1:2].isupper()):
            return "R"
        raw = name.split(":")[-1]
        if raw[:1] == "L" and raw[1:2].isupper():
            return "L"
        if raw[:1] == "R" and raw[1:2].isupper():
            return "R"
        return ""

    sides = [side(n) for n in names]
    left = tuple(i for i, s in enumerate(sides) if s == "L")
    right = tuple(i for i, s in enumerate(sides) if s == "R")
    return Layout("source", tuple(names), tuple(parents), left, right)
