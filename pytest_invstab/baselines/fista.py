"""l1-wavelet compressed sensing by monotone FISTA (Beck & Teboulle, MFISTA).

Solves, for each batch element,

    min_x  ½ ||A x - y||²  +  λ ||W x||_1   (detail bands only)

with ``W`` the orthonormal periodised DWT of :mod:`.wavelets`. Because ``W`` is orthogonal the
analysis and synthesis problems coincide, and the iteration runs on the coefficients
``c = W x``: a gradient step on ½||A W* c - y||² with step ``1/L``, ``L = ||A||²`` (power
iteration, 1 % margin), then soft-thresholding at ``λ / L``. Complex coefficients (Fourier
images) are shrunk by magnitude, keeping their phase. The coarsest approximation band is
**not** thresholded: it carries the image's mean and large-scale contrast, which are not
sparse, and shrinking them only biases the intensity.

Monotone FISTA is used because plain FISTA's objective is not monotone: MFISTA keeps the
previous point whenever the proposed one does not lower the objective (evaluated in float64,
since near the optimum the decrease per step is below float32 resolution), so the objective
is non-increasing, with the same O(1/k²) rate. An adaptive restart (O'Donoghue & Candès 2015)
drops the momentum of an image whose step turns against it. ``A`` is linear, so ``A W* v`` at
the extrapolated point is a combination of already computed values, and every iteration costs
exactly one ``A``, one ``A*``, one analysis and one synthesis (``benchmarks/bench_cs.py``
measures the rest: about 1.2-1.4x that floor at 256 x 256).

Each image of a batch has its own λ, momentum, restarts and MFISTA decisions, so a batch gives
the same result as its images one by one. The iteration is plain, differentiable torch (no
in-place updates, no ``no_grad``): an attack can differentiate the output with respect to
``y`` through the fixed number of iterations. The memory of that backward pass grows linearly
with ``iters``: about 2 MB per iteration for one complex 128 x 128 image.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import InvalidInputError
from .. import validate
from ..operators.base import LinearOperator
from ..tensors import real_dot, sq_norm
from .stopping import Stopper
from .wavelets import Wavelet2D

#: Default ``λ = DEFAULT_LAM_FACTOR · max|A* y|`` (per image). Chosen by the sweep of
#: ``benchmarks/bench_cs.py`` (haar, db2, db4, db8 x 1e-4, 1e-3, 1e-2; 400 iterations) on noiseless
#: Shepp-Logan 128, Fourier 33 % (cartesian, radial, points) and Radon 50 angles: Haar with 1e-4 is
#: the best of the sweep on all four (29.45, 35.60, 40.90, 34.57 dB). The former 1e-3 was within
#: 0.2 dB on Fourier but 2.5 dB below on Radon (32.09 dB): there the data term needs the weaker prior.
DEFAULT_LAM_FACTOR = 1e-4
#: Default iteration count (the cap; ``tol`` may stop earlier): with the default λ (1e-4) the
#: proposed step ||z_k - x_{k-1}|| / ||z_k|| and the relative change stay below 1e-4 from
#: iteration ~600 (Fourier 33 % cartesian rows) and ~660 (Radon 50 angles) on Shepp-Logan 128;
#: tests/test_baselines.py checks both. (With the former λ = 1e-3, 400 iterations were enough.)
DEFAULT_ITERS = 800
#: Default wavelet: Haar. On the piecewise-constant phantoms of this package Haar is the sparsest
#: orthogonal basis; db4 spreads every edge over more coefficients and loses about 4 dB on
#: Shepp-Logan 128, Fourier 33 % cartesian (25.2 against 29.4 dB; the λ factor and the depth move
#: either by under 0.3 dB). ``benchmarks/bench_cs.py`` prints the sweep (haar, db2, db4, db8 x λ).
DEFAULT_WAVELET = "haar"
#: ``CSBaseline``'s stopping tolerance on the proposed step per iteration (``iters`` is the cap).
#: Accelerated steps are short well before convergence: at 1e-4, three 32 x 32 phantoms (Fourier
#: 50 %) stopped 3.4 % (relative l2) from a 3000-iteration solve where the fixed 400 iterations
#: end 0.5 % away; at 3e-5 they stop after 370-380 iterations, 0.52 % away
#: (tests/test_baseline_speed.py). So the saving is small: FISTA mostly runs to its cap.
DEFAULT_TOL = 3e-5

#: power iteration returns ||A|| from below; a 1 % margin keeps the step sizes safe.
NORM_MARGIN = 1.01


# -- argument handling shared with tv.py ---------------------------------------------------
def check_operator(op: Any, who: str) -> LinearOperator:
    """``op`` must be a 2-D LinearOperator of this package."""
    try:
        validate.check_operator(op)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{who} needs a pytest_invstab LinearOperator: {exc}") from None
    if len(op.image_shape) != 2:
        raise InvalidInputError(
            f"{who} reconstructs 2-D images, but the operator's image shape is {tuple(op.image_shape)}; "
            "use an operator with image_shape (H, W)"
        )
    return op


def check_iters(iters: Any, default: int, minimum: int = 1, name: str = "iters") -> int:
    if iters is None:
        return default
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise InvalidInputError(f"{name} must be {kind} (number of iterations) or None, got {iters!r}")
    return int(iters)


def check_tol(tol: Any) -> float | None:
    """``tol``: None (fixed iteration count) or a finite number > 0."""
    if tol is None:
        return None
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not math.isfinite(tol) or tol <= 0:
        raise InvalidInputError(f"tol must be a number > 0 (relative change per iteration) or None, got {tol!r}")
    return float(tol)


def resolve_lam(lam: Any, default: torch.Tensor, batch: int) -> torch.Tensor:
    """``lam``: None -> ``default`` ([B]); a number or a [B] / scalar tensor -> a [B] tensor."""
    if lam is None:
        return default
    if isinstance(lam, torch.Tensor):
        t = lam.to(device=default.device, dtype=default.dtype)
        if t.dim() == 0:
            t = t.expand(batch)
        if tuple(t.shape) != (batch,):
            raise InvalidInputError(f"lam must be a number or a tensor of shape [B] = [{batch}], got {list(t.shape)}")
        if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
            raise InvalidInputError("lam must be finite and >= 0")
        return t
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam < 0:
        raise InvalidInputError(f"lam must be a finite number >= 0, or None for the default, got {lam!r}")
    return torch.full((batch,), float(lam), dtype=default.dtype, device=default.device)


def lipschitz(op: LinearOperator) -> float:
    """``L = ||A||²`` with a 1 % margin: the Lipschitz constant of the gradient of ½||Ax - y||²."""
    return NORM_MARGIN * float(op.norm()) ** 2


def data_scale(op: LinearOperator, y: torch.Tensor) -> torch.Tensor:
    """``max |A* y|`` per image, shape ``[B]``: the unit of the default regularisation weights.

    It scales as ``λ`` must: linearly with ``y`` and quadratically with a rescaling of ``A``,
    so the default needs no tuning per modality or intensity range.
    """
    return op.adjoint(y).abs().reshape(y.shape[0], -1).amax(1)


def _accumulator_dtype(device: torch.device) -> torch.dtype:
    """float64 for sums that decide MFISTA steps, except where the device has none (Apple MPS)."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64


