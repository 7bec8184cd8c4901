"""Worst-case perturbation searches (Antun et al., PNAS 2020) and the Gaussian ball around a worst case.

Every search is batched over images ``x`` of shape ``[B, *op.image_shape]``, seeded through a
``torch.Generator`` on the operator's device, and differentiates with ``torch.autograd.grad``
with respect to its own perturbation only, with the model frozen (``reconstructor.frozen``):
eval mode and ``requires_grad=False`` during the search, both restored afterwards, and no
``.grad`` on any parameter.

Two domains:

* ``"image"``: a perturbation ``r`` with ``x``'s dtype (real ``x`` -> real ``r``) and the network
  sees ``A(x + r)``; sizes are relative to ``||x||``.
* ``"measurements"``: a perturbation ``e`` with the measurements' dtype (complex for Fourier)
  added to ``y = A x``; sizes are relative to ``||y||``.

Artifacts are always ``||f(y + .) - f(y)|| / ||x||`` (dimensionless), per image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from .budget import Budget, get_budget
from .errors import InvalidInputError, ReconstructorError
from .operators.base import LinearOperator
from .reconstructor import frozen, reconstruct

Reconstructor = Callable[[torch.Tensor, LinearOperator], torch.Tensor]

DOMAINS = ("image", "measurements")

__all__ = [
    "AttackResult",
    "BallResult",
    "DEFAULT_DRAWS",
    "DEFAULT_RESTARTS",
    "DEFAULT_STEPS",
    "DOMAINS",
    "PaperSearchResult",
    "budgeted_search",
    "gaussian_ball",
    "gaussian_like",
    "paper_search",
    "random_search",
]

#: Default budget of ``budgeted_search`` at budget "standard" (scaled by ``budget.steps``/``restarts``):
#: 120 forward+backward passes. A linear reconstructor's worst case (eps ||x|| sigma_max) is reached
#: to >= 99.9 % in both domains, also for a dense Gaussian spectrum (tests/test_attacks.py; one
#: restart alone reaches 97.5 % there), and an attack costs ~3 s for two 64x64 images through the
#: example networks, ~7 s for two 128x128 images through a small U-Net (one CPU core).
DEFAULT_STEPS = 40
DEFAULT_RESTARTS = 3
#: Default number of random directions of ``random_search`` (budget "standard").
DEFAULT_DRAWS = 64


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------
@dataclass
class AttackResult:
    """Worst perturbation found per image.

    ``perturbation``: ``r`` ``[B, *image_shape]`` (domain "image") or ``e`` ``[B, *measurement_shape]``
    (domain "measurements"). ``size``: ``||r||/||x||`` or ``||e||/||y||`` per image ``[B]``.
    ``artifact``: ``||f(y + A r) - f(y)|| / ||x||`` per image ``[B]`` (dimensionless).
    ``clean`` = ``f(A x)`` and ``perturbed`` = ``f(A x + perturbation)``, ``[B, *image_shape]``.
    ``restart_artifacts``: ``[restarts, B]`` best artifact of each restart. ``evaluations``: number of
    batched forward passes of ``f`` (each followed by one backward pass for gradient methods).
    """

    method: str
    domain: str
    perturbation: torch.Tensor
    size: torch.Tensor
    artifact: torch.Tensor
    clean: torch.Tensor
    perturbed: torch.Tensor
    evaluations: int
    seed: int
    restart_artifacts: torch.Tensor | None = None
    settings: dict = field(default_factory=dict)

    @property
    def amplification(self) -> torch.Tensor:
        """``artifact / size`` per image: how much the network magnifies the perturbation."""
        return self.artifact / self.size.clamp_min(torch.finfo(self.size.dtype).tiny)


@dataclass
class PaperSearchResult:
    """The paper's gradient-ascent sequence.

    ``checkpoints``: the iterations at which ``perturbations`` were taken (r_1, r_2, ...), each
    ``[B, *shape]``; ``sizes`` / ``artifacts``: ``[len(checkpoints), B]`` relative norms and
    artifacts (as in ``AttackResult``); ``outputs``: ``f(A(x + r_j))`` per checkpoint;
    ``objective``: ``[iterations, B]`` the value 1/2||f(y + A r_k) - f(y)||^2 - lam/2 ||r_k||^2 at each
    iterate (fewer than ``iters`` rows when every image stopped at ``max_size`` early).
    """

    domain: str
    checkpoints: list[int]
    perturbations: list[torch.Tensor]
    sizes: torch.Tensor
    artifacts: torch.Tensor
    outputs: list[torch.Tensor]
    clean: torch.Tensor
    objective: torch.Tensor
    evaluations: int
    seed: int
    settings: dict = field(default_factory=dict)

    def as_attack(self, index: int = -1) -> AttackResult:
        """Checkpoint ``index`` as an ``AttackResult`` (default: the last, largest)."""
        return AttackResult(
            method="paper",
            domain=self.domain,
            perturbation=self.perturbations[index],
            size=self.sizes[index],
            artifact=self.artifacts[index],
            clean=self.clean,
            perturbed=self.outputs[index],
            evaluations=self.evaluations,
            seed=self.seed,
            settings=dict(self.settings),
        )


@dataclass
class BallResult:
    """Gaussian ball around a worst case (the paper's Fig. 2), per image.

    ``artifacts``: ``[draws, B]`` artifact ``||f(A(x + r + v)) - f(Ax)|| / ||x||`` of each draw;
    ``fraction``: ``[B]`` share of draws above ``threshold``; ``ci_low`` / ``ci_high``: ``[B]``
    95 % Clopper-Pearson interval of that share.
    """

    artifacts: torch.Tensor
    fraction: torch.Tensor
    ci_low: torch.Tensor
    ci_high: torch.Tensor
    threshold: float
    scale: float
    draws: int
    seed: int


# ------------------------------------------------------------------------------------------
# the map under attack
# ------------------------------------------------------------------------------------------
def _bnorm(t: torch.Tensor) -> torch.Tensor:
    """Euclidean norm per batch element, ``[B]`` (complex: sqrt of sum |z|^2)."""
    return torch.linalg.vector_norm(t.reshape(t.shape[0], -1), dim=1)


def _bview(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``[B]`` -> ``[B, 1, ..., 1]`` broadcastable against ``like``."""
    return v.reshape(v.shape[0], *([1] * (like.dim() - 1)))


def _bdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Real inner product Re<a, b> per batch element, ``[B]``."""
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    if a.is_complex():
        a, b = torch.view_as_real(a), torch.view_as_real(b)
    return (a * b).reshape(a.shape[0], -1).sum(1)


_NOT_DIFFERENTIABLE = (
    "the reconstructor's output does not depend differentiably on its input (numpy, .detach(), "
    "or torch.no_grad inside?); the worst-case search needs gradients: write the forward pass in "
    "torch operations, or use method='random' for a gradient-free search"
)


def _check_common(f: object, op: object, x: object, domain: str) -> torch.Tensor:
    if not isinstance(op, LinearOperator):
        raise InvalidInputError(
            f"op must be a pytest_invstab LinearOperator, got {type(op).__name__}; "
            "wrap a dense matrix with MatrixOperator(matrix, image_shape)"
        )
    if not callable(f):
        raise InvalidInputError(f"the reconstructor must be a callable f(y, op), got {type(f).__name__}")
    if domain not in DOMAINS:
        raise InvalidInputError(f"domain must be 'image' or 'measurements', got {domain!r}")
    if not isinstance(x, torch.Tensor) or x.dim() != len(op.image_shape) + 1 or tuple(x.shape[1:]) != tuple(op.image_shape):
        shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidInputError(
            f"x must be a batch of images [B, {', '.join(map(str, op.image_shape))}], got {shape}"
            + ("; add the batch dimension: x[None]" if isinstance(x, torch.Tensor) and tuple(x.shape) == tuple(op.image_shape) else "")
        )
    if not torch.isfinite(x).all():
        raise InvalidInputError("x contains NaN or Inf values")
    return x.detach()


def _check_eps(eps: object, batch: int, device: torch.device, dtype: torch.dtype, name: str = "eps") -> torch.Tensor:
    """``eps`` (a float, or a ``[B]`` tensor of per-image sizes) as a ``[B]`` tensor; each > 0 and finite."""
    if isinstance(eps, torch.Tensor):
        t = eps.detach().to(device=device, dtype=dtype).flatten()
        if t.numel() == 1:
            t = t.expand(batch)
        ok = t.numel() == batch and bool(torch.isfinite(t).all()) and bool((t > 0).all())
    else:
        ok = isinstance(eps, (int, float)) and not isinstance(eps, bool) and math.isfinite(eps) and eps > 0
        t = torch.full((batch,), float(eps) if ok else 0.0, device=device, dtype=dtype)
    if not ok:
        raise InvalidInputError(
            f"{name} must be a finite number > 0 (the perturbation's norm relative to ||x||, or to ||y|| "
            f"in the measurement domain; e.g. 0.01), or a tensor of {batch} such numbers; got {eps!r}"
        )
    return t


def _count(name: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise InvalidInputError(f"{name} must be an integer >= 1 (or None for the budget's default), got {v!r}")
    return v


class _Problem:
    """``p -> f(A(x + p))`` (image domain) or ``p -> f(y + p)`` (measurements), with ``f(y)`` cached.

    Construction runs ``f`` once on the clean data (validated, no grad). ``output`` validates its
    first call only (shape, finite, differentiable); later calls skip the checks, which would cost
    a host sync per step: searches accumulate a finiteness flag on the device instead.
    """

    def __init__(self, f: Reconstructor, op: LinearOperator, x: torch.Tensor, domain: str):
        self.f, self.op, self.domain, self.x = f, op, domain, x
        with torch.no_grad():
            self.y = op(x)
            self.clean = reconstruct(f, self.y, op).detach()
        self.x_norm = _bnorm(x).to(op.dtype)
        self.y_norm = _bnorm(self.y).to(op.dtype)
        base = x if domain == "image" else self.y
        self.ref_norm = self.x_norm if domain == "image" else self.y_norm
        if bool((self.x_norm == 0).any()) or bool((self.ref_norm == 0).any()):
            what = "images" if bool((self.x_norm == 0).any()) else "measurements y = A x"
            raise InvalidInputError(
                f"some {what} are all zero; sizes and artifacts are relative to ||x|| and ||y||, "
                "so pass images whose measurements are not zero"
            )
        self.shape, self.dtype = tuple(base.shape), base.dtype
        self.batch, self.device = x.shape[0], x.device
        self._checked = False
        self.evaluations = 0

    def measurements(self, p: torch.Tensor) -> torch.Tensor:
        # image-domain perturbations are added to x (not y) so that r keeps x's dtype
        return self.op(self.x + p) if self.domain == "image" else self.y + p

    def output(self, p: torch.Tensor) -> torch.Tensor:
        y = self.measurements(p)
        self.evaluations += 1
        if not self._checked:
            self._checked = True
            return reconstruct(self.f, y, self.op, need_grad_wrt=p if p.requires_grad else None)
        return self.f(y, self.op)

    def sq_dist(self, out: torch.Tensor) -> torch.Tensor:
        """``||out - f(y)||^2`` per image, ``[B]``."""
        d = (out - self.clean).reshape(self.batch, -1)
        if d.is_complex():
            d = torch.view_as_real(d)
        return d.square().reshape(self.batch, -1).sum(1)

    def artifact(self, sq: torch.Tensor) -> torch.Tensor:
        """``||f(.) - f(y)|| / ||x||`` from the squared distance, ``[B]``."""
        return sq.clamp_min(0).sqrt() / self.x_norm

    def random(self, gen: torch.Generator, kind: str = "gaussian") -> torch.Tensor:
        """Random tensor of the perturbation's shape and dtype (complex: independent real and imaginary parts)."""
        draw = torch.randn if kind == "gaussian" else torch.rand
        t = draw(self.shape, generator=gen, device=self.device, dtype=self.op.dtype)
        if self.dtype.is_complex:
            t = torch.complex(t, draw(self.shape, generator=gen, device=self.device, dtype=self.op.dtype))
        return t

    @staticmethod
    def to_radius(t: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
        """``t`` rescaled so that each image has norm ``radius`` ``[B]``."""
        return t * _bview(radius / _bnorm(t).clamp_min(torch.finfo(radius.dtype).tiny), t)

    @staticmethod
    def check_finite(finite: torch.Tensor) -> None:
        if not bool(finite):
            raise ReconstructorError(
                "the reconstructor returned NaN or Inf values on a perturbed input during the search; "
                "check the model's weights and its input normalisation (or lower eps)"
            )


def _grad(loss: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """d loss / d p, with torch's errors about missing graphs turned into a ReconstructorError."""
    try:
        (g,) = torch.autograd.grad(loss, p, allow_unused=True)
    except RuntimeError as exc:  # e.g. "element 0 of tensors does not require grad"
        raise ReconstructorError(_NOT_DIFFERENTIABLE) from exc
    if g is None:
        raise ReconstructorError(_NOT_DIFFERENTIABLE)
    return g


# ------------------------------------------------------------------------------------------
# budgeted search (the marker's default)
# ------------------------------------------------------------------------------------------
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
) -> AttackResult:
    """Worst perturbation in the ball ``||r|| <= eps ||x||`` (or ``||e|| <= eps ||y||``), per image.

    Maximises ``||f(A(x + r)) - f(Ax)||`` by normalised-gradient ascent on the ball (see
    ``_ascend``: 3/4 accelerated power steps, then projected steps of decaying length), ``restarts``
    times from random directions, keeping each image's worst iterate. Each step costs one
    forward and one backward pass of ``f`` on the whole batch. Defaults:
    ``budget.steps(DEFAULT_STEPS)`` steps and ``budget.restarts(DEFAULT_RESTARTS)`` restarts.

    x: ``[B, *op.image_shape]``; eps: dimensionless, a float or a ``[B]`` tensor of per-image sizes.
    For a linear reconstructor ``f(y) = B y`` the optimum is ``eps ||x|| sigma_max(BA)`` (image
    domain) or ``eps ||y|| sigma_max(B)``; the default budget reaches 99 % of it.
    """
    x = _check_common(f, op, x, domain)
    eps_t = _check_eps(eps, x.shape[0], x.device, op.dtype)
    b = get_budget(budget)
    steps = b.steps(DEFAULT_STEPS) if steps is None else _count("steps", steps)
    restarts = b.restarts(DEFAULT_RESTARTS) if restarts is None else _count("restarts", restarts)
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    with frozen(f), torch.enable_grad():
        prob = _Problem(f, op, x, domain)
        radius = eps_t * prob.ref_norm
        best_sq = torch.full((prob.batch,), -1.0, dtype=op.dtype, device=x.device)
        best_p = torch.zeros(prob.shape, dtype=prob.dtype, device=x.device)
        finite = torch.ones((), dtype=torch.bool, device=x.device)
        per_restart = []
        n_power = max(1, int(round(_POWER_SHARE * steps)))
        for _ in range(restarts):
            start = prob.to_radius(prob.random(gen), radius)
            sq, p, fin = _ascend(prob, start, radius, n_power, steps - n_power)
            finite &= fin
            per_restart.append(prob.artifact(sq))
            better = sq > best_sq
            best_sq = torch.where(better, sq, best_sq)
            best_p = torch.where(_bview(better, best_p), p, best_p)
        prob.check_finite(finite)
        with torch.no_grad():
            perturbed = reconstruct(f, prob.measurements(best_p), op).detach()
    sq = prob.sq_dist(perturbed)
    return AttackResult(
        method="budgeted",
        domain=domain,
        perturbation=best_p,
        size=_bnorm(best_p) / prob.ref_norm,
        artifact=prob.artifact(sq),
        clean=prob.clean,
        perturbed=perturbed,
        evaluations=prob.evaluations,
        seed=int(seed),
        restart_artifacts=torch.stack(per_restart),
        settings={"eps": _jsonable_eps(eps), "steps": steps, "restarts": restarts, "budget": b.name},
    )


def _jsonable_eps(eps: object) -> object:
    return eps.detach().cpu().flatten().tolist() if isinstance(eps, torch.Tensor) else float(eps)  # type: ignore[arg-type]


#: Share of each restart's steps spent in the accelerated power phase, and its momentum factor.
_POWER_SHARE = 0.75
_MOMENTUM_C = 0.95
#: Step length of the projected phase, in units of the radius, decaying (cosine) to 15 % of it.
_PGA_STEP = 1.0
_PGA_FLOOR = 0.15


def _ascend(prob: _Problem, start: torch.Tensor, radius: torch.Tensor, n_power: int, n_pga: int):
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
    best_sq = torch.full_like(radius, -1.0)
    best_p = start.clone()
    finite = torch.ones((), dtype=torch.bool, device=start.device)
    switch, steps = n_power, n_power + n_pga
    for k in range(steps):
        out = prob.output(p)
        sq = prob.sq_dist(out)
        with torch.no_grad():
            sq_d = sq.detach()
            finite &= torch.isfinite(sq_d).all()
            better = sq_d > best_sq
            best_sq = torch.where(better, sq_d, best_sq)
            best_p = torch.where(_bview(better, best_p), p, best_p)
        if k == steps - 1:
            break  # the last gradient would not be used
        g = _grad(0.5 * sq.sum(), p)
        with torch.no_grad():
            if k < switch:
                lam = _bdot(g, p) / radius.square().clamp_min(tiny)
                beta = (_MOMENTUM_C * lam.clamp_min(0)).square() / 4
                new = g - _bview(beta, g) * prev
                scale = _bview(radius / _bnorm(new).clamp_min(tiny), new)
                prev = p.detach() * scale
                p.copy_(new * scale)
            else:
                t = (k - switch) / max(1, steps - 2 - switch)
                a = _PGA_STEP * (_PGA_FLOOR + (1 - _PGA_FLOOR) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))
                q = p + g * _bview(a * radius / _bnorm(g).clamp_min(tiny), g)
                p.copy_(q * _bview((radius / _bnorm(q).clamp_min(tiny)).clamp(max=1.0), q))
    return best_sq, best_p, finite


# ------------------------------------------------------------------------------------------
# gradient-free search
# ------------------------------------------------------------------------------------------
def random_search(
    f: Reconstructor,
    op: LinearOperator,
    x: torch.Tensor,
    *,
    eps: "float | torch.Tensor",
    domain: str = "image",
    draws: int | None = None,
    seed: int = 0,
    budget: "str | Budget | None" = "standard",
) -> AttackResult:
    """Best of ``draws`` random directions on the sphere ``||r|| = eps ||x||`` (or ``eps ||y||``).

    Gradient-free, for reconstructors that cannot be differentiated (numpy inside): only forward
    passes, without autograd. A weak search: it finds the typical, not the worst, perturbation,
    so its artifact is a lower bound of the worst case. Default ``budget.draws(DEFAULT_DRAWS)``.
    """
    x = _check_common(f, op, x, domain)
    eps_t = _check_eps(eps, x.shape[0], x.device, op.dtype)
    b = get_budget(budget)
    draws = b.draws(DEFAULT_DRAWS) if draws is None else _count("draws", draws)
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    with frozen(f), torch.no_grad():
        prob = _Problem(f, op, x, domain)
        radius = eps_t * prob.ref_norm
        best_sq = torch.full((prob.batch,), -1.0, dtype=op.dtype, device=x.device)
        best_p = torch.zeros(prob.shape, dtype=prob.dtype, device=x.device)
        best_out = prob.clean.clone()
        finite = torch.ones((), dtype=torch.bool, device=x.device)
        for _ in range(draws):
            p = prob.to_radius(prob.random(gen), radius)
            out = prob.output(p)
            sq = prob.sq_dist(out)
            finite &= torch.isfinite(sq).all()
            better = sq > best_sq
            best_sq = torch.where(better, sq, best_sq)
            best_p = torch.where(_bview(better, best_p), p, best_p)
            best_out = torch.where(_bview(better, best_out), out, best_out)
        prob.check_finite(finite)
    return AttackResult(
        method="random",
        domain=domain,
        perturbation=best_p,
        size=_bnorm(best_p) / prob.ref_norm,
        artifact=prob.artifact(best_sq),
        clean=prob.clean,
        perturbed=best_out,
        evaluations=prob.evaluations,
        seed=int(seed),
        restart_artifacts=prob.artifact(best_sq)[None],
        settings={"eps": _jsonable_eps(eps), "draws": draws, "budget": b.name},
    )


# ------------------------------------------------------------------------------------------
# the paper's algorithm
# ------------------------------------------------------------------------------------------
def paper_search(
    f: Reconstructor,
    op: LinearOperator,
    x: torch.Tensor,
    *,
    lam: float,
    step: "float | str",
    momentum: float = 0.9,
    tau: float,
    iters: int,
    checkpoints: Sequence[float],
    seed: int = 0,
    domain: str = "image",
    max_size: float | None = None,
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
    """
    x = _check_common(f, op, x, domain)
    for name, v in (("lam", lam), ("momentum", momentum), ("tau", tau)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise InvalidInputError(f"{name} must be a finite number >= 0, got {v!r}")
    if not momentum < 1:
        raise InvalidInputError(f"momentum must be < 1 (the paper uses 0.9), got {momentum!r}")
    if tau <= 0:
        raise InvalidInputError(f"tau (the size of the uniform start r_0) must be > 0, got {tau!r}")
    if step != "auto" and (isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step) or step <= 0):
        raise InvalidInputError(f"step must be a number > 0 or 'auto', got {step!r}")
    iters = _count("iters", iters)
    cps = [float(c) for c in checkpoints]
    if not cps or any(b <= a for a, b in zip(cps, cps[1:])):
        raise InvalidInputError(f"checkpoints must be a non-empty increasing sequence, got {list(checkpoints)!r}")
    if max_size is None:
        if any(c != int(c) or not 1 <= c <= iters for c in cps):
            raise InvalidInputError(f"checkpoints must be iteration numbers in 1..{iters}, got {list(checkpoints)!r}")
    else:
        if isinstance(max_size, bool) or not isinstance(max_size, (int, float)) or not math.isfinite(max_size) or max_size <= 0:
            raise InvalidInputError(f"max_size must be a number > 0 (relative to ||x||), got {max_size!r}")
        if any(not 0 < c <= 1 for c in cps):
            raise InvalidInputError(
                f"with max_size, checkpoints are fractions of max_size in (0, 1], got {list(checkpoints)!r}"
            )
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    with frozen(f), torch.enable_grad():
        prob = _Problem(f, op, x, domain)
        r = (tau * prob.random(gen, "uniform")).requires_grad_(True)
        v = torch.zeros_like(r)
        B = prob.batch
        objective = torch.zeros(iters, B, dtype=op.dtype, device=x.device)
        finite = torch.ones((), dtype=torch.bool, device=x.device)
        saved: list[torch.Tensor | None] = [None] * len(cps)
        if max_size is not None:
            limits = [c * max_size * prob.ref_norm for c in cps]
            size0 = _bnorm(r.detach())
            saved = [torch.where(_bview(size0 <= lim, r), r.detach(), 0) for lim in limits]
            active = size0 <= limits[-1]
        step_t = None if step == "auto" else torch.full((B,), float(step), dtype=op.dtype, device=x.device)
        for k in range(iters):
            out = prob.output(r)
            sq = prob.sq_dist(out)
            rr = _bnorm(r.detach()).square()
            with torch.no_grad():
                objective[k] = 0.5 * sq.detach() - 0.5 * lam * rr
                finite &= torch.isfinite(sq.detach()).all()
            g = _grad(0.5 * sq.sum(), r)
            with torch.no_grad():
                if step_t is None:  # "auto": the inverse local squared gain at r_0
                    # ||g|| / ||r|| >= the Rayleigh quotient <g, r>/||r||^2 and is positive: a cautious step
                    gain = _bnorm(g) / rr.sqrt().clamp_min(torch.finfo(rr.dtype).tiny)
                    step_t = (1.0 - momentum) / gain.clamp_min(torch.finfo(rr.dtype).tiny)
                grad_q = g - lam * r
                v.mul_(momentum).add_(grad_q * _bview(step_t, grad_q))
                if max_size is None:
                    r.add_(v)
                    for j, c in enumerate(cps):
                        if k + 1 == int(c):
                            saved[j] = r.detach().clone()
                else:
                    cand = r + v
                    size = _bnorm(cand)
                    active &= size <= limits[-1]
                    for j in range(len(cps)):
                        keep = active & (size <= limits[j])
                        saved[j] = torch.where(_bview(keep, cand), cand, saved[j])
                    r.copy_(torch.where(_bview(active, cand), cand, r))
            # every image stopped at the ball: the rest would be wasted (one host sync per 4 steps)
            if max_size is not None and k % 4 == 3 and not bool(active.any()):
                objective = objective[: k + 1]
                break
        prob.check_finite(finite)
        perts = [s for s in saved if s is not None]
        outputs, sizes, arts = [], [], []
        with torch.no_grad():
            for pj in perts:
                oj = reconstruct(f, prob.measurements(pj), op).detach()
                outputs.append(oj)
                sizes.append(_bnorm(pj) / prob.ref_norm)
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
        settings={"lam": float(lam), "step": step if step == "auto" else float(step), "momentum": float(momentum),
                  "tau": float(tau), "iters": iters, "max_size": max_size},
    )


# ------------------------------------------------------------------------------------------
# Gaussian ball around a worst case (Fig. 2)
# ------------------------------------------------------------------------------------------
def gaussian_ball(
    f: Reconstructor,
    op: LinearOperator,
    x: torch.Tensor,
    r: torch.Tensor,
    *,
    threshold: float,
    draws: int,
    seed: int = 0,
    scale: float = 0.25,
    domain: str = "image",
) -> BallResult:
    """Is the worst case ``r`` the centre of a ball of bad perturbations? (the paper's Fig. 2)

    Each draw: ``e`` Gaussian in measurement space, ``v = A* e`` rescaled to
    ``||v|| = scale ||r||`` per image, reconstruction from ``A(x + r + v)``. Domain
    "measurements" (``r`` is then ``e_0``): the Gaussian ``e`` is rescaled to ``scale ||e_0||`` and
    the reconstruction is from ``A x + e_0 + e``. Artifact as everywhere:
    ``||f(.) - f(Ax)|| / ||x||``. Returns the share of draws with artifact > ``threshold`` and its
    95 % Clopper-Pearson interval, per image.
    """
    from scipy.stats import beta as beta_dist

    x = _check_common(f, op, x, domain)
    draws = _count("draws", draws)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold) or threshold < 0:
        raise InvalidInputError(f"threshold must be a finite number >= 0 (an artifact size), got {threshold!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale < 0:
        raise InvalidInputError(f"scale must be a finite number >= 0, got {scale!r}")
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    with frozen(f), torch.no_grad():
        prob = _Problem(f, op, x, domain)
        if tuple(r.shape) != prob.shape:
            raise InvalidInputError(f"r must have shape {list(prob.shape)} (domain {domain!r}), got {list(r.shape)}")
        r = r.detach().to(prob.device)
        target = scale * _bnorm(r).to(op.dtype)
        e_shape = tuple(prob.y.shape)
        arts = torch.zeros(draws, prob.batch, dtype=op.dtype, device=x.device)
        finite = torch.ones((), dtype=torch.bool, device=x.device)
        for i in range(draws):
            e = torch.randn(e_shape, generator=gen, device=x.device, dtype=op.dtype)
            if prob.y.is_complex():
                e = torch.complex(e, torch.randn(e_shape, generator=gen, device=x.device, dtype=op.dtype))
            if domain == "image":
                v = _Problem.to_radius(op.adjoint(e), target)
                y = op(x + r + v)  # v = A* e may be complex (Fourier): the operator takes complex images
            else:
                y = prob.y + r + _Problem.to_radius(e, target)
            out = reconstruct(f, y, op) if i == 0 else f(y, op)
            sq = prob.sq_dist(out)
            finite &= torch.isfinite(sq).all()
            arts[i] = prob.artifact(sq)
        prob.check_finite(finite)
    hits = (arts > threshold).sum(0).cpu()
    n = draws
    lo = [0.0 if k == 0 else float(beta_dist.ppf(0.025, k, n - k + 1)) for k in hits.tolist()]
    hi = [1.0 if k == n else float(beta_dist.ppf(0.975, k + 1, n - k)) for k in hits.tolist()]
    return BallResult(
        artifacts=arts,
        fraction=hits.to(torch.float64) / n,
        ci_low=torch.tensor(lo, dtype=torch.float64),
        ci_high=torch.tensor(hi, dtype=torch.float64),
        threshold=float(threshold),
        scale=float(scale),
        draws=draws,
        seed=int(seed),
    )


def gaussian_like(
    f: Reconstructor,
    op: LinearOperator,
    x: torch.Tensor,
    perturbation: torch.Tensor,
    *,
    domain: str = "image",
    seed: int = 0,
) -> torch.Tensor:
    """Artifact ``[B]`` of a Gaussian perturbation with the same norm as ``perturbation`` (per image).

    The reference a worst case should beat: how much a random perturbation of equal size
    changes the reconstruction. Image domain: white Gaussian noise with ``x``'s dtype; measurements:
    Gaussian (complex for complex measurements) noise added to ``y``.
    """
    x = _check_common(f, op, x, domain)
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    with frozen(f), torch.no_grad():
        prob = _Problem(f, op, x, domain)
        if tuple(perturbation.shape) != prob.shape:
            raise InvalidInputError(
                f"perturbation must have shape {list(prob.shape)} (domain {domain!r}), got {list(perturbation.shape)}"
            )
        noise = _Problem.to_radius(prob.random(gen), _bnorm(perturbation.detach()).to(op.dtype))
        out = reconstruct(f, prob.measurements(noise), op)
        return prob.artifact(prob.sq_dist(out))
