"""Synthesise the embedded sample BVH: 4 s of walking at 30 fps, made by this project (no mocap source).

    python tools/make_sample_bvh.py [OUT.bvh]   (default: hpd3d_addon/samples/hpd3d_sample_walk.bvh)

Deterministic: the same script writes the same bytes. The skeleton is a neutral adult (1.73 m to the top
of the head) in centimetres, Y up, facing +Z, in LaFAN1-style names (Hips, LeftUpLeg, LeftLeg, LeftFoot,
LeftToe, Spine, Spine1, Spine2, Neck, Head, LeftShoulder, LeftArm, LeftForeArm, LeftHand, Right...), rest
pose a T-pose; the root has 6 channels, every other joint 3 rotation channels in ZXY order. The motion is
a gait cycle built from smooth periodic curves (hip/knee/ankle/toe flexion, pelvis bob, sway, twist and
tilt, counter-rotating spine, arm swing opposite to the legs, elbow flexion, head stabilisation). The
pelvis height keeps the lower foot on the floor (y = 0) and the forward travel is integrated from the
stance foot so that it does not slide.
"""
import sys
from pathlib import Path

import numpy as np

FPS = 30
SECONDS = 4.0
CYCLE = 1.1          # seconds per gait cycle (two steps)
OUT = Path(__file__).resolve().parent.parent / "hpd3d_addon" / "samples" / "hpd3d_sample_walk.bvh"

# name, parent, offset (cm). End Sites are given as (None, parent, offset).
SKELETON = [
    ("Hips", None, (0.0, 0.0, 0.0)),
    ("LeftUpLeg", "Hips", (9.0, -5.0, 0.0)),
    ("LeftLeg", "LeftUpLeg", (0.0, -43.0, 0.5)),
    ("LeftFoot", "LeftLeg", (0.0, -42.0, -1.0)),
    ("LeftToe", "LeftFoot", (0.0, -6.0, 13.0)),
    (None, "LeftToe", (0.0, 0.0, 6.0)),
    ("RightUpLeg", "Hips", (-9.0, -5.0, 0.0)),
    ("RightLeg", "RightUpLeg", (0.0, -43.0, 0.5)),
    ("RightFoot", "RightLeg", (0.0, -42.0, -1.0)),
    ("RightToe", "RightFoot", (0.0, -6.0, 13.0)),
    (None, "RightToe", (0.0, 0.0, 6.0)),
    ("Spine", "Hips", (0.0, 8.0, -1.0)),
    ("Spine1", "Spine", (0.0, 12.0, -0.5)),
    ("Spine2", "Spine1", (0.0, 12.0, 0.5)),
    ("Neck", "Spine2", (0.0, 17.0, -1.0)),
    ("Head", "Neck", (0.0, 10.0, 1.5)),
    (None, "Head", (0.0, 18.0, 1.0)),
    ("LeftShoulder", "Spine2", (3.0, 12.0, -1.0)),
    ("LeftArm", "LeftShoulder", (15.0, 0.0, 0.0)),
    ("LeftForeArm", "LeftArm", (28.0, 0.0, 0.0)),
    ("LeftHand", "LeftForeArm", (25.0, 0.0, 0.0)),
    (None, "LeftHand", (18.0, 0.0, 0.0)),
    ("RightShoulder", "Spine2", (-3.0, 12.0, -1.0)),
    ("RightArm", "RightShoulder", (-15.0, 0.0, 0.0)),
    ("RightForeArm", "RightArm", (-28.0, 0.0, 0.0)),
    ("RightHand", "RightForeArm", (-25.0, 0.0, 0.0)),
    (None, "RightHand", (-18.0, 0.0, 0.0)),
]
JOINTS = [s[0] for s in SKELETON if s[0] is not None]
ORDER = "ZXY"        # rotation channel order of every joint (BVH: R = Rz @ Rx @ Ry)


def wave(phase, shift=0.0):
    return np.cos(2 * np.pi * (phase - shift))


# Sagittal joint angles (degrees) of one leg at gait phases 0, 0.1, ..., 0.9 (0 = heel strike, toe-off
# near 0.62), shaped after textbook normal-gait curves: hip flexion, knee flexion, ankle dorsiflexion
# and toe (MTP) extension. Interpolated by a periodic Catmull-Rom spline.
HIP = (22, 20, 12, 4, -5, -11, -5, 12, 24, 25)
KNEE = (3, 15, 12, 6, 5, 20, 45, 63, 45, 10)
ANKLE = (0, -5, 3, 7, 10, 3, -12, 2, 4, 2)
TOE = (0, 0, 0, 0, 10, 25, 25, 5, 0, 0)


