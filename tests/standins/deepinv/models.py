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
