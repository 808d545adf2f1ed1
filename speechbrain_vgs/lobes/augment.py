"""Data augmentation of batches on the model's device.

Authors
 * speechbrain-vgs developers 2026
"""

import torch
import torch.nn.functional as F


class RandomResizedCrops(torch.nn.Module):
    """Random resized crops of a batch of images, each image its own crop.

    Each image keeps a random window with its aspect ratio, covering a
    random share in ``scale`` of its area at a random position, bilinearly
    resized back to the input size (one ``grid_sample`` call for the whole
    batch, on the batch's device). No flips: captions speak of left and
    right. Meant for training only, on preprocessed images.

    Arguments
    ---------
    scale : tuple of float
        Range of the share of the image's area kept, in (0, 1].

    Example
    -------
    >>> crops = RandomResizedCrops(scale=(0.5, 0.5))
    >>> ramp = torch.linspace(0, 1, 64).expand(4, 3, 64, 64)
    >>> out = crops(ramp)
    >>> out.shape
    torch.Size([4, 3, 64, 64])
    >>> span = out[..., -1] - out[..., 0]  # each row: a window of the ramp
    >>> bool(((span - 0.5 ** 0.5).abs() < 0.02).all())
    True
    >>> torch.allclose(RandomResizedCrops((1, 1))(ramp), ramp, atol=1e-6)
    True
    """

    def __init__(self, scale=(0.6, 1.0)):
        super().__init__()
        low, high = scale
        if not 0 < low <= high <= 1:
            raise ValueError(
                f"scale must satisfy 0 < low <= high <= 1: {scale}"
            )
        self.scale = (float(low), float(high))

    def forward(self, images):
        """Crops ``images`` ``[B, C, H, W]``; returns the same shape."""
        batch = images.shape[0]
        options = {"device": images.device, "dtype": images.dtype}
        side = torch.empty(batch, **options).uniform_(*self.scale).sqrt()
        shift = (1 - side) * torch.empty(2, batch, **options).uniform_(-1, 1)
        theta = torch.zeros(batch, 2, 3, **options)
        theta[:, 0, 0] = side
        theta[:, 1, 1] = side
        theta[:, :, 2] = shift.t()
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(
            images, grid, padding_mode="border", align_corners=False
        )
