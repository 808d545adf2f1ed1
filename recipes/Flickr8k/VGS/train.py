#!/usr/bin/env python3
"""Recipe: image/spoken-caption grounding (ResDAVEnet) on the Flickr8k
Audio Caption Corpus (Harwath & Glass 2015).

Writes the manifests (6000/1000/1000 images, 30k/5k/5k utterances),
trains, keeps the best checkpoint by validation mean R@10 and tests it;
metrics land in ``<output_folder>/results.json``.

To run, from the repository root::

    python recipes/Flickr8k/VGS/train.py \
        recipes/Flickr8k/VGS/hparams/resdavenet.yaml \
        --data_folder /path/to/flickr8k

Authors
 * speechbrain-vgs developers 2026
"""

import sys

import speechbrain as sb

from speechbrain_vgs.brains import GroundingBrain
from speechbrain_vgs.dataio.flickr8k import prepare_flickr8k
from speechbrain_vgs.dataio.prep_utils import manifest_paths
from speechbrain_vgs.recipe import (
    grounding_datasets,
    load_recipe,
    train_and_test,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:])
    sb.utils.distributed.run_on_main(
        prepare_flickr8k,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["manifest_folder"],
            "splits_file": hparams["splits_file"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    datasets = grounding_datasets(
        hparams,
        manifest_paths(hparams["manifest_folder"]),
        {
            "data_root": hparams["data_folder"],
            "image_root": hparams["data_folder"],
        },
    )
    train_and_test(GroundingBrain, hparams, run_opts, datasets, ["test"])
