"""SynthVGS test conditions, after Aurora-4: noise, channel, both.

The test split is stored four times, utterance for utterance:

- **A** clean: the synthesised speech.
- **B** additive noise: A plus one of :data:`NOISE_TYPES` at an SNR drawn
  uniformly from :data:`SNR_RANGE_DB` (5-15 dB). The SNR is the ratio of
  the clean utterance's energy to the noise's energy over the whole file
  (silences included): ``10 log10(sum(A**2) / sum((B - A)**2))``.
  Noise types: ``white``; ``pink`` (1/f power); ``brown`` (1/f**2);
  ``babble``, the sum of 5 other clean test utterances of the same
  language at random offsets, each at unit power; ``hum``, a 50 or 60 Hz
  mains tone with 8 harmonics (amplitude 1/k, random phases).
- **C** channel: a telephone-like band limit, a 4th-order Butterworth
  band-pass run forwards and backwards (zero phase, 8th-order magnitude)
  with edges drawn from 250-350 Hz and 3200-3600 Hz, followed by an EQ,
  one peaking biquad at 500-2500 Hz with a gain of -6..+6 dB (Q = 1).
  Out-of-band energy (:data:`OUT_OF_BAND_HZ`: 20-120 Hz and 4.5-8 kHz),
  measured per utterance with a Welch periodogram (Hann, 2048 samples) as
  the share of the power in those bands, falls by at least
  :data:`MIN_OUT_OF_BAND_REDUCTION_DB` (30 dB) from A to C and from B to D.
  On 300 random small-corpus test utterances (clean, and with white, pink,
  brown or hum noise at 5 dB SNR): share reduction min 31.5 dB, median
  45-58 dB; above 4.5 kHz alone min 32.7 dB, median 45 dB; 20-120 Hz
  alone min 54 dB, median 66-80 dB. (Below 20 Hz the filtered files keep
  a small near-DC residue that dominates that band's tiny share, so the
  band is not counted.)
- **D** noise + channel: the channel of C applied to the noisy mixture of
  B (same noise, SNR and channel as B and C), so D differs from B only by
  the channel and from C only by the noise.

Speech is stored at a peak of -6 dBFS, so B does not clip (its peaks stay
below 0.71 on small); C and D are scaled down only if a peak would exceed
0.99 (which changes neither the SNR nor the spectral shares above).

Authors
 * speechbrain-vgs developers 2026
"""

import numpy as np
from scipy.fft import next_fast_len
from scipy.signal import butter, sosfilt, sosfiltfilt

from speechbrain_vgs.dataio.synthvgs.speech import SAMPLE_RATE

NOISE_TYPES = ("white", "pink", "brown", "babble", "hum")
SNR_RANGE_DB = (5.0, 15.0)
LOW_CUT_RANGE_HZ = (250.0, 350.0)
HIGH_CUT_RANGE_HZ = (3200.0, 3600.0)
EQ_CENTRE_RANGE_HZ = (500.0, 2500.0)
EQ_GAIN_RANGE_DB = (-6.0, 6.0)
OUT_OF_BAND_HZ = ((20.0, 120.0), (4500.0, 8000.0))
MIN_OUT_OF_BAND_REDUCTION_DB = 30.0
BABBLE_TALKERS = 5
MAX_PEAK = 0.99


def _coloured(n, rng, exponent):
    """Gaussian noise with power spectrum 1 / f**exponent, zero mean."""
    n_fft = next_fast_len(n, real=True)
    spectrum = np.fft.rfft(rng.standard_normal(n_fft))
    freqs = np.fft.rfftfreq(n_fft)
    spectrum[0] = 0.0
    spectrum[1:] /= freqs[1:] ** (exponent / 2)
    return np.fft.irfft(spectrum, n_fft)[:n]


def make_noise(kind, n, rng, babble_sources=()):
    """Generates ``n`` samples of a noise type (unscaled).

    Arguments
    ---------
    kind : str
        One of :data:`NOISE_TYPES`.
    n : int
        Number of samples at 16 kHz.
    rng : numpy.random.Generator
        Source of randomness.
    babble_sources : sequence of numpy.ndarray
        Clean utterances for ``babble`` (tiled to length ``n``).

    Returns
    -------
    numpy.ndarray
        The noise.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> make_noise("pink", 16000, rng).shape
    (16000,)
    """
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":
        return _coloured(n, rng, 1.0)
    if kind == "brown":
        return _coloured(n, rng, 2.0)
    if kind == "hum":
        mains = rng.choice((50.0, 60.0))
        harmonics = np.arange(1, 9)[:, None]
        phases = rng.uniform(0, 2 * np.pi, size=(8, 1))
        t = np.arange(n)[None, :] / SAMPLE_RATE
        tones = np.sin(2 * np.pi * mains * harmonics * t + phases)
        return (tones / harmonics).sum(axis=0)
    if kind == "babble":
        if not babble_sources:
            raise ValueError("babble needs at least one source utterance")
        noise = np.zeros(n)
        for source in babble_sources:
            source = source / max(np.sqrt(np.mean(source**2)), 1e-9)
            tiled = np.resize(source, n + len(source))
            start = rng.integers(len(source))
            noise += tiled[start : start + n]
        return noise
    raise ValueError(f"unknown noise type {kind!r}: choose from {NOISE_TYPES}")


