"""Seeded, nested sampling patterns for Fourier (k-space) and Radon (angle) operators.

A pattern ranks every sample of the grid once, from its seed: the fully sampled centre first
(closest to DC first), then the remaining samples in a density-weighted random order. The mask
at a rate is a *prefix* of that ranking, so a larger rate keeps every sample of a smaller one
(masks are nested), and the number of samples is exact: ``round(rate * total)`` samples
(at least one), where a sample is one phase-encode line for ``"cartesian"`` and one grid point
for ``"points"`` and ``"radial"``.

Coordinates are those of the *centred* spectrum (``fftshift`` layout): DC sits at index
``(H // 2, W // 2)``; the normalised radius of index ``(i, j)`` is
``sqrt(((i - H//2) / (H/2))**2 + ((j - W//2) / (W/2))**2)`` (1 at the middle of an edge).

Kinds
-----
``"cartesian"``
    Phase-encode lines. ``orientation="columns"`` (the default, as fastMRI and deepinv: phase
    encoding along the width) samples whole columns of k-space (index along W, each column fully
    sampled along H); ``orientation="rows"`` samples whole rows. With ``n`` lines (W for columns,
    H for rows), the centre is the ``round(center_fraction * n)`` lines nearest DC; the other
    lines follow in a random order weighted by ``(1 - |k| / (n/2)) ** decay``. Rate = lines / n.
``"points"``
    2-D variable-density random points. The centre is every point of normalised radius
    ``<= center_fraction``; the rest follow in a random order weighted by
    ``(1 - r / r_max) ** decay`` (floored so that every point is eventually drawn).
    Rate = points / (H W).
``"radial"``
    Spokes through DC, rasterised onto the grid (nearest grid point, 1/4-pixel steps along the
    spoke, long enough to cross the whole grid). Spoke ``k`` has angle
    ``theta0 + k * golden_angle`` (``theta0`` drawn from the seed), so every prefix of spokes is
    near uniform. A grid point is ranked by the first spoke that covers it and, within a spoke,
    by its distance to DC. The mask at a rate is the first ``round(rate * H * W)`` points of
    that ranking: the union of the first spokes plus the central part of the next spoke, so the
    rate is exact to one grid point (not just one spoke). ``center_fraction`` is not used:
    every spoke already samples the centre densely. Points that no generated spoke covers
    (a handful in the corners) are ranked last, by radius, so that rate 1 is the full grid.

Radon angles: :func:`uniform_angles` (exactly uniform in ``[0, pi)``), :func:`full_angle_count`
(the documented "full sampling" count ``ceil(pi/2 * size)``) and :func:`nested_angles`
(a near-uniform subset of the fine grid, nested across counts by a bit-reversal ordering).
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np
import torch

from ..errors import InvalidInputError

PATTERNS = ("cartesian", "points", "radial")
ORIENTATIONS = ("columns", "rows")
MIN_SIZE = 8

_GOLDEN_ANGLE = math.pi * (math.sqrt(5.0) - 1.0) / 2.0  # pi / golden ratio: spoke increment


# -- validation -----------------------------------------------------------------------------
def check_rate(rate: float) -> float:
    """Return ``rate`` as a float or raise InvalidInputError unless ``0 < rate <= 1``."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not math.isfinite(float(rate)):
        raise InvalidInputError(
            f"sampling rate must be a number in the range (0, 1] (fraction of samples kept), got {rate!r}"
        )
    if not 0.0 < float(rate) <= 1.0:
        raise InvalidInputError(
            f"sampling rate must be in the range (0, 1] (fraction of samples kept), got {rate}; "
            "for example rate=0.25 keeps a quarter of the samples"
        )
    return float(rate)


def check_size(size: int | Sequence[int], what: str = "size") -> tuple[int, int]:
    """Normalise an image size (int or ``(H, W)``) to ``(H, W)``; each side must be an int >= 8."""
    sides = (size, size) if isinstance(size, numbers.Integral) and not isinstance(size, bool) else size
    try:
        sides = tuple(sides)  # type: ignore[arg-type]
    except TypeError:
        sides = ()
    ok = len(sides) == 2 and all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and int(s) >= MIN_SIZE for s in sides
    )
    if not ok:
        raise InvalidInputError(
            f"{what} must be an int >= {MIN_SIZE} or a pair (H, W) of such ints (pixels), got {size!r}; "
            f"for example {what}=128"
        )
    return int(sides[0]), int(sides[1])


def _check_center_fraction(center_fraction: float) -> float:
    if isinstance(center_fraction, bool) or not isinstance(center_fraction, numbers.Real) or not (
        0.0 <= float(center_fraction) < 1.0
    ):
        raise InvalidInputError(
            f"center_fraction must be a number in [0, 1) (fraction of k-space fully sampled at the centre), "
            f"got {center_fraction!r}; the default is 0.08"
        )
    return float(center_fraction)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise InvalidInputError(f"seed must be an int, got {seed!r}")
    return int(seed)


