"""Writes the small skeleton-family BVH files in tests/data/families/ (run: python tests/data/make_families.py).

Every file is one made-up adult (about 1.75 m, standing, T-pose at rest) built from the same anatomical
landmarks below, in the joint names, hierarchy, channel layout and units of one skeleton family. Frame 0
is the rest pose; the other frames add a few degrees of motion, so the tests know where every anatomical
point is on frame 0 without running any code of the package.

BVH axes: Y up, the subject faces +Z, so the subject's own LEFT is +X. Landmarks are metres, left side;
the right side mirrors x. The tests import this module (FAMILIES, landmark(), rest_extent_m()).
"""
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parent / "families"

# Anatomical landmarks (metres, BVH axes, left side where sided).
LANDMARKS = {
    "floor": (0.0, 0.0, 0.0),
    "pelvis": (0.0, 0.96, 0.0),        # centre of the hip joints' line, a bit above it
    "hip": (0.09, 0.91, 0.0),          # hip ball joint
    "knee": (0.10, 0.50, 0.01),
    "ankle": (0.10, 0.09, -0.03),
    "toe": (0.10, 0.02, 0.10),         # ball of the foot
    "toe_end": (0.10, 0.02, 0.17),
    "spine": (0.0, 1.07, -0.01),       # lower back
    "spine1": (0.0, 1.19, -0.02),
    "spine2": (0.0, 1.31, -0.02),      # chest
    "neck": (0.0, 1.46, -0.02),        # base of the neck (thorax)
    "neck_mid": (0.0, 1.52, -0.01),
    "head": (0.0, 1.58, 0.0),          # skull base / top of the neck
    "head_top": (0.0, 1.76, 0.02),     # vertex
    "head_top_tip": (0.0, 1.80, 0.02),  # Mixamo's End Site beyond HeadTop_End
    "clavicle": (0.03, 1.43, 0.0),     # sternoclavicular joint
    "shoulder": (0.18, 1.44, -0.02),   # glenohumeral (ball) joint
    "elbow": (0.46, 1.44, -0.03),
    "wrist": (0.71, 1.44, -0.02),
    "finger": (0.79, 1.44, -0.01),
    "finger_end": (0.86, 1.44, -0.01),
    "thumb_end": (0.76, 1.44, 0.04),
    # Bandai Namco's short neck: the head joint sits just above the base of the neck
    "bandai_head": (0.0, 1.525, -0.01),
}

UNITS_PER_M = {"m": 1.0, "cm": 100.0, "mm": 1000.0, "inch": 1 / 0.0254, "cmu": 0.45 / 0.0254}


def landmark(key, side="L"):
    """A landmark in metres (BVH axes), mirrored for side 'R'."""
    x, y, z = LANDMARKS[key]
    return (-x if side == "R" else x, y, z)


@dataclass
class Node:
    """A joint: name (may hold '{S}'/'{Side}' placeholders), landmark, children, End Site landmark.

    end: a landmark key, 'zero' for a zero-length End Site, or None for no End Site.
    """
    name: str
    at: str
    children: list = field(default_factory=list)
    end: object = None


def N(name, at, *children, end=None):
    return Node(name, at, list(children), end)


def _side_names(name, side):
    return (name.replace("{Side}", "Left" if side == "L" else "Right")
                .replace("{S}", side).replace("{s}", side.lower()))


@dataclass
class Family:
    stem: str
    preset: object           # expected preset name, or None for a skeleton that fits none
    unit: str                # unit the file is written in (and auto-scale must pick)
    root: Node
    rot_order: str = "ZXY"
    prefix: str = ""
    six_channels_everywhere: bool = False
    crlf_tabs_sci: bool = False
    lower_case: bool = False
    # Human3.6M joint -> landmark (side from the joint name) its value must equal on the rest frame;
    # Head None means an estimated head top (zero-length head End Site).
    h36m: dict = field(default_factory=dict)


def _sided(node):
    """Expand a subtree whose names hold side placeholders into (left, right) copies."""
    def copy(n, side):
        return Node(_side_names(n.name, side), (n.at, side), [copy(c, side) for c in n.children],
                    None if n.end is None else (n.end, side) if n.end != "zero" else "zero")
    return [copy(node, "L"), copy(node, "R")]


def _expand(node):
    """Turn a spec tree into concrete nodes with (landmark, side) positions; sided subtrees doubled."""
    at = node.at if isinstance(node.at, tuple) else (node.at, "L")
    end = node.end if (node.end is None or node.end == "zero" or isinstance(node.end, tuple)) else (node.end, "L")
    kids = []
    for c in node.children:
        if "{" in c.name:
            kids += [_expand(s) for s in _sided(c)]
        else:
            kids.append(_expand(c))
    return Node(node.name, at, kids, end)


