#!/usr/bin/env python3
"""Template recipe: train a speech/image retrieval model with the shared
``GroundingBrain``.

Run from the repository root::

    python templates/vgs_retrieval/train.py templates/vgs_retrieval/train.yaml

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
    # Command line: the yaml file, SpeechBrain run options (--device,
    # --debug, --precision ...) and overrides of any yaml key.
    hparams, run_opts = load_recipe(sys.argv[1:], GroundingBrain)

    # 1. Data: build SynthVGS if needed (on the main process only, as the
    # recipes do) and name its manifests; for your own corpus, write the
    # manifests with your preparer and give their paths here instead. Each
    # dataset item has the waveform ("sig"), the image tensor ("img") and
    # an integer id of its image ("image_idx"): captions of the same image
    # are never negatives.
    manifests, replacements = synthvgs_manifests(hparams)
    datasets = grounding_datasets(hparams, manifests, replacements)

    # 2. Train (recall on the valid set every epoch; the checkpoint with
    # the best mean R@10 is kept), then test that checkpoint on each test
    # set: results.json gets speech_to_image_r1/r5/r10 and
    # image_to_speech_r1/r5/r10 per set.
    train_and_test(
        GroundingBrain, hparams, run_opts, datasets, hparams["test_sets"]
    )
