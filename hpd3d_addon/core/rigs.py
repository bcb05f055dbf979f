"""Camera rigs around a subject: Human3.6M-like, rings, domes, random, or a JSON file; fitted to the motion.

Random rigs draw their cameras from a camera distribution (core/camera_sampling.py, `--camera-dist`).
Placement: a camera sits at `distance` metres from the target (the centre of the subject's motion) at an
azimuth measured from the subject's front (world -Y, where a BVH's +Z faces) counter-clockwise seen from
above, and an elevation angle. Fitting moves each camera back along its line of sight until every joint
of every frame is inside its image with `margin` pixels to spare (it never moves a camera closer).
"""
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import camera_sampling
from .cameras import Camera, look_at_rotation
from . import limits
from .errors import InputError
from .limits import UsageError
from .parallel import thread_map
from .projection import CHUNK_POINTS, project

# Human3.6M's four cameras: intrinsics in pixels, distortion, azimuth (VideoPose3D's metadata).
H36M_CAMERAS = [
    dict(id="54138969", focal=(1145.05, 1143.78), center=(512.54, 515.45), azimuth=70,
         radial=(-0.20709891, 0.24777518, -0.00307515), tangential=(-0.00097570, -0.00142447)),
    dict(id="55011271", focal=(1149.68, 1147.59), center=(508.85, 508.06), azimuth=-70,
         radial=(-0.19421363, 0.24040854, 0.00681998), tangential=(-0.00161903, -0.00274089)),
    dict(id="58860488", focal=(1149.14, 1148.80), center=(519.82, 501.40), azimuth=110,
         radial=(-0.20833819, 0.25548801, -0.00246050), tangential=(0.00148439, -0.00076000)),
    dict(id="60457274", focal=(1145.51, 1144.77), center=(514.97, 501.88), azimuth=-110,
         radial=(-0.19838409, 0.21832368, -0.00894781), tangential=(-0.00058721, -0.00181336)),
]
DEFAULT_DOME = ((8, 0.0), (8, 30.0), (8, 60.0))
FIT_TOLERANCE_PX = 1e-6  # fit_camera: rounding allowed at the margin


class RigError(UsageError):
    """A rig specification that cannot be built."""


@dataclass
class RigSettings:
    """What the user asks for. `kind`: h36m, ring, dome, random or json."""
    kind: str = "h36m"
    count: int = 4
    rings: tuple = DEFAULT_DOME
    distance: float = 5.0
    height: float = 1.6
    focal: float = 1145.0
    res_w: int = 1000
    res_h: int = 1000
    fit: bool = True
    margin: float = 20.0
    seed: int = 0
    distortion: str = "none"
    json_path: str = ""
    json_cameras: list = field(default_factory=list)
    camera_dist: str = "default"       # random rigs: a camera_sampling preset name or a JSON file
    camera_per: str = "subject"        # cameras per subject, or per take (each take its own subject)
    distribution: object = None        # the resolved CameraDistribution (random rigs), set by parse_rig

    def describe(self):
        if self.kind == "ring" or self.kind == "random":
            return f"{self.kind}:{self.count}"
        if self.kind == "dome":
            return "dome:" + ",".join(f"{n}@{e:g}" for n, e in self.rings)
        if self.kind == "json":
            return self.json_path
        return self.kind


def parse_rig(spec, **overrides):
    """RigSettings from a --rig string: h36m, ring:N, dome[:N@ELEV,...], random:N or a .json path.

    `camera_dist` (a preset name or JSON file) is resolved here; it is only for random:N rigs."""
    s = spec.strip()
    settings = RigSettings(**overrides)
    if settings.camera_per not in ("subject", "take"):
        raise RigError(f"invalid --camera-per '{settings.camera_per}': use subject or take")
    kind, _, arg = s.partition(":")
    kind = kind.lower()
    try:
        if kind == "h36m" and not arg:
            settings.kind, settings.count = "h36m", 4
        elif kind in ("ring", "random"):
            settings.kind, settings.count = kind, int(arg or 8)
            if settings.count < 1:
                raise ValueError
        elif kind == "dome":
            settings.kind = "dome"
            if arg:
                rings = []
                for part in arg.split(","):
                    n, _, elev = part.partition("@")
                    rings.append((int(n), float(elev or 0)))
                if any(n < 1 for n, _ in rings):
                    raise ValueError
                settings.rings = tuple(rings)
            settings.count = sum(n for n, _ in settings.rings)
        elif s.lower().endswith(".json"):
            settings.kind, settings.json_path = "json", s
            settings.json_cameras = _read_rig_json(s)
            settings.count = len(settings.json_cameras)
        else:
            raise ValueError
    except ValueError:
        raise RigError(f"invalid --rig '{spec}': use h36m, ring:N, dome:N@ELEV,N@ELEV..., random:N or FILE.json") from None
    if settings.kind == "random":
        settings.distribution = camera_sampling.resolve(settings.camera_dist)
    elif (settings.camera_dist or "default") != "default":
        raise RigError(f"--camera-dist {settings.camera_dist} is for --rig random:N (this rig is {settings.describe()})")
    return settings


