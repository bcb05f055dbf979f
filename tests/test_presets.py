"""Skeleton presets on one file of each family (tests/data/families, made by tests/data/make_families.py)
and on the real fixtures: detection, units, joint = origin of the anatomically right BVH joint, left/right,
anatomical order, head-top estimate, blends, mapping files, the no-fit error, `hpd3d presets`."""
import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import FAMILIES as FAMILY_DIR, REPO
from hpd3d_addon.core.errors import MappingError
from hpd3d_addon.core.kinematics import BVH_TO_WORLD
from hpd3d_addon.core.layouts import H36M17
from hpd3d_addon.core.sequence import sequence_from_bvh
from hpd3d_addon.core.skeleton_presets import (HEAD_TOP_RATIO, PRESETS, load_mapping_file, normalise_name,
                                               resolve)

_spec = importlib.util.spec_from_file_location("make_families", FAMILY_DIR.parent / "make_families.py")
mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mf)

HUMANS = [f for f in mf.FAMILIES if f.preset]
J = {n: i for i, n in enumerate(H36M17.joint_names)}
CHAIN = ["Hip", "Spine", "Thorax", "Neck/Nose", "Head"]


def family_path(fam):
    return FAMILY_DIR / f"{fam.stem}.bvh"


def world(p):
    """A BVH-axes point in metres -> the world frame the package writes (Z up)."""
    return BVH_TO_WORLD @ np.asarray(p, dtype=float)


def mapped(path, **kw):
    seq = sequence_from_bvh(path, "S", path.stem)
    jm = resolve(seq, source=str(path), **kw)
    return seq, jm, jm.apply(seq)


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hpd3d_addon", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=300)


def standing_frame(out):
    """The frame where the body is most upright (largest Head-above-Hip height)."""
    return int(np.argmax(out[:, J["Head"], 2] - out[:, J["Hip"], 2]))


def test_family_files_are_what_the_generator_writes():
    # The expectations below come from the generator's landmarks: the committed files must match it.
    for fam in mf.FAMILIES:
        assert family_path(fam).read_bytes() == mf.write_family(fam).encode(), fam.stem


@pytest.mark.parametrize("fam", HUMANS, ids=lambda f: f.stem)
def test_preset_detected_automatically(fam):
    _, jm, _ = mapped(family_path(fam))
    assert jm.preset == fam.preset
    assert not jm.missing


@pytest.mark.parametrize("fam", HUMANS, ids=lambda f: f.stem)
def test_auto_scale_picks_the_files_unit_and_reports_height(fam):
    seq = sequence_from_bvh(family_path(fam), "S", fam.stem)
    assert seq.unit == fam.unit
    assert seq.scale == pytest.approx(1 / mf.UNITS_PER_M[fam.unit])
    # Small motion on top of the rest pose: the reported height stays within 5% of the rest extent.
    assert seq.height == pytest.approx(mf.rest_extent_m(fam), rel=0.05)
    assert 1.4 < seq.height < 2.0


@pytest.mark.parametrize("fam", HUMANS, ids=lambda f: f.stem)
def test_rest_frame_joints_are_origins_of_the_anatomical_joints(fam):
    """Frame 0 is the rest pose: each Human3.6M joint sits on its landmark (RKnee on the right knee, RShoulder
    on the right shoulder ball joint, not the clavicle, ...), the subject's right being BVH -X."""
    _, _, out = mapped(family_path(fam))
    for name, key in fam.h36m.items():
        if key is None:
            continue
        side = "R" if name.startswith("R") and name != "Head" else "L"
        expect = world(mf.landmark(key, side))
        assert np.allclose(out[0, J[name]], expect, atol=1e-5), (name, out[0, J[name]], expect)
    # The shoulder is the ball joint: well away from the clavicle/collar landmark.
    for side in "LR":
        clav = world(mf.landmark("clavicle", side))
        assert np.linalg.norm(out[0, J[side + "Shoulder"]] - clav) > 0.1


@pytest.mark.parametrize("fam", HUMANS, ids=lambda f: f.stem)
def test_torso_chain_in_anatomical_order_on_every_frame(fam):
    _, _, out = mapped(family_path(fam))
    z = out[:, [J[n] for n in CHAIN], 2]
    assert np.all(np.diff(z, axis=1) > 0.02), z


def _foot_points(seq, jm):
    """Every point below either ankle (toes, End Sites): both feet, so no left/right label is involved."""
    ankles = {int(np.argmax(jm.weights[J["RFoot"]])), int(np.argmax(jm.weights[J["LFoot"]]))}
    below = []
    for i in range(len(seq.names)):
        p = seq.parents[i]
        while p >= 0 and p not in ankles:
            p = seq.parents[p]
        if p >= 0:
            below.append(i)
    return below


