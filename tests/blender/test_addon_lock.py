"""One writer per folder, in the add-on: Generate Dataset into a folder that a `hpd3d generate` run is
writing (stopped in the middle of staging, holding the folder's lock) is refused with a one-line report
naming the folder and that run's PID; the CLI run then finishes, and the folder holds exactly its dataset.
"""
import os
import shutil
import signal
import sys

from bpy_session import build_zips, require_bpy, run_session
from commit_harness import stopped_writer, whole_run
from conftest import SAMPLES
from hpd3d_addon.core.check import check_folder


def test_generate_dataset_refuses_a_folder_another_run_is_writing(tmp_path):
    require_bpy()
    addon_zip, _ = build_zips(tmp_path / "dist")
    out = tmp_path / "out"
    pid = stopped_writer(["generate", SAMPLES, "--out", out, "--rig", "ring:3", "--quiet"], tmp_path / "cli.log")
    try:
        result = run_session(sys.executable, addon_zip, [{"kind": "errors", "cases": {
            "busy": {"input_path": str(SAMPLES), "output_dir": str(out), "overwrite": True}}}], tmp_path / "work")
    finally:
        os.kill(pid, signal.SIGCONT)
        _, status = os.waitpid(pid, 0)
    res, msg = result["tasks"][0]["busy"]
    assert res is None and msg and len(msg.strip().splitlines()) == 1 and "Traceback" not in msg, msg
    assert str(out) in msg and f"PID {pid}" in msg, msg
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (tmp_path / "cli.log").read_text()
    assert check_folder(out).passed and whole_run(out)
    shutil.rmtree(tmp_path / "work", ignore_errors=True)
