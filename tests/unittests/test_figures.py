"""Tests for speechbrain_vgs.figures (PNG figures of SpeechCLIP analyses)."""

import numpy as np
import pytest
import torch
from PIL import Image

from speechbrain_vgs.figures import plot_keyword_attention, plot_layer_weights


def test_keyword_attention_png(tmp_path):
    attention = torch.softmax(torch.randn(3, 40), dim=1)
    keywords = [["red", "blue"], ["circle", "square", "disc"], []]
    path = tmp_path / "new" / "folder" / "attention.png"
    written = plot_keyword_attention(
        attention, keywords, 0.02, path, title="utt1"
    )
    assert written == path
    with Image.open(path) as image:
        assert image.format == "PNG"
        # figsize (8, 1.5 + 0.5 K) inches at 100 dpi
        assert image.size == (800, 300)

    # numpy input, another attention pattern: another picture
    other = plot_keyword_attention(
        np.eye(3, 40), keywords, 0.02, str(tmp_path / "other.png")
    )
    assert other.read_bytes() != path.read_bytes()


def test_keyword_attention_rejects_bad_input(tmp_path):
    path = tmp_path / "attention.png"
    with pytest.raises(ValueError, match=r"\[K, T\]"):
        plot_keyword_attention(torch.ones(5), [["a"]], 0.02, path)
    with pytest.raises(ValueError, match="2 keyword lists for 3"):
        plot_keyword_attention(torch.ones(3, 5), [["a"], ["b"]], 0.02, path)
    with pytest.raises(ValueError, match="one list of strings per slot"):
        plot_keyword_attention(torch.ones(2, 5), ["a", "b"], 0.02, path)
    with pytest.raises(ValueError, match="frame_shift"):
        plot_keyword_attention(torch.ones(1, 5), [["a"]], 0.0, path)
    assert not path.exists()


def test_layer_weights_png(tmp_path):
    weights = torch.softmax(torch.randn(13), dim=0)
    path = plot_layer_weights(weights, tmp_path / "figs" / "layers.png")
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (650, 350)
    labels = ["CNN"] + [f"L{layer}" for layer in range(1, 13)]
    labelled = plot_layer_weights(
        weights, tmp_path / "labelled.png", title="HuBERT", labels=labels
    )
    assert labelled.read_bytes() != path.read_bytes()


def test_layer_weights_rejects_bad_input(tmp_path):
    path = tmp_path / "layers.png"
    with pytest.raises(ValueError, match=r"\[L \+ 1\]"):
        plot_layer_weights(torch.ones(2, 3), path)
    with pytest.raises(ValueError, match="2 labels for 3 weights"):
        plot_layer_weights(torch.ones(3), path, labels=["a", "b"])
    assert not path.exists()
