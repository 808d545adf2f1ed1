"""Contrastive and margin losses over an utterance x image similarity matrix.

Every loss takes ``sim`` [B, B]: row i is utterance i, column j is image j,
and the positive of row i is column i. Captions of one image can share a
batch (5 per image in Flickr8k and SpokenCOCO); pass ``image_ids`` [B] and
pairs (i, j), i != j, with the same image id are never treated as negatives.

- :class:`InfoNCE`: symmetric cross-entropy over temperature-scaled
  similarities (CLIP, SpeechCLIP).
- :class:`TripletMarginLoss`: hinge on sampled impostors, optionally plus
  semi-hard negatives (DAVEnet, ResDAVEnet).
- :class:`MaskedMarginSoftmax`: softmax with a margin on the positives
  (Ilharco et al. 2019, as in FaST-VGS).

Authors
 * speechbrain-vgs developers 2026
"""

import math

import torch
import torch.nn.functional as F


def negatives_mask(image_ids, size, device=None):
    """Which pairs (i, j) of a batch are negatives of each other.

    Arguments
    ---------
    image_ids : torch.Tensor or None
        Image id of each item [B] (long); None when every item has its own
        image.
    size : int
        The batch size B.
    device : torch.device
        Where to build the mask.

    Returns
    -------
    torch.Tensor
        Bool [B, B], True where i and j show different images (so never on
        the diagonal).

    Example
    -------
    >>> negatives_mask(torch.tensor([7, 7, 2]), 3)
    tensor([[False, False,  True],
            [False, False,  True],
            [ True,  True, False]])
    """
    if image_ids is None:
        return ~torch.eye(size, dtype=torch.bool, device=device)
    image_ids = torch.as_tensor(image_ids, device=device)
    if image_ids.shape != (size,):
        raise ValueError(
            f"image_ids has shape {tuple(image_ids.shape)}, expected ({size},)"
        )
    return image_ids[:, None] != image_ids[None, :]


def _check_square(sim):
    if sim.dim() != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(
            f"sim must be a square [B, B] matrix, got {tuple(sim.shape)}"
        )


def _mask_same_image(logits, image_ids):
    """Sets same-image off-diagonal logits to -inf (out of every softmax)."""
    size = logits.shape[0]
    eye = torch.eye(size, dtype=torch.bool, device=logits.device)
    same_image = ~negatives_mask(image_ids, size, logits.device) & ~eye
    return logits.masked_fill(same_image, float("-inf"))


def _cross_entropy_both_ways(logits):
    """Cross-entropy of rows and of columns with the diagonal as target."""
    target = torch.arange(logits.shape[0], device=logits.device)
    rows = F.cross_entropy(logits, target)
    columns = F.cross_entropy(logits.t(), target)
    return rows, columns


class InfoNCE(torch.nn.Module):
    """Symmetric InfoNCE: the mean of the speech->image and image->speech
    cross-entropies over ``sim / temperature``.

    The temperature is kept as a log logit scale, ``log(1 / temperature)``
    (CLIP style); with ``learnable=True`` it is a trained parameter, and the
    scale used is clamped to ``max_logit_scale``. Other captions of the same
    image are removed from both denominators. Computed in float32.

    Arguments
    ---------
    temperature : float
        Initial (or fixed) temperature.
    learnable : bool
        Whether the temperature is trained.
    max_logit_scale : float
        Upper bound of ``1 / temperature``.

    Example
    -------
    >>> loss = InfoNCE(temperature=1.0)
    >>> sim = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> loss(sim)  # -log(e / (e + 1))
    tensor(0.3133)
    >>> loss(sim, image_ids=torch.tensor([4, 4]))  # nothing left to contrast
    tensor(0.)
    """

    def __init__(
        self, temperature=0.07, learnable=False, max_logit_scale=100.0
    ):
        super().__init__()
        log_logit_scale = torch.tensor(math.log(1.0 / temperature))
        if learnable:
            self.log_logit_scale = torch.nn.Parameter(log_logit_scale)
        else:
            self.register_buffer(
                "log_logit_scale", log_logit_scale, persistent=False
            )
        self.max_log_logit_scale = math.log(max_logit_scale)

    def logit_scale(self):
        """The scale ``1 / temperature`` in use (after clamping)."""
        return self.log_logit_scale.clamp(max=self.max_log_logit_scale).exp()

    def forward(self, sim, image_ids=None):
        """Computes the loss.

        Arguments
        ---------
        sim : torch.Tensor
            Similarities [B, B], rows utterances, columns images.
        image_ids : torch.Tensor
            Image id of each pair [B] (optional).

        Returns
        -------
        torch.Tensor
            The scalar loss.
        """
        _check_square(sim)
        logits = _mask_same_image(sim.float() * self.logit_scale(), image_ids)
        rows, columns = _cross_entropy_both_ways(logits)
        return (rows + columns) / 2


