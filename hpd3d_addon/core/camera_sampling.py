"""Camera distributions for `--rig random:N`: named presets or a JSON file, sampled with a seed.

A distribution gives each camera parameter its own distribution; `--camera-dist NAME|FILE.json` picks one
(`hpd3d rigs` lists the presets). Parameters, in the order they are drawn for each camera:

    yaw          degrees: azimuth of the camera around the target, 0 in front of the subject (world -Y),
                 counter-clockwise seen from above
    pitch        degrees: the optical axis below the horizon (positive: looking down)
    distance     metres from the target: along the line of sight, or horizontally when `height` is given
    focal        pixels (fx = fy)
    roll         degrees about the optical axis (positive: clockwise in the image)
    height       metres: camera height (world Z, as --height). Absent (null): the camera looks at the
                 target and pitch is its elevation above it. Given: the camera stands at that height and
                 `distance` horizontally from the target, tilted down by pitch (the target need not be
                 in the image centre: Human3.6M's cameras look at a point near the floor)
    principal_x  pixels: principal point offset from the image centre, x
    principal_y  pixels: the same, y

Each is one of (JSON form):
    {"dist": "uniform", "low": a, "high": b}
    {"dist": "normal", "mean": m, "std": s}
    {"dist": "truncnormal", "mean": m, "std": s, "low": a, "high": b}   normal restricted to [a, b]
    {"dist": "constant", "value": v}
plus an optional "times": "--distance" | "--focal" | "diagonal": the drawn value multiplies --distance,
--focal or the image diagonal sqrt(w^2 + h^2) in pixels. A JSON file holds {"description": ..., "yaw": ...,
...}; yaw, pitch, distance and focal are required, roll and the principal point default to constant 0,
height to absent.

Seeding: the cameras of one subject (or take, `--camera-per take`) come from
`numpy.random.default_rng([seed, crc32(name)])`, so they depend only on --seed and that name, never on
the worker count, shards or the order of the files. Draws go camera by camera in the order above; a
constant draws nothing. Fitting (rigs.py) then moves each camera back along its line of sight until
every joint of every frame is inside the image; it never moves a camera closer, so the fitted distances
are the sampled ones or larger.

Presets and their sources:
- `default`: the ranges `random:N` always had (yaw U(0, 360), elevation U(-5, 35), distance
  U(0.8, 1.4) x --distance, focal U(0.8, 1.25) x --focal, roll U(-5, 5)), same bits as before.
- `h36m-like`: Human3.6M's 28 cameras (4 cameras x 7 subjects, VideoPose3D's
  `common/h36m_dataset.py`, facebookresearch/VideoPose3D), computed from their extrinsics: horizontal
  distance 4.1-5.6 m, height 1.46-1.63 m, looking down 10.5-16 deg, roll within +-5 deg; focal lengths
  1143.8-1149.7 px; principal points 508.8-519.8 px (x) and 501.4-515.5 px (y) in 1000x1000/1002 images.
  Yaw is uniform: Human3.6M's subjects turn around inside the capture area, so the camera azimuth
  relative to the subject takes every value.
- `wham`: WHAM's synthetic cameras (yohanshin/WHAM, `lib/data/utils/augmentor.py:CameraAugmentor`, used on
  AMASS): yaw U(0, 2 pi), pitch N(pi/36, pi/8) = N(5, 22.5) deg, roll N(0, pi/24) = N(0, 7.5) deg,
  subject depth U(2, 12) m, focal sqrt(w^2 + h^2) (`lib/data/_dataset.py:get_naive_intrinsics`). Not
  modelled: WHAM's subject offset in the image (tx, ty) and its moving cameras; unlike WHAM, fitting keeps
  every joint in the image.
- `wide`: viewpoints Human3.6M never shows (its elevation and focal length barely vary; see
  ../shared/docs/training-realism.md section 4): elevations from below the subject to nearly overhead,
  rolls up to 30 deg, short to long lenses (focal 0.45-1.75 x the image diagonal: horizontal field of
  view 76 to 23 deg at 1000x1000), off-centre principal points. This project's choice, not a published distribution.
"""
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import HPD3DError
from .limits import UsageError

PARAMETERS = ("yaw", "pitch", "distance", "focal", "roll", "height", "principal_x", "principal_y")
UNITS = dict(yaw="deg", pitch="deg", distance="m", focal="px", roll="deg", height="m", principal_x="px",
             principal_y="px")
REQUIRED = ("yaw", "pitch", "distance", "focal")
POSITIVE = ("distance", "focal")  # parameters whose distribution must stay > 0
KINDS = {"uniform": ("low", "high"), "normal": ("mean", "std"), "truncnormal": ("mean", "std", "low", "high"),
         "constant": ("value",)}
TIMES = {"distance": ("--distance",), "focal": ("--focal", "diagonal")}


class CameraDistError(UsageError):  # a --camera-dist problem: exit code 2
    """A camera distribution that cannot be used."""


