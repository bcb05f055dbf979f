"""Runs inside the Blender application with a window (Debian's Blender 3.4 on Xvfb), driven by
tests/blender/test_overlay_gui.py:

    blender --factory-startup --python overlay_driver.py -- STATE_DIR ZIP SAMPLE_BVH OUT_DIR

(SAMPLE_BVH and OUT_DIR may be relative to the working directory: the panel then shows them as given.)

Installs the add-on zip (Preferences > Add-ons > Install), empties the start-up scene, and as a user would:
Import BVH for Preview of the sample walk, Build Rig (Human3.6M), Generate Dataset into OUT_DIR/fit, then
looks through the first rig camera with the Joint Overlay on. It opens the sidebar at its default width,
writes STATE_DIR/geometry.json for the test's clicks on the HPD3D tab, and once the tab draws writes
STATE_DIR/sidebar_ready and waits for STATE_DIR/sidebar_shot_done (the test's screenshot), then closes it.
For each case it sets a frame, waits until the overlay has drawn that frame, and records what the overlay
drew (its region coordinates, pixels, marks, detector keypoints) next to what the test needs to check it
independently: the camera frame's corners in the region and Blender's own viewport projection
(view3d_utils.location_3d_to_region_2d) of the stored 3D joints. Cases:
frames 60, 1 and 100 through camera 1 of the fitted rig; frame 60 through camera 2; then a rig that does
not fit (Fit off, 1.5 m away: some joints leave the image) rebuilt and generated into OUT_DIR/close, frame 41.
The detector layer is on, and the view zoomed in on the subject, from the fourth case; after it, the driver
writes STATE_DIR/ready_for_shot and waits for STATE_DIR/first_shot_done (the test's screenshot of that
view); at the end it writes STATE_DIR/overlay.json and quits.
Anything unexpected goes to STATE_DIR/driver_error.txt.
"""
import json
import sys
import time
import traceback
from pathlib import Path

import bpy
import numpy as np

args = sys.argv[sys.argv.index("--") + 1:]
STATE, ZIP, SAMPLE, OUT = (Path(a) for a in args[:4])
MODULE = "hpd3d_addon"
CASES = [("fit", 0, 60), ("fit", 0, 1), ("fit", 0, 100), ("fit", 1, 60), ("close", 0, 41)]
SHOT_CASE = 3   # the case after which the test takes its screenshot
ZOOM_IN = 45    # camera-view zoom steps added for that picture (the overlay must stay exact at any zoom)
state = {"step": "close_splash", "case": 0, "records": [], "since": time.time()}


