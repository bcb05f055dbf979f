"""Validation of a dataset folder (ours, or the original script's layout): structure and reprojection.

The reprojection check sends the stored 3D joints through the stored cameras with the shared doc's
model (VideoPose3D's project_to_2d in pixels) and compares with the stored 2D keypoints.
"""
import ast
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cameras import Camera
from .errors import InputError
from .integrity import RUN_ID_KEY, incomplete_write, run_problems
from .keypoint_stats import comparable_to_3d, source_facts
from .projection import CHUNK_POINTS, project
from .safe_pickle import (UnsafeNpzError, check_cameras, check_metadata, check_positions, literal_depth, npz_item,
                          read_npz)

TOLERANCE_PX = 0.01


def reprojection_errors(positions_3d, positions_2d, cameras):
    """{'max_error_px', 'mean_error_px', 'worst', 'passed'} over every subject, action, camera, frame, joint."""
    def blocks():
        for subject, actions in positions_3d.items():
            for action, pos in actions.items():
                pos = np.asarray(pos, dtype=np.float64)
                for i, cam in enumerate(cameras[subject]):
                    stored = np.asarray(positions_2d[subject][action][i], dtype=np.float64)
                    n = min(len(stored), len(pos))
                    px, _ = project(pos[:n], cam)
                    yield f"{subject}/{action}", i, error_block(px, stored[:n])
    return combine_error_blocks(blocks())


def error_block(px, stored):
    """Errors of one camera's view of one action, summarised: (sum, count, max, frame, joint), or None when
    empty. `px` are the projected pixels (F, J, 2), `stored` the stored 2D as float64."""
    err = _errors(px, stored)
    if not err.size:
        return None
    k = int(np.argmax(err))
    f, j = divmod(k, err.shape[1])
    return float(err.sum()), err.size, float(err.flat[k]), f, j


