"""The ``detail_recovery`` check: does the network still show a small, clearly visible detail?

Antun et al. (PNAS 2020, Fig. 5) add card symbols and the text "CAN U SEE IT" to an image
``x`` and look whether ``f(A(x + d))`` shows them, next to a compressed-sensing (CS) method on
the same measurements. This check does that and scores each detail.

Recovered difference
    ``Δ = f(A(x + d)) − f(A x)`` (for complex outputs ``|f(A(x + d))| − |f(A x)|``, the change a
    reader sees in the magnitude image), compared with the inserted change ``t = d`` (for complex
    outputs ``t = |x + d| − |x|``, which is ``d`` for non-negative images and details).

Score, per detail and image, on the detail's support dilated by ``SUPPORT_DILATION_PX`` = 1
pixel (``S``; the dilation catches a detail that is smeared out). For two fields ``a`` (recovered)
and ``b`` (inserted) on ``S`` let ``correlation = <a, b> / (||a|| ||b||)`` (cosine similarity:
the shape is right), ``gain = <a, b> / ||b||²`` (the fraction of the amplitude kept: 1 = all,
< 1 washed out, > 1 exaggerated, < 0 inverted) and
``similarity = correlation · min(|gain|, 1 / |gain|)`` in [-1, 1] (0: the detail vanished,
< 0: it was inverted). Then

* ``intensity_recovery`` = similarity of ``Δ`` and ``t`` (metrics ``correlation``, ``contrast``);
* ``edge_recovery`` = similarity of their edge images: gradients after a Gaussian blur of
  ``EDGE_SIGMA_PX`` = 1 pixel (metrics ``edge_correlation``, ``edge_contrast``). Whether a reader
  can *recognise* the detail depends on its edges: a blur keeps a blob of roughly the right
  brightness (intensity recovery 0.6) but loses the edges (edge recovery 0.3 for a Gaussian
  blur of 2 pixels on the default symbols), while incoherent CS errors leave both fairly intact;
* ``recovery = min(intensity_recovery, edge_recovery)``: at most 1, and 1 only for a perfect
  recovery ``Δ = t`` on ``S``;
* ``detail_error = ||Δ − t||_S / ||t||_S`` (relative error on ``S``, dimensionless; reported only).

The key metric ``recovery`` is the worst (smallest) score over every detail and image. Measured
on Shepp-Logan 128 x 128 with the default symbols (0.5 x the dynamic range, seeds 0-3): a perfect
reconstructor 1.00; ``CSBaseline()`` (TV) from 33 % Cartesian Fourier 0.99, its l1-wavelet
variant 0.60-0.65; zero-filling at 33 % 0.62-0.64; Gaussian blur of a full-data reconstruction, sigma 1 / 1.5 / 2 / 3 pixels: 0.71 / 0.49-0.50
/ 0.34 / 0.18.
Hence the default ``min_recovery`` of 0.5. At 64 x 64 the symbols are 7 pixels tall and even l1-wavelet
CS scores about 0.4: prefer images of at least 128 pixels (or pass larger details).
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..errors import InvalidInputError
from ..images import Detail, default_details, insert_details
from ..operators.base import LinearOperator
from ..result import HIGHER_IS_BETTER, LOWER_IS_BETTER, CheckResult
from . import _common as C

#: Default ``min_recovery`` (dimensionless score, see the module docstring).
DEFAULT_MIN_RECOVERY = 0.5
#: Default detail amplitude: this fraction of each image's dynamic range ``max|x| − min|x|``.
DEFAULT_INTENSITY_FRACTION = 0.5
#: Pixels by which a detail's support is dilated before scoring (catches smeared details).
SUPPORT_DILATION_PX = 1
#: Pixels of context around a detail in the zoomed crops of the panel (at least).
CROP_MARGIN_PX = 3
#: A pattern value counts as part of a detail's support above this fraction of its peak.
SUPPORT_THRESHOLD = 1e-3

#: Gaussian smoothing (pixels) of the edge images used by the edge score (damps pixel noise).
EDGE_SIGMA_PX = 1.0

_KINDS = ("symbols", "text", "all")


# -- details --------------------------------------------------------------------------------
def _bbox(support: torch.Tensor) -> tuple[int, int, int, int]:
    ys, xs = torch.nonzero(support, as_tuple=True)
    return int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1


def _place(pattern: torch.Tensor, support: torch.Tensor | None, shape: tuple[int, int], name: str) -> Detail:
    """A ``Detail`` on an image of ``shape``: pattern scaled to peak |value| 1, centred if smaller."""
    h, w = shape
    if pattern.dim() != 2 or pattern.is_complex():
        raise InvalidInputError(
            f"detail {name!r} must be a real 2-D tensor [H, W], got {pattern.dtype} of shape {list(pattern.shape)}"
        )
    ph, pw = pattern.shape
    if ph > h or pw > w:
        raise InvalidInputError(
            f"detail {name!r} has shape [{ph}, {pw}] but the images are [{h}, {w}]; a detail must fit "
            "in the image: crop or resize it (a smaller detail is centred)"
        )
    pattern = pattern.detach().to("cpu", torch.float32)
    if not torch.isfinite(pattern).all():
        raise InvalidInputError(f"detail {name!r} contains NaN or Inf values; pass a finite pattern")
    peak = float(pattern.abs().max())
    if peak == 0:
        raise InvalidInputError(f"detail {name!r} is all zero; pass a pattern with a visible (non-zero) part")
    pattern = pattern / peak
    sup = pattern != 0
    if support is not None:
        support = torch.as_tensor(support).detach().to("cpu").bool()
        if tuple(support.shape) != (ph, pw):
            raise InvalidInputError(
                f"detail {name!r}: support has shape {list(support.shape)} but pattern {[ph, pw]}; make them equal"
            )
        sup = support | (pattern.abs() > SUPPORT_THRESHOLD)
    if (ph, pw) != (h, w):
        top, left = (h - ph) // 2, (w - pw) // 2
        full = torch.zeros((h, w), dtype=pattern.dtype)
        full[top:top + ph, left:left + pw] = pattern
        full_sup = torch.zeros((h, w), dtype=torch.bool)
        full_sup[top:top + ph, left:left + pw] = sup
        pattern, sup = full, full_sup
    return Detail(str(name), pattern, sup, _bbox(sup))


def _clean_name(name: str) -> str:
    """A metric-key-safe name: lower case letters, digits and underscores."""
    text = re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")
    return text or "detail"


def resolve_details(details: Any, shape: tuple[int, int], seed: int = 0) -> list[Detail]:
    """Details from ``"symbols"`` / ``"text"`` / ``"all"``, a tensor ``[h, w]``, a ``Detail``, or a list.

    Returns ``pytest_invstab.images.Detail`` objects on the image grid ``shape`` (pixels), each
    pattern scaled to a peak |value| of 1 (so the check's ``intensity`` is the detail's peak
    amplitude); smaller patterns are centred; names are made unique and metric-key safe.
    Non-square images get the default details of a ``min(H, W)`` square, centred.
    """
    if isinstance(details, str):
        if details not in _KINDS:
            raise InvalidInputError(
                "details must be 'symbols', 'text', 'all', a tensor [H, W] or a list of tensors / Detail, "
                f"got {details!r}"
            )
        items: Sequence[Any] = default_details(details, size=min(shape), seed=seed)
    elif isinstance(details, (torch.Tensor, Detail)):
        items = [details]
    elif isinstance(details, (list, tuple)):
        items = details
        if not items:
            raise InvalidInputError("details is an empty list; pass at least one detail (or details='symbols')")
    else:
        raise InvalidInputError(
            "details must be 'symbols', 'text', 'all', a tensor [H, W] or a list of tensors / Detail, "
            f"got {type(details).__name__}"
        )
    resolved = []
    for i, item in enumerate(items):
        if isinstance(item, torch.Tensor):
            resolved.append(_place(item, None, shape, f"detail{i}"))
        elif isinstance(item, Detail):
            resolved.append(_place(torch.as_tensor(item.pattern), item.support, shape, item.name))
        else:
            raise InvalidInputError(
                f"details[{i}] is a {type(item).__name__}; pass tensors [H, W] or pytest_invstab.images.Detail"
            )
    seen: dict[str, int] = {}
    out = []
    for det in resolved:
        base = _clean_name(det.name)
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base}_{seen[base]}"
        out.append(Detail(name, det.pattern, det.support, det.bbox))
    return out


# -- scoring --------------------------------------------------------------------------------
def dilate(support: torch.Tensor, pixels: int = SUPPORT_DILATION_PX) -> torch.Tensor:
    """Binary dilation of a bool ``[H, W]`` mask by a ``(2 pixels + 1)`` square."""
    if pixels <= 0:
        return support.clone()
    k = 2 * pixels + 1
    out = F.max_pool2d(support[None, None].to(torch.float32), k, stride=1, padding=pixels)
    return out[0, 0] > 0


def _smooth(t: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``[B, H, W]`` (reflected borders)."""
    if sigma <= 0:
        return t
    r = max(1, math.ceil(3 * sigma))
    r = min(r, t.shape[-1] - 1, t.shape[-2] - 1)
    k = torch.arange(-r, r + 1, dtype=t.dtype, device=t.device)
    g = torch.exp(-(k**2) / (2 * sigma**2))
    g = g / g.sum()
    z = F.pad(t[:, None], (r, r, r, r), mode="reflect")
    z = F.conv2d(z, g.view(1, 1, -1, 1))
    return F.conv2d(z, g.view(1, 1, 1, -1))[:, 0]


