"""Takes too long to hold whole: read, kinematise and map a BVH file window by window.

The usual path (`sequence.sequence_from_bvh`, then `dataset.map_sequence`) holds the take's motion, every
point's world position and rotation and the mapped joints at once: about 11 KB a frame for a 45-point
skeleton, 10 GB for a 1,000,000-frame take. A file larger than LONG_TAKE_BYTES goes this way instead: its
motion rows are read CHUNK_BYTES of text at a time (`bvh.MotionStream`), and each window is resampled,
kinematised and mapped to the output joints before the next is read. What stays is what the dataset needs:
the mapped joints (F, J, 3), and for COCO-17 the face points, plus a few numbers per frame.

The unit (`units.pick_unit`) is chosen from the whole take's standing extent, known only at the end, so the
windows are mapped in the file's units and axes and turned into world metres at the end (a sign-permutation
of the axes is exact; the scale is applied after the mapping's weighted sums instead of before: the same
numbers to ~1e-16 relative). Everything else is the usual path's code on each window. Peak memory: the
mapped joints (408 bytes a frame for Human3.6M-17 in float64) plus one window's temporaries (~100 MB).
"""
import os
import stat
from pathlib import Path

import numpy as np

from .bvh import BvhMotion, open_stream
from .errors import InputError
from .kinematics import BVH_TO_WORLD, forward_kinematics, local_transforms, resample_plan, resample_rows
from .layouts import H36M17, face_points_from_forward, rest_forward
from .sequence import (WorldRotations, check_body_values, check_header_values, check_motion_values,
                       check_resampled_frames)
from .skeleton_presets import HEAD_TOP_RATIO, resolve
from .units import pick_unit

LONG_TAKE_BYTES = 32 << 20  # files larger than this are read window by window
EXTENT_SAMPLES = 64         # as units.standing_extent


def is_long(path):
    """Whether a BVH file is read window by window (a regular file larger than LONG_TAKE_BYTES)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size > LONG_TAKE_BYTES


class _Skeleton:
    """What the joint map resolves from: names, parents, End Sites and rest offsets (world axes, file units)."""

    def __init__(self, joints):
        self.names = [j.name for j in joints]
        self.parents = [j.parent for j in joints]
        self.is_end_site = np.array([j.is_end_site for j in joints])
        self.rest_offsets = np.array([j.offset for j in joints]) @ BVH_TO_WORLD.T


def load_long(path, subject, action, options, mapping=None, face=False):
    """(joints (F, 17, 3) world metres, face (F, 5, 3) or None, info, joint map) of a long take, or None when
    the file is not read as a stream (then the usual path reads it whole and words any error). `face`: make
    the COCO face points too (dataset.wants_face)."""
    stream = open_stream(path)
    if stream is None:
        return None
    try:
        return _load(stream, Path(path), subject, action, options, mapping, face)
    finally:
        stream.close()


def _load(stream, path, subject, action, options, mapping, face):
    joints, header = stream.joints, stream.header
    check_header_values(path, header.frame_time, joints)
    source_fps = round(1.0 / header.frame_time, 3)
    frames = header.frames
    plan = None
    if options.fps is not None:
        check_resampled_frames(path, frames, 1.0 / source_fps, float(options.fps))
        plan = resample_plan(frames, 1.0 / source_fps, float(options.fps))
    out_frames = frames if plan is None else len(plan[0])
    skeleton = _Skeleton(joints)
    jm = resolve(skeleton, preset=options.preset, mapping=mapping, source=str(path))
    acc = _Accumulator(out_frames, jm, skeleton, face)
    for first, local_rot, local_trans in _resampled(stream, plan, path):
        acc.add(first, local_rot, local_trans)
    extent = acc.extent()
    if options.scale == "auto":
        unit, factor = pick_unit(extent)
        if unit is None:
            raise InputError(path, "skeleton has no height (all joints at one level): not a human skeleton")
    else:
        unit, factor = "custom", float(options.scale)
    check_body_values(path, acc.reach, extent, factor)
    out, face = acc.finish(factor)
    info = {"source_frames": frames, "source_fps": 1.0 / header.frame_time, "frames": int(out.shape[0]),
            "fps": float(options.fps) if plan is not None else source_fps, "scale": factor, "unit": unit,
            "height_m": round(float(extent * factor), 4), "skeleton_preset": jm.preset}
    return out, face, info, jm


def _resampled(stream, plan, path):
    """(first output frame, local rotations, local translations) per window of checked motion rows: the
    file's frames, or the frames of `plan` (kinematics.resample_plan) made from the rows read so far (the
    previous window's last row is kept for the new frames that fall between two windows)."""
    bvh = BvhMotion(stream.path, stream.joints, stream.frame_time, None)
    done, carry = 0, None
    for row, motion in stream.windows():
        check_motion_values(path, stream.joints, motion, first_row=row)
        bvh.motion = motion
        rot, trans = local_transforms(bvh)
        if plan is None:
            yield row, rot, trans
            continue
        base = row
        if carry is not None:
            rot, trans, base = np.concatenate([carry[0], rot]), np.concatenate([carry[1], trans]), row - 1
        i0, i1, a = plan
        last = row + len(motion) - 1
        end = int(np.searchsorted(i1, last, side="right"))
        if end > done:
            yield (done, *resample_rows(rot, trans, i0[done:end] - base, i1[done:end] - base, a[done:end]))
        done, carry = end, (rot[-1:], trans[-1:])


