"""Instabilities hidden behind flat gradients: ascent on the deviation from the linear response.

A network that is stable except past a threshold along one direction (a switch with a gradient
at ``x`` of 1e-4 of the linear part's, or less) is invisible to an ascent on the artifact: its
gradient is the linear part's. The symmetric second difference

    D(p) = f(y + p) + f(y - p) - 2 f(y)  =  d(p) + d(-p),   d(p) = f(y + p) - f(y) - J p,

has no linear part at all (it cancels exactly, without a Jacobian-vector product), so ascending
``||D(p)||`` with normalised steps follows the switch's direction however small its gradient.
Each step evaluates ``f(y + p)`` and ``f(y - p)``, so the true artifact of both signs is kept.
"""

from __future__ import annotations

import math

import torch

from ..tensors import batch_norm, batch_view, sq_norm
from .problem import Best, Problem, Trace, gradient

#: Step length of the deviation ascent (units of the radius), decaying (cosine) to 15 % of it.
_STEP = 1.0
_FLOOR = 0.15


def deviation_ascent(prob: Problem, start: torch.Tensor, radius: torch.Tensor, steps: int,
                     trace: Trace | None = None, beyond: float = 1.0):
    """Projected normalised ascent of ``||D(p)||^2`` on the sphere ``||p|| = radius`` ``[B]``.

    ``beyond`` > 1 starts on a sphere that many times larger and shrinks it geometrically to
    ``radius`` over the first half of the steps (a switch out of reach at ``radius`` may fire
    there, and the shrinking sphere drags its direction along); only iterates inside the ball are
    kept. Returns (best squared distance ``[B]``, its perturbation, finiteness flag). Two
    evaluations (forward + backward) of ``f`` per step.
    """
    tiny = torch.finfo(radius.dtype).tiny
    p = start.clone().requires_grad_(True)
    best = Best(prob, start=start)
    finite = torch.ones((), dtype=torch.bool, device=start.device)
    half = max(1, steps // 2) if beyond > 1 else 0
    for k in range(steps):
        out_p, out_m = prob.output(p), prob.output(-p)
        with torch.no_grad():
            sq_p, sq_m = prob.sq_dist(out_p.detach()), prob.sq_dist(out_m.detach())
            if k >= half:  # on the sphere of the budget (far beyond it a network may overflow: not its fault)
                finite &= torch.isfinite(sq_p).all() & torch.isfinite(sq_m).all()
                best.update(sq_p, p)
                best.update(sq_m, -p.detach())
            if trace is not None:
                trace.record(best.sq, prob.evaluations)
        if k == steps - 1:
            break
        dev = out_p + out_m - 2 * prob.clean
        g = gradient(0.5 * sq_norm(dev if prob.weight is None else dev * prob.weight).sum(), p)
        g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
        with torch.no_grad():
            rad = radius * beyond ** max(0.0, 1.0 - (k + 1) / half) if half else radius
            t = k / max(1, steps - 2)
            a = _STEP * (_FLOOR + (1 - _FLOOR) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))
            q = p + _unit(g) * batch_view(a * rad, g)
            p.copy_(q * batch_view(rad / batch_norm(q).clamp_min(tiny), q))
    return best.sq, best.p, finite


def _unit(g: torch.Tensor) -> torch.Tensor:
    """``g / ||g||`` per image, safe for gradients near underflow (rescaled by their peak first); 0 stays 0."""
    peak = g.abs().reshape(g.shape[0], -1).amax(1)
    g = g / batch_view(peak.clamp_min(torch.finfo(peak.dtype).tiny), g)
    return g / batch_view(batch_norm(g).clamp_min(1.0), g)  # after the rescale, ||g|| >= 1 unless g == 0


__all__ = ["deviation_ascent"]
