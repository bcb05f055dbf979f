"""The streamed projection: blocks of several takes, and takes longer than a block, give the arrays of one
whole-subject projection, in every file (gt, detector); the check sees the same errors."""
import json

import numpy as np

from hpd3d_addon.core import stream
from hpd3d_addon.core.dataset import GenerateOptions, generate
from hpd3d_addon.core.rigs import parse_rig
from test_cli import _npz_contents


def _run(inputs, out, block, monkeypatch):
    monkeypatch.setattr(stream, "BLOCK_FRAMES", block)
    rig = parse_rig("random:3", seed=5, distortion="h36m")
    return generate(inputs, GenerateOptions(out=str(out), rig=rig, keypoints=("gt", "detector")), workers=1)


def test_blocks_and_pieces_give_the_same_dataset(shared_bvh_dir, tmp_path, monkeypatch):
    inputs = [shared_bvh_dir]  # 2751, and two shorter, takes of one subject
    whole = _run(inputs, tmp_path / "whole", 10 ** 7, monkeypatch)
    small = _run(inputs, tmp_path / "small", 700, monkeypatch)  # several blocks, a take longer than one
    assert max(t.joints.shape[0] for t in whole.takes) > 3 * 700
    for name in ("data_3d_blender.npz", "data_2d_blender_gt.npz", "data_2d_blender_detector.npz"):
        assert _npz_contents(tmp_path / "whole" / name) == _npz_contents(tmp_path / "small" / name), name
    a, b = whole.check, small.check
    assert a["max_error_px"] == b["max_error_px"] and a["worst"] == b["worst"] and a["passed"] and b["passed"]
    assert np.isclose(a["mean_error_px"], b["mean_error_px"], rtol=1e-12, atol=0)
    manifest = json.loads((tmp_path / "small" / "manifest.json").read_text())
    assert manifest["reprojection_check"] == b


def test_spill_reads_back_what_it_was_given():
    spill = stream.Spill()
    arrays = [np.arange(12, dtype=np.float32).reshape(3, 4), np.zeros((0, 17), bool), np.ones((2, 17), bool)]
    entries = [spill.add(a) for a in arrays]
    for a, e in zip(reversed(arrays), reversed(entries)):
        b = spill.read(e)
        assert b.dtype == a.dtype and b.shape == a.shape and np.array_equal(a, b)
    spill.close()
