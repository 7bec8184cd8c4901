"""Planted reconstructors with known worst cases, shared by the worst-case tests.

``HiddenSwitch``: ``f(y) = A* y + alpha sigmoid((t - gap) / T) s`` with ``t = Re<u, y - y0>``:
stable (the back-projection) except past a threshold ``gap`` along one direction ``u``, where a
blob ``s`` switches on. At ``y0`` the switch's gradient is ``sigmoid'(-gap/T)/T``: with
``T = 0.1 gap`` it is 4.5e-5 / T, with ``T = 0.02 gap`` 2e-22 / T: flat. Closed-form worst case
at size ``eps`` (``A A* = I``, ``||u|| = 1``): the perturbation along ``u`` (``r = rho A* u`` with
``rho = eps ||x||``, or ``e = rho u`` with ``rho = eps ||y||``) moves ``t`` by ``rho`` and gives

    artifact* = || rho A* u + alpha (sigmoid((rho - gap)/T) - sigmoid(-gap/T)) s || / ||x||.
"""

from __future__ import annotations

import torch


def blob(n: int, cy: float, cx: float, sigma: float) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32), indexing="ij")
    return torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))


class HiddenSwitch(torch.nn.Module):
    """A switch behind a flat gradient (see the module docstring); ``gap_share`` of the budget's
    reach ``rho`` must be closed, the switch's temperature is ``temperature`` times the gap."""

    def __init__(self, op, x0: torch.Tensor, *, eps: float, domain: str = "image", temperature: float = 0.1,
                 gap_share: float = 0.5, artifact: float = 0.3, u_at=(10, 11, 3.0), s_at=(22, 20, 2.5)):
        super().__init__()
        n = op.image_shape[-1]
        y0 = op(x0)
        self.register_buffer("y0", y0)
        u = op(blob(n, *u_at)[None].expand_as(x0).contiguous())
        self.register_buffer("u", u / u.abs().square().flatten(1).sum(1).sqrt().view(-1, *[1] * (u.dim() - 1)))
        self.register_buffer("s", blob(n, *s_at))
        ref = x0.flatten(1).norm(dim=1) if domain == "image" else y0.abs().flatten(1).norm(dim=1)
        self.register_buffer("rho", eps * ref)
        self.register_buffer("gap", gap_share * self.rho)
        self.register_buffer("temp", temperature * self.gap)
        self.register_buffer("alpha", artifact * x0.flatten(1).norm(dim=1) / self.s.norm())

    def switch(self, t: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid((t - self.gap) / self.temp)

    def forward(self, y, op):
        t = (self.u.conj() * (y - self.y0)).real.flatten(1).sum(1)
        return op.adjoint(y) + (self.alpha * self.switch(t))[:, None, None] * self.s

    def worst_artifact(self, op, x0: torch.Tensor) -> torch.Tensor:
        """The closed form above, per image ``[B]``."""
        with torch.no_grad():
            au = op.adjoint(self.u)
            step = self.alpha * (self.switch(self.rho) - self.switch(torch.zeros_like(self.rho)))
            num = self.rho[:, None, None] * au + step[:, None, None] * self.s
            return num.abs().flatten(1).norm(dim=1) / x0.flatten(1).norm(dim=1)
