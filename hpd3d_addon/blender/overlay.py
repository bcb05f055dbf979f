"""The joint overlay: the dataset's 2D keypoints of the current frame drawn over the viewport's camera view.

Toggled by bpy.ops.hpd3d.toggle_overlay (the Cameras panel's Joint Overlay and Detector buttons). While on,
every 3D Viewport that looks through a camera of the 'HPD3D Rig' collection draws, for the scene's current
frame, the joints and bones of the previewed take where the dataset puts them in that camera's image:

  * the take and the cameras are the dataset's: the first BVH file of the input (what Import BVH for
    Preview imports) or the scene armature, read and mapped with the panel's settings; the rig built by
    core.rigs.build_rig from the subject's motion as Generate Dataset builds it (Scene Cameras: from the
    camera objects); the stored float32 joints projected by core.projection.project, distortion included;
    occlusion and detector keypoints from core.dataset.realise, the dataset's own realise stage. So a
    marker sits on the stored 2D of that camera (data_2d_NAME_gt.npz), a ring marks a joint its `occluded`
    holds, and the green crosses are what data_2d_NAME_detector.npz would hold.
  * pixel (u, v) of a res_w x res_h image maps into the camera frame rectangle the viewport shows (the
    camera's view_frame corners through view3d_utils.location_3d_to_region_2d): u / res_w across from
    its top-left corner, v / res_h down.
  * joints inside the image are discs (blue left, red right, white centre), rings when the body hides
    them; joints outside it are yellow crosses at their true position (as the dataset stores them, False
    in `visibility`); joints behind the camera are counted in the caption only.

Scene frames map to take frames as Import BVH for Preview and the scene source lay them out: take frame k
(at the dataset's frame rate) is at scene frame start + k * source_fps / fps (start 1 for a BVH file, the
action's first frame for an armature); between two take frames the nearer one is drawn. Scrubbing the
timeline redraws the viewport and moves the markers.

The take and its views are computed outside drawing (a one-shot timer, since the scene source steps
through frames), again whenever a setting they depend on changes. `LAST` keeps what the last draw
computed (for the tests and for anyone who wants the numbers).
"""
import os
from dataclasses import dataclass, field, replace

import bpy
import numpy as np

from ..core.dataset import keypoint_points, load_take_safe, map_sequence, realise
from ..core.errors import HPD3DError
from ..core.layouts import layout_2d
from ..core.noise import parse_noise
from ..core.projection import project
from ..core.rigs import build_rig
from .operators import (SCENE_SUBJECT, UserError, bvh_inputs, generate_options_for_rig, keypoint_settings,
                        rig_settings, scene_action_name, scene_armature)
from .rig_objects import CAMERA_TAG, rig_camera_objects
from .scene_armature import evaluate_armature, frame_range, scene_fps

DISC_RADIUS = 5.0
CROSS_SIZE = 6.0
BONE_WIDTH = 2.0
RING_WIDTH = 2.0
COLORS = {"detector": (0.35, 1.0, 0.45, 1.0), "left": (0.30, 0.62, 1.0, 1.0), "right": (1.0, 0.36, 0.26, 1.0),
          "centre": (0.95, 0.95, 0.95, 1.0),
          "outside": (1.0, 0.85, 0.1, 1.0), "text": (1.0, 1.0, 1.0, 1.0), "shadow": (0.0, 0.0, 0.0, 0.75)}
LAST = {}


@dataclass
class CameraView:
    """One camera's view of the whole take, as the dataset stores it: pixels (F, J, 2) float32, visibility
    and occlusion (F, J), whether each joint is in front of the camera, and detector keypoints (F, J, 2)."""
    camera: object
    px: np.ndarray
    visible: np.ndarray
    in_front: np.ndarray
    occluded: np.ndarray
    detector: np.ndarray


@dataclass
class OverlayData:
    """The previewed take and its views from every rig camera, as the dataset would have them."""
    key: tuple
    subject: str = ""
    action: str = ""
    frames: int = 0
    parents: list = field(default_factory=list)
    left: list = field(default_factory=list)
    right: list = field(default_factory=list)
    start: float = 1.0                 # scene frame of take frame 0
    step: float = 1.0                  # scene frames per take frame
    views: dict = field(default_factory=dict)   # camera id -> CameraView
    noise: str = ""                    # the detector model and seed, for the caption
    error: str = ""

    @property
    def frame_count(self):
        return self.frames


