"""Log-mel filterbank features for the DAVEnet / ResDAVEnet audio branches.

The grounding models of Harwath et al. (2018) and Hsu et al. (2019, 2020)
take 40 log-mel bins computed with a 25 ms Hamming window every 10 ms from
16 kHz audio (lowest filter edge 20 Hz). The original loaders also removed
the DC offset and applied a 0.97 pre-emphasis; both act as (nearly) fixed
per-bin offsets in the log-mel domain, which the per-utterance mean
normalisation below removes, so they are not repeated here.

Authors
 * speechbrain-vgs developers 2026
"""

import torch
from speechbrain.lobes.features import Fbank

F_MIN_HZ = 20


class LogMel(torch.nn.Module):
    """40-dim log-mel features with padding-aware utterance normalisation.

    Built on :class:`speechbrain.lobes.features.Fbank` (centred STFT, so a
    signal of ``S`` samples gives ``S // hop + 1`` frames). With
    ``normalize=True`` every mel bin of every utterance is shifted and
    scaled to zero mean and unit variance using only the utterance's own
    frames; frames computed from padding are set to 0. The valid frame
    count is derived from the number of valid *samples*, so the features of
    an utterance are the same whether it is alone or zero-padded in a batch.
    ``config`` holds the constructor's arguments.

    Arguments
    ---------
    n_mels : int
        Number of mel filters.
    sample_rate : int
        Sampling rate of the input waveforms (Hz).
    win_length : float
        Window length in ms (the FFT size equals the window).
    hop_length : float
        Hop length in ms.
    normalize : bool
        Whether to apply the per-utterance mean/variance normalisation.

    Example
    -------
    >>> import torch
    >>> compute_feats = LogMel()
    >>> wavs = torch.randn(2, 16000)
    >>> feats = compute_feats(wavs, torch.tensor([1.0, 0.5]))
    >>> feats.shape
    torch.Size([2, 101, 40])
    >>> bool((feats[1, 51:] == 0).all())
    True
    """

    def __init__(
        self,
        n_mels=40,
        sample_rate=16000,
        win_length=25,
        hop_length=10,
        normalize=True,
    ):
        super().__init__()
        self.config = {
            "n_mels": n_mels,
            "sample_rate": sample_rate,
            "win_length": win_length,
            "hop_length": hop_length,
            "normalize": normalize,
        }
        self.normalize = normalize
        self.hop_samples = int(round(sample_rate * hop_length / 1000))
        self.fbank = Fbank(
            sample_rate=sample_rate,
            n_fft=int(round(sample_rate * win_length / 1000)),
            n_mels=n_mels,
            f_min=F_MIN_HZ,
            win_length=win_length,
            hop_length=hop_length,
        )

    def forward(self, wavs, lengths=None):
        """Computes the features.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[batch, samples]``, zero-padded.
        lengths : torch.Tensor, optional
            Relative lengths ``[batch]`` in (0, 1]; ``None`` means all full.

        Returns
        -------
        feats : torch.Tensor
            ``[batch, frames, n_mels]``.
        """
        feats = self.fbank(wavs)
        if not self.normalize:
            return feats
        if lengths is None:
            lengths = torch.ones(wavs.shape[0], device=wavs.device)
        mask = self.frame_mask(lengths, wavs.shape[1], feats.shape[1])
        mask = mask.unsqueeze(-1).to(feats.dtype)
        count = mask.sum(dim=1, keepdim=True)
        mean = (feats * mask).sum(dim=1, keepdim=True) / count
        centred = (feats - mean) * mask
        var = centred.pow(2).sum(dim=1, keepdim=True) / count
        return centred / torch.sqrt(var + 1e-5)

    def frame_mask(self, lengths, num_samples, num_frames):
        """Marks the frames computed from valid samples.

        Arguments
        ---------
        lengths : torch.Tensor
            Relative lengths ``[batch]``.
        num_samples : int
            Padded number of samples.
        num_frames : int
            Number of frames of the padded batch.

        Returns
        -------
        mask : torch.Tensor
            Boolean ``[batch, num_frames]``.

        Example
        -------
        >>> LogMel().frame_mask(torch.tensor([1.0, 0.5]), 800, 6)
        tensor([[ True,  True,  True,  True,  True,  True],
                [ True,  True,  True, False, False, False]])
        """
        valid_samples = torch.round(lengths.float() * num_samples).long()
        valid_frames = valid_samples.div(
            self.hop_samples, rounding_mode="floor"
        )
        valid_frames = (valid_frames + 1).clamp(max=num_frames)
        frames = torch.arange(num_frames, device=valid_frames.device)
        return frames.unsqueeze(0) < valid_frames.unsqueeze(1)
