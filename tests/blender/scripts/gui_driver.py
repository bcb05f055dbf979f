"""Runs inside the Blender application with a window (Debian's Blender 3.4 on Xvfb, driven by
tests/blender/test_blender_gui.py):

    blender --factory-startup --python gui_driver.py -- STATE_DIR ZIP SAMPLE_DIR MANY_DIR OUT_DIR CANCEL_DIR

Installs the add-on zip through Preferences > Add-ons > Install (the operator the button runs), enables it,
and wraps the `draw` (and `draw_header`) of every HPD3D panel to record, per state, each call and whether
it completed (an exception is recorded with its traceback and raised again, so Blender shows it as it
would). Then it opens the 3D Viewport's sidebar and talks with the test through files in STATE_DIR:
  writes geometry.json   window and sidebar rectangles, for the test's xdotool clicks on the tab strip
  writes tab_open.json   once an HPD3D panel's draw was called (the user clicked the HPD3D tab), after
                         waiting for every panel to complete a draw
  writes sidebar.json    the sidebar's width, until the test (dragging the sidebar wider) writes go; walks the panels through every
                         state of panel_states.STATES, redrawing the sidebar and waiting in each state
                         until every HPD3D panel completed a draw in it
  runs Generate Dataset  (modal, Scene Armature source) from frame 7 and starts it again mid-run (must be
                         refused; the frame and selection must come back); runs it again and undoes
                         (Edit > Undo, bpy.ops.ed.undo) mid-run (must cancel cleanly)
  writes modal_started   after starting Generate Dataset from the UI (modal) on MANY_DIR; the test
                         presses Ctrl+Z (must be blocked: no undo) and then Esc (cancels: nothing written)
  runs Generate Dataset  (modal) on SAMPLE_DIR to the end; Import BVH for Preview
  writes screenshot_ready with the panel showing the run's report and short display paths; waits for
                         screenshot_taken
  writes result.json     every state's draw record, the errors, the runs; and quits Blender.
Anything unexpected goes to STATE_DIR/driver_error.txt and Blender quits.
"""
import json
import sys
import time
import traceback
from collections import defaultdict
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import panel_states  # noqa: E402

args = sys.argv[sys.argv.index("--") + 1:]
STATE, ZIP, SAMPLE_DIR, MANY_DIR, OUT_DIR, CANCEL_DIR = (Path(a) for a in args[:6])
MODULE = "hpd3d_addon"
STATE_TIMEOUT = 6.0          # seconds to wait in one state for every panel to complete a draw
# what the screenshot (HPD3D_SCREENSHOT) shows in the path fields: readable, not the test's temp folders
DISPLAY_PATHS = {"input_path": "/home/user/mocap/", "output_dir": "/home/user/hpd3d_out/"}

current = {"label": "before_click"}
draws = defaultdict(lambda: defaultdict(lambda: {"calls": 0, "completed": 0}))   # label -> panel -> counts
errors = []                                                                        # draws that raised
states = []
result = {"blender": bpy.app.version_string, "draws": draws, "errors": errors, "states": states}


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
    raise RuntimeError("no 3D Viewport in the window")


def override():
    win, area, region = view3d()
    return bpy.context.temp_override(window=win, area=area, region=region)


def record(cls, method):
    """Replace cls.method by one that counts the call, and the completion, under the current state, and
    keeps the layout calls of the state's last draw (panel_states.PanelStandIn around the real panel)."""
    original = getattr(cls, method)
    key = cls.__name__ + ("" if method == "draw" else "." + method)

    def wrapped(self, context):
        rec = draws[current["label"]][key]
        rec["calls"] += 1
        calls = []
        try:
            original(panel_states.PanelStandIn(cls, self.layout, calls, panel=self), context)
            rec["layout_calls"] = calls
        except BaseException:
            errors.append({"state": current["label"], "panel": key, "traceback": traceback.format_exc()})
            raise
        rec["completed"] += 1
    setattr(cls, method, wrapped)
    return key


