"""Rig type 'Scene Cameras': camera objects of the 'HPD3D Rig' collection, as the user set them up, become
the dataset's cameras exactly. With lens shift, vertical / horizontal / auto sensor fit, a non-square
render size at a resolution percentage (also one whose size is not a whole number of pixels: Blender renders
the size rounded down), a non-square pixel aspect and a scaled camera object, the exported
2D keypoints equal Blender's own bpy_extras.object_utils.world_to_camera_view of the exported 3D joints
within 0.01 px (pixel u = x * W, v = (1 - y) * H, with W x H the whole-pixel size Blender renders, set as the
scene's resolution at 100 % for world_to_camera_view).

Also build_rig: the cameras it creates reproduce the core's rig (a ring of 8) within 0.01 px when used back
as scene cameras, and a second build updates them in place.
"""
import sys

import numpy as np
import pytest

from bpy_session import build_zips, load_dataset, max_abs_diff, require_bpy, run_session
from conftest import SAMPLES

TOL_PX = 0.01

LANDSCAPE = {
    "render": {"resolution_x": 1920, "resolution_y": 1080, "resolution_percentage": 50,
               "pixel_aspect_x": 1.0, "pixel_aspect_y": 1.25},
    "cameras": [
        {"name": "CamA vertical fit + shift", "sensor_fit": "VERTICAL", "sensor_height": 24.0, "lens": 30.0,
         "shift_x": 0.1, "shift_y": -0.05, "location": [0.0, -9.0, 1.0], "rotation_deg": [90, 0, 0]},
        {"name": "CamB horizontal fit + shift", "sensor_fit": "HORIZONTAL", "sensor_width": 32.0, "lens": 28.0,
         "shift_x": 0.05, "shift_y": 0.08, "location": [8.0, 0.0, 1.2], "rotation_deg": [88, 0, 90]},
        {"name": "CamC auto fit, scaled object", "sensor_fit": "AUTO", "sensor_width": 36.0, "lens": 24.0,
         "shift_x": -0.07, "shift_y": 0.0, "location": [-7.0, -5.0, 2.0], "rotation_deg": [80, 0, -56],
         "scale": [2.0, 2.0, 2.0]},
    ],
}
PORTRAIT = {
    "render": {"resolution_x": 720, "resolution_y": 1280, "resolution_percentage": 100,
               "pixel_aspect_x": 1.2, "pixel_aspect_y": 1.0},
    "cameras": [
        {"name": "CamD auto fit (vertical here)", "sensor_fit": "AUTO", "sensor_width": 36.0, "lens": 20.0,
         "shift_x": 0.0, "shift_y": 0.1, "location": [-8.0, 0.0, 1.0], "rotation_deg": [90, 0, -90]},
        {"name": "CamE vertical fit + shift", "sensor_fit": "VERTICAL", "sensor_height": 30.0, "lens": 35.0,
         "shift_x": -0.12, "shift_y": -0.03, "location": [8.0, 1.0, 0.8], "rotation_deg": [92, 3, 90]},
    ],
}

# 1920 x 1080 at 33 % renders 633 x 356 pixels (Blender rounds the size down), not 633.6 x 356.4
THIRD = {
    "render": {"resolution_x": 1920, "resolution_y": 1080, "resolution_percentage": 33,
               "pixel_aspect_x": 1.0, "pixel_aspect_y": 1.0},
    "cameras": [
        {"name": "CamF auto fit + shift", "sensor_fit": "AUTO", "sensor_width": 36.0, "lens": 30.0,
         "shift_x": 0.08, "shift_y": -0.06, "location": [0.0, -9.0, 1.0], "rotation_deg": [90, 0, 0]},
        {"name": "CamG vertical fit", "sensor_fit": "VERTICAL", "sensor_height": 24.0, "lens": 26.0,
         "shift_x": 0.0, "shift_y": 0.1, "location": [8.0, 0.0, 1.2], "rotation_deg": [88, 0, 90]},
    ],
}


