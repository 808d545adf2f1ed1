"""Image branches of the DAVEnet / ResDAVEnet grounding models.

Every encoder maps normalised images ``[B, 3, H, W]`` to channels-last
feature maps ``[B, H', W', D]``, the input of the matchmap similarities.

* :class:`ResNet50Encoder` (ResDAVEnet): ResNet-50 without its pooling and
  classifier, then a 1x1 conv 2048 -> D (7x7 maps at 224 px).
* :class:`VGG16Encoder` (DAVEnet): VGG16 convolutions without the last max
  pool, then a 3x3 conv 512 -> D (14x14 maps at 224 px).
* :class:`SmallImageEncoder`: a few strided conv-BN-ReLU stages for the
  rendered SynthVGS scenes on CPU.

ImageNet weights are never downloaded: pass the path of a torchvision
state-dict file (e.g. ``resnet50-0676ba61.pth``, ``vgg16-397923af.pth``).

Authors
 * speechbrain-vgs developers 2026
"""

import os
from collections import OrderedDict

import torch
import torchvision
from torch import nn

from speechbrain_vgs.dataio.manifest import DataError

RESNET50_TRUNK = (
    "conv1",
    "bn1",
    "relu",
    "maxpool",
    "layer1",
    "layer2",
    "layer3",
    "layer4",
)


class TrunkEncoder(nn.Module):
    """A convolutional trunk followed by a convolutional embedder.

    With ``freeze_trunk=True`` the trunk gets no gradient, runs without
    autograd, and stays in eval mode (fixed BatchNorm statistics) even when
    the encoder is put in training mode; only the embedder trains.

    Arguments
    ---------
    trunk : torch.nn.Module
        Maps ``[B, 3, H, W]`` to ``[B, C, H', W']``.
    embedder : torch.nn.Module
        Maps ``[B, C, H', W']`` to ``[B, D, H', W']``.
    freeze_trunk : bool
        Whether to freeze the trunk.

    Example
    -------
    >>> encoder = TrunkEncoder(nn.Conv2d(3, 4, 3, stride=2), nn.Conv2d(4, 8, 1),
    ...                        freeze_trunk=True)
    >>> encoder(torch.randn(2, 3, 9, 9)).shape
    torch.Size([2, 4, 4, 8])
    >>> [name for name, p in encoder.named_parameters() if p.requires_grad]
    ['embedder.weight', 'embedder.bias']
    """

    def __init__(self, trunk, embedder, freeze_trunk=False):
        super().__init__()
        self.trunk = trunk
        self.embedder = embedder
        self.freeze_trunk = freeze_trunk
        if freeze_trunk:
            self.trunk.requires_grad_(False)
            self.trunk.eval()

    def train(self, mode=True):
        """Sets training mode, keeping a frozen trunk in eval mode.

        Arguments
        ---------
        mode : bool
            Training (True) or evaluation (False).

        Returns
        -------
        self : TrunkEncoder
        """
        super().train(mode)
        if self.freeze_trunk:
            self.trunk.eval()
        return self

    def forward(self, images):
        """Encodes images.

        Arguments
        ---------
        images : torch.Tensor
            Normalised images ``[B, 3, H, W]``.

        Returns
        -------
        maps : torch.Tensor
            ``[B, H', W', D]``.
        """
        with torch.set_grad_enabled(
            torch.is_grad_enabled() and not self.freeze_trunk
        ):
            features = self.trunk(images)
        return self.embedder(features).permute(0, 2, 3, 1)


class ResNet50Encoder(TrunkEncoder):
    """ResNet-50 trunk (no avgpool/fc) + 1x1 conv to ``embedding_dim``.

    Arguments
    ---------
    embedding_dim : int
        Output width.
    weights : str, optional
        Path of a torchvision ResNet-50 ImageNet state dict loaded into the
        trunk (its ``fc`` entries are ignored); None for random init.
    freeze_trunk : bool
        Train only the 1x1 embedder (``--freeze-image-model`` of
        ResDAVEnet-VQ).

    Example
    -------
    >>> encoder = ResNet50Encoder(embedding_dim=16)
    >>> encoder(torch.randn(1, 3, 64, 64)).shape
    torch.Size([1, 2, 2, 16])
    """

    def __init__(self, embedding_dim=1024, weights=None, freeze_trunk=False):
        resnet = torchvision.models.resnet50()
        trunk = nn.Sequential(
            OrderedDict(
                (name, getattr(resnet, name)) for name in RESNET50_TRUNK
            )
        )
        if weights is not None:
            load_torchvision_trunk(trunk, weights, "resnet50", "", "fc.")
        embedder = nn.Conv2d(2048, embedding_dim, kernel_size=1)
        super().__init__(trunk, embedder, freeze_trunk)


