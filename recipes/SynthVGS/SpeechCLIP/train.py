#!/usr/bin/env python3
"""Recipe: SpeechCLIP (parallel, cascaded, hybrid) on SynthVGS.

A small HuBERT pre-trained on SynthVGS speech by ``recipes/SynthVGS/HuBERT``
(saved with ``save_pretrained``, loaded like ``facebook/hubert-base-ls960``)
reads English spoken captions; a tiny CLIP trained on SynthVGS images and
English captions by ``recipes/SynthVGS/CLIP`` (loaded like ``ViT-B-32``).
CLIP stays frozen; HuBERT is fine-tuned (``freeze_upstream: False``,
measured better than frozen here). Builds the corpus if it is absent,
keeps the best checkpoint by validation mean R@10 and tests on conditions
A-D: speech<->image recall, zero-shot speech<->text recall and keyword hit
rates land in ``<output_folder>/results.json``, keywords in
``keywords_<set>.json``, figures in ``figures/``; ``model.ckpt`` with the
experiment's ``hyperparams.yaml`` loads through
``speechbrain_vgs.inference.SpeechCLIPInference``.

To run, from the repository root (after the CLIP and HuBERT recipes)::

    python recipes/SynthVGS/SpeechCLIP/train.py \
        recipes/SynthVGS/SpeechCLIP/hparams/cascaded.yaml

Authors
 * speechbrain-vgs developers 2026
"""

import sys

from speechbrain_vgs.brains import SpeechCLIPBrain
from speechbrain_vgs.recipe import (
    load_recipe,
    synthvgs_manifests,
    train_speechclip,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], SpeechCLIPBrain)
    manifests, replacements = synthvgs_manifests(hparams)
    train_speechclip(
        hparams, run_opts, manifests, replacements, hparams["test_sets"]
    )
