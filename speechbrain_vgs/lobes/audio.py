"""Audio branches of the DAVEnet / ResDAVEnet(-VQ) grounding models.

Both networks read log-mel frames ``[batch, time, n_mels]`` (10 ms hop),
collapse the frequency axis with a first convolution spanning all mel bins,
then downsample time by 2 four times, and return channels-last frames
``[batch, time', dim]``. Intermediate layers can be read by name
(``layer="res2"``); the computation stops at the requested layer.

Padding: SpeechBrain relative lengths give ``round(length * T)`` valid
frames at every layer (:func:`speechbrain_vgs.lobes.masking.length_mask`, the
same rule the similarities use). Every temporal convolution (and every
quantizer) sees zeros beyond the valid frames, exactly as the
convolution's own zero padding would show them for the utterance alone, so
in eval mode the valid frames of an utterance do not depend on what pads it
(when the lengths divide evenly; at most the last frame of a layer can
differ otherwise). In training mode BatchNorm statistics still include the
padded frames, as in the original models.

Authors
 * speechbrain-vgs developers 2026
"""

import math

import torch
import torch.distributed as dist
from torch import nn

from speechbrain_vgs.lobes.masking import length_mask


def mask_time(x, lengths):
    """Zeroes the padded frames of a channels-first batch ``[B, C, T]``.

    Arguments
    ---------
    x : torch.Tensor
        ``[B, C, T]``.
    lengths : torch.Tensor, optional
        Relative lengths ``[B]``; ``None`` leaves ``x`` unchanged.

    Returns
    -------
    masked : torch.Tensor
        ``[B, C, T]``.

    Example
    -------
    >>> mask_time(torch.ones(1, 2, 4), torch.tensor([0.5]))
    tensor([[[1., 1., 0., 0.],
             [1., 1., 0., 0.]]])
    """
    if lengths is None:
        return x
    mask = length_mask(lengths, x.shape[-1]).unsqueeze(1)
    return x.masked_fill(~mask, 0)