LIMB_H36M = {"RHip": "hip", "RKnee": "knee", "RFoot": "ankle", "LHip": "hip", "LKnee": "knee", "LFoot": "ankle",
             "RShoulder": "shoulder", "RElbow": "elbow", "RWrist": "wrist",
             "LShoulder": "shoulder", "LElbow": "elbow", "LWrist": "wrist"}


def _h36m(head="head_top", neck_nose="head", hip="pelvis"):
    return {"Hip": hip, "Thorax": "neck", "Neck/Nose": neck_nose, "Head": head, **LIMB_H36M}


def _legs(up, low, foot, toe):
    return N(f"{{Side}}{up}", "hip", N(f"{{Side}}{low}", "knee", N(f"{{Side}}{foot}", "ankle",
             *([N(f"{{Side}}{toe}", "toe", end="toe_end")] if toe else []),
             end=None if toe else "toe")))


def _arm(collar, ball, elbow, wrist, collar_at="clavicle", hand=None, end="finger_end"):
    """clavicle -> shoulder ball joint -> elbow -> wrist (names with side placeholders)."""
    wrist_node = N(wrist, "wrist", *(hand or []), end=None if hand else end)
    return N(collar, collar_at, N(ball, "shoulder", N(elbow, "elbow", wrist_node)))


def _chain(*specs, children=()):
    """A straight chain: specs are (name, landmark); `children` hang off its last joint."""
    node = None
    for name, at in reversed(specs):
        node = N(name, at, *([node] if node else list(children)))
    return node


