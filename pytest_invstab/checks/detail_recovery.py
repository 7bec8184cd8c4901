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

from dataclasses import dataclass
from typing import Any

import torch

from .. import validate as V
from ..budget import get_budget
from ..errors import InvalidInputError
from ..images import Detail
from ..operators.base import LinearOperator
from ..result import HIGHER_IS_BETTER, LOWER_IS_BETTER, CheckResult
from ..tensors import magnitude
from . import _common as C
from .detail_scoring import EDGE_SIGMA_PX, SUPPORT_DILATION_PX, insert_per_image, resolve_details, score_all
from .sanity import DEFAULT_MIN_GAIN_DB, sanity_gate

#: Default ``min_recovery`` (dimensionless score, see the module docstring).
DEFAULT_MIN_RECOVERY = 0.5
#: Default detail amplitude: this fraction of each image's dynamic range ``max|x| − min|x|``.
DEFAULT_INTENSITY_FRACTION = 0.5
#: Scores reported at the worst detail and image.
_AT_WORST = ("intensity_recovery", "edge_recovery", "correlation", "contrast", "edge_correlation", "edge_contrast")


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
    sanity: bool = True,
    sanity_min_gain_db: float = DEFAULT_MIN_GAIN_DB,
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
    sanity, sanity_min_gain_db: the sanity gate (``checks.sanity``): before judging, stop with
        ``MiswiredNetworkError`` (no verdict) when the network's mean PSNR on the clean images is
        below the direct reconstruction's plus ``sanity_min_gain_db`` (dB, default 1); it reuses the
        clean reconstructions this check makes anyway. ``sanity=False`` skips it.

    Returns a ``CheckResult``: key metric ``recovery`` (the worst detail and image, higher is
    better), ``recovery_<name>`` per detail (worst over images), ``intensity_recovery``,
    ``edge_recovery``, ``correlation``, ``contrast``, ``edge_correlation``, ``edge_contrast`` at
    the worst detail, ``detail_error`` (largest), ``baseline_recovery``; the baseline's values of
    the same metrics in ``baseline``; the worst image with and without details for a panel like
    the paper's Fig. 5 (``report.layouts.detail_recovery_rows``).
    """
    a = _validate(reconstructor, operator, images, details=details, min_recovery=min_recovery,
                  intensity=intensity, baseline=baseline, baseline_margin=baseline_margin, budget=budget, seed=seed,
                  sanity=sanity, sanity_min_gain_db=sanity_min_gain_db)
    clock = C.Stopwatch(a.op.device)
    run = _compute(a, clock)
    gate = None if a.gate is None else sanity_gate("detail_recovery", a.f, a.op, a.x, a.base, min_gain_db=a.gate,
                                                   net_clean=run.net_clean, base_clean=run.base_clean)
    metrics, (k_worst, b_worst) = _summary(run.scores, a.dets)
    base_metrics = _summary(run.base_scores, a.dets)[0] if run.base_scores is not None else {}
    if base_metrics:
        metrics["baseline_recovery"] = base_metrics["recovery"]
    passed, message, thresholds = _judge(a, metrics, a.dets[k_worst].name)
    result = _result(a, run, metrics, base_metrics, passed, message, thresholds, (k_worst, b_worst),
                     clock.timings("network_s", "baseline_s"), C.gate_settings(gate))
    result.failed_criteria = _failed_criteria(a, metrics)
    return result


# -- validate ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Args(C.CheckInputs):
    """Validated arguments; ``dets`` the details on the image grid, ``amp`` their amplitude per image ``[B]``."""

    details: Any
    dets: list[Detail]
    min_recovery: float
    intensity_given: bool
    amp: torch.Tensor
    margin: float | None


def _validate(reconstructor, operator, images, *, details, min_recovery, intensity, baseline, baseline_margin,
              budget, seed, sanity, sanity_min_gain_db) -> _Args:
    f = V.check_reconstructor(reconstructor)
    op = V.check_operator(operator)
    seed = V.check_seed(seed)
    if len(op.image_shape) != 2:
        raise InvalidInputError(
            f"detail_recovery needs 2-D images; the operator's image shape is {list(op.image_shape)}"
        )
    x = V.as_image_batch(images, op)
    min_recovery = V.min_recovery(min_recovery, DEFAULT_MIN_RECOVERY)
    margin = V.optional(V.positive, "baseline_margin", baseline_margin, allow_zero=True, unit="recovery score")
    budget_obj = get_budget(budget)
    base = C.resolve_baseline(baseline)
    dets = resolve_details(details, (int(op.image_shape[0]), int(op.image_shape[1])), seed)
    return _Args(f=f, op=op, x=x, seed=seed, budget=budget_obj, base=base,
                 gate=C.gate_threshold(sanity, sanity_min_gain_db), details=details, dets=dets,
                 min_recovery=min_recovery, intensity_given=intensity is not None, amp=detail_intensities(intensity, x),
                 margin=margin)


def detail_intensities(intensity: Any, x: torch.Tensor) -> torch.Tensor:
    """Detail amplitude per image ``[B]`` in image units."""
    if intensity is None:
        mag = magnitude(x).reshape(x.shape[0], -1)
        rng = (mag.amax(1) - mag.amin(1)).to(torch.float64)
        # A constant image has no range: fall back to its level.
        rng = torch.where(rng > 0, rng, mag.amax(1).to(torch.float64))
        return DEFAULT_INTENSITY_FRACTION * rng
    value = V.positive("intensity", intensity, unit="amplitude of the detail in image intensity units")
    return torch.full((x.shape[0],), value, dtype=torch.float64, device=x.device)


# -- compute ----------------------------------------------------------------------------------------
@dataclass
class _Run:
    """Images with details ``xd`` and inserted details ``d`` ``[B, H, W]``, reconstructions, scores."""

    xd: torch.Tensor
    d: torch.Tensor
    net_clean: torch.Tensor
    net_det: torch.Tensor
    scores: dict[str, torch.Tensor]  # [n_details, B] each
    base_clean: torch.Tensor | None = None
    base_det: torch.Tensor | None = None
    base_scores: dict[str, torch.Tensor] | None = None


def _compute(a: _Args, clock: C.Stopwatch) -> _Run:
    """Insert the details, reconstruct with and without them (one batched call each), score every detail."""
    x, n = a.x, a.x.shape[0]
    xd, d, regions = insert_per_image(x, a.dets, a.amp)
    with torch.no_grad():
        y = a.op(torch.cat([x, xd]))  # one batched call: clean images first, then with details
    with clock("network_s"):
        out = C.run_reconstructor(a.f, y, a.op)
    run = _Run(xd, d, out[:n], out[n:], score_all(out[:n], out[n:], x, xd, regions))
    if a.base is not None:
        with clock("baseline_s"):
            bout = C.run_baseline(a.base, y, a.op)
        run.base_clean, run.base_det = bout[:n], bout[n:]
        run.base_scores = score_all(run.base_clean, run.base_det, x, xd, regions)
    return run


def _summary(scores: dict[str, torch.Tensor], dets: list[Detail]) -> tuple[dict[str, float], tuple[int, int]]:
    """Metrics from ``[n_details, B]`` scores: the worst detail/image and per-detail minima."""
    rec = scores["recovery"]
    n = rec.shape[1]
    k, b = divmod(int(torch.argmin(rec.flatten())), n)
    metrics = {"recovery": float(rec[k, b])}
    for key in _AT_WORST:
        metrics[key] = float(scores[key][k, b])  # at the worst detail and image
    metrics["detail_error"] = float(scores["detail_error"].max())
    for i, det in enumerate(dets):
        metrics[f"recovery_{det.name}"] = float(rec[i].min())
    return metrics, (k, b)


# -- judge ------------------------------------------------------------------------------------------
def _judge(a: _Args, metrics: dict[str, float], worst_name: str) -> tuple[bool, str, dict[str, float]]:
    """``(passed, message, thresholds)``: recovery at least ``min_recovery`` (and the baseline margin)."""
    recovery, base_rec, margin = metrics["recovery"], metrics.get("baseline_recovery"), a.margin
    thresholds: dict[str, float] = {"recovery": a.min_recovery}
    failed = _failed_criteria(a, metrics)
    passed = not failed
    title = C.baseline_title(a.base)  # "CS baseline" only for the CS one
    reasons = []
    if "min_recovery" in failed:
        reasons.append(f"recovery {C.fmt(recovery)} < min_recovery {C.fmt(a.min_recovery)} (worst: {worst_name})")
    if margin is not None:
        thresholds["baseline_margin"] = margin
        if "baseline_margin" in failed:
            reasons.append(
                f"recovery {C.fmt(recovery)} < {title} {C.fmt(base_rec)} - baseline_margin {C.fmt(margin)} "
                f"(worst: {worst_name})"
            )
    if passed:
        message = f"recovery {C.fmt(recovery)} >= min_recovery {C.fmt(a.min_recovery)} (worst: {worst_name})"
    else:
        message = "; ".join(reasons)
    if base_rec is not None and f"{title} " not in message:
        message += f"; {title} {C.fmt(base_rec)}"
    return passed, message, thresholds


def _failed_criteria(a: _Args, metrics: dict[str, float]) -> list[str]:
    """The limits ``_judge`` failed the check on (same rules), for the reports."""
    recovery, base_rec = metrics["recovery"], metrics.get("baseline_recovery")
    failed = ["min_recovery"] if not recovery >= a.min_recovery else []
    if a.margin is not None and base_rec is not None and recovery < base_rec - a.margin:
        failed.append("baseline_margin")
    return failed


# -- result -----------------------------------------------------------------------------------------
def _result(a: _Args, run: _Run, metrics: dict[str, float], base_metrics: dict[str, float], passed: bool,
            message: str, thresholds: dict[str, float], worst: tuple[int, int],
            timings: dict[str, float], sanity_settings: Any) -> CheckResult:
    k_worst, b = worst
    better = {"recovery": HIGHER_IS_BETTER, "intensity_recovery": HIGHER_IS_BETTER,
              "edge_recovery": HIGHER_IS_BETTER, "detail_error": LOWER_IS_BETTER}
    better.update({f"recovery_{det.name}": HIGHER_IS_BETTER for det in a.dets})
    per_image_cols: dict[str, Any] = {
        "recovery": run.scores["recovery"].min(0).values,
        "detail_error": run.scores["detail_error"].max(0).values,
    }
    if run.base_scores is not None:
        per_image_cols["baseline_recovery"] = run.base_scores["recovery"].min(0).values
    images = {"x_with_details": run.xd[b], "network": run.net_det[b]}
    if run.base_det is not None:
        images["baseline"] = run.base_det[b]
    return C.make_result(
        "detail_recovery", passed=passed, message=message, metrics=metrics, key_metric="recovery",
        reconstructor=a.f, operator=a.op, seed=a.seed, settings={**_settings(a, a.dets[k_worst].name, b), "sanity": sanity_settings},
        thresholds=thresholds, baseline=base_metrics, better=better, timings=timings,
        per_image=C.per_image_rows(**per_image_cols), arrays=_arrays(a, run),
        images={k: v.detach().cpu() for k, v in images.items()}, figure={"baseline": C.baseline_title(a.base)},
    )


def _arrays(a: _Args, run: _Run) -> dict[str, torch.Tensor]:
    arrays = {
        "images": a.x.detach().cpu(),
        "details": run.d.detach().cpu(),
        "network_with_details": run.net_det.cpu(),
        "network_without_details": run.net_clean.cpu(),
    }
    if run.base_det is not None and run.base_clean is not None:
        arrays["baseline_with_details"] = run.base_det.cpu()
        arrays["baseline_without_details"] = run.base_clean.cpu()
    return arrays


def _settings(a: _Args, worst_name: str, worst_image: int) -> dict[str, Any]:
    return {
        "details": a.details if isinstance(a.details, str) else "custom",
        "detail_names": [det.name for det in a.dets],
        "detail_bboxes": [list(det.bbox) for det in a.dets],
        "intensity": [float(v) for v in a.amp.cpu()],
        "intensity_rule": ("given, in image units" if a.intensity_given else
                           f"{DEFAULT_INTENSITY_FRACTION} x dynamic range (max|x| - min|x|) of each image"),
        "min_recovery": a.min_recovery,
        "baseline_margin": a.margin,
        "baseline": C.baseline_label(a.base) if a.base is not None else "none",
        "budget": a.budget.name,
        "support_dilation_px": SUPPORT_DILATION_PX,
        "edge_sigma_px": EDGE_SIGMA_PX,
        "worst_detail": worst_name,
        "worst_image": worst_image,
        "score": "recovery = min(intensity, edge) similarity; similarity = correlation * min(|gain|, 1/|gain|)",
    }


__all__ = ["DEFAULT_INTENSITY_FRACTION", "DEFAULT_MIN_RECOVERY", "detail_recovery"]
