"""Structural details for the paper's second test (Antun et al. 2020, Fig. 5): card symbols and text.

A detail is a pattern ``[H, W]`` with values in [0, 1] on the image grid, 0 away from the
detail. Positions are in *pixel index* coordinates ``(row, col)``: the centre of the top-left
pixel is ``(0, 0)``, of the bottom-right ``(H - 1, W - 1)``. Symbols are implicit shapes (no
font) and text is rendered with matplotlib's bundled DejaVu Sans Bold; both are anti-aliased by
rendering ``s x s`` sub-samples per pixel and averaging.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F

from ..errors import InvalidInputError
from . import _font

__all__ = [
    "Detail",
    "SYMBOLS",
    "SUPPORT_THRESHOLD",
    "symbol",
    "text_detail",
    "default_details",
    "insert_details",
    "as_detail",
]

#: Pixels whose pattern exceeds this value belong to a detail's support.
SUPPORT_THRESHOLD = 1e-3
#: The four card suits, in the order of ``default_details``.
SYMBOLS = ("spade", "heart", "diamond", "club")
#: Default sizes, as fractions of the image size: symbol height, text cap height.
SYMBOL_FRACTION = 0.11
TEXT_FRACTION = 0.055
DEFAULT_TEXT = "CAN U SEE IT"
#: Smallest image sizes at which the default details stay recognisable.
MIN_SIZE_SYMBOLS = 32
MIN_SIZE_TEXT = 64


@dataclass(frozen=True)
class Detail:
    """A structural detail on an image grid.

    ``pattern``: float ``[H, W]``, values in [0, 1] for built-in details (user patterns are kept
    as given), 0 outside the detail. ``support``: bool ``[H, W]``, ``pattern > SUPPORT_THRESHOLD``
    (user details: nonzero pixels). ``bbox``: ``(y0, x0, y1, x1)`` pixel bounds of the support,
    end exclusive, so ``pattern[y0:y1, x0:x1]`` holds the whole detail.
    """

    name: str
    pattern: torch.Tensor
    support: torch.Tensor
    bbox: tuple[int, int, int, int]

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.pattern.shape[0]), int(self.pattern.shape[1]))

    def area(self) -> float:
        """Integrated pattern in pixels (the area a solid detail covers)."""
        return float(self.pattern.sum())


# --------------------------------------------------------------------------- helpers
def _bbox(support: torch.Tensor) -> tuple[int, int, int, int]:
    rows = torch.nonzero(support.any(dim=1)).flatten()
    cols = torch.nonzero(support.any(dim=0)).flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _make(name: str, pattern: torch.Tensor) -> Detail:
    support = pattern > SUPPORT_THRESHOLD
    if not bool(support.any()):  # pragma: no cover - guarded by the size checks
        raise InvalidInputError(f"detail {name!r} rendered empty; make it larger")
    return Detail(name, pattern, support, _bbox(support))


def _check_size(size: object, minimum: int, what: str) -> int:
    if isinstance(size, bool) or not isinstance(size, int):
        raise InvalidInputError(f"size must be an int number of pixels, got {size!r}")
    if size < minimum:
        raise InvalidInputError(f"{what} needs an image of at least {minimum} x {minimum} pixels, got size={size}; "
                                f"use size >= {minimum} or pass your own detail tensor via as_detail()")
    return size


def _check_point(point: object, what: str) -> tuple[float, float]:
    try:
        r, c = (float(v) for v in point)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} must be a pair (row, col) in pixels, got {point!r}") from exc
    if not (math.isfinite(r) and math.isfinite(c)):
        raise InvalidInputError(f"{what} must be finite, got {point!r}")
    return r, c


def _window(lo: float, hi: float, size: int, what: str) -> tuple[int, int]:
    """Pixel range [p0, p1) covering the continuous extent [lo, hi] (pixel centres at integers)."""
    p0, p1 = math.floor(lo + 0.5), math.ceil(hi + 0.5)
    if p0 < 0 or p1 > size:
        raise InvalidInputError(
            f"{what} extends outside the {size} x {size} image (pixels {p0}..{p1 - 1}); "
            "move it towards the centre or make it smaller"
        )
    return p0, p1


# --------------------------------------------------------------------------- card symbols
# Implicit shapes in a unit box: u to the right, v upwards, the symbol spans v in [-1, 1].
def _heart_curve(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    # (X^2 + Y^2 - 1)^3 - X^2 Y^3 <= 0: the classic heart; spans X in [-1.14, 1.14], Y in [-1, 1.24].
    return (X * X + Y * Y - 1.0) ** 3 - X * X * Y**3 <= 0


_HEART_H = 2.2361  # vertical extent of the heart curve (Y from -1 to about 1.236)


def _flared_stem(u: torch.Tensor, v: torch.Tensor, top: float) -> torch.Tensor:
    # A stem from v = top down to v = -1 that widens towards its foot, like a card's.
    t = ((top - v) / (top + 1.0)).clamp(0.0, 1.0)
    half_width = 0.07 + 0.33 * t**2
    return (v >= -1.0) & (v <= top) & (u.abs() <= half_width)


def _heart(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    k = 2.0 / _HEART_H  # maps the curve's height onto [-1, 1]
    return _heart_curve(u / (0.9 * k), (v + 1.0) / k - 1.0)


def _spade(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # An upside-down heart for the blade (v from -0.4 to 1), on a flared stem.
    k = 1.4 / _HEART_H
    blade = _heart_curve(u / (1.15 * k), (1.0 - v) / k - 1.0)
    return blade | _flared_stem(u, v, -0.2)


def _diamond(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return u.abs() / 0.72 + v.abs() <= 1.0


def _club(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r = 0.33
    lobes = ((u**2 + (v - 0.67) ** 2) <= r**2) | (((u + 0.40) ** 2 + (v - 0.10) ** 2) <= r**2) \
        | (((u - 0.40) ** 2 + (v - 0.10) ** 2) <= r**2) | ((u**2 + (v - 0.28) ** 2) <= 0.2**2)
    return lobes | _flared_stem(u, v, 0.1)


_SHAPES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "spade": _spade, "heart": _heart, "diamond": _diamond, "club": _club,
}


def symbol(kind: str, size: int = 128, center: Sequence[float] | None = None, scale_px: float | None = None,
           *, supersample: int = 8) -> Detail:
    """A card symbol ("spade", "heart", "diamond" or "club") on a ``[size, size]`` grid.

    ``center``: ``(row, col)`` in pixels (default: the image centre). ``scale_px``: the symbol's
    height (and at most its width) in pixels, default ``0.11 * size``. Anti-aliased with
    ``supersample^2`` sub-samples per pixel. Raises InvalidInputError if the symbol does not fit.
    """
    if kind not in _SHAPES:
        raise InvalidInputError(f"unknown symbol {kind!r}; choose one of {', '.join(SYMBOLS)}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 4:
        raise InvalidInputError(f"size must be an int >= 4 pixels, got {size!r}")
    scale = float(max(5, round(SYMBOL_FRACTION * size))) if scale_px is None else float(scale_px)
    if not math.isfinite(scale) or scale < 4:
        raise InvalidInputError(f"scale_px={scale_px!r} is too small to draw a symbol; use scale_px >= 4 pixels")
    if scale > size:
        raise InvalidInputError(f"a symbol of {scale:g} px is larger than the {size} x {size} image; "
                                "reduce scale_px or use a larger size")
    cr, cc = _check_point(((size - 1) / 2, (size - 1) / 2) if center is None else center, "center")
    half = scale / 2
    what = f"symbol {kind!r} ({scale:g} px at row {cr:g}, col {cc:g})"
    r0, r1 = _window(cr - half, cr + half, size, what)
    c0, c1 = _window(cc - half, cc + half, size, what)
    s = int(supersample)
    # Sub-sample centres of the window's pixels, in pixel coordinates, then in the unit box.
    sub = (torch.arange(s, dtype=torch.float64) + 0.5) / s - 0.5
    rows = (torch.arange(r0, r1, dtype=torch.float64)[:, None] + sub[None, :]).reshape(-1)
    cols = (torch.arange(c0, c1, dtype=torch.float64)[:, None] + sub[None, :]).reshape(-1)
    v = -(rows[:, None] - cr) / half
    u = (cols[None, :] - cc) / half
    fine = _SHAPES[kind](u, v).to(torch.float64)
    pattern = torch.zeros(size, size, dtype=torch.float64)
    pattern[r0:r1, c0:c1] = F.avg_pool2d(fine[None, None], s)[0, 0]
    return _make(kind, pattern.float())


# --------------------------------------------------------------------------- text
def text_detail(text: str = DEFAULT_TEXT, size: int = 128, position: Sequence[float] | None = None,
                height_px: float | None = None, *, weight: str = "bold", supersample: int = 8) -> Detail:
    """Text rendered with DejaVu Sans (shipped with matplotlib; PIL's default font as a fallback).

    ``position``: ``(row, col)`` in pixels of the text's centre (horizontally the ink's centre,
    vertically halfway between baseline and cap height); default the image centre.
    ``height_px``: cap height (height of a capital letter) in pixels, default ``0.055 * size`` (at least 4).
    Rendered at ``supersample`` times the resolution and averaged down (anti-aliased).
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"text must be a non-empty string, got {text!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise InvalidInputError(f"size must be an int >= 8 pixels, got {size!r}")
    cap = float(max(4, round(TEXT_FRACTION * size))) if height_px is None else float(height_px)
    if not math.isfinite(cap) or cap < 3:
        raise InvalidInputError(f"height_px={height_px!r} is too small for legible text; use height_px >= 3 pixels")
    if cap > size:
        raise InvalidInputError(f"text {cap:g} px tall does not fit a {size} x {size} image; reduce height_px")
    cr, cc = _check_point(((size - 1) / 2, (size - 1) / 2) if position is None else position, "position")
    s = int(supersample)
    canvas, (ref_r, ref_c) = _font.render_text(text, cap * s, weight)
    # Canvas pixel (i, j) lands on fine pixel (i + off_r, j + off_c); the fine grid's pixel index
    # p corresponds to image pixel coordinate (p + 0.5) / s - 0.5.
    off_r = round((cr + 0.5) * s - 0.5 - ref_r)
    off_c = round((cc + 0.5) * s - 0.5 - ref_c)
    ink = torch.nonzero(canvas > 0)
    if ink.numel() == 0:  # pragma: no cover - a font that draws nothing
        raise InvalidInputError(f"the font rendered nothing for {text!r}; use other text or pass a tensor")
    lo_r, hi_r = (int(ink[:, 0].min()) + off_r) / s - 0.5, (int(ink[:, 0].max()) + 1 + off_r) / s - 0.5
    lo_c, hi_c = (int(ink[:, 1].min()) + off_c) / s - 0.5, (int(ink[:, 1].max()) + 1 + off_c) / s - 0.5
    what = f"text {text!r} ({cap:g} px tall, {(hi_c - lo_c):.0f} px wide, centred at row {cr:g}, col {cc:g})"
    r0, r1 = _window(lo_r, hi_r, size, what)
    c0, c1 = _window(lo_c, hi_c, size, what)
    fine = torch.zeros((r1 - r0) * s, (c1 - c0) * s, dtype=torch.float64)
    hc, wc = canvas.shape
    # Paste the canvas, clipped to the window (only empty margin can fall outside it).
    fr0, fc0 = off_r - r0 * s, off_c - c0 * s
    a0, b0 = max(0, -fr0), max(0, -fc0)
    a1, b1 = min(hc, fine.shape[0] - fr0), min(wc, fine.shape[1] - fc0)
    fine[fr0 + a0:fr0 + a1, fc0 + b0:fc0 + b1] = canvas[a0:a1, b0:b1]
    pattern = torch.zeros(size, size, dtype=torch.float64)
    pattern[r0:r1, c0:c1] = F.avg_pool2d(fine[None, None], s)[0, 0]
    return _make("text", pattern.clamp(0.0, 1.0).float())


