"""The documented ranges of every number HPD3D takes in (README, "Limits"), and the checks that enforce them.

Every value from a file or an option is finite and inside its range before it reaches an array: out of
range is a one-line error naming the file (or the option), never a NaN, an inf fps or a 0 fps dataset.
Sizes follow the bytes present: a header's claim (frame count, channel count) is only believed once the
values are there, and the derived sizes (resampled frames, cameras) have caps of their own.
"""
import math
import numbers

from .errors import HPD3DError, InputError


class UsageError(HPD3DError):
    """An option (or add-on setting) out of its documented range: exit code 2."""


# name: (low, high, unit, what) - inclusive ranges
RANGES = {
    "fps": (0.1, 1000.0, "frames/s", "frame rate (a file's 1/Frame Time, and --fps)"),
    "scale": (1e-6, 1e3, "m per unit", "BVH unit (--scale)"),
    "body_height": (0.01, 100.0, "m", "standing height of a skeleton after scaling"),
    "coordinate": (0.0, 1e5, "m", "distance of any joint from the origin after scaling"),
    "bvh_value": (0.0, 1e9, "", "magnitude of any BVH OFFSET or motion value"),
    "distance": (0.01, 1e4, "m", "camera distance (--distance, rig files)"),
    "height": (-1e4, 1e4, "m", "camera height (--height)"),
    "translation_mm": (0.0, 1e7, "mm", "magnitude of an explicit camera position (rig files)"),
    "focal": (1.0, 1e6, "px", "focal length (--focal, rig files)"),
    "resolution": (1, 16384, "px", "image width and height (--resolution, rig files)"),
    "margin": (0.0, 8192.0, "px", "fit margin (--margin), also less than half the smaller image side"),
    "elevation": (-90.0, 90.0, "deg", "camera elevation (dome rings, rig files)"),
    "angle": (-1e4, 1e4, "deg", "camera azimuth and roll (rig files)"),
    "center_offset": (0.0, 1e5, "px", "magnitude of a principal point coordinate (rig files)"),
    "distortion": (0.0, 100.0, "", "magnitude of a distortion coefficient (--distortion, rig files)"),
    "cameras": (1, 1000, "", "cameras per subject (ring:N, dome, random:N, rig files)"),
    "joints": (1, 10000, "", "points (joints and End Sites) of a BVH skeleton"),
    "depth": (1, 1000, "", "nesting depth of a BVH hierarchy"),
    "upsample": (0.0, 100.0, "x", "frames after --fps resampling, relative to the file's frames"),
    "seed": (0, 2 ** 63 - 1, "", "seed (--seed, --noise-seed)"),
    "weight": (0.0, 10.0, "", "magnitude of a blend weight in a mapping file (the weights sum to 1)"),
    "noise": (0.0, 1e4, "", "detector noise model parameters (--noise FILE.json; px, s, scales)"),
    "rate": (0.0, 1.0, "", "rates and confidences of a noise model file"),
}
MAX_TEXT_BYTES = 64 << 20   # JSON rig, mapping, camera-distribution and camera_*.txt files
MAX_JSON_DEPTH = 64         # nesting of those files (ours use 4)


def table():
    """The README's table of limits (a test keeps the README in step)."""
    return "\n".join(["| what | accepted |", "| --- | --- |"] +
                     [f"| {what} | {describe(name)} |" for name, (_, _, _, what) in RANGES.items()])


def describe(name):
    low, high, unit, what = RANGES[name]
    return f"{_g(low)} to {_g(high)}{' ' + unit if unit else ''}"


def _g(v):
    return f"{v:g}" if isinstance(v, float) else str(v)


