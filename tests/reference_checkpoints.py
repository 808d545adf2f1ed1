"""Tiny checkpoints in the authors' formats, and the authors' computations
rebuilt from plain torch modules, for the converter tests.

* fairseq HuBERT: :func:`fairseq_hubert_state` gives a state dict with
  fairseq's exact names and shape relations (random values, tiny widths),
  :func:`fairseq_layer_results` computes its hidden states as fairseq's
  ``HubertModel`` (with SpeechCLIP's ``customHubertForward``: the
  transformer input and every layer's output, no final LayerNorm) does,
  written from fairseq's structure with ``torch.nn.functional`` only;
  :func:`save_fairseq_hubert` writes it as fairseq saves a checkpoint.
* SpeechCLIP / SpeechCLIP+: :class:`ReferenceSpeechCLIP` holds the
  reference's branch modules under the reference's attribute names
  (``nn.TransformerEncoder``, ``nn.MultiheadAttention`` + LayerNorm,
  ``MLPLayers``, the keyword BatchNorm over ``w * K + k`` channels, the
  cosine quantiser masking rows 0, 2 and 3, CLIP's ``encode_keywords``
  over the 77 positions); :func:`save_speechclip_checkpoint` writes a
  Lightning checkpoint (``state_dict``, ``hyper_parameters`` holding the
  config as an ``avssl.base.ordered_namespace.OrderedNamespace``, and
  Lightning's other entries) the way ``torch.save`` writes the real ones.
"""

import argparse
import contextlib
import copy
import math
import sys
import types
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

KERNELS = (10, 3, 3, 3, 3, 2, 2)
STRIDES = (5, 2, 2, 2, 2, 2, 2)
CONV_LAYERS = "[({c},10,5)] + [({c},3,2)] * 4 + [({c},2,2)] * 2"
SOT, EOT, PAD = 49406, 49407, 0


# ------------------------------------------------------------- fairseq HuBERT
def fairseq_hubert_state(
    width, layers, large, channels=16, pos_kernel=16, pos_groups=4, seed=0
):
    """A random fairseq ``HubertModel`` state dict (fairseq's names).

    ``large``: every convolution layer-normalised and with a bias
    (``extractor_mode: layer_norm``, ``conv_bias``), as HuBERT Large;
    otherwise a GroupNorm after the first convolution only (Base).
    """
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=0.3):
        return torch.randn(*shape, generator=generator) * scale

    state = OrderedDict()
    state["label_embs_concat"] = rand(504, 8)
    state["mask_emb"] = rand(width)
    in_channels = 1
    for i, kernel in enumerate(KERNELS):
        state[f"feature_extractor.conv_layers.{i}.0.weight"] = rand(
            channels, in_channels, kernel, scale=1 / math.sqrt(kernel)
        )
        if large:
            state[f"feature_extractor.conv_layers.{i}.0.bias"] = rand(channels)
            state[f"feature_extractor.conv_layers.{i}.2.1.weight"] = 1 + rand(
                channels
            )
            state[f"feature_extractor.conv_layers.{i}.2.1.bias"] = rand(
                channels
            )
        elif i == 0:
            state["feature_extractor.conv_layers.0.2.weight"] = 1 + rand(
                channels
            )
            state["feature_extractor.conv_layers.0.2.bias"] = rand(channels)
        in_channels = channels
    state["post_extract_proj.weight"] = rand(width, channels)
    state["post_extract_proj.bias"] = rand(width)
    state["encoder.pos_conv.0.bias"] = rand(width)
    state["encoder.pos_conv.0.weight_g"] = 1 + rand(1, 1, pos_kernel)
    state["encoder.pos_conv.0.weight_v"] = rand(
        width, width // pos_groups, pos_kernel
    )
    for i in range(layers):
        prefix = f"encoder.layers.{i}."
        for name in ("k_proj", "v_proj", "q_proj", "out_proj"):
            state[f"{prefix}self_attn.{name}.weight"] = rand(width, width)
            state[f"{prefix}self_attn.{name}.bias"] = rand(width)
        for norm in ("self_attn_layer_norm", "final_layer_norm"):
            state[f"{prefix}{norm}.weight"] = 1 + rand(width)
            state[f"{prefix}{norm}.bias"] = rand(width)
        state[f"{prefix}fc1.weight"] = rand(2 * width, width)
        state[f"{prefix}fc1.bias"] = rand(2 * width)
        state[f"{prefix}fc2.weight"] = rand(width, 2 * width)
        state[f"{prefix}fc2.bias"] = rand(width)
    state["encoder.layer_norm.weight"] = 1 + rand(width)
    state["encoder.layer_norm.bias"] = rand(width)
    state["layer_norm.weight"] = 1 + rand(channels)
    state["layer_norm.bias"] = rand(channels)
    state["final_proj.weight"] = rand(8, width)
    state["final_proj.bias"] = rand(8)
    return state


