"""A deliberately small speech encoder and image encoder to start from.

Replace these with your own model: the shared ``GroundingBrain`` only needs
a speech encoder mapping ``(features [B, T, F], lengths [B])`` to frames
``[B, T', D]`` or embeddings ``[B, D]``, and an image encoder mapping
``images [B, 3, H, W]`` to maps ``[B, H', W', D]`` or embeddings ``[B, D]``.

Authors
 * speechbrain-vgs developers 2026
"""

from torch import nn

from speechbrain_vgs.similarity import masked_mean


class SpeechEncoder(nn.Module):
    """Two strided 1-D convolutions, then a masked mean over time.

    Arguments
    ---------
    input_dim : int
        Feature dimension (40 log-mel bins).
    hidden_dim : int
        Channels of the convolutions.
    embedding_dim : int
        Output (shared) embedding size.

    Example
    -------
    >>> import torch
    >>> enc = SpeechEncoder(40, 32, 16)
    >>> enc(torch.randn(2, 50, 40), torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 16])
    """

    def __init__(self, input_dim=40, hidden_dim=128, embedding_dim=128):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv1d(input_dim, hidden_dim, 5, stride=2, padding=2),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(),
            nn.Conv1d(hidden_dim, embedding_dim, 5, stride=2, padding=2),
        )

    def forward(self, feats, lengths):
        """Returns L2-normalised utterance embeddings ``[B, D]``."""
        frames = self.convs(feats.transpose(1, 2)).transpose(1, 2)
        # Relative lengths stay valid after striding: padding never counts.
        return nn.functional.normalize(masked_mean(frames, lengths), dim=-1)


class ImageEncoder(nn.Module):
    """Three strided 2-D convolutions, then a mean over the image.

    Example
    -------
    >>> import torch
    >>> ImageEncoder(16)(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 16])
    """

    def __init__(self, embedding_dim=128, channels=64):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(3, channels, 3, stride=2, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, embedding_dim, 3, stride=2, padding=1),
        )

    def forward(self, images):
        """Returns L2-normalised image embeddings ``[B, D]``."""
        pooled = self.convs(images).mean(dim=(2, 3))
        return nn.functional.normalize(pooled, dim=-1)
