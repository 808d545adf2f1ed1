"""Self-supervised speech upstream with a learnable, padding-aware layer mix.

:class:`SSLUpstream` loads a HuBERT, wav2vec 2.0 or WavLM model through
SpeechBrain's HuggingFace integration
(:class:`speechbrain.integrations.huggingface.wav2vec2.Wav2Vec2`, the
loader SpeechBrain's ``HuBERT`` and ``WavLM`` lobes share) and returns the
weighted sum of all its hidden states (the transformer input and the output
of every layer: 13 for Base models, 25 for Large ones), with zero-initialised
softmax-normalised weights, as SpeechCLIP does (Shih et al. 2022). With
``layernorm=True`` every hidden state first goes through a non-affine
LayerNorm over its features (frame by frame), as for SpeechCLIP Large.

Padding. The valid frames of an utterance do not depend on how much the
batch pads it. SpeechBrain's wrapper does not guarantee this, so the
forward pass here runs the HuggingFace model itself:

* the waveform is normalised (when the model's feature extractor asks for
  it) over its valid samples, as ``Wav2Vec2FeatureExtractor`` does, where
  SpeechBrain's wrapper normalises over the whole padded row (with
  ``wav_norm_eps=1e-5``, exactly as fairseq's ``F.layer_norm`` does for
  SpeechCLIP);
* the attention mask comes from the relative lengths;
* Base models normalise the first convolution's output per channel over
  time (a ``GroupNorm`` with one group per channel), so in a padded batch
  the padding would shift those statistics; here they are computed over the
  valid frames only.

The returned lengths are relative frame lengths: ``round(length * T)``
gives exactly the frames the model counts as valid, and the padded frames
of the features are zero.

Loading. ``source`` is a local folder (``config.json``, weights,
``preprocessor_config.json``, as written by ``save_pretrained``) or a hub id
such as ``facebook/hubert-base-ls960``. A hub id is downloaded into
``save_path`` (by default the HuggingFace cache); to run offline from a
populated cache, set ``HF_HUB_OFFLINE=1`` in the environment before Python
starts, otherwise the first access tries the network.

Authors
 * speechbrain-vgs developers 2026
"""

import os

import huggingface_hub
import torch
import torch.nn.functional as F
from speechbrain.integrations.huggingface.wav2vec2 import Wav2Vec2
from torch import nn

from speechbrain_vgs.checkpoints import replaced_folder
from speechbrain_vgs.lobes.frozen import exclude_from_state_dict
from speechbrain_vgs.lobes.masking import length_mask, span_mask

MODEL_TYPES = ("hubert", "wav2vec2", "wavlm")
WAVEFORM_NORM_EPS = 1e-7  # as transformers' Wav2Vec2FeatureExtractor


