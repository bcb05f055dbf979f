"""Import BVH for Preview builds the armature and its action from the core's own parse (no Blender importer),
so it works in Debian's Blender 3.4 application (whose bundled importer fails under Python 3.11) and in the
bpy 4.2, 4.5 and 5.0 wheels (5.0 has no Action.fcurves; 4.4+ key through slots and channelbags).

Per Blender: the add-on zip is installed, the operator imports the sample walk (auto scale), the sample at a
typed scale of 0.02 with another armature left in Edit Mode, the CMU fixture (ZXY... orders, 120 fps, CMU
units) and a Bandai Namco file (position channels on every joint); Blender evaluates the armature at every
frame; each pose bone's head must equal the core's 3D joint of that name and frame (sequence_from_bvh at
that scale) within 0.1 mm, and each tail that stands on an End Site that End Site. The scene's frame range
and frame rate must be the take's.
"""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from bpy_session import HERE, build_zips, isolated_env, require_bpy
from conftest import SAMPLES, SHARED_BVH
from hpd3d_addon.core.sequence import sequence_from_bvh

SCRIPT = HERE / "scripts" / "import_session.py"
TOLERANCE_M = 1e-4
SAMPLE = SAMPLES / "hpd3d_sample_walk.bvh"
CMU = SHARED_BVH / "cmu_01_01.bvh"
BANDAI = SHARED_BVH / "bandai_walk_normal_001.bvh"


def blender_command(version, spec, out):
    """The command that runs import_session.py in Blender `version` ('5.0', '4.2', '4.5' wheels, '3.4' app)."""
    if version == "3.4":
        if shutil.which("blender") is None:
            pytest.skip("Debian's `blender` application is not installed")
        probe = subprocess.run(["blender", "--version"], capture_output=True, text=True, timeout=120)
        if not probe.stdout.startswith("Blender 3."):
            pytest.skip(f"`blender` is not a 3.x application: {probe.stdout.splitlines()[:1]}")
        return ["blender", "-b", "--factory-startup", "--python", str(SCRIPT), "--", str(spec), str(out)]
    if version == "5.0":
        require_bpy()
        python = sys.executable
    else:
        from test_blender_versions import wheel_python
        python = wheel_python(version)
    return [str(python), str(SCRIPT), str(spec), str(out)]


def cases():
    """(case for the session, scale the core must use) for the files present."""
    out = [({"path": str(SAMPLE)}, "auto"),
           ({"path": str(SAMPLE), "auto_scale": False, "scale": 0.02, "edit_mode_first": True}, 0.02)]
    out += [({"path": str(p)}, "auto") for p in (CMU, BANDAI) if p.is_file()]
    return out


def end_site_tails(seq, names):
    """{bone index: End Site point index} for bones whose only child is an End Site with a length."""
    children = {}
    for i, p in enumerate(seq.parents):
        children.setdefault(p, []).append(i)
    out = {}
    for b, name in enumerate(names):
        kids = children.get(seq.names.index(name), [])
        if len(kids) == 1 and seq.is_end_site[kids[0]] and np.linalg.norm(seq.rest_offsets[kids[0]]) > 1e-6:
            out[b] = kids[0]
    return out


@pytest.mark.parametrize("version", ["5.0", "4.2", "4.5", "3.4"])
def test_import_for_preview_equals_the_core(tmp_path, version):
    addon_zip, _ = build_zips(tmp_path / "dist")
    todo = cases()
    spec, out = tmp_path / "spec.json", tmp_path / "out"
    spec.write_text(json.dumps({"zip": str(addon_zip), "cases": [c for c, _ in todo]}))
    command = blender_command(version, spec, out)
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env=isolated_env(tmp_path / "home"))
    assert (out / "result.json").is_file(), f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result = json.loads((out / "result.json").read_text())
    assert "error" not in result, result["error"]
    assert "Traceback" not in done.stdout + done.stderr, done.stdout[-3000:] + done.stderr[-3000:]
    assert result["blender"].startswith(version), result["blender"]
    lines = []
    for k, ((case, scale), got) in enumerate(zip(todo, result["cases"])):
        assert got["result"] == ["FINISHED"] and got["error"] is None, got
        assert got["mode"] == "OBJECT", got
        seq = sequence_from_bvh(case["path"], "", "", scale=scale)
        assert got["frame_range"] == [1, seq.frame_count], got
        assert abs(got["fps"] - seq.fps) < 1e-6, got
        data = np.load(out / f"case_{k}.npz")
        names = [str(n) for n in data["names"]]
        world = data["world"]
        joints = [i for i, end in enumerate(seq.is_end_site) if not end]
        assert sorted(names) == sorted(seq.names[i] for i in joints)  # one bone per BVH joint
        heads = data["heads"] @ world[:3, :3].T + world[:3, 3]
        tails = data["tails"] @ world[:3, :3].T + world[:3, 3]
        head_err = np.abs(heads - seq.positions[:, [seq.names.index(n) for n in names]]).max()
        ends = end_site_tails(seq, names)
        long_ends = [i for i, end in enumerate(seq.is_end_site) if end and np.linalg.norm(seq.rest_offsets[i]) > 1e-6]
        assert sorted(ends.values()) == long_ends, "a bone's tail should stand on each End Site with a length"
        tail_err = np.abs(tails[:, list(ends)] - seq.positions[:, list(ends.values())]).max() if ends else 0.0
        lines.append(f"{SAMPLE.name if case['path'] == str(SAMPLE) else case['path'].rsplit('/', 1)[-1]} "
                     f"scale {seq.scale:g}: {seq.frame_count} frames, heads {head_err * 1000:.5f} mm, "
                     f"End Site tails {tail_err * 1000:.5f} mm")
        assert head_err <= TOLERANCE_M and tail_err <= TOLERANCE_M, lines[-1]
    print(f"Blender {result['blender']}: " + "; ".join(lines))
    if not CMU.is_file():
        pytest.skip(f"the sample passed; the CMU fixture {CMU} is absent")
