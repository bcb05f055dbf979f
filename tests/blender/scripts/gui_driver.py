"""Runs inside the Blender application with a window (Debian's Blender 3.4 on Xvfb, driven by
tests/blender/test_blender_gui.py):

    blender --factory-startup --python gui_driver.py -- STATE_DIR ZIP SAMPLE_DIR MANY_DIR OUT_DIR CANCEL_DIR

Installs the add-on zip through Preferences > Add-ons > Install (the operator the button runs), enables it,
opens the 3D Viewport's sidebar, then talks with the test through files in STATE_DIR:
  writes geometry.json   (window and sidebar region rectangles, for the test's xdotool clicks on the tab)
  writes panel_drawn     when an HPD3D panel has been drawn (the user clicked the HPD3D tab)
  waits for go_cancel    then starts Generate Dataset from the UI (modal) on MANY_DIR and writes
                         modal_started; the test presses Esc; writes cancelled.json
  waits for go_generate  then starts Generate Dataset (modal) on SAMPLE_DIR, waits, writes generated.json
                         (with what Import BVH for Preview reports on this build), and quits Blender.
Anything unexpected goes to STATE_DIR/driver_error.txt and Blender quits.
"""
import json
import sys
import time
import traceback
from pathlib import Path

import bpy

args = sys.argv[sys.argv.index("--") + 1:]
STATE, ZIP, SAMPLE_DIR, MANY_DIR, OUT_DIR, CANCEL_DIR = (Path(a) for a in args[:6])
MODULE = "hpd3d_addon"
state = {"step": "install", "t0": time.time(), "drawn": False}


def write(name, data=None):
    tmp = STATE / (name + ".tmp")
    tmp.write_text(json.dumps(data if data is not None else {}, indent=1, default=str))
    tmp.replace(STATE / name)


def view3d():
    for win in bpy.context.window_manager.windows:
        for area in win.screen.areas:
            if area.type == "VIEW_3D":
                region = next(r for r in area.regions if r.type == "UI")
                return win, area, region
    return None, None, None


def install():
    bpy.ops.preferences.addon_install(filepath=str(ZIP), overwrite=True)
    bpy.ops.preferences.addon_enable(module=MODULE)
    # mark when the add-on's panel is really drawn (only when its tab is the active one)
    panel = bpy.types.HPD3D_PT_output
    original = panel.draw

    def draw(self, context):
        state["drawn"] = True
        original(self, context)
    panel.draw = draw
    props = bpy.context.scene.hpd3d
    props.input_path = str(SAMPLE_DIR)
    props.output_dir = str(OUT_DIR)
    props.subject = "S1"


def start_generate(win, area, region):
    with bpy.context.temp_override(window=win, area=area, region=region):
        return bpy.ops.hpd3d.generate_dataset("INVOKE_DEFAULT")


def tick():
    try:
        return _tick()
    except Exception:
        (STATE / "driver_error.txt").write_text(traceback.format_exc())
        bpy.ops.wm.quit_blender()
        return None


def _tick():
    step = state["step"]
    win, area, region = view3d()
    props = bpy.context.scene.hpd3d if hasattr(bpy.context.scene, "hpd3d") else None
    if step == "install":
        install()
        area.spaces.active.show_region_ui = True
        state["step"] = "geometry"
        return 0.5
    if step == "geometry":
        write("geometry.json", {
            "blender": bpy.app.version_string,
            "window": {"x": win.x, "y": win.y, "width": win.width, "height": win.height},
            "area": {"x": area.x, "y": area.y, "width": area.width, "height": area.height},
            "sidebar": {"x": region.x, "y": region.y, "width": region.width, "height": region.height},
            "ui_scale": bpy.context.preferences.system.ui_scale,
            "panel_drawn_before_click": state["drawn"]})
        state["step"] = "wait_panel"
        return 0.1
    if step == "wait_panel":
        if state["drawn"]:
            write("panel_drawn", {"seconds": time.time() - state["t0"]})
            state["step"] = "wait_go_cancel"
        return 0.1
    if step == "wait_go_cancel":
        if (STATE / "go_cancel").exists():
            props.input_path, props.output_dir, props.last_report = str(MANY_DIR), str(CANCEL_DIR), ""
            result = start_generate(win, area, region)
            write("modal_started", {"result": sorted(result)})
            state["step"] = "wait_cancelled"
            state["since"] = time.time()
        return 0.05
    if step == "wait_cancelled":
        if props.last_report:
            write("cancelled.json", {"report": props.last_report,
                                     "files": sorted(p.name for p in CANCEL_DIR.iterdir()) if CANCEL_DIR.exists() else []})
            state["step"] = "wait_go_generate"
        elif time.time() - state["since"] > 120:
            raise RuntimeError("the cancelled generation neither finished nor cancelled in 120 s")
        return 0.05
    if step == "wait_go_generate":
        if (STATE / "go_generate").exists():
            props.input_path, props.output_dir, props.last_report = str(SAMPLE_DIR), str(OUT_DIR), ""
            bpy.context.scene.frame_set(5)
            result = start_generate(win, area, region)
            state.update(step="wait_generated", since=time.time(), started=sorted(result))
        return 0.05
    if step == "wait_generated":
        if props.last_report:
            try:
                imported = sorted(bpy.ops.hpd3d.import_bvh())
                import_error = None
            except RuntimeError as exc:
                imported, import_error = None, str(exc)
            write("generated.json", {"report": props.last_report, "started": state["started"],
                                     "frame_after": bpy.context.scene.frame_current,
                                     "import_bvh": imported, "import_bvh_error": import_error})
            bpy.ops.wm.quit_blender()
            return None
        if time.time() - state["since"] > 120:
            raise RuntimeError("Generate Dataset did not finish in 120 s")
        return 0.05
    return None


bpy.app.timers.register(tick, first_interval=1.0, persistent=True)
