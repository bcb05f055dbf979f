"""MotionBERT's format: one pickle that its `lib/data/datareader_h36m.py:DataReaderH36M` reads unmodified,
and optionally the folder of 243-frame clip pickles that its `MotionDataset3D` trains from.

The file (../shared/docs/training-realism.md, section 1): {'train': split, 'test': split}, each split flat
per-frame arrays, every video (subject x action x camera) one contiguous run of rows:
  joint_2d (N, 17, 2) float32 pixels      confidence (N, 17) float32 in [0, 1]
  joint3d_image (N, 17, 3) float32: x, y the exact projection (pixels), z = (Z_joint - Z_root) * f / Z_root
  camera_name (N,) str, one of Human3.6M's four ids (the only names its reader knows)
  source (N,) str '<subject>/<action>_ca_NN' (a video id; the reader cuts clips where it changes)
  action (N,) str
  2.5d_factor (N,) float32 = Z_root / f, mm per pixel; joints_2.5d_image = joint3d_image * factor (mm)
The reader takes every image as 1000 px wide, so all pixel values (x, y, z, f) are rescaled by 1000 / res_w.
A non-square image keeps its aspect: y then spans [0, 1000 * res_h / res_w) (MotionBERT trains root-relative).
Camera names: a camera whose id is one of the four keeps it; otherwise camera k of a subject is named
after H36M camera k % 4 (the name only selects the reader's resolution, 1000 px wide for all four; the
camera index stays in `source`). Extra top-level key 'hpd3d': our facts (source, resolution, scale per video).

Only plain types are written (dicts, numpy arrays, str), and `read` loads with a restricted unpickler.
"""
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import HPD3DError, InputError
from ..layouts import H36M17
from ..projection import project, world_to_camera

NAME = "motionbert"
SUFFIXES = (".pkl",)
H36M_CAMERAS = ("54138969", "55011271", "58860488", "60457274")
READER_RESOLUTION = {"54138969": (1000, 1002), "55011271": (1000, 1000), "58860488": (1000, 1000),
                     "60457274": (1000, 1002)}  # what DataReaderH36M assumes for each name
READER_WIDTH = 1000
CLIP_LEN, TRAIN_STRIDE, TEST_STRIDE = 243, 81, 243  # tools/convert_h36m.py and configs/pose3d/*.yaml
ROOT = 0
TOLERANCE_PX = 0.01
SPLIT_KEYS = ("joint_2d", "confidence", "joint3d_image", "camera_name", "source", "action")
TEST_KEYS = ("2.5d_factor", "joints_2.5d_image")


@dataclass
class Export:
    """What `write` did: the splits' subjects, rows and videos, and notes for the user."""
    path: Path
    keypoints: str
    subjects: dict
    rows: dict
    videos: dict
    clips: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def summary(self):
        lines = [f"wrote {self.path} (MotionBERT, 2D from '{self.keypoints}')"]
        for split in ("train", "test"):
            clips = f", {self.clips[split]} clips of {CLIP_LEN} frames" if split in self.clips else ""
            lines.append(f"  {split}: subjects {','.join(self.subjects[split])}, {self.videos[split]} videos, "
                         f"{self.rows[split]} frames{clips}")
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def split_subjects(subjects, train=None, test=None):
    """(train, test) subject lists from the --train/--test lists; with neither, the last subject is test."""
    subjects = list(subjects)
    for given in (train or []) + (test or []):
        if given not in subjects:
            raise HPD3DError(f"subject '{given}' is not in the dataset (subjects: {', '.join(subjects)})")
    if train is None and test is None:
        if len(subjects) < 2:
            raise HPD3DError(f"one subject ({subjects[0]}): MotionBERT needs a train and a test split; "
                             f"pass --train {subjects[0]} --test {subjects[0]} to use it for both")
        return subjects[:-1], subjects[-1:]
    if train is None:
        train = [s for s in subjects if s not in test]
    if test is None:
        test = [s for s in subjects if s not in train]
    if not train or not test:
        raise HPD3DError(f"the {'train' if not train else 'test'} split is empty: name its subjects "
                         f"with --{'train' if not train else 'test'}")
    return list(train), list(test)