def frame_index(data, frame):
    """Take frame drawn at scene frame `frame` (the nearer one between two), or None outside the take."""
    k = int(np.floor((frame - data.start) / data.step + 0.5))
    return k if 0 <= k < data.frame_count else None


def image_to_region(px, top_left, top_right, bottom_left, res_w, res_h):
    """Region coordinates (N, 2) of image pixels (N, 2) (x right, y down from the image's top-left corner),
    given where the image's corners are in the region."""
    tl, tr, bl = (np.asarray(c, dtype=np.float64) for c in (top_left, top_right, bottom_left))
    u = px[:, :1] / float(res_w)
    v = px[:, 1:2] / float(res_h)
    return tl + u * (tr - tl) + v * (bl - tl)


def marks(visible, in_front, occluded):
    """Per joint: 'image' (inside the image, seen), 'occluded' (inside the image, hidden by the body),
    'outside' (in front of the camera, outside the image) or 'behind' (behind the camera: nothing to draw)."""
    return np.where(visible, np.where(occluded, "occluded", "image"), np.where(in_front, "outside", "behind"))


def side_of(data, j):
    return "left" if j in data.left else "right" if j in data.right else "centre"


# --- the take and the rig (outside drawing) ---------------------------------------------------------------

def data_key(context):
    """What the overlay's take and rig depend on: the settings, and the file or the armature."""
    props = context.scene.hpd3d
    names = [p.identifier for p in props.bl_rna.properties if p.identifier not in ("rna_type", "name", "last_report")]
    values = tuple(str(getattr(props, n)) for n in names)
    if props.source == "BVH":
        path = bpy_abspath(props.input_path)
        try:
            stamp = os.stat(path).st_mtime if os.path.isfile(path) else tuple(sorted(os.listdir(path)))
        except OSError:
            stamp = None
        source = ("BVH", path, stamp)
    else:
        obj = _armature_or_none(context)
        ad = obj.animation_data if obj is not None else None
        action = ad.action if ad is not None else None
        source = ("SCENE", obj.name if obj else None, action.name if action else None,
                  tuple(action.frame_range) if action else None, context.scene.render.fps,
                  context.scene.render.fps_base)
    cameras = _scene_cameras_key(context.scene) if props.rig_type == "SCENE" else None
    return (context.scene.name, values, source, cameras)


def _scene_cameras_key(scene):
    """The state of the rig collection's cameras and the render settings (a Scene Cameras rig uses them)."""
    cams = rig_camera_objects(scene)
    r = scene.render
    return (r.resolution_x, r.resolution_y, r.resolution_percentage, r.pixel_aspect_x, r.pixel_aspect_y,
            tuple((o.name, tuple(v for row in o.matrix_world for v in row), o.data.type, o.data.lens, o.data.shift_x,
                   o.data.shift_y, o.data.sensor_width, o.data.sensor_height, o.data.sensor_fit) for o in cams))


def bpy_abspath(p):
    return bpy.path.abspath(p) if p else p


def _armature_or_none(context):
    try:
        return scene_armature(context)
    except UserError:
        return None


def compute(context, key):
    """OverlayData for the current settings (errors go into .error, one line)."""
    try:
        return _compute(context, key)
    except HPD3DError as exc:
        return OverlayData(key=key, error=" ".join(str(exc).split()))


def _compute(context, key):
    props = context.scene.hpd3d
    settings = rig_settings(props, context.scene)
    # the Output options' noise model, seed and 2D layout, as Generate Dataset would write the detector file
    keypoints = dict(keypoint_settings(props), keypoints=("gt", "detector"))
    options = replace(generate_options_for_rig(props), rig=settings, **keypoints)
    mapping = options.mapping_dict()
    if props.source == "BVH":
        takes = bvh_inputs(props)
        subject = takes[0].subject
        loaded = [load_take_safe(t, options, mapping) for t in takes if t.subject == subject]
        if not hasattr(loaded[0], "joints"):
            raise UserError(loaded[0].error)
        shown = loaded[0]
        motion = [t.joints for t in loaded if hasattr(t, "joints")]
        start, source_fps = 1.0, round(shown.info["source_fps"], 3)
    else:
        obj = scene_armature(context)
        seq = evaluate_armature(obj, context.scene, options.subject or SCENE_SUBJECT, scene_action_name(obj),
                                options.fps)
        shown = map_sequence(seq, options, mapping)
        subject, motion = seq.subject, [shown.joints]
        start, source_fps = float(frame_range(obj, context.scene)[0]), scene_fps(context.scene)
    cameras = build_rig(settings, np.concatenate([m.reshape(-1, 3) for m in motion]), subject)
    parents, left, right = list(shown.parents), list(shown.joints_left), list(shown.joints_right)
    if options.layout_2d == "coco17":  # the keypoints drawn are COCO-17's: its bones and sides
        lay = layout_2d("coco17")
        parents, (left, right) = list(lay.parents), [list(side) for side in lay.keypoints_symmetry]
    return OverlayData(key=key, subject=subject, action=shown.action, frames=shown.joints.shape[0],
                       parents=parents, left=left, right=right,
                       start=start, step=source_fps / shown.fps, views=camera_views(shown, cameras, options),
                       noise=f"{options.noise}, seed {_noise_seed(options)}")


