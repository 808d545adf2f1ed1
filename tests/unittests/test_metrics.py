"""Tests for speechbrain_vgs.metrics (retrieval recall@k, keyword hits)."""

from collections import Counter

import pytest
import torch

from speechbrain_vgs.metrics import (
    KeywordHitStats,
    RetrievalStats,
    embedding_group_recall,
    group_recall,
    retrieval_recall,
    zero_shot_recall,
)

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
    with pytest.raises(ValueError, match=r"image groups with no speech: \[1\]"):
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


def brute_force_group_positions(sim, row_groups, column_groups):
    """Per row, where its first own-group column lands when the columns are
    sorted by score, ties broken against the own group."""
    positions = []
    for scores, group in zip(sim, row_groups):
        order = sorted(
            range(len(scores)),
            key=lambda c: (-scores[c], column_groups[c] == group),
        )
        own = [p for p, c in enumerate(order) if column_groups[c] == group]
        positions.append(own[0])
    return positions


def brute_force_group_recall(sim, row_groups, column_groups, ks):
    sim = sim.tolist()
    row_groups, column_groups = row_groups.tolist(), column_groups.tolist()
    transposed = [list(column) for column in zip(*sim)]
    row_positions = brute_force_group_positions(sim, row_groups, column_groups)
    column_positions = brute_force_group_positions(
        transposed, column_groups, row_groups
    )
    recall = {}
    for k in ks:
        hits = sum(p < k for p in row_positions)
        recall[f"row_to_column_r{k}"] = hits / len(row_positions)
    for k in ks:
        hits = sum(p < k for p in column_positions)
        recall[f"column_to_row_r{k}"] = hits / len(column_positions)
    return recall


def random_groups(generator, n_groups, per_group_max):
    """Shuffled, non-contiguous group ids, 1..per_group_max items each."""
    counts = torch.randint(
        1, per_group_max + 1, (n_groups,), generator=generator
    )
    ids = torch.randperm(5 * n_groups, generator=generator)[:n_groups] - 7
    groups = torch.repeat_interleave(ids, counts)
    return groups[torch.randperm(len(groups), generator=generator)]


@pytest.mark.parametrize(
    "seed, n_groups, levels, chunk_size",
    [(0, 10, 2, 1024), (1, 25, 3, 4), (2, 15, 5, 1), (3, 8, 1, 7)],
)
def test_group_recall_matches_brute_force(seed, n_groups, levels, chunk_size):
    generator = torch.Generator().manual_seed(seed)
    # the same groups on both sides, but different counts and orders
    row_groups = random_groups(generator, n_groups, 4)
    column_groups = row_groups.unique()[
        torch.randperm(n_groups, generator=generator)
    ]
    column_groups = torch.cat(
        [
            column_groups,
            column_groups[
                torch.randint(0, n_groups, (9,), generator=generator)
            ],
        ]
    )
    sim = torch.randint(
        0,
        levels + 1,
        (len(row_groups), len(column_groups)),
        generator=generator,
    ).float()
    same = row_groups[:, None] == column_groups[None, :]
    sim += same * torch.randint(0, 2, sim.shape, generator=generator)
    ours = group_recall(
        sim, row_groups, column_groups, KS, chunk_size=chunk_size
    )
    reference = brute_force_group_recall(sim, row_groups, column_groups, KS)
    assert list(ours) == list(reference)
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_group_recall_ties_by_hand():
    # rows: groups 1, 1, 2; columns: groups 2, 1, 1
    sim = torch.tensor(
        [
            [5.0, 5.0, 1.0],  # tie with group 2: own at position 1
            [0.0, 2.0, 3.0],  # own columns first
            [4.0, 5.0, 9.0],  # own column 0 behind two others: position 2
        ]
    )
    rows, columns = torch.tensor([1, 1, 2]), torch.tensor([2, 1, 1])
    recall = group_recall(sim, rows, columns, ks=(1, 2, 3))
    assert recall == {
        "row_to_column_r1": 1 / 3,
        "row_to_column_r2": 2 / 3,
        "row_to_column_r3": 1.0,
        # column 0: own row 2 (4) behind row 0 (5); column 1: own best 5
        # tied with row 2; column 2: own best 3 behind row 2 (9)
        "column_to_row_r1": 0.0,
        "column_to_row_r2": 1.0,
        "column_to_row_r3": 1.0,
    }


