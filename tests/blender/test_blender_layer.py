"""The Blender layer where a user's scene is not the tidy one (pip's bpy 5.0, one session of
scripts/addon_session.py):

- Scene Armature source: an armature in Edit Mode is read as in Object Mode (Edit Mode is left for the run
  and entered again after); one Blender does not evaluate (disabled in viewports, in a collection disabled
  in viewports or excluded from the view layer) is refused with one line naming it; the fallback "the only
  armature" looks only in the view layer; a take whose joints never move gets a warning in the report and
  in its manifest entry.
- Unit Scale: the same motion in a centimetre scene (and at Unit Scale 0.5) gives the dataset of a metre
  scene (3D within 0.1 mm, 2D within 0.01 px); Distance / Camera Height mean the metres they show (typed
  "5 m" is 5 m); Build Rig places cameras in scene units; Import BVH for Preview imports at the dataset's
  scale in metres.
- Build Rig: keeps the user's own cameras, works after the rig collection was deleted (its objects kept)
  or renamed and after its cameras were renamed; never makes `.001` copies.
- Generate Dataset: refuses an existing dataset (Overwrite off) before evaluating a single frame; its
  report is not saved in the .blend.
"""
import sys

import numpy as np
import pytest

from bpy_session import build_zips, cli, load_dataset, max_abs_diff, require_bpy, run_session
from conftest import SAMPLES

SAMPLE = SAMPLES / "hpd3d_sample_walk.bvh"
ARMATURE = "hpd3d_sample_walk"
CASES = ["edit", "edit_build_rig", "object_build_rig", "hide_viewport", "collection_disabled", "excluded",
         "excluded_plus_visible", "frozen"]
UNIT_SCALES = [(0.01, 1.0), (0.5, 0.02)]   # (Unit Scale, importer's global_scale): 0.01 m per BVH unit both


@pytest.fixture(scope="module")
def layer_run(tmp_path_factory):
    require_bpy()
    tmp = tmp_path_factory.mktemp("blender_layer")
    addon_zip, _ = build_zips(tmp / "dist")
    tasks = [{"kind": "armature_states", "bvh": str(SAMPLE), "out": str(tmp / "states"), "cases": CASES}]
    tasks += [{"kind": "unit_scale", "bvh": str(SAMPLE), "scale_length": s, "import_scale": g,
               "out": str(tmp / f"units_{s}")} for s, g in UNIT_SCALES]
    tasks += [{"kind": "unit_scale", "bvh": str(SAMPLE), "scale_length": 1.0, "import_scale": 0.01,
               "out": str(tmp / "units_1.0")}]
    tasks += [{"kind": "build_rig_edits", "bvh_dir": str(SAMPLES)},
              {"kind": "report_not_saved", "bvh_dir": str(SAMPLES), "out": str(tmp / "saved"),
               "blend": str(tmp / "saved.blend")},
              {"kind": "refuse_existing_first", "bvh": str(SAMPLE), "out": str(tmp / "existing")}]
    result = run_session(sys.executable, addon_zip, tasks, tmp / "work", timeout=1200)
    for t in result["tasks"]:
        assert "error" not in t or not isinstance(t.get("error"), str), t["error"]
    return result["tasks"], tmp


@pytest.fixture(scope="module")
def cli_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_ref")
    assert cli("generate", SAMPLE, "--scale", "0.01", "--subject", "S1", "--out", out, "--quiet") == 0
    return load_dataset(out)


def _one_line(error):
    text = (error or "").strip()
    assert text and "Traceback" not in text and len(text.splitlines()) == 1, text
    return text


def test_edit_mode_is_left_for_the_run_and_entered_again(layer_run, cli_reference):
    tasks, tmp = layer_run
    edit = tasks[0]["edit"]
    assert edit["result"] == ["FINISHED"], edit
    assert edit["mode_after"] == "EDIT" and edit["active_after"] == ARMATURE
    got = load_dataset(tmp / "states" / "edit")["positions_3d"]["S1"][ARMATURE]
    ref = cli_reference["positions_3d"]["S1"][ARMATURE]
    assert float(np.abs(np.diff(ref, axis=0)).max()) > 1e-3
    err = max_abs_diff(got, ref)
    print(f"Edit Mode run vs the CLI: {err * 1000:.4f} mm")
    assert err <= 1e-4, f"{err * 1000:.1f} mm from the CLI: the pose did not move"


