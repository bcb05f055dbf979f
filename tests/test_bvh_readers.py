"""The two motion-block readers (pandas' C reader with the `fast` extra, np.fromstring inside Blender) give
the same bits and the same one-line errors; the header reader numbers lines as the file has them."""
import numpy as np
import pytest

from conftest import FAMILIES, SAMPLES, shared_bvh_files
from hpd3d_addon.core import bvh
from hpd3d_addon.core.errors import InputError
from test_bad_input import ALL, _write_case

needs_pandas = pytest.mark.skipif(not bvh.pandas_available(),
                                  reason="pandas is not installed (the optional `fast` extra: pip install hpd3d[fast])")

GOOD_FILES = sorted(FAMILIES.glob("*.bvh")) + sorted(SAMPLES.glob("*.bvh")) + shared_bvh_files()

HEADER = ("HIERARCHY\nROOT a\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n End Site\n {\n"
          "  OFFSET 0 1 0\n }\n}\nMOTION\nFrames: 2\nFrame Time: 0.1\n")
TOKENS = [".", "-", "+", "e5", "1e", "1e+", "--1", "0x10", "inf", "nan", "-inf", "1_0", "\u0661", "1,5", '"1"',
          "1d3", "NA", "null", "#1", "True", "1e-7", "1E+07", "-0", "+.5", "5.", "1e08", "0.1234567890123",
          "0.12345678901234567", "1e-300", "123456789012345678", "4.9406564584124654e-324"]
BODIES = ["1 2 3\n\n  4 5 6  \n\n", "  1 2 3\t\n4\t5 6", "1 2 3 4\n5 6\n", "1 2\n3 4 5 6\n", "1 2 3\n",
          "1 2 3\n4 5 6\n7 8 9\n", "1 2 3\r\n4 5 6\r\n", "1 2 3\r4 5 6\r", "1 2 3\n4 5 6 \u00a0\n", "1 2 3\n4 5\x0c6\n"]


def _outcome(read):
    try:
        m = read().motion
        return m.dtype, m.shape, m.tobytes()
    except InputError as exc:
        return str(exc), exc.line


def test_line_reader_numbers_lines_as_split_does():
    for text in ["", "a", "a\n", "a\nb", "\n\nx\n\n", "HIERARCHY\n{\n"]:
        r = bvh.LineReader(text)
        got = []
        while (line := r.next()) is not None:
            got.append(line)
        assert got == text.split("\n") and r.count == len(got) and r.rest() == ""
    r = bvh.LineReader("a\n\n b\nrest\nof it")
    assert r.next_nonblank() == "a" and r.next_nonblank() == " b" and r.count == 3 and r.rest() == "rest\nof it"


@needs_pandas
@pytest.mark.parametrize("path", GOOD_FILES, ids=lambda p: p.name)
def test_readers_give_the_same_bits(path):
    a, b = bvh.read_bvh(path, reader="numpy"), bvh.read_bvh(path, reader="pandas")
    assert a.motion.dtype == b.motion.dtype == np.float64 and a.motion.flags.c_contiguous and b.motion.flags.c_contiguous
    assert np.array_equal(a.motion.view(np.int64), b.motion.view(np.int64))
    assert [(j.name, j.parent, j.channels, j.channel_start) for j in a.joints] == \
           [(j.name, j.parent, j.channels, j.channel_start) for j in b.joints]


@needs_pandas
def test_pandas_reads_the_fixtures_itself():
    """The pandas reader is not declining everything (which would make the test above trivially pass)."""
    read = 0
    for path in GOOD_FILES:
        text = path.read_bytes().decode("utf-8-sig", errors="replace").replace("\r\n", "\n")
        lines = bvh.LineReader(text)
        _, n = bvh.parse_hierarchy(lines, path)
        header = bvh.parse_motion_header(lines, path)
        read += bvh._pandas_values(lines.rest().encode(), n) is not None
    assert read >= len(GOOD_FILES) - 2, read


@needs_pandas
@pytest.mark.parametrize("name", ALL)
def test_readers_give_the_same_errors(tmp_path, name):
    path, _ = _write_case(tmp_path, name)
    assert _outcome(lambda: bvh.read_bvh(path, reader="numpy")) == _outcome(lambda: bvh.read_bvh(path, reader="pandas"))


