"""fairseq HuBERT weights as a ``transformers`` HuBERT folder.

SpeechCLIP and SpeechCLIP+ read speech with fairseq's HuBERT
(``hubert_base_ls960.pt``, ``hubert_large_ll60k.pt``), whose weights their
Lightning checkpoints hold under ``audio_encoder.encoder.``. This module
renames those weights to ``transformers``' ``HubertModel`` (as
``transformers``' own conversion script maps them: ``post_extract_proj`` to
``feature_projection.projection``, ``self_attn.*_proj`` to
``attention.*_proj``, ``fc1``/``fc2`` to the feed-forward layers, the
weight-normalised positional convolution ...) and writes a folder that
:class:`speechbrain_vgs.lobes.ssl.SSLUpstream` loads as ``source``
(``save_pretrained``: ``config.json``, ``model.safetensors``,
``preprocessor_config.json``).

The architecture is read from the weights' shapes (widths, number of
layers, convolution kernels, positional convolution, which normalisations
the convolutions have); what shapes cannot tell (attention heads,
convolution strides, whether the transformer normalises before or after
each block, whether waveforms are normalised) comes from the fairseq
checkpoint's config, or, for the weights inside a SpeechCLIP checkpoint,
from the published model the checkpoint names (:data:`PUBLISHED`).
fairseq's pre-training heads (``final_proj``, ``label_embs_concat``) are
not part of ``HubertModel`` and are left out.

Authors
 * speechbrain-vgs developers 2026
"""

import ast
import os
import re

from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

from speechbrain_vgs.checkpoints import replaced_folder
from speechbrain_vgs.converters import (
    MARKER_FILE,
    CheckpointFormatError,
    load_checkpoint,
    plain,
)
from speechbrain_vgs.dataio.manifest import write_json

FAMILY = "fairseq HuBERT"
# fairseq's default convolutional feature encoder (both published models)
DEFAULT_CONV_LAYERS = "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"
# The settings of the published fairseq HuBERTs that their weights' shapes
# do not tell, by the names SpeechCLIP's configs give them.
PUBLISHED = {
    "hubert": {
        "num_heads": 12,
        "conv_strides": (5, 2, 2, 2, 2, 2, 2),
        "layer_norm_first": False,
        "normalize": False,
    },
    "hubert_large_ll60k": {
        "num_heads": 16,
        "conv_strides": (5, 2, 2, 2, 2, 2, 2),
        "layer_norm_first": True,
        "normalize": True,
    },
}
PUBLISHED["hubert_base"] = PUBLISHED["hubert"]
# Pre-training heads of fairseq's HubertModel, not in transformers'.
UNUSED = ("final_proj.weight", "final_proj.bias", "label_embs_concat")


def name_pairs(config, parametrized=True):
    """fairseq and ``transformers`` names of HuBERT's weights, as pairs of
    name prefixes (``{i}`` stands for a layer number).

    Arguments
    ---------
    config : transformers.HubertConfig
        The architecture (its convolutions' normalisation decides their
        names).
    parametrized : bool
        Whether the positional convolution's weight normalisation is a
        parametrization (``transformers`` on recent PyTorch) rather than
        ``weight_g``/``weight_v``.

    Returns
    -------
    tuple of (str, str)
    """
    g, v = ("weight_g", "weight_v")
    if parametrized:
        g, v = (
            "parametrizations.weight.original0",
            "parametrizations.weight.original1",
        )
    conv = "feature_extractor.conv_layers"
    if config.feat_extract_norm == "layer":
        conv_norm = (f"{conv}.{{i}}.2.1.", f"{conv}.{{i}}.layer_norm.")
    else:  # a GroupNorm after the first convolution only
        conv_norm = (f"{conv}.0.2.", f"{conv}.0.layer_norm.")
    return (
        (f"{conv}.{{i}}.0.", f"{conv}.{{i}}.conv."),
        conv_norm,
        ("layer_norm.", "feature_projection.layer_norm."),
        ("post_extract_proj.", "feature_projection.projection."),
        ("mask_emb", "masked_spec_embed"),
        ("encoder.pos_conv.0.weight_g", f"encoder.pos_conv_embed.conv.{g}"),
        ("encoder.pos_conv.0.weight_v", f"encoder.pos_conv_embed.conv.{v}"),
        ("encoder.pos_conv.0.bias", "encoder.pos_conv_embed.conv.bias"),
        ("encoder.layer_norm.", "encoder.layer_norm."),
        ("encoder.layers.{i}.self_attn.", "encoder.layers.{i}.attention."),
        (
            "encoder.layers.{i}.self_attn_layer_norm.",
            "encoder.layers.{i}.layer_norm.",
        ),
        (
            "encoder.layers.{i}.fc1.",
            "encoder.layers.{i}.feed_forward.intermediate_dense.",
        ),
        (
            "encoder.layers.{i}.fc2.",
            "encoder.layers.{i}.feed_forward.output_dense.",
        ),
        (
            "encoder.layers.{i}.final_layer_norm.",
            "encoder.layers.{i}.final_layer_norm.",
        ),
    )


