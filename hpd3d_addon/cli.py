"""Command line: `hpd3d generate|check|export|presets|rigs` (also `python -m hpd3d_addon`).

Ctrl-C (SIGINT) and SIGTERM end a run with one line and exit 130 (143 for SIGTERM). The program starts
in entry.py, which catches them while this module and numpy are imported.
"""
import argparse
import json
import signal
import sys

from .core import __version__, formats
from .core import camera_sampling
from .core.commit import COMMITTED, recover
from .core.folder_lock import FolderLock
from .core.dataset import GenerateOptions, generate
from .core.errors import HPD3DError, OutputError
from .core.limits import UsageError
from .core.rigs import parse_rig
from .core.skeleton_presets import PRESETS

EXPORT_FORMATS = ("motionbert",)  # formats `hpd3d export` writes (modules of core/formats)


def _positive(kind):
    def parse(value):
        v = kind(value)
        if v <= 0:
            raise argparse.ArgumentTypeError("must be > 0")
        return v
    return parse


def _auto_or_positive(kind, hint):
    """argparse type: 'auto', or a `kind` value > 0 (`hint` says what a value is)."""
    positive = _positive(kind)

    def parse(value):
        if value == "auto":
            return value
        try:
            return positive(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"use 'auto' or {hint}") from None
    return parse


_scale = _auto_or_positive(float, "a number (metres per BVH unit)")
_workers = _auto_or_positive(int, "a whole number of processes")  # 'auto': the cores available to this process


def resolve_workers(value):
    from .core.parallel import available_cores
    return available_cores() if value == "auto" else value


def build_parser():
    p = argparse.ArgumentParser(prog="hpd3d", description="BVH motion capture -> VideoPose3D training data.")
    p.add_argument("--version", action="version", version=f"hpd3d {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write a dataset from BVH files or folders")
    g.add_argument("inputs", nargs="+", help="BVH files, folders of BVH files, or folders of subject folders")
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--name", default="blender", help="dataset name: data_3d_NAME.npz (default: blender)")
    g.add_argument("--layout", choices=("h36m17", "source"), default="h36m17",
                   help="h36m17: Human3.6M's 17 joints (default); source: every BVH joint")
    g.add_argument("--end-sites", action="store_true", help="with --layout source: keep End Sites too")
    g.add_argument("--preset", default="auto", choices=("auto",) + tuple(PRESETS),
                   help="skeleton preset (default: auto-detect); see `hpd3d presets`")
    g.add_argument("--mapping", default="", help="JSON file mapping Human3.6M joints to your joint names")
    g.add_argument("--scale", type=_scale, default="auto", help="metres per BVH unit, or auto (default)")
    g.add_argument("--fps", type=_positive(float), default=None, help="resample to this frame rate")
    g.add_argument("--rig", default="h36m",
                   help="h36m (default), ring:N, dome:N@ELEV,..., random:N, or FILE.json")
    g.add_argument("--distance", type=_positive(float), default=5.0, help="camera distance in metres (default 5)")
    g.add_argument("--height", type=float, default=1.6, help="camera height in metres for h36m/ring (default 1.6)")
    g.add_argument("--focal", type=_positive(float), default=1145.0, help="focal length in pixels (default 1145)")
    g.add_argument("--resolution", default="1000x1000", help="image size WxH in pixels (default 1000x1000)")
    g.add_argument("--no-fit", action="store_true", help="keep cameras where placed (default: fit to the motion)")
    g.add_argument("--margin", type=float, default=20.0, help="fit margin in pixels (default 20)")
    g.add_argument("--distortion", default="none", help="none (default), h36m, or k1,k2,k3,p1,p2")
    g.add_argument("--seed", type=int, default=0, help="seed of random rigs (default 0)")
    g.add_argument("--camera-dist", default="default", metavar="NAME|FILE.json",
                   help="camera distribution of random:N rigs: default, h36m-like, wham, wide, or a JSON file "
                        "(see `hpd3d rigs`)")
    g.add_argument("--camera-per", choices=("subject", "take"), default="subject",
                   help="one rig per subject (default), or per take: each take becomes subject SUBJECT/ACTION")
    g.add_argument("--subject", default="", help="use this subject name for every input")
    g.add_argument("--workers", type=_workers, default="auto",
                   help="parallel processes: auto (default: the cores available) or N; the output is the same")
    g.add_argument("--shard", default="", metavar="K/N",
                   help="only the K-th of N parts of the subjects (for a cluster; join them with `hpd3d merge`)")
    g.add_argument("--strict", action="store_true", help="stop at the first bad file and write nothing")
    g.add_argument("--overwrite", action="store_true", help="replace an existing dataset of that name")
    g.add_argument("--preview", action="store_true", help="also write preview_NAME.png (needs matplotlib)")
    g.add_argument("--keypoints", default="gt",
                   help="2D keypoint sources, comma-separated: gt (exact, always written), detector "
                        "(data_2d_NAME_detector.npz: detector-like noise, confidences); default gt")
    g.add_argument("--noise", default="cpn",
                   help="detector noise model: cpn (default, see README), coco (a COCO-17 detector through coco2h36m), "
                        "gauss:SIGMA_PX, or FILE.json")
    g.add_argument("--noise-seed", type=int, default=None, help="seed of the detector noise (default: --seed)")
    g.add_argument("--occlusion", action="store_true",
                   help="also write the self-occlusion mask 'occluded' in a gt-only run (always with detector)")
    g.add_argument("--layout-2d", choices=("h36m17", "coco17"), default="h36m17",
                   help="2D keypoint layout: h36m17 (default, as the 3D) or coco17 (COCO order, face points "
                        "from the head); the 3D stays Human3.6M-17")
    g.add_argument("--quiet", action="store_true", help="no progress bar")

    c = sub.add_parser("check", help="validate a dataset folder (shapes, counts, reprojection error)")
    c.add_argument("folder")
    c.add_argument("--name", default=None, help="dataset name when the folder holds several")
    c.add_argument("--repair", action="store_true",
                   help="first complete or undo a write that was interrupted (kill, power loss) in the folder")

    x = sub.add_parser("export", help="convert a dataset folder to another training format")
    fmt = x.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name in EXPORT_FORMATS:
        module = formats.get(name)
        f = fmt.add_parser(name, help=module.EXPORT_HELP)
        f.add_argument("folder", help="a dataset folder written by `hpd3d generate`")
        f.add_argument("--name", default=None, help="dataset name when the folder holds several")
        f.add_argument("--keypoints", default=None,
                       help="2D source: data_2d_NAME_<KEYPOINTS>.npz (default: detector if present, else gt)")
        f.add_argument("--overwrite", action="store_true", help="replace existing output")
        module.add_export_arguments(f)

    m = sub.add_parser("merge", help="join the folders of `generate --shard K/N` runs into one dataset")
    m.add_argument("shards", nargs="+", metavar="SHARD_DIR", help="the shard folders (all N of them)")
    m.add_argument("--out", required=True, help="output folder")
    m.add_argument("--name", default=None, help="dataset name when the folders hold several")
    m.add_argument("--overwrite", action="store_true", help="replace an existing dataset of that name")

    sub.add_parser("presets", help="list skeleton presets")
    r = sub.add_parser("rigs", help="list the camera distributions of random:N rigs (--camera-dist)")
    r.add_argument("--json", metavar="NAME", default=None, help="print this preset as a JSON file to edit")
    return p


