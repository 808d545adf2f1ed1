#!/usr/bin/env python3
"""Recipe: a small HuBERT pre-trained from scratch on SynthVGS speech with
HuBERT's masked prediction of frame clusters (first iteration: MFCC
clusters; second: clusters of a hidden state of the first iteration's
model), exported as a ``transformers`` folder for SpeechCLIP's upstream.

Builds the corpus if it is absent, fits the k-means targets on a sample of
the training speech (all caption languages, no transcripts), trains with
cross-entropy on the masked frames, keeps the checkpoint of the lowest
validation loss, reports its masked-frame accuracy on the test speech into
``<output_folder>/results.json`` and saves it with ``save_pretrained`` in
``<export_folder>``, loadable as
``speechbrain_vgs.lobes.ssl.SSLUpstream(<export_folder>)``.

To run, from the repository root (the second iteration reads the first's
export)::

    python recipes/SynthVGS/HuBERT/train.py \
        recipes/SynthVGS/HuBERT/hparams/tiny_hubert.yaml
    python recipes/SynthVGS/HuBERT/train.py \
        recipes/SynthVGS/HuBERT/hparams/tiny_hubert_iter2.yaml

Authors
 * speechbrain-vgs developers 2026
"""

import os
import sys

from speechbrain.utils.distributed import if_main_process

from speechbrain_vgs.brains import HuBERTPretrainBrain
from speechbrain_vgs.dataio.pipelines import speech_dataset
from speechbrain_vgs.lobes.hubert import fit_targets
from speechbrain_vgs.lobes.ssl import export_hubert
from speechbrain_vgs.recipe import load_recipe, synthvgs_folder, train_and_test

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], HuBERTPretrainBrain)
    data_folder = synthvgs_folder(hparams)
    datasets = {}
    for split in ["train", "valid", *hparams["test_sets"]]:
        manifests = [
            os.path.join(data_folder, "manifests", lang, f"{split}.json")
            for lang in hparams["langs"]
        ]
        datasets[split] = speech_dataset(
            manifests,
            {"data_root": data_folder},
            hparams["max_audio_seconds"] if split == "train" else None,
        )
    fit_targets(
        hparams["targets"],
        datasets["train"],
        hparams["kmeans_utterances"],
        seed=hparams["seed"],
    )
    train_and_test(
        HuBERTPretrainBrain, hparams, run_opts, datasets, hparams["test_sets"]
    )
    if if_main_process():
        export_hubert(hparams["upstream"], hparams["export_folder"])
