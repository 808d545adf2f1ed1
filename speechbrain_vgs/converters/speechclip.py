"""SpeechCLIP and SpeechCLIP+ Lightning checkpoints as SpeechCLIP folders.

The authors' checkpoints (``atosystem/SpeechCLIP``: Base/Large x
Flickr8k/SpokenCOCO x parallel/cascaded; ``ShampooWang/SpeechCLIP_plus``:
Cascaded+, Hybrid and Hybrid+, Base Flickr8k and Large Flickr8k and
SpokenCOCO) are PyTorch Lightning checkpoints of
``KWClip_GeneralTransformer``: ``state_dict`` holds every weight of the
model, frozen ones included, and ``hyper_parameters["config"]`` the
training configuration (an ``OrderedNamespace``, read here as plain dicts
without importing the authors' code). The family is recognised from the
configuration (``model_settings``: objective weights and the cascaded
branch's type) and the weights.

What goes where (reference name -> this package's, ``head.`` being a
:mod:`speechbrain_vgs.lobes.speechclip` head):

* ``audio_encoder.encoder.*`` (fairseq HuBERT) -> a ``transformers``
  HuBERT folder, ``hubert/`` (:mod:`~speechbrain_vgs.converters.
  fairseq_hubert`; checkpoints without those weights take them from
  ``hubert``, the fairseq file the authors loaded), with
  ``do_normalize`` when fairseq normalised waveforms (HuBERT Large) or the
  dataset did (``normalize_waveform``, SpeechCLIP+ Base);
  ``audio_encoder.weightedsum_layer.weights`` -> ``upstream.weights``
  (same softmax; ``normalize_hiddenstates`` -> ``layernorm``; waveforms
  normalised with fairseq's epsilon, ``wav_norm_eps=1e-5``).
* parallel (``parallel_branch.``): ``cls`` -> ``head.cls``;
  ``self_att.model.layers.0.*`` -> ``head.encoder.*`` (both
  ``nn.TransformerEncoderLayer``); ``self_att.model.norm`` ->
  ``head.norm``; ``linear_proj`` -> ``head.projection``.
* cascaded (``cascaded_branch.``): ``cls`` -> ``head.cls``;
  ``self_att.multihead_attn_layer`` -> ``head.attention.attention``;
  ``self_att.attentionBlock_Norm`` -> ``head.attention.norm``;
  ``linear_proj`` (a Linear, or ``MLPLayers``' ``sequential.*``) ->
  ``head.selector.projection``; ``bn_layer.bn_layer`` ->
  ``head.selector.batchnorm``, its channels reordered (the reference
  flattens ``K`` keywords of width ``W`` as ``w * K + k``, this package
  as ``k * W + w``); ``vector_quantizer.curr_temp`` -> ``tau``.
* Hybrid (``cascaded_branch.``): ``parallel_cls`` and ``cascaded_cls`` ->
  ``head.cls`` (the parallel CLS first); the shared layer, keyword
  projection and BatchNorm as above (a ``TransformerEncoder`` shared layer,
  Large SpokenCOCO, -> ``head.attention.encoder``/``.norm``);
  ``parallel_proj`` -> ``head.projection``.
* Cascaded+ and Hybrid+ (``cascaded_branch.``): ``self_att`` ->
  ``head.attention``; the CIF's ``downsampling.conv.0`` and
  ``downsampling.weight_proj.1`` -> ``head.cif.conv`` and
  ``head.cif.weight_predictor.3``, its settings (threshold, tail rule,
  weights scaled for the first ``scaling_step`` updates, or all along
  when there is none) -> the ``cif`` node, the batches it has seen
  (``global_step``) -> ``head.cif.training_batches``; ``linear_proj`` ->
  ``head.selector.projection``; ``bn_layer.bn_layer`` (one BatchNorm over
  the token width) -> ``head.selector.batchnorm``; Hybrid+'s ``cls`` and
  ``parallel_proj`` -> ``head.cls`` and ``head.projection``; the quantity
  loss's weight and target (``using_gt_len``) -> ``quantity_weight`` and
  ``quantity_target``.
* ``clip.model.token_embedding.weight``: the reference's reduced CLIP
  token table (8112 rows for Flickr8k, 19787 for SpokenCOCO), whose row
  ``r`` is CLIP's token ``ids[r]`` of the authors' vocabulary file
  (``avssl/data/{flickr,coco}_stat/text_clip_vocab_usage_byfreq.npy``,
  given as ``reduced_vocabulary``). The keyword vocabulary is those ids
  but the rows the reference never selects (0, 2 and 3: padding, start and
  end), which :meth:`~speechbrain_vgs.lobes.clip.FrozenCLIP.set_vocabulary`
  takes. CLIP's other weights are OpenAI's, loaded by open_clip
  (``ViT-B/32`` -> ``ViT-B-32``, tag ``openai``).
* ``criterion.temperature`` (a trained ``log(1 / T)``, Large) or the
  configured ``T`` (Base) -> the recipe loss's temperature.

The folder written is what a SpeechCLIP recipe leaves: ``hyperparams.yaml``
(the recipe's hparams, ``recipes/{Flickr8k,SpokenCOCO}/SpeechCLIP/
hparams/<variant>_<size>.yaml`` by default, with the model's settings and
``init_from`` naming the folder, so that the recipe run on this file tests
the converted model with ``--test_only`` or fine-tunes it with
``--output_folder`` elsewhere; HuBERT stays frozen, as the authors trained
it, unless the upstream's ``freeze: True`` is set to ``False``: it then
fine-tunes from ``hubert/``), ``model.ckpt``, ``hubert/`` and
``conversion.json`` (where it came from). It loads with
:func:`speechbrain_vgs.inference.load_inference`.

Computation: a single utterance gives what the reference gives. Padded
batches do not: the reference's frame counts (``round(samples / 320)``)
and HuBERT Base's first normalisation see the padding, this package's
upstream does not (:class:`~speechbrain_vgs.lobes.ssl.SSLUpstream`).

Authors
 * speechbrain-vgs developers 2026
"""

import datetime
import io
import json
import math
import os
import re
from typing import NamedTuple

import numpy as np
import open_clip
import torch
from ruamel.yaml import YAML
from torch import nn

