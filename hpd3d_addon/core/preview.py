"""A PNG contact sheet of the 2D keypoints: one row per camera, a few frames per row (needs matplotlib).

With detector keypoints, every frame is drawn twice side by side: ground truth, then the detector's 2D over a
faint copy of the ground truth; occluded keypoints (core/occlusion.py) are marked with open circles."""
import io

import numpy as np

from .errors import HPD3DError

FRAMES_PER_ROW = 4
FRAMES_PER_ROW_WITH_DETECTOR = 3
MAX_CAMERAS = 8


def _draw_skeleton(ax, pts, parents, left, right, lw=2, alpha=1.0):
    for j, p in enumerate(parents):
        if p >= 0:
            color = "tab:blue" if j in left else "tab:red" if j in right else "0.2"
            ax.plot(pts[[j, p], 0], pts[[j, p], 1], color=color, lw=lw, alpha=alpha)


def contact_sheet_png(positions_2d, cameras, parents, left=(), right=(), frames_per_row=None, detector=None,
                      occluded=None):
    """PNG bytes showing the first subject's first action, a row per camera.

    Each cell is zoomed on the skeleton (same zoom along a row); the image border is drawn dashed where it
    falls inside the cell, and the pixel axes are labelled so positions can be read off. `detector` and
    `occluded` are nested like positions_2d (optional).
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
    det = detector[subject][action] if detector is not None else None
    occ = occluded[subject][action] if occluded is not None else None
    cams = cameras[subject][:MAX_CAMERAS]
    frames = views[0].shape[0]
    frames_per_row = frames_per_row or (FRAMES_PER_ROW_WITH_DETECTOR if det is not None else FRAMES_PER_ROW)
    picks = np.unique(np.linspace(0, frames - 1, frames_per_row).round().astype(int))
    cells = [(f, kind) for f in picks for kind in (("gt", "detector") if det is not None else ("gt",))]
    fig, axes = plt.subplots(len(cams), len(cells), figsize=(2.4 * len(cells), 2.4 * len(cams) + 0.4),
                             squeeze=False)
    left, right = set(left), set(right)
    for r, cam in enumerate(cams):
        row = views[r][picks]
        half = 0.6 * max(float(np.ptp(row[..., 0], axis=1).max()), float(np.ptp(row[..., 1], axis=1).max()), 1.0)
        for c, (f, kind) in enumerate(cells):
            ax = axes[r][c]
            pts = views[r][f]
            if kind == "gt":
                _draw_skeleton(ax, pts, parents, left, right)
            else:
                _draw_skeleton(ax, pts, parents, left, right, lw=4, alpha=0.15)
                _draw_skeleton(ax, det[r][f], parents, left, right, lw=1.5)
            shown = pts if kind == "gt" else det[r][f]
            ax.scatter(shown[:, 0], shown[:, 1], s=6, color="k", zorder=3)
            if occ is not None and occ[r][f].any():
                hidden = shown[occ[r][f]]
                ax.scatter(hidden[:, 0], hidden[:, 1], s=40, facecolors="none", edgecolors="darkorange",
                           linewidths=1.2, zorder=4)
            ax.plot([0, cam.res_w, cam.res_w, 0, 0], [0, 0, cam.res_h, cam.res_h, 0], "--", color="0.6", lw=1)
            cx, cy = (pts.min(axis=0) + pts.max(axis=0)) / 2
            ax.set_xlim(cx - half, cx + half)
            ax.set_ylim(cy + half, cy - half)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=6)
            if r == 0:
                ax.set_title(f"frame {f}" + ("" if det is None else f" {kind}"), fontsize=8)
            if c == 0:
                ax.set_ylabel(f"camera {cam.id}", fontsize=8)
    extra = "; detector beside ground truth" if det is not None else ""
    extra += "; orange rings = occluded" if occ is not None else ""
    fig.suptitle(f"{subject} / {action}: 2D keypoints ({len(cameras[subject])} cameras, blue = left, red = right; "
                 f"pixels, zoomed on the subject{extra})", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()