def sample_impostors(negatives):
    """Draws one negative column per row, uniformly, with torch's global RNG.

    Arguments
    ---------
    negatives : torch.Tensor
        Bool [B, B], True where column j may serve as impostor for row i.

    Returns
    -------
    index : torch.Tensor
        The sampled column of each row [B] (long); arbitrary where the row
        has no negative.
    found : torch.Tensor
        Bool [B], whether the row has any negative.

    Example
    -------
    >>> negatives = torch.tensor([[False, True], [False, False]])
    >>> index, found = sample_impostors(negatives)
    >>> index[0], found
    (tensor(1), tensor([ True, False]))
    """
    draws = torch.rand(negatives.shape, device=negatives.device)
    draws = draws.masked_fill(~negatives, -1.0)
    return draws.argmax(dim=1), negatives.any(dim=1)


def _sampled_hinge(sim, negatives, margin):
    """Per-row hinge against one sampled impostor column."""
    index, found = sample_impostors(negatives)
    impostor = sim.gather(1, index[:, None]).squeeze(1)
    hinge = F.relu(margin + impostor - sim.diagonal())
    return torch.where(found, hinge, torch.zeros_like(hinge))


def _semi_hard_hinge(sim, negatives, margin):
    """Per-row hinge against the most similar negative scoring below the
    positive (rows without such a negative contribute 0)."""
    positive = sim.diagonal()
    below = negatives & (sim < positive[:, None])
    hardest = sim.masked_fill(~below, float("-inf")).max(dim=1).values
    hinge = F.relu(margin + hardest - positive)
    return torch.where(below.any(dim=1), hinge, torch.zeros_like(hinge))


class TripletMarginLoss(torch.nn.Module):
    """Triplet hinge with sampled impostors in both directions (DAVEnet).

    For each pair i, one impostor image (a column) is drawn for utterance i
    and one impostor utterance (a row) for image i, uniformly among the
    items of other images, and ``relu(margin + s_impostor - s_positive)``
    is applied to each. With ``semi_hard=True`` (ResDAVEnet) the same hinge
    is added for the semi-hard negative of each direction: the most similar
    negative that still scores below the positive (pairs without one add
    nothing; the original code used an impostor score of 0 there). The
    result is the sum of the terms averaged over the batch.

    Arguments
    ---------
    margin : float
        The hinge margin.
    semi_hard : bool
        Whether to add the semi-hard negative terms.

    Example
    -------
    >>> loss = TripletMarginLoss(margin=1.0)
    >>> sim = torch.tensor([[2.0, 1.5, 1.5], [1.5, 2.0, 1.5], [1.5, 1.5, 2.0]])
    >>> loss(sim)  # 0.5 per direction, whichever impostors are drawn
    tensor(1.)
    """

    def __init__(self, margin=1.0, semi_hard=False):
        super().__init__()
        self.margin = margin
        self.semi_hard = semi_hard

    def forward(self, sim, image_ids=None):
        """Computes the loss.

        Arguments
        ---------
        sim : torch.Tensor
            Similarities [B, B], rows utterances, columns images.
        image_ids : torch.Tensor
            Image id of each pair [B] (optional).

        Returns
        -------
        torch.Tensor
            The scalar loss.
        """
        _check_square(sim)
        negatives = negatives_mask(image_ids, sim.shape[0], sim.device)
        terms = _sampled_hinge(sim, negatives, self.margin)
        terms = terms + _sampled_hinge(sim.t(), negatives.t(), self.margin)
        if self.semi_hard:
            terms = terms + _semi_hard_hinge(sim, negatives, self.margin)
            terms = terms + _semi_hard_hinge(
                sim.t(), negatives.t(), self.margin
            )
        return terms.mean()


class MaskedMarginSoftmax(torch.nn.Module):
    """Masked margin softmax loss (Ilharco et al. 2019; FaST-VGS).

    The margin is subtracted from the positives (the diagonal), other
    captions of the same image are masked out, and the cross-entropies of
    the speech->image and image->speech directions are summed (as in
    FaST-VGS). No temperature: similarities are used as logits.

    Arguments
    ---------
    margin : float
        Subtracted from each positive similarity.

    Example
    -------
    >>> loss = MaskedMarginSoftmax(margin=1.0)
    >>> sim = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> loss(sim)  # the margin cancels the gap: 2 * log(2)
    tensor(1.3863)
    """

    def __init__(self, margin=1.0):
        super().__init__()
        self.margin = margin

    def forward(self, sim, image_ids=None):
        """Computes the loss.

        Arguments
        ---------
        sim : torch.Tensor
            Similarities [B, B], rows utterances, columns images.
        image_ids : torch.Tensor
            Image id of each pair [B] (optional).

        Returns
        -------
        torch.Tensor
            The scalar loss.
        """
        _check_square(sim)
        eye = torch.eye(sim.shape[0], device=sim.device)
        logits = _mask_same_image(sim.float() - self.margin * eye, image_ids)
        rows, columns = _cross_entropy_both_ways(logits)
        return rows + columns