def periodic_spline(keys, phase):
    """Catmull-Rom interpolation of values at equally spaced phases on [0, 1), wrapping around."""
    keys = np.asarray(keys, dtype=np.float64)
    n = len(keys)
    x = (phase % 1.0) * n
    i = np.floor(x).astype(int)
    u = x - i
    p0, p1, p2, p3 = (keys[(i + k) % n] for k in (-1, 0, 1, 2))
    return 0.5 * (2 * p1 + (p2 - p0) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u ** 2
                  + (3 * p1 - p0 - 3 * p2 + p3) * u ** 3)


def leg_angles(phase):
    """(hip, knee, ankle, toe) flexion in degrees for one leg at the given phases."""
    return tuple(periodic_spline(k, phase) for k in (HIP, KNEE, ANKLE, TOE))


def rot(axis, deg):
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    i = "xyz".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    m = np.zeros(np.shape(a) + (3, 3))
    m[..., i, i] = 1
    m[..., j, j] = c
    m[..., k, k] = c
    m[..., j, k] = -s
    m[..., k, j] = s
    return m


def euler(angles):
    """Rotation matrices for per-frame (z, x, y) degrees in ZXY order."""
    return rot("z", angles[:, 0]) @ rot("x", angles[:, 1]) @ rot("y", angles[:, 2])


def fk(angles, root_pos):
    """World positions (F, points, 3) and rotations of every SKELETON entry (End Sites included)."""
    pos, rots = {}, {}
    out = []
    for name, parent, offset in SKELETON:
        key = name or f"{parent}_End"
        if parent is None:
            r = euler(angles[name])
            p = root_pos
        else:
            r_parent = rots[parent]
            p = pos[parent] + np.einsum("fij,j->fi", r_parent, np.array(offset))
            r = r_parent @ euler(angles[name]) if name else r_parent
        pos[key], rots[key] = p, r
        out.append(p)
    return np.stack(out, axis=1), pos, rots


