"""Self-occlusion: which joints the body itself hides from a camera, from a capsule model of the body.

The body is a set of capsules (a segment between two joints, with a radius) built from the skeleton's own
bone lengths. A point is *occluded* from a camera when the line of sight from the camera centre to the point
passes through a capsule that does not contain the point (a joint lies inside its own limbs, so those never
hide it). Points with an outward surface normal (the face points of COCO-17) are also occluded when they face
away from the camera (the head hides its own back side). Everything is vectorised over frames, points and
capsules; cameras are a short loop.

Capsule radii (`H36M_CAPSULES`) are fractions of the length of the capsule's own bone (limbs), or of the
sequence's median pelvis-to-thorax length (torso, neck, head; it is the most stable length across skeleton
families, whose head tops and hips differ). Rationale: rounded adult means of segment circumference /
(2 pi) over segment length, from the ANSUR II (2012) anthropometric survey (values from memory, rounded;
*unverified* to the millimetre, which the model does not need):
upper arm circumference ~30 cm over a ~30 cm shoulder-elbow length -> 0.16; forearm ~26 cm (tapering to a
~17 cm wrist) over ~26 cm -> 0.14; thigh ~58 cm at the top (~39 cm at the knee) over ~43 cm -> 0.18;
calf ~37 cm (ankle ~23 cm) over ~43 cm -> 0.12. Torso: chest depth ~24 cm, breadth ~33 cm over a ~50 cm
pelvis-thorax length: a central column of radius 0.22 (11 cm) plus flank capsules hip -> shoulder of 0.14
(7 cm) give the breadth; a pelvis capsule between the hips of 0.18 (9 cm); neck 0.10 (5 cm); head (breadth
~15.5 cm, length ~19.5 cm) 0.18 (9 cm) about the head joint -> head top line.

Interior joints: Human3.6M's pelvis centre, spine and thorax (`INTERIOR_JOINTS`) lie inside the torso, so
any ray to them crosses some torso capsule (the near hip's, the flanks'); a detector places them from the
torso it sees. The torso capsules therefore never hide them; the limbs and the head still do.
"""
from dataclasses import dataclass

import numpy as np

# (from joint, to joint, radius fraction, of what: 'bone' = the capsule's own length, 'torso' = Hip-Thorax)
H36M_CAPSULES = (
    ("Hip", "Spine", 0.22, "torso"), ("Spine", "Thorax", 0.22, "torso"),
    ("LHip", "LShoulder", 0.14, "torso"), ("RHip", "RShoulder", 0.14, "torso"),
    ("LHip", "RHip", 0.18, "torso"),
    ("Thorax", "Neck/Nose", 0.10, "torso"), ("Neck/Nose", "Head", 0.18, "torso"),
    ("LShoulder", "LElbow", 0.16, "bone"), ("LElbow", "LWrist", 0.14, "bone"),
    ("RShoulder", "RElbow", 0.16, "bone"), ("RElbow", "RWrist", 0.14, "bone"),
    ("LHip", "LKnee", 0.18, "bone"), ("LKnee", "LFoot", 0.12, "bone"),
    ("RHip", "RKnee", 0.18, "bone"), ("RKnee", "RFoot", 0.12, "bone"),
)
TORSO_CAPSULES = 6          # the first six of H36M_CAPSULES: torso column, flanks, pelvis, neck
INTERIOR_JOINTS = ("Hip", "Spine", "Thorax")
GENERIC_BONE_RADIUS = 0.15  # other layouts ('source'): one capsule per bone, radius 0.15 x its length
FRAMES_PER_BLOCK = 2048     # frames per vectorised block (keeps the (F, P, K, 3) temporaries small)


@dataclass
class Capsules:
    """K capsules over a sequence: segment ends start/end (F, K, 3) in metres, radii (K,)."""
    start: np.ndarray
    end: np.ndarray
    radius: np.ndarray
    names: tuple = ()
    torso: np.ndarray = None   # (K,) bool: part of the torso (ignored for INTERIOR_JOINTS)

    def ignored_for(self, point_names):
        """(P, K) bool: capsule k never hides point p (the torso, for the interior joints)."""
        torso = np.zeros(len(self.radius), bool) if self.torso is None else self.torso
        interior = np.array([n in INTERIOR_JOINTS for n in point_names], bool)
        return interior[:, None] & torso[None, :]


