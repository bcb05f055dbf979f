"""Rotation helpers, vectorised over any leading axes: Euler angles, matrices, quaternions (w, x, y, z)."""
import numpy as np

_AXIS_INDEX = {"x": 0, "y": 1, "z": 2}


def axis_rotation(axis, angles):
    """Rotation matrices (..., 3, 3) about one principal axis ('x', 'y' or 'z') by `angles` in radians."""
    angles = np.asarray(angles, dtype=np.float64)
    c, s = np.cos(angles), np.sin(angles)
    out = np.zeros(angles.shape + (3, 3))
    i = _AXIS_INDEX[axis]
    j, k = (i + 1) % 3, (i + 2) % 3
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


def euler_to_matrix(angles_deg, order):
    """Intrinsic Euler rotation as BVH defines it: R = R_order[0] @ R_order[1] @ R_order[2].

    `angles_deg` is (..., len(order)) in the order the channels are listed, `order` e.g. 'zxy'.
    """
    angles = np.radians(np.asarray(angles_deg, dtype=np.float64))
    result = None
    for n, axis in enumerate(order.lower()):
        r = axis_rotation(axis, angles[..., n])
        result = r if result is None else result @ r
    if result is None:
        result = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    return result


def matrix_to_quaternion(m):
    """Unit quaternions (..., 4) as (w, x, y, z) with w >= 0 for rotation matrices (..., 3, 3)."""
    m = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Shepperd's method: pick the largest of 4 candidate denominators for stability.
    cands = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = np.argmax(cands, axis=-1)
    q = np.empty(m.shape[:-2] + (4,))
    s = np.sqrt(np.maximum(np.take_along_axis(cands, best[..., None], -1)[..., 0], 1e-300)) * 2
    w_x = m[..., 2, 1] - m[..., 1, 2]
    w_y = m[..., 0, 2] - m[..., 2, 0]
    w_z = m[..., 1, 0] - m[..., 0, 1]
    x_y = m[..., 0, 1] + m[..., 1, 0]
    x_z = m[..., 0, 2] + m[..., 2, 0]
    y_z = m[..., 1, 2] + m[..., 2, 1]
    table = np.stack([
        np.stack([s / 4, w_x / s, w_y / s, w_z / s], -1),
        np.stack([w_x / s, s / 4, x_y / s, x_z / s], -1),
        np.stack([w_y / s, x_y / s, s / 4, y_z / s], -1),
        np.stack([w_z / s, x_z / s, y_z / s, s / 4], -1),
    ], -2)
    q = np.take_along_axis(table, best[..., None, None], -2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def quaternion_to_matrix(q):
    """Rotation matrices (..., 3, 3) for quaternions (..., 4) given as (w, x, y, z)."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def slerp(q0, q1, t):
    """Spherical linear interpolation between unit quaternions (..., 4), taking the short way round."""
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-9
    safe = np.where(near, 1.0, sin_theta)
    a = np.where(near, 1 - t, np.sin((1 - t) * theta) / safe)
    b = np.where(near, t, np.sin(t * theta) / safe)
    out = a * q0 + b * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)
