"""Error statistics of a keypoint source (e.g. `detector`) against the exact `gt` 2D of the same dataset.

Measured per view (subject, action, camera) and pooled:
- error: Euclidean pixel distance to gt, per frame and keypoint; `normalised` errors are scaled to the
  reference person size of core/noise.py (error x REFERENCE_SIZE_PX / person size), the units of its model;
- swaps: a limb pair (elbow+wrist, knee+ankle) counts as swapped in a frame when the detections lie closer
  (summed distance) to the other side's gt than to their own; only frames where each of the pair's joints is
  at least SWAP_MIN_SEPARATION x the person size from its mirror joint are measured (elsewhere a swap is
  not distinguishable from noise);
- gross errors: normalised error above GROSS_THRESHOLD x the reference size (28.5 px), counted on visible
  (in the image, not occluded) keypoints outside swapped limbs;
- lag-1 autocorrelation of the normalised error about each track's mean (per view, keypoint and axis),
  over consecutive frames both 'clean' (visible, not occluded, no swap, no gross error);
- Spearman rank correlation of confidence with error over in-image keypoints.
"""
import numpy as np

from .layouts import COCO_BODY_FROM_H36M
from .noise import REFERENCE_SIZE_PX, _swap_columns, person_size

SWAP_MIN_SEPARATION = 0.15
GROSS_THRESHOLD = 0.075


def _views(nested_gt, nested_other, *extra):
    for subject, actions in nested_gt.items():
        for action, views in actions.items():
            for i, gt in enumerate(views):
                try:
                    other = nested_other[subject][action][i]
                except (KeyError, IndexError, TypeError):
                    continue
                yield (f"{subject}/{action}", i, np.asarray(gt, np.float64), np.asarray(other, np.float64),
                       *[None if e is None else np.asarray(e[subject][action][i]) for e in extra])


def swap_flags(gt, det, joint_names):
    """(swapped (F, K), measurable (F, K)) for the K limb pairs of a layout, from one view (F, P, 2)."""
    pairs = _swap_columns(joint_names)
    size = person_size(gt)[:, None]
    swapped = np.zeros((len(gt), len(pairs)), bool)
    measurable = np.zeros_like(swapped)
    for q, (left, right) in enumerate(pairs):
        own = (np.linalg.norm(det[:, left] - gt[:, left], axis=-1).sum(-1)
               + np.linalg.norm(det[:, right] - gt[:, right], axis=-1).sum(-1))
        other = (np.linalg.norm(det[:, left] - gt[:, right], axis=-1).sum(-1)
                 + np.linalg.norm(det[:, right] - gt[:, left], axis=-1).sum(-1))
        sep = np.linalg.norm(gt[:, left] - gt[:, right], axis=-1).min(-1)
        swapped[:, q] = other < own
        measurable[:, q] = sep >= SWAP_MIN_SEPARATION * size[:, 0]
    return swapped, measurable


def spearman(x, y):
    """Spearman rank correlation (no ties expected: continuous values)."""
    if len(x) < 3:
        return float("nan")
    rx = np.argsort(np.argsort(x)).astype(np.float64)
    ry = np.argsort(np.argsort(y)).astype(np.float64)
    rx -= rx.mean()
    ry -= ry.mean()
    den = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / den) if den > 0 else float("nan")


