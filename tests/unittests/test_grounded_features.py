"""GroundedFeatures: exported encoders load back exactly, give each layer
of the encoder they come from, stay frozen (or train when asked), and
HuBERT-like models give their hidden states padding-exactly."""

import pytest
import torch

from speechbrain_vgs.lobes.audio import DAVEnet, ResDAVEnet
from speechbrain_vgs.lobes.features import LogMel
from speechbrain_vgs.lobes.grounded import (
    Filterbank,
    GroundedFeatures,
    export_speech_encoder,
)
from speechbrain_vgs.lobes.ssl import SSLUpstream
from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert

WIDTHS = (8, 12, 16, 20, 24)


@pytest.fixture(scope="module")
def resdavenet_export(tmp_path_factory):
    """A ResDAVEnet with non-trivial BatchNorm statistics, exported."""
    torch.manual_seed(0)
    features = LogMel()
    encoder = ResDAVEnet(widths=WIDTHS, blocks=(1, 1, 1, 1))
    encoder.train()
    with torch.no_grad():  # moves the BatchNorm running statistics
        encoder(features(torch.randn(4, 8000)))
    encoder.eval()
    folder = tmp_path_factory.mktemp("export")
    export_speech_encoder(folder, encoder, features, info={"epochs": 0})
    return folder, features, encoder


@pytest.mark.parametrize("layer", ResDAVEnet.layer_names)
def test_each_layer_equals_the_source_encoder(resdavenet_export, layer):
    folder, features, encoder = resdavenet_export
    wavs, lens = torch.randn(2, 12000), torch.tensor([1.0, 0.6])
    grounded = GroundedFeatures(folder, layer=layer)
    feats, out_lens = grounded(wavs, lens)
    with torch.no_grad():
        expected = encoder(features(wavs, lens), lens, layer=layer)
    assert torch.equal(feats, expected)
    assert torch.equal(out_lens, lens)
    assert grounded.dim == WIDTHS[ResDAVEnet.layer_names.index(layer)]
    assert grounded.frame_shift_ms == encoder.frame_shift_ms[layer]


def test_repeat_to_10ms_repeats_native_frames(resdavenet_export):
    folder = resdavenet_export[0]
    wavs = torch.randn(2, 16000)
    native, _ = GroundedFeatures(folder, layer="res3")(wavs)
    grounded = GroundedFeatures(folder, layer="res3", repeat_to_10ms=True)
    repeated, _ = grounded(wavs)
    assert torch.equal(repeated, native.repeat_interleave(8, dim=1))
    assert grounded.frame_shift_ms == 10
    assert repeated.shape[1] >= LogMel()(wavs).shape[1]


def test_frozen_features_do_not_train_or_checkpoint(resdavenet_export):
    folder = resdavenet_export[0]
    grounded = GroundedFeatures(folder, layer="res2").train()
    before = {k: v.clone() for k, v in grounded.encoder.state_dict().items()}
    feats, _ = grounded(torch.randn(3, 8000))
    assert not feats.requires_grad
    assert not any(p.requires_grad for p in grounded.parameters())
    assert not grounded.encoder.training
    assert list(grounded.state_dict()) == []
    after = grounded.encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_fine_tuned_features_get_gradients(resdavenet_export):
    folder = resdavenet_export[0]
    grounded = GroundedFeatures(folder, layer="res1", freeze=False).train()
    feats, _ = grounded(torch.randn(2, 8000))
    feats.sum().backward()
    assert grounded.encoder.conv1.weight.grad.abs().sum() > 0
    assert any(k.startswith("encoder.") for k in grounded.state_dict())


def test_davenet_exports_too(tmp_path):
    encoder = DAVEnet(embedding_dim=16, widths=(8, 8, 8, 8)).eval()
    features = LogMel()
    export_speech_encoder(tmp_path, encoder, features)
    wavs = torch.randn(1, 8000)
    feats, _ = GroundedFeatures(tmp_path, layer="conv3")(wavs)
    with torch.no_grad():
        expected = encoder(features(wavs), layer="conv3")
    assert torch.equal(feats, expected)


def test_unknown_layer_names_the_layers(resdavenet_export):
    with pytest.raises(ValueError, match="res4"):
        GroundedFeatures(resdavenet_export[0], layer="res5")


def test_only_known_encoders_export(tmp_path):
    with pytest.raises(TypeError, match="ResDAVEnet"):
        export_speech_encoder(tmp_path, torch.nn.Linear(2, 2), LogMel())


@pytest.fixture(scope="module")
def hubert_folder(tmp_path_factory):
    return save_tiny_hubert(tmp_path_factory.mktemp("hubert"))


@pytest.mark.parametrize("layer", [0, 2])
def test_hubert_hidden_state_is_padding_exact(hubert_folder, layer):
    grounded = GroundedFeatures(hubert_folder, layer=layer)
    upstream = SSLUpstream(hubert_folder)
    short, long = torch.randn(1, 4000), torch.randn(1, 8000)
    batch = torch.cat([long, torch.nn.functional.pad(short, (0, 4000))])
    feats, lens = grounded(batch, torch.tensor([1.0, 0.5]))
    alone, alone_lens = grounded(short)
    frames = round(float(lens[1]) * feats.shape[1])
    assert frames == alone.shape[1] and float(alone_lens) == 1.0
    torch.testing.assert_close(feats[1, :frames], alone[0], atol=1e-5, rtol=0)
    assert torch.all(feats[1, frames:] == 0)
    states, _ = upstream.hidden_states(long)
    torch.testing.assert_close(feats[0], states[layer][0])
    # the tiny model's convolutions have strides 5 and 2: 10 samples
    assert grounded.frame_shift_ms == 0.625 and grounded.dim == upstream.dim
    with pytest.raises(ValueError, match="0.625 ms frames"):
        GroundedFeatures(hubert_folder, repeat_to_10ms=True)


def test_hubert_layers_and_default(hubert_folder):
    grounded = GroundedFeatures(hubert_folder)
    assert grounded.layer_names == [0, 1, 2] and grounded.layer == 2
    with pytest.raises(ValueError, match="weighted"):
        GroundedFeatures(hubert_folder, layer="weighted")


def test_speechclip_upstream_export_gives_its_weighted_sum(
    hubert_folder, tmp_path
):
    upstream = SSLUpstream(hubert_folder)
    with torch.no_grad():
        upstream.weights.copy_(torch.tensor([0.5, -1.0, 2.0]))
    export_speech_encoder(tmp_path, upstream)
    grounded = GroundedFeatures(tmp_path)
    assert grounded.layer == "weighted"
    wavs, lens = torch.randn(2, 6000), torch.tensor([1.0, 0.7])
    feats, out_lens = grounded(wavs, lens)
    expected, expected_lens = upstream(wavs, lens)
    torch.testing.assert_close(feats, expected)
    assert torch.equal(out_lens, expected_lens)
    hidden, _ = GroundedFeatures(tmp_path, layer=1)(wavs, lens)
    assert hidden.shape == feats.shape and not torch.allclose(hidden, feats)


def test_filterbank_is_logmel_with_lengths():
    wavs, lens = torch.randn(2, 4000), torch.tensor([1.0, 0.5])
    feats, out_lens = Filterbank()(wavs, lens)
    assert torch.equal(feats, LogMel()(wavs, lens))
    assert torch.equal(out_lens, lens)