class SSLUpstream(nn.Module):
    """A HuBERT / wav2vec 2.0 / WavLM upstream with learnable layer weights.

    Frozen (``freeze=True``, SpeechCLIP's setting), the upstream runs
    without autograd and stays in eval mode (no dropout) even when the
    parent module is put in training mode; only the layer weights train,
    and only they are in the ``state_dict`` (checkpoints stay small; the
    frozen weights come from ``source``).

    Arguments
    ---------
    source : str
        Local folder or HuggingFace hub id (e.g.
        ``"facebook/hubert-base-ls960"``).
    save_path : str, optional
        Download cache for hub ids (HuggingFace cache layout); defaults to
        the HuggingFace cache.
    freeze : bool
        Whether the upstream is frozen.
    layernorm : bool
        Whether each hidden state goes through a non-affine LayerNorm
        before the weighted sum (SpeechCLIP Large).
    mask_prob : float
        Time masking in training mode, as when HuBERT or wav2vec 2.0 are
        fine-tuned (their ``mask_time_prob``): spans of ``mask_length``
        frames (:func:`span_mask`) get the model's learned mask embedding
        before the transformer. 0 (the default) masks nothing.
    mask_length : int
        Span length in frames.
    wav_norm_eps : float
        Added to the variance when waveforms are normalised:
        ``transformers``' 1e-7 by default, 1e-5 for fairseq's HuBERT
        (``F.layer_norm``, as SpeechCLIP normalises).

    Example
    -------
    >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert
    >>> folder = save_tiny_hubert(getfixture("tmpdir") / "hubert")
    >>> upstream = SSLUpstream(folder)
    >>> upstream.num_layers, upstream.dim
    (3, 32)
    >>> feats, lens = upstream(torch.randn(2, 1000), torch.tensor([1.0, 0.5]))
    >>> feats.shape, lens
    (torch.Size([2, 99, 32]), tensor([1.0000, 0.4949]))
    >>> upstream.layer_weights()
    tensor([0.3333, 0.3333, 0.3333])
    """

    def __init__(
        self,
        source,
        save_path=None,
        freeze=True,
        layernorm=False,
        mask_prob=0.0,
        mask_length=10,
        wav_norm_eps=WAVEFORM_NORM_EPS,
    ):
        super().__init__()
        source = os.fspath(source)
        if not os.path.isdir(source) and not is_hub_id(source):
            raise FileNotFoundError(
                f"{source}: no such model folder (and not a hub id such as "
                "facebook/hubert-base-ls960)"
            )
        if save_path is None:
            save_path = huggingface_hub.constants.HF_HUB_CACHE
        self.ssl = Wav2Vec2(
            source,
            save_path=str(save_path),
            freeze=freeze,
            output_all_hiddens=True,
        )
        config = self.ssl.model.config
        if config.model_type not in MODEL_TYPES:
            raise ValueError(
                f"{source}: model type {config.model_type!r} is not one of "
                f"{MODEL_TYPES}"
            )
        # Every hidden state is weighted, so no layer may be skipped (the
        # hidden states of skipped layers are missing from the output).
        config.layerdrop = 0.0
        self.freeze = freeze
        self.layernorm = layernorm
        self.mask_prob = mask_prob
        self.mask_length = mask_length
        self.wav_norm_eps = wav_norm_eps
        if mask_prob > 0 and not hasattr(self.ssl.model, "masked_spec_embed"):
            raise ValueError(
                f"{source}: mask_prob > 0 needs the model's mask embedding "
                "(its config has mask_time_prob = 0)"
            )
        self.num_layers = config.num_hidden_layers + 1
        self.dim = config.hidden_size
        self.weights = nn.Parameter(torch.zeros(self.num_layers))
        if freeze:
            exclude_from_state_dict(self, "ssl")
        self.group_norm_cnn = config.feat_extract_norm == "group"
        if self.group_norm_cnn:
            norm = self.ssl.model.feature_extractor.conv_layers[0].layer_norm
            if norm.num_groups != norm.num_channels:
                raise ValueError(
                    f"{source}: the first convolution's GroupNorm must have "
                    "one group per channel"
                )

    def train(self, mode=True):
        """Sets the training mode; a frozen upstream stays in eval mode.

        Arguments
        ---------
        mode : bool
            Training mode.

        Returns
        -------
        self : SSLUpstream

        Example
        -------
        >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert
        >>> upstream = SSLUpstream(save_tiny_hubert(getfixture("tmpdir")))
        >>> upstream.train().ssl.model.training
        False
        """
        super().train(mode)
        if self.freeze:
            self.ssl.model.eval()
        return self

    def layer_weights(self):
        """The softmax-normalised layer weights (detached), ``[num_layers]``.

        Returns
        -------
        weights : torch.Tensor
            One weight per hidden state, summing to one.

        Example
        -------
        >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert
        >>> upstream = SSLUpstream(save_tiny_hubert(getfixture("tmpdir")))
        >>> upstream.layer_weights().sum()
        tensor(1.)
        """
        return torch.softmax(self.weights.detach(), dim=0)

    def forward(self, wavs, lengths=None):
        """Computes the layer-weighted features of a padded batch.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` at the model's sampling rate (16 kHz).
        lengths : torch.Tensor, optional
            Relative lengths ``[B]``; ``None`` means no padding.

        Returns
        -------
        features : torch.Tensor
            ``[B, T, dim]``, zero on padded frames.
        lengths : torch.Tensor
            Relative frame lengths ``[B]``.

        Example
        -------
        >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert
        >>> upstream = SSLUpstream(save_tiny_hubert(getfixture("tmpdir")))
        >>> feats, lens = upstream(torch.randn(1, 400))
        >>> feats.shape, lens
        (torch.Size([1, 39, 32]), tensor([1.]))
        """
        mask = None
        if self.training and self.mask_prob > 0:
            frames, max_frames = self.frame_counts(wavs, lengths)
            mask = span_mask(
                frames, max_frames, self.mask_prob, self.mask_length
            )
        hidden_states, frames = self.hidden_states(wavs, lengths, mask)
        if lengths is None:
            lengths = torch.ones(wavs.shape[0], device=wavs.device)
        max_frames = hidden_states[0].shape[1]
        frame_mask = (
            torch.arange(max_frames, device=frames.device) < frames[:, None]
        )
        weights = torch.softmax(self.weights, dim=0)
        features = 0
        for weight, hidden in zip(weights, hidden_states):
            if self.layernorm:
                hidden = F.layer_norm(hidden, hidden.shape[-1:])
            features = features + weight * hidden
        features = features.masked_fill(~frame_mask.unsqueeze(-1), 0)
        return features, frames.to(lengths.dtype) / max_frames

    def hidden_states(self, wavs, lengths=None, mask=None):
        """All hidden states of the model, padding-aware (see the module).

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` at the model's sampling rate (16 kHz).
        lengths : torch.Tensor, optional
            Relative lengths ``[B]``; ``None`` means no padding.
        mask : torch.Tensor, optional
            Boolean ``[B, T]``: frames whose convolutional features are
            replaced by the model's learned mask embedding before the
            transformer (HuBERT's masked prediction, see
            :mod:`speechbrain_vgs.brains.hubert`).

        Returns
        -------
        hidden_states : tuple of torch.Tensor
            ``num_layers`` tensors ``[B, T, dim]`` (padded frames are not
            zeroed).
        frames : torch.Tensor
            Valid frames per utterance ``[B]`` (long).

        Example
        -------
        >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert
        >>> upstream = SSLUpstream(save_tiny_hubert(getfixture("tmpdir")))
        >>> states, frames = upstream.hidden_states(
        ...     torch.randn(2, 400), torch.tensor([1.0, 0.5]))
        >>> len(states), states[-1].shape, frames
        (3, torch.Size([2, 39, 32]), tensor([39, 19]))
        """
        if lengths is None:
            lengths = torch.ones(wavs.shape[0])
        sample_mask = length_mask(lengths.to(wavs.device), wavs.shape[1])
        frames, _ = self.frame_counts(wavs, lengths)
        if self.freeze:
            with torch.no_grad():
                states = self._run_model(wavs, sample_mask, mask)
        else:
            states = self._run_model(wavs, sample_mask, mask)
        return states, frames

    def frame_counts(self, wavs, lengths=None):
        """Valid frames per utterance and the padded number of frames.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]``.
        lengths : torch.Tensor, optional
            Relative lengths ``[B]``; ``None`` means no padding.

        Returns
        -------
        frames : torch.Tensor
            Valid frames per utterance ``[B]`` (long).
        max_frames : int
            Frames of the padded batch (``T`` of the hidden states).

        Example
        -------
        >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert
        >>> upstream = SSLUpstream(save_tiny_hubert(getfixture("tmpdir")))
        >>> upstream.frame_counts(torch.randn(2, 400), torch.tensor([1.0, 0.5]))
        (tensor([39, 19]), 39)
        """
        if lengths is None:
            lengths = torch.ones(wavs.shape[0])
        samples = length_mask(lengths.to(wavs.device), wavs.shape[1]).sum(1)
        count = self.ssl.model._get_feat_extract_output_lengths
        frames = count(samples)
        if (frames < 1).any():
            raise ValueError(
                f"utterances of {samples[frames < 1].tolist()} samples are "
                "shorter than the model's receptive field"
            )
        return frames, int(count(torch.tensor(wavs.shape[1])))

    def _run_model(self, wavs, sample_mask, mask):
        """Runs the HuggingFace model with padding-aware normalisations."""
        model = self.ssl.model
        if mask is not None and not hasattr(model, "masked_spec_embed"):
            raise ValueError(
                "this model has no mask embedding (its config has "
                "mask_time_prob = 0), so frames cannot be masked"
            )
        # transformers applies the given mask only with SpecAugment on
        # (SpeechBrain's wrapper turns it off: no random masking here)
        model.config.apply_spec_augment = mask is not None
        wavs = wavs.masked_fill(~sample_mask, 0)
        if self.ssl.normalize_wav:
            wavs = normalize_valid(wavs, sample_mask, self.wav_norm_eps)
        hook = None
        if self.group_norm_cnn:
            first_layer = self.ssl.model.feature_extractor.conv_layers[0]
            kernel = first_layer.conv.kernel_size[0]
            stride = first_layer.conv.stride[0]
            first_frames = (sample_mask.sum(1) - kernel) // stride + 1
            hook = first_layer.layer_norm.register_forward_hook(
                lambda norm, args, out: masked_instance_norm(
                    args[0], first_frames, norm
                )
            )
        try:
            out = self.ssl.model(
                wavs,
                attention_mask=sample_mask.long(),
                mask_time_indices=mask,
                output_hidden_states=True,
            )
        finally:
            if hook is not None:
                hook.remove()
        return out.hidden_states


