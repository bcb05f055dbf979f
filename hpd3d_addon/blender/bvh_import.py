"""Import a BVH file as an armature and its action for preview, from the core's own parse of the file.

No Blender importer is involved (Debian's Blender 3.4 importer fails under Python 3.11), so this works the
same in Blender 3.3 to 5.0. The take is read by core/sequence.py exactly as Generate Dataset reads it (rest
pose, channels and their rotation orders, scale), so the armature's pose bones, evaluated by Blender at
frame k, have their heads on the core's 3D joints of frame k (and leaf bones their tails on the End Sites).

How the pose is expressed: one bone per BVH joint, its head at the joint's rest position (world metres,
Z up, the armature object at the origin), its tail towards its children (their mean) or its End Site.
Blender poses a bone as  pose = parent_pose @ parent_rest^-1 @ rest @ basis,  so the basis that puts the
bone where the core has it,  pose = [core rotation @ rest rotation | core position],  is
basis = rest^-1 @ parent_rest @ parent_pose^-1 @ pose, computed for all frames at once with the rest
matrices Blender itself derived from head, tail and roll. Each basis is keyed as a quaternion (kept on one
hemisphere from frame to frame, linear interpolation) and, for joints with position channels, a location.

F-curves are made in bulk (keyframe_points.add + foreach_set): through Action.fcurves up to Blender 4.3, and
through the action's layer / keyframe strip / channelbag of a slot from 4.4 on (5.0 has no Action.fcurves).
"""
import numpy as np

from ..core.bvh import read_bvh
from ..core.rotations import matrix_to_quaternion
from ..core.sequence import sequence_from_bvh

FALLBACK_LENGTH = 0.05   # fraction of the skeleton's rest height given to a bone with nothing to point at
LINEAR = 1               # the value of 'LINEAR' in Keyframe.interpolation's enum (foreach_set takes it)


class BoneLayout:
    """Rest heads/tails of one bone per BVH joint (End Sites are tails, not bones), world metres."""

    def __init__(self, seq, translated):
        joints = [i for i in range(len(seq.names)) if not seq.is_end_site[i]]
        self.points = joints                       # index into the Sequence's points, per bone
        self.names = [seq.names[i] for i in joints]
        bone_of = {p: b for b, p in enumerate(joints)}
        self.parents = [bone_of.get(seq.parents[i], -1) for i in joints]
        self.translated = [seq.names[i] in translated for i in joints]
        heads = rest_positions(seq.parents, seq.rest_offsets)
        self.heads = heads[joints]
        self.tails, self.end_sites = _tails(seq, heads, joints)


def rest_positions(parents, offsets):
    """Rest position of every point: its offsets summed down the hierarchy (parents come first)."""
    pos = np.zeros_like(offsets)
    for i, p in enumerate(parents):
        pos[i] = offsets[i] + (pos[p] if p >= 0 else 0.0)
    return pos


def _tails(seq, heads, joints):
    """Tail per bone: the mean of its children's heads, or its End Site; a bone with nothing of length to
    point at continues its parent's direction (or points up). Also, per bone, the Sequence index of the
    End Site its tail is on (-1 if none)."""
    extent = float(np.ptp(heads[:, 2])) or 1.0
    children = {}
    for i, p in enumerate(seq.parents):
        if p >= 0:
            children.setdefault(p, []).append(i)
    tails, end_sites = [], []
    for i in joints:
        kids = children.get(i, [])
        direction = heads[kids].mean(axis=0) - heads[i] if kids else np.zeros(3)
        ends = [k for k in kids if seq.is_end_site[k]]
        on_end = len(kids) == 1 and len(ends) == 1
        if np.linalg.norm(direction) < 1e-6 * extent:
            p = seq.parents[i]
            up = heads[i] - heads[p] if p >= 0 else np.zeros(3)
            if np.linalg.norm(up) < 1e-6 * extent:
                up = np.array([0.0, 0.0, 1.0])
            direction = up / np.linalg.norm(up) * FALLBACK_LENGTH * extent
            on_end = False
        tails.append(heads[i] + direction)
        end_sites.append(ends[0] if on_end else -1)
    return np.array(tails), end_sites


def basis_matrices(layout, seq, rest):
    """(F, B, 4, 4) pose-bone basis matrices that put every bone where the core has its joint.

    rest: (B, 4, 4) armature-space rest matrices (Bone.matrix_local) as Blender computed them.
    """
    frames = seq.frame_count
    pts = layout.points
    pose = np.zeros((frames, len(pts), 4, 4))
    pose[:, :, :3, :3] = seq.rotations[:, pts] @ rest[None, :, :3, :3]
    pose[:, :, :3, 3] = seq.positions[:, pts]
    pose[:, :, 3, 3] = 1.0
    inv_rest = np.linalg.inv(rest)
    basis = np.empty_like(pose)
    for b, p in enumerate(layout.parents):
        if p < 0:
            basis[:, b] = inv_rest[b] @ pose[:, b]
        else:
            basis[:, b] = inv_rest[b] @ rest[p] @ np.linalg.inv(pose[:, p]) @ pose[:, b]
    return basis