def _noise_seed(options):
    """The detector noise's seed, as DatasetBuilder.finish picks it."""
    return options.rig.seed if options.noise_seed is None else options.noise_seed


def camera_views(take, cameras, options):
    """{camera id: CameraView} of a take, through the dataset's own stages: the stored float32 joints
    projected (as DatasetBuilder.finish does), then core.dataset.realise for occlusion and the detector."""
    points = keypoint_points(take, take.joints.astype(np.float32), options).astype(np.float64)
    projected = [project(points, cam) for cam in cameras]
    gt = [p.astype(np.float32) for p, _ in projected]
    vis = [v for _, v in projected]
    seed = _noise_seed(options)
    real = realise(take, points, cameras, gt, vis, options, parse_noise(options.noise), seed)
    return {cam.id: CameraView(camera=cam, px=gt[i], visible=vis[i],
                               in_front=(points - cam.translation) @ cam.rotation[:, 2] > 0,
                               occluded=real["occluded"][i], detector=real["detector"][i])
            for i, cam in enumerate(cameras)}


# --- one camera view ---------------------------------------------------------------------------------------

def view_for(data, scene, cam_obj):
    """The dataset's view through a camera object of the rig, or None when it is not one: by the camera id
    Build Rig tagged it with, else by its name ('HPD3D <id>', as Scene Cameras name them)."""
    if cam_obj is None or cam_obj not in rig_camera_objects(scene):
        return None
    tag = cam_obj.get(CAMERA_TAG)
    name = cam_obj.name[len("HPD3D "):] if cam_obj.name.startswith("HPD3D ") else cam_obj.name
    for key in ([str(tag)] if tag is not None else []) + [name]:
        if key in data.views:
            return data.views[key]
    return None


def frame_corners(scene, cam_obj, region, rv3d):
    """(top-left, top-right, bottom-left) of the camera frame in region coordinates."""
    from bpy_extras.view3d_utils import location_3d_to_region_2d
    corners = [cam_obj.matrix_world @ v for v in cam_obj.data.view_frame(scene=scene)]
    # view_frame: top-right, bottom-right, bottom-left, top-left (camera space, +Y up)
    tr, _br, bl, tl = (location_3d_to_region_2d(region, rv3d, c) for c in corners)
    if tl is None or tr is None or bl is None:
        return None
    return tuple(np.array(c[:], dtype=np.float64) for c in (tl, tr, bl))


def view_points(data, scene, cam_obj, region, rv3d):
    """What to draw for the current frame: dict with frame, take frame, camera id, pixels (J, 2), marks,
    region coordinates (J, 2), the corners; or None (and a reason) when there is nothing to draw."""
    if data.error:
        return None, data.error
    k = frame_index(data, scene.frame_current)
    if k is None:
        end = data.start + (data.frame_count - 1) * data.step
        return None, f"frame {scene.frame_current} is outside the take (frames {data.start:g}-{end:g})"
    view = view_for(data, scene, cam_obj)
    if view is None:
        return None, "look through a camera of the 'HPD3D Rig' collection (Build Rig makes them)"
    corners = frame_corners(scene, cam_obj, region, rv3d)
    if corners is None:
        return None, "the camera frame is not in view"
    cam = view.camera
    px = view.px[k].astype(np.float64)
    kinds = marks(view.visible[k], view.in_front[k], view.occluded[k])
    to_region = lambda p: image_to_region(p, *corners, cam.res_w, cam.res_h)  # noqa: E731
    return {"frame": scene.frame_current, "take_frame": k, "camera": cam.id, "res": [cam.res_w, cam.res_h],
            "px": px, "marks": kinds, "region_xy": to_region(px),
            "detector_px": view.detector[k].astype(np.float64),
            "detector_xy": to_region(view.detector[k].astype(np.float64)),
            "corners": corners, "region": [region.width, region.height]}, ""