def body_capsules(joints, joint_names, parents):
    """Capsules for joints (F, J, 3): the H36M-17 body model when the names are H36M's, else one per bone."""
    joints = np.asarray(joints, dtype=np.float64)
    index = {n: i for i, n in enumerate(joint_names)}
    if all(a in index and b in index for a, b, _, _ in H36M_CAPSULES):
        torso = np.median(np.linalg.norm(joints[:, index["Thorax"]] - joints[:, index["Hip"]], axis=-1))
        pairs = [(index[a], index[b]) for a, b, _, _ in H36M_CAPSULES]
        radii = []
        for (i, k), (_, _, frac, of) in zip(pairs, H36M_CAPSULES):
            length = torso if of == "torso" else np.median(np.linalg.norm(joints[:, k] - joints[:, i], axis=-1))
            radii.append(frac * length)
        names = tuple(f"{a}-{b}" for a, b, _, _ in H36M_CAPSULES)
        torso = np.arange(len(pairs)) < TORSO_CAPSULES
    else:
        pairs = [(p, j) for j, p in enumerate(parents) if p >= 0]
        radii = [GENERIC_BONE_RADIUS * np.median(np.linalg.norm(joints[:, j] - joints[:, p], axis=-1))
                 for p, j in pairs]
        names = tuple(f"{joint_names[p]}-{joint_names[j]}" for p, j in pairs)
        torso = np.zeros(len(pairs), bool)
    a = np.array([p[0] for p in pairs], dtype=int)
    b = np.array([p[1] for p in pairs], dtype=int)
    return Capsules(joints[:, a], joints[:, b], np.asarray(radii, dtype=np.float64), names, torso)


def _xyz(v):
    """The three coordinates of (..., 3) as separate arrays: arithmetic on them avoids numpy's slow
    length-3 innermost axis (about 3x faster here)."""
    v = np.asarray(v, dtype=np.float64)
    return v[..., 0], v[..., 1], v[..., 2]


def _dot(u, v):
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def _point_segment_sq(p, a, ab, ab2):
    """Squared distance from points p to segments a + t ab, t in [0, 1] (coordinate tuples, broadcast)."""
    ap = (p[0] - a[0], p[1] - a[1], p[2] - a[2])
    t = np.clip(_dot(ap, ab) / np.where(ab2 > 0, ab2, 1.0), 0.0, 1.0)
    g = (ap[0] - t * ab[0], ap[1] - t * ab[1], ap[2] - t * ab[2])
    return _dot(g, g)


def _segment_segment_sq(r, d1, d2, a, e):
    """Squared distance between segments p0 + s d1 and q0 + t d2 (r = p0 - q0, a = |d1|^2, e = |d2|^2;
    coordinate tuples, broadcast): Ericson, Real-Time Collision Detection (2005), section 5.1.9,
    ClosestPtSegmentSegment, with its branches as masks."""
    f = _dot(d2, r)
    c = _dot(d1, r)
    b = _dot(d1, d2)
    a_ok, e_ok = a > 1e-18, e > 1e-18
    safe_a, safe_e = np.where(a_ok, a, 1.0), np.where(e_ok, e, 1.0)
    denom = a * e - b * b
    ok = denom > 1e-18
    s = np.where(ok, np.clip((b * f - c * e) / np.where(ok, denom, 1.0), 0.0, 1.0), 0.0)
    t = (b * s + f) / safe_e
    s = np.where(t < 0, np.clip(-c / safe_a, 0.0, 1.0), np.where(t > 1, np.clip((b - c) / safe_a, 0.0, 1.0), s))
    t = np.clip(t, 0.0, 1.0)
    if not (np.all(e_ok) and np.all(a_ok)):  # degenerate segments: a point against a segment (or two points)
        s = np.where(e_ok, s, np.clip(-c / safe_a, 0.0, 1.0))
        t = np.where(e_ok, t, 0.0)
        s = np.where(a_ok, s, 0.0)
        t = np.where(a_ok, t, np.where(e_ok, np.clip(f / safe_e, 0.0, 1.0), 0.0))
    g = (r[0] + s * d1[0] - t * d2[0], r[1] + s * d1[1] - t * d2[1], r[2] + s * d1[2] - t * d2[2])
    return _dot(g, g)


