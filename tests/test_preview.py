"""--preview writes a real PNG contact sheet: a row per camera, skeletons drawn inside."""
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO


def test_preview_png(tmp_path, sample_bvh):
    mpimg = pytest.importorskip("matplotlib.image")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "hpd3d_addon", "generate", str(sample_bvh), "--out", str(out),
                           "--rig", "ring:3", "--preview", "--quiet"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    png = out / "preview_blender.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(png)
    h, w = img.shape[:2]
    assert h > w * 0.5  # three camera rows of four frames
    # Something was drawn: red and blue limb strokes, not just an empty grid.
    rgb = img[..., :3]
    red = (rgb[..., 0] > 0.7) & (rgb[..., 2] < 0.4)
    blue = (rgb[..., 2] > 0.6) & (rgb[..., 0] < 0.3)
    assert red.sum() > 200 and blue.sum() > 200
