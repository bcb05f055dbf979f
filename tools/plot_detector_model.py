"""Draw the detector-noise figures of the README (run: python tools/plot_detector_model.py; needs matplotlib and
the Bandai Namco fixtures in ../shared/fixtures/bvh).

docs/detector_errors.png   per-joint error of `-k detector` against `gt` on the Bandai fixtures (64 cameras
                           around each take, visible joints, at the reference person size), next to what it is
                           modelled on: the per-joint mean implied by MotionBERT's fitted noise
                           (params/synthetic_noise.pth) and the 5-6 px mean of a fine-tuned CPN on Human3.6M;
                           and confidence against error with MotionBERT's fitted curve a/(d+a)+b*d+m.
docs/detector_vs_gt.png    a preview: ground truth and detector 2D side by side, occluded joints ringed.
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hpd3d_addon.core.dataset import GenerateOptions, generate  # noqa: E402
from hpd3d_addon.core.keypoint_stats import GROSS_THRESHOLD, swap_flags  # noqa: E402
from hpd3d_addon.core.noise import (DEFAULT_MODEL, MOTIONBERT_UNIT_PX, REFERENCE_SIZE_PX,  # noqa: E402
                                    expected_statistics, person_size)
from hpd3d_addon.core.rigs import parse_rig  # noqa: E402

FIXTURES = REPO.parent / "shared" / "fixtures" / "bvh"


def _load(path):
    with np.load(path, allow_pickle=True) as d:
        return {k: d[k].item() for k in d.files}


def per_joint_errors(gt, det):
    names = gt["metadata"]["joint_names"]
    errs, conf_err, conf = [[] for _ in names], [], []
    for s, acts in gt["positions_2d"].items():
        for a, views in acts.items():
            for i, g in enumerate(views):
                g, d = g.astype(np.float64), det["positions_2d"][s][a][i].astype(np.float64)
                norm = np.linalg.norm(d - g, axis=-1) * REFERENCE_SIZE_PX / person_size(g)[:, None]
                seen = gt["visibility"][s][a][i] & ~gt["occluded"][s][a][i]
                conf_err.append(norm[gt["visibility"][s][a][i]])
                conf.append(det["confidence"][s][a][i][gt["visibility"][s][a][i]])
                swapped, _ = swap_flags(g, d, names)
                seen &= ~swapped.any(axis=1, keepdims=True)
                for j in range(len(names)):
                    errs[j].append(norm[seen[:, j], j])
    return names, [np.concatenate(e) for e in errs], np.concatenate(conf_err), np.concatenate(conf)


def main():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    files = sorted(FIXTURES.glob("bandai_*.bvh"))
    if not files:
        sys.exit(f"no Bandai fixtures in {FIXTURES}")
    with tempfile.TemporaryDirectory() as tmp:
        generate(files, GenerateOptions(out=tmp, subject="S1", rig=parse_rig("ring:64"), keypoints=("gt", "detector")))
        gt, det = _load(Path(tmp) / "data_2d_blender_gt.npz"), _load(Path(tmp) / "data_2d_blender_detector.npz")
        generate(files[:1], GenerateOptions(out=str(Path(tmp) / "p"), subject="S1", keypoints=("gt", "detector"),
                                            rig=parse_rig("ring:2", distance=3.0), preview=True))
        (REPO / "docs" / "detector_vs_gt.png").write_bytes((Path(tmp) / "p" / "preview_blender.png").read_bytes())
    names, errs, conf_err, conf = per_joint_errors(gt, det)
    expected = expected_statistics(DEFAULT_MODEL, names, gt["metadata"]["fps"])["mean_error_px"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [2.2, 1]})
    pos = np.arange(len(names))
    clipped = [np.minimum(e, GROSS_THRESHOLD * REFERENCE_SIZE_PX * 1.2) for e in errs]
    ax.boxplot(clipped, positions=pos, widths=0.6, showfliers=False, whis=(5, 95))
    ax.plot(pos, [e[e < GROSS_THRESHOLD * REFERENCE_SIZE_PX].mean() for e in errs], "o", color="tab:blue",
            label="measured mean (gross errors excluded)")
    ax.plot(pos, expected, "_", ms=18, mew=2.5, color="tab:red",
            label="model: mean implied by MotionBERT's fitted per-joint noise")
    ax.axhspan(5, 6, color="tab:green", alpha=0.15, label="fine-tuned CPN on Human3.6M: 5-6 px mean")
    ax.set_xticks(pos)
    ax.set_xticklabels(names, rotation=60, fontsize=8)
    ax.set_ylabel("error (px at the reference person size, 380 px)")
    ax.set_title("detector vs gt per joint, Bandai fixtures, 64 cameras (box 25-75 %, whiskers 5-95 %)", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    a, b, m, s = DEFAULT_MODEL.confidence_abms
    pick = np.random.default_rng(0).choice(len(conf), min(20000, len(conf)), replace=False)
    bx.scatter(conf_err[pick], conf[pick], s=1, alpha=0.2, color="0.3", label="detector joints (in the image)")
    d = np.linspace(0, 60, 200)
    du = np.minimum(d / MOTIONBERT_UNIT_PX, np.sqrt(a / b) - a)
    bx.plot(d, a / (du + a) + b * du + m, color="tab:red", label="MotionBERT's fit a/(d+a)+b*d+m")
    bx.set_xlim(0, 60)
    bx.set_ylim(0, 1.02)
    bx.set_xlabel("error (px at the reference size)")
    bx.set_ylabel("confidence")
    bx.set_title("confidence falls with the error (occluded: x0.5)", fontsize=9)
    bx.legend(fontsize=8, loc="upper right", markerscale=8)
    fig.tight_layout()
    fig.savefig(REPO / "docs" / "detector_errors.png", dpi=90)
    print("wrote docs/detector_errors.png and docs/detector_vs_gt.png")


if __name__ == "__main__":
    main()
