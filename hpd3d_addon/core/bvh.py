"""BVH reading: the HIERARCHY as a joint table, the MOTION block as one float array read in bulk."""
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError

CHANNEL_NAMES = ("xposition", "yposition", "zposition", "xrotation", "yrotation", "zrotation")


@dataclass
class BvhJoint:
    """One ROOT/JOINT or End Site. `channels` are lower-case names such as 'zrotation'."""
    name: str
    parent: int
    offset: np.ndarray
    channels: list = field(default_factory=list)
    channel_start: int = 0
    is_end_site: bool = False


@dataclass
class BvhMotion:
    """A parsed BVH file: joints in file order (parents before children) and the raw motion (F, channels)."""
    path: str
    joints: list
    frame_time: float
    motion: np.ndarray

    @property
    def frame_count(self):
        return self.motion.shape[0]

    @property
    def fps(self):
        return 1.0 / self.frame_time


def _fail(path, message, line=None):
    raise InputError(path, message, line)


def read_bvh(path):
    """Parse a BVH file. Raises InputError (one line, file and line number) for anything malformed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        _fail(path, f"cannot read file ({exc.strerror or exc})")
    if not raw.strip():
        _fail(path, "file is empty")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a byte-order mark (some Windows exporters)
        text = raw.decode("utf-16", errors="replace")
    elif b"\x00" in raw[:65536]:
        _fail(path, "binary data, not a BVH text file")
    else:
        text = raw.decode("utf-8-sig", errors="replace")  # -sig: a UTF-8 byte-order mark is not part of 'HIERARCHY'
    if not text.strip():
        _fail(path, "file is empty")
    return parse_bvh(text, path)


def parse_bvh(text, path="<string>"):
    """Parse BVH text; `path` is only used in error messages."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    joints = []
    current = None      # joint whose block we are directly in (None after a child's '}')
    stack = []          # indices of open joints; -1 marks an open End Site
    pending = None      # joint whose '{' we expect next
    n_channels = 0
    i = 0
    n = len(lines)

    def tokens_at(k):
        return lines[k].split()

    # Skip leading blank lines, then require HIERARCHY.
    while i < n and not lines[i].strip():
        i += 1
    if i >= n or tokens_at(i)[0].upper() != "HIERARCHY":
        _fail(path, "not a BVH file (expected 'HIERARCHY' on the first line)", i + 1 if i < n else None)
    i += 1
    motion_line = None
    while i < n:
        tok = tokens_at(i)
        if not tok:
            i += 1
            continue
        key = tok[0].upper()
        if key in ("ROOT", "JOINT"):
            if key == "ROOT" and (stack or joints):
                _fail(path, "more than one ROOT joint is not supported", i + 1)
            if key == "JOINT" and not stack:
                _fail(path, "JOINT outside of any ROOT", i + 1)
            if len(tok) < 2:
                _fail(path, f"{key} without a name", i + 1)
            if stack and stack[-1] == -1:
                _fail(path, "an End Site cannot have children", i + 1)
            name = " ".join(tok[1:])
            parent = stack[-1] if stack else -1
            joints.append(BvhJoint(name=name, parent=parent, offset=None))
            pending = len(joints) - 1
        elif key == "END":
            if len(tok) < 2 or tok[1].lower() != "site":
                _fail(path, f"unexpected '{lines[i].strip()}'", i + 1)
            if not stack or stack[-1] == -1:
                _fail(path, "End Site outside of a joint", i + 1)
            parent = stack[-1]
            joints.append(BvhJoint(name=f"{joints[parent].name}_End", parent=parent, offset=None, is_end_site=True))
            pending = len(joints) - 1
        elif key == "{":
            if pending is None:
                _fail(path, "'{' without a joint", i + 1)
            _check_hierarchy_size(path, len(joints), len(stack) + 1, i + 1)
            stack.append(-1 if joints[pending].is_end_site else pending)
            stack_joint = pending
            pending = None
            # Remember which joint this brace belongs to, for OFFSET/CHANNELS below.
            current = stack_joint
        elif key == "}":
            if not stack:
                _fail(path, "unbalanced '}'", i + 1)
            stack.pop()
            current = None
        elif key == "OFFSET":
            if pending is not None or not stack:
                _fail(path, "OFFSET outside of a joint block", i + 1)
            if current is None:
                _fail(path, "OFFSET after a child joint: it must come first in its joint's block", i + 1)
            target = current
            if len(tok) != 4:
                _fail(path, f"OFFSET needs 3 numbers, got {len(tok) - 1}", i + 1)
            try:
                off = np.array([float(t) for t in tok[1:]])
            except ValueError:
                _fail(path, f"OFFSET has a non-numeric value: {' '.join(tok[1:])}", i + 1)
            if not np.all(np.isfinite(off)):
                _fail(path, "OFFSET has a NaN or infinite value", i + 1)
            joints[target].offset = off
        elif key == "CHANNELS":
            if not stack or stack[-1] == -1:
                _fail(path, "CHANNELS outside of a joint block", i + 1)
            if current is None:
                _fail(path, "CHANNELS after a child joint: they must come first in their joint's block", i + 1)
            target = stack[-1]
            try:
                count = int(tok[1])
            except (IndexError, ValueError):
                _fail(path, "CHANNELS needs a count", i + 1)
            names = [t.lower() for t in tok[2:]]
            if count != len(names):
                _fail(path, f"CHANNELS says {count} but lists {len(names)}", i + 1)
            for c in names:
                if c not in CHANNEL_NAMES:
                    _fail(path, f"unknown channel '{c}'", i + 1)
            if len(set(names)) != len(names):
                _fail(path, "a channel is listed twice", i + 1)
            joints[target].channels = names
            joints[target].channel_start = n_channels
            n_channels += count
        elif key == "MOTION":
            if stack:
                _fail(path, "MOTION before the hierarchy is closed (missing '}')", i + 1)
            motion_line = i
            break
        else:
            _fail(path, f"unexpected '{lines[i].strip()[:40]}' in HIERARCHY", i + 1)
        i += 1

    if motion_line is None:
        if stack:
            _fail(path, "truncated hierarchy (missing '}' before end of file)", n)
        _fail(path, "no MOTION section", n)
    if not joints:
        _fail(path, "no joints in HIERARCHY", motion_line + 1)
    for j in joints:
        if j.offset is None:
            _fail(path, f"joint '{j.name}' has no OFFSET")

    # MOTION header: "Frames: N" and "Frame Time: dt".
    header = []
    k = motion_line + 1
    while k < n and len(header) < 2:
        if lines[k].strip():
            header.append(k)
        k += 1
    if len(header) < 2:
        _fail(path, "MOTION section lacks 'Frames:' and 'Frame Time:'", motion_line + 1)
    t0, t1 = tokens_at(header[0]), tokens_at(header[1])
    if len(t0) != 2 or t0[0].lower() != "frames:":
        _fail(path, "expected 'Frames: N'", header[0] + 1)
    try:
        frames = int(t0[1])
    except ValueError:
        _fail(path, f"frame count '{t0[1]}' is not a whole number", header[0] + 1)
    if len(t1) != 3 or t1[0].lower() != "frame" or t1[1].lower() != "time:":
        _fail(path, "expected 'Frame Time: seconds'", header[1] + 1)
    try:
        frame_time = float(t1[2])
    except ValueError:
        _fail(path, f"frame time '{t1[2]}' is not a number", header[1] + 1)
    if not np.isfinite(frame_time) or frame_time <= 0:
        _fail(path, f"frame time must be > 0, got {t1[2]}", header[1] + 1)
    if frames <= 0:
        _fail(path, "zero frames of motion" if frames == 0 else f"negative frame count {frames}", header[0] + 1)

    first = header[1] + 1
    if n_channels == 0:
        _fail(path, "no CHANNELS in HIERARCHY")
    body = "\n".join(lines[first:])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            values = np.fromstring(body, dtype=np.float64, sep=" ")  # C-speed text parsing
    except (DeprecationWarning, ValueError):
        _locate_value_error(path, lines, first)
    # Per-line value counts (a C-level split per line, not per float): a short row followed by a long
    # one leaves the total right but misaligns every channel after it.
    if values.size != frames * n_channels or not _rows_all_have(body, n_channels):
        _locate_row_error(path, lines, first, frames, n_channels, header[0] + 1)
    motion = values.reshape(frames, n_channels)
    bad = ~np.isfinite(motion)
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        _fail(path, "motion has a NaN or infinite value", _row_line(lines, first, row))
    return BvhMotion(path=str(path), joints=joints, frame_time=frame_time, motion=motion)


