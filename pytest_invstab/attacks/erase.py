"""Detail-erasing search: the perturbation that makes an inserted detail vanish from the output.

For an image with a detail ``x + d`` and the reconstruction without it ``t = f(A x)``, the search
minimises ``||(f(A(x + d + r)) - t) * m||`` over ``||r|| <= eps ||x + d||`` (``m``: the detail's
region): the reconstruction of the detail region is pulled to what it is without the detail.
Projected normalised-gradient steps of decaying length (the ``budgeted`` search's second phase).
"""

from __future__ import annotations

import math

import torch

from ..operators.base import LinearOperator
from ..reconstructor import Reconstructor, frozen, reconstruct
from ..tensors import batch_norm, batch_view, sq_norm
from .inputs import check_eps, check_inputs, count, jsonable_eps
from .problem import Best, Problem, check_finite, gradient, to_radius
from .results import AttackResult


def erase_search(f: Reconstructor, op: LinearOperator, xd: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *,
                 eps: "float | torch.Tensor", domain: str = "image", steps: int = 30, seed: int = 0,
                 start: torch.Tensor | None = None) -> AttackResult:
    """Perturbation of ``xd`` (``[B, *image_shape]``) pulling ``f`` towards ``target`` inside ``mask``.

    ``target``: ``[B, *image_shape]`` (the reconstruction without the detail); ``mask``: 0/1
    ``[*image_shape]``, or ``[B, *image_shape]`` for one region per image (several details searched
    in one batch). The result's ``artifact`` is ``||(f(.) - f(A xd)) * mask|| / ||xd||``;
    ``settings["distance"]``: the remaining ``||(f(.) - target) * mask|| / ||xd||`` per image.
    """
    xd = check_inputs(f, op, xd, domain)
    eps_t = check_eps(eps, xd.shape[0], xd.device, op.dtype)
    steps = count("steps", steps)
    gen = torch.Generator(device=xd.device).manual_seed(int(seed))
    tiny = torch.finfo(op.dtype).tiny
    with frozen(f), torch.enable_grad():
        prob = Problem(f, op, xd, domain, weight=mask)
        radius = eps_t * prob.ref_norm
        p0 = start.to(device=xd.device, dtype=prob.dtype) if start is not None else 1e-3 * prob.random(gen)
        p = to_radius(p0, radius).requires_grad_(True)
        best = Best(prob)
        best.sq.fill_(-math.inf)  # the objective is a negative distance
        finite = torch.ones((), dtype=torch.bool, device=xd.device)
        w, tgt = prob.weight, target.detach()
        for k in range(steps):
            dist = sq_norm((prob.output(p) - tgt) * w)
            with torch.no_grad():
                finite &= torch.isfinite(dist).all()
                best.update(-dist.detach(), p)  # the closest to the target so far
            if k == steps - 1:
                break
            g = gradient(-0.5 * dist.sum(), p)
            with torch.no_grad():
                a = 0.15 + 0.85 * 0.5 * (1 + math.cos(math.pi * k / max(1, steps - 2)))
                q = p + g * batch_view(a * radius / batch_norm(g).clamp_min(tiny), g)
                p.copy_(q * batch_view((radius / batch_norm(q).clamp_min(tiny)).clamp(max=1.0), q))
        check_finite(finite)
        with torch.no_grad():
            out = reconstruct(f, prob.measurements(best.p), op).detach()
    res = prob.result("erase", best, out, prob.sq_dist(out), seed=seed, restart_artifacts=prob.artifact(prob.sq_dist(out))[None],
                      settings={"eps": jsonable_eps(eps), "steps": steps})
    res.settings["distance"] = (batch_norm((out - tgt) * w) / prob.x_norm).cpu().tolist()
    return res


__all__ = ["erase_search"]
