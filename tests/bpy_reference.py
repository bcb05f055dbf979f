"""Blender's own answers, for the parity tests: run with a Python that can `import bpy` (pip's bpy 5.0).

    python tests/bpy_reference.py REQUEST.pkl RESULT.pkl

REQUEST is a pickled dict with any of:
  "bvh": [{"path": str, "scale": float}, ...]
      Each file is imported by Blender's BVH importer (axis_forward='-Z', axis_up='Y', NATIVE rotation
      mode, global_scale=scale, frame_start=1, no fps scaling) into an empty scene; for every frame the
      scene is set to that frame and every pose bone's head and tail (armature space, multiplied by the
      armature object's world matrix) is read from Blender's evaluated pose.
  "projection": {"cameras": [camera dict, ...], "points": (N, 3) world metres}
      Each camera dict has res_w, res_h, focal (fx, fy), center (cx, cy), rotation (3x3 camera->world in
      VideoPose3D's convention: x right, y down, z forward) and translation (metres). A Blender camera is
      built from it and every point goes through bpy_extras.object_utils.world_to_camera_view.
RESULT is a pickled dict: "bvh" -> list of {"names", "heads" (F, B, 3), "tails" (F, B, 3), "frames",
"seconds"}; "projection" -> {"pixels": (C, N, 2), "depth": (C, N), "seconds"}.

Kept out of the pytest process on purpose: bpy is a whole Blender in the interpreter, with global state.
"""
import pickle
import sys
import time

import numpy as np


def reset_scene(bpy):
    bpy.ops.wm.read_factory_settings(use_empty=True)


def evaluate_bvh(bpy, path, scale):
    reset_scene(bpy)
    started = time.perf_counter()
    result = bpy.ops.import_anim.bvh(
        filepath=str(path), global_scale=float(scale), axis_forward="-Z", axis_up="Y", rotate_mode="NATIVE",
        use_fps_scale=False, update_scene_fps=False, update_scene_duration=False, frame_start=1,
        target="ARMATURE")
    if result != {"FINISHED"}:
        raise RuntimeError(f"Blender's BVH import of {path} returned {result}")
    scene = bpy.context.scene
    arm = [o for o in scene.objects if o.type == "ARMATURE"]
    if len(arm) != 1:
        raise RuntimeError(f"expected one armature after importing {path}, found {len(arm)}")
    arm = arm[0]
    world = np.array(arm.matrix_world, dtype=np.float64)
    action = arm.animation_data.action
    first, last = (int(round(v)) for v in action.frame_range)
    frames = last - first + 1
    bones = arm.pose.bones
    count = len(bones)
    heads = np.empty((frames, count, 3), dtype=np.float32)
    tails = np.empty((frames, count, 3), dtype=np.float32)
    for i in range(frames):
        scene.frame_set(first + i)
        bones.foreach_get("head", heads[i].reshape(-1))
        bones.foreach_get("tail", tails[i].reshape(-1))
    heads = heads.astype(np.float64) @ world[:3, :3].T + world[:3, 3]
    tails = tails.astype(np.float64) @ world[:3, :3].T + world[:3, 3]
    return {"names": [b.name for b in bones], "heads": heads, "tails": tails, "first_frame": first,
            "frames": frames, "seconds": time.perf_counter() - started}


def blender_camera(bpy, cam):
    """A Blender camera object and render settings equal to one pinhole camera of ours.

    Intrinsics: horizontal sensor fit, 36 mm sensor, lens = fx * 36 / res_w; fy != fx through the pixel
    aspect (Blender's vertical focal is fx * pixel_aspect_x / pixel_aspect_y); the principal point
    through shift_x/shift_y (in units of the image width). Pose: Blender's camera looks down its local -Z
    with +Y up, ours down +Z with +Y down: R_blender = R_ours @ diag(1, -1, -1).
    """
    scene = bpy.context.scene
    render = scene.render
    res_w, res_h = int(cam["res_w"]), int(cam["res_h"])
    fx, fy = (float(v) for v in cam["focal"])
    cx, cy = (float(v) for v in cam["center"])
    render.resolution_x, render.resolution_y, render.resolution_percentage = res_w, res_h, 100
    if fy <= fx:
        render.pixel_aspect_x, render.pixel_aspect_y = 1.0, fx / fy
    else:
        render.pixel_aspect_x, render.pixel_aspect_y = fy / fx, 1.0
    data = bpy.data.cameras.new("hpd3d_parity")
    data.type = "PERSP"
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = 36.0
    data.lens = fx * 36.0 / res_w
    aspect_y = (res_h * render.pixel_aspect_y) / (res_w * render.pixel_aspect_x)  # frame height / width
    data.shift_x = 0.5 - cx / res_w
    data.shift_y = aspect_y * (cy / res_h - 0.5)
    obj = bpy.data.objects.new("hpd3d_parity", data)
    scene.collection.objects.link(obj)
    scene.camera = obj
    from mathutils import Matrix
    m = np.eye(4)
    m[:3, :3] = np.asarray(cam["rotation"], dtype=np.float64) @ np.diag([1.0, -1.0, -1.0])
    m[:3, 3] = np.asarray(cam["translation"], dtype=np.float64)
    obj.matrix_world = Matrix(m.tolist())
    bpy.context.view_layer.update()
    return obj


def project_points(bpy, cameras, points):
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector
    reset_scene(bpy)
    started = time.perf_counter()
    scene = bpy.context.scene
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    vectors = [Vector(p) for p in points.tolist()]
    pixels = np.empty((len(cameras), len(points), 2))
    depth = np.empty((len(cameras), len(points)))
    for c, cam in enumerate(cameras):
        obj = blender_camera(bpy, cam)
        ndc = np.array([tuple(world_to_camera_view(scene, obj, v)) for v in vectors], dtype=np.float64)
        pixels[c, :, 0] = ndc[:, 0] * cam["res_w"]
        pixels[c, :, 1] = (1.0 - ndc[:, 1]) * cam["res_h"]
        depth[c] = ndc[:, 2]
        bpy.data.objects.remove(obj)
    return {"pixels": pixels, "depth": depth, "seconds": time.perf_counter() - started}


def main(argv):
    request_path, result_path = argv
    with open(request_path, "rb") as f:
        request = pickle.load(f)
    import bpy
    out = {"bpy_version": bpy.app.version_string}
    if "bvh" in request:
        out["bvh"] = [evaluate_bvh(bpy, item["path"], item["scale"]) for item in request["bvh"]]
    if "projection" in request:
        p = request["projection"]
        out["projection"] = project_points(bpy, p["cameras"], p["points"])
    with open(result_path, "wb") as f:
        pickle.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
