"""Tests for SpeechCLIP+'s heads with a variable number of keywords
(Cascaded+ and Hybrid+, CIF), their path through the model, the keyword
hit rate over a variable number of keywords, and the CIF figure."""

import pytest
import torch

from speechbrain_vgs.figures import plot_cif_weights
from speechbrain_vgs.lobes.cif import CIF
from speechbrain_vgs.lobes.clip import FrozenCLIP
from speechbrain_vgs.lobes.speechclip import (
    CascadedHead,
    CascadedPlusHead,
    HybridPlusHead,
    SpeechCLIP,
    VariableKeywordSelector,
)
from speechbrain_vgs.lobes.ssl import SSLUpstream
from speechbrain_vgs.lobes.tiny_models import save_tiny_clip, save_tiny_hubert
from speechbrain_vgs.metrics import KeywordHitStats

BATCH, FRAMES, DIM, TOKEN_DIM, OUT_DIM, VOCAB = 3, 90, 8, 4, 6, 20
VALID = [90, 50, 12]


def make_head(name, scaling_batches=0):
    torch.manual_seed(0)
    cif = CIF(DIM, scaling_batches=scaling_batches)
    if name == "cascaded_plus":
        return CascadedPlusHead(DIM, TOKEN_DIM, cif, num_heads=2)
    return HybridPlusHead(DIM, TOKEN_DIM, OUT_DIM, cif, num_heads=2)


def vocabulary():
    generator = torch.Generator().manual_seed(1)
    table = torch.randn(VOCAB, TOKEN_DIM, generator=generator)
    return table, torch.arange(100, 100 + VOCAB)


def inputs():
    generator = torch.Generator().manual_seed(2)
    features = torch.randn(BATCH, FRAMES, DIM, generator=generator)
    return features, torch.tensor(VALID) / FRAMES


@pytest.mark.parametrize("name", ["cascaded_plus", "hybrid_plus"])
def test_shapes_masks_and_padded_keywords(name):
    head = make_head(name).eval()
    table, ids = vocabulary()
    head.init_batchnorm(table)
    features, lengths = inputs()
    with torch.no_grad():
        out = head(features, lengths, table, ids)
    counts = out.num_keywords
    size = int(counts.max())
    assert counts.dtype == torch.long and counts.shape == (BATCH,)
    assert torch.all(counts >= 1)
    assert out.keywords.shape == (BATCH, size, TOKEN_DIM)
    assert out.token_ids.shape == (BATCH, size)
    assert out.scores.shape == (BATCH, size, VOCAB)
    assert out.attention.shape == (BATCH, size, FRAMES)
    assert out.frame_weights.shape == (BATCH, FRAMES)
    assert out.keyword_targets.tolist() == [round(v / 20) for v in VALID]
    assert (out.parallel is not None) == (name == "hybrid_plus")
    if out.parallel is not None:
        assert out.parallel.shape == (BATCH, OUT_DIM)
        torch.testing.assert_close(out.parallel.norm(dim=-1), torch.ones(BATCH))
    for b, (count, valid) in enumerate(zip(counts.tolist(), VALID)):
        # valid keywords are vocabulary rows, ranked by their scores
        assert torch.equal(
            out.keywords[b, :count], table[out.token_ids[b, :count] - 100]
        )
        assert torch.equal(
            ids[out.scores[b, :count].argmax(-1)], out.token_ids[b, :count]
        )
        # padded keyword slots: zero, -1, zero
        assert torch.all(out.keywords[b, count:] == 0)
        assert torch.all(out.token_ids[b, count:] == -1)
        assert torch.all(out.scores[b, count:] == 0)
        assert torch.all(out.attention[b, count:] == 0)
        # padded frames: no weight, in no keyword
        assert torch.all(out.frame_weights[b, valid:] == 0)
        assert torch.all(out.attention[b, :, valid:] == 0)
        # out of training the fires follow the weights (tail rule aside)
        total = out.frame_weights[b].sum().item()
        assert count in (max(1, int(total)), int(total) + 1)
        assert out.weight_sum[b].item() == pytest.approx(total, rel=1e-5)