from speechbrain_vgs.checkpoints import replaced_folder, save_torch
from speechbrain_vgs.converters import (
    MARKER_FILE,
    CheckpointFormatError,
    load_checkpoint,
    plain,
    setting,
)
from speechbrain_vgs.converters.fairseq_hubert import (
    PUBLISHED,
    fairseq_settings,
    is_fairseq_hubert,
    save_hubert,
)
from speechbrain_vgs.dataio.manifest import write_json
from speechbrain_vgs.lobes import speechclip as heads
from speechbrain_vgs.lobes.cif import CIF
from speechbrain_vgs.lobes.clip import PAD_ID

REPOSITORY = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
FAMILIES = {
    "parallel": "SpeechCLIP parallel",
    "cascaded": "SpeechCLIP cascaded",
    "hybrid": "SpeechCLIP+ Hybrid",
    "cascaded_plus": "SpeechCLIP+ Cascaded+",
    "hybrid_plus": "SpeechCLIP+ Hybrid+",
}
BRANCH_TYPES = {  # the reference's cascaded_branch.type, aliases unified
    "CascadedBranch": "cascaded",
    "HybridBranch": "hybrid",
    "CascadedBranch_plus": "cascaded_plus",
    "HybridBranch_plus": "hybrid_plus",
}
HEAD_CLASSES = {
    "parallel": "ParallelHead",
    "cascaded": "CascadedHead",
    "hybrid": "HybridHead",
    "cascaded_plus": "CascadedPlusHead",
    "hybrid_plus": "HybridPlusHead",
}
SIZES = {"hubert": "base", "hubert_base": "base", "hubert_large_ll60k": "large"}
CORPORA = {"flickr": "Flickr8k", "coco": "SpokenCOCO"}
HUBERT = "audio_encoder.encoder."
LAYER_WEIGHTS = "audio_encoder.weightedsum_layer.weights"
TOKEN_TABLE = "clip.model.token_embedding.weight"
TEMPERATURE = "criterion.temperature"
# Weights the conversion does not need: CLIP's (open_clip loads OpenAI's),
# the branch's reference to the same CLIP, the loss's constant masks.
IGNORED = (
    "clip.model.",
    "cascaded_branch.clip.",
    "criterion.eye_mat",
    "criterion.neg_eye_mat",
)
REDUCED_SPECIALS = (0, 2, 3)  # rows of the reduced table never selected
LAYER_NORM_EPS = 1e-5  # what this package's heads use
WAV_NORM_EPS = 1e-5  # fairseq's F.layer_norm of waveforms


class Weights:
    """A checkpoint's state dict, read entry by entry: what was read and
    what was looked for but absent are kept for one error at the end.

    Arguments
    ---------
    state : dict
        The state dict.
    path : str
        The checkpoint file (for the error).
    family : str
        The family it looks like (for the error).

    Example
    -------
    >>> weights = Weights({"a": 1, "b": 2, "c": 3}, "x.ckpt", "SpeechCLIP")
    >>> weights.get("a"), weights.get("z")
    (1, None)
    >>> weights.check(ignored=("c",))
    Traceback (most recent call last):
    ...
    speechbrain_vgs.converters.CheckpointFormatError: x.ckpt: looks like a \
SpeechCLIP checkpoint, but ...; missing keys: z; unexpected keys: b
    """

    def __init__(self, state, path, family):
        self.state = state
        self.path = path
        self.family = family
        self.used = set()
        self.missing = []

    def __contains__(self, key):
        return key in self.state

    def get(self, key):
        """The entry ``key`` (``None``, noted as missing, if absent)."""
        if key not in self.state:
            self.missing.append(key)
            return None
        self.used.add(key)
        return self.state[key]

    def check(self, ignored=()):
        """Raises if an entry looked for was absent, or an entry neither
        read nor ``ignored`` (prefixes) is present."""
        unexpected = [
            key
            for key in self.state
            if key not in self.used and not key.startswith(tuple(ignored))
        ]
        if self.missing or unexpected:
            raise CheckpointFormatError(
                self.path,
                "its weights are not all of that model (a partial or "
                "modified checkpoint?)",
                self.family,
                self.missing,
                unexpected,
            )