def is_hub_id(source):
    """Whether ``source`` reads as a HuggingFace hub id (``name`` or
    ``owner/name``) rather than a path.

    Example
    -------
    >>> is_hub_id("facebook/hubert-base-ls960"), is_hub_id("results/x/export")
    (True, False)
    >>> is_hub_id("./hubert"), is_hub_id("/models/hubert")
    (False, False)
    """
    parts = source.split("/")
    return len(parts) <= 2 and all(
        part and not part.startswith(".") for part in parts
    )


def normalize_valid(wavs, sample_mask, eps=WAVEFORM_NORM_EPS):
    """Zero-mean, unit-variance waveforms over their valid samples.

    As ``transformers``' ``Wav2Vec2FeatureExtractor`` (variance + 1e-7 by
    default); padded samples stay zero.

    Arguments
    ---------
    wavs : torch.Tensor
        ``[B, S]``.
    sample_mask : torch.Tensor
        Boolean ``[B, S]``, True on valid samples.
    eps : float
        Added to the variance.

    Returns
    -------
    normalized : torch.Tensor
        ``[B, S]``.

    Example
    -------
    >>> wavs = torch.tensor([[1.0, 3.0, 7.0]])
    >>> normalize_valid(wavs, torch.tensor([[True, True, False]]))
    tensor([[-1.,  1.,  0.]])
    """
    mask = sample_mask.to(wavs.dtype)
    count = mask.sum(1, keepdim=True)
    mean = (wavs * mask).sum(1, keepdim=True) / count
    var = ((wavs - mean) ** 2 * mask).sum(1, keepdim=True) / count
    return (wavs - mean) / torch.sqrt(var + eps) * mask