def fairseq_attention(x, state, prefix, heads):
    """fairseq's ``MultiheadAttention`` (separate q/k/v projections, the
    query scaled by ``head_dim ** -0.5``) on ``[B, T, D]``."""
    batch, frames, width = x.shape
    head_dim = width // heads

    def project(name):
        weight = state[f"{prefix}{name}.weight"]
        return F.linear(x, weight, state[f"{prefix}{name}.bias"])

    def split(t):
        return t.view(batch, frames, heads, head_dim).transpose(1, 2)

    q = split(project("q_proj") * head_dim**-0.5)
    k, v = split(project("k_proj")), split(project("v_proj"))
    weights = torch.softmax(q @ k.transpose(-1, -2), dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(batch, frames, width)
    return F.linear(
        out, state[f"{prefix}out_proj.weight"], state[f"{prefix}out_proj.bias"]
    )


def fairseq_layer_results(state, wav, heads, layer_norm_first, normalize):
    """fairseq HuBERT's hidden states of one utterance ``[S]``, as
    SpeechCLIP's ``customHubertForward`` returns them (eval mode, no
    padding, no masking): the transformer input (after the positional
    convolution, and the encoder LayerNorm unless ``layer_norm_first``),
    then each layer's output."""
    if normalize:  # fairseq's task.normalize
        wav = F.layer_norm(wav, wav.shape)
    x = wav[None, None]
    large = "feature_extractor.conv_layers.0.2.1.weight" in state
    for i, stride in enumerate(STRIDES):
        prefix = f"feature_extractor.conv_layers.{i}."
        x = F.conv1d(
            x, state[f"{prefix}0.weight"], state.get(f"{prefix}0.bias"), stride
        )
        if large:
            x = F.layer_norm(
                x.transpose(1, 2),
                x.shape[1:2],
                state[f"{prefix}2.1.weight"],
                state[f"{prefix}2.1.bias"],
            ).transpose(1, 2)
        elif i == 0:
            x = F.group_norm(
                x,
                x.shape[1],
                state[f"{prefix}2.weight"],
                state[f"{prefix}2.bias"],
            )
        x = F.gelu(x)
    features = F.layer_norm(
        x.transpose(1, 2),
        x.shape[1:2],
        state["layer_norm.weight"],
        state["layer_norm.bias"],
    )
    x = F.linear(
        features,
        state["post_extract_proj.weight"],
        state["post_extract_proj.bias"],
    )
    g, v = (
        state["encoder.pos_conv.0.weight_g"],
        state["encoder.pos_conv.0.weight_v"],
    )
    weight = v * (g / v.norm(dim=(0, 1), keepdim=True))  # weight_norm, dim=2
    kernel = weight.shape[2]
    groups = x.shape[2] // weight.shape[1]
    conv = F.conv1d(
        x.transpose(1, 2),
        weight,
        state["encoder.pos_conv.0.bias"],
        padding=kernel // 2,
        groups=groups,
    )
    if kernel % 2 == 0:  # fairseq's SamePad
        conv = conv[:, :, :-1]
    x = x + F.gelu(conv).transpose(1, 2)
    width = x.shape[2]

    def norm(t, name):
        return F.layer_norm(
            t, (width,), state[f"{name}.weight"], state[f"{name}.bias"]
        )

    if not layer_norm_first:
        x = norm(x, "encoder.layer_norm")
    results = [x]
    layer = 0
    while f"encoder.layers.{layer}.fc1.weight" in state:
        prefix = f"encoder.layers.{layer}."

        def ffn(t, prefix=prefix):
            hidden = F.gelu(
                F.linear(
                    t, state[f"{prefix}fc1.weight"], state[f"{prefix}fc1.bias"]
                )
            )
            return F.linear(
                hidden, state[f"{prefix}fc2.weight"], state[f"{prefix}fc2.bias"]
            )

        attention_norm = f"{prefix}self_attn_layer_norm"
        final_norm = f"{prefix}final_layer_norm"
        if layer_norm_first:
            x = x + fairseq_attention(
                norm(x, attention_norm), state, f"{prefix}self_attn.", heads
            )
            x = x + ffn(norm(x, final_norm))
        else:
            x = norm(
                x + fairseq_attention(x, state, f"{prefix}self_attn.", heads),
                attention_norm,
            )
            x = norm(x + ffn(x), final_norm)
        results.append(x)
        layer += 1
    return results


def fairseq_hubert_config(
    width, layers, heads, large, channels=16, pos=(16, 4)
):
    """A fairseq checkpoint's ``cfg`` (plain containers, as fairseq saves
    it) for :func:`fairseq_hubert_state`."""
    return {
        "model": {
            "_name": "hubert",
            "encoder_layers": layers,
            "encoder_embed_dim": width,
            "encoder_ffn_embed_dim": 2 * width,
            "encoder_attention_heads": heads,
            "activation_fn": "gelu",
            "extractor_mode": "layer_norm" if large else "default",
            "conv_feature_layers": CONV_LAYERS.format(c=channels),
            "conv_bias": large,
            "conv_pos": pos[0],
            "conv_pos_groups": pos[1],
            "layer_norm_first": large,
            "dropout": 0.1,
        },
        "task": {"_name": "hubert_pretraining", "normalize": large},
    }


def save_fairseq_hubert(path, state, cfg):
    """Writes a fairseq checkpoint (``args``, ``cfg``, ``model`` ...)."""
    torch.save(
        {
            "args": None,
            "cfg": cfg,
            "model": state,
            "criterion": None,
            "optimizer_history": [
                {"criterion_name": "HubertCriterion", "num_updates": 400000}
            ],
            "task_state": {},
            "extra_state": {"epoch": 100, "train_iterator": {"epoch": 100}},
            "last_optimizer_state": None,
        },
        path,
    )


# ------------------------------------------------------- SpeechCLIP modules
class MultiheadAttentionAndNorm(nn.Module):
    """The reference's ``MultiheadAttentionAndNorm``."""

    def __init__(self, d_model, nhead, dropout=0.1):
        super().__init__()
        self.multihead_attn_layer = nn.MultiheadAttention(
            d_model, nhead, dropout=dropout, batch_first=True
        )
        self.attentionBlock_Norm = nn.LayerNorm(d_model)

    def forward(self, src, key_padding_mask):
        out = self.multihead_attn_layer(
            src, src, src, key_padding_mask=key_padding_mask
        )[0]
        return self.attentionBlock_Norm(out + src)


class TransformerEncoder(nn.Module):
    """The reference's ``TransformerEncoder``: ``nn.TransformerEncoder`` of
    post-LN GELU layers with a final LayerNorm, under ``model``."""

    def __init__(self, d_model, nhead, dim_feedforward, dropout=0.1):
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            d_model,
            nhead,
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=False,
        )
        self.model = nn.TransformerEncoder(layer, 1, nn.LayerNorm(d_model))

    def forward(self, src, key_padding_mask):
        return self.model(src, src_key_padding_mask=key_padding_mask)