def is_speechclip(path, content):
    """Whether a loaded checkpoint is a SpeechCLIP (or SpeechCLIP+)
    Lightning checkpoint: a ``state_dict`` and a stored config with
    ``model_settings``, ``audio_encoder`` and ``clip``.

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
    if not isinstance(content, dict) or "state_dict" not in content:
        return False
    config = stored_config(content)
    return isinstance(config, dict) and {
        "model_settings",
        "audio_encoder",
        "clip",
    } <= set(config)


def stored_config(checkpoint):
    """The training configuration a Lightning checkpoint stores (plain
    dicts), or ``None``."""
    hyper_parameters = checkpoint.get("hyper_parameters")
    if not isinstance(hyper_parameters, dict):
        return None
    return plain(hyper_parameters.get("config"))


def model_variant(config, path):
    """Which SpeechCLIP a configuration describes.

    Arguments
    ---------
    config : dict
        The checkpoint's stored configuration.
    path : str
        The checkpoint file (for errors).

    Returns
    -------
    str
        A key of :data:`FAMILIES`.

    Raises
    ------
    CheckpointFormatError
        For branch layouts the authors did not release.

    Example
    -------
    >>> model_variant({"model_settings": {"parallel_objective_weight": 1.0,
    ...     "cascaded_objective_weight": 0.0}}, "x.ckpt")
    'parallel'
    >>> model_variant({"model_settings": {"parallel_objective_weight": 1.0,
    ...     "cascaded_objective_weight": 1.0,
    ...     "cascaded_branch": {"type": "HybridBranch_dynamic"}}}, "x.ckpt")
    'hybrid_plus'
    """
    family = "SpeechCLIP"
    settings = setting(config, "model_settings", path, family)
    cascaded = float(settings.get("cascaded_objective_weight", 0.0))
    parallel = float(settings.get("parallel_objective_weight", 0.0))
    if cascaded <= 0 and parallel > 0:
        return "parallel"
    if cascaded <= 0:
        raise CheckpointFormatError(
            path,
            "neither its parallel nor its cascaded objective is on",
            family,
        )
    kind = str(
        setting(config, "model_settings.cascaded_branch.type", path, family)
    )
    kind = kind.replace("KW_", "").replace("dynamic", "plus")
    if kind not in BRANCH_TYPES:
        raise CheckpointFormatError(
            path,
            f"its cascaded branch is a {kind}, which the authors did not "
            f"release and this package does not convert (known: "
            f"{', '.join(BRANCH_TYPES)})",
            family,
        )
    variant = BRANCH_TYPES[kind]
    if variant == "cascaded" and parallel > 0:
        raise CheckpointFormatError(
            path,
            "it trains separate parallel and cascaded branches, which the "
            "authors did not release and this package does not convert",
            family,
        )
    return variant


def unsupported(path, family, what):
    """A :class:`CheckpointFormatError` for a setting this package's
    SpeechCLIP modules do not compute."""
    return CheckpointFormatError(
        path,
        f"{what}, which this package's SpeechCLIP modules do not compute",
        family,
    )


def require(condition, path, family, what):
    """Raises :func:`unsupported` for ``what`` unless ``condition``."""
    if not condition:
        raise unsupported(path, family, what)


def layer_type(branch):
    """The reference's layer class of a branch config (``transformer_args.
    type`` in SpeechCLIP+, ``transformer_type`` in SpeechCLIP)."""
    args = branch.get("transformer_args") or {}
    return args.get("type", branch.get("transformer_type"))


def check_layer(branch, kind, path, family):
    """Checks a branch's layer config against what this package computes.

    Arguments
    ---------
    branch : dict
        The branch's config (``transformer_args`` ...).
    kind : str
        ``"TransformerEncoder"`` or ``"MultiheadAttentionAndNorm"``.
    path, family : str
        For errors.

    Returns
    -------
    dict
        ``transformer_args``.
    """
    args = branch.get("transformer_args") or {}
    require(
        layer_type(branch) == kind,
        path,
        family,
        f"its layer is a {layer_type(branch)} (expected {kind})",
    )
    eps = float(args.get("layer_norm_eps", LAYER_NORM_EPS))
    require(eps == LAYER_NORM_EPS, path, family, f"LayerNorm eps {eps}")
    if kind == "TransformerEncoder":
        require(
            int(args.get("n_layers", 1)) == 1,
            path,
            family,
            f"{args.get('n_layers')} transformer layers",
        )
        require(
            not args.get("norm_first", False), path, family, "pre-LN layers"
        )
        require(
            args.get("activation", "relu") == "gelu",
            path,
            family,
            f"activation {args.get('activation')!r}",
        )
    return args


class HeadReading(NamedTuple):
    """What a checkpoint's configuration says of its head.

    ``kwargs``: the head's arguments; ``pairs``: (our name, reference
    name) of each weight (several reference names for one of ours are
    concatenated: the CLS tokens); ``from_weights``: arguments read from a
    weight (``{argument: reference name}``); ``cif``: the arguments of a
    :class:`~speechbrain_vgs.lobes.cif.CIF` (SpeechCLIP+'s ``+`` heads);
    ``hparams``: top-level hparams of the recipe (CIF's quantity loss).
    """

    kwargs: dict
    pairs: list
    from_weights: dict
    cif: dict | None = None
    hparams: dict | None = None


def projection_pairs(source, target, dimensions):
    """Reference and our names of a projection's weights: a Linear
    (``dimensions`` of two widths, or none) or ``MLPLayers``' Linears at
    ``sequential.0``, ``sequential.3``, ...

    Example
    -------
    >>> projection_pairs("linear_proj.", "projection.", [8, 8, 4])[2:]
    [('projection.3.weight', 'linear_proj.sequential.3.weight'), \
('projection.3.bias', 'linear_proj.sequential.3.bias')]
    """
    if not dimensions or len(dimensions) == 2:
        return [(f"{target}{p}", f"{source}{p}") for p in ("weight", "bias")]
    return [
        (f"{target}{3 * i}.{p}", f"{source}sequential.{3 * i}.{p}")
        for i in range(len(dimensions) - 1)
        for p in ("weight", "bias")
    ]


def layer_pairs(source, target, kind):
    """Reference and our names of a shared layer's weights: the
    reference's ``MultiheadAttentionAndNorm`` (attention, LayerNorm) or
    ``TransformerEncoder`` (one ``nn.TransformerEncoderLayer``, LayerNorm).
    """
    if kind == "MultiheadAttentionAndNorm":
        module = nn.MultiheadAttention(4, 1, batch_first=True)
        inner = (f"{source}multihead_attn_layer.", f"{target}attention.")
        norm = f"{source}attentionBlock_Norm."
    else:
        module = nn.TransformerEncoderLayer(4, 1, 8, batch_first=True)
        inner = (f"{source}model.layers.0.", f"{target}encoder.")
        norm = f"{source}model.norm."
    pairs = [
        (f"{inner[1]}{key}", f"{inner[0]}{key}") for key in module.state_dict()
    ]
    return pairs + [
        (f"{target}norm.{p}", f"{norm}{p}") for p in ("weight", "bias")
    ]


def parallel_head(config, path, family):
    """The :class:`~speechbrain_vgs.lobes.speechclip.ParallelHead` of a
    parallel checkpoint: its arguments, the (our name, reference name)
    pairs of its weights, and the arguments read from weights."""
    branch = setting(config, "model_settings.parallel_branch", path, family)
    args = check_layer(branch, "TransformerEncoder", path, family)
    require(
        branch.get("need_projection", True),
        path,
        family,
        "a parallel branch without projection",
    )
    prefix = "parallel_branch."
    pairs = [("cls", f"{prefix}cls")]
    pairs += layer_pairs(f"{prefix}self_att.", "", "TransformerEncoder")
    pairs += projection_pairs(f"{prefix}linear_proj.", "projection.", None)
    kwargs = {
        "num_heads": int(args.get("nhead", 8)),
        "ffn_dim": int(args.get("dim_feedforward", 3072)),
        "dropout": float(args.get("dropout", 0.1)),
    }
    return HeadReading(kwargs, pairs, {})


def keyword_settings(config, path, family):
    """What cascaded and hybrid checkpoints share: the keyword projection,
    BatchNorm and quantiser (arguments, weight pairs, weight-read
    arguments)."""
    branch = setting(config, "model_settings.cascaded_branch", path, family)
    keyword = branch.get("keyword") or {}
    vq = branch.get("vq") or {}
    vq_args = vq.get("args") or {}
    batchnorms = keyword.get("batchnorms") or {}
    require(
        batchnorms.get("type") == "eachKw" and batchnorms.get("parallel"),
        path,
        family,
        f"keyword BatchNorm {batchnorms.get('type')!r} (parallel: "
        f"{batchnorms.get('parallel')})",
    )
    require(
        vq.get("type") == "SimpleVectorQuantizer"
        and not vq_args.get("use_gumbel", False)
        and vq_args.get("hard", True),
        path,
        family,
        f"the quantiser {vq.get('type')} (use_gumbel: "
        f"{vq_args.get('use_gumbel')}, hard: {vq_args.get('hard')})",
    )
    temp = str(vq_args.get("temp", ""))
    require(
        temp.startswith(("fixed=", "learnable=")),
        path,
        family,
        f"a scheduled quantiser temperature {temp!r}",
    )
    projection = keyword.get("kw_projection") or {}
    dimensions = projection.get("dimensions")
    prefix = "cascaded_branch."
    pairs = projection_pairs(
        f"{prefix}linear_proj.", "selector.projection.", dimensions
    )
    pairs += [
        (f"selector.batchnorm.{key}", f"{prefix}bn_layer.bn_layer.{key}")
        for key in nn.BatchNorm1d(1).state_dict()
    ]
    kwargs = {
        "num_keywords": int(keyword.get("number", 8)),
        "keyword_hidden_dims": list(dimensions[1:-1]) if dimensions else [],
    }
    from_weights = {"tau": f"{prefix}vector_quantizer.curr_temp"}
    return kwargs, pairs, from_weights


def cascaded_head(config, path, family):
    """The :class:`~speechbrain_vgs.lobes.speechclip.CascadedHead` of a
    cascaded checkpoint (see :func:`parallel_head`)."""
    branch = setting(config, "model_settings.cascaded_branch", path, family)
    args = check_layer(branch, "MultiheadAttentionAndNorm", path, family)
    kwargs, pairs, from_weights = keyword_settings(config, path, family)
    prefix = "cascaded_branch."
    pairs += [("cls", f"{prefix}cls")]
    pairs += layer_pairs(
        f"{prefix}self_att.", "attention.", "MultiheadAttentionAndNorm"
    )
    kwargs["num_heads"] = int(args.get("nhead", 1))
    kwargs["dropout"] = float(args.get("dropout", 0.1))
    return HeadReading(kwargs, pairs, from_weights)


def hybrid_head(config, path, family):
    """The :class:`~speechbrain_vgs.lobes.speechclip.HybridHead` of a
    SpeechCLIP+ Hybrid checkpoint (see :func:`parallel_head`); its ``cls``
    gathers the parallel CLS and the keyword CLS, in that order."""
    branch = setting(config, "model_settings.cascaded_branch", path, family)
    kind = layer_type(branch)
    if kind != "TransformerEncoder":
        kind = "MultiheadAttentionAndNorm"
    args = check_layer(branch, kind, path, family)
    kwargs, pairs, from_weights = keyword_settings(config, path, family)
    parallel = setting(config, "model_settings.parallel_branch", path, family)
    require(
        parallel.get("need_projection", True),
        path,
        family,
        "a parallel branch without projection",
    )
    prefix = "cascaded_branch."
    pairs += [
        ("cls", f"{prefix}parallel_cls"),
        ("cls", f"{prefix}cascaded_cls"),
    ]
    pairs += layer_pairs(f"{prefix}self_att.", "attention.", kind)
    dimensions = (parallel.get("projection_config") or {}).get("dimensions")
    pairs += projection_pairs(
        f"{prefix}parallel_proj.", "projection.", dimensions
    )
    kwargs["num_heads"] = int(args.get("nhead", 1))
    kwargs["dropout"] = float(args.get("dropout", 0.1))
    kwargs["parallel_hidden_dims"] = (
        list(dimensions[1:-1]) if dimensions else []
    )
    if kind == "TransformerEncoder":
        kwargs["ffn_dim"] = int(args.get("dim_feedforward", 3072))
    return HeadReading(kwargs, pairs, from_weights)


def cif_settings(config, path, family):
    """The CIF of SpeechCLIP+'s ``+`` heads: its arguments, the weight
    pairs (the reference's ``downsampling.conv.0`` and
    ``downsampling.weight_proj.1``) and the recipe's quantity-loss
    hparams."""
    downsampling = setting(
        config, "model_settings.cascaded_branch.downsampling", path, family
    )
    cif = downsampling.get("cif") or {}
    require(
        downsampling.get("type") == "cif"
        and cif.get("produce_weight_type", "conv") == "conv"
        and not cif.get("add_cif_ctxt_layers", False),
        path,
        family,
        f"downsampling {downsampling.get('type')!r} with weights from "
        f"{cif.get('produce_weight_type')!r}",
    )
    widths = (cif.get("cif_output_dim", 768), cif.get("encoder_embed_dim", 768))
    require(widths[0] == widths[1], path, family, "a projection after the CIF")
    scaling = float("inf")  # the authors' Base: scaling all along
    if not cif.get("apply_scaling", True):
        scaling = 0
    elif int(cif.get("scaling_step", -1)) >= 0:
        trainer = config.get("trainer", {})
        accumulate = int(trainer.get("accumulate_grad_batches", 1))
        scaling = int(cif["scaling_step"]) * accumulate
    tail = None
    if cif.get("apply_tail_handling", True):
        tail = float(cif.get("tail_handling_firing_threshold", 0.5))
    kwargs = {
        "threshold": float(cif.get("cif_threshold", 1.0)),
        "kernel_size": int(cif.get("conv_cif_width", 3)),
        "dropout": 0.5,  # the reference's nn.Dropout(), whatever the config
        "scaling_batches": scaling,
        "tail_threshold": tail,
        "max_fires": 75,
    }
    source = "cascaded_branch.downsampling."
    pairs = [
        (f"cif.conv.{p}", f"{source}conv.0.{p}") for p in ("weight", "bias")
    ]
    pairs += [
        (f"cif.weight_predictor.3.{p}", f"{source}weight_proj.1.{p}")
        for p in ("weight", "bias")
    ]
    hparams = {
        "quantity_weight": float(cif.get("quantity_loss_weight", 1.0)),
        "quantity_target": (
            "subwords" if cif.get("using_gt_len", False) else "frames"
        ),
    }
    return kwargs, pairs, hparams


def plus_head(config, path, family, parallel):
    """The :class:`~speechbrain_vgs.lobes.speechclip.CascadedPlusHead` (or,
    with ``parallel``, :class:`~speechbrain_vgs.lobes.speechclip.
    HybridPlusHead`) of a SpeechCLIP+ ``+`` checkpoint."""
    branch = setting(config, "model_settings.cascaded_branch", path, family)
    args = check_layer(branch, "MultiheadAttentionAndNorm", path, family)
    kwargs, pairs, from_weights = keyword_settings(config, path, family)
    del kwargs["num_keywords"]  # CIF decides how many
    cif, cif_pairs, hparams = cif_settings(config, path, family)
    prefix = "cascaded_branch."
    pairs += layer_pairs(
        f"{prefix}self_att.", "attention.", "MultiheadAttentionAndNorm"
    )
    pairs += cif_pairs
    if parallel:
        pairs += [("cls", f"{prefix}cls")]
        pairs += projection_pairs(
            f"{prefix}parallel_proj.", "projection.", None
        )
    kwargs["num_heads"] = int(args.get("nhead", 8))
    kwargs["dropout"] = float(args.get("dropout", 0.1))
    kwargs["frames_per_keyword"] = 20  # the reference's round(frames / 20)
    return HeadReading(kwargs, pairs, from_weights, cif, hparams)


def cascaded_plus_head(config, path, family):
    """See :func:`plus_head`."""
    return plus_head(config, path, family, parallel=False)


def hybrid_plus_head(config, path, family):
    """See :func:`plus_head`."""
    return plus_head(config, path, family, parallel=True)


HEAD_READERS = {
    "parallel": parallel_head,
    "cascaded": cascaded_head,
    "hybrid": hybrid_head,
    "cascaded_plus": cascaded_plus_head,
    "hybrid_plus": hybrid_plus_head,
}


def batchnorm_channels(values, num_keywords):
    """The reference's keyword BatchNorm channels (``w * K + k``) in this
    package's order (``k * W + w``).

    Example
    -------
    >>> batchnorm_channels(torch.arange(6), 2)  # W=3: w0k0 w0k1 w1k0 ...
    tensor([0, 2, 4, 1, 3, 5])
    """
    return values.reshape(-1, num_keywords).t().reshape(-1)


def head_state(pairs, state, num_keywords):
    """Our head's state dict from the reference weights (``state``, by
    reference name): CLS tokens gathered into one ``[N, D]`` table, the
    keyword BatchNorm's channels reordered."""
    values = {}
    for ours, theirs in pairs:
        values.setdefault(ours, []).append(state[theirs])
    head = {}
    for ours, parts in values.items():
        if ours == "cls":
            value = torch.cat([p.reshape(-1, p.shape[-1]) for p in parts])
        else:
            (value,) = parts
        if ours.startswith("selector.batchnorm.") and value.dim() == 1:
            value = batchnorm_channels(value, num_keywords)
        head[ours] = value
    return head


def clip_special_ids():
    """CLIP's padding, start and end token ids (open_clip's tokenizer)."""
    tokenizer = open_clip.tokenizer.SimpleTokenizer()
    return PAD_ID, tokenizer.sot_token_id, tokenizer.eot_token_id


def reduced_ids(file, rows, path, family):
    """CLIP's token ids of the rows of a reduced token table.

    Arguments
    ---------
    file : str
        The authors' vocabulary file (``text_clip_vocab_usage_byfreq.npy``:
        one ``[token id, count]`` row per table row, or a list of ids).
    rows : int
        Rows of the checkpoint's token table.
    path, family : str
        The checkpoint and its family (for errors).

    Returns
    -------
    numpy.ndarray
        The token id of each row.
    """
    file = os.fspath(file)
    try:
        ids = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{file}: cannot be read as the authors' .npy vocabulary file "
            f"({error})"
        ) from None
    if ids.ndim == 2:
        ids = ids[:, 0]
    ids = ids.astype(np.int64)
    if ids.ndim != 1 or len(ids) != rows:
        raise ValueError(
            f"{file}: {len(ids)} token ids, but {path} has a token table "
            f"of {rows} rows: not the vocabulary file of this checkpoint"
        )
    if len(set(ids.tolist())) != rows or ids.min() < 0:
        raise ValueError(f"{file}: the token ids are not distinct and >= 0")
    specials = set(clip_special_ids())
    if set(ids[list(REDUCED_SPECIALS)].tolist()) != specials:
        raise unsupported(
            path,
            family,
            f"its vocabulary file {file} does not put CLIP's padding, start "
            f"and end tokens at the rows {REDUCED_SPECIALS} the reference "
            "never selects",
        )
    return ids