def test_build_rig_in_edit_mode_fits_the_moving_pose(layer_run):
    tasks, _ = layer_run
    edit, obj = tasks[0]["edit_build_rig"], tasks[0]["object_build_rig"]
    assert edit["result"] == ["FINISHED"] and obj["result"] == ["FINISHED"], (edit, obj)
    assert edit["mode_after"] == "EDIT"
    assert sorted(edit["cameras"]) == sorted(obj["cameras"]) and len(obj["cameras"]) == 4
    diff = max(np.abs(np.subtract(edit["cameras"][k], obj["cameras"][k])).max() for k in obj["cameras"])
    assert diff < 1e-4, f"cameras fitted in Edit Mode are {diff} m off those of Object Mode"


@pytest.mark.parametrize("case,why", [("hide_viewport", "disabled in viewports"),
                                      ("collection_disabled", "'Mocap', which is disabled in viewports"),
                                      ("excluded", "excluded from the view layer")])
def test_an_armature_blender_does_not_evaluate_is_refused(layer_run, case, why):
    tasks, tmp = layer_run
    run = tasks[0][case]
    assert run["result"] is None, f"{case}: generated ({run['report']}) from a pose Blender does not move"
    msg = _one_line(run["error"])
    assert f"'{ARMATURE}'" in msg and why in msg, msg
    assert not (tmp / "states" / case).exists()


def test_the_only_armature_fallback_looks_in_the_view_layer(layer_run):
    tasks, tmp = layer_run
    run = tasks[0]["excluded_plus_visible"]
    assert run["result"] == ["FINISHED"], run
    files = load_dataset(tmp / "states" / "excluded_plus_visible")["manifest"]["files"]
    assert [f["armature"] for f in files] == ["visible twin"]


def test_a_frozen_pose_is_warned_in_report_and_manifest(layer_run):
    tasks, tmp = layer_run
    run = tasks[0]["frozen"]
    assert run["result"] == ["FINISHED"], run
    assert "never move" in run["report"] and "warning" in run["report"], run["report"]
    files = load_dataset(tmp / "states" / "frozen")["manifest"]["files"]
    assert "never move" in files[0].get("warning", ""), files[0]
    assert "warning" not in load_dataset(tmp / "states" / "edit")["manifest"]["files"][0]


@pytest.mark.parametrize("index,scale", [(1, 0.01), (2, 0.5)], ids=["centimetre", "half-metre"])
def test_any_unit_scale_gives_the_metre_dataset(layer_run, cli_reference, index, scale):
    """Distance and Camera Height typed as "5 m" and "1.6 m" (the CLI's defaults)."""
    tasks, tmp = layer_run
    run = tasks[index]
    assert run["generate"][0] == ["FINISHED"], run["generate"]
    got = load_dataset(tmp / f"units_{scale}")
    err3 = max_abs_diff(got["positions_3d"], cli_reference["positions_3d"])
    err2 = max_abs_diff(got["positions_2d"], cli_reference["positions_2d"])
    height = got["manifest"]["files"][0]["height_m"]
    print(f"Unit Scale {scale}: {err3 * 1000:.4f} mm, {err2:.5f} px, height {height} m")
    assert err3 <= 1e-4 and err2 <= 0.01
    assert 1.2 < height < 2.2, height


@pytest.mark.parametrize("index,scale", [(1, 0.01), (2, 0.5), (3, 1.0)], ids=["centimetre", "half-metre", "metre"])
def test_length_fields_mean_what_they_show(layer_run, index, scale):
    """Blender shows a LENGTH property as its value (Blender units) times the Unit Scale: the dataset's
    rig must get that many metres (a centimetre scene shows the default 5 as "5 cm")."""
    tasks, tmp = layer_run
    shown = {k: v * scale for k, v in tasks[index]["defaults"].items()}
    assert tasks[index]["generate_defaults"][0] == ["FINISHED"], tasks[index]["generate_defaults"]
    rig = load_dataset(tmp / f"units_{scale}_defaults")["manifest"]["settings"]["rig"]
    assert abs(rig["distance"] - shown["distance"]) < 1e-6 and abs(rig["height"] - shown["height"]) < 1e-6, (rig, shown)


