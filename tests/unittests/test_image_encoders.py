"""Tests for the image encoders (shapes, local weight files, freezing)."""

import pytest
import torch
import torchvision

from speechbrain_vgs.dataio.manifest import DataError
from speechbrain_vgs.lobes.image import (
    ResNet50Encoder,
    SmallImageEncoder,
    VGG16Encoder,
)


@pytest.fixture(scope="module")
def resnet50_file(tmp_path_factory):
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("weights") / "resnet50-random.pth"
    state = torchvision.models.resnet50().state_dict()
    torch.save(state, path)
    return path, state


def test_resnet50_map_shape():
    encoder = ResNet50Encoder(embedding_dim=32).eval()
    maps = encoder(torch.randn(2, 3, 96, 64))
    assert maps.shape == (2, 3, 2, 32)


def test_vgg16_map_shape():
    encoder = VGG16Encoder(embedding_dim=32).eval()
    maps = encoder(torch.randn(1, 3, 64, 96))
    assert maps.shape == (1, 4, 6, 32)
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in encoder.trunk) == 4


def test_small_encoder_map_shape_and_gradient():
    encoder = SmallImageEncoder()
    images = torch.randn(2, 3, 128, 128, requires_grad=True)
    maps = encoder(images)
    assert maps.shape == (2, 8, 8, 256)
    maps.sum().backward()
    assert images.grad.abs().sum() > 0
    small = SmallImageEncoder(embedding_dim=16, channels=(4, 8, 8))
    assert small(torch.randn(1, 3, 64, 64)).shape == (1, 8, 8, 16)


def test_resnet50_loads_a_torchvision_state_dict(resnet50_file):
    path, state = resnet50_file
    encoder = ResNet50Encoder(embedding_dim=16, weights=str(path))
    trunk = encoder.trunk.state_dict()
    assert set(trunk) == {k for k in state if not k.startswith("fc.")}
    for key, value in trunk.items():
        assert torch.equal(value, state[key]), key
    # the trunk computes what torchvision's model computes before avgpool
    reference = torchvision.models.resnet50()
    reference.load_state_dict(state)
    reference.eval()
    encoder.eval()
    images = torch.randn(1, 3, 64, 64)
    children = list(reference.children())[:-2]
    expected = torch.nn.Sequential(*children)(images)
    torch.testing.assert_close(encoder.trunk(images), expected)


def test_vgg16_loads_a_torchvision_state_dict(tmp_path):
    torch.manual_seed(2)
    path = tmp_path / "vgg16-random.pth"
    state = torchvision.models.vgg16().state_dict()
    torch.save(state, path)
    encoder = VGG16Encoder(embedding_dim=16, weights=str(path))
    trunk = encoder.trunk.state_dict()
    features = {k for k in state if k.startswith("features.")}
    assert {"features." + key for key in trunk} == features
    for key, value in trunk.items():
        assert torch.equal(value, state["features." + key]), key


def test_wrong_weight_files_raise_a_clear_error(resnet50_file, tmp_path):
    path, _ = resnet50_file
    with pytest.raises(DataError, match="resnet50-random.pth.*vgg16"):
        VGG16Encoder(weights=str(path))
    truncated = dict(torch.load(path, weights_only=True))
    del truncated["layer4.2.conv3.weight"]
    truncated["layer1.0.conv1.weight"] = torch.zeros(3, 3)
    broken = tmp_path / "broken.pth"
    torch.save(truncated, broken)
    with pytest.raises(DataError, match="broken.pth.*layer4.2.conv3.weight"):
        ResNet50Encoder(weights=str(broken))
    with pytest.raises(DataError, match="shape mismatches"):
        ResNet50Encoder(weights=str(broken))
    text = tmp_path / "notes.txt"
    text.write_text("not weights")
    with pytest.raises(DataError, match="notes.txt"):
        ResNet50Encoder(weights=str(text))
    with pytest.raises(DataError, match="missing.pth: file not found"):
        ResNet50Encoder(weights=str(tmp_path / "missing.pth"))


def test_frozen_trunk_trains_only_the_embedder():
    encoder = ResNet50Encoder(embedding_dim=8, freeze_trunk=True)
    encoder.train()
    assert not encoder.trunk.training and encoder.embedder.training
    running_mean = encoder.trunk.bn1.running_mean.clone()
    encoder(torch.randn(2, 3, 64, 64)).sum().backward()
    assert torch.equal(encoder.trunk.bn1.running_mean, running_mean)
    assert all(p.grad is None for p in encoder.trunk.parameters())
    assert encoder.embedder.weight.grad is not None
    trainable = VGG16Encoder(embedding_dim=8)
    assert all(p.requires_grad for p in trainable.parameters())