def keyword_vocabulary(table, reduced_vocabulary, config, path, family):
    """The token ids a converted model's keywords may take: the
    reference's reduced vocabulary but its never-selected rows."""
    rows = table.shape[0]
    full = open_clip.tokenizer.SimpleTokenizer().vocab_size
    require(
        rows != full,
        path,
        family,
        "keywords over CLIP's whole token table (the reference then masks "
        "tokens 0, 2 and 3 and allows the start and end tokens)",
    )
    if reduced_vocabulary is None:
        named = config.get("clip", {}).get("reduce_subword_embbedding")
        raise CheckpointFormatError(
            path,
            f"its CLIP token table is reduced to {rows} rows: give "
            "reduced_vocabulary, the authors' vocabulary file its config "
            f"names ({named}, in the SpeechCLIP repository)",
            family,
        )
    ids = reduced_ids(reduced_vocabulary, rows, path, family)
    keep = np.ones(rows, dtype=bool)
    keep[list(REDUCED_SPECIALS)] = False
    return torch.as_tensor(np.sort(ids[keep]))


def hubert_weights(state, config, hubert, path, family):
    """The fairseq HuBERT weights and settings of a checkpoint (or of the
    fairseq file ``hubert`` when the checkpoint has none)."""
    name = setting(config, "audio_encoder.name", path, family)
    own = {
        k[len(HUBERT) :]: v for k, v in state.items() if k.startswith(HUBERT)
    }
    if own and hubert is not None:
        raise ValueError(
            f"{path} holds its own HuBERT weights: hubert is only for "
            "checkpoints without them"
        )
    if own:
        return own, dict(PUBLISHED[name])
    if hubert is None:
        raise CheckpointFormatError(
            path,
            f"it holds no HuBERT weights: give hubert, the fairseq checkpoint "
            f"it was trained on ({name}: hubert_base_ls960.pt or "
            "hubert_large_ll60k.pt)",
            family,
            [f"{HUBERT}*"],
        )
    checkpoint = load_checkpoint(hubert)
    if not is_fairseq_hubert(hubert, checkpoint):
        raise CheckpointFormatError(
            hubert, "not a fairseq HuBERT checkpoint (model + cfg)", "HuBERT"
        )
    return checkpoint["model"], fairseq_settings(checkpoint, hubert)


