"""Every number from a file or an option within its documented range (core/limits.py, README "Limits"):
out of range is one line naming the file or option (exit 1 for files, 2 for options), never a traceback, a
NaN/inf in the output or a 0 fps dataset; sizes follow the bytes present, not a header's claim."""
import json
import resource
import subprocess
import sys

import pytest

from conftest import FAMILIES, REPO
from hpd3d_addon.cli import main as hpd3d

GOOD = FAMILIES / "lafan1_walk1.bvh"


def _with_line(prefix, new):
    lines = GOOD.read_text().split("\n")
    i = next(k for k, l in enumerate(lines) if l.strip().startswith(prefix))
    lines[i] = new
    return "\n".join(lines)


def _run(tmp_path, capsys, text=None, *options):
    src = tmp_path / "in" / "S1" / "take.bvh"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(text if text is not None else GOOD.read_text())
    rc = hpd3d(["generate", str(src), "--out", str(tmp_path / "out"), "--quiet", *map(str, options)])
    out = capsys.readouterr()
    return rc, out.out, out.err, tmp_path / "out"


@pytest.mark.parametrize("frame_time, message", [
    ("5e-324", "frame rate must be 0.1 to 1000"),   # denormal: was a dataset "at inf fps"
    ("1e300", "frame rate must be 0.1 to 1000"),    # huge: was a dataset at 0 fps
    ("20", "frame rate must be 0.1 to 1000"),
])
@pytest.mark.parametrize("fps", [None, 30])
def test_frame_time_extremes_are_one_line(tmp_path, capsys, frame_time, message, fps):
    options = ("--fps", fps) if fps else ()
    rc, out, err, folder = _run(tmp_path, capsys, _with_line("Frame Time", f"Frame Time: {frame_time}"), *options)
    assert rc == 1 and "Traceback" not in out + err and message in err, err
    assert len(err.strip().splitlines()) == 1 and "take.bvh" in err
    assert not (folder / "manifest.json").exists()


def test_fps_1e7_fails_before_allocating(tmp_path, capsys):
    """Was: over a GB allocated before failing. Now refused by range, and an in-range rate that would
    multiply the frames beyond the documented factor is refused before resampling."""
    limit = resource.getrlimit(resource.RLIMIT_AS)
    rc, _, err, _ = _run(tmp_path, capsys, None, "--fps", "1e7")
    assert rc == 2 and "invalid --fps 1e+07" in err and "0.1 to 1000" in err
    text = _with_line("Frame Time", "Frame Time: 10")  # 0.1 fps: 1000 fps is 10,000x
    rc, _, err, _ = _run(tmp_path, capsys, text, "--fps", "1000")
    assert rc == 1 and "at most 100x the file's frames" in err, err
    assert resource.getrlimit(resource.RLIMIT_AS) == limit


@pytest.mark.parametrize("edit, message", [
    (("OFFSET", "OFFSET 1e300 0 0"), "beyond 1e+09 in magnitude"),
    (("OFFSET", "OFFSET 1e12 0 0"), "beyond 1e+09 in magnitude"),
])
def test_absurd_but_finite_values_are_refused(tmp_path, capsys, edit, message):
    rc, out, err, _ = _run(tmp_path, capsys, _with_line(*edit))
    assert rc == 1 and message in err and "Traceback" not in out + err, err


def test_absurd_motion_and_scale(tmp_path, capsys):
    lines = GOOD.read_text().split("\n")
    i = next(k for k, l in enumerate(lines) if l.strip().startswith("Frame Time")) + 3
    lines[i] = " ".join(["1e200"] + lines[i].split()[1:])
    rc, _, err, _ = _run(tmp_path, capsys, "\n".join(lines))
    assert rc == 1 and "motion value 1e+200 (frame 3, joint" in err, err
    rc, _, err, _ = _run(tmp_path, capsys, None, "--scale", "1000")
    assert rc == 1 and "tall at scale 1000" in err and "check --scale" in err, err


def test_header_claims_are_not_believed(tmp_path, capsys):
    rc, _, err, _ = _run(tmp_path, capsys, _with_line("Frames:", "Frames: 1000000000"))
    assert rc == 1 and "'Frames: 1000000000' but the file has" in err, err
    rc, _, err, _ = _run(tmp_path, capsys, _with_line("CHANNELS 3", "CHANNELS 100000000 Xrotation"))
    assert rc == 1 and "CHANNELS says 100000000 but lists 1" in err, err


