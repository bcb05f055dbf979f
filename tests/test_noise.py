"""The detector keypoint source: on the real Bandai Namco fixtures the measured error of `detector` against
`gt` matches the documented model (core/noise.py) within 10 % for the mean per-joint error, lag-1
autocorrelation, gross-error rate and swap rate; confidence falls with the error (Spearman <= -0.3);
occluded joints err more than visible ones. Also: same seed -> same bits, any worker count; the gt file's
2D is untouched; --noise gauss:S and JSON models; bad --noise / --keypoints are one clear line."""
import dataclasses
import json

import numpy as np
import pytest

from conftest import SHARED_BVH, shared_bvh_files
from hpd3d_addon.core.dataset import GenerateOptions, generate
from hpd3d_addon.core.errors import HPD3DError
from hpd3d_addon.core.keypoint_stats import source_statistics
from hpd3d_addon.core.noise import DEFAULT_MODEL, ar1, detect, expected_statistics, parse_noise, view_seed
from hpd3d_addon.core.rigs import parse_rig
from test_cli import one_line_error, run_cli

EXTRA_SEEDS = 7  # rare events (gross errors, swaps) pooled over the written file and this many more seeds


def bandai_files():
    files = [f for f in shared_bvh_files() if f.name.startswith("bandai")]
    if not files:
        pytest.skip(f"Bandai Namco fixtures not found in {SHARED_BVH}")
    return files


def _load(out, kind):
    with np.load(out / f"data_2d_blender_{kind}.npz", allow_pickle=True) as d:
        return {k: d[k].item() for k in d.files}


def _generate(out, files, rig="ring:64", workers=1, **kw):
    opts = GenerateOptions(out=str(out), subject="S1", rig=parse_rig(rig), keypoints=("gt", "detector"), **kw)
    return generate(files, opts, workers=workers)


@pytest.fixture(scope="module")
def bandai_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("det")
    _generate(out, bandai_files())
    return out, _load(out, "gt"), _load(out, "detector")


def _weighted(per_joint, counts):
    ok = counts > 0
    return float(np.sum(per_joint[ok] * counts[ok]) / counts[ok].sum())


def _redetect(gt, seed, model=DEFAULT_MODEL):
    """The detector 2D of every view of a gt file with another seed (the same function generate uses)."""
    names = gt["metadata"]["joint_names"]
    det, conf = {}, {}
    for s, actions in gt["positions_2d"].items():
        for a, views in actions.items():
            seeds = [view_seed(seed, s, a, i) for i in range(len(views))]
            d, c = detect(np.stack(views), np.stack(gt["visibility"][s][a]), np.stack(gt["occluded"][s][a]), names,
                          gt["metadata"]["fps"], model, seeds)
            det.setdefault(s, {})[a], conf.setdefault(s, {})[a] = list(d), list(c)
    return det, conf


