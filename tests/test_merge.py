"""`generate --shard K/N` then `hpd3d merge`: the merged folder is the dataset of one run over all inputs
(same sequences, cameras, arrays, manifest facts), read and written one take at a time."""
import json
import shutil
import tracemalloc

import numpy as np
import pytest

from conftest import SAMPLES
from hpd3d_addon.core import merge as merge_module
from hpd3d_addon.core.discovery import Take, parse_shard, shard_owner, shard_takes
from hpd3d_addon.core.errors import HPD3DError
from test_cli import HUMANS, _npz_contents, copy_family, one_line_error, run_cli

RIG = ("--rig", "random:4", "--seed", "7", "--fps", "25", "--keypoints", "gt,detector")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Five subjects of mixed skeletons, frame rates and sizes."""
    root = tmp_path_factory.mktemp("mixed") / "mocap"
    for i, stem in enumerate(HUMANS):
        copy_family(stem, root / f"S{i % 5 + 1}")
    shutil.copyfile(SAMPLES / "hpd3d_sample_walk.bvh", root / "S3" / "sample_walk.bvh")
    return root


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    r = run_cli("generate", corpus, "--out", base / "whole", *RIG, "--workers", "1")
    assert r.returncode == 0, r.stderr
    shards = []
    for k in (1, 2, 3):
        shards.append(base / f"shard{k}")
        r = run_cli("generate", corpus, "--out", shards[-1], *RIG, "--shard", f"{k}/3")
        assert r.returncode == 0, r.stderr
    r = run_cli("merge", *shards, "--out", base / "merged")
    assert r.returncode == 0, r.stderr
    return base / "whole", shards, base / "merged"


def test_shards_split_the_subjects(runs):
    whole, shards, _ = runs
    subjects = [set(json.loads((s / "manifest.json").read_text())["subjects"]) for s in shards]
    assert all(subjects) and set.union(*subjects) == set(json.loads((whole / "manifest.json").read_text())["subjects"])
    assert sum(map(len, subjects)) == len(set.union(*subjects))


def test_merged_equals_one_run(runs):
    whole, _, merged = runs
    for name in ("data_3d_blender.npz", "data_2d_blender_gt.npz", "data_2d_blender_detector.npz"):
        assert _npz_contents(whole / name) == _npz_contents(merged / name), name
    for name in ("camera_intrinsics.txt", "camera_extrinsics.txt", "blender_dataset.py"):
        assert (whole / name).read_bytes() == (merged / name).read_bytes(), name
    a, b = (json.loads((d / "manifest.json").read_text()) for d in (whole, merged))
    assert len(b.pop("merged_from")) == 3
    ca, cb = a.pop("reprojection_check"), b.pop("reprojection_check")
    assert cb["passed"] and cb["max_error_px"] == ca["max_error_px"] and cb["worst"] == ca["worst"]
    assert cb["mean_error_px"] == pytest.approx(ca["mean_error_px"], rel=1e-9)
    assert b["run_id"] != a["run_id"]
    for m in (a, b):
        m.pop("command"), m.pop("generator"), m["settings"].pop("out"), m.pop("run_id"), m.pop("contents")
    assert a == b
    r = run_cli("check", merged)
    assert r.returncode == 0, r.stdout + r.stderr


def test_merge_refuses_a_missing_or_repeated_shard(runs, tmp_path):
    _, shards, _ = runs
    assert "exactly once" in one_line_error(run_cli("merge", shards[0], shards[2], "--out", tmp_path / "m"))
    assert "also in" in one_line_error(run_cli("merge", *shards, shards[1], "--out", tmp_path / "m"))
    assert not (tmp_path / "m").exists()


def test_merge_refuses_other_settings(corpus, runs, tmp_path):
    _, shards, _ = runs
    other = tmp_path / "other"
    r = run_cli("generate", corpus, "--out", other, "--rig", "random:4", "--seed", "8", "--fps", "25", "--keypoints", "gt,detector", "--shard", "2/3")
    assert r.returncode == 0, r.stderr
    line = one_line_error(run_cli("merge", shards[0], other, shards[2], "--out", tmp_path / "m"))
    assert "other settings" in line and "rig" in line


def test_merge_holds_one_take_at_a_time(shared_bvh_dir, tmp_path):
    """Python-level peak memory of a merge (numpy reports its buffers to tracemalloc) stays near one take's
    arrays, far below the dataset's size: 9 takes of 2751 frames in 3 subjects, 3 shards."""
    root = tmp_path / "mocap"
    for i in range(9):
        (root / f"S{i % 3}").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_bvh_dir / "cmu_01_01.bvh", root / f"S{i % 3}" / f"take{i}.bvh")
    shards = [tmp_path / f"shard{k}" for k in (1, 2, 3)]
    for k, out in enumerate(shards, 1):
        r = run_cli("generate", root, "--out", out, "--rig", "random:4", "--shard", f"{k}/3")
        assert r.returncode == 0, r.stderr
    take = max(sum(v.nbytes for v in vs) for sh in shards
               for _, _, vs in merge_module.iter_items(sh / "data_2d_blender_gt.npz", "positions_2d"))
    tracemalloc.start()
    try:
        merge_module.merge(shards, tmp_path / "merged")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    total = sum((tmp_path / "merged" / n).stat().st_size for n in ("data_3d_blender.npz", "data_2d_blender_gt.npz"))
    assert total > 10 * take
    assert peak < 2.5 * take + 1_500_000, (peak, take, total)


def test_shard_assignment_is_stable_and_balanced(tmp_path):
    takes = []
    for i, size in enumerate([50, 40, 30, 20, 10, 10]):
        p = tmp_path / f"s{i}.bvh"
        p.write_bytes(b"x" * size)
        takes.append(Take(f"S{i}", "a", p))
    assert shard_owner(takes, 2) == {"S0": 0, "S1": 1, "S2": 1, "S3": 0, "S4": 0, "S5": 1}
    assert shard_owner(list(reversed(takes)), 2) == shard_owner(takes, 2)
    assert [t.subject for t in shard_takes(takes, "2/2")] == ["S1", "S2", "S5"]
    assert parse_shard("3/4") == (3, 4) and parse_shard("") is None
    for bad in ("0/2", "3/2", "a/b", "2"):
        with pytest.raises(HPD3DError, match="invalid --shard"):
            parse_shard(bad)
    with pytest.raises(HPD3DError, match="no subject falls in this shard"):
        shard_takes(takes[:1], "2/2")