@pytest.mark.parametrize("name", ["cascaded_plus", "hybrid_plus"])
def test_padding_invariance(name):
    head = make_head(name).eval()
    table, ids = vocabulary()
    features, lengths = inputs()
    padded = torch.cat([features, torch.zeros(BATCH, 7, DIM)], dim=1)
    for b, valid in enumerate(VALID):
        padded[b, valid:] = 100 * torch.randn(FRAMES + 7 - valid, DIM)
    padded_lengths = torch.tensor(VALID) / (FRAMES + 7)
    with torch.no_grad():
        out = head(features, lengths, table, ids)
        noisy = head(padded, padded_lengths, table, ids)
    assert torch.equal(out.num_keywords, noisy.num_keywords)
    assert torch.equal(out.token_ids, noisy.token_ids)
    torch.testing.assert_close(out.keywords, noisy.keywords)
    torch.testing.assert_close(out.attention, noisy.attention[..., :FRAMES])
    if out.parallel is not None:
        torch.testing.assert_close(out.parallel, noisy.parallel)


def test_targets_set_the_number_of_keywords_while_scaling():
    head = make_head("cascaded_plus", scaling_batches=1).train()
    table, ids = vocabulary()
    features, lengths = inputs()
    targets = torch.tensor([2, 9, 4])
    out = head(features, lengths, table, ids, keyword_targets=targets)
    assert out.num_keywords.tolist() == [2, 9, 4]
    assert torch.equal(out.keyword_targets, targets)
    # the gradient of the keywords and of the quantity reaches the CIF
    (out.keywords.sum() + out.weight_sum.sum()).backward()
    assert head.cif.conv.weight.grad.abs().sum() > 0
    assert head.attention.attention.in_proj_weight.grad.abs().sum() > 0


def test_batchnorm_counts_only_valid_keywords():
    torch.manual_seed(0)
    selector = VariableKeywordSelector(5, TOKEN_DIM).train()
    table, ids = vocabulary()
    vectors = torch.randn(2, 4, 5)
    counts = torch.tensor([4, 2])
    noisy = vectors.clone()
    noisy[1, 2:] = 1e3
    first = selector(vectors, counts, table, ids)
    mean = selector.batchnorm.running_mean.clone()
    selector.batchnorm.reset_running_stats()
    second = selector(noisy, counts, table, ids)
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(selector.batchnorm.running_mean, mean)
    # the statistics are those of the six valid keywords
    valid = torch.cat([vectors[0], vectors[1, :2]])
    projected = selector.projection(valid).detach()
    torch.testing.assert_close(mean, 0.1 * projected.mean(0))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    clip = FrozenCLIP("tiny-clip", None, *save_tiny_clip(folder / "clip"))
    # HuBERT's 50 frames a second: fewer than 75 keywords in a second
    hubert = save_tiny_hubert(
        folder / "hubert", conv_kernel=(400, 2), conv_stride=(160, 2)
    )
    return clip, hubert


def test_end_token_follows_each_utterances_own_keywords(tiny):
    clip, hubert = tiny
    upstream = SSLUpstream(hubert)
    torch.manual_seed(0)
    cif = CIF(upstream.dim, scaling_batches=0)
    head = HybridPlusHead(
        upstream.dim, clip.token_dim, clip.embedding_dim, cif, num_heads=2
    )
    model = SpeechCLIP(upstream, head, clip).eval()
    model.set_vocabulary(clip.subword_vocabulary(["a red circle", "two cars"]))
    wavs = torch.randn(3, 16000)
    lengths = torch.tensor([1.0, 0.6, 0.25])
    with torch.no_grad():
        out = model(wavs, lengths)
        keywords = head(
            *upstream(wavs, lengths),
            clip.vocabulary_embeddings,
            clip.vocabulary,
        ).keywords
    counts = out.num_keywords.tolist()
    assert len(set(counts)) > 1  # the test needs different counts
    for b, count in enumerate(counts):
        alone = clip.encode_keywords(keywords[b : b + 1, :count])
        torch.testing.assert_close(out.cascaded[b : b + 1], alone)
    assert out.parallel.shape == (3, clip.embedding_dim)
    assert out.frame_weights is not None and out.weight_sum is not None


