"""A Deep-MRI-like cascade (Schlemper et al. 2018): small CNNs alternating with data consistency.

The reconstructor maps measurements ``y`` ``[B, m]`` (complex) of a subsampled Fourier
operator ``op`` with ``A A* = I`` to a complex image ``[B, H, W]``. Each stage is a residual
CNN on the image as two channels (real, imaginary) followed by the exact data-consistency
step ``x <- x + A*(y - A x)``: it puts the measured Fourier coefficients back, so the network
only ever fills in the unmeasured ones. Because the operator is an argument, the same weights
run at any sampling rate (``op.at_rate``), which is why this design profits from more samples.
"""

from __future__ import annotations

import torch
from torch import nn


class DenoiserCNN(nn.Module):
    """``layers`` 3x3 convolutions with ReLU between them, predicting a residual; ``[B, 2, H, W]``."""

    def __init__(self, channels: int = 32, layers: int = 4):
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(2, channels, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(layers - 2):
            mods += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
        mods.append(nn.Conv2d(channels, 2, 3, padding=1))
        self.body = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _to_channels(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([x.real, x.imag], 1)


def _to_complex(h: torch.Tensor) -> torch.Tensor:
    return torch.complex(h[:, 0].contiguous(), h[:, 1].contiguous())


class DCCascade(nn.Module):
    """``f(y, op)``: zero-filled start ``A* y``, then ``stages`` times (CNN, data consistency)."""

    def __init__(self, stages: int = 5, channels: int = 32, layers: int = 4):
        super().__init__()
        self.stages = nn.ModuleList(DenoiserCNN(channels, layers) for _ in range(stages))

    def forward(self, y: torch.Tensor, op) -> torch.Tensor:
        x = op.adjoint(y)
        for cnn in self.stages:
            x = _to_complex(cnn(_to_channels(x)))
            # exact data consistency, valid because A A* = I for the subsampled orthonormal FFT
            x = x + op.adjoint(y - op.forward(x))
        return x
