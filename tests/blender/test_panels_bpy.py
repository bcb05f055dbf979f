"""Every HPD3D sidebar panel draws, in pip's bpy 5.0 in background mode, in every state of
scripts/panel_states.py (each source, layout and rig type, Scene Cameras with and without cameras, after a
run with the report box showing).

Background Blender draws no regions, so no panel's draw runs by itself. But a real UILayout can be had
without a display: WindowManager.popmenu_begin__internal (the first half of WindowManager.popup_menu)
returns a popup whose `layout` takes labels, props and operators as a panel's does; the second half, which
would draw the popup, needs a GPU (it crashes in bpy 5.0) and is never called. So each panel's `draw` is
called with such a layout (scripts/addon_session.py, task panel_draws). What this cannot see is the
panel's registration-time behaviour in a real region (the tab, order, region size): the real-window test
(test_blender_gui.py, Debian's Blender 3.4 on Xvfb) covers that.

Fails when a draw raises, when a panel is not drawn in some state, and when Blender reports a bad
`layout.prop` (\"property not found\", which Blender prints instead of raising) or any traceback.
"""
import sys

import pytest

from bpy_session import build_zips, require_bpy, run_session
from panel_checks import shown_problems
from conftest import SAMPLES

MIN_PANELS = {"HPD3D_PT_input", "HPD3D_PT_skeleton", "HPD3D_PT_cameras", "HPD3D_PT_output"}


@pytest.fixture(scope="module")
def panel_run(tmp_path_factory):
    require_bpy()
    tmp = tmp_path_factory.mktemp("panels_bpy")
    addon_zip, _ = build_zips(tmp / "dist")
    tasks = [{"kind": "panel_draws", "sample_dir": str(SAMPLES), "out_dir": str(tmp / "out")}]
    result = run_session(sys.executable, addon_zip, tasks, tmp / "work")
    return result


def test_every_panel_completes_its_draw_in_every_state(panel_run):
    task = panel_run["tasks"][0]
    assert "error" not in task, task.get("error")
    assert MIN_PANELS <= set(task["panels"]), task["panels"]
    assert task["area"], "no 3D Viewport area in the background window to draw in"
    labels = [s["label"] for s in task["states"]]
    assert len(labels) >= 15 and "report" in labels, labels
    failed = []
    for state in task["states"]:
        for panel in task["panels"]:
            how = state["drawn"].get(panel)
            # a sub-panel that does not apply (poll False, e.g. Last Run before a run) is not drawn, as in Blender
            if how not in ("completed", "poll False"):  # a traceback: its last line says what went wrong
                failed.append(f"{state['label']}: {panel}: {str(how).strip().splitlines()[-1]}")
    assert not failed, "panels that did not complete their draw:\n" + "\n".join(failed)
    never = [p for p in task["panels"] if not any(s["drawn"].get(p) == "completed" for s in task["states"])]
    assert not never, f"panels drawn in no state: {never}"


def test_panels_show_their_fields_buttons_and_no_false_warning(panel_run):
    task = panel_run["tasks"][0]
    problems = [p for state in task["states"] for p in shown_problems(state["label"], state["calls"])]
    assert not problems, "\n".join(problems)


def test_no_bad_property_or_traceback_in_blenders_output(panel_run):
    log = panel_run["log"]
    bad = [line for line in log.splitlines() if "property not found" in line or "Traceback" in line
           or "Error:" in line and "not freed memory" not in line.lower()]
    assert not bad, "Blender reported:\n" + "\n".join(bad[:20])
