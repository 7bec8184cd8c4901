"""Robustness curves and the confidence of a worst case (used by ``checks.worst_case``).

* ``baseline_worst``: the baseline's *own* worst case at a budget (a fair comparison: the network's
  worst case against the baseline's, not the baseline under the network's perturbation). A
  ``CSBaseline`` is attacked through a cheap copy of itself (:func:`cheap_iters`
  unrolled iterations warm-started from the full solve on the clean data), and the perturbation found is re-evaluated
  with the full solve: that value is the one reported, next to the cheap one (``accuracy``).
* ``bootstrap_ci``: a 95 % interval of the mean per-image worst artifact over the reference images.
* ``convergence``: the search's trace, and whether its last quarter still raised the artifact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .. import attacks
from ..operators.base import LinearOperator
from ..tensors import batch_norm
from . import _common as C

#: Unrolled iterations of the cheap copy of the l1-wavelet baseline the attack differentiates
#: through (full solve: at most 800 iterations).
CHEAP_ITERS = 120
#: The same for TV (full solve: at most 400) on single-coil Fourier data, where the copy, like the
#: full solve, starts from ADMM (``baselines.tv_start``). Measured at eps 0.01, 10 steps, 3 images,
#: each re-evaluated with the full solve (``benchmarks/bench_worst_case.py --parts 6``), on dagan's
#: data: 0.077 / 0.042 / 0.046; 120 iterations: 0.075 / 0.041 / 0.046; an attack through the full
#: solve (40 steps, 3x the time): 0.084 / 0.043 / 0.048.
CHEAP_ITERS_TV = 60
#: The same for TV elsewhere (Radon, multi-coil Fourier), where the copy starts from the clean
#: data's solution *and* TV dual variable (``run_tv_with_dual``): 0.025 / 0.022 / 0.018 on ell50's
#: data, 0.034 / 0.025 / 0.025 on vn's; 160 iterations: 0.026 / 0.020 / 0.018 and 0.034 / 0.025 /
#: 0.025; through the full solve (40 steps, 8-10x the time): 0.027 / 0.023 / 0.020 and 0.037 /
#: 0.027 / 0.027. The former copy (120 iterations from the image alone) took 1.5x the time of this
#: one for the same strength (0.025 / 0.023 / 0.019, 0.033 / 0.025 / 0.025).
CHEAP_ITERS_TV_DUAL = 80
#: The last quarter of the search may raise the best artifact by at most this share ("converged").
CONVERGED_GAIN = 0.02
#: Bootstrap resamples for the interval over the reference images.
BOOTSTRAP = 2000


def cheap_iters(base: Any, op: LinearOperator) -> int | None:
    """Iterations of the cheap copy of ``CSBaseline`` ``base`` on ``op`` (``CHEAP_ITERS_TV``,
    ``CHEAP_ITERS_TV_DUAL`` or ``CHEAP_ITERS``); ``None`` for any other baseline (attacked as it is)."""
    from ..baselines import CSBaseline, tv

    if not isinstance(base, CSBaseline):
        return None
    if base.method != "tv":
        return CHEAP_ITERS
    return CHEAP_ITERS_TV if tv.has_exact_data_prox(op) else CHEAP_ITERS_TV_DUAL


class WarmBaseline:
    """``CSBaseline`` with ``iters`` iterations from a warm start (its full solve on the clean data).

    A reconstructor ``f(y, op)`` for the batch it was built for; differentiable through its
    iterations. ``iters`` defaults to :func:`cheap_iters`. TV starts from the clean solution's
    image and TV dual variable (where its solve has no ADMM start of its own): a perturbed
    problem is then solved in far fewer iterations than from the image alone.
    """

    def __init__(self, base: Any, op: LinearOperator, y: torch.Tensor, iters: int | None = None):
        from ..baselines import fista, tv

        self.base = base
        self.iters = int(iters) if iters is not None else (cheap_iters(base, op) or CHEAP_ITERS)
        self.solver = tv.tv_chambolle_pock if base.method == "tv" else fista.fista_l1_wavelet
        self.p0 = None
        if base.method == "tv" and not tv.has_exact_data_prox(op):
            self.x0, self.p0 = C.run_tv_with_dual(base, y, op)
        else:
            self.x0 = C.run_baseline(base, y, op)

    def __call__(self, y: torch.Tensor, op: LinearOperator) -> torch.Tensor:
        if self.base.method == "tv":
            kw: dict[str, Any] = {"p0": self.p0}
        else:
            kw = {"wavelet": self.base.wavelet_for(op)}
        return self.solver(op, y, lam=self.base.lam, iters=self.iters, x0=self.x0, **kw)


@dataclass
class BaselineWorst:
    """The baseline's own worst case: full-solve artifact ``[B]``, cheap-solve artifact ``[B]``, perturbation."""

    artifact: torch.Tensor
    cheap: torch.Tensor
    perturbation: torch.Tensor


