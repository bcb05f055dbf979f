"""Camera distributions (--camera-dist): over 10,000 sampled cameras each parameter follows its requested
distribution (Kolmogorov-Smirnov, p > 0.01); the sampled parameters are the cameras' own geometry;
with fitting on, every joint of every frame is inside every image for every preset (the sample walk and
a Bandai Namco fixture); `default` draws exactly what random:N always drew; the seed depends on --seed and
the subject (or take) name only; JSON files round-trip and bad ones give one line naming the file.

The KS test is written out here (numpy + math only, the test venv has no scipy): the one-sample statistic
D = sup |F_n - F| and its asymptotic p-value with Stephens' small-sample correction,
p = Q((sqrt(n) + 0.12 + 0.11 / sqrt(n)) D), Q(l) = 2 sum_k (-1)^(k-1) exp(-2 k^2 l^2)
(Numerical Recipes 14.3). Checked against scipy.stats.kstest by hand: same D, p within 1e-3.
"""
import ast
import json
import math
import zlib

import numpy as np
import pytest

from conftest import SAMPLES, SHARED_BVH
from hpd3d_addon.cli import main as hpd3d
from hpd3d_addon.core import camera_sampling as cs
from hpd3d_addon.core.dataset import GenerateOptions, map_sequence
from hpd3d_addon.core.projection import project
from hpd3d_addon.core.rigs import RigError, RigSettings, build_rig, motion_target, parse_rig
from hpd3d_addon.core.sequence import sequence_from_bvh

N = 10_000
MARGIN = 20.0
_erf = np.vectorize(math.erf)


def cdf(dist, x, scale=1.0):
    """The CDF of a Dist (times its scale) at x."""
    x = np.asarray(x, float) / scale
    if dist.kind == "uniform":
        return np.clip((x - dist.low) / (dist.high - dist.low), 0, 1)
    phi = lambda v: 0.5 * (1 + _erf((v - dist.mean) / (dist.std * math.sqrt(2))))
    if dist.kind == "normal":
        return phi(x)
    lo, hi = phi(np.float64(dist.low)), phi(np.float64(dist.high))
    return np.clip((phi(np.clip(x, dist.low, dist.high)) - lo) / (hi - lo), 0, 1)


def ks_pvalue(sample, cdf_fn):
    x = np.sort(np.asarray(sample, float))
    n = len(x)
    f = cdf_fn(x)
    d = max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n))
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    k = np.arange(1, 101)
    return float(np.clip(2 * np.sum((-1.0) ** (k - 1) * np.exp(-2 * k * k * lam * lam)), 0, 1))


def settings(**kw):
    return RigSettings(**{"kind": "random", "res_w": 1000, "res_h": 1000, **kw})


@pytest.mark.parametrize("name", list(cs.PRESETS))
def test_each_parameter_follows_its_distribution(name):
    dist = cs.PRESETS[name]
    s = settings()
    rows = cs.sample(dist, np.random.default_rng([7, zlib.crc32(name.encode())]), N, s)
    for param, d in dist.items():
        values = np.array([r[param] for r in rows])
        if d.kind == "constant":
            assert np.all(values == d.value * cs.scale_of(d, s)), param
            continue
        p = ks_pvalue(values, lambda x: cdf(d, x, cs.scale_of(d, s)))
        print(f"{name} {param}: {d.describe()} KS p = {p:.3f}")
        assert p > 0.01, f"{name} {param}: KS p = {p:.4f} against {d.describe()}"
    if dist.height is None:
        assert all(r["height"] is None for r in rows)


def test_ks_rejects_a_wrong_distribution():
    """The KS check above can fail: wham's pitch is N(5, 22.5), not N(5, 25), and not N(6, 22.5)."""
    s = settings()
    rows = cs.sample(cs.PRESETS["wham"], np.random.default_rng(1), N, s)
    pitch = np.array([r["pitch"] for r in rows])
    assert ks_pvalue(pitch, lambda x: cdf(cs.normal(5, 22.5), x)) > 0.01
    assert ks_pvalue(pitch, lambda x: cdf(cs.normal(5, 25), x)) < 0.01
    assert ks_pvalue(pitch, lambda x: cdf(cs.normal(6, 22.5), x)) < 0.01


