"""Total-variation compressed sensing by Chambolle-Pock (primal-dual hybrid gradient).

Solves, for each batch element,

    min_x  ½ ||A x - y||²  +  λ TV(x),     TV(x) = Σ_pixels sqrt(|∂_h x|² + |∂_w x|²)

(isotropic TV with forward differences and a zero difference past the last row/column). For
complex images (Fourier) the magnitude runs over the real and imaginary parts of both
differences, so TV(x) is the isotropic TV of the pair (Re x, Im x).

Splitting: the equivalent problem ``min ½||Â x - ŷ||² + λ̂ TV(x)`` with ``Â = A/||A||``,
``ŷ = y/||A||``, ``λ̂ = λ/||A||²`` (``||A||`` by power iteration, 1 % margin) is solved with
``K = [Â; s ∇]``, ``F(u, p) = ½||u - ŷ||² + (λ̂/s) ||p||_{2,1}``, ``G = 0``. The scale
``s = 1/sqrt(8)`` balances the blocks (``||∇||² <= 8``), so ``||K||² <= 2`` for every operator,
and the iterates do not depend on how ``A`` is normalised. Steps: ``σ = ρ/||K||``,
``τ = 0.99/(ρ ||K||)``. Both dual proxes are closed form: the data term's is
``(q + σ(Âx̄ - ŷ)) / (1 + σ)``, the TV term's the pixelwise projection onto the ball of
radius ``λ̂/s``. Every iteration is over-relaxed (``RELAXATION``): the plain primal-first step
``x̃ = x - τK*p``, ``p̃ = prox(p + σK(2x̃ - x))`` is taken, then each iterate moves
``ρ`` times its step, ``x ← x + ρ(x̃ - x)`` (Chambolle & Pock 2016, same fixed points).

For operators with ``A A* = I`` (single-coil Fourier, :func:`has_exact_data_prox`) the data
term is instead the primal function with its exact prox (``K = ∇`` only, :class:`_semi_unitary`):
same cost per iteration, and closer to the solution at the default tolerance. There, both the
image and the TV dual variable start from ``START_ITERS`` ADMM iterations on the periodic-TV
problem, which ADMM solves per frequency (:mod:`.tv_start`): the same solution in 2-5 times
fewer iterations (``benchmarks/bench_tv.py``).

The loop is plain, differentiable torch (no in-place updates, no ``no_grad``); the projection
is written so that its gradient stays finite where the dual variable vanishes.
"""

from __future__ import annotations

import math

import torch

from ..errors import InvalidInputError
from ..operators.base import LinearOperator
from .fista import check_iters, check_operator, check_tol, data_scale, lipschitz, resolve_lam
from .stopping import Stopper, relative_change
from .tv_start import START_ITERS, periodic_tv_start

#: Default ``λ = DEFAULT_LAM_FACTOR · max|A* y|`` per image: the same factor as the l1-wavelet
#: baseline, tuned once on noiseless Shepp-Logan 128 (Fourier 33 % cartesian / radial / points,
#: Radon 50 angles); 3e-3 costs 4 to 9 dB there (more bias), see ``benchmarks/bench_cs.py``.
DEFAULT_LAM_FACTOR = 1e-3
#: Default number of iterations: at 400 the PSNRs on those four problems are within 0.3 dB of
#: their values at 600 iterations except the 2-D random points (53.6 vs 55.3 dB, still 30 dB
#: above zero-filling); the objective is within 1 % of its value at 1600 iterations.
DEFAULT_ITERS = 400
#: ``CSBaseline``'s stopping tolerance on the relative change per iteration (``iters`` is the cap).
#: With the steps below, the default stop lands within 1e-2 (relative, about 40 dB) of a
#: 6000-iteration solve on the example networks' data (measured by ``benchmarks/bench_tv.py``).
DEFAULT_TOL = 3e-4
#: ``sqrt(σ / τ)``: the balance of dual and primal steps (``σ = ρ/||K||``, ``τ = 0.99/(ρ||K||)``).
#: Tuned for the distance to the solution after a given number of iterations (``bench_tv.py``,
#: ratios 1/8 to 2 times this one on Radon 50 angles and 8-coil Fourier 15 %, 128 px).
STEP_RATIO = 0.1
#: The same balance for operators with ``A A* = I`` (single-coil subsampled unitary Fourier),
#: where the data term is the primal function with its exact prox (:func:`_semi_unitary`);
#: tuned the same way on Cartesian Fourier 20 % and 33 %.
EXACT_STEP_RATIO = 0.05
#: Over-relaxation of every iterate (Chambolle & Pock 2016; converges for 0 < ρ < 2): at 1.9
#: the same distance to the solution takes about half the iterations of plain steps (ρ = 1).
RELAXATION = 1.9