def _edges(t: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients (forward differences, 0 at the last row/column) of the smoothed images."""
    s = _smooth(t, sigma)
    gx = F.pad(s[..., :, 1:] - s[..., :, :-1], (0, 1))
    gy = F.pad(s[..., 1:, :] - s[..., :-1, :], (0, 0, 0, 1))
    return gx, gy


def _similarity(d: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(correlation, gain, score)`` of rows ``d`` against rows ``t`` (``[B, n]``)."""
    inner = (d * t).sum(1)
    tn = t.norm(dim=1)
    dn = d.norm(dim=1)
    tiny = torch.finfo(d.dtype).tiny
    correlation = torch.where(dn > 0, inner / (dn * tn).clamp_min(tiny), torch.zeros_like(inner))
    gain = inner / (tn**2).clamp_min(tiny)
    # min(|g|, 1/|g|) penalises a washed-out and an exaggerated detail alike; the sign of the
    # correlation (= the sign of g) makes an inverted detail score below 0.
    size = gain.abs().clamp_min(tiny)
    return correlation, gain, correlation * torch.minimum(size, 1 / size)


def detail_scores(delta: torch.Tensor, target: torch.Tensor, region: torch.Tensor,
                  edge_sigma: float = EDGE_SIGMA_PX) -> dict[str, torch.Tensor]:
    """Scores of a recovered change ``delta`` against the inserted change ``target`` on ``region``.

    ``delta``, ``target``: real ``[B, H, W]`` (image units); ``region``: bool ``[H, W]``.
    Returns ``[B]`` float64 tensors (dimensionless): ``correlation``, ``contrast``,
    ``intensity_recovery``, ``edge_correlation``, ``edge_contrast``, ``edge_recovery``,
    ``recovery`` (the smaller of the two recoveries) and ``detail_error``; see the module docstring.
    """
    delta, target = delta.to(torch.float64), target.to(torch.float64)
    d, t = delta[:, region], target[:, region]
    correlation, contrast, intensity = _similarity(d, t)
    dx, dy = _edges(delta, edge_sigma)
    tx, ty = _edges(target, edge_sigma)
    de = torch.cat([dx[:, region], dy[:, region]], 1)
    te = torch.cat([tx[:, region], ty[:, region]], 1)
    e_corr, e_contrast, edge = _similarity(de, te)
    # A detail without edges in the region (it fills the whole image) is judged on intensity alone.
    flat = te.norm(dim=1) == 0
    edge = torch.where(flat, intensity, edge)
    return {
        "correlation": correlation,
        "contrast": contrast,
        "intensity_recovery": intensity,
        "edge_correlation": e_corr,
        "edge_contrast": e_contrast,
        "edge_recovery": edge,
        "recovery": torch.minimum(intensity, edge),
        "detail_error": (d - t).norm(dim=1) / t.norm(dim=1).clamp_min(torch.finfo(d.dtype).tiny),
    }


def _magnitude(t: torch.Tensor) -> torch.Tensor:
    return t.abs() if t.is_complex() else t


def _changes(clean: torch.Tensor, perturbed: torch.Tensor, x: torch.Tensor,
             xd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Δ, t)`` real ``[B, H, W]``: magnitudes where the reconstruction is complex."""
    if clean.is_complex() or perturbed.is_complex():
        return perturbed.abs() - clean.abs(), xd.abs() - x.abs()
    target = (xd - x).real if xd.is_complex() else xd - x
    return perturbed - clean, target


def _score_all(clean: torch.Tensor, perturbed: torch.Tensor, x: torch.Tensor, xd: torch.Tensor,
               regions: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Scores ``[n_details, B]`` for every detail region."""
    delta, target = _changes(clean, perturbed, x, xd)
    per = [detail_scores(delta, target, r.to(delta.device)) for r in regions]
    return {k: torch.stack([p[k] for p in per]).cpu() for k in per[0]}


# -- argument checks -----------------------------------------------------------------------------
def _check_min_recovery(value: Any) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if not ok or float(value) > 1:
        raise InvalidInputError(
            f"min_recovery must be a finite number <= 1 (the recovery score is at most 1 = perfect), got {value!r}; "
            f"the default is {DEFAULT_MIN_RECOVERY}"
        )
    return float(value)


def _intensities(intensity: Any, x: torch.Tensor) -> torch.Tensor:
    """Detail amplitude per image ``[B]`` in image units."""
    if intensity is None:
        mag = _magnitude(x).reshape(x.shape[0], -1)
        rng = (mag.amax(1) - mag.amin(1)).to(torch.float64)
        # A constant image has no range: fall back to its level.
        rng = torch.where(rng > 0, rng, mag.amax(1).to(torch.float64))
        return DEFAULT_INTENSITY_FRACTION * rng
    value = C.positive("intensity", intensity, unit="amplitude of the detail in image intensity units")
    return torch.full((x.shape[0],), value, dtype=torch.float64, device=x.device)


# -- panel --------------------------------------------------------------------------------------
def _crop_box(bbox: tuple[int, int, int, int], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    y0, x0, y1, x1 = bbox
    margin = max(CROP_MARGIN_PX, round(0.25 * max(y1 - y0, x1 - x0)))
    return max(0, y0 - margin), max(0, x0 - margin), min(shape[0], y1 + margin), min(shape[1], x1 + margin)


def _panel(b: int, xd: torch.Tensor, net: torch.Tensor, base: torch.Tensor | None,
           details: list[Detail], base_label: str) -> list[list[tuple[str, torch.Tensor]]]:
    shape = tuple(xd.shape[-2:])
    row = [("x + d (truth)", xd[b]), ("network f(A(x + d))", net[b])]
    if base is not None:
        row.append((base_label, base[b]))
    rows = [C.panel_row(*row)]
    for det in details:
        y0, x0, y1, x1 = _crop_box(det.bbox, shape)  # type: ignore[arg-type]
        crop = [(f"{det.name}: truth", xd[b, y0:y1, x0:x1]), (f"{det.name}: network", net[b, y0:y1, x0:x1])]
        if base is not None:
            crop.append((f"{det.name}: CS baseline", base[b, y0:y1, x0:x1]))
        rows.append(C.panel_row(*crop))
    return rows


# -- the check ------------------------------------------------------------------------------------
def detail_recovery(
    reconstructor: Any,
    operator: LinearOperator,
    images: torch.Tensor,
    *,
    details: Any = "symbols",
    min_recovery: float = DEFAULT_MIN_RECOVERY,
    intensity: float | None = None,
    baseline: Any = "default",
    baseline_margin: float | None = None,
    budget: Any = "standard",
    seed: int = 0,
) -> CheckResult:
    """Insert visible details into ``images`` and check that the reconstructor recovers them.

    Parameters
    ----------
    reconstructor: ``f(y, op) -> image`` (or a ``torch.nn.Module``); frozen and restored.
    operator: the measurement operator ``A``; images ``[B, *operator.image_shape]``.
    images: reference images ``[B, H, W]`` (or one ``[H, W]``), real (or complex for Fourier).
    details: ``"symbols"`` (card symbols), ``"text"`` ("CAN U SEE IT"), ``"all"``, a real tensor
        ``[h, w]`` (centred if smaller than the image), a ``Detail``, or a list of those.
        Patterns are scaled to a peak |value| of 1; placement of the defaults follows ``seed``.
    min_recovery: fail when the worst recovery score is below this (dimensionless, <= 1;
        default 0.5, see the module docstring for measured values).
    intensity: the details' amplitude in image intensity units; ``None`` =
        ``DEFAULT_INTENSITY_FRACTION`` (0.5) times each image's dynamic range ``max|x| − min|x|``.
    baseline: ``"default"`` (``CSBaseline()``), ``None`` (no baseline) or a callable ``f(y, op)``.
    baseline_margin: if given, also fail when ``recovery < baseline recovery − baseline_margin``.
    budget: recorded for the report (this check runs no search).
    seed: seed of the default details' placement.

    Returns a ``CheckResult``: key metric ``recovery`` (the worst detail and image, higher is
    better), ``recovery_<name>`` per detail (worst over images), ``intensity_recovery``,
    ``edge_recovery``, ``correlation``, ``contrast``, ``edge_correlation``, ``edge_contrast`` at
    the worst detail, ``detail_error`` (largest), ``baseline_recovery``; the baseline's values of
    the same metrics in ``baseline``; a panel like the paper's Fig. 5 for the worst image (row
    ``[x + d, network, CS baseline]``, then zoomed crops of each detail).
    """
    f = C.check_reconstructor(reconstructor)
    op = C.check_operator(operator)
    seed = C.check_seed(seed)
    if len(op.image_shape) != 2:
        raise InvalidInputError(
            f"detail_recovery needs 2-D images; the operator's image shape is {list(op.image_shape)}"
        )
    x = C.as_image_batch(images, op)
    min_recovery = _check_min_recovery(min_recovery)
    margin = None if baseline_margin is None else C.positive(
        "baseline_margin", baseline_margin, allow_zero=True, unit="recovery score")
    budget_obj = C.resolve_budget(budget)
    base_f = C.resolve_baseline(baseline)
    base_label = C.baseline_label(base_f) if base_f is not None else "none"
    shape = (int(op.image_shape[0]), int(op.image_shape[1]))
    dets = resolve_details(details, shape, seed)
    clock = C.Stopwatch(op.device)

    amp = _intensities(intensity, x)
    parts = [insert_details(x[b:b + 1], dets, float(amp[b])) for b in range(x.shape[0])]
    xd = torch.cat([p[0] for p in parts])
    d = torch.cat([p[1] for p in parts])
    regions = [dilate(det.support).to(x.device) for det in dets]

    n = x.shape[0]
    with torch.no_grad():
        y = op(torch.cat([x, xd]))  # one batched call: clean images first, then with details
    with clock("network_s"):
        out = C.run_reconstructor(f, y, op)
    net_clean, net_det = out[:n], out[n:]
    scores = _score_all(net_clean, net_det, x, xd, regions)

    base_scores = None
    base_clean = base_det = None
    if base_f is not None:
        with clock("baseline_s"):
            bout = C.run_reconstructor(base_f, y, op)
        base_clean, base_det = bout[:n], bout[n:]
        base_scores = _score_all(base_clean, base_det, x, xd, regions)

    metrics, (k_worst, b_worst) = _summary(scores, dets)
    recovery = metrics["recovery"]
    worst_name = dets[k_worst].name
    better = {"recovery": HIGHER_IS_BETTER, "intensity_recovery": HIGHER_IS_BETTER,
              "edge_recovery": HIGHER_IS_BETTER, "detail_error": LOWER_IS_BETTER}
    better.update({f"recovery_{det.name}": HIGHER_IS_BETTER for det in dets})
    thresholds: dict[str, float] = {"recovery": min_recovery}

    base_metrics: dict[str, float] = {}
    base_rec = None
    if base_scores is not None:
        base_metrics, _ = _summary(base_scores, dets)
        base_rec = base_metrics["recovery"]
        metrics["baseline_recovery"] = base_rec

    passed = recovery >= min_recovery
    reasons = []
    if not passed:
        reasons.append(f"recovery {C.fmt(recovery)} < min_recovery {C.fmt(min_recovery)} (worst: {worst_name})")
    if margin is not None:
        thresholds["baseline_margin"] = margin
        if base_rec is not None and recovery < base_rec - margin:
            passed = False
            reasons.append(
                f"recovery {C.fmt(recovery)} < CS baseline {C.fmt(base_rec)} - baseline_margin {C.fmt(margin)} "
                f"(worst: {worst_name})"
            )
    if passed:
        message = f"recovery {C.fmt(recovery)} >= min_recovery {C.fmt(min_recovery)} (worst: {worst_name})"
    else:
        message = "; ".join(reasons)
    if base_rec is not None and "CS baseline" not in message:
        message += f"; CS baseline {C.fmt(base_rec)}"

    per_image_cols: dict[str, Any] = {
        "recovery": scores["recovery"].min(0).values,
        "detail_error": scores["detail_error"].max(0).values,
    }
    if base_scores is not None:
        per_image_cols["baseline_recovery"] = base_scores["recovery"].min(0).values
    panel = _panel(b_worst, xd, net_det, base_det, dets, "CS baseline")

    arrays = {
        "images": x.detach().cpu(),
        "details": d.detach().cpu(),
        "network_with_details": net_det.cpu(),
        "network_without_details": net_clean.cpu(),
    }
    if base_det is not None and base_clean is not None:
        arrays["baseline_with_details"] = base_det.cpu()
        arrays["baseline_without_details"] = base_clean.cpu()

    settings = {
        "details": details if isinstance(details, str) else "custom",
        "detail_names": [det.name for det in dets],
        "detail_bboxes": [list(det.bbox) for det in dets],
        "intensity": [float(a) for a in amp.cpu()],
        "intensity_rule": (f"{DEFAULT_INTENSITY_FRACTION} x dynamic range (max|x| - min|x|) of each image"
                           if intensity is None else "given, in image units"),
        "min_recovery": min_recovery,
        "baseline_margin": margin,
        "baseline": base_label,
        "budget": budget_obj.name,
        "support_dilation_px": SUPPORT_DILATION_PX,
        "edge_sigma_px": EDGE_SIGMA_PX,
        "worst_detail": worst_name,
        "worst_image": b_worst,
        "score": "recovery = min(intensity, edge) similarity; similarity = correlation * min(|gain|, 1/|gain|)",
    }
    return C.make_result(
        "detail_recovery",
        passed=passed,
        message=message,
        metrics=metrics,
        key_metric="recovery",
        reconstructor=f,
        operator=op,
        seed=seed,
        settings=settings,
        thresholds=thresholds,
        baseline=base_metrics,
        better=better,
        timings=clock.timings("network_s", "baseline_s"),
        per_image=C.per_image_rows(**per_image_cols),
        panel=panel,
        arrays=arrays,
    )


def _summary(scores: dict[str, torch.Tensor], dets: list[Detail]) -> tuple[dict[str, float], tuple[int, int]]:
    """Metrics from ``[n_details, B]`` scores: the worst detail/image and per-detail minima."""
    rec = scores["recovery"]
    n = rec.shape[1]
    k, b = divmod(int(torch.argmin(rec.flatten())), n)
    metrics = {"recovery": float(rec[k, b])}
    for key in ("intensity_recovery", "edge_recovery", "correlation", "contrast", "edge_correlation",
                "edge_contrast"):
        metrics[key] = float(scores[key][k, b])  # at the worst detail and image
    metrics["detail_error"] = float(scores["detail_error"].max())
    for i, det in enumerate(dets):
        metrics[f"recovery_{det.name}"] = float(rec[i].min())
    return metrics, (k, b)


__all__ = [
    "DEFAULT_INTENSITY_FRACTION",
    "EDGE_SIGMA_PX",
    "DEFAULT_MIN_RECOVERY",
    "SUPPORT_DILATION_PX",
    "detail_recovery",
    "detail_scores",
    "dilate",
    "resolve_details",
]
