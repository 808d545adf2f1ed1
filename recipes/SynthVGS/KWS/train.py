#!/usr/bin/env python3
"""Recipe: visually grounded (cross-lingual) keyword spotting on SynthVGS.

A visual tagger gives every training image soft bag-of-words targets over
English keywords (learnt from English text captions of *other* images, or
CLIP prompts); a speech network learns to predict them from the image's
spoken captions in English, German or Swahili (``lang``), with no
transcript. A written English keyword then finds the test utterances that
say it, in any of these languages. Tested on conditions A-D with spoken and
visible relevance and the keyword-prior baseline; metrics land in
``<output_folder>/results.json``, the trained network in
``speech_net.ckpt`` and the keywords in ``keywords.ckpt`` (loaded by
``speechbrain_vgs.inference.KeywordSpotter``).

To run, from the repository root (after ``recipes/SynthVGS/CLIP``)::

    python recipes/SynthVGS/KWS/train.py \
        recipes/SynthVGS/KWS/hparams/crosslingual_sw.yaml

Authors
 * speechbrain-vgs developers 2026
"""

import sys

from speechbrain_vgs.brains import KeywordSpottingBrain
from speechbrain_vgs.recipe import (
    load_recipe,
    synthvgs_keyword_datasets,
    train_keyword_spotter,
)

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], KeywordSpottingBrain)
    datasets, keywords, prior, evaluated = synthvgs_keyword_datasets(
        hparams, run_opts.device or "cpu"
    )
    train_keyword_spotter(
        hparams, run_opts, datasets, keywords, prior, evaluated
    )
