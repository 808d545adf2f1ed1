"""Keyword spotting lobes: visual taggers and spoken bag-of-words networks.

Visually grounded keyword spotting (Kamper et al. 2017, 2019; Kamper &
Roth 2018): a visual tagger gives every training image soft bag-of-words
targets over a keyword vocabulary in the *query* language; a speech
network learns to predict them from the image's spoken captions, in any
language, with binary cross-entropy. At test time only speech is used: the
network's output for keyword ``w`` scores an utterance for ``w``.

* Taggers: :class:`VisualTagger` (an MLP with one sigmoid per keyword on a
  frozen image trunk's embeddings, trained on text captions of images by
  :func:`fit_tagger`, out of fold by :func:`cross_fitted_tags`) and
  :class:`ZeroShotTagger` (a CLIP's image-text similarity to prompts of
  each keyword; no training).
* Speech networks map a padded batch of waveforms to one logit per keyword
  (``speech_net(wavs, lengths) -> [B, W]``): :class:`BoWCNN` (the papers'
  CNN on MFCCs and deltas), :class:`SSLKeywordNet` (a layer-weighted
  self-supervised upstream and a small head) and
  :class:`SpeechCLIPKeywordScorer` (a trained SpeechCLIP's speech embedding
  against CLIP text embeddings of keyword prompts: keyword spotting with no
  tagger at all).

Authors
 * speechbrain-vgs developers 2026
"""

import torch
import torch.nn.functional as F
from speechbrain.lobes.features import MFCC
from speechbrain.processing.features import InputNormalization
from torch import nn

from speechbrain_vgs.lobes.masking import length_mask


class MFCCDeltas(nn.Module):
    """13 MFCCs with deltas and delta-deltas (39 per 10 ms frame), each
    utterance normalised to zero mean and unit variance over its valid
    frames (Kamper et al. use Kaldi MFCCs with CMVN).

    Arguments
    ---------
    sample_rate : int
        Waveform sample rate.
    n_mfcc : int
        Cepstral coefficients before the deltas.

    Example
    -------
    >>> feats = MFCCDeltas()(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
    >>> feats.shape
    torch.Size([2, 101, 39])
    """

    def __init__(self, sample_rate=16000, n_mfcc=13):
        super().__init__()
        self.mfcc = MFCC(
            sample_rate=sample_rate, n_mfcc=n_mfcc, deltas=True, context=False
        )
        self.norm = InputNormalization(norm_type="sentence")
        self.dim = 3 * n_mfcc

    def forward(self, wavs, lengths):
        """Features ``[B, T, 3 * n_mfcc]`` of waveforms ``[B, S]``."""
        feats = self.mfcc(wavs)
        return self.norm(feats, lengths)


