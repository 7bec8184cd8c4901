"""Masks as users have them, and a nested order that starts from a user's own mask.

:func:`as_mask` turns the masks of fastMRI, deepinv and plain code into one boolean ``[H, W]``
k-space mask in the *centred* layout (DC at ``(H // 2, W // 2)``), the layout of fastMRI's
``fft2c`` and deepinv's MRI physics. Accepted (bool, 0/1 float or 0/1 int; torch or numpy):

==========================  ===================================================================
``[H, W]``                  a 2-D mask
``[W]``                     a Cartesian column mask (every row equal); needs ``shape=(H, W)``
``[..., W, 1]``             fastMRI's mask (``[1, 1, W, 1]`` single-coil, ``[1, 1, 1, W, 1]``
                            multi-coil, all leading dims 1); a column mask, needs ``shape``
``[C, H, W]``,              deepinv's mask (``C`` = 1 or 2 real/imag channels, ``B`` batch);
``[B, C, H, W]``            every batch entry and channel must be the same mask
==========================  ===================================================================

:class:`UserMaskPattern` ranks the samples of a grid so that a user's mask is a prefix: the
user's samples first (nearest DC first, so a smaller rate keeps the user's centre), then every
other sample in the seeded variable-density order of :class:`SamplingPattern` of the same kind.
So ``mask(user_rate)`` is exactly the user's mask and masks at all rates are nested.
A mask whose columns are each all-on or all-off is Cartesian in columns (a sample is a
column); else one whose rows are all-on/off is Cartesian in rows; otherwise samples are points.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from ..errors import InvalidInputError
from .sampling import SamplingPattern, _centre_order, check_rate, check_size

ACCEPTED = (
    "[H, W], [W] (a column mask; pass shape=(H, W)), fastMRI's [1, 1, W, 1] / [..., W, 1] "
    "(pass shape=(H, W)) or deepinv's [C, H, W] / [B, C, H, W] with C = 1 or 2"
)


def _as_bool(mask: torch.Tensor) -> torch.Tensor:
    if mask.dtype == torch.bool:
        return mask
    if mask.is_complex() or not bool(((mask == 0) | (mask == 1)).all()):
        raise InvalidInputError(
            f"mask values must be booleans or 0/1 (float or int), got dtype {mask.dtype} with other values; "
            "threshold it first (mask > 0)"
        )
    return mask != 0


def _columns(line: torch.Tensor, shape: Sequence[int] | None, what: str) -> torch.Tensor:
    if shape is None:
        raise InvalidInputError(
            f"a {what} mask {list(line.shape)} only gives the sampled columns; pass shape=(H, W) "
            "(the image size) so the rows are known"
        )
    h, w = check_size(shape, "shape")
    if line.numel() != w:
        raise InvalidInputError(f"the {what} mask has {line.numel()} columns but shape={tuple(shape)} has W={w}")
    return line.reshape(1, w).expand(h, w).clone()


def as_mask(mask: Any, shape: int | Sequence[int] | None = None) -> torch.Tensor:
    """A user's mask as a boolean ``[H, W]`` CPU tensor (centred layout); see the module table.

    ``shape`` (``(H, W)`` or an int) is needed for 1-D column masks and fastMRI masks, and is
    checked against a 2-D mask when given. Anything else raises one error naming the shapes.
    """
    if isinstance(mask, np.ndarray):
        mask = torch.from_numpy(np.ascontiguousarray(mask))
    if not isinstance(mask, torch.Tensor):
        raise InvalidInputError(f"mask must be a torch.Tensor or numpy array of shape {ACCEPTED}, got {type(mask).__name__}")
    mask = _as_bool(mask.detach().cpu())
    dims = tuple(mask.shape)
    if mask.dim() == 1:
        out = _columns(mask, shape, "1-D [W]")
    elif mask.dim() >= 2 and dims[-1] == 1 and all(d == 1 for d in dims[:-2]) and dims[-2] >= 8:
        out = _columns(mask.reshape(-1), shape, f"fastMRI-style {list(dims)}")
    elif mask.dim() == 2:
        out = mask
    elif mask.dim() in (3, 4) and (dims[-3] in (1, 2)):
        flat = mask.reshape(-1, *dims[-2:])
        if not bool((flat == flat[:1]).all()):
            raise InvalidInputError(
                f"mask {list(dims)} holds different masks across its batch/channel entries; the operator "
                "needs one [H, W] mask: pass mask[0, 0] (or build one operator per mask)"
            )
        out = flat[0]
    else:
        raise InvalidInputError(f"mask must have shape {ACCEPTED}; got {list(dims)}")
    check_size(tuple(out.shape), "mask shape")
    if shape is not None and check_size(shape, "shape") != tuple(out.shape):
        raise InvalidInputError(
            f"shape={shape!r} does not match the mask's shape {list(out.shape)}; omit it or make them agree"
        )
    if not bool(out.any()):
        raise InvalidInputError("mask samples nothing (all False); keep at least one k-space sample")
    return out.contiguous()


def mask_kind(mask: torch.Tensor) -> tuple[str, str | None]:
    """``("cartesian", "columns" | "rows")`` or ``("points", None)`` for a boolean ``[H, W]`` mask."""
    if bool((mask == mask[:1]).all()):
        return "cartesian", "columns"
    if bool((mask == mask[:, :1]).all()):
        return "cartesian", "rows"
    return "points", None


class UserMaskPattern:
    """A nested ranking whose prefix at the user's rate is the user's mask (module docstring).

    Same interface as :class:`SamplingPattern` (``mask(rate)``, ``count``, ``actual_rate``,
    ``order``, ``describe``); ``user_rate`` is the fraction of grid points the user's mask keeps.
    """

    def __init__(self, mask: torch.Tensor, seed: int = 0, center_fraction: float = 0.0):
        self.user_mask = mask.bool().cpu()
        self.shape = tuple(self.user_mask.shape)
        self.kind, self.orientation = mask_kind(self.user_mask)
        self.seed, self.center_fraction = seed, center_fraction
        # The rest of the grid follows our own seeded variable-density order of the same kind.
        self._base = SamplingPattern(self.kind, self.shape, seed=seed, center_fraction=center_fraction,
                                     orientation=self.orientation or "columns")
        self._order = self._build()
        self.user_rate = float(self.user_mask.sum()) / self.user_mask.numel()

    def _samples(self) -> tuple[np.ndarray, np.ndarray]:
        """The user's samples (line or flat point indices) and each one's distance to DC."""
        h, w = self.shape
        if self.kind == "points":
            flat = self.user_mask.reshape(-1).numpy()
            ky = (np.arange(h) - h // 2)[:, None] / (h / 2)
            kx = (np.arange(w) - w // 2)[None, :] / (w / 2)
            return flat, np.sqrt(ky**2 + kx**2).ravel()
        n = w if self.orientation == "columns" else h
        line = (self.user_mask[0] if self.orientation == "columns" else self.user_mask[:, 0]).numpy()
        k = np.arange(n) - n // 2
        return line, np.abs(k) - 0.25 * (k < 0)

    def _build(self) -> np.ndarray:
        taken, dist = self._samples()
        mine = np.flatnonzero(taken)
        mine = mine[_centre_order(dist[mine])]
        rest = self._base.order()
        rest = rest[~taken[rest]]
        order = np.concatenate([mine, rest]).astype(np.int64)
        order.setflags(write=False)
        return order

    @property
    def n_samples(self) -> int:
        return self._base.n_samples

    def count(self, rate: float) -> int:
        return max(1, int(round(check_rate(rate) * self.n_samples)))

    def order(self) -> np.ndarray:
        return self._order

    def mask(self, rate: float) -> torch.Tensor:
        """Boolean ``[H, W]``: the first ``count(rate)`` samples of the ranking."""
        chosen = torch.from_numpy(self._order[: self.count(rate)].copy())
        h, w = self.shape
        if self.kind == "points":
            flat = torch.zeros(h * w, dtype=torch.bool)
            flat[chosen] = True
            return flat.reshape(h, w)
        lines = torch.zeros(w if self.orientation == "columns" else h, dtype=torch.bool)
        lines[chosen] = True
        full = lines[None, :].expand(h, w) if self.orientation == "columns" else lines[:, None].expand(h, w)
        return full.clone()

    def actual_rate(self, rate: float) -> float:
        return self.count(rate) / self.n_samples

    def describe(self) -> dict:
        return {"pattern": "custom", "kind": self.kind, "orientation": self.orientation, "shape": list(self.shape),
                "seed": self.seed, "user_rate": self.user_rate}

    def __repr__(self) -> str:
        return f"UserMaskPattern({self.kind!r}, shape={self.shape}, user_rate={self.user_rate:.3f})"