# --- drawing -----------------------------------------------------------------------------------------------

_state = {"handle": None, "data": None, "pending": False, "detector": False}


def enabled():
    return _state["handle"] is not None


def detector_shown():
    return enabled() and _state["detector"]


def _shader():
    import gpu
    for name in ("UNIFORM_COLOR", "2D_UNIFORM_COLOR"):  # 3.3 only has the 2D_ name
        try:
            return gpu.shader.from_builtin(name)
        except (ValueError, TypeError):
            continue
    raise RuntimeError("no uniform-colour shader in this Blender")


def _triangles(shader, tris, color):
    if not len(tris):
        return
    from gpu_extras.batch import batch_for_shader
    batch = batch_for_shader(shader, "TRIS", {"pos": np.asarray(tris, dtype=np.float32).reshape(-1, 2).tolist()})
    shader.bind()
    shader.uniform_float("color", color)
    batch.draw(shader)


def disc(center, radius, segments=12):
    a = np.linspace(0, 2 * np.pi, segments + 1)
    ring = center + radius * np.stack([np.cos(a), np.sin(a)], axis=1)
    return [[center, ring[i], ring[i + 1]] for i in range(segments)]


def segment(p, q, width):
    d = q - p
    n = np.linalg.norm(d)
    if n < 1e-9:
        return []
    off = np.array([-d[1], d[0]]) / n * width / 2
    return [[p + off, q + off, q - off], [p + off, q - off, p - off]]


def ring(center, radius, width, segments=16):
    a = np.linspace(0, 2 * np.pi, segments + 1)
    unit = np.stack([np.cos(a), np.sin(a)], axis=1)
    outer, inner = center + radius * unit, center + (radius - width) * unit
    tris = []
    for i in range(segments):
        tris += [[outer[i], outer[i + 1], inner[i + 1]], [outer[i], inner[i + 1], inner[i]]]
    return tris


def plus(center, size, width):
    return (segment(center + [-size, 0.0], center + [size, 0.0], width) +
            segment(center + [0.0, -size], center + [0.0, size], width))


def cross(center, size, width):
    s = size
    return (segment(center + [-s, -s], center + [s, s], width) +
            segment(center + [-s, s], center + [s, -s], width))


def _caption(x, y, lines):
    import blf
    blf.size(0, 13)
    for i, line in enumerate(lines):
        yy = y - i * 18
        blf.color(0, *COLORS["shadow"])
        blf.position(0, x + 1, yy - 1, 0)
        blf.draw(0, line)
        blf.color(0, *COLORS["text"])
        blf.position(0, x, yy, 0)
        blf.draw(0, line)


def _draw():
    context = bpy.context
    region, rv3d, scene = context.region, context.region_data, context.scene
    if rv3d is None or rv3d.view_perspective != "CAMERA" or not hasattr(scene, "hpd3d"):
        return
    key = data_key(context)
    data = _state["data"]
    if data is None or data.key != key:
        _request(key)
        _caption(20, 60, ["HPD3D joint overlay: reading the take ..."])
        return
    space = context.space_data
    cam_obj = space.camera if getattr(space, "use_local_camera", False) and space.camera else scene.camera
    view, why = view_points(data, scene, cam_obj, region, rv3d)
    LAST.clear()
    LAST.update(view or {"reason": why}, area=context.area.as_pointer())
    if view is None:
        _caption(20, 60, [f"HPD3D joint overlay: {why}"])
        return
    _paint(data, view)


def _paint(data, view):
    import gpu
    shader = _shader()
    xy, kinds = view["region_xy"], view["marks"]
    gpu.state.blend_set("ALPHA")
    for j, p in enumerate(data.parents):
        if p >= 0 and kinds[j] != "behind" and kinds[p] != "behind":
            _triangles(shader, segment(xy[p], xy[j], BONE_WIDTH), COLORS[side_of(data, j)])
    for j, kind in enumerate(kinds):
        color = COLORS[side_of(data, j)]
        if kind == "image":
            _triangles(shader, disc(xy[j], DISC_RADIUS), color)
        elif kind == "occluded":   # hidden by the body: a ring
            _triangles(shader, ring(xy[j], DISC_RADIUS + 1.5, RING_WIDTH), color)
        elif kind == "outside":
            _triangles(shader, cross(xy[j], CROSS_SIZE, BONE_WIDTH), COLORS["outside"])
    if _state["detector"]:
        for j, kind in enumerate(kinds):
            if kind != "behind":
                _triangles(shader, plus(view["detector_xy"][j], CROSS_SIZE, BONE_WIDTH - 0.5), COLORS["detector"])
    gpu.state.blend_set("NONE")
    lines = caption_lines(data, view, _state["detector"])
    # inside the camera frame's bottom-left corner, or the region's when that corner is out of view
    x, y = np.maximum(view["corners"][2], 0.0) + [8.0, 8.0 + 18.0 * (len(lines) - 1)]
    _caption(x, y, lines)


