"""Times SynthVGS builds (fresh, in a new process, as the CLI runs them).

Prints, for each size: wall-clock seconds, CPU seconds (user + system of the
build and all its workers and synthesiser processes), the machine's 1-minute
load average before and after (other work on the machine slows the wall
clock; the CPU seconds hardly change), and the corpus size.

Usage::

    python benchmarks/synthvgs_build.py --jobs 2 --sizes tiny,small
    python benchmarks/synthvgs_build.py --quick  # tiny only (the tests)

The last line printed is the JSON of all rows.

Authors
 * speechbrain-vgs developers 2026
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def time_build(size, jobs, out):
    """Builds one size into ``out``; returns wall and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    command = [sys.executable, "-m", "speechbrain_vgs.dataio.synthvgs"]
    command += ["--size", size, "--out", out, "--jobs", str(jobs)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (
        after.ru_stime - before.ru_stime
    )
    with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
        summary = json.load(f)
    return {
        "size": size,
        "jobs": jobs,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "utterances": sum(s["utterances"] for s in summary["splits"].values()),
        "hours": round(sum(s["hours"] for s in summary["splits"].values()), 2),
    }


def main():
    """Parses the arguments and prints one line per size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sizes", default="tiny,small")
    parser.add_argument("--out", default=None, help="scratch folder")
    parser.add_argument("--quick", action="store_true", help="tiny only")
    args = parser.parse_args()
    if args.quick:
        args.sizes = "tiny"
    rows = []
    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        print(
            "size   jobs  wall_s  cpu_s  load_before  load_after  utts  hours"
        )
        for size in args.sizes.split(","):
            r = time_build(size, args.jobs, os.path.join(scratch, size))
            rows.append(r)
            print(
                f"{r['size']:<6} {r['jobs']:>4} {r['wall_s']:>7} "
                f"{r['cpu_s']:>6} {r['load_before']:>12} "
                f"{r['load_after']:>11} {r['utterances']:>5} {r['hours']:>6}"
            )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
