"""The VideoPose3D format module: its reader gives back what generate wrote, and bad folders are one line."""
import numpy as np
import pytest

from hpd3d_addon.core.dataset import GenerateOptions, generate
from hpd3d_addon.core.errors import InputError
from hpd3d_addon.core.formats import FORMATS, get


def test_reader_returns_what_generate_wrote(tmp_path, sample_bvh):
    out = tmp_path / "ds"
    result = generate([sample_bvh], GenerateOptions(out=str(out)))
    data = get("videopose3d").read(out)
    assert "videopose3d" in FORMATS and data.name == "blender" and list(data.keypoints) == ["gt"]
    take = result.takes[0]
    np.testing.assert_array_equal(data.positions_3d[take.subject][take.action], take.joints.astype(np.float32))
    assert len(data.cameras[take.subject]) == len(result.cameras[take.subject]) == 4
    views = data.keypoints["gt"][take.subject][take.action]
    assert len(views) == 4 and views[0].shape == (len(take.joints), 17, 2)
    assert data.visibility[take.subject][take.action][0].dtype == bool
    assert data.metadata["num_joints"] == 17 and "visibility" not in data.metadata


def test_reader_names_the_missing_file(tmp_path, sample_bvh):
    with pytest.raises(InputError, match="no data_3d_"):
        get("videopose3d").read(tmp_path)
    generate([sample_bvh], GenerateOptions(out=str(tmp_path)))
    with pytest.raises(InputError, match=r"data_2d_blender_detector\.npz: no such file \(keypoint sources here: gt\)"):
        get("videopose3d").read(tmp_path, keypoints=["detector"])
