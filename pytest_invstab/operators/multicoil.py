"""Multi-coil MRI: ``A x = (P F_c (S_c x))_c`` with synthetic smooth coil sensitivities ``S_c``.

The sensitivities are normalised to root-sum-of-squares 1 at every pixel
(``sum_c |S_c|^2 = 1``), so ``A* A = sum_c S_c^* F_c^* P^T P F_c S_c`` has ``A* A = I`` when
fully sampled, and ``A* y = sum_c conj(S_c) F_c^*(P^T y_c)`` is the SENSE-style coil
combination of the zero-filled coil images (used as ``direct``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import InvalidInputError
from .fourier import MaskedFourierBase

MIN_COILS, MAX_COILS = 1, 32


def synthetic_coil_maps(
    shape: tuple[int, int], coils: int, dtype: torch.dtype = torch.complex128
) -> torch.Tensor:
    """Smooth coil sensitivities ``[coils, H, W]`` (complex) with root-sum-of-squares exactly 1.

    Geometry: the image fills ``[-1, 1]^2`` (x along W, y along H); coil ``c`` is a small loop at
    angle ``2 pi c / coils`` on the circle of radius 1.5 around the object. Its magnitude falls
    off like a loop's on-axis Biot-Savart field, ``(d^2 + a^2)^(-3/2)`` with loop radius
    ``a = 0.6`` and ``d`` the distance to the loop; its phase is a smooth ramp along the loop's
    direction plus a gentle per-coil quadratic term. Maps are then divided by their
    root-sum-of-squares, so ``sum_c |S_c|^2 = 1`` at every pixel (to float64 rounding).
    """
    h, w = shape
    y = (torch.arange(h, dtype=torch.float64) - (h - 1) / 2) * (2.0 / h)
    x = (torch.arange(w, dtype=torch.float64) - (w - 1) / 2) * (2.0 / w)
    yy, xx = torch.meshgrid(-y, x, indexing="ij")  # row 0 at the top (y = +1)
    maps = []
    for c in range(coils):  # a handful of coils: the loop is over coils, not pixels
        phi = 2 * math.pi * c / coils
        cx, cy = 1.5 * math.cos(phi), 1.5 * math.sin(phi)
        d2 = (xx - cx) ** 2 + (yy - cy) ** 2
        mag = (d2 + 0.6**2) ** -1.5
        # Smooth phase: a ramp along the coil direction plus a small quadratic bowl.
        phase = 0.8 * (math.cos(phi) * xx + math.sin(phi) * yy) + 0.3 * (c / coils) * (xx**2 + yy**2) + phi
        maps.append(torch.polar(mag, phase))
    s = torch.stack(maps)
    rss = s.abs().pow(2).sum(0).sqrt()
    return (s / rss).to(dtype)


class MultiCoilFourierOperator(MaskedFourierBase):
    """Multi-coil MRI with the same mask for every coil.

    Parameters as :class:`~pytest_invstab.operators.FourierOperator`, plus ``coils`` (1 to 32,
    synthetic maps) or ``coil_maps`` (complex ``[coils, H, W]`` or ``[1, coils, H, W]``, e.g.
    ESPIRiT maps or deepinv's ``physics.coil_maps``; ``coils`` is then inferred from them).
    ``normalize_maps=True`` (default) divides user maps by their root-sum-of-squares, so
    ``sum_c |S_c|^2 = 1`` and ``A* A = I`` at full sampling; ``normalize_maps=False`` keeps them
    as given (needed to equal another library's operator exactly; the adjoint stays exact).

    Shapes: images complex ``[B, H, W]`` (real promoted), measurements complex ``[B, coils, m]``.
    Attributes ``mask`` (bool ``[H, W]``) and ``coil_maps`` (complex ``[coils, H, W]``, RSS 1).
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        rate: float = 0.33,
        pattern: str = "cartesian",
        coils: int | None = None,
        seed: int = 0,
        center_fraction: float = 0.08,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        mask: torch.Tensor | np.ndarray | None = None,
        coil_maps: torch.Tensor | np.ndarray | None = None,
        orientation: str = "columns",
        normalize_maps: bool = True,
    ):
        if coil_maps is not None:
            given = self._count_coils(coil_maps)
            if coils is not None and coils != given:
                raise InvalidInputError(
                    f"coil_maps must be a tensor of shape [{coils}, H, W] for coils={coils}, got {given} coils; "
                    "omit coils (it is inferred from coil_maps)"
                )
            coils = given
        coils = 8 if coils is None else coils
        if isinstance(coils, bool) or not isinstance(coils, int) or not MIN_COILS <= coils <= MAX_COILS:
            raise InvalidInputError(
                f"coils must be an int from {MIN_COILS} to {MAX_COILS}, got {coils!r}; for example coils=8"
            )
        self.coils = coils
        self.normalize_maps = bool(normalize_maps)
        self._setup(size, rate, pattern, seed, center_fraction, device, dtype, mask, orientation)
        if coil_maps is None:
            maps = synthetic_coil_maps(self.image_shape, coils)
        else:
            maps = self._check_maps(coil_maps, normalize_maps)
        self._maps_cpu = maps.to(torch.complex128)
        self._place(self.device, self.dtype)

    @staticmethod
    def _count_coils(maps: Any) -> int:
        if isinstance(maps, np.ndarray):
            maps = torch.from_numpy(maps)
        if not isinstance(maps, torch.Tensor) or maps.dim() not in (3, 4) or (maps.dim() == 4 and maps.shape[0] != 1):
            got = list(maps.shape) if hasattr(maps, "shape") else type(maps).__name__
            raise InvalidInputError(f"coil_maps must be a complex tensor [coils, H, W] (or [1, coils, H, W]), got {got}")
        return int(maps.shape[-3])

    def _check_maps(self, maps: Any, normalize: bool = True) -> torch.Tensor:
        shape = (self.coils, *self.image_shape)
        if isinstance(maps, np.ndarray):
            maps = torch.from_numpy(maps)
        if isinstance(maps, torch.Tensor) and maps.dim() == 4:
            maps = maps[0]
        if not isinstance(maps, torch.Tensor) or tuple(maps.shape) != shape:
            got = list(maps.shape) if hasattr(maps, "shape") else type(maps).__name__
            raise InvalidInputError(f"coil_maps must be a tensor of shape {list(shape)}, got {got}")
        maps = maps.detach().cpu().to(torch.complex128)
        rss = maps.abs().pow(2).sum(0).sqrt()
        if not bool(torch.isfinite(rss).all()):
            raise InvalidInputError("coil_maps must be finite (no NaN or Inf)")
        if not normalize:
            return maps
        if float(rss.min()) <= 0:
            raise InvalidInputError(
                "coil_maps are zero at some pixel (normalising needs RSS > 0 everywhere); "
                "pass normalize_maps=False to use them as they are"
            )
        return maps / rss

    def _place(self, device: torch.device, dtype: torch.dtype) -> None:
        super()._place(device, dtype)
        if hasattr(self, "_maps_cpu"):
            self.coil_maps = self._maps_cpu.to(device=device, dtype=self._phase.dtype)

    @property
    def measurement_shape(self) -> tuple[int, ...]:  # type: ignore[override]
        return (self.coils, self.n_samples)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._sample(x[:, None] * self.coil_maps)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return (self._embed(y) * self.coil_maps.conj()).sum(1)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["coils"] = self.coils
        d["normalize_maps"] = getattr(self, "normalize_maps", True)
        return d
