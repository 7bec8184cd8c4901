"""Robustness curves and convergence traces of ``worst_case`` results.

``draw_robustness(ax, curves)`` draws the worst artifact against the perturbation size on
log-log axes: the network's curve, the baseline's own worst-case curve, and ``eps`` itself (the
artifact of an isometry) for scale. ``draw_convergence(ax, trace)`` draws the best artifact
against network evaluations. ``plot_image`` renders either into a 2-D grayscale tensor, so the
worst-case panel (``layouts.worst_case_rows``) can show it as one more cell.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch


def draw_robustness(ax: Any, curves: dict[str, Any]) -> None:
    """Log-log worst artifact vs eps on a matplotlib ``ax``.

    ``curves``: ``{"x": [eps...], "series": {name: [artifact...]}}`` (``CheckResult.curves`` of a
    robustness curve); non-positive values are left out (log axes).
    """
    eps = np.asarray(curves["x"], dtype=float)
    styles = [("-", "o"), ("--", "s"), ("-.", "^"), (":", "v")]  # told apart in grayscale too
    for k, (name, values) in enumerate(curves["series"].items()):
        v = np.asarray([np.nan if u is None else u for u in values], dtype=float)
        ok = np.isfinite(v) & (v > 0) & (eps > 0)
        line, marker = styles[k % len(styles)]
        ax.loglog(eps[ok], v[ok], linestyle=line, marker=marker, color="black", label=str(name))
    ax.loglog(eps, eps, linestyle=":", color="gray", label="artifact = eps")  # an isometry, for scale
    ax.set_xlabel(str(curves.get("xlabel") or "eps"))
    ax.set_ylabel(str(curves.get("ylabel") or "worst artifact"))
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)


def draw_convergence(ax: Any, trace: dict[str, Any]) -> None:
    """Best artifact so far vs network evaluations (``figure["convergence"]`` of a worst case)."""
    ax.plot(trace["evaluations"], trace["artifact"], color="black")
    last = trace["evaluations"][-1] if trace["evaluations"] else 0
    ax.axvline(0.75 * last, linestyle=":", color="gray", label="last quarter")
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel("network evaluations")
    ax.set_ylabel("best artifact")
    ax.legend(fontsize=7)


def plot_image(draw: Callable[[Any, dict[str, Any]], None], data: dict[str, Any], size: float = 3.0) -> torch.Tensor:
    """``draw(ax, data)`` rendered off-screen (Agg) into a grayscale ``[H, W]`` float32 tensor in [0, 1]."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size, size), dpi=80)
    canvas = FigureCanvasAgg(fig)
    draw(fig.add_subplot(1, 1, 1), data)
    fig.tight_layout()
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba(), dtype=np.float32) / 255.0
    return torch.from_numpy(rgba[..., :3].mean(-1).copy())


__all__ = ["draw_convergence", "draw_robustness", "plot_image"]
