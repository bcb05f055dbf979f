"""The same add-on zip in Blender 4.2 LTS and 4.5 LTS (pip's bpy wheels, in venvs cached in the checkout as
.venv-bpy42 / .venv-bpy45, created here when missing; skipped with the reason only when pip cannot install
them), installed the legacy way (Preferences > Add-ons > Install from Disk) and as a 4.2+ extension (the
extension zip with blender_manifest.toml; 5.0 too): registers and unregisters cleanly, generate_dataset
equals `hpd3d generate` byte for byte, scene cameras equal world_to_camera_view within 0.01 px, and the
scene armature source equals the CLI within 0.1 mm / 0.01 px.
"""
import subprocess
import sys

import pytest

from bpy_session import REPO, assert_identical, bpy_version, build_zips, cli, load_dataset, max_abs_diff, run_session
from conftest import SAMPLES
from test_scene_cameras import LANDSCAPE

WHEELS = {"4.2": (".venv-bpy42", "bpy==4.2.*"), "4.5": (".venv-bpy45", "bpy==4.5.*")}


def wheel_python(version):
    """Python of a venv with bpy `version` (created and cached under the checkout when missing)."""
    folder, requirement = WHEELS[version]
    venv = REPO / folder
    python = venv / "bin" / "python"
    if python.exists() and (bpy_version(python) or "").startswith(version):
        return python
    made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot create {venv}: {made.stderr.strip()[-300:]}")
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement],
                         capture_output=True, text=True, timeout=1800)
    if pip.returncode != 0:
        last = (pip.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"pip cannot install {requirement} here ({last})")
    got = bpy_version(python)
    assert got and got.startswith(version), f"{python} has bpy {got}, wanted {version}"
    return python


@pytest.fixture(scope="module")
def zips(tmp_path_factory):
    return build_zips(tmp_path_factory.mktemp("dist"))


CASES = [("4.2", "addon"), ("4.2", "extension"), ("4.5", "addon"), ("4.5", "extension"), ("5.0", "extension")]


@pytest.mark.parametrize("version,install", CASES, ids=[f"{v}-{i}" for v, i in CASES])
def test_zip_in_blender_version(zips, tmp_path, version, install):
    python = sys.executable if version == "5.0" else wheel_python(version)
    got = bpy_version(python)
    if got is None:
        pytest.skip(f"bpy is not importable by {python}")
    assert got.startswith(version)
    addon_zip, extension_zip = zips
    sample = SAMPLES / "hpd3d_sample_walk.bvh"
    tasks = [
        {"kind": "register_cycles"},
        {"kind": "generate", "props": {"input_path": str(SAMPLES), "output_dir": str(tmp_path / "bvh")}},
        dict(kind="generate", world_to_camera_view=True,
             props={"input_path": str(SAMPLES), "rig_type": "SCENE", "output_dir": str(tmp_path / "cams")},
             **LANDSCAPE),
        {"kind": "generate", "import_bvh": {"path": str(sample), "scale": 0.01},
         "props": {"source": "SCENE", "output_dir": str(tmp_path / "scene"), "subject": "S1"}},
    ]
    result = run_session(python, extension_zip if install == "extension" else addon_zip, tasks, tmp_path / "work",
                         install=install)
    info = result["install"]
    assert info["enabled"] and info["categories"] == ["HPD3D"] and len(info["panels"]) == 8
    assert info["module"] == ("bl_ext.user_default.hpd3d" if install == "extension" else "hpd3d_addon")
    assert info["module_file"].startswith(str(tmp_path / "work" / "home")), info["module_file"]
    assert result["tasks"][0]["problems"] == []
    for t in result["tasks"][1:]:
        assert t["error"] is None and t["result"] == ["FINISHED"], t
    # BVH source: identical to the CLI
    assert cli("generate", SAMPLES, "--out", tmp_path / "cli", "--quiet") == 0
    ours, ref = load_dataset(tmp_path / "bvh"), load_dataset(tmp_path / "cli")
    for key in ("positions_3d", "positions_2d", "visibility", "cameras", "metadata"):
        assert_identical(ours[key], ref[key], key)
    # scene cameras vs world_to_camera_view
    w2cv = result["tasks"][2]["w2cv"]
    assert len(w2cv["cameras"]) == 3 and w2cv["max_px"] <= 0.01, w2cv
    # scene armature source vs the CLI at --scale 0.01
    assert cli("generate", sample, "--scale", "0.01", "--subject", "S1", "--out", tmp_path / "cli01", "--quiet") == 0
    scene, ref01 = load_dataset(tmp_path / "scene"), load_dataset(tmp_path / "cli01")
    err3 = max_abs_diff(scene["positions_3d"], ref01["positions_3d"])
    err2 = max_abs_diff(scene["positions_2d"], ref01["positions_2d"])
    print(f"bpy {got} ({install}): cameras {w2cv['max_px']:.1e} px; scene source {err3 * 1000:.4f} mm, {err2:.5f} px")
    assert err3 <= 1e-4 and err2 <= 0.01
