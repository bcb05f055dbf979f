"""From sequences to a VideoPose3D dataset: joint mapping, per-subject camera rigs, projection, files.

`DatasetBuilder` takes sequences one at a time (so the Blender layer can run it step by step and cancel
without writing anything), then `finish()` builds the rigs, projects and writes every file atomically.
"""
import platform
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from . import __version__
from .errors import HPD3DError, InputError, MappingError, one_line
from .layouts import (H36M17, coco_to_h36m, face_normals, face_points, h36m_to_coco, layout_2d, rest_forward,
                      source_layout)
from .projection import project
from .limits import check_options
from .long_take import is_long, load_long
from .noise import detect, parse_noise, view_seed
from .occlusion import body_capsules, occlusion_masks
from .npz_stream import Items, Lazy, StreamedNpz
from .rigs import RigSettings, build_rig
from .sequence import sequence_from_bvh
from .stream import Views, stored_3d
from .skeleton_presets import load_mapping_file, resolve
from .commit import new_run_id
from .writer import copy_loader_bytes, literal_text, lock_output, refuse_existing, write_files


@dataclass
class GenerateOptions:
    """Everything `generate` needs; defaults are the CLI's defaults."""
    out: str = "hpd3d_dataset"
    name: str = "blender"
    layout: str = "h36m17"
    end_sites: bool = False
    preset: str = "auto"
    mapping: str = ""
    scale: object = "auto"
    fps: object = None
    rig: RigSettings = field(default_factory=RigSettings)
    subject: str = ""
    strict: bool = False
    overwrite: bool = False
    preview: bool = False
    keypoints: tuple = ("gt",)   # 2D keypoint sources: gt, detector
    noise: str = "cpn"           # detector model: a name, gauss:SIGMA_PX or FILE.json (core/noise.py)
    noise_seed: object = None    # None: the rig's seed
    layout_2d: str = "h36m17"    # 2D keypoint layout: h36m17 or coco17 (core/layouts.py)
    occlusion: bool = False      # write 'occluded' with gt only too (always with a detector source)
    shard: str = ""  # 'K/N': only the subjects of that shard (core/discovery.shard_takes); hpd3d merge joins them

    def mapping_dict(self):
        return load_mapping_file(self.mapping) if self.mapping else None


@dataclass
class MappedTake:
    """A take reduced to what the dataset needs: output joints in world metres, and its facts."""
    subject: str
    action: str
    source: str
    joints: np.ndarray
    joint_names: list
    parents: list
    joints_left: list
    joints_right: list
    layout_name: str
    fps: float
    info: dict
    face: np.ndarray = None  # (F, 5, 3) nose, eyes, ears (world metres) for --layout-2d coco17


@dataclass
class Failure:
    source: str
    error: str


@dataclass
class Result:
    out_dir: Path
    files: list
    takes: list
    failures: list
    cameras: dict
    check: dict
    seconds: float
    notes: list = field(default_factory=list)

    @property
    def frames(self):
        return sum(t.joints.shape[0] for t in self.takes)

    @property
    def camera_frames(self):
        return sum(t.joints.shape[0] * len(self.cameras[t.subject]) for t in self.takes)

    def summary(self):
        cams = sorted({len(c) for c in self.cameras.values()})
        lines = list(self.notes) + [
            f"wrote {len(self.takes)} sequences ({len(self.cameras)} subjects, {self.frames} frames, "
            f"{'/'.join(map(str, cams))} cameras each) to {self.out_dir}",
            f"reprojection check: max {self.check['max_error_px']:.2e} px, mean {self.check['mean_error_px']:.2e} px"
            f" -> {'PASS' if self.check['passed'] else 'FAIL'}",
        ]
        rates = sorted({round(t.fps, 3) for t in self.takes})
        if len(rates) > 1:
            lines.append(f"note: actions have different frame rates ({', '.join(f'{r:g}' for r in rates)} fps); "
                         "metadata fps is the most common one; use --fps to resample all to one rate")
        if self.failures:
            lines.append(f"{len(self.failures)} file(s) skipped:")
            lines += [f"  {f.error}" for f in self.failures]
        return "\n".join(lines)