class VectorQuantizerEMA(nn.Module):
    """Nearest-neighbour vector quantizer with an EMA-updated codebook.

    As in ResDAVEnet-VQ (Hsu et al. 2020, after van den Oord et al. 2017):
    every frame is replaced by its nearest codeword; the codebook gets no
    gradient but, in training mode, follows exponential moving averages of
    the frames assigned to each code (with Laplace smoothing of the counts);
    the frames are pushed towards their codewords by the commitment loss
    ``commitment * mean((x - sg(q))^2)``; gradients pass straight through
    the quantization. Padded frames take no part in the EMA statistics or
    the loss. The codebook and its statistics are buffers, so checkpoints
    hold them. Under ``torch.distributed`` the statistics are summed over
    the processes, which keeps the codebooks identical.

    Arguments
    ---------
    dim : int
        Dimension of the frames.
    num_codes : int
        Codebook size.
    decay : float
        EMA decay.
    commitment : float
        Weight of the commitment loss.
    eps : float
        Laplace smoothing of the EMA cluster sizes.

    Example
    -------
    >>> vq = VectorQuantizerEMA(dim=4, num_codes=8).eval()
    >>> x = torch.randn(2, 5, 4)
    >>> quantized, codes, loss = vq(x, torch.tensor([1.0, 0.6]))
    >>> quantized.shape, codes.shape, loss.shape
    (torch.Size([2, 5, 4]), torch.Size([2, 5]), torch.Size([]))
    >>> torch.allclose(quantized, vq.codebook[codes])
    True
    """

    def __init__(
        self, dim, num_codes=1024, decay=0.99, commitment=1.0, eps=1e-8
    ):
        super().__init__()
        self.num_codes = num_codes
        self.decay = decay
        self.commitment = commitment
        self.eps = eps
        codebook = torch.randn(num_codes, dim)
        self.register_buffer("codebook", codebook)
        self.register_buffer("ema_count", torch.ones(num_codes))
        self.register_buffer("ema_sum", codebook.clone())

    def forward(self, x, lengths=None):
        """Quantizes frames (and, in training, updates the codebook).

        Arguments
        ---------
        x : torch.Tensor
            Frames ``[B, T, D]``.
        lengths : torch.Tensor, optional
            Relative lengths ``[B]``; ``None`` means all frames are valid.

        Returns
        -------
        quantized : torch.Tensor
            ``[B, T, D]``: the codewords, with the gradient of ``x``.
        codes : torch.Tensor
            ``[B, T]`` code indices (padded frames get the code of whatever
            they hold; ignore them).
        commitment_loss : torch.Tensor
            0-dim, over the valid frames.
        """
        batch, frames, dim = x.shape
        if lengths is None:
            mask = torch.ones(batch, frames, dtype=torch.bool, device=x.device)
        else:
            mask = length_mask(lengths, frames)
        flat = x.detach().float().reshape(-1, dim)
        codebook = self.codebook.float()
        distances = (
            flat.pow(2).sum(1, keepdim=True)
            - 2 * flat @ codebook.t()
            + codebook.pow(2).sum(1)
        )
        codes = distances.argmin(dim=1)
        quantized = codebook[codes].view(batch, frames, dim)
        errors = (x.float() - quantized).pow(2).sum(dim=-1)
        loss = errors.masked_select(mask).sum() / (mask.sum() * dim)
        if self.training:
            valid = mask.reshape(-1)
            self._ema_update(flat[valid], codes[valid])
        quantized = quantized.to(x.dtype)
        quantized = x + (quantized - x).detach()
        return quantized, codes.view(batch, frames), self.commitment * loss

    @torch.no_grad()
    def _ema_update(self, frames, codes):
        """Moves the codewords towards the means of their valid frames."""
        counts = torch.bincount(codes, minlength=self.num_codes).float()
        sums = torch.zeros_like(self.ema_sum).index_add_(0, codes, frames)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        total = self.ema_count.sum()
        smoothed = (self.ema_count + self.eps) / (
            total + self.num_codes * self.eps
        )
        self.ema_count.copy_(smoothed * total)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        self.codebook.copy_(self.ema_sum / self.ema_count.unsqueeze(1))


class TemporalJitter(nn.Module):
    """Replaces frames by a neighbour at random, in training only.

    ResDAVEnet-VQ's regulariser: each valid frame becomes its left
    neighbour with probability ``p``, its right neighbour with probability
    ``p`` (staying inside the utterance); padded frames are left alone.

    Arguments
    ---------
    p : float
        Probability of each of the two shifts (at most 0.5).

    Example
    -------
    >>> jitter = TemporalJitter(0.12).eval()
    >>> x = torch.randn(2, 6, 3)
    >>> torch.equal(jitter(x), x)
    True
    """

    def __init__(self, p=0.12):
        super().__init__()
        if not 0 <= p <= 0.5:
            raise ValueError(f"jitter probability must be in [0, 0.5]: {p}")
        self.p = p

    def forward(self, x, lengths=None):
        """Jitters frames ``[B, T, D]`` (identity in eval mode or if p=0).

        Arguments
        ---------
        x : torch.Tensor
            Frames ``[B, T, D]``.
        lengths : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        jittered : torch.Tensor
            ``[B, T, D]``.
        """
        if not self.training or self.p == 0:
            return x
        batch, frames, dim = x.shape
        if lengths is None:
            lengths = torch.ones(batch, device=x.device)
        mask = length_mask(lengths, frames)
        positions = torch.arange(frames, device=x.device).expand(batch, -1)
        draw = torch.rand(batch, frames, device=x.device)
        shift = (draw >= 1 - self.p).long() - (draw < self.p).long()
        last = mask.sum(dim=1, keepdim=True) - 1
        moved = torch.minimum((positions + shift).clamp(min=0), last)
        index = torch.where(mask, moved, positions)
        return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, dim))


