"""The command line end to end: subjects/actions discovery, one 2D array per camera with the 3D frame count,
--workers N output identical to one process, `python -m hpd3d_addon` from a checkout, and the output folder
(no overwrite without --overwrite, replaced with it, no temporary files, failures leave the old dataset)."""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from conftest import FAMILIES, REPO, SAMPLES
from hpd3d_addon.core.discovery import discover
from hpd3d_addon.core.errors import HPD3DError

HUMANS = ["lafan1_walk1", "mixamo_idle", "cmu_index_86_02", "bandai_like_dance", "motionbuilder_walk",
          "h36m_converter_s1"]


def run_cli(*args, cwd=None, env=None, preexec_fn=None, python=(sys.executable,)):
    return subprocess.run([*python, "-m", "hpd3d_addon", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or REPO, env=env, preexec_fn=preexec_fn, timeout=600)


def copy_family(stem, folder, name=None):
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{name or stem}.bvh"
    shutil.copyfile(FAMILIES / f"{stem}.bvh", dest)
    return dest


def load(out, name="blender"):
    d3 = np.load(out / f"data_3d_{name}.npz", allow_pickle=True)
    d2 = np.load(out / f"data_2d_{name}_gt.npz", allow_pickle=True)
    return d3["positions_3d"].item(), d2["positions_2d"].item(), d2["metadata"].item(), d2


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}


def one_line_error(r):
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hpd3d: error: ") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


# ---- discovery ---------------------------------------------------------------------------------------------

def test_discover_folder_of_subject_folders(tmp_path):
    root = tmp_path / "mocap"
    copy_family("lafan1_walk1", root / "S1", "walk")
    copy_family("mixamo_idle", root / "S1", "idle")
    copy_family("cmu_index_86_02", root / "S2", "walk")
    (root / "S3_empty").mkdir()
    takes = discover([root])
    assert [(t.subject, t.action) for t in takes] == [("S1", "idle"), ("S1", "walk"), ("S2", "walk")]
    assert [(t.subject, t.action) for t in discover([root / "S1"], subject="Actor")] == [("Actor", "idle"),
                                                                                         ("Actor", "walk")]
    with pytest.raises(HPD3DError, match="already has an action 'walk'"):
        discover([root], subject="Actor")  # S1/walk and S2/walk collide once forced into one subject


