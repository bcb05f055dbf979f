"""Threads for whole-array numpy work, which releases the GIL: one item (a camera) per task."""
import os
from concurrent.futures import ThreadPoolExecutor


def thread_map(fn, items):
    """[fn(item) for item in items], the items spread over up to one thread per core, results in order."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, min(len(items), os.cpu_count() or 1))) as pool:
        return list(pool.map(fn, items))