def test_deep_and_wide_hierarchies_stop_at_the_documented_limits(tmp_path, capsys):
    head = "HIERARCHY\nROOT r\n{\nOFFSET 0 0 0\nCHANNELS 3 Xrotation Yrotation Zrotation\n"
    deep = head + "".join(f"JOINT j{d}\n{{\nOFFSET 0 1 0\n" for d in range(1001)) + "}\n" * 1002
    rc, _, err, _ = _run(tmp_path, capsys, deep + "MOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0\n")
    assert rc == 1 and "nested deeper than 1000 levels" in err, err
    wide = head + "".join(f"JOINT j{d}\n{{\nOFFSET 0 1 0\n}}\n" for d in range(10001)) + "}\n"
    rc, _, err, _ = _run(tmp_path, capsys, wide + "MOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0\n")
    assert rc == 1 and "more than 10000 joints" in err, err


@pytest.mark.parametrize("option, value", [
    ("--fps", "nan"), ("--fps", "inf"), ("--fps", "0.01"), ("--scale", "nan"), ("--scale", "1e9"),
    ("--distance", "inf"), ("--distance", "1e300"), ("--focal", "nan"), ("--focal", "1e300"), ("--height", "nan"),
    ("--margin", "nan"), ("--margin", "-5"), ("--margin", "600"), ("--resolution", "0x0"),
    ("--resolution", "100000x10"), ("--rig", "ring:100000"), ("--rig", "dome:2@nan"), ("--rig", "dome:1@91"),
    ("--distortion", "nan,0,0,0,0"), ("--distortion", "1e300,0,0,0,0"), ("--seed", "-1"), ("--name", "../x"),
    ("--noise", "gauss:inf"),
])
def test_options_out_of_range_are_usage_errors(tmp_path, capsys, option, value):
    rc, out, err, folder = _run(tmp_path, capsys, None, option, value)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and option in err and "Traceback" not in out + err, err
    assert not folder.exists() or not any(folder.iterdir())


def test_generate_options_are_validated_for_the_addon_too():
    """DatasetBuilder (what the add-on's operators use) checks the options itself."""
    from hpd3d_addon.core.dataset import DatasetBuilder, GenerateOptions
    from hpd3d_addon.core.limits import UsageError
    with pytest.raises(UsageError, match="--fps"):
        DatasetBuilder(GenerateOptions(fps=float("inf")))
    DatasetBuilder(GenerateOptions(fps=50.0))


@pytest.mark.parametrize("camera, message", [
    ({"azimuth": 0, "distance": float("inf")}, "not valid JSON (Infinity"),
    ({"azimuth": 0, "distance": 1e300}, "camera 0 'distance'"),
    ({"azimuth": 0, "elevation": 95}, "camera 0 'elevation'"),
    ({"azimuth": 0, "focal_length": [0, 1000]}, "camera 0 'focal_length'"),
    ({"azimuth": 0, "res_w": 1.5}, "camera 0 'res_w'"),
    ({"azimuth": 0, "center": ["a", 1]}, "camera 0 'center'"),
    ({"orientation": [0, 0, 0, 0], "translation": [0, 0, 0]}, "zero quaternion"),
    ({"orientation": [1, 0, 0, 0], "translation": [1e300, 0, 0]}, "camera 0 'translation'"),
    ({"azimuth": 0, "orientation": [1, 0, 0, 0]}, "'translation' must be a list of 3 numbers"),
])
def test_rig_file_values_are_checked(tmp_path, capsys, camera, message):
    rig = tmp_path / "rig.json"
    rig.write_text(json.dumps({"cameras": [camera]}))
    rc, out, err, _ = _run(tmp_path, capsys, None, "--rig", rig)
    assert rc == 2 and message in err and str(rig) in err and "Traceback" not in out + err, err


@pytest.mark.parametrize("content, message", [
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ('{"Hip": {"Hips": NaN}}', "not valid JSON (NaN"),
    ('{"Hip": {"Hips": 1e300, "Spine": -1e300}}', "blend weights must be numbers"),
    ('{"Hip": {"Hips": 0.7}}', "sum to 0.7"),
    ('{"Hip": 7}', "'Hip': invalid value"),
    ('{"extends": "cmu", "joints": [1]}', "'joints' must be a JSON object"),
])
def test_mapping_file_values_are_checked(tmp_path, capsys, content, message):
    mapping = tmp_path / "map.json"
    mapping.write_text(content)
    rc, out, err, _ = _run(tmp_path, capsys, None, "--mapping", mapping)
    assert rc == 1 and message in err and str(mapping) in err and "Traceback" not in out + err, err


