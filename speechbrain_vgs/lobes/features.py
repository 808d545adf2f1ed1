"""Log-mel filterbank features for the DAVEnet / ResDAVEnet audio branches.

The grounding models of Harwath et al. (2018) and Hsu et al. (2019, 2020)
take 40 log-mel bins computed with a 25 ms Hamming window every 10 ms from
16 kHz audio (lowest filter edge 20 Hz). The original loaders also removed
the DC offset and applied a 0.97 pre-emphasis; both act as (nearly) fixed
per-bin offsets in the log-mel domain, which the per-utterance mean
normalisation of :class:`LogMel` removes, so it does not repeat them.

:class:`LogMel` is the front end of the models trained here.
:class:`LibrosaLogMel` computes the features exactly as the released
DAVEnet-pytorch and ResDAVEnet-VQ loaders did (with librosa), for weights
converted from those releases (:mod:`speechbrain_vgs.converters`). What
differs from :class:`LogMel`: the DC offset removal and the 0.97
pre-emphasis, a symmetric Hamming window, reflection padding at the ends
of the centred STFT, Slaney's mel scale and area-normalised filters
(librosa's default) instead of SpeechBrain's HTK-scale triangles, and
decibels relative to each utterance's loudest mel bin, floored 80 dB
below it, with no mean and variance normalisation.

Authors
 * speechbrain-vgs developers 2026
"""

import math

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