def caption_lines(data, view, detector):
    """The overlay's caption: what is shown, and how many joints are where."""
    kinds = view["marks"]
    n = {k: int(np.sum(kinds == k)) for k in ("image", "occluded", "outside", "behind")}
    lines = [f"HPD3D  {data.subject}/{data.action}  frame {view['take_frame'] + 1}/{data.frame_count}  "
             f"camera {view['camera']} ({view['res'][0]}x{view['res'][1]} px)",
             f"{n['image']} seen (disc), {n['occluded']} hidden by the body (ring), {n['outside']} outside the "
             f"image (yellow x)" + (f", {n['behind']} behind the camera" if n["behind"] else "")]
    if detector:
        lines.append(f"detector keypoints (green +), noise model {data.noise}")
    return lines


def _request(key):
    """Compute the take and rig for `key` soon, outside drawing (the scene source sets frames)."""
    if _state["pending"]:
        return
    _state["pending"] = True

    def run():
        _state["pending"] = False
        if not enabled():
            return None
        context = bpy.context
        if context.scene is None or not hasattr(context.scene, "hpd3d"):
            return None
        _state["data"] = compute(context, data_key(context))
        _redraw_views()
        return None
    bpy.app.timers.register(run, first_interval=0.0)


def _redraw_views():
    for win in bpy.context.window_manager.windows:
        for area in win.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


def enable():
    if _state["handle"] is None:
        _state["handle"] = bpy.types.SpaceView3D.draw_handler_add(_draw_safely, (), "WINDOW", "POST_PIXEL")
    _state["data"] = None
    _redraw_views()


def disable():
    if _state["handle"] is not None:
        bpy.types.SpaceView3D.draw_handler_remove(_state["handle"], "WINDOW")
        _state["handle"] = None
    _state["data"] = None
    _state["detector"] = False
    LAST.clear()
    if bpy.context.window_manager is not None:
        _redraw_views()


def _draw_safely():
    """_draw, with any error shown once in the viewport and Blender's output instead of every redraw."""
    try:
        _draw()
    except Exception as exc:  # a bug here must not take the viewport down; say it once
        import traceback
        if _state.get("failed") != repr(exc):
            _state["failed"] = repr(exc)
            traceback.print_exc()
        _caption(20, 60, [f"HPD3D joint overlay failed: {exc}"])


class HPD3D_OT_toggle_overlay(bpy.types.Operator):
    """Show or hide the dataset's 2D joints of the current frame over the view through a rig camera
    (Numpad 0 looks through the active camera): discs where seen, rings where the body hides them, yellow
    crosses outside the image"""
    bl_idname = "hpd3d.toggle_overlay"
    bl_label = "Joint Overlay"
    bl_options = {"REGISTER"}

    layer: bpy.props.EnumProperty(
        name="Layer", default="JOINTS",
        items=[("JOINTS", "Joints", "The overlay itself: the dataset's exact 2D joints and bones"),
               ("DETECTOR", "Detector", "Also the detector keypoints (green +) that --keypoints detector would "
                                        "write for these settings (the Noise, Noise Seed and 2D Layout options)")])

    @classmethod
    def description(cls, context, properties):
        if properties.layer == "DETECTOR":
            return ("Show or hide the detector keypoints (green +) that the dataset's detector file would hold "
                    "for these settings (the Output options' Noise, Noise Seed and 2D Layout), over the joint overlay")
        return cls.__doc__

    @classmethod
    def poll(cls, context):
        return context.scene is not None and hasattr(context.scene, "hpd3d")

    def execute(self, context):
        if self.layer == "DETECTOR":
            _state["detector"] = not _state["detector"]
            if _state["detector"] and not enabled():
                enable()
            _redraw_views()
            self.report({"INFO"}, f"detector keypoints {'on' if _state['detector'] else 'off'}")
        elif enabled():
            disable()
            self.report({"INFO"}, "joint overlay off")
        else:
            enable()
            self.report({"INFO"}, "joint overlay on: look through a camera of 'HPD3D Rig' to see it")
        return {"FINISHED"}


CLASSES = (HPD3D_OT_toggle_overlay,)