def test_discover_folder_of_files_and_single_file(tmp_path):
    folder = tmp_path / "S7"
    a = copy_family("lafan1_walk1", folder, "walking")
    copy_family("mixamo_idle", folder, "standing")
    assert [(t.subject, t.action) for t in discover([folder])] == [("S7", "standing"), ("S7", "walking")]
    assert [(t.subject, t.action) for t in discover([a])] == [("S7", "walking")]
    assert [(t.subject, t.action) for t in discover([a], subject="S11")] == [("S11", "walking")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(HPD3DError, match="no .bvh files"):
        discover([tmp_path / "empty"])


def test_generate_subjects_actions_and_one_2d_array_per_camera(tmp_path):
    root = tmp_path / "mocap"
    copy_family("lafan1_walk1", root / "S1", "walk")
    copy_family("mixamo_idle", root / "S1", "idle")
    copy_family("motionbuilder_walk", root / "S2", "walk")
    single = copy_family("h36m_converter_s1", tmp_path / "S5", "greet")
    out = tmp_path / "out"
    r = run_cli("generate", root, single, shutil.copyfile(SAMPLES / "hpd3d_sample_walk.bvh",
                                                           tmp_path / "sample.bvh"),
                "--out", out, "--rig", "ring:3")
    assert r.returncode == 0, r.stderr
    p3, p2, meta, d2 = load(out)
    assert {s: sorted(a) for s, a in p3.items()} == {"S1": ["idle", "walk"], "S2": ["walk"], "S5": ["greet"],
                                                     tmp_path.name: ["sample"]}
    extrinsics = __import__("ast").literal_eval((out / "camera_extrinsics.txt").read_text())
    visibility = d2["visibility"].item()
    assert p2.keys() == p3.keys() == extrinsics.keys() == visibility.keys()
    for subject, actions in p3.items():
        assert len(extrinsics[subject]) == 3
        for action, pos in actions.items():
            assert pos.dtype == np.float32 and pos.shape[1:] == (17, 3)
            assert len(p2[subject][action]) == len(extrinsics[subject]) == len(visibility[subject][action])
            for cam2d, vis in zip(p2[subject][action], visibility[subject][action]):
                assert cam2d.dtype == np.float32 and cam2d.shape == (pos.shape[0], 17, 2)
                assert vis.shape == (pos.shape[0], 17)
    # --subject forces one subject for every input
    out2 = tmp_path / "out2"
    r = run_cli("generate", root / "S1", single, "--subject", "Actor", "--out", out2)
    assert r.returncode == 0, r.stderr
    assert {s: sorted(a) for s, a in load(out2)[0].items()} == {"Actor": ["greet", "idle", "walk"]}


# ---- --workers ---------------------------------------------------------------------------------------------

def _flatten(value, prefix=""):
    """(key path, array bytes or value) pairs of nested dicts/lists of arrays, for exact comparison."""
    if isinstance(value, dict):
        for k in sorted(value, key=str):
            yield from _flatten(value[k], f"{prefix}/{k}")
    elif isinstance(value, (list, tuple)) and value and isinstance(value[0], np.ndarray):
        for i, v in enumerate(value):
            yield from _flatten(v, f"{prefix}[{i}]")
    elif isinstance(value, np.ndarray):
        yield prefix, (value.dtype.str, value.shape, value.tobytes())
    else:
        yield prefix, value


def _npz_contents(path):
    """Every value of an npz but the run id (each run has its own)."""
    with np.load(path, allow_pickle=True) as z:
        return {k: [(p, v) for p, v in _flatten(z[k].item() if z[k].dtype == object else z[k]) if p != "/run_id"]
                for k in z.files}


def test_workers_output_identical_to_one_process(tmp_path):
    root = tmp_path / "mocap"
    for i, stem in enumerate(HUMANS):
        copy_family(stem, root / f"S{i % 2 + 1}")
    shutil.copyfile(SAMPLES / "hpd3d_sample_walk.bvh", root / "S1" / "sample_walk.bvh")
    outs = {}
    for w in (1, 3, "auto"):
        outs[w] = tmp_path / f"out{w}"
        r = run_cli("generate", root, "--out", outs[w], "--workers", w, "--rig", "random:5", "--seed", "3",
                    "--fps", "25")
        assert r.returncode == 0, r.stderr
    for w in (3, "auto"):
        for name in ("data_3d_blender.npz", "data_2d_blender_gt.npz"):
            a, b = _npz_contents(outs[1] / name), _npz_contents(outs[w] / name)
            assert a == b, (name, w)
            assert len(a["positions_3d" if "3d" in name else "positions_2d"]) >= len(HUMANS) + 1
        for name in ("camera_intrinsics.txt", "camera_extrinsics.txt", "blender_dataset.py"):
            assert (outs[1] / name).read_bytes() == (outs[w] / name).read_bytes(), (name, w)
        m1, m2 = (json.loads((outs[k] / "manifest.json").read_text()) for k in (1, w))
        for m in (m1, m2):
            m.pop("command"), m.pop("generator"), m["settings"].pop("out"), m.pop("run_id"), m.pop("contents")
        assert m1 == m2, w


# ---- python -m from a checkout -----------------------------------------------------------------------------

def test_python_m_from_a_checkout_without_installing(tmp_path):
    """A copy of the checkout, run with -S (no site processing, so the editable install's finder is off):
    numpy/tqdm come from PYTHONPATH, hpd3d_addon from the working directory."""
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO / "hpd3d_addon", checkout / "hpd3d_addon", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(REPO / "blender_dataset.py", checkout / "blender_dataset.py")
    env = dict(os.environ, PYTHONPATH=sysconfig.get_paths()["purelib"])
    probe = subprocess.run([sys.executable, "-S", "-c", "import hpd3d_addon; print(hpd3d_addon.__file__)"],
                           capture_output=True, text=True, cwd=checkout, env=env)
    assert Path(probe.stdout.strip()) == checkout / "hpd3d_addon" / "__init__.py", probe.stderr
    out = tmp_path / "out"
    r = run_cli("generate", "hpd3d_addon/samples", "--out", out, cwd=checkout, python=(sys.executable, "-S"), env=env)
    assert r.returncode == 0, r.stderr
    assert (out / "blender_dataset.py").read_bytes() == (checkout / "blender_dataset.py").read_bytes()
    r = run_cli("check", out, cwd=checkout, python=(sys.executable, "-S"), env=env)
    assert r.returncode == 0, r.stdout + r.stderr


# ---- output folder -----------------------------------------------------------------------------------------

def _no_temporary_files(folder):
    leftovers = [p.name for p in Path(folder).iterdir() if p.name.startswith(".") or "tmp" in p.name]
    assert not leftovers, leftovers


@pytest.fixture
def dataset(tmp_path):
    """A written dataset (h36m rig) and the input it came from."""
    bvh = copy_family("lafan1_walk1", tmp_path / "S1", "walk")
    out = tmp_path / "out"
    r = run_cli("generate", bvh, "--out", out)
    assert r.returncode == 0, r.stderr
    return bvh, out


def test_existing_dataset_not_overwritten_without_flag(dataset):
    bvh, out = dataset
    before = snapshot(out)
    r = run_cli("generate", bvh, "--out", out, "--rig", "ring:3")
    assert "--overwrite" in one_line_error(r)
    assert snapshot(out) == before
    _no_temporary_files(out)


def test_second_name_in_a_dataset_folder_is_refused(dataset):
    """camera_*.txt and manifest.json are shared by a folder: another --name must not clobber them."""
    bvh, out = dataset
    before = snapshot(out)
    r = run_cli("generate", bvh, "--out", out, "--name", "other", "--rig", "ring:3")
    assert "--overwrite" in one_line_error(r)
    assert snapshot(out) == before
    _no_temporary_files(out)


def test_overwrite_replaces_the_dataset(dataset):
    bvh, out = dataset
    before = snapshot(out)
    r = run_cli("generate", bvh, "--out", out, "--rig", "ring:3", "--overwrite")
    assert r.returncode == 0, r.stderr
    after = snapshot(out)
    assert after.keys() == before.keys()
    assert after["camera_extrinsics.txt"] != before["camera_extrinsics.txt"]
    assert len(load(out)[1]["S1"]["walk"]) == 3
    _no_temporary_files(out)


def test_output_path_that_is_a_file(tmp_path):
    bvh = copy_family("lafan1_walk1", tmp_path / "S1", "walk")
    target = tmp_path / "out"
    target.write_text("not a folder")
    line = one_line_error(run_cli("generate", bvh, "--out", target))
    assert str(target) in line
    assert target.read_text() == "not a folder"


def _file_size_limit(nbytes):
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return limit


def test_failure_while_writing_leaves_previous_dataset_intact(dataset):
    """A real write failure part-way (file size limit: the big npz cannot be written) with --overwrite: the
    old dataset is byte-identical afterwards and no temporary file is left."""
    bvh, out = dataset
    before = snapshot(out)
    assert max(len(v) for v in before.values()) > 4096
    r = run_cli("generate", bvh, "--out", out, "--rig", "ring:3", "--overwrite", preexec_fn=_file_size_limit(4096))
    line = one_line_error(r)
    assert str(out) in line
    assert snapshot(out) == before
    _no_temporary_files(out)


def test_failure_creating_a_new_folder_leaves_nothing(tmp_path):
    bvh = copy_family("lafan1_walk1", tmp_path / "S1", "walk")
    out = tmp_path / "new"
    one_line_error(run_cli("generate", bvh, "--out", out, preexec_fn=_file_size_limit(4096)))
    assert not (out.exists() and list(out.iterdir())), list(out.iterdir())  # no partial dataset, no temp files


def test_overwrite_without_preview_removes_the_old_preview(tmp_path):
    """The replaced dataset must not keep a contact sheet of the old one."""
    bvh = copy_family("lafan1_walk1", tmp_path / "S1", "walk")
    out = tmp_path / "out"
    assert run_cli("generate", bvh, "--out", out, "--preview").returncode == 0
    assert (out / "preview_blender.png").is_file()
    r = run_cli("generate", bvh, "--out", out, "--rig", "ring:2", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert not (out / "preview_blender.png").exists()
    assert (out / "data_3d_blender.npz").is_file()
    _no_temporary_files(out)