class SpeechBasicBlock(nn.Module):
    """Residual block of two ``1 x kernel_size`` convolutions over time.

    conv-BN-ReLU-conv-BN, plus the input (through a 1x1 strided conv + BN
    when the stride or the width changes), then ReLU. Padded frames are
    zeroed after each convolution stage.

    Arguments
    ---------
    in_channels : int
        Input width.
    out_channels : int
        Output width.
    kernel_size : int
        Odd temporal kernel size.
    stride : int
        Temporal stride of the first convolution.

    Example
    -------
    >>> block = SpeechBasicBlock(4, 8, kernel_size=3, stride=2)
    >>> block(torch.randn(2, 4, 9)).shape
    torch.Size([2, 8, 5])
    """

    def __init__(self, in_channels, out_channels, kernel_size=9, stride=1):
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(
            in_channels, out_channels, kernel_size, stride, pad, bias=False
        )
        self.bn1 = nn.BatchNorm1d(out_channels)
        self.conv2 = nn.Conv1d(
            out_channels, out_channels, kernel_size, 1, pad, bias=False
        )
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv1d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm1d(out_channels),
            )

    def forward(self, x, lengths=None):
        """Applies the block to ``[B, C, T]`` (channels first).

        Arguments
        ---------
        x : torch.Tensor
            ``[B, in_channels, T]``.
        lengths : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        out : torch.Tensor
            ``[B, out_channels, ceil(T / stride)]``.
        """
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(mask_time(out, lengths)))
        skip = x if self.downsample is None else self.downsample(x)
        return mask_time(torch.relu(out + skip), lengths)


