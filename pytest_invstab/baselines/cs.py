"""``CSBaseline``: the stable compressed-sensing reconstructor that checks compare a network with.

An instability is only the network's if a stable method given the same data does not show
it (Antun et al. 2020). ``CSBaseline()`` is that method: isotropic TV by Chambolle-Pock (default)
or l1-wavelet by monotone FISTA, with data-scaled default weights, a fixed iteration count,
deterministic, batched, on the operator's device, and differentiable through its iterations.
Each image stops when its relative change per iteration falls below ``tol`` (``iters`` is the
cap; :mod:`.stopping`), so an image's result does not depend on the rest of its batch.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import InvalidInputError
from ..operators.base import LinearOperator
from . import fista, tv
from .wavelets import Wavelet2D, wavelet_filters

METHODS = ("l1-wavelet", "tv")


class CSBaseline:
    """A reconstructor ``f(y, op) -> image`` solving a convex CS problem.

    Args:
        method: ``"tv"`` (default; ``min ½||Ax - y||² + λ TV(x)`` by Chambolle-Pock) or
            ``"l1-wavelet"`` (``min ½||Ax - y||² + λ||Wx||_1`` by monotone FISTA, coarse band
            not penalised). TV is the default because it is the stronger and cheaper baseline
            on the piecewise-smooth phantoms used here (Shepp-Logan 128 at 33 % Cartesian columns:
            45.2 dB against 29.4 dB for Haar l1-wavelet, ``benchmarks/bench_cs.py``).
        lam: λ in the units of ``A* y``; default ``0.001 · max|A* y|`` per image for TV, ``0.0001 · max|A* y|`` for l1-wavelet.
        iters: the iteration cap; default 400 for TV, 800 for l1-wavelet.
        tol: stopping tolerance on the relative change per iteration (default 3e-4 for TV, which
            stops within about 1e-2 of the solution, 3e-5 for l1-wavelet: ``tv.DEFAULT_TOL``,
            ``fista.DEFAULT_TOL``); ``None`` runs all ``iters``.
        wavelet: orthogonal PyWavelets name for l1-wavelet (default ``"haar"``, ``fista.DEFAULT_WAVELET``).
        levels: wavelet depth (default: as many as fit, at most 4).

    Returns images ``[B, *op.image_shape]`` of the operator's image dtype: complex for Fourier
    operators (metrics compare magnitudes), real for Radon.
    """

    def __init__(
        self,
        method: str = "tv",
        lam: float | None = None,
        iters: int | None = None,
        wavelet: str = fista.DEFAULT_WAVELET,
        levels: int | None = None,
        tol: float | None | str = "default",
    ) -> None:
        if not isinstance(method, str) or method not in METHODS:
            raise InvalidInputError(f"unknown CS method {method!r}; choose 'l1-wavelet' or 'tv'")
        if lam is not None and (isinstance(lam, bool) or not isinstance(lam, (int, float))):
            raise InvalidInputError(f"lam must be a number >= 0 or None for the data-scaled default, got {lam!r}")
        fista.resolve_lam(lam, torch.zeros(1), 1)  # validate the value early, with the solvers' message
        default_iters = fista.DEFAULT_ITERS if method == "l1-wavelet" else tv.DEFAULT_ITERS
        self.method = method
        self.lam = None if lam is None else float(lam)
        self.iters = fista.check_iters(iters, default_iters)
        default_tol = fista.DEFAULT_TOL if method == "l1-wavelet" else tv.DEFAULT_TOL
        self.tol = default_tol if isinstance(tol, str) and tol == "default" else fista.check_tol(tol)
        self.wavelet = wavelet
        self.levels = levels
        wavelet_filters(wavelet)  # an unknown or non-orthogonal wavelet fails here, not at the first call
        self._wavelets: dict[tuple[Any, ...], Wavelet2D] = {}

    def wavelet_for(self, op: LinearOperator) -> Wavelet2D:
        key = (tuple(op.image_shape), str(op.device), op.dtype)
        w = self._wavelets.get(key)
        if w is None:
            w = Wavelet2D(tuple(op.image_shape), self.wavelet, self.levels, device=op.device, dtype=op.dtype)
            self._wavelets[key] = w
        return w

    def __call__(self, y: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruct ``[B, *op.image_shape]`` from measurements ``y`` ``[B, *op.measurement_shape]``.

        ``x0``: an optional warm start ``[B, *op.image_shape]`` (e.g. the solution at a nearby rate).
        """
        fista.check_operator(op, "CSBaseline")
        if self.method == "l1-wavelet":
            out = fista.fista_l1_wavelet(op, y, lam=self.lam, iters=self.iters, wavelet=self.wavelet_for(op),
                                         x0=x0, tol=self.tol)
        else:
            out = tv.tv_chambolle_pock(op, y, lam=self.lam, iters=self.iters, x0=x0, tol=self.tol)
        assert isinstance(out, torch.Tensor)
        return out

    def describe(self) -> str:
        """A one-line description for reports."""
        factor = fista.DEFAULT_LAM_FACTOR if self.method == "l1-wavelet" else tv.DEFAULT_LAM_FACTOR
        lam = f"λ={self.lam:g}" if self.lam is not None else f"λ={factor:g}·max|A*y|"
        if self.method == "l1-wavelet":
            depth = f", {self.levels} levels" if self.levels is not None else ""
            return f"CS l1-wavelet ({self.wavelet}{depth}; MFISTA, {self._stop()}, {lam})"
        return f"CS TV (Chambolle-Pock, {self._stop()}, {lam})"

    def _stop(self) -> str:
        if self.tol is None:
            return f"{self.iters} iterations"
        return f"tol {self.tol:g}, at most {self.iters} iterations"

    def __repr__(self) -> str:
        return (f"CSBaseline(method={self.method!r}, lam={self.lam!r}, iters={self.iters}, "
                f"wavelet={self.wavelet!r}, levels={self.levels!r}, tol={self.tol!r})")