class BoWCNN(nn.Module):
    """Kamper et al.'s spoken bag-of-words CNN: 1-D convolutions over time
    spanning all feature dimensions, max-pooling, a max over the whole
    utterance, a fully-connected ReLU layer and one logit per keyword.

    The papers' layers (64 x 9, pool 3, 256 x 10, pool 3, 1024 x 11, max
    over time, FC 3000 or 4096) are the defaults. Unlike the papers (VALID
    convolutions over utterances padded or cut to 8 s), the convolutions
    pad with zeros ("same" length) and the padded frames of a batch are
    zeroed before every layer and excluded from the max, so an utterance
    gets the same output alone or in any padded batch, and utterances
    shorter than the receptive field still work.

    Arguments
    ---------
    num_keywords : int
        Keyword vocabulary size W.
    features : nn.Module
        Waveforms, relative lengths -> features ``[B, T, input_dim]``
        (e.g. :class:`MFCCDeltas`); it has a ``dim`` attribute.
    channels : sequence of int
        Filters of each convolution.
    kernels : sequence of int
        Width (frames) of each convolution.
    pools : sequence of int
        Max-pooling after each convolution but the last.
    hidden : int
        Units of the fully-connected layer.
    dropout : float
        Dropout before the output layer (the papers use none).

    Example
    -------
    >>> net = BoWCNN(5, MFCCDeltas(), channels=(8, 8, 16), hidden=32)
    >>> wavs = torch.randn(2, 16000)
    >>> net(wavs, torch.tensor([1.0, 0.6])).shape
    torch.Size([2, 5])
    """

    def __init__(
        self,
        num_keywords,
        features,
        channels=(64, 256, 1024),
        kernels=(9, 10, 11),
        pools=(3, 3),
        hidden=3000,
        dropout=0.0,
    ):
        super().__init__()
        if not len(channels) == len(kernels) == len(pools) + 1:
            raise ValueError(
                "BoWCNN needs one kernel per channel count and one pool "
                f"between convolutions: channels {channels}, kernels "
                f"{kernels}, pools {pools}"
            )
        self.features = features
        dims = (features.dim, *channels)
        self.convs = nn.ModuleList(
            nn.Conv1d(d_in, d_out, k)
            for d_in, d_out, k in zip(dims[:-1], dims[1:], kernels)
        )
        self.pools = tuple(pools)
        self.output = nn.Sequential(
            nn.Linear(channels[-1], hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_keywords),
        )

    def forward(self, wavs, lengths):
        """Keyword logits ``[B, W]`` of waveforms ``[B, S]`` with relative
        lengths ``[B]``."""
        x = self.features(wavs, lengths).transpose(1, 2)
        valid = torch.round(lengths * x.shape[-1]).long().clamp(min=1)
        for i, conv in enumerate(self.convs):
            mask = length_mask(valid / x.shape[-1], x.shape[-1]).unsqueeze(1)
            x = x * mask  # padding acts as the convolution's zero padding
            width = conv.kernel_size[0]
            x = torch.relu(conv(F.pad(x, ((width - 1) // 2, width // 2))))
            x = x * mask  # (>= 0 after ReLU) so no pool window sees padding
            if i < len(self.pools):
                pool = self.pools[i]
                x = F.max_pool1d(x, pool, ceil_mode=True)
                valid = torch.div(valid + pool - 1, pool, rounding_mode="floor")
        mask = length_mask(valid / x.shape[-1], x.shape[-1]).unsqueeze(1)
        pooled = x.masked_fill(~mask, float("-inf")).amax(dim=-1)
        return self.output(pooled)


class SSLKeywordNet(nn.Module):
    """A self-supervised upstream (layer-weighted, e.g.
    :class:`speechbrain_vgs.lobes.ssl.SSLUpstream`) and a small head: a
    linear projection with ReLU, mean and max pooling over the valid frames,
    and one logit per keyword.

    Arguments
    ---------
    num_keywords : int
        Keyword vocabulary size W.
    upstream : nn.Module
        Waveforms, relative lengths -> (frames ``[B, T, D]``, relative
        frame lengths); it has a ``dim`` attribute.
    hidden : int
        Width of the projection.
    dropout : float
        Dropout on the projected frames.

    Example
    -------
    >>> from speechbrain_vgs.lobes.ssl import SSLUpstream
    >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert
    >>> upstream = SSLUpstream(save_tiny_hubert(getfixture("tmpdir")))
    >>> net = SSLKeywordNet(5, upstream, hidden=16)
    >>> net(torch.randn(2, 3200), torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 5])
    """

    def __init__(self, num_keywords, upstream, hidden=256, dropout=0.1):
        super().__init__()
        self.upstream = upstream
        self.project = nn.Sequential(
            nn.Linear(upstream.dim, hidden), nn.ReLU(), nn.Dropout(dropout)
        )
        self.output = nn.Linear(2 * hidden, num_keywords)

    def forward(self, wavs, lengths):
        """Keyword logits ``[B, W]``."""
        frames, frame_lengths = self.upstream(wavs, lengths)
        x = self.project(frames)
        mask = length_mask(frame_lengths, x.shape[1]).unsqueeze(-1)
        mean = (x * mask).sum(1) / mask.sum(1)
        peak = x.masked_fill(~mask, float("-inf")).amax(1)
        return self.output(torch.cat([mean, peak], dim=-1))


class VisualTagger(nn.Module):
    """Soft bag-of-words tags of an image from its frozen embedding: an MLP
    with ReLU layers and one sigmoid per keyword (Kamper et al.'s tagger is
    4 x 2048 units on VGG-16 fc7 features).

    Arguments
    ---------
    input_dim : int
        Image embedding size.
    num_keywords : int
        Keyword vocabulary size W.
    hidden : sequence of int
        Units of each hidden layer.
    dropout : float
        Dropout after each hidden layer (the papers keep 75%).

    Example
    -------
    >>> tagger = VisualTagger(8, 5, hidden=(16, 16))
    >>> tagger(torch.randn(3, 8)).shape
    torch.Size([3, 5])
    """

    def __init__(
        self, input_dim, num_keywords, hidden=(512, 512), dropout=0.25
    ):
        super().__init__()
        layers, d_in = [], input_dim
        for d_out in hidden:
            layers += [nn.Linear(d_in, d_out), nn.ReLU(), nn.Dropout(dropout)]
            d_in = d_out
        layers.append(nn.Linear(d_in, num_keywords))
        self.mlp = nn.Sequential(*layers)

    def forward(self, embeddings):
        """Keyword logits ``[B, W]`` (sigmoid: tag probabilities)."""
        return self.mlp(embeddings)


def fit_tagger(
    embeddings,
    targets,
    hidden=(512, 512),
    dropout=0.25,
    epochs=100,
    lr=1e-3,
    batch_size=64,
    seed=0,
):
    """Trains a :class:`VisualTagger` on image embeddings and their
    caption bag-of-words (Adam, binary cross-entropy).

    Arguments
    ---------
    embeddings : torch.Tensor
        Frozen image embeddings ``[N, D]`` (the tagger trains on their
        device).
    targets : torch.Tensor
        Bag-of-words targets ``[N, W]`` in [0, 1], on the same device.
    hidden, dropout
        See :class:`VisualTagger`.
    epochs : int
        Passes over the images.
    lr : float
        Adam's learning rate.
    batch_size : int
        Images per update.
    seed : int
        Seeds the initialisation and the batch order.

    Returns
    -------
    VisualTagger
        In eval mode.

    Example
    -------
    >>> x = torch.randn(64, 4)
    >>> y = (x[:, :2] > 0).float()  # two "keywords" readable from x
    >>> tagger = fit_tagger(x, y, hidden=(16,), dropout=0.0, epochs=200)
    >>> accuracy = ((tagger(x) > 0).float() == y).float().mean()
    >>> bool(accuracy > 0.85)
    True
    """
    if embeddings.shape[0] != targets.shape[0]:
        raise ValueError(
            f"{embeddings.shape[0]} image embeddings but "
            f"{targets.shape[0]} target rows"
        )
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        tagger = VisualTagger(
            embeddings.shape[1], targets.shape[1], hidden, dropout
        ).to(embeddings.device)
    optimizer = torch.optim.Adam(tagger.parameters(), lr=lr)
    tagger.train()
    for _ in range(epochs):
        order = torch.randperm(len(embeddings), generator=generator)
        for batch in order.to(embeddings.device).split(batch_size):
            loss = F.binary_cross_entropy_with_logits(
                tagger(embeddings[batch]), targets[batch]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return tagger.eval()


@torch.no_grad()
def cross_fitted_tags(embeddings, targets, folds=2, seed=0, **options):
    """Tags of every image from a tagger that never saw that image's
    captions: the images are split into ``folds`` parts and each part is
    tagged by a :func:`fit_tagger` tagger trained on the others.

    Arguments
    ---------
    embeddings : torch.Tensor
        Image embeddings ``[N, D]``.
    targets : torch.Tensor
        Caption bag-of-words ``[N, W]``.
    folds : int
        Number of parts (at least 2).
    seed : int
        Seeds the split and the taggers.
    **options
        Passed to :func:`fit_tagger`.

    Returns
    -------
    torch.Tensor
        Tag probabilities ``[N, W]``.

    Example
    -------
    >>> x = torch.randn(400, 4)
    >>> y = (x[:, :2] > 0).float()
    >>> tags = cross_fitted_tags(x, y, hidden=(32,), dropout=0.0, epochs=50)
    >>> tags.shape, bool(((tags > 0.5).float() == y).float().mean() > 0.9)
    (torch.Size([400, 2]), True)
    """
    if folds < 2:
        raise ValueError(f"cross-fitting needs at least 2 folds, not {folds}")
    generator = torch.Generator().manual_seed(seed)
    fold_of = torch.randperm(len(embeddings), generator=generator) % folds
    fold_of = fold_of.to(embeddings.device)
    tags = torch.zeros(targets.shape, device=embeddings.device)
    for fold in range(folds):
        held_out = fold_of == fold
        with torch.enable_grad():
            tagger = fit_tagger(
                embeddings[~held_out],
                targets[~held_out],
                seed=seed + fold,
                **options,
            )
        tags[held_out] = torch.sigmoid(tagger(embeddings[held_out]))
    return tags


@torch.no_grad()
def prompt_embeddings(clip, keywords, templates=("{}",)):
    """A CLIP text embedding per keyword: the mean of its prompts'
    L2-normalised embeddings, normalised again (CLIP's prompt ensembling).

    Arguments
    ---------
    clip : speechbrain_vgs.lobes.clip.FrozenCLIP
        Its text encoder embeds the prompts.
    keywords : list of str
        Keywords in a language the CLIP reads.
    templates : sequence of str
        Prompt templates with one ``{}`` for the keyword.

    Returns
    -------
    torch.Tensor
        ``[W, embedding_dim]``, L2-normalised.

    Example
    -------
    >>> from speechbrain_vgs.lobes.clip import FrozenCLIP
    >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_clip
    >>> checkpoint, config = save_tiny_clip(getfixture("tmpdir"))
    >>> clip = FrozenCLIP("tiny-clip", None, checkpoint, config)
    >>> prompt_embeddings(clip, ["red", "dog"], ["a {}", "{}"]).shape
    torch.Size([2, 32])
    """
    for template in templates:
        if template.count("{}") != 1:
            raise ValueError(
                f"prompt template {template!r} needs exactly one '{{}}'"
            )
    prompts = [t.format(k) for k in keywords for t in templates]
    text = clip.encode_text(prompts).view(len(keywords), len(templates), -1)
    return F.normalize(text.mean(1), dim=-1)


class ZeroShotTagger(nn.Module):
    """Tags images with no training: CLIP's cosine similarity between an
    image and each keyword's prompts (:func:`prompt_embeddings`), turned
    into a probability by standardising each keyword's similarities over a
    set of unlabelled reference images (the training images) and a
    sigmoid: ``sigmoid((z - offset) / temperature)``. With the defaults an
    image whose similarity is 1.5 standard deviations above the keyword's
    mean gets probability 0.5.

    Arguments
    ---------
    clip : speechbrain_vgs.lobes.clip.FrozenCLIP
        The CLIP (any language its text tower reads).
    keywords : list of str
        The keyword vocabulary.
    templates : sequence of str
        Prompt templates (``"{}"``, ``"a photo of a {}"`` ...).
    offset : float
        Standardised similarity at probability 0.5.
    temperature : float
        Standard deviations per unit of logit.

    Example
    -------
    >>> from speechbrain_vgs.lobes.clip import FrozenCLIP
    >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_clip
    >>> checkpoint, config = save_tiny_clip(getfixture("tmpdir"))
    >>> clip = FrozenCLIP("tiny-clip", None, checkpoint, config)
    >>> tagger = ZeroShotTagger(clip, ["red", "blue", "circle"])
    >>> images = torch.nn.functional.normalize(torch.randn(10, 32), dim=-1)
    >>> tagger.calibrate(images)
    >>> tags = tagger(images)
    >>> tags.shape, bool(tags.min() >= 0 and tags.max() <= 1)
    (torch.Size([10, 3]), True)
    """

    def __init__(
        self, clip, keywords, templates=("{}",), offset=1.5, temperature=0.5
    ):
        super().__init__()
        self.register_buffer(
            "text", prompt_embeddings(clip, keywords, templates)
        )
        self.register_buffer("mean", torch.zeros(len(keywords)))
        self.register_buffer("std", torch.ones(len(keywords)))
        self.offset = offset
        self.temperature = temperature

    def calibrate(self, image_embeddings):
        """Sets each keyword's similarity mean and standard deviation from
        reference image embeddings ``[N, D]`` (no labels)."""
        sims = image_embeddings.float() @ self.text.T
        self.mean = sims.mean(0)
        self.std = sims.std(0).clamp(min=1e-6)

    def forward(self, image_embeddings):
        """Tag probabilities ``[B, W]`` of L2-normalised CLIP image
        embeddings ``[B, D]``."""
        z = (image_embeddings.float() @ self.text.T - self.mean) / self.std
        return torch.sigmoid((z - self.offset) / self.temperature)


class SpeechCLIPKeywordScorer(nn.Module):
    """Scores utterances for keywords with a trained SpeechCLIP: the cosine
    similarity of the utterance's CLIP-space embedding with the CLIP text
    embedding of the keyword's prompts. A SpeechCLIP trained on images and
    speech in one language (no text) thus spots keywords typed in the
    language CLIP reads. It is not trained further.

    Arguments
    ---------
    speechclip : speechbrain_vgs.lobes.speechclip.SpeechCLIP
        A trained model (with its frozen CLIP).
    templates : sequence of str
        Prompt templates (see :func:`prompt_embeddings`).
    branch : str, optional
        The embedding scored (``"parallel"`` or ``"cascaded"``; default
        the head's first branch).

    Example
    -------
    >>> from speechbrain_vgs.lobes.clip import FrozenCLIP
    >>> from speechbrain_vgs.lobes.speechclip import ParallelHead, SpeechCLIP
    >>> from speechbrain_vgs.lobes.ssl import SSLUpstream
    >>> from speechbrain_vgs.lobes.tiny_models import (
    ...     save_tiny_clip, save_tiny_hubert)
    >>> tmp = getfixture("tmpdir")
    >>> clip = FrozenCLIP("tiny-clip", None, *save_tiny_clip(tmp))
    >>> upstream = SSLUpstream(save_tiny_hubert(tmp / "hubert"))
    >>> model = SpeechCLIP(upstream, ParallelHead(32, 32, num_heads=2,
    ...                                           ffn_dim=64), clip)
    >>> scorer = SpeechCLIPKeywordScorer(model)
    >>> scorer.set_keywords(["red", "circle"])
    >>> scores = scorer(torch.randn(3, 3200), torch.ones(3))
    >>> scores.shape, bool(scores.abs().max() <= 1)
    (torch.Size([3, 2]), True)
    """

    def __init__(self, speechclip, templates=("{}",), branch=None):
        super().__init__()
        self.speechclip = speechclip.eval().requires_grad_(False)
        self.templates = tuple(templates)
        self.branch = branch or speechclip.branches[0]
        self.register_buffer("text", torch.zeros(0))

    def set_keywords(self, keywords):
        """Embeds the prompts of the keywords (in output order)."""
        clip = self.speechclip.clip
        self.text = prompt_embeddings(clip, keywords, self.templates).to(
            self.text.device
        )

    def forward(self, wavs, lengths):
        """Cosine scores ``[B, W]``."""
        if self.text.numel() == 0:
            raise RuntimeError("call set_keywords before scoring")
        output = self.speechclip(wavs, lengths)
        speech = F.normalize(getattr(output, self.branch).float(), dim=-1)
        return speech @ self.text.T
