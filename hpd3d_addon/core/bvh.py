"""BVH reading: the HIERARCHY as a joint table, the MOTION block as one float array read in bulk.

`read_bvh(path)` is the entry point. The file is read in two parts: the header (`parse_hierarchy` and
`parse_motion_header`, line by line: a few hundred lines) and the motion block (`parse_motion`, in bulk).
The motion block is read by pandas' C CSV reader when pandas is installed (`pip install hpd3d[fast]`,
~2x faster) and by `np.fromstring` otherwise (inside Blender, which bundles numpy only). Both give the
same bits: pandas' reader is used only where it is exact (see `_pandas_is_exact`) and on anything it does
not read cleanly the numpy reader runs instead, so errors and their messages come from one place.
"""
import csv
import io
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import InputError

CHANNEL_NAMES = ("xposition", "yposition", "zposition", "xrotation", "yrotation", "zrotation")
READERS = ("auto", "pandas", "numpy")


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


@dataclass
class MotionHeader:
    """The two lines after MOTION, and where the motion rows begin (1-based file line)."""
    frames: int
    frame_time: float
    frames_line: int
    first_line: int


def _fail(path, message, line=None):
    raise InputError(path, message, line)


class LineReader:
    """The lines of a text one at a time, numbered from 1, as `text.split("\\n")` would give them: only the
    header is ever split into lines. `rest()` is the text after the last line read."""

    def __init__(self, text):
        self.text = text
        self.pos = 0    # start of the next line; -1 once the last line was read
        self.count = 0  # lines read so far = the number of the last line read

    def next(self):
        """The next line, or None after the last one."""
        if self.pos < 0:
            return None
        end = self.text.find("\n", self.pos)
        line = self.text[self.pos:] if end < 0 else self.text[self.pos:end]
        self.pos = -1 if end < 0 else end + 1
        self.count += 1
        return line

    def next_nonblank(self):
        """The next line that is not blank, or None."""
        while (line := self.next()) is not None and not line.strip():
            pass
        return line

    def rest(self):
        return self.text[self.pos:] if self.pos >= 0 else ""


def read_bvh(path, reader="auto"):
    """Parse a BVH file. Raises InputError (one line, file and line number) for anything malformed.
    `reader`: the motion-block reader, auto (pandas when installed), pandas or numpy (same result)."""
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
        parsed = _parse_split(raw, path, reader)
        if parsed is not None:
            return parsed
        text = raw.decode("utf-8-sig", errors="replace")  # -sig: a UTF-8 byte-order mark is not part of 'HIERARCHY'
    if not text.strip():
        _fail(path, "file is empty")
    return parse_bvh(text, path, reader)


_FRAME_TIME_LINE = re.compile(rb"^[ \t]*frame[ \t]+time:[^\n]*\n", re.I | re.M)


def _parse_split(raw, path, reader):
    """read_bvh for a UTF-8 file without decoding its motion block: the header (up to the first 'Frame
    Time:' line) is decoded and parsed as text, the motion block read from the bytes in chunks. None when
    the header does not parse that way (then the whole text is parsed, which words any error)."""
    m = _FRAME_TIME_LINE.search(raw)
    parsed = _split_header(raw, m, path) if m is not None else None
    if parsed is None:
        return None
    joints, n_channels, header = parsed
    start = m.end()
    if raw.find(b"\r", start) >= 0:
        raw, start = raw[start:].replace(b"\r\n", b"\n").replace(b"\r", b"\n"), 0
    motion = parse_motion(Body(raw, start), header, n_channels, path, reader)
    return BvhMotion(path=str(path), joints=joints, frame_time=header.frame_time, motion=motion)


_MOTION_LINE = re.compile(r"^[ \t]*motion(?=[ \t\n]|$)[^\n]*\n", re.I | re.M)
_HIERARCHIES = {}  # the text up to and including the MOTION line -> (joints, channels): a corpus has few skeletons