def _check_hierarchy_size(path, joints, depth, line):
    """Header limits (limits.RANGES 'joints', 'depth'), checked as the hierarchy is read: a file cannot make
    the reader build more than the documented number of joints or nest them deeper."""
    from .limits import RANGES
    if joints > RANGES["joints"][1]:
        _fail(path, f"more than {RANGES['joints'][1]} joints and End Sites: not a body skeleton", line)
    if depth > RANGES["depth"][1]:
        _fail(path, f"hierarchy nested deeper than {RANGES['depth'][1]} levels: not a body skeleton", line)


def _rows_all_have(body, count):
    """Whether every non-blank line of `body` holds exactly `count` whitespace-separated values (numpy
    passes over the bytes instead of a split per line)."""
    b = np.frombuffer(body.encode("utf-8", errors="replace"), dtype=np.uint8)
    if not b.size:
        return True
    space = (b == 32) | ((b >= 9) & (b <= 13))
    starts = np.flatnonzero(~space & np.concatenate(([True], space[:-1])))
    per_line = np.bincount(np.searchsorted(np.flatnonzero(b == 10), starts))
    per_line = per_line[per_line > 0]
    return bool((per_line == count).all())


def _row_line(lines, first, row):
    """1-based file line of motion row `row` (blank lines skipped)."""
    seen = -1
    for k in range(first, len(lines)):
        if lines[k].strip():
            seen += 1
            if seen == row:
                return k + 1
    return len(lines)


def _locate_row_error(path, lines, first, frames, n_channels, frames_line):
    rows = [(k, len(lines[k].split())) for k in range(first, len(lines)) if lines[k].strip()]
    for k, count in rows:
        if count != n_channels:
            _fail(path, f"motion row has {count} values, expected {n_channels}", k + 1)
    _fail(path, f"'Frames: {frames}' but the file has {len(rows)} motion rows", frames_line)


def _locate_value_error(path, lines, first):
    for k in range(first, len(lines)):
        for t in lines[k].split():
            try:
                float(t)
            except ValueError:
                _fail(path, f"non-numeric motion value '{t[:20]}'", k + 1)
    _fail(path, "unreadable motion values", first)
