#!/usr/bin/env python3
"""Recipe: visually grounded (cross-lingual) keyword spotting on the
Flickr8k Audio Caption Corpus, official split (Kamper et al. 2017, 2019;
Kamper & Roth 2018).

A visual tagger gives every Flickr8k training image soft bag-of-words
targets over a keyword vocabulary (an MLP on frozen CLIP image embeddings,
trained on the text captions of Flickr30k or Multi30k images that are not
Flickr8k images; or CLIP prompts); Kamper et al.'s spoken bag-of-words CNN
learns to predict them from the image's spoken captions, with no
transcript. A written keyword (English, or German for
``multi30k_de.yaml``) then ranks the test utterances. Metrics (P@10, P@N,
EER, AP, with the keyword-prior baseline) land in
``<output_folder>/results.json``, the network in ``speech_net.ckpt`` and
the keywords in ``keywords.ckpt``.

To run, from the repository root (see the README for the corpora)::

    python recipes/Flickr8k/KWS/train.py \
        recipes/Flickr8k/KWS/hparams/visual_en.yaml \
        --data_folder /path/to/flickr8k \
        --flickr30k_folder /path/to/flickr30k --device cuda:0

Authors
 * speechbrain-vgs developers 2026
"""

import sys

from speechbrain_vgs.brains import KeywordSpottingBrain
from speechbrain_vgs.dataio.flickr8k import prepare_flickr8k
from speechbrain_vgs.dataio.flickr_kws import flickr8k_keyword_datasets
from speechbrain_vgs.recipe import (
    load_recipe,
    prepare_manifests,
    train_keyword_spotter,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], KeywordSpottingBrain)
    manifests, replacements = prepare_manifests(
        hparams,
        prepare_flickr8k,
        {"splits_file": hparams["splits_file"]},
        hparams["data_folder"],
    )
    datasets, keywords, prior, evaluated = flickr8k_keyword_datasets(
        hparams, manifests, replacements, run_opts.device or "cpu"
    )
    hparams["test_sets"] = [n for n in datasets if n not in ("train", "valid")]
    train_keyword_spotter(
        hparams, run_opts, datasets, keywords, prior, evaluated
    )
