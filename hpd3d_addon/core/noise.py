"""Detector-like 2D keypoints: a documented, seeded noise model on top of the exact projection.

Sources of every default number: ../shared/docs/training-realism.md (sections 1.4 and 3), which reads them
from MotionBERT (Walter0807/MotionBERT: params/synthetic_noise.pth, params/d2c_params.pkl,
lib/data/augmentation.py) and WHAM (yohanshin/WHAM: lib/data/utils/augmentor.py).

The default model, `cpn` (`DEFAULT_MODEL`), per camera view of a take (pixels are "reference pixels": the
error is scaled by the person's image size s = the larger side of the ground-truth 2D box, relative to
REFERENCE_SIZE_PX, the size of a Human3.6M subject in its own cameras):

  detection = ground truth (left/right limbs exchanged while swapped)
              + (s / s_ref) * k * (bias + correlated + white) + gross

- per-joint magnitude sigma_j (per axis, bias + correlated + white together) = the per-axis RMS of
  MotionBERT's fitted mixture for that joint: with probability w_j (its "Gaussian weight",
  MOTIONBERT_GAUSSIAN_WEIGHT) N(0, 0.006) (MotionBERT's per-joint std range 0.0034-0.0095), else uniform in
  +-0.03; in MotionBERT's H36M units, 1 unit = 500 px. sigma_j runs from 3.0 px (pelvis) to 5.3 px (left
  wrist); mean per-joint error sqrt(pi/2) * sigma_j, 5.0 px averaged over the joints: the 5-6 px of a
  fine-tuned CPN on Human3.6M (training-realism.md section 3).
- offset: a systematic per-joint offset (x, y), the same in every view: the mean of MotionBERT's fitted
  mixture for that joint (its Gaussian mean times its Gaussian weight; the uniform part has mean 0), e.g. the
  thorax 3.0 px and the shoulders 1.4-2.1 px higher than the mocap joints, the left knee 2.3 px higher, all
  joints 0.4-1.2 px to the right (MOTIONBERT_MEAN, `joint_offset_px`): what a detector defines differently
  from the mocap skeleton, which a model trained on exact 2D cannot know;
- bias: per view and joint, N(0, 1.5 px) per axis (WHAM's per-sequence per-joint bias);
- correlated: AR(1) per joint and axis, correlation time 0.15 s (MotionBERT interpolates its noise between
  keyframes 9 frames = 0.15 s apart at 60 fps), lag-1 coefficient rho = exp(-1 / (fps * 0.15)) (0.80 at
  30 fps), stationary variance sigma_j^2 - bias^2 - white^2;
- white: N(0, 1 px) per frame (MotionBERT's jitter 0.002 units);
  => lag-1 autocorrelation of a joint's error about its own mean: rho * var_corr / (var_corr + var_white)
     (`expected_statistics`), 0.74 pooled over the joints at 30 fps;
- gross errors ("peaks" in WHAM, p < 0.005 per frame and joint): a single-frame jump to 10-30 % of the
  person's size in a random direction (a detection on a neighbouring body part), at a per-joint rate
  0.004 * sigma_j / mean(sigma) (joints with larger errors fail more: wrists most);
- left/right swaps: elbow+wrist or knee+ankle of the two sides exchanged in 0.6 % of the frames per limb
  pair (the 0.5-1 % suggested in training-realism.md section 3; none of the repos models swaps), each swap
  lasting 2-6 frames (uniform); onsets do not depend on the pose;
- occluded joints (core/occlusion.py): every error term x2 (k = 2, gross rate x2) and confidence x0.5;
  joints outside the image: x3 and confidence 0; x, y are kept (noisy), not zeroed;
- confidence: MotionBERT's fitted c = a / (d + a) + b * d + N(m, s), a = 0.028, b = 1.1, m = -0.0046,
  s = 0.143, d = the joint's displacement in MotionBERT units (pixels / 500, at the reference size),
  clipped to [0, 1]; d is capped at sqrt(a / b) - a (0.13 units, 66 px) where the fitted curve has its
  minimum, so confidence never rises with the error.

`gauss:SIGMA_PX`: plain white Gaussian noise of SIGMA_PX pixels per axis, not scaled by size, no bias,
correlation, gross errors, swaps or occlusion effects; confidence by the same formula (0 outside the image).
A JSON file: {"base": "cpn" (optional), "<parameter>": value, ...}, parameters as in NoiseModel.

Randomness: one generator per (subject, action, camera index), seeded from the dataset seed and a SHA-256
of the names (`view_seed`), so a view's noise does not depend on worker count, order or the other takes.
"""
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from .errors import HPD3DError
from .limits import UsageError