def _right_hand_side_check(seq, jm, out):
    """Fraction of frames where RHip/RShoulder lie on the subject's own right.

    Forward is found from the feet (mean of all points below the ankles minus mean ankle), not from any
    left/right label, and the subject's right is forward x up.
    """
    feet = _foot_points(seq, jm)
    assert feet, "no points below the ankles to find the facing direction"
    fwd = seq.positions[:, feet].mean(axis=1) - out[:, [J["RFoot"], J["LFoot"]]].mean(axis=1)
    fwd[:, 2] = 0
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    hips = np.einsum("fc,fc->f", out[:, J["RHip"]] - out[:, J["LHip"]], right)
    shoulders = np.einsum("fc,fc->f", out[:, J["RShoulder"]] - out[:, J["LShoulder"]], right)
    return np.mean(hips > 0), np.mean(shoulders > 0)


@pytest.mark.parametrize("fam", HUMANS, ids=lambda f: f.stem)
def test_left_right_is_the_subjects_own(fam):
    seq, jm, out = mapped(family_path(fam))
    assert _right_hand_side_check(seq, jm, out) == (1.0, 1.0)


def test_real_fixtures_detected_left_right_and_ordered(shared_bvh_dir):
    expected = {"bandai_bow_active_001": ("bandai", "cm"), "bandai_walk_normal_001": ("bandai", "cm"),
                "cmu_01_01": ("cmu", "cmu")}
    for path in sorted(shared_bvh_dir.glob("*.bvh")):
        seq, jm, out = mapped(path)
        preset = "bandai" if path.stem.startswith("bandai_") else "cmu" if path.stem.startswith("cmu_") else None
        assert jm.preset == preset, path.name
        if path.stem in expected:
            assert (jm.preset, seq.unit) == expected[path.stem]
        hips_ok, shoulders_ok = _right_hand_side_check(seq, jm, out)
        assert hips_ok > 0.95 and shoulders_ok > 0.95, (path.name, hips_ok, shoulders_ok)
        f = standing_frame(out)
        z = out[f, [J[n] for n in CHAIN], 2]
        assert np.all(np.diff(z) > 0), (path.name, z)
        # Human3.6M joints are origins of the named source joints (CMU: RShoulder = RightArm, not the clavicle)
        names = [normalise_name(n) for n in seq.names]
        src = {"bandai": {"RShoulder": "upperarm_r", "RKnee": "lowerleg_r", "LWrist": "hand_l", "Thorax": "neck"},
               "cmu": {"RShoulder": "rightarm", "RKnee": "rightleg", "LWrist": "lefthand", "Thorax": "neck"}}[preset]
        for h36m, bvh_name in src.items():
            assert np.allclose(out[:, J[h36m]], seq.positions[:, names.index(bvh_name)]), (path.name, h36m)


def _head_estimate_checks(seq, jm, out):
    """The documented estimate: from the head joint, HEAD_TOP_RATIO x median pelvis-thorax distance, above it."""
    assert jm.head_top_estimates, "zero-length head End Site should be estimated"
    length = HEAD_TOP_RATIO * np.median(np.linalg.norm(out[:, J["Thorax"]] - out[:, J["Hip"]], axis=-1))
    head_joint = out[:, J["Neck/Nose"]]
    assert np.allclose(np.linalg.norm(out[:, J["Head"]] - head_joint, axis=-1), length)
    f = standing_frame(out)
    up = (out[f, J["Head"]] - head_joint[f]) / length
    assert up[2] > 0.8, up
    return length, up


def test_head_top_estimated_when_head_end_site_has_no_length():
    fam = next(f for f in HUMANS if f.stem == "bandai_like_dance")
    seq, jm, out = mapped(family_path(fam))
    length, _ = _head_estimate_checks(seq, jm, out)
    # Rest frame: straight along the neck->head rest direction, ~25 cm above the base of the neck.
    neck_dir = world(mf.landmark("bandai_head")) - world(mf.landmark("neck"))
    neck_dir /= np.linalg.norm(neck_dir)
    assert np.allclose(out[0, J["Head"]], world(mf.landmark("bandai_head")) + length * neck_dir, atol=1e-6)
    assert 0.2 < out[0, J["Head"], 2] - world(mf.landmark("neck"))[2] < 0.35


