"""Speech features from a trained grounding model, for any SpeechBrain recipe.

The grounding recipes (``recipes/*/VGS``) and the SpeechCLIP recipes
(``recipes/*/SpeechCLIP``) export their trained speech encoder into
``<output_folder>/export`` (:func:`export_speech_encoder`):

- ``encoder.json``: what the encoder is, as data: ``{"encoder": {"class",
  "config"}, "features": {"class", "config"} or null, "layers": [...],
  "frame_shift_ms": {layer: ms}}`` plus the recipe's ``info`` (where it
  comes from);
- ``encoder.ckpt``: its weights (a ``torch.save`` of the state dicts);
- ``upstream/``: for a SpeechCLIP upstream, the self-supervised model as
  ``save_pretrained`` writes it (weights, ``config.json``,
  ``preprocessor_config.json``); ``encoder.ckpt`` then holds its layer
  weights.

:class:`GroundedFeatures` loads such a folder, or a ``transformers`` HuBERT /
wav2vec 2.0 / WavLM folder or hub id (as the HuBERT recipe exports it), and
returns one layer's frames. In a hyperpyyaml recipe::

    compute_features: !new:speechbrain_vgs.lobes.grounded.GroundedFeatures
        source: results/SynthVGS/VGS/resdavenet/1234/export
        layer: res2
        repeat_to_10ms: True

Layers: ResDAVEnet ``conv1``, ``res1`` ... ``res4`` (10, 20, 40, 80 and
160 ms frames); DAVEnet ``conv1`` ... ``conv5``; a HuBERT-like model's
hidden state ``k`` (an int: 0 is the transformer's input, ``k`` the output
of its k-th layer; 20 ms frames); a SpeechCLIP upstream ``"weighted"`` (its
learnt weighted sum of all hidden states) or a hidden state ``k``.
:class:`Filterbank` gives the log-mel filterbank baseline through the same
interface.

Authors
 * speechbrain-vgs developers 2026
"""

import json
import os

import torch
from torch import nn

from speechbrain_vgs.checkpoints import replaced_folder
from speechbrain_vgs.lobes.audio import DAVEnet, ResDAVEnet
from speechbrain_vgs.lobes.features import LibrosaLogMel, LogMel
from speechbrain_vgs.lobes.frozen import exclude_from_state_dict
from speechbrain_vgs.lobes.ssl import SSLUpstream, export_hubert

ENCODER_FILE = "encoder.json"
WEIGHTS_FILE = "encoder.ckpt"
UPSTREAM_FOLDER = "upstream"
WEIGHTED = "weighted"
OUTPUT_SHIFT_MS = 10
# What an export may name (configs are data: nothing else is constructed).
ENCODER_CLASSES = {"ResDAVEnet": ResDAVEnet, "DAVEnet": DAVEnet}
FEATURE_CLASSES = {"LogMel": LogMel, "LibrosaLogMel": LibrosaLogMel}


