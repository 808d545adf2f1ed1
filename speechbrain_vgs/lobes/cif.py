"""Continuous integrate-and-fire (CIF, Dong & Xu 2020) as SpeechCLIP+ uses
it (Wang et al. 2024) to turn frames into a variable number of keywords.

A weight predictor gives every valid frame a weight ``alpha`` in (0, 1);
walking through the frames, the weights are summed, and each time the sum
crosses a multiple of ``threshold`` a vector fires: the sum of the frames
weighted by the part of their weight that falls between the previous
multiple and this one (a frame whose weight straddles a multiple is split
between the two vectors; a frame weighing more than ``threshold``, which
only scaling makes possible, fills several). An utterance of weight sum
``S`` fires ``floor(S / threshold)`` vectors.

SpeechCLIP+'s choices, read from the authors' code (``avssl/module/cif.py``
of ShampooWang/SpeechCLIP_plus) and followed here:

* the weight predictor: ``Conv1d(D, D, kernel 3, padding 1)``, dropout,
  ReLU, dropout, ``Linear(D, 1)``, sigmoid (both dropouts are
  ``nn.Dropout()``, p = 0.5, in the authors' code, whatever the config's
  ``conv_cif_dropout`` says); padded frames get weight 0, so they never
  fire nor add to a vector, and are zeroed before the convolution, so
  their content never reaches a valid frame's weight either;
* scaling: during the first ``scaling_batches`` training batches (5000
  optimizer steps in the authors' runs, of 50k) the weights of each
  utterance are multiplied so that they sum to ``threshold * target``
  (plus 1e-5), which fires exactly ``target`` vectors;
* the tail rule, out of training only: the weight left after the last
  fire (``S - threshold * floor(S / threshold)``) fires one more vector
  if it reaches ``tail_threshold`` (0.5), that vector being rescaled by
  ``threshold / tail`` as if its weight had been complete; in training
  the tail never fires;
* every utterance gives at least one vector (with ``S < threshold`` and no
  tail fire, the partial sum of all its frames) and at most ``max_fires``
  (75: CLIP's 77 tokens less the start and end tokens). One difference
  from the authors' code: there, an utterance with ``S < threshold``
  never fires its tail, so its one vector stays partial even when ``S``
  reaches ``tail_threshold``; here the tail rule holds for it too.

The quantity loss (:func:`quantity_loss`, weight 0.25 in SpeechCLIP+) is
the L1 distance between the unscaled weight sum and the target, which
teaches the predictor to fire about ``target`` times on its own.

Authors
 * speechbrain-vgs developers 2026
"""

from typing import NamedTuple

import torch
from torch import nn

from speechbrain_vgs.lobes.masking import length_mask


class CIFOutput(NamedTuple):
    """What :class:`CIF` computes for a padded batch.

    ``vectors`` ``[B, N, D]``: the fired vectors, zero beyond each item's
    ``num_fired`` ``[B]`` (long, at least 1, ``N = num_fired.max()``);
    ``weights`` ``[B, N, T]``: the weight of each frame in each vector
    (``vectors = weights @ frames``; zero on padded frames and rows);
    ``alpha`` ``[B, T]``: the per-frame weights integrated (scaled while
    scaling); ``weight_sum`` ``[B]``: the sum of the predicted, unscaled
    weights (the quantity of :func:`quantity_loss`).
    """

    vectors: torch.Tensor
    num_fired: torch.Tensor
    weights: torch.Tensor
    alpha: torch.Tensor
    weight_sum: torch.Tensor


