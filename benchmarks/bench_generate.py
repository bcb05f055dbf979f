"""Benchmark of `hpd3d generate`: camera-frames per second and peak memory on a folder of real BVH files.

camera-frames/s = frames x cameras / wall time of the whole `generate` (BVH parsing to every file
written, the built-in reprojection check included), measured in a fresh process per run so that the
peak resident memory (ru_maxrss) belongs to that run alone.

    make bench                                   # ../shared/fixtures/bvh, 24 cameras, workers auto and 1
    .venv/bin/python benchmarks/bench_generate.py /path/to/bvh/folder [--workers 1,2] [--repeat 3]

A folder with fewer than --min-files BVH files (the fixtures have 3) is replicated into a temporary
folder (links, never inside the repository) until it has at least that many, so that the run is long
enough to time. The baseline is benchmarks/legacy_reproduction.py (our bpy reproduction of the original
script's method) on the Bandai Namco files of the input, with the same number of cameras; --no-legacy
skips it. Results go to benchmarks/results/ (JSON and a Markdown table) and the table is printed.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_INPUT = Path(os.environ.get("HPD3D_SHARED", REPO.parent / "shared")) / "fixtures" / "bvh"
DOCUMENTED_BASELINE = 4100.0  # camera-frames/s of the original script on this machine (issue 2)
TARGET_FACTOR = 100.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input", nargs="?", default=str(DEFAULT_INPUT),
                   help=f"folder of BVH files or of subject folders (default {DEFAULT_INPUT})")
    p.add_argument("--workers", default="auto,1", help="comma-separated --workers values: N or auto (default auto,1)")
    p.add_argument("--rig", default="dome", help="rig of the run (default dome: 24 cameras)")
    p.add_argument("--repeat", type=int, default=3, help="runs per setting; the median is reported (default 3)")
    p.add_argument("--min-files", type=int, default=100,
                   help="replicate a smaller folder into a temporary one until it has this many files (default 100)")
    p.add_argument("--no-legacy", action="store_true", help="skip the legacy (bpy) baseline")
    p.add_argument("--legacy-input", default="",
                   help="folder for the legacy baseline (default: the input's Bandai Namco files)")
    p.add_argument("--legacy-max-files", type=int, default=0, help="limit the legacy run to N files (0: all)")
    p.add_argument("--results", default=str(HERE / "results"), help="where to write the results")
    p.add_argument("--label", default="", help="name of this corpus in the results (default: folder name)")
    return p.parse_args(argv)


# ----------------------------------------------------------------------------------------------------
# One measured run, in its own process.

def child(argv):
    """Run `hpd3d generate argv` here, print a JSON line with wall time and peak memory."""
    from hpd3d_addon.cli import main
    # generate's manifest asks platform for the processor, which forks `uname -p`; a fork of the full process at
    # the end would count as a child with the main process's peak. Ask now, while the process is small (cached).
    platform.platform()
    t0 = time.perf_counter()
    code = main(["generate", *argv])
    seconds = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    print("BENCH " + json.dumps({"exit": code, "seconds": seconds, "peak_rss_mb": own * scale / 2**20,
                                 "worker_peak_rss_mb": kids * scale / 2**20}))
    return 0


def run_generate(inputs, out, workers, rig):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *map(str, inputs), "--out", str(out),
           "--rig", rig, "--workers", str(workers), "--overwrite", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"generate failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    r = json.loads(line[len("BENCH "):])
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    cams = manifest["cameras_per_subject"]
    r["frames"] = sum(f["frames"] for f in manifest["files"])
    r["files"] = len(manifest["files"])
    r["failures"] = len(manifest["failures"])
    r["camera_frames"] = sum(f["frames"] * cams[f["subject"]] for f in manifest["files"])
    r["cameras"] = sorted(set(cams.values()))
    r["camera_frames_per_s"] = r["camera_frames"] / r["seconds"]
    r["check_max_px"] = manifest["reprojection_check"]["max_error_px"]
    r["output_mb"] = sum(p.stat().st_size for p in Path(out).iterdir()) / 2**20
    return r


# ----------------------------------------------------------------------------------------------------
# Corpus preparation.

def bvh_files(folder):
    folder = Path(folder)
    return sorted(folder.glob("*.bvh")) + sorted(folder.glob("*/*.bvh"))


def replicate(files, min_files, into):
    """Links to `files` under `into` (one subject folder), repeated until there are >= min_files."""
    subject = Path(into) / "bench"
    subject.mkdir(parents=True)
    k = 0
    while k < min_files:
        for f in files:
            link = subject / f"{f.stem}__copy{k // len(files):03d}.bvh"
            try:
                link.symlink_to(f.resolve())
            except OSError:
                shutil.copyfile(f, link)
            k += 1
    return subject


def bandai_folder(files, into):
    """A folder of links to the Bandai Namco files among `files` (skeleton with joint_Root ... Toes_L)."""
    out = Path(into) / "bandai"
    out.mkdir(parents=True)
    n = 0
    for f in files:
        with open(f, "rb") as fh:
            head = fh.read(200)
        if b"joint_Root" in head:
            (out / f"{f.parent.name}__{f.name}").symlink_to(f.resolve())
            n += 1
    return out if n else None


def run_legacy(folder, cameras, out, json_path, max_files):
    cmd = [sys.executable, str(HERE / "legacy_reproduction.py"), str(folder), "--out", str(out),
           "--cameras", str(cameras), "--json", str(json_path), "--subject", "S1"]
    if max_files:
        cmd += ["--max-files", str(max_files)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not Path(json_path).is_file():
        print(f"legacy baseline failed (is bpy installed?):\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(Path(json_path).read_text())


# ----------------------------------------------------------------------------------------------------

def table(rows):
    head = ["run", "files", "frames", "cameras", "camera-frames", "wall s", "camera-frames/s", "vs 4,100/s",
            "peak RSS MB (main / worker)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        mem = "n/a" if r["peak_rss_mb"] != r["peak_rss_mb"] else f"{r['peak_rss_mb']:.0f}"
        mem += f" / {r['worker_peak_rss_mb']:.0f}" if r.get("worker_peak_rss_mb") else ""
        lines.append("| " + " | ".join([
            r["run"], str(r["files"]), str(r["frames"]), str(r["cameras"]), f"{r['camera_frames']:,}",
            f"{r['seconds']:.2f}", f"{r['camera_frames_per_s']:,.0f}",
            f"{r['camera_frames_per_s'] / DOCUMENTED_BASELINE:.0f}x", mem]) + " |")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # one measured run (see run_generate)
        return child(argv[1:])
    args = parse_args(argv)
    src = Path(args.input)
    files = bvh_files(src)
    if not files:
        raise SystemExit(f"{src}: no BVH files (pass a folder of BVH files)")
    label = args.label or src.resolve().name
    tmp = Path(tempfile.mkdtemp(prefix="hpd3d-bench-"))
    rows = []
    try:
        corpus = src
        if len(files) < args.min_files:
            corpus = replicate(files, args.min_files, tmp / "corpus")
            label += f" x{-(-args.min_files // len(files))} (replicated)"
        for w in [v if v == "auto" else int(v) for v in args.workers.split(",")]:
            runs = [run_generate([corpus], tmp / f"out_w{w}", w, args.rig) for _ in range(max(1, args.repeat))]
            r = dict(runs[0])
            r["seconds"] = statistics.median(x["seconds"] for x in runs)
            r["camera_frames_per_s"] = r["camera_frames"] / r["seconds"]
            r["peak_rss_mb"] = max(x["peak_rss_mb"] for x in runs)
            r["worker_peak_rss_mb"] = max(x["worker_peak_rss_mb"] for x in runs) if w == "auto" or w > 1 else 0.0
            r["all_seconds"] = [x["seconds"] for x in runs]
            r["run"] = f"hpd3d generate --rig {args.rig} --workers {w}"
            r["cameras"] = "/".join(map(str, r["cameras"]))
            rows.append(r)
            print(f"workers {w}: {r['camera_frames']:,} camera-frames in {r['seconds']:.2f} s (median of "
                  f"{len(runs)}) = {r['camera_frames_per_s']:,.0f}/s, peak {r['peak_rss_mb']:.0f} MB", flush=True)
        legacy = None
        if not args.no_legacy:
            lsrc = Path(args.legacy_input) if args.legacy_input else bandai_folder(files, tmp / "legacy_in")
            if lsrc is None:
                print("no Bandai Namco files in the input: legacy baseline skipped", file=sys.stderr)
            else:
                cams = int(str(rows[0]["cameras"]).split("/")[0])
                legacy = run_legacy(lsrc, cams, tmp / "legacy_out", tmp / "legacy.json", args.legacy_max_files)
                if legacy:
                    rows.append({"run": "legacy reproduction (bpy, frame_set per camera per frame)",
                                 "files": legacy["written"], "frames": legacy["frames"],
                                 "cameras": str(legacy["cameras"]), "camera_frames": legacy["camera_frames"],
                                 "seconds": legacy["seconds"], "camera_frames_per_s": legacy["camera_frames_per_s"],
                                 "peak_rss_mb": float("nan"), "worker_peak_rss_mb": 0.0})
                    print(f"legacy: {legacy['camera_frames']:,} camera-frames in {legacy['seconds']:.2f} s = "
                          f"{legacy['camera_frames_per_s']:,.0f}/s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    now = datetime.datetime.now()
    info = {"date": now.isoformat(timespec="seconds"), "nproc": os.cpu_count(), "corpus": label,
            "input": str(src), "python": platform.python_version(), "platform": platform.platform(),
            "rows": rows, "legacy": legacy}
    best = max(r["camera_frames_per_s"] for r in rows if r["run"].startswith("hpd3d"))
    summary = [f"corpus: {label}; {now:%Y-%m-%d}, nproc {os.cpu_count()}, {platform.processor() or platform.machine()}",
               table(rows),
               f"best: {best:,.0f} camera-frames/s = {best / DOCUMENTED_BASELINE:.0f}x the documented 4,100/s "
               f"(target {TARGET_FACTOR:.0f}x = {TARGET_FACTOR * DOCUMENTED_BASELINE:,.0f}/s: "
               f"{'met' if best >= TARGET_FACTOR * DOCUMENTED_BASELINE else 'NOT met'})"]
    if legacy:
        summary.append(f"measured legacy reproduction here: {legacy['camera_frames_per_s']:,.0f}/s -> speed-up "
                       f"{best / legacy['camera_frames_per_s']:.0f}x")
    text = "\n".join(summary)
    print("\n" + text)
    res = Path(args.results)
    res.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y%m%d-%H%M%S")
    (res / f"bench-{stamp}.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    (res / f"bench-{stamp}.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
