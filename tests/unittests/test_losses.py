"""Tests for speechbrain_vgs.losses (references: open_clip, hand-built)."""

import math

import pytest
import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

from speechbrain_vgs.losses import (
    InfoNCE,
    MaskedMarginSoftmax,
    TripletMarginLoss,
    sample_impostors,
)


def normalized_features(seed, batch=6, dim=5):
    generator = torch.Generator().manual_seed(seed)
    audio = F.normalize(torch.randn(batch, dim, generator=generator), dim=1)
    image = F.normalize(torch.randn(batch, dim, generator=generator), dim=1)
    return audio.requires_grad_(), image.requires_grad_()


def reference_masked_ce(logits, image_ids):
    """Both-direction cross-entropy, each row keeping only its positive and
    the items of other images (selected explicitly, one row at a time)."""
    directions = []
    for matrix in (logits, logits.t()):
        losses = []
        for i in range(matrix.shape[0]):
            keep = [
                j
                for j in range(matrix.shape[1])
                if j == i or image_ids[j] != image_ids[i]
            ]
            target = torch.tensor(keep.index(i))
            losses.append(F.cross_entropy(matrix[i, keep], target))
        directions.append(torch.stack(losses).mean())
    return directions


def test_infonce_matches_open_clip():
    audio, image = normalized_features(0)
    loss = InfoNCE(temperature=0.07)(audio @ image.t())
    loss.backward()
    ours = loss.detach(), audio.grad.clone(), image.grad.clone()

    audio.grad, image.grad = None, None
    reference = ClipLoss()(image, audio, logit_scale=1 / 0.07)
    reference.backward()
    torch.testing.assert_close(ours[0], reference.detach())
    torch.testing.assert_close(ours[1], audio.grad)
    torch.testing.assert_close(ours[2], image.grad)


def test_infonce_unique_image_ids_change_nothing():
    audio, image = normalized_features(1)
    sim = (audio @ image.t()).detach()
    loss = InfoNCE()
    torch.testing.assert_close(loss(sim), loss(sim, torch.arange(6) * 3))


def test_infonce_learnable_temperature_gradient_and_clamp():
    audio, image = normalized_features(2)
    sim = (audio @ image.t()).detach()
    loss_fn = InfoNCE(temperature=0.07, learnable=True)
    loss_fn(sim).backward()
    log_scale = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    ClipLoss()(image.detach(), audio.detach(), log_scale.exp()).backward()
    torch.testing.assert_close(loss_fn.log_logit_scale.grad, log_scale.grad)

    clamped = InfoNCE(temperature=0.001, learnable=True, max_logit_scale=100)
    loss = clamped(sim)
    loss.backward()
    torch.testing.assert_close(loss, ClipLoss()(image, audio, 100.0))
    assert clamped.log_logit_scale.grad == 0
    assert set(dict(InfoNCE().named_parameters())) == set()


def test_infonce_same_image_masking():
    audio, image = normalized_features(3)
    image_ids = torch.tensor([0, 0, 1, 2, 2, 2])
    sim = audio @ image.t()
    loss = InfoNCE(temperature=0.1)(sim, image_ids)
    rows, columns = reference_masked_ce(sim / 0.1, image_ids)
    torch.testing.assert_close(loss, (rows + columns) / 2)
    assert not torch.isclose(loss, InfoNCE(temperature=0.1)(sim))

    loss.backward()
    assert torch.isfinite(audio.grad).all() and audio.grad.abs().sum() > 0


def test_infonce_closed_form_with_ties():
    # all similarities equal: each softmax is uniform over what is kept
    sim = torch.zeros(4, 4)
    torch.testing.assert_close(InfoNCE()(sim), torch.tensor(math.log(4)))
    pairs = torch.tensor([5, 5, 9, 9])
    torch.testing.assert_close(InfoNCE()(sim, pairs), torch.tensor(math.log(3)))


def test_masked_margin_softmax_reference_and_closed_form():
    audio, image = normalized_features(4)
    image_ids = torch.tensor([3, 1, 3, 0, 1, 2])
    sim = audio @ image.t()
    loss = MaskedMarginSoftmax(margin=0.5)(sim, image_ids)
    rows, columns = reference_masked_ce(sim - 0.5 * torch.eye(6), image_ids)
    torch.testing.assert_close(loss, rows + columns)
    loss.backward()
    assert torch.isfinite(image.grad).all() and image.grad.abs().sum() > 0

    # positives ahead by exactly the margin: a uniform softmax
    sim = torch.full((4, 4), 0.3) + torch.eye(4)
    loss = MaskedMarginSoftmax(margin=1.0)
    torch.testing.assert_close(loss(sim), torch.tensor(2 * math.log(4)))
    pairs = torch.tensor([5, 5, 9, 9])
    torch.testing.assert_close(loss(sim, pairs), torch.tensor(2 * math.log(3)))


