"""Blender cameras <-> the core's pinhole cameras (VideoPose3D convention), exactly.

Blender's projection (BKE_camera_params_compute_viewplane), for a perspective camera with lens `f` mm,
sensor size `S` mm chosen by the sensor fit, render size W x H pixels (the whole pixels Blender renders:
int(resolution x percentage / 100)) and pixel aspect (ax, ay):

    fit     = HORIZONTAL, VERTICAL, or for AUTO: HORIZONTAL when ax*W >= ay*H, else VERTICAL
    S       = sensor_width for AUTO and HORIZONTAL, sensor_height for VERTICAL
    ycor    = ay / ax
    viewfac = W for a horizontal fit, ycor * H for a vertical one
    fx = f / S * viewfac          fy = fx / ycor
    cx = W / 2 - shift_x * viewfac
    cy = H / 2 + shift_y * viewfac / ycor

(pixels x right, y down, origin at the image's top-left corner). Blender's camera looks down its local
-Z with +Y up; ours looks down +Z with +Y down, so R_ours = R_blender @ diag(1, -1, -1). Object scale is
ignored, as Blender's own world_to_camera_view does (it uses the normalised world matrix). Camera centres
are in metres: Blender units times the scene's Unit Scale.
"""
import numpy as np

from ..core.cameras import Camera

FLIP = np.diag([1.0, -1.0, -1.0])
DEFAULT_SENSOR_MM = 36.0


class SceneCameraError(ValueError):
    """A camera object that cannot be expressed as a pinhole camera (orthographic, panoramic, ...)."""


def render_size(render):
    """(W, H): the image size in whole pixels Blender renders (BKE_render_resolution: resolution times
    percentage / 100, rounded down), as floats."""
    pct = render.resolution_percentage
    return float(render.resolution_x * pct // 100), float(render.resolution_y * pct // 100)


def intrinsics(cam_data, render):
    """(fx, fy, cx, cy, W, H) in pixels of a Blender camera datablock under these render settings."""
    if cam_data.type != "PERSP":
        raise SceneCameraError(f"camera '{cam_data.name}' is {cam_data.type.lower()}, only perspective cameras "
                               "map to VideoPose3D's pinhole model")
    w, h = render_size(render)
    ax, ay = float(render.pixel_aspect_x), float(render.pixel_aspect_y)
    fit = cam_data.sensor_fit
    if fit == "AUTO":
        fit = "HORIZONTAL" if ax * w >= ay * h else "VERTICAL"
        sensor = cam_data.sensor_width
    elif fit == "HORIZONTAL":
        sensor = cam_data.sensor_width
    else:
        sensor = cam_data.sensor_height
    ycor = ay / ax
    viewfac = w if fit == "HORIZONTAL" else ycor * h
    fx = cam_data.lens / sensor * viewfac
    fy = fx / ycor
    cx = w / 2.0 - cam_data.shift_x * viewfac
    cy = h / 2.0 + cam_data.shift_y * viewfac / ycor
    return fx, fy, cx, cy, w, h


def camera_from_object(obj, scene, metres_per_unit=1.0):
    """The core Camera equal to a Blender camera object under the scene's render settings (its centre in
    metres: Blender units times metres_per_unit)."""
    fx, fy, cx, cy, w, h = intrinsics(obj.data, scene.render)
    m = np.array(obj.matrix_world.normalized(), dtype=np.float64)
    rot = m[:3, :3]
    # normalized() removes scale; re-orthonormalise against float32 storage drift
    u, _, vt = np.linalg.svd(rot)
    rot = u @ vt
    name = obj.name[len("HPD3D "):] if obj.name.startswith("HPD3D ") else obj.name
    return Camera(id=name, res_w=int(w), res_h=int(h), focal=np.array([fx, fy]), center=np.array([cx, cy]),
                  rotation=rot @ FLIP, translation=m[:3, 3] * metres_per_unit)


def camera_to_json_dict(cam):
    """A rig-file camera entry (what core.rigs reads for a camera given by orientation + translation)."""
    d = cam.intrinsics_dict()
    d.update(cam.extrinsics_dict())
    return d


def render_settings_for(cameras):
    """(res_x, res_y, pixel_aspect_x, pixel_aspect_y) that fit a rig: its common resolution, and the pixel
    aspect of fy/fx when every camera has the same ratio (pixel aspect is one setting for the whole scene;
    otherwise square pixels and fy is taken equal to fx)."""
    res = {(c.res_w, c.res_h) for c in cameras}
    if len(res) != 1:
        raise SceneCameraError("the rig's cameras have different resolutions; a Blender scene has one")
    (rx, ry), = res
    ratios = {round(float(c.focal[1] / c.focal[0]), 9) for c in cameras}
    ratio = ratios.pop() if len(ratios) == 1 else 1.0
    # fy = fx * ax / ay
    ax, ay = (1.0, 1.0 / ratio) if ratio <= 1.0 else (ratio, 1.0)
    return rx, ry, ax, ay


def apply_camera(obj, cam, render, metres_per_unit=1.0):
    """Set a Blender camera object (data + placement) from a core Camera, with the render settings given
    (resolution and pixel aspect as set by render_settings_for): horizontal sensor fit, 36 mm sensor; its
    centre in Blender units (metres / metres_per_unit)."""
    from mathutils import Matrix
    data = obj.data
    data.type = "PERSP"
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = DEFAULT_SENSOR_MM
    w, h = render_size(render)
    ax, ay = float(render.pixel_aspect_x), float(render.pixel_aspect_y)
    ycor = ay / ax
    fx = float(cam.focal[0])
    data.lens = fx * DEFAULT_SENSOR_MM / w
    data.shift_x = (w / 2.0 - float(cam.center[0])) / w
    data.shift_y = (float(cam.center[1]) - h / 2.0) * ycor / w
    m = np.eye(4)
    m[:3, :3] = np.asarray(cam.rotation, dtype=np.float64) @ FLIP
    m[:3, 3] = np.asarray(cam.translation, dtype=np.float64) / metres_per_unit
    obj.matrix_world = Matrix(m.tolist())
    data.clip_end = max(data.clip_end, float(np.linalg.norm(m[:3, 3])) * 4 + 10 / metres_per_unit)