def rename(key, pairs, reverse=False):
    """A weight's name on the other side of ``pairs`` (fairseq to
    ``transformers``, or back with ``reverse``); ``None`` if no pair
    matches.

    Example
    -------
    >>> from transformers import HubertConfig
    >>> pairs = name_pairs(HubertConfig())
    >>> rename("encoder.layers.3.fc1.weight", pairs)
    'encoder.layers.3.feed_forward.intermediate_dense.weight'
    >>> rename("encoder.layers.3.attention.k_proj.bias", pairs, reverse=True)
    'encoder.layers.3.self_attn.k_proj.bias'
    >>> rename("final_proj.weight", pairs) is None
    True
    """
    for pair in pairs:
        source, target = reversed(pair) if reverse else pair
        pattern = re.escape(source).replace(re.escape("{i}"), r"(\d+)")
        match = re.match(pattern, key)
        if match is not None:
            layer = match.group(1) if match.groups() else ""
            return target.replace("{i}", layer) + key[match.end() :]
    return None


def hubert_config(state, num_heads, conv_strides, layer_norm_first, path):
    """A ``transformers`` ``HubertConfig`` for fairseq HuBERT weights.

    Arguments
    ---------
    state : dict
        fairseq ``HubertModel`` state dict.
    num_heads : int
        Attention heads.
    conv_strides : sequence of int
        Stride of each convolution of the feature encoder.
    layer_norm_first : bool
        Whether each transformer block normalises its input (fairseq's
        ``layer_norm_first``, HuBERT Large) instead of its output.
    path : str
        The checkpoint file (for errors).

    Returns
    -------
    transformers.HubertConfig

    Raises
    ------
    CheckpointFormatError
        If the weights that give the architecture are missing.
    """
    needed = [
        "post_extract_proj.weight",
        "encoder.pos_conv.0.weight_v",
        "encoder.layers.0.fc1.weight",
        "feature_extractor.conv_layers.0.0.weight",
    ]
    missing = [key for key in needed if key not in state]
    if missing:
        raise CheckpointFormatError(
            path, "the HuBERT weights are incomplete", FAMILY, missing
        )
    conv_dims, conv_kernels = [], []
    while f"feature_extractor.conv_layers.{len(conv_dims)}.0.weight" in state:
        weight = state[
            f"feature_extractor.conv_layers.{len(conv_dims)}.0.weight"
        ]
        conv_dims.append(weight.shape[0])
        conv_kernels.append(weight.shape[2])
    if len(conv_strides) != len(conv_dims):
        raise CheckpointFormatError(
            path,
            f"its feature encoder has {len(conv_dims)} convolutions, but "
            f"{len(conv_strides)} strides are known for it",
            FAMILY,
        )
    layers = 0
    while f"encoder.layers.{layers}.fc1.weight" in state:
        layers += 1
    hidden, _ = state["post_extract_proj.weight"].shape
    pos_conv = state["encoder.pos_conv.0.weight_v"]
    if "feature_extractor.conv_layers.0.2.1.weight" in state:
        norm = "layer"
    elif "feature_extractor.conv_layers.0.2.weight" in state:
        norm = "group"
    else:
        raise CheckpointFormatError(
            path,
            "its first convolution has no normalisation",
            FAMILY,
            ["feature_extractor.conv_layers.0.2.weight"],
        )
    if hidden % num_heads:
        raise CheckpointFormatError(
            path,
            f"width {hidden} is not a multiple of {num_heads} heads",
            FAMILY,
        )
    return HubertConfig(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=num_heads,
        intermediate_size=state["encoder.layers.0.fc1.weight"].shape[0],
        hidden_act="gelu",
        conv_dim=tuple(conv_dims),
        conv_kernel=tuple(conv_kernels),
        conv_stride=tuple(conv_strides),
        conv_bias="feature_extractor.conv_layers.0.0.bias" in state,
        num_feat_extract_layers=len(conv_dims),
        feat_extract_norm=norm,
        feat_extract_activation="gelu",
        do_stable_layer_norm=layer_norm_first,
        num_conv_pos_embeddings=pos_conv.shape[2],
        num_conv_pos_embedding_groups=hidden // pos_conv.shape[1],
    )