def test_accepted_output_is_finite_and_strict(tmp_path, capsys):
    """At the edges of the ranges the output is still finite, strict JSON, at the asked rate."""
    text = _with_line("Frame Time", "Frame Time: 10")  # 0.1 fps, the slowest accepted
    rc, _, err, folder = _run(tmp_path, capsys, text, "--fps", "10", "--distance", "1e4", "--focal", "1e6")
    assert rc in (0, 1) and "Traceback" not in err, err
    manifest = json.loads((folder / "manifest.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert manifest
    sys.path.insert(0, str(REPO / "tools"))
    try:
        from fuzz import verify_output
    finally:
        sys.path.remove(str(REPO / "tools"))
    assert verify_output(folder) is None


def test_check_reports_malformed_structures_in_one_line(tmp_path):
    """A dataset whose members have the wrong shape or type: `check` names the file and key."""
    src = tmp_path / "in" / "S1" / "take.bvh"
    src.parent.mkdir(parents=True)
    src.write_text(GOOD.read_text())
    subprocess.run([sys.executable, "-m", "hpd3d_addon", "generate", str(src), "--out", str(tmp_path / "ds"),
                    "--rig", "ring:2", "--quiet"], check=True, cwd=REPO, capture_output=True)
    import numpy as np
    from pickle_payloads import write_npz
    path = tmp_path / "ds" / "data_2d_blender_gt.npz"
    with np.load(path, allow_pickle=True) as z:
        members = {k: z[k].item() if z[k].dtype.hasobject else z[k] for k in z.files}
    members["positions_2d"]["S1"]["take"][1] = "x"
    write_npz(path, members)
    r = subprocess.run([sys.executable, "-m", "hpd3d_addon", "check", str(tmp_path / "ds")], capture_output=True,
                       text=True, cwd=REPO)
    problems = [l for l in r.stdout.splitlines() if "problem:" in l]
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr and len(problems) == 1, r.stdout + r.stderr
    assert "positions_2d['S1']['take']: must be a list of arrays (frames, joints, 2) of floats" in problems[0]


def test_readme_lists_the_limits_in_force():
    from hpd3d_addon.core.limits import table
    assert table() in (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("content, message", [
    ('{"bias_px": NaN}', "not valid JSON (NaN"),
    ('{"bias_px": 1e300}', "'bias_px': 1e+300 is not valid"),
    ('{"gross_rate": 2}', "'gross_rate': 2 is not valid"),
    ('{"swap_frames": [6, 2]}', "must not exceed"),
    ('{"swap_frames": [1.5, 2]}', "'swap_frames': 1.5 is not valid"),
    ('{"joint_sigma_px": {"Hip": "x"}}', "'joint_sigma_px': 'x' is not valid"),
    ('{"gross_size": [0.1]}', "'gross_size' must be a list of 2 numbers"),
    ('{"joint_offset_px": {"Hip": [1]}}', "offset is a list [x, y] of 2 numbers"),
    ('{"joint_offset_px": {"Hip": [1, 1e300]}}', "'joint_offset_px': 1e+300 is not valid"),
    ('{"joint_offset_px": [1, 2]}', "must be an object of joint name -> [x, y]"),
])
def test_noise_model_file_values_are_checked(tmp_path, capsys, content, message):
    noise = tmp_path / "noise.json"
    noise.write_text(content)
    rc, out, err, _ = _run(tmp_path, capsys, None, "--keypoints", "gt,detector", "--noise", noise)
    assert rc in (1, 2) and message in err and str(noise) in err and "Traceback" not in out + err, err


def test_noise_confidence_curve_needs_positive_a_and_b(tmp_path, capsys):
    noise = tmp_path / "noise.json"
    noise.write_text('{"confidence_abms": [0.028, 0, -0.0046, 0.143]}')
    rc, out, err, _ = _run(tmp_path, capsys, None, "--keypoints", "gt,detector", "--noise", noise)
    assert rc == 1 and "a and b must be > 0" in err and "Traceback" not in out + err, err


def test_deep_camera_text_is_refused_before_parsing(tmp_path):
    """Python's parser answers deep nesting with MemoryError: the depth is checked first."""
    from hpd3d_addon.core.check import read_literal_file
    from hpd3d_addon.core.errors import InputError
    path = tmp_path / "camera_intrinsics.txt"
    path.write_text("[" + "{" * 500 + "]")
    with pytest.raises(InputError, match="nested deeper than 32 levels"):
        read_literal_file(path)
