"""Tests for the DAVEnet / ResDAVEnet audio encoders and the EMA quantizer."""

import math

import pytest
import torch

from speechbrain_vgs.lobes.audio import (
    DAVEnet,
    ResDAVEnet,
    TemporalJitter,
    VectorQuantizerEMA,
)

SMALL_WIDTHS = (8, 12, 12, 16, 24)


def small_resdavenet(**kwargs):
    return ResDAVEnet(input_dim=40, widths=SMALL_WIDTHS, **kwargs)


def small_davenet():
    return DAVEnet(input_dim=40, embedding_dim=24, widths=(8, 12, 16, 16))


ENCODERS = {"resdavenet": small_resdavenet, "davenet": small_davenet}


@pytest.mark.parametrize("name", ENCODERS)
@pytest.mark.parametrize("num_frames", [160, 100, 37])
def test_every_layer_has_its_frame_rate_and_width(name, num_frames):
    model = ENCODERS[name]().eval()
    feats = torch.randn(2, num_frames, 40)
    assert len(model.layer_names) == 5
    for layer in model.layer_names:
        out = model(feats, layer=layer)
        ratio = model.frame_shift_ms[layer] // 10
        assert out.shape == (2, math.ceil(num_frames / ratio), out.shape[2])
        assert out.shape[2] == model.layer_dims[layer]
    assert [model.frame_shift_ms[n] for n in model.layer_names] == [
        10,
        20,
        40,
        80,
        160,
    ]
    last = model(feats)
    torch.testing.assert_close(last, model(feats, layer=model.layer_names[-1]))


def test_resdavenet_default_configuration():
    model = ResDAVEnet()
    assert model.layer_dims == {
        "conv1": 128,
        "res1": 256,
        "res2": 256,
        "res3": 512,
        "res4": 1024,
    }
    assert [len(model.res[name]) for name in model.res] == [2, 2, 2, 2]
    first = model.res["res1"][0]
    assert first.conv1.kernel_size == (9,) and first.conv1.stride == (2,)
    assert first.downsample[0].stride == (2,)
    assert model.res["res1"][1].conv1.stride == (1,)
    assert model.res["res1"][1].downsample is None
    # conv weights ~ N(0, 2 / (kernel area * out channels))
    conv = model.res["res4"][1].conv2
    expected_std = math.sqrt(2 / (9 * 1024))
    assert abs(conv.weight.std().item() / expected_std - 1) < 0.02
    expected_std = math.sqrt(2 / (40 * 128))
    assert abs(model.conv1.weight.std().item() / expected_std - 1) < 0.05


def test_davenet_default_configuration():
    model = DAVEnet()
    assert model.layer_dims == {
        "conv1": 128,
        "conv2": 256,
        "conv3": 512,
        "conv4": 512,
        "conv5": 1024,
    }
    assert model.conv1.weight.shape == (128, 40, 1)
    kernels = [conv.kernel_size[0] for conv in model.convs.values()]
    assert kernels == [11, 17, 17, 17]


@pytest.mark.parametrize("name", ENCODERS)
def test_computation_stops_at_the_requested_layer(name):
    model = ENCODERS[name]()
    ran = []
    if name == "resdavenet":
        later = model.res["res3"][0]
    else:
        later = model.convs["conv4"]
    later.register_forward_pre_hook(lambda module, args: ran.append(True))
    model(torch.randn(1, 64, 40), layer=model.layer_names[2])
    assert not ran
    model(torch.randn(1, 64, 40))
    assert ran


@pytest.mark.parametrize("name", ENCODERS)
def test_padding_does_not_leak_into_valid_frames(name):
    torch.manual_seed(0)
    model = ENCODERS[name]()
    model.train()
    model(torch.randn(4, 64, 40))  # non-trivial BatchNorm statistics
    model.eval()
    short = torch.randn(1, 32, 40)
    alone = {layer: model(short, layer=layer) for layer in model.layer_names}
    batch = 5 + 3 * torch.randn(2, 64, 40)  # garbage padding
    batch[0, :32] = short[0]
    lengths = torch.tensor([0.5, 1.0])
    for layer in model.layer_names:
        out = model(batch, lengths, layer=layer)
        valid = alone[layer].shape[1]
        torch.testing.assert_close(out[0, :valid], alone[layer][0])
        assert torch.count_nonzero(out[0, valid:]) == 0


def test_unknown_layer_and_bad_configuration_are_rejected():
    with pytest.raises(ValueError, match="res4"):
        small_resdavenet()(torch.randn(1, 16, 40), layer="res5")
    with pytest.raises(ValueError, match="vq_layers"):
        small_resdavenet(vq_layers=("quant2",))
    with pytest.raises(ValueError, match="5 widths"):
        ResDAVEnet(widths=(8, 8, 8))
    with pytest.raises(ValueError, match="conv5"):
        small_davenet()(torch.randn(1, 16, 40), layer="conv6")


def test_vq_loss_sums_the_quantizers_of_this_forward():
    model = small_resdavenet(vq_layers=("res1", "res2"), vq_codes=32)
    model.eval()
    feats, lengths = torch.randn(2, 80, 40), torch.tensor([1.0, 0.6])
    losses = {}
    for name, vq in model.vq.items():
        vq.register_forward_hook(
            lambda module, args, out, name=name: losses.update({name: out[2]})
        )
    model(feats, lengths)
    assert set(losses) == {"res1", "res2"}
    assert model.vq_loss.dim() == 0
    torch.testing.assert_close(model.vq_loss, losses["res1"] + losses["res2"])
    assert model.vq_codes["res2"].shape == (2, 20)
    losses.clear()
    model(feats, lengths, layer="res1")
    torch.testing.assert_close(model.vq_loss, losses["res1"])
    plain = small_resdavenet()
    plain(feats)
    assert plain.vq_loss.item() == 0
    assert small_davenet()(feats) is not None
    for key in ("vq.res1.codebook", "vq.res1.ema_count", "vq.res2.ema_sum"):
        assert key in model.state_dict()