def default_keypoints(sources):
    """The detector's 2D when the dataset has it, else the exact gt."""
    return "detector" if "detector" in sources else "gt"


def camera_names(cameras):
    """MotionBERT camera names for one subject's cameras (see the module docstring)."""
    names = []
    for k, cam in enumerate(cameras):
        own = str(cam.id)
        names.append(own if own in H36M_CAMERAS and own not in names else H36M_CAMERAS[k % len(H36M_CAMERAS)])
    return names


def video_arrays(points_world, cam, pixels, confidence=None):
    """The MotionBERT rows of one video: 3D (F, J, 3) world metres through Camera `cam`, with its stored 2D
    `pixels` (F, J, 2) and confidence (F, J) or None. Returns a dict of the split keys (no strings)."""
    points = np.asarray(points_world, dtype=np.float64)
    scale = READER_WIDTH / cam.res_w
    cam_mm = world_to_camera(points, cam.rotation, cam.translation) * 1000.0
    z_root = cam_mm[:, ROOT, 2]
    if not np.all(z_root > 0):
        raise HPD3DError(f"the root joint is behind camera {cam.id} in {int(np.sum(z_root <= 0))} frames: "
                         "no 2.5D depth exists there")
    focal = float(cam.focal[0]) * scale
    ratio = focal / z_root  # pixels per mm at the root's depth
    px, _ = project(points, cam)
    image = np.empty(points.shape)
    image[..., :2] = px * scale
    image[..., 2] = (cam_mm[..., 2] - z_root[:, None]) * ratio[:, None]
    factor = 1.0 / ratio
    two_d = np.asarray(pixels, dtype=np.float64)[:len(points), :, :2] * scale
    conf = np.ones(two_d.shape[:2]) if confidence is None else np.asarray(confidence, dtype=np.float64)[:len(points)]
    missing = ~np.isfinite(two_d).all(axis=-1)
    if missing.any():  # a source's missing joints: MotionBERT wants finite input, so (0, 0) with confidence 0
        two_d[missing] = 0.0
        conf = np.where(missing, 0.0, conf)
    return {"joint_2d": two_d.astype(np.float32), "confidence": np.clip(conf, 0.0, 1.0).astype(np.float32),
            "joint3d_image": image.astype(np.float32), "2.5d_factor": factor.astype(np.float32),
            "joints_2.5d_image": (image * factor[:, None, None]).astype(np.float32)}


def _views(data, source, subject, action):
    """[(pixels (F, J, 2), confidence (F, J) or None)] per camera of one take, from keypoint `source`."""
    views = data.keypoints[source][subject][action]
    confs = data.confidence.get(source, {}).get(subject, {}).get(action)
    out = []
    for k, v in enumerate(views):
        v = np.asarray(v)
        conf = v[..., 2] if v.shape[-1] >= 3 else (None if confs is None else confs[k])
        out.append((v[..., :2], conf))
    return out


def _ordered_takes(data, subjects, clip_len):
    """(subject, action) of a split in stored order, except that a take of at least clip_len frames goes last
    when the last one is shorter: MotionBERT's split_clips drops the last video of a split if it is short."""
    takes = [(s, a) for s in subjects for a in data.positions_3d[s]]
    length = {t: len(data.positions_3d[t[0]][t[1]]) for t in takes}
    if takes and length[takes[-1]] < clip_len:
        longest = max(takes, key=lambda t: length[t])
        if length[longest] >= clip_len:
            takes.remove(longest)
            takes.append(longest)
    return takes


