"""HuBERT pre-training pieces: the frame-cluster targets and the
prediction head (Hsu et al. 2021).

* :class:`FrameClusters`: the targets, frame features at the model's
  frame rate, standardised, assigned to the nearest of ``num_clusters``
  k-means centroids (:func:`kmeans`, fitted once on a sample of the
  training speech by :func:`fit_targets`). First iteration
  (:class:`MFCCClusters`): 39-dimensional MFCCs (13 cepstra, deltas,
  double deltas); later iterations (:class:`HiddenStateClusters`): a
  hidden state of the previous iteration's model.
* :class:`ClusterPredictor`: HuBERT's head, a projection of the last
  layer scored by cosine similarity (temperature 0.1) against one learned
  embedding per cluster.

Masking is :func:`speechbrain_vgs.lobes.masking.span_mask`; the Brain that
trains with these is :class:`speechbrain_vgs.brains.hubert.HuBERTPretrainBrain`.

Authors
 * speechbrain-vgs developers 2026
"""

import torch
import torch.nn.functional as F
from speechbrain.lobes.features import MFCC
from torch import nn

from speechbrain_vgs.lobes.ssl import SSLUpstream
from speechbrain_vgs.progress import progress


def kmeans(points, num_clusters, iterations=20, seed=0):
    """Lloyd's k-means with k-means++ initialisation.

    Arguments
    ---------
    points : torch.Tensor
        ``[N, D]`` float.
    num_clusters : int
        Number of centroids (at most ``N``).
    iterations : int
        Lloyd iterations after the initialisation.
    seed : int
        Seed of the initialisation (the result is deterministic).

    Returns
    -------
    centroids : torch.Tensor
        ``[num_clusters, D]``; a centroid that loses all its points keeps
        its previous position.

    Example
    -------
    >>> points = torch.cat([torch.randn(50, 2) * 0.1,
    ...                     torch.randn(50, 2) * 0.1 + 5])
    >>> centroids = kmeans(points, 2)
    >>> sorted(round(c) for c in centroids[:, 0].tolist())
    [0, 5]
    """
    if not 0 < num_clusters <= len(points):
        raise ValueError(
            f"num_clusters must be in [1, {len(points)}], got {num_clusters}"
        )
    points = points.float()
    generator = torch.Generator().manual_seed(seed)
    first = torch.randint(len(points), (1,), generator=generator)
    centroids = points[first]
    nearest = torch.cdist(points, centroids).squeeze(1) ** 2
    for _ in range(num_clusters - 1):
        probs = nearest / nearest.sum() if nearest.sum() > 0 else None
        if probs is None:
            pick = torch.randint(len(points), (1,), generator=generator)
        else:
            pick = torch.multinomial(probs, 1, generator=generator)
        centroids = torch.cat([centroids, points[pick]])
        distance = torch.cdist(points, points[pick]).squeeze(1) ** 2
        nearest = torch.minimum(nearest, distance)
    for _ in range(iterations):
        assignment = torch.cdist(points, centroids).argmin(1)
        counts = torch.bincount(assignment, minlength=num_clusters)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, points)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None].float()
    return centroids