class ResDAVEnet(nn.Module):
    """ResDAVEnet(-VQ) audio encoder (Harwath et al. 2020; Hsu et al. 2020).

    conv1 (a kernel over all mel bins, BN, ReLU) then four residual layers
    ``res1..res4`` of :class:`SpeechBasicBlock`; the first block of each
    layer has stride 2, giving frame shifts of 10/20/40/80/160 ms for
    10 ms input frames. Widths default to the released scripts'
    128, 256, 256, 512, 1024. A :class:`VectorQuantizerEMA` can follow any
    layer (``vq_layers``; the paper's slots {2, 3} are
    ``("res1", "res2")``), and :class:`TemporalJitter` can follow conv1 and
    res1 (where the released code applies it, with p = 0.12).

    ``config`` holds the constructor's arguments (what
    :func:`speechbrain_vgs.lobes.grounded.export_speech_encoder` saves).
    After each forward, ``vq_loss`` holds the summed commitment losses of
    that forward (0 without quantizers) and ``vq_codes`` the codes of each
    quantizer that ran (``{layer: [B, T']}``). A layer followed by a
    quantizer outputs the quantized frames; jitter only affects the input
    of the next layer, never a returned output.

    Arguments
    ---------
    input_dim : int
        Number of input features (mel bins).
    widths : sequence of int
        Output widths of conv1, res1, res2, res3, res4.
    blocks : sequence of int
        Number of blocks in res1..res4.
    kernel_size : int
        Odd temporal kernel size of the residual convolutions.
    vq_layers : sequence of str
        Layers followed by a quantizer.
    vq_codes : int
        Codebook size of each quantizer.
    vq_commitment : float
        Commitment loss weight.
    vq_decay : float
        EMA decay of the codebooks.
    jitter : float
        Temporal jitter probability (each side) after conv1 and res1.

    Example
    -------
    >>> model = ResDAVEnet(widths=(8, 8, 8, 16, 32), vq_layers=("res1",),
    ...                    vq_codes=16)
    >>> feats = torch.randn(2, 100, 40)
    >>> model(feats, torch.tensor([1.0, 0.7])).shape
    torch.Size([2, 7, 32])
    >>> model(feats, layer="res1").shape
    torch.Size([2, 50, 8])
    >>> model.vq_loss.shape, model.vq_codes["res1"].shape
    (torch.Size([]), torch.Size([2, 50]))
    >>> model.frame_shift_ms["res2"], model.layer_dims["res3"]
    (40, 16)
    """

    layer_names = ("conv1", "res1", "res2", "res3", "res4")
    frame_shift_ms = {
        "conv1": 10,
        "res1": 20,
        "res2": 40,
        "res3": 80,
        "res4": 160,
    }
    jitter_after = ("conv1", "res1")

    def __init__(
        self,
        input_dim=40,
        widths=(128, 256, 256, 512, 1024),
        blocks=(2, 2, 2, 2),
        kernel_size=9,
        vq_layers=(),
        vq_codes=1024,
        vq_commitment=1.0,
        vq_decay=0.99,
        jitter=0.0,
    ):
        super().__init__()
        if len(widths) != 5 or len(blocks) != 4:
            raise ValueError(
                f"ResDAVEnet needs 5 widths and 4 block counts, got "
                f"widths={tuple(widths)} blocks={tuple(blocks)}"
            )
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        unknown = set(vq_layers) - set(self.layer_names)
        if unknown:
            raise ValueError(
                f"unknown vq_layers {sorted(unknown)}; "
                f"layers are {self.layer_names}"
            )
        self.config = {
            "input_dim": input_dim,
            "widths": list(widths),
            "blocks": list(blocks),
            "kernel_size": kernel_size,
            "vq_layers": list(vq_layers),
            "vq_codes": vq_codes,
            "vq_commitment": vq_commitment,
            "vq_decay": vq_decay,
            "jitter": jitter,
        }
        self.layer_dims = dict(zip(self.layer_names, widths))
        self.conv1 = nn.Conv1d(input_dim, widths[0], 1, bias=False)
        self.bn1 = nn.BatchNorm1d(widths[0])
        self.res = nn.ModuleDict()
        for name, in_ch, out_ch, count in zip(
            self.layer_names[1:], widths[:-1], widths[1:], blocks
        ):
            self.res[name] = nn.ModuleList(
                SpeechBasicBlock(
                    in_ch if i == 0 else out_ch,
                    out_ch,
                    kernel_size,
                    stride=2 if i == 0 else 1,
                )
                for i in range(count)
            )
        self.vq = nn.ModuleDict(
            {
                name: VectorQuantizerEMA(
                    self.layer_dims[name], vq_codes, vq_decay, vq_commitment
                )
                for name in self.layer_names
                if name in vq_layers
            }
        )
        self.jitter = TemporalJitter(jitter)
        self.vq_loss = torch.zeros(())
        self.vq_codes = {}
        self._init_weights()

    def _init_weights(self):
        """Convs ~ N(0, 2 / (kernel area * out channels)); BN 1 and 0.

        The kernel area of conv1 counts the mel bins it spans, as in the
        original 2-D formulation.
        """
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                area = module.kernel_size[0]
                if module is self.conv1:
                    area = module.in_channels
                fan = area * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan))
            elif isinstance(module, nn.BatchNorm1d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, feats, lengths=None, layer=None):
        """Encodes features up to ``layer`` (default: the last).

        Arguments
        ---------
        feats : torch.Tensor
            ``[B, T, input_dim]``.
        lengths : torch.Tensor, optional
            Relative lengths ``[B]`` (valid for every layer's output).
        layer : str, optional
            One of ``layer_names``.

        Returns
        -------
        frames : torch.Tensor
            ``[B, T', layer_dims[layer]]``.
        """
        stop = _check_layer(layer, self.layer_names)
        self.vq_loss = feats.new_zeros(())
        self.vq_codes = {}
        x = mask_time(feats.transpose(1, 2), lengths)
        x = mask_time(torch.relu(self.bn1(self.conv1(x))), lengths)
        for name in self.layer_names:
            if name in self.res:
                for block in self.res[name]:
                    x = block(x, lengths)
            if name in self.vq:
                quantized, codes, loss = self.vq[name](
                    x.transpose(1, 2), lengths
                )
                x = mask_time(quantized.transpose(1, 2), lengths)
                self.vq_loss = self.vq_loss + loss
                self.vq_codes[name] = codes
            if name == stop:
                return x.transpose(1, 2)
            if name in self.jitter_after:
                x = self.jitter(x.transpose(1, 2), lengths).transpose(1, 2)


