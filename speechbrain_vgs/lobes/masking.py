"""Masks over padded batches of frames.

* :func:`length_mask`: the valid frames of a padded batch, from
  SpeechBrain's relative lengths (``round(length * T)`` frames, at least
  one).
* :func:`span_mask`: HuBERT/wav2vec 2.0 time masking, spans of frames over
  the valid frames only.

Authors
 * speechbrain-vgs developers 2026
"""

import torch


def length_mask(lengths, max_len):
    """Marks the valid frames of a padded batch.

    A sequence of relative length ``l`` has ``round(l * max_len)`` valid
    frames, at least one.

    Arguments
    ---------
    lengths : torch.Tensor
        Relative lengths ``[B]`` in (0, 1].
    max_len : int
        Number of frames of the padded batch.

    Returns
    -------
    mask : torch.Tensor
        Boolean ``[B, max_len]``, True on valid frames.

    Example
    -------
    >>> length_mask(torch.tensor([1.0, 0.5, 0.01]), 4)
    tensor([[ True,  True,  True,  True],
            [ True,  True, False, False],
            [ True, False, False, False]])
    """
    valid = torch.round(lengths.float() * max_len).long().clamp(1, max_len)
    frames = torch.arange(max_len, device=lengths.device)
    return frames.unsqueeze(0) < valid.unsqueeze(1)


def span_mask(frames, max_frames, mask_prob=0.8, span=10, generator=None):
    """HuBERT's time mask: random spans over each utterance's valid frames.

    Each utterance of ``n`` valid frames gets ``int(mask_prob * n / span +
    u)`` spans (``u`` uniform in [0, 1), at least one), each of ``span``
    frames (fewer if ``n < span``) starting anywhere they fit; spans may
    overlap. Padded frames are never masked.

    Arguments
    ---------
    frames : torch.Tensor
        Valid frames per utterance ``[B]``.
    max_frames : int
        Padded length ``T``.
    mask_prob : float
        Share of the valid frames the spans would cover if none overlapped
        (``mask_prob / span`` of the frames start a span).
    span : int
        Span length in frames.
    generator : torch.Generator, optional
        Random source.

    Returns
    -------
    mask : torch.Tensor
        Boolean ``[B, T]``, True on masked frames.

    Example
    -------
    >>> mask = span_mask(torch.tensor([100, 30]), 100)
    >>> mask.shape, bool(mask[1, 30:].any())
    (torch.Size([2, 100]), False)
    >>> 0.2 < mask[0].float().mean().item() < 0.9
    True
    """
    mask = torch.zeros(len(frames), max_frames, dtype=torch.bool)
    for b, n in enumerate(frames.tolist()):
        length = min(span, n)
        u = torch.rand((), generator=generator).item()
        count = max(1, int(mask_prob * n / span + u))
        starts = torch.randint(n - length + 1, (count,), generator=generator)
        for start in starts.tolist():
            mask[b, start : start + length] = True
    return mask.to(frames.device)