def _read_rig_json(path):
    try:
        data = limits.read_json_file(path, "rig file")
    except InputError as exc:
        raise RigError(str(exc)) from None
    cams = data.get("cameras") if isinstance(data, dict) else data
    if not isinstance(cams, list) or not cams:
        raise RigError(f"{path}: a rig file holds {{\"cameras\": [...]}} with at least one camera")
    if not limits.in_range("cameras", len(cams)):
        raise RigError(f"{path}: {len(cams)} cameras; a rig has {limits.describe('cameras')}")
    for i, c in enumerate(cams):
        if not isinstance(c, dict) or not (("orientation" in c and "translation" in c) or "azimuth" in c):
            raise RigError(f"{path}: camera {i} needs orientation+translation, or azimuth (+elevation, distance)")
        try:
            _check_json_camera(c, (path, f"camera {i}"))
        except InputError as exc:
            raise RigError(str(exc)) from None
    return cams


def _numbers(value, count, name, where):
    """`value` as a list of `count` numbers, or InputError."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and count == 1:
        return [value]
    if not isinstance(value, list) or len(value) != count:
        raise InputError(where[0], f"{where[1]}: '{name}' must be a list of {count} numbers")
    return value


def _check_json_camera(c, where):
    """Every field a rig file's camera may give, typed and within limits.RANGES (InputError at `where`)."""
    path, cam = where
    at = lambda key: (path, f"{cam} '{key}'")  # noqa: E731
    for key, rng in (("azimuth", "angle"), ("roll", "angle"), ("elevation", "elevation"), ("distance", "distance")):
        if key in c:
            limits.number(rng, c[key], at(key))
    for key in ("res_w", "res_h"):
        if key in c:
            limits.number("resolution", c[key], at(key), integer=True)
    if "focal_length" in c:
        f = c["focal_length"]
        for v in (_numbers(f, 1, "focal_length", where) if not isinstance(f, list) else _numbers(f, 2, "focal_length", where)):
            limits.number("focal", v, at("focal_length"))
    if "center" in c:
        for v in _numbers(c["center"], 2, "center", where):
            limits.number("center_offset", v, at("center"), magnitude=True)
    for key, count in (("radial_distortion", 3), ("tangential_distortion", 2)):
        if key in c:
            for v in _numbers(c[key], count, key, where):
                limits.number("distortion", v, at(key), magnitude=True)
    if "orientation" in c:
        q = [limits.number("distortion", v, at("orientation"), magnitude=True)
             for v in _numbers(c["orientation"], 4, "orientation", where)]
        if sum(v * v for v in q) < 1e-12:
            raise InputError(path, f"{cam} 'orientation': a zero quaternion is not a rotation")
        for v in _numbers(c.get("translation"), 3, "translation", where):
            limits.number("translation_mm", v, at("translation"), magnitude=True)


def _distortion(settings, index):
    d = settings.distortion
    if d in ("", "none"):
        return np.zeros(3), np.zeros(2)
    if d == "h36m":
        c = H36M_CAMERAS[index % 4]
        return np.array(c["radial"]), np.array(c["tangential"])
    try:
        vals = [float(v) for v in d.split(",")]
    except ValueError:
        vals = []
    if len(vals) != 5:
        raise RigError(f"invalid --distortion '{d}': use none, h36m or k1,k2,k3,p1,p2")
    return np.array(vals[:3]), np.array(vals[3:])


def motion_target(points):
    """Centre of the axis-aligned box around all points (any leading shape, last axis 3)."""
    flat = points.reshape(-1, 3)
    return (flat.min(axis=0) + flat.max(axis=0)) / 2


def _placed(cid, target, azimuth, elevation, distance, roll, focal, center, res, radial, tangential):
    az, el = np.radians(azimuth), np.radians(elevation)
    direction = np.array([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)])
    position = target + distance * direction
    return Camera(id=str(cid), res_w=int(res[0]), res_h=int(res[1]), focal=np.asarray(focal, float),
                  center=np.asarray(center, float), rotation=look_at_rotation(position, target, roll),
                  translation=position, radial=radial, tangential=tangential, azimuth=float(azimuth))


