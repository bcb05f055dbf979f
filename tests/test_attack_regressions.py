"""Regressions found by an independent hostile fuzz (issue 10): each case failed before its fix.

Every case runs `hpd3d` in-process on a small file and checks the promise the fuzz found broken: one line on
stderr naming the file, a documented exit code, never a traceback.
"""
import pytest

from conftest import FAMILIES
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