@needs_pandas
@pytest.mark.parametrize("text", [HEADER + f"1 2 {t}\n4 5 6\n" for t in TOKENS] + [HEADER + b for b in BODIES])
def test_readers_agree_on_odd_values_and_rows(text):
    numpy = _outcome(lambda: bvh.parse_bvh(text, "x.bvh", reader="numpy"))
    assert numpy == _outcome(lambda: bvh.parse_bvh(text, "x.bvh", reader="pandas"))


@pytest.mark.parametrize("reader", ["numpy", pytest.param("pandas", marks=needs_pandas)])
def test_small_chunks_read_the_same(monkeypatch, tmp_path, reader):
    """The motion block is parsed CHUNK_BYTES at a time (the reader's memory does not grow with the take):
    pieces of a few hundred bytes give the same bits and the same errors as one piece."""
    files = GOOD_FILES[:6] + [_write_case(tmp_path, n)[0] for n in ALL if n not in ("empty", "blank_lines_only")]
    whole = [_outcome(lambda: bvh.read_bvh(p, reader=reader)) for p in files]
    monkeypatch.setattr(bvh, "CHUNK_BYTES", 300)
    assert [_outcome(lambda: bvh.read_bvh(p, reader=reader)) for p in files] == whole


def test_header_and_motion_split_in_the_bytes(tmp_path):
    """A file is read without decoding its motion block; CRLF and a UTF-8 byte-order mark read alike."""
    text = HEADER + "1 2 3\n4 5 6\n"
    for name, data in (("lf", text.encode()), ("crlf", text.replace("\n", "\r\n").encode()),
                       ("bom", text.encode("utf-8-sig"))):
        path = tmp_path / f"{name}.bvh"
        path.write_bytes(data)
        assert bvh.read_bvh(path).motion.tolist() == [[1, 2, 3], [4, 5, 6]], name
    (tmp_path / "frames.bvh").write_text(HEADER.replace("Frames: 2", "Frames: 3") + "1 2 3\n4 5 6\n")
    with pytest.raises(InputError, match=r"frames.bvh:12: 'Frames: 3' but the file has 2 motion rows"):
        bvh.read_bvh(tmp_path / "frames.bvh")


def test_numpy_reader_alone(tmp_path):
    """Inside Blender there is no pandas: the numpy reader reads and reports on its own."""
    good = bvh.parse_bvh(HEADER + "1 2 3\n4 5 6\n", "x.bvh", reader="numpy")
    assert good.motion.tolist() == [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(InputError, match=r"x.bvh:15: motion row has 2 values, expected 3"):
        bvh.parse_bvh(HEADER + "1 2 3\n4 5\n", "x.bvh", reader="numpy")
    with pytest.raises(ValueError):
        bvh.parse_bvh(HEADER + "1 2 3\n", "x.bvh", reader="fortran")


def test_a_repeated_hierarchy_is_read_from_the_cache_alike(tmp_path):
    """The hierarchy of a skeleton seen before comes from bvh._HIERARCHIES: the same joints (copies the
    caller may change), and errors after it name the same lines as without the cache."""
    from hpd3d_addon.core import bvh as B
    src = sorted(SAMPLES.glob("*.bvh"))[0]
    B._HIERARCHIES.clear()
    first = B.read_bvh(src)
    assert len(B._HIERARCHIES) == 1
    first.joints[0].offset[:] = 99.0
    first.joints[0].channels.append("bogus")
    second = B.read_bvh(src)
    B._HIERARCHIES.clear()
    fresh = B.read_bvh(src)
    for a, b in zip(second.joints, fresh.joints):
        assert (a.name, a.parent, a.channels, a.channel_start, a.is_end_site) == \
               (b.name, b.parent, b.channels, b.channel_start, b.is_end_site)
        assert np.array_equal(a.offset, b.offset)
    assert np.array_equal(second.motion, fresh.motion)
    bad = tmp_path / "bad.bvh"
    bad.write_text(src.read_text().replace("Frames:", "Frames: x\nFrames:", 1))
    messages = []
    for _ in range(2):  # the first parse fills the cache (from src), the second uses it
        B._HIERARCHIES.clear() if not messages else None
        B.read_bvh(src)
        with pytest.raises(InputError) as exc:
            B.read_bvh(bad)
        messages.append(str(exc.value))
    assert messages[0] == messages[1] and f"{bad}:133: frame count" in messages[0], messages
