"""Audio-image similarities of the DAVEnet / ResDAVEnet models.

Audio is given as frames ``[Na, T, D]`` with SpeechBrain relative lengths
``[Na]`` (or already pooled as ``[Na, D]``), images as channels-last maps
``[Ni, H, W, D]`` (or pooled as ``[Ni, D]``). Every function returns the
``[Na, Ni]`` matrix of scores of all audio-image pairs, and padded frames
(beyond ``round(length * T)``) never count.

The matchmap of one pair is ``M[h, w, t] = <I[h, w], A[t]>`` (Harwath et
al. 2018), a plain dot product; the matchmap similarities are

* SISA: mean over pixels and valid frames of ``M``. As ``M`` is bilinear
  this equals the dot product of the pooled embeddings, which is how it is
  computed.
* MISA: for each valid frame the best pixel, averaged over frames.
* SIMA: for each pixel the best valid frame, averaged over pixels.

ResDAVEnet(-VQ) (Hsu et al.) scores the dot product of the valid-frame mean
of the audio and the spatial mean of the image, without normalisation
("pooled"; numerically the same as SISA).

Authors
 * speechbrain-vgs developers 2026
"""

import torch

from speechbrain_vgs.lobes.masking import length_mask

MODES = ("SISA", "MISA", "SIMA", "pooled", "cosine")
MAX_CHUNK_ELEMENTS = 2**25


def masked_mean(x, lengths):
    """Averages frames over their valid part.

    Arguments
    ---------
    x : torch.Tensor
        Frames ``[B, T, D]``.
    lengths : torch.Tensor, optional
        Relative lengths ``[B]``; ``None`` means all frames are valid.

    Returns
    -------
    mean : torch.Tensor
        ``[B, D]``.

    Example
    -------
    >>> x = torch.tensor([[[1.0], [3.0], [100.0], [100.0]]])
    >>> masked_mean(x, torch.tensor([0.5]))
    tensor([[2.]])
    """
    if lengths is None:
        return x.mean(dim=1)
    mask = length_mask(lengths, x.shape[1]).unsqueeze(-1)
    total = x.masked_fill(~mask, 0).sum(dim=1)
    return total / mask.sum(dim=1).to(x.dtype)


def matchmap(audio_frames, image_map):
    """Dot products of every pixel with every audio frame.

    Arguments
    ---------
    audio_frames : torch.Tensor
        ``[T, D]`` (only the valid frames of one utterance).
    image_map : torch.Tensor
        ``[H, W, D]``.

    Returns
    -------
    matchmap : torch.Tensor
        ``[H, W, T]``.

    Example
    -------
    >>> matchmap(torch.ones(5, 8), torch.ones(3, 2, 8)).shape
    torch.Size([3, 2, 5])
    """
    return torch.einsum("hwd,td->hwt", image_map, audio_frames)