def build(data, keypoints=None, train=None, test=None, clip_len=CLIP_LEN):
    """(content dict for the pickle, Export facts) from PoseData."""
    if data.metadata.get("num_joints", 17) != 17 or data.metadata.get("layout_name", H36M17.name) != H36M17.name:
        raise HPD3DError(f"dataset '{data.name}' has the {data.metadata.get('layout_name')} layout: MotionBERT reads "
                         "Human3.6M's 17 joints only (generate with --layout h36m17)")
    keypoints = keypoints or default_keypoints(list(data.keypoints))
    if keypoints not in data.keypoints:
        raise HPD3DError(f"dataset '{data.name}' has no '{keypoints}' keypoints (sources: {', '.join(data.keypoints)})")
    splits = dict(zip(("train", "test"), split_subjects(list(data.positions_3d), train, test)))
    content, notes = {}, []
    meta = {"generator": f"hpd3d {__version__}", "dataset": data.name, "keypoints": keypoints, "videos": {}}
    rows, videos = {}, {}
    for split, subjects in splits.items():
        parts, strings, video_meta = [], {"camera_name": [], "source": [], "action": []}, []
        takes = _ordered_takes(data, subjects, clip_len)
        for subject, action in takes:
            points = data.positions_3d[subject][action]
            cams = data.cameras[subject]
            for k, (cam, name, (px, conf)) in enumerate(zip(cams, camera_names(cams),
                                                            _views(data, keypoints, subject, action))):
                try:
                    arrays = video_arrays(points, cam, px, conf)
                except HPD3DError as exc:
                    raise HPD3DError(f"{subject}/{action}: {exc}") from None
                n = len(arrays["joint_2d"])
                src = f"{subject}/{action}_ca_{k + 1:02d}"
                parts.append(arrays)
                strings["camera_name"].append([name] * n)
                strings["source"].append([src] * n)
                strings["action"].append([action] * n)
                video_meta.append({"source": src, "subject": subject, "action": action, "camera": k,
                                   "camera_id": str(cam.id), "res_w": int(cam.res_w), "res_h": int(cam.res_h),
                                   "scale": READER_WIDTH / cam.res_w, "frames": n})
                if split == "test" and n < clip_len:
                    notes.append(f"test video {src} has {n} < {clip_len} frames: MotionBERT resamples it at random "
                                 "(its evaluation may pair frames one apart); longer test takes avoid it")
        if len(takes) and len(data.positions_3d[takes[-1][0]][takes[-1][1]]) < clip_len:
            notes.append(f"every {split} take is shorter than {clip_len} frames: MotionBERT's split_clips drops "
                         f"the last one ({takes[-1][0]}/{takes[-1][1]})")
        keys = SPLIT_KEYS + (TEST_KEYS if split == "test" else ())
        content[split] = {k: (np.array([s for run in strings[k] for s in run], dtype=str) if k in strings
                              else np.concatenate([p[k] for p in parts])) for k in keys}
        meta["videos"][split] = video_meta
        rows[split], videos[split] = len(content[split]["source"]), len(video_meta)
    many = sorted({len(c) for s, c in data.cameras.items() if len(c) > len(H36M_CAMERAS)})
    if many:
        notes.append(f"{max(many)} cameras per subject: MotionBERT knows 4 camera names, so names repeat "
                     "(camera k is named after H36M camera k % 4; `source` keeps the camera index)")
    content["hpd3d"] = meta
    return content, Export(Path(), keypoints, splits, rows, videos, notes=notes)


def normalise(pixels, camera_name):
    """DataReaderH36M's screen normalisation of (N, J, 2 or 3) pixels (x, y [, z]) by camera name, with its
    arithmetic (float32 division and scaling, the offset subtracted in float64, stored as float32)."""
    values = np.asarray(pixels, dtype=np.float32)
    res = np.array([READER_RESOLUTION[str(n)] for n in camera_name], dtype=np.float64).reshape(-1, 1, 2)
    w, h = res[..., 0], res[..., 1]
    out = np.empty(values.shape, dtype=np.float32)
    scaled = values / w.astype(np.float32)[..., None] * np.float32(2)
    out[..., 0] = scaled[..., 0].astype(np.float64) - 1
    out[..., 1] = scaled[..., 1].astype(np.float64) - h / w
    if values.shape[-1] > 2:
        out[..., 2] = scaled[..., 2]
    return out


