"""Helpers of the Blender add-on tests: build the add-on zip, run scripts/addon_session.py in a Python with
bpy (a subprocess: bpy is a whole Blender with global state), compare datasets array by array."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SESSION = HERE / "scripts" / "addon_session.py"
BUILD = REPO / "tools" / "build_addon.py"


def build_zips(dist):
    """(add-on zip, extension zip) built by tools/build_addon.py (what `make addon` runs) into `dist`."""
    done = subprocess.run([sys.executable, str(BUILD), str(dist)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    addon = sorted(Path(dist).glob("hpd3d_addon-*.zip"))
    ext = sorted(Path(dist).glob("hpd3d-*-extension.zip"))
    assert len(addon) == 1 and len(ext) == 1, list(Path(dist).iterdir())
    return addon[0], ext[0]


def bpy_version(python):
    """bpy's version string for this interpreter, or None when it cannot import bpy."""
    try:
        probe = subprocess.run([str(python), "-c", "import bpy; print(bpy.app.version_string)"],
                               capture_output=True, text=True, timeout=600)
    except OSError:
        return None
    return probe.stdout.strip() if probe.returncode == 0 else None


def require_bpy(python=sys.executable):
    v = bpy_version(python)
    if v is None:
        pytest.skip(f"bpy is not importable by {python}; `make test` installs bpy==5.0.1")
    return v


def isolated_env(home):
    """Environment whose Blender user folders (add-ons, extensions, config) live under `home`."""
    home = Path(home)
    env = dict(os.environ)
    for var, sub in (("BLENDER_USER_CONFIG", "config"), ("BLENDER_USER_SCRIPTS", "scripts"),
                     ("BLENDER_USER_DATAFILES", "datafiles"), ("BLENDER_USER_RESOURCES", "resources"),
                     ("BLENDER_USER_EXTENSIONS", "extensions")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env["HOME"] = str(home)
    env.pop("PYTHONPATH", None)
    return env


def run_session(python, zip_path, tasks, workdir, timeout=900, install="addon"):
    """Run addon_session.py with `python`; returns its result dict (install info and one entry per task).
    install: 'addon' (Preferences > Add-ons > Install) or 'extension' (4.2+ extension zip)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    spec, result = workdir / "spec.json", workdir / "result.json"
    spec.write_text(json.dumps({"zip": str(zip_path), "tasks": tasks, "install": install}))
    done = subprocess.run([str(python), str(SESSION), str(spec), str(result)], capture_output=True, text=True,
                          timeout=timeout, cwd=workdir, env=isolated_env(workdir / "home"))
    if done.returncode != 0 or not result.is_file():
        pytest.fail(f"addon_session.py failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    out = json.loads(result.read_text())
    out["log"] = done.stdout + done.stderr
    for i, t in enumerate(out.get("tasks", [])):
        if isinstance(t, dict) and "error" in t and isinstance(t["error"], str) and "Traceback" in t["error"]:
            pytest.fail(f"task {tasks[i]['kind']} raised inside Blender:\n{t['error']}")
    return out


def load_dataset(folder, name="blender"):
    folder = Path(folder)
    d3 = np.load(folder / f"data_3d_{name}.npz", allow_pickle=True)
    d2 = np.load(folder / f"data_2d_{name}_gt.npz", allow_pickle=True)
    return {
        "positions_3d": d3["positions_3d"].item(),
        "cameras": d3["cameras"].item(),
        "metadata_3d": _without_run_id(d3["metadata"].item()),
        "positions_2d": d2["positions_2d"].item(),
        "metadata": _without_run_id(d2["metadata"].item()),
        "visibility": d2["visibility"].item(),
        "intrinsics_txt": (folder / "camera_intrinsics.txt").read_text(),
        "extrinsics_txt": (folder / "camera_extrinsics.txt").read_text(),
        "loader": (folder / "blender_dataset.py").read_bytes(),
        "manifest": json.loads((folder / "manifest.json").read_text()),
    }


def _without_run_id(metadata):
    """Metadata to compare across runs: every run has its own run id."""
    return {k: v for k, v in metadata.items() if k != "run_id"}


def assert_identical(a, b, path="dataset"):
    """Recursive exact equality of dicts/lists/arrays (arrays: same dtype, shape and bytes)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_identical(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, f"{path}: array kind differs"
        assert a.tobytes() == b.tobytes(), f"{path}: values differ (max {np.abs(a.astype(float) - b.astype(float)).max()})"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def max_abs_diff(a, b):
    """Max |a - b| over nested dicts/lists of arrays with the same structure."""
    if isinstance(a, dict):
        assert list(a) == list(b), f"keys {list(a)} != {list(b)}"
        return max(max_abs_diff(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        return max(max_abs_diff(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shapes {a.shape} != {b.shape}"
    return float(np.abs(a - b).max())


def cli(*args):
    """Run `hpd3d` in this process; returns its exit code."""
    from hpd3d_addon.cli import main
    return main([str(a) for a in args])
