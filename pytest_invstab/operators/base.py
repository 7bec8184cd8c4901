"""The LinearOperator contract shared by every modality.

Shapes: images are ``[B, *image_shape]``, measurements ``[B, *measurement_shape]``;
the batch dimension is always present. ``forward`` and ``adjoint`` are exact adjoints
with respect to the real inner product Re<., .> of the image and measurement spaces.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import InvalidInputError, UnsupportedRateError


def complex_dtype_of(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def real_dtype_of(dtype: torch.dtype) -> torch.dtype:
    return {torch.complex64: torch.float32, torch.complex128: torch.float64}.get(dtype, dtype)


def check_real_dtype(dtype: torch.dtype) -> torch.dtype:
    """An operator's ``dtype`` argument: torch.float32 or torch.float64 (the real dtype), else an error."""
    if dtype not in (torch.float32, torch.float64):
        raise InvalidInputError(f"dtype must be torch.float32 or torch.float64 (the real dtype), got {dtype}")
    return dtype


class LinearOperator:
    """A batched linear measurement operator ``A`` (abstract).

    Subclasses set ``image_shape``, ``measurement_shape``, ``complex_images``,
    ``complex_measurements``, ``rate``, ``device`` and ``dtype`` (the *real* floating
    dtype, float32 or float64) and implement ``_forward``, ``_adjoint`` and ``to``.
    """

    modality: str = "linear"
    image_shape: tuple[int, ...]
    measurement_shape: tuple[int, ...]
    complex_images: bool = False
    complex_measurements: bool = False
    rate: float = 1.0
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32

    # -- the map -------------------------------------------------------------------
    def _forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Measurements ``A x`` of images ``x`` of shape ``[B, *image_shape]``."""
        return self._forward(self.prepare_image(x))

    __call__ = forward

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """The exact adjoint ``A* y`` (the back-projection), shape ``[B, *image_shape]``."""
        return self._adjoint(self.prepare_measurements(y))

    def back_projection(self, y: torch.Tensor) -> torch.Tensor:
        """The adjoint ``A* y`` under the name CT uses (DESIGN lists it); same as ``adjoint``."""
        return self.adjoint(y)

    def direct(self, y: torch.Tensor) -> torch.Tensor:
        """The modality's natural direct reconstruction (zero-filled, FBP, ...)."""
        return self.adjoint(y)

    # -- rates and devices -----------------------------------------------------------
    def at_rate(self, rate: float) -> "LinearOperator":
        """The same modality at another sampling rate; samples are nested across rates."""
        raise UnsupportedRateError(
            f"{type(self).__name__} cannot change its sampling rate; "
            "use an operator with a sampling pattern (Fourier, multi-coil, Radon)"
        )

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "LinearOperator":
        raise NotImplementedError  # pragma: no cover - abstract

    # -- norms --------------------------------------------------------------------
    def norm(self, iters: int = 100, tol: float = 1e-7, seed: int = 0) -> float:
        """Operator norm ||A||_2 by power iteration on A*A (cached per operator)."""
        cached = getattr(self, "_norm_cache", None)
        if cached is not None:
            return cached
        gen = torch.Generator(device="cpu").manual_seed(seed)
        x = torch.randn((1, *self.image_shape), generator=gen, dtype=self.dtype)
        if self.complex_images:
            x = torch.complex(x, torch.randn(x.shape, generator=gen, dtype=self.dtype))
        x = x.to(self.device)
        x = x / x.norm()
        value = 0.0
        with torch.no_grad():
            for _ in range(iters):
                z = self._adjoint(self._forward(x))
                new = float(z.norm())
                x = z / new
                if abs(new - value) <= tol * new:
                    value = new
                    break
                value = new
        self._norm_cache = math.sqrt(value)
        return self._norm_cache

    # -- validation -------------------------------------------------------------------
    @property
    def image_dtype(self) -> torch.dtype:
        return complex_dtype_of(self.dtype) if self.complex_images else self.dtype

    @property
    def measurement_dtype(self) -> torch.dtype:
        return complex_dtype_of(self.dtype) if self.complex_measurements else self.dtype

    def _check_tensor(self, t: torch.Tensor, shape: tuple[int, ...], what: str) -> None:
        if not isinstance(t, torch.Tensor):
            raise InvalidInputError(f"{what} must be a torch.Tensor, got {type(t).__name__}")
        if tuple(t.shape[1:]) != tuple(shape) or t.dim() != len(shape) + 1:
            hint = " (add the batch dimension: t[None])" if tuple(t.shape) == tuple(shape) else ""
            raise InvalidInputError(
                f"{type(self).__name__} expects {what} of shape [B, {', '.join(map(str, shape))}], "
                f"got {list(t.shape)}{hint}"
            )
        if t.device.type != torch.device(self.device).type:
            raise InvalidInputError(
                f"{what} is on {t.device} but the operator is on {self.device}; "
                f"move one of them (operator.to({str(t.device)!r}))"
            )

    def prepare_image(self, x: torch.Tensor) -> torch.Tensor:
        """Validate ``x`` and cast it to the operator's image dtype."""
        self._check_tensor(x, self.image_shape, "images")
        if x.is_complex() and not self.complex_images:
            raise InvalidInputError(
                f"{type(self).__name__} is a real operator but got a complex image; "
                "pass x.real (or x.abs() for magnitude images)"
            )
        if real_dtype_of(x.dtype) != self.dtype and (x.is_floating_point() or x.is_complex()):
            raise InvalidInputError(
                f"images are {x.dtype} but the operator works in {self.dtype}; "
                f"convert one of them (operator.to(dtype={real_dtype_of(x.dtype)}) or x.to({self.dtype}))"
            )
        return x.to(self.image_dtype)

    def prepare_measurements(self, y: torch.Tensor) -> torch.Tensor:
        self._check_tensor(y, self.measurement_shape, "measurements")
        if y.is_complex() and not self.complex_measurements:
            raise InvalidInputError(f"{type(self).__name__} has real measurements but got a complex tensor")
        if real_dtype_of(y.dtype) != self.dtype:
            raise InvalidInputError(
                f"measurements are {y.dtype} but the operator works in {self.dtype}; convert one of them"
            )
        return y.to(self.measurement_dtype)

    # -- description ----------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """A JSON-able description for reports."""
        return {
            "type": type(self).__name__,
            "modality": self.modality,
            "image_shape": list(self.image_shape),
            "measurement_shape": list(self.measurement_shape),
            "rate": float(self.rate),
            "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
        }

    def __repr__(self) -> str:
        d = self.describe()
        return f"{d['type']}(image_shape={tuple(self.image_shape)}, rate={self.rate:.3f}, device={self.device})"