class MLPLayers(nn.Module):
    """The reference's ``MLPLayers``: Linear, ReLU, Dropout, ... Linear."""

    def __init__(self, units, dropout=0.1):
        super().__init__()
        sequence = []
        for u0, u1 in zip(units[:-1], units[1:]):
            sequence += [nn.Linear(u0, u1), nn.ReLU(), nn.Dropout(dropout)]
        self.sequential = nn.Sequential(*sequence[:-2])

    def forward(self, x):
        return self.sequential(x)


def projection(dims, dropout=0.1):
    """``nn.Linear`` for two widths, ``MLPLayers`` for more."""
    if len(dims) == 2:
        return nn.Linear(*dims)
    return MLPLayers(dims, dropout)


class KwBatchNorm(nn.Module):
    """The reference's ``Kw_BatchNorm(type=eachKw, parallel=True)``: one
    BatchNorm1d over the keywords flattened as ``w * K + k``."""

    def __init__(self, num_keywords, width):
        super().__init__()
        self.bn_layer = nn.BatchNorm1d(num_keywords * width)

    def forward(self, keywords):
        batch, num_keywords, width = keywords.shape
        flat = keywords.permute(0, 2, 1).reshape(batch, -1)
        flat = self.bn_layer(flat)
        return flat.reshape(batch, width, num_keywords).permute(0, 2, 1)


class VectorQuantizer(nn.Module):
    """The reference's ``SimpleVectorQuantizer`` (``temp: fixed=...``)."""

    def __init__(self, temp):
        super().__init__()
        self.register_buffer("curr_temp", torch.FloatTensor([temp]))

    def forward(self, cos):
        cos = cos.clone()
        cos[..., [0, 2, 3]] = float("-inf")
        return F.one_hot(cos.argmax(-1), cos.shape[-1]).to(cos.dtype)


