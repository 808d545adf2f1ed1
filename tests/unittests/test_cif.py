"""Tests for continuous integrate-and-fire (SpeechCLIP+'s CIF)."""

import math

import pytest
import torch
from reference_checkpoints import integrate_and_fire_loop

from speechbrain_vgs.lobes.cif import CIF, integrate_and_fire, quantity_loss


def make_cif(**kwargs):
    torch.manual_seed(0)
    return CIF(6, **kwargs)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_integration_matches_a_per_frame_loop(seed, scale):
    # scale 3: weights above the threshold (as scaling makes them) fill
    # several vectors from one frame
    generator = torch.Generator().manual_seed(seed)
    frames = torch.randn(2, 23, 5, generator=generator, dtype=torch.float64)
    alpha = scale * torch.rand(2, 23, generator=generator, dtype=torch.float64)
    alpha[1, 15:] = 0  # padding
    vectors, num_fired, weights = integrate_and_fire(frames, alpha)
    for b in range(2):
        expected, _, tail = integrate_and_fire_loop(frames[b], alpha[b])
        assert num_fired[b] == max(1, len(expected))
        assert num_fired[b] == max(1, math.floor(alpha[b].sum()))
        for k, vector in enumerate(expected):
            torch.testing.assert_close(vectors[b, k], vector)
        # a vector is its frames weighted by their part in it
        torch.testing.assert_close(weights[b] @ frames[b], vectors[b])
        # complete vectors weigh the threshold exactly
        sums = weights[b, : len(expected)].sum(-1)
        torch.testing.assert_close(sums, torch.ones_like(sums))
        assert tail < 1.0
    assert torch.all(vectors[1, num_fired[1] :] == 0)


def test_fires_floor_of_the_weight_sum_plus_the_tail_rule():
    frames = torch.eye(6).unsqueeze(0)  # vector k = its frame weights
    cases = [
        # weights, fires without tail rule, fires with it
        ([0.25, 0.5, 0.75, 0.5, 0.25, 0.0], 2, 2),  # tail 0.25 < 0.5
        ([0.5, 0.5, 0.75, 0.5, 0.25, 0.0], 2, 3),  # tail 0.5 fires
        ([0.25, 0.0, 0.0, 0.0, 0.0, 0.0], 1, 1),  # at least one, partial
        ([0.25, 0.25, 0.0, 0.0, 0.0, 0.0], 1, 1),  # tail 0.5 fires
        ([0.25, 0.25, 0.25, 0.0, 0.0, 0.0], 1, 1),  # tail 0.75 alone fires
        ([1.0, 1.0, 1.0, 0.0, 0.0, 0.0], 3, 3),  # exact: no tail
    ]
    for weights, without, with_tail in cases:
        alpha = torch.tensor([weights])
        _, fired, rows = integrate_and_fire(frames, alpha)
        assert fired.tolist() == [without], weights
        assert fired.tolist() == [max(1, math.floor(sum(weights)))]
        _, fired, rows = integrate_and_fire(frames, alpha, tail_threshold=0.5)
        assert fired.tolist() == [with_tail], weights
        # complete vectors and a fired tail (rescaled) weigh a full vector;
        # only a lone vector below the tail threshold stays partial
        total = sum(weights)
        expected = [total] if total < 0.5 else [1.0] * with_tail
        sums = rows[0, :with_tail].sum(-1)
        assert sums.tolist() == pytest.approx(expected), weights
    # by hand: 0.5 + 0.5 | 0.75 + 0.25 of 0.5 | 0.25 + 0.25 -> tail 0.5
    alpha = torch.tensor([[0.5, 0.5, 0.75, 0.5, 0.25, 0.0]])
    _, _, rows = integrate_and_fire(frames, alpha, tail_threshold=0.5)
    expected = torch.tensor(
        [
            [0.5, 0.5, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.75, 0.25, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.5, 0.5, 0.0],  # (0.25, 0.25) / 0.5
        ]
    )
    torch.testing.assert_close(rows[0], expected)


def test_padded_frames_never_fire_even_with_huge_weights():
    cif = make_cif(scaling_batches=0).eval()
    with torch.no_grad():
        cif.weight_predictor[3].bias.fill_(50.0)  # every weight near 1
    frames = torch.randn(3, 40, 6)
    lengths = torch.tensor([1.0, 0.5, 0.1])
    garbage = frames.clone()
    for b, valid in enumerate([40, 20, 4]):
        garbage[b, valid:] = 1e4 * torch.randn(40 - valid, 6)
    with torch.no_grad():
        out = cif(frames, lengths)
        noisy = cif(garbage, lengths)
    for b, valid in enumerate([40, 20, 4]):
        assert torch.all(out.alpha[b, valid:] == 0)
        assert torch.all(out.weights[b, :, valid:] == 0)
        # one vector per valid frame, none from the padding
        assert out.num_fired[b] == valid
    for field in ("vectors", "num_fired", "weights", "alpha", "weight_sum"):
        torch.testing.assert_close(getattr(noisy, field), getattr(out, field))
    # each utterance alone, unpadded: the same vectors
    with torch.no_grad():
        alone = cif(frames[1:2, :20])
    torch.testing.assert_close(alone.vectors[0], out.vectors[1, :20])


def test_scaling_makes_the_sum_the_target_for_scaling_batches():
    cif = make_cif(scaling_batches=2).train()
    frames = torch.randn(3, 50, 6)
    lengths = torch.tensor([1.0, 0.6, 0.3])
    targets = torch.tensor([7, 2, 11])
    for _ in range(2):
        out = cif(frames, lengths, targets)
        torch.testing.assert_close(
            out.alpha.sum(1), targets.float(), atol=1e-4, rtol=0
        )
        assert out.num_fired.tolist() == targets.tolist()
        # the quantity is the predicted, unscaled sum
        assert not torch.allclose(out.weight_sum, targets.float())
    assert cif.training_batches.item() == 2
    assert "training_batches" in cif.state_dict()
    out = cif(frames, lengths, targets)  # the third batch: not scaled
    torch.testing.assert_close(out.alpha.sum(1), out.weight_sum)
    cif.eval()
    first = make_cif(scaling_batches=2).eval()(frames, lengths, targets)
    torch.testing.assert_close(first.alpha.sum(1), first.weight_sum)


def test_quantity_loss_gradient_reaches_the_weight_predictor():
    cif = make_cif(scaling_batches=10).train()  # scaled, yet it learns
    frames = torch.randn(2, 30, 6)
    targets = torch.tensor([4, 9])
    out = cif(frames, torch.tensor([1.0, 0.7]), targets)
    loss = quantity_loss(out.weight_sum, targets)
    expected = (out.weight_sum - targets).abs().mean()
    torch.testing.assert_close(loss, expected)
    loss.backward()
    for name, parameter in cif.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name
    # the vectors' gradient reaches the predictor too (through the weights)
    cif.zero_grad()
    out = cif(frames, None, targets)
    out.vectors.pow(2).sum().backward()
    assert cif.conv.weight.grad.abs().sum() > 0


def test_bad_kernel_size():
    with pytest.raises(ValueError, match="odd"):
        CIF(4, kernel_size=4)