FAMILIES = [
    # Mixamo: namespace prefix, HeadTop_End joint with its own End Site, fingers, cm.
    Family("mixamo_idle", "mixamo", "cm", N(
        "Hips", "pelvis",
        _chain(("Spine", "spine"), ("Spine1", "spine1"), ("Spine2", "spine2"), children=[
            _chain(("Neck", "neck"), ("Head", "head"),
                   children=[N("HeadTop_End", "head_top", end="head_top_tip")]),
            _arm("{Side}Shoulder", "{Side}Arm", "{Side}ForeArm", "{Side}Hand",
                 hand=[N("{Side}HandIndex1", "finger", end="finger_end")])]),
        _legs("UpLeg", "Leg", "Foot", "ToeBase")),
        rot_order="ZXY", prefix="mixamorig:", h36m=_h36m()),
    # MotionBuilder / mocapbank: Chest, Chest2, LeftCollar (clavicle), LeftShoulder (ball joint), inches.
    Family("motionbuilder_walk", "motionbuilder", "inch", N(
        "Hips", "pelvis",
        _chain(("Chest", "spine1"), ("Chest2", "spine2"), children=[
            _arm("{Side}Collar", "{Side}Shoulder", "{Side}Elbow", "{Side}Wrist"),
            N("Neck", "neck", N("Head", "head", end="head_top"))]),
        _chain(("{Side}Hip", "hip"), ("{Side}Knee", "knee"), ("{Side}Ankle", "ankle"),
               children=[N("{Side}Toe", "toe", end="toe_end")])),
        rot_order="ZXY", h36m=_h36m()),
    # LaFAN1 / Ubisoft La Forge: LeftToe, Spine..Spine2, LeftShoulder = clavicle, LeftArm = ball joint, cm.
    Family("lafan1_walk1", "lafan1", "cm", N(
        "Hips", "pelvis",
        _legs("UpLeg", "Leg", "Foot", "Toe"),
        _chain(("Spine", "spine"), ("Spine1", "spine1"), ("Spine2", "spine2"), children=[
            N("Neck", "neck", N("Head", "head", end="head_top")),
            _arm("{Side}Shoulder", "{Side}Arm", "{Side}ForeArm", "{Side}Hand")])),
        rot_order="ZYX", h36m=_h36m()),
    # Human3.6M-style converter BVH: LeftLowLeg, LeftUpArm, Spine1, millimetres, YXZ rotations.
    Family("h36m_converter_s1", "h36m_bvh", "mm", N(
        "Hips", "pelvis",
        _chain(("{Side}UpLeg", "hip"), ("{Side}LowLeg", "knee"), children=[N("{Side}Foot", "ankle", end="toe")]),
        _chain(("Spine", "spine"), ("Spine1", "spine2"), children=[
            N("Neck", "neck", N("Head", "head", end="head_top")),
            _arm("{Side}Shoulder", "{Side}UpArm", "{Side}ForeArm", "{Side}Hand")])),
        rot_order="YXZ", h36m=_h36m()),
    # CMU (original conversion, as cmu_01_01.bvh): LHipJoint, LowerBack, Neck1, LFingers/LThumb, CMU units.
    Family("cmu_lfingers_02_01", "cmu", "cmu", N(
        "Hips", "pelvis",
        N("{S}HipJoint", "pelvis", _legs("UpLeg", "Leg", "Foot", "ToeBase")),
        _chain(("LowerBack", "pelvis"), ("Spine", "spine1"), ("Spine1", "neck"), children=[
            _chain(("Neck", "neck"), ("Neck1", "neck_mid"), children=[N("Head", "head", end="head_top")]),
            _arm("{Side}Shoulder", "{Side}Arm", "{Side}ForeArm", "{Side}Hand", collar_at="neck", hand=[
                N("{Side}FingerBase", "wrist", N("{S}Fingers", "finger", end="finger_end")),
                N("{S}Thumb", "wrist", end="thumb_end")])])),
        rot_order="ZYX", h36m=_h36m()),
    # CMU, cgspeed-style variant: LeftHandIndex1 instead of LFingers; also CMU units.
    Family("cmu_index_86_02", "cmu", "cmu", N(
        "Hips", "pelvis",
        N("{S}HipJoint", "pelvis", _legs("UpLeg", "Leg", "Foot", "ToeBase")),
        _chain(("LowerBack", "pelvis"), ("Spine", "spine1"), ("Spine1", "neck"), children=[
            _chain(("Neck", "neck"), ("Neck1", "neck_mid"), children=[N("Head", "head", end="head_top")]),
            _arm("{Side}Shoulder", "{Side}Arm", "{Side}ForeArm", "{Side}Hand", collar_at="neck", hand=[
                N("{Side}FingerBase", "wrist", N("{Side}HandIndex1", "finger", end="finger_end")),
                N("{S}Thumb", "wrist", end="thumb_end")])])),
        rot_order="ZYX", h36m=_h36m()),
    # Bandai Namco-like: joint_Root on the floor, 6 channels on every joint, zero-length End Sites, cm.
    Family("bandai_like_dance", "bandai", "cm", N(
        "joint_Root", "floor",
        N("Hips", "pelvis",
          _chain(("Spine", "spine"), ("Chest", "spine2"), children=[
              N("Neck", "neck", N("Head", "bandai_head", end="zero")),
              _arm("Shoulder_{S}", "UpperArm_{S}", "LowerArm_{S}", "Hand_{S}", end="zero")]),
          _chain(("UpperLeg_{S}", "hip"), ("LowerLeg_{S}", "knee"), ("Foot_{S}", "ankle"),
                 children=[N("Toes_{S}", "toe", end="zero")]))),
        rot_order="ZXY", six_channels_everywhere=True,
        h36m=_h36m(head=None, neck_nose="bandai_head")),
    # Tabs, CRLF line ends, scientific notation, namespaced lower-case names, metres (LaFAN1 naming).
    Family("crlf_namespaced_metres", "lafan1", "m", N(
        "Hips", "pelvis",
        _legs("UpLeg", "Leg", "Foot", "Toe"),
        _chain(("Spine", "spine"), ("Spine1", "spine1"), ("Spine2", "spine2"), children=[
            N("Neck", "neck", N("Head", "head", end="head_top")),
            _arm("{Side}Shoulder", "{Side}Arm", "{Side}ForeArm", "{Side}Hand")])),
        rot_order="ZYX", prefix="Take001:Actor:", crlf_tabs_sci=True, lower_case=True, h36m=_h36m()),
    # A dog (geometry in DOG below): hips, spine, neck and head but four legs and a tail; fits no preset.
    Family("quadruped_dog", None, "cm", None, rot_order="ZXY"),
]

# The dog's own geometry (cm, BVH axes, faces +Z): body horizontal at 55 cm, four legs, a tail.
DOG = {
    "Hips": (0, 55, -30), "Spine": (0, 56, -10), "Spine1": (0, 57, 10), "Neck": (0, 60, 25), "Head": (0, 72, 35),
    "Head_End": (0, 70, 52), "Tail": (0, 57, -38), "Tail1": (0, 60, -55), "Tail1_End": (0, 58, -70),
}
for _side, _x in (("Left", 9), ("Right", -9)):
    for _end, _z, _parent in (("Front", 18, "Spine1"), ("Hind", -30, "Hips")):
        DOG[f"{_side}{_end}Leg"] = (_x, 50, _z)
        DOG[f"{_side}{_end}Knee"] = (_x, 27, _z + 2)
        DOG[f"{_side}{_end}Paw"] = (_x, 3, _z + 4)
        DOG[f"{_side}{_end}Paw_End"] = (_x, 0, _z + 10)


def _dog_tree():
    def leg(side, end):
        return Node(f"{side}{end}Leg", None, [Node(f"{side}{end}Knee", None, [Node(f"{side}{end}Paw", None, [], "end")])])
    hips = Node("Hips", None, [
        Node("Spine", None, [Node("Spine1", None, [
            Node("Neck", None, [Node("Head", None, [], "end")]), leg("Left", "Front"), leg("Right", "Front")])]),
        Node("Tail", None, [Node("Tail1", None, [], "end")]), leg("Left", "Hind"), leg("Right", "Hind")])
    return hips