# A 1.72 m subject at Human3.6M's mean camera distance (5.1 m horizontal, ~5.2 m to the subject) with its
# ~1147 px focal length (training-realism.md section 4): 1.72 * 1147 / 5.2 = 379 px.
REFERENCE_SIZE_PX = 380.0
MOTIONBERT_UNIT_PX = 500.0       # MotionBERT's normalised unit in H36M pixels (res_w / 2)
MOTIONBERT_CORE_STD = 0.006      # units; its per-joint std range is 0.0034-0.0095 (x), 0.0035-0.0079 (y)
MOTIONBERT_UNIFORM_HALF = 0.03   # units; outliers uniform in +-0.03
MOTIONBERT_GAUSSIAN_WEIGHT = {   # params/synthetic_noise.pth, H36M order (training-realism.md 1.4)
    "Hip": .999, "RHip": .967, "RKnee": .890, "RFoot": .894, "LHip": .975, "LKnee": .877, "LFoot": .821,
    "Spine": .958, "Thorax": .918, "Neck/Nose": .968, "Head": .984, "LShoulder": .891, "LElbow": .802,
    "LWrist": .703, "RShoulder": .881, "RElbow": .825, "RWrist": .729,
}
# params/synthetic_noise.pth 'mean' (units, x right, y down; H36M order): the Gaussian component's mean per joint
MOTIONBERT_MEAN = {
    "Hip": (0.0008, 0.0002), "RHip": (-0.0001, 0.0020), "RKnee": (0.0020, -0.0015), "RFoot": (0.0009, 0.0009),
    "LHip": (0.0019, -0.0007), "LKnee": (0.0019, -0.0052), "LFoot": (0.0009, -0.0019), "Spine": (0.0025, 0.0023),
    "Thorax": (0.0021, -0.0065), "Neck/Nose": (0.0017, 0.0017), "Head": (0.0008, 0.0016),
    "LShoulder": (0.0008, -0.0046), "LElbow": (0.0015, 0.0003), "LWrist": (0.0012, 0.0016),
    "RShoulder": (0.0021, -0.0032), "RElbow": (0.0017, -0.0003), "RWrist": (0.0017, 0.0013),
}
# COCO-17 names -> the H36M joint whose statistics they take (face points: the head's)
COCO_TO_H36M_STATS = {
    "nose": "Neck/Nose", "left_eye": "Head", "right_eye": "Head", "left_ear": "Head", "right_ear": "Head",
    "left_shoulder": "LShoulder", "right_shoulder": "RShoulder", "left_elbow": "LElbow", "right_elbow": "RElbow",
    "left_wrist": "LWrist", "right_wrist": "RWrist", "left_hip": "LHip", "right_hip": "RHip",
    "left_knee": "LKnee", "right_knee": "RKnee", "left_ankle": "LFoot", "right_ankle": "RFoot",
}
# limb pairs that swap: (left joints, right joints), for the joint names of either 2D layout
SWAP_PAIRS = (
    (("LElbow", "LWrist"), ("RElbow", "RWrist")), (("LKnee", "LFoot"), ("RKnee", "RFoot")),
    (("left_elbow", "left_wrist"), ("right_elbow", "right_wrist")),
    (("left_knee", "left_ankle"), ("right_knee", "right_ankle")),
)


def motionbert_sigma_px(weight):
    """Per-axis RMS (px) of MotionBERT's mixture for a joint of Gaussian weight w (see module doc)."""
    var = weight * MOTIONBERT_CORE_STD ** 2 + (1 - weight) * (2 * MOTIONBERT_UNIFORM_HALF) ** 2 / 12
    return MOTIONBERT_UNIT_PX * math.sqrt(var)


def motionbert_offset_px(name):
    """The mean (x, y) px of MotionBERT's mixture for a joint: its Gaussian mean x its Gaussian weight."""
    w = MOTIONBERT_GAUSSIAN_WEIGHT[name]
    return tuple(round(MOTIONBERT_UNIT_PX * w * m, 2) for m in MOTIONBERT_MEAN[name])