def matchmap_similarity(
    audio, audio_lens, image, mode="MISA", max_chunk_elements=None
):
    """Matchmap similarity (SISA, MISA or SIMA) of all audio-image pairs.

    MISA and SIMA compute the frame-pixel dot products of a chunk of images
    at a time so that at most ``max_chunk_elements`` scores exist at once
    (an ``[Na, T, chunk, H*W]`` tensor).

    Arguments
    ---------
    audio : torch.Tensor
        Frames ``[Na, T, D]`` (or pooled ``[Na, D]``, one frame).
    audio_lens : torch.Tensor, optional
        Relative lengths ``[Na]``; ``None`` means all frames are valid.
    image : torch.Tensor
        Maps ``[Ni, H, W, D]`` (or pooled ``[Ni, D]``, one pixel).
    mode : str
        "SISA", "MISA" or "SIMA".
    max_chunk_elements : int, optional
        Bound on the number of scores computed at once
        (default ``MAX_CHUNK_ELEMENTS``).

    Returns
    -------
    scores : torch.Tensor
        ``[Na, Ni]``.

    Example
    -------
    >>> audio, image = torch.randn(3, 10, 8), torch.randn(4, 2, 2, 8)
    >>> lens = torch.tensor([1.0, 0.5, 0.8])
    >>> matchmap_similarity(audio, lens, image, "SIMA").shape
    torch.Size([3, 4])
    """
    if mode == "SISA":
        return pooled_similarity(audio, audio_lens, image)
    if mode not in ("MISA", "SIMA"):
        raise ValueError(
            f"unknown matchmap similarity {mode!r}; use SISA, MISA or SIMA"
        )
    audio = _as_frames(audio)
    image = _as_pixels(image)
    num_audio, num_frames, dim = audio.shape
    num_images, num_pixels, _ = image.shape
    if audio_lens is None:
        mask = torch.ones(num_audio, num_frames, dtype=torch.bool)
        mask = mask.to(audio.device)
    else:
        mask = length_mask(audio_lens, num_frames)
    if max_chunk_elements is None:
        max_chunk_elements = MAX_CHUNK_ELEMENTS
    valid = mask.unsqueeze(-1)
    chunk = max(1, max_chunk_elements // (num_audio * num_frames * num_pixels))
    flat_audio = audio.reshape(num_audio * num_frames, dim)
    scores = []
    for start in range(0, num_images, chunk):
        pixels = image[start : start + chunk]
        size = pixels.shape[0]
        dots = flat_audio @ pixels.reshape(size * num_pixels, dim).t()
        dots = dots.view(num_audio, num_frames, size, num_pixels)
        if mode == "MISA":
            best = dots.max(dim=3).values.masked_fill(~valid, 0)
            scores.append(best.sum(dim=1) / valid.sum(dim=1).to(best.dtype))
        else:
            dots = dots.masked_fill(~mask[:, :, None, None], float("-inf"))
            scores.append(dots.max(dim=1).values.mean(dim=2))
    return torch.cat(scores, dim=1)


def pooled_similarity(audio, audio_lens, image):
    """Dot product of the mean valid audio frame and the mean pixel.

    As in ResDAVEnet-VQ, the embeddings are not normalised.

    Arguments
    ---------
    audio : torch.Tensor
        Frames ``[Na, T, D]`` or pooled ``[Na, D]``.
    audio_lens : torch.Tensor, optional
        Relative lengths ``[Na]`` (ignored for pooled audio).
    image : torch.Tensor
        Maps ``[Ni, H, W, D]`` or pooled ``[Ni, D]``.

    Returns
    -------
    scores : torch.Tensor
        ``[Na, Ni]``.

    Example
    -------
    >>> audio = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]]])
    >>> image = torch.tensor([[1.0, 10.0]])
    >>> pooled_similarity(audio, torch.tensor([2 / 3]), image)
    tensor([[12.]])
    """
    audio, image = _pool(audio, audio_lens, image)
    return audio @ image.t()


def cosine_similarity(audio, audio_lens, image):
    """Cosine of the mean valid audio frame and the mean pixel (CLIP style;
    pair it with :class:`speechbrain_vgs.losses.InfoNCE`).

    Arguments
    ---------
    audio : torch.Tensor
        Frames ``[Na, T, D]`` or pooled ``[Na, D]``.
    audio_lens : torch.Tensor, optional
        Relative lengths ``[Na]`` (ignored for pooled audio).
    image : torch.Tensor
        Maps ``[Ni, H, W, D]`` or pooled ``[Ni, D]``.

    Returns
    -------
    scores : torch.Tensor
        ``[Na, Ni]`` in [-1, 1].

    Example
    -------
    >>> audio = torch.tensor([[[3.0, 0.0], [0.0, 3.0], [9.0, 9.0]]])
    >>> image = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    >>> cosine_similarity(audio, torch.tensor([2 / 3]), image)
    tensor([[0.7071, 1.0000]])
    """
    audio, image = _pool(audio, audio_lens, image)
    audio = torch.nn.functional.normalize(audio, dim=-1)
    image = torch.nn.functional.normalize(image, dim=-1)
    return audio @ image.t()


class Similarity(torch.nn.Module):
    """Chooses a similarity by name, for use in hyperparameter files.

    Arguments
    ---------
    mode : str
        One of "SISA", "MISA", "SIMA" (matchmap similarities), "pooled"
        (dot product of pooled embeddings) or "cosine" (their cosine).

    Example
    -------
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> hparams = load_hyperpyyaml('''
    ... similarity: !new:speechbrain_vgs.similarity.Similarity
    ...     mode: SIMA
    ... ''')
    >>> audio, image = torch.randn(2, 6, 4), torch.randn(3, 2, 2, 4)
    >>> hparams["similarity"](audio, torch.tensor([1.0, 0.5]), image).shape
    torch.Size([2, 3])
    """

    def __init__(self, mode="MISA"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(
                f"unknown similarity mode {mode!r}; choose one of {MODES}"
            )
        self.mode = mode

    def forward(self, audio, audio_lens, image):
        """Scores all audio-image pairs.

        Arguments
        ---------
        audio : torch.Tensor
            Frames ``[Na, T, D]`` or pooled ``[Na, D]``.
        audio_lens : torch.Tensor, optional
            Relative lengths ``[Na]``.
        image : torch.Tensor
            Maps ``[Ni, H, W, D]`` or pooled ``[Ni, D]``.

        Returns
        -------
        scores : torch.Tensor
            ``[Na, Ni]``.
        """
        if self.mode == "pooled":
            return pooled_similarity(audio, audio_lens, image)
        if self.mode == "cosine":
            return cosine_similarity(audio, audio_lens, image)
        return matchmap_similarity(audio, audio_lens, image, self.mode)

    def extra_repr(self):
        """Shows the mode when the module is printed."""
        return f"mode={self.mode}"


def _pool(audio, audio_lens, image):
    """Mean valid audio frame ``[Na, D]`` and mean pixel ``[Ni, D]``."""
    if audio.dim() == 3:
        audio = masked_mean(audio, audio_lens)
    return audio, _as_pixels(image).mean(dim=1)


def _as_frames(audio):
    """Views pooled audio ``[Na, D]`` as one frame ``[Na, 1, D]``."""
    return audio.unsqueeze(1) if audio.dim() == 2 else audio


def _as_pixels(image):
    """Flattens maps ``[Ni, H, W, D]`` (or pooled ``[Ni, D]``) to pixels."""
    if image.dim() == 2:
        return image.unsqueeze(1)
    return image.reshape(image.shape[0], -1, image.shape[-1])