def _position(node, family):
    """Rest position of a node in the file's units."""
    if family.stem == "quadruped_dog":
        return tuple(v for v in DOG[node.name])
    key, side = node.at
    return tuple(v * UNITS_PER_M[family.unit] for v in landmark(key, side))


def _end_position(node, family):
    if family.stem == "quadruped_dog":
        return DOG[node.name + "_End"]
    if node.end == "zero":
        return _position(node, family)
    key, side = node.end
    return tuple(v * UNITS_PER_M[family.unit] for v in landmark(key, side))


def _fmt(v, family):
    if family.crlf_tabs_sci:
        return f"{v:.9e}"
    s = f"{v:.6f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def write_family(family):
    """The BVH text of one family file."""
    root = _dog_tree() if family.stem == "quadruped_dog" else _expand(family.root)
    rng = random.Random(family.stem)
    ind = "\t" if family.crlf_tabs_sci else "  "
    lines = ["HIERARCHY"]
    joints = []   # (node, offset, channels)

    def name_of(node):
        n = family.prefix + node.name
        return n.lower() if family.lower_case else n

    def emit(node, parent_pos, depth, is_root):
        pos = _position(node, family)
        offset = tuple(p - q for p, q in zip(pos, parent_pos)) if not is_root else pos
        pad = ind * depth
        rot = [f"{a}rotation" for a in family.rot_order]
        six = is_root or family.six_channels_everywhere
        chans = (["Xposition", "Yposition", "Zposition"] if six else []) + [r.capitalize() for r in rot]
        chans = [c[0].upper() + c[1:] for c in chans]
        lines.append(f"{pad}{'ROOT' if is_root else 'JOINT'} {name_of(node)}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}{ind}OFFSET {' '.join(_fmt(v, family) for v in offset)}")
        lines.append(f"{pad}{ind}CHANNELS {len(chans)} {' '.join(chans)}")
        joints.append((node, offset, chans, is_root))
        for c in node.children:
            emit(c, pos, depth + 1, False)
        if node.end is not None:
            end = _end_position(node, family)
            lines.append(f"{pad}{ind}End Site")
            lines.append(f"{pad}{ind}{{")
            lines.append(f"{pad}{ind}{ind}OFFSET {' '.join(_fmt(e - p, family) for e, p in zip(end, pos))}")
            lines.append(f"{pad}{ind}}}")
        lines.append(f"{pad}}}")

    emit(root, (0.0, 0.0, 0.0), 0, True)
    frames = 6
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {_fmt(1 / 30, family) if family.crlf_tabs_sci else '0.0333333'}"]
    u = UNITS_PER_M[family.unit] if family.stem != "quadruped_dog" else 100.0
    phases = {id(n): rng.uniform(0, 2 * math.pi) for n, *_ in joints}
    amps = {id(n): [rng.uniform(2.0, 6.0) for _ in range(3)] for n, *_ in joints}
    for f in range(frames):
        row = []
        for node, offset, chans, is_root in joints:
            s = math.sin(2 * math.pi * f / frames + phases[id(node)]) - math.sin(phases[id(node)])  # 0 on frame 0
            for c in chans:
                axis = "xyz".index(c[0].lower())
                if c.endswith("position"):
                    v = offset[axis]
                    if is_root:  # a small drift and bob of the whole body
                        v += (0.03, 0.01, 0.05)[axis] * u * s
                    row.append(v)
                else:
                    row.append(amps[id(node)][axis] * s)
        lines.append(("\t" if family.crlf_tabs_sci else " ").join(_fmt(v, family) for v in row))
    sep = "\r\n" if family.crlf_tabs_sci else "\n"
    text = sep.join(lines) + sep
    if family.crlf_tabs_sci:
        text = text.replace("\r\nFrames: ", "\r\nFrames:\t").replace("Frame Time: ", "Frame Time:\t")
    return text


def rest_extent_m(family):
    """Vertical extent (metres) of all points of the rest pose: what auto-scale reports as height."""
    ys = []

    def walk(node):
        ys.append(_position(node, family)[1])
        if node.end is not None:
            ys.append(_end_position(node, family)[1])
        for c in node.children:
            walk(c)
    walk(_dog_tree() if family.stem == "quadruped_dog" else _expand(family.root))
    u = 100.0 if family.stem == "quadruped_dog" else UNITS_PER_M[family.unit]
    return (max(ys) - min(ys)) / u


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for fam in FAMILIES:
        (OUT / f"{fam.stem}.bvh").write_bytes(write_family(fam).encode("utf-8"))
        print(f"{fam.stem}.bvh")


if __name__ == "__main__":
    main()