def read_speechclip(path, checkpoint, reduced_vocabulary=None, hubert=None):
    """Everything a SpeechCLIP model folder needs from a checkpoint.

    Arguments
    ---------
    path : str
        The checkpoint file.
    checkpoint : dict
        Its content.
    reduced_vocabulary : str, optional
        The authors' vocabulary file (cascaded and hybrid models).
    hubert : str, optional
        A fairseq HuBERT checkpoint, for checkpoints without HuBERT weights.

    Returns
    -------
    dict
        ``variant``, ``family``, ``size``, ``corpus``, ``clip``,
        ``hubert_state`` and ``hubert_settings``, ``layernorm``,
        ``head_class``, ``head_kwargs``, ``model_state`` (the SpeechCLIP
        state dict), ``retrieval_branch``, ``loss_weights``,
        ``temperature`` and ``learnable``.

    Raises
    ------
    CheckpointFormatError
        Naming the file, the family and the missing or unexpected keys or
        the settings that cannot be converted.
    """
    config = stored_config(checkpoint)
    variant = model_variant(config, path)
    family = FAMILIES[variant]
    encoder = setting(config, "audio_encoder", path, family)
    name = encoder.get("name")
    require(
        encoder.get("type") == "FairseqHubert" and name in SIZES,
        path,
        family,
        f"the upstream {encoder.get('type')} {name!r} (SpeechCLIP's are "
        f"FairseqHubert {', '.join(SIZES)})",
    )
    require(
        encoder.get("feat_select_idx") == "weighted_sum",
        path,
        family,
        f"upstream features {encoder.get('feat_select_idx')!r}",
    )
    layernorm = bool(encoder.get("normalize_hiddenstates", False))
    require(
        not layernorm or encoder.get("normalize_type", "s3prl") == "s3prl",
        path,
        family,
        f"hidden-state normalisation {encoder.get('normalize_type')!r}",
    )
    settings = config["model_settings"]
    for key in (
        "image_encoder_projection",
        "parallel_branch_projection",
        "cascaded_branch_projection",
    ):
        require(settings.get(key) is None, path, family, f"a {key}")
    loss = setting(config, "cl_loss", path, family)
    require(
        loss.get("type") == "MaskedContrastiveLoss",
        path,
        family,
        f"the loss {loss.get('type')}",
    )
    loss_args = loss.get("args") or {}
    learnable = bool(loss_args.get("temperature_trainable", False))
    reading = HEAD_READERS[variant](config, path, family)
    head_kwargs = dict(reading.kwargs)
    pairs, from_weights = reading.pairs, reading.from_weights

    state = checkpoint["state_dict"]
    weights = Weights(state, path, family)
    for key in [k for k in state if k.startswith(HUBERT)]:
        weights.get(key)
    layer_weights = weights.get(LAYER_WEIGHTS)
    for _, theirs in pairs:
        weights.get(theirs)
    for key in from_weights.values():
        weights.get(key)
    table = weights.get(TOKEN_TABLE) if variant != "parallel" else None
    temperature = weights.get(TEMPERATURE) if learnable else None
    weights.check(ignored=IGNORED)

    hubert_state, hubert_settings = hubert_weights(
        state, config, hubert, path, family
    )
    dataset = config.get("data", {}).get("dataset", {})
    if dataset.get("normalize_waveform", False):
        hubert_settings["normalize"] = True
    for argument, key in from_weights.items():
        head_kwargs[argument] = float(state[key].reshape(-1)[0])
    num_keywords = head_kwargs.get("num_keywords", 1)  # CIF: one BatchNorm
    head = head_state(pairs, state, num_keywords)
    if reading.cif is not None:  # batches seen, for when scaling stops
        trainer = config.get("trainer", {})
        batches = int(checkpoint.get("global_step") or 0) * int(
            trainer.get("accumulate_grad_batches", 1)
        )
        head["cif.training_batches"] = torch.tensor(batches)
    if table is None:
        specials = clip_special_ids()
        full = open_clip.tokenizer.SimpleTokenizer().vocab_size
        vocabulary = torch.tensor(
            [i for i in range(full) if i not in specials], dtype=torch.long
        )
    else:
        vocabulary = keyword_vocabulary(
            table, reduced_vocabulary, config, path, family
        )
    if learnable:
        temperature = math.exp(-float(temperature))
    else:
        temperature = float(loss_args.get("temperature", 0.07))
    model_state = {"upstream.weights": layer_weights}
    model_state.update({f"head.{key}": value for key, value in head.items()})
    model_state["clip.vocabulary"] = vocabulary
    retrieval = config.get("retrieval", {}).get("audio_feat_src", "parallel")
    head_class = HEAD_CLASSES[variant]
    branches = getattr(heads, head_class).branches
    require(
        retrieval in branches,
        path,
        family,
        f"retrieval by its {retrieval} branch (its head has {branches})",
    )
    loss_weights = None
    if len(branches) == 2:
        loss_weights = {
            "parallel": float(settings.get("parallel_objective_weight", 1.0)),
            "cascaded": float(settings.get("cascaded_objective_weight", 1.0)),
        }
    return {
        "variant": variant,
        "family": family,
        "size": SIZES[name],
        "corpus": dataset.get("name"),
        "clip": setting(config, "clip.name", path, family),
        "hubert_name": name,
        "hubert_state": hubert_state,
        "hubert_settings": hubert_settings,
        "layernorm": layernorm,
        "head_class": head_class,
        "head_kwargs": head_kwargs,
        "model_state": model_state,
        "retrieval_branch": retrieval,
        "loss_weights": loss_weights,
        "temperature": temperature,
        "learnable": learnable,
        "cif": reading.cif,
        "hparams": reading.hparams or {},
    }