# --------------------------------------------------------------------------- layouts
# Slots in image units (x right, y up; the image spans [-1, 1]^2), inside the inner ellipse of
# the Shepp-Logan head (semi-axes 0.66 x 0.87): four symbols around a centred line of text.
_SYMBOL_SLOTS = ((-0.32, 0.40), (0.32, 0.40), (-0.32, -0.40), (0.32, -0.40))
_TEXT_SLOT = (0.0, 0.0)
_JITTER = 0.04  # largest shift for seed != 0, in image units (2 % of the image width)


def _to_pixels(x: float, y: float, size: int) -> tuple[float, float]:
    return ((1.0 - y) * size / 2 - 0.5, (x + 1.0) * size / 2 - 0.5)


def default_details(kind: str = "symbols", size: int = 128, seed: int = 0) -> list[Detail]:
    """The standard details of the paper's Fig. 5 test, placed inside a head-like phantom.

    ``kind``: "symbols" (spade, heart, diamond, club, each ``0.11 * size`` tall, in the four
    quadrants of the head's interior), "text" ("CAN U SEE IT", cap height ``0.055 * size``, centred)
    or "all" (both; they do not overlap). ``seed`` 0 is the canonical layout; any other seed
    shuffles the symbols among their slots and shifts every detail by up to 2 % of the image
    width (the text vertically only), deterministically. Needs size >= 32 for symbols and >= 64 for text.
    """
    if kind not in ("symbols", "text", "all"):
        raise InvalidInputError(f"unknown details kind {kind!r}; use 'symbols', 'text' or 'all'")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInputError(f"seed must be an int, got {seed!r}")
    need = MIN_SIZE_TEXT if kind in ("text", "all") else MIN_SIZE_SYMBOLS
    size = _check_size(size, need, f"details={kind!r}")
    order = list(range(len(SYMBOLS)))
    shifts = torch.zeros(len(SYMBOLS) + 1, 2, dtype=torch.float64)
    if seed != 0:
        g = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(SYMBOLS), generator=g).tolist()
        shifts = (2 * torch.rand(len(SYMBOLS) + 1, 2, generator=g, dtype=torch.float64) - 1) * _JITTER
        shifts[-1, 0] = 0.0  # the text line nearly fills the head's width: shift it vertically only
    out: list[Detail] = []
    if kind in ("symbols", "all"):
        for i, name in enumerate(SYMBOLS):
            x, y = _SYMBOL_SLOTS[order[i]]
            out.append(symbol(name, size, _to_pixels(x + float(shifts[i, 0]), y + float(shifts[i, 1]), size)))
    if kind in ("text", "all"):
        x, y = _TEXT_SLOT
        where = _to_pixels(x + float(shifts[-1, 0]), y + float(shifts[-1, 1]), size)
        out.append(text_detail(DEFAULT_TEXT, size, where))
    return out