def shrink(c: torch.Tensor, tau: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-thresholding, the prox of ``tau·|.|``, and the magnitudes of its result.

    Magnitudes shrink by ``tau`` (>= 0, broadcastable to ``c``); complex values keep their
    phase. Written without a division by zero so that gradients stay finite at ``c = 0``.
    """
    mag = c.abs()
    kept = torch.relu(mag - tau)
    if c.is_complex():
        return c * (kept / mag.clamp_min(torch.finfo(mag.dtype).tiny)), kept
    return c - torch.clamp(c, -tau, tau), kept


def soft_threshold(c: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """The prox of ``tau·|.|`` (see :func:`shrink`)."""
    return shrink(c, tau)[0]


def fista_l1_wavelet(
    op: LinearOperator,
    y: torch.Tensor,
    lam: float | torch.Tensor | None = None,
    iters: int | None = None,
    wavelet: str | Wavelet2D = DEFAULT_WAVELET,
    levels: int | None = None,
    x0: torch.Tensor | None = None,
    return_history: bool = False,
    tol: float | None = None,
) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """l1-wavelet reconstruction ``argmin ½||Ax - y||² + λ||W x||_1`` by monotone FISTA.

    Args:
        op: the measurement operator (2-D images); its device and dtype are used throughout.
        y: measurements ``[B, *op.measurement_shape]``.
        lam: λ, in the units of ``A* y`` (a number, or a ``[B]`` tensor, one per image).
            Default ``DEFAULT_LAM_FACTOR · max|A* y|`` per image (0.0001 · max|A*y|).
        iters: number of iterations (default ``DEFAULT_ITERS`` = 800); fixed, so the map
            ``y -> x`` is deterministic and differentiable.
        wavelet: a PyWavelets orthogonal wavelet name or a ready :class:`Wavelet2D` (default
            ``DEFAULT_WAVELET`` = "haar").
        levels: decomposition depth (default: as many as fit, at most 4).
        x0: optional warm start ``[B, *op.image_shape]`` (default: zero).
        return_history: also return a dict of detached float tensors: ``"objective"``
            ``[iters + 1, B]``, the objective of the kept iterate x_k (x_0 first; non-increasing
            by construction, evaluated in float64); ``"relative_change"`` ``[iters, B]``,
            ``||x_k - x_{k-1}|| / ||x_k||``; ``"step"`` ``[iters, B]``, ``||z_k - x_{k-1}|| / ||z_k||``
            for the proposed point z_k (unlike the relative change it is not zero when MFISTA
            keeps x_{k-1}, so it is the honest convergence measure). Runs all ``iters`` (``tol`` ignored).
        tol: stop an image once its proposed step ``||z_k - x_{k-1}|| / ||z_k||`` is below ``tol``
            (checked every 10 iterations, :mod:`.stopping`); ``None`` (default here): always run
            ``iters``, which is then the cap. ``CSBaseline`` uses ``DEFAULT_TOL``.

    Returns:
        the image ``[B, *op.image_shape]`` (complex for complex operators), and the history if asked.
    """
    op = check_operator(op, "fista_l1_wavelet")
    y = op.prepare_measurements(y)
    iters = check_iters(iters, DEFAULT_ITERS)
    tol = None if return_history else check_tol(tol)
    if isinstance(wavelet, Wavelet2D):
        if wavelet.shape != tuple(op.image_shape):
            raise InvalidInputError(
                f"the Wavelet2D has shape {wavelet.shape} but the operator's images are {tuple(op.image_shape)}"
            )
        W = wavelet
    else:
        W = Wavelet2D(tuple(op.image_shape), wavelet, levels, device=op.device, dtype=op.dtype)
    b = y.shape[0]
    L = lipschitz(op)
    lam_t = resolve_lam(lam, DEFAULT_LAM_FACTOR * data_scale(op, y), b)
    mask = W.detail_mask.to(y.device)
    tau = (lam_t / L)[:, None, None] * mask  # [B, H, W]; zero on the coarse band: not shrunk
    weight = lam_t.detach()[:, None, None] * mask  # for the objective only

    y_obj = y.detach()
    acc = _accumulator_dtype(y.device)

    def objective(ac: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
        # Used only to choose the kept iterate, so evaluated on detached values; accumulated in
        # float64 because near the optimum the decrease per step is below float32 resolution.
        data = 0.5 * sq_norm(ac.detach() - y_obj, dtype=acc)
        return data + (weight * mag.detach()).reshape(mag.shape[0], -1).sum(1, dtype=acc)

    meas_view = (-1,) + (1,) * (y.dim() - 1)
    img_view = (-1, 1, 1)
    if x0 is None:
        c = torch.zeros((b, *op.image_shape), dtype=op.image_dtype, device=y.device)
        ac = torch.zeros_like(y)
    else:
        x0 = op.prepare_image(x0)
        if x0.shape[0] != b:
            raise InvalidInputError(f"x0 has batch size {x0.shape[0]} but y has {b}; pass one start per measurement")
        c, ac = W.forward(x0), op.forward(x0)
    f_prev = objective(ac, c.abs())
    v, av = c, ac
    # The momentum parameter is per image, because images restart independently.
    t = torch.ones(b, dtype=acc, device=y.device)
    objectives, changes, steps = [f_prev], [], []
    stopper = Stopper(b, tol)
    k = 0
    for k in range(1, iters + 1):
        z, z_mag = shrink(torch.sub(v, W.forward(op.adjoint(av - y)), alpha=1.0 / L), tau)
        az = op.forward(W.inverse(z))
        f_z = objective(az, z_mag)
        accept = f_z <= f_prev
        d = z - c
        # Adaptive restart (O'Donoghue & Candes 2015, gradient scheme): when the step
        # z - x_{k-1} points against the momentum v - z, drop the momentum (t = 1); this
        # removes the oscillations of over-extrapolated momentum.
        restart = real_dot((v - z).detach(), d.detach()) > 0
        t_next = torch.where(restart, torch.ones_like(t), (1.0 + torch.sqrt(1.0 + 4.0 * t * t)) / 2.0)
        beta = torch.where(restart, torch.zeros_like(t), (t - 1.0) / t_next).to(op.dtype)
        if bool(accept.all()):
            # x_k = z_k: MFISTA's extrapolation is FISTA's, v = z + beta (z - x_{k-1}).
            x_new, ax_new = z, az
            v = torch.addcmul(z, beta.view(img_view), d)
            av = torch.addcmul(az, beta.view(meas_view), az - ac)
        else:
            # Keep x_{k-1} where z_k did not decrease the objective; still move v towards z_k.
            x_new = torch.where(accept.view(img_view), z, c)
            ax_new = torch.where(accept.view(meas_view), az, ac)
            alpha = torch.where(restart, torch.zeros_like(t), t / t_next).to(op.dtype)
            v = x_new + alpha.view(img_view) * (z - x_new) + beta.view(img_view) * (x_new - c)
            av = ax_new + alpha.view(meas_view) * (az - ax_new) + beta.view(meas_view) * (ax_new - ac)
        if return_history:
            dd = d.detach()
            changes.append(torch.where(accept, sq_norm(dd).sqrt(), torch.zeros_like(f_z, dtype=op.dtype))
                           / sq_norm(x_new.detach()).sqrt().clamp_min(1e-30))
            steps.append(sq_norm(dd).sqrt() / sq_norm(z.detach()).sqrt().clamp_min(1e-30))
        f_prev = torch.minimum(f_z, f_prev)
        objectives.append(f_prev)
        keep = stopper.update(k, sq_norm(d.detach()).sqrt() / sq_norm(z.detach()).sqrt().clamp_min(1e-30),
                              x_new) if stopper.due(k) else None
        c, ac, t = x_new, ax_new, t_next
        if keep is not None:
            if stopper.finished:
                break
            c, ac, v, av, t, f_prev = c[keep], ac[keep], v[keep], av[keep], t[keep], f_prev[keep]
            tau, weight, y, y_obj = tau[keep], weight[keep], y[keep], y_obj[keep]
    x = W.inverse(stopper.assemble(c, k))
    if return_history:
        history = {
            "objective": torch.stack(objectives),
            "relative_change": torch.stack(changes) if changes else torch.zeros(0, b),
            "step": torch.stack(steps) if steps else torch.zeros(0, b),
        }
        return x, history
    return x
