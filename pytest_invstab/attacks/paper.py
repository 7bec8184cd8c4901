"""The search of Antun et al. (2020): heavy-ball gradient ascent on a penalised artifact.

``paper_search`` returns the sequence r_1 < r_2 < ... of the paper's figures, either at fixed
iterations or, with ``max_size``, at fractions of a ball's radius.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from ..errors import InvalidInputError
from ..operators.base import LinearOperator
from ..reconstructor import Reconstructor, frozen, reconstruct
from ..tensors import batch_norm, batch_view
from ..validate import positive
from .inputs import check_inputs, count
from .problem import Problem, check_finite, gradient
from .results import PaperSearchResult

#: ``lam="auto"``: this share of the local squared gain at ``r_0`` (the penalty then balances the
#: artifact where the network's gain has fallen to that share of its value at ``x``).
LAM_SHARE = 0.5


def paper_search(
    f: Reconstructor,
    op: LinearOperator,
    x: torch.Tensor,
    *,
    lam: "float | str",
    step: "float | str",
    momentum: float = 0.9,
    tau: float,
    iters: int,
    checkpoints: Sequence[float],
    seed: int = 0,
    domain: str = "image",
    max_size: float | None = None,
    size_limit: float | None = None,
) -> PaperSearchResult:
    """The search of Antun et al. (2020): gradient ascent with heavy-ball momentum on

        Q(r) = 1/2 ||f(y + A r) - f(y)||^2 - lam/2 ||r||^2,   y = A x,

    ``v <- momentum v + step grad Q(r)``, ``r <- r + v``, from ``r_0 = tau U`` with ``U`` uniform
    on [0, 1) per pixel (real and imaginary parts for complex perturbations). One forward and one
    backward pass of ``f`` per iteration.

    ``step``: a float, or ``"auto"``: ``(1 - momentum) / lam_0`` per image with
    ``lam_0 = ||grad|| / ||r_0||`` the network's local squared gain at ``r_0``, so that the
    search behaves the same for a network and for the same network scaled by 10 (once the momentum
    has built up, the perturbation roughly doubles per iteration along the worst direction).
    ``checkpoints``: iteration numbers (1 = after the first update) at which ``r`` is returned, in
    increasing order; the paper's r_1 < r_2 < r_3 are three of them. With ``max_size`` (relative to
    ``||x||``, or ``||y||`` for domain "measurements") each image's search stops at its last iterate
    inside that ball, and ``checkpoints`` are then fractions in (0, 1] of ``max_size``: r_j is
    the last iterate with ``||r|| <= checkpoints[j] * max_size * ||x||``; the search ends early
    once every image has stopped.

    ``lam="auto"``: ``LAM_SHARE`` times the local squared gain ``lam_0`` at ``r_0`` (as for the
    step), so that the penalty is on the network's scale. Without ``max_size`` the free-running
    search never diverges with ``size_limit``: an image whose next iterate would exceed it (relative
    to ``||x||`` or ``||y||``; ``None``: no limit, or 1, a perturbation as large as the image, with
    ``lam="auto"``) stops there (its momentum is dropped); ``settings["stopped"]`` counts them.
    """
    x = check_inputs(f, op, x, domain)
    iters, cps = _check_arguments(0.0 if lam == "auto" else lam, step, momentum, tau, iters, checkpoints, max_size)
    if size_limit is None:
        size_limit = 1.0 if lam == "auto" else math.inf
    else:
        positive("size_limit", size_limit, unit="relative to ||x|| (or ||y||)")
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    with frozen(f), torch.enable_grad():
        prob = Problem(f, op, x, domain)
        r = (tau * prob.random(gen, "uniform")).requires_grad_(True)
        saved, objective, finite, info = _ascend(prob, r, lam, step, momentum, iters, cps, max_size, size_limit)
        check_finite(finite)
        perts = [s for s in saved if s is not None]
        outputs, sizes, arts = [], [], []
        with torch.no_grad():
            for pj in perts:
                oj = reconstruct(f, prob.measurements(pj), op).detach()
                outputs.append(oj)
                sizes.append(batch_norm(pj) / prob.ref_norm)
                arts.append(prob.artifact(prob.sq_dist(oj)))
    return PaperSearchResult(
        domain=domain,
        checkpoints=[int(c) if max_size is None else c for c in cps],  # type: ignore[misc]
        perturbations=perts,
        sizes=torch.stack(sizes),
        artifacts=torch.stack(arts),
        outputs=outputs,
        clean=prob.clean,
        objective=objective,
        evaluations=prob.evaluations,
        seed=int(seed),
        settings={"lam": info["lam"], "step": step if step == "auto" else float(step), "momentum": float(momentum),
                  "tau": float(tau), "iters": iters, "max_size": max_size, "size_limit": size_limit if math.isfinite(size_limit) else None,
                  "stopped": info["stopped"]},
    )


def _check_arguments(lam: object, step: object, momentum: object, tau: object, iters: object,
                     checkpoints: Sequence[float], max_size: object) -> tuple[int, list[float]]:
    """Validate the search's numbers; returns ``iters`` and the checkpoints as floats."""
    for name, v in (("lam", lam), ("momentum", momentum), ("tau", tau)):
        positive(name, v, allow_zero=True)
    if not momentum < 1:  # type: ignore[operator]
        raise InvalidInputError(f"momentum must be < 1 (the paper uses 0.9), got {momentum!r}")
    if tau <= 0:  # type: ignore[operator]
        raise InvalidInputError(f"tau (the size of the uniform start r_0) must be > 0, got {tau!r}")
    if step != "auto" and (isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step) or step <= 0):
        raise InvalidInputError(f"step must be a number > 0 or 'auto', got {step!r}")
    n = count("iters", iters)
    cps = [float(c) for c in checkpoints]
    if not cps or any(b <= a for a, b in zip(cps, cps[1:])):
        raise InvalidInputError(f"checkpoints must be a non-empty increasing sequence, got {list(checkpoints)!r}")
    if max_size is None:
        if any(c != int(c) or not 1 <= c <= n for c in cps):
            raise InvalidInputError(f"checkpoints must be iteration numbers in 1..{n}, got {list(checkpoints)!r}")
    else:
        positive("max_size", max_size, unit="relative to ||x||")
        if any(not 0 < c <= 1 for c in cps):
            raise InvalidInputError(
                f"with max_size, checkpoints are fractions of max_size in (0, 1], got {list(checkpoints)!r}"
            )
    return n, cps


