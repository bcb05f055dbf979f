"""normalize_screen_coordinates as the shared doc states it."""
import numpy as np


def normalize_screen_coordinates(X, w, h):
    assert X.shape[-1] == 2
    return X / w * 2 - np.array([1, h / w], dtype=X.dtype if hasattr(X, "dtype") else None)