@dataclass(frozen=True)
class NoiseModel:
    """All parameters of a detector model (pixels at the reference person size unless said otherwise)."""
    name: str = "cpn"
    reference_size_px: float = REFERENCE_SIZE_PX   # 0: errors in plain pixels, not scaled by the person's size
    joint_sigma_px: dict = field(default_factory=lambda: {k: round(motionbert_sigma_px(w), 3)
                                                          for k, w in MOTIONBERT_GAUSSIAN_WEIGHT.items()})
    default_sigma_px: float = 4.2                  # joints not in joint_sigma_px (layout 'source')
    joint_offset_px: dict = field(default_factory=lambda: {k: motionbert_offset_px(k) for k in MOTIONBERT_MEAN})
    bias_px: float = 1.5
    white_px: float = 1.0
    correlation_time_s: float = 0.15
    gross_rate: float = 0.004                      # per joint and frame, averaged over the joints
    gross_size: tuple = (0.10, 0.30)               # fraction of the person's size
    swap_rate: float = 0.006                       # fraction of frames with a limb pair swapped
    swap_frames: tuple = (2, 6)                    # a swap lasts this many frames (uniform, inclusive)
    occluded_scale: float = 2.0
    truncated_scale: float = 3.0
    occluded_confidence: float = 0.5
    confidence_abms: tuple = (0.028, 1.1, -0.0046, 0.143)   # MotionBERT's d2c_params: a, b, m, s
    detector_layout: str = "h36m17"   # coco17: detect COCO-17 keypoints, then coco2h36m into a Human3.6M-17 file

    def describe(self):
        d = asdict(self)
        d["gross_size"], d["swap_frames"], d["confidence_abms"] = (list(self.gross_size), list(self.swap_frames),
                                                                   list(self.confidence_abms))
        return d

    def sigma(self, name):
        return float(self.joint_sigma_px.get(COCO_TO_H36M_STATS.get(name, name), self.default_sigma_px))

    def offset(self, name):
        """The systematic (x, y) px of a joint (0, 0 for joints the model does not name)."""
        x, y = self.joint_offset_px.get(COCO_TO_H36M_STATS.get(name, name), (0.0, 0.0))
        return float(x), float(y)


DEFAULT_MODEL = NoiseModel()
# `coco`: an off-the-shelf COCO detector feeding a Human3.6M lifter: the cpn model on COCO-17 keypoints (nose,
# eyes, ears, shoulders, ... as --layout-2d coco17 places them), turned into Human3.6M-17 by MotionBERT's
# coco2h36m (layouts.coco_to_h36m): pelvis = mid-hips, thorax = mid-shoulders, nose and head = nose and
# mid-eyes, other points than the mocap joints (README, "Detector-trained vs gt-trained").
NAMED_MODELS = {"cpn": DEFAULT_MODEL, "coco": replace(DEFAULT_MODEL, name="coco", detector_layout="coco17")}


def gauss_model(sigma_px):
    return NoiseModel(name=f"gauss:{sigma_px:g}", reference_size_px=0.0, joint_sigma_px={}, joint_offset_px={},
                      default_sigma_px=float(sigma_px), bias_px=0.0, white_px=float(sigma_px),
                      correlation_time_s=0.0, gross_rate=0.0, swap_rate=0.0, occluded_scale=1.0,
                      truncated_scale=1.0, occluded_confidence=1.0)


def parse_noise(spec):
    """A NoiseModel from 'cpn', 'gauss:SIGMA_PX' or a JSON file of parameters."""
    spec = str(spec).strip()
    if spec in NAMED_MODELS:
        return NAMED_MODELS[spec]
    if spec.startswith("gauss:"):
        try:
            sigma = float(spec[6:])
        except ValueError:
            sigma = -1.0
        if not 0 <= sigma <= 1000:  # finite: a NaN or inf sigma would reach the files and the manifest
            raise UsageError(f"invalid --noise '{spec}': use gauss:SIGMA_PX with 0 <= SIGMA_PX <= 1000, e.g. gauss:5")
        return gauss_model(sigma)
    path = Path(spec)
    if spec.endswith(".json") or path.is_file():
        return _model_from_json(path)
    raise UsageError(f"unknown --noise '{spec}': use {', '.join(NAMED_MODELS)}, gauss:SIGMA_PX or FILE.json")


