"""Regions of interest for a targeted worst case: a mask, a box, or where the details go.

``resolve_region`` turns ``region=`` into a float 0/1 mask ``[H, W]`` on the operator's device,
used as a weight on the artifact (``attacks.region_search``).
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import InvalidInputError
from ..operators.base import LinearOperator


def resolve_region(region: Any, op: LinearOperator, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A 0/1 float mask ``[H, W]`` from a bool mask ``[H, W]``, a box ``(r0, c0, r1, c1)`` (end
    exclusive, pixels) or ``"detail"`` (the dilated supports of ``detail_recovery``'s symbols)."""
    shape = tuple(op.image_shape[-2:])
    if isinstance(region, str):
        if region != "detail":
            raise InvalidInputError(f"region must be a bool mask [H, W], a box (r0, c0, r1, c1) or 'detail', got {region!r}")
        from .detail_scoring import dilate, resolve_details

        mask = torch.zeros(shape, dtype=torch.bool)
        for det in resolve_details("symbols", shape, seed=seed):
            mask |= dilate(det.support).cpu()
    elif isinstance(region, torch.Tensor):
        if region.dtype != torch.bool or tuple(region.shape) != shape:
            raise InvalidInputError(
                f"a region mask must be a bool tensor of the image's shape {list(shape)}, got "
                f"{region.dtype} {list(region.shape)}; e.g. mask = torch.zeros({shape[0]}, {shape[1]}, dtype=torch.bool)")
        mask = region.detach().cpu()
    elif isinstance(region, (tuple, list)) and len(region) == 4 and all(isinstance(v, int) and not isinstance(v, bool) for v in region):
        r0, c0, r1, c1 = region
        if not (0 <= r0 < r1 <= shape[0] and 0 <= c0 < c1 <= shape[1]):
            raise InvalidInputError(f"region box (r0, c0, r1, c1) = {tuple(region)} must lie inside the image "
                                    f"{list(shape)} with r0 < r1 and c0 < c1")
        mask = torch.zeros(shape, dtype=torch.bool)
        mask[r0:r1, c0:c1] = True
    else:
        raise InvalidInputError(f"region must be a bool mask [H, W], a box (r0, c0, r1, c1) of ints or 'detail', "
                                f"got {type(region).__name__}")
    if not bool(mask.any()):
        raise InvalidInputError("the region is empty; give a mask with at least one True pixel")
    return mask.to(device=x.device, dtype=op.dtype)


__all__ = ["resolve_region"]