def has_exact_data_prox(op: LinearOperator) -> bool:
    """Whether ``A A* = I`` holds by construction (the single-coil Fourier operator).

    Then ``(I + τ A*A)^{-1} = I - τ/(1+τ) A*A`` and the data term's prox costs one ``A`` and one ``A*``.
    """
    from ..operators.fourier import FourierOperator

    return type(op) is FourierOperator


def grad2d(x: torch.Tensor) -> torch.Tensor:
    """Forward differences ``[B, H, W] -> [B, 2, H, W]`` (rows, then columns; 0 past the edge)."""
    dh = torch.diff(x, dim=-2, append=x[:, -1:, :])
    dw = torch.diff(x, dim=-1, append=x[:, :, -1:])
    return torch.stack([dh, dw], dim=1)


def grad2d_adjoint(p: torch.Tensor) -> torch.Tensor:
    """The exact adjoint ``∇*`` of :func:`grad2d` (minus the divergence): ``[B, 2, H, W] -> [B, H, W]``."""
    ph, pw = p[:, 0, :-1, :], p[:, 1, :, :-1]
    zero_h = torch.zeros_like(p[:, 0, :1, :])
    zero_w = torch.zeros_like(p[:, 1, :, :1])
    return (torch.cat([zero_h, ph], dim=-2) - torch.cat([ph, zero_h], dim=-2)
            + torch.cat([zero_w, pw], dim=-1) - torch.cat([pw, zero_w], dim=-1))


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Isotropic TV per image, ``[B, H, W] -> [B]`` (complex: over real and imaginary parts)."""
    g = grad2d(x)
    sq = g.real**2 + g.imag**2 if g.is_complex() else g**2
    return sq.sum(1).sqrt().reshape(x.shape[0], -1).sum(1)


def _project(p: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Pixelwise projection of ``p`` ``[B, 2, H, W]`` onto ``{sqrt(|p_h|² + |p_w|²) <= radius}``."""
    sq = (p.real**2 + p.imag**2 if p.is_complex() else p**2).sum(1, keepdim=True)
    tiny = torch.finfo(sq.dtype).tiny
    norm = sq.clamp_min(tiny).sqrt()  # clamp first: sqrt's gradient is infinite at 0
    r = radius.clamp_min(tiny)
    return p * (r / torch.maximum(norm, r))


