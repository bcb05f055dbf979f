"""Skeleton presets: how each common mocap skeleton maps onto Human3.6M's 17 joints, and auto-detection.

A mapping gives, for every Human3.6M joint, the source point whose *origin* it is (a BVH joint, or an
End Site named `<Joint>_End`), or a weighted blend `{"Hips": 0.5, "Neck": 0.5}` (weights sum to 1).
A value may also be a list of such alternatives: the first one whose names all exist is used.
Names match case-insensitively and ignore namespace prefixes (`mixamorig:Hips` matches `Hips`).

Head (top of the head) is usually the head joint's End Site. When that End Site has no length (Bandai
Namco files, for one) it is estimated: from the head joint, along the rest direction of the head bone
(its OFFSET from the neck) carried by the head joint's rotation, at HEAD_TOP_RATIO x the median
pelvis-to-thorax distance of the sequence (about 25 cm above the base of the neck for an adult).
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import MappingError
from .layouts import H36M17

HEAD_TOP_RATIO = 0.5
SPINE_BLEND = {"Hips": 0.5, "Neck": 0.5}


TORSO = {"Hip": "Hips", "Spine": SPINE_BLEND, "Thorax": "Neck", "Neck/Nose": "Head", "Head": "Head_End"}


def limbs(hip, knee, ankle, shoulder, elbow, wrist, side_style="long"):
    """The 12 limb joints from six name patterns with '{}' for the side.

    side_style 'long' fills in Left/Right ('{}UpLeg' -> LeftUpLeg), 'suffix' fills in L/R ('Foot_{}').
    """
    sides = {"long": {"R": "Right", "L": "Left"}, "suffix": {"R": "R", "L": "L"}}[side_style]
    out = {}
    for side in ("R", "L"):
        for key, pattern in (("Hip", hip), ("Knee", knee), ("Foot", ankle), ("Shoulder", shoulder),
                             ("Elbow", elbow), ("Wrist", wrist)):
            out[side + key] = pattern.format(sides[side])
    return out


# CMU, Mixamo and LaFAN1 name their limbs alike (RightArm is the shoulder ball joint, RightShoulder the clavicle).
UPLEG_ARM_LIMBS = limbs("{}UpLeg", "{}Leg", "{}Foot", "{}Arm", "{}ForeArm", "{}Hand")


@dataclass
class Preset:
    """A named skeleton family: its mapping and the names that identify it (`signature`)."""
    name: str
    description: str
    joints: dict
    signature: tuple = ()


PRESETS = {p.name: p for p in [
    Preset(
        "bandai", "Bandai Namco Research Motion dataset (Hips, UpperLeg_L, LowerArm_R, ...)",
        {**TORSO, **limbs("UpperLeg_{}", "LowerLeg_{}", "Foot_{}", "UpperArm_{}", "LowerArm_{}", "Hand_{}",
                          side_style="suffix")},
        signature=("joint_Root", "Shoulder_L", "Toes_L"),
    ),
    Preset(
        "cmu", "CMU mocap BVH conversions (LHipJoint, LowerBack, Neck1, LeftArm, LFingers/LeftHandIndex1, ...)",
        {**TORSO, **UPLEG_ARM_LIMBS},
        signature=("LHipJoint", "LowerBack", "Neck1"),
    ),
    Preset(
        "mixamo", "Mixamo (mixamorig:Hips, ..., mixamorig:HeadTop_End)",
        {**TORSO, "Head": ["HeadTop_End", "Head_End"], **UPLEG_ARM_LIMBS},
        signature=("mixamorig:", "HeadTop_End", "Spine2"),
    ),
    Preset(
        "lafan1", "LaFAN1 / Ubisoft La Forge (Hips, LeftUpLeg, LeftToe, Spine2, LeftArm, ...)",
        {**TORSO, **UPLEG_ARM_LIMBS},
        signature=("LeftToe", "Spine2", "Spine1"),
    ),
    Preset(
        "motionbuilder", "MotionBuilder / mocapbank (Hips, Chest, Chest2, LeftCollar, LeftShoulder, LeftElbow, LeftHip, ...)",
        {**TORSO, **limbs("{}Hip", "{}Knee", "{}Ankle", "{}Shoulder", "{}Elbow", "{}Wrist")},
        signature=("LeftCollar", "Chest2", "Chest"),
    ),
    Preset(
        "h36m_bvh", "Human3.6M-style BVH from converters (Hips, LeftUpLeg, LeftLowLeg, LeftUpArm, LeftForeArm, Spine1, ...)",
        {**TORSO, **limbs("{}UpLeg", "{}LowLeg", "{}Foot", "{}UpArm", "{}ForeArm", "{}Hand")},
        signature=("LeftLowLeg", "LeftUpArm", "Spine1"),
    ),
]}


def normalise_name(name):
    """Lower-case name without namespace prefix: 'mixamorig:LeftArm' -> 'leftarm'."""
    for sep in (":", "|"):
        name = name.rsplit(sep, 1)[-1]
    return name.strip().lower()


@dataclass
class JointMap:
    """How to compute each output joint from source points: weights (J_out, N) plus head-top estimates."""
    preset: str
    weights: np.ndarray
    # output joint index -> (head joint index, hip output index, thorax output index)
    head_top_estimates: dict = field(default_factory=dict)
    missing: list = field(default_factory=list)

    def apply(self, sequence):
        """Output joint positions (F, J_out, 3) for a Sequence."""
        out = np.einsum("jn,fnc->fjc", self.weights, sequence.positions)
        for j, (head, hip_j, thorax_j) in self.head_top_estimates.items():
            length = HEAD_TOP_RATIO * np.median(np.linalg.norm(out[:, thorax_j] - out[:, hip_j], axis=-1))
            direction = sequence.rest_offsets[head]
            norm = np.linalg.norm(direction)
            direction = direction / norm if norm > 0 else np.array([0.0, 0.0, 1.0])
            out[:, j] = sequence.positions[:, head] + length * (sequence.rotations[:, head] @ direction)
        return out


def _lookup(names):
    table = {}
    for i, n in enumerate(names):
        table.setdefault(normalise_name(n), i)
    return table


def _resolve_entry(spec, table):
    """[(index, weight)] for one mapping value, or None when a name is missing."""
    if isinstance(spec, list):
        for alternative in spec:
            found = _resolve_entry(alternative, table)
            if found is not None:
                return found
        return None
    if isinstance(spec, str):
        spec = {spec: 1.0}
    if not isinstance(spec, dict) or not spec:
        raise MappingError(f"invalid mapping value {spec!r}: use a name, a list of names or {{name: weight}}")
    out = []
    for name, w in spec.items():
        idx = table.get(normalise_name(name))
        if idx is None:
            return None
        out.append((idx, float(w)))
    total = sum(w for _, w in out)
    if abs(total - 1.0) > 1e-6:
        raise MappingError(f"weights of {spec!r} sum to {total:g}, not 1")
    return out


def build_joint_map(joints, skeleton, preset_name, layout=H36M17):
    """Resolve a mapping (dict of layout joint -> spec) against a skeleton's point names.

    `skeleton` has `names`, `parents`, `is_end_site` and `rest_offsets` (a Sequence does).
    """
    names = skeleton.names
    table = _lookup(names)
    weights = np.zeros((layout.num_joints, len(names)))
    estimates = {}
    missing = []
    for j, out_name in enumerate(layout.joint_names):
        spec = joints.get(out_name)
        if spec is None:
            missing.append(f"{out_name} (not in the mapping)")
            continue
        found = _resolve_entry(spec, table)
        if found is None:
            missing.append(f"{out_name} ({_describe(spec)})")
            continue
        for idx, w in found:
            weights[j, idx] += w
        if out_name == "Head" and len(found) == 1:
            idx = found[0][0]
            if skeleton.is_end_site[idx] and np.linalg.norm(skeleton.rest_offsets[idx]) < 1e-9:
                head = skeleton.parents[idx]
                weights[j, idx] = 0.0
                estimates[j] = (head, layout.joint_names.index("Hip"), layout.joint_names.index("Thorax"))
    return JointMap(preset_name, weights, estimates, missing)


def _describe(spec):
    if isinstance(spec, list):
        return " or ".join(_describe(s) for s in spec)
    if isinstance(spec, dict):
        return "+".join(spec)
    return str(spec)


def load_mapping_file(path):
    """Read a mapping JSON file: {"Hip": "Hips", ...} or {"extends": "cmu", "joints": {...}}."""
    from .errors import InputError
    from .limits import read_json_file
    path = Path(path)
    try:
        data = read_json_file(path, "mapping file")
    except InputError as exc:
        raise MappingError(str(exc)) from None
    if not isinstance(data, dict):
        raise MappingError(f"{path}: a mapping file holds a JSON object")
    if "joints" in data:
        base = data.get("extends")
        if base is not None and (not isinstance(base, str) or base not in PRESETS):
            raise MappingError(f"{path}: 'extends' names unknown preset {base!r} (see `hpd3d presets`)")
        if not isinstance(data["joints"], dict):
            raise MappingError(f"{path}: 'joints' must be a JSON object of joint -> source")
        joints = dict(PRESETS[base].joints) if base else {}
        joints.update(data["joints"])
    else:
        joints = data
    for out_name, spec in joints.items():
        problem = _spec_problem(spec)
        if problem:
            raise MappingError(f"{path}: '{out_name}': {problem}")
    return joints


def _spec_problem(spec, alternatives=True):
    """Why a mapping value is malformed (None when it is a name, a {name: weight} blend whose finite weights
    sum to 1, or a list of those)."""
    if isinstance(spec, str):
        return None if spec else "an empty joint name"
    if isinstance(spec, list) and alternatives:
        if not spec:
            return "an empty list of alternatives"
        return next((p for p in (_spec_problem(s, alternatives=False) for s in spec) if p), None)
    if isinstance(spec, dict) and spec:
        weights = list(spec.values())
        from .limits import in_range
        if not all(in_range("weight", w, magnitude=True) for w in weights):
            return "blend weights must be numbers of magnitude at most 10"
        if abs(sum(weights) - 1.0) > 1e-6:
            return f"blend weights sum to {sum(weights):g}, not 1"
        return None
    return f"invalid value {str(spec)[:60]!r}: use a name, a list of names or {{name: weight}}"


_RESOLVED = {}  # a corpus has one skeleton over thousands of files: resolve it once per process
_RESOLVED_MAX = 64


def resolve(skeleton, preset="auto", mapping=None, source="", layout=H36M17):
    """The JointMap for a skeleton: from an explicit mapping dict, a named preset, or auto-detection.

    Raises MappingError naming the joints that could not be found and how to pass a mapping file.
    """
    key = (tuple(skeleton.names), tuple(skeleton.parents), tuple(bool(e) for e in skeleton.is_end_site),
           tuple(bool(z) for z in np.linalg.norm(skeleton.rest_offsets, axis=-1) < 1e-9), preset,
           json.dumps(mapping, sort_keys=True) if mapping is not None else None, layout.name)
    if key not in _RESOLVED:
        if len(_RESOLVED) >= _RESOLVED_MAX:
            _RESOLVED.clear()
        _RESOLVED[key] = _resolve(skeleton, preset, mapping, source, layout)
    return _RESOLVED[key]


def _resolve(skeleton, preset, mapping, source, layout):
    if mapping is not None:
        jm = build_joint_map(mapping, skeleton, "custom", layout)
        candidates = [jm]
    elif preset != "auto":
        if preset not in PRESETS:
            raise MappingError(f"unknown skeleton preset '{preset}'; known: {', '.join(PRESETS)}")
        candidates = [build_joint_map(PRESETS[preset].joints, skeleton, preset, layout)]
    else:
        candidates = [build_joint_map(p.joints, skeleton, p.name, layout)
                      for p in PRESETS.values()]
    fitting = [c for c in candidates if not c.missing]
    if fitting:
        if len(fitting) == 1:
            return fitting[0]
        lowered = [n.lower() for n in skeleton.names]
        normalised = {normalise_name(n) for n in skeleton.names}

        def score(jm):
            sig = PRESETS[jm.preset].signature
            return sum(1 for s in sig if (s.lower() in normalised) or (s.endswith(":") and any(s.lower() in n for n in lowered)))
        return max(fitting, key=score)
    best = min(candidates, key=lambda c: len(c.missing))
    what = f"preset '{best.preset}'" if len(candidates) == 1 else f"any preset (closest: '{best.preset}')"
    prefix = f"{source}: " if source else ""
    raise MappingError(
        f"{prefix}skeleton does not match {what}; Human3.6M joints not found: {', '.join(best.missing)}. "
        f"Pass a mapping with --mapping FILE.json (see README, 'Custom skeletons')")