def continuous_quaternions(rot):
    """Quaternions (F, B, 4) of rotation matrices (F, B, 3, 3), each bone's kept on the hemisphere of its
    previous frame so that interpolating between frames takes the short way."""
    q = matrix_to_quaternion(rot)
    if len(q) > 1:
        flip = np.sign(np.sum(q[1:] * q[:-1], axis=-1))
        flip[flip == 0] = 1.0
        sign = np.concatenate([np.ones((1,) + flip.shape[1:]), np.cumprod(flip, axis=0)])
        q = q * sign[..., None]
    return q


def import_bvh(context, path, scale, name=None):
    """Create the armature object of the BVH file `path` at `scale` (metres per BVH unit, or 'auto') with
    its action, link it into the active collection, make it active and set the scene's frame range and
    frame rate to the take's. Returns (object, Sequence)."""
    import bpy
    bvh = read_bvh(path)
    translated = {j.name for j in bvh.joints if any(c.endswith("position") for c in j.channels)}
    seq = sequence_from_bvh(path, "", "", scale=scale)
    layout = BoneLayout(seq, translated)
    stem = name or bpy.path.display_name_from_filepath(path)
    obj = _armature_object(context, stem, layout)
    rest = _rest_matrices(obj, layout)
    basis = basis_matrices(layout, seq, rest)
    action = bpy.data.actions.new(stem)
    write_action(obj, action, layout, basis)
    _set_scene_timing(context.scene, seq)
    return obj, seq


def _armature_object(context, stem, layout):
    """A new armature object with one bone per joint, built in Edit Mode and left in Object Mode."""
    import bpy
    data = bpy.data.armatures.new(stem)
    obj = bpy.data.objects.new(stem, data)
    context.view_layer.active_layer_collection.collection.objects.link(obj)
    for other in context.view_layer.objects:
        if other.select_get():
            other.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    bones = []
    for b, bone_name in enumerate(layout.names):
        eb = data.edit_bones.new(bone_name)
        eb.head = layout.heads[b].tolist()
        eb.tail = layout.tails[b].tolist()
        eb.roll = 0.0
        bones.append(eb)
    for b, p in enumerate(layout.parents):
        if p >= 0:
            bones[b].parent = bones[p]
            bones[b].use_connect = False
    layout.names = [eb.name for eb in bones]   # as Blender named them (unique, at most 63 bytes)
    bpy.ops.object.mode_set(mode="OBJECT")
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    return obj


def _rest_matrices(obj, layout):
    """(B, 4, 4) Bone.matrix_local in the layout's bone order (row-major)."""
    bones = obj.data.bones
    return np.array([np.array(bones[n].matrix_local, dtype=np.float64) for n in layout.names])


def write_action(obj, action, layout, basis):
    """Key every frame (scene frames 1..F) of every bone's basis: rotation_quaternion, and location for
    joints with position channels."""
    import bpy
    obj.animation_data_create()
    obj.animation_data.action = action
    new_fcurve = _fcurve_factory(obj, action)
    frames = np.arange(1, basis.shape[0] + 1, dtype=np.float64)
    quats = continuous_quaternions(basis[..., :3, :3])
    for b, bone_name in enumerate(layout.names):
        path = f'pose.bones["{bpy.utils.escape_identifier(bone_name)}"]'
        channels = [("rotation_quaternion", quats[:, b])]
        if layout.translated[b]:
            channels.insert(0, ("location", basis[:, b, :3, 3]))
        for prop, values in channels:
            for index in range(values.shape[1]):
                _fill(new_fcurve(f"{path}.{prop}", index, bone_name), frames, values[:, index])


def _fill(fcurve, frames, values):
    points = fcurve.keyframe_points
    points.add(len(frames))
    points.foreach_set("co", np.column_stack([frames, values]).ravel().tolist())
    points.foreach_set("interpolation", [LINEAR] * len(frames))
    fcurve.update()


def _fcurve_factory(obj, action):
    """new(data_path, index, group) -> FCurve for this Blender's Action API."""
    if not hasattr(action, "layers"):   # Blender up to 4.3: the action owns its F-curves
        def legacy(data_path, index, group):
            return action.fcurves.new(data_path, index=index, action_group=group)
        return legacy
    # Blender 4.4+: slot -> layer -> keyframe strip -> channelbag of the slot
    slot = action.slots.new(id_type="OBJECT", name=obj.name)
    obj.animation_data.action_slot = slot
    strip = action.layers.new("Layer").strips.new(type="KEYFRAME")
    bag = strip.channelbag(slot, ensure=True)
    groups = {}

    def layered(data_path, index, group):
        fc = bag.fcurves.new(data_path, index=index)
        if group not in groups:
            groups[group] = bag.groups.new(group)
        fc.group = groups[group]
        return fc
    return layered


def _set_scene_timing(scene, seq):
    """Frame range 1..F and the take's frame rate (as fps / fps_base, e.g. 30 / 1.0 or 120 / 1.0); the
    current frame stays where the user had it."""
    scene.frame_start, scene.frame_end = 1, seq.frame_count
    rate = float(seq.fps)
    scene.render.fps = max(1, int(round(rate)))
    scene.render.fps_base = scene.render.fps / rate