def masked_instance_norm(x, frames, norm):
    """Per-channel normalisation over the valid frames (a padding-aware
    ``GroupNorm`` with one group per channel).

    Arguments
    ---------
    x : torch.Tensor
        Channels-first ``[B, C, T]``.
    frames : torch.Tensor
        Valid frames per item ``[B]``.
    norm : torch.nn.GroupNorm
        The module whose affine parameters and epsilon apply.

    Returns
    -------
    normalized : torch.Tensor
        ``[B, C, T]`` (statistics in float32); equal to ``norm(x)`` where
        nothing is padded.

    Example
    -------
    >>> norm = torch.nn.GroupNorm(2, 2)
    >>> x = torch.randn(1, 2, 5)
    >>> torch.allclose(masked_instance_norm(x, torch.tensor([5]), norm),
    ...                norm(x), atol=1e-6)
    True
    """
    # One statistics pass over each item's valid frames and one fused
    # scale-and-shift pass: this [B, 512, samples / 5] tensor is the
    # largest of the model (see benchmarks/README.md)
    stats = [
        torch.var_mean(item[:, :n].float(), dim=-1, unbiased=False)
        for item, n in zip(x, frames.tolist())
    ]
    var = torch.stack([v for v, _ in stats])
    mean = torch.stack([m for _, m in stats])
    scale = norm.weight * torch.rsqrt(var + norm.eps)
    shift = norm.bias - mean * scale
    return torch.addcmul(
        shift.unsqueeze(-1), x.float(), scale.unsqueeze(-1)
    ).to(x.dtype)


def export_hubert(upstream, folder):
    """Saves an upstream's model and feature extractor with
    ``save_pretrained``: a folder that
    :class:`speechbrain_vgs.lobes.ssl.SSLUpstream` (or ``transformers``)
    loads as it loads a hub model.

    Arguments
    ---------
    upstream : speechbrain_vgs.lobes.ssl.SSLUpstream
        The (trained) upstream.
    folder : str
        Output folder.

    Returns
    -------
    folder : str

    Example
    -------
    >>> from speechbrain_vgs.lobes.ssl import SSLUpstream
    >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert
    >>> tmp = getfixture("tmpdir")
    >>> upstream = SSLUpstream(save_tiny_hubert(tmp / "a"), freeze=False)
    >>> copy = SSLUpstream(export_hubert(upstream, tmp / "b"))
    >>> wav = torch.randn(1, 800)
    >>> torch.equal(copy.hidden_states(wav)[0][-1],
    ...             upstream.eval().hidden_states(wav)[0][-1])
    True
    """
    folder = os.fspath(folder)
    with replaced_folder(folder) as tmp:  # a kill keeps the old export
        upstream.ssl.model.save_pretrained(tmp)
        upstream.ssl.feature_extractor.save_pretrained(tmp)
    return folder