def test_detector_statistics_match_the_documented_model(bandai_dataset):
    _, gt, det = bandai_dataset
    names = gt["metadata"]["joint_names"]
    stats = source_statistics(gt["positions_2d"], det["positions_2d"], names, gt["visibility"], gt["occluded"],
                              det["confidence"])
    expected = expected_statistics(DEFAULT_MODEL, names, gt["metadata"]["fps"])
    mean_expected = _weighted(expected["mean_error_px"], stats["clean_counts_per_joint"])
    mean_measured = _weighted(stats["normalised_mean_per_joint"], stats["clean_counts_per_joint"])
    assert abs(mean_measured / mean_expected - 1) < 0.10, (mean_measured, mean_expected)
    assert 4.5 < mean_expected < 6.0  # the model's promise: a fine-tuned CPN's 5-6 px at the reference size
    assert abs(stats["lag1"] / expected["lag1_pooled"] - 1) < 0.10, (stats["lag1"], expected["lag1_pooled"])
    assert stats["spearman_confidence_error"] <= -0.3, stats["spearman_confidence_error"]
    assert stats["mean_error_occluded"] > stats["mean_error_visible"] * 1.5, stats
    assert 0.05 < stats["occluded_fraction"] < 0.5, stats["occluded_fraction"]
    conf = np.concatenate([c for acts in det["confidence"].values() for views in acts.values() for c in views])
    assert conf.dtype == np.float32 and conf.min() >= 0 and conf.max() <= 1

    # rare events: pool more seeds over the same gt (about 100k measurable limb-pair frames)
    gross_hits = gross_n = swaps = swap_n = 0
    exp_gross = []
    for seed in [None] + list(range(100, 100 + EXTRA_SEEDS)):
        if seed is None:
            s = stats
        else:
            d, c = _redetect(gt, seed)
            s = source_statistics(gt["positions_2d"], d, names, gt["visibility"], gt["occluded"], c)
        n = s["visible_counts_per_joint"]
        gross_hits += s["gross_rate"] * n.sum()
        gross_n += n.sum()
        exp_gross.append(_weighted(expected["gross_rate"], n) * n.sum())
        swaps += s["swap_rate"] * s["swap_frames_measured"]
        swap_n += s["swap_frames_measured"]
    gross_rate, gross_expected = gross_hits / gross_n, sum(exp_gross) / gross_n
    assert abs(gross_rate / gross_expected - 1) < 0.10, (gross_rate, gross_expected)
    assert swap_n > 50000
    assert abs((swaps / swap_n) / expected["swap_rate"] - 1) < 0.10, (swaps / swap_n, expected["swap_rate"])


def test_same_seed_same_bits_any_worker_count_and_gt_untouched(tmp_path):
    files = bandai_files()
    _generate(tmp_path / "one", files, rig="h36m")
    _generate(tmp_path / "two", files[::-1], rig="h36m", workers=2)
    opts = GenerateOptions(out=str(tmp_path / "plain"), subject="S1")
    generate(files, opts)
    a, b = _load(tmp_path / "one", "detector"), _load(tmp_path / "two", "detector")
    for key in ("positions_2d", "confidence", "occluded"):
        for s in a[key]:
            for act in a[key][s]:
                for x, y in zip(a[key][s][act], b[key][s][act]):
                    assert x.tobytes() == y.tobytes(), (key, act)
    plain, gt = _load(tmp_path / "plain", "gt"), _load(tmp_path / "one", "gt")
    for act, views in plain["positions_2d"]["S1"].items():  # the exact 2D does not change with --keypoints
        for x, y in zip(views, gt["positions_2d"]["S1"][act]):
            assert x.tobytes() == y.tobytes()
    assert "occluded" not in plain  # a plain run skips the occlusion test (its cost)
    generate(files, GenerateOptions(out=str(tmp_path / "occ"), subject="S1", occlusion=True))
    occ = _load(tmp_path / "occ", "gt")["occluded"]
    for act, views in occ["S1"].items():
        assert all(np.array_equal(x, y) for x, y in zip(views, a["occluded"]["S1"][act]))
    _generate(tmp_path / "other", files, rig="h36m", noise_seed=1)
    c = _load(tmp_path / "other", "detector")
    act = next(iter(a["positions_2d"]["S1"]))
    assert not np.array_equal(a["positions_2d"]["S1"][act][0], c["positions_2d"]["S1"][act][0])
    manifest = json.loads((tmp_path / "other" / "manifest.json").read_text())
    assert manifest["keypoints"]["noise_seed"] == 1 and manifest["keypoints"]["noise_model"]["name"] == "cpn"
    assert manifest["keypoints"]["noise_model"]["swap_rate"] == DEFAULT_MODEL.swap_rate