def denormalise(normalised, camera_name):
    """The inverse of `normalise` (DataReaderH36M.denormalize's formula), in float64."""
    out = np.asarray(normalised, dtype=np.float64).copy()
    res = np.array([READER_RESOLUTION[str(n)] for n in camera_name], dtype=np.float64).reshape(-1, 1, 2)
    w, h = res[..., 0], res[..., 1]
    out[..., 0] = (out[..., 0] + 1) * w / 2
    out[..., 1] = (out[..., 1] + h / w) * w / 2
    if out.shape[-1] > 2:
        out[..., 2] = out[..., 2] * w / 2
    return out


def clip_windows(lengths, clip_len, stride, rng):
    """Frame indices (clips, clip_len) into the split's rows, as MotionBERT's split_clips cuts them: windows of
    clip_len every `stride` frames inside each video (a longer video's tail is dropped), a video shorter than
    clip_len one clip of its frames resampled (each output frame floor or ceil of an even spacing, at random),
    and the last video dropped when it is shorter than clip_len."""
    clips, start = [], 0
    for k, n in enumerate(lengths):
        if n >= clip_len:
            for a in range(0, n - clip_len + 1, stride):
                clips.append(np.arange(start + a, start + a + clip_len))
        elif k < len(lengths) - 1 and n > 0:
            even = np.linspace(0, n, num=clip_len, endpoint=False)
            pick = np.where(rng.integers(0, 2, size=clip_len) == 1, np.floor(even), np.ceil(even))
            clips.append(start + np.clip(np.sort(pick), 0, n - 1).astype(np.int64))
        start += n
    return np.array(clips, dtype=np.int64).reshape(-1, clip_len)


def clip_files(content, clip_len=CLIP_LEN, seed=0):
    """{split: [{'data_input': (clip_len, 17, 3), 'data_label': (clip_len, 17, 3)}]}: the clips that
    tools/convert_h36m.py would save from this content (test clips every clip_len frames, train every 81)."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, stride in (("train", TRAIN_STRIDE), ("test", TEST_STRIDE)):
        s = content[split]
        names = s["camera_name"]
        two_d = np.concatenate([normalise(s["joint_2d"][..., :2], names), _confidence(s)[..., None]], axis=-1)
        label = normalise(s["joint3d_image"], names)
        lengths = [v["frames"] for v in content["hpd3d"]["videos"][split]]
        idx = clip_windows(lengths, clip_len, stride, rng)
        out[split] = [{"data_input": two_d[i], "data_label": label[i]} for i in idx]
    return out


def _confidence(split):
    c = split.get("confidence")
    if c is None:
        return np.ones(np.shape(split["joint_2d"])[:2], dtype=np.float32)
    c = np.asarray(c, dtype=np.float32)
    return c[..., 0] if c.ndim == 3 else c


class PickleContent:
    """A pickle that write_files streams into the output file (protocol 4: Python 3.4+, what MotionBERT runs)."""

    def __init__(self, value):
        self.value = value

    def write_to(self, fh):
        pickle.dump(self.value, fh, protocol=4)


def write(data, out, keypoints=None, train=None, test=None, clips=None, overwrite=False, clip_len=CLIP_LEN):
    """Write the MotionBERT file `out` (and with `clips`, the clip folder DIR/train, DIR/test) from PoseData."""
    from ..writer import write_files
    out = Path(out)
    content, export = build(data, keypoints, train, test, clip_len)
    export.path = out
    write_files(out.parent if str(out.parent) else ".", {out.name: PickleContent(content)}, overwrite=overwrite,
                protect=(out.name,))
    if clips:
        for split, items in clip_files(content, clip_len).items():
            folder = Path(clips) / split
            old = sorted(p.name for p in folder.glob("*.pkl")) if folder.is_dir() else []
            files = {f"{i:08d}.pkl": PickleContent(c) for i, c in enumerate(items)}
            write_files(folder, files, overwrite=overwrite, protect=("*.pkl",), stale=old)
            export.clips[split] = len(items)
    return export


def read(path):
    """The content of a MotionBERT file, read with the restricted unpickler (plain types only)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        content = _load_plain(path)
    except HPD3DError:
        raise
    except Exception as exc:
        raise InputError(path, f"not a readable MotionBERT file ({type(exc).__name__}: {exc})") from None
    if not isinstance(content, dict) or not all(isinstance(content.get(s), dict) for s in ("train", "test")):
        raise InputError(path, "not a MotionBERT file: expected a dict with 'train' and 'test' splits")
    return content