def test_zero_shot_recall_counts_any_caption_of_the_image():
    speech_groups = torch.tensor([0, 0, 1])
    text_groups = torch.tensor([1, 0, 0, 1])
    # one-hot speech embeddings: the scores are the rows of the text table
    speech = torch.eye(3)
    texts = torch.tensor(
        [
            [0.0, 0.8, 0.0],
            [0.1, 0.6, 0.2],
            [0.9, 0.1, 0.1],
            [0.5, 0.0, 0.3],
        ]
    )
    # speech 0: best is a text caption of its image; speech 1: best is a
    # caption of the other image
    recall = zero_shot_recall(
        speech, texts, speech_groups, text_groups, ks=(1, 2)
    )
    reference = group_recall(
        speech @ texts.t(), speech_groups, text_groups, ks=(1, 2)
    )
    assert recall == {
        "speech_to_text_r1": reference["row_to_column_r1"],
        "speech_to_text_r2": reference["row_to_column_r2"],
        "text_to_speech_r1": reference["column_to_row_r1"],
        "text_to_speech_r2": reference["column_to_row_r2"],
    }
    assert recall["speech_to_text_r1"] == pytest.approx(2 / 3)
    assert recall["speech_to_text_r2"] == 1.0
    # texts 0 and 3 (image 1): speech of image 0 scores at least as high
    assert recall["text_to_speech_r1"] == 0.5


def previous_group_recall(sim, row_groups, column_groups, ks, chunk_size):
    """The implementation group_recall replaced (before the benchmarks of
    issue #17): a masked maximum and a count per chunk of rows, the
    columns ranked through the transposed matrix."""

    def ranks(sim, row_groups, column_groups):
        out = []
        for start in range(0, sim.shape[0], chunk_size):
            scores = sim[start : start + chunk_size]
            other = (
                row_groups[start : start + chunk_size, None] != column_groups
            )
            best = scores.masked_fill(other, float("-inf")).amax(dim=1)
            out.append(((scores >= best[:, None]) & other).sum(dim=1))
        return torch.cat(out)

    row_rank = ranks(sim, row_groups, column_groups)
    column_rank = ranks(sim.t(), column_groups, row_groups)
    recall = {}
    for k in ks:
        recall[f"row_to_column_r{k}"] = (row_rank < k).double().mean().item()
    for k in ks:
        recall[f"column_to_row_r{k}"] = (column_rank < k).double().mean().item()
    return recall


@pytest.mark.parametrize("levels", [None, 3])
def test_group_recall_matches_the_previous_implementation(levels):
    generator = torch.Generator().manual_seed(17)
    n_images, captions = 400, 5
    row_groups = torch.arange(n_images).repeat_interleave(captions)
    row_groups = row_groups[
        torch.randperm(len(row_groups), generator=generator)
    ]
    column_groups = torch.arange(n_images) * 7 - 100  # any values
    if levels is None:
        sim = torch.randn(len(row_groups), n_images, generator=generator)
    else:
        sim = torch.randint(0, levels, (len(row_groups), n_images)).float()
    ks = (1, 5, 10, 50)
    ours = group_recall(
        sim, row_groups * 7 - 100, column_groups, ks, chunk_size=300
    )
    previous = previous_group_recall(
        sim, row_groups * 7 - 100, column_groups, ks, chunk_size=256
    )
    assert ours == previous


@pytest.mark.parametrize("chunk_size", [1, 37, 4096])
def test_embedding_group_recall_equals_the_matrix_one(chunk_size):
    generator = torch.Generator().manual_seed(3)
    groups = torch.randint(0, 60, (240,), generator=generator)
    row_groups = torch.cat([torch.arange(60), groups]) * 3 + 5  # any ids
    column_groups = torch.cat([torch.arange(60), groups[:90]]) * 3 + 5
    centres = torch.randn(60, 16, generator=generator)
    rows = centres[(row_groups - 5) // 3] + torch.randn(
        len(row_groups), 16, generator=generator
    )
    columns = centres[(column_groups - 5) // 3] + torch.randn(
        len(column_groups), 16, generator=generator
    )
    ks = (1, 5, 20)
    ours = embedding_group_recall(
        rows, columns, row_groups, column_groups, ks, chunk_size=chunk_size
    )
    reference = group_recall(rows @ columns.t(), row_groups, column_groups, ks)
    assert ours == pytest.approx(reference, abs=1e-12)
    assert 0.2 < ours["row_to_column_r1"] < 1  # far from chance (1/60)