def _model_from_json(path):
    from .errors import InputError
    from .limits import read_json_file
    try:
        data = read_json_file(path, "noise model")  # strict JSON, size- and depth-bounded
    except InputError as exc:
        raise HPD3DError(f"cannot read noise model: {exc}") from None
    if not isinstance(data, dict):
        raise HPD3DError(f"{path}: a noise model file holds a JSON object")
    base = NAMED_MODELS.get(data.pop("base", "cpn"))
    if base is None:
        raise HPD3DError(f"{path}: 'base' must be one of {', '.join(NAMED_MODELS)}")
    known = {f.name: f for f in fields(NoiseModel)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise HPD3DError(f"{path}: unknown noise parameter(s) {', '.join(unknown)}; known: {', '.join(known)}")
    try:
        _check_values(data, path)
    except InputError as exc:
        raise HPD3DError(str(exc)) from None
    for k in ("gross_size", "swap_frames", "confidence_abms"):
        if k in data:
            data[k] = tuple(data[k])
    data.setdefault("name", str(path))
    try:
        return replace(base, **data)
    except TypeError as exc:
        raise HPD3DError(f"{path}: invalid noise parameters ({exc})") from None


def _check_values(data, path):
    """Every parameter of a noise model file typed like the default's and within limits.RANGES['noise'] ('rate'
    for rates and confidences): no NaN, inf or absurd value reaches the noise (InputError naming the key)."""
    from .errors import InputError
    from .limits import number
    for key, value in data.items():
        default, where = getattr(DEFAULT_MODEL, key), (path, f"'{key}'")
        kind = "rate" if key in ("gross_rate", "swap_rate", "occluded_confidence") else "noise"
        if key == "name":
            if not isinstance(value, str):
                raise InputError(path, "'name' must be a string")
        elif key == "detector_layout":
            if value not in ("h36m17", "coco17"):
                raise InputError(path, "'detector_layout' must be \"h36m17\" or \"coco17\"")
        elif key == "joint_offset_px":
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise InputError(path, f"'{key}' must be an object of joint name -> [x, y]")
            for v in value.values():
                if not isinstance(v, list) or len(v) != 2:
                    raise InputError(path, f"'{key}': each joint's offset is a list [x, y] of 2 numbers")
                for c in v:
                    number(kind, c, where, magnitude=True)
            data[key] = {k: tuple(v) for k, v in value.items()}
        elif isinstance(default, dict):
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise InputError(path, f"'{key}' must be an object of joint name -> number")
            for v in value.values():
                number(kind, v, where)
        elif isinstance(default, tuple):
            if not isinstance(value, list) or len(value) != len(default):
                raise InputError(path, f"'{key}' must be a list of {len(default)} numbers")
            values = [number(kind, v, where, magnitude=key == "confidence_abms",
                             integer=key == "swap_frames") for v in value]
            if key in ("gross_size", "swap_frames") and not values[0] <= values[1]:
                raise InputError(path, f"'{key}': the first number must not exceed the second")
            if key == "swap_frames" and values[0] < 1:
                raise InputError(path, "'swap_frames': a swap lasts at least 1 frame")
            if key == "confidence_abms" and not (values[0] > 0 and values[1] > 0):
                raise InputError(path, "'confidence_abms': a and b must be > 0 (the curve takes sqrt(a / b))")
        else:
            number(kind, value, where)


def view_seed(seed, subject, action, camera):
    """SeedSequence of one view: the dataset seed and a SHA-256 of (subject, action, camera index)."""
    digest = hashlib.sha256(f"{subject}\x00{action}\x00{int(camera)}".encode("utf-8")).digest()
    words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    seed = int(seed) % (1 << 64)
    return np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32] + words)


def ar1_coefficient(model, fps):
    if model.correlation_time_s <= 0 or fps <= 0:
        return 0.0
    return math.exp(-1.0 / (fps * model.correlation_time_s))