def test_gauss_model_is_plain_white_noise():
    m = parse_noise("gauss:4")
    rng = np.random.default_rng(0)
    gt = np.broadcast_to(rng.uniform(0, 900, (17, 2)), (3, 4000, 17, 2)).copy()
    vis, occ = np.ones(gt.shape[:3], bool), np.ones(gt.shape[:3], bool)  # occlusion changes nothing here
    det, conf = detect(gt, vis, occ, [f"j{i}" for i in range(17)], 30, m, [view_seed(0, "S", "A", i) for i in range(3)])
    d = (det - gt).reshape(-1, 2)
    assert np.allclose(d.std(axis=0), 4, rtol=0.02) and np.allclose(d.mean(axis=0), 0, atol=0.05)
    lag = np.corrcoef(d.reshape(3, 4000, 17, 2)[:, 1:].ravel(), d.reshape(3, 4000, 17, 2)[:, :-1].ravel())[0, 1]
    assert abs(lag) < 0.02


def test_systematic_offsets_are_motionberts_fitted_means_in_every_view():
    """The cpn model's mean error per joint, over many views and frames, is MotionBERT's fitted mixture mean
    (params/synthetic_noise.pth: Gaussian mean x weight x 500 px), e.g. the thorax 3 px high; a JSON file
    can replace them."""
    from hpd3d_addon.core.noise import MOTIONBERT_GAUSSIAN_WEIGHT, MOTIONBERT_MEAN
    names = list(MOTIONBERT_GAUSSIAN_WEIGHT)
    rng = np.random.default_rng(1)
    pose = rng.uniform(-190, 190, (17, 2))
    pose[:2] = [[-190, -190], [190, 190]]                               # person size 380 px: the reference
    gt = np.broadcast_to(pose + 500, (64, 600, 17, 2)).copy()
    vis, occ = np.ones(gt.shape[:3], bool), np.zeros(gt.shape[:3], bool)
    model = dataclasses.replace(DEFAULT_MODEL, gross_rate=0.0, swap_rate=0.0)
    det, _ = detect(gt, vis, occ, names, 30, model, [view_seed(0, "S", "A", i) for i in range(64)])
    mean = (det - gt).reshape(-1, 17, 2).mean(axis=0)
    want = np.array([[500 * MOTIONBERT_GAUSSIAN_WEIGHT[n] * m for m in MOTIONBERT_MEAN[n]] for n in names])
    assert np.abs(mean - want).max() < 0.5, np.round(mean - want, 2)   # per-view bias 1.5/sqrt(64) = 0.19 px sd
    assert want[names.index("Thorax"), 1] < -2.9
    f_json = {"joint_offset_px": {"Thorax": [0, 5]}}
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/m.json"
        with open(path, "w") as fh:
            json.dump(f_json, fh)
        m2 = parse_noise(path)
    assert m2.offset("Thorax") == (0.0, 5.0) and m2.offset("Hip") == (0.0, 0.0)
    assert parse_noise("gauss:3").offset("Thorax") == (0.0, 0.0)


def test_ar1_is_stationary_with_the_asked_coefficient():
    x = ar1(np.random.default_rng(3).standard_normal((200000, 2)), 0.8)
    assert np.allclose(x.std(axis=0), 1, atol=0.02)
    assert np.allclose((x[1:] * x[:-1]).mean(axis=0), 0.8, atol=0.01)


def test_noise_model_from_json(tmp_path):
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"swap_rate": 0.01, "gross_size": [0.2, 0.4]}))
    m = parse_noise(str(f))
    assert m.swap_rate == 0.01 and m.gross_size == (0.2, 0.4) and m.white_px == DEFAULT_MODEL.white_px
    f.write_text(json.dumps({"swap_rat": 0.01}))
    with pytest.raises(HPD3DError, match="unknown noise parameter"):
        parse_noise(str(f))
    assert dataclasses.asdict(parse_noise("cpn")) == dataclasses.asdict(DEFAULT_MODEL)