HEAD_DIMS = {
    "parallel": ("input_dim", "output_dim"),
    "cascaded": ("input_dim", "token_dim"),
    "hybrid": ("input_dim", "token_dim", "output_dim"),
    "cascaded_plus": ("input_dim", "token_dim"),
    "hybrid_plus": ("input_dim", "token_dim", "output_dim"),
}


def check_head(model, path):
    """Builds the converted head and loads its weights, which checks that
    every weight has the shape the configuration gives.

    Arguments
    ---------
    model : dict
        What :func:`read_speechclip` read.
    path : str
        The checkpoint (for errors).
    """
    head = {
        key[len("head.") :]: value
        for key, value in model["model_state"].items()
        if key.startswith("head.")
    }
    kwargs = dict(model["head_kwargs"])
    norm = head.get("attention.norm.weight", head.get("norm.weight"))
    dims = {"input_dim": norm.shape[0]}
    if "selector.batchnorm.weight" in head:
        width = head["selector.batchnorm.weight"].shape[0]
        dims["token_dim"] = width // kwargs.get("num_keywords", 1)
    if model["cif"] is not None:
        kwargs["cif"] = CIF(dims["input_dim"], **model["cif"])
    projection = [
        k for k in head if re.fullmatch(r"projection\.(\d+\.)?weight", k)
    ]
    if projection:
        last = max(
            projection,
            key=lambda k: int(k.split(".")[1]) if k.count(".") == 2 else 0,
        )
        dims["output_dim"] = head[last].shape[0]
    dims = {key: dims[key] for key in HEAD_DIMS[model["variant"]]}
    module = getattr(heads, model["head_class"])(**dims, **kwargs)
    try:
        module.load_state_dict(head, strict=True)
    except RuntimeError as error:
        lines = [x.strip() for x in str(error).splitlines() if x.strip()]
        raise CheckpointFormatError(
            path,
            "its weights do not have the shapes its configuration gives: "
            + " ".join(lines)[:600],
            model["family"],
        ) from None


