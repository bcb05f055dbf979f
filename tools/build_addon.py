"""Build the Blender add-on zips (run by `make addon`), deterministically, with the standard library only.

dist/hpd3d_addon-VERSION.zip
    The hpd3d_addon/ folder at the zip's root (with blender_dataset.py inside it, where
    core/writer.py's loader_source() looks first): Preferences > Add-ons > Install (Blender 3.3-4.1) and
    Install from Disk (4.2+).
dist/hpd3d-VERSION-extension.zip
    The same files with blender_manifest.toml at the zip's root: an extension for Blender 4.2+'s extension
    platform (Get Extensions > Install from Disk, or `blender --command extension install-file`).

Same sources -> byte-identical zips (sorted names, fixed timestamps and permissions).
"""
import re
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "hpd3d_addon"
LOADER = REPO / "blender_dataset.py"
MANIFEST = PACKAGE / "blender_manifest.toml"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = (".pyc", ".pyo")


def version():
    text = (PACKAGE / "core" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def package_files():
    """(path inside the package folder, file on disk), sorted."""
    files = []
    for path in PACKAGE.rglob("*"):
        rel = path.relative_to(PACKAGE)
        if path.is_dir() or SKIP_DIRS.intersection(rel.parts) or path.name.endswith(SKIP_SUFFIXES):
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        files.append((rel.as_posix(), path))
    files.append(("blender_dataset.py", LOADER))
    return sorted(files)


def write_zip(target, entries):
    """entries: [(name in zip, file on disk)]."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(target)
    return target


def check_bl_info(ver):
    """bl_info must be a literal (Blender's add-on list parses it without running the module) whose
    version is the package's."""
    import ast
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "bl_info" for t in node.targets):
            try:
                info = ast.literal_eval(node.value)
            except ValueError as exc:
                raise SystemExit(f"hpd3d_addon/__init__.py: bl_info is not a literal ({exc})") from None
            if ".".join(map(str, info["version"])) != ver:
                raise SystemExit(f"hpd3d_addon/__init__.py: bl_info version {info['version']} != package version {ver}")
            return info
    raise SystemExit("hpd3d_addon/__init__.py: no bl_info")


def check_manifest(ver):
    text = MANIFEST.read_text(encoding="utf-8")
    found = re.search(r'^version = "([^"]+)"', text, re.M)
    if not found or found.group(1) != ver:
        raise SystemExit(f"{MANIFEST}: version {found.group(1) if found else '?'} != package version {ver}")


def build(dist=REPO / "dist"):
    ver = version()
    check_bl_info(ver)
    check_manifest(ver)
    files = package_files()
    addon = write_zip(Path(dist) / f"hpd3d_addon-{ver}.zip", [(f"hpd3d_addon/{n}", p) for n, p in files])
    extension = write_zip(Path(dist) / f"hpd3d-{ver}-extension.zip", files)
    return addon, extension


def main(argv):
    dist = Path(argv[0]) if argv else REPO / "dist"
    for z in build(dist):
        with zipfile.ZipFile(z) as zf:
            n = len(zf.namelist())
        print(f"{z.relative_to(REPO) if z.is_relative_to(REPO) else z}: {n} files, {z.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
