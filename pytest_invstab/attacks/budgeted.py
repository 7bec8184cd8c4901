"""The marker's default search: normalised-gradient ascent on the ball, with restarts.

``budgeted_search`` finds, per image, the perturbation of norm ``eps ||x||`` (or ``eps ||y||``)
that most changes the reconstruction; ``_ascend`` is one restart (accelerated power steps, then
projected steps). Budget defaults: ``DEFAULT_STEPS`` x ``DEFAULT_RESTARTS`` at budget "standard".
"""

from __future__ import annotations

import math

import torch

from ..budget import Budget, get_budget
from ..operators.base import LinearOperator
from ..reconstructor import Reconstructor, frozen, reconstruct
from ..tensors import batch_norm, batch_view, real_dot
from .inputs import check_eps, check_inputs, count, jsonable_eps
from .hidden import deviation_ascent
from .problem import Best, Problem, Trace, check_finite, gradient, to_radius
from .results import AttackResult

#: Default budget of ``budgeted_search`` at budget "standard" (scaled by ``budget.steps``/``restarts``):
#: 120 forward+backward passes. A linear reconstructor's worst case (eps ||x|| sigma_max) is reached
#: to >= 99.9 % in both domains, also for a dense Gaussian spectrum (tests/test_attacks.py; one
#: restart alone reaches 97.5 % there), and an attack costs ~3 s for two 64x64 images through the
#: example networks, ~7 s for two 128x128 images through a small U-Net (one CPU core).
DEFAULT_STEPS = 40
DEFAULT_RESTARTS = 3
#: The hidden-instability phase's two deviation ascents start on the sphere (switches within reach
#: but behind a flat gradient) and ``HIDDEN_FAR * sqrt(n)`` times beyond it, shrinking (switches whose
#: gradient underflows at x: a random direction of that radius has a component of about
#: ``HIDDEN_FAR`` radii along any fixed direction, so it sets them off), ``n`` the perturbation's
#: real dimension. 8 finds planted switches of temperature 2 % of their gap in 62 of 64 cases
#: (32 and 64 pixels, both domains; 2 to 4 and 4 to 8 find 50 to 95 %; benchmarks/bench_worst_case.py).
HIDDEN_FAR = 8.0
#: Share of each restart's steps spent in the accelerated power phase, and its momentum factor.
_POWER_SHARE = 0.75
_MOMENTUM_C = 0.95
#: Step length of the projected phase, in units of the radius, decaying (cosine) to 15 % of it.
_PGA_STEP = 1.0
_PGA_FLOOR = 0.15


