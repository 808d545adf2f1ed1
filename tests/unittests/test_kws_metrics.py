"""Tests for the keyword spotting and bag-of-words metrics of
speechbrain_vgs.metrics, against scikit-learn / scipy peers (Kamper's
evaluation code) and brute-force averages over tie-breaking orders."""

import functools
import itertools

import numpy as np
import pytest
import torch
from scipy.interpolate import interp1d
from scipy.optimize import brentq
from sklearn.metrics import (
    average_precision_score,
    precision_recall_fscore_support,
    roc_curve,
)

from speechbrain_vgs.metrics import bow_metrics, keyword_spotting_metrics

METRICS = ("p_at_10", "p_at_n", "eer", "ap")


def kamper_eer(labels, scores):
    """EER as in Kamper's code: where the linearly interpolated ROC curve
    meets TPR = 1 - FPR."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0)


def strict_metrics(labels, scores):
    """The four metrics of one keyword whose scores are all distinct."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    assert len(set(scores.tolist())) == len(scores)
    ranked = labels[np.argsort(-scores)]
    num_relevant = int(labels.sum())
    k = min(10, len(labels))
    return {
        "p_at_10": ranked[:k].sum() / k,
        "p_at_n": ranked[:num_relevant].sum() / num_relevant,
        "eer": kamper_eer(labels, scores),
        "ap": average_precision_score(labels, scores),
    }


@functools.cache
def ranked_metrics(ranked_labels):
    """strict_metrics of a ranking given as its labels, best first."""
    scores = np.arange(len(ranked_labels), 0, -1, dtype=float)
    return strict_metrics(ranked_labels, scores)


def tie_averaged_metrics(labels, scores):
    """The metrics of one keyword averaged over all distinct orders of the
    labels within each group of tied scores (each equally likely under
    uniformly random tie-breaking)."""
    groups = []
    for value in sorted(set(scores), reverse=True):
        members = [y for y, s in zip(labels, scores) if s == value]
        size, hits = len(members), sum(members)
        # the distinct orders: where the group's relevant items go
        groups.append(
            [
                tuple(int(p in places) for p in range(size))
                for places in itertools.combinations(range(size), hits)
            ]
        )
    totals = dict.fromkeys(METRICS, 0.0)
    orders = 0
    for parts in itertools.product(*groups):
        metrics = ranked_metrics(tuple(itertools.chain(*parts)))
        for name in METRICS:
            totals[name] += metrics[name]
        orders += 1
    return {name: total / orders for name, total in totals.items()}


def averaged(per_keyword, scores, relevant):
    """Averages ``per_keyword(labels, scores)`` over the keywords with both
    relevant and irrelevant utterances; also returns their number."""
    results = []
    for column in range(scores.shape[1]):
        labels = relevant[:, column].int().tolist()
        if 0 < sum(labels) < len(labels):
            results.append(per_keyword(labels, scores[:, column].tolist()))
    mean = {name: np.mean([r[name] for r in results]) for name in METRICS}
    return mean, len(results)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_continuous_scores_match_sklearn(seed):
    generator = torch.Generator().manual_seed(seed)
    relevant = torch.rand(40, 6, generator=generator) < 0.3
    relevant[:, 1] = False  # no relevant utterance: excluded
    relevant[:, 4] = True  # no irrelevant utterance: excluded
    relevant[:3, 5] = True  # at least 3 relevant
    scores = torch.randn(40, 6, generator=generator, dtype=torch.float64)
    scores = scores + 1.2 * relevant
    expected, count = averaged(strict_metrics, scores, relevant)
    result = keyword_spotting_metrics(scores, relevant)
    assert count == 4
    assert result["keywords"] == 4
    assert set(result) == {*METRICS, "keywords"}
    for name in METRICS:
        assert isinstance(result[name], float)
        assert result[name] == pytest.approx(expected[name], abs=1e-6), name
    # far from the trivial values, so the comparison means something
    assert 0.05 < result["eer"] < 0.45
    assert result["ap"] > 0.5


