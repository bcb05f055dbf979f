"""The embedded sample BVH: made by tools/make_sample_bvh.py (the committed bytes are what the script
writes), small, detected as a known skeleton, and a plausible walk (forward travel at walking speed, feet on
the floor and planted while in stance, legs and arms swinging in opposition)."""
import subprocess
import sys

import numpy as np

from conftest import REPO
from hpd3d_addon.core.bvh import read_bvh
from hpd3d_addon.core.sequence import sequence_from_bvh
from hpd3d_addon.core.skeleton_presets import resolve

TOOL = REPO / "tools" / "make_sample_bvh.py"


def test_sample_is_what_the_tool_writes(sample_bvh, tmp_path):
    out = tmp_path / "walk.bvh"
    subprocess.run([sys.executable, str(TOOL), str(out)], check=True, capture_output=True)
    assert out.read_bytes() == sample_bvh.read_bytes()
    assert sample_bvh.stat().st_size < 150_000


def test_sample_skeleton(sample_bvh):
    bvh = read_bvh(sample_bvh)
    root = bvh.joints[0]
    assert len(root.channels) == 6 and all(len(j.channels) == 3 for j in bvh.joints[1:] if not j.is_end_site)
    head_end = next(j for j in bvh.joints if j.is_end_site and bvh.joints[j.parent].name == "Head")
    assert np.linalg.norm(head_end.offset) > 5  # cm: the top of the head is a real point, not estimated
    seq = sequence_from_bvh(sample_bvh, "S1", "walk")
    assert (seq.unit, seq.fps) == ("cm", 30.0)
    assert 1.6 < seq.height < 1.9
    jm = resolve(seq)
    assert jm.preset == "lafan1" and not jm.head_top_estimates


def test_sample_walks(sample_bvh):
    seq = sequence_from_bvh(sample_bvh, "S1", "walk")
    p = seq.positions
    idx = {n: i for i, n in enumerate(seq.names)}
    duration = (seq.frame_count - 1) / seq.fps
    assert 2.0 <= duration <= 5.0
    # Forward travel: the subject faces world -Y and walks that way at a walking speed.
    hips = p[:, idx["Hips"]]
    speed = (hips[0, 1] - hips[-1, 1]) / duration
    assert 0.8 < speed < 1.8, speed
    assert np.all(np.diff(hips[:, 1]) < 0)                       # never steps back
    assert np.ptp(hips[:, 0]) < 0.1                              # a straight line, a little sway
    # Feet: nothing below the floor, and in every frame one foot is on it and not sliding.
    feet = [idx[n] for n in ("LeftToe", "LeftToe_End", "RightToe", "RightToe_End")]
    lowest = p[:, feet, 2].min(axis=1)
    assert lowest.min() > -0.002 and lowest.max() < 0.04          # on the heel, the toes are a bit up
    for side in ("Left", "Right"):
        toe = p[:, idx[f"{side}Toe"]]
        planted = toe[:, 2] < 0.005
        step = np.linalg.norm(np.diff(toe[:, :2], axis=0), axis=1)[planted[1:] & planted[:-1]]
        assert planted.any() and (~planted).any()
        assert step.max() < 0.005                                # < 5 mm per frame while on the floor
    # Swing: each ankle and wrist moves back and forth relative to the hips; arms against the legs.
    rel = {n: -(p[:, idx[n], 1] - hips[:, 1]) for n in ("LeftFoot", "RightFoot", "LeftHand", "RightHand")}
    for n, r in rel.items():
        assert np.ptp(r) > (0.5 if "Foot" in n else 0.2), n
    assert np.corrcoef(rel["LeftFoot"], rel["RightFoot"])[0, 1] < -0.8
    assert np.corrcoef(rel["LeftHand"], rel["LeftFoot"])[0, 1] < -0.5
    assert np.corrcoef(rel["RightHand"], rel["RightFoot"])[0, 1] < -0.5
    # Arms hang down (not the T-pose of the rest pose).
    for side in ("Left", "Right"):
        assert (p[:, idx[f"{side}Hand"], 2] < p[:, idx[f"{side}Arm"], 2] - 0.35).all()