@dataclass(frozen=True)
class Dist:
    """One parameter's distribution: kind (uniform, normal, truncnormal, constant), the numbers that kind
    takes (KINDS), and an optional scale ("--distance", "--focal", "diagonal") the drawn value multiplies."""
    kind: str
    low: float = None
    high: float = None
    mean: float = None
    std: float = None
    value: float = None
    times: str = ""

    @property
    def args(self):
        return tuple(getattr(self, n) for n in KINDS[self.kind])

    def draw(self, rng):
        """One value (before `times`); a constant draws nothing from rng."""
        if self.kind == "constant":
            return self.value
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high)
        if self.kind == "normal":
            return rng.normal(self.mean, self.std)
        while True:  # truncnormal by rejection: exact; check_dist makes sure the acceptance is not tiny
            v = rng.normal(self.mean, self.std)
            if self.low <= v <= self.high:
                return v

    def support(self):
        """(lowest, highest) value the distribution can give (before `times`)."""
        if self.kind == "constant":
            return self.value, self.value
        if self.kind == "normal":
            return -math.inf, math.inf
        return self.low, self.high

    def to_json(self):
        d = {"dist": self.kind, **dict(zip(KINDS[self.kind], self.args))}
        if self.times:
            d["times"] = self.times
        return d

    def describe(self):
        if self.kind == "truncnormal":
            text = f"N({self.mean:g}, {self.std:g}) in [{self.low:g}, {self.high:g}]"
        else:
            a = ", ".join(f"{v:g}" for v in self.args)
            text = {"uniform": f"U({a})", "normal": f"N({a})", "constant": a}[self.kind]
        return f"{text} x {self.times}" if self.times else text


def uniform(low, high, times=""):
    return Dist("uniform", low=float(low), high=float(high), times=times)


def normal(mean, std, times=""):
    return Dist("normal", mean=float(mean), std=float(std), times=times)


def truncnormal(mean, std, low, high, times=""):
    return Dist("truncnormal", low=float(low), high=float(high), mean=float(mean), std=float(std), times=times)


def constant(value, times=""):
    return Dist("constant", value=float(value), times=times)


@dataclass(frozen=True)
class CameraDistribution:
    """A distribution of cameras: one Dist per parameter (height None: the camera looks at the target)."""
    name: str
    description: str
    yaw: Dist
    pitch: Dist
    distance: Dist
    focal: Dist
    roll: Dist = field(default_factory=lambda: constant(0))
    height: object = None
    principal_x: Dist = field(default_factory=lambda: constant(0))
    principal_y: Dist = field(default_factory=lambda: constant(0))

    def items(self):
        """(parameter, Dist) in drawing order, without an absent height."""
        return [(p, getattr(self, p)) for p in PARAMETERS if getattr(self, p) is not None]

    def to_json(self):
        d = {"description": self.description}
        d.update({p: (None if getattr(self, p) is None else getattr(self, p).to_json()) for p in PARAMETERS})
        return d

    def lines(self):
        """Human-readable parameters, as `hpd3d rigs` prints them."""
        out = [f"{self.name}: {self.description}"]
        for p in PARAMETERS:
            d = getattr(self, p)
            if d is None:
                text = "absent: the camera looks at the target, pitch is its elevation"
            else:
                text = d.describe() + ("" if d.times else f" {UNITS[p]}")
            out.append(f"  {p:12s} {text}")
        return out


PRESETS = {
    "default": CameraDistribution(
        "default", "random:N's ranges before camera distributions existed (the default; same output)",
        yaw=uniform(0, 360), pitch=uniform(-5, 35), distance=uniform(0.8, 1.4, "--distance"),
        focal=uniform(0.8, 1.25, "--focal"), roll=uniform(-5, 5)),
    "h36m-like": CameraDistribution(
        "h36m-like", "Human3.6M's 28 cameras (VideoPose3D common/h36m_dataset.py): standing height, "
        "looking down 10.5-16 deg, 4.1-5.6 m away, f ~1145 px",
        yaw=uniform(0, 360), pitch=uniform(10.5, 16), distance=uniform(4.1, 5.6), focal=uniform(1143.8, 1149.7),
        roll=uniform(-5, 5), height=uniform(1.46, 1.63), principal_x=uniform(8.8, 19.8),
        principal_y=uniform(0.9, 14.5)),
    "wham": CameraDistribution(
        "wham", "WHAM's synthetic cameras (yohanshin/WHAM lib/data/utils/augmentor.py CameraAugmentor): "
        "any yaw, pitch N(5, 22.5) deg, roll N(0, 7.5) deg, depth U(2, 12) m, focal = image diagonal",
        yaw=uniform(0, 360), pitch=normal(5, 22.5), distance=uniform(2, 12), focal=constant(1, "diagonal"),
        roll=normal(0, 7.5)),
    "wide": CameraDistribution(
        "wide", "unseen views: elevation -20 to 75 deg, rolls to 30 deg, focal 0.45-1.75 x the image "
        "diagonal (636-2475 px, horizontal FOV 76-23 deg at 1000x1000), off-centre principal points",
        yaw=uniform(0, 360), pitch=uniform(-20, 75), distance=uniform(2.5, 10),
        focal=uniform(0.45, 1.75, "diagonal"),
        roll=truncnormal(0, 12, -30, 30), principal_x=truncnormal(0, 20, -50, 50),
        principal_y=truncnormal(0, 20, -50, 50)),
}