def cached_hierarchy(lines, path):
    """parse_hierarchy on a LineReader at the start of a text, remembered by the text it reads: the files of
    a corpus repeat a few skeletons, whose header need not be parsed again (~1 ms each). Joints are copies."""
    m = _MOTION_LINE.search(lines.text, lines.pos)
    key = lines.text[lines.pos:m.end()] if m is not None and lines.pos == 0 else None
    if key is not None and key in _HIERARCHIES:
        joints, n_channels = _HIERARCHIES[key]
        lines.pos, lines.count = m.end(), key.count("\n")
        return [replace(j, offset=j.offset.copy(), channels=list(j.channels)) for j in joints], n_channels
    joints, n_channels = parse_hierarchy(lines, path)
    if key is not None and lines.pos == m.end():
        if len(_HIERARCHIES) >= 64:
            _HIERARCHIES.clear()
        _HIERARCHIES[key] = ([replace(j, offset=j.offset.copy(), channels=list(j.channels)) for j in joints],
                             n_channels)
    return joints, n_channels


def parse_bvh(text, path="<string>", reader="auto"):
    """Parse BVH text; `path` is only used in error messages."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = LineReader(text)
    joints, n_channels = parse_hierarchy(lines, path)
    header = parse_motion_header(lines, path)
    if n_channels == 0:
        _fail(path, "no CHANNELS in HIERARCHY")
    motion = parse_motion(lines.rest(), header, n_channels, path, reader)
    return BvhMotion(path=str(path), joints=joints, frame_time=header.frame_time, motion=motion)


def parse_hierarchy(lines, path):
    """Read HIERARCHY up to and including the MOTION line from the LineReader `lines`.
    Returns (joints in file order, total channel count)."""
    joints = []
    current = None      # joint whose block we are directly in (None after a child's '}')
    stack = []          # indices of open joints; -1 marks an open End Site
    pending = None      # joint whose '{' we expect next
    n_channels = 0

    line = lines.next_nonblank()
    if line is None or line.split()[0].upper() != "HIERARCHY":
        _fail(path, "not a BVH file (expected 'HIERARCHY' on the first line)", lines.count if line is not None else None)
    motion_line = None
    while (line := lines.next()) is not None:
        tok = line.split()
        if not tok:
            continue
        i = lines.count  # 1-based number of this line
        key = tok[0].upper()
        if key in ("ROOT", "JOINT"):
            if key == "ROOT" and (stack or joints):
                _fail(path, "more than one ROOT joint is not supported", i)
            if key == "JOINT" and not stack:
                _fail(path, "JOINT outside of any ROOT", i)
            if len(tok) < 2:
                _fail(path, f"{key} without a name", i)
            if stack and stack[-1] == -1:
                _fail(path, "an End Site cannot have children", i)
            name = " ".join(tok[1:])
            parent = stack[-1] if stack else -1
            joints.append(BvhJoint(name=name, parent=parent, offset=None))
            pending = len(joints) - 1
        elif key == "END":
            if len(tok) < 2 or tok[1].lower() != "site":
                _fail(path, f"unexpected '{line.strip()}'", i)
            if not stack or stack[-1] == -1:
                _fail(path, "End Site outside of a joint", i)
            parent = stack[-1]
            joints.append(BvhJoint(name=f"{joints[parent].name}_End", parent=parent, offset=None, is_end_site=True))
            pending = len(joints) - 1
        elif key == "{":
            if pending is None:
                _fail(path, "'{' without a joint", i)
            _check_hierarchy_size(path, len(joints), len(stack) + 1, i)
            stack.append(-1 if joints[pending].is_end_site else pending)
            current = pending  # the joint this brace belongs to, for OFFSET/CHANNELS below
            pending = None
        elif key == "}":
            if not stack:
                _fail(path, "unbalanced '}'", i)
            stack.pop()
            current = None
        elif key == "OFFSET":
            if pending is not None or not stack:
                _fail(path, "OFFSET outside of a joint block", i)
            if current is None:
                _fail(path, "OFFSET after a child joint: it must come first in its joint's block", i)
            joints[current].offset = _offset(tok, path, i)
        elif key == "CHANNELS":
            if not stack or stack[-1] == -1:
                _fail(path, "CHANNELS outside of a joint block", i)
            if current is None:
                _fail(path, "CHANNELS after a child joint: they must come first in their joint's block", i)
            names = _channels(tok, path, i)
            joints[stack[-1]].channels = names
            joints[stack[-1]].channel_start = n_channels
            n_channels += len(names)
        elif key == "MOTION":
            if stack:
                _fail(path, "MOTION before the hierarchy is closed (missing '}')", i)
            motion_line = i
            break
        else:
            _fail(path, f"unexpected '{line.strip()[:40]}' in HIERARCHY", i)

    if motion_line is None:
        if stack:
            _fail(path, "truncated hierarchy (missing '}' before end of file)", lines.count)
        _fail(path, "no MOTION section", lines.count)
    if not joints:
        _fail(path, "no joints in HIERARCHY", motion_line)
    for j in joints:
        if j.offset is None:
            _fail(path, f"joint '{j.name}' has no OFFSET")
    return joints, n_channels


def _check_hierarchy_size(path, joints, depth, line):
    """Header limits (limits.RANGES 'joints', 'depth'), checked as the hierarchy is read: a file cannot make
    the reader build more than the documented number of joints or nest them deeper."""
    from .limits import RANGES
    if joints > RANGES["joints"][1]:
        _fail(path, f"more than {RANGES['joints'][1]} joints and End Sites: not a body skeleton", line)
    if depth > RANGES["depth"][1]:
        _fail(path, f"hierarchy nested deeper than {RANGES['depth'][1]} levels: not a body skeleton", line)


def _offset(tok, path, line):
    if len(tok) != 4:
        _fail(path, f"OFFSET needs 3 numbers, got {len(tok) - 1}", line)
    try:
        off = np.array([float(t) for t in tok[1:]])
    except ValueError:
        _fail(path, f"OFFSET has a non-numeric value: {' '.join(tok[1:])}", line)
    if not np.all(np.isfinite(off)):
        _fail(path, "OFFSET has a NaN or infinite value", line)
    return off


def _channels(tok, path, line):
    try:
        count = int(tok[1])
    except (IndexError, ValueError):
        _fail(path, "CHANNELS needs a count", line)
    names = [t.lower() for t in tok[2:]]
    if count != len(names):
        _fail(path, f"CHANNELS says {count} but lists {len(names)}", line)
    for c in names:
        if c not in CHANNEL_NAMES:
            _fail(path, f"unknown channel '{c}'", line)
    if len(set(names)) != len(names):
        _fail(path, "a channel is listed twice", line)
    return names


def parse_motion_header(lines, path):
    """'Frames: N' and 'Frame Time: dt', the next two non-blank lines after MOTION."""
    motion_line = lines.count
    t0 = lines.next_nonblank()
    frames_line = lines.count
    t1 = lines.next_nonblank() if t0 is not None else None
    if t1 is None:
        _fail(path, "MOTION section lacks 'Frames:' and 'Frame Time:'", motion_line)
    time_line = lines.count
    t0, t1 = t0.split(), t1.split()
    if len(t0) != 2 or t0[0].lower() != "frames:":
        _fail(path, "expected 'Frames: N'", frames_line)
    try:
        frames = int(t0[1])
    except ValueError:
        _fail(path, f"frame count '{t0[1]}' is not a whole number", frames_line)
    if len(t1) != 3 or t1[0].lower() != "frame" or t1[1].lower() != "time:":
        _fail(path, "expected 'Frame Time: seconds'", time_line)
    try:
        frame_time = float(t1[2])
    except ValueError:
        _fail(path, f"frame time '{t1[2]}' is not a number", time_line)
    if not np.isfinite(frame_time) or frame_time <= 0:
        _fail(path, f"frame time must be > 0, got {t1[2]}", time_line)
    if frames <= 0:
        _fail(path, "zero frames of motion" if frames == 0 else f"negative frame count {frames}", frames_line)
    return MotionHeader(frames=frames, frame_time=frame_time, frames_line=frames_line, first_line=time_line + 1)


# ---- the motion block -------------------------------------------------------------------------------------

class Body:
    """The motion block as bytes: `buffer[start:]` (the file's bytes, not copied)."""

    def __init__(self, buffer, start=0):
        self.buffer, self.start = buffer, start

    def chunks(self, size):
        """Pieces of about `size` bytes that end at a line end (copies of one piece at a time)."""
        buf, i = self.buffer, self.start
        while i < len(buf):
            j = i + size
            if j < len(buf):
                k = buf.rfind(b"\n", i, j)
                if k < 0:
                    k = buf.find(b"\n", j)
                j = len(buf) if k < 0 else k + 1
            yield buf[i:j]
            i = j

    def size(self):
        return len(self.buffer) - self.start

    def text(self):
        return self.buffer[self.start:].decode("utf-8", errors="replace")


CHUNK_BYTES = 1 << 23  # motion text parsed 8 MB at a time: the reader's memory does not grow with the take


def parse_motion(body, header, n_channels, path="<string>", reader="auto"):
    """The motion rows (text after the 'Frame Time:' line: a str or a Body) as a (frames, n_channels)
    float64 array, parsed CHUNK_BYTES at a time. Anything wrong is reported by the whole-text numpy reader,
    which names the line."""
    if reader not in READERS:
        raise ValueError(f"reader must be one of {READERS}, not {reader!r}")
    if reader == "pandas" and not pandas_available():
        raise ImportError("the pandas motion reader needs pandas: pip install hpd3d[fast]")
    if isinstance(body, str):
        body = Body(body.encode("utf-8", errors="replace"))
    motion = _chunked_motion(body, header.frames, n_channels, _use_pandas(reader, body.size()))
    if motion is None:
        motion = _numpy_motion(body.text(), header, n_channels, path)
    return motion


def _chunked_motion(body, frames, n_channels, use_pandas):
    """The motion block read piece by piece into one array, or None at the first thing not right."""
    # every value takes at least 2 bytes (a digit and a separator, the last one's may be missing)
    if frames * n_channels * 2 > body.size() + 1:
        return None
    motion = np.empty((frames, n_channels))
    row = 0
    for chunk in body.chunks(CHUNK_BYTES):
        values = _window_values(chunk, n_channels, use_pandas)
        if values is None:
            return None
        rows = values.size // n_channels
        if row + rows > frames:
            return None
        motion[row:row + rows] = values.reshape(rows, n_channels)
        row += rows
    if row != frames:
        return None
    return motion


PANDAS_AFTER_BYTES = 16 << 20  # 'auto': numpy until a process has read this much motion text, then pandas
_numpy_bytes = 0


def _use_pandas(reader, size):
    """Whether to read a motion block of `size` bytes with pandas. 'auto' reads with numpy until the process
    has read PANDAS_AFTER_BYTES (or the block alone is that large): pandas costs ~0.4 s to import and ~1 ms
    a call, which a few hundred short takes do not earn back (the bits are the same either way)."""
    global _numpy_bytes
    if reader == "numpy":
        return False
    if reader == "pandas" or _PANDAS or _numpy_bytes + size >= PANDAS_AFTER_BYTES:
        return pandas_available()
    _numpy_bytes += size
    return False


def pandas_available():
    """Whether pandas (the `fast` extra) can be imported; imported on first use only (it takes ~0.4 s)."""
    global _PANDAS
    if _PANDAS is None:
        try:
            import pandas
            _PANDAS = pandas
        except ImportError:
            _PANDAS = False
    return _PANDAS is not False


_PANDAS = None
_ASCII_SPACE = b" \t\x0b\x0c\r"
# Byte classes: a newline stays b"\n", other whitespace (what ends a token for np.fromstring and str.split)
# becomes b" ", every other byte b"x"; and the same text with every token on its own line, for pandas.
_CLASSES = bytes(10 if c == 10 else 32 if c in _ASCII_SPACE else 120 for c in range(256))
_ONE_PER_LINE = bytes.maketrans(_ASCII_SPACE, b"\n" * len(_ASCII_SPACE))
_PANDAS_MAX_TOKEN = 15


def _pandas_is_exact(data, classes):
    """Whether pandas' parser returns, for every value in `data`, the correctly rounded double that
    np.fromstring (the C library's strtod) returns.

    pandas' default ("high") parser accumulates the digits in a double and scales once by an exact power of
    ten: with at most 15 digits (exact below 2**53) and a decimal exponent within +-22 (10**22 is exact) that
    is one correctly rounded operation, so the result is exact (Clinger's fast path). Tokens of at most 15
    characters have at most 15 digits and 14 after the point; a written exponent within +-7 keeps the total
    within 22. Files with longer numbers go to the numpy reader.
    """
    if b"x" * (_PANDAS_MAX_TOKEN + 1) in classes:
        return False
    if b"e" not in data and b"E" not in data:
        return True
    return _exponents_within_7(np.frombuffer(data, dtype=np.uint8))


def _exponents_within_7(b):
    """Whether every e/E in the bytes `b` starts an exponent of at most 7 in size: [sign] then 0-7, 00-07
    or 000-007, then not a digit (numpy passes; a regex would be 10x slower)."""
    at = np.flatnonzero((b | 0x20) == ord("e")) + 1
    n = len(b)

    def byte(i):
        return np.where(i < n, b[np.minimum(i, n - 1)], ord(" "))

    first = byte(at)
    at = at + ((first == ord("+")) | (first == ord("-")))
    d = [byte(at + k) for k in range(4)]
    digit = [(x >= ord("0")) & (x <= ord("9")) for x in d]
    small = [(x >= ord("0")) & (x <= ord("7")) for x in d]
    zero = [x == ord("0") for x in d]
    ok = ((small[0] & ~digit[1]) | (zero[0] & small[1] & ~digit[2]) | (zero[0] & zero[1] & small[2] & ~digit[3]))
    return bool(ok.all())


def _pandas_values(data, n_channels):
    """The values of whole motion rows (bytes) by pandas' C reader, or None where it is not certain to
    equal the numpy reader (then the numpy reader reads them).

    pandas reads the values as one column (every token on its own line): one column is several times faster
    than a table of ~100 columns for files of a few thousand rows, and the rows are checked on the bytes.
    """
    # ',' is pandas' separator: a token holding one would become two columns. Non-ASCII: numpy decides.
    if not data.isascii() or b"," in data:
        return None
    classes = data.translate(_CLASSES)
    if not _pandas_is_exact(data, classes) or not _rows_all_have(classes, n_channels):
        return None
    del classes
    if not data.strip():
        return np.empty(0)
    try:
        table = _PANDAS.read_csv(io.BytesIO(data.translate(_ONE_PER_LINE)), header=None, names=[0],
                                 dtype=np.float64, engine="c", na_filter=False, quoting=csv.QUOTE_NONE,
                                 float_precision="high", low_memory=False)
    except (ValueError, _PANDAS.errors.ParserError, UnicodeError, _PANDAS.errors.EmptyDataError):
        return None
    values = table[0].to_numpy(dtype=np.float64)
    if values.size % n_channels or not np.isfinite(values).all():
        return None
    return values


def _numpy_values(data, n_channels):
    """The values of whole motion rows (bytes) by np.fromstring, or None if they are not all numbers in
    rows of n_channels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            values = np.fromstring(data, dtype=np.float64, sep=" ")
    except (DeprecationWarning, ValueError):
        return None
    if values.size % n_channels or not _rows_all_have(data.translate(_CLASSES), n_channels):
        return None
    return values


def _numpy_motion(body, header, n_channels, path):
    """The motion block by np.fromstring (numpy only: the reader inside Blender); raises InputError naming
    the line of the first problem."""
    frames = header.frames
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            values = np.fromstring(body, dtype=np.float64, sep=" ")  # C-speed text parsing
    except (DeprecationWarning, ValueError):
        _locate_value_error(path, body, header.first_line)
    # Per-line value counts (a C-level split per line, not per float): a short row followed by a long
    # one leaves the total right but misaligns every channel after it.
    if values.size != frames * n_channels or not _rows_all_have(
            body.encode("utf-8", errors="replace").translate(_CLASSES), n_channels):
        _locate_row_error(path, body, header, n_channels)
    motion = values.reshape(frames, n_channels)
    bad = ~np.isfinite(motion)
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        _fail(path, "motion has a NaN or infinite value", _row_line(body, header.first_line, row))
    return motion


def _rows_all_have(classes, count):
    """Whether every non-blank line holds exactly `count` whitespace-separated values; `classes` is the
    motion block translated by _CLASSES (numpy passes over the bytes instead of a split per line)."""
    b = np.frombuffer(classes, dtype=np.uint8)
    if not b.size:
        return True
    token = b == 120
    starts = np.flatnonzero(token[1:] > token[:-1]) + 1
    if token[0]:
        starts = np.concatenate(([0], starts))
    per_line = np.bincount(np.searchsorted(np.flatnonzero(b == 10), starts))
    per_line = per_line[per_line > 0]
    return bool((per_line == count).all())


def _numbered_rows(body, first_line):
    """(file line number, line) of the non-blank lines of the motion block."""
    return [(first_line + k, line) for k, line in enumerate(body.split("\n")) if line.strip()]


def _row_line(body, first_line, row):
    """1-based file line of motion row `row` (blank lines skipped)."""
    rows = _numbered_rows(body, first_line)
    return rows[row][0] if row < len(rows) else first_line + body.count("\n")


def _locate_row_error(path, body, header, n_channels):
    rows = _numbered_rows(body, header.first_line)
    for k, line in rows:
        count = len(line.split())
        if count != n_channels:
            _fail(path, f"motion row has {count} values, expected {n_channels}", k)
    _fail(path, f"'Frames: {header.frames}' but the file has {len(rows)} motion rows", header.frames_line)


def _locate_value_error(path, body, first_line):
    for k, line in _numbered_rows(body, first_line):
        for t in line.split():
            try:
                float(t)
            except ValueError:
                _fail(path, f"non-numeric motion value '{t[:20]}'", k)
    _fail(path, "unreadable motion values", first_line)


# ---- long takes: the motion block as a stream of windows ---------------------------------------------------

HEADER_PROBE_BYTES = 1 << 20
HEADER_MAX_BYTES = 1 << 26  # a 'Frame Time:' line later than this: not a header the stream reader takes


@dataclass
class MotionStream:
    """A BVH file opened for reading its motion rows window by window (`windows()`), never all at once:
    the joints and the motion header, read from the file's first bytes."""
    path: str
    joints: list
    n_channels: int
    header: MotionHeader
    rest: bytes          # the file's bytes after the 'Frame Time:' line already read
    fh: object
    reader: str = "auto"

    @property
    def frame_time(self):
        return self.header.frame_time

    def windows(self):
        """(first row, (rows, n_channels) float64) for every CHUNK_BYTES of motion text in file order: the
        values read_bvh gives for those rows, bit for bit. InputError (file and line) at the first problem."""
        use_pandas = _use_pandas(self.reader, PANDAS_AFTER_BYTES)  # a long take: worth the import
        path, n, frames = self.path, self.n_channels, self.header.frames
        row, line, buf, eof = 0, self.header.first_line, self.rest, False
        self.rest = b""
        while True:
            while not eof and len(buf) < CHUNK_BYTES:
                more = self.fh.read(CHUNK_BYTES)
                eof, buf = not more, buf + more
            if not buf:
                break
            cut = len(buf) if eof and len(buf) <= CHUNK_BYTES else buf.rfind(b"\n", 0, CHUNK_BYTES) + 1
            while cut == 0:  # a row longer than a chunk: read on to its end
                k = buf.find(b"\n", CHUNK_BYTES)
                if k >= 0 or eof:
                    cut = len(buf) if k < 0 else k + 1
                elif len(buf) > HEADER_MAX_BYTES:
                    _fail(path, "a motion row longer than 64 MB: not a motion", line)
                else:
                    more = self.fh.read(CHUNK_BYTES)
                    eof, buf = not more, buf + more
            piece, buf = buf[:cut], buf[cut:]
            if b"\r" in piece:
                piece = piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if not piece.strip():
                line += piece.count(b"\n")
                continue
            values = _window_values(piece, n, use_pandas)
            if values is None:
                _locate_window_error(path, piece, line, n)
            rows = values.size // n
            if row + rows > frames:
                _fail(path, f"'Frames: {frames}' but the file has {row + rows + _count_rows(buf, self.fh)} motion rows",
                      self.header.frames_line)
            if rows:
                yield row, values.reshape(rows, n)
            row += rows
            line += piece.count(b"\n")
        if row != frames:
            _fail(path, f"'Frames: {frames}' but the file has {row} motion rows", self.header.frames_line)

    def close(self):
        self.fh.close()


def open_stream(path, reader="auto"):
    """A MotionStream of a UTF-8 BVH file, or None when its header is not read that way (UTF-16, binary, no
    'Frame Time:' line in the first 64 MB, or a header read_bvh would word an error for): then read_bvh
    reads the file whole and reports. OSError as InputError naming the file."""
    path = Path(path)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        _fail(path, f"cannot read file ({exc.strerror or exc})")
    try:
        data, m = b"", None
        while m is None and len(data) <= HEADER_MAX_BYTES:
            more = fh.read(HEADER_PROBE_BYTES)
            if not more:
                break
            data += more
            if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:65536]:
                break
            m = _FRAME_TIME_LINE.search(data)
        parsed = _split_header(data, m, path) if m is not None else None
    except OSError as exc:
        fh.close()
        _fail(path, f"cannot read file ({exc.strerror or exc})")
    if parsed is None:
        fh.close()
        return None
    joints, n_channels, header = parsed
    return MotionStream(str(path), joints, n_channels, header, data[m.end():], fh, reader)


