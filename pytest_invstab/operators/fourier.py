"""Subsampled centred orthonormal Fourier operator (single-coil MRI).

``A x = P F_c x`` where ``F_c x = fftshift(fft2(ifftshift(x), norm="ortho"))`` is the centred
unitary DFT and ``P`` keeps the ``m`` masked k-space values (row-major order of the mask). So
measurements are a vector in ``C^m`` and ``A A* = I_m`` exactly; ``A* y`` zero-fills and inverts.

Speed: the two shifts are folded away. The k-space ``fftshift`` becomes a precomputed gather
index into the *unshifted* spectrum, and the image ``ifftshift`` becomes a phase factor on the
sampled values only (``F(ifftshift x)[k] = exp(2 pi i k s / N) F(x)[k]`` with ``s = N // 2``),
so forward is ``fft2 -> index_select -> * phase`` and adjoint ``* conj(phase) -> scatter -> ifft2``.
A mask of column lines (Cartesian along columns, fastMRI's masks; or any set of rows times a
set of columns) is transformed one axis at a time instead: along each row (contiguous), keep
the sampled columns, then along the columns on those only (``benchmarks/bench_operators.py``;
the same values to float rounding). Row lines keep the 2-D FFT: their first transform would be
the strided one.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import InvalidInputError
from .base import LinearOperator, check_real_dtype, complex_dtype_of
from .masks import UserMaskPattern, as_mask
from .sampling import PATTERNS, SamplingPattern, check_size

DEFAULT_SIZE = 128


def centred_fft2(x: torch.Tensor) -> torch.Tensor:
    """Reference centred unitary 2-D DFT over the last two dims (slow path, for tests and users)."""
    return torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(x, dim=(-2, -1)), norm="ortho"), dim=(-2, -1))


def centred_ifft2(k: torch.Tensor) -> torch.Tensor:
    """Inverse (= adjoint) of :func:`centred_fft2`."""
    return torch.fft.fftshift(torch.fft.ifft2(torch.fft.ifftshift(k, dim=(-2, -1)), norm="ortho"), dim=(-2, -1))


class MaskedFourierBase(LinearOperator):
    """Shared mask / pattern / device handling of the single- and multi-coil operators."""

    modality = "mri"
    complex_images = True
    complex_measurements = True

    def _setup(
        self,
        size: int | Sequence[int] | None,
        rate: float,
        pattern: str,
        seed: int,
        center_fraction: float,
        device: torch.device | str,
        dtype: torch.dtype,
        mask: Any,
        orientation: str = "columns",
    ) -> None:
        self.dtype = check_real_dtype(dtype)
        self.device = torch.device(device)
        if mask is not None:
            m = as_mask(mask, size)
            # A user's mask keeps its samples first in a nested order, so at_rate works on it.
            self._pattern: SamplingPattern | UserMaskPattern | None = UserMaskPattern(m, seed=seed)
            self.pattern, self.seed, self.center_fraction = "custom", seed, None
            self.orientation = self._pattern.orientation
        else:
            if pattern not in PATTERNS:
                raise InvalidInputError(f"unknown sampling pattern {pattern!r}; choose one of {', '.join(PATTERNS)}")
            shape = check_size(DEFAULT_SIZE if size is None else size)
            self._pattern = SamplingPattern(pattern, shape, seed=seed, center_fraction=center_fraction,
                                            orientation=orientation)
            m = self._pattern.mask(rate)
            self.pattern, self.seed, self.center_fraction = pattern, self._pattern.seed, self._pattern.center_fraction
            self.orientation = orientation if pattern == "cartesian" else None
        self._set_mask(m)

    def _set_mask(self, mask: torch.Tensor) -> None:
        h, w = mask.shape
        self.image_shape = (h, w)
        self.rate = float(mask.sum()) / (h * w)
        # Flat indices in the *unshifted* spectrum: centred index i holds unshifted (i - h//2) mod h.
        iy, ix = torch.nonzero(mask.cpu(), as_tuple=True)
        uy, ux = (iy - h // 2) % h, (ix - w // 2) % w
        self._index_cpu = uy * w + ux
        # Phase of the folded image ifftshift: exp(2 pi i (ky sy / h + kx sx / w)), computed in float64.
        frac = (uy.double() * (h // 2) % h) / h + (ux.double() * (w // 2) % w) / w
        self._phase_cpu = torch.polar(torch.ones_like(frac), 2 * math.pi * frac)
        self.n_samples = int(iy.numel())
        self._lines_cpu = _line_indices(mask)
        self._place(self.device, self.dtype)
        self.mask = mask.to(self.device)

    def _place(self, device: torch.device, dtype: torch.dtype) -> None:
        self._index = self._index_cpu.to(device)
        self._phase = self._phase_cpu.to(device=device, dtype=complex_dtype_of(dtype))
        lines = self._lines_cpu
        self._lines = None if lines is None else tuple(t.to(device) for t in lines)

    # -- the two halves of P F_c, over the last two dims ---------------------------------------
    def _sample(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., H, W]`` images -> ``[..., m]`` sampled centred k-space values."""
        if self._lines is not None:
            rows, cols = self._lines  # along the rows first (contiguous), then only the kept columns
            k = torch.fft.fft(x, dim=-1, norm="ortho").index_select(-1, cols)
            k = torch.fft.fft(k, dim=-2, norm="ortho").index_select(-2, rows)
            k = k.reshape(*k.shape[:-2], -1)
        else:
            k = torch.fft.fft2(x, norm="ortho")
            k = k.reshape(*k.shape[:-2], -1).index_select(-1, self._index)
        return k * self._phase

    def _embed(self, y: torch.Tensor) -> torch.Tensor:
        """Adjoint of :meth:`_sample`: ``[..., m]`` -> ``[..., H, W]``."""
        h, w = self.image_shape
        y = y * self._phase.conj()
        if self._lines is not None:
            rows, cols = self._lines  # the adjoint of each step of _sample, in reverse order
            k = y.reshape(*y.shape[:-1], rows.numel(), cols.numel())
            k = torch.fft.ifft(k.new_zeros((*k.shape[:-2], h, k.shape[-1])).index_copy(-2, rows, k), dim=-2, norm="ortho")
            return torch.fft.ifft(k.new_zeros((*k.shape[:-1], w)).index_copy(-1, cols, k), dim=-1, norm="ortho")
        grid = y.new_zeros((*y.shape[:-1], h * w)).index_copy(-1, self._index, y)
        return torch.fft.ifft2(grid.reshape(*y.shape[:-1], h, w), norm="ortho")

    @classmethod
    def from_mask_func(cls, mask_func: Any, shape: int | Sequence[int], seed: int = 0, **kwargs: Any) -> "MaskedFourierBase":
        """An operator with the mask a fastMRI mask function draws for ``shape`` = ``(H, W)``.

        Calls ``mask_func((1, H, W, 2), seed=seed)`` (fastMRI's k-space shape); fastMRI 0.3 returns
        ``(mask, num_low_frequencies)``, older versions the mask alone: both are accepted. Extra
        ``kwargs`` (``device``, ``dtype``, ``coils`` ...) go to the constructor.
        """
        return cls(size=shape, mask=mask_from_func(mask_func, shape, seed), seed=seed, **kwargs)

    # -- LinearOperator -------------------------------------------------------------------
    def at_rate(self, rate: float) -> "MaskedFourierBase":
        """The same pattern and seed at another rate; its mask contains every sample of a smaller rate's.

        For an operator built from a user's mask, the user's samples come first (nearest DC first)
        and the other samples follow in our seeded order (see :class:`UserMaskPattern`), so
        ``at_rate(op.rate)`` gives back exactly the user's mask. ``rate`` of the result is the
        *actual* fraction kept (exact to one line or point).
        """
        new = copy.copy(self)
        new._norm_cache = None
        new._set_mask(self._pattern.mask(rate))
        return new

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "MaskedFourierBase":
        """A copy on ``device`` with real dtype ``dtype`` (same mask and pattern)."""
        new = copy.copy(self)
        new.device = torch.device(device) if device is not None else self.device
        new.dtype = check_real_dtype(dtype) if dtype is not None else self.dtype
        new._place(new.device, new.dtype)
        new.mask = self.mask.to(new.device)
        return new

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            pattern=self.pattern,
            orientation=self.orientation,
            seed=self.seed,
            center_fraction=self.center_fraction,
            size=list(self.image_shape),
            n_samples=self.n_samples,
        )
        return d