def integrate_and_fire(frames, alpha, threshold=1.0, tail_threshold=None):
    """Integrates frames by their weights and fires a vector each time the
    running sum of the weights crosses a multiple of ``threshold``.

    Frame ``t`` (running sum ``c_{t-1}`` before it, ``c_t`` after it) gives
    vector ``k`` the part of its weight inside ``[k * threshold,
    (k + 1) * threshold)``: ``max(0, min(c_t, (k + 1) threshold) -
    max(c_{t-1}, k threshold))``.

    Arguments
    ---------
    frames : torch.Tensor
        ``[B, T, D]``.
    alpha : torch.Tensor
        Non-negative weights ``[B, T]`` (0 on padded frames).
    threshold : float
        The weight of one vector.
    tail_threshold : float, optional
        With a value, the weight left after the last fire fires one more
        vector, rescaled to a full weight, if it reaches this value;
        ``None``: the tail never fires.

    Returns
    -------
    vectors : torch.Tensor
        ``[B, N, D]``, zero beyond each item's count.
    num_fired : torch.Tensor
        ``[B]`` (long): ``floor(sum / threshold)``, plus one for a tail
        fire, at least 1.
    weights : torch.Tensor
        ``[B, N, T]``: ``vectors = weights @ frames``.

    Example
    -------
    >>> frames = torch.tensor([[[1.0], [2.0], [4.0], [8.0]]])
    >>> alpha = torch.tensor([[0.6, 0.6, 0.5, 0.2]])
    >>> vectors, num_fired, weights = integrate_and_fire(frames, alpha)
    >>> num_fired  # the sum, 1.9, crosses 1 once
    tensor([1])
    >>> weights  # frame 1 gives 0.4 to the first vector, 0.2 to the tail
    tensor([[[0.6000, 0.4000, 0.0000, 0.0000]]])
    >>> vectors
    tensor([[[1.4000]]])
    >>> vectors, num_fired, weights = integrate_and_fire(
    ...     frames, alpha, tail_threshold=0.5)
    >>> num_fired  # the tail, 0.9, fires too, rescaled by 1 / 0.9
    tensor([2])
    >>> weights[0, 1]
    tensor([0.0000, 0.2222, 0.5556, 0.2222])
    """
    after = alpha.cumsum(dim=1)
    before = after - alpha
    total = after[:, -1]
    complete = torch.floor(total / threshold).long()
    tail_fired = torch.zeros_like(complete, dtype=torch.bool)
    if tail_threshold is not None:
        tail_fired = total - complete * threshold >= tail_threshold
    num_fired = (complete + tail_fired.long()).clamp(min=1)
    size = int(num_fired.max())
    lower = threshold * torch.arange(size, device=alpha.device)
    lower = lower.to(alpha.dtype)[None, :, None]
    weights = (
        torch.minimum(after[:, None, :], lower + threshold)
        - torch.maximum(before[:, None, :], lower)
    ).clamp(min=0)
    rows = torch.arange(size, device=alpha.device)
    weights = weights * (rows[None, :] < num_fired[:, None])[..., None]
    if tail_fired.any():
        # a fired tail counts as a full weight
        tail_row = (rows[None, :] == complete[:, None]) & tail_fired[:, None]
        row_sum = weights.sum(dim=-1, keepdim=True).clamp(min=1e-12)
        scale = torch.where(tail_row[..., None], threshold / row_sum, 1.0)
        weights = weights * scale
    vectors = weights.to(frames.dtype) @ frames
    return vectors, num_fired, weights


def quantity_loss(weight_sum, targets):
    """CIF's quantity loss: the mean L1 distance between each utterance's
    sum of predicted weights and its target number of vectors.

    Arguments
    ---------
    weight_sum : torch.Tensor
        ``[B]`` (``CIFOutput.weight_sum``).
    targets : torch.Tensor
        ``[B]`` target counts.

    Returns
    -------
    torch.Tensor
        A scalar.

    Example
    -------
    >>> quantity_loss(torch.tensor([2.5, 4.0]), torch.tensor([3, 2]))
    tensor(1.2500)
    """
    return (
        (weight_sum.float() - targets.to(weight_sum.device).float())
        .abs()
        .mean()
    )


