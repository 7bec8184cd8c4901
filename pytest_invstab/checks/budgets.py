"""Budget conventions of the literature, and the radius each one gives the search.

The same perturbation reads differently under each convention, so published numbers compare
only once converted. For a perturbation ``r`` (image domain; the network sees ``A(x + r)``, the
measurement change is ``e = A r``) or ``e`` (measurement domain):

* ``"x"``    ``||r|| / ||x||`` (Antun et al. 2020); for ``e``: ``||e|| / ||x||``;
* ``"y"``    ``||e|| / ||y||`` (robust-nets, Genzel et al.), ``y = A x``;
* ``"full"`` ``||e|| / ||F x||_full``: over the norm of the *fully sampled* k-space of ``x``
  (Darestani et al.); for the centred unitary DFT ``||F x|| = ||x||``, and with coil maps ``S``
  ``||F S x|| = ||S x||`` (all coils; equal to ``||x||`` when the maps' root-sum-of-squares is 1);
  Fourier operators only;
* ``"coil"`` ``max_c ||e_c|| / ||y_c||`` (Morshuis et al.), multi-coil only: reported, not bounded.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import InvalidInputError
from ..operators.base import LinearOperator
from ..tensors import batch_norm

#: The conventions a search can bound (``budget_norm=``), per domain; the first is the default.
BOUNDABLE = {"image": ("x",), "measurements": ("y", "x", "full")}


def is_fourier(op: LinearOperator) -> bool:
    """A (multi-coil) masked Fourier operator: its full k-space norm is defined."""
    return getattr(op, "modality", "") == "mri" and hasattr(op, "mask")


def full_norm(op: LinearOperator, x: torch.Tensor) -> torch.Tensor:
    """``||F x||`` of the fully sampled (unitary) k-space, per image ``[B]``; all coils for multi-coil."""
    maps = getattr(op, "coil_maps", None)
    if maps is None:
        return batch_norm(x).to(op.dtype)
    return batch_norm(x[:, None] * maps.to(x.device)).to(op.dtype)  # Parseval, per coil


def check_budget_norm(value: Any, domain: str, op: LinearOperator) -> str:
    """The convention the search bounds; ``None`` is the domain's own (``"x"`` or ``"y"``)."""
    options = BOUNDABLE[domain]
    if value is None:
        return options[0]
    if value not in options:
        raise InvalidInputError(
            f"budget_norm={value!r} cannot bound a perturbation in the {domain!r} domain; choose one of "
            f"{', '.join(map(repr, options))} (or domain='measurements' for 'y' and 'full')"
        )
    if value == "full" and not is_fourier(op):
        raise InvalidInputError("budget_norm='full' needs a Fourier operator (the norm of the fully sampled k-space)")
    return value


def search_radius(op: LinearOperator, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor | None:
    """The radius ``[B]`` in the perturbation's own units for ``eps`` under ``norm``; ``None``: the search's default."""
    if norm == "full":
        return eps * full_norm(op, x)
    if norm == "x":
        return eps * batch_norm(x).to(op.dtype)
    return None  # "y": the measurement-domain search's own reference ||y||


def conventions(op: LinearOperator, x: torch.Tensor, p: torch.Tensor, domain: str) -> dict[str, torch.Tensor]:
    """Every convention's size of perturbation ``p`` (``[B, ...]`` in ``domain``), per image ``[B]``."""
    with torch.no_grad():
        y = op(x)
        e = op(x + p) - y if domain == "image" else p
        out = {"size_x": batch_norm(p if domain == "image" else e) / batch_norm(x),
               "size_y": batch_norm(e) / batch_norm(y)}
        if is_fourier(op):
            out["size_full"] = batch_norm(e) / full_norm(op, x)
        if e.dim() == 3 and getattr(op, "coil_maps", None) is not None:  # [B, coils, m]
            out["size_coil_max"] = (e.abs().norm(dim=2) / y.abs().norm(dim=2).clamp_min(1e-30)).amax(1)
    return {k: v.to(torch.float64).cpu() for k, v in out.items()}


__all__ = ["BOUNDABLE", "check_budget_norm", "conventions", "full_norm", "is_fourier", "search_radius"]