def error_blocks(px, stored, bounds):
    """error_block for each run of frames bounds[k]:bounds[k+1] of one camera's view (F, J, 2), computed in
    cache-sized blocks of frames over the whole array (many short actions would otherwise cost a call each)."""
    starts, lengths = np.asarray(bounds[:-1]), np.diff(bounds)
    if not px.size or (lengths == 0).any():
        return [error_block(px[a:b], stored[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    frames, joints = px.shape[:2]
    row_sum, row_max = np.empty(frames), np.empty(frames)
    step = max(1, CHUNK_POINTS // joints)
    for a in range(0, frames, step):
        err = _errors(px[a:a + step], stored[a:a + step])
        row_sum[a:a + step] = err.sum(axis=1)
        row_max[a:a + step] = err.max(axis=1)
    block_sum = np.add.reduceat(row_sum, starts)
    block_max = np.maximum.reduceat(row_max, starts)
    # first frame of each block reaching the block's maximum, then the first joint there (argmax's choice)
    hits = np.flatnonzero(row_max == np.repeat(block_max, lengths))
    worst_frames = hits[np.searchsorted(hits, starts)]
    worst_joints = _errors(px[worst_frames], stored[worst_frames]).argmax(axis=1)
    return [(float(block_sum[k]), int(lengths[k]) * joints, float(block_max[k]), int(worst_frames[k] - starts[k]),
             int(worst_joints[k])) for k in range(len(starts))]


def _errors(px, stored):
    """Euclidean pixel distances (...) between px and stored (float32 stored is widened exactly);
    np.linalg.norm(px - stored, axis=-1) bit for bit, without its slow length-2 reduction."""
    d = px - stored
    dx, dy = d[..., 0], d[..., 1]
    return np.sqrt(dx * dx + dy * dy)


def combine_error_blocks(blocks):
    """reprojection_errors' result from ('subject/action', camera index, error_block) in subject, action,
    camera order (generate computes the blocks while it projects, instead of projecting twice)."""
    worst = (-1.0, None)
    total, count = 0.0, 0
    for where, i, block in blocks:
        if block is None:
            continue
        err_sum, n, err_max, f, j = block
        total += err_sum
        count += n
        if err_max > worst[0]:
            worst = (err_max, f"{where} camera {i} frame {f} joint {j}")
    max_err = max(worst[0], 0.0)
    return {"max_error_px": max_err, "mean_error_px": total / max(count, 1), "worst": worst[1],
            "tolerance_px": TOLERANCE_PX, "passed": bool(count and max_err <= TOLERANCE_PX)}


@dataclass
class CheckReport:
    folder: Path
    name: str = ""
    problems: list = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    reprojection: dict = field(default_factory=dict)

    @property
    def passed(self):
        return not self.problems and self.reprojection.get("passed", False)

    def lines(self):
        out = [f"dataset '{self.name}' in {self.folder}"]
        for k, v in self.facts.items():
            out.append(f"  {k}: {v}")
        r = self.reprojection
        if r:
            out.append(f"  reprojection error: max {r['max_error_px']:.4g} px, mean {r['mean_error_px']:.4g} px"
                       f" (tolerance {r['tolerance_px']} px){'; worst at ' + r['worst'] if r.get('worst') else ''}")
        for p in self.problems:
            out.append(f"  problem: {p}")
        out.append("PASS" if self.passed else "FAIL")
        return out


def _find_dataset_name(folder):
    names = sorted(p.name[len("data_3d_"):-len(".npz")] for p in folder.glob("data_3d_*.npz"))
    return names


MAX_CAMERA_TEXT = 64 << 20  # bytes of a camera_*.txt file (24 cameras for 1,000 subjects take ~8 MB)
MAX_LITERAL_DEPTH = 32      # bracket nesting of a camera_*.txt file (ours: 4)


def _load_npz(path):
    """Every member of an npz file, read with the restricted unpickler (a pickled dict as the dict): a file
    that would run code is refused whichever member holds it. UnsafeNpzError (one line) otherwise."""
    return {k: v.item() if v.dtype.hasobject and v.shape == () else v for k, v in read_npz(path).items()}


def _load_npz_dict(path, key):
    """Member `key` of an npz file (see _load_npz); None when the file has no such member."""
    return npz_item(path, key)


def read_literal_file(path):
    """A Python literal file (camera_*.txt) with ast.literal_eval, size-bounded; InputError naming the file
    (and line) for anything else."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CAMERA_TEXT:
            raise InputError(path, f"larger than {MAX_CAMERA_TEXT >> 20} MB, not a camera file")
        text = path.read_text(encoding="utf-8")
        if literal_depth(text) > MAX_LITERAL_DEPTH:
            raise InputError(path, f"nested deeper than {MAX_LITERAL_DEPTH} levels: not a camera file")
        return ast.literal_eval(text)
    except SyntaxError as exc:
        raise InputError(path, f"not a Python literal ({exc.msg})", exc.lineno) from None
    except OSError as exc:
        raise InputError(path, f"cannot read file ({exc.strerror or exc})") from None
    except (ValueError, TypeError, RecursionError, MemoryError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a Python literal ({type(exc).__name__})") from None


def load_cameras(folder, data_3d_path, members=None):
    """{subject: [Camera]} from the 3D npz (`members`: its members when already read), else camera_*.txt
    beside it or in common/."""
    blob = members.get("cameras") if members is not None else _load_npz_dict(data_3d_path, "cameras")
    where = f"{data_3d_path}: cameras"
    if blob is None:
        for d in (folder, folder / "common", folder.parent / "common"):
            intr, extr = d / "camera_intrinsics.txt", d / "camera_extrinsics.txt"
            if intr.is_file() and extr.is_file():
                blob = {"intrinsics": read_literal_file(intr), "extrinsics": read_literal_file(extr)}
                where = f"{intr} / {extr.name}"
                break
    if blob is None:
        return None
    return {s: [Camera.from_dicts(c, {}) for c in cams] for s, cams in check_cameras(blob, where).items()}


def check_folder(folder, name=None):
    """Validate one dataset folder, or a file of another format (by suffix, e.g. MotionBERT's .pkl);
    returns a CheckReport (never raises for a bad dataset)."""
    folder = Path(folder)
    if not folder.is_dir():
        from .formats import for_file
        if for_file(folder) is not None:
            return for_file(folder).check_file(folder)
    report = CheckReport(folder)
    if not folder.is_dir():
        report.problems.append("not a folder")
        return report
    names = _find_dataset_name(folder)
    if name is None:
        if not names:
            report.problems.append("no data_3d_<name>.npz here")
            return report
        name = names[0]
        if len(names) > 1:
            report.facts["note"] = f"several datasets ({', '.join(names)}); checked '{name}' (use --name)"
    report.name = name
    p3 = folder / f"data_3d_{name}.npz"
    candidates = [folder / f"data_2d_{name}_gt.npz"] + sorted(folder.glob(f"data_2d_{name}_*.npz"))
    p2 = next((p for p in candidates if p.is_file()), None)
    if not p3.is_file() or p2 is None:
        report.problems.append(f"missing {'data_3d_' + name + '.npz' if not p3.is_file() else 'data_2d_' + name + '_<kp>.npz'}")
        return report
    try:
        d3, d2 = _load_npz(p3), _load_npz(p2)
        pos3, pos2, meta = d3.get("positions_3d"), d2.get("positions_2d"), d2.get("metadata")
        meta = {} if meta is None else meta
        meta3 = d3.get("metadata")
        meta3 = {} if meta3 is None else meta3
        check_metadata(meta, f"{p2}: metadata")
        check_metadata(meta3, f"{p3}: metadata")
        if pos3 is not None:
            check_positions(pos3, f"{p3}: positions_3d", 3)
        if pos2 is not None:
            check_positions(pos2, f"{p2}: positions_2d", 2)
        cameras = load_cameras(folder, p3, d3)
    except (UnsafeNpzError, InputError) as exc:  # one line naming the file (and member or line)
        report.problems.append(str(exc))
        busy = incomplete_write(folder)
        report.problems += [busy] if busy else []
        return report
    except Exception as exc:  # a broken file is a finding, not a crash
        report.problems.append(f"cannot read the files ({type(exc).__name__}: {exc})")
        busy = incomplete_write(folder)
        report.problems += [busy] if busy else []
        return report
    problems, facts = run_problems(folder, [p3.name, p2.name], {p.name: m.get(RUN_ID_KEY) if isinstance(m, dict) else None
                                                                for p, m in ((p3, meta3), (p2, meta))})
    report.problems += problems
    report.facts.update(facts)
    if pos3 is None or pos2 is None:
        report.problems.append("positions_3d or positions_2d key missing")
        return report
    if cameras is None:
        report.problems.append("no cameras (npz 'cameras' key or camera_*.txt beside or in common/)")
        return report
    for k in ("layout_name", "num_joints", "keypoints_symmetry"):
        if k not in meta:
            report.problems.append(f"metadata lacks '{k}'")
    frames = 0
    n_joints = meta.get("num_joints")
    for subject, actions in pos3.items():
        if subject not in pos2:
            report.problems.append(f"subject {subject} has no 2D keypoints")
            continue
        if subject not in cameras:
            report.problems.append(f"subject {subject} has no cameras")
            continue
        for action, p in actions.items():
            p = np.asarray(p)
            frames += len(p)
            if p.ndim != 3 or p.shape[2] != 3:
                report.problems.append(f"{subject}/{action}: 3D shape {p.shape}, expected (F, J, 3)")
                continue
            if n_joints is not None and p.shape[1] != n_joints:
                report.problems.append(f"{subject}/{action}: {p.shape[1]} joints, metadata says {n_joints}")
            views = pos2[subject].get(action)
            if views is None:
                report.problems.append(f"{subject}/{action}: no 2D keypoints")
                continue
            if len(views) != len(cameras[subject]):
                report.problems.append(f"{subject}/{action}: {len(views)} 2D views for {len(cameras[subject])} cameras")
            for i, v in enumerate(views):
                v = np.asarray(v)
                if v.ndim != 3 or v.shape[1:] != (p.shape[1], 2) or len(v) < len(p):
                    report.problems.append(f"{subject}/{action} camera {i}: 2D shape {v.shape}, 3D has {p.shape[:2]}")
                elif len(v) > len(p):  # run.py accepts this and trims the 2D
                    report.facts.setdefault("notes", []).append(f"{subject}/{action} camera {i}: 2D has "
                                                                f"{len(v) - len(p)} more frames than 3D")
    report.facts.update({
        "subjects": len(pos3), "actions": sum(len(a) for a in pos3.values()), "frames": frames,
        "cameras per subject": sorted({len(c) for c in cameras.values()}), "joints": n_joints,
        "layout": meta.get("layout_name"), "fps": meta.get("fps", "not stored"),
    })
    usable = {s: {a: p for a, p in acts.items() if a in pos2.get(s, {}) and len(pos2[s][a]) <= len(cameras.get(s, []))}
              for s, acts in pos3.items() if s in cameras and s in pos2}
    extra_facts, extra_problems = source_facts(folder, name, pos2, meta, _load_npz_dict)
    report.facts.update(extra_facts)
    report.problems += extra_problems
    try:
        report.reprojection = reprojection_errors(*comparable_to_3d(usable, pos2, meta), cameras)
    except Exception as exc:
        report.problems.append(f"reprojection failed ({type(exc).__name__}: {exc})")
    return report
