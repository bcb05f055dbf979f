"""Projection of world points through cameras with Human3.6M's distortion model (VideoPose3D's
`project_to_2d`), vectorised over cameras, frames and joints."""
import numpy as np


def world_to_camera(points, rotation, translation):
    """Camera-frame points (..., 3): rotate (X - t) by the inverse of the camera->world rotation."""
    centred = points - translation
    # As one (N, 3) @ (3, 3) product: a stacked (..., 3) @ (3, 3) loops over the leading axes, slowly.
    return (centred.reshape(-1, 3) @ rotation).reshape(centred.shape)


def distort_and_project(points_cam, focal, center, radial, tangential):
    """Pixels (..., 2) for camera-frame points (..., 3): the shared doc's model, clamp included."""
    if not np.any(radial) and not np.any(tangential):
        return _pinhole(points_cam, focal, center)
    z = points_cam[..., 2:3]
    xy = np.clip(points_cam[..., :2] / z, -1.0, 1.0)
    r2 = np.sum(xy * xy, axis=-1, keepdims=True)
    k1, k2, k3 = radial
    p1, p2 = tangential
    radial_term = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    tan = p1 * xy[..., 0:1] + p2 * xy[..., 1:2]
    xy_d = xy * (radial_term + tan) + np.array([p1, p2]) * r2
    return xy_d * np.asarray(focal, dtype=np.float64) + np.asarray(center, dtype=np.float64)


def _pinhole(points_cam, focal, center):
    """distort_and_project with zero distortion, bit for bit: there the model's radial factor is exactly 1
    and its tangential terms exactly 0, so the pixel is focal * clamp(x / z) + center. Computed per axis on
    whole arrays (an innermost axis of length 2 makes numpy loop slowly), about 5x faster."""
    z = points_cam[..., 2]
    out = np.empty(points_cam.shape[:-1] + (2,))
    for k in range(2):
        uv = np.divide(points_cam[..., k], z)
        np.clip(uv, -1.0, 1.0, out=uv)
        np.multiply(uv, float(focal[k]), out=uv)
        np.add(uv, float(center[k]), out=out[..., k])
    nan = np.isnan(out)
    if nan.any():  # a point on the camera plane (0/0): the general model's r2 makes both coordinates NaN
        out[nan.any(axis=-1)] = np.nan
    return out


CHUNK_POINTS = 32768  # points per block: a block's temporaries stay in the CPU cache (about 6x faster)


def _project_block(points, camera):
    cam = world_to_camera(points, camera.rotation, camera.translation)
    px = distort_and_project(cam, camera.focal, camera.center, camera.radial, camera.tangential)
    visible = ((cam[..., 2] > 0) & (px[..., 0] >= 0) & (px[..., 0] < camera.res_w)
               & (px[..., 1] >= 0) & (px[..., 1] < camera.res_h))
    return px, visible


def project(points_world, camera):
    """Pixels (..., 2) and visibility (...) of world points (..., 3) in one Camera.

    Visible means in front of the camera and inside the image [0, res_w) x [0, res_h). Large inputs are
    projected block by block; every point gets the same operations, so the result is the same bits.
    """
    shape = points_world.shape[:-1]
    flat = points_world.reshape(-1, 3)
    if len(flat) <= CHUNK_POINTS:
        px, visible = _project_block(flat, camera)
    else:
        px = np.empty((len(flat), 2))
        visible = np.empty(len(flat), dtype=bool)
        for start in range(0, len(flat), CHUNK_POINTS):
            stop = start + CHUNK_POINTS
            px[start:stop], visible[start:stop] = _project_block(flat[start:stop], camera)
    return px.reshape(shape + (2,)), visible.reshape(shape)
