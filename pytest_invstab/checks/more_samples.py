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
import numbers
from typing import Any, Sequence

import torch

from ..errors import InvalidInputError, UnsupportedRateError
from ..metrics import psnr, ssim
from ..operators.base import LinearOperator
from ..result import HIGHER_IS_BETTER, LOWER_IS_BETTER, CheckResult
from . import _common as C

#: Default grid: these multiples of the operator's rate, capped at 1 (duplicates dropped).
DEFAULT_RATE_FACTORS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
#: Default ``tolerance_db`` (dB).
DEFAULT_TOLERANCE_DB = 1.0


# -- rates ------------------------------------------------------------------------------------
def _rate_value(name: str, value: Any) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if not ok or not 0.0 < float(value) <= 1.0:
        raise InvalidInputError(
            f"{name} must be a sampling rate in (0, 1] (fraction of the full data), got {value!r}"
        )
    return float(value)


def default_rates(rate: float, trained_rate: float | None = None) -> tuple[float, ...]:
    """The default grid: ``DEFAULT_RATE_FACTORS`` times ``rate`` capped at 1, plus ``trained_rate``.

    Rounded to 6 decimals, sorted, without duplicates; e.g. rate 0.25 gives
    ``(0.125, 0.1875, 0.25, 0.375, 0.5, 0.75)``.
    """
    grid = {round(min(1.0, f * float(rate)), 6) for f in DEFAULT_RATE_FACTORS}
    if trained_rate is not None:
        grid.add(round(float(trained_rate), 6))
    return tuple(sorted(r for r in grid if r > 0))


def check_rates(rates: Any) -> tuple[float, ...]:
    """Validate user rates: at least two numbers in (0, 1], strictly increasing."""
    if isinstance(rates, torch.Tensor):
        rates = rates.detach().cpu().flatten().tolist()
    if isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence) and not hasattr(rates, "__iter__"):
        raise InvalidInputError(
            f"rates must be a sequence of sampling rates in (0, 1], strictly increasing, got {rates!r}; "
            "for example rates=(0.2, 0.33, 0.5)"
        )
    values = list(rates)
    out = tuple(_rate_value(f"rates[{i}]", v) for i, v in enumerate(values))
    if len(out) < 2:
        raise InvalidInputError(
            f"rates needs at least two sampling rates to compare, got {list(out)}; for example rates=(0.2, 0.33, 0.5)"
        )
    for a, b in zip(out, out[1:]):
        if not b > a:
            raise InvalidInputError(
                f"rates must be strictly increasing, got {list(out)} ({b:g} follows {a:g}); "
                "sort them and drop duplicates"
            )
    return out


def _at_rate(op: LinearOperator, rate: float) -> LinearOperator:
    """``op.at_rate(rate)`` with the reason in the error when the operator cannot change its rate."""
    try:
        new = op.at_rate(rate)
    except UnsupportedRateError as exc:
        raise UnsupportedRateError(
            f"more_samples needs the operator at other sampling rates (operator.at_rate({rate:g})), but {exc}"
        ) from exc
    if not isinstance(new, LinearOperator) or tuple(new.image_shape) != tuple(op.image_shape):
        raise InvalidInputError(
            f"{type(op).__name__}.at_rate({rate:g}) must return a LinearOperator with the same image shape "
            f"{list(op.image_shape)}; fix the operator's at_rate"
        )
    return new


def _sample_set(op: LinearOperator) -> Any:
    """What an operator samples, for the nesting check: a bool mask, or a set of angles (or None)."""
    mask = getattr(op, "mask", None)
    if isinstance(mask, torch.Tensor) and mask.dtype == torch.bool:
        return mask.detach().cpu()
    angles = getattr(op, "angles", None)
    if isinstance(angles, torch.Tensor):
        return {round(float(a), 9) for a in angles.detach().cpu().flatten()}
    return None


def samples_nested(ops: Sequence[LinearOperator]) -> bool | None:
    """Whether each operator samples a subset of the next one's samples (None: cannot tell)."""
    sets = [_sample_set(o) for o in ops]
    if any(s is None for s in sets):
        return None
    for a, b in zip(sets, sets[1:]):
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            if a.shape != b.shape or bool((a & ~b).any()):
                return False
        elif isinstance(a, set) and isinstance(b, set):
            if not a <= b:
                return False
        else:
            return None
    return True


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


