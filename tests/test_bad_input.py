"""Malformed BVH files: one clear line on stderr naming the file (and line), never a traceback, non-zero exit;
in a batch the good files are still written and the bad ones listed; --strict writes nothing."""
import json
import random
import subprocess
import sys

import numpy as np
import pytest

from conftest import FAMILIES, REPO
from hpd3d_addon.core.bvh import read_bvh
from hpd3d_addon.core.errors import InputError

GOOD = FAMILIES / "lafan1_walk1.bvh"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "hpd3d_addon", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def _lines():
    return GOOD.read_text().split("\n")


def _index(lines, prefix):
    return next(i for i, l in enumerate(lines) if l.strip().startswith(prefix))


def _motion_row(lines, k):
    """Index of the k-th motion row."""
    return _index(lines, "Frame Time") + 1 + k


def _edit_row(k, fn):
    lines = _lines()
    i = _motion_row(lines, k)
    lines[i] = " ".join(fn(lines[i].split()))
    return "\n".join(lines), i + 1


def _replace_line(prefix, new):
    lines = _lines()
    i = _index(lines, prefix)
    lines[i] = new
    return "\n".join(lines), i + 1


def _case_truncated():
    lines = _lines()
    return "\n".join(lines[:40]) + "\n", None


def _case_no_motion():
    lines = _lines()
    return "\n".join(lines[:_index(lines, "MOTION")]) + "\n", None


def _case_offset_after_child():
    lines = _lines()
    i = _index(lines, "JOINT RightUpLeg") - 1  # the '}' closing the left leg
    lines.insert(i + 1, "  OFFSET 1 2 3")
    return "\n".join(lines), i + 2


def _case_compensating_rows():
    """Row 2 one value short, row 3 one value long: the total count is right, the rows are not."""
    lines = _lines()
    a, b = _motion_row(lines, 2), _motion_row(lines, 3)
    lines[a] = " ".join(lines[a].split()[:-1])
    lines[b] = lines[b] + " 0"
    return "\n".join(lines), a + 1


def _case_frames(n):
    return lambda: _replace_line("Frames:", f"Frames: {n}")


def _case_channel():
    lines = _lines()
    i = _index(lines, "CHANNELS 3")
    lines[i] = lines[i].replace("Yrotation", "Wrotation")
    return "\n".join(lines), i + 1


def _case_zero_frames():
    lines = _lines()
    i = _index(lines, "Frames:")
    lines[i] = "Frames: 0"
    return "\n".join(lines[:i + 2]) + "\n", i + 1


def _case_value(k, col, token):
    def make():
        def edit(values):
            values[col] = token
            return values
        return _edit_row(k, edit)
    return make


CASES = {
    "empty": lambda: ("", None),
    "blank_lines_only": lambda: ("\n \r\n\t\n", None),
    "truncated_hierarchy": _case_truncated,
    "no_motion": _case_no_motion,
    "motion_before_hierarchy_closed": lambda: ("\n".join(_lines()[:12] + ["MOTION", "Frames: 1", "Frame Time: 0.1",
                                                                          "0 0 0 0 0 0"]), 13),
    "short_row": lambda: _edit_row(2, lambda v: v[:-1]),
    "long_row": lambda: _edit_row(4, lambda v: v + ["1.5"]),
    "compensating_short_and_long_rows": _case_compensating_rows,
    "more_frames_than_rows": _case_frames(7),
    "fewer_frames_than_rows": _case_frames(5),
    "frames_not_a_number": _case_frames("six"),
    "non_numeric_value": _case_value(3, 7, "abc"),
    "nan_value": _case_value(1, 4, "nan"),
    "inf_value": _case_value(5, 0, "-inf"),
    "unknown_channel": _case_channel,
    "channel_count_mismatch": lambda: _replace_line("CHANNELS 6", "  CHANNELS 6 Xposition Yposition Zposition"),
    "offset_after_child_block": _case_offset_after_child,
    "offset_not_numeric": lambda: _replace_line("OFFSET", "  OFFSET 0 abc 0"),
    "zero_frames": _case_zero_frames,
    "frame_time_zero": lambda: _replace_line("Frame Time", "Frame Time: 0"),
    "frame_time_negative": lambda: _replace_line("Frame Time", "Frame Time: -0.033"),
    "no_frame_time": lambda: ("\n".join(l for l in _lines() if not l.startswith("Frame Time")), None),
    "not_bvh_text": lambda: ("Just some notes about a motion capture session.\n", 1),
    "two_roots": lambda: (GOOD.read_text().split("MOTION")[0] * 2 + "MOTION" + GOOD.read_text().split("MOTION")[1],
                          None),
}

_rng = random.Random(1)
BINARY = {
    "binary_with_nul": _rng.randbytes(4000),
    "binary_without_nul": bytes(_rng.randrange(1, 256) for _ in range(4000)),
}
assert 0 in BINARY["binary_with_nul"] and 0 not in BINARY["binary_without_nul"]


def _write_case(folder, name):
    if name in BINARY:
        path = folder / f"{name}.bvh"
        path.write_bytes(BINARY[name])
        return path, None
    text, line = CASES[name]()
    path = folder / f"{name}.bvh"
    path.write_text(text)
    return path, line


ALL = list(CASES) + list(BINARY)


@pytest.mark.parametrize("name", ALL)
def test_reader_raises_input_error_with_file_and_line(tmp_path, name):
    path, line = _write_case(tmp_path, name)
    with pytest.raises(InputError) as info:
        read_bvh(path)
    err = info.value
    assert err.path == str(path)
    assert "\n" not in str(err) and str(err).startswith(str(path))
    if line is not None:
        assert err.line == line, str(err)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_byte_order_marks_are_read(tmp_path, encoding):
    """Windows tools write BVH with a byte-order mark; the file reads the same as plain UTF-8."""
    path = tmp_path / "bom.bvh"
    path.write_bytes(GOOD.read_text().encode(encoding))
    a, b = read_bvh(path), read_bvh(GOOD)
    assert [j.name for j in a.joints] == [j.name for j in b.joints]
    assert np.array_equal(a.motion, b.motion)