def test_default_preset_draws_what_random_always_drew():
    """random:N before --camera-dist: per camera az U(0,360), el U(-5,35), distance x U(.8,1.4), focal x
    U(.8,1.25), roll U(-5,5), in that order from default_rng([seed, crc32(subject)]): same values, bit for bit."""
    s = settings(distance=4.5, focal=1100.0, count=6)
    rng_old = np.random.default_rng([3, zlib.crc32(b"S1")])
    old = [(rng_old.uniform(0, 360), rng_old.uniform(-5, 35), s.distance * rng_old.uniform(0.8, 1.4),
            s.focal * rng_old.uniform(0.8, 1.25), rng_old.uniform(-5, 5)) for _ in range(6)]
    new = cs.sample(cs.PRESETS["default"], np.random.default_rng([3, zlib.crc32(b"S1")]), 6, s)
    for o, n in zip(old, new):
        assert o == (n["yaw"], n["pitch"], n["distance"], n["focal"], n["roll"])
        assert n["principal_x"] == n["principal_y"] == 0.0 and n["height"] is None


def _geometry(cam, target):
    """(yaw, pitch, roll, distance, height, focal, principal offset x, y) read back from a Camera."""
    right, down, fwd = cam.rotation[:, 0], cam.rotation[:, 1], cam.rotation[:, 2]
    pitch = math.degrees(math.asin(-fwd[2]))
    flat = np.cross(fwd, [0, 0, 1.0])
    flat /= np.linalg.norm(flat)
    roll = math.degrees(math.atan2(np.dot(right, np.cross(fwd, flat)), np.dot(right, flat)))
    rel = cam.translation - target
    yaw = math.degrees(math.atan2(rel[0], -rel[1])) % 360
    return yaw, pitch, roll, rel, cam.focal, cam.center - 500.0


@pytest.mark.parametrize("name", list(cs.PRESETS))
def test_sampled_parameters_are_the_cameras_geometry(name):
    """Unfitted cameras of a rig have exactly the sampled yaw, pitch, roll, distance, height, focal, principal point."""
    s = settings(count=200, fit=False, seed=5, distribution=cs.PRESETS[name])
    points = np.array([[0.3, -0.2, 0.0], [0.5, 0.1, 1.8]])
    target = motion_target(points)
    cams = build_rig(s, points, "S9")
    rows = cs.sample(cs.PRESETS[name], np.random.default_rng([5, zlib.crc32(b"S9")]), 200, s)
    for cam, r in zip(cams, rows):
        yaw, pitch, roll, rel, focal, pp = _geometry(cam, target)
        assert abs((yaw - r["yaw"] + 180) % 360 - 180) < 1e-6 or abs(pitch) > 89.9
        assert pitch == pytest.approx(r["pitch"], abs=1e-6) and roll == pytest.approx(r["roll"], abs=1e-6)
        if r["height"] is None:
            assert np.linalg.norm(rel) == pytest.approx(r["distance"], rel=1e-12)
        else:
            assert np.hypot(rel[0], rel[1]) == pytest.approx(r["distance"], rel=1e-12)
            assert cam.translation[2] == pytest.approx(r["height"], abs=1e-12)
        assert tuple(focal) == (r["focal"], r["focal"])
        assert tuple(pp) == pytest.approx((r["principal_x"], r["principal_y"]), abs=1e-9)


def _joints(path):
    seq = sequence_from_bvh(path, "S1", path.stem)
    return map_sequence(seq, GenerateOptions()).joints


FIT_FILES = [SAMPLES / "hpd3d_sample_walk.bvh", SHARED_BVH / "bandai_walk_normal_001.bvh"]


