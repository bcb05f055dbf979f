"""Runs inside a Python that has bpy (pip's bpy 5.0, 4.5 or 4.2): installs the add-on zip the way a user
does, then performs the tasks of a JSON spec and writes what it found to a JSON result.

    python addon_session.py SPEC.json RESULT.json

The spec: {"zip": path, "tasks": [{"kind": ..., ...}, ...]}. Each task's result (or its traceback, as
"error") goes to result["tasks"][i]. The user's Blender folders point into a temporary directory (set by
the caller through BLENDER_USER_* variables) so nothing outside it is touched. The checkout's own
hpd3d_addon (editable install) is kept off the import path: what runs is the installed zip.
"""
import json
import sys
import traceback
from pathlib import Path

# The venv's editable-install finder would serve the checkout's hpd3d_addon; the zip must be what runs.
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path = [p for p in sys.path if not (Path(p).resolve() / "hpd3d_addon").is_dir()]

import bpy  # noqa: E402
import numpy as np  # noqa: E402

MODULE = "hpd3d_addon"


def install(zip_path, how="addon"):
    """'addon': Preferences > Add-ons > Install (from Disk); 'extension': the 4.2+ extension platform's
    Install from Disk into the user repository (the module is then bl_ext.user_default.hpd3d)."""
    global MODULE
    if how == "extension":
        bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default",
                                                 enable_on_install=True)
        MODULE = "bl_ext.user_default.hpd3d"
    else:
        bpy.ops.preferences.addon_install(filepath=str(zip_path), overwrite=True)
        bpy.ops.preferences.addon_enable(module=MODULE)
    mod = sys.modules[MODULE]
    panels = sorted(n for n in dir(bpy.types) if n.startswith("HPD3D_PT_"))
    import addon_utils
    return {
        "module": MODULE,
        # Preferences > Add-ons lists what addon_utils.modules() finds (bl_info read without running the file)
        "listed": any(m.__name__ == MODULE for m in addon_utils.modules(refresh=True)),
        "module_file": mod.__file__,
        "enabled": MODULE in bpy.context.preferences.addons,
        "panels": panels,
        "categories": sorted({getattr(bpy.types, n).bl_category for n in panels}),
        "region": sorted({getattr(bpy.types, n).bl_space_type + "/" + getattr(bpy.types, n).bl_region_type
                          for n in panels}),
        "operators": sorted(n for n in ("import_bvh", "build_rig", "generate_dataset") if hasattr(bpy.ops.hpd3d, n)
                            and _op_exists(n)),
        "has_settings": hasattr(bpy.context.scene, "hpd3d"),
    }


def _op_exists(name):
    try:
        getattr(bpy.ops.hpd3d, name).get_rna_type()
        return True
    except (KeyError, AttributeError):
        return False


def settings_dump():
    """Every property of scene.hpd3d: default, description (tooltip)."""
    props = bpy.context.scene.hpd3d
    out = {}
    for p in props.bl_rna.properties:
        if p.identifier in ("rna_type", "name"):
            continue
        default = getattr(p, "default", None)
        if getattr(p, "is_array", False):
            default = list(p.default_array)
        out[p.identifier] = {"default": default, "description": p.description, "type": p.type}
    return out


def reset():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    # read_factory_settings reloads preferences: the add-on stays enabled but make sure it is
    if MODULE not in bpy.context.preferences.addons:
        bpy.ops.preferences.addon_enable(module=MODULE)


def set_props(values):
    props = bpy.context.scene.hpd3d
    for k, v in values.items():
        setattr(props, k, v)


def run_op(name, **kwargs):
    """Run bpy.ops.hpd3d.NAME; (result, error message or None)."""
    try:
        return sorted(getattr(bpy.ops.hpd3d, name)(**kwargs)), None
    except RuntimeError as exc:
        return None, str(exc)


