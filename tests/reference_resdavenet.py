"""The released ResDAVEnet-VQ models (github.com/wnhsu/ResDAVEnet-VQ,
``models/AudioModels.py``, ``models/ImageModels.py``,
``models/quantizers.py``), rebuilt from plain torch modules for the
converter's tests: the same module names (so the same state-dict keys and
shapes), the same layer order and the same eval-mode computation, written
from the reference code's structure (not copied from it).

Audio (``ResDavenetVQ``): ``batchnorm1`` (a BatchNorm2d(1) the forward never
uses), ``conv1`` (a 2-D conv over all mel bins of a ``[B, 1, F, T]``
input), ``bn1``, ReLU, then ``layer1..layer4`` of basic blocks whose
convolutions are 2-D with ``(1, k)`` kernels (stride 2 on both axes in the
first block of a layer, padding ``(0, k // 2)``), each block
conv-BN-ReLU-conv-BN plus the input (through ``downsample``: a strided 1x1
conv and BN) then ReLU. A quantizer ``quant{l}`` may follow conv1 (l=1) or
layer ``l - 1``: the nearest row of ``_embedding.weight`` by squared
distance; it also holds the EMA state ``_ema_cluster_size`` (a buffer) and
``_ema_w`` (a parameter without gradient). The output is ``[B, D, 1, T']``.

Image (``Resnet50``): torchvision's ResNet-50 without ``avgpool`` and ``fc``
plus ``embedder``, a 1x1 conv (with bias) from 2048 channels to the
embedding.

The release saved both with ``torch.save(model.state_dict())`` while they
were wrapped in ``nn.DataParallel``: every key starts with ``module.``;
:func:`write_release` writes such files, with ``args.pkl``.
"""

import argparse
import os
import pickle

import torch
import torchvision
from torch import nn


class ReferenceQuantizer(nn.Module):
    """``VectorQuantizerEMA`` of the release: codebook ``_embedding``, EMA
    state ``_ema_cluster_size`` and ``_ema_w``."""

    def __init__(self, num_codes, dim, decay=0.99, epsilon=1e-8):
        super().__init__()
        self.num_codes = num_codes
        self.decay = decay
        self.epsilon = epsilon
        self._embedding = nn.Embedding(num_codes, dim)
        self._embedding.weight.requires_grad = False
        self.register_buffer("_ema_cluster_size", torch.ones(num_codes))
        self._ema_w = nn.Parameter(
            self._embedding.weight.detach().clone(), requires_grad=False
        )

    def forward(self, flat):
        """Nearest codewords of frames ``[N, D]`` and their one-hot codes."""
        codebook = self._embedding.weight
        distances = (
            flat.pow(2).sum(1, keepdim=True)
            + codebook.pow(2).sum(1)
            - 2 * flat @ codebook.t()
        )
        onehots = nn.functional.one_hot(
            distances.argmin(dim=1), self.num_codes
        ).to(flat.dtype)
        return onehots @ codebook, onehots

    @torch.no_grad()
    def ema_update(self, flat, onehots):
        """The release's training update of the codebook (after a forward,
        from the frames and their one-hot codes)."""
        size = self._ema_cluster_size * self.decay + (
            1 - self.decay
        ) * onehots.sum(0)
        total = size.sum()
        size = (
            (size + self.epsilon)
            / (total + self.num_codes * self.epsilon)
            * total
        )
        self._ema_cluster_size.copy_(size)
        self._ema_w.copy_(
            self._ema_w * self.decay + (1 - self.decay) * onehots.t() @ flat
        )
        self._embedding.weight.copy_(self._ema_w / size.unsqueeze(1))