@pytest.mark.parametrize("args, needle", [
    (["--noise", "gauss:x"], "gauss:SIGMA_PX"),
    (["--noise", "nosuch"], "unknown --noise"),
    (["--keypoints", "gt,cpn"], "unknown --keypoints"),
    (["--layout-2d", "coco17", "--layout", "source"], "needs --layout h36m17"),
])
def test_bad_keypoint_options_are_one_line(tmp_path, sample_bvh, args, needle):
    r = run_cli("generate", sample_bvh, "--out", tmp_path / "o", *args)
    assert needle in one_line_error(r)
    assert not (tmp_path / "o").exists()


def test_check_reports_the_detector_against_gt(bandai_dataset):
    from hpd3d_addon.core.check import check_folder
    out, _, _ = bandai_dataset
    report = check_folder(out)
    assert report.passed and report.reprojection["max_error_px"] < 0.01, report.lines()
    line = report.facts["keypoints detector"]
    for needle in ("error mean", "median", "p95", "swaps", "occluded"):
        assert needle in line, line


def test_preview_shows_detector_beside_gt_and_occluded_joints(tmp_path):
    mpimg = pytest.importorskip("matplotlib.image")
    files = bandai_files()[:1]
    opts = GenerateOptions(out=str(tmp_path), subject="S1", keypoints=("gt", "detector"), preview=True)
    generate(files, opts)
    img = mpimg.imread(tmp_path / "preview_blender.png")[..., :3]
    orange = (img[..., 0] > 0.8) & (img[..., 1] > 0.4) & (img[..., 1] < 0.65) & (img[..., 2] < 0.2)
    assert orange.sum() > 100  # the occluded-joint rings
    assert img.shape[1] > 1.2 * img.shape[0]  # 4 camera rows, 3 frames x (gt, detector) columns


def test_coco_model_is_a_coco_detector_through_coco2h36m(tmp_path):
    """--noise coco writes, in Human3.6M-17 order, exactly what the --layout-2d coco17 run's detector file
    holds (same cameras, projection, occlusion and seeds) turned by layouts.coco_to_h36m (MotionBERT's
    coco2h36m): head and nose are other points than the mocap joints; the gt file is unchanged."""
    from hpd3d_addon.core.layouts import coco_to_h36m
    from conftest import SAMPLES
    src = [SAMPLES / "hpd3d_sample_walk.bvh"]
    generate(src, GenerateOptions(out=str(tmp_path / "h"), subject="S1", rig=parse_rig("ring:3"),
                                  keypoints=("gt", "detector"), noise="coco"))
    generate(src, GenerateOptions(out=str(tmp_path / "c"), subject="S1", rig=parse_rig("ring:3"),
                                  keypoints=("gt", "detector"), layout_2d="coco17"))
    generate(src, GenerateOptions(out=str(tmp_path / "g"), subject="S1", rig=parse_rig("ring:3")))
    h, c = _load(tmp_path / "h", "detector"), _load(tmp_path / "c", "detector")
    gt_h, gt_plain = _load(tmp_path / "h", "gt"), _load(tmp_path / "g", "gt")
    (views,) = [v for acts in h["positions_2d"].values() for v in acts.values()]
    (coco,) = [v for acts in c["positions_2d"].values() for v in acts.values()]
    (gt,) = [v for acts in gt_h["positions_2d"].values() for v in acts.values()]
    (plain,) = [v for acts in gt_plain["positions_2d"].values() for v in acts.values()]
    assert h["metadata"]["layout_2d"] == "h36m17" and h["metadata"]["num_joints"] == 17
    for d, k, g, p in zip(views, coco, gt, plain):
        assert np.array_equal(d, coco_to_h36m(k).astype(np.float32))
        assert np.array_equal(g, p)
        err = np.linalg.norm(d - g, axis=-1).mean(axis=0)
        assert err[10] > 3 * err[1], err  # the head (mid-eyes) is far from the mocap head top; a hip is not
    assert parse_noise("coco").detector_layout == "coco17" and parse_noise("cpn").detector_layout == "h36m17"