def default_template(model):
    """The recipe hparams a converted model's folder is made from: the
    SpeechCLIP recipe of its corpus, variant and size, else the closest
    one there is (other size, then Flickr8k).

    Arguments
    ---------
    model : dict
        What :func:`read_speechclip` read.

    Returns
    -------
    str
        A yaml file of ``recipes/``.

    Raises
    ------
    FileNotFoundError
        If no recipe fits (give ``hparams_file``).
    """
    variant, size = model["variant"], model["size"]
    other = "large" if size == "base" else "base"
    corpora = [CORPORA.get(model["corpus"], "Flickr8k"), "Flickr8k"]
    for corpus in dict.fromkeys(corpora):
        for which in (size, other):
            candidate = os.path.join(
                REPOSITORY,
                "recipes",
                corpus,
                "SpeechCLIP",
                "hparams",
                f"{variant}_{which}.yaml",
            )
            if os.path.isfile(candidate):
                return candidate
    raise FileNotFoundError(
        f"no SpeechCLIP recipe hparams for a {model['family']} under "
        f"{os.path.join(REPOSITORY, 'recipes')}: give hparams_file (a "
        "SpeechCLIP recipe's yaml with a "
        f"{model['head_class']} head)"
    )


def yaml_value(value):
    """A Python value as YAML (numbers, booleans, null, lists, strings).

    Example
    -------
    >>> yaml_value([1024]), yaml_value(None), yaml_value(True)
    ('[1024]', 'null', 'True')
    >>> yaml_value("a b"), yaml_value(0.1)
    ('"a b"', '0.1')
    """
    if value is None:
        return "null"
    if value == float("inf"):
        return ".inf"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def model_blocks(model):
    """The ``upstream``, ``head`` and ``loss`` nodes (and the ``cif`` of a
    SpeechCLIP+ ``+`` head) of a converted model's hparams (their YAML
    text)."""
    upstream = [
        "upstream: !new:speechbrain_vgs.lobes.ssl.SSLUpstream",
        "    source: !ref <hubert_source>",
        "    freeze: True",
        f"    layernorm: {model['layernorm']}",
        f"    wav_norm_eps: {WAV_NORM_EPS!r}",
    ]
    dims = {
        "input_dim": "!apply:getattr [!ref <upstream>, dim]",
        "token_dim": "!apply:getattr [!ref <frozen_clip>, token_dim]",
        "output_dim": "!apply:getattr [!ref <frozen_clip>, embedding_dim]",
    }
    head = [
        f"head: !new:speechbrain_vgs.lobes.speechclip.{model['head_class']}"
    ]
    head += [f"    {key}: {dims[key]}" for key in HEAD_DIMS[model["variant"]]]
    blocks = {"upstream": upstream}
    if model["cif"] is not None:
        blocks["cif"] = [
            "cif: !new:speechbrain_vgs.lobes.cif.CIF",
            f"    input_dim: {dims['input_dim']}",
        ] + [f"    {k}: {yaml_value(v)}" for k, v in model["cif"].items()]
        head.append("    cif: !ref <cif>")
    for key, value in model["head_kwargs"].items():
        text = (
            "!ref <num_keywords>"
            if key == "num_keywords"
            else yaml_value(value)
        )
        head.append(f"    {key}: {text}")
    blocks["head"] = head
    blocks["loss"] = [
        "loss: !new:speechbrain_vgs.losses.InfoNCE",
        f"    temperature: {model['temperature']!r}",
        f"    learnable: {model['learnable']}",
    ]
    return blocks