def map_sequence(seq, options, mapping=None):
    """Reduce a Sequence to a MappedTake in the requested layout."""
    if options.layout == "source":
        keep = [i for i in range(len(seq.names)) if options.end_sites or not seq.is_end_site[i]]
        index = {old: new for new, old in enumerate(keep)}
        names = [seq.names[i] for i in keep]
        parents = [index.get(seq.parents[i], -1) for i in keep]
        layout = source_layout(names, parents)
        joints = seq.positions[:, keep]
        preset = "source"
    elif options.layout == "h36m17":
        jm = resolve(seq, preset=options.preset, mapping=mapping, source=seq.source)
        joints = jm.apply(seq)
        layout = H36M17
        preset = jm.preset
    else:
        raise HPD3DError(f"unknown layout '{options.layout}': use h36m17 or source")
    face = None
    if wants_face(options):
        if options.layout != "h36m17":
            raise HPD3DError("--layout-2d coco17 needs --layout h36m17 (the face points come from its head)")
        head = int(np.argmax(jm.weights[H36M17.joint_names.index("Neck/Nose")]))
        face = face_points(joints, seq.rotations[:, head], rest_forward(seq.rest_offsets, seq.parents, jm.weights))
    info = dict(seq.info, frames=int(joints.shape[0]), fps=seq.fps, scale=seq.scale, unit=seq.unit,
                height_m=round(float(seq.height), 4), skeleton_preset=preset)
    return MappedTake(seq.subject, seq.action, seq.source, joints, list(layout.joint_names), list(layout.parents),
                      list(layout.joints_left), list(layout.joints_right), layout.name, seq.fps, info, face)


def wants_face(options):
    """Whether the take's face points are needed: COCO-17 2D, or a detector that sees COCO-17 keypoints."""
    return options.layout_2d == "coco17" or ("detector" in keypoint_sources(options) and options.layout == "h36m17"
                                             and parse_noise(options.noise).detector_layout == "coco17")


def load_take(take, options, mapping=None):
    """Read, kinematise and map one BVH take (runs in worker processes too); a file too long to hold whole
    window by window (core/long_take.py)."""
    if options.layout == "h36m17" and is_long(take.path):
        loaded = load_long(take.path, take.subject, take.action, options, mapping, face=wants_face(options))
        if loaded is not None:
            joints, face, info, _ = loaded
            layout = H36M17
            return MappedTake(take.subject, take.action, str(take.path), joints, list(layout.joint_names),
                              list(layout.parents), list(layout.joints_left), list(layout.joints_right), layout.name,
                              info["fps"], info, face)
    seq = sequence_from_bvh(take.path, take.subject, take.action, scale=options.scale, fps=options.fps)
    return map_sequence(seq, options, mapping)


def load_take_safe(take, options, mapping=None):
    """load_take, with user errors returned as a Failure instead of raised (for batches)."""
    try:
        return load_take(take, options, mapping)
    except (InputError, MappingError) as exc:
        msg, where = str(exc), one_line(take.path)  # str(exc) is one line: compare with the name as it shows
        return Failure(str(take.path), msg if msg.startswith(where) else f"{where}: {msg}")


class DatasetBuilder:
    """Collects mapped takes, then writes the dataset."""

    def __init__(self, options):
        check_options(options)  # every option within its documented range (core/limits.py), for CLI and add-on
        self.options = options
        self.takes = []
        self.failures = []
        self.started = time.perf_counter()

    def add(self, item):
        """Add a MappedTake or a Failure (a Failure stops everything in strict mode)."""
        if isinstance(item, Failure):
            if self.options.strict:
                raise HPD3DError(f"{item.error} (--strict: nothing written)")
            self.failures.append(item)
        else:
            self.takes.append(item)

    def finish(self, extra_manifest=None):
        """The pipeline's last stages over the collected takes: rig -> project -> realise -> write.
        Returns a Result."""
        opts = self.options
        by_subject = self._subjects()
        cameras = {s: build_rig(opts.rig, _subject_points(takes), s) for s, takes in by_subject.items()}
        noise = parse_noise(opts.noise), opts.rig.seed if opts.noise_seed is None else opts.noise_seed
        views = project_and_realise(by_subject, cameras, opts, *noise)
        try:
            metadata = dataset_metadata(self.takes, new_run_id())
            manifest = dataset_manifest(opts, self.takes, self.failures, cameras, metadata, noise, extra_manifest)
            files = dataset_files(opts, by_subject, cameras, metadata, manifest, views, noise[0])
            notes = []
            written = write_files(opts.out, files, overwrite=opts.overwrite,
                                  stale=(f"preview_{opts.name}.png", f"data_2d_{opts.name}_detector.npz"),
                                  manifest=manifest, notes=notes)
        finally:
            views.close()
        return Result(Path(opts.out), written, self.takes, self.failures, cameras, manifest["reprojection_check"],
                      time.perf_counter() - self.started, notes)

    def _subjects(self):
        """The takes by subject, after checking they share one joint layout ({subject: [MappedTake]})."""
        if not self.takes:
            detail = "; ".join(f.error for f in self.failures) if self.failures else "no input"
            raise HPD3DError(f"no sequence could be converted, nothing written ({detail})")
        first = self.takes[0]
        for t in self.takes[1:]:
            if t.joint_names != first.joint_names:
                raise HPD3DError(f"{t.source}: its joints ({len(t.joint_names)}) differ from {first.source}'s "
                                 f"({len(first.joint_names)}); a dataset needs one joint layout")
        if self.options.rig.camera_per == "take":
            self.takes = cameras_per_take(self.takes)
        by_subject = {}
        for t in self.takes:
            by_subject.setdefault(t.subject, []).append(t)
        return by_subject