def test_head_top_estimate_on_real_bandai(shared_bvh_dir):
    for path in sorted(shared_bvh_dir.glob("bandai_*.bvh")):
        seq, jm, out = mapped(path)
        length, _ = _head_estimate_checks(seq, jm, out)
        assert 0.15 < length < 0.35, (path.name, length)


def test_head_is_head_end_site_when_it_has_length():
    for fam in HUMANS:
        seq, jm, out = mapped(family_path(fam))
        if fam.h36m["Head"] is None:
            continue
        assert not jm.head_top_estimates, fam.stem
        assert np.all(out[:, J["Head"], 2] > out[:, J["Neck/Nose"], 2] + 0.1), fam.stem


def test_matching_ignores_case_and_namespaces(tmp_path):
    assert normalise_name("mixamorig:LeftArm") == "leftarm"
    assert normalise_name("Take001:Actor:HIPS") == "hips"
    assert normalise_name("Armature|Spine1") == "spine1"
    lafan = family_path(next(f for f in HUMANS if f.stem == "lafan1_walk1")).read_text()
    for variant, transform in (("upper", str.upper), ("prefixed", lambda t: t.replace("JOINT ", "JOINT rig:").replace(
            "ROOT ", "ROOT rig:"))):
        text = transform(lafan)
        if variant == "upper":  # keep the keywords BVH readers expect in their usual case
            text = text.replace("END SITE", "End Site").replace("FRAME TIME", "Frame Time").replace("FRAMES", "Frames")
        path = tmp_path / f"lafan_{variant}.bvh"
        path.write_text(text)
        _, jm, out = mapped(path)
        assert jm.preset == "lafan1", variant
        assert np.allclose(out[0, J["RShoulder"]], world(mf.landmark("shoulder", "R")), atol=1e-5)


def test_weighted_blend_entries():
    path = family_path(next(f for f in HUMANS if f.stem == "lafan1_walk1"))
    seq = sequence_from_bvh(path, "S", "a")
    joints = dict(PRESETS["lafan1"].joints, Spine={"Spine": 0.25, "Spine2": 0.75}, Thorax={"Neck": 1.0})
    out = resolve(seq, mapping=joints).apply(seq)
    expect = 0.25 * world(mf.landmark("spine")) + 0.75 * world(mf.landmark("spine2"))
    assert np.allclose(out[0, J["Spine"]], expect, atol=1e-6)
    joints["Spine"] = {"Spine": 0.5, "Spine2": 0.6}
    with pytest.raises(MappingError, match="sum to 1.1"):
        resolve(seq, mapping=joints)


RENAMES = {"Hips": "Pelvis", "LeftUpLeg": "L_Thigh", "LeftLeg": "L_Calf", "LeftFoot": "L_Foot",
           "RightUpLeg": "R_Thigh", "RightLeg": "R_Calf", "RightFoot": "R_Foot", "LeftArm": "L_UpperArm",
           "LeftForeArm": "L_Forearm", "LeftHand": "L_Hand", "RightArm": "R_UpperArm", "RightForeArm": "R_Forearm",
           "RightHand": "R_Hand", "Spine2": "Chest", "Neck": "NeckBase", "Head": "Skull"}


def write_renamed_lafan(folder, renames):
    """The LaFAN1 file with joints renamed (so that no preset fits), as folder/S9/custom_walk.bvh."""
    text = family_path(next(f for f in HUMANS if f.stem == "lafan1_walk1")).read_text()
    for old, new in renames.items():
        text = text.replace(f"JOINT {old}\n", f"JOINT {new}\n").replace(f"ROOT {old}\n", f"ROOT {new}\n")
    (folder / "S9").mkdir(exist_ok=True)
    path = folder / "S9" / "custom_walk.bvh"
    path.write_text(text)
    return path


@pytest.fixture
def renamed_lafan(tmp_path):
    return write_renamed_lafan(tmp_path, RENAMES)


def _positions_3d(out_dir):
    return np.load(out_dir / "data_3d_blender.npz", allow_pickle=True)["positions_3d"].item()


def _write_json(path, data):
    path.write_text(json.dumps(data))
    return path


PLAIN_MAPPING = {
    "Hip": "Pelvis", "Spine": {"Pelvis": 0.5, "NeckBase": 0.5}, "Thorax": "NeckBase", "Neck/Nose": "Skull",
    "Head": "Skull_End", "RHip": "R_Thigh", "RKnee": "R_Calf", "RFoot": "R_Foot", "LHip": "L_Thigh",
    "LKnee": "L_Calf", "LFoot": "L_Foot", "LShoulder": "L_UpperArm", "LElbow": "L_Forearm", "LWrist": "L_Hand",
    "RShoulder": "R_UpperArm", "RElbow": "R_Forearm", "RWrist": "R_Hand"}
