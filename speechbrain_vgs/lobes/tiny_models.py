"""Tiny, randomly initialised HuBERT and CLIP models in their native formats.

No pretrained weights can be downloaded offline, so the tests and the
SynthVGS recipes build small models with the real libraries and save them
the way the real checkpoints are distributed:

* :func:`save_tiny_hubert` writes a ``transformers`` folder
  (``config.json``, ``model.safetensors``, ``preprocessor_config.json``),
  loadable exactly like ``facebook/hubert-base-ls960``
  (:class:`speechbrain_vgs.lobes.ssl.SSLUpstream` takes the folder as
  ``source``).
* :func:`save_tiny_clip` writes an ``open_clip`` model config JSON and a
  state-dict checkpoint, loadable exactly like ``ViT-B-32``
  (:class:`speechbrain_vgs.lobes.clip.FrozenCLIP` takes them as ``config`` and
  ``checkpoint``). Its text tower keeps CLIP's BPE vocabulary (49408
  tokens), so the real tokenizer applies.

Authors
 * speechbrain-vgs developers 2026
"""

import os

import open_clip
import torch
from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

from speechbrain_vgs.checkpoints import save_torch
from speechbrain_vgs.dataio.manifest import outputs_ready, write_json

HUBERT_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")


def save_tiny_hubert(
    folder,
    hidden_size=32,
    num_layers=2,
    num_heads=2,
    large=False,
    do_normalize=True,
    seed=0,
    conv_kernel=(10, 3),
    conv_stride=(5, 2),
    conv_dim=None,
    dropout=0.1,
):
    """Saves a randomly initialised tiny HuBERT as a ``transformers`` folder.

    By default the convolutional feature encoder has two layers (kernels 10
    and 3, strides 5 and 2: one frame every 10 samples, a receptive field
    of 20 samples); HuBERT's own, ``conv_kernel=(10, 3, 3, 3, 3, 2, 2)``
    and ``conv_stride=(5, 2, 2, 2, 2, 2, 2)``, gives 50 frames a second.
    ``large=False`` gives the Base layout (group-normalised first
    convolution, post-LayerNorm transformer, as ``hubert-base-ls960``);
    ``large=True`` the Large one (LayerNorm in every convolution,
    pre-LayerNorm "stable" transformer, as ``hubert-large-ll60k``).

    A folder that already holds the same configuration is left as it is
    (the weights are deterministic given ``seed``), so a recipe can call
    this every time it starts.

    Arguments
    ---------
    folder : str
        Output folder (created if needed).
    hidden_size : int
        Transformer width.
    num_layers : int
        Number of transformer layers (the model has ``num_layers + 1``
        hidden states).
    num_heads : int
        Attention heads.
    large : bool
        Large-style layout instead of the Base one.
    do_normalize : bool
        Whether the saved feature extractor asks for zero-mean,
        unit-variance waveforms.
    seed : int
        Seed of the random initialisation.
    conv_kernel : tuple of int
        Kernel of each convolution of the feature encoder.
    conv_stride : tuple of int
        Stride of each convolution.
    conv_dim : tuple of int, optional
        Channels of each convolution (default: ``hidden_size`` each).
    dropout : float
        Hidden, attention and activation dropout (HuBERT's 0.1 by default).

    Returns
    -------
    folder : str
        The folder, to pass as ``source``.

    Example
    -------
    >>> folder = save_tiny_hubert(getfixture("tmpdir") / "hubert")
    >>> sorted(os.listdir(folder))  # doctest: +NORMALIZE_WHITESPACE
    ['config.json', 'model.safetensors', 'preprocessor_config.json',
     'tiny_options.json']
    """
    folder = os.fspath(folder)
    config = HubertConfig(
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=2 * hidden_size,
        conv_dim=tuple(conv_dim or [hidden_size] * len(conv_kernel)),
        conv_kernel=tuple(conv_kernel),
        conv_stride=tuple(conv_stride),
        conv_bias=large,
        num_feat_extract_layers=len(conv_kernel),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer" if large else "group",
        do_stable_layer_norm=large,
        hidden_dropout=dropout,
        attention_dropout=dropout,
        activation_dropout=dropout,
    )
    files = [os.path.join(folder, name) for name in HUBERT_FILES]
    options = {
        "config": config.to_diff_dict(),
        "do_normalize": do_normalize,
        "seed": seed,
    }
    options_file = os.path.join(folder, "tiny_options.json")
    if outputs_ready(files, options, options_file):
        return folder
    torch.manual_seed(seed)
    HubertModel(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=16000,
        padding_value=0.0,
        do_normalize=do_normalize,
        return_attention_mask=True,
    ).save_pretrained(folder)
    write_json(options_file, options)
    return folder


