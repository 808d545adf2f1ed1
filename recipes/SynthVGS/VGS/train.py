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

import sys

from speechbrain_vgs.brains import GroundingBrain
from speechbrain_vgs.recipe import (
    grounding_datasets,
    load_recipe,
    synthvgs_manifests,
    train_and_test,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], GroundingBrain)
    manifests, replacements = synthvgs_manifests(hparams)
    datasets = grounding_datasets(hparams, manifests, replacements)
    train_and_test(
        GroundingBrain, hparams, run_opts, datasets, hparams["test_sets"]
    )