@pytest.fixture(scope="module")
def camera_runs(tmp_path_factory):
    require_bpy()
    tmp = tmp_path_factory.mktemp("scene_cameras")
    addon_zip, _ = build_zips(tmp / "dist")
    base = {"input_path": str(SAMPLES), "rig_type": "SCENE"}
    tasks = [
        dict(kind="generate", world_to_camera_view=True, props=dict(base, output_dir=str(tmp / "landscape")),
             **LANDSCAPE),
        dict(kind="generate", world_to_camera_view=True, props=dict(base, output_dir=str(tmp / "portrait")),
             **PORTRAIT),
        dict(kind="generate", world_to_camera_view=True, props=dict(base, output_dir=str(tmp / "third")),
             **THIRD),
        {"kind": "build_rig", "props": {"input_path": str(SAMPLES), "rig_type": "RING", "rig_count": 8,
                                        "res_w": 1280, "res_h": 720, "focal": 1000.0},
         "out_core": str(tmp / "ring_core"), "out_scene": str(tmp / "ring_scene")},
    ]
    result = run_session(sys.executable, addon_zip, tasks, tmp / "work")
    return result, tmp


@pytest.mark.parametrize("index,setup", [(0, LANDSCAPE), (1, PORTRAIT), (2, THIRD)],
                         ids=["landscape", "portrait", "33-percent"])
def test_scene_cameras_equal_world_to_camera_view(camera_runs, index, setup):
    result, _ = camera_runs
    task = result["tasks"][index]
    assert task["error"] is None and task["result"] == ["FINISHED"], task
    w2cv = task["w2cv"]
    r = setup["render"]
    assert w2cv["render_size"] == [r["resolution_x"] * r["resolution_percentage"] // 100,
                                   r["resolution_y"] * r["resolution_percentage"] // 100]
    assert len(w2cv["cameras"]) == len(setup["cameras"])
    for cam in w2cv["cameras"]:
        print(f"{cam['camera']}: max {cam['max_px']:.2e} px (keypoints spread over {cam['spread_px']:.0f} px)")
        assert cam["spread_px"] > 50, f"{cam['camera']} hardly sees the subject: the test would prove little"
    assert w2cv["max_px"] <= TOL_PX, f"exported 2D differs from world_to_camera_view by {w2cv['max_px']:.4f} px"
    assert "PASS" in task["report"]


def test_scene_camera_intrinsics_are_written(camera_runs):
    _, tmp = camera_runs
    data = load_dataset(tmp / "landscape")
    intr = data["cameras"]["intrinsics"]
    assert [c["id"] for c in intr] == [c["name"] for c in LANDSCAPE["cameras"]]
    assert {(c["res_w"], c["res_h"]) for c in intr} == {(960, 540)}
    fx, fy = intr[0]["focal_length"]
    assert abs(fy / fx - 1 / 1.25) < 1e-6            # pixel aspect 1 : 1.25 -> fy = fx / 1.25
    assert abs(intr[0]["center"][0] - (480 - 0.1 * 540 * 1.25)) < 1e-3  # vertical fit: shift in units of the height


def test_a_fractional_render_size_is_the_whole_pixels_blender_renders(camera_runs):
    _, tmp = camera_runs
    intr = load_dataset(tmp / "third")["cameras"]["intrinsics"]
    assert {(c["res_w"], c["res_h"]) for c in intr} == {(633, 356)}
    # no shift on CamG's x: the principal point is the middle of the 633 px the image has
    assert abs(intr[1]["center"][0] - 633 / 2) < 1e-9, intr[1]["center"]


def test_build_rig_cameras_reproduce_the_core_rig(camera_runs):
    result, tmp = camera_runs
    task = result["tasks"][3]
    assert task["result"] == ["FINISHED"], task
    assert len(task["cameras"]) == 8 and task["cameras_after_rebuild"] == task["cameras"]
    assert task["render"] == [1280, 720, 100, 1.0, 1.0]
    gen1, e1, gen2, e2 = task["generate"]
    assert gen1 == ["FINISHED"] and gen2 == ["FINISHED"], (e1, e2)
    core, scene = load_dataset(tmp / "ring_core"), load_dataset(tmp / "ring_scene")
    err = max_abs_diff(core["positions_2d"], scene["positions_2d"])
    print(f"build_rig ring:8 as scene cameras vs the core's rig: max {err:.2e} px")
    assert err <= TOL_PX
    a = np.array([c["focal_length"] for c in core["cameras"]["intrinsics"]])
    b = np.array([c["focal_length"] for c in scene["cameras"]["intrinsics"]])
    assert np.abs(a - b).max() < 1e-3
