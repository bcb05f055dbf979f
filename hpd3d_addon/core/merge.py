"""`hpd3d merge SHARD_DIR... --out DIR`: the datasets of `generate --shard K/N` runs joined into the dataset
one run over all the inputs writes.

Shards hold whole subjects (core/discovery.shard_owner), so every subject's cameras, 3D and 2D come from
exactly one shard, unchanged. The merged files are streamed (core/npz_stream): subjects in sorted order,
each take's arrays read from its shard and written out before the next take is read, so merging holds one
take's arrays at a time whatever the size of the dataset.
"""
import sys
import zipfile
from collections import Counter
from pathlib import Path

from . import __version__
from .discovery import parse_shard
from .errors import HPD3DError, InputError
from .formats.videopose3d import dataset_names, keypoint_sources
from .npz_stream import Items, StreamedNpz, iter_items, load_without_takes
from .commit import new_run_id
from .limits import read_json_file
from .writer import copy_loader_bytes, literal_text, write_files

# Settings that may differ between the shards of one dataset.
_PER_RUN_SETTINGS = ("out", "shard", "overwrite", "preview")


class Shard:
    """One shard folder: its dataset files, manifest and cameras."""

    def __init__(self, folder, name=None):
        self.folder = Path(folder)
        names = dataset_names(self.folder)
        if name is None:
            if len(names) != 1:
                raise InputError(self.folder, "no dataset here" if not names else
                                 f"holds datasets {', '.join(names)}: pass --name")
            name = names[0]
        self.name = name
        self.data_3d = self.folder / f"data_3d_{name}.npz"
        self.sources = keypoint_sources(self.folder, name)  # gt, detector ...
        self.data_2d = {k: self.folder / f"data_2d_{name}_{k}.npz" for k in self.sources}
        for path in (self.data_3d, self.folder / f"data_2d_{name}_gt.npz", self.folder / "manifest.json"):
            if not path.is_file():
                raise InputError(path, "no such file (not a folder written by hpd3d generate)")
        try:
            self.manifest = read_json_file(self.folder / "manifest.json", "manifest")  # bounded, strict
            self.cameras = load_without_takes(self.data_3d, "cameras")
            self.metadata_3d = load_without_takes(self.data_3d, "metadata")
            self.metadata_2d = {k: load_without_takes(p, "metadata") for k, p in self.data_2d.items()}
            self.members_2d = {k: _members(p) for k, p in self.data_2d.items()}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(self.folder, f"cannot read the dataset ({type(exc).__name__}: {exc})") from None
        if not (isinstance(self.manifest, dict) and isinstance(self.manifest.get("subjects"), dict)
                and isinstance(self.manifest.get("settings"), dict)):
            raise InputError(self.folder / "manifest.json", "not a manifest written by hpd3d generate")
        self.subjects = self.manifest["subjects"]
        self.spec = parse_shard(self.manifest["settings"].get("shard", ""))

    def settings(self):
        return {k: v for k, v in self.manifest["settings"].items() if k not in _PER_RUN_SETTINGS}

    def subject_cameras(self, subject):
        """[(intrinsics dict, extrinsics dict)] of a subject's cameras (the extrinsic entry without the
        intrinsic values it may carry)."""
        intrinsics = self.cameras["intrinsics"]
        keys = set().union(*(d.keys() for d in intrinsics))
        out = []
        for i, entry in enumerate(self.cameras["extrinsics"][subject]):
            own = {k: v for k, v in entry.items() if k in keys}
            out.append((own if own else intrinsics[i], {k: v for k, v in entry.items() if k not in keys}))
        return out