def _ascend(prob: Problem, r: torch.Tensor, lam: "float | str", step: "float | str", momentum: float, iters: int,
            cps: list[float], max_size: float | None, size_limit: float = 1.0):
    """The heavy-ball iteration from ``r_0 = r`` (updated in place); returns (the perturbations
    saved at the checkpoints, the objective ``[iterations, B]``, the finiteness flag)."""
    B, dtype, device = prob.batch, prob.op.dtype, prob.device
    v = torch.zeros_like(r)
    objective = torch.zeros(iters, B, dtype=dtype, device=device)
    finite = torch.ones((), dtype=torch.bool, device=device)
    saved: list[torch.Tensor | None] = [None] * len(cps)
    if max_size is not None:
        limits = [c * max_size * prob.ref_norm for c in cps]
        size0 = batch_norm(r.detach())
        saved = [torch.where(batch_view(size0 <= lim, r), r.detach(), 0) for lim in limits]
        active = size0 <= limits[-1]
    step_t = None if step == "auto" else torch.full((B,), float(step), dtype=dtype, device=device)
    lam_t = None if lam == "auto" else torch.full((B,), float(lam), dtype=dtype, device=device)
    free = torch.ones(B, dtype=torch.bool, device=device)  # free-running: not yet at size_limit
    for k in range(iters):
        out = prob.output(r)
        sq = prob.sq_dist(out)
        rr = batch_norm(r.detach()).square()
        g = gradient(0.5 * sq.sum(), r)
        with torch.no_grad():
            tiny = torch.finfo(rr.dtype).tiny
            # ||g|| / ||r|| >= the Rayleigh quotient <g, r>/||r||^2 and is positive: the local squared gain
            gain = batch_norm(g) / rr.sqrt().clamp_min(tiny)
            if lam_t is None:  # "auto": a share of the local squared gain at r_0
                lam_t = LAM_SHARE * gain
            if step_t is None:  # "auto": the inverse local squared gain at r_0 (a cautious step)
                step_t = (1.0 - momentum) / gain.clamp_min(tiny)
            objective[k] = 0.5 * sq.detach() - 0.5 * lam_t * rr
            finite &= torch.isfinite(sq.detach()).all()
            grad_q = g - batch_view(lam_t, r) * r
            v.mul_(momentum).add_(grad_q * batch_view(step_t, grad_q))
            if max_size is None:
                cand = r + v
                free &= batch_norm(cand) <= size_limit * prob.ref_norm
                v.mul_(batch_view(free, v))
                r.add_(v)
                for j, c in enumerate(cps):
                    if k + 1 == int(c):
                        saved[j] = r.detach().clone()
            else:
                cand = r + v
                size = batch_norm(cand)
                active &= size <= limits[-1]
                for j in range(len(cps)):
                    keep = active & (size <= limits[j])
                    saved[j] = torch.where(batch_view(keep, cand), cand, saved[j])
                r.copy_(torch.where(batch_view(active, cand), cand, r))
        # every image stopped at the ball: the rest would be wasted (one host sync per 4 steps)
        if max_size is not None and k % 4 == 3 and not bool(active.any()):
            objective = objective[: k + 1]
            break
    return saved, objective, finite, {"lam": lam_t.cpu().tolist() if lam == "auto" else float(lam),  # type: ignore[union-attr]
                                      "stopped": int((~free).sum())}


__all__ = ["paper_search"]
