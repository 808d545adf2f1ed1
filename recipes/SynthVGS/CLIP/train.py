#!/usr/bin/env python3
"""Recipe: a tiny open_clip CLIP trained from scratch on SynthVGS images and
their English text captions, exported in open_clip's format for SpeechCLIP.

Builds the corpus if it is absent, trains both towers with InfoNCE, keeps
the best checkpoint by validation mean text<->image R@10, tests it on the
test images (those of test_A..test_D) into ``<output_folder>/results.json``
and exports it as ``<export_folder>/<model_name>.json`` (open_clip model
config) and ``<export_folder>/<model_name>.pt`` (state dict), loadable with
``speechbrain_vgs.lobes.clip.FrozenCLIP(model_name, pretrained=None,
checkpoint=..., config=...)``.

To run, from the repository root::

    python recipes/SynthVGS/CLIP/train.py \
        recipes/SynthVGS/CLIP/hparams/tiny_clip.yaml

Authors
 * speechbrain-vgs developers 2026
"""

import sys

from speechbrain.utils.distributed import if_main_process

from speechbrain_vgs.brains import CLIPBrain
from speechbrain_vgs.dataio.captions import (
    clip_transforms,
    synthvgs_caption_datasets,
)
from speechbrain_vgs.lobes.tiny_models import export_open_clip
from speechbrain_vgs.recipe import load_recipe, synthvgs_folder, train_and_test

if __name__ == "__main__":
    hparams, run_opts = load_recipe(sys.argv[1:], CLIPBrain)
    datasets = synthvgs_caption_datasets(
        synthvgs_folder(hparams),
        *clip_transforms(hparams["clip"]),
        lang=hparams["lang"],
    )
    train_and_test(CLIPBrain, hparams, run_opts, datasets, ["test"])
    if if_main_process():
        export_open_clip(
            hparams["clip"],
            hparams["model_config"],
            hparams["export_folder"],
            hparams["model_name"],
        )
