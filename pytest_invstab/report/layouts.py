"""Panel rows of each check, built from its ``CheckResult`` (the checks themselves draw nothing).

A row is a list of ``(title, image)`` with 2-D real float32 CPU images, ready for
``panels.render_panel``. Each check puts the images of its shown (worst) case in
``result.images`` and the few facts the titles need in ``result.figure``; the functions here
choose the rows and titles, amplify a perturbation with its ×factor and cut the crops.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..result import CheckResult

Row = list[tuple[str, torch.Tensor]]

#: Pixels of context around a detail in the zoomed crops of ``detail_recovery`` (at least).
CROP_MARGIN_PX = 3


# -- display helpers ----------------------------------------------------------------------------
def to_display(t: torch.Tensor) -> torch.Tensor:
    """A 2-D real float32 CPU tensor for a panel: magnitude of complex, leading size-1 dims dropped."""
    t = t.detach()
    while t.dim() > 2 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 2:
        raise ValueError(f"panel images must be 2-D, got shape {list(t.shape)}")
    if t.is_complex():
        t = t.abs()
    return t.to(device="cpu", dtype=torch.float32).contiguous()


def nice_factor(value: float) -> float:
    """``value`` rounded down to 1, 2 or 5 times a power of ten (at least 1)."""
    if not math.isfinite(value) or value <= 1:
        return 1.0
    exp = math.floor(math.log10(value))
    for m in (5, 2, 1):
        if m * 10**exp <= value:
            return float(m * 10**exp)
    return float(10**exp)  # pragma: no cover


def amplified(t: torch.Tensor, reference: torch.Tensor, fill: float = 0.5) -> tuple[torch.Tensor, float]:
    """``t`` multiplied by a round factor so its peak magnitude is about ``fill`` x the reference's peak.

    Returns ``(display image, factor)``; titles should state the factor (``factor_label``).
    """
    img, ref = to_display(t), to_display(reference)
    peak, ref_peak = float(img.abs().max()), float(ref.abs().max())
    factor = nice_factor(fill * ref_peak / peak) if peak > 0 else 1.0
    return img * factor, factor


def factor_label(name: str, factor: float) -> str:
    """Title of an amplified image: ``"r (×20)"`` (just ``name`` for a factor of 1)."""
    return name if factor == 1 else f"{name} (×{factor:g})"


def panel_row(*cells: tuple[str, torch.Tensor]) -> Row:
    """A panel row of ``(title, image)`` with every image converted by ``to_display``."""
    return [(str(title), to_display(img)) for title, img in cells]


# -- per check ------------------------------------------------------------------------------------
def worst_case_rows(result: CheckResult) -> list[Row]:
    """Rows like the paper's Fig. 1: inputs, network, baseline (, the paper's checkpoints).

    ``images``: ``x``, ``shown`` (``r``, or ``A*e`` in the measurement domain), ``f_clean``,
    ``f_perturbed``, optional ``baseline_clean`` / ``baseline_perturbed`` and ``shown<j>`` /
    ``output<j>`` per checkpoint; ``figure``: ``name`` ("r" or "A*e"), ``baseline`` ("CS" or "baseline").
    """
    im, name = result.images, result.figure["name"]
    xi, shown = im["x"], im["shown"]
    scaled, factor = amplified(shown, xi)
    rows = [
        panel_row(("x", xi), (f"x + {name}", xi + shown), (factor_label(name, factor), scaled)),
        panel_row(
            ("f(Ax)", im["f_clean"]),
            (f"f(A(x + {name}))", im["f_perturbed"]),
            (f"|f(A(x + {name})) − f(Ax)|", (im["f_perturbed"] - im["f_clean"]).abs()),
        ),
    ]
    if "baseline_clean" in im:
        b, clean, pert = result.figure["baseline"], im["baseline_clean"], im["baseline_perturbed"]
        rows.append(panel_row(
            (f"{b}(Ax)", clean), (f"{b}(A(x + {name}))", pert), (f"|{b}(A(x + {name})) − {b}(Ax)|", (pert - clean).abs()),
        ))
    checkpoints = range(1, 1 + sum(1 for k in im if k.startswith("output")))
    if len(checkpoints):
        rows.append(panel_row(*[(f"x + {name}{j}", xi + im[f"shown{j}"]) for j in checkpoints]))
        rows.append(panel_row(*[(f"f(A(x + {name}{j}))", im[f"output{j}"]) for j in checkpoints]))
    rows += _robustness_row(result)
    return rows


def _robustness_row(result: CheckResult) -> list[Row]:
    """The robustness curve (log-log) and the convergence trace as plot cells (report/robustness.py)."""
    from .robustness import draw_convergence, draw_robustness, plot_image

    cells = []
    if result.figure.get("robustness"):
        cells.append(("worst artifact vs eps (log-log)", plot_image(draw_robustness, result.figure["robustness"])))
    if result.figure.get("convergence", {}).get("evaluations"):
        cells.append(("search convergence", plot_image(draw_convergence, result.figure["convergence"])))
    return [panel_row(*cells)] if cells else []


def crop_box(bbox: tuple[int, int, int, int], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """``bbox`` (y0, x0, y1, x1) grown by a margin of at least ``CROP_MARGIN_PX``, inside ``shape``."""
    y0, x0, y1, x1 = bbox
    margin = max(CROP_MARGIN_PX, round(0.25 * max(y1 - y0, x1 - x0)))
    return max(0, y0 - margin), max(0, x0 - margin), min(shape[0], y1 + margin), min(shape[1], x1 + margin)


def detail_recovery_rows(result: CheckResult) -> list[Row]:
    """Rows like the paper's Fig. 5: ``[x + d, network, CS baseline]``, then a zoomed crop per detail.

    ``images``: ``x_with_details``, ``network``, optional ``baseline`` (the worst image);
    ``figure["baseline"]``: the baseline's title ("CS baseline" or "baseline <name>");
    the crops follow ``settings["detail_names"]`` and ``settings["detail_bboxes"]``.
    """
    im = result.images
    xd, net, base = im["x_with_details"], im["network"], im.get("baseline")
    title = result.figure.get("baseline", "CS baseline")  # "CS baseline" or "baseline <name>"
    row = [("x + d (truth)", xd), ("network f(A(x + d))", net)] + ([(title, base)] if base is not None else [])
    rows = [panel_row(*row)]
    shape = tuple(xd.shape[-2:])
    for name, bbox in zip(result.settings["detail_names"], result.settings["detail_bboxes"]):
        y0, x0, y1, x1 = crop_box(tuple(bbox), shape)  # type: ignore[arg-type]
        crop = [(f"{name}: truth", xd[y0:y1, x0:x1]), (f"{name}: network", net[y0:y1, x0:x1])]
        if base is not None:
            crop.append((f"{name}: {title}", base[y0:y1, x0:x1]))
        rows.append(panel_row(*crop))
    return rows


def more_samples_rows(result: CheckResult) -> list[Row]:
    """The reference, then per shown rate (smallest, trained or operator's, largest) network and CS baseline.

    ``images``: ``reference`` and ``network@<i>`` / ``baseline@<i>`` per shown rate index ``i``;
    ``figure["shown"]``: ``[{"index", "rate", "role", "psnr", "baseline_psnr"}]`` (dB, the worst image).
    """
    rows = [panel_row(("reference x", result.images["reference"]))]
    for s in result.figure["shown"]:
        r, i = s["rate"], s["index"]
        row = [(f"network, rate {r:.3g} ({s['role']}), {s['psnr']:.1f} dB", result.images[f"network@{i}"])]
        if f"baseline@{i}" in result.images:
            title = result.figure.get("baseline", "CS baseline")  # "CS baseline" or "baseline <name>"
            row.append((f"{title}, rate {r:.3g}, {s['baseline_psnr']:.1f} dB", result.images[f"baseline@{i}"]))
        rows.append(panel_row(*row))
    return rows


LAYOUTS: dict[str, Callable[[CheckResult], list[Row]]] = {
    "worst_case": worst_case_rows,
    "detail_recovery": detail_recovery_rows,
    "more_samples": more_samples_rows,
}


def panel_rows(result: CheckResult) -> list[Row]:
    """The panel of ``result``: its explicit ``panel`` if given, else its check's layout (``[]``: none)."""
    if result.panel:
        return result.panel
    layout = LAYOUTS.get(result.check)
    return layout(result) if layout is not None and result.images else []


__all__ = ["CROP_MARGIN_PX", "LAYOUTS", "amplified", "crop_box", "detail_recovery_rows", "factor_label",
           "more_samples_rows", "nice_factor", "panel_row", "panel_rows", "to_display", "worst_case_rows"]