def project_and_realise(by_subject, cameras, opts, model, seed):
    """The project and realise stages, streamed (core/stream.py): each block of takes is projected while
    data_2d_NAME_gt.npz is written; visibility, occlusion and detector keypoints wait in a temporary file."""
    def realise_take(t, points, cams, gt_views, vis_views):
        return realise(t, points, cams, gt_views, vis_views, opts, model, seed)
    return Views(by_subject, cameras, lambda t, stored: keypoint_points(t, stored, opts), realise_take,
                 realises=realises(opts))


def dataset_metadata(takes, run_id):
    """The dataset's metadata: the 3D file's without 'visibility', the 2D files' (metadata_for_2d) with the
    visibility masks streamed in at that key."""
    first = takes[0]
    fps = Counter(round(t.fps, 6) for t in takes).most_common(1)[0][0]
    return {
        "layout_name": first.layout_name,
        "num_joints": len(first.joint_names),
        "keypoints_symmetry": [first.joints_left, first.joints_right],
        "joint_names": first.joint_names,
        "parents": first.parents,
        "fps": fps,
        "fps_per_action": {t.subject + "/" + t.action: t.fps for t in takes},
        "visibility": None,
        "generator": f"hpd3d {__version__}",
        "run_id": run_id,
    }


def dataset_manifest(opts, takes, failures, cameras, metadata, noise, extra_manifest):
    """manifest.json's content; the reprojection check is filled in once data_2d_NAME_gt.npz is written."""
    model, seed = noise
    by_subject = {}
    for t in takes:
        by_subject.setdefault(t.subject, []).append(t.action)
    return {
        "run_id": metadata["run_id"],
        "generator": {"name": "hpd3d", "version": __version__, "python": platform.python_version(),
                      "numpy": np.__version__, "platform": platform.platform(), **(extra_manifest or {})},
        "command": sys.argv if extra_manifest is None else None,
        "settings": _settings_dict(opts),
        "subjects": by_subject,
        "cameras_per_subject": {s: len(c) for s, c in cameras.items()},
        "files": [dict(subject=t.subject, action=t.action, source=t.source, **t.info) for t in takes],
        "failures": [asdict(f) for f in failures],
        "reprojection_check": None,
        "keypoints": {"sources": keypoint_sources(opts), "layout_2d": metadata_for_2d(metadata, opts)["layout_2d"],
                      "noise_model": model.describe(), "noise_seed": seed},
    }


