"""Write one long BVH take (for the memory benchmark): a real file's hierarchy, its motion rows repeated
until the take has N frames.

    python benchmarks/make_long_take.py SOURCE.bvh OUT.bvh --frames 1000000
"""
import argparse
import sys


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source")
    p.add_argument("out")
    p.add_argument("--frames", type=int, default=1_000_000)
    a = p.parse_args(argv)
    text = open(a.source, encoding="utf-8-sig").read().replace("\r\n", "\n")
    head, _, motion = text.partition("\nMOTION\n")
    lines = motion.split("\n")
    frame_time = next(line for line in lines if line.lower().startswith("frame time"))
    rows = [line for line in lines[lines.index(frame_time) + 1:] if line.strip()]
    # forwards then backwards, so the repeated motion has no jump at the seams
    cycle = "\n".join(rows + rows[-2:0:-1]) + "\n"
    per_cycle = 2 * len(rows) - 2
    with open(a.out, "w") as fh:
        fh.write(f"{head}\nMOTION\nFrames: {a.frames}\n{frame_time}\n")
        full, rest = divmod(a.frames, per_cycle)
        for _ in range(full):
            fh.write(cycle)
        fh.write("\n".join((rows + rows[-2:0:-1])[:rest]) + ("\n" if rest else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