def merge(folders, out, name=None, overwrite=False):
    """Merge the shard folders into `out`. Returns a one-paragraph summary."""
    shards = [Shard(f, name) for f in folders]
    _check_compatible(shards)
    owner = {s: shard for shard in shards for s in shard.subjects}
    subjects = sorted(owner, key=_run_order)
    cameras = {s: owner[s].subject_cameras(s) for s in subjects}
    intrinsics, extrinsics = camera_tables(cameras)
    first = shards[0]
    fps_per_action = {}
    for s in subjects:
        for a in owner[s].subjects[s]:
            key = f"{s}/{a}"
            fps_per_action[key] = owner[s].metadata_3d["fps_per_action"][key]
    fps = Counter(round(v, 6) for v in fps_per_action.values()).most_common(1)[0][0]
    run_id = new_run_id()  # the merged folder is one new run: its files and manifest carry this id
    meta_3d = {k: (fps if k == "fps" else fps_per_action if k == "fps_per_action" else v)
               for k, v in dict(first.metadata_3d, run_id=run_id).items()}

    def streamed(key, path_of):
        return lambda: _merged_items(subjects, owner, key, path_of)

    def meta_2d(source):
        def make():
            return {k: (fps if k == "fps" else fps_per_action if k == "fps_per_action" else
                        _merged_items(subjects, owner, "metadata", lambda sh: sh.data_2d[source]) if k == "visibility"
                        else v) for k, v in dict(first.metadata_2d[source], run_id=run_id).items()}
        return make

    def file_2d(source):
        """Every member of the shards' data_2d_NAME_SOURCE.npz: metadata merged, the others ({subject:
        {action: ...}}: positions_2d, visibility, occluded, confidence) streamed."""
        return StreamedNpz(*[(key, meta_2d(source) if key == "metadata" else
                              streamed(key, lambda sh, source=source: sh.data_2d[source]), key != "positions_2d")
                             for key in first.members_2d[source]])

    out_name = first.name
    files = {
        f"data_3d_{out_name}.npz": StreamedNpz(
            ("positions_3d", streamed("positions_3d", lambda sh: sh.data_3d), False),
            ("cameras", lambda: {"intrinsics": intrinsics, "extrinsics": extrinsics}, True),
            ("metadata", lambda: meta_3d, True)),
        **{f"data_2d_{out_name}_{source}.npz": file_2d(source) for source in first.sources},
        "camera_intrinsics.txt": literal_text(intrinsics).encode(),
        "camera_extrinsics.txt": literal_text(extrinsics).encode(),
        "blender_dataset.py": copy_loader_bytes(),
    }
    write_files(out, files, overwrite=overwrite, stale=(f"preview_{out_name}.png",),
                manifest=_manifest(shards, subjects, owner, out, run_id))
    takes = sum(len(owner[s].subjects[s]) for s in subjects)
    return f"merged {len(shards)} shards: {takes} sequences of {len(subjects)} subjects to {out}"


def _members(path):
    """Member keys of an npz, in file order."""
    with zipfile.ZipFile(path) as zf:
        return [n[:-len(".npy")] for n in zf.namelist() if n.endswith(".npy")]


def _run_order(subject):
    """The order one run writes subjects in: takes sorted by (subject, action), so subjects by name, and
    with --camera-per take (subjects 'SUBJECT/ACTION') by subject, then action."""
    return subject.split("/")


def _check_compatible(shards):
    first = shards[0]
    for shard in shards[1:]:
        if shard.settings() != first.settings():
            diff = sorted(k for k in set(shard.settings()) | set(first.settings())
                          if shard.settings().get(k) != first.settings().get(k))
            raise InputError(shard.folder, f"was generated with other settings than {first.folder} "
                             f"({', '.join(diff)}): shards of one dataset share every setting but --shard")
        if shard.metadata_3d.get("joint_names") != first.metadata_3d.get("joint_names"):
            raise InputError(shard.folder, f"its joints differ from {first.folder}'s")
        if shard.members_2d != first.members_2d:
            raise InputError(shard.folder, f"its 2D files differ from {first.folder}'s")
    seen = {}
    for shard in shards:
        for s in shard.subjects:
            if s in seen:
                raise InputError(shard.folder, f"subject '{s}' is also in {seen[s].folder}: "
                                 "a subject belongs to one shard (the same shard given twice?)")
            seen[s] = shard
    specs = [sh.spec for sh in shards]
    if any(specs):
        counts = {n for _, n in filter(None, specs)}
        numbers = sorted(k for k, _ in filter(None, specs))
        if None in specs or len(counts) != 1 or numbers != list(range(1, next(iter(counts)) + 1)):
            given = ", ".join(f"{k}/{n}" if (k, n) else "unsharded" for k, n in (s or (0, 0) for s in specs))
            raise HPD3DError(f"shards given: {given}; merging needs each of 1/N..N/N exactly once")