def point_segment_distance(p, a, b):
    """Distance from points p (..., 3) to segments a-b (..., 3), broadcast."""
    a, b = _xyz(a), _xyz(b)
    ab = (b[0] - a[0], b[1] - a[1], b[2] - a[2])
    return np.sqrt(_point_segment_sq(_xyz(p), a, ab, _dot(ab, ab)))


def segment_segment_distance(p0, p1, q0, q1):
    """Smallest distance between segments p0-p1 and q0-q1 (..., 3), broadcast."""
    p0, p1, q0, q1 = _xyz(p0), _xyz(p1), _xyz(q0), _xyz(q1)
    d1 = tuple(x1 - x0 for x0, x1 in zip(p0, p1))
    d2 = tuple(x1 - x0 for x0, x1 in zip(q0, q1))
    r = tuple(x0 - y0 for x0, y0 in zip(p0, q0))
    return np.sqrt(_segment_segment_sq(r, d1, d2, _dot(d1, d1), _dot(d2, d2)))


def occlusion_masks(points, capsules, cameras, normals=None, ignored=None):
    """[(F, P) bool] per camera: points (F, P, 3) hidden from each camera's centre by `capsules` (over the
    same F frames).

    A point is hidden when the segment from the camera centre to it comes closer than a capsule's radius to
    that capsule's axis, for a capsule that does not contain the point; normals (F, P, 3) or None: a point
    whose normal faces away from the camera is hidden too (zero normal: no such test); ignored (P, K) bool
    or None: capsules that never hide a point (Capsules.ignored_for). Vectorised over blocks of frames, the
    points and the capsules; what does not depend on the camera (which capsules contain which point) is
    computed once per block."""
    points = np.asarray(points, dtype=np.float64)
    F = points.shape[0]
    out = [np.zeros(points.shape[:2], dtype=bool) for _ in cameras]
    r2 = capsules.radius ** 2
    for lo in range(0, F, FRAMES_PER_BLOCK):
        hi = min(F, lo + FRAMES_PER_BLOCK)
        pts = tuple(x[:, :, None] for x in _xyz(points[lo:hi]))             # (f, P, 1)
        q0 = tuple(x[:, None, :] for x in _xyz(capsules.start[lo:hi]))       # (f, 1, K)
        q1 = tuple(x[:, None, :] for x in _xyz(capsules.end[lo:hi]))
        d2 = tuple(b - a for a, b in zip(q0, q1))
        e = _dot(d2, d2)
        skip = _point_segment_sq(pts, q0, d2, e) < r2                        # the point's own body parts
        if ignored is not None:
            skip |= ignored
        for k, cam in enumerate(cameras):
            c = [float(v) for v in cam.translation]
            d1 = (pts[0] - c[0], pts[1] - c[1], pts[2] - c[2])               # camera -> point
            r = (c[0] - q0[0], c[1] - q0[1], c[2] - q0[2])
            crossed = _segment_segment_sq(r, d1, d2, _dot(d1, d1), e) < r2
            hidden = np.any(crossed & ~skip, axis=-1)
            if normals is not None:
                n = _xyz(normals[lo:hi])
                hidden |= _dot(n, (c[0] - pts[0][..., 0], c[1] - pts[1][..., 0], c[2] - pts[2][..., 0])) < 0
            out[k][lo:hi] = hidden
    return out


def occluded_from(points, capsules, centre, normals=None, ignored=None):
    """(F, P) bool: occlusion_masks for one camera centre (3,)."""
    class _At:
        translation = np.asarray(centre, dtype=np.float64)
    return occlusion_masks(points, capsules, [_At], normals, ignored)[0]


__all__ = ["H36M_CAPSULES", "Capsules", "body_capsules", "occluded_from", "occlusion_masks",
           "point_segment_distance", "segment_segment_distance"]