def register_cycles():
    """Disable/enable twice through addon_utils and register/unregister the module twice directly."""
    import addon_utils
    mod = sys.modules[MODULE]
    problems = []
    try:
        for _ in range(2):
            addon_utils.disable(MODULE, default_set=True)
            if hasattr(bpy.types.Scene, "hpd3d") or any(n.startswith("HPD3D_") for n in dir(bpy.types)):
                problems.append("leftovers after disable")
            addon_utils.enable(MODULE, default_set=True)
            if not hasattr(bpy.ops.hpd3d, "generate_dataset") or not hasattr(bpy.types.Scene, "hpd3d"):
                problems.append("missing after enable")
        mod = sys.modules[MODULE]
        mod.register()
        mod.register()
        mod.unregister()
        mod.unregister()
        left = sorted(n for n in dir(bpy.types) if n.startswith("HPD3D_")) + (
            ["Scene.hpd3d"] if hasattr(bpy.types.Scene, "hpd3d") else [])
        if left:
            problems.append(f"leftovers after unregister x2: {left}")
        mod.register()
        if not hasattr(bpy.types.Scene, "hpd3d"):
            problems.append("not registered again")
    except Exception:
        problems.append(traceback.format_exc())
    return {"problems": problems}


def task_generate(t):
    reset()
    if t.get("import_bvh"):
        imp = t["import_bvh"]
        bpy.ops.import_anim.bvh(filepath=imp["path"], global_scale=imp["scale"], axis_forward="-Z", axis_up="Y",
                                rotate_mode="NATIVE", use_fps_scale=False, update_scene_fps=True,
                                update_scene_duration=True, frame_start=1, target="ARMATURE")
    for cam in t.get("cameras", []):
        make_camera(cam)
    if "render" in t:
        r = bpy.context.scene.render
        for k, v in t["render"].items():
            setattr(r, k, v)
    scene = bpy.context.scene
    extra = None
    if t.get("selection_probe"):
        extra = bpy.data.objects.new("probe_empty", None)
        scene.collection.objects.link(extra)
        arm = [o for o in scene.objects if o.type == "ARMATURE"]
        for o in scene.objects:
            o.select_set(False)
        extra.select_set(True)
        bpy.context.view_layer.objects.active = arm[0] if arm else extra
        scene.frame_set(t["selection_probe"])
    before = {"frame": scene.frame_current,
              "selected": sorted(o.name for o in scene.objects if o.select_get()),
              "active": getattr(bpy.context.view_layer.objects.active, "name", None)}
    set_props(t.get("props", {}))
    result, error = run_op("generate_dataset")
    after = {"frame": scene.frame_current,
             "selected": sorted(o.name for o in scene.objects if o.select_get()),
             "active": getattr(bpy.context.view_layer.objects.active, "name", None)}
    out = {"result": result, "error": error, "before": before, "after": after,
           "report": scene.hpd3d.last_report}
    if t.get("world_to_camera_view") and result:
        out["w2cv"] = compare_world_to_camera_view(t["props"]["output_dir"], t["props"].get("dataset_name", "blender"))
    return out


def make_camera(c):
    from mathutils import Euler
    data = bpy.data.cameras.new(c["name"])
    for k in ("lens", "sensor_width", "sensor_height", "sensor_fit", "shift_x", "shift_y"):
        if k in c:
            setattr(data, k, c[k])
    obj = bpy.data.objects.new(c["name"], data)
    coll = bpy.data.collections.get("HPD3D Rig") or bpy.data.collections.new("HPD3D Rig")
    if coll.name not in bpy.context.scene.collection.children:
        bpy.context.scene.collection.children.link(coll)
    coll.objects.link(obj)
    obj.location = c["location"]
    obj.rotation_euler = Euler(c["rotation_deg"] and [np.radians(a) for a in c["rotation_deg"]], "XYZ")
    if "scale" in c:
        obj.scale = c["scale"]
    return obj


