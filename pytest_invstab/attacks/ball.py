"""Random perturbations around (or of the size of) a worst case.

``gaussian_ball``: the share of Gaussian perturbations around a worst case ``r`` that still give a
large artifact (the paper's Fig. 2). ``gaussian_like``: the artifact of one Gaussian perturbation
of the same norm as a given one, the reference a worst case should beat.
"""

from __future__ import annotations

import torch

from ..errors import InvalidInputError
from ..operators.base import LinearOperator
from ..reconstructor import Reconstructor, frozen, reconstruct
from ..tensors import batch_norm
from ..validate import positive
from .inputs import check_inputs, count
from .problem import Problem, check_finite, to_radius
from .results import BallResult


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

    x = check_inputs(f, op, x, domain)
    draws = count("draws", draws)
    positive("threshold", threshold, allow_zero=True, unit="an artifact size")
    positive("scale", scale, allow_zero=True)
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    with frozen(f), torch.no_grad():
        prob = Problem(f, op, x, domain)
        if tuple(r.shape) != prob.shape:
            raise InvalidInputError(f"r must have shape {list(prob.shape)} (domain {domain!r}), got {list(r.shape)}")
        r = r.detach().to(prob.device)
        target = scale * batch_norm(r).to(op.dtype)
        e_shape = tuple(prob.y.shape)
        arts = torch.zeros(draws, prob.batch, dtype=op.dtype, device=x.device)
        finite = torch.ones((), dtype=torch.bool, device=x.device)
        for i in range(draws):
            e = torch.randn(e_shape, generator=gen, device=x.device, dtype=op.dtype)
            if prob.y.is_complex():
                e = torch.complex(e, torch.randn(e_shape, generator=gen, device=x.device, dtype=op.dtype))
            if domain == "image":
                v = to_radius(op.adjoint(e), target)
                y = op(x + r + v)  # v = A* e may be complex (Fourier): the operator takes complex images
            else:
                y = prob.y + r + to_radius(e, target)
            out = reconstruct(f, y, op) if i == 0 else f(y, op)
            sq = prob.sq_dist(out)
            finite &= torch.isfinite(sq).all()
            arts[i] = prob.artifact(sq)
        check_finite(finite)
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
    x = check_inputs(f, op, x, domain)
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    with frozen(f), torch.no_grad():
        prob = Problem(f, op, x, domain)
        if tuple(perturbation.shape) != prob.shape:
            raise InvalidInputError(
                f"perturbation must have shape {list(prob.shape)} (domain {domain!r}), got {list(perturbation.shape)}"
            )
        noise = to_radius(prob.random(gen), batch_norm(perturbation.detach()).to(op.dtype))
        out = reconstruct(f, prob.measurements(noise), op)
        return prob.artifact(prob.sq_dist(out))


__all__ = ["gaussian_ball", "gaussian_like"]