class ClipModel(nn.Module):
    """The reference's ``ClipModel``: CLIP with the reduced token table."""

    def __init__(self, clip, ids):
        super().__init__()
        self.model = copy.deepcopy(clip)
        table = clip.token_embedding.weight.detach()[torch.as_tensor(ids)]
        self.model.token_embedding = nn.Embedding.from_pretrained(table)
        reduced = {int(i): r for r, i in enumerate(ids)}
        self.sot, self.eot = reduced[SOT], reduced[EOT]

    def encode_keywords(self, keywords, num_keywords):
        """CLIP's text encoder over ``[sot, keywords, eot, 0 ...]`` (77
        positions), read at the end token."""
        model = self.model
        text = torch.zeros(
            keywords.shape[0], model.context_length, dtype=torch.long
        )
        text[:, 0] = self.sot
        text[:, num_keywords + 1] = self.eot
        x = model.token_embedding(text)
        x[:, 1 : 1 + num_keywords] = keywords
        x = x + model.positional_embedding
        x = model.transformer(x, attn_mask=model.attn_mask)
        x = model.ln_final(x)
        return x[:, 1 + num_keywords] @ model.text_projection


def padding_mask(max_length, lengths):
    """The reference's ``get_keypadding_mask``: True beyond each length."""
    return torch.arange(max_length)[None, :] >= lengths[:, None]


def keyword_embeddings(branch, outputs):
    """Projection, keyword BatchNorm, cosine to every reduced row, one-hot
    quantisation (rows 0, 2, 3 masked) and the selected rows."""
    keywords = branch.bn_layer(branch.linear_proj(outputs))
    table = branch.clip.model.token_embedding.weight
    cos = torch.stack(
        [
            F.cosine_similarity(
                keywords[:, i].unsqueeze(-1), table.t().unsqueeze(0), dim=1
            )
            for i in range(keywords.shape[1])
        ],
        dim=1,
    )
    onehot = branch.vector_quantizer(cos)
    return onehot @ table, onehot.argmax(-1)


class ParallelBranch(nn.Module):
    """The reference's ``KW_ParallelBranch``."""

    def __init__(self, d_model, out_dim, nhead, ffn):
        super().__init__()
        self.self_att = TransformerEncoder(d_model, nhead, ffn)
        self.cls = nn.Parameter(torch.randn(1, 1, d_model))
        self.linear_proj = nn.Linear(d_model, out_dim)

    def forward(self, feat, lengths):
        src = torch.cat([self.cls.expand(len(feat), -1, -1), feat], dim=1)
        out = self.self_att(src, padding_mask(src.shape[1], lengths + 1))
        return {"parallel": self.linear_proj(out[:, 0])}


class CascadedBranch(nn.Module):
    """The reference's ``KW_CascadedBranch``."""

    def __init__(self, d_model, clip, num_keywords, nhead, kw_dims):
        super().__init__()
        self.clip = clip
        self.keyword_num = num_keywords
        self.cls = nn.Parameter(torch.randn(1, num_keywords, d_model))
        self.self_att = MultiheadAttentionAndNorm(d_model, nhead)
        self.linear_proj = projection(kw_dims)
        self.vector_quantizer = VectorQuantizer(0.1)
        self.bn_layer = KwBatchNorm(num_keywords, kw_dims[-1])

    def forward(self, feat, lengths):
        k = self.keyword_num
        src = torch.cat([self.cls.expand(len(feat), -1, -1), feat], dim=1)
        out = self.self_att(src, padding_mask(src.shape[1], lengths + k))
        keywords, rows = keyword_embeddings(self, out[:, :k])
        cascaded = self.clip.encode_keywords(keywords, k)
        return {"cascaded": cascaded, "rows": rows}


class HybridBranch(nn.Module):
    """SpeechCLIP+'s ``KW_HybridBranch`` (attention, or a transformer
    layer, shared by a parallel CLS and the keyword CLS)."""

    def __init__(
        self, d_model, clip, num_keywords, nhead, kw_dims, par_dims, ffn=None
    ):
        super().__init__()
        self.clip = clip
        self.keyword_num = num_keywords
        self.parallel_cls = nn.Parameter(torch.randn(1, 1, d_model))
        self.cascaded_cls = nn.Parameter(torch.randn(1, num_keywords, d_model))
        if ffn is None:
            self.self_att = MultiheadAttentionAndNorm(d_model, nhead)
        else:
            self.self_att = TransformerEncoder(d_model, nhead, ffn)
        self.linear_proj = projection(kw_dims)
        self.vector_quantizer = VectorQuantizer(0.1)
        self.bn_layer = KwBatchNorm(num_keywords, kw_dims[-1])
        self.parallel_proj = projection(par_dims)

    def forward(self, feat, lengths):
        k = self.keyword_num
        cls = torch.cat([self.parallel_cls, self.cascaded_cls], dim=1)
        src = torch.cat([cls.expand(len(feat), -1, -1), feat], dim=1)
        out = self.self_att(src, padding_mask(src.shape[1], lengths + 1 + k))
        keywords, rows = keyword_embeddings(self, out[:, 1 : 1 + k])
        return {
            "parallel": self.parallel_proj(out[:, 0]),
            "cascaded": self.clip.encode_keywords(keywords, k),
            "rows": rows,
        }


