"""The add-on in pip's bpy 5.0: the zip built by tools/build_addon.py installs through
bpy.ops.preferences.addon_install, enables, registers the HPD3D sidebar panels and operators; its settings
have the CLI's defaults and a tooltip each; register/unregister twice leaves no trace; and
bpy.ops.hpd3d.generate_dataset() with only input_path/output_dir set writes the same arrays, byte for byte,
as `hpd3d generate` with its defaults. Bad input is a one-line operator error naming the file.

Blender runs in a subprocess (scripts/addon_session.py) with its user folders in a temporary directory.
"""
import shutil
import sys
import time
import zipfile

import pytest

from bpy_session import REPO, assert_identical, build_zips, cli, load_dataset, require_bpy, run_session
from conftest import SAMPLES, shared_bvh_files
from hpd3d_addon.cli import build_parser

EXPECTED_PANELS = ["HPD3D_PT_cameras", "HPD3D_PT_cameras_lens", "HPD3D_PT_cameras_placement", "HPD3D_PT_input",
                   "HPD3D_PT_output", "HPD3D_PT_output_options", "HPD3D_PT_output_result", "HPD3D_PT_skeleton"]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """One Blender session running every task of this file; returns (result, paths)."""
    version = require_bpy()
    tmp = tmp_path_factory.mktemp("addon_bpy")
    addon_zip, _ = build_zips(tmp / "dist")
    # A folder with two subjects: the project's sample, and a real Bandai Namco file when ../shared is there.
    inputs = tmp / "inputs"
    (inputs / "S1").mkdir(parents=True)
    shutil.copy(SAMPLES / "hpd3d_sample_walk.bvh", inputs / "S1")
    real = [p for p in shared_bvh_files() if p.name.startswith("bandai")][:1]
    if real:
        (inputs / "S2").mkdir()
        shutil.copy(real[0], inputs / "S2")
    bad = tmp / "bad"
    bad.mkdir()
    (bad / "truncated.bvh").write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n")
    existing = tmp / "existing"
    tasks = [
        {"kind": "settings"},
        {"kind": "register_cycles"},
        {"kind": "generate", "props": {"input_path": str(inputs), "output_dir": str(tmp / "addon_out")}},
        {"kind": "generate", "props": {"input_path": str(SAMPLES), "output_dir": str(existing)}},
        {"kind": "errors", "cases": {
            "missing_input": {"input_path": str(tmp / "nowhere.bvh"), "output_dir": str(tmp / "e1")},
            "no_output": {"input_path": str(inputs)},
            "bad_file": {"input_path": str(bad / "truncated.bvh"), "output_dir": str(tmp / "e2")},
            "exists": {"input_path": str(SAMPLES), "output_dir": str(existing)},
            "scene_without_armature": {"source": "SCENE", "output_dir": str(tmp / "e3")},
            "scene_rig_without_cameras": {"input_path": str(SAMPLES), "output_dir": str(tmp / "e4"),
                                          "rig_type": "SCENE"},
        }},
        {"kind": "import_bvh", "props": {"input_path": str(SAMPLES / "hpd3d_sample_walk.bvh")}},
        {"kind": "overlay_data", "props": {"input_path": str(SAMPLES / "hpd3d_sample_walk.bvh"), "noise": "gauss:4",
                                           "noise_seed": 7, "layout_2d": "coco17"}},
    ]
    started = time.perf_counter()
    result = run_session(sys.executable, addon_zip, tasks, tmp / "work")
    result["seconds"] = time.perf_counter() - started
    print(f"bpy {version}: session with {len(tasks)} tasks in {result['seconds']:.1f} s")
    return result, {"tmp": tmp, "zip": addon_zip, "inputs": inputs, "bad": bad}


def test_zip_layout(session):
    _, paths = session
    with zipfile.ZipFile(paths["zip"]) as zf:
        names = zf.namelist()
    assert all(n.startswith("hpd3d_addon/") for n in names)
    assert "hpd3d_addon/__init__.py" in names and "hpd3d_addon/blender_dataset.py" in names
    assert "hpd3d_addon/blender_manifest.toml" in names and "hpd3d_addon/blender/operators.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_installs_enables_and_registers_panels(session):
    result, paths = session
    info = result["install"]
    assert info["enabled"] and info["listed"]
    # what runs is the installed copy of the zip, not the checkout
    assert info["module_file"].startswith(str(paths["tmp"] / "work" / "home")), info["module_file"]
    assert info["panels"] == EXPECTED_PANELS
    assert info["categories"] == ["HPD3D"] and info["region"] == ["VIEW_3D/UI"]
    assert info["operators"] == ["build_rig", "generate_dataset", "import_bvh"]
    assert info["has_settings"]