def in_range(name, value, magnitude=False):
    """Whether `value` (a real number) is finite and inside RANGES[name] (its magnitude, when asked)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        v = float(value)
    except (OverflowError, ValueError):
        return False
    if not math.isfinite(v):
        return False
    low, high = RANGES[name][:2]
    if magnitude:
        v = abs(v)
    return low <= v <= high


def option(name, value, flag):
    """`value` if in range, else UsageError naming the option `flag`."""
    if not in_range(name, value):
        shown = f"{value:g}" if isinstance(value, float) else repr(value)
        raise UsageError(f"invalid {flag} {shown}: must be {describe(name)} ({RANGES[name][3]})")
    return value


def number(name, value, where, magnitude=False, integer=False):
    """A value read from a file: float (int when `integer`) if in range, else InputError at `where`
    (a path, or (path, detail))."""
    if integer and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        ok = isinstance(value, float) and value.is_integer() and in_range(name, value, magnitude)
    else:
        ok = in_range(name, value, magnitude)
    if not ok:
        path, detail = where if isinstance(where, tuple) else (where, "")
        bound = f"its magnitude must be at most {_g(RANGES[name][1])}" if magnitude else f"must be {describe(name)}"
        shown = value if isinstance(value, (numbers.Real, str, type(None))) else type(value).__name__
        raise InputError(path, f"{detail + ': ' if detail else ''}{shown!r} is not valid: {bound} "
                               f"({RANGES[name][3]})")
    return int(value) if integer else float(value)


def check_depth(value, where, limit=MAX_JSON_DEPTH):
    """InputError when a parsed JSON/literal structure nests deeper than `limit` (checked iteratively)."""
    todo = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if depth > limit:
            raise InputError(where, f"nested deeper than {limit} levels")
        if isinstance(item, dict):
            todo.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            todo.extend((v, depth + 1) for v in item)


def read_json_file(path, what):
    """A JSON file for `what` ('rig file', 'mapping file', ...): size-bounded, strict (no NaN/Infinity),
    nesting-bounded. InputError with one line naming the file otherwise."""
    import json
    from pathlib import Path
    path = Path(path)
    try:
        if path.stat().st_size > MAX_TEXT_BYTES:
            raise InputError(path, f"larger than {MAX_TEXT_BYTES >> 20} MB: not a {what}")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot read {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(path, f"not UTF-8 text: not a {what}") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc.msg}, column {exc.colno})", exc.lineno) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise InputError(path, f"not valid JSON ({exc if isinstance(exc, ValueError) else 'nested too deeply'})") from None
    check_depth(data, path)
    return data


def _no_constant(name):
    raise ValueError(f"{name} is not a number in JSON")


def check_options(options):
    """Every number of a GenerateOptions (and its RigSettings) within RANGES, before any file is read:
    UsageError naming the option. The CLI and the add-on both go through it (DatasetBuilder calls it)."""
    import re
    if options.fps is not None:
        option("fps", options.fps, "--fps")
    if options.scale != "auto":
        option("scale", options.scale, "--scale")
    name = str(options.name)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}", name):
        raise UsageError(f"invalid --name {name!r}: use 1 to 128 letters, digits, '_', '.', '+' or '-' "
                         "(no path separators), starting with a letter or digit")
    rig = options.rig
    option("distance", rig.distance, "--distance")
    option("height", rig.height, "--height")
    option("focal", rig.focal, "--focal")
    for v in (rig.res_w, rig.res_h):
        if not isinstance(v, numbers.Integral) or not in_range("resolution", v):
            raise UsageError(f"invalid --resolution {rig.res_w}x{rig.res_h}: each side must be "
                             f"{describe('resolution')}")
    option("margin", rig.margin, "--margin")
    if rig.fit and rig.margin * 2 >= min(rig.res_w, rig.res_h):
        raise UsageError(f"invalid --margin {rig.margin:g}: it must be less than half the image's smaller side "
                         f"({min(rig.res_w, rig.res_h)} px)")
    if isinstance(rig.seed, bool) or not isinstance(rig.seed, numbers.Integral) or not in_range("seed", rig.seed):
        raise UsageError(f"invalid --seed {rig.seed!r}: must be {describe('seed')}")
    if rig.kind in ("ring", "random", "dome", "json") and not in_range("cameras", rig.count):
        raise UsageError(f"invalid --rig {rig.describe()}: {rig.count} cameras; a rig has {describe('cameras')}")
    if rig.kind == "dome":
        for n, elev in rig.rings:
            if n < 1 or not in_range("elevation", elev):
                raise UsageError(f"invalid --rig {rig.describe()}: each ring needs N >= 1 cameras at an elevation "
                                 f"of {describe('elevation')}")
    check_distortion(rig.distortion)
    noise_seed = getattr(options, "noise_seed", None)
    if noise_seed is not None and (isinstance(noise_seed, bool) or not isinstance(noise_seed, numbers.Integral)
                                   or not in_range("seed", noise_seed)):
        raise UsageError(f"invalid --noise-seed {noise_seed!r}: must be {describe('seed')}")


def check_distortion(spec):
    """--distortion none | h36m | k1,k2,k3,p1,p2 with finite coefficients within RANGES['distortion']."""
    if spec in ("", "none", "h36m"):
        return
    try:
        values = [float(v) for v in str(spec).split(",")]
    except ValueError:
        values = []
    if len(values) != 5 or not all(in_range("distortion", v, magnitude=True) for v in values):
        raise UsageError(f"invalid --distortion {spec!r}: use none, h36m or k1,k2,k3,p1,p2 (numbers of magnitude "
                         f"at most {_g(RANGES['distortion'][1])})")
