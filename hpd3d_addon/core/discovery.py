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
        elif path.exists():  # a device, a pipe, a socket: nothing a BVH reader should open
            raise HPD3DError(f"{path}: not a regular file or folder (a device, pipe or socket): give a .bvh file "
                             "or a folder of them")
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


def parse_shard(spec):
    """'K/N' (1 <= K <= N) -> (K, N); '' -> None."""
    if not spec:
        return None
    try:
        k, n = (int(v) for v in str(spec).split("/"))
    except ValueError:
        raise HPD3DError(f"invalid --shard '{spec}': use K/N, e.g. 2/8 for the second of 8 shards") from None
    if not 1 <= k <= n:
        raise HPD3DError(f"invalid --shard '{spec}': K must be between 1 and N")
    return k, n


def shard_owner(takes, n):
    """{subject: shard index 0..n-1}: whole subjects (a camera rig is fitted to all of a subject's frames,
    so a subject split over shards would get different cameras), balanced by bytes of BVH: the largest
    subject first, each to the least loaded shard (ties: the lower index, then the subject name). The same
    files give the same shards on any machine and Python version (no hash(), no file order)."""
    sizes = {}
    for t in takes:
        try:
            size = t.path.stat().st_size
        except OSError:
            size = 0  # unreadable: the shard that gets it reports it
        sizes[t.subject] = sizes.get(t.subject, 0) + size
    load = [0] * n
    owner = {}
    for subject in sorted(sizes, key=lambda s: (-sizes[s], s)):
        i = min(range(n), key=lambda k: (load[k], k))
        owner[subject] = i
        load[i] += sizes[subject]
    return owner


def shard_takes(takes, spec):
    """The takes of shard 'K/N' of `takes` (all of them when `spec` is empty)."""
    shard = parse_shard(spec)
    if shard is None:
        return takes
    k, n = shard
    owner = shard_owner(takes, n)
    mine = [t for t in takes if owner[t.subject] == k - 1]
    if not mine:
        raise HPD3DError(f"--shard {spec}: no subject falls in this shard (the input has {len(owner)} subject(s) "
                         f"and shards hold whole subjects: use N <= {len(owner)})")
    return mine
