"""The ``more_samples`` check: does reconstruction quality keep up when more samples are taken?

Antun et al. (PNAS 2020, Fig. 5 bottom) found networks whose PSNR *falls* (or stagnates) as
the sampling rate grows past the rate they were trained for, while a compressed-sensing (CS)
method improves. This check reconstructs the reference images from nested measurements at a
grid of rates (``operator.at_rate(rate)``: a larger rate keeps every sample of a smaller one)
with the network and the CS baseline, and measures PSNR (dB) and SSIM, averaged over images.

Verdict
    ``max_drop_db = max over i < j of PSNR(rate_i) − PSNR(rate_j)`` (network, dB): the largest
    fall in PSNR from one rate to any larger one. It is negative when the PSNR grows at every
    step (then ``−max_drop_db`` is the smallest gain between two rates). The check fails when
    ``max_drop_db > tolerance_db``. With ``require_gain_db`` it also fails when the network
    gains less than ``require_gain_db`` from the trained rate (or, without ``trained_rate``, from
    the smallest rate) to the largest while the CS baseline gains at least that much (the
    paper's stagnation case; without a baseline the gain alone is required).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from .. import validate as V
from ..budget import get_budget
from ..errors import InvalidInputError
from ..metrics import psnr, ssim
from ..operators.base import LinearOperator
from ..result import HIGHER_IS_BETTER, LOWER_IS_BETTER, CheckResult
from ..validate import check_rates
from . import _common as C
from .rate_family import DEFAULT_RATE_FACTORS, RateFamily, build_family, default_rates, samples_nested
from .sanity import DEFAULT_MIN_GAIN_DB, sanity_gate

#: Default ``tolerance_db`` (dB).
DEFAULT_TOLERANCE_DB = 1.0


# -- curve analysis -----------------------------------------------------------------------------
def max_drop(values: Sequence[float]) -> tuple[float, int, int]:
    """``(max over i < j of values[i] − values[j], i, j)``; values ordered by increasing rate."""
    best, bi, bj = -math.inf, 0, 1
    running_max, arg = values[0], 0
    for j in range(1, len(values)):
        drop = running_max - values[j]
        if drop > best:
            best, bi, bj = drop, arg, j
        if values[j] > running_max:
            running_max, arg = values[j], j
    return float(best), bi, bj


def _key(rate: float) -> str:
    return f"{rate:.4g}"


# -- the check ------------------------------------------------------------------------------------
def more_samples(
    reconstructor: Any,
    operator: LinearOperator,
    images: torch.Tensor,
    *,
    rates: Sequence[float] | None = None,
    trained_rate: float | None = None,
    tolerance_db: float = DEFAULT_TOLERANCE_DB,
    require_gain_db: float | None = None,
    baseline: Any = "default",
    budget: Any = "standard",
    seed: int = 0,
    operators: Any = None,
    masks: Any = None,
    allow_unnested: bool = False,
    sanity: bool = True,
    sanity_min_gain_db: float = DEFAULT_MIN_GAIN_DB,
) -> CheckResult:
    """PSNR and SSIM of the network and the CS baseline over growing, nested sampling rates.

    Parameters
    ----------
    reconstructor: ``f(y, op) -> image`` (or a ``torch.nn.Module``); frozen and restored. It is
        called with ``operator.at_rate(rate)`` for every rate.
    operator: the measurement operator; it must support ``at_rate`` (Fourier, multi-coil, Radon).
    images: reference images ``[B, H, W]`` (or one ``[H, W]``).
    rates: sampling rates in (0, 1], strictly increasing (at least two). Default
        :func:`default_rates`: 0.5, 0.75, 1, 1.5, 2 and 3 times ``operator.rate`` capped at 1,
        plus ``trained_rate``. Curves, ``psnr@<rate>`` keys and messages use each operator's
        *actual* rate (``op.rate``; Cartesian masks round to whole lines), the requested ones
        are in ``settings['requested_rates']``.
    operators, masks: instead of ``rates``, the user's operators (a list by increasing rate, or
        ``{rate: operator}``) or boolean ``[H, W]`` masks (made into operators of ``operator``'s
        kind, multi-coil with the same coil maps). They must be nested (``checks.rate_family``):
        a pair that is not is one ``InvalidInputError``, unless ``allow_unnested=True``, which the
        message and ``settings['nested']`` / ``settings['unnested']`` then state.
    trained_rate: the rate the network was trained at (drawn as a dashed line; the gain is
        measured from it). It must be one of the rates (a requested rate, or an actual rate
        within 0.005), else an ``InvalidInputError``; the default grid includes it. ``None``: the
        gain is measured from the smallest rate and the line marks the rate nearest ``operator.rate``.
    sanity, sanity_min_gain_db: the sanity gate (``checks.sanity``) at the trained (or the
        operator's) rate, on the reconstructions this check makes anyway: stop with
        ``MiswiredNetworkError`` (no verdict) when the network's mean PSNR there is below the direct
        reconstruction's plus ``sanity_min_gain_db`` (dB, default 1). ``sanity=False`` skips it.
    tolerance_db: largest allowed PSNR fall (dB) from one rate to any larger one.
    require_gain_db: if set, the network must gain at least this many dB from the trained (or
        smallest) rate to the largest whenever the CS baseline does.
    baseline: ``"default"`` (``CSBaseline()``), ``None`` or a callable ``f(y, op)``.
    budget: recorded for the report (this check runs no search).
    seed: recorded; the check itself draws no random numbers (masks come from the operator's seed).

    Returns a ``CheckResult`` with key metric ``max_drop_db`` (lower is better), ``gain_db``,
    ``psnr@<rate>`` and ``ssim@<rate>`` (means over images), the CS baseline's values in
    ``baseline``, ``curves`` (PSNR vs rate) and the images of the smallest, trained and largest rates.
    """
    a = _validate(reconstructor, operator, images, rates=rates, trained_rate=trained_rate,
                  tolerance_db=tolerance_db, require_gain_db=require_gain_db, baseline=baseline, budget=budget,
                  seed=seed, operators=operators, masks=masks, allow_unnested=allow_unnested, sanity=sanity,
                  sanity_min_gain_db=sanity_min_gain_db)
    clock = C.Stopwatch(a.op.device)
    run = _compute(a, clock)
    gate = None if a.gate is None else sanity_gate(
        "more_samples", a.f, a.ops[run.i_ref], a.x, a.base, min_gain_db=a.gate, net_clean=run.ref_out[0],
        base_clean=run.ref_out[1])
    run.gate = C.gate_settings(gate)
    metrics, better, base_metrics = _metrics(a, run)
    passed, message, thresholds = _judge(a, run)
    result = _result(a, run, metrics, better, base_metrics, passed, message, thresholds,
                     clock.timings("network_s", "baseline_s"))
    result.failed_criteria = [r.split(" ", 1)[0] for r in _failed_rules(a, run)]
    return result


# -- validate ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Args(C.CheckInputs):
    """Validated arguments; ``rate_list`` the actual rates of ``ops``, the operators by rate (``family``)."""

    tolerance_db: float
    gain_req: float | None
    trained: float | None
    i_trained: int | None
    family: RateFamily

    @property
    def ops(self) -> list[LinearOperator]:
        return self.family.ops

    @property
    def rate_list(self) -> tuple[float, ...]:
        return self.family.actual


def _validate(reconstructor, operator, images, *, rates, trained_rate, tolerance_db, require_gain_db, baseline,
              budget, seed, operators, masks, allow_unnested, sanity, sanity_min_gain_db) -> _Args:
    f = V.check_reconstructor(reconstructor)
    op = V.check_operator(operator)
    seed = V.check_seed(seed)
    x = V.as_image_batch(images, op)
    tolerance_db = V.positive("tolerance_db", tolerance_db, allow_zero=True, unit="dB")
    gain_req = V.optional(V.positive, "require_gain_db", require_gain_db, allow_zero=True, unit="dB")
    trained = V.optional(V.sampling_rate, "trained_rate", trained_rate)
    budget_obj = get_budget(budget)
    base = C.resolve_baseline(baseline)
    gate = C.gate_threshold(sanity, sanity_min_gain_db)
    # On the rates path every rate goes through at_rate (also the operator's own), so the family is nested.
    family = build_family(op, rates=rates, operators=operators, masks=masks, trained=trained,
                          allow_unnested=V.flag("allow_unnested", allow_unnested))
    i_trained = None if trained is None else family.index_of(trained)
    if trained is not None and i_trained is None:
        req = [r for r in family.requested if r is not None]
        raise InvalidInputError(
            f"trained_rate={trained:g} is not one of the rates of more_samples (actual rates "
            f"{[round(r, 4) for r in family.actual]}" + (f", requested {req}" if req else "") + "); add it to "
            "rates= (or give the operator or mask of that rate), or pass the rate the network was trained at"
        )
    return _Args(f=f, op=op, x=x, seed=seed, budget=budget_obj, base=base, gate=gate, tolerance_db=tolerance_db,
                 gain_req=gain_req, trained=trained, i_trained=i_trained, family=family)


# -- compute ----------------------------------------------------------------------------------------
@dataclass
class _Run:
    """PSNR / SSIM ``[n_rates, B]`` (float64) of the network and the baseline, and the shown images."""

    psnr_net: torch.Tensor
    ssim_net: torch.Tensor
    psnr_base: torch.Tensor
    ssim_base: torch.Tensor
    i_ref: int  # grid index of the trained rate (or nearest the operator's rate)
    i_gain: int  # grid index the gain is measured from
    show: list[int]  # grid indices shown in the panel
    shown: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = field(default_factory=dict)
    ref_out: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None)  # network, baseline at i_ref
    gate: Any = None  # settings of the sanity gate

    @property
    def net_curve(self) -> list[float]:
        return self.psnr_net.mean(1).tolist()

    @property
    def base_curve(self) -> list[float]:
        return self.psnr_base.mean(1).tolist()


def _compute(a: _Args, clock: C.Stopwatch) -> _Run:
    """Reconstruct at every rate with the network (and the baseline); keep the shown rates' images."""
    if a.i_trained is not None:
        i_ref = a.i_trained
    else:
        i_ref = min(range(len(a.rate_list)), key=lambda i: (abs(a.rate_list[i] - float(a.op.rate)), i))
    n_rates, n_img = len(a.rate_list), a.x.shape[0]
    psnr_net = torch.empty(n_rates, n_img, dtype=torch.float64)
    run = _Run(psnr_net, torch.empty_like(psnr_net), torch.empty_like(psnr_net), torch.empty_like(psnr_net),
               i_ref, i_ref if a.trained is not None else 0, sorted({0, i_ref, n_rates - 1}))
    bout, start = None, None
    for i, op_r in enumerate(a.ops):
        with torch.no_grad():
            y = op_r(a.x)
        with clock("network_s"):
            out = C.run_reconstructor(a.f, y, op_r)
        run.psnr_net[i] = psnr(out, a.x).cpu().double()
        run.ssim_net[i] = ssim(out, a.x).cpu().double()
        if a.base is not None:
            with clock("baseline_s"):  # warm start from the previous rate's solution
                bout, start = C.run_baseline_from(a.base, y, op_r, start)
            run.psnr_base[i] = psnr(bout, a.x).cpu().double()
            run.ssim_base[i] = ssim(bout, a.x).cpu().double()
        if i in run.show:
            run.shown[i] = (out.cpu(), None if bout is None else bout.cpu())
        if i == i_ref:
            run.ref_out = (out, bout)
    return run


def _metrics(a: _Args, run: _Run) -> tuple[dict[str, float], dict[str, str], dict[str, float]]:
    """``(metrics, better, baseline metrics)``: drop, gain and PSNR / SSIM per rate (means over images)."""
    net_curve = run.net_curve
    metrics: dict[str, float] = {"max_drop_db": max_drop(net_curve)[0], "gain_db": net_curve[-1] - net_curve[run.i_gain]}
    better = {"max_drop_db": LOWER_IS_BETTER, "gain_db": HIGHER_IS_BETTER}
    for i, r in enumerate(a.rate_list):
        metrics[f"psnr@{_key(r)}"] = float(run.psnr_net[i].mean())
        metrics[f"ssim@{_key(r)}"] = float(run.ssim_net[i].mean())
        better[f"psnr@{_key(r)}"] = better[f"ssim@{_key(r)}"] = HIGHER_IS_BETTER
    base_metrics: dict[str, float] = {}
    if a.base is not None:
        base_curve = run.base_curve
        base_gain = base_curve[-1] - base_curve[run.i_gain]
        base_metrics = {"max_drop_db": max_drop(base_curve)[0], "gain_db": base_gain}
        for i, r in enumerate(a.rate_list):
            base_metrics[f"psnr@{_key(r)}"] = float(run.psnr_base[i].mean())
            base_metrics[f"ssim@{_key(r)}"] = float(run.ssim_base[i].mean())
        metrics["baseline_gain_db"] = base_gain
    return metrics, better, base_metrics


# -- judge ------------------------------------------------------------------------------------------
def _judge(a: _Args, run: _Run) -> tuple[bool, str, dict[str, float]]:
    """``(passed, message, thresholds)``: PSNR may not fall by more than ``tolerance_db``; the gain rule."""
    rates, net_curve = a.rate_list, run.net_curve
    drop = max_drop(net_curve)[0]
    gain = net_curve[-1] - net_curve[run.i_gain]
    base_gain = None if a.base is None else run.base_curve[-1] - run.base_curve[run.i_gain]
    thresholds: dict[str, float] = {"max_drop_db": a.tolerance_db}
    title = C.baseline_title(a.base)  # "CS baseline" only for the CS one
    reasons = [r.split(" ", 1)[1] for r in _failed_rules(a, run)]
    passed = not reasons
    gain_from = f"from rate {rates[run.i_gain]:.3g} to {rates[-1]:.3g}"
    if a.gain_req is not None:
        thresholds["gain_db"] = a.gain_req
    if passed:
        message = (f"max PSNR drop {C.fmt(drop)} dB <= tolerance_db {C.fmt(a.tolerance_db)} dB over rates "
                   f"{rates[0]:.3g}-{rates[-1]:.3g}; network gains {C.fmt(gain)} dB {gain_from}")
    else:
        message = "; ".join(reasons)
    if base_gain is not None and f"{title} gains" not in message:
        message += f"; {title} gains {C.fmt(base_gain)} dB"
    if a.family.unnested is not None:
        message += f"; warning, allow_unnested=True: {a.family.unnested}"
    return passed, message, thresholds


def _failed_rules(a: _Args, run: _Run) -> list[str]:
    """``"<criterion> <reason>"`` for each limit the check fails (``tolerance_db``, ``require_gain_db``)."""
    rates, net_curve = a.rate_list, run.net_curve
    drop, di, dj = max_drop(net_curve)
    failed: list[str] = []
    if not drop <= a.tolerance_db:
        failed.append(
            f"tolerance_db PSNR falls {C.fmt(drop)} dB > tolerance_db {C.fmt(a.tolerance_db)} dB "
            f"({C.fmt(net_curve[di], 1)} dB at rate {rates[di]:.3g} -> "
            f"{C.fmt(net_curve[dj], 1)} dB at {rates[dj]:.3g})"
        )
    if a.gain_req is not None:
        gain = net_curve[-1] - net_curve[run.i_gain]
        base_gain = None if a.base is None else run.base_curve[-1] - run.base_curve[run.i_gain]
        if gain < a.gain_req and (base_gain is None or base_gain >= a.gain_req):
            why = "" if base_gain is None else f" while the {C.baseline_title(a.base)} gains {C.fmt(base_gain)} dB"
            failed.append(f"require_gain_db network gains {C.fmt(gain)} dB < require_gain_db {C.fmt(a.gain_req)} "
                          f"from rate {rates[run.i_gain]:.3g} to {rates[-1]:.3g}{why}")
    return failed


# -- result -----------------------------------------------------------------------------------------
def _result(a: _Args, run: _Run, metrics: dict[str, float], better: dict[str, str], base_metrics: dict[str, float],
            passed: bool, message: str, thresholds: dict[str, float], timings: dict[str, float]) -> CheckResult:
    # The worst image (largest fall of its own PSNR curve) is the one shown in the panel.
    per_drop = [max_drop(run.psnr_net[:, b].tolist())[0] for b in range(a.x.shape[0])]
    b = C.worst_index(per_drop, "lower")
    ref_rate = a.rate_list[run.i_ref]
    curves = {
        "x": list(a.rate_list),
        "xlabel": "sampling rate",
        "ylabel": "PSNR (dB)",
        "series": {"network": run.net_curve, **({C.baseline_title(a.base): run.base_curve} if a.base is not None else {})},
        "vline": ref_rate,
        "vline_label": "trained rate" if a.trained is not None else "operator's rate",
    }
    per_image = C.per_image_rows(
        max_drop_db=per_drop, **{f"psnr@{_key(r)}": run.psnr_net[i] for i, r in enumerate(a.rate_list)},
    )
    images, figure = _images(a, run, b)
    figure = {**figure, "baseline": C.baseline_title(a.base)}
    return C.make_result(
        "more_samples", passed=passed, message=message, metrics=metrics, key_metric="max_drop_db",
        reconstructor=a.f, operator=a.op, seed=a.seed, settings=_settings(a, run, b), thresholds=thresholds,
        baseline=base_metrics, better=better, timings=timings, per_image=per_image, curves=curves,
        arrays=_arrays(a, run), images=images, figure=figure,
    )


_RULES = {"default": f"{list(DEFAULT_RATE_FACTORS)} x operator rate, capped at 1 (actual rates of at_rate)",
          "rates": "given (actual rates of at_rate)", "operators": "the given operators' rates",
          "masks": "the given masks' rates"}


def _settings(a: _Args, run: _Run, worst: int) -> dict[str, Any]:
    return {
        "rates": list(a.rate_list),
        "rates_rule": _RULES.get(a.family.source, a.family.source),
        "requested_rates": list(a.family.requested),
        "actual_rates": [float(o.rate) for o in a.ops],
        "operators": [o.describe() for o in a.ops],
        "nested": a.family.nested,
        "unnested": a.family.unnested,
        "sanity": run.gate,
        "trained_rate": a.trained,
        "gain_from_rate": a.rate_list[run.i_gain],
        "tolerance_db": a.tolerance_db,
        "require_gain_db": a.gain_req,
        "baseline": C.baseline_label(a.base) if a.base is not None else "none",
        "budget": a.budget.name,
        "worst_image": worst,
    }


def _arrays(a: _Args, run: _Run) -> dict[str, torch.Tensor]:
    """PSNR / SSIM tables and the shown rates' reconstructions of every image, for ``arrays.npz``."""
    arrays: dict[str, torch.Tensor] = {
        "images": a.x.detach().cpu(),
        "rates": torch.tensor(a.rate_list, dtype=torch.float64),
        "psnr_network": run.psnr_net,
        "ssim_network": run.ssim_net,
    }
    if a.base is not None:
        arrays["psnr_baseline"] = run.psnr_base
        arrays["ssim_baseline"] = run.ssim_base
    for i in run.show:
        net_img, base_img = run.shown[i]
        arrays[f"network@{_key(a.rate_list[i])}"] = net_img
        if base_img is not None:
            arrays[f"baseline@{_key(a.rate_list[i])}"] = base_img
    return arrays


def _images(a: _Args, run: _Run, b: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Image ``b`` at the shown rates and their titles' facts, for ``report.layouts.more_samples_rows``."""
    n = len(a.rate_list)
    # Later keys win: the trained (operator's) rate may also be the smallest, the largest wins over both.
    roles = {0: "smallest", run.i_ref: "trained" if a.trained is not None else "operator's", n - 1: "largest"}
    images = {"reference": a.x[b].detach().cpu()}
    shown = []
    for i in run.show:
        net_img, base_img = run.shown[i]
        images[f"network@{i}"] = net_img[b]
        if base_img is not None:
            images[f"baseline@{i}"] = base_img[b]
        shown.append({"index": i, "rate": a.rate_list[i], "role": roles[i], "psnr": float(run.psnr_net[i, b]),
                      "baseline_psnr": float(run.psnr_base[i, b]) if base_img is not None else None})
    return images, {"shown": shown}


__all__ = ["DEFAULT_RATE_FACTORS", "DEFAULT_TOLERANCE_DB", "check_rates", "default_rates", "max_drop",
           "more_samples", "samples_nested"]
