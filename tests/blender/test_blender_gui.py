"""The add-on in the real Blender application, as a user drives it: Debian's Blender (3.4, Python 3.11) in a
window on Xvfb installs the zip (Preferences > Add-ons > Install), enables it, shows the sidebar; the test
clicks the HPD3D tab with xdotool (3.4 has no Region.active_panel_category) and drags the sidebar wider.

Every HPD3D panel's `draw` is wrapped (scripts/gui_driver.py) to record each call and whether it completed.
The test fails on a panel that raised, on any Python traceback in Blender's output during the session,
when not every HPD3D panel completed a draw after the tab click, and when a panel did not complete a draw
in any of the states it is walked through (scripts/panel_states.py: each source, layout and rig type,
Scene Cameras with and without cameras, after runs with the report box showing): the sidebar is redrawn
in each state and the driver waits for the draws.

What each panel drew is recorded too (scripts/panel_states.PanelStandIn): the fields and buttons must be
there, and no "select the armature" warning while Generate Dataset would take the scene's only armature.

It also starts Generate Dataset from the UI (modal, with progress): a Scene Armature run from frame 7 that
is started a second time mid-run (refused; frame and selection come back), one undone mid-run through
Edit > Undo (cancelled cleanly, nothing written), a long run during which Ctrl+Z is pressed (blocked: the
last undo step stays) and then Esc (nothing may be written), and a run that finishes, whose dataset is
checked (`hpd3d check`). Blender's own BVH importer
dies on this build ("invalid mode: 'rU'"); Import for Preview builds the armature from the core's own parse
(blender/bvh_import.py), so it must succeed, and no traceback at all is allowed in Blender's output.

Skips with the reason when blender, Xvfb, xdotool or ImageMagick are absent (.ci/run installs them).
Set HPD3D_SCREENSHOT=path to keep the screenshot (the panel after a run on the sample walk, path fields
showing /home/user/...; the README's pictures come from tests/blender/test_overlay_gui.py).
"""
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from bpy_session import HERE, build_zips, isolated_env, load_dataset
from panel_checks import shown_problems
from conftest import SAMPLES
from hpd3d_addon.core.check import check_folder

DRIVER = HERE / "scripts" / "gui_driver.py"
SCREEN = (1600, 1000)


def _need(tool):
    if shutil.which(tool) is None:
        pytest.skip(f"`{tool}` is not installed (apt packages blender python3-numpy xvfb xdotool imagemagick)")


def wait_for(path, proc, seconds, what):
    end = time.time() + seconds
    while time.time() < end:
        if path.exists():
            return json.loads(path.read_text() or "{}")
        error = path.parent / "driver_error.txt"
        if error.exists():
            pytest.fail(f"the driver inside Blender failed:\n{error.read_text()}")
        if proc.poll() is not None:
            pytest.fail(f"Blender exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.1)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture
def xserver(tmp_path):
    for tool in ("blender", "Xvfb", "xdotool", "import"):
        _need(tool)
    number = next(n for n in range(99, 200) if not Path(f"/tmp/.X{n}-lock").exists()
                  and not Path(f"/tmp/.X11-unix/X{n}").exists())
    display = f":{number}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{number}").exists():
            break
        time.sleep(0.05)
    else:
        xvfb.kill()
        pytest.skip("Xvfb did not start")
    yield display
    xvfb.terminate()
    try:
        xvfb.wait(timeout=10)
    except subprocess.TimeoutExpired:
        xvfb.kill()


def tracebacks(log):
    """The Python tracebacks in Blender's output, each as its text up to the next one (at most 40 lines)."""
    parts = log.split("Traceback (most recent call last):")[1:]
    return ["\n".join(p.splitlines()[:40]) for p in parts]


def drag(xdo, x0, y, x1):
    """Left-button drag from (x0, y) to (x1, y), hovering first (Blender finds the edge under the cursor)."""
    xdo("mousemove", x0, y)
    time.sleep(0.3)
    xdo("mousedown", 1)
    time.sleep(0.1)
    for x in range(x0, x1 - 1, -20):
        xdo("mousemove", x, y)
        time.sleep(0.03)
    xdo("mousemove", x1, y)
    time.sleep(0.1)
    xdo("mouseup", 1)