class FrameClusters(nn.Module):
    """HuBERT's targets: each frame's nearest k-means centroid of
    standardised frame features, one label per model frame.

    Subclasses define ``raw_features(wavs, lengths=None)``, the frame
    features ``[B, frames, dim]`` of waveforms ``[B, S]``, and ``offset``,
    the feature frame aligned with model frame 0.
    :meth:`fit` fits the standardisation and the centroids (:func:`kmeans`)
    on a sample of waveforms.

    Arguments
    ---------
    dim : int
        Feature dimension.
    num_clusters : int
        Number of clusters.
    """

    offset = 0

    def __init__(self, dim, num_clusters):
        super().__init__()
        self.num_clusters = num_clusters
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.register_buffer("centroids", torch.zeros(num_clusters, dim))
        self.fitted = False

    @torch.no_grad()
    def features(self, wavs, lengths=None):
        """Standardised frame features ``[B, frames, dim]``."""
        return (self.raw_features(wavs, lengths) - self.mean) / self.std

    @torch.no_grad()
    def fit(self, wavs, iterations=20, seed=0):
        """Fits the standardisation and the centroids on waveforms.

        Arguments
        ---------
        wavs : iterable of torch.Tensor
            Waveforms ``[S]`` (e.g. a sample of the training utterances).
        iterations : int
            k-means iterations.
        seed : int
            k-means seed.
        """
        frames = torch.cat(
            [
                self.raw_features(w.unsqueeze(0))[0]
                for w in progress(wavs, "k-means: features")
            ]
        )
        self.mean.copy_(frames.mean(0))
        self.std.copy_(frames.std(0).clamp_min(1e-5))
        frames = (frames - self.mean) / self.std
        self.centroids.copy_(
            kmeans(frames, self.num_clusters, iterations, seed)
        )
        self.fitted = True

    @torch.no_grad()
    def forward(self, wavs, num_frames, lengths=None):
        """Cluster labels ``[B, num_frames]`` (long) of waveforms ``[B, S]``
        (``lengths``: relative lengths, for features that see padding)."""
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__}: call fit() first")
        features = self.features(wavs, lengths)
        available = features.shape[1] - self.offset
        if available < num_frames:
            raise ValueError(
                f"{wavs.shape[1]} samples give {available} feature frames, "
                f"too few for {num_frames} model frames"
            )
        features = features[:, self.offset : self.offset + num_frames]
        centroids = self.centroids.expand(len(features), -1, -1)
        return torch.cdist(features, centroids).argmin(-1)


class MFCCClusters(FrameClusters):
    """HuBERT's first-iteration targets: k-means clusters of MFCC frames.

    MFCCs (13 cepstra from 23 mel bands, with deltas and double deltas:
    39 dimensions, 25 ms windows) are computed every ``frame_shift_ms``,
    standardised with the statistics of the fitting data, and each frame
    is labelled with its nearest centroid. Label ``t + 1`` is centred
    ``(t + 1) * shift`` samples into the audio, the closest to the centre
    of HuBERT frame ``t`` (whose receptive field starts at ``t * shift``),
    so ``forward`` returns labels ``1 .. T`` for ``T`` model frames.

    Arguments
    ---------
    num_clusters : int
        Number of clusters (HuBERT: 100).
    frame_shift_ms : float
        The model's frame shift (HuBERT: 20 ms).
    sample_rate : int
        Audio sample rate.

    Example
    -------
    >>> targets = MFCCClusters(num_clusters=4)
    >>> wavs = [torch.randn(8000) for _ in range(3)]
    >>> targets.fit(wavs)
    >>> labels = targets(torch.stack(wavs), num_frames=24)
    >>> labels.shape, bool((labels < 4).all())
    (torch.Size([3, 24]), True)
    """

    offset = 1

    def __init__(self, num_clusters=100, frame_shift_ms=20, sample_rate=16000):
        super().__init__(39, num_clusters)
        self.mfcc = MFCC(
            deltas=True,
            context=False,
            n_mfcc=13,
            n_mels=23,
            sample_rate=sample_rate,
            hop_length=frame_shift_ms,
        )

    def raw_features(self, wavs, lengths=None):
        """MFCC frames ``[B, frames, 39]`` (local: padding is not seen)."""
        return self.mfcc(wavs)


