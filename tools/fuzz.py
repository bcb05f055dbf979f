"""Seeded, deterministic fuzzer of every input HPD3D reads: BVH files (with option combinations), JSON rigs,
mapping files, camera-distribution and noise-model files, and dataset folders (npz members, camera_*.txt, pickle payloads)
as `hpd3d check` and BlenderDataset read them.

Each case is made from (seed, case number) alone, so any case can be re-run by its number. It runs in a
forked child of this process (the pipeline in-process: no Python start-up per case) with RLIMIT_AS
(--memory, 2 GB) and an alarm (--time, 60 s), and is classified:

  ok               exit 0, and every file written is sound
  clean-error      exit 1 or 2 with messages only (the loader: a ValueError/FileNotFoundError naming the file)
  traceback        an exception escaped (a bug: the input was not validated)
  over-memory      a MemoryError or the memory limit reached
  over-time        the time limit reached
  non-finite       a written array or number is NaN/inf (or a frame rate, focal length, size <= 0)
  non-strict-json  manifest.json holds NaN/Infinity
  code-ran         a pickle payload's marker file appeared
  crash            the child died of a signal

    python tools/fuzz.py --cases 10000 --jobs 2        # `make fuzz`
    python tools/fuzz.py --case 1234 --keep /tmp/c     # one case, its files and output kept
"""
import argparse
import copy
import io
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
import zipfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import numpy as np  # noqa: E402

from pickle_payloads import Raw, payloads, write_npz  # noqa: E402  (tests/pickle_payloads.py)

FAMILIES = sorted((REPO / "tests" / "data" / "families").glob("*.bvh"))
SAMPLE = sorted((REPO / "hpd3d_addon" / "samples").glob("*.bvh"))
OUTCOMES = ("ok", "clean-error", "traceback", "over-memory", "over-time", "non-finite", "non-strict-json",
            "code-ran", "crash", "fuzzer-error")
BAD = OUTCOMES[2:]
EXIT = {"traceback": 99, "over-memory": 98, "non-finite": 97, "non-strict-json": 96, "code-ran": 95}
KINDS = (("bvh", 32), ("options", 16), ("rig", 12), ("mapping", 10), ("camdist", 4), ("noise", 4), ("npz", 22))

NUMBERS = ["0", "-0", "1", "-1", "3", "0.5", "1e308", "-1e308", "1e-308", "5e-324", "1e38", "-1e38", "1e15", "-1e15",
           "1e-15", "nan", "inf", "-inf", "1e999", "99999999999999999999", "1000000000", "2147483648", "1_000", "0x10",
           "1e", ".", "--1", "+7", "4.9e-324", "1.7976931348623157e308"]
# option -> (plausible values, extreme or malformed values)
OPTIONS = {
    "--fps": (["0.5", "1", "24", "30", "60", "240", "1000"], ["1e-300", "1e-6", "1e5", "1e7", "1e300", "inf", "nan",
                                                           "-30", "0"]),
    "--scale": (["auto", "0.001", "0.01", "1", "100"], ["1e-300", "1e-12", "1e12", "1e300", "inf", "nan", "-1", "0"]),
    "--rig": (["h36m", "ring:1", "ring:3", "ring:50", "dome", "dome:2@0,2@89.9", "dome:1@90", "dome:1@-90",
               "random:2", "random:3"],
              ["ring:500", "ring:100000", "dome:1@1e9", "dome:3@nan", "dome:2@inf", "random:1000000", "ring:0",
               "ring:-1", "ring:1e3", "dome:0@0", "ring:", "sphere:3"]),
    "--distance": (["0.5", "2", "5", "50"], ["1e-300", "0.001", "1e6", "1e300", "inf", "nan", "-5"]),
    "--height": (["-10", "0", "1.6", "20"], ["-1e300", "1e9", "1e300", "nan", "inf"]),
    "--focal": (["1", "50", "1145", "1e5"], ["1e-300", "1e-9", "1e9", "1e300", "nan", "inf", "-1"]),
    "--resolution": (["1x1", "2x2", "64x48", "1000x1000", "1920x1080"],
                     ["65536x65536", "100000x1", "0x0", "-5x5", "axb", "1e3x1e3", "5", "1000x1000x3",
                      "99999999999999999999x1"]),
    "--margin": (["0", "20", "200"], ["-1e300", "-5", "499", "1e6", "1e300", "nan", "inf"]),
    "--distortion": (["none", "h36m", "-0.2,0.2,0,0,0", "1,1,1,0.1,0.1"],
                     ["1e300,0,0,0,0", "nan,0,0,0,0", "1,2,3", "inf,inf,inf,inf,inf", "-1e6,0,0,0,0", "0,0,0,1e9,0",
                      "x"]),
    "--seed": (["0", "7"], ["-1", "99999999999999999999999"]),
    "--camera-dist": (["default", "h36m-like", "wham", "wide"], ["nope"]),
    "--camera-per": (["subject", "take"], ["frame"]),
    "--preset": (["auto", "cmu", "bandai", "mixamo", "lafan1"], []),
    "--layout": (["h36m17", "source"], []),
    "--keypoints": (["gt", "gt,detector"], ["x"]),
    "--layout-2d": (["h36m17", "coco17"], []),
    "--noise": (["cpn", "gauss:0", "gauss:5"], ["gauss:1e300", "gauss:nan", "gauss:-1", "gauss:inf", "x"]),
    "--name": (["blender", "x"], ["a/b", "..", "", "n" * 300]),
    "--subject": (["S1"], ["", "a/b", "..", "s" * 300]),
}
FLAGS = ["--end-sites", "--no-fit", "--strict", "--preview"]


