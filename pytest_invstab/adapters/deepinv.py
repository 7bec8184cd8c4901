"""deepinv physics as our operators, by duck typing (deepinv itself need not be importable).

* ``MRI`` (a ``mask``, no ``coil_maps``) becomes :class:`DeepinvMRIOperator`, our exact
  :class:`FourierOperator` with the physics' mask. Conventions match exactly: deepinv's images
  ``[B, 2, H, W]`` (real, imag) are our complex ``[B, H, W]``; its ``A(x) = mask * F_c(x)`` with the
  centred orthonormal FFT is our measurements zero-filled on the grid (``pytest_invstab.layouts``).
* ``MultiCoilMRI`` (``mask`` and ``coil_maps``) becomes :class:`DeepinvMultiCoilOperator` with the
  physics' own coil maps *as they are* (``normalize_maps=False``; deepinv does not normalise them).
* ``Tomography`` (``theta`` in degrees, ``img_width``) and any other linear physics with ``A`` and
  ``A_adjoint`` become :class:`DeepinvPhysicsOperator`: images ``[B, 1, H, W]`` are our real
  ``[B, H, W]`` (``[B, 2, H, W]``: complex), measurements stay in the physics' layout, the adjoint
  test runs once (``adjoint="autograd"`` when the physics' adjoint is inexact).

Every such operator has ``direct`` (zero-filled; FBP for Tomography), ``at_rate`` (MRI: the
physics' samples first, then nested, see :class:`UserMaskPattern`; Tomography: the physics'
angles first, then a bit-reversal order of the uniform grid of ``ceil(pi/2 * img_width)``
angles, rebuilt through the physics' constructor), and for models taking ``(y, physics)``:
``native_physics()`` (the user's physics, or a copy with this operator's mask or angles),
``to_native(y)`` and ``image_from_native(x)``.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import InvalidInputError
from ..layouts import from_complex, measurements_to_kspace, to_complex
from ..operators.fourier import FourierOperator
from ..operators.masks import as_mask
from ..operators.multicoil import MultiCoilFourierOperator
from ..operators.protocol import ProtocolOperator
from ..operators.sampling import _bit_reversal_order, check_rate, full_angle_count
from .models import PhysicsModel


def _image_from_native(x: torch.Tensor) -> torch.Tensor:
    """deepinv image ``[B, 2, H, W]`` -> complex ``[B, H, W]``; ``[B, 1, H, W]`` -> real ``[B, H, W]``."""
    if x.dim() == 4 and x.shape[1] == 2:
        return to_complex(x, "deepinv")
    if x.dim() == 4 and x.shape[1] == 1:
        return x[:, 0]
    raise InvalidInputError(f"expected a deepinv image [B, 1 or 2, H, W], got {list(x.shape)}")


def _image_to_native(x: torch.Tensor, complex_images: bool) -> torch.Tensor:
    return from_complex(x, "deepinv") if complex_images else x[:, None]


def _with_mask(physics: Any, mask: torch.Tensor) -> Any:
    """A copy of an MRI physics whose mask is ``mask`` (bool ``[H, W]``) in the physics' own layout."""
    new = copy.deepcopy(physics)
    old = physics.mask
    m = mask.to(device=old.device, dtype=old.dtype)
    m = m.expand(old.shape).clone() if old.dim() >= 2 else m
    update = getattr(new, "update_parameters", None) or getattr(new, "update", None)
    if callable(update):
        update(mask=m)
    else:
        new.mask = m
    return new


class _MRINative:
    """The deepinv side of an MRI operator (mixin for the single- and multi-coil classes)."""

    physics: Any
    _native: Any

    def native_physics(self) -> Any:
        if self._native is None:
            self._native = _with_mask(self.physics, self.mask)
        return self._native

    def to_native(self, y: torch.Tensor) -> torch.Tensor:
        return measurements_to_kspace(y, self, "deepinv")

    def image_from_native(self, x: torch.Tensor) -> torch.Tensor:
        return _image_from_native(x)

    def at_rate(self, rate: float):
        new = super().at_rate(rate)  # type: ignore[misc]
        new._native = self.physics if torch.equal(new.mask, self._mask0) else None
        return new


class DeepinvMRIOperator(_MRINative, FourierOperator):
    """deepinv ``MRI`` as our exact single-coil :class:`FourierOperator` (module docstring)."""

    def __init__(self, physics: Any, dtype: torch.dtype = torch.float32, seed: int = 0):
        mask = as_mask(physics.mask)
        FourierOperator.__init__(self, mask=mask, dtype=dtype, device=physics.mask.device, seed=seed)
        self.physics, self._native, self._mask0 = physics, physics, self.mask.clone()