def export_speech_encoder(folder, encoder, compute_features=None, info=None):
    """Saves a trained speech encoder as a folder :class:`GroundedFeatures`
    loads.

    Arguments
    ---------
    folder : str
        Output folder (created).
    encoder : torch.nn.Module
        A :class:`~speechbrain_vgs.lobes.audio.ResDAVEnet` or
        :class:`~speechbrain_vgs.lobes.audio.DAVEnet` (with
        ``compute_features``), or a SpeechCLIP upstream
        (:class:`~speechbrain_vgs.lobes.ssl.SSLUpstream`).
    compute_features : LogMel or LibrosaLogMel, optional
        The features the convolutional encoder reads.
    info : dict, optional
        JSON-serialisable facts about the model (recipe, metrics), kept
        in ``encoder.json``.

    Returns
    -------
    folder : str

    Example
    -------
    >>> encoder = ResDAVEnet(widths=(8, 8, 8, 16, 16), blocks=(1, 1, 1, 1))
    >>> folder = export_speech_encoder(getfixture("tmpdir") / "export",
    ...                                encoder.eval(), LogMel())
    >>> sorted(os.listdir(folder))
    ['encoder.ckpt', 'encoder.json']
    """
    folder = os.fspath(folder)
    description = {"info": info or {}}
    if isinstance(encoder, SSLUpstream):
        description["encoder"] = {
            "class": "SSLUpstream",
            "config": {"layernorm": encoder.layernorm},
        }
        description["features"] = None
        weights = {"weights": encoder.weights.detach().cpu()}
    else:
        name = type(encoder).__name__
        if ENCODER_CLASSES.get(name) is not type(encoder):
            raise TypeError(
                f"cannot export a {name}: exportable speech encoders are "
                f"{sorted(ENCODER_CLASSES)} and SSLUpstream"
            )
        features_name = type(compute_features).__name__
        if FEATURE_CLASSES.get(features_name) is not type(compute_features):
            raise TypeError(
                f"{name} needs its compute_features, one of "
                f"{sorted(FEATURE_CLASSES)}"
            )
        description["encoder"] = {"class": name, "config": encoder.config}
        description["features"] = {
            "class": features_name,
            "config": compute_features.config,
        }
        weights = {
            "encoder": encoder.state_dict(),
            "features": compute_features.state_dict(),
        }
    with replaced_folder(folder) as tmp:  # a kill keeps the old export
        if isinstance(encoder, SSLUpstream):
            export_hubert(encoder, os.path.join(tmp, UPSTREAM_FOLDER))
        torch.save(weights, os.path.join(tmp, WEIGHTS_FILE))
        with open(os.path.join(tmp, ENCODER_FILE), "w", encoding="utf-8") as f:
            json.dump(description, f, indent=2, sort_keys=True)
            f.write("\n")
    return folder


def load_speech_encoder(folder, freeze=True):
    """Builds the encoder of a folder written by :func:`export_speech_encoder`.

    Arguments
    ---------
    folder : str
        The export folder.
    freeze : bool
        Passed to a SpeechCLIP upstream (whose frozen weights stay out of
        state dicts).

    Returns
    -------
    compute_features : LogMel, LibrosaLogMel or None
    encoder : torch.nn.Module

    Raises
    ------
    ValueError
        If ``encoder.json`` names a class that is not exportable.

    Example
    -------
    >>> encoder = DAVEnet(embedding_dim=16, widths=(8, 8, 8, 8))
    >>> folder = export_speech_encoder(getfixture("tmpdir"), encoder, LogMel())
    >>> feats, copy = load_speech_encoder(folder)
    >>> type(copy).__name__, copy.layer_dims["conv5"]
    ('DAVEnet', 16)
    """
    folder = os.fspath(folder)
    path = os.path.join(folder, ENCODER_FILE)
    with open(path, encoding="utf-8") as f:
        description = json.load(f)
    weights_file = os.path.join(folder, WEIGHTS_FILE)
    weights = torch.load(weights_file, map_location="cpu", weights_only=True)
    spec = description["encoder"]
    if spec["class"] == "SSLUpstream":
        encoder = SSLUpstream(
            os.path.join(folder, UPSTREAM_FOLDER),
            freeze=freeze,
            **spec["config"],
        )
        encoder.weights.data.copy_(weights["weights"])
        return None, encoder
    if spec["class"] not in ENCODER_CLASSES:
        raise ValueError(
            f"{path}: unknown encoder class {spec['class']!r}; known: "
            f"{sorted(ENCODER_CLASSES)} and SSLUpstream"
        )
    encoder = ENCODER_CLASSES[spec["class"]](**spec["config"])
    encoder.load_state_dict(weights["encoder"])
    features_spec = description["features"]
    if features_spec["class"] not in FEATURE_CLASSES:
        raise ValueError(
            f"{path}: unknown features class {features_spec['class']!r}"
        )
    compute_features = FEATURE_CLASSES[features_spec["class"]](
        **features_spec["config"]
    )
    compute_features.load_state_dict(weights["features"])
    return compute_features, encoder