@pytest.fixture(scope="module")
def fit_motions():
    missing = [p for p in FIT_FILES if not p.is_file()]
    if missing:
        pytest.skip(f"BVH fixture not found: {missing[0]}")
    return {p.stem: _joints(p) for p in FIT_FILES}


@pytest.mark.parametrize("name", list(cs.PRESETS))
@pytest.mark.parametrize("distortion", ["none", "h36m"])
def test_fitted_cameras_see_every_joint(fit_motions, name, distortion):
    """Every joint of every frame inside every image (with the margin), for 3 subjects x 8 cameras each."""
    s = settings(count=8, margin=MARGIN, distortion=distortion, distribution=cs.PRESETS[name])
    worst = np.inf
    for stem, joints in fit_motions.items():
        pts = joints.reshape(-1, 3)
        for subject in ("S1", "S2", "S3"):
            for cam in build_rig(s, pts, subject):
                px, vis = project(pts, cam)
                assert vis.all(), f"{stem} {subject} {cam.id}: joints outside the image"
                inside = np.minimum(px - MARGIN, [cam.res_w - MARGIN, cam.res_h - MARGIN] - px).min()
                assert inside >= -1e-6, f"{stem} {subject} {cam.id}: a joint {-inside:.3g} px past the margin"
                worst = min(worst, inside)
    print(f"{name} {distortion}: closest joint {worst:.2e} px inside the margin")


def test_cameras_depend_on_seed_and_name_only():
    s = settings(count=4, distribution=cs.PRESETS["wide"])
    pts = np.array([[0, 0, 0.0], [0.4, 0.3, 1.7]])
    a, b, c = (build_rig(s, pts, n) for n in ("S1", "S1", "S2"))
    assert all(np.array_equal(x.rotation, y.rotation) and x.focal[0] == y.focal[0] for x, y in zip(a, b))
    assert not np.array_equal(a[0].rotation, c[0].rotation)
    s.seed = 1
    assert not np.array_equal(build_rig(s, pts, "S1")[0].rotation, a[0].rotation)


def _write_subjects(root, subjects):
    for subject, files in subjects.items():
        (root / subject).mkdir(parents=True)
        for f in files:
            (root / subject / f.name).symlink_to(f)


def _extrinsics(out):
    """{subject: [camera dict]}: the intrinsics per camera index merged with each subject's own entries."""
    intrinsics = ast.literal_eval((out / "camera_intrinsics.txt").read_text())
    extrinsics = ast.literal_eval((out / "camera_extrinsics.txt").read_text())
    return {s: [{**intrinsics[i], **e} for i, e in enumerate(es)] for s, es in extrinsics.items()}


def test_cli_per_subject_and_per_take(tmp_path, sample_bvh, shared_bvh_dir):
    """A subject's cameras do not depend on the other subjects; per take, each take is subject SUBJECT/ACTION
    with cameras that do not depend on the other takes; the manifest records the distribution."""
    bandai = shared_bvh_dir / "bandai_bow_active_001.bvh"
    _write_subjects(tmp_path / "two", {"S1": [sample_bvh], "S2": [bandai, sample_bvh]})
    _write_subjects(tmp_path / "one", {"S2": [bandai, sample_bvh]})
    _write_subjects(tmp_path / "take", {"S2": [sample_bvh]})
    common = ["--rig", "random:3", "--camera-dist", "h36m-like", "--seed", "4", "--quiet"]
    for d in ("two", "one"):
        assert hpd3d(["generate", str(tmp_path / d), "--out", str(tmp_path / f"out_{d}"), *common]) == 0
    assert _extrinsics(tmp_path / "out_two")["S2"] == _extrinsics(tmp_path / "out_one")["S2"]
    assert _extrinsics(tmp_path / "out_two")["S1"] != _extrinsics(tmp_path / "out_two")["S2"]
    manifest = json.loads((tmp_path / "out_one" / "manifest.json").read_text())
    assert manifest["settings"]["rig"]["camera_dist"] == "h36m-like"
    assert manifest["settings"]["rig"]["camera_distribution"] == cs.PRESETS["h36m-like"].to_json()
    for d in ("one", "take"):
        assert hpd3d(["generate", str(tmp_path / d), "--out", str(tmp_path / f"pt_{d}"), *common,
                      "--camera-per", "take"]) == 0
    per_take = _extrinsics(tmp_path / "pt_one")
    walk = f"S2/{sample_bvh.stem}"
    assert sorted(per_take) == sorted([walk, f"S2/{bandai.stem}"])
    assert per_take[walk] == _extrinsics(tmp_path / "pt_take")[walk]
    d3 = np.load(tmp_path / "pt_one" / "data_3d_blender.npz", allow_pickle=True)["positions_3d"].item()
    assert sorted(d3) == sorted(per_take) and list(d3[walk]) == [sample_bvh.stem]