def test_group_recall_rejects_bad_input():
    with pytest.raises(
        ValueError, match=r"row groups with no column: \[3, 5\]"
    ):
        group_recall(torch.zeros(3, 2), [5, 1, 3], [1, 1])
    with pytest.raises(ValueError, match=r"text groups with no speech: \[4\]"):
        zero_shot_recall(torch.zeros(1, 3), torch.zeros(2, 3), [1], [4, 1])
    with pytest.raises(ValueError, match="speech embeddings contain NaN"):
        zero_shot_recall(
            torch.full((1, 3), float("nan")), torch.zeros(1, 3), [1], [1]
        )
    with pytest.raises(ValueError, match=r"must be embeddings \[N_rows, D\]"):
        embedding_group_recall(
            torch.zeros(2, 3), torch.zeros(2, 4), [1, 1], [1, 1]
        )
    with pytest.raises(ValueError, match="must be"):
        group_recall(torch.zeros(3, 2), [1, 1], [1, 1])
    with pytest.raises(ValueError, match="must be"):
        group_recall(torch.zeros(3), [1, 1, 1], [1])
    with pytest.raises(ValueError, match="infinite"):
        group_recall(torch.full((1, 1), float("inf")), [1], [1])


def brute_force_keyword_hits(ranked, captions, ks, special):
    """Plain Python keyword hit rates of the model, of its baseline and of
    chance."""
    n_utt, n_slots = len(ranked), len(ranked[0])
    gold = [set(caption) - special for caption in captions]
    result = {}
    for n in ks:
        rates = {"": [], "baseline_": []}
        for k in range(n_slots):
            lists = [ranked[u][k][:n] for u in range(n_utt)]
            counts = Counter(
                t for top in lists for t in top if t not in special
            )
            ranked_counts = sorted(counts.items(), key=lambda x: (-x[1], x[0]))
            constant = {t for t, _ in ranked_counts[:n]}
            hits = sum(bool(set(top) & gold[u]) for u, top in enumerate(lists))
            rates[""].append(hits / n_utt)
            hits = sum(bool(constant & gold[u]) for u in range(n_utt))
            rates["baseline_"].append(hits / n_utt)
        for prefix, values in rates.items():
            key = f"{prefix}keyword_hit_top{n}"
            result[key] = sum(values) / n_slots
            for k, value in enumerate(values):
                result[f"{key}_slot{k}"] = value
    for n in ks:  # chance: every keyword against every caption
        hits = [
            bool((set(ranked[u][k][:n]) - special) & caption)
            for u in range(n_utt)
            for k in range(n_slots)
            for caption in gold
        ]
        result[f"chance_keyword_hit_top{n}"] = sum(hits) / len(hits)
    return result


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keyword_hits_match_brute_force(seed):
    generator = torch.Generator().manual_seed(seed)
    special = {0, 1, 2}
    ks = (1, 3, 5)
    n_utt, n_slots, n_ranked, vocab = 37, 3, 6, 14
    ranked = torch.randint(
        0, vocab, (n_utt, n_slots, n_ranked), generator=generator
    )
    captions = []
    for _ in range(n_utt):
        length = int(torch.randint(0, 6, (1,), generator=generator))
        captions.append(
            torch.randint(0, vocab, (length,), generator=generator).tolist()
        )
    stats = KeywordHitStats(ks=ks, special_ids=sorted(special))
    for start in range(0, n_utt, 10):
        stop = start + 10
        stats.append(
            [f"utt{u}" for u in range(start, min(stop, n_utt))],
            ranked[start:stop],
            captions[start:stop],
        )
    ours = stats.summarize()
    reference = brute_force_keyword_hits(ranked.tolist(), captions, ks, special)
    assert list(ours) == list(reference)
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key
    assert (
        stats.summarize("keyword_hit_top3_slot1")
        == reference["keyword_hit_top3_slot1"]
    )
    top1 = stats.top1_counts(limit=4)
    for k in range(n_slots):
        counts = Counter(ranked[:, k, 0].tolist())
        expected = sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:4]
        assert top1[k] == expected


