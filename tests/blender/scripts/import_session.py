"""Import BVH for Preview in a real Blender, then Blender's own evaluation of the armature at every frame.

    python import_session.py SPEC.json RESULT_DIR                       (a Python with pip's bpy)
    blender -b --factory-startup --python import_session.py -- SPEC.json RESULT_DIR   (the application)

SPEC: {"zip": add-on zip, "cases": [{"path": BVH file, "auto_scale": bool, "scale": float,
"edit_mode_first": bool}, ...]}. The zip is installed through Preferences > Add-ons > Install (the
checkout's own hpd3d_addon is kept off the import path). Per case, in a fresh empty scene, it runs
bpy.ops.hpd3d.import_bvh() and then sets every frame of the scene's range, lets Blender evaluate the
depsgraph and reads every pose bone's head and tail (armature space; the object's world matrix is written
too). RESULT_DIR/case_K.npz holds the bone names, heads (F, B, 3), tails, world matrix, the scene's frame
range and fps; RESULT_DIR/result.json the operator's outcome per case.
"""
import json
import sys
import traceback
from pathlib import Path

sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path = [p for p in sys.path if not (Path(p).resolve() / "hpd3d_addon").is_dir()]

import bpy  # noqa: E402
import numpy as np  # noqa: E402

MODULE = "hpd3d_addon"


def args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    return Path(argv[0]), Path(argv[1])


def fresh_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if MODULE not in bpy.context.preferences.addons:
        bpy.ops.preferences.addon_enable(module=MODULE)


def evaluate(obj):
    """Heads and tails (F, B, 3) of the evaluated pose bones at every frame of the scene's range."""
    scene = bpy.context.scene
    frames = range(scene.frame_start, scene.frame_end + 1)
    count = len(obj.pose.bones)
    heads = np.empty((len(frames), count, 3), dtype=np.float64)
    tails = np.empty_like(heads)
    buf = np.empty(count * 3, dtype=np.float32)
    for k, frame in enumerate(frames):
        scene.frame_set(frame)
        ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        ev.pose.bones.foreach_get("head", buf)
        heads[k] = buf.reshape(-1, 3)
        ev.pose.bones.foreach_get("tail", buf)
        tails[k] = buf.reshape(-1, 3)
    return heads, tails


def run_case(case, out):
    fresh_scene()
    props = bpy.context.scene.hpd3d
    props.input_path = case["path"]
    props.auto_scale = case.get("auto_scale", True)
    if "scale" in case:
        props.scale = case["scale"]
    if case.get("edit_mode_first"):  # a user who left some armature in Edit Mode
        bpy.ops.object.armature_add()
        bpy.ops.object.mode_set(mode="EDIT")
    try:
        result, error = sorted(bpy.ops.hpd3d.import_bvh()), None
    except RuntimeError as exc:
        return {"result": None, "error": str(exc)}
    obj = bpy.context.view_layer.objects.active
    heads, tails = evaluate(obj)
    scene = bpy.context.scene
    np.savez(out, names=np.array([b.name for b in obj.pose.bones]), heads=heads, tails=tails,
             world=np.array(obj.matrix_world, dtype=np.float64))
    return {"result": result, "error": error, "object": obj.name, "mode": bpy.context.mode,
            "frame_range": [scene.frame_start, scene.frame_end],
            "fps": scene.render.fps / scene.render.fps_base,
            "armatures": sorted(o.name for o in scene.objects if o.type == "ARMATURE")}


def main():
    spec_path, out_dir = args()
    spec = json.loads(spec_path.read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"blender": bpy.app.version_string, "cases": []}
    try:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        bpy.ops.preferences.addon_install(filepath=spec["zip"], overwrite=True)
        bpy.ops.preferences.addon_enable(module=MODULE)
        for k, case in enumerate(spec["cases"]):
            result["cases"].append(run_case(case, out_dir / f"case_{k}.npz"))
    except Exception:
        result["error"] = traceback.format_exc()
    (out_dir / "result.json").write_text(json.dumps(result, indent=1))


main()
