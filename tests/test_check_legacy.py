"""`hpd3d check` fails a dataset made the original script's way and passes ours; its structural checks
catch broken datasets.

The original-method dataset comes from benchmarks/legacy_reproduction.py (our reproduction of the
described genDataset3D.py behaviour, run with the bpy module on one Bandai Namco fixture, 4 cameras).
"""
import ast
import json
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hpd3d_addon.cli import main as cli_main
from hpd3d_addon.core.commit import file_digest

REPO = Path(__file__).resolve().parent.parent
LEGACY = REPO / "benchmarks" / "legacy_reproduction.py"
BANDAI_FILE = "bandai_bow_active_001.bvh"


def _check(folder, capsys):
    """(exit code, printed report) of `hpd3d check folder`."""
    capsys.readouterr()
    code = cli_main(["check", str(folder)])
    return code, capsys.readouterr().out


def _figures(report):
    m = re.search(r"reprojection error: max ([0-9.e+-]+) px, mean ([0-9.e+-]+) px", report)
    assert m, f"no reprojection figures in the report:\n{report}"
    return float(m.group(1)), float(m.group(2))


def _one_file_folder(tmp_path, source):
    """A folder holding only `source` (a link: the fixture is never copied), subject = the folder name."""
    d = tmp_path / "S1"
    d.mkdir()
    link = d / source.name
    try:
        link.symlink_to(source)
    except OSError:
        link.write_bytes(source.read_bytes())  # no symlinks on this filesystem: a temporary copy
    return d


@pytest.fixture
def bandai_one(shared_bvh_dir, tmp_path):
    src = shared_bvh_dir / BANDAI_FILE
    if not src.is_file():
        pytest.skip(f"{src} not found")
    return _one_file_folder(tmp_path, src)


def _generate(inputs, out, *extra):
    code = cli_main(["generate", *map(str, inputs), "--out", str(out), "--quiet", *extra])
    assert code == 0, f"generate exited {code}"
    return out