def _sampled(cid, target, p, mid, res, radial, tangential):
    """A camera from sampled parameters (camera_sampling.PARAMETERS): looking at the target from elevation
    `pitch` when `height` is None, else standing at `height`, `distance` horizontally from the target,
    facing it and tilted down by `pitch`."""
    focal = (p["focal"], p["focal"])
    center = (mid[0] + p["principal_x"], mid[1] + p["principal_y"])
    if p["height"] is None:
        return _placed(cid, target, p["yaw"], p["pitch"], p["distance"], p["roll"], focal, center, res,
                       radial, tangential)
    az, tilt = np.radians(p["yaw"]), np.radians(p["pitch"])
    outward = np.array([np.sin(az), -np.cos(az), 0.0])
    position = np.array([target[0], target[1], p["height"]]) + p["distance"] * outward
    forward = -np.cos(tilt) * outward + np.array([0.0, 0.0, -np.sin(tilt)])
    return Camera(id=str(cid), res_w=int(res[0]), res_h=int(res[1]), focal=np.asarray(focal, float),
                  center=np.asarray(center, float), rotation=look_at_rotation(position, position + forward, p["roll"]),
                  translation=position, radial=radial, tangential=tangential, azimuth=float(p["yaw"]))


def _elevation_for_height(settings, target):
    """Elevation (degrees) that puts a camera at `settings.height` metres at `settings.distance`."""
    dz = np.clip((settings.height - target[2]) / settings.distance, -1, 1)
    return float(np.degrees(np.arcsin(dz)))


SHARED_CENTRE_POINTS = 1 << 22   # up to 4M points (96 MB) the fit shares one centred copy of the points
PROJECT_BLOCK_POINTS = 1 << 20   # the distortion check projects this many points at a time