class FourierOperator(MaskedFourierBase):
    """Single-coil MRI: subsampled centred unitary 2-D DFT.

    Parameters
    ----------
    size: image size ``N`` or ``(H, W)`` in pixels (each >= 8); default 128, or the mask's shape.
    rate: fraction of k-space kept, in (0, 1] (exact to one line or one point; see sampling).
    pattern: ``"cartesian"``, ``"points"`` or ``"radial"``.
    seed: seed of the sampling order (same seed, same mask; masks nested across ``at_rate``).
    center_fraction: fully sampled centre (see :class:`SamplingPattern`).
    orientation: Cartesian lines along ``"columns"`` (default: phase encoding along the width,
        as fastMRI and deepinv) or ``"rows"``.
    mask: optional mask in the centred layout (DC at ``(H//2, W//2)``): bool or 0/1, ``[H, W]``,
        ``[W]``, fastMRI's ``[1, 1, W, 1]`` or deepinv's ``[B, C, H, W]`` (see
        :func:`~pytest_invstab.operators.masks.as_mask`; 1-D and fastMRI masks need ``size``).
        It overrides ``rate``/``pattern``; ``at_rate`` keeps the user's samples first and adds or
        drops others in a nested order seeded by ``seed`` (:class:`UserMaskPattern`).

    Shapes: images complex ``[B, H, W]`` (real images are promoted), measurements complex
    ``[B, m]`` with ``m = mask.sum()``. ``A A* = I``, ``||A|| = 1``; ``direct`` = ``adjoint``
    = zero-filled inverse DFT.
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        rate: float = 0.33,
        pattern: str = "cartesian",
        seed: int = 0,
        center_fraction: float = 0.08,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        mask: torch.Tensor | np.ndarray | None = None,
        orientation: str = "columns",
    ):
        self._setup(size, rate, pattern, seed, center_fraction, device, dtype, mask, orientation)

    @property
    def measurement_shape(self) -> tuple[int, ...]:  # type: ignore[override]
        return (self.n_samples,)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._sample(x)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self._embed(y)


def _line_indices(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """For a mask of whole lines that drops columns (the kept rows times the kept columns: column
    lines, fastMRI's masks, or a grid of both), the kept rows and columns as indices into the
    *unshifted* spectrum, in centred order (so that the kept block, read row by row, is the
    mask's row-major order); ``None`` for any other mask."""
    mask = mask.cpu()
    rows, cols = mask.any(1), mask.any(0)
    if bool(cols.all()) or not bool((mask == (rows[:, None] & cols[None, :])).all()):
        return None  # every column kept (a full mask, row lines): the 2-D FFT is as fast
    h, w = mask.shape
    return ((torch.nonzero(rows).flatten() - h // 2) % h, (torch.nonzero(cols).flatten() - w // 2) % w)


def mask_from_func(mask_func: Any, shape: int | Sequence[int], seed: int = 0) -> torch.Tensor:
    """The boolean ``[H, W]`` mask of a fastMRI-style ``mask_func(shape, seed=...)`` for ``(H, W)``."""
    h, w = check_size(shape, "shape")
    if not callable(mask_func):
        raise InvalidInputError(f"mask_func must be callable like fastMRI's RandomMaskFunc, got {type(mask_func).__name__}")
    out = mask_func((1, h, w, 2), seed=seed)
    mask = out[0] if isinstance(out, tuple) else out
    return as_mask(mask, (h, w))
