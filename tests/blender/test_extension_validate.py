"""The 4.2+ extension zip passes Blender's own extension validator: `blender_ext.py validate`, the code behind
`blender --command extension validate`, as shipped in each bpy wheel (bpy/<version>/scripts/addons_core/
bl_pkg/cli/blender_ext.py) of 4.2 LTS, 4.5 LTS and 5.0. The same validator must refuse the zip with the
manifest's old 66-character permission text, so a manifest Blender would reject fails here."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bpy_session import build_zips, require_bpy

OLD_FILES_PERMISSION = "Reads BVH and rig files, writes dataset files to the chosen folder"  # 66 characters


def validator(version):
    """(python, blender_ext.py) of the bpy wheel `version`."""
    if version == "5.0":
        require_bpy()
        python = Path(sys.executable)
    else:
        from test_blender_versions import wheel_python
        python = Path(wheel_python(version))
    where = "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('bpy').origin))"
    found = subprocess.run([str(python), "-c", where], capture_output=True, text=True, timeout=600)
    assert found.returncode == 0, found.stderr
    scripts = sorted(Path(found.stdout.strip()).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    assert scripts, f"no bl_pkg/cli/blender_ext.py in the bpy {version} wheel at {found.stdout.strip()}"
    return python, scripts[0]


def validate(version, zip_path):
    python, script = validator(version)
    done = subprocess.run([str(python), str(script), "validate", str(zip_path)], capture_output=True, text=True,
                          timeout=300)
    return done.returncode, (done.stdout + done.stderr).strip()


def with_manifest(source, target, change):
    """A copy of the extension zip whose blender_manifest.toml went through `change`."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "blender_manifest.toml":
                data = change(data.decode("utf-8")).encode("utf-8")
            zout.writestr(info, data)
    return target


@pytest.fixture(scope="module")
def extension_zip(tmp_path_factory):
    return build_zips(tmp_path_factory.mktemp("dist"))[1]


@pytest.mark.parametrize("version", ["5.0", "4.2", "4.5"])
def test_blender_extension_validator_accepts_the_zip(extension_zip, tmp_path, version):
    code, output = validate(version, extension_zip)
    assert code == 0 and "FATAL_ERROR" not in output, output
    text = zipfile.ZipFile(extension_zip).read("blender_manifest.toml").decode()
    assert "[permissions]" in text and "files = " in text, "the extension must declare its file access"
    # the validator has teeth: the permission text the manifest had before is refused
    bad = with_manifest(extension_zip, tmp_path / "bad.zip",
                        lambda t: t.replace(t.split("files = ", 1)[1].splitlines()[0], f'"{OLD_FILES_PERMISSION}"'))
    code, output = validate(version, bad)
    assert code != 0 and "64 characters" in output, output
