"""Regressions found by an independent hostile fuzz (issue 10): each case failed before its fix.

Every case runs `hpd3d` in-process on a small file and checks the promise the fuzz found broken: one line on
stderr naming the file, a documented exit code, never a traceback.
"""
import subprocess
import sys

import pytest

from conftest import FAMILIES, REPO
from hpd3d_addon.cli import main

GOOD = FAMILIES / "lafan1_walk1.bvh"


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["a\nb.bvh", "a\rb.bvh", "sep\u2028x.bvh", "v\x0bt.bvh"])
def test_error_naming_a_file_with_a_line_break_in_its_name_stays_one_line(tmp_path, capsys, name):
    bad = tmp_path / name
    bad.write_text("HIERARCHY\nROOT x\n{\n")
    code, _, err = _run(capsys, "generate", bad, "--out", tmp_path / "out", "--quiet")
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hpd3d: error: "), err
    assert "truncated hierarchy" in lines[0] and name[-5:] in lines[0]
    assert "Traceback" not in err


def test_skipped_file_with_a_line_break_in_its_name_is_listed_on_one_line(tmp_path, capsys):
    bad = tmp_path / "a\nb.bvh"
    bad.write_text("HIERARCHY\nROOT x\n{\n")
    code, out, err = _run(capsys, "generate", bad, GOOD, "--out", tmp_path / "out", "--quiet")
    assert code == 1
    listed = [line for line in out.splitlines() if "truncated hierarchy" in line]
    assert listed == ["  " + str(tmp_path / "a\\nb.bvh") + ":4: truncated hierarchy (missing '}' before end of file)"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("attack") / "ds"
    assert main(["generate", str(GOOD), "--out", str(out), "--quiet"]) == 0
    return out


def _copy(dataset, tmp_path):
    import shutil
    shutil.copytree(dataset, tmp_path / "ds")
    return tmp_path / "ds"


@pytest.mark.parametrize("member", ["data_3d_blender.npz", "data_2d_blender_gt.npz"])
def test_npz_that_is_not_a_regular_file_is_refused_before_it_is_read(tmp_path, dataset, member):
    """A member symlinked to /dev/zero was read until the memory ran out before its error (run in a child
    with a 1 GB address space, so that a regression fails the test instead of exhausting the machine)."""
    ds = _copy(dataset, tmp_path)
    (ds / member).unlink()
    (ds / member).symlink_to("/dev/zero")
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "from hpd3d_addon.core.safe_pickle import UnsafeNpzError, read_npz\n"
            "try:\n    read_npz(sys.argv[1])\nexcept UnsafeNpzError as exc:\n    print(exc)\n")
    run = subprocess.run([sys.executable, "-c", code, str(ds / member)], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert run.stdout.strip() == f"{ds / member}: not a readable npz file (not a regular file)", run.stderr


DEEP = "[" * 100000 + "]" * 100000


@pytest.mark.parametrize("text", [DEEP, '{"a": ' + DEEP + "}", '{"contents": ' + DEEP + "}"])
def test_check_of_a_folder_whose_manifest_nests_deeply_fails_in_one_line(tmp_path, capsys, dataset, text):
    """json.loads' RecursionError on a deeply nested manifest.json came out of `check` as a traceback."""
    ds = _copy(dataset, tmp_path)
    (ds / "manifest.json").write_text(text)
    code, out, err = _run(capsys, "check", ds)
    assert code == 1 and "Traceback" not in err
    assert any(line.startswith("  problem: manifest.json: ") and "nested" in line for line in out.splitlines()), out


def test_generate_over_a_folder_whose_manifest_nests_deeply_replaces_it(tmp_path, capsys, dataset):
    """--overwrite reads the old manifest (to remove the old run's files): its RecursionError was a traceback."""
    ds = _copy(dataset, tmp_path)
    (ds / "manifest.json").write_text('{"contents": ' + DEEP + "}")
    code, _, err = _run(capsys, "generate", GOOD, "--out", ds, "--quiet", "--overwrite")
    assert code == 0 and "Traceback" not in err, err
    assert _run(capsys, "check", ds)[0] == 0


@pytest.mark.parametrize("command", ["check", "generate"])
def test_a_deeply_nested_commit_journal_is_one_line(tmp_path, capsys, dataset, command):
    """A crafted .hpd3d-commit.json (read by `check --repair` and by the next generate) nested deeply."""
    ds = _copy(dataset, tmp_path)
    (ds / ".hpd3d-commit.json").write_text(DEEP)
    argv = ["check", "--repair", ds] if command == "check" else ["generate", GOOD, "--out", ds, "--quiet", "--overwrite"]
    code, _, err = _run(capsys, *argv)
    assert code == 1 and "Traceback" not in err, err
    assert err.splitlines() == [f"hpd3d: error: {ds / '.hpd3d-commit.json'}: not a commit journal of this hpd3d "
                                "version; cannot complete the interrupted write (remove the file and regenerate the "
                                "dataset)"]


@pytest.mark.parametrize("text, reason", [(DEEP, "nested too deeply"), ('{"a": 1}', "not a manifest written by"),
                                          ("[]", "not a manifest written by")])
def test_merge_of_a_shard_whose_manifest_is_crafted_is_one_line(tmp_path, capsys, dataset, text, reason):
    """`merge` read a shard's manifest.json with plain json.loads: a deep one was a RecursionError traceback, one
    without subjects/settings a KeyError."""
    ds = _copy(dataset, tmp_path)
    (ds / "manifest.json").write_text(text)
    code, _, err = _run(capsys, "merge", ds, "--out", tmp_path / "merged")
    assert code == 1 and "Traceback" not in err, err
    assert len(err.splitlines()) == 1 and str(ds / "manifest.json") in err and reason in err, err
    assert not (tmp_path / "merged" / "manifest.json").exists()