class ReferenceBlock(nn.Module):
    """``SpeechBasicBlock`` of the release (2-D convs, ``(1, k)`` kernels)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride):
        super().__init__()
        pad = (0, kernel_size // 2)
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, (1, kernel_size), stride, pad, bias=False
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, (1, kernel_size), 1, pad, bias=False
        )
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(out + skip)


class ReferenceResDavenetVQ(nn.Module):
    """``ResDavenetVQ`` of the release, eval-mode forward.

    Arguments
    ---------
    feat_dim : int
        Mel bins.
    layers : list of int
        Blocks of layer1..layer4 (``--layer-depths``).
    layer_widths : list of int
        Widths of conv1, layer1..layer4 (``--layer-widths``).
    convsize : int
        Temporal kernel size (``--convsize``).
    codebook_sizes : list of int
        Codebook size of each slot (``--VQ-sizes``).
    vqs_enabled : list of int
        Which of the 5 slots are quantized (``--VQ-turnon``).
    """

    def __init__(
        self,
        feat_dim,
        layers,
        layer_widths,
        convsize,
        codebook_sizes,
        vqs_enabled,
    ):
        super().__init__()
        self.batchnorm1 = nn.BatchNorm2d(1)
        self.conv1 = nn.Conv2d(
            1, layer_widths[0], (feat_dim, 1), 1, (0, 0), bias=False
        )
        self.bn1 = nn.BatchNorm2d(layer_widths[0])
        self.relu = nn.ReLU()
        for index, count in enumerate(layers):
            blocks = [
                ReferenceBlock(
                    layer_widths[index] if i == 0 else layer_widths[index + 1],
                    layer_widths[index + 1],
                    convsize,
                    2 if i == 0 else 1,
                )
                for i in range(count)
            ]
            setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
        self.vqs_enabled = list(vqs_enabled)
        for slot, enabled in enumerate(vqs_enabled):
            if enabled:
                quantizer = ReferenceQuantizer(
                    codebook_sizes[slot], layer_widths[slot]
                )
                setattr(self, f"quant{slot + 1}", quantizer)

    def quantize(self, x, slot):
        """Quantizes ``[B, C, 1, T]`` at a slot (0-based) if it is enabled;
        returns the output and the codes ``[B, T]`` (or None)."""
        if not self.vqs_enabled[slot]:
            return x, None
        batch, channels, height, frames = x.shape
        flat = x.permute(0, 2, 3, 1).reshape(-1, channels)
        quantized, onehots = getattr(self, f"quant{slot + 1}")(flat)
        quantized = quantized.view(batch, height, frames, channels)
        codes = onehots.argmax(dim=1).view(batch, frames)
        return quantized.permute(0, 3, 1, 2), codes

    def forward(self, feats):
        """Outputs ``[B, D, 1, T']`` of features ``[B, F, T]``, with the
        output ``[B, C, T_l]`` and codes of every slot (0 = after conv1)."""
        x = self.relu(self.bn1(self.conv1(feats.unsqueeze(1))))
        outputs, codes = [], []
        for slot in range(5):
            if slot > 0:
                x = getattr(self, f"layer{slot}")(x)
            x, slot_codes = self.quantize(x, slot)
            outputs.append(x.squeeze(2))
            codes.append(slot_codes)
        return x, outputs, codes


class ReferenceResnet50(torchvision.models.ResNet):
    """``Resnet50`` of the release: ResNet-50 without avgpool and fc, then
    a 1x1 ``embedder``; outputs ``[B, D, H / 32, W / 32]``."""

    def __init__(self, embedding_dim):
        super().__init__(torchvision.models.resnet.Bottleneck, [3, 4, 6, 3])
        self.avgpool = None
        self.fc = None
        self.embedder = nn.Conv2d(2048, embedding_dim, 1)

    def forward(self, images):
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.embedder(x)


@torch.no_grad()
def randomize(module, seed):
    """Random values in every parameter and buffer (BN statistics and
    affine terms too), so that a misplaced tensor changes the computation;
    codebooks are unit normal draws clamped at 0 (the frames they quantize
    follow a ReLU) and each ``_ema_w`` is its codebook times the cluster
    sizes, as after an EMA update."""
    generator = torch.Generator().manual_seed(seed)

    def draw(tensor):
        return torch.randn(tensor.shape, generator=generator)

    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if name.endswith("num_batches_tracked"):
            tensor.fill_(1234)
        elif name.endswith(("running_var", "_ema_cluster_size")):
            tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
        elif name.endswith("_embedding.weight"):
            tensor.copy_(draw(tensor).clamp(min=0))
        elif tensor.dim() == 1 and name.endswith(".weight"):  # BN scales
            tensor.copy_(1 + 0.3 * draw(tensor))
        elif tensor.dim() == 1:  # BN shifts and means, conv biases
            tensor.copy_(0.3 * draw(tensor))
        elif not name.endswith("_ema_w"):  # conv kernels
            tensor.copy_(draw(tensor) / tensor[0].numel() ** 0.5)
    for quantizer in module.modules():
        if isinstance(quantizer, ReferenceQuantizer):
            quantizer._ema_w.copy_(
                quantizer._embedding.weight
                * quantizer._ema_cluster_size.unsqueeze(1)
            )
    return module


@torch.no_grad()
def codebooks_from(model, feats, seed):
    """Sets each codebook of a :class:`ReferenceResDavenetVQ` to frames
    its quantizer sees for ``feats`` ``[B, F, T]`` (plus a little noise),
    as training would leave them near the data, so that many codes are in
    use; ``_ema_w`` follows."""
    generator = torch.Generator().manual_seed(seed)
    for slot, enabled in enumerate(list(model.vqs_enabled)):
        if not enabled:
            continue
        model.vqs_enabled[slot] = 0
        frames = model(feats)[1][slot]  # [B, C, T] before quantization
        model.vqs_enabled[slot] = 1
        frames = frames.transpose(1, 2).reshape(-1, frames.shape[1])
        quantizer = getattr(model, f"quant{slot + 1}")
        rows = torch.randint(
            len(frames), (quantizer.num_codes,), generator=generator
        )
        noise = torch.randn(
            quantizer.num_codes, frames.shape[1], generator=generator
        )
        codebook = frames[rows] + 0.1 * frames.std() * noise
        quantizer._embedding.weight.copy_(codebook)
        quantizer._ema_w.copy_(
            codebook * quantizer._ema_cluster_size.unsqueeze(1)
        )
    return model


def reference_state(module):
    """``module``'s state dict as the release saved it (through
    ``nn.DataParallel``: keys prefixed ``module.``)."""
    return nn.DataParallel(module).state_dict()


def write_release(folder, audio, image, **args):
    """Writes an experiment folder as the release's ``run_ResDavenetVQ.py``
    leaves it: ``models/best_audio_model.pth``,
    ``models/best_image_model.pth`` and ``args.pkl`` (an
    ``argparse.Namespace`` of ``args``).

    Returns
    -------
    dict
        ``{"audio_model", "image_model", "args_file": path}``.
    """
    models = os.path.join(folder, "models")
    os.makedirs(models, exist_ok=True)
    paths = {
        "audio_model": os.path.join(models, "best_audio_model.pth"),
        "image_model": os.path.join(models, "best_image_model.pth"),
        "args_file": os.path.join(folder, "args.pkl"),
    }
    torch.save(reference_state(audio), paths["audio_model"])
    torch.save(reference_state(image), paths["image_model"])
    with open(paths["args_file"], "wb") as f:
        pickle.dump(argparse.Namespace(**args), f)
    return paths