def camera_tables(cameras):
    """dataset.camera_tables on {subject: [(intrinsics dict, extrinsics dict)]}: one intrinsic entry per
    camera index from the subject with the most cameras; a camera differing from it carries its own."""
    longest = max(cameras, key=lambda s: len(cameras[s]))
    intrinsics = [intr for intr, _ in cameras[longest]]
    extrinsics = {}
    for s, cams in cameras.items():
        entries = []
        for i, (intr, extr) in enumerate(cams):
            e = dict(extr)
            if intr != intrinsics[i]:
                e.update(intr)
            entries.append(e)
        extrinsics[s] = entries
    return intrinsics, extrinsics


def _merged_items(subjects, owner, key, path_of):
    """Items of {subject: {action: value}} over `subjects` in order, each take read from its shard's member
    when it is written (one reader per shard, each reading its member once, front to back)."""
    readers = {}

    def takes_of(subject):
        shard = owner[subject]
        if id(shard) not in readers:
            readers[id(shard)] = iter_items(path_of(shard), key)
        for expected in shard.subjects[subject]:
            try:
                s, action, value = next(readers[id(shard)])
            except StopIteration:
                raise InputError(path_of(shard), f"{key} lacks {subject}/{expected} (listed in its manifest)") from None
            if (s, action) != (subject, expected):
                raise InputError(path_of(shard), f"{key} holds {s}/{action} where its manifest lists {subject}/{expected}")
            yield action, value
            value = None

    return Items((s, Items(takes_of(s))) for s in subjects)


def _manifest(shards, subjects, owner, out, run_id):
    first = shards[0].manifest
    files = sorted((f for sh in shards for f in sh.manifest["files"]), key=lambda f: subjects.index(f["subject"]))
    checks = [sh.manifest["reprojection_check"] for sh in shards]
    # points checked per shard (frames x cameras x joints), to weight the shards' mean errors
    points = [sum(f["frames"] * sh.manifest["cameras_per_subject"][f["subject"]] for f in sh.manifest["files"])
              * len(sh.metadata_3d["joint_names"]) for sh in shards]
    worst = max(range(len(checks)), key=lambda i: checks[i]["max_error_px"])
    check = {"max_error_px": checks[worst]["max_error_px"],
             "mean_error_px": sum(c["mean_error_px"] * n for c, n in zip(checks, points)) / max(sum(points), 1),
             "worst": checks[worst]["worst"], "tolerance_px": checks[worst]["tolerance_px"],
             "passed": all(c["passed"] for c in checks)}
    merged = {
        "run_id": run_id,
        "generator": dict(first["generator"], merged_by=f"hpd3d {__version__}"),
        "command": sys.argv,
        "settings": dict(first["settings"], out=str(out), shard=""),
        "merged_from": [{"folder": str(sh.folder), "shard": sh.manifest["settings"].get("shard", "")} for sh in shards],
        "subjects": {s: owner[s].subjects[s] for s in subjects},
        "cameras_per_subject": {s: owner[s].manifest["cameras_per_subject"][s] for s in subjects},
        "files": files,
        "failures": [f for sh in shards for f in sh.manifest["failures"]],
        "reprojection_check": check,
    }
    # the rest (e.g. the keypoint sources' settings) is the same in every shard: the first one's
    return {**{k: v for k, v in first.items() if k not in ("contents", "run_id")}, **merged}
