#!/usr/bin/env python3
"""Recipe: image/spoken-caption grounding (DAVEnet, ResDAVEnet(-VQ)) on
SynthVGS, the corpus this project generates offline.

Builds the corpus if it is absent, trains, keeps the best checkpoint by
validation mean R@10, and tests on conditions A (clean), B (noise),
C (channel) and D (both); metrics land in ``<output_folder>/results.json``.

To run, from the repository root::

    python recipes/SynthVGS/VGS/train.py \
        recipes/SynthVGS/VGS/hparams/resdavenet.yaml

Authors
 * speechbrain-vgs developers 2026
"""

import os
import sys

import speechbrain as sb

from speechbrain_vgs.brains import GroundingBrain
from speechbrain_vgs.dataio.synthvgs import build_synthvgs
from speechbrain_vgs.recipe import (
    grounding_datasets,
    load_recipe,
    train_and_test,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:])
    data_folder = hparams["data_folder"]
    sb.utils.distributed.run_on_main(
        build_synthvgs,
        kwargs={
            "out": data_folder,
            "size": hparams["synthvgs_size"],
            "seed": hparams["synthvgs_seed"],
        },
    )
    manifests = os.path.join(data_folder, "manifests", hparams["lang"])
    sets = ["train", "valid", *hparams["test_sets"]]
    datasets = grounding_datasets(
        hparams,
        {name: os.path.join(manifests, f"{name}.json") for name in sets},
        {"data_root": data_folder, "image_root": data_folder},
    )
    train_and_test(
        GroundingBrain, hparams, run_opts, datasets, hparams["test_sets"]
    )