def compare_world_to_camera_view(out_dir, name):
    """Stored 3D of the written dataset through Blender's world_to_camera_view for each camera object of
    the rig collection (sorted by name, as the add-on orders them) vs the stored 2D: max |difference| px.

    world_to_camera_view works from the resolution without the percentage, so the scene is first set to the
    size Blender really renders, in whole pixels (BKE_render_resolution: resolution x percentage // 100),
    at 100 %. Stored 3D is in metres: divided by the Unit Scale for Blender's units."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector
    scene = bpy.context.scene
    r = scene.render
    r.resolution_x, r.resolution_y = r.resolution_x * r.resolution_percentage // 100, \
        r.resolution_y * r.resolution_percentage // 100
    r.resolution_percentage = 100
    metres = scene.unit_settings.scale_length
    bpy.context.view_layer.update()
    d3 = np.load(Path(out_dir) / f"data_3d_{name}.npz", allow_pickle=True)["positions_3d"].item()
    d2 = np.load(Path(out_dir) / f"data_2d_{name}_gt.npz", allow_pickle=True)["positions_2d"].item()
    objs = sorted((o for o in bpy.data.collections["HPD3D Rig"].all_objects if o.type == "CAMERA"),
                  key=lambda o: o.name)
    pct = scene.render.resolution_percentage / 100.0
    w, h = scene.render.resolution_x * pct, scene.render.resolution_y * pct
    worst, count, per_camera = 0.0, 0, []
    for subject, actions in d3.items():
        for action, pos in actions.items():
            pts = pos.reshape(-1, 3).astype(np.float64) / metres
            for i, obj in enumerate(objs):
                ndc = np.array([tuple(world_to_camera_view(scene, obj, Vector(p))) for p in pts.tolist()])
                px = np.stack([ndc[:, 0] * w, (1.0 - ndc[:, 1]) * h], axis=1)
                stored = d2[subject][action][i].reshape(-1, 2).astype(np.float64)
                err = float(np.abs(px - stored).max())
                per_camera.append({"camera": obj.name, "max_px": err,
                                   "spread_px": float(np.ptp(px, axis=0).max())})
                worst = max(worst, err)
                count += len(pts)
    return {"max_px": worst, "points": count, "cameras": per_camera, "render_size": [w, h]}


def task_build_rig(t):
    """build_rig for a rig type, then generate with that rig and with the same cameras as scene cameras."""
    reset()
    set_props(t["props"])
    result, error = run_op("build_rig")
    if error:
        return {"error_report": error}
    coll = bpy.data.collections["HPD3D Rig"]
    cams = sorted(o.name for o in coll.all_objects if o.type == "CAMERA")
    r = bpy.context.scene.render
    res = [r.resolution_x, r.resolution_y, r.resolution_percentage, r.pixel_aspect_x, r.pixel_aspect_y]
    rebuilt, error2 = run_op("build_rig")  # update in place: same objects, no duplicates
    cams2 = sorted(o.name for o in coll.all_objects if o.type == "CAMERA")
    set_props(dict(output_dir=t["out_core"]))
    gen1, e1 = run_op("generate_dataset")
    set_props(dict(output_dir=t["out_scene"], rig_type="SCENE"))
    gen2, e2 = run_op("generate_dataset")
    return {"result": result, "cameras": cams, "cameras_after_rebuild": cams2, "render": res,
            "generate": [gen1, e1, gen2, e2]}


def task_errors(t):
    out = {}
    for label, props in t["cases"].items():
        reset()
        props = dict(props)
        op = props.pop("_op", "generate_dataset")
        set_props(props)
        out[label] = run_op(op)
    return out


def task_import_bvh(t):
    reset()
    set_props(t["props"])
    result, error = run_op("import_bvh")
    arms = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    out = {"result": result, "error": error, "armatures": [o.name for o in arms]}
    if arms:
        out["frame_range"] = list(arms[0].animation_data.action.frame_range)
        out["fps"] = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    return out


def _view3d_override():
    """(area, region) of the window's 3D Viewport sidebar, where the panels live, or (None, None)."""
    win = bpy.context.window
    for area in (win.screen.areas if win and win.screen else []):
        if area.type == "VIEW_3D":
            return area, next((r for r in area.regions if r.type == "UI"), None)
    return None, None


