"""Self-occlusion from the capsule body model: a constructed standing pose seen from the side, one arm hanging
behind the torso and the other in front of it (as the camera sees it): exactly the far arm's joints are
occluded, none of the near arm's; from the front nothing is; a ray past the body hides nothing."""
import numpy as np

from hpd3d_addon.core.cameras import Camera, look_at_rotation
from hpd3d_addon.core.layouts import H36M17
from hpd3d_addon.core.occlusion import body_capsules, occluded_from, segment_segment_distance

# A standing adult facing -Y (world metres, Z up); left is +X. Arms hang straight down beside the torso.
POSE = {
    "Hip": (0, 0, 0.96), "RHip": (-0.09, 0, 0.91), "RKnee": (-0.10, 0, 0.50), "RFoot": (-0.10, 0.03, 0.09),
    "LHip": (0.09, 0, 0.91), "LKnee": (0.10, 0, 0.50), "LFoot": (0.10, 0.03, 0.09),
    "Spine": (0, 0.01, 1.20), "Thorax": (0, 0.02, 1.46), "Neck/Nose": (0, 0, 1.58), "Head": (0, -0.02, 1.76),
    "LShoulder": (0.18, 0.02, 1.44), "LElbow": (0.20, 0.03, 1.16), "LWrist": (0.21, 0.02, 0.92),
    "RShoulder": (-0.18, 0.02, 1.44), "RElbow": (-0.20, 0.03, 1.16), "RWrist": (-0.21, 0.02, 0.92),
}
LEFT_ARM = {"LShoulder", "LElbow", "LWrist"}
RIGHT_ARM = {"RShoulder", "RElbow", "RWrist"}


def pose(frames=3):
    j = np.array([POSE[n] for n in H36M17.joint_names], dtype=np.float64)
    return np.broadcast_to(j, (frames,) + j.shape).copy()


def camera_at(position, target=(0, 0, 1.2)):
    return Camera("c", 1000, 1000, np.array([1145.0, 1145.0]), np.array([500.0, 500.0]),
                  look_at_rotation(np.array(position, float), np.array(target, float)), np.array(position, float))


def hidden_names(joints, cam):
    caps = body_capsules(joints, H36M17.joint_names, H36M17.parents)
    mask = occluded_from(joints, caps, cam.translation, ignored=caps.ignored_for(H36M17.joint_names))
    assert (mask == mask[0]).all()  # a static pose: every frame alike
    return {n for n, m in zip(H36M17.joint_names, mask[0]) if m}


def test_side_view_hides_exactly_the_far_arm():
    joints = pose()
    hidden = hidden_names(joints, camera_at((-4.0, 0.0, 1.2)))  # from the subject's right
    assert LEFT_ARM <= hidden and not (RIGHT_ARM & hidden), hidden
    hidden = hidden_names(joints, camera_at((4.0, 0.0, 1.2)))   # from the subject's left
    assert RIGHT_ARM <= hidden and not (LEFT_ARM & hidden), hidden


def test_front_view_hides_nothing_and_arm_in_front_hides_the_torso():
    joints = pose()
    assert hidden_names(joints, camera_at((0.0, -4.0, 1.2))) == set()
    # the right forearm held across the belly, in front: the spine joint behind it is hidden, nothing else
    j = joints.copy()
    names = list(H36M17.joint_names)
    j[:, names.index("RElbow")] = (-0.12, -0.15, 1.15)
    j[:, names.index("RWrist")] = (0.12, -0.17, 1.20)
    hidden = hidden_names(j, camera_at((0.0, -4.0, 1.2)))
    assert "Spine" in hidden and not (hidden & (LEFT_ARM | RIGHT_ARM)), hidden


def test_segment_distance_matches_brute_force():
    rng = np.random.default_rng(1)
    p0, p1, q0, q1 = (rng.normal(size=(60, 3)) for _ in range(4))
    q1[:10] = q0[:10]  # degenerate capsules (two joints at one place)
    d = segment_segment_distance(p0, p1, q0, q1)
    t = np.linspace(0, 1, 401)
    for i in range(60):
        a = p0[i] + t[:, None] * (p1[i] - p0[i])
        b = q0[i] + t[:, None] * (q1[i] - q0[i])
        brute = np.linalg.norm(a[:, None] - b[None], axis=-1).min()
        assert d[i] <= brute + 1e-9 and brute - d[i] < 1e-2
