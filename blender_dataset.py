"""BlenderDataset: loads an HPD3D dataset in VideoPose3D-family training code (VideoPose3D, MixSTE, KTPFormer,
PoseFormer, ...).

Copy this file into the repository's `common/` folder, put data_3d_<name>.npz and data_2d_<name>_gt.npz in
`data/`, and add to run.py, beside the Human3.6M branch:

    elif args.dataset.startswith('blender'):
        from common.blender_dataset import BlenderDataset
        dataset = BlenderDataset(dataset_path)

Cameras, skeleton and frame rate are read from the npz files. Datasets written by the original
genDataset3D.py (cameras only in camera_intrinsics.txt / camera_extrinsics.txt, beside the npz or in
common/) load too, with its 17-joint skeleton and 30 fps.
"""
import ast
import copy
import os

import numpy as np

from common.camera import normalize_screen_coordinates
from common.mocap_dataset import MocapDataset
from common.skeleton import Skeleton

H36M_PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
H36M_LEFT = [4, 5, 6, 11, 12, 13]
H36M_RIGHT = [1, 2, 3, 14, 15, 16]
LEGACY_FPS = 30


def _npz_item(path, key):
    if not os.path.isfile(path):
        return None
    with np.load(path, allow_pickle=True) as data:
        return data[key].item() if key in data.files else None


def _camera_text_files(npz_path):
    """The original script's camera files: beside the npz, in common/ next to this file, or ./common/."""
    folders = [os.path.dirname(os.path.abspath(npz_path)), os.path.dirname(os.path.abspath(__file__)), "common"]
    for folder in folders:
        intr = os.path.join(folder, "camera_intrinsics.txt")
        extr = os.path.join(folder, "camera_extrinsics.txt")
        if os.path.isfile(intr) and os.path.isfile(extr):
            with open(intr) as fi, open(extr) as fe:
                return {"intrinsics": ast.literal_eval(fi.read()), "extrinsics": ast.literal_eval(fe.read())}
    raise FileNotFoundError(f"no cameras in {npz_path} and no camera_intrinsics.txt/camera_extrinsics.txt "
                            "beside it or in common/")


def _metadata(path):
    meta = _npz_item(path, "metadata")
    if meta is None:  # older files: the 2D file beside holds it
        folder, base = os.path.split(path)
        meta = _npz_item(os.path.join(folder, base.replace("data_3d_", "data_2d_").replace(".npz", "_gt.npz")),
                         "metadata")
    return meta or {}


class BlenderDataset(MocapDataset):
    """An HPD3D dataset, prepared as VideoPose3D's Human36mDataset prepares Human3.6M."""

    def __init__(self, path):
        meta = _metadata(path)
        left, right = meta.get("keypoints_symmetry", [H36M_LEFT, H36M_RIGHT])
        skeleton = Skeleton(parents=list(meta.get("parents", H36M_PARENTS)),
                            joints_left=list(left), joints_right=list(right))
        super().__init__(fps=meta.get("fps", LEGACY_FPS), skeleton=skeleton)

        blob = _npz_item(path, "cameras") or _camera_text_files(path)
        intrinsics = blob["intrinsics"]
        self._cameras = {}
        for subject, entries in copy.deepcopy(blob["extrinsics"]).items():
            cams = []
            for i, extrinsic in enumerate(entries):
                cam = dict(intrinsics[i])
                cam.update(extrinsic)  # a subject's own intrinsics (random rigs) take precedence
                for k, v in cam.items():
                    if k not in ["id", "res_w", "res_h"]:
                        cam[k] = np.array(v, dtype="float32")
                # Normalise as Human36mDataset does.
                cam["center"] = normalize_screen_coordinates(cam["center"], w=cam["res_w"], h=cam["res_h"]).astype("float32")
                cam["focal_length"] = cam["focal_length"] / cam["res_w"] * 2
                cam["translation"] = cam["translation"] / 1000  # millimetres to metres
                cam["intrinsic"] = np.concatenate((cam["focal_length"], cam["center"],
                                                   cam["radial_distortion"], cam["tangential_distortion"]))
                cams.append(cam)
            self._cameras[subject] = cams

        data = np.load(path, allow_pickle=True)["positions_3d"].item()
        self._data = {}
        for subject, actions in data.items():
            self._data[subject] = {}
            for action_name, positions in actions.items():
                self._data[subject][action_name] = {
                    "positions": positions,
                    "cameras": self._cameras[subject],
                }

    def supports_semi_supervised(self):
        return True