def task_panel_draws(t):
    """Every HPD3D panel's draw (and draw_header) called with a real UILayout in every state of
    panel_states.STATES. Background Blender has no region to draw a panel into, but the window manager's
    popup menu (popmenu_begin__internal, what WindowManager.popup_menu uses) hands out a real UILayout
    without a display; its end (which would draw the popup) is never called: it needs a GPU."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import panel_states
    reset()
    paths = {"sample_dir": t["sample_dir"], "out_dir": t["out_dir"]}
    wm = bpy.context.window_manager
    area, region = _view3d_override()
    panels = panel_states.panel_classes()
    out = {"panels": [c.__name__ for c in panels], "area": area is not None, "states": []}
    for state in panel_states.STATES:
        label = panel_states.apply(state, paths)
        drawn, calls = {}, {}
        with bpy.context.temp_override(area=area, region=region):
            for cls in panels:
                if not cls.poll(bpy.context):
                    drawn[cls.__name__] = "poll False"
                    continue
                for method in ("draw_header", "draw"):
                    if not callable(getattr(cls, method, None)):
                        continue
                    popup = wm.popmenu_begin__internal(cls.bl_label, icon="NONE")
                    key = cls.__name__ + ("" if method == "draw" else "." + method)
                    calls[key] = []
                    try:
                        getattr(cls, method)(panel_states.PanelStandIn(cls, popup.layout, calls[key]), bpy.context)
                        drawn[key] = "completed"
                    except Exception:
                        drawn[key] = traceback.format_exc()
        out["states"].append({"label": label, "drawn": drawn, "calls": calls})
    return out


def import_sample(path, scale, collection=None):
    """Blender's BVH importer at global_scale `scale`; the armature moved into `collection` when given."""
    bpy.ops.import_anim.bvh(filepath=path, global_scale=scale, axis_forward="-Z", axis_up="Y", rotate_mode="NATIVE",
                            use_fps_scale=False, update_scene_fps=True, update_scene_duration=True, frame_start=1,
                            target="ARMATURE")
    obj = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
    if collection:
        coll = bpy.data.collections.new(collection)
        bpy.context.scene.collection.children.link(coll)
        coll.objects.link(obj)
        bpy.context.scene.collection.objects.unlink(obj)
    return obj


def make_mesh_active():
    mesh = bpy.data.objects.new("A mesh", bpy.data.meshes.new("A mesh"))
    bpy.context.scene.collection.objects.link(mesh)
    for o in bpy.context.view_layer.objects:
        o.select_set(False)
    bpy.context.view_layer.objects.active = mesh
    return mesh


def camera_locations():
    coll = bpy.data.collections.get("HPD3D Rig")
    return {o.name: list(o.matrix_world.translation) for o in coll.all_objects if o.type == "CAMERA"} if coll else {}


