"""Figures like the paper's: a grid of images with titles (Fig. 1, Fig. 5 top) and PSNR-vs-rate curves (Fig. 5 bottom).

Everything renders off-screen on a ``matplotlib.figure.Figure`` with the Agg canvas (never
pyplot, so a user's interactive backend is untouched). Functions return PNG bytes; writing
them is ``artifacts.py``'s job.

Cheap on purpose (a panel costs a small fraction of its check): axes are placed by hand on a
fixed grid (no layout engine), images are drawn at about one pixel per pixel at 100 dpi, and
the PNG is written with fast zlib compression.

Display rules, chosen so that artifacts are visible and comparable:

* every grayscale image of a row shares one intensity window (robust min/max of the row),
  so a reconstruction and its reference are shown on the same scale;
* differences named as such in their titles share one colour scale across the panel, so the
  network's artifact and the CS baseline's are directly comparable;
* a *difference-like* image (title containing "diff", "error", "residual", "Δ", a spaced
  minus "a − b", or starting with "|"; or two-sided, about zero-mean data, such as a
  perturbation r) gets a colour map and a labelled colour bar: a diverging map centred on 0
  for signed data, a sequential one from 0 for magnitudes.

A cell is ``(title, image)`` or a :class:`Cell` (still a 2-tuple, with options: a colour-bar
label, boxes drawn on the image, or a curve drawn instead of an image).
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..errors import InvalidInputError

DPI = 100.0
CELL_PX = 200  # about a cell's side in screen pixels (a whole number of pixels per image pixel)
TITLE_PX = 26  # room for a two-line cell title
CBAR_PX = 62  # colour bar, its ticks and its label, right of a cell
GAP_PX = 8
PNG_COMPRESS_LEVEL = 1  # zlib level: 6 (the default) costs several times more for about 10 % fewer bytes
# "f(A(x+r)) − f(Ax)", "|x − f(Ax)|", "difference", "error map", "Δ": shown with a colour map.
_DIFF_WORDS = re.compile(r"diff|error|residual|Δ|^\s*\||\s[−-]\s", re.IGNORECASE)
BOX_COLOURS = ("#ffb000", "#00c2ff", "#ff4f7b", "#7dff5a", "#c68cff", "#ffffff")


class Cell(tuple):
    """A panel cell: ``(title, image)`` plus display options (unpacks like the plain pair).

    ``kind``: ``"image"`` (grayscale), ``"difference"`` (colour map and bar) or ``None`` (decided from
    the title and the data, see the module docstring);
    ``cbar``: the colour bar's label (units and scale, e.g. ``"r, image units (colours ×20)"``);
    ``cbar_divide``: the factor an image was amplified by: the bar's ticks show values divided by it;
    ``boxes``: ``[(y0, x0, y1, x1, label), ...]`` outlined on the image (pixel bounds, end exclusive);
    ``curve``: a ``render_curves``-style dict drawn in the cell instead of an image (``image`` is ``None``).
    """

    title: str
    kind: str | None
    cbar: str | None
    cbar_divide: float
    boxes: list[tuple[int, int, int, int, str]]
    curve: dict[str, Any] | None

    def __new__(cls, title: str, image: Any = None, *, kind: str | None = None, cbar: str | None = None,
                cbar_divide: float = 1.0, boxes: Sequence[tuple[int, int, int, int, str]] = (),
                curve: dict[str, Any] | None = None) -> "Cell":
        self = super().__new__(cls, (str(title), image))
        self.kind, self.cbar, self.cbar_divide, self.boxes, self.curve = kind, cbar, cbar_divide, list(boxes), curve
        return self

    def with_image(self, image: Any) -> "Cell":
        """The same cell showing ``image``."""
        return Cell(self[0], image, kind=self.kind, cbar=self.cbar, cbar_divide=self.cbar_divide, boxes=self.boxes,
                    curve=self.curve)


def _figure(width: float, height: float):
    # Imported lazily: matplotlib costs ~0.3 s to import and most runs only need it once.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig, dpi: float) -> bytes:
    buf = io.BytesIO()
    # No metadata: identical inputs give identical bytes (reports diff cleanly).
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None},
                pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    return buf.getvalue()


def to_image(value: Any) -> np.ndarray:
    """A panel image as a 2-D float64 array: magnitude of complex data, leading size-1 dims dropped.

    Raises ``InvalidInputError`` for anything that is not 2-D after squeezing.
    """
    if isinstance(value, torch.Tensor):
        t = value.detach().to("cpu")
        if t.is_complex():
            t = t.abs()
        arr = t.to(torch.float64).numpy()
    else:
        arr = np.asarray(value)
        if np.iscomplexobj(arr):
            arr = np.abs(arr)
        arr = arr.astype(np.float64)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise InvalidInputError(
            f"panel images must be 2-D [H, W] tensors, got shape {list(arr.shape)}; "
            "pass one image per cell (e.g. x[0])"
        )
    return arr


def is_difference(title: str, image: np.ndarray) -> bool:
    """Whether a cell shows a difference / perturbation (colour-mapped) rather than an image (grayscale)."""
    if _DIFF_WORDS.search(title or ""):
        return True
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return False
    peak = float(np.abs(finite).max())
    # A perturbation is two-sided and about zero-mean. A reconstruction is not, even when it dips
    # below 0 (FBP ringing) or sits below 0 altogether (an untrained network's output).
    return (peak > 0 and float(finite.min()) < -0.3 * peak and float(finite.max()) > 0.3 * peak
            and abs(float(finite.mean())) < 0.1 * peak)


def _robust_range(images: Sequence[np.ndarray]) -> tuple[float, float]:
    lows, highs = [], []
    for img in images:
        finite = img[np.isfinite(img)]
        if finite.size:
            lo, hi = np.quantile(finite, (0.001, 0.999))
            lows.append(float(lo))
            highs.append(float(hi))
    if not lows:
        return 0.0, 1.0
    lo, hi = min(lows), max(highs)
    if hi <= lo:  # a constant row: centre it in a unit-wide window
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def _colour_scale(images: Sequence[np.ndarray]) -> tuple[bool, float]:
    """(signed?, peak) shared by difference images: symmetric around 0 when any is signed."""
    finite = [img[np.isfinite(img)] for img in images]
    finite = [f for f in finite if f.size]
    if not finite:
        return False, 1.0
    signed = any(float(f.min()) < 0 for f in finite)
    peak = max(float(np.quantile(np.abs(f), 0.999)) for f in finite)
    return signed, (peak if peak > 0 else 1.0)


def _wrap(title: str, width: int) -> str:
    # Only at spaces: a number and its unit are joined by a no-break space by the layouts.
    return "\n".join(textwrap.wrap(str(title), width=width, break_long_words=False, break_on_hyphens=False)) or " "


def _as_cell(cell: Any) -> Cell:
    if isinstance(cell, Cell):
        return cell if cell.curve is not None else cell.with_image(to_image(cell[1]))
    title, image = cell
    return Cell(title, to_image(image))


def draw_curve(ax, curves: dict[str, Any], fontsize: float = 7) -> None:
    """Draw a ``render_curves``-style dict on ``ax`` (series against ``x``, a dashed line at ``vline``)."""
    x = _series_values(curves["x"])
    for i, (name, values) in enumerate(curves["series"].items()):
        y = _series_values(values)
        if y.shape != x.shape:
            raise InvalidInputError(
                f"curve series {name!r} has {y.size} values but x has {x.size}; give one value per x"
            )
        ax.plot(x, y, marker="osD^v<>p*h"[i % 10], markersize=3.5, linewidth=1.4, label=str(name))
    vline = curves.get("vline")
    if isinstance(vline, (int, float)) and math.isfinite(vline):
        ax.axvline(float(vline), color="tab:red", linestyle="--", linewidth=1.1,
                   label=str(curves.get("vline_label") or f"x = {vline:g}"))
    ax.set_xlabel(str(curves.get("xlabel") or "x"), fontsize=fontsize, labelpad=1)
    ax.set_ylabel(str(curves.get("ylabel") or ""), fontsize=fontsize, labelpad=1)
    ax.tick_params(labelsize=fontsize - 0.5, length=2, pad=1)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=fontsize - 1, frameon=False, handlelength=1.5, borderaxespad=0.2)


def _rgb(img: np.ndarray, diff: bool, scale: tuple[float, float], colour: tuple[bool, float]) -> tuple[np.ndarray, tuple[str, float, float] | None]:
    """``(RGB uint8 [H, W, 3], (colour map, vmin, vmax) or None for grayscale)`` of one image."""
    if diff:
        signed, peak = colour
        cmap, lo, hi = ("RdBu_r", -peak, peak) if signed else ("magma", 0.0, peak)
    else:
        cmap, lo, hi = "gray", scale[0], scale[1]
    t = np.clip((np.nan_to_num(img, nan=lo) - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    return _lut(cmap)[np.round(t * 255).astype(np.intp)], ((cmap, lo, hi) if diff else None)


def _lut(name: str) -> np.ndarray:
    """256 x 3 uint8 colours of a matplotlib colour map (cached)."""
    if name not in _LUTS:
        from matplotlib import colormaps

        _LUTS[name] = colormaps[name](np.linspace(0.0, 1.0, 256), bytes=True)[:, :3]
    return _LUTS[name]


_LUTS: dict[str, np.ndarray] = {}


def _outline(canvas: np.ndarray, top: int, left: int, h: int, w: int, colour: str, width: int = 2) -> None:
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
    y1, x1 = min(top + h, canvas.shape[0]), min(left + w, canvas.shape[1])
    canvas[top:top + width, left:x1] = rgb
    canvas[max(top, y1 - width):y1, left:x1] = rgb
    canvas[top:y1, left:left + width] = rgb
    canvas[top:y1, max(left, x1 - width):x1] = rgb


def render_panel(panel: Sequence[Sequence[Any]], title: str | None = None, dpi: float | None = None) -> bytes:
    """PNG of a grid of cells: one panel row per figure row, each cell titled.

    ``panel`` is ``layouts.panel_rows(result)``: rows of ``(title, image)`` (2-D images ``[H, W]``,
    real, or complex shown as magnitude) or :class:`Cell`. Rows may have different lengths;
    columns line up. ``title`` may hold several lines. Images are composed into one picture
    (nearest-neighbour, a whole number of screen pixels per image pixel) and the text drawn on
    it with PIL; only a curve is drawn by matplotlib.
    """
    rows = [[_as_cell(c) for c in row] for row in panel if len(row)]
    if not rows:
        raise InvalidInputError("the panel is empty; add at least one (title, image) row")
    dpi = float(dpi or DPI)
    ncols = max(len(r) for r in rows)
    sides = [max(c[1].shape) for row in rows for c in row if c.curve is None]
    side = max(sides, default=128)
    cell = side * max(1, round(CELL_PX / side))  # a cell's side in screen pixels
    # Differences named as such (titles) share one colour scale across the whole panel, so the
    # network's artifact and the CS baseline's are directly comparable; other signed images
    # (a perturbation r, often amplified) are scaled per row.
    named = [[c.curve is None and c.kind != "image" and bool(_DIFF_WORDS.search(c[0])) for c in row] for row in rows]
    diffs = [[c.curve is None and c.kind != "image" and (n or c.kind == "difference" or is_difference(c[0], c[1]))
              for c, n in zip(row, nrow)] for row, nrow in zip(rows, named)]
    named_scale = _colour_scale([c[1] for row, nrow in zip(rows, named) for c, n in zip(row, nrow) if n])
    col_w = [cell + (CBAR_PX if any(j < len(r) and (d[j] or r[j].curve is not None) for r, d in zip(rows, diffs))
                     else GAP_PX) for j in range(ncols)]
    width = sum(col_w) + 2 * GAP_PX
    lines = []
    if title:  # wrapped to the figure's width (about 8 pixels per character at 8.5 pt)
        lines = [w for line in title.split("\n") for w in _wrap(line, max(30, width // 7)).split("\n")]
    head = 8 + 15 * len(lines)
    row_h = TITLE_PX + cell + GAP_PX
    height = head + row_h * len(rows)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    texts: list[tuple[float, float, str, dict[str, Any]]] = []  # (x px, y px from top, text, style)
    bars: list[tuple[int, int, tuple[str, float, float], Cell]] = []
    curves: list[tuple[int, int, int, Cell]] = []
    for r, row in enumerate(rows):
        lo_hi = _robust_range([c[1] for c, d in zip(row, diffs[r]) if not d and c.curve is None])
        row_colour = _colour_scale([c[1] for c, d, n in zip(row, diffs[r], named[r]) if d and not n])
        top = head + r * row_h + TITLE_PX
        left = GAP_PX
        for j, c in enumerate(row):
            wide = cell + (col_w[j] - cell if c.curve is not None else 0)
            texts.append((left + wide / 2, top - 3, _wrap(c[0], max(12, wide // 6)),
                          dict(ha="center", va="bottom", fontsize=7.5)))
            if c.curve is not None:
                curves.append((top, left, wide, c))
            else:
                rgb, bar = _rgb(c[1], diffs[r][j], lo_hi, named_scale if named[r][j] else row_colour)
                k = max(1, cell // max(c[1].shape))
                h, w = c[1].shape[0] * k, c[1].shape[1] * k
                y0, x0 = top + (cell - h) // 2, left + (cell - w) // 2
                canvas[y0:y0 + h, x0:x0 + w] = np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)
                for b, (by0, bx0, by1, bx1, label) in enumerate(c.boxes):
                    colour = BOX_COLOURS[b % len(BOX_COLOURS)]
                    _outline(canvas, y0 + by0 * k, x0 + bx0 * k, (by1 - by0) * k, (bx1 - bx0) * k, colour)
                    texts.append((x0 + bx0 * k, y0 + by0 * k - 1, label, dict(color=colour, fontsize=6, va="bottom")))
                if bar is not None:
                    bars.append((top, left + cell + 4, bar, c))
            left += col_w[j]
    for top, x, (cmap, lo, hi), c in bars:  # colour bar: a strip, 5 ticks, the label (units and scale)
        strip = _lut(cmap)[np.linspace(255, 0, cell).round().astype(np.intp)]
        canvas[top:top + cell, x:x + 9] = strip[:, None, :]
        for v in np.linspace(lo, hi, 5):
            y = top + (hi - v) / (hi - lo) * (cell - 1)
            texts.append((x + 11, y, f"{v / c.cbar_divide:.2g}", dict(fontsize=6, va="center")))
        texts.append((x + CBAR_PX - 12, top + cell / 2, c.cbar or "image units",
                      dict(fontsize=6, va="center", ha="center", rotation=90)))
    for i, line in enumerate(lines):
        texts.append((width / 2, 6 + 15 * i, line, dict(ha="center", va="top", fontsize=8.5)))
    for top, left, wide, c in curves:  # the only matplotlib drawing: the curve, pasted into its cell
        canvas[top:top + cell, left:left + wide] = _curve_rgb(c.curve or {}, wide, cell, dpi)
    image = Image.fromarray(canvas, "RGB")
    draw = ImageDraw.Draw(image)
    for x, y, text, style in texts:
        _text(image, draw, x, y, text, **style)
    return _encode(image)


def _font(points: float) -> Any:
    """DejaVu Sans (shipped with matplotlib) at ``points`` on a 100 dpi page, cached."""
    size = max(6, round(points * DPI / 72))
    if size not in _FONTS:
        import os

        from matplotlib import get_data_path
        from PIL import ImageFont

        _FONTS[size] = ImageFont.truetype(os.path.join(get_data_path(), "fonts", "ttf", "DejaVuSans.ttf"), size)
    return _FONTS[size]


_FONTS: dict[int, Any] = {}


def _text(image: Any, draw: Any, x: float, y: float, text: str, *, fontsize: float = 7.5, ha: str = "left",
          va: str = "top", color: str = "#1f2328", rotation: int = 0) -> None:
    """Text at ``(x, y)`` pixels, aligned like matplotlib's ``ha`` / ``va``; ``rotation`` 0 or 90 degrees."""
    font = _font(fontsize)
    x0, y0, x1, y1 = draw.multiline_textbbox((0, 0), text, font=font, align="center" if ha == "center" else "left")
    w, h = x1 - x0, y1 - y0
    if rotation:  # drawn on its own transparent tile, turned, pasted
        tile = Image.new("RGBA", (w + 2, h + 2), (255, 255, 255, 0))
        ImageDraw.Draw(tile).multiline_text((1 - x0, 1 - y0), text, font=font, fill=color)
        tile = tile.rotate(rotation, expand=True)
        w, h = tile.size
        image.paste(tile, (round(x - w / 2), round(y - h / 2)), tile)
        return
    left = x - {"left": 0, "center": w / 2, "right": w}[ha]
    top = y - {"top": 0, "center": h / 2, "bottom": h}[va]
    draw.multiline_text((left - x0, top - y0), text, font=font, fill=color, spacing=2,
                        align="center" if ha == "center" else "left")


