"""What a whole run costs: a SynthVGS build, then one epoch of parallel
SpeechCLIP on it at several data-loader worker counts.

The build runs as the CLI runs it (a new process); the epoch is the
SynthVGS SpeechCLIP recipe (``recipes/SynthVGS/SpeechCLIP/hparams/
parallel.yaml``: training on the English train split, then validation)
with ``--number_of_epochs 1 --test_sets []``, on randomly initialised
stand-ins of the SynthVGS HuBERT and CLIP (the recipes' architectures;
speed does not depend on the weights). Each is timed in wall-clock and CPU
seconds (user + system of the process and all its children); the build
also reports its disk use. An existing build in ``--data_folder`` is
reused (its numbers are then those recorded in its ``summary.json``).
Prints a table, then one JSON line.

Usage::

    python benchmarks/whole_run.py --size full --workers 1,2
    python benchmarks/whole_run.py --quick  # tiny corpus, 1 worker

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

from stand_ins import TINY_CLIP_NAME, stand_ins

RECIPE = os.path.join("recipes", "SynthVGS", "SpeechCLIP")


def run_timed(command, env=None):
    """Runs a command; returns its wall and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return round(wall, 1), round(cpu, 1)


def disk_gb(folder):
    """Disk blocks used under ``folder``, in GB."""
    used = 0
    for root, _, files in os.walk(folder):
        for name in files:
            used += os.lstat(os.path.join(root, name)).st_blocks * 512
    return round(used / 1e9, 2)


def build(size, folder, jobs):
    """Builds SynthVGS ``size`` into ``folder`` unless it is there."""
    summary_file = os.path.join(folder, "summary.json")
    row = {"size": size, "jobs": jobs, "reused": os.path.isfile(summary_file)}
    if not row["reused"]:
        command = [sys.executable, "-m", "speechbrain_vgs.dataio.synthvgs"]
        command += ["--size", size, "--out", folder, "--jobs", str(jobs)]
        command += ["--noprogressbar"]
        row["wall_s"], row["cpu_s"] = run_timed(command)
    with open(summary_file, encoding="utf-8") as f:
        summary = json.load(f)
    if summary.get("size", size) != size:
        raise ValueError(f"{summary_file}: a {summary['size']} build")
    row["build_seconds"] = summary["build_seconds"]
    row["utterances"] = sum(s["utterances"] for s in summary["splits"].values())
    row["hours"] = round(sum(s["hours"] for s in summary["splits"].values()), 2)
    row["disk_gb"] = disk_gb(folder)
    return row


def epoch(size, data_folder, workers, cache, out):
    """One epoch of parallel SpeechCLIP (and its validation)."""
    hubert, clip = stand_ins("tiny", cache)
    command = [sys.executable, os.path.join(RECIPE, "train.py")]
    command += [os.path.join(RECIPE, "hparams", "parallel.yaml")]
    command += ["--data_folder", data_folder, "--synthvgs_size", size]
    command += ["--hubert_source", hubert, "--clip_name", TINY_CLIP_NAME]
    command += ["--clip_folder", os.path.dirname(clip["checkpoint"])]
    command += ["--number_of_epochs", "1", "--test_sets", "[]"]
    command += ["--num_workers", str(workers), "--output_folder", out]
    command += ["--noprogressbar"]
    wall, cpu = run_timed(command)
    with open(os.path.join(data_folder, "manifests", "en", "train.json")) as f:
        utterances = len(json.load(f))
    return {
        "workers": workers,
        "wall_s": wall,
        "cpu_s": cpu,
        "train_utterances": utterances,
    }


def main():
    """Parses the arguments, runs the build and the epochs, prints."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="full")
    parser.add_argument("--jobs", type=int, default=2, help="build workers")
    parser.add_argument("--workers", default="1,2", help="loader workers")
    parser.add_argument("--data_folder", default=None)
    parser.add_argument("--cache", default="results/benchmarks/models")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.size, args.workers = "tiny", "1"
    with tempfile.TemporaryDirectory() as scratch:
        data_folder = args.data_folder or os.path.join(scratch, "data")
        load = os.getloadavg()[0]
        built = build(args.size, data_folder, args.jobs)
        print(json.dumps(built))
        epochs = []
        for workers in map(int, args.workers.split(",")):
            out = os.path.join(scratch, f"epoch_w{workers}")
            epochs.append(
                epoch(args.size, data_folder, workers, args.cache, out)
            )
            print(json.dumps(epochs[-1]))
        result = {
            "build": built,
            "epochs": epochs,
            "load_before": round(load, 2),
            "load_after": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
