"""An armature's animation, evaluated by Blender, as the core's Sequence (world metres, Z up).

Works for any armature animation (BVH, FBX, glTF, retargeted, constraints, drivers): the pose is read
after Blender evaluates the scene at each frame. A point per pose bone at its head in world space
(named like the bone, so BVH-named rigs map like BVH files), plus an End Site per leaf bone named
'<bone>_End' at its tail. Rotations are each bone's world rotation relative to its rest pose; rest offsets
are in world axes. Positions are in metres: Blender units times the scene's Unit Scale
(scene.unit_settings.scale_length, 0.01 in a centimetre scene).

Blender evaluates an armature's pose only in Object or Pose Mode and only when the object is in the view
layer's depsgraph: an armature in Edit Mode, disabled in viewports, in a collection disabled in viewports or
excluded from the view layer keeps its pose at every frame. choose_armature() refuses the last three with
a line saying why; callers leave Edit Mode first (operators.SceneState).

One difference from reading the BVH file: Blender's BVH importer gives a zero-length End Site a made-up
tail (0.1 x the import scale along the bone's rest +Y, i.e. up), so for such files (Bandai Namco's head
End Site, for one) the 'Head' joint is that tail here, where the core estimates the top of the head.
End Sites with a length are the same point either way.
"""
import numpy as np

from ..core.errors import HPD3DError
from ..core.sequence import Sequence


class SceneSourceError(HPD3DError):
    """No usable armature animation in the scene."""


def unit_scale(scene):
    """Metres per Blender unit of this scene (Scene > Units > Unit Scale)."""
    if scene.unit_settings.system == "NONE":
        return 1.0
    return float(str(np.float32(scene.unit_settings.scale_length)))  # as typed: 0.01, not 0.0099999998


def choose_armature(context, depsgraph=True):
    """The armature to export: the active object when it is an armature, else the only armature of the view
    layer. Raises SceneSourceError (one line naming it) when there is none, several, or Blender would not
    evaluate it (so every frame would be the first)."""
    vl = context.view_layer
    obj = vl.objects.active
    if obj is None or obj.type != "ARMATURE":
        arms = [o for o in vl.objects if o.type == "ARMATURE"]
        if len(arms) > 1:
            raise SceneSourceError(f"source 'Scene Armature': {len(arms)} armatures ("
                                   f"{', '.join(sorted(o.name for o in arms))}); make the one to export the "
                                   "active object")
        if not arms:
            outside = sorted(o.name for o in context.scene.objects if o.type == "ARMATURE")
            if outside:
                raise SceneSourceError(f"armature '{outside[0]}' is in a collection excluded from the view layer "
                                       f"'{vl.name}': Blender does not evaluate it; tick its collection in the "
                                       "Outliner")
            raise SceneSourceError("source 'Scene Armature' needs an armature: make the armature to export the "
                                   "active object")
        obj = arms[0]
    check_evaluated(obj, context, depsgraph)
    return obj


def check_evaluated(obj, context, depsgraph=True):
    """Raise SceneSourceError when Blender's depsgraph does not evaluate `obj` (its pose would not move).
    depsgraph=False (for drawing) checks only the object's and its collections' flags."""
    vl = context.view_layer
    if obj.name not in vl.objects:
        raise SceneSourceError(f"armature '{obj.name}' is in a collection excluded from the view layer "
                               f"'{vl.name}': Blender does not evaluate it; tick its collection in the Outliner")
    off = sorted(c.name for c in obj.users_collection if c.hide_viewport)
    if obj.hide_viewport:
        why = "is disabled in viewports (Object Properties > Visibility > Show in Viewports)"
    elif off:
        why = f"is in the collection '{off[0]}', which is disabled in viewports"
    elif depsgraph and obj.evaluated_get(context.evaluated_depsgraph_get()).as_pointer() == obj.as_pointer():
        why = "is not evaluated by Blender in this view layer"
    else:
        return
    raise SceneSourceError(f"armature '{obj.name}' {why}: Blender does not evaluate it, so its pose would not "
                           "move; enable it")


def frame_range(obj, scene):
    """(first, last) frames to evaluate: the action's frame range, or the scene's when there is no action."""
    ad = obj.animation_data
    action = ad.action if ad is not None else None
    if action is not None:
        first, last = action.frame_range
        return int(round(first)), int(round(last))
    return int(scene.frame_start), int(scene.frame_end)


def scene_fps(scene):
    return round(scene.render.fps / scene.render.fps_base, 3)


