"""The project and realise stages, streamed: the 2D made block by block while the 2D file is written.

`Views` projects each subject's stored 3D through its cameras in blocks of at most BLOCK_FRAMES frames
(several short takes together, so per-call overhead stays small; a longer take is one block), realises each
take (occlusion, detector keypoints: core/dataset.realise), hands the take's 2D to the npz writer and
forgets it. What is needed again after the 2D (visibility masks, occlusion, detector keypoints and
confidences, written to later members and files) goes to a temporary file and is read back one take at a
time. The reprojection errors of the built-in check are taken from the same projection. Peak memory is
therefore one block's views (BLOCK_FRAMES x cameras x joints x 2 x 4 bytes: 104 MB for 24 cameras and 17
joints), not the dataset's 2D.

A take longer than a block (a long take, core/long_take.py) is projected camera by camera as its views are
written, BLOCK_FRAMES at a time (`Chunks`), when nothing is realised from it (a plain gt run): its 2D never
exists whole. With occlusion or a detector source it is projected whole (those models need every camera's
whole view; their memory grows with the take).
"""
import math
import tempfile
from dataclasses import replace

import numpy as np

from .check import combine_error_blocks, error_blocks
from .npz_stream import Chunks, Items, Lazy
from .parallel import thread_map
from .projection import project

BLOCK_FRAMES = 32768


class Spill:
    """Arrays parked in an unnamed temporary file (gone when closed), read back one at a time."""

    def __init__(self):
        self.file = tempfile.TemporaryFile(prefix="hpd3d-")
        self.end = 0

    def add(self, array):
        array = np.ascontiguousarray(array)
        if array.size:
            self.file.seek(self.end)
            self.file.write(memoryview(array.reshape(-1)).cast("B"))
        entry = (self.end, array.dtype, array.shape)
        self.end += array.nbytes
        return entry

    def read(self, entry):
        offset, dtype, shape = entry
        count = math.prod(shape)
        if not count:
            return np.empty(shape, dtype)
        self.file.seek(offset)
        return np.fromfile(self.file, dtype=dtype, count=count).reshape(shape)

    def read_all(self, entries):
        """The arrays of entries that follow one another in the file (a take's cameras), in one read."""
        if len(entries) < 2 or any(a[0] + math.prod(a[2]) * np.dtype(a[1]).itemsize != b[0]
                                   for a, b in zip(entries, entries[1:])):
            return [self.read(e) for e in entries]
        start, end = entries[0][0], entries[-1][0] + math.prod(entries[-1][2]) * np.dtype(entries[-1][1]).itemsize
        self.file.seek(start)
        data = self.file.read(end - start)
        return [np.frombuffer(data, dtype=d, count=math.prod(shape), offset=o - start).reshape(shape)
                if math.prod(shape) else np.empty(shape, d) for o, d, shape in entries]

    def close(self):
        self.file.close()


def stored_3d(take):
    """The 3D as stored (float32): the 2D is the exact image of the file's 3D. A long take's as Chunks (one
    block at a time)."""
    if len(take.joints) > BLOCK_FRAMES:
        n = len(take.joints)
        return Chunks(np.float32, take.joints.shape,
                      (take.joints[a:a + BLOCK_FRAMES].astype(np.float32) for a in range(0, n, BLOCK_FRAMES)))
    return take.joints.astype(np.float32)


def take_slice(take, a, b):
    """Frames a:b of a take (views, no copy), face points included."""
    return replace(take, joints=take.joints[a:b], face=None if take.face is None else take.face[a:b])


def combine_pieces(blocks, starts):
    """One error_block from the error_blocks of consecutive pieces of a view starting at frames `starts`."""
    total = sum(b[0] for b in blocks)
    count = sum(b[1] for b in blocks)
    k = max(range(len(blocks)), key=lambda i: (blocks[i][2], -i))  # the first piece reaching the maximum
    return total, count, blocks[k][2], int(starts[k] + blocks[k][3]), blocks[k][4]


def _blocks(takes, limit):
    """Consecutive takes grouped up to `limit` frames; a longer take alone."""
    block, frames = [], 0
    for t in takes:
        n = t.joints.shape[0]
        if block and frames + n > limit:
            yield block
            block, frames = [], 0
        block.append(t)
        frames += n
    if block:
        yield block