class KwBatchNormDynamic(nn.Module):
    """SpeechCLIP+'s ``Kw_BatchNorm_dynamic``: one BatchNorm1d over the
    token width, shared by every keyword."""

    def __init__(self, width):
        super().__init__()
        self.bn_layer = nn.BatchNorm1d(width)

    def forward(self, keywords):
        return self.bn_layer(keywords.permute(0, 2, 1)).permute(0, 2, 1)


def integrate_and_fire_loop(frames, alpha, threshold=1.0):
    """CIF as a per-frame loop (Dong & Xu 2020): accumulate the weights;
    when the next frame's weight would reach the threshold, the part that
    fills it goes to the vector, which fires, and the rest starts the next
    (firing again while it reaches the threshold). Returns the complete
    vectors, the vector being integrated and its weight (the tail)."""
    vectors, accumulated, weight = [], torch.zeros(frames.shape[-1]), 0.0
    for frame, a in zip(frames, alpha.tolist()):
        while weight + a >= threshold:
            part = threshold - weight
            vectors.append(accumulated + part * frame)
            accumulated, weight, a = (
                torch.zeros_like(accumulated),
                0.0,
                a - part,
            )
        accumulated = accumulated + a * frame
        weight += a
    return vectors, accumulated, weight


class ReferenceCIF(nn.Module):
    """SpeechCLIP+'s CIF (``produce_weight_type: conv``), out of training:
    weights from a convolution, ReLU, Linear and sigmoid; vectors fired at
    each unit of accumulated weight, frame by frame; a leftover weight of
    at least ``tail`` fires one more vector, rescaled to a unit weight; at
    least one vector (the partial sum), at most 75."""

    def __init__(self, width, tail=0.5):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(width, width, 3, padding=1), nn.Dropout(), nn.ReLU()
        )
        self.weight_proj = nn.Sequential(
            nn.Dropout(), nn.Linear(width, 1), nn.Sigmoid()
        )
        self.tail = tail

    def forward(self, frames):
        """Vectors ``[N, D]`` of one utterance's frames ``[T, D]``."""
        hidden = self.conv(frames.t()[None]).transpose(1, 2)
        alpha = self.weight_proj(hidden)[0, :, 0]
        vectors, accumulated, weight = integrate_and_fire_loop(frames, alpha)
        if not vectors:
            vectors.append(accumulated)
        elif weight >= self.tail:
            vectors.append(accumulated / weight)
        return torch.stack(vectors[:75])


class CascadedBranchPlus(nn.Module):
    """SpeechCLIP+'s ``KW_CascadedBranchPlus`` (Cascaded+), or with
    ``out_dim`` its ``KW_HybridBranchPlus`` (Hybrid+), on one utterance."""

    def __init__(self, d_model, clip, nhead, kw_dims, out_dim=None):
        super().__init__()
        self.clip = clip
        self.self_att = MultiheadAttentionAndNorm(d_model, nhead)
        self.linear_proj = projection(kw_dims)
        self.vector_quantizer = VectorQuantizer(0.1)
        self.bn_layer = KwBatchNormDynamic(kw_dims[-1])
        self.downsampling = ReferenceCIF(d_model)
        if out_dim is not None:
            self.cls = nn.Parameter(torch.randn(1, 1, d_model))
            self.parallel_proj = nn.Linear(d_model, out_dim)

    def forward(self, feat, lengths):
        out = {}
        if hasattr(self, "cls"):
            src = torch.cat([self.cls, feat], dim=1)
            att = self.self_att(src, padding_mask(src.shape[1], lengths + 1))
            out["parallel"] = self.parallel_proj(att[:, 0])
            att = att[:, 1:]
        else:
            att = self.self_att(feat, padding_mask(feat.shape[1], lengths))
        vectors = self.downsampling(att[0, : int(lengths[0])])[None]
        keywords, rows = keyword_embeddings(self, vectors)
        out["cascaded"] = self.clip.encode_keywords(keywords, len(rows[0]))
        out["rows"] = rows
        return out


class MaskedContrastiveLoss(nn.Module):
    """The reference loss's parameters and buffers."""

    def __init__(self, temperature, trainable):
        super().__init__()
        if trainable:
            self.temperature = nn.Parameter(
                torch.ones([]) * math.log(1 / temperature)
            )
        eye = torch.eye(256, dtype=torch.bool)
        self.register_buffer("eye_mat", eye)
        self.register_buffer("neg_eye_mat", ~eye)
        self.register_buffer("eye_mat_fl", eye.float())