class ArmatureSampler:
    """Evaluates an armature frame by frame (so a modal operator can do a few frames per tick).

    `times` are scene frames (floats allowed: subframes, when resampling to another fps).
    """

    def __init__(self, obj, scene, fps=None):
        if obj is None or obj.type != "ARMATURE":
            raise SceneSourceError("source 'Scene' needs an active armature: select the armature whose "
                                   "animation to export")
        if not obj.pose.bones:
            raise SceneSourceError(f"armature '{obj.name}' has no bones")
        self.obj, self.scene = obj, scene
        first, last = frame_range(obj, scene)
        if last < first:
            raise SceneSourceError(f"armature '{obj.name}': empty frame range {first}..{last}")
        self.source_fps = scene_fps(scene)
        if fps:
            duration = (last - first) / self.source_fps
            n = int(np.floor(duration * float(fps) + 1e-9)) + 1
            self.times = first + np.arange(n) * (self.source_fps / float(fps))
            self.fps = float(fps)
        else:
            self.times = np.arange(first, last + 1, dtype=np.float64)
            self.fps = self.source_fps
        self.first, self.last = first, last
        bones = obj.data.bones
        self.names = [b.name for b in bones]
        index = {n: i for i, n in enumerate(self.names)}
        self.parents = [index[b.parent.name] if b.parent else -1 for b in bones]
        self.leaves = [i for i, b in enumerate(bones) if not b.children]
        n, f = len(bones), len(self.times)
        self.mats = np.empty((f, n, 4, 4), dtype=np.float64)
        self.done = 0
        self._buf = np.empty(n * 16, dtype=np.float32)

    @property
    def frame_count(self):
        return len(self.times)

    def step(self, count=1):
        """Evaluate up to `count` more frames; returns True when all are done."""
        scene = self.scene
        bones = self.obj.pose.bones
        for _ in range(count):
            if self.done >= len(self.times):
                break
            t = float(self.times[self.done])
            frame = int(np.floor(t))
            sub = t - frame
            scene.frame_set(frame, subframe=sub) if sub > 1e-9 else scene.frame_set(frame)
            evaluated = self.obj.evaluated_get(self.scene_depsgraph())
            world = np.array(evaluated.matrix_world, dtype=np.float64)
            evaluated.pose.bones.foreach_get("matrix", self._buf)
            # foreach_get on matrices is column-major per matrix: transpose to row-major
            pose = self._buf.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)
            self.mats[self.done] = world @ pose
            self.done += 1
        return self.done >= len(self.times)

    def scene_depsgraph(self):
        import bpy
        return bpy.context.evaluated_depsgraph_get()

    def sequence(self, subject, action):
        """The Sequence of the evaluated frames (call when step() returned True)."""
        obj = self.obj
        metres = unit_scale(self.scene)
        to_metres = np.diag([metres, metres, metres, 1.0])
        world = to_metres @ np.array(obj.matrix_world, dtype=np.float64)
        w3 = world[:3, :3]
        bones = obj.data.bones
        n = len(bones)
        rest = np.empty(n * 16, dtype=np.float32)
        bones.foreach_get("matrix_local", rest)
        rest = rest.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)
        rest_world = world @ rest
        heads_local = np.array([b.head_local for b in bones], dtype=np.float64)
        tails_local = np.array([b.tail_local for b in bones], dtype=np.float64)
        mats = to_metres @ self.mats[: self.done]
        positions = mats[:, :, :3, 3]
        rot = mats[:, :, :3, :3] @ np.linalg.inv(rest_world[:, :3, :3])[None]
        rot = _orthonormalise(rot)
        offsets = np.empty((n, 3))
        for i, p in enumerate(self.parents):
            offsets[i] = w3 @ (heads_local[i] - (heads_local[p] if p >= 0 else 0.0))
        # End Sites: tail of every leaf bone, carried by the bone's pose
        ends = self.leaves
        end_rest = tails_local[ends] - heads_local[ends]                       # armature space
        end_in_bone = np.einsum("bji,bj->bi", rest[ends, :3, :3], end_rest)    # bone space (rest)
        end_pos = positions[:, ends] + np.einsum("fbij,bj->fbi", mats[:, ends, :3, :3], end_in_bone)
        names = self.names + [f"{self.names[i]}_End" for i in ends]
        parents = self.parents + list(ends)
        is_end = np.array([False] * n + [True] * len(ends))
        all_pos = np.concatenate([positions, end_pos], axis=1)
        all_rot = np.concatenate([rot, rot[:, ends]], axis=1)
        all_off = np.concatenate([offsets, end_rest @ w3.T], axis=0)
        height = float(np.ptp(all_pos[0, :, 2])) if len(all_pos) else 0.0
        info = {"source_frames": int(self.last - self.first + 1), "source_fps": self.source_fps,
                "armature": obj.name, "frame_range": [self.first, self.last], "unit_scale": metres}
        return Sequence(subject=subject, action=action, source=f"scene:{obj.name}", names=names, parents=parents,
                        is_end_site=is_end, positions=all_pos, rotations=all_rot, rest_offsets=all_off,
                        fps=self.fps, scale=metres, unit="scene", height=height, info=info)


def _orthonormalise(r):
    u, _, vt = np.linalg.svd(r)
    out = u @ vt
    return out


def evaluate_armature(obj, scene, subject, action, fps=None):
    """Whole-range Sequence in one call (restores the current frame)."""
    frame, sub = scene.frame_current, scene.frame_subframe
    try:
        sampler = ArmatureSampler(obj, scene, fps)
        sampler.step(sampler.frame_count)
        return sampler.sequence(subject, action)
    finally:
        scene.frame_set(frame, subframe=sub)
