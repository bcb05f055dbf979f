"""A motion sequence in world space (metres, Z up): the common input of mapping, cameras and writing.

Built from a BVH file here, or by the Blender layer from an armature evaluated in the scene.
"""
from dataclasses import dataclass, field

import numpy as np

from . import limits
from .bvh import read_bvh
from .errors import InputError
from .kinematics import BVH_TO_WORLD, forward_kinematics, local_transforms, resample
from .units import pick_unit, standing_extent


@dataclass
class Sequence:
    """World-space points of one take.

    names/parents/is_end_site describe N points (joints, then End Sites in file order); positions are
    (F, N, 3) metres, rotations (F, N, 3, 3) each point's world rotation relative to its rest pose (an array
    or WorldRotations; End Sites take their joint's), rest_offsets (N, 3) each point's rest offset from its parent in world
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
    check_bvh_values(bvh)
    parents = [j.parent for j in bvh.joints]
    source_fps = round(1.0 / bvh.frame_time, 3)  # 'Frame Time: 0.0333333' means 30 fps
    if fps is not None:
        check_resampled_frames(path, bvh.frame_count, 1.0 / source_fps, float(fps))
    local_rot, local_trans = local_transforms(bvh)
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
    check_body(path, glob_pos, extent, factor)
    a = BVH_TO_WORLD
    positions = factor * (glob_pos @ a.T)
    rotations = WorldRotations(glob_rot, a)
    offsets = np.array([j.offset for j in bvh.joints]) * factor @ a.T
    return Sequence(
        subject=subject, action=action, source=str(path),
        names=[j.name for j in bvh.joints], parents=parents,
        is_end_site=np.array([j.is_end_site for j in bvh.joints]),
        positions=positions, rotations=rotations, rest_offsets=offsets,
        fps=out_fps, scale=factor, unit=unit, height=extent * factor,
        info={"source_frames": bvh.frame_count, "source_fps": 1.0 / bvh.frame_time},
    )


class WorldRotations:
    """Every point's world rotation (F, N, 3, 3), turned from BVH axes into world axes only for the points
    indexed (`rotations[:, head]`): the mapping needs one or two points' rotations, not all of them."""

    def __init__(self, bvh_rotations, axes):
        self.bvh, self.axes = bvh_rotations, axes

    @property
    def shape(self):
        return self.bvh.shape

    def __getitem__(self, index):
        return self.axes @ self.bvh[index] @ self.axes.T

    def __array__(self, dtype=None, copy=None):
        out = self.axes @ self.bvh @ self.axes.T
        return out if dtype is None else out.astype(dtype)


def check_bvh_values(bvh):
    """The header's frame rate and every OFFSET and motion value within limits.RANGES (InputError naming the
    file, and the joint or frame)."""
    check_header_values(bvh.path, bvh.frame_time, bvh.joints)
    check_motion_values(bvh.path, bvh.joints, bvh.motion)


def check_header_values(path, frame_time, joints):
    fps = 1.0 / frame_time
    if not limits.in_range("fps", fps):
        raise InputError(path, f"'Frame Time: {frame_time:g}' is {fps:g} frames/s: the frame rate must be "
                               f"{limits.describe('fps')}")
    high = limits.RANGES["bvh_value"][1]
    for j in joints:
        if np.abs(j.offset).max() > high:
            raise InputError(path, f"joint '{j.name}': OFFSET {' '.join(f'{v:g}' for v in j.offset)} is beyond "
                                   f"{high:g} in magnitude: not a body")


def check_motion_values(path, joints, motion, first_row=0):
    """Every motion value of `motion` (rows from `first_row`) within limits.RANGES['bvh_value']."""
    high = limits.RANGES["bvh_value"][1]
    big = np.abs(motion) > high
    if big.any():
        frame, column = np.unravel_index(int(np.argmax(big)), big.shape)
        joint = next(j.name for j in joints if j.channel_start <= column < j.channel_start + len(j.channels))
        raise InputError(path, f"motion value {motion[frame, column]:g} (frame {first_row + frame + 1}, joint "
                               f"'{joint}') is beyond {high:g} in magnitude: not a motion")


def check_resampled_frames(path, frames, frame_time, fps):
    """Resampling to `fps` may not multiply the frames by more than limits' 'upsample' (checked before any
    allocation: `--fps 1e7` on a short file is an error, not gigabytes)."""
    count = int(np.floor((frames - 1) * frame_time * fps + 1e-9)) + 1
    most = limits.RANGES["upsample"][1]
    if count > most * max(frames, 1):
        raise InputError(path, f"--fps {fps:g} would make {count} frames of its {frames} at {1 / frame_time:g} fps: "
                               f"at most {most:g}x the file's frames")


def check_body(path, glob_pos, extent, factor):
    """The scaled skeleton's height and every joint's distance from the origin within limits.RANGES."""
    check_body_values(path, float(np.abs(glob_pos).max()), extent, factor)


def check_body_values(path, reach_units, extent, factor):
    """check_body, from the largest coordinate magnitude (file units) and the standing extent."""
    height = extent * factor
    if not limits.in_range("body_height", height):
        raise InputError(path, f"skeleton is {height:.3g} m tall at scale {factor:g} m per unit: must be "
                               f"{limits.describe('body_height')} (check --scale)")
    reach = reach_units * factor
    if not limits.in_range("coordinate", reach):
        raise InputError(path, f"joints reach {reach:.3g} m from the origin at scale {factor:g}: must be within "
                               f"{limits.RANGES['coordinate'][1]:g} m (check the file's units or --scale)")
