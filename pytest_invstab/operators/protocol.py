"""Operators by protocol: any object with a forward map, its adjoint and an image shape.

A user's own operator need not subclass :class:`LinearOperator`. It needs:

* ``forward(x)`` (or ``A(x)``): images ``[B, *image_shape]`` -> measurements ``[B, ...]``;
* ``adjoint(y)`` (or ``A_adjoint(y)``): the adjoint, w.r.t. the real inner product ``Re<., .>``;
* ``image_shape`` (a tuple), unless given to :func:`as_operator`.

Optional: ``direct(y)`` (its natural reconstruction; default the adjoint), ``at_rate(rate)``
(returning another such object), ``rate`` and ``complex_images``. :func:`as_operator` wraps the
object as a :class:`LinearOperator`; the measurement shape and dtype come from one forward of a
random image. The first forward/adjoint runs the adjoint test once: a mismatch above
``1e-4`` (float32) / ``1e-8`` (float64) is one error that gives the measured value and the fix,
``adjoint="autograd"``, which computes ``A* y`` as the gradient of ``Re<A x, y>`` in ``x`` (exact
for any linear map written in torch).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import torch

from ..errors import InvalidInputError
from .base import LinearOperator, check_real_dtype, complex_dtype_of, real_dtype_of

TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-8}


@runtime_checkable
class Operator(Protocol):
    """What :func:`as_operator` accepts: ``forward``, ``adjoint`` and ``image_shape`` (module doc)."""

    image_shape: tuple[int, ...]

    def forward(self, x: torch.Tensor) -> torch.Tensor: ...

    def adjoint(self, y: torch.Tensor) -> torch.Tensor: ...


def _method(obj: Any, *names: str) -> Callable | None:
    for name in names:
        f = getattr(obj, name, None)
        if callable(f):
            return f
    return None


def autograd_adjoint(forward: Callable[[torch.Tensor], torch.Tensor], like: torch.Tensor) -> Callable:
    """``y -> A* y`` as the gradient of ``Re<A x, y>`` at ``x = 0`` (exact for linear torch maps)."""

    def adjoint(y: torch.Tensor) -> torch.Tensor:
        x = torch.zeros((y.shape[0], *like.shape[1:]), dtype=like.dtype, device=y.device, requires_grad=True)
        with torch.enable_grad():
            ax = forward(x)
            inner = (ax.conj() * y).real.sum() if ax.is_complex() else (ax * y).sum()
            (g,) = torch.autograd.grad(inner, x, create_graph=y.requires_grad)
        return g

    return adjoint


def adjoint_mismatch(forward: Callable, adjoint: Callable, x: torch.Tensor, y: torch.Tensor) -> float:
    """``|<Ax, y> - <x, A*y>| / (||Ax|| ||y||)`` with the real inner product."""
    ax, aty = forward(x), adjoint(y)
    lhs = (ax.conj() * y).real.sum() if ax.is_complex() else (ax * y).sum()
    rhs = (x.conj() * aty).real.sum() if x.is_complex() else (x * aty.real).sum()
    return float((lhs - rhs).abs() / (ax.norm() * y.norm()).clamp_min(1e-30))


class ProtocolOperator(LinearOperator):
    """A :class:`LinearOperator` around a user's object (see :func:`as_operator`)."""

    modality = "custom"

    def __init__(
        self,
        obj: Any,
        image_shape: Sequence[int] | None = None,
        *,
        adjoint: str | Callable | None = None,
        complex_images: bool | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        rate: float | None = None,
        name: str | None = None,
    ):
        self.obj = obj
        self.name = name or type(obj).__name__
        self._fwd = _method(obj, "forward", "A") or (obj if callable(obj) else None)
        if self._fwd is None:
            raise InvalidInputError(
                f"{type(obj).__name__} is not an operator: it needs forward(x) (or A(x)), adjoint(y) "
                "(or A_adjoint(y)) and image_shape; see pytest_invstab.operators.Operator"
            )
        shape = image_shape if image_shape is not None else getattr(obj, "image_shape", None)
        if shape is None:
            raise InvalidInputError(
                f"{type(obj).__name__} has no image_shape; pass it: as_operator(obj, image_shape=(H, W))"
            )
        self.image_shape = tuple(int(s) for s in shape)
        self.dtype = check_real_dtype(dtype)
        self.device = torch.device(device) if device is not None else _device_of(obj)
        self.complex_images = bool(getattr(obj, "complex_images", False) if complex_images is None else complex_images)
        probe = self._probe_image(1, seed=0)
        with torch.no_grad():
            y = self._fwd(probe)
        if not isinstance(y, torch.Tensor) or y.shape[0] != 1:
            raise InvalidInputError(
                f"{type(obj).__name__}.forward must return a tensor [B, ...] for images [B, *image_shape], "
                f"got {type(y).__name__}{list(y.shape) if isinstance(y, torch.Tensor) else ''}"
            )
        self.measurement_shape = tuple(y.shape[1:])
        self.complex_measurements = y.is_complex()
        self.rate = float(rate if rate is not None else getattr(obj, "rate", y[0].numel() / math.prod(self.image_shape)))
        self._adj_mode = adjoint
        if adjoint == "autograd":
            self._adj = autograd_adjoint(self._fwd, probe)
        elif callable(adjoint):
            self._adj = adjoint
        elif adjoint is None:
            self._adj = _method(obj, "adjoint", "A_adjoint")
            if self._adj is None:
                raise InvalidInputError(
                    f"{type(obj).__name__} has no adjoint(y) / A_adjoint(y); pass adjoint='autograd' to compute "
                    "it by autograd of the forward (exact for a linear torch map)"
                )
        else:
            raise InvalidInputError(f"adjoint must be None, 'autograd' or a callable, got {adjoint!r}")
        self.adjoint_error: float | None = None

    def _probe_image(self, batch: int, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn((batch, *self.image_shape), generator=gen, dtype=self.dtype)
        if self.complex_images:
            x = torch.complex(x, torch.randn(x.shape, generator=gen, dtype=self.dtype))
        return x.to(self.device)

    def verify(self) -> float:
        """Run the adjoint test once (cached); raise one clear error when it fails."""
        if self.adjoint_error is None:
            x = self._probe_image(2, seed=1)
            gen = torch.Generator().manual_seed(2)
            y = torch.randn((2, *self.measurement_shape), generator=gen, dtype=self.dtype)
            if self.complex_measurements:
                y = torch.complex(y, torch.randn(y.shape, generator=gen, dtype=self.dtype))
            with torch.no_grad():
                err = adjoint_mismatch(self._fwd, self._adj, x, y.to(self.device))
            self.adjoint_error = err
            tol = TOLERANCE[self.dtype]
            if not err <= tol:
                self.adjoint_error = None
                raise InvalidInputError(
                    f"{self.name}'s adjoint is not the adjoint of its forward: "
                    f"|<Ax,y> - <x,A*y>| / (||Ax|| ||y||) = {err:.3g} > {tol:g} ({self.dtype}); "
                    "fix the adjoint, or pass adjoint='autograd' (as_operator(obj, adjoint='autograd') or "
                    "from_deepinv(physics, adjoint='autograd')) to compute it exactly by autograd"
                )
        return self.adjoint_error

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        self.verify()
        return self._fwd(x)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        self.verify()
        return self._adj(y)

    def direct(self, y: torch.Tensor) -> torch.Tensor:
        f = _method(self.obj, "direct")
        return f(self.prepare_measurements(y)) if f is not None else self.adjoint(y)

    def at_rate(self, rate: float) -> LinearOperator:
        f = _method(self.obj, "at_rate")
        if f is None:
            return super().at_rate(rate)
        return as_operator(f(rate), adjoint=self._adj_mode if self._adj_mode == "autograd" else None,
                           dtype=self.dtype, complex_images=self.complex_images)

    def to(self, device=None, dtype=None):
        if dtype is not None and dtype != self.dtype:
            raise InvalidInputError(f"{type(self.obj).__name__} is wrapped in {self.dtype}; build it in {dtype} instead")
        if device is not None and torch.device(device) != self.device:
            raise InvalidInputError(f"{type(self.obj).__name__} lives on {self.device}; move the object itself")
        return self

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(wraps=type(self.obj).__name__, adjoint_error=self.adjoint_error)
        return d


def _device_of(obj: Any) -> torch.device:
    dev = getattr(obj, "device", None)
    if isinstance(dev, (str, torch.device)):
        return torch.device(dev)
    for t in vars(obj).values() if hasattr(obj, "__dict__") else ():
        if isinstance(t, torch.Tensor):
            return t.device
    return torch.device("cpu")


def as_operator(obj: Any, image_shape: Sequence[int] | None = None, **kwargs: Any) -> LinearOperator:
    """``obj`` as a :class:`LinearOperator`: ours as they are, deepinv-style physics through
    :func:`pytest_invstab.from_deepinv`, anything with forward/adjoint through :class:`ProtocolOperator`.

    ``kwargs``: ``adjoint`` (None, ``"autograd"`` or a callable), ``complex_images``, ``dtype``,
    ``device``, ``rate``.
    """
    if isinstance(obj, LinearOperator):
        return obj
    if _method(obj, "A") is not None and _method(obj, "A_adjoint") is not None and _method(obj, "adjoint") is None:
        from ..adapters.deepinv import from_deepinv  # deepinv-style physics (A, A_adjoint, A_dagger)

        return from_deepinv(obj, image_shape=image_shape, **kwargs)
    return ProtocolOperator(obj, image_shape, **kwargs)


__all__ = ["Operator", "ProtocolOperator", "as_operator", "autograd_adjoint", "adjoint_mismatch",
           "complex_dtype_of", "real_dtype_of"]