def test_continuous_float32_scores():
    generator = torch.Generator().manual_seed(7)
    relevant = torch.rand(30, 3, generator=generator) < 0.5
    relevant[0], relevant[1] = True, False
    scores = torch.randn(30, 3, generator=generator) + relevant
    expected, _ = averaged(strict_metrics, scores.double(), relevant)
    result = keyword_spotting_metrics(scores, relevant)
    for name in METRICS:
        assert result[name] == pytest.approx(expected[name], abs=1e-6), name


@pytest.mark.parametrize(
    "seed, utterances, levels",
    [(0, 7, 3), (1, 8, 3), (2, 8, 2), (3, 7, 3), (4, 11, 4), (5, 11, 5)],
)
def test_tied_scores_average_over_tie_breaking(seed, utterances, levels):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, levels, (utterances, 4), generator=generator)
    scores = scores.double()
    if utterances < 10:  # one constant column (all orders: up to 70)
        scores[:, 3] = 1.0
    relevant = torch.rand(utterances, 4, generator=generator) < 0.4
    relevant[0], relevant[1] = True, False  # every column qualifies
    expected, count = averaged(tie_averaged_metrics, scores, relevant)
    result = keyword_spotting_metrics(scores, relevant)
    assert result["keywords"] == count == 4
    for name in METRICS:
        assert result[name] == pytest.approx(expected[name], abs=1e-9), name


def test_ties_with_many_orders():
    # one keyword, larger tie groups than the random cases
    scores = torch.tensor([3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 0, 0], dtype=float)
    labels = [1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1]
    expected = tie_averaged_metrics(labels, scores.tolist())
    result = keyword_spotting_metrics(
        scores[:, None], torch.tensor(labels, dtype=torch.bool)[:, None]
    )
    for name in METRICS:
        assert result[name] == pytest.approx(expected[name], abs=1e-9), name