def ar1(innovations, rho):
    """AR(1) x_t = rho x_{t-1} + sqrt(1 - rho^2) n_t along axis 0 of unit normals (stationary, unit variance).

    Vectorised in blocks of frames: inside a block x_{a+k} = rho^k (rho x_{a-1} + sum_i rho^-i e_{a+i}) by a
    cumulative sum (rho^-k stays below 1e40 within a block), so only the blocks are a Python loop.
    """
    n = np.asarray(innovations, dtype=np.float64)
    if rho <= 0 or n.shape[0] == 0:
        return n.copy()
    out = np.empty_like(n)
    out[0] = n[0]
    scale = math.sqrt(1.0 - rho * rho)
    block = max(1, min(256, int(40 / max(-math.log10(rho), 1e-9))))
    prev = out[0]
    t = 1
    while t < len(n):
        e = n[t:t + block] * scale
        k = np.arange(len(e), dtype=np.float64)
        power = rho ** k
        shape = (-1,) + (1,) * (n.ndim - 1)
        out[t:t + len(e)] = power.reshape(shape) * (rho * prev + np.cumsum(e / power.reshape(shape), axis=0))
        prev = out[t + len(e) - 1]
        t += len(e)
    return out


def swap_onset_probability(model):
    """Per-frame onset probability giving a swapped-frame fraction of model.swap_rate (durations uniform)."""
    if model.swap_rate <= 0:
        return 0.0
    lo, hi = model.swap_frames
    durations = np.arange(lo, hi + 1)

    def rate(p):  # P(frame swapped) = 1 - prod_k (1 - p P(duration > k))
        k = np.arange(hi)
        survive = (durations[None, :] > k[:, None]).mean(axis=1)
        return 1 - np.prod(1 - p * survive)

    a, b = 0.0, 1.0
    for _ in range(60):
        mid = (a + b) / 2
        a, b = (mid, b) if rate(mid) < model.swap_rate else (a, mid)
    return (a + b) / 2


def _swap_columns(joint_names):
    """(left indices, right indices) of the limb pairs present in joint_names, one row per pair."""
    index = {n: i for i, n in enumerate(joint_names)}
    pairs = [([index[n] for n in left], [index[n] for n in right]) for left, right in SWAP_PAIRS
             if all(n in index for n in left + right)]
    return pairs


def joint_rates(model, joint_names):
    """Per-joint (sigma_px, correlated sd, gross rate) arrays for a layout."""
    sigma = np.array([model.sigma(n) for n in joint_names])
    corr_var = np.maximum(sigma ** 2 - model.bias_px ** 2 - model.white_px ** 2, 0.0)
    gross = model.gross_rate * sigma / sigma.mean() if sigma.mean() > 0 else np.zeros_like(sigma)
    return sigma, np.sqrt(corr_var), gross


def mean_offset_gaussian_norm(offset, sigma, points=48):
    """E|mu + sigma Z| for 2D offsets mu (P, 2) and per-axis sigmas (P,), Z a standard normal pair (the Rice
    mean), by Gauss-Hermite quadrature; sqrt(pi/2) sigma when mu = 0."""
    x, w = np.polynomial.hermite_e.hermegauss(points)
    w = w / w.sum()
    mu = np.asarray(offset, np.float64)[:, None, None, :]
    s = np.asarray(sigma, np.float64)[:, None, None]
    d = np.stack(np.broadcast_arrays(mu[..., 0] + s * x[:, None], mu[..., 1] + s * x[None, :]), axis=-1)
    return np.sum(np.sqrt(np.sum(d * d, axis=-1)) * np.outer(w, w), axis=(1, 2))


def expected_statistics(model, joint_names, fps):
    """What the model promises for visible, in-image joints at the reference size (per joint, arrays):
    mean_error_px (excluding gross errors and swaps; the systematic offset included), lag1 (of the error
    about its per-view mean), gross_rate; and swap_rate (fraction of frames, per limb pair)."""
    sigma, corr, gross = joint_rates(model, joint_names)
    total = np.sqrt(corr ** 2 + model.bias_px ** 2 + model.white_px ** 2)
    offset = np.array([model.offset(n) for n in joint_names]).reshape(-1, 2)
    rho = ar1_coefficient(model, fps)
    var = corr ** 2 + model.white_px ** 2
    lag1 = np.where(var > 0, rho * corr ** 2 / np.where(var > 0, var, 1), 0.0)
    return {"mean_error_px": mean_offset_gaussian_norm(offset, total), "lag1": lag1, "lag1_pooled":
            float(rho * np.sum(corr ** 2) / max(np.sum(var), 1e-30)), "gross_rate": gross,
            "swap_rate": model.swap_rate, "rho": rho}