def _nearest(rates: Sequence[float], rate: float) -> int:
    return min(range(len(rates)), key=lambda i: (abs(rates[i] - rate), i))


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
        plus ``trained_rate``.
    trained_rate: the rate the network was trained at (drawn as a dashed line; the gain is
        measured from the grid rate nearest to it). ``None``: the gain is measured from the
        smallest rate and the line marks ``operator.rate``.
    tolerance_db: largest allowed PSNR fall (dB) from one rate to any larger one.
    require_gain_db: if set, the network must gain at least this many dB from the trained (or
        smallest) rate to the largest whenever the CS baseline does.
    baseline: ``"default"`` (``CSBaseline()``), ``None`` or a callable ``f(y, op)``.
    budget: recorded for the report (this check runs no search).
    seed: recorded; the check itself draws no random numbers (masks come from the operator's seed).

    Returns a ``CheckResult`` with key metric ``max_drop_db`` (lower is better), ``gain_db``,
    ``psnr@<rate>`` and ``ssim@<rate>`` (means over images), the CS baseline's values in
    ``baseline``, ``curves`` (PSNR vs rate) and panel rows at the smallest, trained and largest rates.
    """
    f = C.check_reconstructor(reconstructor)
    op = C.check_operator(operator)
    seed = C.check_seed(seed)
    x = C.as_image_batch(images, op)
    tolerance_db = C.positive("tolerance_db", tolerance_db, allow_zero=True, unit="dB")
    gain_req = None if require_gain_db is None else C.positive(
        "require_gain_db", require_gain_db, allow_zero=True, unit="dB")
    trained = None if trained_rate is None else _rate_value("trained_rate", trained_rate)
    rate_list = default_rates(op.rate, trained) if rates is None else check_rates(rates)
    budget_obj = C.resolve_budget(budget)
    base_f = C.resolve_baseline(baseline)
    base_label = C.baseline_label(base_f) if base_f is not None else "none"
    clock = C.Stopwatch(op.device)

    # Every rate goes through at_rate (also the operator's own), so the family is nested.
    ops = [_at_rate(op, r) for r in rate_list]
    nested = samples_nested(ops)
    ref_rate = trained if trained is not None else float(op.rate)
    i_ref = _nearest(rate_list, ref_rate)
    i_gain = i_ref if trained is not None else 0
    show = sorted({0, i_ref, len(rate_list) - 1})

    n_rates, n_img = len(rate_list), x.shape[0]
    psnr_net = torch.empty(n_rates, n_img, dtype=torch.float64)
    ssim_net = torch.empty_like(psnr_net)
    psnr_base = torch.empty_like(psnr_net)
    ssim_base = torch.empty_like(psnr_net)
    shown: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
    for i, op_r in enumerate(ops):
        with torch.no_grad():
            y = op_r(x)
        with clock("network_s"):
            out = C.run_reconstructor(f, y, op_r)
        psnr_net[i] = psnr(out, x).cpu().double()
        ssim_net[i] = ssim(out, x).cpu().double()
        bout = None
        if base_f is not None:
            with clock("baseline_s"):
                bout = C.run_reconstructor(base_f, y, op_r)
            psnr_base[i] = psnr(bout, x).cpu().double()
            ssim_base[i] = ssim(bout, x).cpu().double()
        if i in show:
            shown[i] = (out.cpu(), None if bout is None else bout.cpu())

    net_curve = psnr_net.mean(1).tolist()
    drop, di, dj = max_drop(net_curve)
    gain = net_curve[-1] - net_curve[i_gain]
    metrics: dict[str, float] = {"max_drop_db": drop, "gain_db": gain}
    better = {"max_drop_db": LOWER_IS_BETTER, "gain_db": HIGHER_IS_BETTER}
    for i, r in enumerate(rate_list):
        metrics[f"psnr@{_key(r)}"] = float(psnr_net[i].mean())
        metrics[f"ssim@{_key(r)}"] = float(ssim_net[i].mean())
        better[f"psnr@{_key(r)}"] = better[f"ssim@{_key(r)}"] = HIGHER_IS_BETTER

    base_metrics: dict[str, float] = {}
    base_curve: list[float] | None = None
    base_gain = None
    if base_f is not None:
        base_curve = psnr_base.mean(1).tolist()
        base_drop, _, _ = max_drop(base_curve)
        base_gain = base_curve[-1] - base_curve[i_gain]
        base_metrics = {"max_drop_db": base_drop, "gain_db": base_gain}
        for i, r in enumerate(rate_list):
            base_metrics[f"psnr@{_key(r)}"] = float(psnr_base[i].mean())
            base_metrics[f"ssim@{_key(r)}"] = float(ssim_base[i].mean())
        metrics["baseline_gain_db"] = base_gain

    thresholds: dict[str, float] = {"max_drop_db": tolerance_db}
    passed = drop <= tolerance_db
    reasons: list[str] = []
    if not passed:
        reasons.append(
            f"PSNR falls {C.fmt(drop)} dB > tolerance_db {C.fmt(tolerance_db)} dB "
            f"({C.fmt(net_curve[di], 1)} dB at rate {rate_list[di]:.3g} -> "
            f"{C.fmt(net_curve[dj], 1)} dB at {rate_list[dj]:.3g})"
        )
    gain_from = f"from rate {rate_list[i_gain]:.3g} to {rate_list[-1]:.3g}"
    if gain_req is not None:
        thresholds["gain_db"] = gain_req
        baseline_gains = base_gain is None or base_gain >= gain_req
        if gain < gain_req and baseline_gains:
            passed = False
            why = "" if base_gain is None else f" while the CS baseline gains {C.fmt(base_gain)} dB"
            reasons.append(
                f"network gains {C.fmt(gain)} dB < require_gain_db {C.fmt(gain_req)} {gain_from}{why}"
            )
    if passed:
        message = (f"max PSNR drop {C.fmt(drop)} dB <= tolerance_db {C.fmt(tolerance_db)} dB over rates "
                   f"{rate_list[0]:.3g}-{rate_list[-1]:.3g}; network gains {C.fmt(gain)} dB {gain_from}")
    else:
        message = "; ".join(reasons)
    if base_gain is not None and "CS baseline gains" not in message:
        message += f"; CS baseline gains {C.fmt(base_gain)} dB"

    # The worst image (largest fall of its own PSNR curve) is the one shown in the panel.
    per_drop = [max_drop(psnr_net[:, b].tolist())[0] for b in range(n_img)]
    b = C.worst_index(per_drop, "lower")
    labels = {0: "smallest", i_ref: "trained" if trained is not None else "operator's", n_rates - 1: "largest"}
    panel = [C.panel_row(("reference x", x[b]))]
    for i in show:
        net_img, base_img = shown[i]
        r = rate_list[i]
        row = [(f"network, rate {r:.3g} ({labels[i]}), {psnr_net[i, b]:.1f} dB", net_img[b])]
        if base_img is not None:
            row.append((f"CS baseline, rate {r:.3g}, {psnr_base[i, b]:.1f} dB", base_img[b]))
        panel.append(C.panel_row(*row))

    curves = {
        "x": list(rate_list),
        "xlabel": "sampling rate",
        "ylabel": "PSNR (dB)",
        "series": {"network": net_curve, **({"CS baseline": base_curve} if base_curve is not None else {})},
        "vline": ref_rate,
        "vline_label": "trained rate" if trained is not None else "operator's rate",
    }
    arrays: dict[str, torch.Tensor] = {
        "images": x.detach().cpu(),
        "rates": torch.tensor(rate_list, dtype=torch.float64),
        "psnr_network": psnr_net,
        "ssim_network": ssim_net,
    }
    if base_f is not None:
        arrays["psnr_baseline"] = psnr_base
        arrays["ssim_baseline"] = ssim_base
    for i in show:
        arrays[f"network@{_key(rate_list[i])}"] = shown[i][0]
        if shown[i][1] is not None:
            arrays[f"baseline@{_key(rate_list[i])}"] = shown[i][1]  # type: ignore[assignment]

    settings = {
        "rates": list(rate_list),
        "rates_rule": "given" if rates is not None else f"{list(DEFAULT_RATE_FACTORS)} x operator rate, capped at 1",
        "actual_rates": [float(o.rate) for o in ops],
        "operators": [o.describe() for o in ops],
        "nested": nested,
        "trained_rate": trained,
        "gain_from_rate": rate_list[i_gain],
        "tolerance_db": tolerance_db,
        "require_gain_db": gain_req,
        "baseline": base_label,
        "budget": budget_obj.name,
        "worst_image": b,
    }
    per_image = C.per_image_rows(
        max_drop_db=per_drop,
        **{f"psnr@{_key(r)}": psnr_net[i] for i, r in enumerate(rate_list)},
    )
    return C.make_result(
        "more_samples",
        passed=passed,
        message=message,
        metrics=metrics,
        key_metric="max_drop_db",
        reconstructor=f,
        operator=op,
        seed=seed,
        settings=settings,
        thresholds=thresholds,
        baseline=base_metrics,
        better=better,
        timings=clock.timings("network_s", "baseline_s"),
        per_image=per_image,
        panel=panel,
        curves=curves,
        arrays=arrays,
    )


__all__ = ["DEFAULT_RATE_FACTORS", "DEFAULT_TOLERANCE_DB", "check_rates", "default_rates", "max_drop",
           "more_samples", "samples_nested"]
