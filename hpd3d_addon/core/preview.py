"""A PNG contact sheet of the 2D keypoints: one row per camera, a few frames per row (needs matplotlib)."""
import io

import numpy as np

from .errors import HPD3DError

FRAMES_PER_ROW = 4
MAX_CAMERAS = 8


def contact_sheet_png(positions_2d, cameras, parents, left=(), right=(), frames_per_row=FRAMES_PER_ROW):
    """PNG bytes showing the first subject's first action, a row per camera.

    Each cell is zoomed on the skeleton (same zoom along a row); the image border is drawn dashed where it
    falls inside the cell, and the pixel axes are labelled so positions can be read off.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise HPD3DError("--preview needs matplotlib (pip install matplotlib)") from None
    subject = next(iter(positions_2d))
    action = next(iter(positions_2d[subject]))
    views = positions_2d[subject][action]
    cams = cameras[subject][:MAX_CAMERAS]
    frames = views[0].shape[0]
    picks = np.unique(np.linspace(0, frames - 1, frames_per_row).round().astype(int))
    fig, axes = plt.subplots(len(cams), len(picks), figsize=(2.4 * len(picks), 2.4 * len(cams) + 0.4),
                             squeeze=False)
    left, right = set(left), set(right)
    for r, cam in enumerate(cams):
        row = views[r][picks]
        half = 0.6 * max(float(np.ptp(row[..., 0], axis=1).max()), float(np.ptp(row[..., 1], axis=1).max()), 1.0)
        for c, f in enumerate(picks):
            ax = axes[r][c]
            pts = views[r][f]
            for j, p in enumerate(parents):
                if p >= 0:
                    color = "tab:blue" if j in left else "tab:red" if j in right else "0.2"
                    ax.plot(pts[[j, p], 0], pts[[j, p], 1], color=color, lw=2)
            ax.scatter(pts[:, 0], pts[:, 1], s=6, color="k", zorder=3)
            ax.plot([0, cam.res_w, cam.res_w, 0, 0], [0, 0, cam.res_h, cam.res_h, 0], "--", color="0.6", lw=1)
            cx, cy = (pts.min(axis=0) + pts.max(axis=0)) / 2
            ax.set_xlim(cx - half, cx + half)
            ax.set_ylim(cy + half, cy - half)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=6)
            if r == 0:
                ax.set_title(f"frame {f}", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"camera {cam.id}", fontsize=8)
    fig.suptitle(f"{subject} / {action}: 2D keypoints ({len(cameras[subject])} cameras, blue = left, red = right; pixels, zoomed on the subject)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()