class VGG16Encoder(TrunkEncoder):
    """VGG16 convolutions (minus the last max pool) + 3x3 conv.

    Arguments
    ---------
    embedding_dim : int
        Output width.
    weights : str, optional
        Path of a torchvision VGG16 ImageNet state dict whose ``features``
        are loaded into the trunk (``classifier`` entries are ignored);
        None for random init (torchvision's VGG initialisation).
    freeze_trunk : bool
        Train only the 3x3 embedder.

    Example
    -------
    >>> encoder = VGG16Encoder(embedding_dim=16)
    >>> encoder(torch.randn(1, 3, 64, 64)).shape
    torch.Size([1, 4, 4, 16])
    """

    def __init__(self, embedding_dim=1024, weights=None, freeze_trunk=False):
        features = torchvision.models.vgg.make_layers(
            torchvision.models.vgg.cfgs["D"]
        )
        trunk = features[:-1]
        for module in trunk.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(
                    module.weight, mode="fan_out", nonlinearity="relu"
                )
                nn.init.zeros_(module.bias)
        if weights is not None:
            load_torchvision_trunk(
                trunk, weights, "vgg16", "features.", "classifier."
            )
        embedder = nn.Conv2d(512, embedding_dim, kernel_size=3, padding=1)
        super().__init__(trunk, embedder, freeze_trunk)


class SmallImageEncoder(nn.Module):
    """A small strided conv net for SynthVGS scenes on CPU.

    One 3x3 stride-2 conv-BN-ReLU stage per entry of ``channels``, then a
    1x1 conv to ``embedding_dim``: with four stages a 128 px image gives an
    8x8 map.

    Arguments
    ---------
    embedding_dim : int
        Output width.
    channels : sequence of int
        Widths of the stages.

    Example
    -------
    >>> encoder = SmallImageEncoder(embedding_dim=32, channels=(8, 16))
    >>> encoder(torch.randn(2, 3, 64, 64)).shape
    torch.Size([2, 16, 16, 32])
    """

    def __init__(self, embedding_dim=256, channels=(32, 64, 128, 256)):
        super().__init__()
        stages = []
        in_channels = 3
        for width in channels:
            stages += [
                nn.Conv2d(in_channels, width, 3, 2, 1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            in_channels = width
        self.stages = nn.Sequential(*stages)
        self.embedder = nn.Conv2d(in_channels, embedding_dim, kernel_size=1)

    def forward(self, images):
        """Encodes images.

        Arguments
        ---------
        images : torch.Tensor
            Normalised images ``[B, 3, H, W]``.

        Returns
        -------
        maps : torch.Tensor
            ``[B, H / 2^stages, W / 2^stages, embedding_dim]``.
        """
        return self.embedder(self.stages(images)).permute(0, 2, 3, 1)


def load_torchvision_trunk(trunk, path, arch, prefix, head_prefix):
    """Loads a torchvision ImageNet state-dict file into a trunk, strictly.

    Entries of the classification head (``head_prefix``) are skipped and
    ``prefix`` is removed from the others; then every trunk parameter and
    buffer must be in the file with the right shape and nothing else may
    be, or a :class:`DataError` names the file and what does not fit.

    Arguments
    ---------
    trunk : torch.nn.Module
        The trunk to fill.
    path : str
        The state-dict file.
    arch : str
        Architecture name for messages ("resnet50", "vgg16").
    prefix : str
        Prefix of the trunk's entries in the file ("features." for VGG).
    head_prefix : str
        Prefix of the entries to skip ("fc.", "classifier.").

    Example
    -------
    >>> trunk = nn.Sequential(nn.Conv2d(3, 4, 3))
    >>> path = getfixture("tmpdir") / "weights.pth"
    >>> torch.save({"features.0.weight": torch.ones(4, 3, 3, 3),
    ...             "features.0.bias": torch.zeros(4),
    ...             "classifier.weight": torch.ones(2, 4)}, path)
    >>> load_torchvision_trunk(trunk, path, "toy", "features.", "classifier.")
    >>> bool((trunk[0].weight == 1).all())
    True
    """
    what = f"a torchvision {arch} ImageNet state dict"
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found (expected {what})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DataError(f"{path}: cannot be read as {what}: {error}") from None
    if not isinstance(state, dict):
        raise DataError(f"{path}: holds {type(state).__name__}, not {what}")
    state = {
        key.removeprefix(prefix): value
        for key, value in state.items()
        if not key.startswith(head_prefix)
    }
    expected = trunk.state_dict()
    missing = [
        key
        for key in expected
        if key not in state and not key.endswith("num_batches_tracked")
    ]
    unexpected = [key for key in state if key not in expected]
    mismatched = [
        f"{key} {tuple(state[key].shape)} != {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    problems = [
        f"{len(keys)} {kind} (e.g. {', '.join(keys[:3])})"
        for kind, keys in (
            ("missing entries", missing),
            ("unexpected entries", unexpected),
            ("shape mismatches", mismatched),
        )
        if keys
    ]
    if problems:
        raise DataError(f"{path}: not {what}: {'; '.join(problems)}")
    trunk.load_state_dict(state, strict=False)