def person_size(gt):
    """(..., F) larger side of the 2D box of every frame of (..., F, P, 2) keypoints."""
    ext = gt.max(axis=-2) - gt.min(axis=-2)
    return np.maximum(ext.max(axis=-1), 1.0)


def confidence_from_error(model, d_units, normal):
    a, b, m, s = model.confidence_abms
    d = np.minimum(d_units, max(math.sqrt(a / b) - a, 0.0))
    return a / (d + a) + b * d + m + s * normal


def detect(gt, visible, occluded, joint_names, fps, model, seeds):
    """Detector keypoints for the C views of one take.

    gt (C, F, P, 2) exact pixels, visible/occluded (C, F, P) bool, seeds: C SeedSequences (`view_seed`).
    Returns (positions (C, F, P, 2) float32, confidence (C, F, P) float32).
    """
    gt = np.asarray(gt, dtype=np.float64)
    C, F, P, _ = gt.shape
    rngs = [np.random.default_rng(s) for s in seeds]
    _, corr_sd, gross_rate = joint_rates(model, joint_names)
    pairs = _swap_columns(joint_names)
    # every random draw of a view from its own generator, in a fixed order
    draws = [dict(bias=r.standard_normal((P, 2)), corr=r.standard_normal((F, P, 2)),
                  white=r.standard_normal((F, P, 2)), gross_u=r.random((F, P)), gross_dir=r.random((F, P)),
                  gross_len=r.random((F, P)), swap_u=r.random((F, len(pairs))),
                  swap_len=r.integers(model.swap_frames[0], model.swap_frames[1] + 1, (F, len(pairs))),
                  conf=r.standard_normal((F, P))) for r in rngs]
    stack = {k: np.stack([d[k] for d in draws]) for k in draws[0]} if C else {}
    if not C:
        return np.zeros(gt.shape, np.float32), np.zeros(gt.shape[:-1], np.float32)
    size = person_size(gt)                                                        # (C, F)
    k = size / model.reference_size_px if model.reference_size_px > 0 else np.ones_like(size)
    factor = np.where(~visible, model.truncated_scale, np.where(occluded, model.occluded_scale, 1.0))  # (C, F, P)
    rho = ar1_coefficient(model, fps)
    corr = np.moveaxis(ar1(np.moveaxis(stack["corr"], 1, 0), rho), 0, 1)         # (C, F, P, 2)
    offset = np.array([model.offset(n) for n in joint_names]).reshape(P, 2)
    noise = (offset + model.bias_px * stack["bias"][:, None] + corr_sd[:, None] * corr
             + model.white_px * stack["white"])
    noise *= (k[..., None] * factor)[..., None]
    gross = stack["gross_u"] < gross_rate * factor
    angle = 2 * np.pi * stack["gross_dir"]
    length = (model.gross_size[0] + (model.gross_size[1] - model.gross_size[0]) * stack["gross_len"]) * size[..., None]
    jump = np.where(gross, length, 0.0)[..., None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    base = gt.copy()
    if pairs:
        swapped = swap_mask(stack["swap_u"] < swap_onset_probability(model), stack["swap_len"])  # (C, F, K)
        for q, (left, right) in enumerate(pairs):
            m = swapped[:, :, q, None, None]
            base[:, :, left] = np.where(m, gt[:, :, right], gt[:, :, left])
            base[:, :, right] = np.where(m, gt[:, :, left], gt[:, :, right])
    det = base + noise + jump
    err = np.sqrt(np.sum((det - gt) ** 2, axis=-1))
    d_units = err / (k[..., None] * MOTIONBERT_UNIT_PX)
    conf = confidence_from_error(model, d_units, stack["conf"])
    conf = np.where(occluded, conf * model.occluded_confidence, conf)
    conf = np.clip(np.where(visible, conf, 0.0), 0.0, 1.0)
    return det.astype(np.float32), conf.astype(np.float32)


def swap_mask(onset, duration):
    """(C, F, K) bool: frames covered by a swap starting at an onset frame and lasting `duration` frames."""
    frames = np.arange(onset.shape[1])[None, :, None]
    ends = np.where(onset, frames + duration, -1)
    return np.maximum.accumulate(ends, axis=1) > frames


__all__ = ["NoiseModel", "DEFAULT_MODEL", "NAMED_MODELS", "parse_noise", "view_seed", "detect",
           "expected_statistics", "ar1", "person_size", "REFERENCE_SIZE_PX"]