def test_vq_loss_reaches_the_encoder():
    model = small_resdavenet(vq_layers=("res1",), vq_codes=16)
    model(torch.randn(2, 40, 40))
    model.vq_loss.backward()
    assert model.conv1.weight.grad.abs().sum() > 0


@pytest.fixture
def frames():
    generator = torch.Generator().manual_seed(3)
    return torch.randn(3, 7, 5, generator=generator)


def test_codes_are_the_nearest_codewords(frames):
    vq = VectorQuantizerEMA(dim=5, num_codes=20).eval()
    quantized, codes, _ = vq(frames)
    distances = (frames.unsqueeze(2) - vq.codebook).norm(dim=-1)
    assert torch.equal(codes, distances.argmin(dim=-1))
    torch.testing.assert_close(quantized, vq.codebook[codes])


def test_straight_through_gradient(frames):
    vq = VectorQuantizerEMA(dim=5, num_codes=20)
    frames.requires_grad_(True)
    quantized, _, _ = vq(frames)
    weights = torch.randn_like(frames)
    (quantized * weights).sum().backward()
    torch.testing.assert_close(frames.grad, weights)
    assert not vq.codebook.requires_grad


def test_commitment_loss_over_valid_frames(frames):
    vq = VectorQuantizerEMA(dim=5, num_codes=20, commitment=0.25).eval()
    lengths = torch.tensor([1.0, 4 / 7, 1 / 7])
    quantized, _, loss = vq(frames, lengths)
    valid = [7, 4, 1]
    errors = torch.cat(
        [
            (frames[b, :n] - quantized[b, :n]).reshape(-1)
            for b, n in enumerate(valid)
        ]
    )
    torch.testing.assert_close(loss, 0.25 * errors.pow(2).mean())
    frames.requires_grad_(True)
    vq(frames, lengths)[2].backward()
    assert torch.count_nonzero(frames.grad[1, 4:]) == 0
    assert torch.count_nonzero(frames.grad[1, :4]) > 0


def test_ema_update_only_in_training(frames):
    vq = VectorQuantizerEMA(dim=5, num_codes=20).eval()
    before = {k: v.clone() for k, v in vq.state_dict().items()}
    vq(frames)
    for key, value in vq.state_dict().items():
        assert torch.equal(value, before[key])
    vq.train()
    vq(frames)
    assert not torch.equal(vq.codebook, before["codebook"])


def test_ema_update_follows_the_formula_and_ignores_padding(frames):
    decay, eps = 0.9, 1e-8
    vq = VectorQuantizerEMA(dim=5, num_codes=20, decay=decay, eps=eps)
    twin = VectorQuantizerEMA(dim=5, num_codes=20, decay=decay, eps=eps)
    twin.load_state_dict(vq.state_dict())
    old_count, old_sum = vq.ema_count.clone(), vq.ema_sum.clone()
    lengths = torch.tensor([1.0, 3 / 7, 5 / 7])
    _, codes, _ = vq(frames, lengths)
    # the same frames with other padding give the same update
    garbage = frames.clone()
    garbage[1, 3:] = 100.0
    garbage[2, 5:] = -7.0
    twin(garbage, lengths)
    for key, value in vq.state_dict().items():
        torch.testing.assert_close(twin.state_dict()[key], value)
    # the update computed by hand from the valid frames only
    valid = [(0, t) for t in range(7)]
    valid += [(1, t) for t in range(3)] + [(2, t) for t in range(5)]
    count = torch.zeros(20)
    total = torch.zeros(20, 5)
    for b, t in valid:
        count[codes[b, t]] += 1
        total[codes[b, t]] += frames[b, t]
    count = decay * old_count + (1 - decay) * count
    n = count.sum()
    count = (count + eps) / (n + 20 * eps) * n
    total = decay * old_sum + (1 - decay) * total
    torch.testing.assert_close(vq.ema_count, count)
    torch.testing.assert_close(vq.ema_sum, total)
    torch.testing.assert_close(vq.codebook, total / count.unsqueeze(1))


def test_codebook_converges_to_cluster_means():
    generator = torch.Generator().manual_seed(0)
    centres = 10 * torch.eye(3)
    vq = VectorQuantizerEMA(dim=3, num_codes=3, decay=0.5)
    vq.codebook.copy_(centres + 0.5)
    vq.ema_sum.copy_(vq.codebook)
    for _ in range(30):
        points = centres.repeat(1, 20, 1).view(1, 60, 3)
        points = points + 0.1 * torch.randn(1, 60, 3, generator=generator)
        vq(points)
    torch.testing.assert_close(vq.codebook, centres, atol=0.1, rtol=0)


def test_temporal_jitter_moves_frames_by_one_inside_the_utterance():
    torch.manual_seed(0)
    jitter = TemporalJitter(0.3)
    x = torch.arange(2 * 12, dtype=torch.float).view(2, 12, 1).repeat(1, 1, 2)
    lengths = torch.tensor([1.0, 0.5])
    out = jitter(x, lengths)
    source = out[..., 0] - x[:, :1, 0]  # index of the frame each came from
    shift = source - torch.arange(12)
    assert shift.abs().max() <= 1 and shift.abs().sum() > 0
    assert source[1, :6].max() <= 5 and source.min() >= 0
    torch.testing.assert_close(out[1, 6:], x[1, 6:])
    assert torch.equal(jitter.eval()(x, lengths), x)
    with pytest.raises(ValueError):
        TemporalJitter(0.6)