def test_check_fails_the_original_method_and_passes_ours(bandai_one, tmp_path, capsys):
    if importlib.util.find_spec("bpy") is None:
        pytest.skip("the bpy module is not installed (pip install bpy); the original method needs Blender")
    legacy_out = tmp_path / "legacy"
    run = subprocess.run([sys.executable, str(LEGACY), str(bandai_one), "--out", str(legacy_out), "--cameras", "4"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    # The original layout: cameras only in the txt files, 2D in whole pixels.
    assert sorted(p.name for p in legacy_out.iterdir()) == [
        "camera_extrinsics.txt", "camera_intrinsics.txt", "data_2d_blender_gt.npz", "data_3d_blender.npz"]
    intr = ast.literal_eval((legacy_out / "camera_intrinsics.txt").read_text())
    assert len(intr) == 4 and intr[0]["focal_length"] == [1280.0, 1080.0]
    with np.load(legacy_out / "data_3d_blender.npz", allow_pickle=True) as z:
        assert "cameras" not in z.files
    with np.load(legacy_out / "data_2d_blender_gt.npz", allow_pickle=True) as z:
        views = z["positions_2d"].item()["S1"][Path(BANDAI_FILE).stem]
    assert len(views) == 4 and all(np.array_equal(v, np.round(v)) for v in views)

    code, report = _check(legacy_out, capsys)
    max_px, mean_px = _figures(report)
    with capsys.disabled():
        print(f"\ncheck on the original method's dataset: mean {mean_px:.1f} px, max {max_px:.1f} px -> exit {code}")
    assert code == 1 and report.rstrip().endswith("FAIL"), report
    assert "problem:" not in report, "the original layout must load; only its geometry is wrong"
    assert 10.0 <= mean_px <= 500.0, f"expected an error of tens of pixels, got mean {mean_px} px"
    assert max_px > mean_px

    ours = _generate([bandai_one], tmp_path / "ours", "--rig", "ring:4")
    code, report = _check(ours, capsys)
    max_px, mean_px = _figures(report)
    with capsys.disabled():
        print(f"check on our dataset of the same file: mean {mean_px:.2e} px, max {max_px:.2e} px -> exit {code}")
    assert code == 0 and report.rstrip().endswith("PASS"), report
    assert max_px <= 0.01


# --- structural checks, on our own output of the embedded sample (no ../shared or bpy needed) ---

def _rewrite_npz(path, **changes):
    with np.load(path, allow_pickle=True) as z:
        data = {k: (z[k].item() if z[k].dtype == object else z[k]) for k in z.files}
    data.update(changes)
    np.savez_compressed(path, **data)
    _reseal(path)


def _reseal(path):
    """Record a rewritten file in the manifest, as if its run had written it: these tests are about the
    structure check (a file swapped or changed behind the manifest's back fails: tests/test_commit.py)."""
    manifest_path = Path(path).parent / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        size, sha = file_digest(path)
        manifest["contents"][Path(path).name] = {"bytes": size, "sha256": sha}
        manifest_path.write_text(json.dumps(manifest))


def _load(path, key):
    with np.load(path, allow_pickle=True) as z:
        return z[key].item()


@pytest.fixture
def good_dataset(sample_bvh, tmp_path):
    return _generate([sample_bvh], tmp_path / "ds", "--subject", "S1", "--rig", "ring:3")


def _break_short_2d(folder):
    p2 = _load(folder / "data_2d_blender_gt.npz", "positions_2d")
    action = next(iter(p2["S1"]))
    p2["S1"][action][1] = p2["S1"][action][1][:-5]
    _rewrite_npz(folder / "data_2d_blender_gt.npz", positions_2d=p2)
    return "2D shape"


def _break_missing_view(folder):
    p2 = _load(folder / "data_2d_blender_gt.npz", "positions_2d")
    action = next(iter(p2["S1"]))
    p2["S1"][action] = p2["S1"][action][:2]
    _rewrite_npz(folder / "data_2d_blender_gt.npz", positions_2d=p2)
    return "2 2D views for 3 cameras"


def _break_missing_camera(folder):
    cams = _load(folder / "data_3d_blender.npz", "cameras")
    cams["extrinsics"]["S1"] = cams["extrinsics"]["S1"][:2]
    _rewrite_npz(folder / "data_3d_blender.npz", cameras=cams)
    return "3 2D views for 2 cameras"


def _break_missing_2d_file(folder):
    (folder / "data_2d_blender_gt.npz").unlink()
    return "missing data_2d_blender"


def _break_wrong_joint_count(folder):
    p3 = _load(folder / "data_3d_blender.npz", "positions_3d")
    action = next(iter(p3["S1"]))
    p3["S1"][action] = p3["S1"][action][:, :16]
    _rewrite_npz(folder / "data_3d_blender.npz", positions_3d=p3)
    return "16 joints, metadata says 17"


def _break_no_cameras_anywhere(folder):
    with np.load(folder / "data_3d_blender.npz", allow_pickle=True) as z:
        keep = {k: z[k].item() for k in z.files if k != "cameras"}
    np.savez_compressed(folder / "data_3d_blender.npz", **keep)
    (folder / "camera_intrinsics.txt").unlink()
    return "no cameras"


@pytest.mark.parametrize("breaker", [_break_short_2d, _break_missing_view, _break_missing_camera,
                                     _break_missing_2d_file, _break_wrong_joint_count, _break_no_cameras_anywhere],
                         ids=lambda f: f.__name__[len("_break_"):])
def test_check_catches_a_broken_dataset(good_dataset, breaker, capsys):
    code, report = _check(good_dataset, capsys)
    assert code == 0, report
    expected = breaker(good_dataset)
    code, report = _check(good_dataset, capsys)
    assert code == 1, report
    assert report.rstrip().endswith("FAIL")
    problems = [line for line in report.splitlines() if "problem:" in line]
    assert any(expected in line for line in problems), f"expected a problem mentioning '{expected}':\n{report}"


def test_check_notes_but_accepts_longer_2d(good_dataset, capsys):
    """run.py trims 2D that is longer than 3D, so check reports it as a note, not a failure."""
    p2 = _load(good_dataset / "data_2d_blender_gt.npz", "positions_2d")
    p3 = _load(good_dataset / "data_3d_blender.npz", "positions_3d")
    action = next(iter(p2["S1"]))
    p2["S1"][action][0] = np.concatenate([p2["S1"][action][0], p2["S1"][action][0][-3:]])
    _rewrite_npz(good_dataset / "data_2d_blender_gt.npz", positions_2d=p2)
    assert len(p3["S1"][action]) + 3 == len(p2["S1"][action][0])
    code, report = _check(good_dataset, capsys)
    assert code == 0, report
    assert "3 more frames than 3D" in report
