"""Argument rules shared by the searches: operator, reconstructor, domain, images, sizes, counts.

The operator and reconstructor rules are ``pytest_invstab.validate``'s (one home for them);
what is specific to a search (the batch of images ``x``, per-image sizes ``eps``) lives here.
"""

from __future__ import annotations

import math

import torch

from ..errors import InvalidInputError
from ..validate import check_operator, check_reconstructor, positive_int

#: The two places a perturbation can live: added to the image ``x`` or to the measurements ``y``.
DOMAINS = ("image", "measurements")


def check_inputs(f: object, op: object, x: object, domain: str) -> torch.Tensor:
    """Validate a search's common arguments; returns ``x`` (``[B, *op.image_shape]``) detached."""
    op = check_operator(op)
    check_reconstructor(f)
    if domain not in DOMAINS:
        raise InvalidInputError(f"domain must be 'image' or 'measurements', got {domain!r}")
    if not isinstance(x, torch.Tensor) or x.dim() != len(op.image_shape) + 1 or tuple(x.shape[1:]) != tuple(op.image_shape):
        shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidInputError(
            f"x must be a batch of images [B, {', '.join(map(str, op.image_shape))}], got {shape}"
            + ("; add the batch dimension: x[None]" if isinstance(x, torch.Tensor) and tuple(x.shape) == tuple(op.image_shape) else "")
        )
    if not torch.isfinite(x).all():
        raise InvalidInputError("x contains NaN or Inf values")
    return x.detach()


def check_eps(eps: object, batch: int, device: torch.device, dtype: torch.dtype, name: str = "eps") -> torch.Tensor:
    """``eps`` (a float, or a ``[B]`` tensor of per-image sizes) as a ``[B]`` tensor; each > 0 and finite."""
    if isinstance(eps, torch.Tensor):
        t = eps.detach().to(device=device, dtype=dtype).flatten()
        if t.numel() == 1:
            t = t.expand(batch)
        ok = t.numel() == batch and bool(torch.isfinite(t).all()) and bool((t > 0).all())
    else:
        ok = isinstance(eps, (int, float)) and not isinstance(eps, bool) and math.isfinite(eps) and eps > 0
        t = torch.full((batch,), float(eps) if ok else 0.0, device=device, dtype=dtype)
    if not ok:
        raise InvalidInputError(
            f"{name} must be a finite number > 0 (the perturbation's norm relative to ||x||, or to ||y|| "
            f"in the measurement domain; e.g. 0.01), or a tensor of {batch} such numbers; got {eps!r}"
        )
    return t


def count(name: str, value: object, default: int | None = None) -> int:
    """An integer >= 1; ``None`` gives ``default`` where there is one (a budget's default)."""
    if value is None and default is None:
        raise InvalidInputError(f"{name} must be an integer >= 1, got None")
    return positive_int(name, value, default if default is not None else 1)


def jsonable_eps(eps: object) -> object:
    """``eps`` as stored in a result's ``settings``: a float or a list of floats."""
    return eps.detach().cpu().flatten().tolist() if isinstance(eps, torch.Tensor) else float(eps)  # type: ignore[arg-type]


__all__ = ["DOMAINS", "check_eps", "check_inputs", "count", "jsonable_eps"]