# -- weighted random order ----------------------------------------------------------------
def _weighted_order(weights: np.ndarray, gen: torch.Generator) -> np.ndarray:
    """A random permutation that draws item i early with probability proportional to weights[i].

    Sequential sampling without replacement equals sorting by an exponential race:
    key_i = E_i / w_i with E_i ~ Exp(1) (the first to arrive is drawn first).
    """
    e = torch.empty(weights.size, dtype=torch.float64).exponential_(1.0, generator=gen).numpy()
    return np.argsort(e / weights, kind="stable")


def _centre_order(dist: np.ndarray) -> np.ndarray:
    """Indices sorted by distance to DC; ties broken by index (negative offsets first)."""
    return np.lexsort((np.arange(dist.size), dist))


# -- the pattern --------------------------------------------------------------------------
class SamplingPattern:
    """A seeded ranking of k-space samples; ``mask(rate)`` is a nested prefix of it.

    Parameters
    ----------
    kind: ``"cartesian"``, ``"points"`` or ``"radial"`` (see the module docstring).
    shape: ``(H, W)`` or an int for a square grid (pixels, each side >= 8).
    seed: int seed of the random order (same seed, same masks).
    center_fraction: half-width of the fully sampled centre as a fraction of the half-grid
        (for ``"cartesian"``: ``round(center_fraction * H)`` central lines). Unused by ``"radial"``.
    decay: exponent of the variable density ``(1 - r) ** decay`` outside the centre.
    """

    def __init__(
        self,
        kind: str = "cartesian",
        shape: int | Sequence[int] = 128,
        seed: int = 0,
        center_fraction: float = 0.08,
        decay: float = 2.0,
        orientation: str = "columns",
    ):
        if kind not in PATTERNS:
            raise InvalidInputError(f"unknown sampling pattern {kind!r}; choose one of {', '.join(PATTERNS)}")
        if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0.0 <= float(decay) <= 20.0:
            raise InvalidInputError(f"decay must be a number in [0, 20], got {decay!r}")
        self.kind = kind
        self.shape = check_size(shape, "shape")
        self.seed = _check_seed(seed)
        self.center_fraction = _check_center_fraction(center_fraction)
        self.decay = float(decay)
        if orientation not in ORIENTATIONS:
            raise InvalidInputError(
                f"orientation must be 'columns' (phase encoding along the width, as fastMRI and deepinv) "
                f"or 'rows', got {orientation!r}"
            )
        self.orientation = orientation
        self._order: np.ndarray | None = None  # flat sample indices, highest priority first

    # -- public -------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        """Number of rankable samples: lines for cartesian, grid points otherwise."""
        return self._lines() if self.kind == "cartesian" else self.shape[0] * self.shape[1]

    def _lines(self) -> int:
        """Number of Cartesian phase-encode lines: the width for columns, the height for rows."""
        return self.shape[1] if self.orientation == "columns" else self.shape[0]

    def count(self, rate: float) -> int:
        """Number of samples (lines or points) kept at ``rate``: ``max(1, round(rate * n_samples))``."""
        return max(1, int(round(check_rate(rate) * self.n_samples)))

    def order(self) -> np.ndarray:
        """The priority order (computed once): line indices (cartesian) or flat point indices."""
        if self._order is None:
            gen = torch.Generator(device="cpu").manual_seed(self.seed)
            builder = {"cartesian": self._cartesian, "points": self._points, "radial": self._radial}[self.kind]
            self._order = builder(gen)
            self._order.setflags(write=False)
        return self._order

    def mask(self, rate: float) -> torch.Tensor:
        """Boolean mask ``[H, W]`` (centred layout, DC at ``(H//2, W//2)``) keeping ``count(rate)`` samples."""
        n = self.count(rate)
        chosen = torch.from_numpy(self.order()[:n].copy())
        h, w = self.shape
        if self.kind == "cartesian":
            lines = torch.zeros(self._lines(), dtype=torch.bool)
            lines[chosen] = True
            full = lines[None, :].expand(h, w) if self.orientation == "columns" else lines[:, None].expand(h, w)
            return full.clone()
        flat = torch.zeros(h * w, dtype=torch.bool)
        flat[chosen] = True
        return flat.reshape(h, w)

    def actual_rate(self, rate: float) -> float:
        """The fraction of grid points that ``mask(rate)`` keeps."""
        return self.count(rate) / self.n_samples

    def describe(self) -> dict:
        return {
            "pattern": self.kind,
            **({"orientation": self.orientation} if self.kind == "cartesian" else {}),
            "shape": list(self.shape),
            "seed": self.seed,
            "center_fraction": self.center_fraction,
            "decay": self.decay,
        }

    def __repr__(self) -> str:
        return f"SamplingPattern({self.kind!r}, shape={self.shape}, seed={self.seed})"

    # -- builders ---------------------------------------------------------------------------
    def _density(self, r: np.ndarray) -> np.ndarray:
        # Floor keeps every sample drawable (rate 1 is the full grid) without changing the
        # ordering much: the floor is below the density of 99 % of the grid for decay 2.
        return np.maximum(1.0 - r, 0.0) ** self.decay + 1e-4

    def _cartesian(self, gen: torch.Generator) -> np.ndarray:
        h = self._lines()
        ky = np.arange(h) - h // 2
        by_dist = _centre_order(np.abs(ky) - 0.25 * (ky < 0))  # -k before +k
        n_centre = min(h, int(round(self.center_fraction * h)))
        centre = by_dist[:n_centre]
        rest = by_dist[n_centre:]
        w = self._density(np.abs(ky[rest]) / (h / 2))
        return np.concatenate([centre, rest[_weighted_order(w, gen)]]).astype(np.int64)

    def _radius(self) -> np.ndarray:
        h, w = self.shape
        ky = (np.arange(h) - h // 2) / (h / 2)
        kx = (np.arange(w) - w // 2) / (w / 2)
        return np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2).ravel()

    def _points(self, gen: torch.Generator) -> np.ndarray:
        r = self._radius()
        by_dist = _centre_order(r)
        n_centre = int(np.count_nonzero(r <= self.center_fraction))
        centre = by_dist[:n_centre]
        rest = by_dist[n_centre:]
        w = self._density(r[rest] / r.max())
        return np.concatenate([centre, rest[_weighted_order(w, gen)]]).astype(np.int64)

    def _radial(self, gen: torch.Generator) -> np.ndarray:
        h, w = self.shape
        npts = h * w
        theta0 = float(torch.rand((), generator=gen, dtype=torch.float64)) * math.pi
        half = math.hypot(h / 2, w / 2) + 1.0
        t = np.arange(-half, half + 1e-9, 0.25)  # positions along a spoke (pixels)
        t = t[np.argsort(np.abs(t), kind="stable")]  # centre of the spoke first
        # A corner point at radius R needs spokes closer than ~0.5/R rad; golden-angle gaps
        # shrink like pi/k, so ~2*pi*R spokes cover nearly all; leftovers are ranked last.
        n_spokes = int(math.ceil(2.5 * math.pi * half))
        k = np.arange(n_spokes)
        ang = theta0 + k * _GOLDEN_ANGLE
        iy = np.rint(h // 2 + np.sin(ang)[:, None] * t[None, :]).astype(np.int64)
        ix = np.rint(w // 2 + np.cos(ang)[:, None] * t[None, :]).astype(np.int64)
        ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        flat = (iy * w + ix)[ok]
        key = np.broadcast_to(np.arange(n_spokes)[:, None] * t.size + np.arange(t.size)[None, :], ok.shape)[ok]
        first = np.full(npts, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, flat, key)
        covered = first < np.iinfo(np.int64).max
        ranked = np.flatnonzero(covered)[np.argsort(first[covered], kind="stable")]
        leftover = np.flatnonzero(~covered)
        leftover = leftover[_centre_order(self._radius()[leftover])]
        return np.concatenate([ranked, leftover]).astype(np.int64)


# -- Radon angles ---------------------------------------------------------------------------
def uniform_angles(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``n`` exactly uniform angles ``k * pi / n`` in radians, ``k = 0 .. n-1`` (shape ``[n]``)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise InvalidInputError(f"the number of angles must be an int >= 1, got {n!r}")
    return torch.arange(int(n), dtype=torch.float64).mul_(math.pi / int(n)).to(dtype)


def full_angle_count(size: int) -> int:
    """The number of angles that counts as full sampling (rate 1) for a ``size`` x ``size`` image.

    ``ceil(pi/2 * size)``: the classical angular Nyquist count for parallel-beam CT.
    """
    return int(math.ceil(math.pi / 2 * int(size)))


def _bit_reversal_order(n: int) -> np.ndarray:
    """A permutation of ``range(n)`` whose every prefix is spread near-uniformly over the range.

    Van der Corput (base-2 bit reversal) points v_k on [0, 1) are mapped to ``floor(v_k * n)``;
    the first occurrence of each index is kept.
    """
    bits = max(1, int(math.ceil(math.log2(max(n, 2)))))
    k = np.arange(2**bits, dtype=np.int64)
    rev = np.zeros_like(k)
    for b in range(bits):  # loop over bits, not samples
        rev |= ((k >> b) & 1) << (bits - 1 - b)
    idx = (rev * n) >> bits
    _, first = np.unique(idx, return_index=True)
    return idx[np.sort(first)]


def nested_angles(n: int, n_full: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``n`` angles (radians, sorted) chosen from the uniform grid ``k * pi / n_full``.

    The choice is a prefix of a bit-reversal ordering of the grid, so ``nested_angles(n1, N)``
    is a subset of ``nested_angles(n2, N)`` for ``n1 <= n2``, and each set is near uniform
    (exactly uniform when ``n`` divides ``n_full`` and both are powers of two; the full grid
    when ``n == n_full``).
    """
    if isinstance(n_full, bool) or not isinstance(n_full, numbers.Integral) or n_full < 1:
        raise InvalidInputError(f"n_full must be an int >= 1, got {n_full!r}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n <= n_full:
        raise InvalidInputError(f"the number of angles must be an int in [1, {n_full}], got {n!r}")
    chosen = np.sort(_bit_reversal_order(int(n_full))[: int(n)])
    return torch.from_numpy(chosen.astype(np.float64) * (math.pi / n_full)).to(dtype)
