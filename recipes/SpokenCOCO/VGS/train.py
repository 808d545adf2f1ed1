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

import speechbrain as sb

from speechbrain_vgs.brains import GroundingBrain
from speechbrain_vgs.dataio.prep_utils import manifest_paths
from speechbrain_vgs.dataio.spokencoco import prepare_spokencoco
from speechbrain_vgs.recipe import (
    grounding_datasets,
    load_recipe,
    train_and_test,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:])
    sb.utils.distributed.run_on_main(
        prepare_spokencoco,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["manifest_folder"],
            "karpathy_split": hparams["karpathy_split"],
            "image_folder": hparams["image_folder"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    datasets = grounding_datasets(
        hparams,
        manifest_paths(hparams["manifest_folder"]),
        {
            "data_root": hparams["data_folder"],
            "image_root": hparams["image_folder"],
        },
    )
    train_and_test(GroundingBrain, hparams, run_opts, datasets, ["test"])