def task_armature_states(t):
    """Scene Armature source with the armature in states Blender does not evaluate, or in Edit Mode."""
    out = {}
    for case in t["cases"]:
        reset()
        obj = import_sample(t["bvh"], 0.01, collection="Mocap")
        scene, vl = bpy.context.scene, bpy.context.view_layer
        set_props({"source": "SCENE", "subject": "S1", "overwrite": True,
                   "output_dir": str(Path(t["out"]) / case), "rig_type": "H36M"})
        op = "generate_dataset"
        if case in ("edit", "edit_build_rig"):
            vl.objects.active = obj
            bpy.ops.object.mode_set(mode="EDIT")
            op = "build_rig" if case == "edit_build_rig" else op
        elif case == "object_build_rig":
            op = "build_rig"
        elif case == "hide_viewport":
            obj.hide_viewport = True
        elif case == "collection_disabled":
            bpy.data.collections["Mocap"].hide_viewport = True
        elif case in ("excluded", "excluded_plus_visible"):
            vl.layer_collection.children["Mocap"].exclude = True
            make_mesh_active()
            if case == "excluded_plus_visible":
                twin = obj.copy()
                twin.name = "visible twin"
                scene.collection.objects.link(twin)
        elif case == "frozen":
            obj.animation_data.action = None
        result, error = run_op(op)
        active = vl.objects.active
        out[case] = {"result": result, "error": error, "report": scene.hpd3d.last_report,
                     "mode_after": active.mode if active else None, "active_after": getattr(active, "name", None),
                     "cameras": camera_locations()}
    return out


def task_unit_scale(t):
    """The same motion in a scene of another Unit Scale: generate (scene source), Build Rig (ring, no
    fitting), the length fields, and Import BVH for Preview."""
    reset()
    scene = bpy.context.scene
    scene.unit_settings.system = "METRIC"
    scene.unit_settings.scale_length = t["scale_length"]
    import_sample(t["bvh"], t["import_scale"])
    props = scene.hpd3d
    set_props({"source": "SCENE", "subject": "S1", "output_dir": t["out"]})
    out = {"defaults": {"distance": props.distance, "height": props.height}}
    set_props({"output_dir": t["out"] + "_defaults"})
    out["generate_defaults"] = run_op("generate_dataset")
    # what Blender stores when "5 m" and "1.6 m" are typed into the fields: metres / Unit Scale
    props.distance, props.height = 5.0 / t["scale_length"], 1.6 / t["scale_length"]
    set_props({"output_dir": t["out"]})
    out["generate"] = run_op("generate_dataset")
    out["report"] = props.last_report
    set_props({"rig_type": "RING", "rig_count": 4, "fit": False})
    out["build_rig"] = run_op("build_rig")
    out["cameras"] = camera_locations()
    set_props({"rig_type": "SCENE", "output_dir": t["out"] + "_rig"})   # those cameras, as the dataset's
    out["generate_scene_rig"] = run_op("generate_dataset")
    reset()
    scene = bpy.context.scene
    scene.unit_settings.system = "METRIC"
    scene.unit_settings.scale_length = t["scale_length"]
    set_props({"input_path": t["bvh"], "auto_scale": False, "scale": 0.01})
    out["import_bvh"] = run_op("import_bvh")
    arm = next((o for o in scene.objects if o.type == "ARMATURE"), None)
    out["imported_height_m"] = (max(arm.dimensions) * t["scale_length"]) if arm else None
    return out


def task_build_rig_edits(t):
    """Build Rig after the user added a camera, deleted the rig collection (objects kept), renamed it and a
    camera, and with another rig."""
    reset()
    scene = bpy.context.scene
    set_props({"input_path": t["bvh_dir"], "rig_type": "H36M"})
    steps = {"first": run_op("build_rig")}
    coll = bpy.data.collections["HPD3D Rig"]
    mine = bpy.data.objects.new("My Camera", bpy.data.cameras.new("My Camera"))
    coll.objects.link(mine)

    def snapshot(label):
        cams = sorted(o.name for o in scene.objects if o.type == "CAMERA")
        steps[label + "_cameras"] = cams
        steps[label + "_collections"] = sorted(c.name for c in bpy.data.collections)
        steps[label + "_in_rig"] = sorted(o.name for c in bpy.data.collections if c.get("hpd3d_rig")
                                          for o in c.all_objects if o.type == "CAMERA")
    steps["with_mine"] = run_op("build_rig")
    snapshot("with_mine")
    for obj in list(coll.objects):          # the Outliner's Delete: children move up, the collection goes
        scene.collection.objects.link(obj)
    bpy.data.collections.remove(coll)
    steps["after_delete"] = run_op("build_rig")
    snapshot("after_delete")
    steps["again"] = run_op("build_rig")
    snapshot("again")
    rig = next(c for c in bpy.data.collections if c.name.startswith("HPD3D Rig"))
    rig.name = "My Rig"
    front = next(o for o in rig.objects if o.name.startswith("HPD3D "))
    front.name = "front camera"
    steps["after_rename"] = run_op("build_rig")
    snapshot("after_rename")
    set_props({"rig_type": "RING", "rig_count": 8})
    steps["ring8"] = run_op("build_rig")
    snapshot("ring8")
    steps["my_camera_alive"] = "My Camera" in bpy.data.objects
    return steps


