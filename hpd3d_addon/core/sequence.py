"""A motion sequence in world space (metres, Z up): the common input of mapping, cameras and writing.

Built from a BVH file here, or by the Blender layer from an armature evaluated in the scene.
"""
from dataclasses import dataclass, field

import numpy as np

from .bvh import read_bvh
from .errors import InputError
from .kinematics import BVH_TO_WORLD, forward_kinematics, local_transforms, resample
from .units import pick_unit, standing_extent


@dataclass
class Sequence:
    """World-space points of one take.

    names/parents/is_end_site describe N points (joints, then End Sites in file order); positions are
    (F, N, 3) metres, rotations (F, N, 3, 3) each point's world rotation relative to its rest pose
    (End Sites take their joint's), rest_offsets (N, 3) each point's rest offset from its parent in world
    axes and metres.
    """
    subject: str
    action: str
    source: str
    names: list
    parents: list
    is_end_site: np.ndarray
    positions: np.ndarray
    rotations: np.ndarray
    rest_offsets: np.ndarray
    fps: float
    scale: float = 1.0
    unit: str = "m"
    height: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def frame_count(self):
        return self.positions.shape[0]


def sequence_from_bvh(path, subject, action, scale="auto", fps=None):
    """Read a BVH file and run forward kinematics into a Sequence.

    scale: 'auto' picks the unit giving a human height (see units.py), or a float (metres per unit).
    fps: None keeps the file's frames; a number resamples (slerp on rotations, lerp on positions).
    """
    bvh = read_bvh(path)
    parents = [j.parent for j in bvh.joints]
    local_rot, local_trans = local_transforms(bvh)
    source_fps = round(1.0 / bvh.frame_time, 3)  # 'Frame Time: 0.0333333' means 30 fps
    if fps is not None:
        # Resample on the same 30 fps clock, or the take comes out 1e-6 short and loses its last frame.
        local_rot, local_trans = resample(local_rot, local_trans, 1.0 / source_fps, float(fps))
        out_fps = float(fps)
    else:
        out_fps = source_fps
    glob_rot, glob_pos = forward_kinematics(parents, local_rot, local_trans)
    extent = standing_extent(glob_pos[..., 1])  # BVH is Y-up
    if scale == "auto":
        unit, factor = pick_unit(extent)
        if unit is None:
            raise InputError(path, "skeleton has no height (all joints at one level): not a human skeleton")
    else:
        unit, factor = "custom", float(scale)
    a = BVH_TO_WORLD
    positions = factor * (glob_pos @ a.T)
    rotations = a @ glob_rot @ a.T
    offsets = np.array([j.offset for j in bvh.joints]) * factor @ a.T
    return Sequence(
        subject=subject, action=action, source=str(path),
        names=[j.name for j in bvh.joints], parents=parents,
        is_end_site=np.array([j.is_end_site for j in bvh.joints]),
        positions=positions, rotations=rotations, rest_offsets=offsets,
        fps=out_fps, scale=factor, unit=unit, height=extent * factor,
        info={"source_frames": bvh.frame_count, "source_fps": 1.0 / bvh.frame_time},
    )