def resolve(spec):
    """The CameraDistribution for a --camera-dist value: a preset name or a JSON file path."""
    s = (spec or "default").strip()
    if s in PRESETS:
        return PRESETS[s]
    if s.lower().endswith(".json"):
        return read_json(s)
    raise CameraDistError(f"unknown --camera-dist '{spec}': use {', '.join(PRESETS)} or FILE.json "
                          "(see `hpd3d rigs`)")


def read_json(path):
    """A CameraDistribution from a JSON file (format in this module's docstring)."""
    from .errors import InputError
    from .limits import read_json_file
    try:
        data = read_json_file(path, "camera distribution")  # size, depth and strict-JSON bounded
    except InputError as exc:
        raise CameraDistError(f"cannot read camera distribution: {exc}") from None
    if not isinstance(data, dict):
        raise CameraDistError(f"{path}: a camera distribution is a JSON object of parameters")
    unknown = sorted(set(data) - set(PARAMETERS) - {"description", "name"})
    if unknown:
        raise CameraDistError(f"{path}: unknown key(s) {', '.join(unknown)}; parameters are {', '.join(PARAMETERS)}")
    missing = [p for p in REQUIRED if data.get(p) is None]
    if missing:
        raise CameraDistError(f"{path}: missing {', '.join(missing)}")
    dists = {p: parse_dist(data[p], p, path) for p in PARAMETERS if data.get(p) is not None}
    return CameraDistribution(name=str(data.get("name", path)), description=str(data.get("description", "")),
                              **dists)


def parse_dist(d, parameter, source):
    """A Dist from its JSON form, checked (one error line naming the file and the parameter)."""
    where = f"{source}: {parameter}"
    if not isinstance(d, dict) or not isinstance(d.get("dist"), str) or d["dist"] not in KINDS:
        raise CameraDistError(f"{where}: give {{\"dist\": {' | '.join(KINDS)}, ...}}")
    names = KINDS[d["dist"]]
    extra = sorted(set(d) - set(names) - {"dist", "times"})
    if extra:
        raise CameraDistError(f"{where}: unknown key(s) {', '.join(extra)} for {d['dist']} (takes {', '.join(names)})")
    try:
        args = tuple(float(d[n]) for n in names)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise CameraDistError(f"{where}: {d['dist']} needs numbers {', '.join(names)}") from None
    if not all(math.isfinite(a) for a in args):
        raise CameraDistError(f"{where}: values must be finite")
    times = d.get("times", "")
    if times and (not isinstance(times, str) or times not in TIMES.get(parameter, ())):
        allowed = TIMES.get(parameter)
        raise CameraDistError(f"{where}: 'times' must be {' or '.join(allowed)}" if allowed else
                              f"{where}: 'times' is only for distance and focal")
    dist = Dist(d["dist"], times=times, **dict(zip(names, args)))
    check_dist(dist, where, positive=parameter in POSITIVE)
    return dist


def check_dist(dist, where, positive=False):
    lo, hi = dist.support()
    if dist.kind in ("normal", "truncnormal") and not dist.std > 0:
        raise CameraDistError(f"{where}: std must be > 0")
    if dist.kind in ("uniform", "truncnormal") and not lo < hi:
        raise CameraDistError(f"{where}: low must be < high")
    if dist.kind == "truncnormal" and normal_cdf(hi, dist.mean, dist.std) - normal_cdf(lo, dist.mean, dist.std) < 1e-3:
        raise CameraDistError(f"{where}: [low, high] holds less than 0.1% of the normal (too far from the mean)")
    if positive and not lo > 0:
        raise CameraDistError(f"{where}: must stay > 0 (use uniform, truncnormal or constant with low > 0)")


def normal_cdf(x, mean, std):
    return 0.5 * (1 + math.erf((x - mean) / (std * math.sqrt(2))))


def scale_of(dist, settings):
    """The factor `times` stands for, from the rig settings (--distance, --focal, --resolution)."""
    if dist.times == "--distance":
        return settings.distance
    if dist.times == "--focal":
        return settings.focal
    if dist.times == "diagonal":
        return math.hypot(settings.res_w, settings.res_h)
    return 1.0


def sample(distribution, rng, count, settings):
    """`count` cameras' parameters: a list of {parameter: value} (degrees, metres, pixels), drawn camera by
    camera in PARAMETERS order from `rng`; an absent height is None."""
    items = distribution.items()
    scales = {p: scale_of(d, settings) for p, d in items}
    cams = []
    for _ in range(count):
        values = dict.fromkeys(PARAMETERS)
        for p, d in items:
            v = d.draw(rng)
            values[p] = v * scales[p] if d.times else v
        cams.append(values)
    return cams
