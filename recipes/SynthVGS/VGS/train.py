#!/usr/bin/env python3
"""Recipe: image/spoken-caption grounding (DAVEnet, ResDAVEnet(-VQ)) on
SynthVGS, the corpus this project generates offline.

Builds the corpus if it is absent, trains, keeps the best checkpoint by
validation mean R@10, and tests on conditions A (clean), B (noise),
C (channel) and D (both); metrics land in ``<output_folder>/results.json``
and the speech encoder in ``<export_folder>`` (for
``speechbrain_vgs.lobes.grounded.GroundedFeatures``).

To run, from the repository root::

    python recipes/SynthVGS/VGS/train.py \
        recipes/SynthVGS/VGS/hparams/resdavenet.yaml

Authors
 * speechbrain-vgs developers 2026
"""

import sys

from speechbrain_vgs.brains import GroundingBrain
from speechbrain_vgs.recipe import (
    load_recipe,
    synthvgs_manifests,
    train_grounding,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], GroundingBrain)
    manifests, replacements = synthvgs_manifests(hparams)
    train_grounding(
        hparams, run_opts, manifests, replacements, hparams["test_sets"]
    )