def _check_dual(p0: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``p0`` as the TV dual variable of the images ``x`` ``[B, H, W]``: ``[B, 2, H, W]``, ``x``'s dtype."""
    if not isinstance(p0, torch.Tensor) or tuple(p0.shape) != (x.shape[0], 2, *x.shape[1:]):
        shape = list(p0.shape) if isinstance(p0, torch.Tensor) else type(p0).__name__
        raise InvalidInputError(f"p0 must be a tensor [B, 2, H, W] = {[x.shape[0], 2, *x.shape[1:]]} (the TV dual "
                                f"variable, e.g. from return_dual=True), got {shape}")
    if p0.is_complex() and not x.is_complex():
        raise InvalidInputError("p0 is complex but the operator's images are real; pass the dual variable of this operator")
    return p0.to(device=x.device, dtype=x.dtype)


def _zero_dual(x: torch.Tensor) -> torch.Tensor:
    """The TV dual variable's start: zeros ``[B, 2, H, W]`` like ``x`` ``[B, H, W]``."""
    return torch.zeros((x.shape[0], 2, *x.shape[1:]), dtype=x.dtype, device=x.device)


class _Step:
    """One over-relaxed Chambolle-Pock iteration in primal-first order.

    ``variables`` are the iterates ``(x, p[, q])`` (all ``[B, ...]``) and ``consts`` the per-image
    tensors the step needs; both are indexed together when an image leaves the batch.
    ``__call__(variables, consts)`` returns the plain step ``(x̃, p̃[, q̃])``; the loop then moves
    every variable by ``RELAXATION`` times its step.
    """

    variables: tuple[torch.Tensor, ...]
    consts: tuple[torch.Tensor, ...]
    #: the TV dual variable's scale in this split against the multiplier of ``λ TV`` (``|p| <= λ``)
    dual_scale: float = 1.0


class _general(_Step):
    """``K = [Â; s ∇]``, both terms dual (see the module docstring): any operator.

    ``p``: an optional start of the TV multiplier (``|p| <= λ``); the data term's dual then starts
    at its fixed-point value ``Â x - ŷ``.
    """

    def __init__(self, op: LinearOperator, x: torch.Tensor, y: torch.Tensor, lam: torch.Tensor,
                 p: torch.Tensor | None = None):
        # Work with A / ||A|| and y / ||A|| (and λ / ||A||², the same minimiser), so that the
        # iterates do not depend on the operator's normalisation and one step ratio fits all.
        self.op, self.norm_a = op, math.sqrt(lipschitz(op))
        self.s = 1.0 / math.sqrt(8.0)  # balances ||A/||A|| || = 1 against ||∇|| <= sqrt(8)
        norm_k = math.sqrt(2.0)
        self.sigma, self.tau = STEP_RATIO / norm_k, 0.99 / (STEP_RATIO * norm_k)
        self.dual_scale = 1.0 / (self.norm_a**2 * self.s)
        radius = (lam * self.dual_scale)[:, None, None, None]
        y_n = y / self.norm_a
        if p is None:
            self.variables = (x, _zero_dual(x), torch.zeros_like(y))
        else:
            self.variables = (x, _project(p * self.dual_scale, radius), op.forward(x) / self.norm_a - y_n)
        self.consts = (y_n, radius)

    def __call__(self, variables, consts):
        (x, p, q), (y_n, radius) = variables, consts
        op, sigma, s = self.op, self.sigma, self.s
        x_new = x - self.tau * (op.adjoint(q) / self.norm_a + s * grad2d_adjoint(p))
        x_bar = 2.0 * x_new - x
        q = (q + sigma * (op.forward(x_bar) / self.norm_a - y_n)) / (1.0 + sigma)
        p = _project(p + (sigma * s) * grad2d(x_bar), radius)
        return x_new, p, q


class _semi_unitary(_Step):
    """``A A* = I``: ``K = ∇``, ``G(x) = ½||Ax - y||²`` with its exact prox
    ``(I + τA*A)^{-1}(v + τA*y) = v - c A*A v + c A*y``, ``c = τ/(1+τ)`` (as ``A*A A* = A*``).
    Faster than the split above on Fourier data, at the same cost per iteration."""

    def __init__(self, op: LinearOperator, x: torch.Tensor, y: torch.Tensor, lam: torch.Tensor,
                 p: torch.Tensor | None = None):
        self.op = op
        norm_k = math.sqrt(8.0)  # ||∇||
        self.sigma, self.tau = EXACT_STEP_RATIO / norm_k, 0.99 / (EXACT_STEP_RATIO * norm_k)
        self.c = self.tau / (1.0 + self.tau)
        radius = lam[:, None, None, None]
        self.variables = (x, _zero_dual(x) if p is None else _project(p, radius))
        self.consts = (self.c * op.adjoint(y), radius)

    def __call__(self, variables, consts):
        (x, p), (c_aty, radius) = variables, consts
        v = x - self.tau * grad2d_adjoint(p)
        x_new = v - self.c * self.op.adjoint(self.op.forward(v)) + c_aty
        p = _project(p + self.sigma * grad2d(2.0 * x_new - x), radius)
        return x_new, p


def tv_chambolle_pock(
    op: LinearOperator,
    y: torch.Tensor,
    lam: float | torch.Tensor | None = None,
    iters: int | None = None,
    x0: torch.Tensor | None = None,
    return_history: bool = False,
    tol: float | None = None,
    start_iters: int | None = None,
    p0: torch.Tensor | None = None,
    return_dual: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """TV reconstruction ``argmin ½||Ax - y||² + λ TV(x)`` by Chambolle-Pock.

    Args:
        op: the measurement operator (2-D images); its device and dtype are used throughout.
        y: measurements ``[B, *op.measurement_shape]``.
        lam: λ in the units of ``A* y`` (a number or a ``[B]`` tensor). Default
            ``DEFAULT_LAM_FACTOR · max|A* y|`` per image (0.001 · max|A*y|).
        iters: number of iterations (default ``DEFAULT_ITERS`` = 400): fixed, or the cap with ``tol``.
        x0: optional start ``[B, *op.image_shape]`` (default: zero; a warm start from a nearby
            problem's solution saves iterations when ``tol`` is set).
        return_history: also return ``{"objective": [iters, B], "relative_change": [iters, B]}``
            (detached) for the primal iterates; runs all ``iters`` (``tol`` is ignored).
        tol: stop an image once its relative change ``||x_k - x_{k-1}|| / ||x_k||`` is below
            ``tol`` (checked every 10 iterations, :mod:`.stopping`); ``None`` (default here):
            always run ``iters``. ``CSBaseline`` uses ``DEFAULT_TOL``.
        start_iters: single-coil Fourier only (:func:`has_exact_data_prox`): ADMM iterations on
            the periodic-TV problem that pick the start of both the image (from ``x0``) and the
            TV dual variable (:mod:`.tv_start`; default ``START_ITERS`` = 20, ``0``: the plain
            start). They do not count in ``iters`` and do not change the solution, only how
            soon it is reached. Other operators ignore it, and so does a given ``p0``.
        p0: optional start of the TV dual variable ``[B, 2, H, W]`` (the multiplier of ``λ TV``,
            pointwise ``|p| <= λ``), e.g. ``return_dual``'s from a nearby problem: with ``x0`` at
            that problem's solution, a perturbed problem is solved in a few iterations.
        return_dual: also return the TV dual variable (same units as ``p0``): ``(x, p)``.

    Returns:
        the image ``[B, *op.image_shape]`` (complex for complex operators), and the history or
        the TV dual variable ``[B, 2, *op.image_shape]`` if asked.
    """
    op = check_operator(op, "tv_chambolle_pock")
    y = op.prepare_measurements(y)
    iters = check_iters(iters, DEFAULT_ITERS)
    tol = None if return_history else check_tol(tol)
    b = y.shape[0]
    lam_t = resolve_lam(lam, DEFAULT_LAM_FACTOR * data_scale(op, y), b)
    if x0 is None:
        x = torch.zeros((b, *op.image_shape), dtype=op.image_dtype, device=y.device)
    else:
        x = op.prepare_image(x0)
        if x.shape[0] != b:
            raise InvalidInputError(f"x0 has batch size {x.shape[0]} but y has {b}; pass one start per measurement")
    start_iters = check_iters(start_iters, START_ITERS, minimum=0, name="start_iters")
    p = None if p0 is None else _check_dual(p0, x)
    if return_dual and return_history:
        raise InvalidInputError("return_dual and return_history cannot be combined; ask for one of them")
    if has_exact_data_prox(op):
        if p is None and start_iters > 0:
            x, p = periodic_tv_start(op, y, lam_t, x, start_iters)
        step: _Step = _semi_unitary(op, x, y, lam_t, p)
    else:
        step = _general(op, x, y, lam_t, p)
    variables, consts = step.variables, step.consts
    objectives, changes = [], []
    stopper = Stopper(b, tol)
    k = 0
    for k in range(1, iters + 1):
        plain = step(variables, consts)
        # over-relaxation: every variable moves RELAXATION times its plain step (1 = plain CP)
        variables = tuple(v + RELAXATION * (w - v) for v, w in zip(variables, plain))
        x_new = variables[0]
        if return_history:
            xd = x_new.detach()
            r = op.forward(xd) - y.detach()
            r2 = (r.real**2 + r.imag**2) if r.is_complex() else r**2
            objectives.append(0.5 * r2.reshape(b, -1).sum(1) + lam_t.detach() * total_variation(xd))
            changes.append((xd - x.detach()).reshape(b, -1).norm(dim=1) / xd.reshape(b, -1).norm(dim=1).clamp_min(1e-30))
        keep = None
        if stopper.due(k):
            extra = variables[1:2] if return_dual else ()  # the dual is collected only when returned
            keep = stopper.update(k, relative_change(x_new, x), x_new, *extra)
        x = x_new
        if keep is not None:
            if stopper.finished:
                break
            variables, consts = tuple(t[keep] for t in variables), tuple(t[keep] for t in consts)
            x = variables[0]
    if return_dual:
        x, p = stopper.assemble(x, k, variables[1])
        # the over-relaxed iterate may leave the λ-ball by rounding: hand back a feasible dual
        return x, _project(p / step.dual_scale, lam_t[:, None, None, None])
    x = stopper.assemble(x, k)
    if return_history:
        return x, {"objective": torch.stack(objectives), "relative_change": torch.stack(changes)}
    return x