def pixels(content, split):
    """The split's 2D and joint3d_image x, y in each video's own image pixels (the 1000 / res_w rescale undone),
    through the reader's normalisation and back. Returns (two_d (N, 17, 2), projected (N, 17, 2))."""
    s = content[split]
    names = s["camera_name"]
    scale = _row_scale(content, split, len(names))
    two_d = denormalise(normalise(s["joint_2d"][..., :2], names), names) / scale
    proj = denormalise(normalise(s["joint3d_image"], names), names)[..., :2] / scale
    return two_d, proj


def _row_scale(content, split, n):
    videos = content.get("hpd3d", {}).get("videos", {}).get(split)
    if not videos:
        return np.ones((n, 1, 1))
    return np.repeat([v["scale"] for v in videos], [v["frames"] for v in videos]).reshape(-1, 1, 1)


def check_file(path):
    """Validate a MotionBERT file: keys, shapes, finiteness, names, contiguous sources, the 2.5D factor, and
    (for exact 2D) that its 2D is the projection its joint3d_image holds, after undoing the normalisation."""
    from ..check import CheckReport
    path = Path(path)
    report = CheckReport(path, name=path.name)
    try:
        content = read(path)
    except HPD3DError as exc:
        report.problems.append(str(exc))
        return report
    keypoints = content.get("hpd3d", {}).get("keypoints", "gt")
    worst = (-1.0, None)
    total, count = 0.0, 0
    for split in ("train", "test"):
        problems = _check_split(content[split], split)
        report.problems += problems
        if problems:
            continue
        s = content[split]
        n = len(s["source"])
        sources = _runs(s["source"])
        report.facts[split] = (f"{n} frames, {len(sources)} videos, actions {len(set(map(str, s['action'])))}, "
                               f"cameras {sorted(set(map(str, s['camera_name'])))}")
        short = [f"{v} ({c})" for v, c in sources if c < CLIP_LEN]
        if short:
            report.facts[f"{split} videos under {CLIP_LEN} frames (resampled; the last one of a split dropped)"] = \
                ", ".join(short[:5]) + (" ..." if len(short) > 5 else "")
        two_d, proj = pixels(content, split)
        err = np.sqrt(((two_d - proj) ** 2).sum(axis=-1))
        if err.size:
            k = int(np.argmax(err))
            row, joint = divmod(k, err.shape[1])
            total, count = total + float(err.sum()), count + err.size
            if err.flat[k] > worst[0]:
                worst = (float(err.flat[k]), f"{split} row {row} ({s['source'][row]}) joint {joint}")
    report.facts["keypoints"] = keypoints
    if count:
        exact = keypoints == "gt"
        report.reprojection = {"max_error_px": worst[0], "mean_error_px": total / count,
                               "worst": worst[1] if worst[0] > 0 else None,
                               "tolerance_px": TOLERANCE_PX if exact else "none (not exact 2D)",
                               "passed": (worst[0] <= TOLERANCE_PX) if exact else True}
        if not exact:
            report.facts["2D vs projection"] = f"differs by design ('{keypoints}' keypoints are not the exact projection)"
        elif worst[0] > TOLERANCE_PX:
            report.problems.append(f"2D differs from the projection by up to {worst[0]:.4g} px (tolerance {TOLERANCE_PX})")
    return report


def _runs(values):
    """[(value, run length)] of consecutive equal values."""
    values = np.asarray(values)
    if not len(values):
        return []
    cut = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [len(values)]])
    return [(str(values[a]), int(b - a)) for a, b in zip(starts, ends)]