def task_report_not_saved(t):
    reset()
    set_props({"input_path": t["bvh_dir"], "output_dir": t["out"]})
    out = {"generate": run_op("generate_dataset"), "report_before": bpy.context.scene.hpd3d.last_report}
    bpy.ops.wm.save_as_mainfile(filepath=t["blend"])
    bpy.ops.wm.open_mainfile(filepath=t["blend"])
    out["report_after_reopen"] = bpy.context.scene.hpd3d.last_report
    return out


def task_refuse_existing_first(t):
    """Overwrite off, a dataset already in the folder: refused before any frame is evaluated."""
    reset()
    import_sample(t["bvh"], 0.01)
    set_props({"source": "SCENE", "subject": "S1", "output_dir": t["out"], "overwrite": True})
    first = run_op("generate_dataset")
    frames = []

    def count(scene, *_):
        frames.append(scene.frame_current)
    bpy.app.handlers.frame_change_pre.append(count)
    try:
        set_props({"overwrite": False})
        second = run_op("generate_dataset")
    finally:
        bpy.app.handlers.frame_change_pre.remove(count)
    return {"first": first, "second": second, "frames_evaluated": len(frames)}


def task_overlay_data(t):
    """The overlay's data (what it draws) for the given settings, without a window: per camera the gt and
    detector pixels it would draw, and the bones and sides it draws them with."""
    import importlib
    reset()
    set_props(t.get("props", {}))
    overlay = importlib.import_module(MODULE + ".blender.overlay")
    data = overlay.compute(bpy.context, overlay.data_key(bpy.context))
    views = {str(cid): {"px": v.px.tolist(), "detector": v.detector.tolist(), "occluded": v.occluded.tolist()}
             for cid, v in data.views.items()}
    return {"error": data.error, "noise": data.noise, "parents": data.parents, "left": data.left,
            "right": data.right, "views": views}


TASKS = {"overlay_data": task_overlay_data, "generate": task_generate, "armature_states": task_armature_states, "unit_scale": task_unit_scale,
         "build_rig_edits": task_build_rig_edits, "report_not_saved": task_report_not_saved,
         "refuse_existing_first": task_refuse_existing_first, "panel_draws": task_panel_draws, "build_rig": task_build_rig, "errors": task_errors,
         "import_bvh": task_import_bvh,
         "register_cycles": lambda t: register_cycles(), "settings": lambda t: settings_dump()}


def main(spec_path, result_path):
    spec = json.loads(Path(spec_path).read_text())
    result = {"bpy": bpy.app.version_string, "python": sys.version.split()[0]}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    try:
        result["install"] = install(spec["zip"], spec.get("install", "addon"))
    except Exception:
        result["install"] = {"error": traceback.format_exc()}
        Path(result_path).write_text(json.dumps(result, indent=1))
        return 1
    result["tasks"] = []
    for t in spec.get("tasks", []):
        try:
            result["tasks"].append(TASKS[t["kind"]](t))
        except Exception:
            result["tasks"].append({"error": traceback.format_exc()})
    Path(result_path).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