def _assert_one_line_error(result, path, line=None):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hpd3d: error: ")
    assert str(path) in lines[0]
    if line is not None:
        assert f"{path}:{line}:" in lines[0]
    return lines[0]


@pytest.mark.parametrize("name", ALL + ["not_human"])
def test_cli_one_line_naming_the_file(tmp_path, name):
    if name == "not_human":
        path, line = FAMILIES / "quadruped_dog.bvh", None
    else:
        path, line = _write_case(tmp_path, name)
    out = tmp_path / "out"
    r = run_cli("generate", path, "--out", out)
    _assert_one_line_error(r, path, line)
    assert not out.exists()


def test_missing_input_is_one_line(tmp_path):
    r = run_cli("generate", tmp_path / "nope.bvh", "--out", tmp_path / "out")
    _assert_one_line_error(r, tmp_path / "nope.bvh")


def test_a_device_or_pipe_as_input_is_named_for_what_it_is(tmp_path):
    import os
    fifo = tmp_path / "take.bvh"
    os.mkfifo(fifo)
    for path in ("/dev/zero", fifo):
        r = run_cli("generate", path, "--out", tmp_path / "out")
        _assert_one_line_error(r, path)
        assert "not a regular file or folder" in r.stderr, r.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()


def _batch(tmp_path):
    """A subject folder with three good files and three bad ones."""
    folder = tmp_path / "S1"
    folder.mkdir()
    good = ["lafan1_walk1", "mixamo_idle", "cmu_index_86_02"]
    for stem in good:
        (folder / f"{stem}.bvh").write_bytes((FAMILIES / f"{stem}.bvh").read_bytes())
    bad = {}
    for name in ("short_row", "nan_value", "empty"):
        path, line = _write_case(folder, name)
        bad[name] = (path, line)
    (folder / "dog.bvh").write_bytes((FAMILIES / "quadruped_dog.bvh").read_bytes())
    bad["dog"] = (folder / "dog.bvh", None)
    return folder, good, bad


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_batch_writes_good_files_and_lists_bad_ones(tmp_path):
    folder, good, bad = _batch(tmp_path)
    out = tmp_path / "out"
    r = run_cli("generate", folder, "--out", out)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    data = np.load(out / "data_3d_blender.npz", allow_pickle=True)["positions_3d"].item()
    assert sorted(data["S1"]) == sorted(good)
    manifest = json.loads((out / "manifest.json").read_text())
    failed = {f["source"]: f["error"] for f in manifest["failures"]}
    assert sorted(failed) == sorted(str(p) for p, _ in bad.values())
    for path, line in bad.values():
        err = failed[str(path)]
        assert "\n" not in err and err.startswith(str(path) + (f":{line}:" if line else ""))
        assert err in r.stdout  # the summary lists the same one-line reasons
    assert f"{len(bad)} file(s) skipped" in r.stdout
    assert sorted(f["action"] for f in manifest["files"]) == sorted(good)


def test_strict_stops_at_first_bad_file_and_writes_nothing(tmp_path):
    folder, good, bad = _batch(tmp_path)
    out = tmp_path / "out"
    r = run_cli("generate", folder, "--out", out, "--strict")
    line = _assert_one_line_error(r, folder)
    assert "--strict" in line
    # Files are taken in subject/action order: dog.bvh is the first bad one, and the run stops there
    assert str(folder / "dog.bvh") in line and not any(str(p) in line for n, (p, _) in bad.items() if n != "dog")
    assert not out.exists()
    # An existing dataset in the output folder is left exactly as it was, even with --overwrite.
    r = run_cli("generate", *(folder / f"{g}.bvh" for g in good), "--out", out)
    assert r.returncode == 0, r.stderr
    before = _snapshot(out)
    r = run_cli("generate", folder, "--out", out, "--strict", "--overwrite")
    _assert_one_line_error(r, folder)
    assert _snapshot(out) == before


def test_strict_with_workers_also_writes_nothing(tmp_path):
    folder, _, _ = _batch(tmp_path)
    out = tmp_path / "out"
    r = run_cli("generate", folder, "--out", out, "--strict", "--workers", "2")
    assert str(folder / "dog.bvh") in _assert_one_line_error(r, folder)
    assert not out.exists()


def test_all_bad_batch_writes_nothing(tmp_path):
    folder = tmp_path / "S1"
    folder.mkdir()
    paths = [_write_case(folder, n)[0] for n in ("empty", "short_row")]
    r = run_cli("generate", folder, "--out", tmp_path / "out")
    line = _assert_one_line_error(r, paths[0])
    assert str(paths[1]) in line
    assert not (tmp_path / "out").exists()


def test_reader_is_fast_on_a_large_file(tmp_path):
    """Motion parsing is bulk numpy: 20,000 frames x 93 channels (~12 MB) reads well under a few seconds."""
    lines = _lines()
    head = "\n".join(lines[:_index(lines, "MOTION")])
    row = _lines()[_motion_row(lines, 1)]
    path = tmp_path / "long.bvh"
    path.write_text(f"{head}\nMOTION\nFrames: 20000\nFrame Time: 0.0333333\n" + (row + "\n") * 20000)
    import time
    t = time.perf_counter()
    bvh = read_bvh(path)
    elapsed = time.perf_counter() - t
    assert bvh.motion.shape == (20000, len(row.split()))
    assert elapsed < 5.0, elapsed
