"""The joint overlay in the real Blender application (Debian's 3.4 in a window on Xvfb, driven by
scripts/overlay_driver.py): after Import BVH for Preview, Build Rig and Generate Dataset on the sample walk,
the overlay drawn over the view through a rig camera puts every joint on the dataset's stored 2D of that
camera, marks what its `occluded` holds, and draws the detector keypoints `hpd3d generate --keypoints
gt,detector` writes for the same settings.

Measured per case (frames 60, 1, 100 of camera 1; frame 60 of camera 2, zoomed in; frame 41 of a close rig
that does not fit, so some joints leave the image): the overlay's own region coordinates, mapped into camera
pixels through the camera frame's corners in the region, against data_2d's stored pixels (<= 0.5 px); its
marks against the stored visibility and occlusion; its detector keypoints against the command line's
detector file; and, for joints inside the image, against Blender's own viewport projection of the stored 3D
joints (location_3d_to_region_2d, in camera pixels: within 1 px, as the Blender camera of a Human3.6M rig has
square pixels where the dataset's fy differs from fx by 0.1 %). Scrubbing moves them: the three frames
differ. No Python traceback may appear in Blender's output.

First, with the take imported, the rig built and a dataset generated, the sidebar at its default width shows
the HPD3D tab (clicked with xdotool) for a screenshot: HPD3D_SIDEBAR_SCREENSHOT=path keeps it
(docs/sidebar.png is one). Set HPD3D_OVERLAY_SCREENSHOT=path to keep the screenshot of the fourth case's
view (camera 2, detector on, zoomed in; docs/overlay.png is one).
"""
import json
import os
import shutil
import subprocess
import time

import numpy as np
import pytest

from bpy_session import HERE, build_zips, cli, isolated_env, load_dataset
from conftest import SAMPLES
from test_blender_gui import SCREEN, wait_for, xserver  # noqa: F401  (xserver is a fixture)

DRIVER = HERE / "scripts" / "overlay_driver.py"
TOLERANCE_PX = 0.5


def region_to_image(xy, corners, res):
    """Camera pixels of region points, from the camera frame corners (top-right, bottom-right, bottom-left,
    top-left) in the region: the inverse of laying the res_w x res_h image into that rectangle."""
    tr, _br, bl, tl = (np.asarray(c, dtype=np.float64) for c in corners)
    across, down = tr - tl, bl - tl
    rel = np.asarray(xy, dtype=np.float64).reshape(-1, 2) - tl
    u = rel @ across / (across @ across) * res[0]
    v = rel @ down / (down @ down) * res[1]
    return np.stack([u, v], axis=1)


def click_hpd3d_tab(xdo, geo, ready):
    """Click down the sidebar's tab strip (at its right edge) until the HPD3D tab shows (`ready` appears);
    Blender gives rectangles from the window's bottom-left, X from the top-left."""
    win, side, scale = geo["window"], geo["sidebar"], geo["ui_scale"]
    x = win["x"] + side["x"] + side["width"] - int(10 * scale)
    top = win["height"] - (side["y"] + side["height"])
    for y in range(top + 8, top + side["height"] - 8, int(12 * scale)):
        xdo("mousemove", x, y, "click", 1)
        deadline = time.time() + 0.6
        while time.time() < deadline:
            if ready.exists():
                return y
            time.sleep(0.05)
    pytest.fail("no click on the sidebar's tab strip opened the HPD3D tab")


