"""Which BVH files make which subject and action.

A folder of subfolders: each subfolder is a subject (its BVH files the actions). A folder of BVH files:
the folder's own name is the subject. A single file: its parent folder's name. Action = file stem.
"""
from dataclasses import dataclass
from pathlib import Path

from .errors import HPD3DError


@dataclass(frozen=True)
class Take:
    subject: str
    action: str
    path: Path


def _bvh_files(folder):
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".bvh")


def discover(inputs, subject=None):
    """Takes for the given files/folders, sorted by subject then action; `subject` forces one name."""
    takes = []
    for raw in inputs:
        path = Path(raw)
        if path.is_file():
            takes.append(Take(subject or path.resolve().parent.name, path.stem, path))
        elif path.is_dir():
            files = _bvh_files(path)
            subdirs = sorted(p for p in path.iterdir() if p.is_dir() and _bvh_files(p))
            for f in files:
                takes.append(Take(subject or path.resolve().name, f.stem, f))
            for d in subdirs:
                for f in _bvh_files(d):
                    takes.append(Take(subject or d.name, f.stem, f))
            if not files and not subdirs:
                raise HPD3DError(f"{path}: no .bvh files in this folder or its subfolders")
        else:
            raise HPD3DError(f"{path}: no such file or folder")
    seen = {}
    for t in takes:
        key = (t.subject, t.action)
        if key in seen and seen[key] != t.path:
            raise HPD3DError(f"{t.path}: subject '{t.subject}' already has an action '{t.action}' ({seen[key]}); "
                             "rename one file or use separate subjects")
        seen[key] = t.path
    unique = {(t.subject, t.action): t for t in takes}
    return sorted(unique.values(), key=lambda t: (t.subject, t.action))
