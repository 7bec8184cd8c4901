"""deepinv.models stand-in: ArtifactRemoval, a backbone after the adjoint (or pseudo-inverse)."""

from __future__ import annotations

import torch


class ArtifactRemoval(torch.nn.Module):
    """``forward(y, physics) = backbone_net(physics.A_adjoint(y))`` (``A_dagger`` with ``pinv=True``)."""

    def __init__(self, backbone_net, mode="adjoint", pinv=False, ckpt_path=None, device=None):
        super().__init__()
        self.pinv = pinv or mode == "pinv"
        self.backbone_net = backbone_net

    def forward(self, y, physics, **kwargs):
        x_in = physics.A_dagger(y) if self.pinv else physics.A_adjoint(y)
        return self.backbone_net(x_in)


class UNet(torch.nn.Module):
    """Signature of deepinv's ``UNet(in_channels, out_channels, scales, ...)``; a small residual conv net."""

    def __init__(self, in_channels=1, out_channels=1, scales=4, batch_norm=True, bias=True, residual=True, **kwargs):
        super().__init__()
        width = 8 * scales
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(in_channels, width, 3, padding=1, bias=bias), torch.nn.ReLU(),
            torch.nn.Conv2d(width, out_channels, 3, padding=1, bias=bias),
        )
        self.residual = residual and in_channels == out_channels

    def forward(self, x, sigma=None):
        out = self.body(x)
        return x + out if self.residual else out