def hparams_text(model, template, out_folder, folders, overrides, path):
    """A converted model's ``hyperparams.yaml``: the recipe hparams
    ``template`` with the model's ``upstream``, ``head`` and ``loss`` nodes
    and top-level settings (its references kept, so that the recipe's
    command-line overrides, e.g. ``--output_folder``, still apply)."""
    yaml = YAML(typ="rt")
    yaml.indent(mapping=4, sequence=4, offset=2)
    with open(template, encoding="utf-8") as f:
        hparams = yaml.load(f)
    wanted = f"!new:speechbrain_vgs.lobes.speechclip.{model['head_class']}"
    head = hparams.get("head") if isinstance(hparams, dict) else None
    if getattr(getattr(head, "tag", None), "value", None) != wanted:
        raise ValueError(
            f"{template}: its head is not a {model['head_class']} (give the "
            f"hparams of a {model['family']} recipe)"
        )
    blocks = yaml.load("\n".join(sum(model_blocks(model).values(), [])))
    for key, node in blocks.items():
        if key not in hparams:
            raise ValueError(f"{template}: has no top-level {key!r} node")
        hparams[key] = node
    settings = {
        "output_folder": out_folder,
        "hubert_source": os.path.join(out_folder, "hubert"),
        "clip_name": model["clip"].replace("/", "-"),
        "clip_pretrained": "openai",
        "retrieval_branch": model["retrieval_branch"],
        "init_from": out_folder,
    }
    if "num_keywords" in model["head_kwargs"]:
        settings["num_keywords"] = model["head_kwargs"]["num_keywords"]
    if model["loss_weights"] is not None:
        settings["loss_weights"] = model["loss_weights"]
    settings.update(model["hparams"])
    settings.update(
        {key: os.fspath(value) for key, value in folders.items() if value}
    )
    settings.update(overrides or {})
    for key, value in hparams.items():
        tag = getattr(getattr(value, "tag", None), "value", None)
        if tag == "!PLACEHOLDER" and key not in settings:
            settings[key] = None  # e.g. the corpus: given when running
    for key, value in settings.items():
        hparams[key] = value
    text = io.StringIO()
    yaml.dump(hparams, text)
    recipe = os.path.join(
        os.path.dirname(os.path.dirname(template)), "train.py"
    )
    header = [
        f"{model['family']} ({model['size']}, {model['corpus']}, CLIP "
        f"{model['clip']}) converted {datetime.date.today()} by "
        "speechbrain_vgs.converters.speechclip from",
        f"  {os.path.abspath(path)}",
        f"Model from the checkpoint; data and training from {template}.",
        f"Run {recipe} on this file to test (--test_only) or",
        "fine-tune (--output_folder elsewhere) the converted model.",
    ]
    return "".join(f"# {line}\n" for line in header) + text.getvalue()


def convert_speechclip(
    path,
    out_folder,
    content=None,
    reduced_vocabulary=None,
    hubert=None,
    hparams_file=None,
    data_folder=None,
    image_folder=None,
    overrides=None,
):
    """Converts a SpeechCLIP or SpeechCLIP+ Lightning checkpoint into a
    SpeechCLIP model folder (see the module docstring).

    Arguments
    ---------
    path : str
        The Lightning checkpoint (``.ckpt``).
    out_folder : str
        The folder to write (new, empty, or an earlier conversion).
    content : dict, optional
        The loaded checkpoint, if already read.
    reduced_vocabulary : str, optional
        The authors' vocabulary file of the checkpoint's corpus
        (``avssl/data/flickr_stat/text_clip_vocab_usage_byfreq.npy`` or
        ``coco_stat/...`` of ``atosystem/SpeechCLIP``): needed by models
        with keywords, whose token table is reduced to its ids.
    hubert : str, optional
        A fairseq HuBERT checkpoint, for a checkpoint without HuBERT
        weights.
    hparams_file : str, optional
        The recipe hparams the folder's ``hyperparams.yaml`` is made from
        (by default the SpeechCLIP recipe of the checkpoint's corpus,
        variant and size, see :func:`default_template`).
    data_folder : str, optional
        The corpus for the recipe (its ``data_folder``), to run the recipe
        on the folder's ``hyperparams.yaml`` (else null: give it then).
    image_folder : str, optional
        The images, for a recipe with an ``image_folder`` (SpokenCOCO's
        MSCOCO).
    overrides : dict, optional
        Other top-level keys of the hparams to set, e.g.
        ``{"clip_checkpoint": "ViT-B-32.pt"}`` (a local copy of CLIP).

    Returns
    -------
    folder : str
        ``out_folder``, absolute.
    """
    path = os.fspath(path)
    checkpoint = load_checkpoint(path) if content is None else content
    if not is_speechclip(path, checkpoint):
        raise CheckpointFormatError(
            path,
            "not a SpeechCLIP Lightning checkpoint (state_dict and a "
            "stored config with model_settings)",
            "SpeechCLIP",
        )
    model = read_speechclip(path, checkpoint, reduced_vocabulary, hubert)
    check_head(model, path)
    template = os.fspath(hparams_file or default_template(model))
    out_folder = os.path.abspath(os.fspath(out_folder))
    folders = {"data_folder": data_folder, "image_folder": image_folder}
    text = hparams_text(model, template, out_folder, folders, overrides, path)
    info = {
        "source": os.path.abspath(path),
        "family": model["family"],
        "size": model["size"],
        "corpus": model["corpus"],
        "clip": model["clip"],
        "upstream": model["hubert_name"],
        "hparams_template": os.path.abspath(template),
        "epoch": checkpoint.get("epoch"),
        "global_step": checkpoint.get("global_step"),
    }
    with replaced_folder(out_folder) as tmp:
        save_hubert(
            model["hubert_state"],
            os.path.join(tmp, "hubert"),
            model["hubert_settings"],
            path,
        )
        save_torch(model["model_state"], os.path.join(tmp, "model.ckpt"))
        with open(
            os.path.join(tmp, "hyperparams.yaml"), "w", encoding="utf-8"
        ) as f:
            f.write(text)
        write_json(os.path.join(tmp, MARKER_FILE), info)
    return out_folder