def dataset_files(opts, by_subject, cameras, metadata, manifest, views, model):
    """{file name: content} of the dataset folder (the manifest is written last by write_files)."""
    name = opts.name
    metadata_2d = metadata_for_2d(metadata, opts)
    intrinsics, extrinsics = camera_tables(cameras)
    positions_3d = Items((s, Items((t.action, Lazy(lambda t=t: stored_3d(t))) for t in takes))
                         for s, takes in by_subject.items())

    def checked():
        # The reprojection check: the stored 3D through the exported cameras against the stored 2D. Projecting
        # the stored 3D again would repeat the projection bit for bit, so its errors were taken there, while
        # data_2d_NAME_gt.npz was written.
        manifest["reprojection_check"] = views.check()

    def spilled(key):
        return lambda: views.spilled(key)

    def meta_2d(**extra):
        return lambda: dict(metadata_2d, visibility=views.spilled("visibility"), **extra)

    occluded = [("occluded", spilled("occluded"), True)] if realises(opts) else []
    files = {
        f"data_3d_{name}.npz": StreamedNpz(
            ("positions_3d", lambda: positions_3d, False),
            ("cameras", lambda: {"intrinsics": intrinsics, "extrinsics": extrinsics}, True),
            ("metadata", lambda: {k: v for k, v in metadata.items() if k != "visibility"}, True)),
        f"data_2d_{name}_gt.npz": StreamedNpz(
            ("positions_2d", views.positions_2d, False), ("metadata", meta_2d(), True),
            ("visibility", spilled("visibility"), True), *occluded, then=checked),
        "camera_intrinsics.txt": literal_text(intrinsics).encode(),
        "camera_extrinsics.txt": literal_text(extrinsics).encode(),
        "blender_dataset.py": copy_loader_bytes(),
    }
    if "detector" in keypoint_sources(opts):
        files[f"data_2d_{name}_detector.npz"] = StreamedNpz(
            ("positions_2d", spilled("detector"), False),
            ("metadata", meta_2d(keypoints="detector", noise_model=model.name), True),
            ("visibility", spilled("visibility"), True), *occluded, ("confidence", spilled("confidence"), True))
    if opts.preview:
        from .preview import contact_sheet_png
        left, right = metadata_2d["keypoints_symmetry"]
        gt, realised = views.first_take()
        files[f"preview_{name}.png"] = contact_sheet_png(gt, cameras, metadata_2d["parents"], left, right,
                                                         detector=realised.get("detector"),
                                                         occluded=realised.get("occluded"))
    return files


def _subject_points(takes):
    """A subject's joints as one (N, 3) array for rig fitting (no copy for a single take)."""
    if len(takes) == 1:
        return takes[0].joints.reshape(-1, 3)
    return np.concatenate([t.joints.reshape(-1, 3) for t in takes])


def cameras_per_take(takes):
    """--camera-per take: each take becomes its own subject 'SUBJECT/ACTION', so it gets its own rig (and,
    for random rigs, its own seed); the VideoPose3D format keeps cameras per subject."""
    return [replace(t, subject=f"{t.subject}/{t.action}") for t in takes]


KEYPOINT_SOURCES = ("gt", "detector")


def keypoint_sources(opts):
    """The 2D files to write: gt always (the exact reference), then the others asked for."""
    asked = [k.strip() for k in opts.keypoints if k.strip()]
    unknown = [k for k in asked if k not in KEYPOINT_SOURCES]
    if unknown:
        raise HPD3DError(f"unknown --keypoints source '{unknown[0]}': use {','.join(KEYPOINT_SOURCES)}")
    return ["gt"] + [k for k in KEYPOINT_SOURCES[1:] if k in asked]


def keypoint_points(take, stored3d, opts):
    """The 3D points whose projections are the 2D keypoints: the stored joints, or COCO-17 points (the
    stored joints for the body, the take's face points)."""
    if opts.layout_2d == "coco17":
        return h36m_to_coco(stored3d, take.face.astype(np.float32))
    return stored3d


def realises(opts):
    """Whether the realise stage makes anything (occlusion costs ~20k camera-frames/s per core: not in a
    plain gt run)."""
    return opts.occlusion or keypoint_sources(opts) != ["gt"]


def realise(take, points, cams, gt_views, vis_views, opts, model, seed):
    """The realise stage for one take: self-occlusion of its 2D points (F, P, 3) from every camera, and the
    detector keypoints and confidences when asked for. Returns {'occluded', ['detector', 'confidence']}, or {}
    when neither is asked for (occlusion costs ~20k camera-frames/s per core: not in a plain run)."""
    sources = keypoint_sources(opts)
    if not realises(opts):
        return {}
    capsules = body_capsules(take.joints, take.joint_names, take.parents)
    names = layout_2d(opts.layout_2d).joint_names if opts.layout_2d == "coco17" else take.joint_names
    normals = None
    if opts.layout_2d == "coco17":
        normals = np.zeros_like(points)
        normals[:, :5] = face_normals(take.joints, points[:, :5])
    occluded = occlusion_masks(points, capsules, cams, normals, capsules.ignored_for(names))
    out = {"occluded": occluded}
    if "detector" in sources and model.detector_layout == "coco17" and opts.layout_2d == "h36m17":
        out["detector"], out["confidence"] = coco_detector(take, points, cams, opts, model, seed)
    elif "detector" in sources:
        seeds = [view_seed(seed, take.subject, take.action, i) for i in range(len(cams))]
        det, conf = detect(np.stack(gt_views), np.stack(vis_views), np.stack(occluded), names, take.fps, model, seeds)
        out["detector"], out["confidence"] = list(det), list(conf)
    return out


