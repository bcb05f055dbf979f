"""Pinhole cameras in VideoPose3D's convention and their text/dict forms.

Orientation: quaternion (w, x, y, z) of the rotation camera -> world, camera frame x right, y down,
z forward. Translation: camera centre in world coordinates (metres here; millimetres in the files).
Intrinsics in pixels; distortion in Human3.6M's model.
"""
from dataclasses import dataclass, field

import numpy as np

from .rotations import matrix_to_quaternion, quaternion_to_matrix

WORLD_UP = np.array([0.0, 0.0, 1.0])


@dataclass
class Camera:
    """One camera: intrinsics (pixels), distortion, and pose (rotation camera->world, centre in metres)."""
    id: str
    res_w: int
    res_h: int
    focal: np.ndarray
    center: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    radial: np.ndarray = field(default_factory=lambda: np.zeros(3))
    tangential: np.ndarray = field(default_factory=lambda: np.zeros(2))
    azimuth: float = 0.0

    @property
    def orientation(self):
        """Quaternion (w, x, y, z) of the camera->world rotation."""
        return matrix_to_quaternion(self.rotation)

    def intrinsics_dict(self):
        """The Human3.6M-style intrinsic entry (pixels), as written to camera_intrinsics.txt."""
        return {
            "id": self.id,
            "center": [float(v) for v in self.center],
            "focal_length": [float(v) for v in self.focal],
            "radial_distortion": [float(v) for v in self.radial],
            "tangential_distortion": [float(v) for v in self.tangential],
            "res_w": int(self.res_w),
            "res_h": int(self.res_h),
            "azimuth": float(self.azimuth),
        }

    def extrinsics_dict(self):
        """The extrinsic entry: orientation (w, x, y, z) and translation in millimetres."""
        return {
            "orientation": [float(v) for v in self.orientation],
            "translation": [float(v) for v in self.translation * 1000.0],
        }

    @classmethod
    def from_dicts(cls, intrinsics, extrinsics):
        """A Camera from the two dict forms (translation in millimetres, orientation w, x, y, z)."""
        merged = dict(intrinsics)
        merged.update(extrinsics)
        return cls(
            id=str(merged.get("id", "")),
            res_w=int(merged["res_w"]), res_h=int(merged["res_h"]),
            focal=np.array(merged["focal_length"], dtype=np.float64),
            center=np.array(merged["center"], dtype=np.float64),
            rotation=quaternion_to_matrix(np.array(merged["orientation"], dtype=np.float64)),
            translation=np.array(merged["translation"], dtype=np.float64) / 1000.0,
            radial=np.array(merged.get("radial_distortion", [0, 0, 0]), dtype=np.float64),
            tangential=np.array(merged.get("tangential_distortion", [0, 0]), dtype=np.float64),
            azimuth=float(merged.get("azimuth", 0.0)),
        )


def look_at_rotation(position, target, roll_deg=0.0):
    """Camera->world rotation (columns: right, down, forward) for a camera at `position` facing `target`.

    The image's up is the world's +Z projected into the image; `roll_deg` turns the camera about its
    optical axis (positive: clockwise as seen in the image).
    """
    forward = np.asarray(target, dtype=np.float64) - np.asarray(position, dtype=np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, WORLD_UP)
    if np.linalg.norm(right) < 1e-9:  # looking straight up or down
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    if roll_deg:
        a = np.radians(roll_deg)
        right, down = np.cos(a) * right + np.sin(a) * down, -np.sin(a) * right + np.cos(a) * down
    return np.stack([right, down, forward], axis=1)
