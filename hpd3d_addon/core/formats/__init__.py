"""Output formats, one module each: a writer and a reader over the same in-memory dataset (base.PoseData).

A format module never knows another's details. Adding one: a new module here and its name in FORMATS
(and in the CLI's list of formats if it can be exported).
"""
import importlib

from .base import PoseData

FORMATS = ("videopose3d",)


def get(name):
    """The module of format `name`."""
    if name not in FORMATS:
        raise KeyError(f"unknown format '{name}': use one of {', '.join(FORMATS)}")
    return importlib.import_module(f"{__name__}.{name}")


__all__ = ["FORMATS", "PoseData", "get"]