def install():
    bpy.ops.preferences.addon_install(filepath=str(ZIP), overwrite=True)
    bpy.ops.preferences.addon_enable(module=MODULE)
    keys = []
    for cls in panel_states.panel_classes():
        for method in ("draw_header", "draw"):
            if callable(getattr(cls, method, None)):
                keys.append(record(cls, method))
    result["panels"] = keys
    props = bpy.context.scene.hpd3d
    props.input_path, props.output_dir, props.subject = str(SAMPLE_DIR), str(OUT_DIR), "S1"


def expected_panels():
    """The recorded panel methods whose panel shows now (its poll passes)."""
    with override():
        shown = {c.__name__ for c in panel_states.panel_classes() if c.poll(bpy.context)}
    return [k for k in result["panels"] if k.split(".")[0] in shown]


def redraw(label):
    """Draw the sidebar in state `label` and wait until every shown panel completed a draw in it."""
    current["label"] = label
    _win, _area, region = view3d()
    started = time.time()
    while True:
        region.tag_redraw()
        yield 0.05
        want = expected_panels()
        missing = [k for k in want if draws[label][k]["completed"] == 0]
        if not missing or time.time() - started > (1.0 if errors else STATE_TIMEOUT):
            break
    states.append({"label": label, "expected": want, "missing": missing, "sidebar_width": view3d()[2].width,
                   "seconds": round(time.time() - started, 2)})
    current["label"] = "between"


def wait_until(condition, seconds, what):
    end = time.time() + seconds
    while not condition():
        if time.time() > end:
            raise RuntimeError(f"timed out after {seconds} s waiting for {what}")
        yield 0.05


def start_generate():
    with override():
        return sorted(bpy.ops.hpd3d.generate_dataset("INVOKE_DEFAULT"))


def hpd3d():
    """The settings, fetched again each time: an undo replaces the scene and with it every reference."""
    return bpy.context.scene.hpd3d


def scene_source_run(out_name, frame=7, undo_step=False):
    """Set up a modal Scene Armature run of the armature 'Walker' (300 frames), the mesh selected and
    active, from `frame`; start it. undo_step: push an undo step first (an undo then goes back past it)."""
    with override():
        panel_states.mesh_active_one_armature({})
        if undo_step:
            bpy.ops.ed.undo_push(message="HPD3D test: the armature is ready")
    props = hpd3d()
    props.source, props.layout, props.rig_type, props.overwrite = "SCENE", "source", "H36M", True
    props.output_dir, props.last_report = str(OUT_DIR.parent / out_name), ""
    bpy.context.scene.frame_set(frame)
    before = {"frame": bpy.context.scene.frame_current, "active": bpy.context.view_layer.objects.active.name,
              "selected": sorted(o.name for o in bpy.context.view_layer.objects if o.select_get())}
    current["label"] = "running"
    return before, start_generate()


def after_run(before, started, **extra):
    vl = bpy.context.view_layer
    return dict(extra, before=before, started=started, report=hpd3d().last_report,
                after={"frame": bpy.context.scene.frame_current, "active": getattr(vl.objects.active, "name", None),
                       "selected": sorted(o.name for o in vl.objects if o.select_get())})


def runs_against_the_running_one():
    """A second start while one runs (refused), and an undo while one runs (cancels cleanly)."""
    before, started = scene_source_run("reentry")
    yield from wait_until(lambda: bpy.context.scene.frame_current != 7, 30, "the run to move the frame")
    try:
        second = sorted(bpy.ops.hpd3d.generate_dataset("INVOKE_DEFAULT"))
    except RuntimeError as exc:
        second = str(exc)
    mid_frame = bpy.context.scene.frame_current
    yield from wait_until(lambda: hpd3d().last_report, 60, "the first run")
    result["reentry"] = after_run(before, started, second=second, mid_frame=mid_frame)

    before, started = scene_source_run("undone", undo_step=True)
    yield from wait_until(lambda: bpy.context.scene.frame_current != 7, 30, "the run to move the frame")
    with override():
        undo = sorted(bpy.ops.ed.undo())
    yield from wait_until(lambda: hpd3d().last_report, 60, "the run after the undo")
    out = OUT_DIR.parent / "undone"
    result["undone"] = after_run(before, started, undo=undo,
                                 files=sorted(p.name for p in out.iterdir()) if out.exists() else [])