def sidebar_picture(xdo, xenv, geo, tmp_path):
    """The whole window with the HPD3D tab open, and beside it the sidebar scrolled to its end (Output, Last
    Run): the sidebar is taller than the window at its default width."""
    win, side = geo["window"], geo["sidebar"]
    x, top = win["x"] + side["x"], win["height"] - (side["y"] + side["height"])
    whole, scrolled = tmp_path / "window.png", tmp_path / "scrolled.png"
    xdo("mousemove", win["width"] // 3, win["height"] // 2)  # no hover highlight in the picture
    time.sleep(1.0)
    subprocess.run(["import", "-window", "root", str(whole)], env=xenv, check=True, timeout=60)
    xdo("mousemove", x + side["width"] // 2, top + side["height"] // 2)
    for _ in range(30):
        xdo("click", 5)  # the wheel, down
    xdo("mousemove", win["width"] // 3, win["height"] // 2)
    time.sleep(1.0)
    subprocess.run(["import", "-window", "root", "-crop", f"{side['width']}x{side['height']}+{x}+{top}", "+repage",
                    str(scrolled)], env=xenv, check=True, timeout=60)
    out = tmp_path / "sidebar.png"
    subprocess.run(["convert", str(whole), str(scrolled), "-background", "#303030", "+append", str(out)],
                   check=True, timeout=60)
    return out


def test_overlay_puts_joints_on_the_stored_2d(xserver, tmp_path):
    addon_zip, _ = build_zips(tmp_path / "dist")
    state, home = tmp_path / "state", tmp_path / "home"
    state.mkdir()
    env = isolated_env(home)
    env["DISPLAY"] = xserver
    # Blender runs in the (temporary) home folder with paths relative to it, so the pictures show
    # mocap/... and ~/hpd3d_out/..., not the test's temporary folders
    (home / "mocap").mkdir()
    shutil.copy(SAMPLES / "hpd3d_sample_walk.bvh", home / "mocap")
    out = home / "hpd3d_out"
    log_path = tmp_path / "blender.log"
    xenv = dict(os.environ, DISPLAY=xserver)

    def xdo(*a):
        subprocess.run(["xdotool", *map(str, a)], env=xenv, check=True, timeout=30)
    with open(log_path, "w") as log:
        blender = subprocess.Popen(
            ["blender", "--factory-startup", "-p", "0", "0", str(SCREEN[0]), str(SCREEN[1]), "--python",
             str(DRIVER), "--", str(state), str(addon_zip), "mocap/hpd3d_sample_walk.bvh", "hpd3d_out"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=home)
        try:
            geo = wait_for(state / "geometry.json", blender, 180, "the sidebar")
            click_hpd3d_tab(xdo, geo, state / "sidebar_ready")
            sidebar = sidebar_picture(xdo, xenv, geo, tmp_path)
            if os.environ.get("HPD3D_SIDEBAR_SCREENSHOT"):
                shutil.copy(sidebar, os.environ["HPD3D_SIDEBAR_SCREENSHOT"])
            (state / "sidebar_shot_done").write_text("")
            wait_for(state / "ready_for_shot", blender, 180, "the overlay view to photograph")
            time.sleep(1.0)
            shot = tmp_path / "overlay.png"
            subprocess.run(["import", "-window", "root", str(shot)], env=xenv, check=True, timeout=60)
            if os.environ.get("HPD3D_OVERLAY_SCREENSHOT"):
                shutil.copy(shot, os.environ["HPD3D_OVERLAY_SCREENSHOT"])
            (state / "first_shot_done").write_text("")
            result = wait_for(state / "overlay.json", blender, 180, "the overlay cases")
            blender.wait(timeout=60)
        finally:
            if blender.poll() is None:
                blender.kill()
    output = log_path.read_text(errors="replace")
    assert "Traceback" not in output, output[-4000:]
    datasets = {label: load_dataset(out / label) for label in ("fit", "close")}
    # the same settings through the command line, with the detector file the add-on does not write
    sample = SAMPLES / "hpd3d_sample_walk.bvh"
    for label, extra in (("fit", []), ("close", ["--no-fit", "--distance", "1.5"])):
        assert cli("generate", sample, "--subject", "S1", "--keypoints", "gt,detector", "--out", tmp_path / label,
                   "--quiet", *extra) == 0
        gt = np.load(tmp_path / label / "data_2d_blender_gt.npz", allow_pickle=True)
        det = np.load(tmp_path / label / "data_2d_blender_detector.npz", allow_pickle=True)
        datasets[label]["occluded"] = gt["occluded"].item()["S1"]["hpd3d_sample_walk"]
        datasets[label]["detector"] = det["positions_2d"].item()["S1"]["hpd3d_sample_walk"]
        cli_2d = gt["positions_2d"].item()["S1"]["hpd3d_sample_walk"]
        addon_2d = datasets[label]["positions_2d"]["S1"]["hpd3d_sample_walk"]
        assert all(np.array_equal(a, b) for a, b in zip(cli_2d, addon_2d)), "the add-on's 2D is not the CLI's"
    lines, takes = [], {}
    for rec in result["records"]:
        data = datasets[rec["label"]]
        o = rec["overlay"]
        k = rec["frame"] - 1
        assert o["take_frame"] == k, rec
        stored = data["positions_2d"]["S1"]["hpd3d_sample_walk"][rec["camera_index"]][k].astype(np.float64)
        visible = data["visibility"]["S1"]["hpd3d_sample_walk"][rec["camera_index"]][k]
        camera = data["cameras"]["intrinsics"][rec["camera_index"]]
        assert o["camera"] == camera["id"] and o["res"] == [camera["res_w"], camera["res_h"]], rec
        got = region_to_image(o["region_xy"], rec["corners_tr_br_bl_tl"], o["res"])
        err = float(np.abs(got - stored).max())
        assert err <= TOLERANCE_PX, f"{rec['label']} camera {o['camera']} frame {rec['frame']}: {err:.3f} px"
        kinds = np.array(o["marks"])
        assert list(np.isin(kinds, ["image", "occluded"])) == list(visible), (kinds, visible)
        occluded = data["occluded"][rec["camera_index"]][k]
        assert list(kinds == "occluded") == list(occluded & visible), (kinds, occluded)
        detector = data["detector"][rec["camera_index"]][k].astype(np.float64)
        det_err = float(np.abs(np.array(o["detector_px"]) - detector).max())
        assert det_err <= 1e-3, f"detector keypoints differ from data_2d_detector by {det_err} px"
        own = np.array([b for b, v in zip(rec["blender_xy"], visible) if v], dtype=np.float64).reshape(-1, 2)
        own_px = region_to_image(own, rec["corners_tr_br_bl_tl"], o["res"])
        blender_err = float(np.abs(own_px - stored[visible]).max()) if visible.any() else 0.0
        assert blender_err <= 1.0, f"Blender's own projection is {blender_err:.3f} px from the stored 2D"
        takes[rec["label"], rec["camera_index"], rec["frame"]] = got
        lines.append(f"{rec['label']} cam {o['camera']} frame {rec['frame']}: overlay {err:.4f} px, "
                     f"Blender's projection {blender_err:.3f} px, {int((~visible).sum())} outside, "
                     f"{int((kinds == 'occluded').sum())} occluded, detector {det_err:.1e} px")
    moves = [np.abs(takes["fit", 0, a] - takes["fit", 0, b]).max() for a, b in ((60, 1), (1, 100))]
    assert min(moves) > 5, f"the joints did not move between frames: {moves}"
    outside = [int((np.array(r["overlay"]["marks"]) != "image").sum()) for r in result["records"]]
    assert any(0 < n < len(r["overlay"]["marks"]) for n, r in zip(outside, result["records"])), \
        f"no case had joints both inside and outside the image: {outside}"
    print(f"Blender {result['blender']}: " + "; ".join(lines))