class CIF(nn.Module):
    """SpeechCLIP+'s continuous integrate-and-fire over a padded batch of
    frames (the choices in the module docstring).

    Arguments
    ---------
    input_dim : int
        Dimension of the frames.
    threshold : float
        The weight of one fired vector.
    kernel_size : int
        Width of the weight predictor's convolution (odd).
    dropout : float
        Dropout before and after the convolution's ReLU.
    scaling_batches : int
        Training batches whose weights are scaled to the target counts.
    tail_threshold : float
        The weight left after the last fire that fires one more vector,
        out of training.
    max_fires : int
        The most vectors an utterance fires.

    Example
    -------
    >>> cif = CIF(4, scaling_batches=1)
    >>> frames = torch.randn(2, 30, 4)
    >>> lengths = torch.tensor([1.0, 0.5])
    >>> out = cif(frames, lengths, targets=torch.tensor([3, 2]))
    >>> out.num_fired  # the first training batch is scaled to the targets
    tensor([3, 2])
    >>> out.vectors.shape, out.weights.shape
    (torch.Size([2, 3, 4]), torch.Size([2, 3, 30]))
    >>> bool((out.alpha[1, 15:] == 0).all())  # padding never fires
    True
    >>> cif.training_batches
    tensor(1)
    """

    def __init__(
        self,
        input_dim,
        threshold=1.0,
        kernel_size=3,
        dropout=0.5,
        scaling_batches=5000,
        tail_threshold=0.5,
        max_fires=75,
    ):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.threshold = threshold
        self.scaling_batches = scaling_batches
        self.tail_threshold = tail_threshold
        self.max_fires = max_fires
        self.conv = nn.Conv1d(
            input_dim, input_dim, kernel_size, padding=kernel_size // 2
        )
        self.weight_predictor = nn.Sequential(
            nn.Dropout(dropout),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(input_dim, 1),
            nn.Sigmoid(),
        )
        # training batches seen so far (saved, so a resumed run stops
        # scaling at the same batch)
        self.register_buffer(
            "training_batches", torch.zeros((), dtype=torch.long)
        )

    @property
    def scaling(self):
        """Whether the next training batch is scaled to its targets."""
        return (
            self.training and int(self.training_batches) < self.scaling_batches
        )

    def forward(self, frames, lengths=None, targets=None):
        """Fires a variable number of vectors per utterance.

        Arguments
        ---------
        frames : torch.Tensor
            ``[B, T, D]``.
        lengths : torch.Tensor, optional
            Relative lengths ``[B]``; ``None``: all frames are valid.
        targets : torch.Tensor, optional
            Target counts ``[B]``, to which the weights are scaled while
            :attr:`scaling` (ignored otherwise).

        Returns
        -------
        CIFOutput
        """
        batch, num_frames, _ = frames.shape
        if lengths is None:
            valid = frames.new_ones(batch, num_frames, dtype=torch.bool)
        else:
            valid = length_mask(lengths.to(frames.device), num_frames)
        frames = frames * valid[..., None]
        hidden = self.conv(frames.transpose(1, 2)).transpose(1, 2)
        alpha = self.weight_predictor(hidden).squeeze(-1).float() * valid
        weight_sum = alpha.sum(dim=1)
        if self.scaling and targets is not None:
            wanted = self.threshold * targets.to(alpha) + 1e-5
            alpha = alpha * (wanted / weight_sum.clamp(min=1e-12))[:, None]
        if self.training:
            self.training_batches += 1
        tail = None if self.training else self.tail_threshold
        vectors, num_fired, weights = integrate_and_fire(
            frames, alpha, self.threshold, tail
        )
        if num_fired.max() > self.max_fires:
            num_fired = num_fired.clamp(max=self.max_fires)
            vectors = vectors[:, : self.max_fires]
            weights = weights[:, : self.max_fires]
        return CIFOutput(vectors, num_fired, weights, alpha, weight_sum)
