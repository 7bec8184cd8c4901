"""The map under attack, ``p -> f(A(x + p))`` or ``p -> f(y + p)``, and the pieces every search uses.

``Problem`` caches the clean reconstruction ``f(A x)`` and the reference norms; ``to_radius``
projects onto a sphere per image; ``gradient`` differentiates with respect to the perturbation
only; ``check_finite`` turns a device-side finiteness flag into a clear error.
"""

from __future__ import annotations

import torch

from ..errors import InvalidInputError, ReconstructorError
from ..operators.base import LinearOperator
from ..reconstructor import NOT_DIFFERENTIABLE, Reconstructor, reconstruct
from ..tensors import batch_norm, batch_view, sq_norm
from .results import AttackResult


class Problem:
    """``p -> f(A(x + p))`` (image domain) or ``p -> f(y + p)`` (measurements), with ``f(y)`` cached.

    Construction runs ``f`` once on the clean data (validated, no grad). ``output`` validates its
    first call only (shape, finite, differentiable); later calls skip the checks, which would cost
    a host sync per step: searches accumulate a finiteness flag on the device instead.
    """

    def __init__(self, f: Reconstructor, op: LinearOperator, x: torch.Tensor, domain: str,
                 weight: torch.Tensor | None = None):
        self.f, self.op, self.domain, self.x = f, op, domain, x
        # region of interest (``[H, W]``, or one per image ``[B, H, W]``; 0/1 or weights): artifacts
        # are measured inside it only
        self.weight = None if weight is None else weight.to(device=x.device, dtype=op.dtype)
        with torch.no_grad():
            self.y = op(x)
            self.clean = reconstruct(f, self.y, op).detach()
        self.x_norm = batch_norm(x).to(op.dtype)
        self.y_norm = batch_norm(self.y).to(op.dtype)
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
        """``||out - f(y)||^2`` per image (inside the region, when given), ``[B]``."""
        d = out - self.clean
        return sq_norm(d if self.weight is None else d * self.weight)

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

    def result(self, method: str, best: "Best", perturbed: torch.Tensor, sq: torch.Tensor, *, seed: int,
               restart_artifacts: torch.Tensor, settings: dict, trace: "Trace | None" = None) -> AttackResult:
        """The ``AttackResult`` of perturbation ``best.p`` with output ``perturbed`` at squared distance ``sq``."""
        return AttackResult(
            method=method,
            domain=self.domain,
            perturbation=best.p,
            size=batch_norm(best.p) / self.ref_norm,
            artifact=self.artifact(sq),
            clean=self.clean,
            perturbed=perturbed,
            evaluations=self.evaluations,
            seed=int(seed),
            restart_artifacts=restart_artifacts,
            settings=settings,
            trace=None if trace is None else trace.artifacts(self),
            trace_evaluations=None if trace is None else list(trace.evals),
        )


class Best:
    """Each image's worst perturbation so far: squared distance ``sq`` ``[B]`` (-1 before the
    first update), perturbation ``p`` (zeros, or ``start``) and, with ``keep_output``, its output."""

    def __init__(self, prob: Problem, start: torch.Tensor | None = None, keep_output: bool = False):
        self.sq = torch.full((prob.batch,), -1.0, dtype=prob.op.dtype, device=prob.device)
        self.p = start.clone() if start is not None else torch.zeros(prob.shape, dtype=prob.dtype, device=prob.device)
        self.out = prob.clean.clone() if keep_output else None

    def update(self, sq: torch.Tensor, p: torch.Tensor, out: torch.Tensor | None = None) -> None:
        """Keep ``p`` (and ``out``) for the images where ``sq`` beats the best so far."""
        better = sq > self.sq
        self.sq = torch.where(better, sq, self.sq)
        self.p = torch.where(batch_view(better, self.p), p, self.p)
        if self.out is not None and out is not None:
            self.out = torch.where(batch_view(better, self.out), out, self.out)


class Trace:
    """Convergence trace: each image's best squared distance after each step, and the evaluation count.

    ``record`` keeps a device tensor per step (no host sync); ``artifacts`` stacks them into the
    running best artifact ``[steps, B]`` (a running maximum over restarts, so it never falls).
    """

    def __init__(self) -> None:
        self.sq: list[torch.Tensor] = []
        self.evals: list[int] = []

    def record(self, sq: torch.Tensor, evaluations: int) -> None:
        self.sq.append(sq.detach().clone())
        self.evals.append(int(evaluations))

    def artifacts(self, prob: Problem) -> torch.Tensor | None:
        if not self.sq:
            return None
        return prob.artifact(torch.stack(self.sq).cummax(0).values).detach().cpu()


def to_radius(t: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """``t`` rescaled so that each image has norm ``radius`` ``[B]``."""
    return t * batch_view(radius / batch_norm(t).clamp_min(torch.finfo(radius.dtype).tiny), t)


def check_finite(finite: torch.Tensor) -> None:
    """Raise if the search's accumulated finiteness flag (a 0-d bool tensor) is False."""
    if not bool(finite):
        raise ReconstructorError(
            "the reconstructor returned NaN or Inf values on a perturbed input during the search; "
            "check the model's weights and its input normalisation (or lower eps)"
        )


def gradient(loss: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """d loss / d p, with torch's errors about missing graphs turned into a ReconstructorError."""
    try:
        (g,) = torch.autograd.grad(loss, p, allow_unused=True)
    except RuntimeError as exc:  # e.g. "element 0 of tensors does not require grad"
        raise ReconstructorError(NOT_DIFFERENTIABLE) from exc
    if g is None:
        raise ReconstructorError(NOT_DIFFERENTIABLE)
    return g


__all__ = ["Best", "Problem", "Trace", "check_finite", "gradient", "to_radius"]
