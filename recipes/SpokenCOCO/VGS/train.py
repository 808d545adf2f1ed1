#!/usr/bin/env python3
"""Recipe: image/spoken-caption grounding (ResDAVEnet) on SpokenCOCO
(Hsu et al. 2021) with Karpathy's COCO split.

Writes the manifests (Karpathy train + restval / val / the 5k-image test
set of 25k utterances), trains, keeps the best checkpoint by validation
mean R@10 and tests it; metrics land in ``<output_folder>/results.json``.

To run, from the repository root::

    python recipes/SpokenCOCO/VGS/train.py \
        recipes/SpokenCOCO/VGS/hparams/resdavenet.yaml \
        --data_folder /path/to/SpokenCOCO \
        --image_folder /path/to/mscoco

Authors
 * speechbrain-vgs developers 2026
"""

import sys

from speechbrain_vgs.brains import GroundingBrain
from speechbrain_vgs.dataio.spokencoco import prepare_spokencoco
from speechbrain_vgs.recipe import load_recipe, prepare_and_train

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], GroundingBrain)
    options = {
        "karpathy_split": hparams["karpathy_split"],
        "image_folder": hparams["image_folder"],
    }
    prepare_and_train(
        hparams, run_opts, prepare_spokencoco, options, hparams["image_folder"]
    )