def _split_header(data, m, path):
    """(joints, channels, MotionHeader) of the header in data[:m.end()] (up to its 'Frame Time:' line, match
    `m`), or None when it does not parse that way (the whole-text reader then words the error)."""
    head = data[:m.end()].decode("utf-8-sig", errors="replace")
    if "\r" in head:
        head = head.replace("\r\n", "\n").replace("\r", "\n")
    lines = LineReader(head)
    try:
        joints, n_channels = cached_hierarchy(lines, path)
        header = parse_motion_header(lines, path)
    except InputError:
        return None
    if lines.pos != len(head) or n_channels == 0:
        return None
    return joints, n_channels, header


def _window_values(piece, n_channels, use_pandas):
    """The values of a window of whole rows (bytes), by the reader read_bvh would use; None if not clean."""
    values = _pandas_values(piece, n_channels) if use_pandas else None
    if values is None:
        values = _numpy_values(piece, n_channels)
    if values is None or not np.isfinite(values).all():
        return None
    return values


def _count_rows(buf, fh):
    """The non-blank lines left in `buf` and the rest of the file (for the 'Frames:' message only)."""
    count, tail = 0, buf
    while True:
        more = fh.read(CHUNK_BYTES)
        tail += more
        if not more:
            return count + sum(1 for line in tail.split(b"\n") if line.strip())
        cut = tail.rfind(b"\n") + 1
        count += sum(1 for line in tail[:cut].split(b"\n") if line.strip())
        tail = tail[cut:]


def _locate_window_error(path, piece, first_line, n_channels):
    """InputError naming the line of the first problem in a window: a non-numeric value, a row with the wrong
    number of values, a NaN or infinity (checked in that order, as read_bvh does for a whole file)."""
    text = piece.decode("utf-8", errors="replace")
    rows = _numbered_rows(text, first_line)
    for k, line in rows:
        for t in line.split():
            try:
                float(t)
            except ValueError:
                _fail(path, f"non-numeric motion value '{t[:20]}'", k)
    for k, line in rows:
        count = len(line.split())
        if count != n_channels:
            _fail(path, f"motion row has {count} values, expected {n_channels}", k)
    for k, line in rows:
        if not all(np.isfinite(float(t)) for t in line.split()):
            _fail(path, "motion has a NaN or infinite value", k)
    _fail(path, "unreadable motion values", first_line)
