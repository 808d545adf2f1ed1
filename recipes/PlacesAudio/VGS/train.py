#!/usr/bin/env python3
"""Recipe: image/spoken-caption grounding (DAVEnet, ResDAVEnet(-VQ)) on the
Places Audio Caption corpus (Harwath et al. 2016-2018).

Writes the manifests (``test`` = the 1000 utterances of ``val.json``,
``valid`` = ``valid_images`` images held out of ``train.json``), trains,
keeps the best checkpoint by validation mean R@10 and tests it; metrics
land in ``<output_folder>/results.json``.

To run, from the repository root::

    python recipes/PlacesAudio/VGS/train.py \
        recipes/PlacesAudio/VGS/hparams/resdavenet.yaml \
        --data_folder /path/to/PlacesAudio_400k_distro \
        --image_folder /path/to/places205/images

Authors
 * speechbrain-vgs developers 2026
"""

import sys

from speechbrain_vgs.brains import GroundingBrain
from speechbrain_vgs.dataio.places import prepare_places
from speechbrain_vgs.recipe import load_recipe, prepare_and_train

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], GroundingBrain)
    options = {
        "image_folder": hparams["image_folder"],
        "valid_images": hparams["valid_images"],
    }
    prepare_and_train(
        hparams, run_opts, prepare_places, options, hparams["image_folder"]
    )
