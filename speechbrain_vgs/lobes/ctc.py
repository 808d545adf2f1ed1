"""A small CTC recogniser over frozen (or fine-tuned) speech features.

Hsu, Harwath & Glass (2019) train one recogniser per layer of a grounding
model; :class:`CTCRecognizer` is that recogniser here: frames are stacked
(``stack`` consecutive frames side by side, e.g. 10 ms -> 20 ms), projected,
read by a bidirectional LSTM (SpeechBrain's, packed by the relative
lengths, so padding never reaches the valid frames) and mapped to token
log-probabilities for CTC.

Authors
 * speechbrain-vgs developers 2026
"""

import torch
import torch.nn.functional as F
from speechbrain.nnet.RNN import LSTM
from torch import nn


def stack_frames(feats, lengths, stack):
    """Concatenates every ``stack`` consecutive frames (padded frames
    zeroed, the end zero-padded), dividing the frame rate by ``stack``.

    Arguments
    ---------
    feats : torch.Tensor
        ``[batch, frames, dim]``.
    lengths : torch.Tensor
        Relative lengths ``[batch]``.
    stack : int
        Frames per output frame.

    Returns
    -------
    stacked : torch.Tensor
        ``[batch, ceil(frames / stack), dim * stack]``.
    lengths : torch.Tensor
        Relative lengths of the stacked frames: an output frame is valid
        when it holds at least one valid input frame.

    Example
    -------
    >>> feats = torch.arange(10.0).reshape(1, 5, 2)
    >>> stacked, lens = stack_frames(feats, torch.tensor([0.6]), 2)
    >>> stacked  # 3 valid frames: the last two are zeroed
    tensor([[[0., 1., 2., 3.],
             [4., 5., 0., 0.],
             [0., 0., 0., 0.]]])
    >>> lens
    tensor([0.6667])
    """
    batch, frames, dim = feats.shape
    valid = torch.round(lengths * frames)
    padding = torch.arange(frames, device=feats.device) >= valid[:, None]
    feats = feats.masked_fill(padding.unsqueeze(-1), 0.0)
    pad = (-frames) % stack
    feats = F.pad(feats, (0, 0, 0, pad))
    out_frames = (frames + pad) // stack
    valid = torch.div(valid + stack - 1, stack, rounding_mode="floor")
    stacked = feats.reshape(batch, out_frames, dim * stack)
    return stacked, valid / out_frames


class CTCRecognizer(nn.Module):
    """Frame stacking, a projection, a BiLSTM and token log-probabilities.

    Arguments
    ---------
    input_dim : int
        Feature dimension.
    num_tokens : int
        Output tokens, the CTC blank included.
    stack : int
        Input frames per recogniser frame (2 turns 10 ms frames into 20 ms).
    hidden_size : int
        Projection and LSTM size (each direction).
    num_layers : int
        LSTM layers.
    dropout : float
        Dropout after the projection and between LSTM layers.

    Example
    -------
    >>> model = CTCRecognizer(input_dim=40, num_tokens=10, hidden_size=16)
    >>> log_probs, lens = model(torch.randn(2, 50, 40), torch.tensor([1, .5]))
    >>> log_probs.shape, lens
    (torch.Size([2, 25, 10]), tensor([1.0000, 0.5200]))
    >>> bool(torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 25)))
    True
    """

    def __init__(
        self,
        input_dim,
        num_tokens,
        stack=2,
        hidden_size=256,
        num_layers=2,
        dropout=0.15,
    ):
        super().__init__()
        self.num_tokens = num_tokens
        self.stack = stack
        self.project = nn.Sequential(
            nn.Linear(input_dim * stack, hidden_size),
            nn.LeakyReLU(),
            nn.Dropout(dropout),
        )
        self.rnn = LSTM(
            hidden_size,
            input_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout,
            bidirectional=True,
        )
        self.output = nn.Linear(2 * hidden_size, num_tokens)

    def forward(self, feats, lengths):
        """Token log-probabilities of every recogniser frame.

        Arguments
        ---------
        feats : torch.Tensor
            ``[batch, frames, input_dim]``.
        lengths : torch.Tensor
            Relative lengths ``[batch]``.

        Returns
        -------
        log_probs : torch.Tensor
            ``[batch, ceil(frames / stack), num_tokens]``.
        lengths : torch.Tensor
            Their relative lengths.
        """
        stacked, lengths = stack_frames(feats, lengths, self.stack)
        hidden, _ = self.rnn(self.project(stacked), lengths=lengths)
        return self.output(hidden).log_softmax(dim=-1), lengths
