"""An MRI-VN-like unrolled variational network (Hammernik et al. 2018) for multi-coil MRI.

The reconstructor maps multi-coil measurements ``y`` ``[B, coils, m]`` of a
``MultiCoilFourierOperator`` ``A`` (coil sensitivities times the subsampled orthonormal FFT) to a
complex image ``[B, H, W]``. It unrolls ``stages`` steps of gradient descent on
``1/2 ||A x - y||^2 + R_t(x)``:

    x_{t+1} = x_t - lambda_t A*(A x_t - y) - R_t(x_t),

starting from ``x_0 = A* y`` (the coil-combined zero-filled image). Each ``R_t`` is a small CNN on
the image as two channels (real, imaginary): learned filters, a pointwise non-linearity and the
transposed filters, the shape of the fields-of-experts gradient of the original VN. The weights
``lambda_t`` are learned too. As the operator is an argument, the same weights run at any rate.
"""

from __future__ import annotations

import torch
from torch import nn


class Regulariser(nn.Module):
    """``K^T phi(K x)`` with ``filters`` learned 5x5 filters ``K`` on ``[B, 2, H, W]``."""

    def __init__(self, filters: int = 24, kernel: int = 5):
        super().__init__()
        self.conv = nn.Conv2d(2, filters, kernel, padding=kernel // 2)
        self.act = nn.Sequential(nn.Conv2d(filters, filters, 1), nn.ReLU(inplace=True), nn.Conv2d(filters, filters, 1))
        self.back = nn.ConvTranspose2d(filters, 2, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.back(self.act(self.conv(x)))


def _to_channels(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([x.real, x.imag], 1)


def _to_complex(h: torch.Tensor) -> torch.Tensor:
    return torch.complex(h[:, 0].contiguous(), h[:, 1].contiguous())


class VariationalNetwork(nn.Module):
    """``f(y, op)``: ``stages`` unrolled gradient steps with learned regularisers and step sizes."""

    def __init__(self, stages: int = 8, filters: int = 24):
        super().__init__()
        self.regs = nn.ModuleList(Regulariser(filters) for _ in range(stages))
        self.lam = nn.Parameter(torch.full((stages,), 0.5))

    def forward(self, y: torch.Tensor, op) -> torch.Tensor:
        x = op.adjoint(y)
        for t, reg in enumerate(self.regs):
            grad_data = op.adjoint(op.forward(x) - y)
            x = x - self.lam[t] * grad_data - _to_complex(reg(_to_channels(x)))
        return x
