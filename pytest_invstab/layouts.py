"""Measurement layouts: our k-space vectors to and from the grids fastMRI and deepinv use.

Our Fourier operators return the ``m`` sampled values of the centred unitary DFT
(``fftshift(fft2(ifftshift(x), norm="ortho"))``, the transform of fastMRI's ``fft2c`` and deepinv's
MRI physics) in the row-major order of ``op.mask``: ``[B, m]`` single-coil, ``[B, C, m]``
multi-coil. The grid layouts are the zero-filled centred k-space:

* ``"complex"``: complex ``[B, (C,) H, W]``;
* ``"fastmri"``: real ``[B, (C,) H, W, 2]`` (last dim real, imaginary; fastMRI's convention);
* ``"deepinv"``: real ``[B, 2, (C,) H, W]`` (dim 1 real, imaginary; deepinv's MRI physics).

All conversions are differentiable (attacks go through them). Masks: :func:`fastmri_mask` gives
fastMRI's ``[B, 1, 1, W, 1]`` (multi-coil) / ``[B, 1, W, 1]`` (single-coil) column mask.
"""

from __future__ import annotations

from typing import Any

import torch

from .errors import InvalidInputError

LAYOUTS = ("complex", "fastmri", "deepinv")


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise InvalidInputError(f"layout must be one of {', '.join(map(repr, LAYOUTS))}, got {layout!r}")


def from_complex(z: torch.Tensor, layout: str, *, coil_dim: bool = False) -> torch.Tensor:
    """Complex ``[B, (C,) H, W]`` to ``layout`` (``coil_dim`` only documents intent; shapes carry it)."""
    _check_layout(layout)
    if layout == "complex":
        return z
    r = torch.view_as_real(z)  # [..., H, W, 2]
    return r if layout == "fastmri" else r.movedim(-1, 1)


def to_complex(t: torch.Tensor, layout: str) -> torch.Tensor:
    """``layout`` to complex ``[B, (C,) H, W]`` (inverse of :func:`from_complex`)."""
    _check_layout(layout)
    if layout == "complex":
        if not t.is_complex():
            raise InvalidInputError(f"a 'complex' layout tensor must be complex, got {t.dtype}")
        return t
    if t.is_complex():
        raise InvalidInputError(f"a {layout!r} layout tensor must be real (2 channels for real/imag), got {t.dtype}")
    if layout == "fastmri":
        if t.shape[-1] != 2:
            raise InvalidInputError(f"fastMRI layout needs a last dim of 2 (real, imag), got {list(t.shape)}")
        return torch.view_as_complex(t.contiguous())
    if t.dim() < 4 or t.shape[1] != 2:
        raise InvalidInputError(f"deepinv layout needs [B, 2, (C,) H, W] (real, imag in dim 1), got {list(t.shape)}")
    return torch.view_as_complex(t.movedim(1, -1).contiguous())


def _mask_of(op: Any) -> torch.Tensor:
    mask = getattr(op, "mask", None)
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2 or mask.dtype != torch.bool:
        raise InvalidInputError(
            f"{type(op).__name__} has no boolean [H, W] k-space mask; k-space layouts need a FourierOperator "
            "or MultiCoilFourierOperator (or from_deepinv of an MRI physics)"
        )
    return mask


def measurements_to_kspace(y: torch.Tensor, op: Any, layout: str = "complex") -> torch.Tensor:
    """Our measurements ``[B, (C,) m]`` as the zero-filled centred k-space grid in ``layout``."""
    mask = _mask_of(op)
    if y.shape[-1] != int(mask.sum()):
        raise InvalidInputError(f"measurements have {y.shape[-1]} samples but the mask has {int(mask.sum())}")
    grid = y.new_zeros((*y.shape[:-1], *mask.shape))
    grid[..., mask] = y  # row-major order of the mask, as the operators sample
    return from_complex(grid, layout)


def kspace_to_measurements(k: torch.Tensor, op: Any, layout: str = "complex") -> torch.Tensor:
    """The values of a centred k-space grid in ``layout`` at the mask's positions: ``[B, (C,) m]``."""
    mask = _mask_of(op)
    z = to_complex(k, layout)
    if tuple(z.shape[-2:]) != tuple(mask.shape):
        raise InvalidInputError(f"k-space grid is {list(z.shape[-2:])} but the mask is {list(mask.shape)}")
    return z[..., mask]


def fastmri_mask(op: Any, batch: int = 1, multicoil: bool = True) -> torch.Tensor:
    """fastMRI's column mask of ``op``: bool ``[B, 1, 1, W, 1]`` (multi-coil) or ``[B, 1, W, 1]``.

    Raises when the mask is not Cartesian in columns (fastMRI's models expect that).
    """
    mask = _mask_of(op)
    if not bool((mask == mask[:1]).all()):
        raise InvalidInputError(
            "fastMRI models expect a Cartesian column mask (phase encoding along the width); this operator's "
            "mask is not one: build it with pattern='cartesian', orientation='columns' or from a fastMRI mask"
        )
    cols = mask[0].reshape(1, 1, 1, -1, 1) if multicoil else mask[0].reshape(1, 1, -1, 1)
    return cols.expand(batch, *cols.shape[1:])


def num_low_frequencies(op: Any) -> int:
    """Width of the fully sampled run of columns around DC (fastMRI's ``num_low_frequencies``)."""
    cols = fastmri_mask(op).reshape(-1)
    w, c = cols.numel(), cols.numel() // 2
    lo, hi = c, c
    while lo - 1 >= 0 and bool(cols[lo - 1]):
        lo -= 1
    while hi + 1 < w and bool(cols[hi + 1]):
        hi += 1
    return (hi - lo + 1) if bool(cols[c]) else 0


__all__ = ["LAYOUTS", "from_complex", "to_complex", "measurements_to_kspace", "kspace_to_measurements",
           "fastmri_mask", "num_low_frequencies"]