def test_build_rig_places_cameras_in_scene_units(layer_run):
    """Distance and Camera Height typed as "5 m" and "1.6 m" (fit off): the same cameras, in metres."""
    tasks, tmp = layer_run
    metre = tasks[3]
    for index, scale in ((1, 0.01), (2, 0.5)):
        run = tasks[index]
        assert run["build_rig"][0] == ["FINISHED"], run["build_rig"]
        assert sorted(run["cameras"]) == sorted(metre["cameras"]) and len(metre["cameras"]) == 4
        for name, loc in metre["cameras"].items():
            assert np.abs(np.array(run["cameras"][name]) * scale - loc).max() < 1e-4, (name, scale)
        # and those cameras as the dataset's (rig Scene Cameras): the metre scene's, in millimetres
        assert run["generate_scene_rig"][0] == ["FINISHED"], run["generate_scene_rig"]
        got = load_dataset(tmp / f"units_{scale}_rig")
        ref = load_dataset(tmp / "units_1.0_rig")
        t_got, t_ref = (np.array([c["translation"] for cams in d["cameras"]["extrinsics"].values() for c in cams])
                        for d in (got, ref))
        assert np.abs(t_got - t_ref).max() < 0.1, (scale, t_got, t_ref)   # mm
        assert abs(np.linalg.norm(t_ref[0, :2]) - 5000) < 2000, t_ref       # about 5 m out, as typed
        assert max_abs_diff(got["positions_2d"], ref["positions_2d"]) < 0.01


def test_import_bvh_uses_the_dataset_scale_in_metres(layer_run):
    tasks, _ = layer_run
    heights = [tasks[i]["imported_height_m"] for i in (1, 2, 3)]
    for i in (1, 2, 3):
        assert tasks[i]["import_bvh"][0] == ["FINISHED"], tasks[i]["import_bvh"]
    # the sample is a person of about 1.7 m at 0.01 m per unit; an import at scale 1 would be 100x
    assert 1.2 < heights[2] < 2.2, heights
    assert max(heights) - min(heights) < 1e-4, heights


def test_build_rig_keeps_user_cameras_and_survives_edits(layer_run):
    tasks, _ = layer_run
    steps = tasks[4]
    for key in ("first", "with_mine", "after_delete", "again", "after_rename", "ring8"):
        assert steps[key][0] == ["FINISHED"], (key, steps[key])
    for key in ("with_mine", "after_delete", "again", "after_rename"):
        cams = steps[key + "_cameras"]
        assert "My Camera" in cams, (key, cams)
        assert len(cams) == 5 and not any(".0" in c for c in cams), (key, cams)
        # after the delete, the user's camera stays where the Outliner put it (the scene collection)
        in_rig = steps[key + "_in_rig"]
        assert len(in_rig) == (5 if key == "with_mine" else 4) and len(set(in_rig)) == len(in_rig), (key, in_rig)
    assert "front camera" in steps["after_rename_cameras"]
    assert "HPD3D Rig" not in steps["after_rename_collections"], steps["after_rename_collections"]
    assert len(steps["ring8_cameras"]) == 9 and "My Camera" in steps["ring8_cameras"]
    assert steps["my_camera_alive"]


def test_existing_dataset_is_refused_before_any_frame_is_evaluated(layer_run):
    tasks, _ = layer_run
    run = tasks[6]
    assert run["first"][0] == ["FINISHED"], run["first"]
    assert run["second"][0] is None
    msg = _one_line(run["second"][1])
    assert "already exists" in msg and "tick Overwrite" in msg, msg
    assert run["frames_evaluated"] == 0, f"{run['frames_evaluated']} frames evaluated before refusing"


def test_the_report_is_not_saved_in_the_blend(layer_run):
    tasks, _ = layer_run
    run = tasks[5]
    assert run["generate"][0] == ["FINISHED"] and "wrote 1 sequences" in run["report_before"]
    assert run["report_after_reopen"] == "", run["report_after_reopen"]
