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

from speechbrain_vgs.brains import GroundingBrain
from speechbrain_vgs.dataio.flickr8k import prepare_flickr8k
from speechbrain_vgs.recipe import load_recipe, prepare_and_train

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], GroundingBrain)
    options = {
        "splits_file": hparams["splits_file"],
    }
    prepare_and_train(
        hparams, run_opts, prepare_flickr8k, options, hparams["data_folder"]
    )