class DeepinvMultiCoilOperator(_MRINative, MultiCoilFourierOperator):
    """deepinv ``MultiCoilMRI`` as our :class:`MultiCoilFourierOperator` with its coil maps unchanged."""

    def __init__(self, physics: Any, dtype: torch.dtype = torch.float32, seed: int = 0):
        mask = as_mask(physics.mask)
        maps = physics.coil_maps
        maps = maps[None] if maps.dim() == 2 else maps
        MultiCoilFourierOperator.__init__(self, mask=mask, coil_maps=maps, normalize_maps=False, dtype=dtype,
                                          device=physics.mask.device, seed=seed)
        self.physics, self._native, self._mask0 = physics, physics, self.mask.clone()


class _PhysicsMap:
    """forward/adjoint of a deepinv physics in our layout (what ProtocolOperator wraps)."""

    def __init__(self, physics: Any, image_shape: tuple[int, int], complex_images: bool):
        self.physics, self.image_shape, self.complex_images = physics, image_shape, complex_images

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.physics.A(_image_to_native(x, self.complex_images))

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        out = self.physics.A_adjoint(y)
        return to_complex(out, "deepinv") if self.complex_images else out[:, 0]

    def direct(self, y: torch.Tensor) -> torch.Tensor:
        p = self.physics
        dagger = getattr(p, "A_dagger", None)
        if callable(getattr(p, "fbp", None)):
            out = p.fbp(y)
        elif callable(dagger) and "fbp" in inspect.signature(dagger).parameters:
            out = dagger(y, fbp=True)
        elif callable(dagger):
            out = dagger(y)
        else:
            return self.adjoint(y)
        return to_complex(out, "deepinv") if self.complex_images else out[:, 0]


class DeepinvPhysicsOperator(ProtocolOperator):
    """A deepinv linear physics (Tomography or any with ``A``/``A_adjoint``) as a LinearOperator."""

    def __init__(self, physics: Any, image_shape: Sequence[int], *, complex_images: bool = False,
                 adjoint: Any = None, dtype: torch.dtype = torch.float32):
        self.physics = physics
        shim = _PhysicsMap(physics, tuple(image_shape), complex_images)
        device = getattr(getattr(physics, "theta", None), "device", None)
        rate = _tomography_rate(physics)
        super().__init__(shim, tuple(image_shape), adjoint=adjoint, complex_images=complex_images, dtype=dtype,
                         device=device, rate=rate, name=type(physics).__name__)
        self.modality = "ct" if hasattr(physics, "theta") else "custom"

    def native_physics(self) -> Any:
        return self.physics

    def to_native(self, y: torch.Tensor) -> torch.Tensor:
        return y

    def image_from_native(self, x: torch.Tensor) -> torch.Tensor:
        return _image_from_native(x)

    def at_rate(self, rate: float) -> "DeepinvPhysicsOperator":
        if not hasattr(self.physics, "theta") or not hasattr(self.physics, "img_width"):
            return super().at_rate(rate)
        new = _rebuild_tomography(self.physics, rate)
        return DeepinvPhysicsOperator(new, self.image_shape, complex_images=self.complex_images,
                                      adjoint=self._adj_mode, dtype=self.dtype)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["wraps"] = type(self.physics).__name__
        if hasattr(self.physics, "theta"):
            d["angles"] = int(torch.as_tensor(self.physics.theta).numel())
        return d


def _tomography_rate(physics: Any) -> float | None:
    if not hasattr(physics, "theta") or not hasattr(physics, "img_width"):
        return None
    return int(torch.as_tensor(physics.theta).numel()) / full_angle_count(int(physics.img_width))


def nested_degrees(user: torch.Tensor, n: int, n_full: int) -> torch.Tensor:
    """``n`` angles (degrees) nested around the user's: the user's first (bit-reversal order among
    themselves when fewer are kept), then the grid ``k * 180 / n_full`` in bit-reversal order,
    skipping grid angles within half a grid step of an angle already taken."""
    user = user.detach().double().cpu().reshape(-1)
    mine = user[torch.from_numpy(_bit_reversal_order(user.numel()).copy())]
    if n <= mine.numel():
        return mine[:n].sort().values
    step = 180.0 / n_full
    grid = torch.from_numpy(_bit_reversal_order(n_full).astype(np.float64) * step)
    taken = list(mine.tolist())
    for a in grid.tolist():
        if len(taken) >= n:
            break
        gap = min(min(abs(a - t) % 180.0, 180.0 - abs(a - t) % 180.0) for t in taken)
        if gap >= step / 2:
            taken.append(a)
    return torch.tensor(taken, dtype=torch.float64).sort().values


