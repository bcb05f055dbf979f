"""Automatic unit detection: the scale that turns a skeleton's size into a human height in metres."""
import numpy as np

# name -> metres per unit. CMU's BVH conversions use (1/0.45) inch per unit.
UNITS = {
    "m": 1.0,
    "cm": 0.01,
    "mm": 0.001,
    "inch": 0.0254,
    "cmu": 0.0254 / 0.45,
    "ft": 0.3048,
}
TYPICAL_EXTENT_M = 1.6  # standing extent of the joints (feet to head joint/top) of an adult, metres


def standing_extent(positions_z, samples=64):
    """Median over up to `samples` frames of the vertical extent of all points; positions_z is (F, N)."""
    frames = positions_z.shape[0]
    idx = np.unique(np.linspace(0, frames - 1, min(samples, frames)).round().astype(int))
    z = positions_z[idx]
    return float(np.median(z.max(axis=1) - z.min(axis=1)))


def pick_unit(extent):
    """(unit name, metres per unit) whose height in metres is closest to a human's, in log terms."""
    if not np.isfinite(extent) or extent <= 0:
        return None, None
    name = min(UNITS, key=lambda u: abs(np.log(extent * UNITS[u] / TYPICAL_EXTENT_M)))
    return name, UNITS[name]
