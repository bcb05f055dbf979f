"""Forward kinematics of a BVH skeleton, vectorised over frames, and resampling to another frame rate.

World frame: the one Blender's BVH importer gives with axis_forward='-Z', axis_up='Y': a BVH (Y-up) point
(x, y, z) lands at (x, -z, y) * scale, Z up.
"""
import numpy as np

from .rotations import euler_to_matrix, matrix_to_quaternion, quaternion_to_matrix, slerp

# BVH (Y-up) -> Blender world (Z-up): (x, y, z) -> (x, -z, y)
BVH_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def local_transforms(bvh):
    """Per-frame local rotations (F, N, 3, 3) and translations (F, N, 3) of every point, in BVH units.

    A joint with position channels is translated by them (missing axes read as 0, as Blender's importer
    does); otherwise by its OFFSET. End Sites carry their OFFSET and no rotation.
    """
    frames = bvh.motion.shape[0]
    count = len(bvh.joints)
    rot = np.broadcast_to(np.eye(3), (frames, count, 3, 3)).copy()
    trans = np.empty((frames, count, 3))
    by_order = {}  # rotation channel order -> (joint indices, motion columns): one Euler evaluation per order
    for j, joint in enumerate(bvh.joints):
        chans = joint.channels
        start = joint.channel_start
        if any(c.endswith("position") for c in chans):
            t = np.zeros((frames, 3))
            for k, c in enumerate(chans):
                if c.endswith("position"):
                    t[:, "xyz".index(c[0])] = bvh.motion[:, start + k]
            trans[:, j] = t
        else:
            trans[:, j] = joint.offset
        rot_chans = [(k, c[0]) for k, c in enumerate(chans) if c.endswith("rotation")]
        if rot_chans:
            order = "".join(a for _, a in rot_chans)
            joints, cols = by_order.setdefault(order, ([], []))
            joints.append(j)
            cols.append([start + k for k, _ in rot_chans])
    for order, (joints, cols) in by_order.items():
        rot[:, joints] = euler_to_matrix(bvh.motion[:, np.array(cols)], order)
    return rot, trans


def forward_kinematics(parents, local_rot, local_trans):
    """Global rotations (F, N, 3, 3) and positions (F, N, 3); `parents` lists parents before children.
    Vectorised over the points of one depth of the tree (a few levels instead of one step per point)."""
    glob_rot = np.empty_like(local_rot)
    glob_pos = np.empty_like(local_trans)
    for js, ps in tree_levels(tuple(parents)):
        if ps is None:
            glob_rot[:, js] = local_rot[:, js]
            glob_pos[:, js] = local_trans[:, js]
        else:
            parent_rot = glob_rot[:, ps]
            glob_rot[:, js] = parent_rot @ local_rot[:, js]
            glob_pos[:, js] = glob_pos[:, ps] + np.einsum("fkij,fkj->fki", parent_rot, local_trans[:, js])
    return glob_rot, glob_pos


_LEVELS = {}


def tree_levels(parents):
    """[(point indices, their parents' indices or None for roots)] by depth, roots first (cached)."""
    if parents not in _LEVELS:
        if len(_LEVELS) > 1000:
            _LEVELS.clear()
        depth = []
        for p in parents:
            depth.append(0 if p < 0 else depth[p] + 1)
        depth = np.array(depth, dtype=int)
        par = np.array(parents, dtype=int)
        _LEVELS[parents] = [(np.flatnonzero(depth == d), None if d == 0 else par[depth == d])
                            for d in range(int(depth.max()) + 1 if len(depth) else 0)]
    return _LEVELS[parents]


def resample(local_rot, local_trans, frame_time, fps):
    """Resample local transforms to `fps`: rotations by slerp, translations linearly.

    The new frames are at t = k / fps from the first frame up to the last; bone lengths stay constant
    because only rotations and the position channels are interpolated.
    """
    i0, i1, a = resample_plan(local_rot.shape[0], frame_time, fps)
    return resample_rows(local_rot, local_trans, i0, i1, a)


def resample_plan(frames, frame_time, fps):
    """For each new frame: the source frames before and after it (i0, i1) and the weight of i1 (a)."""
    duration = (frames - 1) * frame_time
    count = int(np.floor(duration * fps + 1e-9)) + 1
    src = np.arange(count) / fps / frame_time
    i0 = np.minimum(np.floor(src).astype(int), frames - 1)
    i1 = np.minimum(i0 + 1, frames - 1)
    return i0, i1, src - i0


def resample_rows(local_rot, local_trans, i0, i1, a):
    """The new frames between source rows i0 and i1 (indices into local_rot/local_trans) at weights a."""
    q = matrix_to_quaternion(local_rot)
    q_new = slerp(q[i0], q[i1], np.broadcast_to(a[:, None], q[i0].shape[:-1]))
    rot = quaternion_to_matrix(q_new)
    trans = local_trans[i0] * (1 - a)[:, None, None] + local_trans[i1] * a[:, None, None]
    return rot, trans
