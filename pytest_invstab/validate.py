"""Validation of what a user passes in: one home for every argument rule.

Plain torch, no pytest. Checks, attacks, baselines and the plugin's marker validation all call
these, so a mistake gets the same clear ``InvalidInputError`` wherever it is made.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

import torch

from .errors import InvalidInputError
from .operators.base import LinearOperator
from .operators.sampling import check_rate
from .reconstructor import Reconstructor

#: Names of the built-in details of ``detail_recovery``.
DETAIL_KINDS = ("symbols", "text", "all")


def check_operator(op: Any) -> LinearOperator:
    """``op`` as a ``LinearOperator``: ours as they are; any object with forward/adjoint (or deepinv's
    A/A_adjoint) and an image shape through :func:`pytest_invstab.operators.as_operator`."""
    if isinstance(op, LinearOperator):
        return op
    has_map = any(callable(getattr(op, n, None)) for n in ("forward", "A"))
    if not has_map:
        raise InvalidInputError(
            f"operator must be a LinearOperator or an object with forward(x)/adjoint(y) (or deepinv's "
            f"A/A_adjoint) and image_shape, got {type(op).__name__}; build one with FourierOperator(...), "
            "RadonOperator(...), as_operator(obj, image_shape=...) or from_deepinv(physics)"
        )
    from .operators.protocol import as_operator

    return as_operator(op)


def check_reconstructor(f: Any) -> Reconstructor:
    if not callable(f):
        raise InvalidInputError(
            f"reconstructor must be a callable f(y, op) -> image (or a torch.nn.Module), got {type(f).__name__}"
        )
    from .adapters.models import adapt_reconstructor  # a model taking (y, physics): deepinv's convention

    return adapt_reconstructor(f)


def as_image_batch(images: Any, op: LinearOperator, *, name: str = "images") -> torch.Tensor:
    """Validate reference images and return them as ``[B, *op.image_shape]`` on the operator's device.

    Rule for the batch dimension: a tensor whose shape *equals* ``op.image_shape`` is one image
    and gets a batch dimension of 1; otherwise the first dimension is the batch. Integer and
    other floating dtypes are converted to the operator's dtype; real images stay real (a
    complex operator casts them itself), complex images need a complex operator. Every image
    must be finite and non-zero (relative metrics divide by ``||x||``).
    """
    if not isinstance(images, torch.Tensor):
        try:
            import numpy as np

            if isinstance(images, np.ndarray):
                images = torch.as_tensor(images)
        except ImportError:  # pragma: no cover - numpy is a dependency
            pass
    if not isinstance(images, torch.Tensor):
        raise InvalidInputError(f"{name} must be a torch.Tensor of shape [B, H, W], got {type(images).__name__}")
    shape = tuple(op.image_shape)
    if tuple(images.shape) == shape:
        images = images[None]
    if images.dim() != len(shape) + 1 or tuple(images.shape[1:]) != shape:
        raise InvalidInputError(
            f"{name} must have shape [B, {', '.join(map(str, shape))}] (or [{', '.join(map(str, shape))}] "
            f"for one image) to match the operator, got {list(images.shape)}; resize them or build the "
            f"operator at their size"
        )
    if images.shape[0] == 0:
        raise InvalidInputError(f"{name} is an empty batch; pass at least one image")
    if images.is_complex():
        if not op.complex_images:
            raise InvalidInputError(
                f"{name} are complex but {type(op).__name__} takes real images; pass images.abs() or images.real"
            )
        images = images.to(op.image_dtype)
    elif images.is_floating_point() or images.dtype in (torch.bool, torch.uint8, torch.int8, torch.int16,
                                                          torch.int32, torch.int64):
        images = images.to(op.dtype)
    else:  # pragma: no cover - exotic dtypes
        raise InvalidInputError(f"{name} have unsupported dtype {images.dtype}; use float32 or float64")
    images = images.to(op.device)
    if not torch.isfinite(images).all():
        raise InvalidInputError(f"{name} contain NaN or Inf values; clean them before the check")
    zero = images.reshape(images.shape[0], -1).norm(dim=1) == 0
    if zero.any():
        idx = zero.nonzero().flatten().tolist()
        raise InvalidInputError(
            f"{name} {idx} are all zero; relative metrics divide by ||x||, so pass non-zero images"
        )
    return images


def positive(name: str, value: Any, *, allow_zero: bool = False, unit: str = "") -> float:
    """A finite positive real number (``allow_zero``: >= 0), else an ``InvalidInputError`` naming it."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok:
        ok = float(value) >= 0 if allow_zero else float(value) > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        unit = f" ({unit})" if unit else ""
        raise InvalidInputError(f"{name} must be a finite number {bound}{unit}, got {value!r}")
    return float(value)