def hubert_model(state, config, path):
    """A ``transformers`` ``HubertModel`` holding fairseq HuBERT weights.

    Arguments
    ---------
    state : dict
        fairseq ``HubertModel`` state dict.
    config : transformers.HubertConfig
        Its architecture (:func:`hubert_config`).
    path : str
        The checkpoint file (for errors).

    Returns
    -------
    transformers.HubertModel
        Every one of its weights comes from ``state``.

    Raises
    ------
    CheckpointFormatError
        Naming the fairseq keys that are missing, unknown, or of another
        shape than the architecture's.
    """
    model = HubertModel(config)
    target = model.state_dict()
    pairs = name_pairs(
        config,
        "encoder.pos_conv_embed.conv.parametrizations.weight.original0"
        in target,
    )
    mapped, unexpected, wrong = {}, [], []
    for key, value in state.items():
        if key.startswith(UNUSED):
            continue
        name = rename(key, pairs)
        if name not in target:
            unexpected.append(key)
        elif target[name].shape != value.shape:
            wrong.append(
                f"{key} {list(value.shape)} (expected "
                f"{list(target[name].shape)})"
            )
        else:
            mapped[name] = value
    missing = [
        rename(name, pairs, reverse=True) or name
        for name in target
        if name not in mapped
    ]
    if wrong:
        raise CheckpointFormatError(
            path, "weights of unexpected shape: " + "; ".join(wrong), FAMILY
        )
    if missing or unexpected:
        raise CheckpointFormatError(
            path,
            "its weights do not make a HuBERT",
            FAMILY,
            missing,
            unexpected,
        )
    model.load_state_dict(mapped, strict=True)
    return model.eval()


def save_hubert(state, folder, settings, path):
    """Writes fairseq HuBERT weights as a ``transformers`` folder.

    Arguments
    ---------
    state : dict
        fairseq ``HubertModel`` state dict.
    folder : str
        Output folder (replaced atomically).
    settings : dict
        ``num_heads``, ``conv_strides``, ``layer_norm_first`` and
        ``normalize`` (whether waveforms are normalised to zero mean and
        unit variance first: the feature extractor's ``do_normalize``).
    path : str
        The checkpoint file (for errors).

    Returns
    -------
    folder : str
    """
    config = hubert_config(
        state,
        settings["num_heads"],
        settings["conv_strides"],
        settings["layer_norm_first"],
        path,
    )
    model = hubert_model(state, config, path)
    folder = os.fspath(folder)
    with replaced_folder(folder) as tmp:
        model.save_pretrained(tmp)
        Wav2Vec2FeatureExtractor(
            feature_size=1,
            sampling_rate=16000,
            padding_value=0.0,
            do_normalize=bool(settings["normalize"]),
            return_attention_mask=True,
        ).save_pretrained(tmp)
    return folder


def conv_layer_settings(text):
    """fairseq's ``conv_feature_layers`` (``"[(512,10,5)] * 2"`` ...) as a
    list of ``(channels, kernel, stride)``, read without ``eval``.

    Example
    -------
    >>> conv_layer_settings("[(512,10,5)] + [(512,3,2)] * 2")
    [(512, 10, 5), (512, 3, 2), (512, 3, 2)]
    """

    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            return [value(item) for item in node.elts]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return value(node.left) + value(node.right)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            return value(node.left) * value(node.right)
        raise ValueError(f"not a list of convolutions: {text!r}")

    layers = value(ast.parse(text, mode="eval").body)
    return [tuple(layer) for layer in layers]