def _curve_rgb(curves: dict[str, Any], width: int, height: int, dpi: float) -> np.ndarray:
    """The curve drawn by matplotlib (Agg, no pyplot) as an RGB array ``[height, width, 3]``."""
    fig = _figure(width / dpi, height / dpi)
    ax = fig.add_axes([40 / width, 30 / height, (width - 48) / width, (height - 36) / height])
    draw_curve(ax, curves)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[:height, :width, :3]


def _encode(image: Any) -> bytes:
    """PNG bytes of a PIL image (fast zlib level, no metadata: same input, same bytes)."""
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


def _series_values(values: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def render_curves(curves: dict[str, Any], title: str | None = None, dpi: float = DPI) -> bytes:
    """PNG of a line plot: each series against ``curves["x"]``, a dashed vertical line at ``vline``.

    ``curves`` = ``{"x": [...], "xlabel": str, "ylabel": str, "series": {name: [...]},
    "vline": float | None, "vline_label": str}`` (``CheckResult.curves``); ``None`` values
    are gaps (NaN).
    """
    if not isinstance(curves, dict) or "x" not in curves or not isinstance(curves.get("series"), dict):
        raise InvalidInputError(
            "curves must be a dict with 'x' (list) and 'series' ({name: list}); "
            f"got keys {sorted(curves) if isinstance(curves, dict) else type(curves).__name__}"
        )
    fig = _figure(5.0, 3.2)
    ax = fig.add_axes([0.12, 0.15, 0.84, 0.74])
    draw_curve(ax, curves, fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return _png(fig, dpi)


__all__ = ["Cell", "DPI", "draw_curve", "is_difference", "render_curves", "render_panel", "to_image"]