class HiddenStateClusters(FrameClusters):
    """HuBERT's later-iteration targets: k-means clusters of one hidden
    state of a previously pre-trained model (frozen), frame for frame.

    HuBERT Base's second iteration clusters the sixth of the twelve layers
    of the first-iteration model into 500 clusters.

    Arguments
    ---------
    source : str
        The previous model: a folder or hub id that
        :class:`speechbrain_vgs.lobes.ssl.SSLUpstream` loads (e.g. the
        export of the first iteration). Its frame rate must be the new
        model's.
    layer : int
        Hidden state clustered: 0 is the transformer's input, ``i`` the
        output of transformer layer ``i``.
    num_clusters : int
        Number of clusters.

    Example
    -------
    >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert
    >>> targets = HiddenStateClusters(
    ...     save_tiny_hubert(getfixture("tmpdir")), layer=1, num_clusters=4)
    >>> targets.fit([torch.randn(8000) for _ in range(3)])
    >>> labels = targets(torch.randn(2, 8000), num_frames=30,
    ...                  lengths=torch.tensor([1.0, 0.5]))
    >>> labels.shape, bool((labels < 4).all())
    (torch.Size([2, 30]), True)
    """

    def __init__(self, source, layer, num_clusters=500):
        upstream = SSLUpstream(source, freeze=True).requires_grad_(False)
        if not 0 <= layer < len(upstream.weights):
            raise ValueError(
                f"{source}: layer {layer} out of range, the model has "
                f"hidden states 0..{len(upstream.weights) - 1}"
            )
        super().__init__(upstream.dim, num_clusters)
        self.upstream = upstream
        self.layer = layer

    def raw_features(self, wavs, lengths=None):
        """The chosen hidden state ``[B, frames, dim]`` (padding-aware)."""
        states, _ = self.upstream.hidden_states(wavs, lengths)
        return states[self.layer]


def fit_targets(targets, dataset, num_utterances, seed=0):
    """Fits the targets (:class:`FrameClusters`) on a random sample of a
    speech dataset.

    Arguments
    ---------
    targets : FrameClusters
        The targets to fit (e.g. :class:`MFCCClusters`).
    dataset : DynamicItemDataset
        A dataset with the item ``sig`` (e.g. :func:`speech_dataset`).
    num_utterances : int
        Utterances drawn (all of them if the dataset is smaller).
    seed : int
        Seed of the draw and of the k-means.

    Example
    -------
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> data = {str(i): {"sig": torch.randn(4000)} for i in range(5)}
    >>> dataset = DynamicItemDataset(data, output_keys=["sig"])
    >>> targets = MFCCClusters(num_clusters=3)
    >>> fit_targets(targets, dataset, num_utterances=2)
    >>> targets.fitted
    True
    """
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randperm(len(dataset), generator=generator)
    with dataset.output_keys_as(["sig"]):
        wavs = [dataset[i]["sig"] for i in sample[:num_utterances].tolist()]
    targets.fit(wavs, seed=seed)


class ClusterPredictor(nn.Module):
    """HuBERT's prediction head: cosine similarity of projected frames to
    learned cluster embeddings, divided by a temperature.

    Arguments
    ---------
    input_dim : int
        Width of the model's last layer.
    num_clusters : int
        Number of target clusters.
    proj_dim : int
        Projection and embedding width (HuBERT Base: 256).
    temperature : float
        Logit temperature (HuBERT: 0.1).

    Example
    -------
    >>> head = ClusterPredictor(16, num_clusters=5, proj_dim=8)
    >>> logits = head(torch.randn(2, 7, 16))
    >>> logits.shape, bool(logits.abs().max() <= 10 + 1e-5)
    (torch.Size([2, 7, 5]), True)
    """

    def __init__(self, input_dim, num_clusters, proj_dim=256, temperature=0.1):
        super().__init__()
        self.proj = nn.Linear(input_dim, proj_dim)
        self.embeddings = nn.Parameter(torch.randn(num_clusters, proj_dim))
        self.temperature = temperature

    def forward(self, hidden):
        """Logits ``[B, T, num_clusters]`` of hidden states ``[B, T, D]``."""
        projected = F.normalize(self.proj(hidden), dim=-1)
        embeddings = F.normalize(self.embeddings, dim=-1)
        return projected @ embeddings.t() / self.temperature
