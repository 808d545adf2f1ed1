"""Randomly initialised models with the architectures the benchmarks time.

Timing needs the architecture, not the weights: ``tiny`` is the SynthVGS
stand-ins (the HuBERT of ``recipes/SynthVGS/HuBERT`` and the CLIP of
``recipes/SynthVGS/CLIP``), ``base`` and ``large`` are HuBERT Base / Large
(``facebook/hubert-base-ls960``, ``facebook/hubert-large-ll60k``) and
open_clip ViT-B-32 / ViT-L-14 built from their configs. Each is written
once into a cache folder and reused.

Authors
 * speechbrain-vgs developers 2026
"""

import os

import open_clip
import torch
from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

from speechbrain_vgs.lobes.tiny_models import save_tiny_clip, save_tiny_hubert

SIZES = ("tiny", "base", "large")
CLIP_NAMES = {"base": "ViT-B-32", "large": "ViT-L-14"}
TINY_CLIP_NAME = "tiny-clip-synthvgs"

# HuBERT Large's differences from transformers' defaults (= HuBERT Base)
HUBERT_LARGE = {
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
    "feat_extract_norm": "layer",
    "do_stable_layer_norm": True,
    "conv_bias": True,
}


def save_hubert(size, folder):
    """Writes a random HuBERT of ``size`` to ``folder`` (once).

    Arguments
    ---------
    size : str
        One of :data:`SIZES`.
    folder : str
        Where the transformers folder goes.

    Returns
    -------
    str
        The folder (an ``SSLUpstream`` source).
    """
    if size == "tiny":  # recipes/SynthVGS/HuBERT/hparams/tiny_hubert.yaml
        return save_tiny_hubert(
            folder,
            hidden_size=96,
            num_layers=3,
            num_heads=4,
            conv_kernel=(400, 2),
            conv_stride=(160, 2),
            conv_dim=(128, 128),
            dropout=0.0,
        )
    if os.path.isfile(os.path.join(folder, "model.safetensors")):
        return folder
    config = HubertConfig(**(HUBERT_LARGE if size == "large" else {}))
    torch.manual_seed(0)
    HubertModel(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=16000,
        padding_value=0.0,
        do_normalize=size == "large",  # as the released models ask
        return_attention_mask=size == "large",
    ).save_pretrained(folder)
    return folder


def save_clip(size, folder):
    """Writes a random CLIP of ``size`` to ``folder`` (once).

    Arguments
    ---------
    size : str
        One of :data:`SIZES`.
    folder : str
        Where the weights (and, for ``tiny``, the config) go.

    Returns
    -------
    dict
        The ``FrozenCLIP`` arguments: ``model_name``, ``pretrained``,
        ``checkpoint``, ``config``.
    """
    if size == "tiny":  # recipes/SynthVGS/CLIP/hparams/tiny_clip.yaml
        checkpoint, config = save_tiny_clip(
            folder,
            name=TINY_CLIP_NAME,
            embed_dim=64,
            image_size=64,
            patch_size=8,
            width=64,
            layers=3,
            heads=2,
            context_length=32,
        )
        return {
            "model_name": TINY_CLIP_NAME,
            "pretrained": None,
            "checkpoint": checkpoint,
            "config": config,
        }
    name = CLIP_NAMES[size]
    checkpoint = os.path.join(folder, f"{name}-random.pt")
    if not os.path.isfile(checkpoint):
        os.makedirs(folder, exist_ok=True)
        torch.manual_seed(0)
        model = open_clip.create_model(name, pretrained=None)
        torch.save(model.state_dict(), checkpoint + ".tmp")
        os.replace(checkpoint + ".tmp", checkpoint)
    return {
        "model_name": name,
        "pretrained": "openai",  # its settings; the weights are random
        "checkpoint": checkpoint,
        "config": None,
    }


def stand_ins(size, cache):
    """The upstream folder and CLIP arguments of ``size``, written once
    under ``cache``.

    Arguments
    ---------
    size : str
        One of :data:`SIZES`.
    cache : str
        Cache folder.

    Returns
    -------
    hubert : str
        HuBERT folder.
    clip : dict
        ``FrozenCLIP`` arguments (see :func:`save_clip`).
    """
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: choose from {SIZES}")
    hubert = save_hubert(size, os.path.join(cache, size, "hubert"))
    return hubert, save_clip(size, os.path.join(cache, size, "clip"))