def test_fixed_slot_heads_refuse_keyword_targets(tiny):
    clip, hubert = tiny
    upstream = SSLUpstream(hubert)
    head = CascadedHead(upstream.dim, clip.token_dim, num_keywords=2)
    model = SpeechCLIP(upstream, head, clip).eval()
    model.set_vocabulary(clip.subword_vocabulary(["a red circle"]))
    out = model(torch.randn(2, 8000))
    assert out.num_keywords.tolist() == [2, 2]
    assert out.weight_sum is None
    with pytest.raises(ValueError, match="fixed number of keywords"):
        model(torch.randn(2, 8000), keyword_targets=torch.tensor([1, 2]))


def test_keyword_hits_over_a_variable_number_of_keywords_by_hand():
    special = [0, 49406, 49407]
    captions = [
        [49406, 10, 11, 12, 49407],  # 3 subwords
        [49406, 20, 49407, 0],  # 1
        [49406, 30, 31, 49407],  # 2
    ]
    # K = 3 slots, N = 2 ranked ids; padded slots hold ids that would hit
    ranked = torch.tensor(
        [
            [[10, 50], [50, 11], [12, 0]],  # 3 keywords
            [[50, 20], [20, 20], [20, 20]],  # 1 keyword: the rest padding
            [[49406, 30], [31, 50], [30, 30]],  # 2 keywords
        ]
    )
    stats = KeywordHitStats(ks=(1, 2), special_ids=special)
    stats.append(["a", "b", "c"], ranked, captions, num_keywords=[3, 1, 2])
    result = stats.summarize()
    # 6 keywords; top-1 hits: 10, 12 (a), none (b), 31 (c)
    assert result["keyword_hit_top1"] == pytest.approx(3 / 6)
    # top-2 hits: a's three, b's one, c's two
    assert result["keyword_hit_top2"] == pytest.approx(6 / 6)
    # the baseline's top-1: the most frequent non-special top-1 id over
    # the 6 keywords (10, 50, 12, 50, 49406, 31): 50, in no caption
    assert result["baseline_keyword_hit_top1"] == 0.0
    # top-2 over (10 50 | 50 11 | 12 0 | 50 20 | 49406 30 | 31 50): 50
    # (4 times), then 10 (the smallest of the ids seen once): a's keywords
    assert result["baseline_keyword_hit_top2"] == pytest.approx(3 / 6)
    # chance: each keyword against the 3 captions: top-1 10, 12 and 31
    # meet one each (3 of 18 pairs); top-2 every keyword meets one
    assert result["chance_keyword_hit_top1"] == pytest.approx(3 / 18)
    assert result["chance_keyword_hit_top2"] == pytest.approx(6 / 18)
    assert set(result) == {
        f"{p}keyword_hit_top{n}"
        for p in ("", "baseline_", "chance_")
        for n in (1, 2)
    }
    assert stats.count_summary() == {
        "keywords_per_utterance": 2.0,
        "caption_subwords_per_utterance": 2.0,
    }
    assert stats.top1_counts(limit=2) == [[(50, 2), (10, 1)]]
    with pytest.raises(ValueError, match="every batch or for none"):
        stats.append(["d"], ranked[:1], captions[:1])
    with pytest.raises(ValueError, match="counts in"):
        stats.append(["d"], ranked[:1], captions[:1], num_keywords=[4])


def test_cif_figure(tmp_path):
    alpha = torch.tensor([0.5, 0.75, 0.25, 0.5, 0.5])
    weights = torch.tensor(
        [[0.5, 0.5, 0.0, 0.0, 0.0], [0.0, 0.25, 0.25, 0.5, 0.0]]
    )
    keywords = [["red", "blue"], ["circle"]]
    path = plot_cif_weights(alpha, weights, keywords, 0.02, tmp_path / "a.png")
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="frame weights for"):
        plot_cif_weights(alpha[:4], weights, keywords, 0.02, path)
    with pytest.raises(ValueError, match="keyword lists"):
        plot_cif_weights(alpha, weights, keywords[:1], 0.02, path)
    with pytest.raises(ValueError, match=r"\[K, T\]"):
        plot_cif_weights(alpha, weights[0], keywords, 0.02, path)