@pytest.mark.parametrize("utterances", [20, 37, 3000])
def test_constant_scores(utterances):
    generator = torch.Generator().manual_seed(utterances)
    relevant = torch.rand(utterances, 5, generator=generator) < torch.tensor(
        [0.1, 0.3, 0.5, 0.7, 0.9]
    )
    relevant[0], relevant[1] = True, False
    scores = torch.full((utterances, 5), 0.25)
    result = keyword_spotting_metrics(scores, relevant)
    share = relevant.double().mean(dim=0).mean().item()
    assert result["keywords"] == 5
    assert result["eer"] == pytest.approx(0.5, abs=1e-9)
    assert result["p_at_10"] == pytest.approx(share, abs=1e-12)
    assert result["p_at_n"] == pytest.approx(share, abs=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_perfect_and_reversed_scores(ties):
    generator = torch.Generator().manual_seed(11)
    relevant = torch.rand(50, 6, generator=generator) < torch.tensor(
        [0.04, 0.1, 0.3, 0.5, 0.8, 0.0]
    )
    relevant[0, :5], relevant[1, :5] = True, False
    noise = 0 if ties else torch.rand(50, 6, generator=generator)
    scores = 2.0 * relevant + noise
    result = keyword_spotting_metrics(scores, relevant)
    counts = relevant.sum(dim=0)[:5]
    assert result["keywords"] == 5
    assert result["p_at_10"] == pytest.approx(
        (counts.clamp(max=10).double() / 10).mean().item(), abs=1e-12
    )
    assert result["p_at_10"] < 1  # the first keyword has < 10 relevant
    assert result["p_at_n"] == pytest.approx(1.0, abs=1e-12)
    assert result["eer"] == pytest.approx(0.0, abs=1e-12)
    assert result["ap"] == pytest.approx(1.0, abs=1e-12)

    reversed_result = keyword_spotting_metrics(-scores, relevant)
    assert reversed_result["eer"] == pytest.approx(1.0, abs=1e-12)
    assert reversed_result["p_at_n"] < 0.5  # 0 where at most half relevant


def test_fewer_utterances_than_ten():
    scores = torch.tensor([[0.9], [0.1], [0.5], [0.4]])
    relevant = torch.tensor([[True], [False], [False], [True]])
    result = keyword_spotting_metrics(scores, relevant)
    assert result["p_at_10"] == pytest.approx(0.5)  # k = 4 utterances
    assert result["p_at_n"] == pytest.approx(0.5)
    assert result["eer"] == pytest.approx(0.5)
    assert result["ap"] == pytest.approx((1 + 2 / 3) / 2)


def test_bow_metrics_hand_count():
    scores = torch.tensor([[0.9, 0.5, 0.2], [0.49, 0.7, 0.1]])
    relevant = torch.tensor([[True, True, True], [True, False, False]])
    # predicted: (0,0) (0,1) [0.5 >= 0.5] (1,1); hits: (0,0) (0,1)
    result = bow_metrics(scores, relevant)
    assert result["bow_precision"] == pytest.approx(2 / 3)
    assert result["bow_recall"] == pytest.approx(2 / 4)
    assert result["bow_f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    strict = bow_metrics(scores, relevant, threshold=0.5 + 1e-6)
    assert strict["bow_precision"] == pytest.approx(1 / 2)
    assert strict["bow_recall"] == pytest.approx(1 / 4)


def test_bow_metrics_zero_denominators():
    scores = torch.tensor([[0.2, 0.3], [0.1, 0.4]])
    relevant = torch.tensor([[True, False], [False, False]])
    nothing = {"bow_precision": 0.0, "bow_recall": 0.0, "bow_f1": 0.0}
    assert bow_metrics(scores, relevant) == nothing  # nothing predicted
    no_relevant = torch.zeros(2, 2, dtype=torch.bool)
    assert bow_metrics(scores, no_relevant, threshold=0.25) == nothing


@pytest.mark.parametrize("seed, threshold", [(0, 0.5), (1, 0.3), (2, 0.8)])
def test_bow_metrics_match_sklearn(seed, threshold):
    generator = torch.Generator().manual_seed(seed)
    relevant = torch.rand(30, 8, generator=generator) < 0.3
    scores = torch.rand(30, 8, generator=generator) * 0.7 + 0.3 * relevant
    scores = (scores * 10).round() / 10  # some scores equal the threshold
    assert (scores == threshold).any()
    predicted = (scores >= threshold).numpy().astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        relevant.numpy().astype(int).ravel(),
        predicted.ravel(),
        labels=[1],
        average="micro",
        zero_division=0,
    )
    result = bow_metrics(scores, relevant, threshold=threshold)
    assert result["bow_precision"] == pytest.approx(precision, abs=1e-12)
    assert result["bow_recall"] == pytest.approx(recall, abs=1e-12)
    assert result["bow_f1"] == pytest.approx(f1, abs=1e-12)
    assert 0 < result["bow_f1"] < 1


@pytest.mark.parametrize("metric", [keyword_spotting_metrics, bow_metrics])
def test_bad_input(metric):
    scores = torch.rand(5, 3)
    relevant = torch.rand(5, 3) < 0.5
    relevant[0], relevant[1] = True, False
    with pytest.raises(ValueError, match="must both be"):
        metric(scores, relevant[:4])
    with pytest.raises(ValueError, match="must both be"):
        metric(scores[:, 0], relevant[:, 0])
    with pytest.raises(ValueError, match="bool"):
        metric(scores, relevant.int())
    nan_scores = scores.clone()
    nan_scores[2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        metric(nan_scores, relevant)


def test_no_qualifying_keyword():
    scores = torch.rand(4, 2)
    relevant = torch.tensor([[True, False]] * 4)  # all and none relevant
    with pytest.raises(ValueError, match="no keyword has both"):
        keyword_spotting_metrics(scores, relevant)
    with pytest.raises(ValueError, match="no keyword has both"):
        keyword_spotting_metrics(torch.zeros(0, 3), torch.zeros(0, 3) > 0)