def test_json_file_round_trips(tmp_path, capsys):
    assert hpd3d(["rigs", "--json", "wide"]) == 0
    path = tmp_path / "wide.json"
    path.write_text(capsys.readouterr().out)
    s = parse_rig("random:5", camera_dist=str(path))
    assert s.distribution.items() == cs.PRESETS["wide"].items()
    pts = np.array([[0, 0, 0.0], [0.4, 0.3, 1.7]])
    a = build_rig(s, pts, "S1")
    b = build_rig(parse_rig("random:5", camera_dist="wide"), pts, "S1")
    assert all(np.array_equal(x.translation, y.translation) for x, y in zip(a, b))


def test_rigs_lists_every_preset_with_its_parameters(capsys):
    assert hpd3d(["rigs"]) == 0
    out = capsys.readouterr().out
    for name, dist in cs.PRESETS.items():
        assert f"\n{name}: " in out
        for p, d in dist.items():
            assert d.describe() in out
    assert "N(5, 22.5) deg" in out and "U(2, 12) m" in out and "1 x diagonal" in out  # WHAM's figures


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot read camera distribution"),
    ('{"yaw": {"dist": "uniform", "low": 0, "high": 360}}', "missing pitch, distance, focal"),
    ('{"yaw": {"dist": "beta"}, "pitch": 1, "distance": 1, "focal": 1}', "yaw: give"),
    ('{"yaw": {"dist": "uniform", "low": 5, "high": 1}, "pitch": {"dist": "constant", "value": 0}, '
     '"distance": {"dist": "constant", "value": 3}, "focal": {"dist": "constant", "value": 900}}', "low must be < high"),
    ('{"yaw": {"dist": "constant", "value": 0}, "pitch": {"dist": "constant", "value": 0}, '
     '"distance": {"dist": "normal", "mean": 5, "std": 1}, "focal": {"dist": "constant", "value": 900}}', "must stay > 0"),
    ('{"yaw": {"dist": "constant", "value": 0}, "pitch": {"dist": "constant", "value": 0}, "tilt": 3, '
     '"distance": {"dist": "constant", "value": 3}, "focal": {"dist": "constant", "value": 900}}', "unknown key(s) tilt"),
])
def test_bad_distribution_file_is_one_line(tmp_path, capsys, sample_bvh, content, message):
    path = tmp_path / "cams.json"
    path.write_text(content)
    rc = hpd3d(["generate", str(sample_bvh), "--out", str(tmp_path / "out"), "--rig", "random:2",
                "--camera-dist", str(path), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and str(path) in err and message in err, err
    assert not (tmp_path / "out").exists()


def test_camera_dist_needs_a_random_rig():
    with pytest.raises(RigError, match="--camera-dist wide is for --rig random:N"):
        parse_rig("ring:4", camera_dist="wide")
    with pytest.raises(cs.CameraDistError, match="unknown --camera-dist 'nope'"):
        parse_rig("random:4", camera_dist="nope")
