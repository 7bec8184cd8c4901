"""A small residual U-Net (the FBPConvNet / DAGAN generator shape, scaled down for 64x64 on a CPU).

Shapes: input ``[B, C_in, H, W]`` with H and W divisible by ``2**depth``; output
``[B, C_out, H, W]``. With ``residual=True`` the network predicts a correction that is added
to the first ``C_out`` input channels, as FBPConvNet does: it learns to remove the streaks or
aliasing of the direct reconstruction rather than to draw the image from scratch.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """U-Net with ``depth`` poolings; channels ``base * 2**level``; no normalisation layers
    (so train and eval mode compute the same function)."""

    def __init__(self, in_channels: int = 1, out_channels: int = 1, base: int = 16, depth: int = 3,
                 residual: bool = True):
        super().__init__()
        if residual and out_channels > in_channels:
            raise ValueError("a residual U-Net needs out_channels <= in_channels")
        self.depth = depth
        self.residual = residual
        self.out_channels = out_channels
        chans = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        c_prev = in_channels
        for c in chans[:-1]:
            self.down.append(_block(c_prev, c))
            c_prev = c
        self.bottom = _block(chans[-2], chans[-1])
        self.upconv = nn.ModuleList()
        self.up = nn.ModuleList()
        for level in reversed(range(depth)):
            self.upconv.append(nn.ConvTranspose2d(chans[level + 1], chans[level], 2, stride=2))
            self.up.append(_block(2 * chans[level], chans[level]))
        self.head = nn.Conv2d(chans[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for block in self.down:
            h = block(h)
            skips.append(h)
            h = nn.functional.max_pool2d(h, 2)
        h = self.bottom(h)
        for upconv, block in zip(self.upconv, self.up):
            h = upconv(h)
            h = block(torch.cat([h, skips.pop()], 1))
        out = self.head(h)
        return x[:, : self.out_channels] + out if self.residual else out