class DAVEnet(nn.Module):
    """The original DAVEnet audio encoder (Harwath et al. 2018).

    BatchNorm on the input spectrogram, conv1 (a kernel over all mel bins,
    ReLU), then conv2 (kernel 11), conv3, conv4, conv5 (kernel 17), each
    followed by ReLU and a max pool (3, stride 2, pad 1), so frame shifts
    are 10/20/40/80/160 ms for 10 ms input frames. ``widths`` sets the
    widths of conv1..conv4 (the paper's 128, 256, 512, 512) and
    ``embedding_dim`` that of conv5. The ``vq_loss`` attribute is always 0;
    it exists so that training code can treat both encoders alike;
    ``config`` holds the constructor's arguments.

    Arguments
    ---------
    input_dim : int
        Number of input features (mel bins).
    embedding_dim : int
        Output width (conv5).
    widths : sequence of int
        Widths of conv1..conv4.

    Example
    -------
    >>> model = DAVEnet(embedding_dim=32, widths=(8, 8, 16, 16))
    >>> model(torch.randn(2, 100, 40), torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 7, 32])
    >>> model(torch.randn(2, 100, 40), layer="conv2").shape
    torch.Size([2, 50, 8])
    """

    layer_names = ("conv1", "conv2", "conv3", "conv4", "conv5")
    frame_shift_ms = {
        "conv1": 10,
        "conv2": 20,
        "conv3": 40,
        "conv4": 80,
        "conv5": 160,
    }
    kernel_sizes = (11, 17, 17, 17)

    def __init__(
        self, input_dim=40, embedding_dim=1024, widths=(128, 256, 512, 512)
    ):
        super().__init__()
        if len(widths) != 4:
            raise ValueError(f"DAVEnet needs 4 widths, got {tuple(widths)}")
        all_widths = (*widths, embedding_dim)
        self.config = {
            "input_dim": input_dim,
            "embedding_dim": embedding_dim,
            "widths": list(widths),
        }
        self.layer_dims = dict(zip(self.layer_names, all_widths))
        self.input_norm = nn.BatchNorm2d(1)
        self.conv1 = nn.Conv1d(input_dim, widths[0], 1)
        self.convs = nn.ModuleDict(
            {
                name: nn.Conv1d(in_ch, out_ch, kernel, padding=kernel // 2)
                for name, in_ch, out_ch, kernel in zip(
                    self.layer_names[1:],
                    all_widths[:-1],
                    all_widths[1:],
                    self.kernel_sizes,
                )
            }
        )
        self.pool = nn.MaxPool1d(kernel_size=3, stride=2, padding=1)
        self.vq_loss = torch.zeros(())

    def forward(self, feats, lengths=None, layer=None):
        """Encodes features up to ``layer`` (default: the last).

        Arguments
        ---------
        feats : torch.Tensor
            ``[B, T, input_dim]``.
        lengths : torch.Tensor, optional
            Relative lengths ``[B]`` (valid for every layer's output).
        layer : str, optional
            One of ``layer_names``.

        Returns
        -------
        frames : torch.Tensor
            ``[B, T', layer_dims[layer]]``.
        """
        stop = _check_layer(layer, self.layer_names)
        self.vq_loss = feats.new_zeros(())
        x = mask_time(feats.transpose(1, 2), lengths)
        x = self.input_norm(x.unsqueeze(1)).squeeze(1)
        x = mask_time(torch.relu(self.conv1(x)), lengths)
        for name in self.layer_names:
            if name in self.convs:
                # ReLU outputs are >= 0, so zeroed padding acts like the
                # pool's own -inf padding.
                x = mask_time(torch.relu(self.convs[name](x)), lengths)
                x = mask_time(self.pool(x), lengths)
            if name == stop:
                return x.transpose(1, 2)


def _check_layer(layer, layer_names):
    """Returns the layer to stop at (the last when ``layer`` is None)."""
    if layer is None:
        return layer_names[-1]
    if layer not in layer_names:
        raise ValueError(f"unknown layer {layer!r}; layers are {layer_names}")
    return layer
