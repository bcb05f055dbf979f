"""PoseData: the in-memory dataset that every format's reader returns and every format's writer takes."""
from dataclasses import dataclass, field


@dataclass
class PoseData:
    """One dataset, nested {subject: {action: ...}} as VideoPose3D nests it.

    positions_3d: {s: {a: (F, J, 3)}} world metres, Z up.
    cameras: {s: [Camera]} (core.cameras.Camera), one list per subject.
    keypoints: {source: {s: {a: [(F, J, 2) pixels per camera]}}}; 'gt' is the exact projection.
    confidence: {source: {s: {a: [(F, J) in [0, 1] per camera]}}} for sources that have one.
    visibility: {s: {a: [(F, J) bool per camera]}} (in front of the camera and inside the image).
    metadata: layout_name, num_joints, keypoints_symmetry, joint_names, parents, fps, ...
    """
    name: str
    positions_3d: dict
    cameras: dict
    keypoints: dict = field(default_factory=dict)
    confidence: dict = field(default_factory=dict)
    visibility: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)

    def takes(self):
        """(subject, action) in stored order."""
        return [(s, a) for s, actions in self.positions_3d.items() for a in actions]
