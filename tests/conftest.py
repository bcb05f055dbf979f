"""Shared test fixtures: where the real BVH files are, and skips with a reason when they are absent."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_BVH = Path(os.environ.get("HPD3D_SHARED", REPO.parent / "shared")) / "fixtures" / "bvh"
SAMPLES = REPO / "hpd3d_addon" / "samples"
FAMILIES = Path(__file__).resolve().parent / "data" / "families"


def shared_bvh_files():
    return sorted(SHARED_BVH.glob("*.bvh")) if SHARED_BVH.is_dir() else []


@pytest.fixture
def shared_bvh_dir():
    if not shared_bvh_files():
        pytest.skip(f"real BVH fixtures not found at {SHARED_BVH} (../shared is absent)")
    return SHARED_BVH


@pytest.fixture
def sample_bvh():
    files = sorted(SAMPLES.glob("*.bvh"))
    assert files, "the embedded sample BVH is missing"
    return files[0]