def budgeted_search(
    f: Reconstructor,
    op: LinearOperator,
    x: torch.Tensor,
    *,
    eps: "float | torch.Tensor",
    domain: str = "image",
    steps: int | None = None,
    restarts: int | None = None,
    seed: int = 0,
    budget: "str | Budget | None" = "standard",
    start: torch.Tensor | None = None,
    hidden: bool = True,
    region: torch.Tensor | None = None,
    radius: torch.Tensor | None = None,
) -> AttackResult:
    """Worst perturbation in the ball ``||r|| <= eps ||x||`` (or ``||e|| <= eps ||y||``), per image.

    Maximises ``||f(A(x + r)) - f(Ax)||`` by normalised-gradient ascent on the ball (see
    ``_ascend``: 3/4 accelerated power steps, then projected steps of decaying length), ``restarts``
    times from random directions, keeping each image's worst iterate. Each step costs one
    forward and one backward pass of ``f`` on the whole batch. Defaults:
    ``budget.steps(DEFAULT_STEPS)`` steps and ``budget.restarts(DEFAULT_RESTARTS)`` restarts.

    With ``hidden`` (default) a last phase looks for instabilities the gradient at ``x`` does not
    show (``hidden.deviation_ascent``: ``steps // 2`` steps of two evaluations each on the
    deviation from the linear response, then ``steps // 4`` projected steps on the artifact from
    its best point; one ascent on the sphere, one from ``HIDDEN_FAR * sqrt(n)`` times beyond it): ``restarts * steps + 2.25 steps`` evaluations
    in all (210 at "standard", against 120 without). ``start``: a warm start (rescaled to the sphere) for the first restart,
    e.g. the previous level's worst case on a robustness curve. ``region``: a weight ``[*image
    shape]`` (0/1 mask) inside which the artifact is measured and maximised. ``radius``: the
    ball's radius ``[B]`` in the perturbation's units, overriding ``eps`` times the reference norm
    (another budget convention, see ``checks.budgets``).

    x: ``[B, *op.image_shape]``; eps: dimensionless, a float or a ``[B]`` tensor of per-image sizes.
    For a linear reconstructor ``f(y) = B y`` the optimum is ``eps ||x|| sigma_max(BA)`` (image
    domain) or ``eps ||y|| sigma_max(B)``; the default budget reaches 99 % of it.
    """
    x = check_inputs(f, op, x, domain)
    eps_t = check_eps(eps, x.shape[0], x.device, op.dtype)
    b = get_budget(budget)
    steps = count("steps", steps, b.steps(DEFAULT_STEPS))
    restarts = count("restarts", restarts, b.restarts(DEFAULT_RESTARTS))
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    with frozen(f), torch.enable_grad():
        prob = Problem(f, op, x, domain, weight=region)
        radius = eps_t * prob.ref_norm if radius is None else radius.to(device=x.device, dtype=op.dtype)
        best, trace = Best(prob), Trace()
        finite = torch.ones((), dtype=torch.bool, device=x.device)
        per_restart = []
        n_power = max(1, int(round(_POWER_SHARE * steps)))
        for i in range(restarts):
            p0 = start.to(device=x.device, dtype=prob.dtype) if i == 0 and start is not None else prob.random(gen)
            sq, p, fin = _ascend(prob, to_radius(p0, radius), radius, n_power, steps - n_power, trace)
            finite &= fin
            per_restart.append(prob.artifact(sq))
            best.update(sq, p)
        if hidden and steps >= 4:
            dev = Best(prob)
            n = prob.x[0].numel() if domain == "image" else prob.y[0].numel()
            n *= 2 if prob.dtype.is_complex else 1
            for beyond in (1.0, HIDDEN_FAR * math.sqrt(n)):  # on the sphere, then from far beyond it
                sq, p, fin = deviation_ascent(prob, to_radius(prob.random(gen), radius), radius, steps // 2,
                                              trace, beyond=beyond)
                finite &= fin
                dev.update(sq, p)
            sq2, p2, fin2 = _ascend(prob, dev.p, radius, 0, max(2, steps // 4), trace)
            finite &= fin2
            best.update(dev.sq, dev.p)
            best.update(sq2, p2)
        check_finite(finite)
        with torch.no_grad():
            perturbed = reconstruct(f, prob.measurements(best.p), op).detach()
    return prob.result("budgeted", best, perturbed, prob.sq_dist(perturbed), seed=seed,
                       restart_artifacts=torch.stack(per_restart), trace=trace,
                       settings={"eps": jsonable_eps(eps), "steps": steps, "restarts": restarts, "budget": b.name,
                                 "hidden": bool(hidden), "region": region is not None})


def _ascend(prob: Problem, start: torch.Tensor, radius: torch.Tensor, n_power: int, n_pga: int,
            trace: Trace | None = None):
    """One restart of ``n_power + n_pga`` steps; returns (best squared distance ``[B]``, best
    perturbation, finiteness flag).

    Phase 1 (``n_power`` steps): the accelerated power method (Xu et al., 2018) on the gradient
    map, ``p+ ~ g - beta p-`` rescaled to the sphere ``||p|| = radius``, with ``g`` the gradient
    of 1/2 ||f(y + A p) - f(y)||^2 and ``beta = (c lam)^2 / 4``, ``lam = <g, p>/||p||^2``. For a
    linear reconstructor ``g = M p`` with ``M = (BA)^T BA``, so this is power iteration with
    momentum: it finds the top singular vector about twice as fast as plain power iteration and
    far faster than projected-gradient or Adam steps (benchmarks/bench_attack.py, part 2).
    Phase 2 (``n_pga`` steps): projected normalised-gradient ascent
    ``p <- P(p + a radius g/||g||)`` with ``a`` decaying from 1 to 0.15, which refines the worst
    case of a nonlinear network, where the momentum recurrence does not settle on the maximum.
    The split (3/4 power, 1/4 projected) and the step were chosen on a trained U-Net at
    eps = 0.03 to 0.3 in both domains (+0.5 to 1 % artifact over a half/half split; pure power
    steps lose 1 to 3 %). The best iterate is kept. One forward and one backward pass per step,
    no host syncs.
    """
    tiny = torch.finfo(radius.dtype).tiny
    p = start.clone().requires_grad_(True)
    prev = torch.zeros_like(start)
    best = Best(prob, start=start)
    finite = torch.ones((), dtype=torch.bool, device=start.device)
    switch, steps = n_power, n_power + n_pga
    for k in range(steps):
        out = prob.output(p)
        sq = prob.sq_dist(out)
        with torch.no_grad():
            sq_d = sq.detach()
            finite &= torch.isfinite(sq_d).all()
            best.update(sq_d, p)
            if trace is not None:
                trace.record(best.sq, prob.evaluations)
        if k == steps - 1:
            break  # the last gradient would not be used
        g = gradient(0.5 * sq.sum(), p)
        with torch.no_grad():
            if k < switch:
                lam = real_dot(g, p) / radius.square().clamp_min(tiny)
                beta = (_MOMENTUM_C * lam.clamp_min(0)).square() / 4
                new = g - batch_view(beta, g) * prev
                scale = batch_view(radius / batch_norm(new).clamp_min(tiny), new)
                prev = p.detach() * scale
                p.copy_(new * scale)
            else:
                t = (k - switch) / max(1, steps - 2 - switch)
                a = _PGA_STEP * (_PGA_FLOOR + (1 - _PGA_FLOOR) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))
                q = p + g * batch_view(a * radius / batch_norm(g).clamp_min(tiny), g)
                p.copy_(q * batch_view((radius / batch_norm(q).clamp_min(tiny)).clamp(max=1.0), q))
    return best.sq, best.p, finite


__all__ = ["DEFAULT_RESTARTS", "DEFAULT_STEPS", "budgeted_search"]