def tiny_clip_config(
    embed_dim=32,
    image_size=32,
    patch_size=8,
    width=32,
    layers=2,
    heads=2,
    context_length=77,
):
    """The open_clip model config of a tiny CLIP (see :func:`save_tiny_clip`).

    Both towers are transformers of ``layers`` layers and ``width``
    channels: a ViT over ``patch_size`` patches of ``image_size`` images,
    and a causal text transformer over CLIP's 49408-token vocabulary.

    Arguments
    ---------
    embed_dim : int
        Dimension of the joint image-text embedding space.
    image_size : int
        Input image side.
    patch_size : int
        ViT patch side.
    width : int
        Width of both towers (the token embeddings have this size).
    layers : int
        Transformer layers of each tower.
    heads : int
        Attention heads of each tower.
    context_length : int
        Text context length.

    Returns
    -------
    dict
        ``embed_dim``, ``vision_cfg`` and ``text_cfg``, the keyword
        arguments of ``open_clip.CLIP`` and the content of its config JSON.

    Example
    -------
    >>> config = tiny_clip_config(embed_dim=8, context_length=16)
    >>> open_clip.CLIP(**config).context_length
    16
    """
    return {
        "embed_dim": embed_dim,
        "vision_cfg": {
            "image_size": image_size,
            "layers": layers,
            "width": width,
            "head_width": width // heads,
            "patch_size": patch_size,
        },
        "text_cfg": {
            "context_length": context_length,
            "vocab_size": 49408,
            "width": width,
            "heads": heads,
            "layers": layers,
        },
    }


def save_tiny_clip(
    folder,
    name="tiny-clip",
    embed_dim=32,
    image_size=32,
    patch_size=8,
    width=32,
    layers=2,
    heads=2,
    context_length=77,
    seed=0,
):
    """Saves a randomly initialised tiny open_clip CLIP: config and weights.

    Both towers are transformers of ``layers`` layers and ``width``
    channels (a ViT over ``patch_size`` patches of ``image_size`` images,
    and a causal text transformer over CLIP's 49408-token vocabulary).

    Arguments
    ---------
    folder : str
        Output folder (created if needed).
    name : str
        Model name: the config is ``<name>.json`` (open_clip names a
        registered architecture by its config file) and the weights
        ``<name>.pt``.
    embed_dim : int
        Dimension of the joint image-text embedding space.
    image_size : int
        Input image side.
    patch_size : int
        ViT patch side.
    width : int
        Width of both towers (the token embeddings have this size).
    layers : int
        Transformer layers of each tower.
    heads : int
        Attention heads of each tower.
    context_length : int
        Text context length.
    seed : int
        Seed of the random initialisation.

    Returns
    -------
    checkpoint : str
        Path of the state-dict checkpoint.
    config : str
        Path of the model config JSON.

    Example
    -------
    >>> checkpoint, config = save_tiny_clip(getfixture("tmpdir") / "clip")
    >>> os.path.basename(checkpoint), os.path.basename(config)
    ('tiny-clip.pt', 'tiny-clip.json')
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    model_config = tiny_clip_config(
        embed_dim, image_size, patch_size, width, layers, heads, context_length
    )
    torch.manual_seed(seed)
    model = open_clip.CLIP(**model_config)
    return export_open_clip(model, model_config, folder, name)


def export_open_clip(model, model_config, folder, name):
    """Saves a CLIP in open_clip's format: model config JSON and state dict.

    The config is checked against the model first (a fresh
    ``open_clip.CLIP(**model_config)`` must accept its state dict), so the
    export always loads.

    Arguments
    ---------
    model : open_clip.CLIP
        The trained model.
    model_config : dict
        Its open_clip config: ``embed_dim``, ``vision_cfg``, ``text_cfg``.
    folder : str
        Output folder (created if needed).
    name : str
        Model name: the files are ``<name>.json`` (open_clip names an
        architecture after its config file) and ``<name>.pt``.

    Returns
    -------
    checkpoint : str
        Path of the state dict (``<folder>/<name>.pt``).
    config : str
        Path of the model config (``<folder>/<name>.json``).

    Example
    -------
    >>> from speechbrain_vgs.lobes.clip import FrozenCLIP
    >>> from speechbrain_vgs.lobes.tiny_models import tiny_clip_config
    >>> config = tiny_clip_config(8, image_size=16, width=16, layers=1,
    ...                           context_length=16)
    >>> model = open_clip.CLIP(**config)
    >>> checkpoint, config_file = export_open_clip(
    ...     model, config, getfixture("tmpdir"), "my-clip")
    >>> clip = FrozenCLIP("my-clip", pretrained=None, checkpoint=checkpoint,
    ...             config=config_file)
    >>> texts = ["a red circle"]
    >>> torch.equal(clip.encode_text(texts), model.encode_text(
    ...     clip.tokenizer(texts), normalize=True))
    True
    """
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    try:
        open_clip.CLIP(**model_config).load_state_dict(state)
    except (RuntimeError, TypeError) as e:
        raise ValueError(
            f"model_config does not describe the model to export: {e}"
        ) from None
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    config = os.path.join(folder, f"{name}.json")
    write_json(config, model_config)
    checkpoint = os.path.join(folder, f"{name}.pt")
    save_torch(state, checkpoint)
    return checkpoint, config
