"""Figures like the paper's: a grid of images with titles (Fig. 1, Fig. 5 top) and PSNR-vs-rate curves (Fig. 5 bottom).

Everything renders off-screen with ``matplotlib.figure.Figure`` and the Agg canvas, so the
global pyplot state (and a user's interactive backend) is never touched. Functions return
PNG bytes; writing them is ``artifacts.py``'s job.

Display rules, chosen so that artifacts are visible and comparable:

* every grayscale image of a row shares one intensity window (robust min/max of the row),
  so a reconstruction and its reference are shown on the same scale;
* differences named as such in their titles share one colour scale across the panel, so the
  network's artifact and the CS baseline's are directly comparable;
* a *difference-like* image (title containing "diff", "error", "residual", "Δ", a spaced
  minus "a − b", or starting with "|"; or two-sided, about zero-mean data, such as a
  perturbation r) gets a colour map and a colour bar: a diverging map centred on 0 for
  signed data, a sequential one from 0 for magnitudes.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import InvalidInputError

CELL_INCHES = 2.3
# "f(A(x+r)) − f(Ax)", "|x − f(Ax)|", "difference", "error map", "Δ": shown with a colour map.
_DIFF_WORDS = re.compile(r"diff|error|residual|Δ|^\s*\||\s[−-]\s", re.IGNORECASE)


def _figure(width: float, height: float):
    # Imported lazily: matplotlib costs ~0.3 s to import and most runs only need it once.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig, dpi: float) -> bytes:
    buf = io.BytesIO()
    # No metadata: identical inputs give identical bytes (reports diff cleanly).
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
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
            lows.append(float(np.quantile(finite, 0.001)))
            highs.append(float(np.quantile(finite, 0.999)))
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


def _wrap(title: str, width: int = 30) -> str:
    return "\n".join(textwrap.wrap(str(title), width=width, break_long_words=True)) or " "


def render_panel(panel: Sequence[Sequence[tuple[str, Any]]], title: str | None = None, dpi: float | None = None) -> bytes:
    """PNG of a grid of images: one panel row per figure row, each cell titled.

    ``panel`` is ``layouts.panel_rows(result)``: rows of ``(title, image)`` with 2-D images ``[H, W]``
    (real, or complex shown as magnitude). Rows may have different lengths.
    """
    rows = [[(str(t), to_image(img)) for t, img in row] for row in panel if len(row)]
    if not rows:
        raise InvalidInputError("the panel is empty; add at least one (title, image) row")
    ncols = max(len(r) for r in rows)
    nrows = len(rows)
    side = max(max(img.shape) for row in rows for _, img in row)
    if dpi is None:
        # Roughly one screen pixel per image pixel, within sensible bounds.
        dpi = float(min(max(side / CELL_INCHES, 110), 160))
    fig = _figure(CELL_INCHES * ncols + 0.6, CELL_INCHES * nrows + (0.4 if title else 0.0) + 0.25 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    # Differences named as such (titles) share one colour scale across the whole panel, so the
    # network's artifact and the CS baseline's are directly comparable; other signed images
    # (a perturbation r, often amplified) are scaled per row.
    named = [[bool(_DIFF_WORDS.search(t)) for t, _ in row] for row in rows]
    named_imgs = [img for row, flags in zip(rows, named) for (_, img), f in zip(row, flags) if f]
    named_scale = _colour_scale(named_imgs)
    for r, row in enumerate(rows):
        diff_flags = [named[r][i] or is_difference(t, img) for i, (t, img) in enumerate(row)]
        lo, hi = _robust_range([img for (_, img), d in zip(row, diff_flags) if not d])
        row_scale = _colour_scale([img for (_, img), d, n in zip(row, diff_flags, named[r]) if d and not n])
        for c in range(ncols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(row):
                ax.set_axis_off()
                continue
            cell_title, img = row[c]
            shown = np.where(np.isfinite(img), img, np.nan)
            if diff_flags[c]:
                signed, peak = named_scale if named[r][c] else row_scale
                if signed:
                    im = ax.imshow(shown, cmap="RdBu_r", vmin=-peak, vmax=peak, interpolation="nearest")
                else:
                    im = ax.imshow(shown, cmap="magma", vmin=0.0, vmax=peak, interpolation="nearest")
                cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
                cb.ax.tick_params(labelsize=7)
            else:
                ax.imshow(shown, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_title(_wrap(cell_title), fontsize=8)
            for spine in ax.spines.values():
                spine.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    return _png(fig, dpi)


def _series_values(values: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def render_curves(curves: dict[str, Any], title: str | None = None, dpi: float = 110) -> bytes:
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
    x = _series_values(curves["x"])
    fig = _figure(6.0, 3.8)
    ax = fig.subplots()
    markers = "osD^v<>p*h"
    for i, (name, values) in enumerate(curves["series"].items()):
        y = _series_values(values)
        if y.shape != x.shape:
            raise InvalidInputError(
                f"curve series {name!r} has {y.size} values but x has {x.size}; give one value per x"
            )
        ax.plot(x, y, marker=markers[i % len(markers)], markersize=5, linewidth=1.8, label=str(name))
    vline = curves.get("vline")
    if vline is not None and isinstance(vline, (int, float)) and math.isfinite(vline):
        ax.axvline(float(vline), color="tab:red", linestyle="--", linewidth=1.5,
                   label=str(curves.get("vline_label") or f"x = {vline:g}"))
    ax.set_xlabel(str(curves.get("xlabel") or "x"))
    ax.set_ylabel(str(curves.get("ylabel") or ""))
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return _png(fig, dpi)


__all__ = ["is_difference", "render_curves", "render_panel", "to_image"]
