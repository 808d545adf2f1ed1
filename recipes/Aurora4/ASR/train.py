#!/usr/bin/env python3
"""Recipe: CTC character recognition on Aurora-4 (WSJ0 SI-84 read speech
with noise and channel conditions) from filterbanks or from one layer of a
trained speech encoder (``speechbrain_vgs.lobes.grounded.GroundedFeatures``),
trained on the clean (or multi-condition) SI-84 set and tested on the 14
eval92 sets grouped A (clean), B (noise), C (channel), D (both), as in
Hsu, Harwath & Glass (2019).

Writes the manifests and converts the raw audio once
(``speechbrain_vgs.dataio.aurora4.prepare_aurora4``), trains, keeps the
checkpoint of the lowest development CER and writes the CER and WER of
each test group into ``<output_folder>/results.json``.

To run, from the repository root::

    python recipes/Aurora4/ASR/train.py \\
        recipes/Aurora4/ASR/hparams/fbank.yaml \\
        --data_folder /path/to/aurora4 --wsj0_folder /path/to/wsj0

Authors
 * speechbrain-vgs developers 2026
"""

import sys

from speechbrain_vgs.brains import CTCBrain
from speechbrain_vgs.dataio.aurora4 import prepare_aurora4
from speechbrain_vgs.recipe import (
    load_recipe,
    prepare_on_main,
    train_recognizer,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], CTCBrain)
    paths = prepare_on_main(
        prepare_aurora4,
        hparams["skip_prep"],
        data_folder=hparams["data_folder"],
        save_folder=hparams["manifest_folder"],
        wsj0_folder=hparams["wsj0_folder"],
        noise_word="",  # noise markers are not characters to recognise
        wav_folder=hparams["wav_folder"],
    )
    manifests = {
        "train": paths[hparams["train_set"]],
        "valid": paths["valid"],
        **{name: paths[name] for name in hparams["test_sets"]},
    }
    train_recognizer(
        hparams, run_opts, manifests, {"data_root": hparams["wav_folder"]}
    )
