"""DataReaderH36M as described: reads dt_root/dt_file, normalises by the camera name's resolution, slices clips."""
import numpy as np

from lib.utils.tools import read_pkl
from lib.utils.utils_data import split_clips

RESOLUTION = {"54138969": (1000, 1002), "60457274": (1000, 1002), "55011271": (1000, 1000), "58860488": (1000, 1000)}


def _resolutions(names):
    out = np.empty((len(names), 2))
    for i, name in enumerate(names):
        assert name in RESOLUTION, f"{i} data item has an invalid camera name"
        out[i] = RESOLUTION[name]
    return out


class DataReaderH36M:
    def __init__(self, n_frames, sample_stride, data_stride_train, data_stride_test, read_confidence=True,
                 dt_root="data/motion3d", dt_file="h36m_cpn_cam_source.pkl"):
        self.dt_dataset = read_pkl(f"{dt_root}/{dt_file}")
        self.n_frames, self.sample_stride = n_frames, sample_stride
        self.data_stride_train, self.data_stride_test = data_stride_train, data_stride_test
        self.read_confidence = read_confidence
        self.split_id_train = self.split_id_test = None

    def _normalised(self, split, key, channels):
        s = self.dt_dataset[split]
        values = np.asarray(s[key])[::self.sample_stride, :, :channels].astype(np.float32)
        res = _resolutions(list(s["camera_name"])[::self.sample_stride])
        w, h = res[:, 0, None], res[:, 1, None]
        values[..., 0] = values[..., 0] / w * 2 - 1
        values[..., 1] = values[..., 1] / w * 2 - h / w
        if channels == 3:
            values[..., 2] = values[..., 2] / w * 2
        return values

    def read_2d(self):
        out = []
        for split in ("train", "test"):
            xy = self._normalised(split, "joint_2d", 2)
            if self.read_confidence:
                s = self.dt_dataset[split]
                conf = (np.asarray(s["confidence"])[::self.sample_stride].astype(np.float32) if "confidence" in s
                        else np.ones(xy.shape[:2], dtype=np.float32))
                xy = np.concatenate([xy, conf.reshape(len(xy), -1, 1)[..., :1]], axis=2)
            out.append(xy)
        return tuple(out)

    def read_3d(self):
        return self._normalised("train", "joint3d_image", 3), self._normalised("test", "joint3d_image", 3)

    def get_split_id(self):
        if self.split_id_train is None:
            train = list(self.dt_dataset["train"]["source"])[::self.sample_stride]
            test = list(self.dt_dataset["test"]["source"])[::self.sample_stride]
            self.split_id_train = split_clips(train, self.n_frames, self.data_stride_train)
            self.split_id_test = split_clips(test, self.n_frames, self.data_stride_test)
        return self.split_id_train, self.split_id_test

    def get_hw(self):
        _, test_ids = self.get_split_id()
        res = _resolutions(list(self.dt_dataset["test"]["camera_name"]))
        return res[[ids[0] for ids in test_ids]]

    def get_sliced_data(self):
        train_data, test_data = self.read_2d()
        train_labels, test_labels = self.read_3d()
        train_ids, test_ids = self.get_split_id()
        take = lambda a, ids: np.stack([a[np.asarray(i)] for i in ids]) if ids else a[:0][:, None]
        return take(train_data, train_ids), take(test_data, test_ids), take(train_labels, train_ids), take(test_labels, test_ids)

    def denormalize(self, test_data):
        data = np.array(test_data).reshape(len(test_data), -1, 17, 3)
        hw = self.get_hw()
        assert len(data) == len(hw)
        w, h = hw[:, 0, None, None], hw[:, 1, None, None]
        data[..., 0] = (data[..., 0] + 1) * w / 2
        data[..., 1] = (data[..., 1] + h / w) * w / 2
        data[..., 2] = data[..., 2] * w / 2
        return data
