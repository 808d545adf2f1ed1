#!/usr/bin/env python3
"""Recipe: CTC phone recognition on TIMIT (39 folded phones) from
filterbanks or from one layer of a trained speech encoder
(``speechbrain_vgs.lobes.grounded.GroundedFeatures``), in the standard
protocol (462 training speakers, the 50-speaker development set, the
24-speaker core test set) or the male-train / female-test protocol of
Hsu, Harwath & Glass (2019).

Writes the manifests (``speechbrain_vgs.dataio.timit.prepare_timit``),
trains, keeps the checkpoint of the lowest development PER and writes the
PER of each test set into ``<output_folder>/results.json``.

To run, from the repository root::

    python recipes/TIMIT/ASR/train.py recipes/TIMIT/ASR/hparams/fbank.yaml \\
        --data_folder /path/to/TIMIT
    python recipes/TIMIT/ASR/train.py recipes/TIMIT/ASR/hparams/grounded.yaml \\
        --data_folder /path/to/TIMIT --protocol male_female \\
        --encoder_source results/PlacesAudio/VGS/resdavenet/1234/export \\
        --layer res2

Authors
 * speechbrain-vgs developers 2026
"""

import sys

from speechbrain_vgs.brains import CTCBrain
from speechbrain_vgs.dataio.timit import prepare_timit, protocol_manifests
from speechbrain_vgs.recipe import (
    load_recipe,
    prepare_on_main,
    train_recognizer,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], CTCBrain)
    paths = prepare_on_main(
        prepare_timit,
        hparams["skip_prep"],
        data_folder=hparams["data_folder"],
        save_folder=hparams["manifest_folder"],
        phone_set=39,
    )
    manifests = protocol_manifests(paths, hparams["protocol"])
    train_recognizer(
        hparams, run_opts, manifests, {"data_root": hparams["data_folder"]}
    )