def source_statistics(gt2d, other2d, joint_names, visibility=None, occluded=None, confidence=None):
    """Statistics of one keypoint source against gt, pooled over every view (nested dicts as in the files).

    Returns a dict: mean/median/p95 error (px), per-joint normalised mean error and gross rate (visible),
    swap rate, lag-1, Spearman(confidence, error), occluded fraction, mean error occluded vs visible,
    and the counts behind them."""
    errs, norm_clean, joint_idx, gross_hits, gross_joint = [], [], [], [], []
    occ_err, vis_err, conf_all, conf_err = [], [], [], []
    swaps = measured = 0
    lag_num = lag_den = 0.0
    occ_count = total = 0
    pairs = _swap_columns(joint_names)
    P = len(joint_names)
    for _, _, gt, det, vis, occ, conf in _views(gt2d, other2d, visibility, occluded, confidence):
        n = min(len(gt), len(det))
        gt, det = gt[:n], det[:n]
        vis = np.ones(gt.shape[:2], bool) if vis is None else vis[:n].astype(bool)
        occ = np.zeros(gt.shape[:2], bool) if occ is None else occ[:n].astype(bool)
        d = det - gt
        err = np.sqrt(np.sum(d * d, axis=-1))
        size = person_size(gt)[:, None]
        norm = err * REFERENCE_SIZE_PX / size
        swapped, measurable = swap_flags(gt, det, joint_names)
        swaps += int((swapped & measurable).sum())
        measured += int(measurable.sum())
        in_swap = np.zeros_like(vis)
        for q, (left, right) in enumerate(pairs):
            in_swap[:, left + right] |= swapped[:, q, None]
        seen = vis & ~occ & ~in_swap
        gross = norm > GROSS_THRESHOLD * REFERENCE_SIZE_PX
        clean = seen & ~gross
        cols = np.broadcast_to(np.arange(P), err.shape)
        errs.append(err[vis])
        norm_clean.append(norm[clean])
        joint_idx.append(cols[clean])
        gross_hits.append(gross[seen])
        gross_joint.append(cols[seen])
        occ_err.append(norm[vis & occ & ~in_swap & ~gross])
        vis_err.append(norm[clean])
        occ_count += int(occ.sum())
        total += occ.size
        if conf is not None:
            conf_all.append(np.asarray(conf[:n], np.float64)[vis])
            conf_err.append(err[vis])
        # lag-1 on the normalised error vector about each track's mean
        e = d * (REFERENCE_SIZE_PX / size)[..., None]
        w = clean[..., None].astype(np.float64)
        mean = (e * w).sum(0) / np.maximum(w.sum(0), 1)
        e = (e - mean) * w
        both = (clean[1:] & clean[:-1])[..., None]
        lag_num += float(np.sum((e[1:] * e[:-1])[np.broadcast_to(both, e[1:].shape)]))
        lag_den += float(np.sum(((e[1:] ** 2 + e[:-1] ** 2) / 2)[np.broadcast_to(both, e[1:].shape)]))
    cat = lambda xs, dt=np.float64: np.concatenate(xs) if xs else np.zeros(0, dt)  # noqa: E731
    err, normc, jidx = cat(errs), cat(norm_clean), cat(joint_idx, int)
    ghit, gj = cat(gross_hits, bool), cat(gross_joint, int)
    per_joint_mean = np.array([normc[jidx == j].mean() if np.any(jidx == j) else np.nan for j in range(P)])
    per_joint_gross = np.array([ghit[gj == j].mean() if np.any(gj == j) else np.nan for j in range(P)])
    occe, vise = cat(occ_err), cat(vis_err)
    confs, confe = cat(conf_all), cat(conf_err)
    return {
        "mean_px": float(err.mean()) if err.size else float("nan"),
        "median_px": float(np.median(err)) if err.size else float("nan"),
        "p95_px": float(np.percentile(err, 95)) if err.size else float("nan"),
        "normalised_mean_per_joint": per_joint_mean,
        "clean_counts_per_joint": np.bincount(jidx, minlength=P),
        "gross_rate_per_joint": per_joint_gross,
        "visible_counts_per_joint": np.bincount(gj, minlength=P),
        "gross_rate": float(ghit.mean()) if ghit.size else float("nan"),
        "swap_rate": swaps / measured if measured else float("nan"),
        "swap_frames_measured": measured,
        "lag1": lag_num / lag_den if lag_den else float("nan"),
        "spearman_confidence_error": spearman(confs, confe) if confs.size else float("nan"),
        "occluded_fraction": occ_count / total if total else float("nan"),
        "mean_error_occluded": float(occe.mean()) if occe.size else float("nan"),
        "mean_error_visible": float(vise.mean()) if vise.size else float("nan"),
    }


def summary_line(name, stats):
    """One line for `hpd3d check`."""
    s = stats
    conf = s["spearman_confidence_error"]
    return (f"vs gt: error mean {s['mean_px']:.2f} px, median {s['median_px']:.2f} px, "
            f"p95 {s['p95_px']:.2f} px; "
            + (f"swaps {100 * s['swap_rate']:.2f} % of limb-pair frames; " if s["swap_rate"] == s["swap_rate"]
               else "swaps not measured (no elbow/wrist/knee/ankle pairs); ")
            + f"occluded {100 * s['occluded_fraction']:.1f} % of keypoints"
            + ("" if conf != conf else f"; Spearman(confidence, error) {conf:.2f}"))




def comparable_to_3d(pos3, pos2, meta):
    """(3D, 2D) nested dicts whose joints correspond one to one, for the reprojection check: unchanged,
    or for a COCO-17 2D layout (metadata 'layout_2d') the 12 body keypoints and their Human3.6M joints."""
    if meta.get("layout_2d") != "coco17":
        return pos3, pos2
    coco, h36m = (list(c) for c in zip(*COCO_BODY_FROM_H36M.items()))
    p3 = {s: {a: np.asarray(p)[:, h36m] for a, p in acts.items()} for s, acts in pos3.items()}
    p2 = {s: {a: [np.asarray(v)[:, coco] for v in views] for a, views in acts.items()} for s, acts in pos2.items()}
    return p3, p2


def source_facts(folder, name, gt2d, meta, load):
    """({fact: line}, [problems]) for every keypoint source file data_2d_NAME_K.npz beside gt (K != gt):
    its error statistics against gt, and whether its confidence is in [0, 1]. `load(path, key)` reads one
    npz key (check's loader)."""
    facts, problems = {}, []
    if meta.get("layout_2d"):
        facts["2D layout"] = meta["layout_2d"]
    gt_path = folder / f"data_2d_{name}_gt.npz"
    if not gt_path.is_file():
        return facts, problems
    visibility, occluded = load(gt_path, "visibility"), load(gt_path, "occluded")
    names = meta.get("joint_names") or [str(i) for i in range(int(meta.get("num_joints", 0)))]
    for path in sorted(folder.glob(f"data_2d_{name}_*.npz")):
        kind = path.name[len(f"data_2d_{name}_"):-len(".npz")]
        if kind == "gt":
            continue
        try:
            other, conf = load(path, "positions_2d"), load(path, "confidence")
            stats = source_statistics(gt2d, other, names, visibility, occluded, conf)
        except Exception as exc:  # a broken file is a finding, not a crash
            problems.append(f"{path.name}: cannot compare with gt ({type(exc).__name__}: {exc})")
            continue
        facts[f"keypoints {kind}"] = summary_line(kind, stats)
        if conf is not None:
            values = [np.asarray(c) for acts in conf.values() for views in acts.values() for c in views]
            if values and (min(v.min() for v in values if v.size) < 0 or max(v.max() for v in values if v.size) > 1):
                problems.append(f"{path.name}: confidence outside [0, 1]")
    return facts, problems


__all__ = ["source_statistics", "swap_flags", "spearman", "summary_line", "comparable_to_3d", "source_facts"]