def perturbation_size(value: Any) -> float:
    """``eps``: a relative size in (0, 1]; above 1 the perturbation is larger than the image,
    almost surely a percent written for a fraction (``eps=10`` meant 10 %)."""
    eps = positive("eps", value, unit="relative size ||r||/||x||, e.g. 0.01")
    if eps > 1:
        raise InvalidInputError(
            f"eps is a fraction of the image's norm, not a percentage: 1 % is eps=0.01; got eps={value!r}, "
            f"a perturbation {eps:g} times larger than the image; pass eps <= 1 (e.g. eps={eps / 100:g} for {eps:g} %)"
        )
    return eps


def finite(name: str, value: Any, *, unit: str = "") -> float:
    """A finite real number of either sign, else an ``InvalidInputError`` naming it."""
    if not (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))):
        unit = f" ({unit})" if unit else ""
        raise InvalidInputError(f"{name} must be a finite number{unit}, got {value!r}")
    return float(value)


def sanity_min_gain(value: Any) -> float:
    """The sanity gate's threshold: a finite number of dB (negative lets the network be worse than direct)."""
    return finite("sanity_min_gain_db", value,
                  unit="dB the network's clean PSNR must exceed the direct reconstruction's; negative allows worse")


def eps_levels(value: Any) -> tuple[float, ...]:
    """``eps`` as a tuple of sizes: one number > 0, or a strictly increasing sequence of them (a curve)."""
    if isinstance(value, (list, tuple)):
        levels = tuple(perturbation_size(v) for v in value)
        if not levels or any(b <= a for a, b in zip(levels, levels[1:])):
            raise InvalidInputError(
                f"eps as a robustness curve must be a non-empty strictly increasing sequence of sizes, e.g. "
                f"(0.005, 0.01, 0.02, 0.04); got {value!r}")
        return levels
    return (perturbation_size(value),)


def positive_int(name: str, value: Any, default: int) -> int:
    """``value`` if given (an int >= 1), else ``default``."""
    if value is None:
        return int(default)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise InvalidInputError(f"{name} must be an integer >= 1 (or None for the budget's default), got {value!r}")
    return int(value)


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise InvalidInputError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def flag(name: str, value: Any) -> bool:
    """``value`` must be exactly ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False, got {value!r}")
    return value


def optional(rule: Callable[..., Any], name: str, value: Any, **kwargs: Any) -> Any:
    """``None`` stays ``None``; anything else must pass ``rule(name, value, **kwargs)``."""
    return None if value is None else rule(name, value, **kwargs)


def sampling_rate(name: str, value: Any) -> float:
    """A sampling rate in (0, 1] (the rule of ``operators.sampling.check_rate``), named in the error."""
    try:
        return check_rate(value)
    except InvalidInputError:
        raise InvalidInputError(
            f"{name} must be a sampling rate in (0, 1] (fraction of the full data), got {value!r}"
        ) from None


def check_rates(values: Any) -> tuple[float, ...]:
    """User rates: at least two sampling rates in (0, 1], strictly increasing."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().flatten().tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) and not hasattr(values, "__iter__"):
        raise InvalidInputError(
            f"rates must be a sequence of sampling rates in (0, 1], strictly increasing, got {values!r}; "
            "for example rates=(0.2, 0.33, 0.5)"
        )
    out = tuple(sampling_rate(f"rates[{i}]", v) for i, v in enumerate(list(values)))
    if len(out) < 2:
        raise InvalidInputError(
            f"rates needs at least two sampling rates to compare, got {list(out)}; for example rates=(0.2, 0.33, 0.5)"
        )
    for a, b in zip(out, out[1:]):
        if not b > a:
            raise InvalidInputError(
                f"rates must be strictly increasing, got {list(out)} ({b:g} follows {a:g}); "
                "sort them and drop duplicates"
            )
    return out


def min_recovery(value: Any, default: float = 0.5) -> float:
    """A recovery threshold: a finite number <= 1 (the score is at most 1 = perfect)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if not ok or float(value) > 1:
        raise InvalidInputError(
            f"min_recovery must be a finite number <= 1 (the recovery score is at most 1 = perfect), got {value!r}; "
            f"the default is {default}"
        )
    return float(value)


def detail_kind(value: str) -> str:
    """One of ``DETAIL_KINDS`` (the check's message for any other string)."""
    if value not in DETAIL_KINDS:
        raise InvalidInputError(
            "details must be 'symbols', 'text', 'all', a tensor [H, W] or a list of tensors / Detail, "
            f"got {value!r}"
        )
    return value