def _check_split(s, split):
    """Problems of one split (empty when it is usable)."""
    keys = ("joint_2d", "joint3d_image", "camera_name", "source", "action") + (TEST_KEYS if split == "test" else ())
    missing = [k for k in keys if k not in s]
    if missing:
        return [f"{split}: missing {', '.join(missing)}"]
    n = len(s["source"])
    problems = []
    if not n:
        return [f"{split}: no frames"]
    shapes = {"joint_2d": (n, 17, None), "joint3d_image": (n, 17, 3), "2.5d_factor": (n,),
              "joints_2.5d_image": (n, 17, 3), "confidence": None}
    for k, want in shapes.items():
        if k not in s:
            continue
        a = np.asarray(s[k])
        if k == "confidence":
            ok = a.shape in ((n, 17), (n, 17, 1))
            want_text = f"({n}, 17) or ({n}, 17, 1)"
        else:
            ok = a.ndim == len(want) and all(w is None or d == w for d, w in zip(a.shape, want))
            want_text = str(want).replace("None", "2+")
            ok = ok and (k != "joint_2d" or a.shape[2] >= 2)
        if not ok:
            problems.append(f"{split}: {k} has shape {a.shape}, expected {want_text}")
            continue
        if not np.issubdtype(a.dtype, np.number):
            problems.append(f"{split}: {k} is not numeric ({a.dtype})")
        elif not np.isfinite(a).all():
            problems.append(f"{split}: {k} has {int((~np.isfinite(a)).sum())} non-finite values")
        elif k == "confidence" and (a.min() < 0 or a.max() > 1):
            problems.append(f"{split}: confidence outside [0, 1]")
    for k in ("camera_name", "action"):
        if len(s[k]) != n:
            problems.append(f"{split}: {k} has {len(s[k])} entries for {n} frames")
    bad = sorted({str(c) for c in s["camera_name"]} - set(H36M_CAMERAS))
    if bad:
        problems.append(f"{split}: camera names {', '.join(bad[:4])} are not Human3.6M's (the reader stops on them)")
    runs = _runs(s["source"])
    if len(runs) != len({v for v, _ in runs}):
        problems.append(f"{split}: a video's rows are not contiguous (source repeats after another)")
    if not problems and split == "test":
        factor = np.asarray(s["2.5d_factor"], dtype=np.float64)
        if (factor <= 0).any():
            problems.append("test: 2.5d_factor must be > 0")
        else:
            expect = np.asarray(s["joint3d_image"], dtype=np.float64) * factor[:, None, None]
            gap = float(np.abs(expect - np.asarray(s["joints_2.5d_image"], dtype=np.float64)).max())
            if gap > 0.01 + 1e-6 * float(np.abs(expect).max()):
                problems.append(f"test: joints_2.5d_image differs from joint3d_image * 2.5d_factor by {gap:.3g} mm")
    return problems


def _load_plain(path):
    """The pickle at `path` through core/safe_pickle's restricted unpickler (plain types and numpy arrays only)."""
    from ..safe_pickle import load_pickle
    with open(path, "rb") as fh:
        return load_pickle(fh)


EXPORT_HELP = "one .pkl that MotionBERT's DataReaderH36M reads (and with --clips its 243-frame clip folder)"


def _subjects(text):
    return [s for s in text.split(",") if s] if text else None


def add_export_arguments(p):
    """The options of `hpd3d export motionbert` (argparse parser `p`; the dataset folder is positional)."""
    p.add_argument("--out", required=True, help="output file, e.g. data/motion3d/blender.pkl")
    p.add_argument("--train", type=_subjects, default=None, help="train subjects, e.g. S1,S2 (default: all but --test)")
    p.add_argument("--test", type=_subjects, default=None,
                   help="test subjects, e.g. S3 (default: the last subject, or all but --train)")
    p.add_argument("--clips", default="", help="also write the clip folder MotionDataset3D reads: DIR/train, DIR/test "
                                               "(DIR = data/motion3d/MB3D_f243s81/<SUBSET>)")


def export_options(args):
    return {"out": args.out, "train": args.train, "test": args.test, "clips": args.clips or None,
            "overwrite": args.overwrite}
