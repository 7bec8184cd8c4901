"""Region-targeted search: the worst perturbation for the artifact inside a region of interest.

Morshuis et al. and others attack a lesion box (make it vanish, make a structure appear): the
artifact that matters is the one inside it. ``region_search`` maximises
``||(f(y + .) - f(y)) * m|| / ||x||`` for a 0/1 mask ``m`` with the default search's steps.
"""

from __future__ import annotations

import torch

from ..errors import InvalidInputError
from ..operators.base import LinearOperator
from ..reconstructor import Reconstructor
from .budgeted import budgeted_search
from .results import AttackResult


def region_search(f: Reconstructor, op: LinearOperator, x: torch.Tensor, mask: torch.Tensor, *,
                  eps: "float | torch.Tensor", domain: str = "image", **kwargs) -> AttackResult:
    """``budgeted_search`` of the artifact inside ``mask`` (``[*op.image_shape]``, 0/1 or weights).

    The result's ``artifact`` is the region's: ``||(f(.) - f(y)) * mask|| / ||x||`` per image.
    Other keyword arguments as ``budgeted_search``.
    """
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != tuple(op.image_shape):
        raise InvalidInputError(f"mask must be a tensor of the image's shape {list(op.image_shape)}")
    return budgeted_search(f, op, x, eps=eps, domain=domain, region=mask.to(torch.float32), **kwargs)


__all__ = ["region_search"]