def _progress(quiet):
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    # disable=None: no bar when stderr is not a terminal (pipes, logs, CI), so an error stays the one line there
    return lambda it, total: tqdm(it, total=total, unit="file", desc="reading", file=sys.stderr, disable=None)


def rigs_text(as_json=None):
    """`hpd3d rigs`: the camera distributions with their parameters, or one of them as JSON."""
    if as_json:
        return json.dumps(camera_sampling.resolve(as_json).to_json(), indent=2)
    blocks = ["Camera distributions of --rig random:N (--camera-dist NAME, or a JSON file like "
              "`hpd3d rigs --json NAME`)."
              " Angles in degrees, distance in metres, focal and principal-point offset in pixels."]
    blocks += ["\n".join(d.lines()) for d in camera_sampling.PRESETS.values()]
    return "\n\n".join(blocks)


def options_from_args(a):
    try:
        w, h = (int(v) for v in a.resolution.lower().split("x"))
    except ValueError:
        raise UsageError(f"invalid --resolution '{a.resolution}': use WxH, e.g. 1920x1080") from None
    rig = parse_rig(a.rig, distance=a.distance, height=a.height, focal=a.focal, res_w=w, res_h=h,
                    fit=not a.no_fit, margin=a.margin, seed=a.seed, distortion=a.distortion,
                    camera_dist=a.camera_dist, camera_per=a.camera_per)
    return GenerateOptions(out=a.out, name=a.name, layout=a.layout, end_sites=a.end_sites, preset=a.preset,
                           mapping=a.mapping, scale=a.scale, fps=a.fps, rig=rig, subject=a.subject,
                           strict=a.strict, overwrite=a.overwrite, preview=a.preview, shard=a.shard,
                           **_keypoint_settings(a))


