"""Tests for speechbrain_vgs.metrics (retrieval recall@k)."""

import pytest
import torch

from speechbrain_vgs.metrics import RetrievalStats, retrieval_recall

KS = (1, 2, 5, 10)


def brute_force_recall(sim, image_index, ks):
    """Sorts candidates by score, ties broken against the correct item, and
    reads off where the first correct item lands."""
    sim = sim.tolist()
    image_index = image_index.tolist()
    n_utt, n_img = len(sim), len(sim[0])
    speech_positions = []
    for u in range(n_utt):
        own = image_index[u]
        order = sorted(range(n_img), key=lambda m: (-sim[u][m], m == own))
        speech_positions.append(order.index(own))
    image_positions = []
    for m in range(n_img):
        order = sorted(
            range(n_utt), key=lambda u: (-sim[u][m], image_index[u] == m)
        )
        owns = [
            position for position, u in enumerate(order) if image_index[u] == m
        ]
        image_positions.append(owns[0])
    recall = {}
    for k in ks:
        hits = sum(position < k for position in speech_positions)
        recall[f"speech_to_image_r{k}"] = hits / n_utt
        hits = sum(position < k for position in image_positions)
        recall[f"image_to_speech_r{k}"] = hits / n_img
    return recall


def random_case(seed, n_img, captions_per_image_max, levels):
    generator = torch.Generator().manual_seed(seed)
    counts = torch.randint(
        1, captions_per_image_max + 1, (n_img,), generator=generator
    )
    image_index = torch.repeat_interleave(torch.arange(n_img), counts)
    image_index = image_index[
        torch.randperm(len(image_index), generator=generator)
    ]
    if levels is None:
        sim = torch.randn(len(image_index), n_img, generator=generator)
    else:  # integer scores: many exact ties
        sim = torch.randint(
            0, levels, (len(image_index), n_img), generator=generator
        )
        sim = sim.float()
    # lift the own image by a random integer so recalls are far from 0
    rows = torch.arange(len(image_index))
    sim[rows, image_index] += torch.randint(
        0, 3, (len(rows),), generator=generator
    )
    return sim, image_index


@pytest.mark.parametrize(
    "seed, n_img, captions, levels",
    [
        (0, 12, 5, 3),
        (1, 30, 5, 2),
        (2, 25, 3, 6),
        (3, 20, 5, None),
        (4, 7, 1, 4),
    ],
)
def test_recall_matches_brute_force(seed, n_img, captions, levels):
    sim, image_index = random_case(seed, n_img, captions, levels)
    ours = retrieval_recall(sim, image_index, KS)
    reference = brute_force_recall(sim, image_index, KS)
    assert ours.keys() == reference.keys()
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_recall_ties_are_not_in_our_favour():
    sim = torch.zeros(6, 3)
    image_index = torch.tensor([0, 0, 1, 1, 2, 2])
    recall = retrieval_recall(sim, image_index, ks=(1, 2, 3))
    assert recall["speech_to_image_r1"] == 0.0
    assert recall["speech_to_image_r3"] == 1.0
    # all other captions (4) tie with the image's own
    assert recall["image_to_speech_r3"] == 0.0


def test_recall_perfect_ranking():
    image_index = torch.tensor([2, 0, 1, 0, 2])
    sim = torch.nn.functional.one_hot(image_index, 3)  # integer scores
    recall = retrieval_recall(sim, image_index, ks=(1,))
    assert recall == {"speech_to_image_r1": 1.0, "image_to_speech_r1": 1.0}


def test_recall_rejects_bad_input():
    with pytest.raises(ValueError, match="without any caption"):
        retrieval_recall(torch.zeros(2, 3), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="image_index"):
        retrieval_recall(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="NaN"):
        retrieval_recall(torch.full((1, 1), float("nan")), torch.tensor([0]))


def pooled_dot(audio, audio_lens, image):
    """Dot product of mean-pooled valid frames and mean-pooled image maps."""
    if audio.dim() == 3:
        frames = torch.round(audio_lens * audio.shape[1])
        valid = torch.arange(audio.shape[1])[None, :] < frames[:, None]
        audio = (audio * valid[..., None]).sum(1) / frames[:, None]
    if image.dim() == 4:
        image = image.mean(dim=(1, 2))
    return audio @ image.t()


def test_retrieval_stats_frames_match_direct_computation():
    generator = torch.Generator().manual_seed(0)
    n_img, dim = 6, 4
    image_maps = torch.randn(n_img, 2, 2, dim, generator=generator)
    utterances = []  # (id, frames, image column)
    for u in range(20):
        length = int(torch.randint(2, 9, (1,), generator=generator))
        column = u % n_img
        frames = torch.randn(length, dim, generator=generator)
        frames += image_maps[column].mean(dim=(0, 1))  # make it retrievable
        utterances.append((f"utt{u}", frames, column))

    stats = RetrievalStats(pooled_dot, ks=KS, chunk_size=3)
    for start in range(0, 20, 7):
        batch = utterances[start : start + 7]
        lengths = torch.tensor([len(f) for _, f, _ in batch])
        audio = torch.full((len(batch), int(lengths.max()), dim), 1e6)
        for row, (_, frames, _) in enumerate(batch):
            audio[row, : len(frames)] = frames  # padding stays huge
        stats.append(
            ids=[utt for utt, _, _ in batch],
            audio=audio,
            audio_lens=lengths / lengths.max(),
            image=image_maps[[c for _, _, c in batch]],
            image_ids=[f"img{c}" for _, _, c in batch],
        )
    result = stats.summarize()

    # columns in order of first appearance: img0 .. img5
    pooled = torch.stack([f.mean(0) for _, f, _ in utterances])
    sim = pooled @ image_maps.mean(dim=(1, 2)).t()
    image_index = torch.tensor([c for _, _, c in utterances])
    expected = brute_force_recall(sim, image_index, KS)
    assert result.keys() == expected.keys()
    for key, value in expected.items():
        assert result[key] == pytest.approx(value), key
    assert (
        stats.summarize("image_to_speech_r1") == expected["image_to_speech_r1"]
    )
    assert len(stats.images) == n_img


def test_retrieval_stats_pooled_keeps_first_image():
    stats = RetrievalStats(pooled_dot, ks=(1,))
    stats.append(
        ["a", "b"], torch.eye(2), None, torch.eye(2), torch.tensor([10, 20])
    )
    # image 10 again with other features: ignored, so "c" still hits
    stats.append(
        ["c"], torch.tensor([[1.0, 0.0]]), None, -torch.eye(2)[:1], [10]
    )
    assert stats.summarize() == {
        "speech_to_image_r1": 1.0,
        "image_to_speech_r1": 1.0,
    }
    with pytest.raises(ValueError, match="twice"):
        stats.append(["a"], torch.eye(2)[:1], None, torch.eye(2)[:1], [10])
    with pytest.raises(ValueError, match="pooled and frames"):
        stats.append(["d"], torch.ones(1, 3, 2), None, torch.eye(2)[:1], [10])
    with pytest.raises(ValueError, match="audio_lens"):
        RetrievalStats(pooled_dot).append(
            ["d"], torch.ones(1, 3, 2), None, torch.eye(2)[:1], [10]
        )
    stats.clear()
    with pytest.raises(ValueError, match="no data"):
        stats.summarize()