class _Accumulator:
    """The mapped joints of a take, filled window by window (file units and axes until `finish`)."""

    def __init__(self, frames, jm, skeleton, coco):
        self.jm, self.parents = jm, skeleton.parents
        self.joints = np.empty((frames, jm.weights.shape[0], 3))
        self.reach = 0.0
        self.samples = np.unique(np.linspace(0, frames - 1, min(EXTENT_SAMPLES, frames)).round().astype(int))
        self.sample_extent = np.empty(len(self.samples))
        self.heads = {j: (np.empty((frames, 3)), np.empty((frames, 3))) for j in jm.head_top_estimates}
        self.head_dirs = {}
        for j, (head, _, _) in jm.head_top_estimates.items():
            d = skeleton.rest_offsets[head]
            n = np.linalg.norm(d)
            self.head_dirs[j] = d / n if n > 0 else np.array([0.0, 0.0, 1.0])
        self.forward = None
        if coco:
            self.head = int(np.argmax(jm.weights[H36M17.joint_names.index("Neck/Nose")]))
            self.rest_fwd = rest_forward(skeleton.rest_offsets, skeleton.parents, jm.weights)
            self.forward = np.empty((frames, 3))

    def add(self, first, local_rot, local_trans):
        glob_rot, glob_pos = forward_kinematics(self.parents, local_rot, local_trans)
        end = first + len(glob_pos)
        self.reach = max(self.reach, float(np.abs(glob_pos).max()))
        take = (self.samples >= first) & (self.samples < end)
        y = glob_pos[self.samples[take] - first, :, 1]  # BVH is Y-up
        self.sample_extent[take] = y.max(axis=1) - y.min(axis=1)
        a = BVH_TO_WORLD
        pos = glob_pos @ a.T  # world axes, file units (exact: a permutes and negates)
        self.joints[first:end] = np.einsum("jn,fnc->fjc", self.jm.weights, pos)
        if self.heads or self.forward is not None:
            rot = WorldRotations(glob_rot, a)  # converted only for the head points indexed below
            for j, (head, _, _) in self.jm.head_top_estimates.items():
                self.heads[j][0][first:end] = pos[:, head]
                self.heads[j][1][first:end] = rot[:, head] @ self.head_dirs[j]
            if self.forward is not None:
                self.forward[first:end] = rot[:, self.head] @ self.rest_fwd

    def extent(self):
        return float(np.median(self.sample_extent))

    def finish(self, factor):
        """(joints, face) in world metres."""
        out = self.joints
        out *= factor
        for j, (head_pos, direction) in self.heads.items():
            _, hip_j, thorax_j = self.jm.head_top_estimates[j]
            length = HEAD_TOP_RATIO * np.median(np.linalg.norm(out[:, thorax_j] - out[:, hip_j], axis=-1))
            out[:, j] = factor * head_pos + length * direction
        face = face_points_from_forward(out, self.forward) if self.forward is not None else None
        return out, face