class MatrixOperator(LinearOperator):
    """A dense matrix acting on flattened images: small, exact, for tests and custom models."""

    modality = "matrix"

    def __init__(self, matrix: torch.Tensor, image_shape: tuple[int, ...]):
        if matrix.dim() != 2 or matrix.shape[1] != math.prod(image_shape):
            raise InvalidInputError(
                f"matrix must be [m, {math.prod(image_shape)}] for image_shape {tuple(image_shape)}, got {list(matrix.shape)}"
            )
        self.matrix = matrix
        self.image_shape = tuple(image_shape)
        self.measurement_shape = (matrix.shape[0],)
        self.complex_images = self.complex_measurements = matrix.is_complex()
        self.dtype = real_dtype_of(matrix.dtype)
        self.device = matrix.device
        self.rate = matrix.shape[0] / math.prod(image_shape)

    def _forward(self, x):
        return x.reshape(x.shape[0], -1) @ self.matrix.T

    def _adjoint(self, y):
        return (y @ self.matrix.conj()).reshape(y.shape[0], *self.image_shape)

    def to(self, device=None, dtype=None):
        m = self.matrix
        if dtype is not None:
            m = m.to(complex_dtype_of(dtype) if m.is_complex() else dtype)
        return MatrixOperator(m.to(device or self.device), self.image_shape)