def sidebar_width(state):
    try:
        return json.loads((state / "sidebar.json").read_text())["width"]
    except (FileNotFoundError, ValueError):
        return 0


def test_blender_app_every_panel_draws_generate_and_cancel(xserver, tmp_path):
    display = xserver
    addon_zip, _ = build_zips(tmp_path / "dist")
    state = tmp_path / "state"
    state.mkdir()
    many = tmp_path / "many"
    many.mkdir()
    for i in range(300):  # a long run to cancel: 300 takes of the sample walk
        shutil.copy(SAMPLES / "hpd3d_sample_walk.bvh", many / f"walk_{i:03d}.bvh")
    out, cancel = tmp_path / "out", tmp_path / "cancelled"
    env = isolated_env(tmp_path / "home")
    env["DISPLAY"] = display
    log_path = tmp_path / "blender.log"
    log = open(log_path, "w")
    started = time.time()
    blender = subprocess.Popen(
        ["blender", "--factory-startup", "-p", "0", "0", str(SCREEN[0]), str(SCREEN[1]), "--python", str(DRIVER),
         "--", str(state), str(addon_zip), str(SAMPLES), str(many), str(out), str(cancel)],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    xenv = dict(os.environ, DISPLAY=display)

    def xdo(*a):
        subprocess.run(["xdotool", *map(str, a)], env=xenv, check=True, timeout=30)
    try:
        geo = wait_for(state / "geometry.json", blender, 180, "Blender's window")
        assert geo["drawn_before_click"] == 0, "the HPD3D tab was open before the click"
        win, side = geo["window"], geo["sidebar"]
        # Blender gives rectangles from the window's bottom-left; X from the top-left. The tabs are a
        # vertical strip at the sidebar's right edge: click down it, as a user looking for the tab would.
        x = win["x"] + side["x"] + side["width"] - int(10 * geo["ui_scale"])
        top = win["height"] - (side["y"] + side["height"])
        clicks, found = 0, None
        for y in range(top + 8, top + side["height"] - 8, int(12 * geo["ui_scale"])):
            xdo("mousemove", x, y, "click", 1)
            clicks += 1
            deadline = time.time() + 0.4
            while time.time() < deadline and not (state / "tab_open.json").exists():
                time.sleep(0.05)
            if (state / "tab_open.json").exists():
                found = y
                break
        assert found is not None, f"no click on the sidebar's tab strip opened the HPD3D tab ({clicks} tried)"
        tab = wait_for(state / "tab_open.json", blender, 30, "the first draws")
        # drag the sidebar's left edge, so the labels and paths in the screenshot are not cut short
        # (the edge is where the panels start, a few pixels inside the region, beside a panel)
        for attempt in range(4):   # a drag can be missed on a loaded machine: try again until it took
            left = win["x"] + side["x"] + int((6 + attempt) * geo["ui_scale"])
            drag(xdo, left, top + int(150 * geo["ui_scale"]), left - 180)
            deadline = time.time() + 3
            while time.time() < deadline and sidebar_width(state) < side["width"] + 100:
                time.sleep(0.1)
            if sidebar_width(state) >= side["width"] + 100:
                break
        (state / "go").write_text("")

        # A long run started from the UI: Ctrl+Z (blocked while it runs), then Esc (cancels: nothing written).
        wait_for(state / "modal_started", blender, 120, "the modal run to start")
        xdo("mousemove", win["width"] // 3, win["height"] // 2)  # over the viewport, so keys go to Blender
        xdo("key", "ctrl+z")
        time.sleep(0.3)
        xdo("key", "Escape")

        wait_for(state / "screenshot_ready", blender, 180, "the runs")
        shot = tmp_path / "panel.png"
        subprocess.run(["import", "-window", "root", str(shot)], env=xenv, check=True, timeout=60)
        (state / "screenshot_taken").write_text("")
        result = wait_for(state / "result.json", blender, 60, "the driver's result")
        blender.wait(timeout=60)
    finally:
        if blender.poll() is None:
            blender.kill()
        log.close()
    if os.environ.get("HPD3D_SCREENSHOT"):
        shutil.copy(shot, os.environ["HPD3D_SCREENSHOT"])

    # every panel draws, in every state, and nothing in Blender's output is a traceback
    panels = result["panels"]
    assert {"HPD3D_PT_input", "HPD3D_PT_skeleton", "HPD3D_PT_cameras", "HPD3D_PT_output"} <= set(panels), panels
    raised = [f"{e['state']}: {e['panel']}: {e['traceback'].strip().splitlines()[-1]}" for e in result["errors"]]
    assert not raised, f"{len(raised)} panel draws raised, e.g.:\n" + "\n".join(raised[:10])
    # after the tab click every panel shows but Last Run, which has nothing to show before a run
    assert set(panels) - set(tab["expected"]) <= {"HPD3D_PT_output_result"}, tab["expected"]
    assert tab["missing"] == [], f"after the tab click, not drawn: {tab['missing']}"
    never = [p for p in panels
             if not any(result["draws"][s["label"]].get(p, {}).get("completed") for s in result["states"])]
    assert not never, f"panels that completed a draw in no state: {never}"
    not_drawn = [f"{s['label']}: {s['missing']}" for s in result["states"] if s["missing"]]
    assert not not_drawn, "panels that did not complete a draw:\n" + "\n".join(not_drawn)
    labels = [s["label"] for s in result["states"]]
    assert len(labels) >= 18 and {"report", "cancelled", "generated", "rig_SCENE_cameras"} <= set(labels), labels
    for s in result["states"]:
        for panel in s["expected"]:
            rec = result["draws"][s["label"]][panel]
            assert rec["completed"] >= 1 and rec["completed"] == rec["calls"], (s["label"], panel, rec)
    text = log_path.read_text(errors="replace")
    others = tracebacks(text)
    assert not others, f"{len(others)} tracebacks in Blender's output, the first:\n{others[0]}"
    widths = {s["sidebar_width"] for s in result["states"][1:]}
    assert min(widths) > side["width"] + 100, f"the sidebar was not widened: {side['width']} -> {widths}"

    # what the panels showed: fields, buttons, no false warning (the mesh active, one armature)
    shown = [p for s in result["states"] for p in shown_problems(
        s["label"], {k: v.get("layout_calls", []) for k, v in result["draws"][s["label"]].items()})]
    assert not shown, "\n".join(shown)

    # a second start while a run goes on is refused; the frame and selection come back
    reentry = result["reentry"]
    assert reentry["started"] == ["RUNNING_MODAL"], reentry
    assert isinstance(reentry["second"], str) and "already running" in reentry["second"], reentry["second"]
    assert reentry["mid_frame"] != 7 and "wrote 1 sequences" in reentry["report"], reentry
    assert reentry["after"] == reentry["before"], reentry
    # an undo during a run cancels it cleanly (the traceback check above covers "no Python error")
    undone = result["undone"]
    assert undone["undo"] == ["FINISHED"], undone
    assert undone["report"].startswith("cancelled (undo"), undone["report"]
    assert undone["files"] == [], undone["files"]
    # Ctrl+Z during a run is blocked (checked on the Esc run below: the last undo step's object is still there)

    # the runs
    cancelled, generated = result["cancelled"], result["generated"]
    assert result["cancel_started"] == ["RUNNING_MODAL"], result["cancel_started"]
    assert cancelled["report"].startswith("cancelled"), cancelled
    assert cancelled["files"] == [], f"a cancelled run left files: {cancelled['files']}"
    assert cancelled["undo_marker_kept"], "Ctrl+Z during the run undid the last step"
    assert generated["started"] == ["RUNNING_MODAL"], generated
    assert "wrote 1 sequences" in generated["report"] and "PASS" in generated["report"], generated
    assert generated["frame_after"] == 5
    report = check_folder(str(out), None)
    assert report.passed, "\n".join(report.lines())
    data = load_dataset(out)
    assert list(data["positions_3d"]["S1"]) == ["hpd3d_sample_walk"]
    assert data["manifest"]["generator"]["blender"].startswith(geo["blender"].split()[0])
    # Import for Preview builds the armature from the core's parse (Blender's own importer fails on this build)
    assert result["import_bvh"] == ["FINISHED"], result["import_bvh_error"]
    assert shot.stat().st_size > 10_000
    print(f"Blender {geo['blender']}: tab found after {clicks} clicks at y={found}; {len(labels)} states x "
          f"{len(panels)} panels drawn; sidebar {side['width']} -> {max(widths)} px; "
          f"total {time.time() - started:.1f} s")
