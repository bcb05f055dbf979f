"""Whether a dataset folder is one run's files, whole, and what is written is sound.

Every run has a run id (core.commit.new_run_id). The manifest holds it and, under `contents`, the size and
SHA-256 of every other file the run wrote; the npz files repeat it in their `metadata` (key `run_id`). A
folder whose files are not all one run's (a manifest, camera file or npz swapped in from another run, a
file changed since) fails `check`; so does a folder with an interrupted commit (journal or staging folder
present: `check --repair` completes or undoes it). Datasets of older hpd3d versions and of other tools
carry no run id: they are checked for structure only, and `check` says so.

Also here: the last guard before bytes are written, finite numbers only (manifest and arrays).
"""
import math
import numbers
from pathlib import Path

import numpy as np

from .commit import JOURNAL_NAME, MANIFEST_NAME, STAGE_NAME, file_digest, is_commit_file
from .folder_lock import lock_holder
from .errors import InputError, OutputError
from .limits import read_json_file

RUN_ID_KEY = "run_id"


# ---- finite numbers only -------------------------------------------------------------------------------------

def find_non_finite(value, path=""):
    """The key path (e.g. `positions_2d/S1/walk/2`) of the first NaN or infinity in nested dicts, lists,
    tuples, arrays and numbers, or None."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            return None if bool(np.isfinite(value).all()) else path or "(value)"
        if value.dtype.hasobject:
            for i, item in enumerate(value.flat):
                hit = find_non_finite(item, f"{path}[{i}]" if value.ndim else path)
                if hit:
                    return hit
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            hit = find_non_finite(v, f"{path}/{k}" if path else str(k))
            if hit:
                return hit
        return None
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            hit = find_non_finite(v, f"{path}/{i}" if path else str(i))
            if hit:
                return hit
        return None
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        return None
    if isinstance(value, numbers.Real) or isinstance(value, np.generic):
        try:
            return None if math.isfinite(float(value)) else path or "(value)"
        except (TypeError, ValueError):
            return None
    return None


def assert_finite(value, source):
    """OutputError naming `source` and the key of the first non-finite number: such a number reaching a file
    is a bug or an input that validation let through; nothing is written."""
    hit = find_non_finite(value)
    if hit:
        raise OutputError(f"{source}: {hit} holds a non-finite value (NaN or infinity); nothing written")


# ---- one run's files --------------------------------------------------------------------------------------

def _strict_json(path):
    """A JSON file read as every JSON input is (size, nesting, NaN bounded): ValueError with the reason."""
    try:
        return read_json_file(path, "manifest")
    except InputError as exc:
        raise ValueError(exc.message) from None


def incomplete_write(folder):
    """A one-line problem when a commit is under way or was interrupted here, else None."""
    folder = Path(folder)
    leftovers = [n for n in (JOURNAL_NAME, STAGE_NAME) if (folder / n).exists()]
    leftovers += sorted(p.name for p in folder.glob(".*.tmp-*") if is_commit_file(p.name))
    if not leftovers:
        return None
    pid = lock_holder(folder)
    if pid is not None:
        return f"a run (PID {pid}) is writing this folder right now ({leftovers[0]})"
    return (f"an interrupted write left {leftovers[0]}: the folder may mix two runs; "
            f"run `hpd3d check --repair {folder}`")


def run_problems(folder, dataset_files, run_ids):
    """Problems (one line each) and facts when the folder's files are not one run's.

    dataset_files: names of the files of the checked dataset (they must be listed in the manifest when it
    has a record); run_ids: {npz name: the run id its metadata holds, or None}.
    """
    folder = Path(folder)
    problems, facts = [], {}
    busy = incomplete_write(folder)
    if busy:
        problems.append(busy)
    manifest_path = folder / MANIFEST_NAME
    manifest = None
    if manifest_path.is_file():
        try:
            manifest = _strict_json(manifest_path)
            if not isinstance(manifest, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            problems.append(f"{MANIFEST_NAME}: not strict JSON ({exc})")
            return problems, facts
    run_id = manifest.get(RUN_ID_KEY) if manifest else None
    contents = manifest.get("contents") if manifest else None
    stamped = {n: r for n, r in run_ids.items() if r is not None}
    if run_id is None and contents is None:
        if stamped:
            problems.append(f"{next(iter(stamped))} carries run id {next(iter(stamped.values()))} but "
                            f"{MANIFEST_NAME} {'is missing' if manifest is None else 'has no run record'}: "
                            "the folder mixes files of several runs")
        else:
            facts["integrity"] = "no run record (a dataset of an older hpd3d or another tool): not verified"
        return problems, facts
    if not isinstance(contents, dict) or not isinstance(run_id, str):
        problems.append(f"{MANIFEST_NAME}: run record incomplete ('run_id' and 'contents' expected)")
        return problems, facts
    for name, npz_run in run_ids.items():
        if npz_run != run_id:
            problems.append(f"{name}: written by run {npz_run}, {MANIFEST_NAME} by run {run_id}: "
                            "the folder mixes files of several runs")
    for name in dataset_files:
        if name not in contents:
            problems.append(f"{name}: not written by the run of {MANIFEST_NAME} (run {run_id})")
    for name, record in contents.items():
        path = folder / str(name)
        if "/" in str(name) or not path.is_file():
            problems.append(f"{name}: listed in {MANIFEST_NAME} but missing")
            continue
        try:
            size, sha = file_digest(path)
        except OSError as exc:
            problems.append(f"{name}: cannot be read ({exc.strerror or exc})")
            continue
        if not isinstance(record, dict) or record.get("bytes") != size or record.get("sha256") != sha:
            problems.append(f"{name}: not the file run {run_id} wrote (size or SHA-256 differs from "
                            f"{MANIFEST_NAME}): the folder mixes files of several runs, or the file was changed")
    if not problems:
        facts["integrity"] = f"run {run_id}: {len(contents) + 1} files, sizes and SHA-256 as in {MANIFEST_NAME}"
    return problems, facts


__all__ = ["RUN_ID_KEY", "find_non_finite", "assert_finite", "incomplete_write", "run_problems"]