def _keypoint_settings(a):
    """--keypoints, --noise, --noise-seed, --layout-2d, validated before any file is read."""
    from .core.dataset import keypoint_sources
    from .core.noise import parse_noise
    settings = dict(keypoints=tuple(a.keypoints.split(",")), noise=a.noise, noise_seed=a.noise_seed,
                    layout_2d=a.layout_2d, occlusion=a.occlusion)
    keypoint_sources(GenerateOptions(**settings))
    parse_noise(a.noise)
    if a.layout_2d == "coco17" and a.layout != "h36m17":
        raise HPD3DError("--layout-2d coco17 needs --layout h36m17 (the face points come from its head)")
    return settings


def _attach_negative_values(argv, options=("--distortion",)):
    """`--distortion -0.2,0.1,0,0,0` -> `--distortion=-0.2,...`: argparse takes a value starting with '-'
    (not a plain number) for an option and fails with 'expected one argument'; k1 is usually negative."""
    out = []
    i = 0
    while i < len(argv):
        if argv[i] in options and i + 1 < len(argv) and argv[i + 1][:2].lstrip("-")[:1] in tuple("0123456789."):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


class _Stop(KeyboardInterrupt):
    """SIGINT or SIGTERM, as an exception that unwinds (and cleans up) like Ctrl-C."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _install_signal_handlers():
    """The first SIGINT/SIGTERM raises _Stop; later ones are ignored, so the clean-up it starts (removing
    staged files) is not itself interrupted."""
    def handler(signum, frame):
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        raise _Stop(signum)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def _interrupted(exc, args):
    signum = getattr(exc, "signum", signal.SIGINT)
    what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    if COMMITTED:
        print(f"hpd3d: {what} after the dataset was written to {COMMITTED[-1]}", file=sys.stderr)
    else:
        out = getattr(args, "out", None) or getattr(args, "folder", None)
        print(f"hpd3d: {what}, nothing written{f' ({out} unchanged)' if out else ''}", file=sys.stderr)
    return 128 + signum


def _note(line):
    print(f"hpd3d: note: {line}", file=sys.stderr)


def main(argv=None):
    args = None
    as_program = argv is None
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _install_signal_handlers()
        COMMITTED.clear()  # this run's commits only (main() may run more than once in a process)
        argv = _attach_negative_values(list(sys.argv[1:] if argv is None else argv))
        args = build_parser().parse_args(argv)
        return _run(args)
    except KeyboardInterrupt as exc:
        return _interrupted(exc, args)
    finally:
        for sig, handler in saved.items():
            if as_program:  # the run is over: a late Ctrl-C changes nothing, the exit code stands
                signal.signal(sig, signal.SIG_IGN)
            elif handler is not None:  # main(argv) called in-process (tests, scripts): as found
                signal.signal(sig, handler)


def _run(args):
    try:
        if args.command == "presets":
            for p in PRESETS.values():
                print(f"{p.name:14s} {p.description}")
            return 0
        if args.command == "rigs":
            print(rigs_text(args.json))
            return 0
        if args.command == "export":
            module = formats.get(args.format)
            export = formats.export(args.format, args.folder, name=args.name, keypoints=args.keypoints,
                                    **module.export_options(args))
            print(export.summary())
            return 0
        if args.command == "check":
            return _check(args)
        if args.command == "merge":
            from .core.merge import merge
            print(merge(args.shards, args.out, name=args.name, overwrite=args.overwrite))
            return 0
        options = options_from_args(args)
        result = generate(args.inputs, options, workers=resolve_workers(args.workers), progress=_progress(args.quiet), notify=_note)
        for take in result.takes:
            i = take.info
            print(f"{take.subject}/{take.action}: {i['frames']} frames at {i['fps']:g} fps, "
                  f"preset {i['skeleton_preset']}, scale {i['scale']:g} ({i['unit']}), height {i['height_m']:.2f} m")
        print(result.summary())
        return 1 if result.failures or not result.check["passed"] else 0
    except HPD3DError as exc:  # one line; 2 for an option out of range or malformed (a usage error), else 1
        print(f"hpd3d: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except MemoryError:
        print("hpd3d: error: out of memory (fewer cameras, frames or --workers need less); nothing written",
              file=sys.stderr)
        return 1


def _check(args):
    from .core.check import check_folder
    if args.repair:
        from pathlib import Path
        if not Path(args.folder).is_dir():
            raise OutputError(f"{args.folder}: not a folder")
        with FolderLock(args.folder):
            note = recover(args.folder)
            print(f"repair: {note}" if note else f"repair: {args.folder}: no interrupted write, nothing to do")
            report = check_folder(args.folder, args.name)
    else:
        report = check_folder(args.folder, args.name)
    print("\n".join(report.lines()))
    return 0 if report.passed else 1
