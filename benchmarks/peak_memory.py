"""Peak memory of a command and all its processes together: the sum of their resident set sizes (RSS),
sampled every 20 ms from /proc (Linux), and the wall time.

    python benchmarks/peak_memory.py [--json FILE] -- hpd3d generate CORPUS --out OUT --rig dome

ru_maxrss gives each process's own peak, and RUSAGE_CHILDREN only the largest child's; a run with
workers has several processes alive at once, so this samples the whole process tree instead. Shared pages
(the interpreter, numpy) count once per process, so the sum is an upper bound of the physical memory used.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def _children():
    """{parent pid: [child pids]} of every process."""
    tree = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
            tree.setdefault(ppid, []).append(int(name))
    return tree


def _rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mb(root):
    tree = _children()
    todo, total = [root], 0
    while todo:
        pid = todo.pop()
        total += _rss_kib(pid)
        todo += tree.get(pid, [])
    return total / 1024


def measure(cmd, interval=0.02):
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:  # a pipe could fill and block
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, tree_rss_mb(proc.pid))
            time.sleep(interval)
        seconds = time.perf_counter() - t0
        out.seek(0), err.seek(0)
        out, err = out.read(), err.read()
    return {"command": cmd, "exit": proc.returncode, "seconds": seconds,
            "peak_rss_all_processes_mb": peak, "stdout_tail": out[-600:], "stderr_tail": err[-600:]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", help="also write the result here")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    r = measure(cmd)
    print(json.dumps({k: v for k, v in r.items() if k != "stdout_tail"}, indent=1))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(r, fh, indent=1)
    return r["exit"]


if __name__ == "__main__":
    sys.exit(main())