def ssl_frame_shift_ms(upstream):
    """The frame shift of a HuBERT-like model: the product of its
    convolutions' strides, in ms at 16 kHz (20 for HuBERT)."""
    stride = 1
    for value in upstream.ssl.model.config.conv_stride:
        stride *= value
    shift = stride * 1000 / 16000
    return int(shift) if shift.is_integer() else shift


class GroundedFeatures(nn.Module):
    """One layer of a trained (grounding) speech encoder as features.

    Arguments
    ---------
    source : str
        A folder written by :func:`export_speech_encoder` (ResDAVEnet,
        DAVEnet, SpeechCLIP upstream), or a ``transformers`` model folder or
        hub id (HuBERT, wav2vec 2.0, WavLM; e.g. the HuBERT recipe's
        export, or ``facebook/hubert-base-ls960``).
    layer : str or int, optional
        The layer (see the module docstring); default: the last layer of a
        convolutional encoder, the last hidden state of a
        ``transformers`` model, ``"weighted"`` for a SpeechCLIP upstream.
    freeze : bool
        Frozen (the default): no gradient, always in eval mode, and left
        out of ``state_dict`` (checkpoints stay small; the weights come
        from ``source``). ``False`` fine-tunes the encoder; give its
        parameters their own learning rate in the optimizer (e.g. the
        ``features_lr`` of :class:`speechbrain_vgs.brains.CTCBrain`).
    repeat_to_10ms : bool
        Repeats each frame so that all layers come at 10 ms frames
        (``frame_shift_ms`` must be a multiple of 10); default: the
        layer's native rate.
    save_path : str, optional
        Download cache for hub ids.

    Example
    -------
    >>> encoder = ResDAVEnet(widths=(8, 8, 8, 16, 16), blocks=(1, 1, 1, 1))
    >>> folder = export_speech_encoder(getfixture("tmpdir"), encoder.eval(),
    ...                                LogMel())
    >>> features = GroundedFeatures(folder, layer="res2")
    >>> feats, lens = features(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
    >>> feats.shape, lens, features.frame_shift_ms
    (torch.Size([2, 26, 8]), tensor([1.0000, 0.5000]), 40)
    >>> features = GroundedFeatures(folder, layer="res2", repeat_to_10ms=True)
    >>> features(torch.randn(2, 16000))[0].shape
    torch.Size([2, 104, 8])
    >>> list(features.state_dict())
    []
    """

    def __init__(
        self,
        source,
        layer=None,
        freeze=True,
        repeat_to_10ms=False,
        save_path=None,
    ):
        super().__init__()
        source = os.fspath(source)
        self.freeze = freeze
        self.repeat_to_10ms = repeat_to_10ms
        if os.path.isfile(os.path.join(source, ENCODER_FILE)):
            self.compute_features, self.encoder = load_speech_encoder(
                source, freeze
            )
        else:
            self.compute_features = None
            self.encoder = SSLUpstream(source, save_path, freeze=freeze)
        if isinstance(self.encoder, SSLUpstream):
            exported = self.compute_features is None and os.path.isdir(
                os.path.join(source, UPSTREAM_FOLDER)
            )
            hidden = list(range(self.encoder.num_layers))
            self.layer_names = ([WEIGHTED] if exported else []) + hidden
            shift = ssl_frame_shift_ms(self.encoder)
            self.dim = self.encoder.dim
        else:
            self.layer_names = list(self.encoder.layer_names)
        if layer is None:
            layer = self.layer_names[0 if WEIGHTED in self.layer_names else -1]
        if layer not in self.layer_names:
            raise ValueError(
                f"{source}: unknown layer {layer!r}; its layers are "
                f"{self.layer_names}"
            )
        self.layer = layer
        if not isinstance(self.encoder, SSLUpstream):
            shift = self.encoder.frame_shift_ms[layer]
            self.dim = self.encoder.layer_dims[layer]
        if repeat_to_10ms and (
            shift < OUTPUT_SHIFT_MS or shift % OUTPUT_SHIFT_MS
        ):
            raise ValueError(
                f"layer {layer!r} has {shift} ms frames, which cannot be "
                f"repeated to {OUTPUT_SHIFT_MS} ms"
            )
        self.native_shift_ms = shift
        self.frame_shift_ms = OUTPUT_SHIFT_MS if repeat_to_10ms else shift
        if freeze:
            for parameter in self.parameters():
                parameter.requires_grad_(False)
            exclude_from_state_dict(self, "encoder")
            if self.compute_features is not None:
                exclude_from_state_dict(self, "compute_features")
        self.train(self.training)

    def train(self, mode=True):
        """Sets the training mode; a frozen encoder stays in eval mode.

        Arguments
        ---------
        mode : bool
            Training mode.

        Returns
        -------
        self : GroundedFeatures
        """
        super().train(mode)
        if self.freeze:
            self.encoder.eval()
            if self.compute_features is not None:
                self.compute_features.eval()
        return self

    def forward(self, wavs, wav_lens=None):
        """The chosen layer's frames of a padded batch.

        Arguments
        ---------
        wavs : torch.Tensor
            16 kHz waveforms ``[batch, samples]``.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[batch]``; ``None`` means no padding.

        Returns
        -------
        feats : torch.Tensor
            ``[batch, frames, dim]``, zero on padded frames.
        lengths : torch.Tensor
            Relative lengths of the frames ``[batch]``.
        """
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
        with torch.set_grad_enabled(
            torch.is_grad_enabled() and not self.freeze
        ):
            feats, lengths = self._encode(wavs, wav_lens)
        if self.repeat_to_10ms:
            factor = int(self.native_shift_ms // OUTPUT_SHIFT_MS)
            feats = feats.repeat_interleave(factor, dim=1)
        return feats, lengths

    def _encode(self, wavs, wav_lens):
        if not isinstance(self.encoder, SSLUpstream):
            feats = self.compute_features(wavs, wav_lens)
            return self.encoder(feats, wav_lens, layer=self.layer), wav_lens
        if self.layer == WEIGHTED:
            return self.encoder(wavs, wav_lens)
        states, frames = self.encoder.hidden_states(wavs, wav_lens)
        feats = states[self.layer]
        max_frames = feats.shape[1]
        valid = torch.arange(max_frames, device=feats.device) < frames[:, None]
        feats = feats.masked_fill(~valid.unsqueeze(-1), 0.0)
        return feats, frames.to(wav_lens.dtype) / max_frames


class Filterbank(nn.Module):
    """The log-mel filterbank baseline with :class:`GroundedFeatures`'
    interface: ``(feats, lengths)`` at 10 ms frames, from
    :class:`~speechbrain_vgs.lobes.features.LogMel` (40 bins by default,
    per-utterance mean and variance normalisation).

    Arguments
    ---------
    **kwargs
        :class:`~speechbrain_vgs.lobes.features.LogMel`'s arguments.

    Example
    -------
    >>> feats, lens = Filterbank()(torch.randn(2, 1600), torch.tensor([1, .5]))
    >>> feats.shape, lens, Filterbank().dim
    (torch.Size([2, 11, 40]), tensor([1.0000, 0.5000]), 40)
    """

    frame_shift_ms = OUTPUT_SHIFT_MS

    def __init__(self, **kwargs):
        super().__init__()
        self.compute_features = LogMel(**kwargs)
        self.dim = self.compute_features.config["n_mels"]

    def forward(self, wavs, wav_lens=None):
        """Log-mel frames and their relative lengths (those of the audio).

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]``.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[batch]``.

        Returns
        -------
        feats : torch.Tensor
            ``[batch, frames, n_mels]``.
        lengths : torch.Tensor
            ``[batch]``.
        """
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
        return self.compute_features(wavs, wav_lens), wav_lens
