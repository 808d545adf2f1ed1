#!/usr/bin/env python3
"""The layer-by-layer transfer study on SynthVGS, in one command (Hsu,
Harwath & Glass 2019): a CTC phone recogniser on filterbanks and one on
each chosen layer of the trained ResDAVEnet and of the SynthVGS HuBERT
(frozen), each in the ``clean`` protocol (train clean, test A-D) and the
``male_female`` protocol (train on male voices, test on unseen male and
female voices). It writes ``study.md`` (the table: PER of each test set
and the relative degradation from the matched set), ``study.png`` and
``study.json`` into ``--output_folder``, and each run's ``results.json``
into ``<output_folder>/<features>/<protocol>/``.

Trained encoders are reused from their recipes' output folders
(``--resdavenet_folder``, ``--hubert_folder``: their ``export``
subfolder); a missing one is trained first with its recipe. A run whose
``results.json`` exists is reused. Arguments it does not know (e.g.
``--number_of_epochs 4``) go to every recogniser run; ``--debug`` goes to
every run, encoders included.

To run, from the repository root::

    python recipes/SynthVGS/ASR/study.py --jobs 2

Authors
 * speechbrain-vgs developers 2026
"""

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from speechbrain_vgs.dataio.synthvgs.asr import (
    MATCHED_SET,
    PROTOCOLS,
    protocol_test_sets,
)
from speechbrain_vgs.transfer import plot_study, study_markdown, study_rows

RECIPES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASR = os.path.join(RECIPES, "ASR")
ENCODER_RECIPES = {
    "resdavenet": (
        os.path.join(RECIPES, "VGS", "train.py"),
        os.path.join(RECIPES, "VGS", "hparams", "resdavenet.yaml"),
    ),
    "hubert": (
        os.path.join(RECIPES, "HuBERT", "train.py"),
        os.path.join(RECIPES, "HuBERT", "hparams", "tiny_hubert.yaml"),
    ),
}
LABELS = {
    "test_A": "A clean",
    "test_B": "B noise",
    "test_C": "C channel",
    "test_D": "D both",
    "test_male": "male",
    "test_female": "female",
}


def parse_args(argv):
    """The study's options, and the arguments passed on to the runs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_folder", default="data/SynthVGS-small")
    parser.add_argument("--output_folder", default="results/SynthVGS/ASR/study")
    parser.add_argument(
        "--resdavenet_folder", default="results/SynthVGS/VGS/resdavenet/1234"
    )
    parser.add_argument(
        "--hubert_folder", default="results/SynthVGS/HuBERT/tiny_hubert/1234"
    )
    parser.add_argument(
        "--resdavenet_layers",
        nargs="*",
        default=["conv1", "res2", "res3"],
    )
    parser.add_argument("--hubert_layers", nargs="*", default=["1", "2", "3"])
    parser.add_argument(
        "--protocols",
        nargs="*",
        default=list(PROTOCOLS),
        choices=list(PROTOCOLS),
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="recognisers trained at once"
    )
    parser.add_argument("--debug", action="store_true")
    return parser.parse_known_args(argv)


def run(command, log, env=None):
    """Runs a recipe, its output in ``log``; raises if it fails."""
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        status = subprocess.run(
            command, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    if status.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: see {log}")


def encoder_export(name, folder, args):
    """The export folder of a trained encoder, trained first if missing."""
    export = os.path.join(folder, "export")
    if not os.path.isdir(export):
        script, hparams = ENCODER_RECIPES[name]
        command = [sys.executable, script, hparams, "--output_folder", folder]
        command += ["--data_folder", args.data_folder, "--noprogressbar"]
        command += ["--debug"] if args.debug else []
        print(f"training the {name} encoder into {folder}", flush=True)
        run(command, os.path.join(args.output_folder, f"{name}.log"))
    return export


def planned_runs(args, extra):
    """``[(features name, protocol, command)]`` of every recogniser."""
    features = {"fbank": [os.path.join(ASR, "hparams", "fbank.yaml")]}
    encoders = {
        "resdavenet": (args.resdavenet_folder, args.resdavenet_layers),
        "hubert": (args.hubert_folder, args.hubert_layers),
    }
    for name, (folder, layers) in encoders.items():
        if not layers:
            continue
        export = encoder_export(name, folder, args)
        for layer in layers:
            features[f"{name} {layer}"] = [
                os.path.join(ASR, "hparams", "grounded.yaml"),
                "--encoder_source",
                export,
                "--encoder_name",
                name,
                "--layer",
                layer,
            ]
    runs = []
    for name, hparams in features.items():
        for protocol in args.protocols:
            output = os.path.join(
                args.output_folder, name.replace(" ", "_"), protocol
            )
            command = [sys.executable, os.path.join(ASR, "train.py"), *hparams]
            command += ["--protocol", protocol, "--output_folder", output]
            command += ["--data_folder", args.data_folder, "--noprogressbar"]
            command += (["--debug"] if args.debug else []) + extra
            runs.append((name, protocol, output, command))
    return runs


def train_missing(runs, jobs):
    """Trains the recognisers without ``results.json``, ``jobs`` at once
    (one thread each when several)."""
    missing = [
        r
        for r in runs
        if not os.path.isfile(os.path.join(r[2], "results.json"))
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1") if jobs > 1 else None

    def train(entry):
        name, protocol, output, command = entry
        print(f"training: {name}, {protocol}", flush=True)
        run(command, os.path.join(output, "stdout.txt"), env)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(train, missing))


def main(argv=None):
    """Runs the study and writes its table and plot."""
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    runs = planned_runs(args, extra)
    train_missing(runs, args.jobs)
    results = {}
    for name, protocol, output, _ in runs:
        with open(os.path.join(output, "results.json"), encoding="utf-8") as f:
            results.setdefault(name, {})[protocol] = json.load(f)
    protocols = {}
    for protocol in args.protocols:
        matched = MATCHED_SET[protocol]
        shifted = [s for s in protocol_test_sets(protocol) if s != matched]
        protocols[protocol] = (matched, shifted)
    rows = study_rows(results, protocols)
    table = study_markdown(rows, protocols, LABELS)
    os.makedirs(args.output_folder, exist_ok=True)
    with open(os.path.join(args.output_folder, "study.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(args.output_folder, "study.json"), "w") as f:
        json.dump({"results": results, "rows": rows}, f, indent=2)
    plot_study(
        rows, protocols, os.path.join(args.output_folder, "study.png"), LABELS
    )
    print(table)


if __name__ == "__main__":
    main()
