#!/usr/bin/env python3
"""Recipe: CTC phone recognition on SynthVGS from filterbanks or from one
layer of a trained speech encoder (Hsu, Harwath & Glass 2019).

Builds the corpus if it is absent, writes the manifests of the protocol
(``clean``: train on clean speech, test on conditions A-D;
``male_female``: train on male voices, test on unseen male and female
voices), trains, keeps the checkpoint of the lowest validation phone
error rate and writes the PER of each test set into
``<output_folder>/results.json``.

To run, from the repository root::

    python recipes/SynthVGS/ASR/train.py recipes/SynthVGS/ASR/hparams/fbank.yaml
    python recipes/SynthVGS/ASR/train.py \\
        recipes/SynthVGS/ASR/hparams/grounded.yaml --layer res2 \\
        --protocol male_female

The whole layer-by-layer study is ``recipes/SynthVGS/ASR/study.py``.

Authors
 * speechbrain-vgs developers 2026
"""

import sys

from speechbrain_vgs.brains import CTCBrain
from speechbrain_vgs.dataio.synthvgs.asr import prepare_synthvgs_asr
from speechbrain_vgs.recipe import (
    load_recipe,
    prepare_on_main,
    synthvgs_folder,
    train_recognizer,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], CTCBrain)
    data_folder = synthvgs_folder(hparams)
    manifests = prepare_on_main(
        prepare_synthvgs_asr,
        data_folder=data_folder,
        save_folder=hparams["manifest_folder"],
        protocol=hparams["protocol"],
    )
    train_recognizer(hparams, run_opts, manifests, {"data_root": data_folder})