def _rebuild_tomography(physics: Any, rate: float) -> Any:
    width = int(physics.img_width)
    n_full = full_angle_count(width)
    n = max(1, int(round(check_rate(rate) * n_full)))
    theta = torch.as_tensor(physics.theta)
    angles = nested_degrees(theta, n, n_full).to(dtype=theta.dtype, device=theta.device)
    known = {
        "angles": angles, "img_width": width,
        "circle": getattr(physics, "circle", getattr(getattr(physics, "radon", None), "circle", None)),
        "normalize": getattr(physics, "normalize", None),
        "adjoint_via_backprop": getattr(physics, "adjoint_via_backprop", None),
        "fan_beam": getattr(physics, "fan_beam", None),
        "device": theta.device, "dtype": getattr(physics, "dtype", None),
    }
    accepted = inspect.signature(type(physics)).parameters
    kwargs = {k: v for k, v in known.items() if k in accepted and v is not None}
    try:
        return type(physics)(**kwargs)
    except Exception as exc:  # the user's class: name what we tried
        raise InvalidInputError(
            f"could not rebuild {type(physics).__name__} with {len(angles)} angles for rate {rate:g} "
            f"({type(exc).__name__}: {exc}); pass an operator per rate instead"
        ) from exc


def _image_shape(physics: Any, image_shape: Sequence[int] | None) -> tuple[tuple[int, int], bool]:
    if image_shape is None:
        if hasattr(physics, "img_width"):
            image_shape = (1, int(physics.img_width), int(physics.img_width))
        elif getattr(physics, "img_size", None) is not None:
            image_shape = tuple(physics.img_size)
        else:
            raise InvalidInputError(
                f"cannot tell the image size of {type(physics).__name__}; pass from_deepinv(physics, "
                "image_shape=(C, H, W)) with C = 1 (real) or 2 (complex)"
            )
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        return shape, False  # type: ignore[return-value]
    if len(shape) != 3 or shape[0] not in (1, 2):
        raise InvalidInputError(f"image_shape must be (H, W) or (C, H, W) with C = 1 or 2, got {shape}")
    return (shape[1], shape[2]), shape[0] == 2


def from_deepinv(physics: Any = None, *, model: Any = None, image_shape: Sequence[int] | None = None,
                 adjoint: Any = None, dtype: torch.dtype = torch.float32, seed: int = 0, **_: Any) -> Any:
    """Adapt deepinv objects by duck typing: a physics to an operator, a model to a reconstructor.

    ``from_deepinv(physics)`` returns a LinearOperator (module docstring); ``from_deepinv(model=net)``
    returns ``f(y, op)`` calling ``net(y, physics)`` with the user's own physics (a model whose
    forward takes ``physics`` is also wrapped automatically by the checks). ``image_shape``:
    ``(C, H, W)`` for a generic physics without ``img_width``/``img_size``; ``adjoint="autograd"``
    when its adjoint is inexact; ``seed`` orders the extra samples of ``at_rate``.
    """
    if physics is None and model is None:
        raise InvalidInputError("from_deepinv needs a physics (from_deepinv(physics)) or a model (model=...)")
    if physics is None:
        return model if isinstance(model, PhysicsModel) else PhysicsModel(model)
    if model is not None:
        raise InvalidInputError("pass the physics and the model in two calls: from_deepinv(physics) for the "
                                "operator fixture, from_deepinv(model=net) for the reconstructor fixture")
    if not callable(getattr(physics, "A", None)) or not callable(getattr(physics, "A_adjoint", None)):
        raise InvalidInputError(
            f"{type(physics).__name__} is not a deepinv linear physics (needs A and A_adjoint); "
            "for other operators use as_operator(obj, image_shape=...)"
        )
    if isinstance(getattr(physics, "mask", None), torch.Tensor) and adjoint is None and image_shape is None:
        if isinstance(getattr(physics, "coil_maps", None), torch.Tensor):
            return DeepinvMultiCoilOperator(physics, dtype=dtype, seed=seed)
        return DeepinvMRIOperator(physics, dtype=dtype, seed=seed)
    shape, complex_images = _image_shape(physics, image_shape)
    return DeepinvPhysicsOperator(physics, shape, complex_images=complex_images, adjoint=adjoint, dtype=dtype)