# --------------------------------------------------------------------------- user details, insertion
def as_detail(tensor: torch.Tensor, name: str = "user") -> Detail:
    """Wrap a user's real ``[H, W]`` tensor (or ``[1, H, W]``) as a Detail; support = nonzero pixels.

    The pattern is kept as given (float32 on the CPU); ``insert_details`` multiplies it by the
    intensity, so a pattern with values in [0, 1] makes the intensity its peak amplitude.
    """
    if not isinstance(tensor, torch.Tensor):
        try:
            tensor = torch.as_tensor(tensor)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InvalidInputError(f"a detail must be a tensor [H, W], got {type(tensor).__name__}") from exc
    t = tensor.detach()
    if t.dim() == 3 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 2 or t.is_complex():
        raise InvalidInputError(
            f"a detail must be a real 2-D tensor [H, W], got {t.dtype} of shape {list(tensor.shape)}")
    t = t.to("cpu", torch.float32)
    if not bool(torch.isfinite(t).all()):
        raise InvalidInputError(f"detail {name!r} contains NaN or Inf; pass a finite pattern")
    support = t != 0
    if not bool(support.any()):
        raise InvalidInputError(f"detail {name!r} is all zero; pass a pattern with a visible (nonzero) part")
    return Detail(str(name), t, support, _bbox(support))


