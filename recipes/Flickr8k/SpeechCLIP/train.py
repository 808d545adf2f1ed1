#!/usr/bin/env python3
"""Recipe: SpeechCLIP (parallel, cascaded; SpeechCLIP+ hybrid) on the
Flickr8k Audio Caption Corpus, official split (Shih et al. 2022).

A frozen HuBERT reads the spoken captions and a frozen CLIP embeds the
images (and, for the cascaded keywords and zero-shot speech-text retrieval,
the written captions of ``Flickr8k.token.txt``). Writes the manifests
(6000/1000/1000 images, 30k/5k/5k utterances), trains, keeps the best
checkpoint by validation mean R@10 and tests it: speech<->image recall,
zero-shot speech<->text recall and keyword hit rates land in
``<output_folder>/results.json``, keywords in ``keywords_test.json``,
figures in ``figures/``; ``model.ckpt`` with the experiment's
``hyperparams.yaml`` loads through
``speechbrain_vgs.inference.SpeechCLIPInference``.

To run, from the repository root (bf16 on GPU)::

    python recipes/Flickr8k/SpeechCLIP/train.py \
        recipes/Flickr8k/SpeechCLIP/hparams/parallel_base.yaml \
        --data_folder /path/to/flickr8k --device cuda:0 --precision bf16

Authors
 * speechbrain-vgs developers 2026
"""

import sys

from speechbrain_vgs.brains import SpeechCLIPBrain
from speechbrain_vgs.dataio.flickr8k import prepare_flickr8k
from speechbrain_vgs.recipe import (
    load_recipe,
    prepare_manifests,
    train_speechclip,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], SpeechCLIPBrain)
    manifests, replacements = prepare_manifests(
        hparams,
        prepare_flickr8k,
        {"splits_file": hparams["splits_file"]},
        hparams["data_folder"],
    )
    train_speechclip(hparams, run_opts, manifests, replacements, ["test"])
