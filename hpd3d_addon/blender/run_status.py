"""What the sidebar and the status bar show about Generate Dataset: the running job's progress (takes and
frames done of their totals) and the last run's result (files, frames, cameras, reprojection error, where).

Kept in memory for this Blender session, per scene, and cleared when a file is opened: a result is about
files on disk now, so it is not saved in the .blend. Frames are the takes' own (source) frames; BVH totals
come from each file's 'Frames:' line, read before the run starts.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

import bpy

FRAMES_LINE = re.compile(rb"MOTION\s+Frames:\s*(\d+)", re.IGNORECASE)


@dataclass
class Progress:
    takes_total: int
    frames_total: int
    takes_done: int = 0
    frames_done: int = 0

    def text(self):
        takes = f"{self.takes_done}/{self.takes_total} takes, " if self.takes_total else ""
        return f"{takes}{self.frames_done:,}/{self.frames_total:,} frames"


@dataclass
class LastRun:
    """A finished run (`result` set) or one that stopped (`message` only)."""
    message: str
    out_dir: str = ""
    files: list = field(default_factory=list)
    sequences: int = 0
    frames: int = 0
    cameras: str = ""
    max_error_px: float = 0.0
    passed: bool = False
    skipped: int = 0
    seconds: float = 0.0

    @property
    def finished(self):
        return bool(self.out_dir)


_running = {}   # scene name -> Progress
_last = {}      # scene name -> LastRun


def header_frames(path, chunk=65536):
    """The frame count of a BVH file's 'Frames:' line (0 when it cannot be read), reading only its head."""
    data = b""
    try:
        with open(path, "rb") as f:
            while True:
                block = f.read(chunk)
                data += block
                found = FRAMES_LINE.search(data)
                if found or not block or len(data) > 64 * chunk:
                    return int(found.group(1)) if found else 0
    except OSError:
        return 0


def started(scene, job):
    if job.sampler is None:
        _running[scene.name] = Progress(len(job.takes), sum(header_frames(t.path) for t in job.takes))
    else:
        _running[scene.name] = Progress(0, job.sampler.frame_count)
    _last.pop(scene.name, None)


def update(context, job):
    """Record the job's progress; show it in the status bar and redraw the sidebar."""
    p = _running.get(context.scene.name)
    if p is None:
        return
    if job.sampler is None:
        p.takes_done = job.done
        p.frames_done = sum(int(t.info.get("source_frames", t.joints.shape[0])) for t in job.builder.takes)
    else:
        p.frames_done = job.sampler.done
    if context.workspace:
        context.workspace.status_text_set(f"HPD3D: generating, {p.text()} (Esc cancels, nothing is written; "
                                          "undo is off meanwhile)")
    _redraw_sidebars(context)


def finished(scene, result):
    cams = sorted({len(c) for c in result.cameras.values()})
    _running.pop(scene.name, None)
    _last[scene.name] = LastRun(
        message=f"wrote {len(result.takes)} sequences", out_dir=str(result.out_dir),
        files=sorted(Path(f).name for f in result.files), sequences=len(result.takes), frames=result.frames,
        cameras="/".join(map(str, cams)), max_error_px=float(result.check["max_error_px"]),
        passed=bool(result.check["passed"]), skipped=len(result.failures), seconds=float(result.seconds))


def stopped(scene, message):
    _running.pop(scene.name, None)
    _last[scene.name] = LastRun(message=message)


def running(scene):
    return _running.get(scene.name)


def last_run(scene):
    return _last.get(scene.name)


def _redraw_sidebars(context):
    for area in context.screen.areas if context.screen else ():
        if area.type == "VIEW_3D":
            area.tag_redraw()


@bpy.app.handlers.persistent
def _forget(*_args):
    _running.clear()
    _last.clear()


def add_handlers():
    if _forget not in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.append(_forget)


def remove_handlers():
    while _forget in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_forget)
