"""Panel rows of each check, built from its ``CheckResult`` (the checks themselves draw nothing).

A row is a list of cells ``(title, image)`` with 2-D real float32 CPU images (``panels.Cell``,
which unpacks the same way and adds a colour-bar label, boxes or a curve), ready for
``panels.render_panel``; ``panel_title`` is the figure's title (test id, key number, limit, eps).
To add a drawing to a check's panel, append a row (or a ``Cell(title, curve=...)``) in its layout. Each check puts the images of its shown (worst) case in
``result.images`` and the few facts the titles need in ``result.figure``; the functions here
choose the rows and titles, amplify a perturbation with its ×factor and cut the crops.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..result import CheckResult
from .panels import Cell
from .records import format_number, key_threshold, unit_of

Row = list[tuple[str, torch.Tensor]]
NBSP = "\u00a0"  # joins a number and its unit, so a title never wraps between them

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


def panel_row(*cells: tuple[str, torch.Tensor], kind: str | None = None) -> Row:
    """A panel row of ``(title, image)`` cells, every image converted by ``to_display``.

    ``kind``: ``"image"`` or ``"difference"`` for every cell of the row (``panels.Cell``); ``None`` decides per cell.
    """
    return [Cell(title, to_display(img), kind=kind) for title, img in cells]


# -- titles ---------------------------------------------------------------------------------------
def _num(value: float, unit: str = "") -> str:
    return format_number(value, unit).replace(" ", NBSP)


def panel_title(result: CheckResult, test_id: str = "") -> str:
    """Two lines: the test id; the check, verdict, key number against its limit (and eps, criteria)."""
    key = result.key_metric
    unit = unit_of(key)
    value = result.metrics.get(key, float("nan"))
    line = f"{result.check} {result.verdict.upper()}: {key} {_num(value, unit)}"
    record = {"key_metric": key, "thresholds": result.thresholds, "better": result.better}
    thr = key_threshold(record)
    if thr:
        ok = (value <= thr[2]) if thr[1] == "<=" else (value >= thr[2])
        sym = {("<=", True): "≤", ("<=", False): ">", (">=", True): "≥", (">=", False): "<"}[(thr[1], bool(ok))]
        line += f" {sym} {thr[0]} {_num(thr[2], unit)}"
    if "eps" in result.metrics:
        line += f" at eps {_num(result.metrics['eps'])}"
    base = result.baseline.get(key)
    if isinstance(base, float) and math.isfinite(base):
        line += f"; CS baseline {_num(base, unit)}"
    if result.failed_criteria and result.failed_criteria != [thr[0] if thr else None]:
        line += f"; failed on {', '.join(result.failed_criteria)}"
    return f"{test_id}\n{line}" if test_id else line


# -- per check ------------------------------------------------------------------------------------
def worst_case_rows(result: CheckResult) -> list[Row]:
    """Rows like the paper's Fig. 1: inputs, network, baseline (, the paper's checkpoints).

    ``images``: ``x``, ``shown`` (``r``, or ``A*e`` in the measurement domain), ``f_clean``,
    ``f_perturbed``, optional ``baseline_clean`` / ``baseline_perturbed`` and ``shown<j>`` /
    ``output<j>`` per checkpoint; ``figure``: ``name`` ("r" or "A*e"), ``baseline`` ("CS" or "baseline").
    Colour bars are in image units; the amplified perturbation's bar states its factor.
    """
    im, name = result.images, result.figure["name"]
    xi, shown = im["x"], im["shown"]
    scaled, factor = amplified(shown, xi)
    scale_note = f"{name}, image units" + (f" (colours ×{factor:g})" if factor != 1 else "")
    rows = [
        [Cell("x", to_display(xi), kind="image"), Cell(f"x + {name}", to_display(xi + shown), kind="image"),
         Cell(factor_label(name, factor), scaled, kind="difference", cbar=scale_note, cbar_divide=factor)],
        [Cell("f(Ax)", to_display(im["f_clean"]), kind="image"),
         Cell(f"f(A(x + {name}))", to_display(im["f_perturbed"]), kind="image"),
         Cell(f"|f(A(x + {name})) − f(Ax)|", to_display((im["f_perturbed"] - im["f_clean"]).abs()),
              kind="difference", cbar="|difference|, image units")],
    ]
    if "baseline_clean" in im:
        b, clean, pert = result.figure["baseline"], im["baseline_clean"], im["baseline_perturbed"]
        rows.append([Cell(f"{b}(Ax)", to_display(clean), kind="image"),
                     Cell(f"{b}(A(x + {name}))", to_display(pert), kind="image"),
                     Cell(f"|{b}(A(x + {name})) − {b}(Ax)|", to_display((pert - clean).abs()), kind="difference",
                          cbar="|difference|, image units")])
    checkpoints = range(1, 1 + sum(1 for k in im if k.startswith("output")))
    if len(checkpoints):
        rows.append(panel_row(*[(f"x + {name}{j}", xi + im[f"shown{j}"]) for j in checkpoints], kind="image"))
        rows.append(panel_row(*[(f"f(A(x + {name}{j}))", im[f"output{j}"]) for j in checkpoints], kind="image"))
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
    return [panel_row(*cells, kind="image")] if cells else []


def crop_box(bbox: tuple[int, int, int, int], shape: tuple[int, int], side: int | None = None) -> tuple[int, int, int, int]:
    """``bbox`` (y0, x0, y1, x1) grown by a margin of at least ``CROP_MARGIN_PX``, inside ``shape``.

    With ``side``: a ``side`` x ``side`` square centred on the bbox (shifted to stay inside), so
    that every crop of a panel has the same size.
    """
    y0, x0, y1, x1 = bbox
    if side is None:
        margin = max(CROP_MARGIN_PX, round(0.25 * max(y1 - y0, x1 - x0)))
        return max(0, y0 - margin), max(0, x0 - margin), min(shape[0], y1 + margin), min(shape[1], x1 + margin)
    out = []
    for lo, hi, n in ((y0, y1, shape[0]), (x0, x1, shape[1])):
        s = min(side, n)
        start = min(max(0, (lo + hi - s) // 2), n - s)
        out.append((start, start + s))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def detail_recovery_rows(result: CheckResult) -> list[Row]:
    """Rows like the paper's Fig. 5: ``[x + d, network, CS baseline]``, then a zoomed crop per detail.

    ``images``: ``x_with_details``, ``network``, optional ``baseline`` (the worst image);
    the crops follow ``settings["detail_names"]`` and ``settings["detail_bboxes"]``; all crops
    have one size, and boxes on the first image show where each is. Crop titles give each
    detail's recovery (the worst over images, ``recovery_<name>``).
    """
    im = result.images
    xd, net, base = im["x_with_details"], im["network"], im.get("baseline")
    title = result.figure.get("baseline", "CS baseline")  # "CS baseline" or "baseline <name>"
    shape = tuple(xd.shape[-2:])
    names, bboxes = result.settings["detail_names"], [tuple(b) for b in result.settings["detail_bboxes"]]
    side = max((max(y1 - y0, x1 - x0) + 2 * max(CROP_MARGIN_PX, round(0.25 * max(y1 - y0, x1 - x0)))
                for y0, x0, y1, x1 in bboxes), default=0)
    crops = [crop_box(b, shape, side) for b in bboxes]  # type: ignore[arg-type]
    boxes = [(y0, x0, y1, x1, n) for n, (y0, x0, y1, x1) in zip(names, crops)]
    rows: list[Row] = [[Cell("x + d (truth)", to_display(xd), kind="image", boxes=boxes),
                        Cell("network f(A(x + d))", to_display(net), kind="image")]
                       + ([Cell(title, to_display(base), kind="image")] if base is not None else [])]
    for name, (y0, x0, y1, x1) in zip(names, crops):
        score, base_score = result.metrics.get(f"recovery_{name}"), result.baseline.get(f"recovery_{name}")
        crop = [(f"{name}: truth", xd[y0:y1, x0:x1]),
                (f"{name}: network" + (f", recovery {_num(score)}" if score is not None else ""), net[y0:y1, x0:x1])]
        if base is not None:
            crop.append((f"{name}: {title}" + (f", {_num(base_score)}" if base_score is not None else ""),
                         base[y0:y1, x0:x1]))
        rows.append(panel_row(*crop, kind="image"))
    return rows


def _rate_label(result: CheckResult, index: int, rate: float) -> str:
    """``"rate 0.25"``, or ``"12 angles"`` where the operators are Radon (angle counts, not fractions)."""
    ops = result.settings.get("operators") or []
    op = ops[index] if index < len(ops) and isinstance(ops[index], dict) else {}
    if op.get("n_angles") is not None:
        return f"{int(op['n_angles'])}{NBSP}angles"
    return f"rate {rate:.3g}"


def _samples_curve(result: CheckResult) -> dict | None:
    curves = dict(result.curves or {})
    if not curves.get("series"):
        return None
    ops = result.settings.get("operators") or []
    if ops and all(isinstance(o, dict) and o.get("n_angles") is not None for o in ops) and len(ops) == len(curves["x"]):
        angles = [int(o["n_angles"]) for o in ops]
        vline = curves.get("vline")
        if isinstance(vline, (int, float)):  # the reference rate, as an angle count
            ratio = angles[-1] / float(curves["x"][-1]) if curves["x"][-1] else 0
            curves["vline"] = vline * ratio
        curves.update(x=angles, xlabel="angles")
    return curves


def more_samples_rows(result: CheckResult) -> list[Row]:
    """The reference next to the PSNR curve (mean over images), then per shown rate network and CS baseline.

    ``images``: ``reference`` and ``network@<i>`` / ``baseline@<i>`` per shown rate index ``i``;
    ``figure["shown"]``: ``[{"index", "rate", "role", "psnr", "baseline_psnr"}]`` (dB, the shown image).
    Image titles give that image's PSNR; the curve is the mean over images (said in its title).
    """
    n_images = max(1, len(result.per_image))
    worst = result.settings.get("worst_image", 0)
    which = f"image{NBSP}{worst} (worst{NBSP}of{NBSP}{n_images})" if n_images > 1 else "the image"
    first = [Cell(f"reference x: {which}", to_display(result.images["reference"]), kind="image")]
    curve = _samples_curve(result)
    if curve is not None:
        mean = f"mean of {n_images} images" if n_images > 1 else "1 image"
        first.append(Cell(f"PSNR against {curve.get('xlabel', 'rate')} ({mean})", None, curve=curve))
    rows = [first]
    for s in result.figure["shown"]:
        r, i = s["rate"], s["index"]
        label = _rate_label(result, i, r)
        row = [(f"network, {label} ({s['role']}), {_num(s['psnr'], 'dB')}", result.images[f"network@{i}"])]
        if f"baseline@{i}" in result.images:
            title = result.figure.get("baseline", "CS baseline")  # "CS baseline" or "baseline <name>"
            row.append((f"{title}, {label}, {_num(s['baseline_psnr'], 'dB')}", result.images[f"baseline@{i}"]))
        rows.append(panel_row(*row, kind="image"))
    return rows


LAYOUTS: dict[str, Callable[[CheckResult], list[Row]]] = {
    "worst_case": worst_case_rows,
    "detail_recovery": detail_recovery_rows,
    "more_samples": more_samples_rows,
}
#: Checks whose layout draws ``result.curves`` inside the panel (no separate ``curves.png``).
CURVES_IN_PANEL = {"more_samples"}


def panel_rows(result: CheckResult) -> list[Row]:
    """The panel of ``result``: its explicit ``panel`` if given, else its check's layout (``[]``: none)."""
    if result.panel:
        return result.panel
    layout = LAYOUTS.get(result.check)
    return layout(result) if layout is not None and result.images else []


__all__ = ["CROP_MARGIN_PX", "CURVES_IN_PANEL", "LAYOUTS", "amplified", "crop_box", "detail_recovery_rows",
           "factor_label", "more_samples_rows", "nice_factor", "panel_row", "panel_rows", "panel_title", "to_display",
           "worst_case_rows"]