def motion():
    frames = int(round(SECONDS * FPS))
    t = np.arange(frames) / FPS
    phase_l = (t / CYCLE + 0.1) % 1.0
    phase_r = (phase_l + 0.5) % 1.0
    step = (2 * t / CYCLE + 0.2) % 1.0                  # twice per cycle: one per step
    zero = np.zeros(frames)
    a = {}
    # Pelvis: twist toward the forward leg (Y), drop on the swing side (Z), a slight forward tilt (X).
    pelvis_list = 3.0 * wave(phase_l, 0.25)
    a["Hips"] = np.stack([pelvis_list, 4.0 + 1.5 * wave(step, 0.1), -4.0 * wave(phase_l)], axis=1)
    for side, phase, sign in (("Left", phase_l, 1.0), ("Right", phase_r, -1.0)):
        hip, knee, ankle, toe = leg_angles(phase)
        # Hip flexion swings the leg forward: a negative X rotation in this Y-up, +Z-forward skeleton
        # (4 degrees more to undo the pelvis' forward tilt). Hip adduction undoes the pelvis' list and
        # brings the stance foot under the body, which sways the pelvis a little over it.
        adduction = -pelvis_list + sign * (1.0 + 1.2 * wave(phase, 0.3))
        a[f"{side}UpLeg"] = np.stack([adduction, -hip - 4.0, sign * -3.0 + zero], axis=1)
        a[f"{side}Leg"] = np.stack([zero, knee, zero], axis=1)
        a[f"{side}Foot"] = np.stack([zero, -ankle, sign * 6.0 + zero], axis=1)
        a[f"{side}Toe"] = np.stack([zero, -toe, zero], axis=1)
        # Arm: lowered from the T-pose by Z, swung forward/back by Y, opposite to the same-side leg.
        swing = 15.0 * wave(phase, 0.02)             # > 0: this side's arm is back
        a[f"{side}Shoulder"] = np.stack([sign * (-4.0 + 1.0 * wave(step)), zero, sign * 1.5 * wave(phase)], axis=1)
        a[f"{side}Arm"] = np.stack([sign * -76.0 + zero, sign * -4.0 + zero, sign * swing], axis=1)
        elbow = 12.0 + 12.0 * (0.5 - 0.5 * wave(phase, 0.02))   # bends more when the arm swings forward
        a[f"{side}ForeArm"] = np.stack([sign * -6.0 + zero, zero, sign * -elbow], axis=1)
        a[f"{side}Hand"] = np.stack([sign * -8.0 + zero, sign * 10.0 + zero, zero], axis=1)
    # The spine turns the shoulders against the pelvis (with the arms); neck and head keep the gaze ahead.
    a["Spine"] = np.stack([-1.0 * wave(phase_l, 0.25), -1.0 + zero, 3.0 * wave(phase_l)], axis=1)
    a["Spine1"] = np.stack([-1.0 * wave(phase_l, 0.25), -1.0 + zero, 3.0 * wave(phase_l)], axis=1)
    a["Spine2"] = np.stack([-0.5 * wave(phase_l, 0.25), -0.5 + 0.8 * wave(step, 0.1), 2.0 * wave(phase_l)], axis=1)
    a["Neck"] = np.stack([zero, -2.0 + zero, -1.5 * wave(phase_l)], axis=1)
    a["Head"] = np.stack([0.5 * wave(phase_l, 0.25), 2.0 - 0.8 * wave(step, 0.1), -1.5 * wave(phase_l)], axis=1)

    # Root position: height from the lower foot; travel (and sideways sway) from the stance foot.
    _, pos, rots = fk(a, np.stack([zero, zero, zero], axis=1))
    contacts = []
    for side in ("Left", "Right"):
        heel = pos[f"{side}Foot"] + np.einsum("fij,j->fi", rots[f"{side}Foot"], np.array([0.0, -6.0, -4.0]))
        contacts.append(np.stack([heel, pos[f"{side}Toe"], pos[f"{side}Toe_End"]], axis=1))
    contacts = np.stack(contacts, axis=1)             # (F, leg, point, 3) relative to the root at the origin
    height = -contacts[..., 1].min(axis=(1, 2))       # the lowest point of either foot touches the floor
    # Travel: the stance foot's lowest point stays put, so the root moves by what that point moves.
    stance = np.argmin(contacts[..., 1].min(axis=2), axis=1)   # the leg whose foot is lower
    ground = np.zeros((frames, 2))                    # root x, z
    for f in range(1, frames):
        leg = stance[f]
        k = int(np.argmin(contacts[f, leg, :, 1]))
        ground[f] = ground[f - 1] + contacts[f - 1, leg, k][[0, 2]] - contacts[f, leg, k][[0, 2]]
    # Keep the path straight: remove the slow sideways drift (under 1 mm per frame) the integration leaves.
    ground[:, 0] -= np.polyval(np.polyfit(t, ground[:, 0], 1), t)
    ground -= ground.mean(axis=0)
    root = np.stack([ground[:, 0], height, ground[:, 1]], axis=1)
    return t, a, root


def hierarchy_text():
    lines = ["HIERARCHY"]

    def emit(name, parent, offset, depth):
        pad = "\t" * depth
        if name is None:
            lines.extend([f"{pad}End Site", f"{pad}{{", f"{pad}\tOFFSET {offset[0]:.2f} {offset[1]:.2f} {offset[2]:.2f}",
                          f"{pad}}}"])
            return
        kind = "ROOT" if parent is None else "JOINT"
        lines.extend([f"{pad}{kind} {name}", f"{pad}{{",
                      f"{pad}\tOFFSET {offset[0]:.2f} {offset[1]:.2f} {offset[2]:.2f}"])
        rot_channels = " ".join(f"{c}rotation" for c in ORDER)
        if parent is None:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot_channels}")
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rot_channels}")
        for child_name, child_parent, child_offset in SKELETON:
            if child_parent == name:
                emit(child_name, child_parent, child_offset, depth + 1)
        lines.append(f"{pad}}}")

    emit(*SKELETON[0], 0)
    return "\n".join(lines)


def bvh_text():
    t, angles, root = motion()
    cols = [root]
    for name in JOINTS:
        cols.append(angles[name])               # already (z, x, y), the channel order
    data = np.round(np.concatenate(cols, axis=1), 3) + 0.0     # + 0.0 turns -0.0 into 0.0
    rows = [" ".join(f"{v:.3f}" for v in row) for row in data]
    return (hierarchy_text() + f"\nMOTION\nFrames: {len(t)}\nFrame Time: {1.0 / FPS:.7f}\n"
            + "\n".join(rows) + "\n")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    text = bvh_text()
    out.write_bytes(text.encode("ascii"))
    print(f"wrote {out} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