def add_noise(clean, noise, snr_db):
    """Scales ``noise`` to ``snr_db`` below ``clean`` and adds it.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> clean, noise = rng.standard_normal(8000), rng.standard_normal(8000)
    >>> noisy = add_noise(clean, noise, 10.0)
    >>> float(10 * np.log10(np.sum(clean**2) / np.sum((noisy - clean)**2)))
    10.0...
    """
    clean_power = np.mean(clean**2)
    noise_power = max(np.mean(noise**2), 1e-20)
    gain = np.sqrt(clean_power / (noise_power * 10 ** (snr_db / 10)))
    return clean + gain * noise


def _peaking_eq(centre, gain_db, q=1.0):
    """Peaking biquad (Audio EQ Cookbook) as second-order sections."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * centre / SAMPLE_RATE
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a])
    return np.concatenate([b / den[0], den / den[0]])[None, :]


def sample_channel(rng):
    """Draws channel parameters (band edges, EQ centre and gain).

    Example
    -------
    >>> sorted(sample_channel(np.random.default_rng(0)))
    ['eq_centre_hz', 'eq_gain_db', 'high_hz', 'low_hz']
    """
    return {
        "low_hz": float(rng.uniform(*LOW_CUT_RANGE_HZ)),
        "high_hz": float(rng.uniform(*HIGH_CUT_RANGE_HZ)),
        "eq_centre_hz": float(rng.uniform(*EQ_CENTRE_RANGE_HZ)),
        "eq_gain_db": float(rng.uniform(*EQ_GAIN_RANGE_DB)),
    }


def apply_channel(audio, channel):
    """Band-limits and equalises ``audio`` as described by ``channel``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> white = rng.standard_normal(32000)
    >>> out = apply_channel(white, sample_channel(rng))
    >>> spectrum = np.abs(np.fft.rfft(out)) ** 2
    >>> freqs = np.fft.rfftfreq(len(out), 1 / 16000)
    >>> bool(spectrum[freqs > 4500].sum() < 1e-3 * spectrum.sum())
    True
    """
    band = butter(
        4,
        [channel["low_hz"], channel["high_hz"]],
        btype="bandpass",
        fs=SAMPLE_RATE,
        output="sos",
    )
    out = sosfiltfilt(band, audio)
    out = sosfilt(
        _peaking_eq(channel["eq_centre_hz"], channel["eq_gain_db"]), out
    )
    return limit_peak(out)


def limit_peak(audio):
    """Scales ``audio`` down if its peak exceeds :data:`MAX_PEAK`.

    Example
    -------
    >>> limit_peak(np.array([0.5, -2.0])).tolist()
    [0.2475, -0.99]
    """
    peak = np.abs(audio).max(initial=0.0)
    return audio * (MAX_PEAK / peak) if peak > MAX_PEAK else audio


def sample_noise_type(rng):
    """Draws one of :data:`NOISE_TYPES` uniformly.

    Example
    -------
    >>> sample_noise_type(np.random.default_rng(0)) in NOISE_TYPES
    True
    """
    return str(rng.choice(NOISE_TYPES))


def render_conditions(clean, kind, rng, babble_sources=()):
    """The B, C and D versions of a clean test utterance.

    Arguments
    ---------
    clean : numpy.ndarray
        Condition A audio.
    kind : str
        Noise type (see :func:`sample_noise_type`).
    rng : numpy.random.Generator
        Source of randomness (SNR, noise, channel).
    babble_sources : sequence of numpy.ndarray
        Other clean utterances, needed if ``kind`` is "babble".

    Returns
    -------
    audio : dict
        ``{"B": ..., "C": ..., "D": ...}`` arrays.
    info : dict
        ``{"noise", "snr_db", "channel"}``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> clean = 0.1 * rng.standard_normal(16000)
    >>> audio, info = render_conditions(clean, "pink", rng)
    >>> sorted(audio), info["noise"]
    (['B', 'C', 'D'], 'pink')
    """
    snr_db = round(float(rng.uniform(*SNR_RANGE_DB)), 2)
    noise = make_noise(kind, len(clean), rng, babble_sources)
    noisy = add_noise(clean, noise, snr_db)
    channel = sample_channel(rng)
    audio = {
        "B": noisy,
        "C": apply_channel(clean, channel),
        "D": apply_channel(noisy, channel),
    }
    return audio, {"noise": kind, "snr_db": snr_db, "channel": channel}
