"""Threads for whole-array numpy work, which releases the GIL: one item (a camera) per task."""
import os
from concurrent.futures import ThreadPoolExecutor


def available_cores():
    """The cores this process may run on (its CPU affinity: a cluster job's allocation, a container's
    cpuset), not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return os.cpu_count() or 1


def thread_map(fn, items):
    """[fn(item) for item in items], the items spread over up to one thread per core, results in order."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, min(len(items), available_cores()))) as pool:
        return list(pool.map(fn, items))