class LibrosaLogMel(torch.nn.Module):
    """The log-mel front end of the released DAVEnet / ResDAVEnet-VQ code.

    For each utterance, on its own valid samples (so the features do not
    depend on what pads it in a batch): the mean is subtracted, a
    pre-emphasis ``y[t] - 0.97 y[t-1]`` applied (the first sample kept),
    then a centred STFT with a symmetric Hamming window (as
    ``scipy.signal.hamming``), reflection padding at both ends, and an FFT
    as long as the window; power spectra go through Slaney-scale,
    area-normalised mel filters (``librosa.filters.mel``'s default) and
    become decibels relative to the utterance's largest mel energy,
    floored ``top_db`` below it (``librosa.power_to_db(S, ref=np.max)``).
    Frames computed from padding are 0, the value the released loaders
    padded with. ``config`` holds the constructor's arguments.

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
    f_min : float
        Lowest filter edge (Hz); the highest is half the sampling rate.
    preemphasis : float
        Pre-emphasis coefficient.
    top_db : float
        Floor below the utterance's maximum (dB).

    Example
    -------
    >>> compute_feats = LibrosaLogMel()
    >>> feats = compute_feats(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
    >>> feats.shape
    torch.Size([2, 101, 40])
    >>> float(feats[0].max()), bool((feats >= -80).all())
    (0.0, True)
    >>> bool((feats[1, 51:] == 0).all())
    True
    """

    def __init__(
        self,
        n_mels=40,
        sample_rate=16000,
        win_length=25,
        hop_length=10,
        f_min=F_MIN_HZ,
        preemphasis=0.97,
        top_db=80.0,
    ):
        super().__init__()
        self.config = {
            "n_mels": n_mels,
            "sample_rate": sample_rate,
            "win_length": win_length,
            "hop_length": hop_length,
            "f_min": f_min,
            "preemphasis": preemphasis,
            "top_db": top_db,
        }
        self.preemphasis = preemphasis
        self.top_db = top_db
        self.n_fft = int(sample_rate * win_length / 1000)
        self.hop_samples = int(sample_rate * hop_length / 1000)
        window = torch.hamming_window(self.n_fft, periodic=False)
        self.register_buffer("window", window, persistent=False)
        filters = slaney_mel_filters(
            self.n_fft, n_mels, sample_rate, f_min, sample_rate / 2
        )
        self.register_buffer("mel_filters", filters, persistent=False)

    def forward(self, wavs, lengths=None):
        """Computes the features of each utterance of a padded batch.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[batch, samples]``, zero-padded.
        lengths : torch.Tensor, optional
            Relative lengths ``[batch]`` in (0, 1]; ``None`` means all full.

        Returns
        -------
        feats : torch.Tensor
            ``[batch, samples // hop + 1, n_mels]``.
        """
        batch, num_samples = wavs.shape
        if lengths is None:
            lengths = torch.ones(batch, device=wavs.device)
        valid = torch.round(lengths.float() * num_samples).long().tolist()
        feats = wavs.new_zeros(
            batch, num_samples // self.hop_samples + 1, len(self.mel_filters)
        )
        for index, count in enumerate(valid):
            utterance = self.utterance_features(wavs[index, :count].float())
            feats[index, : len(utterance)] = utterance.to(feats.dtype)
        return feats

    def utterance_features(self, signal):
        """Features ``[samples // hop + 1, n_mels]`` of one utterance
        ``[samples]`` (shorter than half a window, it is zero-padded to
        that first, which reflection padding needs)."""
        frames = len(signal) // self.hop_samples + 1
        signal = signal - signal.mean()
        signal = torch.cat(
            [signal[:1], signal[1:] - self.preemphasis * signal[:-1]]
        )
        shortfall = self.n_fft // 2 + 1 - len(signal)
        if shortfall > 0:
            signal = torch.nn.functional.pad(signal, (0, shortfall))
        spectrum = torch.stft(
            signal,
            self.n_fft,
            self.hop_samples,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        power = spectrum.abs().pow(2)[:, :frames]
        decibels = 10 * torch.log10((self.mel_filters @ power).clamp(min=1e-10))
        decibels = decibels - decibels.max()
        return decibels.clamp(min=-self.top_db).t()


def slaney_mel_filters(n_fft, n_mels, sample_rate, f_min, f_max):
    """Area-normalised triangular mel filters on Slaney's mel scale.

    What ``librosa.filters.mel`` computes by default (``htk=False``,
    ``norm="slaney"``): ``n_mels + 2`` edges evenly spaced in mels between
    ``f_min`` and ``f_max`` (a scale linear below 1 kHz and logarithmic
    above), a triangle over the FFT bins from each edge to the next but
    one, scaled by ``2 / (upper edge - lower edge)`` (in Hz).

    Arguments
    ---------
    n_fft : int
        FFT size (``n_fft // 2 + 1`` frequency bins from 0 to Nyquist).
    n_mels : int
        Number of filters.
    sample_rate : int
        Sampling rate (Hz).
    f_min : float
        Lowest edge (Hz).
    f_max : float
        Highest edge (Hz).

    Returns
    -------
    torch.Tensor
        ``[n_mels, n_fft // 2 + 1]``.

    Example
    -------
    >>> filters = slaney_mel_filters(400, 40, 16000, 20, 8000)
    >>> filters.shape
    torch.Size([40, 201])
    >>> filters[0].nonzero().flatten().tolist()  # 20-166 Hz: 40 ... 160 Hz
    [1, 2, 3, 4]
    """
    edges_mel = torch.linspace(
        _hz_to_slaney_mel(f_min),
        _hz_to_slaney_mel(f_max),
        n_mels + 2,
        dtype=torch.float64,
    )
    edges = _slaney_mel_to_hz(edges_mel)
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1).double()
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    triangles = torch.minimum(rising, falling).clamp(min=0)
    return (triangles * 2 / (upper - lower)).float()


SLANEY_HZ_PER_MEL = 200 / 3  # below 1 kHz
SLANEY_BREAK_HZ = 1000.0
SLANEY_LOG_STEP = math.log(6.4) / 27  # log-Hz per mel above 1 kHz


def _hz_to_slaney_mel(hz):
    """Slaney's mel value of a frequency (a float)."""
    if hz < SLANEY_BREAK_HZ:
        return hz / SLANEY_HZ_PER_MEL
    return (
        SLANEY_BREAK_HZ / SLANEY_HZ_PER_MEL
        + math.log(hz / SLANEY_BREAK_HZ) / SLANEY_LOG_STEP
    )


def _slaney_mel_to_hz(mels):
    """Frequencies (Hz) of Slaney mel values (a tensor)."""
    break_mel = SLANEY_BREAK_HZ / SLANEY_HZ_PER_MEL
    linear = mels * SLANEY_HZ_PER_MEL
    logarithmic = SLANEY_BREAK_HZ * torch.exp(
        SLANEY_LOG_STEP * (mels - break_mel)
    )
    return torch.where(mels < break_mel, linear, logarithmic)
