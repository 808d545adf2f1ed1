"""Tests for speechbrain_vgs.similarity against explicit per-pair loops."""

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_vgs.similarity import (
    Similarity,
    length_mask,
    masked_mean,
    matchmap,
    matchmap_similarity,
    pooled_similarity,
)

NUM_AUDIO, NUM_FRAMES, NUM_IMAGES, HEIGHT, WIDTH, DIM = 4, 10, 5, 3, 2, 6
VALID = [10, 7, 3, 1]


@pytest.fixture
def inputs():
    generator = torch.Generator().manual_seed(0)
    audio = torch.randn(NUM_AUDIO, NUM_FRAMES, DIM, generator=generator)
    image = torch.randn(NUM_IMAGES, HEIGHT, WIDTH, DIM, generator=generator)
    lengths = torch.tensor(VALID) / NUM_FRAMES
    return audio, lengths, image


def naive_scores(audio, image, mode):
    """Builds each pair's matchmap by explicit loops and reduces it."""
    scores = torch.zeros(len(audio), len(image))
    for a, (frames, valid) in enumerate(zip(audio, VALID)):
        for i, pixels in enumerate(image):
            mmap = torch.zeros(HEIGHT, WIDTH, valid)
            for h in range(HEIGHT):
                for w in range(WIDTH):
                    for t in range(valid):
                        mmap[h, w, t] = torch.dot(pixels[h, w], frames[t])
            if mode == "SISA":
                scores[a, i] = mmap.mean()
            elif mode == "MISA":
                scores[a, i] = mmap.reshape(-1, valid).max(0).values.mean()
            elif mode == "SIMA":
                scores[a, i] = mmap.max(dim=2).values.mean()
            else:
                audio_mean = frames[:valid].mean(0)
                image_mean = pixels.reshape(-1, DIM).mean(0)
                scores[a, i] = torch.dot(audio_mean, image_mean)
                if mode == "cosine":
                    scores[a, i] = torch.nn.functional.cosine_similarity(
                        audio_mean, image_mean, dim=0
                    )
    return scores


@pytest.mark.parametrize("mode", ["SISA", "MISA", "SIMA", "pooled", "cosine"])
def test_modes_match_naive_loops(inputs, mode):
    audio, lengths, image = inputs
    expected = naive_scores(audio, image, mode)
    scores = Similarity(mode)(audio, lengths, image)
    assert scores.shape == (NUM_AUDIO, NUM_IMAGES)
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["SISA", "MISA", "SIMA", "pooled", "cosine"])
def test_padding_never_counts(inputs, mode):
    audio, lengths, image = inputs
    scores = Similarity(mode)(audio, lengths, image)
    garbage = 1e3 * torch.randn(NUM_AUDIO, 6, DIM)
    garbage[0, 0, 0] = float("nan")
    longer = torch.cat([audio, garbage], dim=1)
    longer[1, 7:] = 1e4  # beyond utterance 1's valid frames
    longer_lengths = torch.tensor(VALID) / longer.shape[1]
    longer_scores = Similarity(mode)(longer, longer_lengths, image)
    torch.testing.assert_close(longer_scores, scores)


@pytest.mark.parametrize("mode", ["MISA", "SIMA"])
def test_chunking_gives_the_same_scores(inputs, mode):
    audio, lengths, image = inputs
    whole = matchmap_similarity(audio, lengths, image, mode)
    one_image_at_a_time = matchmap_similarity(
        audio, lengths, image, mode, max_chunk_elements=1
    )
    two_images = matchmap_similarity(
        audio, lengths, image, mode, max_chunk_elements=2 * 40 * 6
    )
    torch.testing.assert_close(one_image_at_a_time, whole)
    torch.testing.assert_close(two_images, whole)


def test_matchmap_matches_explicit_dot_products():
    audio, image = torch.randn(4, 3), torch.randn(2, 5, 3)
    mmap = matchmap(audio, image)
    assert mmap.shape == (2, 5, 4)
    for h in range(2):
        for w in range(5):
            for t in range(4):
                expected = torch.dot(image[h, w], audio[t])
                torch.testing.assert_close(mmap[h, w, t], expected)


def test_sisa_equals_pooled_dot_product(inputs):
    audio, lengths, image = inputs
    torch.testing.assert_close(
        matchmap_similarity(audio, lengths, image, "SISA"),
        pooled_similarity(audio, lengths, image),
    )


def test_pooled_inputs_reduce_to_dot_products():
    audio, image = torch.randn(3, 4), torch.randn(2, 4)
    for mode in ("SISA", "MISA", "SIMA", "pooled"):
        scores = Similarity(mode)(audio, None, image)
        torch.testing.assert_close(scores, audio @ image.t())


def test_no_lengths_means_all_frames(inputs):
    audio, _, image = inputs
    full = torch.ones(NUM_AUDIO)
    for mode in ("MISA", "SIMA", "pooled"):
        torch.testing.assert_close(
            Similarity(mode)(audio, None, image),
            Similarity(mode)(audio, full, image),
        )


def test_gradients_flow_to_both_branches(inputs):
    audio, lengths, image = inputs
    audio.requires_grad_(True)
    image.requires_grad_(True)
    Similarity("MISA")(audio, lengths, image).sum().backward()
    assert audio.grad[0].abs().sum() > 0
    assert image.grad.abs().sum() > 0
    # padded frames receive no gradient
    assert torch.count_nonzero(audio.grad[2, 3:]) == 0


def test_length_mask_and_masked_mean():
    lengths = torch.tensor([1.0, 0.5, 0.24, 0.0])
    mask = length_mask(lengths, 4)
    assert mask.sum(1).tolist() == [4, 2, 1, 1]
    assert mask[1].tolist() == [True, True, False, False]
    x = torch.arange(8.0).view(1, 4, 2).repeat(4, 1, 1)
    means = masked_mean(x, lengths)
    torch.testing.assert_close(means[0], x[0].mean(0))
    torch.testing.assert_close(means[1], x[1, :2].mean(0))
    torch.testing.assert_close(means[2], x[2, 0])


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="SIMA"):
        Similarity("MAXMAX")
    with pytest.raises(ValueError, match="MISA"):
        matchmap_similarity(torch.ones(1, 2, 3), None, torch.ones(1, 3), "x")


def test_similarity_from_hyperpyyaml():
    hparams = load_hyperpyyaml(
        "sim: !new:speechbrain_vgs.similarity.Similarity\n  mode: SIMA\n"
    )
    assert isinstance(hparams["sim"], Similarity)
    assert hparams["sim"].mode == "SIMA"