def build_rig(settings, points, subject=""):
    """Cameras for one subject whose motion is `points` (..., 3) in world metres."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    target = motion_target(points)
    res = (settings.res_w, settings.res_h)
    mid = (settings.res_w / 2, settings.res_h / 2)
    cams = []
    if settings.kind == "h36m":
        el = _elevation_for_height(settings, target)
        for i, c in enumerate(H36M_CAMERAS):
            radial, tangential = _distortion(settings, i)
            cams.append(_placed(c["id"], target, c["azimuth"], el, settings.distance, 0.0, c["focal"],
                                c["center"], (1000, 1000), radial, tangential))
    elif settings.kind in ("ring", "dome"):
        rings = ((settings.count, None),) if settings.kind == "ring" else settings.rings
        k = 0
        for n, elev in rings:
            el = _elevation_for_height(settings, target) if elev is None else elev
            for i in range(n):
                radial, tangential = _distortion(settings, k)
                cams.append(_placed(f"cam{k:02d}", target, 360.0 * i / n, el, settings.distance, 0.0,
                                    (settings.focal, settings.focal), mid, res, radial, tangential))
                k += 1
    elif settings.kind == "random":
        dist = settings.distribution or camera_sampling.resolve(settings.camera_dist)
        rng = np.random.default_rng([settings.seed, zlib.crc32(subject.encode("utf-8"))])
        for k, p in enumerate(camera_sampling.sample(dist, rng, settings.count, settings)):
            radial, tangential = _distortion(settings, k)
            cams.append(_sampled(f"cam{k:02d}", target, p, mid, res, radial, tangential))
    elif settings.kind == "json":
        for k, c in enumerate(settings.json_cameras):
            cams.append(_json_camera(c, k, target, settings))
    else:
        raise RigError(f"unknown rig kind '{settings.kind}'")
    if settings.fit:
        # centred once for all the cameras, unless that copy would be large (a long take): then per block
        centered = points - target if len(points) <= SHARED_CENTRE_POINTS else None
        def fit(k):
            c = cams[k]
            return fit_camera(c, points, target, settings.margin, centered) if _movable(settings, k) else c
        cams = thread_map(fit, range(len(cams)))
    return cams


def _movable(settings, k):
    return settings.kind != "json" or "orientation" not in settings.json_cameras[k]


def _json_camera(c, k, target, settings):
    res = (int(c.get("res_w", settings.res_w)), int(c.get("res_h", settings.res_h)))
    focal = c.get("focal_length", settings.focal)
    focal = np.array([focal, focal] if np.isscalar(focal) else focal, dtype=float)
    center = np.array(c.get("center", (res[0] / 2, res[1] / 2)), dtype=float)
    default_radial, default_tangential = _distortion(settings, k)  # --distortion, unless the file says
    radial = np.array(c.get("radial_distortion", default_radial), dtype=float)
    tangential = np.array(c.get("tangential_distortion", default_tangential), dtype=float)
    cid = c.get("id", f"cam{k:02d}")
    if "orientation" in c:
        from .rotations import quaternion_to_matrix
        return Camera(id=str(cid), res_w=res[0], res_h=res[1], focal=focal, center=center,
                      rotation=quaternion_to_matrix(np.array(c["orientation"], float)),
                      translation=np.array(c["translation"], float) / 1000.0, radial=radial,
                      tangential=tangential, azimuth=float(c.get("azimuth", 0.0)))
    return _placed(cid, target, float(c["azimuth"]), float(c.get("elevation", 0.0)),
                   float(c.get("distance", settings.distance)), float(c.get("roll", 0.0)), focal, center, res,
                   radial, tangential)


def fit_camera(camera, points, target, margin, centered=None):
    """Move `camera` back along its line of sight until all points project inside its image with margin.

    `centered` may pass `points - target`, computed once for all the cameras of a rig (else it is computed
    block by block: the same numbers, no copy of the points).
    """
    forward = camera.rotation[:, 2]
    base = camera.translation
    d0 = float(np.dot(target - base, forward))             # current distance to the target along the axis
    # The camera moves along its own axis. Usually that axis passes through the target; a camera aimed
    # elsewhere (a sampled height and tilt) sees the target off the axis by (ox, oy): the bound below
    # takes the points relative to the axis point nearest the target, `aim`, instead.
    aim, (ox, oy, _) = target, (0.0, 0.0, 0.0)
    off = (target - (base + d0 * forward)) @ camera.rotation
    if np.hypot(off[0], off[1]) > 1e-9 * max(abs(d0), 1.0):
        aim, (ox, oy, _) = base + d0 * forward, off
    fx, fy = camera.focal
    cx, cy = camera.center
    lo_x, hi_x = (margin - cx) / fx, (camera.res_w - margin - cx) / fx
    lo_y, hi_y = (margin - cy) / fy, (camera.res_h - margin - cy) / fy
    if min(hi_x, -lo_x, hi_y, -lo_y) <= 0:
        raise RigError(f"camera {camera.id}: margin {margin:g} px leaves no room in a {camera.res_w}x{camera.res_h} image")
    # Pinhole bound: a / (c + d) within [lo, hi] for every point, with depth c + d > 0, where (a, b, c) are the
    # camera-axis coordinates relative to the target; in cache-sized blocks (maxima are exact in any order).
    need = -np.inf
    for start in range(0, len(points), CHUNK_POINTS):
        block = (centered[start:start + CHUNK_POINTS] if centered is not None
                 else points[start:start + CHUNK_POINTS] - target)
        local = block @ camera.rotation
        a, b, c = local[:, 0], local[:, 1], local[:, 2]
        if aim is not target:
            a += ox
            b += oy
        need = max(need, _max_of(a, hi_x, c), _max_of(a, lo_x, c), _max_of(b, hi_y, c), _max_of(b, lo_y, c),
                   float(np.max(0.05 - c)))
    d = max(d0, need)
    cam = camera
    if not camera.radial.any() and not camera.tangential.any() and max(-lo_x, hi_x, -lo_y, hi_y) <= 1:
        # Pinhole and the image inside the model's +-45 degree clamp: the bound is exact, nothing to check.
        return _with_translation(camera, aim - d * forward)
    for _ in range(60):  # distortion is not in the bound: check with the full model, step back if needed
        cam = _with_translation(camera, aim - d * forward)
        # The bound puts the outermost joint exactly on the margin: allow rounding there (FIT_TOLERANCE_PX), or a
        # 1e-13 px miss steps the camera 5% back and near-identical motions get very different rigs.
        lo, tol = margin - FIT_TOLERANCE_PX, FIT_TOLERANCE_PX
        if _all_inside(points, cam, lo, cam.res_w - margin + tol, cam.res_h - margin + tol):
            break
        d *= 1.05
    return cam


def _all_inside(points, cam, lo, hi_x, hi_y):
    """Whether every point projects within [lo, hi_x] x [lo, hi_y], projected in blocks (the extremes of the
    blocks are the extremes of the whole; a NaN fails both ways, as it did every comparison)."""
    for start in range(0, len(points), PROJECT_BLOCK_POINTS):
        px, _ = project(points[start:start + PROJECT_BLOCK_POINTS], cam)
        x, y = px[:, 0], px[:, 1]
        if not (x.min() >= lo and x.max() <= hi_x and y.min() >= lo and y.max() <= hi_y):
            return False
    return True


def _max_of(u, bound, c):
    """max(u / bound - c), in place in one temporary."""
    t = u / bound
    t -= c
    return np.max(t)


def _with_translation(camera, translation):
    return Camera(id=camera.id, res_w=camera.res_w, res_h=camera.res_h, focal=camera.focal,
                  center=camera.center, rotation=camera.rotation, translation=np.asarray(translation, float),
                  radial=camera.radial, tangential=camera.tangential, azimuth=camera.azimuth)
