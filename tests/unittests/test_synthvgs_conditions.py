"""SynthVGS test conditions: measured SNR of B, out-of-band energy of C,
and D as the channel applied to B.

Authors
 * speechbrain-vgs developers 2026
"""

import json
import os

import numpy as np
import soundfile as sf
from scipy.signal import welch

from speechbrain_vgs.dataio.synthvgs.conditions import (
    MIN_OUT_OF_BAND_REDUCTION_DB,
    NOISE_TYPES,
    OUT_OF_BAND_HZ,
    SNR_RANGE_DB,
)

LANGS = ("en", "de", "sw")


def condition_entries(root):
    for lang in LANGS:
        path = os.path.join(root, "manifests", lang, "{}.json")
        manifests = {}
        for condition in "ABCD":
            with open(path.format(f"test_{condition}"), encoding="utf-8") as f:
                manifests[condition] = json.load(f)
        for utt_id in manifests["A"]:
            yield {c: manifests[c][utt_id] for c in "ABCD"}


def audio(root, entry):
    signal, rate = sf.read(entry["wav"].replace("{data_root}", root))
    assert rate == 16000
    return signal


def out_of_band_share(signal):
    """Share of the power in the OUT_OF_BAND_HZ bands (Welch periodogram)."""
    freqs, power = welch(signal, fs=16000, nperseg=2048)
    outside = np.zeros(len(freqs), dtype=bool)
    for low, high in OUT_OF_BAND_HZ:
        outside |= (freqs >= low) & (freqs <= high)
    return power[outside].sum() / power.sum()


def band_gain_db(reference, filtered, low, high):
    """Power gain from reference to filtered within [low, high] Hz."""
    freqs, before = welch(reference, fs=16000, nperseg=2048)
    _, after = welch(filtered, fs=16000, nperseg=2048)
    band = (freqs >= low) & (freqs <= high)
    return 10 * np.log10(after[band].sum() / before[band].sum())


def test_noisy_condition_has_the_documented_snr(synthvgs_tiny):
    kinds = set()
    low, high = SNR_RANGE_DB
    for entries in condition_entries(synthvgs_tiny):
        clean = audio(synthvgs_tiny, entries["A"])
        noisy = audio(synthvgs_tiny, entries["B"])
        assert len(clean) == len(noisy)
        snr = 10 * np.log10(np.sum(clean**2) / np.sum((noisy - clean) ** 2))
        assert low - 0.05 <= snr <= high + 0.05
        assert abs(snr - entries["B"]["snr_db"]) < 0.05
        assert entries["D"]["snr_db"] == entries["B"]["snr_db"]
        assert entries["D"]["noise"] == entries["B"]["noise"]
        kinds.add(entries["B"]["noise"])
    assert kinds <= set(NOISE_TYPES)
    assert len(kinds) >= 4


def test_channel_condition_removes_out_of_band_energy(synthvgs_tiny):
    reductions = []
    for entries in condition_entries(synthvgs_tiny):
        clean = audio(synthvgs_tiny, entries["A"])
        channel = audio(synthvgs_tiny, entries["C"])
        both = audio(synthvgs_tiny, entries["D"])
        noisy = audio(synthvgs_tiny, entries["B"])
        # the pass band keeps the speech, up to the EQ's +-6 dB
        assert abs(band_gain_db(clean, channel, 500, 3000)) < 7
        for reference, filtered in ((clean, channel), (noisy, both)):
            share = out_of_band_share(reference)
            if share > 1e-3:  # e.g. 8 kHz flite voices have little
                reduction = 10 * np.log10(share / out_of_band_share(filtered))
                assert reduction >= MIN_OUT_OF_BAND_REDUCTION_DB
                reductions.append(reduction)
    assert len(reductions) > 50