def coco_detector(take, points, cams, opts, model, seed):
    """Detector keypoints and confidences in Human3.6M-17 from a detector of COCO-17 keypoints: what the
    --layout-2d coco17 run's detector file holds (the same projection, occlusion and seeds), through
    layouts.coco_to_h36m (MotionBERT's coco2h36m) like the in-the-wild pipelines that feed a lifter."""
    coco_opts = replace(opts, layout_2d="coco17")
    coco_points = keypoint_points(take, points.astype(np.float32), coco_opts).astype(np.float64)
    views = [project(coco_points, c) for c in cams]
    gt, vis = [p.astype(np.float32) for p, _ in views], [v for _, v in views]
    coco = realise(take, coco_points, cams, gt, vis, coco_opts, replace(model, detector_layout="h36m17"), seed)
    det = [coco_to_h36m(d).astype(np.float32) for d in coco["detector"]]
    conf = [coco_to_h36m(c[..., None])[..., 0].astype(np.float32) for c in coco["confidence"]]
    return det, conf


def metadata_for_2d(metadata, opts):
    """The 2D files' metadata: the 3D file's, with the 2D layout's names, symmetry and joint count."""
    meta = dict(metadata, layout_2d=opts.layout_2d if opts.layout == "h36m17" else metadata["layout_name"])
    if opts.layout_2d == "coco17":
        lay = layout_2d("coco17")
        meta.update(num_joints=lay.num_joints, keypoints_symmetry=lay.keypoints_symmetry,
                    joint_names=list(lay.joint_names), parents=list(lay.parents))
    return meta


def camera_tables(cameras):
    """(intrinsics list, extrinsics dict) as written to camera_*.txt.

    The intrinsics list holds one entry per camera index (from the first subject); a subject whose camera
    differs from that entry (random rigs) carries its own intrinsics inside its extrinsic entries.
    """
    subjects = list(cameras)
    longest = max(subjects, key=lambda s: len(cameras[s]))
    intrinsics = [c.intrinsics_dict() for c in cameras[longest]]
    extrinsics = {}
    for s in subjects:
        entries = []
        for i, cam in enumerate(cameras[s]):
            e = cam.extrinsics_dict()
            own = cam.intrinsics_dict()
            if own != intrinsics[i]:
                e.update(own)
            entries.append(e)
        extrinsics[s] = entries
    return intrinsics, extrinsics


def _settings_dict(opts):
    d = asdict(opts)
    rig = d.pop("rig")
    rig.pop("json_cameras", None)
    rig.pop("distribution", None)
    if opts.rig.kind != "random":
        rig.pop("camera_dist", None)
    else:
        rig["camera_distribution"] = opts.rig.distribution.to_json() if opts.rig.distribution else None
    d["rig"] = dict(rig, spec=opts.rig.describe())
    return d


def generate(inputs, options, workers=1, progress=None, notify=None):
    """Run the whole pipeline on BVH files/folders. `progress(iterable, total)` wraps the file loop;
    `notify(line)` hears at once of an interrupted write repaired in the output folder.

    The output folder's lock is taken first, and an existing dataset refused without --overwrite, before
    any input is read: a second run into the folder, or a run that would be refused, fails at once."""
    lock, note = lock_output(options.out)
    try:
        if note and notify:
            notify(note)
        refuse_existing(options.out, options.name, options.overwrite)
        result = _generate(inputs, options, workers, progress)
        if note and not notify:
            result.notes.insert(0, note)
        return result
    finally:
        lock.release()


def _ignore_sigint():
    """Workers leave Ctrl-C to the main process (which stops them): no traceback from each of them."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _generate(inputs, options, workers, progress):
    from .discovery import discover, shard_takes
    builder = DatasetBuilder(options)
    takes = shard_takes(discover(inputs, options.subject or None), options.shard)
    mapping = options.mapping_dict()
    wrap = progress or (lambda it, total: it)
    if workers and workers > 1 and len(takes) > 1:
        from concurrent.futures import ProcessPoolExecutor
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)
        try:
            results = pool.map(load_take_safe, takes, [options] * len(takes), [mapping] * len(takes),
                               chunksize=max(1, len(takes) // (workers * 8)))
            for item in wrap(results, len(takes)):
                builder.add(item)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        for take in wrap(takes, len(takes)):
            builder.add(load_take_safe(take, options, mapping))
    return builder.finish()