LEG_AND_TORSO = ("Hips", "LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot", "Neck", "Head")


@pytest.mark.parametrize("form", ["plain", "extends"])
def test_mapping_file_both_forms(tmp_path, form):
    if form == "plain":
        bvh = write_renamed_lafan(tmp_path, RENAMES)
        data = PLAIN_MAPPING
    else:  # only the legs and torso renamed; the arms keep LaFAN1's names and come from the extended preset
        bvh = write_renamed_lafan(tmp_path, {k: RENAMES[k] for k in LEG_AND_TORSO})
        data = {"extends": "lafan1", "joints": {k: v for k, v in PLAIN_MAPPING.items() if "Shoulder" not in k
                                                and "Elbow" not in k and "Wrist" not in k}}
    auto = run_cli("generate", bvh, "--out", tmp_path / "auto", "--quiet")
    assert auto.returncode != 0  # no preset fits the renamed file on its own
    out = tmp_path / "out"
    r = run_cli("generate", bvh, "--out", out, "--mapping", _write_json(tmp_path / "mapping.json", data), "--quiet")
    assert r.returncode == 0, r.stderr
    pos = _positions_3d(out)["S9"]["custom_walk"]
    lafan = next(f for f in HUMANS if f.stem == "lafan1_walk1")
    for name, key in lafan.h36m.items():
        side = "R" if name.startswith("R") else "L"
        assert np.allclose(pos[0, J[name]], world(mf.landmark(key, side)), atol=1e-5), name
    assert json.loads((out / "manifest.json").read_text())["files"][0]["skeleton_preset"] == "custom"


def test_unfitting_skeleton_one_line_error_listing_missing_joints(renamed_lafan, tmp_path):
    r = run_cli("generate", renamed_lafan, "--out", tmp_path / "out", "--quiet")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and str(renamed_lafan) in lines[0]
    assert "--mapping" in lines[0]
    # The joints the renamed file lacks for its closest preset are listed by their Human3.6M names
    for joint in ("Hip", "RKnee", "LWrist", "Thorax"):
        assert f"{joint} (" in lines[0], joint
    assert not (tmp_path / "out").exists()


def test_dog_is_not_a_human():
    with pytest.raises(MappingError) as info:
        mapped(FAMILY_DIR / "quadruped_dog.bvh")
    msg = str(info.value)
    assert "\n" not in msg and "quadruped_dog.bvh" in msg and "--mapping" in msg
    for joint in ("RHip", "LKnee", "RShoulder", "LWrist"):
        assert joint in msg


def test_presets_command_lists_every_preset():
    r = run_cli("presets")
    assert r.returncode == 0, r.stderr
    listed = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
    assert listed == list(PRESETS)
    assert {"bandai", "cmu", "mixamo", "lafan1", "motionbuilder", "h36m_bvh"} <= set(listed)


def test_cli_reports_unit_and_height_per_file(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for fam in HUMANS:
        (folder / f"{fam.stem}.bvh").write_bytes(family_path(fam).read_bytes())
    out = tmp_path / "out"
    r = run_cli("generate", folder, "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    files = {f["action"]: f for f in json.loads((out / "manifest.json").read_text())["files"]}
    for fam in HUMANS:
        info = files[fam.stem]
        assert (info["unit"], info["skeleton_preset"]) == (fam.unit, fam.preset)
        assert info["height_m"] == pytest.approx(mf.rest_extent_m(fam), rel=0.05)
        line = next(x for x in r.stdout.splitlines() if x.startswith(f"mixed/{fam.stem}:"))
        assert f"({fam.unit})" in line and f"preset {fam.preset}" in line and f"height {info['height_m']:.2f} m" in line


def test_load_mapping_file_forms_and_errors(tmp_path):
    plain = load_mapping_file(_write_json(tmp_path / "plain.json", {"Hip": "Pelvis"}))
    assert plain == {"Hip": "Pelvis"}
    extended = load_mapping_file(_write_json(tmp_path / "ext.json", {"extends": "cmu", "joints": {"Hip": "Root"}}))
    assert extended == dict(PRESETS["cmu"].joints, Hip="Root")
    for name, content in (("unknown_base.json", json.dumps({"extends": "nope", "joints": {}})),
                          ("not_json.json", "{Hip: Pelvis"), ("a_list.json", "[1, 2]")):
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(MappingError) as info:
            load_mapping_file(path)
        assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