def test_keyword_hits_by_hand():
    # captions: CLIP-like ids with start 49406, end 49407, padding 0
    captions = torch.tensor(
        [
            [49406, 10, 11, 49407, 0],
            [49406, 20, 49407, 0, 0],
            [49406, 30, 31, 49407, 0],
        ]
    )
    ranked = torch.tensor(
        [
            # slot 0: always the start token; slot 1: always 10;
            # slot 2: the caption's own first word, then a special
            [[49406, 0], [10, 49407], [10, 0]],
            [[49406, 0], [10, 49407], [20, 0]],
            [[49406, 0], [10, 49407], [30, 0]],
        ]
    )
    stats = KeywordHitStats(ks=(1, 2), special_ids=[0, 49406, 49407])
    stats.append(["a", "b", "c"], ranked, captions)  # rows of a tensor
    result = stats.summarize()
    for n in (1, 2):
        # a slot predicting only special tokens never hits, nor its baseline
        assert result[f"keyword_hit_top{n}_slot0"] == 0.0
        assert result[f"baseline_keyword_hit_top{n}_slot0"] == 0.0
        # a constant prediction equals its own baseline
        assert result[f"keyword_hit_top{n}_slot1"] == pytest.approx(1 / 3)
        assert result[f"baseline_keyword_hit_top{n}_slot1"] == pytest.approx(
            1 / 3
        )
        # the model beats the baseline: 10, then 20 for n = 2 (the smallest
        # of three tied ids)
        assert result[f"keyword_hit_top{n}_slot2"] == 1.0
        assert result[f"baseline_keyword_hit_top{n}_slot2"] == pytest.approx(
            n / 3
        )
        assert result[f"keyword_hit_top{n}"] == pytest.approx(4 / 9)
        assert result[f"baseline_keyword_hit_top{n}"] == pytest.approx(
            (1 + n) / 9
        )
        # chance: each keyword against all three captions; slot 0 never
        # meets one, 10 (slot 1) and each of slot 2's words meet one
        assert result[f"chance_keyword_hit_top{n}"] == pytest.approx(2 / 9)
    assert len(result) == 2 * 2 * (1 + 3) + 2


@pytest.mark.parametrize("variable", [False, True])
def test_chance_keyword_hits_are_the_mean_over_all_captions(variable):
    """Chance equals scoring every keyword against every caption, by brute
    force, and the mean over the captions of random utterances."""
    generator = torch.Generator().manual_seed(3)
    n_utts, n_slots = 40, 4
    ranked = torch.randint(0, 12, (n_utts, n_slots, 3), generator=generator)
    captions = [
        torch.randint(1, 12, (int(size),), generator=generator).tolist()
        for size in torch.randint(1, 6, (n_utts,), generator=generator)
    ]
    counts = torch.randint(0, n_slots + 1, (n_utts,), generator=generator)
    stats = KeywordHitStats(ks=(1, 3), special_ids=[0])
    ids = [f"u{i}" for i in range(n_utts)]
    stats.append(ids, ranked, captions, counts if variable else None)
    for n in (1, 3):
        pairs = [
            bool((set(ranked[u, k, :n].tolist()) - {0}) & set(caption))
            for u in range(n_utts)
            for k in range(int(counts[u]) if variable else n_slots)
            for caption in captions
        ]
        expected = sum(pairs) / len(pairs)
        assert stats.summarize(f"chance_keyword_hit_top{n}") == pytest.approx(
            expected
        )
        # the same keywords given to the captions of other utterances
        shuffled = KeywordHitStats(ks=(n,), special_ids=[0])
        rates = []
        for shift in range(n_utts):
            shuffled.clear()
            moved = captions[shift:] + captions[:shift]
            shuffled.append(ids, ranked, moved, counts if variable else None)
            rates.append(shuffled.summarize(f"keyword_hit_top{n}"))
        # (each rotation scores the same keywords)
        assert sum(rates) / n_utts == pytest.approx(expected)


def test_keyword_hits_reject_bad_input():
    stats = KeywordHitStats(ks=(1, 5))
    with pytest.raises(ValueError, match="no data"):
        stats.summarize()
    with pytest.raises(ValueError, match=r"\[B, K, N\]"):
        stats.append(["a"], torch.zeros(1, 5, dtype=torch.long), [[1]])
    with pytest.raises(ValueError, match="integer"):
        stats.append(["a"], torch.zeros(1, 2, 5), [[1]])
    with pytest.raises(ValueError, match="fewer than max"):
        stats.append(["a"], torch.zeros(1, 2, 4, dtype=torch.long), [[1]])
    with pytest.raises(ValueError, match="differ in size"):
        stats.append(["a"], torch.zeros(2, 2, 5, dtype=torch.long), [[1], [2]])
    with pytest.raises(ValueError, match="twice"):
        stats.append(
            ["a", "a"], torch.zeros(2, 2, 5, dtype=torch.long), [[1], [2]]
        )
    stats.append(["a"], torch.zeros(1, 2, 5, dtype=torch.long), [[1]])
    with pytest.raises(ValueError, match="twice"):
        stats.append(["a"], torch.zeros(1, 2, 5, dtype=torch.long), [[1]])
    with pytest.raises(ValueError, match="keyword slots"):
        stats.append(["b"], torch.zeros(1, 3, 5, dtype=torch.long), [[1]])
    assert stats.summarize("keyword_hit_top5") == 0.0
    stats.clear()
    with pytest.raises(ValueError, match="no data"):
        stats.top1_counts()