def test_masked_margin_softmax_vanishes_with_large_gap():
    sim = torch.rand(5, 5) + 40 * torch.eye(5)
    assert MaskedMarginSoftmax(margin=1.0)(sim) < 1e-12
    sim = torch.rand(5, 5) + 0.5 * torch.eye(5)
    assert MaskedMarginSoftmax(margin=1.0)(sim) > 1.0


@pytest.mark.parametrize("semi_hard", [False, True])
def test_triplet_zero_beyond_margin(semi_hard):
    torch.manual_seed(0)
    sim = (torch.rand(6, 6) * 2 - 1) + 3.01 * torch.eye(6)
    assert TripletMarginLoss(1.0, semi_hard)(sim) == 0


@pytest.mark.parametrize("semi_hard, expected", [(False, 1.0), (True, 2.0)])
def test_triplet_within_margin_and_gradient(semi_hard, expected):
    # every negative 0.5 below its positive: each hinge is exactly 0.5
    sim = (torch.zeros(5, 5) + 0.5 * torch.eye(5)).requires_grad_()
    loss = TripletMarginLoss(margin=1.0, semi_hard=semi_hard)(sim)
    torch.testing.assert_close(loss, torch.tensor(expected))
    loss.backward()
    terms = 2 if semi_hard else 1
    # each positive appears in 2 hinges per term (both directions)
    expected_diagonal = torch.full((5,), -2.0 * terms / 5)
    torch.testing.assert_close(sim.grad.diagonal(), expected_diagonal)


def test_triplet_never_uses_same_image_impostors():
    image_ids = torch.tensor([0, 0, 1, 2])
    sim = torch.full((4, 4), 1.5) + 0.5 * torch.eye(4)
    sim[0, 1] = sim[1, 0] = 10.0  # the only high negatives share an image
    sampled = TripletMarginLoss(margin=1.0)
    for seed in range(20):
        torch.manual_seed(seed)
        torch.testing.assert_close(sampled(sim, image_ids), torch.tensor(1.0))
    unmasked = []
    for seed in range(20):
        torch.manual_seed(seed)
        unmasked.append(sampled(sim).item())
    assert max(unmasked) > 1.0

    sim[0, 1] = sim[1, 0] = 1.9  # now the semi-hard pick if not masked
    semi_hard = TripletMarginLoss(margin=1.0, semi_hard=True)
    torch.testing.assert_close(semi_hard(sim, image_ids), torch.tensor(2.0))
    torch.manual_seed(0)
    total = semi_hard(sim)
    torch.manual_seed(0)
    semi_hard_part = total - sampled(sim)  # same draws, so the rest cancels
    # unmasked, rows/columns 0 and 1 pick 1.9: (0.9 + 0.9 + 0.5 + 0.5) / 4 * 2
    torch.testing.assert_close(semi_hard_part, torch.tensor(1.4))


def test_triplet_without_any_negative_is_zero():
    sim = torch.randn(3, 3, requires_grad=True)
    loss = TripletMarginLoss(semi_hard=True)(sim, torch.tensor([1, 1, 1]))
    loss.backward()
    assert loss == 0 and torch.isfinite(sim.grad).all()


def test_triplet_sampling_is_seeded():
    sim = torch.randn(8, 8)
    losses = []
    for _ in range(2):
        torch.manual_seed(3)
        losses.append(TripletMarginLoss(margin=1.0, semi_hard=True)(sim))
    assert losses[0] == losses[1]


def test_sample_impostors_uniform_over_negatives():
    negatives = torch.tensor(
        [[False, True, True, False], [True, False, False, True]]
    )
    torch.manual_seed(0)
    counts = torch.zeros(2, 4)
    for _ in range(400):
        index, found = sample_impostors(negatives)
        counts[torch.arange(2), index] += 1
    assert found.all()
    assert (counts[~negatives] == 0).all()
    assert (counts[negatives] > 150).all()  # about 200 each


def test_losses_reject_non_square():
    for loss in (InfoNCE(), TripletMarginLoss(), MaskedMarginSoftmax()):
        with pytest.raises(ValueError, match="square"):
            loss(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="image_ids"):
        InfoNCE()(torch.zeros(3, 3), torch.tensor([1, 2]))