def test_settings_defaults_equal_the_cli_and_have_tooltips(session):
    result, _ = session
    settings = result["tasks"][0]
    gen = build_parser()._subparsers._group_actions[0].choices["generate"]
    cli = {a.dest: a.default for a in gen._actions}
    # property -> (CLI option, how the CLI's default reads as that property)
    same = {"dataset_name": "name", "layout": "layout", "end_sites": "end_sites", "preset": "preset",
            "mapping": "mapping", "distance": "distance", "height": "height", "focal": "focal",
            "margin": "margin", "distortion": "distortion", "seed": "seed", "subject": "subject",
            "strict": "strict", "overwrite": "overwrite", "preview": "preview"}
    for prop, dest in same.items():
        got = settings[prop]["default"]
        want = cli[dest]
        assert (abs(got - want) < 1e-6 * max(1, abs(want))) if isinstance(want, float) else got == want, (prop, got, want)
    assert settings["auto_scale"]["default"] is True and cli["scale"] == "auto"
    assert settings["resample"]["default"] is False and cli["fps"] is None     # off: keep the source's rate
    assert settings["fit"]["default"] is True and cli["no_fit"] is False
    assert settings["rig_type"]["default"] == "H36M" and cli["rig"] == "h36m"
    assert f"{settings['res_w']['default']}x{settings['res_h']['default']}" == cli["resolution"]
    assert settings["source"]["default"] == "BVH"
    for name in ("input_path", "output_dir", "dataset_name", "source", "layout", "preset", "scale", "fps",
                 "rig_type", "rig_count", "distance", "height", "focal", "res_w", "res_h", "fit", "seed",
                 "overwrite"):
        assert name in settings, f"setting {name} is missing"
    missing = [k for k, v in settings.items() if len(v["description"]) < 10]
    assert not missing, f"properties without a tooltip: {missing}"


def test_register_unregister_twice_leaves_no_trace(session):
    result, _ = session
    assert result["tasks"][1]["problems"] == []


def test_generate_dataset_equals_cli(session, tmp_path):
    result, paths = session
    task = result["tasks"][2]
    assert task["error"] is None and task["result"] == ["FINISHED"], task
    assert "reprojection check" in task["report"] and "PASS" in task["report"]
    assert cli("generate", paths["inputs"], "--out", tmp_path / "cli_out", "--quiet") == 0
    ours, theirs = load_dataset(paths["tmp"] / "addon_out"), load_dataset(tmp_path / "cli_out")
    for key in ("positions_3d", "positions_2d", "visibility", "cameras", "metadata", "metadata_3d",
                "intrinsics_txt", "extrinsics_txt", "loader"):
        assert_identical(ours[key], theirs[key], key)
    settings = dict(ours["manifest"]["settings"], out=None)
    assert settings == dict(theirs["manifest"]["settings"], out=None)
    assert ours["manifest"]["generator"]["blender"].startswith(result["bpy"].split()[0])
    assert len(ours["positions_3d"]) == (2 if (paths["inputs"] / "S2").is_dir() else 1)


def test_user_errors_are_one_line_reports_naming_the_file(session):
    result, paths = session
    errors = result["tasks"][4]
    for label, (res, msg) in errors.items():
        assert res is None and msg, f"{label}: no error report ({res})"
        text = msg.strip()
        assert "Traceback" not in text, f"{label}: traceback in the report:\n{text}"
        assert len(text.splitlines()) == 1, f"{label}: not one line:\n{text}"
    assert "nowhere.bvh" in errors["missing_input"][1]
    assert "Output Folder" in errors["no_output"][1]
    assert "truncated.bvh" in errors["bad_file"][1]
    assert "already exists" in errors["exists"][1] and "tick Overwrite" in errors["exists"][1]
    assert "armature" in errors["scene_without_armature"][1]
    assert "HPD3D Rig" in errors["scene_rig_without_cameras"][1]
    assert not (paths["tmp"] / "e2").exists() or not any((paths["tmp"] / "e2").iterdir())


def test_import_bvh_brings_the_take_in_at_the_dataset_scale(session):
    result, _ = session
    task = result["tasks"][5]
    assert task["result"] == ["FINISHED"], task
    assert task["armatures"] == ["hpd3d_sample_walk"]
    assert task["frame_range"] == [1.0, 120.0]
    assert abs(task["fps"] - 30.0) < 1e-3


def test_overlay_shows_the_detector_file_of_the_output_options(session, tmp_path):
    """The overlay's detector keypoints follow the Output options (Noise, Noise Seed, 2D Layout): for
    gauss:4, seed 7 and COCO-17 they are the detector file `hpd3d generate` writes with those options, drawn
    with COCO-17's bones."""
    import numpy as np
    from hpd3d_addon.core.layouts import layout_2d
    result, _ = session
    task = next(t for t in result["tasks"] if isinstance(t, dict) and "views" in t)
    assert not task["error"], task["error"]
    assert task["noise"] == "gauss:4, seed 7"
    coco = layout_2d("coco17")
    assert task["parents"] == list(coco.parents) and [task["left"], task["right"]] == [list(x) for x in
                                                                                       coco.keypoints_symmetry]
    out = tmp_path / "cli"
    assert cli("generate", SAMPLES / "hpd3d_sample_walk.bvh", "--out", out, "--quiet", "--keypoints", "gt,detector",
               "--noise", "gauss:4", "--noise-seed", "7", "--layout-2d", "coco17") == 0
    with np.load(out / "data_2d_blender_detector.npz", allow_pickle=True) as d:
        det = d["positions_2d"].item()
    with np.load(out / "data_2d_blender_gt.npz", allow_pickle=True) as d:
        gt = d["positions_2d"].item()
    (views,), (gt_views,) = [a for s in det.values() for a in s.values()], [a for s in gt.values() for a in s.values()]
    assert len(views) == len(task["views"]) == 4
    for i, (cid, v) in enumerate(task["views"].items()):  # cameras in rig order
        assert np.array_equal(np.asarray(v["px"], np.float32), gt_views[i]), cid
        assert np.array_equal(np.asarray(v["detector"], np.float32), views[i]), cid
