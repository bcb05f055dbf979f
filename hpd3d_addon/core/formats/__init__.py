"""Output formats, one module each: a writer and a reader over the same in-memory dataset (base.PoseData).

A format module never knows another's details. videopose3d is the folder `generate` writes; every other
format is exported from such a folder (`export`: the videopose3d reader, then that format's writer).
A format module that can be exported defines `add_export_arguments(parser)`, `export_options(args)`,
`default_keypoints(sources)` and `write(data, **options)`; one that `check` validates as a file defines
SUFFIXES and `check_file(path)`. Adding a format: a new module here, its name in FORMATS, and in the
CLI's list of export formats.
"""
import importlib
from pathlib import Path

from .base import PoseData

FORMATS = ("videopose3d", "motionbert")


def get(name):
    """The module of format `name`."""
    if name not in FORMATS:
        raise KeyError(f"unknown format '{name}': use one of {', '.join(FORMATS)}")
    return importlib.import_module(f"{__name__}.{name}")


def for_file(path):
    """The format module that checks the file `path` (by its suffix), or None."""
    for name in FORMATS:
        module = get(name)
        if Path(path).suffix.lower() in getattr(module, "SUFFIXES", ()) and hasattr(module, "check_file"):
            return module
    return None


def export(target, folder, name=None, keypoints=None, **options):
    """Read the dataset folder (VideoPose3D files, as generate writes them) and write it as format `target`."""
    source = get("videopose3d")
    module = get(target)
    if keypoints is None:
        keypoints = module.default_keypoints(source.available_keypoints(folder, name))
    data = source.read(folder, name, keypoints=[keypoints])
    return module.write(data, keypoints=keypoints, **options)


__all__ = ["FORMATS", "PoseData", "export", "for_file", "get"]
