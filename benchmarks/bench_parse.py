"""BVH parse throughput on the same bytes: our reader (pandas' C reader and the numpy reader) against
np.fromstring, pandas.read_csv, bvhio and bvh (PyPI), on one core (one process, one thread).

    python benchmarks/bench_parse.py [FOLDER_OR_FILES...] [--max-files N] [--repeat 3] [--json FILE]

Throughput = file bytes / CPU seconds of the process (time.process_time: steadier than wall time on a shared
machine), best of --repeat runs, over the same files for every reader. What each reader does:

* hpd3d read_bvh (pandas|numpy): the whole file to a BvhMotion (header, joints, motion float64, checks).
* np.fromstring: the motion block only (text after 'Frame Time:') to float64.
* pandas read_csv: the motion block only, `sep=r"\\s+"`, float64 table -> array (pandas' usual way).
* bvhio.readAsBvh: the whole file to its BvhContainer (joints with key frames).
* bvh.Bvh: the whole file to its token lists, then the frames to a float64 array.
Readers that are not installed are skipped (pip install pandas bvhio bvh).
"""
import argparse
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hpd3d_addon.core import bvh as hbvh  # noqa: E402

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "bvh"


def motion_block(raw):
    i = raw.index(b"Frame Time")
    return raw[raw.index(b"\n", i) + 1:]


def readers():
    out = {"hpd3d read_bvh, numpy reader": lambda p, raw: hbvh.read_bvh(p, reader="numpy").motion}
    if hbvh.pandas_available():
        out["hpd3d read_bvh, pandas reader (auto after 16 MB)"] = lambda p, raw: hbvh.read_bvh(p, reader="pandas").motion
    out["np.fromstring (motion block)"] = lambda p, raw: np.fromstring(motion_block(raw).decode(), sep=" ")
    try:
        import pandas as pd
        out["pandas.read_csv sep=\\s+ (motion block)"] = lambda p, raw: pd.read_csv(
            io.BytesIO(motion_block(raw)), sep=r"\s+", header=None, dtype=np.float64, engine="c").to_numpy()
    except ImportError:
        pass
    try:
        import bvhio
        out["bvhio.readAsBvh"] = lambda p, raw: bvhio.readAsBvh(str(p))
    except ImportError:
        pass
    try:
        from bvh import Bvh
        out["bvh.Bvh + frames to float"] = lambda p, raw: np.array(Bvh(raw.decode()).frames, dtype=np.float64)
    except ImportError:
        pass
    return out


def files_of(paths, max_files):
    files = []
    for p in map(Path, paths):
        files += sorted(p.rglob("*.bvh")) if p.is_dir() else [p]
    if max_files and len(files) > max_files:  # evenly spread over the corpus
        step = len(files) / max_files
        files = [files[int(i * step)] for i in range(max_files)]
    return files


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="*", default=[str(DEFAULT)])
    ap.add_argument("--max-files", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--slow-max-bytes", type=float, default=20e6,
                    help="bvhio and bvh run on the first files up to this many bytes (they are slow)")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    files = files_of(a.inputs, a.max_files)
    raws = {f: f.read_bytes() for f in files}
    total = sum(map(len, raws.values()))
    print(f"{len(files)} files, {total / 1e6:.1f} MB; one core; best of {a.repeat}; CPU time", flush=True)
    results = []
    for name, read in readers().items():
        subset = files
        if name.startswith(("bvhio", "bvh.")):
            subset, size = [], 0
            for f in files:
                if size >= a.slow_max_bytes:
                    break
                subset.append(f)
                size += len(raws[f])
        nbytes = sum(len(raws[f]) for f in subset)
        best, wall = float("inf"), float("inf")
        for _ in range(a.repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            for f in subset:
                read(f, raws[f])
            best, wall = min(best, time.process_time() - c0), min(wall, time.perf_counter() - w0)
        r = {"reader": name, "files": len(subset), "mb": nbytes / 1e6, "cpu_s": best, "wall_s": wall,
             "mb_per_cpu_s": nbytes / 1e6 / best}
        results.append(r)
        print(f"{name:42s} {r['files']:5d} files {r['mb']:7.1f} MB  {r['mb_per_cpu_s']:7.1f} MB/s (CPU)  "
              f"{nbytes / 1e6 / wall:7.1f} MB/s (wall)", flush=True)
    ref = next((r for r in results if r["reader"].startswith("pandas.read_csv")), None)
    if ref:
        for r in results:
            r["vs_pandas_read_csv"] = r["mb_per_cpu_s"] / ref["mb_per_cpu_s"]
        print("ratio to pandas.read_csv: " + ", ".join(f"{r['reader']}: {r['vs_pandas_read_csv']:.2f}x" for r in results))
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": {"nproc": os.cpu_count(), "python": platform.python_version(),
                                                        "numpy": np.__version__, "platform": platform.platform()},
                                            "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