def _as_details(details: object) -> list[Detail]:
    if isinstance(details, Detail):
        return [details]
    if isinstance(details, torch.Tensor):
        return [as_detail(details)]
    if isinstance(details, str):
        raise InvalidInputError(f"insert_details takes Detail objects; call default_details({details!r}, size) first")
    if isinstance(details, Iterable):
        items = list(details)
        if not items:
            raise InvalidInputError("no details given; pass at least one Detail (see default_details)")
        return [d if isinstance(d, Detail) else as_detail(d, f"user{i}") for i, d in enumerate(items)]
    raise InvalidInputError(
        f"details must be a Detail, a tensor [H, W] or a list of them, got {type(details).__name__}")


def insert_details(x: torch.Tensor, details: object, intensity: float | Sequence[float] = 0.5,
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Add details to images: returns ``(x + d, d)`` with ``d = sum_k intensity_k * pattern_k``.

    ``x``: ``[B, H, W]`` or ``[H, W]`` (real or complex). ``d`` has ``x``'s shape, device and real
    dtype and is returned as ``(x + d) - x`` evaluated in that precision, so that the perturbation
    a network sees is exactly ``d`` (it differs from the ideal sum by rounding only).
    ``intensity``: amplitude in image intensity units, one float for all details or one per
    detail (built-in patterns peak at 1: on a [0, 1] image, intensity 0.5 adds up to 0.5).
    """
    if not isinstance(x, torch.Tensor) or x.dim() not in (2, 3):
        got = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidInputError(f"x must be an image tensor [B, H, W] or [H, W], got {got}")
    if not (x.is_floating_point() or x.is_complex()):
        raise InvalidInputError(f"x must be a floating or complex tensor, got {x.dtype}; convert it with x.float()")
    items = _as_details(details)
    hw = tuple(x.shape[-2:])
    for det in items:
        if det.shape != hw:
            raise InvalidInputError(
                f"detail {det.name!r} is {list(det.shape)} but the images are {list(hw)}; "
                f"create the details with size={hw[0]} (or pass a tensor of the image's shape)"
            )
    if isinstance(intensity, (int, float)) and not isinstance(intensity, bool):
        amps = [float(intensity)] * len(items)
    else:
        try:
            amps = [float(a) for a in intensity]  # type: ignore[union-attr]
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"intensity must be a float or one float per detail, got {intensity!r}") from exc
        if len(amps) != len(items):
            raise InvalidInputError(
                f"got {len(amps)} intensities for {len(items)} details; give one per detail or a single float")
    if not all(math.isfinite(a) for a in amps):
        raise InvalidInputError(f"intensity must be finite, got {amps}")
    real = x.real.dtype if x.is_complex() else x.dtype
    d = torch.zeros(hw, dtype=real, device=x.device)
    for a, det in zip(amps, items):
        d = d + a * det.pattern.to(device=x.device, dtype=real)
    perturbed = x + d
    exact = perturbed - x  # exactly what was added, rounding included
    return perturbed, exact.real if exact.is_complex() else exact