def write(name, data):
    tmp = STATE / (name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    tmp.replace(STATE / name)


def view3d():
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return win, area, region


def op(name, **kw):
    win, area, region = view3d()
    with bpy.context.temp_override(window=win, area=area, region=region):
        return sorted(getattr(bpy.ops.hpd3d, name)(**kw))


def setup():
    bpy.ops.preferences.addon_install(filepath=str(ZIP), overwrite=True)
    bpy.ops.preferences.addon_enable(module=MODULE)
    panel = bpy.types.HPD3D_PT_input   # note when the HPD3D tab is showing (its first panel drew)
    original = panel.draw

    def draw(self, context):
        original(self, context)
        state["tab_drawn"] = True
    panel.draw = draw
    for obj in list(bpy.data.objects):  # no default cube, camera or light in the pictures
        bpy.data.objects.remove(obj)
    props = bpy.context.scene.hpd3d
    props.input_path, props.subject = str(SAMPLE), "S1"
    rig_and_generate("fit")
    assert op("import_bvh") == ["FINISHED"]
    assert op("toggle_overlay") == ["FINISHED"]
    bpy.context.view_layer.objects.active.select_set(False)  # the overlay, not the selection, in the picture
    _, area, region = view3d()
    space = area.spaces.active
    space.region_3d.view_perspective = "CAMERA"
    space.overlay.show_floor = True
    win, area, region = view3d()
    with bpy.context.temp_override(window=win, area=area, region=region):
        bpy.ops.view3d.view_center_camera()


def rig_and_generate(label):
    props = bpy.context.scene.hpd3d
    if label == "close":
        props.fit, props.distance = False, 1.5
    assert op("build_rig") == ["FINISHED"], label
    props.output_dir, props.overwrite = str(OUT / label), True
    assert op("generate_dataset") == ["FINISHED"], props.last_report


def rig_cameras():
    coll = bpy.data.collections["HPD3D Rig"]
    return sorted((o for o in coll.all_objects if o.type == "CAMERA"), key=lambda o: o.name)


def independent(label, frame):
    """Camera frame corners and Blender's projection of the stored 3D joints of the take frame at `frame`."""
    from bpy_extras.view3d_utils import location_3d_to_region_2d
    from mathutils import Vector
    _, area, region = view3d()
    rv3d = area.spaces.active.region_3d
    cam = bpy.context.scene.camera
    corners = [location_3d_to_region_2d(region, rv3d, cam.matrix_world @ v)[:]
               for v in cam.data.view_frame(scene=bpy.context.scene)]
    d3 = np.load(OUT / label / "data_3d_blender.npz", allow_pickle=True)["positions_3d"].item()
    joints = d3["S1"]["hpd3d_sample_walk"][frame - 1].astype(np.float64)
    blender = [location_3d_to_region_2d(region, rv3d, Vector(p.tolist())) for p in joints]
    return {"corners_tr_br_bl_tl": corners, "blender_xy": [b[:] if b is not None else None for b in blender]}


def tick():
    try:
        return _tick()
    except Exception:
        (STATE / "driver_error.txt").write_text(traceback.format_exc())
        bpy.ops.wm.quit_blender()
        return None


def _tick():
    from importlib import import_module
    step = state["step"]
    if step == "close_splash":
        # The first start's splash (Quick Setup) would cover the view; loading the start-up file closes it.
        bpy.ops.wm.read_homefile()
        state["step"] = "setup"
        return 0.5
    if step == "setup":
        setup()
        state["step"] = "sidebar"
        return 0.5
    if step == "sidebar":   # the sidebar at its default width, for the test's click on the HPD3D tab
        win, area, _ = view3d()
        area.spaces.active.show_region_ui = True
        state["step"] = "geometry"
        return 0.5
    if step == "geometry":
        win, area, _ = view3d()
        ui = next(r for r in area.regions if r.type == "UI")
        write("geometry.json", {"window": {"x": win.x, "y": win.y, "width": win.width, "height": win.height},
                                "sidebar": {"x": ui.x, "y": ui.y, "width": ui.width, "height": ui.height},
                                "ui_scale": bpy.context.preferences.system.ui_scale})
        state["step"] = "wait_tab"
        return 0.1
    if step == "wait_tab":
        if state.get("tab_drawn"):
            write("sidebar_ready", {})
            state["step"] = "wait_sidebar_shot"
        return 0.1
    if step == "wait_sidebar_shot":
        if (STATE / "sidebar_shot_done").exists():
            view3d()[1].spaces.active.show_region_ui = False
            state["step"] = "set_case"
        return 0.1
    overlay = import_module(MODULE + ".blender.overlay")
    _, area, _ = view3d()
    if step == "set_case":
        if state["case"] == len(CASES):
            write("overlay.json", {"blender": bpy.app.version_string, "records": state["records"]})
            bpy.ops.wm.quit_blender()
            return None
        label, cam_index, frame = CASES[state["case"]]
        if label == "close" and bpy.context.scene.hpd3d.fit:
            rig_and_generate("close")
        if state["case"] == SHOT_CASE:   # from here on the detector layer is drawn too, zoomed in on the subject
            assert op("toggle_overlay", layer="DETECTOR") == ["FINISHED"]
            area.spaces.active.region_3d.view_camera_zoom += ZOOM_IN
        bpy.context.scene.camera = rig_cameras()[cam_index]
        bpy.context.scene.frame_set(frame)
        overlay.LAST.clear()
        area.tag_redraw()
        state.update(step="wait_draw", since=time.time())
        return 0.1
    if step == "wait_draw":
        label, cam_index, frame = CASES[state["case"]]
        last = overlay.LAST
        camera = rig_cameras()[cam_index].name[len("HPD3D "):]
        if last.get("frame") == frame and "region_xy" in last and last.get("camera") == camera:
            record = {"label": label, "camera_index": cam_index, "frame": frame,
                      "overlay": {k: last[k] for k in ("take_frame", "camera", "res", "px", "region_xy", "marks",
                                                       "detector_px")}}
            record.update(independent(label, frame))
            state["records"].append(record)
            state["case"] += 1
            state["step"] = "set_case"
            if state["case"] == SHOT_CASE + 1:   # camera 2, detector on, zoomed: the documentation's picture
                write("ready_for_shot", {})
                state["step"] = "wait_first_shot"
            return 0.1
        if time.time() - state["since"] > 30:
            raise RuntimeError(f"the overlay did not draw frame {frame} in 30 s: {dict(last)}")
        area.tag_redraw()
        return 0.1
    if step == "wait_first_shot":
        if (STATE / "first_shot_done").exists():
            state["step"] = "set_case"
        return 0.1
    return None


bpy.app.timers.register(tick, first_interval=1.0, persistent=True)