# ----------------------------------------------------------------------------------------------- mutations
def _numeric_spans(text):
    return [m.span() for m in re.finditer(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", text)]


def mutate_bvh(text, rng):
    """1-3 mutations of a BVH text: extreme numbers, header extremes, scaled offsets or motion, structure."""
    lines = text.split("\n")
    for _ in range(rng.choice([1, 1, 2, 3])):
        op = rng.choices(range(14), weights=[4, 4, 2, 3, 3, 3, 1, 1, 1, 1, 2, 1, 2, 2])[0]
        frames_i = next((i for i, l in enumerate(lines) if l.strip().lower().startswith("frames:")), None)
        time_i = next((i for i, l in enumerate(lines) if l.strip().lower().startswith("frame time")), None)
        if op == 0 or op == 1:  # an extreme number somewhere (header or motion)
            body = "\n".join(lines)
            spans = _numeric_spans(body)
            if spans:
                a, b = rng.choice(spans)
                body = body[:a] + rng.choice(NUMBERS) + body[b:]
                lines = body.split("\n")
        elif op == 2 and frames_i is not None:
            lines[frames_i] = "Frames: " + rng.choice(["0", "-1", "1", "1000000000", "1000000000000000000", "1e3",
                                                       "99999999999999999999", str(len(lines)), "2", "x"])
        elif op == 3 and time_i is not None:
            lines[time_i] = "Frame Time: " + rng.choice(["0", "-0.01", "5e-324", "1e-300", "1e-9", "1e-6", "1e9",
                                                         "1e300", "inf", "nan", "0.0333333", "1", "1e38", "3600"])
        elif op == 4:  # absurd but finite offsets
            f = rng.choice(["1e-300", "1e-12", "1e6", "1e12", "1e300", "0", "-1"])
            lines = [_scale_numbers(l, float(f)) if l.strip().upper().startswith("OFFSET") else l for l in lines]
        elif op == 5 and time_i is not None:  # absurd motion values
            f = float(rng.choice(["1e-300", "1e6", "1e12", "1e300", "0", "-1e3", "1e20"]))
            start = time_i + 1
            k = rng.randrange(start, len(lines)) if start < len(lines) else start
            every = rng.random() < 0.5
            for i in range(start, len(lines)):
                if every or i == k:
                    lines[i] = _scale_numbers(lines[i], f)
        elif op == 6 and len(lines) > 2:
            del lines[rng.randrange(len(lines))]
        elif op == 7 and lines:
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
        elif op == 8:
            body = "\n".join(lines)
            lines = body[:rng.randrange(len(body) + 1)].split("\n")
        elif op == 9:
            body = "\n".join(lines)
            i = rng.randrange(len(body) + 1)
            junk = rng.choice(["\x00", "\xff\xfe", "{", "}", "ROOT x", "JOINT", "End Site", "\t\t", "\u00e9",
                               "CHANNELS 3 Xrotation", "MOTION", "\r", "1e999", " " * 1000])
            lines = (body[:i] + junk + body[i:]).split("\n")
        elif op == 10:
            lines = _deepen(lines, rng.choice([40, 300, 3000]), valid=rng.random() < 0.7)
        elif op == 11:
            ch = [i for i, l in enumerate(lines) if l.strip().upper().startswith("CHANNELS")]
            if ch:
                i = rng.choice(ch)
                indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
                lines[i] = indent + rng.choice(["CHANNELS 100000000 Xrotation", "CHANNELS 0",
                                                "CHANNELS 3 Xrotation Xrotation Yrotation", "CHANNELS -3",
                                                "CHANNELS 6 " + " ".join(["Xposition"] * 6),
                                                "CHANNELS 3 Wrotation Yrotation Zrotation",
                                                "CHANNELS 3 xROTATION yrotation ZRotation"])
        elif op == 12 and time_i is not None:  # many frames (valid: rows repeated)
            rows = [l for l in lines[time_i + 1:] if l.strip()]
            if rows:  # at most ~20,000 rows: big enough to matter, small enough for 10,000 cases
                reps = max(1, min(rng.choice([10, 100]), 20000 // len(rows)))
                rows = rows * reps
                lines = lines[:time_i + 1] + rows
                if frames_i is not None:
                    lines[frames_i] = f"Frames: {len(rows)}"
        elif op == 13 and time_i is not None:  # one channel column set to a constant extreme
            rows = list(range(time_i + 1, len(lines)))
            col = rng.randrange(64)
            value = rng.choice(NUMBERS[:20])
            for i in rows:
                tok = lines[i].split()
                if col < len(tok):
                    tok[col] = value
                    lines[i] = " ".join(tok)
    return "\n".join(lines)


def _scale_numbers(line, factor):
    def repl(m):
        try:
            return repr(float(m.group(0)) * factor)
        except (ValueError, OverflowError):
            return m.group(0)
    head, _, rest = line.partition(" ") if line.strip()[:1].isalpha() else ("", "", line)
    return head + (" " if head else "") + re.sub(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", repl, rest)


def _deepen(lines, depth, valid):
    """Append a chain of `depth` nested joints under the root's block (3 rotation channels each), with the
    motion rows widened to match when `valid`."""
    try:
        root = next(i for i, l in enumerate(lines) if l.strip().upper().startswith("ROOT"))
        time_i = next(i for i, l in enumerate(lines) if l.strip().lower().startswith("frame time"))
        motion_i = next(i for i, l in enumerate(lines) if l.strip().upper() == "MOTION")
    except StopIteration:
        return lines
    close = motion_i - 1
    while close > root and lines[close].strip() != "}":
        close -= 1
    chain = []
    for d in range(depth):
        chain += [f"JOINT deep{d}", "{", "OFFSET 0 1 0", "CHANNELS 3 Zrotation Xrotation Yrotation"]
    chain += ["End Site", "{", "OFFSET 0 1 0", "}"] + ["}"] * depth
    out = lines[:close] + chain + lines[close:]
    if valid:
        shift = len(chain)
        out = out[:time_i + shift + 1] + [l + " 0" * (3 * depth) if l.strip() else l for l in out[time_i + shift + 1:]]
    return out


def mutate_tree(value, rng, leaf_choices):
    """A copy of a JSON-like tree with 1-3 nodes replaced, deleted or multiplied."""
    value = json.loads(json.dumps(value))
    for _ in range(rng.randint(1, 3)):
        paths = list(_paths(value))
        if not paths:
            break
        path = rng.choice(paths)
        parent, key = _walk(value, path)
        if parent is None:
            continue
        op = rng.randrange(10)
        leaf = parent[key]
        if isinstance(leaf, (int, float)) and not isinstance(leaf, bool) and op < 6:
            parent[key] = rng.choice(NUMBER_LEAVES)  # same type, absurd value: the interesting region
        elif op == 0 and isinstance(parent, dict):
            parent.pop(key, None)
        elif op == 1 and isinstance(parent, list) and parent:
            parent.extend(copy.deepcopy(parent[key]) for _ in range(rng.choice([1, 10, 1000])))
        elif op == 2 and rng.random() < 0.3:
            parent[key] = _deep(rng.choice([5, 100, 500]))
        else:
            parent[key] = copy.deepcopy(rng.choice(leaf_choices))  # never share (and so mutate) a leaf object
    return value


def _paths(value, prefix=()):
    """Every node's path in a JSON-like tree (iterative: mutated trees nest deeply)."""
    todo = [(value, prefix)]
    while todo:
        node, path = todo.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            yield path + (k,)
            if len(path) < 200:
                todo.append((v, path + (k,)))


def _walk(value, path):
    for k in path[:-1]:
        value = value[k]
    return (value, path[-1]) if path else (None, None)


def _deep(depth):
    v = 0
    for _ in range(depth):
        v = [v]
    return v


NUMBER_LEAVES = [0, -1, 1, 0.5, 2, 1e-9, 1e-300, 5e-324, 1e300, -1e300, 1e15, 10 ** 30, 1e4, -1e4, 1e7, 89.99, 90.01,
                 -90.5, 180, 720, 16384, 16385, 65536, 1.5, 0.999999, 1.000001, float("nan"), float("inf")]
JSON_LEAVES = [0, -1, 1, 0.5, 1e308, -1e308, 5e-324, 1e15, 10 ** 30, -(10 ** 30), float("nan"), float("inf"),
               float("-inf"), "x", "", None, True, [], {}, [1, 2], [0, 0, 0, 0], [1e308] * 4, {"a": 1}, "Hips",
               "Hips_End", {"Hips": 0.5, "Neck": 0.5}, {"Hips": float("nan")}, {"Hips": -1, "Neck": 2},
               {"Hips": 1e308, "Neck": -1e308}, ["nope", "Hips"], [], [[]], "A" * 10000]


def json_text(value, rng):
    """JSON text of a tree, sometimes damaged at the text level."""
    text = json.dumps(value)  # NaN/Infinity as json.dumps writes them (Python's json reads them back)
    op = rng.randrange(12)
    if op == 0:
        text = text[:rng.randrange(len(text) + 1)]
    elif op == 2:
        depth = rng.choice([1000, 100000])
        text = "[" * depth + text + "]" * depth
    elif op == 1:
        i = rng.randrange(len(text) + 1)
        text = text[:i] + rng.choice(["\x00", "]", "}", ",", "\"", "1e999", "-", "\u00e9"]) + text[i:]
    return text


# ----------------------------------------------------------------------------------------------- cases
class Case:
    def __init__(self, number, kind):
        self.number, self.kind = number, kind
        self.files = {}      # relative path -> bytes or str
        self.argv = []       # CLI arguments (generate/check), paths relative to the case folder
        self.loader = False  # also load the dataset with BlenderDataset
        self.marker = None
        self.links = {}      # relative path -> symlink target ('fifo' makes a named pipe there instead)


def _options(rng, count, allow_rig=True):
    """`count` options, each plausible or (40%) extreme, and sometimes a flag."""
    names = [n for n in OPTIONS if allow_rig or n != "--rig"]
    out = []
    for name in rng.sample(names, min(count, len(names))):
        plausible, extreme = OPTIONS[name]
        out += [name, rng.choice(extreme if extreme and rng.random() < 0.4 else plausible)]
    out += [f for f in FLAGS if rng.random() < 0.05]
    return out


def make_case(number, seed, base):
    rng = random.Random(seed * 1_000_003 + number)
    kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
    case = Case(number, kind)
    src = rng.choice(FAMILIES + SAMPLE * 2)
    text = src.read_text(encoding="utf-8")
    gen = ["generate", "in/S1/take.bvh", "--out", "out", "--quiet"]
    if rng.random() < 0.3:
        gen += ["--keypoints", "gt,detector"]
    if kind != "npz" and rng.random() < 0.04:  # control characters in the input's name: errors stay one line
        name = "in/S1/" + rng.choice(["ta\nke", "t\x1b[31mke", "ta\rke", "t\tk\x07e"]) + ".bvh"
        gen[1] = name
        case.rename = name
    if kind == "bvh":
        case.files["in/S1/take.bvh"] = mutate_bvh(text, rng)
        case.argv = gen + _options(rng, rng.choice([0, 0, 1, 2]))
    elif kind == "options":
        case.files["in/S1/take.bvh"] = text
        case.argv = gen + _options(rng, rng.randint(1, 4))
    elif kind == "rig":
        case.files["in/S1/take.bvh"] = text
        case.files["rig.json"] = json_text(mutate_tree(base["rig"], rng, JSON_LEAVES), rng)
        case.argv = gen + ["--rig", "rig.json"] + _options(rng, rng.choice([0, 1]), allow_rig=False)
    elif kind == "mapping":
        fam = rng.choice(sorted(base["mappings"]))
        case.files["in/S1/take.bvh"] = (REPO / "tests" / "data" / "families" / fam).read_text(encoding="utf-8")
        case.files["map.json"] = json_text(mutate_tree(base["mappings"][fam], rng, JSON_LEAVES), rng)
        case.argv = gen + ["--mapping", "map.json"] + _options(rng, rng.choice([0, 0, 1]))
    elif kind == "camdist":
        case.files["in/S1/take.bvh"] = text
        case.files["dist.json"] = json_text(mutate_tree(base["camdist"], rng, JSON_LEAVES), rng)
        case.argv = gen + ["--rig", "random:2", "--camera-dist", "dist.json"] + _options(rng, rng.choice([0, 1]),
                                                                                         allow_rig=False)
    elif kind == "noise":
        case.files["in/S1/take.bvh"] = rng.choice(FAMILIES).read_text(encoding="utf-8")
        case.files["noise.json"] = json_text(mutate_tree(base["noise"], rng, JSON_LEAVES), rng)
        case.argv = gen + ["--keypoints", "gt,detector", "--noise", "noise.json"] + _options(rng, rng.choice([0, 1]))
    else:
        _npz_case(case, rng, base)
    if getattr(case, "rename", None):
        case.files[case.rename] = case.files.pop("in/S1/take.bvh")
    return case


def _npz_case(case, rng, base):
    """A dataset folder with one file damaged: bytes, structure, camera text, or a pickle payload."""
    files = dict(base["dataset"])
    case.argv = ["check", "ds"]
    case.loader = True
    op = rng.randrange(8)
    name = rng.choice(["data_3d_blender.npz", "data_2d_blender_gt.npz"])
    if op >= 5:
        _folder_case(case, files, op, name, rng)
        return
    if op == 0:  # bytes
        data = bytearray(files[name])
        for _ in range(rng.randint(1, 8)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[:rng.randrange(len(data) + 1)]
        files[name] = bytes(data)
    elif op in (1, 2):  # structure
        members = _npz_members(files[name])
        key = rng.choice(sorted(members))
        members[key] = _mutate_structure(members[key], rng)
        files[name] = _npz_bytes(members, rng.choice([2, 3, 4]))
    elif op == 3:  # camera text: the 3D file without its cameras, camera_*.txt damaged
        members = _npz_members(files["data_3d_blender.npz"])
        members.pop("cameras", None)
        files["data_3d_blender.npz"] = _npz_bytes(members, 4)
        txt = rng.choice(["camera_intrinsics.txt", "camera_extrinsics.txt"])
        files[txt] = _mutate_literal(files[txt].decode("utf-8"), rng).encode("utf-8", "surrogatepass")
    else:  # a pickle payload somewhere
        case.marker = "MARKER"
        members = _npz_members(files[name])
        key = rng.choice(sorted(members))
        raw = rng.choice(list(payloads(str(Path("ds") / case.marker)).values()))
        members[key] = _place(members[key], raw, rng)
        files[name] = _npz_bytes(members, 2)
    case.files.update({f"ds/{k}": v for k, v in files.items()})


def _folder_case(case, files, op, name, rng):
    """The folder around the files damaged: its manifest, an interrupted commit's journal and stage, or a
    file replaced by a symbolic link to a device, a pipe or outside the folder; checked, repaired or written
    over."""
    if op == 5:  # manifest.json
        manifest = json.loads(files["manifest.json"])
        files["manifest.json"] = json_text(mutate_tree(manifest, rng, JSON_LEAVES), rng)
    elif op == 6:  # a journal (and a stage) left by a run that died at its commit
        journal = {"version": 1, "moves": sorted(files), "remove": [], "run_id": "x"}
        text = json_text(mutate_tree(journal, rng, JSON_LEAVES + ["../escape", "/etc/passwd", ".hpd3d.lock"]), rng)
        files[".hpd3d-commit.json"] = text
        for staged in rng.sample(sorted(files), rng.randint(0, 3)):
            files[f".hpd3d-stage/{staged}"] = files[staged][:rng.randrange(len(files[staged]) + 1)]
    else:  # a symbolic link where a file was
        del files[name]
        case.links[f"ds/{name}"] = rng.choice(["/dev/zero", "/dev/urandom", "fifo", "../outside.npz", "/"])
        case.files["outside.npz"] = files.get("data_2d_blender_gt.npz", b"")
    case.argv = rng.choice([["check", "ds"], ["check", "ds", "--repair"],
                            ["generate", "in/S1/take.bvh", "--out", "ds", "--overwrite", "--quiet"]])
    if case.argv[0] == "generate":
        case.files["in/S1/take.bvh"] = SAMPLE[0].read_text(encoding="utf-8") if SAMPLE else FAMILIES[0].read_text()
    case.files.update({f"ds/{k}": v for k, v in files.items()})


def _npz_members(data):
    with np.load(io.BytesIO(data), allow_pickle=True) as z:  # our own base files: trusted
        return {k: z[k].item() if z[k].dtype.hasobject and z[k].shape == () else z[k] for k in z.files}


def _npz_bytes(members, protocol):
    buf = io.BytesIO()
    write_npz(buf, members, protocol)
    return buf.getvalue()


def _nodes(value, path=()):
    todo = [(value, path)]
    while todo:
        node, at = todo.pop()
        yield at
        if len(at) >= 200:
            continue
        if isinstance(node, dict):
            todo.extend((v, at + (k,)) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            todo.extend((v, at + (i,)) for i, v in enumerate(node))


def _set(value, path, new):
    if not path:
        return new
    parent = value
    for k in path[:-1]:
        parent = parent[k]
    if isinstance(parent, tuple):
        return value  # tuples stay
    parent[path[-1]] = new
    return value


STRUCT_LEAVES = [None, "x", 0, -1, 1e308, float("nan"), float("inf"), 10 ** 30, [], {}, [[]], (1, 2), True,
                 b"\x00", "S1"]


def _array_leaf(rng):
    shape = rng.choice([(0,), (5, 17, 2), (5, 17, 3), (0, 17, 2), (3,), (2, 2), (1, 1, 1, 1), (5, 3, 2), (100, 17, 2),
                        (5, 17), ()])
    dtype = rng.choice(["f4", "f8", "i4", "bool", "U3", "c8", "O", "f2", "u1"])
    a = np.zeros(shape, dtype=dtype)
    if a.dtype.kind == "f" and a.size:
        a.flat[rng.randrange(a.size)] = rng.choice([np.nan, np.inf, -np.inf, 1e30, 0.0])
    return a


def _mutate_structure(value, rng):
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(list(_nodes(value)))
        op = rng.randrange(5)
        if op == 0:
            new = _array_leaf(rng)
        elif op == 1:
            new = _deep(rng.choice([10, 40, 200]))
        elif op == 2 and path:  # delete
            parent = value
            for k in path[:-1]:
                parent = parent[k]
            if isinstance(parent, dict):
                del parent[path[-1]]
            elif isinstance(parent, list):
                del parent[path[-1]]
            continue
        else:
            new = copy.deepcopy(rng.choice(STRUCT_LEAVES))
        value = _set(value, path, new)
    return value


def _place(value, raw, rng):
    paths = list(_nodes(value))
    return _set(value, rng.choice(paths), raw)


def _mutate_literal(text, rng):
    import ast
    op = rng.randrange(4)
    if op == 0:
        return text[:rng.randrange(len(text) + 1)]
    if op == 1:
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(["(", "]", "1e999", "nan", "__import__('os')", "\x00", "{" * 500, "-",
                                      "1" * 5000, "'", "*"]) + text[i:]
    value = ast.literal_eval(text)
    value = mutate_tree(value, rng, JSON_LEAVES) if op == 2 else _mutate_structure(value, rng)
    return repr(value)


# ----------------------------------------------------------------------------------------------- running
def preload():
    """Import everything a case runs before forking, so that no child pays Python imports (~0.5 s each)."""
    import importlib
    import hpd3d_addon.cli  # noqa: F401
    import hpd3d_addon.core.check  # noqa: F401
    import hpd3d_addon.core.dataset  # noqa: F401
    sys.path[:0] = [str(REPO / "tests" / "vp3d_interface"), str(REPO)]
    importlib.import_module("blender_dataset")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401  (--preview)
    except ImportError:
        pass


def prepare_base(work):
    """The fuzzer's seed inputs: a small generated dataset, a JSON rig, mapping files, a camera distribution."""
    preload()
    from hpd3d_addon.core.camera_sampling import PRESETS as DISTS
    from hpd3d_addon.core.skeleton_presets import PRESETS
    work = Path(work)
    (work / "in" / "S1").mkdir(parents=True)
    shutil.copy(FAMILIES[0] if not SAMPLE else SAMPLE[0], work / "in" / "S1" / "take.bvh")
    code = _fork_run(lambda: _cli(["generate", str(work / "in"), "--out", str(work / "ds"), "--rig", "ring:2",
                                   "--quiet"]), 120)
    if code != 0:
        raise SystemExit(f"fuzz: could not generate the base dataset (exit {code})")
    dataset = {p.name: p.read_bytes() for p in (work / "ds").iterdir() if p.is_file()}
    cams = []
    intr = _literal((work / "ds" / "camera_intrinsics.txt").read_text())
    extr = _literal((work / "ds" / "camera_extrinsics.txt").read_text())
    for i, e in enumerate(next(iter(extr.values()))):
        cams.append(dict(intr[i], **e))
    rig = {"cameras": [{"azimuth": 30, "elevation": 10, "distance": 4, "roll": 2, "focal_length": 1000,
                        "res_w": 1000, "res_h": 800, "center": [500, 400]}] + cams}
    mappings = {}
    for fam in FAMILIES:
        name = fam.stem.split("_")[0]
        preset = {"h36m": "h36m_bvh"}.get(name, name)
        if preset in PRESETS:
            joints = PRESETS[preset].joints
            mappings[fam.name] = {"extends": preset, "joints": {"Thorax": joints["Thorax"]}} if len(mappings) % 2 \
                else json.loads(json.dumps(joints))
    camdist = DISTS["wham"].to_json() if hasattr(DISTS["wham"], "to_json") else {}
    from hpd3d_addon.core.noise import DEFAULT_MODEL
    noise = json.loads(json.dumps(DEFAULT_MODEL.describe()))
    return {"dataset": dataset, "rig": json.loads(json.dumps(rig)), "mappings": mappings, "camdist": camdist,
            "noise": noise}


def _literal(text):
    import ast
    return ast.literal_eval(text)


def _cli(argv):
    from hpd3d_addon.cli import main
    return main(argv)


def _fork_run(fn, seconds, memory=None, out_path=None):
    """Run fn() in a forked child with limits; returns its exit code, or -signal."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            if out_path is not None:
                fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
            if memory:
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(int(seconds))
            code = fn()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        except MemoryError:
            traceback.print_exc()
            code = EXIT["over-memory"]
        except BaseException:
            traceback.print_exc()
            code = EXIT["traceback"]
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code if isinstance(code, int) and 0 <= code < 256 else 99)
    _, status, usage = os.wait4(pid, 0)
    _fork_run.maxrss_kb = usage.ru_maxrss
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _case_body(case, folder):
    """What the child runs inside the case folder: the CLI, then checks of what it wrote, then the loader."""
    os.chdir(folder)
    code = _cli(list(case.argv))
    if case.argv[0] == "generate" and Path("out").is_dir():
        bad = verify_output(Path("out"))
        if bad:
            print(f"fuzz: {bad[1]}")
            return EXIT[bad[0]]
    if case.marker and Path("ds", case.marker).exists():
        return EXIT["code-ran"]
    if case.loader:
        loader = _load_with_blender_dataset(Path("ds") / "data_3d_blender.npz")
        if case.marker and Path("ds", case.marker).exists():
            return EXIT["code-ran"]
        if loader is not None:
            return loader
    return code if code in (0, 1, 2) else EXIT["traceback"]


def _load_with_blender_dataset(path):
    """None when BlenderDataset loads the dataset or refuses it with a one-line ValueError/FileNotFoundError
    naming a file; the traceback exit code otherwise."""
    import importlib
    module = importlib.import_module("blender_dataset")  # preloaded
    try:
        module.BlenderDataset(str(path))
    except (ValueError, FileNotFoundError) as exc:
        text = str(exc)
        if "\n" in text or ".npz" not in text and ".txt" not in text:
            traceback.print_exc()
            return EXIT["traceback"]
        print(f"loader: {text}")
        return 1
    except MemoryError:
        traceback.print_exc()
        return EXIT["over-memory"]
    except Exception:
        traceback.print_exc()
        return EXIT["traceback"]
    return None


def _strict_constant(name):
    raise ValueError(f"non-strict JSON constant {name}")


def verify_output(folder):
    """('non-finite' | 'non-strict-json', message) for the first unsound file written, else None."""
    from hpd3d_addon.core.safe_pickle import read_npz
    manifest = folder / "manifest.json"
    if manifest.is_file():
        try:
            json.loads(manifest.read_text(encoding="utf-8"), parse_constant=_strict_constant)
        except ValueError as exc:
            return "non-strict-json", f"manifest.json: {exc}"
    for path in sorted(folder.glob("*.npz")):
        for key, value in read_npz(path).items():
            bad = _unsound(value.item() if value.dtype.hasobject and value.shape == () else value)
            if bad:
                return "non-finite", f"{path.name} {key}: {bad}"
            if key == "metadata":
                meta = value.item()
                fps = meta.get("fps")
                if fps is not None and not (isinstance(fps, (int, float)) and 0 < fps < math.inf):
                    return "non-finite", f"{path.name} metadata fps {fps}"
    for path in sorted(folder.glob("camera_*.txt")):
        bad = _unsound(_literal(path.read_text(encoding="utf-8")))
        if bad:
            return "non-finite", f"{path.name}: {bad}"
        if "intrinsics" in path.name:
            for cam in _literal(path.read_text(encoding="utf-8")):
                if not (cam["res_w"] > 0 and cam["res_h"] > 0 and min(cam["focal_length"]) > 0):
                    return "non-finite", f"{path.name}: camera {cam.get('id')} size/focal not positive"
    return None


def _unsound(value):
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, dict):
            todo.extend(v.values())
        elif isinstance(v, (list, tuple)):
            todo.extend(v)
        elif isinstance(v, np.ndarray):
            if v.dtype.hasobject:
                todo.extend(v.flat)
            elif v.dtype.kind in "fc" and not np.isfinite(v).all():
                return f"array {v.shape} holds NaN/inf"
        elif isinstance(v, (float, np.floating)) and not math.isfinite(v):
            return f"value {v}"
    return None


def run_case(case, root, memory, seconds, keep=False):
    folder = Path(root) / f"case{case.number}"
    if folder.exists():
        shutil.rmtree(folder)
    size = 0
    for rel, data in case.files.items():
        size += len(data)
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    for rel, target in case.links.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(p) if target == "fifo" else os.symlink(target, p)
    folder.mkdir(parents=True, exist_ok=True)
    out_path = folder / "output.txt"
    before_mb = _resident_mb()
    t0 = time.monotonic()
    code = _fork_run(lambda: _case_body(case, folder), seconds, memory, out_path)
    elapsed = time.monotonic() - t0
    text = out_path.read_text(encoding="utf-8", errors="replace")
    outcome = classify(code, text)
    detail = _detail(text)
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return {"case": case.number, "kind": case.kind, "outcome": outcome, "code": code, "seconds": round(elapsed, 3),
            "own_mb": round(max(0.0, _fork_run.maxrss_kb / 1024 - before_mb), 1), "input_mb": round(size / 1e6, 3),
            "detail": detail, "argv": case.argv}


def _resident_mb():
    """This process's resident memory now: a forked child's peak counts these inherited pages too."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except (OSError, ValueError):
        return 0.0


def classify(code, text):
    if code == -signal.SIGALRM:
        return "over-time"
    if code < 0:
        return "over-memory" if code == -signal.SIGKILL else "crash"
    for outcome, exit_code in EXIT.items():
        if code == exit_code:
            return outcome
    if "Traceback (most recent call last)" in text:
        return "traceback"
    if "MemoryError" in text:
        return "over-memory"
    return "ok" if code == 0 else "clean-error"


def _detail(text):
    lines = [l for l in text.splitlines() if l.strip()]
    if "Traceback (most recent call last)" in text:
        tb = [l for l in lines if l.startswith("  File ")]
        return (tb[-1].strip() + " | " if tb else "") + (lines[-1] if lines else "")
    errors = [l for l in lines if "error" in l.lower() or "problem" in l.lower() or l.startswith(("fuzz:", "loader:"))]
    return (errors or lines or [""])[-1][:300]


def lane(numbers, seed, base, root, memory, seconds, results_path):
    sys.setrecursionlimit(20000)  # the fuzzer's own pickling of deeply nested structures
    with open(results_path, "w", encoding="utf-8") as out:
        for n in numbers:
            try:
                result = run_case(make_case(n, seed, base), root, memory, seconds)
            except Exception as exc:  # the fuzzer's own failure to make a case: counted, not fatal
                result = {"case": n, "kind": "?", "outcome": "fuzzer-error", "code": None, "seconds": 0,
                          "own_mb": 0, "input_mb": 0, "detail": f"{type(exc).__name__}: {exc}"[:300], "argv": []}
            out.write(json.dumps(result) + "\n")
            out.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--start", type=int, default=0, help="first case number")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--memory", type=float, default=2.0, help="GB of address space per case (RLIMIT_AS)")
    ap.add_argument("--time", type=float, default=60.0, help="seconds per case")
    ap.add_argument("--case", type=int, default=None, help="run this one case, print its output, keep its files")
    ap.add_argument("--keep", default=None, help="with --case: folder for its files")
    ap.add_argument("--results", default=None, help="write one JSON line per case here")
    a = ap.parse_args(argv)
    memory = int(a.memory * (1 << 30))
    work = Path(tempfile.mkdtemp(prefix="hpd3d-fuzz-"))
    try:
        base = prepare_base(work / "base")
        if a.case is not None:
            root = Path(a.keep or work)
            sys.setrecursionlimit(20000)
            case = make_case(a.case, a.seed, base)
            result = run_case(case, root, memory, a.time, keep=True)
            print((root / f"case{a.case}" / "output.txt").read_text(errors="replace"))
            print(json.dumps(result, indent=1))
            return 0 if result["outcome"] in ("ok", "clean-error") else 1
        t0 = time.monotonic()
        numbers = list(range(a.start, a.start + a.cases))
        pids, paths = [], []
        for j in range(a.jobs):
            path = work / f"lane{j}.jsonl"
            paths.append(path)
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    lane(numbers[j::a.jobs], a.seed, base, work / f"lane{j}", memory, a.time, path)
                except BaseException:
                    traceback.print_exc()
                    code = 1
                os._exit(code)
            pids.append(pid)
        failed = [pid for pid in pids if os.waitpid(pid, 0)[1] != 0]
        results = [json.loads(l) for p in paths if p.exists() for l in p.read_text().splitlines()]
        results.sort(key=lambda r: r["case"])
        if a.results:
            Path(a.results).write_text("".join(json.dumps(r) + "\n" for r in results))
        report(results, time.monotonic() - t0, a)
        if failed or len(results) != a.cases:
            print(f"fuzz: {a.cases - len(results)} case(s) not run (a lane failed)")
            return 2
        return 1 if any(r["outcome"] in BAD for r in results) else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(results, seconds, a):
    counts = Counter(r["outcome"] for r in results)
    print(f"fuzz: {len(results)} cases (seed {a.seed}, cases {a.start}..{a.start + a.cases - 1}) in {seconds:.0f} s, "
          f"limits {a.memory:g} GB / {a.time:g} s per case")
    for outcome in OUTCOMES:
        print(f"  {outcome:16s} {counts.get(outcome, 0)}")
    by_kind = Counter((r["kind"], r["outcome"]) for r in results)
    for kind, _ in KINDS:
        parts = ", ".join(f"{o} {by_kind[kind, o]}" for o in OUTCOMES if by_kind[kind, o])
        print(f"  {kind:8s} {parts}")
    if results:
        slowest = max(results, key=lambda r: r["seconds"])
        biggest = max(results, key=lambda r: r["own_mb"])
        rejected = [r for r in results if r["outcome"] == "clean-error" and r["input_mb"] > 1]
        ratio = max(rejected, key=lambda r: r["own_mb"] / r["input_mb"], default=None)
        print(f"  slowest case {slowest['case']} {slowest['seconds']} s; most memory: case {biggest['case']} "
              f"{biggest['own_mb']} MB over the fuzzer's own")
        if ratio:
            print(f"  rejected inputs over 1 MB: at most {ratio['own_mb'] / ratio['input_mb']:.1f} MB per MB of input "
                  f"(case {ratio['case']}, {ratio['input_mb']} MB)")
    shown = Counter()
    for r in results:
        if r["outcome"] in BAD and shown[r["detail"]] < 1:
            shown[r["detail"]] += 1
            print(f"  {r['outcome']}: case {r['case']} ({r['kind']}): {r['detail']}")
            if len(shown) >= 40:
                break


if __name__ == "__main__":
    sys.exit(main())