def script():
    install()
    win, area, region = view3d()
    area.spaces.active.show_region_ui = True
    yield 0.5
    win, area, region = view3d()
    write("geometry.json", {
        "blender": bpy.app.version_string,
        "window": {"x": win.x, "y": win.y, "width": win.width, "height": win.height},
        "sidebar": {"x": region.x, "y": region.y, "width": region.width, "height": region.height},
        "ui_scale": bpy.context.preferences.system.ui_scale,
        "drawn_before_click": sum(r["calls"] for r in draws["before_click"].values())})
    yield from wait_until(lambda: any(r["calls"] for r in draws["before_click"].values()), 180, "the tab click")
    yield from redraw("tab")
    write("tab_open.json", states[-1])
    def sidebar_width_written():   # while the test drags the sidebar wider, it reads the width here
        write("sidebar.json", {"width": view3d()[2].width})
        return (STATE / "go").exists()
    yield from wait_until(sidebar_width_written, 60, "the test's go")

    for state in panel_states.STATES:
        with override():
            label = panel_states.apply(state, {"sample_dir": SAMPLE_DIR, "out_dir": OUT_DIR.parent / "walk_out"})
        yield from redraw(label)

    yield from runs_against_the_running_one()

    # A long run started from the UI; the test presses Ctrl+Z (blocked: the marker object made in the last
    # undo step stays), then Esc (cancels: nothing written).
    marker = bpy.data.objects.new("undo marker", None)
    bpy.context.scene.collection.objects.link(marker)
    with override():
        bpy.ops.ed.undo_push(message="HPD3D test: undo marker")
    props = hpd3d()
    props.source, props.layout, props.rig_type, props.overwrite = "BVH", "h36m17", "H36M", False
    props.input_path, props.output_dir, props.last_report = str(MANY_DIR), str(CANCEL_DIR), ""
    props.subject = "S1"
    current["label"] = "running"
    result["cancel_started"] = start_generate()
    write("modal_started", {"result": result["cancel_started"]})
    yield from wait_until(lambda: hpd3d().last_report, 120, "the cancel")
    props = hpd3d()
    result["cancelled"] = {"report": props.last_report, "undo_marker_kept": "undo marker" in bpy.data.objects,
                           "files": sorted(p.name for p in CANCEL_DIR.iterdir()) if CANCEL_DIR.exists() else []}
    yield from redraw("cancelled")

    # A run that finishes.
    props.input_path, props.output_dir, props.last_report = str(SAMPLE_DIR), str(OUT_DIR), ""
    bpy.context.scene.frame_set(5)
    current["label"] = "running"
    started = start_generate()
    yield from wait_until(lambda: props.last_report, 120, "Generate Dataset")
    result["generated"] = {"report": props.last_report, "started": started,
                           "frame_after": bpy.context.scene.frame_current}
    yield from redraw("generated")
    try:
        result["import_bvh"], result["import_bvh_error"] = sorted(bpy.ops.hpd3d.import_bvh()), None
    except RuntimeError as exc:
        result["import_bvh"], result["import_bvh_error"] = None, str(exc)

    # The screenshot: the panel after that run and a Build Rig, with paths a reader can take in, without the
    # test's objects.
    with override():
        panel_states.rig_cameras({"sample_dir": SAMPLE_DIR})
    for key, value in DISPLAY_PATHS.items():
        setattr(props, key, value)
    props.last_report = props.last_report.replace(str(OUT_DIR), DISPLAY_PATHS["output_dir"].rstrip("/"))
    for name in ("Walker", "HPD3D test mesh", "undo marker"):
        if name in bpy.data.objects:
            bpy.data.objects.remove(bpy.data.objects[name])
    yield from redraw("screenshot")
    write("screenshot_ready")
    yield from wait_until(lambda: (STATE / "screenshot_taken").exists(), 60, "the screenshot")
    write("result.json", result)
    bpy.ops.wm.quit_blender()


steps = script()


def tick():
    try:
        return next(steps)
    except StopIteration:
        return None
    except Exception:
        (STATE / "driver_error.txt").write_text(traceback.format_exc())
        write("result.json", result)
        bpy.ops.wm.quit_blender()
        return None


bpy.app.timers.register(tick, first_interval=1.0, persistent=True)
