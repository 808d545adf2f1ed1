"""Tests for speechbrain_vgs.lobes.features: LogMel, and LibrosaLogMel
checked against torchaudio's mel spectrogram (librosa's defaults) and
SciPy's window."""

import math

import numpy as np
import scipy.signal
import torch
import torchaudio

from speechbrain_vgs.lobes.features import (
    LibrosaLogMel,
    LogMel,
    slaney_mel_filters,
)

SAMPLE_RATE = 16000


def tone(seconds, hz, seed=0):
    """A sine with a little noise (so no bin is silent)."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    noise = 0.01 * torch.randn(len(t), generator=generator)
    return torch.sin(2 * math.pi * hz * t) + noise


def test_frames_are_25ms_windows_every_10ms():
    feats = LogMel()(torch.randn(3, 16000))
    # centred STFT: one frame every 160 samples, plus the one at sample 0
    assert feats.shape == (3, 101, 40)
    assert LogMel().fbank.compute_STFT.win_length == 400


def test_utterance_alone_or_padded_in_a_batch():
    compute = LogMel()
    short, long = tone(0.63, 440, seed=1), tone(1.37, 1200, seed=2)
    alone = compute(short.unsqueeze(0))
    batch = torch.zeros(2, len(long))
    batch[0, : len(short)] = short
    batch[1] = long
    lengths = torch.tensor([len(short) / len(long), 1.0])
    padded = compute(batch, lengths)
    frames = alone.shape[1]
    torch.testing.assert_close(padded[0, :frames], alone[0], atol=1e-4, rtol=0)
    assert torch.count_nonzero(padded[0, frames:]) == 0
    torch.testing.assert_close(padded[1], compute(long.unsqueeze(0))[0])


def test_normalised_over_valid_frames_only():
    wavs = torch.stack([tone(1.0, 500), tone(1.0, 3000)])
    wavs[0, 8000:] = 0.0
    feats = LogMel()(wavs, torch.tensor([0.5, 1.0]))
    valid = feats[0, :51]
    torch.testing.assert_close(
        valid.mean(0), torch.zeros(40), atol=1e-4, rtol=0
    )
    torch.testing.assert_close(
        valid.std(0, unbiased=False), torch.ones(40), atol=1e-3, rtol=0
    )
    torch.testing.assert_close(
        feats[1].mean(0), torch.zeros(40), atol=1e-4, rtol=0
    )


def test_tone_peaks_in_the_mel_bin_of_its_frequency():
    feats = LogMel(normalize=False)(tone(0.5, 1000).unsqueeze(0))
    # HTK mel scale, 40 triangles between 20 Hz and 8 kHz
    mel = lambda hz: 2595 * math.log10(1 + hz / 700)  # noqa: E731
    step = (mel(8000) - mel(20)) / 41
    centres = [mel(20) + step * (k + 1) for k in range(40)]
    expected = min(range(40), key=lambda k: abs(centres[k] - mel(1000)))
    assert feats[0, 10:-10].mean(0).argmax().item() == expected


def test_without_normalisation_values_are_decibels():
    quiet = LogMel(normalize=False)(0.01 * tone(0.5, 700).unsqueeze(0))
    loud = LogMel(normalize=False)(tone(0.5, 700).unsqueeze(0))
    # 100 times the amplitude is +40 dB in the bin of the tone
    difference = (loud - quiet)[0, 10:-10].mean(0).max().item()
    assert abs(difference - 40) < 1.0


def test_librosa_front_end_matches_torchaudio():
    """The released loaders' features: DC offset removed, 0.97
    pre-emphasis, then librosa's stft / filters.mel / power_to_db(ref=max)
    defaults, which torchaudio reproduces with these options."""
    signal = tone(1.2, 440, seed=3) + 0.3
    y = signal.double().numpy()
    y = y - y.mean()
    y = np.append(y[0], y[1:] - 0.97 * y[:-1])
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE,
        n_fft=400,
        win_length=400,
        hop_length=160,
        f_min=20.0,
        f_max=8000.0,
        n_mels=40,
        window_fn=torch.hamming_window,
        wkwargs={"periodic": False},
        power=2.0,
        center=True,
        pad_mode="reflect",
        norm="slaney",
        mel_scale="slaney",
    )(torch.from_numpy(y).float())
    decibels = 10 * torch.log10(mel.clamp(min=1e-10))
    expected = (decibels - decibels.max()).clamp(min=-80).t()
    ours = LibrosaLogMel()(signal.unsqueeze(0))[0]
    assert ours.shape == expected.shape == (121, 40)
    torch.testing.assert_close(ours, expected, atol=2e-3, rtol=0)
    assert ours.max() == 0


def test_librosa_filters_and_window_are_librosa_defaults():
    expected = torchaudio.functional.melscale_fbanks(
        201, 20.0, 8000.0, 40, SAMPLE_RATE, norm="slaney", mel_scale="slaney"
    ).t()
    torch.testing.assert_close(
        slaney_mel_filters(400, 40, SAMPLE_RATE, 20, 8000), expected
    )
    window = torch.from_numpy(scipy.signal.windows.hamming(400, sym=True))
    torch.testing.assert_close(LibrosaLogMel().window, window.float())


def test_librosa_front_end_per_utterance_in_a_batch():
    compute = LibrosaLogMel()
    short, long = tone(0.63, 440, seed=1), tone(1.37, 1200, seed=2)
    batch = torch.zeros(2, len(long))
    batch[0, : len(short)] = short
    batch[1] = long
    lengths = torch.tensor([len(short) / len(long), 1.0])
    padded = compute(batch, lengths)
    alone = compute(short.unsqueeze(0))[0]
    frames = len(alone)
    torch.testing.assert_close(padded[0, :frames], alone)
    assert torch.count_nonzero(padded[0, frames:]) == 0
    # decibels below each utterance's own maximum, floored 80 dB below it
    quiet = short.clone()
    quiet[2000:6000] = 0.0
    feats = compute(quiet.unsqueeze(0))[0]
    assert feats.max() == 0 and feats.min() == -80
    louder = compute(100 * quiet.unsqueeze(0))[0]  # the level does not matter
    torch.testing.assert_close(louder, feats, atol=2e-3, rtol=0)
