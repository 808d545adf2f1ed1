#!/usr/bin/env python3
"""Recipe: SpeechCLIP (parallel, cascaded) on SpokenCOCO, Karpathy's split
(Shih et al. 2022).

A frozen HuBERT reads the spoken captions and a frozen CLIP embeds the
MSCOCO images (and, for the cascaded keywords and zero-shot speech-text
retrieval, the written captions). Writes the manifests (Karpathy train +
restval for training, val, and the 5000 test images with their 25k
utterances), trains, keeps the best checkpoint by validation mean R@10 and
tests it: speech<->image recall, zero-shot speech<->text recall and
keyword hit rates land in ``<output_folder>/results.json``, keywords in
``keywords_test.json``, figures in ``figures/``; ``model.ckpt`` with the
experiment's ``hyperparams.yaml`` loads through
``speechbrain_vgs.inference.SpeechCLIPInference``.

To run, from the repository root (bf16 on GPU)::

    python recipes/SpokenCOCO/SpeechCLIP/train.py \
        recipes/SpokenCOCO/SpeechCLIP/hparams/parallel_large.yaml \
        --data_folder /path/to/SpokenCOCO --image_folder /path/to/mscoco \
        --device cuda:0 --precision bf16

Authors
 * speechbrain-vgs developers 2026
"""

import sys

from speechbrain_vgs.brains import SpeechCLIPBrain
from speechbrain_vgs.dataio.spokencoco import prepare_spokencoco
from speechbrain_vgs.recipe import (
    load_recipe,
    prepare_manifests,
    train_speechclip,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], SpeechCLIPBrain)
    options = {
        "karpathy_split": hparams["karpathy_split"],
        "image_folder": hparams["image_folder"],
    }
    manifests, replacements = prepare_manifests(
        hparams, prepare_spokencoco, options, hparams["image_folder"]
    )
    train_speechclip(hparams, run_opts, manifests, replacements, ["test"])