# ---------------------------------------------------------- whole checkpoint
VARIANTS = {
    # variant: (cascaded branch type, objective weights (parallel, cascaded))
    "parallel": (None, (1.0, 0.0)),
    "cascaded": ("KW_CascadedBranch", (0.0, 1.0)),
    "hybrid": ("HybridBranch", (1.0, 1.0)),
    "cascaded_plus": ("CascadedBranch_dynamic", (0.0, 1.0)),
    "hybrid_plus": ("HybridBranch_dynamic", (1.0, 1.0)),
}


class ReferenceSpeechCLIP(nn.Module):
    """A tiny SpeechCLIP / SpeechCLIP+ in the reference's structure.

    Arguments
    ---------
    variant : str
        ``parallel``, ``cascaded`` or ``hybrid``.
    large : bool
        Large's settings: HuBERT Large layout (layer-normalised hidden
        states, normalised waveforms), trainable temperature, and for the
        hybrid the MLP projections (and, with ``coco``, the shared
        transformer layer) of SpeechCLIP+ Large.
    clip : open_clip.CLIP
        The (tiny) CLIP.
    ids : sequence of int
        The reduced vocabulary (CLIP token id of each row).
    coco : bool
        SpeechCLIP+ Large SpokenCOCO hybrid's settings.
    num_keywords, nhead : int
        Keywords and attention heads of the keyword layer.
    """

    def __init__(
        self,
        variant,
        large,
        clip,
        ids,
        coco=False,
        num_keywords=4,
        nhead=1,
        seed=0,
    ):
        super().__init__()
        torch.manual_seed(seed)
        self.variant, self.large, self.coco = variant, large, coco
        self.width = 32 if large else 24
        self.heads = 16 if large else 12
        self.layers = 2
        self.num_keywords, self.nhead = num_keywords, nhead
        self.ids = np.asarray(ids)
        self.hubert = fairseq_hubert_state(
            self.width, self.layers, large, seed=seed
        )
        self.weights = nn.Parameter(torch.randn(self.layers + 1))
        self.clip = ClipModel(clip, ids)
        token_dim = clip.token_embedding.embedding_dim
        d = self.width
        hidden = (
            [d, d, token_dim]
            if large and variant == "hybrid"
            else [d, token_dim]
        )
        self.criterion = MaskedContrastiveLoss(0.05, trainable=large)
        if variant == "parallel":
            self.parallel_branch = ParallelBranch(d, token_dim, 4, 2 * d)
        elif variant == "cascaded":
            self.cascaded_branch = CascadedBranch(
                d, self.clip, num_keywords, nhead, [d, token_dim]
            )
        elif variant.endswith("plus"):
            kw_dims = [d, d, token_dim] if large else [d, token_dim]
            self.cascaded_branch = CascadedBranchPlus(
                d,
                self.clip,
                nhead,
                kw_dims,
                out_dim=token_dim if variant == "hybrid_plus" else None,
            )
        else:
            par = hidden if not coco else [d, token_dim]
            self.cascaded_branch = HybridBranch(
                d,
                self.clip,
                num_keywords,
                nhead,
                hidden,
                par,
                ffn=2 * d if coco else None,
            )
        for name, buffer in self.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_(0, 0.3)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
            elif name.endswith("num_batches_tracked"):
                buffer.fill_(1234)
        for name, parameter in self.named_parameters():
            if "bn_layer" in name or "linear_proj" in name:
                with torch.no_grad():
                    parameter.normal_(0, 0.5)
        self.eval()

    def state_dict_of_checkpoint(self):
        """The Lightning ``state_dict``: the HuBERT under ``audio_encoder.
        encoder.``, the layer weights, CLIP (also under the branch), the
        branch and the loss."""
        state = OrderedDict()
        for key, value in self.hubert.items():
            state[f"audio_encoder.encoder.{key}"] = value
        state["audio_encoder.weightedsum_layer.weights"] = self.weights.detach()
        for key, value in self.state_dict().items():
            if key != "weights":
                state[key] = value
        return state

    def config(self):
        """The stored configuration (as the authors' yaml configs)."""
        branch_type, (parallel, cascaded) = VARIANTS[self.variant]
        d, token_dim = self.width, self.clip.model.token_embedding.embedding_dim
        keyword = {
            "number": self.num_keywords,
            "detokenized_K_neighbors": 5,
            "retrieve_method": "cosine",
            "batchnorms": {
                "type": "eachKw",
                "std_scale": 1.0,
                "learnable": True,
                "parallel": True,
            },
        }
        if self.large and self.variant in (
            "hybrid",
            "cascaded_plus",
            "hybrid_plus",
        ):
            keyword["kw_projection"] = {
                "dropout": 0.1,
                "dimensions": [d, d, token_dim],
            }
        parallel_branch = {
            "transformer_type": "TransformerEncoder",
            "transformer_args": {
                "n_layers": 1,
                "d_model": d,
                "nhead": 4,
                "dim_feedforward": 2 * d,
                "dropout": 0.1,
                "activation": "gelu",
                "layer_norm_eps": 1e-5,
                "batch_first": True,
                "norm_first": False,
            },
            "need_projection": True,
        }
        if self.large and self.variant == "hybrid" and not self.coco:
            parallel_branch["projection_config"] = {
                "dropout": 0.1,
                "dimensions": [d, d, token_dim],
            }
        coco_layer = self.coco and self.variant == "hybrid"
        cascaded_branch = {
            "type": branch_type or "KW_CascadedBranch",
            "transformer_type": "MultiheadAttentionAndNorm",
            "transformer_args": {
                "type": "TransformerEncoder"
                if coco_layer
                else "MultiheadAttentionAndNorm",
                "n_layers": 1,
                "d_model": d,
                "nhead": self.nhead,
                "dim_feedforward": 2 * d,
                "dropout": 0.1,
                "activation": "gelu",
                "layer_norm_eps": 1e-5,
                "batch_first": True,
                "norm_first": False,
            },
            "keyword": keyword,
            "vq": {
                "bn_before_vq": True,
                "activation": "gelu",
                "type": "SimpleVectorQuantizer",
                "args": {
                    "temp": "fixed=0.1",
                    "time_first": True,
                    "use_gumbel": False,
                    "hard": True,
                },
            },
        }
        if self.variant.endswith("plus"):
            cascaded_branch["downsampling"] = {
                "type": "cif",
                "cif": {
                    "quantity_loss_weight": 0.25,
                    "using_gt_len": False,
                    "cif_output_dim": d,
                    "encoder_embed_dim": d,
                    "produce_weight_type": "conv",
                    "cif_threshold": 1.0,
                    "conv_cif_layer_num": 1,
                    "conv_cif_width": 3,
                    "conv_cif_dropout": 0.1,
                    "apply_scaling": True,
                    "apply_tail_handling": True,
                    "tail_handling_firing_threshold": 0.5,
                    "add_cif_ctxt_layers": False,
                    **({"scaling_step": 5000} if self.large else {}),
                },
            }
        corpus = "coco" if self.coco else "flickr"
        return {
            "data": {
                "dataset": {
                    "name": corpus,
                    "dataset_root": f"data/{corpus}",
                    "clip_image_transform": "ViT-L/14"
                    if self.large
                    else "ViT-B/32",
                    "load_image": True,
                    "load_audio": True,
                    "tokenizeText": True,
                },
                "batch_size": 256,
                "dev_batch_size": 8,
                "split_ratio": 0.9,
            },
            "model_settings": {
                "cascaded_objective_weight": cascaded,
                "parallel_objective_weight": parallel,
                "parallel_branch": parallel_branch,
                "cascaded_branch": cascaded_branch,
            },
            "cl_loss": {
                "type": "MaskedContrastiveLoss",
                "args": {
                    "temperature": 0.07,
                    "temperature_trainable": self.large,
                    "margin": 0.0,
                    "dcl": False,
                    "a2b": True,
                    "b2a": True,
                },
            },
            "retrieval": {
                "audio_feat_src": "parallel" if parallel else "cascaded",
                "recall_at": [1, 5, 10],
            },
            "clip": {
                "name": "ViT-L/14" if self.large else "ViT-B/32",
                "image_encoder_trainable": False,
                "text_encoder_trainable": False,
                "reduce_subword_embbedding": (
                    f"./avssl/data/{corpus}_stat/text_clip_vocab_usage_byfreq.npy"
                ),
            },
            "audio_encoder": {
                "type": "FairseqHubert",
                "name": "hubert_large_ll60k" if self.large else "hubert",
                "pretrained": True,
                "trainable": False,
                "feat_select_idx": "weighted_sum",
                "layer_drop": 0.0,
                "max_audio_len": 102400,
                "normalize_hiddenstates": self.large,
                "optim": {
                    "name": "Adam",
                    "args": {"lr": 1e-4, "weight_decay": 1e-6},
                },
                "scheduler": {
                    "name": "linear_warmup_decay",
                    "warmup": 5000,
                    "max_step": 50000,
                    "final_lr": 1e-8,
                },
            },
            "trainer": {
                "max_steps": 50000,
                "gradient_clip_val": 4,
                "precision": 16,
            },
            "log_setting": {"log_detokenize_results": True},
        }

    @torch.no_grad()
    def forward(self, wav):
        """The reference's ``encode_speech`` of one utterance ``[S]``:
        L2-normalised embeddings and the keywords' CLIP token ids."""
        results = fairseq_layer_results(
            self.hubert, wav, self.heads, self.large, normalize=self.large
        )
        stacked = torch.stack(results)
        if self.large:  # normalize_hiddenstates
            stacked = F.layer_norm(stacked, stacked.shape[-1:])
        weights = torch.softmax(self.weights, 0).view(-1, 1, 1, 1)
        feat = (weights * stacked).sum(0)
        lengths = torch.tensor([min(round(len(wav) / 320), feat.shape[1])])
        branch = getattr(self, "parallel_branch", None) or self.cascaded_branch
        out = branch(feat, lengths)
        embeddings = {
            key: F.normalize(out[key], dim=-1)
            for key in ("parallel", "cascaded")
            if key in out
        }
        if "rows" in out:
            embeddings["token_ids"] = torch.as_tensor(
                self.ids[out["rows"].numpy()]
            )
        return embeddings