def baseline_worst(base: Any, op: LinearOperator, x: torch.Tensor, *, eps: float, domain: str, steps: int,
                   seed: int, start: torch.Tensor | None = None, radius: torch.Tensor | None = None) -> BaselineWorst:
    """Attack ``base`` itself at ``eps`` (a quarter of ``steps``, one restart, warm ``start``)."""
    from ..baselines import CSBaseline

    cheap = WarmBaseline(base, op, op(x)) if isinstance(base, CSBaseline) else base
    att = attacks.budgeted_search(cheap, op, x, eps=eps, domain=domain, steps=max(2, steps // 4), restarts=1,
                                  seed=seed, start=start, hidden=False, radius=radius)
    if cheap is base:
        return BaselineWorst(att.artifact, att.artifact, att.perturbation)
    y = op(x)
    with torch.no_grad():
        yp = op(x + att.perturbation) if domain == "image" else y + att.perturbation
        both = C.run_baseline(base, torch.cat([yp, y]), op)  # one batched full solve
        full = batch_norm(both[: x.shape[0]] - both[x.shape[0]:]) / batch_norm(x)
    return BaselineWorst(full.to(att.artifact.dtype), att.artifact, att.perturbation)


def bootstrap_ci(values: torch.Tensor, seed: int, level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of per-image ``values`` ``[B]`` and its bootstrap ``level`` interval."""
    v = values.detach().to(torch.float64).cpu().flatten()
    if v.numel() < 2:
        return float(v.mean()), float(v.min()), float(v.max())
    g = torch.Generator().manual_seed(int(seed))
    idx = torch.randint(0, v.numel(), (BOOTSTRAP, v.numel()), generator=g)
    means = v[idx].mean(1)
    q = torch.quantile(means, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64))
    return float(v.mean()), float(q[0]), float(q[1])


def convergence(att: Any) -> dict[str, Any]:
    """The trace (evaluations, best artifact of the worst image so far) and the last quarter's gain."""
    if att.trace is None or att.trace.numel() == 0:
        return {"evaluations": [], "artifact": [], "last_quarter_gain": 0.0, "converged": True}
    best = att.trace.amax(1).to(torch.float64)  # the verdict's artifact: the worst image
    evals = torch.tensor(att.trace_evaluations, dtype=torch.float64)
    before = best[evals <= 0.75 * float(evals[-1])]
    start = float(before[-1]) if before.numel() else 0.0
    gain = (float(best[-1]) - start) / start if start > 0 else (0.0 if float(best[-1]) == 0 else float("inf"))
    return {"evaluations": evals.tolist(), "artifact": best.tolist(), "last_quarter_gain": gain,
            "converged": gain <= CONVERGED_GAIN}


def curve_data(levels: tuple[float, ...], nets: list[Any] | None, bases: list[BaselineWorst] | None) -> dict | None:
    """The robustness curve of the worst image at each level: ``{"eps", "network", "baseline", "ratio"}``
    (lists; ``baseline``/``ratio`` ``None`` without a baseline attack), or ``None`` without levels."""
    if not nets:
        return None
    net = [float(t.artifact.max()) for t in nets]
    base = None if not bases else [float(b.artifact.max()) for b in bases]
    ratio = None if base is None else [n / b if b > 0 else float("inf") for n, b in zip(net, base)]
    cheap = None if not bases else [float(b.cheap.max()) for b in bases]
    return {"eps": list(levels), "network": net, "baseline": base, "ratio": ratio, "baseline_cheap": cheap}


def curve_metrics(curve: dict | None, per_level: bool, with_ratio: bool) -> dict[str, float]:
    """``artifact@<eps>``, ``baseline_worst_artifact@<eps>``, ``ratio_to_baseline@<eps>`` (``per_level``)
    and ``ratio_to_baseline`` (its largest value, ``with_ratio`` or ``per_level``)."""
    out: dict[str, float] = {}
    if curve is None:
        return out
    for j, eps in enumerate(curve["eps"]):
        if per_level:
            out[f"artifact@{eps:g}"] = curve["network"][j]
            if curve["baseline"] is not None:
                out[f"baseline_worst_artifact@{eps:g}"] = curve["baseline"][j]
                out[f"ratio_to_baseline@{eps:g}"] = curve["ratio"][j]
    if curve["ratio"] is not None and (per_level or with_ratio):
        out["ratio_to_baseline"] = max(curve["ratio"])
    return out


def judge_curve(passed: bool, message: str, curve: dict | None, max_artifact: float, max_ratio: float | None,
                conv: dict[str, Any]) -> tuple[bool, str]:
    """Add the curve's levels, the ratio to the baseline's own worst case and the convergence note."""
    if curve is not None and len(curve["eps"]) > 1:
        over = [e for e, v in zip(curve["eps"], curve["network"]) if v > max_artifact]
        if over and passed:
            passed, message = False, f"artifact > max_artifact {max_artifact:g} at eps = {over[0]:g}; " + message
        message += "; curve " + ", ".join(f"{e:g}: {v:.3g}" for e, v in zip(curve["eps"], curve["network"]))
    if max_ratio is not None and curve is not None and curve["ratio"] is not None:
        worst = max(curve["ratio"])
        ok = worst <= max_ratio
        passed = passed and ok
        message += (f"; {worst:.2g}x the baseline's own worst case {'<=' if ok else '>'} "
                    f"max_ratio_to_baseline {max_ratio:g}")
    if not conv["converged"]:
        message += (f"; not converged (the last quarter of the search raised the artifact by "
                    f"{100 * conv['last_quarter_gain']:.0f} %): use budget='thorough' or more steps")
    return passed, message


def attach(result: Any, a: Any, run: Any, curve: dict | None, conv: dict[str, Any]) -> Any:
    """Put the curve, the budget conventions, the confidence and the convergence trace into ``result``.

    ``settings``: ``eps`` (the list of levels for a curve), ``budget_norm``, ``region``, ``budgets``
    (every convention's size of the worst image's perturbation), ``confidence`` (mean per-image
    worst artifact and its bootstrap 95 % interval over the reference images), ``convergence``
    (``last_quarter_gain``, ``converged``), ``baseline_attack`` (cheap solve's accuracy against the
    full solve, per level). ``figure["convergence"]`` / ``arrays["trace"]``: the trace;
    ``curves`` (a curve only): ``{"x": eps, "series": {...}, "kind": "robustness", "log": True}``.
    """
    from .budgets import conventions

    att, i = run.att, run.i
    sizes = conventions(a.op, a.x, att.perturbation, a.domain)
    mean, lo, hi = bootstrap_ci(att.artifact, a.seed)
    for row, j in zip(result.per_image, range(len(result.per_image))):
        row.update({k: float(v[j]) for k, v in sizes.items()})
    result.settings.update(
        budget_norm=a.budget_norm, region=a.region is not None,
        budgets={k: float(v[i]) for k, v in sizes.items()},
        confidence={"artifact_mean": mean, "ci_low": lo, "ci_high": hi, "images": int(a.x.shape[0]), "level": 0.95},
        convergence={"last_quarter_gain": conv["last_quarter_gain"], "converged": conv["converged"]},
    )
    if len(a.levels) > 1:
        result.settings["eps"] = list(a.levels)
    if run.base_levels:
        result.settings["baseline_attack"] = {
            "cheap_iters": cheap_iters(a.base, a.op), "eps": list(a.levels),
            "full": [float(b.artifact.max()) for b in run.base_levels],
            "cheap": [float(b.cheap.max()) for b in run.base_levels]}
    if a.max_ratio is not None:
        result.thresholds["max_ratio_to_baseline"] = float(a.max_ratio)
    if conv["evaluations"]:
        result.figure["convergence"] = {"evaluations": conv["evaluations"], "artifact": conv["artifact"]}
        result.arrays["trace"] = torch.tensor([conv["evaluations"], conv["artifact"]], dtype=torch.float64)
    if curve is not None and len(curve["eps"]) > 1:
        series = {"network": curve["network"]}
        if curve["baseline"] is not None:
            series["baseline (own worst case)"] = curve["baseline"]
        result.curves = {"x": curve["eps"], "xlabel": "eps (perturbation size)", "ylabel": "worst artifact",
                         "series": series, "kind": "robustness", "log": True}
        result.figure["robustness"] = dict(result.curves)
    return result


__all__ = ["BOOTSTRAP", "BaselineWorst", "CHEAP_ITERS", "CHEAP_ITERS_TV", "CHEAP_ITERS_TV_DUAL", "CONVERGED_GAIN", "WarmBaseline", "attach",
           "baseline_worst", "cheap_iters",
           "bootstrap_ci", "convergence", "curve_data", "curve_metrics", "judge_curve"]