def fairseq_settings(checkpoint, path):
    """The model and task settings of a fairseq HuBERT checkpoint.

    Arguments
    ---------
    checkpoint : dict
        The loaded fairseq checkpoint (``cfg`` or, for older files,
        ``args``).
    path : str
        The file (for errors).

    Returns
    -------
    dict
        ``num_heads``, ``conv_strides``, ``conv_layers`` (channels and
        kernels, to check against the weights), ``layer_norm_first``,
        ``normalize``.
    """
    cfg = plain(checkpoint.get("cfg"))
    if isinstance(cfg, dict) and isinstance(cfg.get("model"), dict):
        model, task = cfg["model"], cfg.get("task") or {}
        name = model.get("_name", "hubert")
    else:
        model = task = plain(checkpoint.get("args")) or {}
        name = model.get("arch", "hubert")
    if not str(name).startswith("hubert"):
        raise CheckpointFormatError(
            path, f"its model is {name!r}, not a HuBERT", FAMILY
        )
    if model.get("activation_fn", "gelu") != "gelu":
        raise CheckpointFormatError(
            path,
            f"activation {model['activation_fn']!r} (only gelu converts)",
            FAMILY,
        )
    layers = conv_layer_settings(
        model.get("conv_feature_layers", DEFAULT_CONV_LAYERS)
    )
    return {
        "num_heads": int(model.get("encoder_attention_heads", 12)),
        "conv_strides": tuple(stride for _, _, stride in layers),
        "conv_layers": [(dim, kernel) for dim, kernel, _ in layers],
        "layer_norm_first": bool(model.get("layer_norm_first", False)),
        "normalize": bool(task.get("normalize", False)),
    }


def is_fairseq_hubert(path, content):
    """Whether a loaded checkpoint is a fairseq HuBERT's.

    Arguments
    ---------
    path : str
        The file.
    content : object
        Its content (:func:`~speechbrain_vgs.converters.load_checkpoint`).

    Returns
    -------
    bool
    """
    return (
        isinstance(content, dict)
        and isinstance(content.get("model"), dict)
        and ("cfg" in content or "args" in content)
        and "post_extract_proj.weight" in content["model"]
    )


def convert_fairseq_hubert(path, out_folder, content=None):
    """Converts a fairseq HuBERT checkpoint into a ``transformers`` folder.

    Arguments
    ---------
    path : str
        ``hubert_base_ls960.pt``, ``hubert_large_ll60k.pt`` or another
        pre-trained (not fine-tuned) fairseq HuBERT.
    out_folder : str
        Output folder: the ``source`` of an
        :class:`~speechbrain_vgs.lobes.ssl.SSLUpstream`.
    content : dict, optional
        The loaded file, if already read.

    Returns
    -------
    folder : str

    Raises
    ------
    CheckpointFormatError
        If it is not a pre-trained fairseq HuBERT, or its config and
        weights disagree.
    """
    path = os.fspath(path)
    checkpoint = load_checkpoint(path) if content is None else content
    if not is_fairseq_hubert(path, checkpoint):
        raise CheckpointFormatError(
            path, "not a fairseq HuBERT checkpoint (model + cfg)", FAMILY
        )
    settings = fairseq_settings(checkpoint, path)
    state = checkpoint["model"]
    config = hubert_config(
        state,
        settings["num_heads"],
        settings["conv_strides"],
        settings["layer_norm_first"],
        path,
    )
    shapes = list(zip(config.conv_dim, config.conv_kernel))
    if shapes != settings["conv_layers"]:
        raise CheckpointFormatError(
            path,
            f"its config gives the convolutions {settings['conv_layers']} "
            f"(channels, kernel), its weights {shapes}",
            FAMILY,
        )
    save_hubert(state, out_folder, settings, path)
    write_json(
        os.path.join(out_folder, MARKER_FILE),
        {"source": os.path.abspath(path), "family": FAMILY},
    )
    return os.fspath(out_folder)