@contextlib.contextmanager
def avssl_namespace_class():
    """``avssl.base.ordered_namespace.OrderedNamespace`` importable while
    saving, so that pickle names the authors' class (as their files do)."""

    class OrderedNamespace:
        def __init__(self, data):
            items = OrderedDict()
            for key, value in data.items():
                if isinstance(value, dict):
                    value = OrderedNamespace(value)
                elif isinstance(value, list):
                    value = [
                        OrderedNamespace(v) if isinstance(v, dict) else v
                        for v in value
                    ]
                items[key] = value
            object.__setattr__(self, "_odict", items)

        def __getstate__(self):
            return self._odict

        def __setstate__(self, state):
            object.__setattr__(self, "_odict", OrderedDict(state))

    OrderedNamespace.__module__ = "avssl.base.ordered_namespace"
    OrderedNamespace.__qualname__ = "OrderedNamespace"
    names = ["avssl", "avssl.base", "avssl.base.ordered_namespace"]
    saved = {name: sys.modules.get(name) for name in names}
    for name in names:
        sys.modules[name] = types.ModuleType(name)
    sys.modules[names[-1]].OrderedNamespace = OrderedNamespace
    try:
        yield OrderedNamespace
    finally:
        for name, module in saved.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module


def save_speechclip_checkpoint(path, model, state=None, config=None):
    """Writes a Lightning 1.5 checkpoint of a :class:`ReferenceSpeechCLIP`
    (its ``state`` and ``config`` may be replaced, to write broken ones)."""
    state = model.state_dict_of_checkpoint() if state is None else state
    config = model.config() if config is None else config
    with avssl_namespace_class() as namespace:
        checkpoint = {
            "epoch": 131,
            "global_step": 15443,
            "pytorch-lightning_version": "1.5.10",
            "state_dict": state,
            "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {}}},
            "callbacks": {
                "ModelCheckpoint{'monitor': 'val_recall_mean_10', 'mode': "
                "'max', 'every_n_train_steps': 0, 'every_n_epochs': 1, "
                "'train_time_interval': None, 'save_on_train_epoch_end': "
                "False}": {
                    "monitor": "val_recall_mean_10",
                    "best_model_score": torch.tensor(36.01),
                    "best_model_path": "exp/epoch=131.ckpt",
                    "current_score": torch.tensor(36.01),
                    "dirpath": "exp",
                }
            },
            "optimizer_states": [
                {"state": {}, "param_groups": [{"lr": 1e-5, "params": [0]}]}
            ],
            "lr_schedulers": [{"base_lrs": [1e-4], "last_epoch": 15443}],
            "native_amp_scaling_state": {
                "scale": 65536.0,
                "_growth_tracker": 7,
            },
            "hparams_name": "kwargs",
            "hyper_parameters": {"config": namespace(config)},
            "run_namespace": argparse.Namespace(seed=7122),
        }
        torch.save(checkpoint, path)


def save_vocabulary(path, ids):
    """The authors' vocabulary file: ``[token id, count]`` rows, most
    frequent first."""
    counts = np.arange(len(ids), 0, -1) * 10
    np.save(path, np.stack([np.asarray(ids), counts], axis=1).astype(np.int64))


def reduced_ids(size=60, seed=0):
    """A reduced vocabulary laid out as the authors' (padding, ``a``, start,
    end, then other subwords)."""
    generator = np.random.default_rng(seed)
    others = generator.choice(np.arange(1, 49000), size=size, replace=False)
    others = [int(i) for i in others if i not in (320,)]
    return [PAD, 320, SOT, EOT, *others]