class Views:
    """The 2D of every take of `by_subject` ({subject: [MappedTake]}) through `cameras` ({subject: [Camera]}).

    `points_of(take, stored_3d)` gives the 3D points whose images are the keypoints; `realise(take, points,
    cameras, 2D views, visibility views)` gives {key: [array per camera]} for the later files."""

    def __init__(self, by_subject, cameras, points_of, realise, block_frames=None, realises=True):
        self.by_subject, self.cameras = by_subject, cameras
        self.realises = realises  # whether realise makes anything (else long takes are streamed per camera)
        self.points_of, self.realise = points_of, realise
        self.block_frames = block_frames or BLOCK_FRAMES
        self.errors = {}  # (subject, action, camera) -> error_block
        self.parked = {}  # (key, subject, action) -> [spill entry per camera]
        self.spill = Spill()

    def positions_2d(self):
        """{subject: {action: [2D per camera]}}, made as it is written."""
        return Items((s, Items(self._subject(s, takes))) for s, takes in self.by_subject.items())

    def spilled(self, key):
        """{subject: {action: [array per camera]}} of a parked key (after positions_2d was written)."""
        def arrays(s, a):
            return self.spill.read_all(self.parked[key, s, a])
        return Items((s, Items((t.action, Lazy(lambda s=s, a=t.action: arrays(s, a))) for t in takes))
                     for s, takes in self.by_subject.items())

    def check(self):
        """The reprojection check of what was written (combine_error_blocks in subject, action, camera order)."""
        return combine_error_blocks((f"{s}/{t.action}", i, self.errors[s, t.action, i])
                                    for s, takes in self.by_subject.items() for t in takes
                                    for i in range(len(self.cameras[s])))

    def first_take(self):
        """The first take only (what the preview shows): {subject: {action: [2D per camera]}}, and
        {key: {subject: {action: [array per camera]}}} of what realise makes of it."""
        s, takes = next(iter(self.by_subject.items()))
        t, cams = takes[0], self.cameras[s]
        if len(t.joints) > self.block_frames:  # the preview shows the first frames only
            t = take_slice(t, 0, self.block_frames)
        points = self.points_of(t, t.joints.astype(np.float32)).astype(np.float64)
        views = [project(points, c) for c in cams]
        gt, vis = [p.astype(np.float32) for p, _ in views], [v for _, v in views]
        realised = self.realise(t, points, cams, gt, vis)
        return {s: {t.action: gt}}, {k: {s: {t.action: v}} for k, v in realised.items()}

    def close(self):
        self.spill.close()

    def _subject(self, subject, takes):
        cams = self.cameras[subject]
        for block in _blocks(takes, self.block_frames):
            if len(block) == 1 and len(block[0].joints) > self.block_frames and not self.realises:
                yield block[0].action, self._long_views(subject, block[0], cams)
                continue
            # One array per block, projected camera by camera on threads: the cameras share the cores.
            stored = [self.points_of(t, t.joints.astype(np.float32)) for t in block]
            bounds = np.cumsum([0] + [len(p) for p in stored])
            points = np.concatenate(stored).astype(np.float64)
            del stored

            def view(cam):
                p, v = project(points, cam)
                p32 = p.astype(np.float32)
                return p32, v, error_blocks(p, p32, bounds)

            views = thread_map(view, cams)
            for k, t in enumerate(block):
                a, b = bounds[k], bounds[k + 1]
                gt, vis = [p32[a:b] for p32, _, _ in views], [v[a:b] for _, v, _ in views]
                for i, (_, _, errs) in enumerate(views):
                    self.errors[subject, t.action, i] = errs[k]
                self._park("visibility", subject, t.action, vis)
                for key, arrays in self.realise(t, points[a:b], cams, gt, vis).items():
                    self._park(key, subject, t.action, arrays)
                yield t.action, gt

    def _long_views(self, subject, take, cams):
        """A long take's view per camera as Chunks, projected block by block while it is written; its
        visibility is spilled as it comes (one camera's pieces are consecutive in the spill file) and its
        check errors combined over the pieces."""
        n, step = len(take.joints), self.block_frames
        first = self.points_of(take_slice(take, 0, 1), take.joints[:1].astype(np.float32))
        entries = [None] * len(cams)

        def pieces(i, cam):
            errs, starts, start_entry = [], [], None
            for a in range(0, n, step):
                part = take_slice(take, a, min(a + step, n))
                points = self.points_of(part, part.joints.astype(np.float32)).astype(np.float64)
                p, v = project(points, cam)
                p32 = p.astype(np.float32)
                errs.append(error_blocks(p, p32, [0, len(p)])[0])
                starts.append(a)
                e = self.spill.add(v)
                start_entry = start_entry or e
                yield p32
            entries[i] = (start_entry[0], start_entry[1], (n,) + tuple(start_entry[2][1:]))
            self.errors[subject, take.action, i] = combine_pieces(errs, starts)
            if i == len(cams) - 1:
                self.parked["visibility", subject, take.action] = entries

        return [Chunks(np.float32, (n,) + first.shape[1:-1] + (2,), pieces(i, c)) for i, c in enumerate(cams)]

    def _park(self, key, subject, action, arrays):
        self.parked[key, subject, action] = [self.spill.add(x) for x in arrays]
