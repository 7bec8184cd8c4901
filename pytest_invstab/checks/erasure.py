"""The ``detail_erasure`` check: how small a perturbation makes an inserted detail vanish?

The paper's instabilities 1 and 2 together (its Fig. 3: a tiny perturbation washes a structure
out): insert a detail ``d`` (card symbols, text, or the user's own lesion tensor) into each
image, then, for the network and for the baseline alike, search the smallest ``eps`` at which a
perturbation with ``||r|| <= eps ||x + d||`` makes the detail's recovery score (as in
``detail_recovery``, 1 = perfect) fall below ``min_recovery``: bisection over ``eps`` in
``(0, eps_max]``; at each size ``attacks.erase_search`` targets each detail's region in turn (one
search per detail), and the detail that vanishes first counts. Domain "image".

Fails when the network's erasure size ``erase_eps`` is below ``min_eps`` (dimensionless, relative
to ``||x + d||``); ``inf`` means the detail survived every perturbation up to ``eps_max``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from .. import attacks
from .. import validate as V
from ..budget import get_budget
from ..operators.base import LinearOperator
from ..result import HIGHER_IS_BETTER, CheckResult
from ..baselines import CSBaseline
from . import _common as C
from . import robustness as R
from .detail_recovery import DEFAULT_MIN_RECOVERY, detail_intensities
from .detail_scoring import insert_per_image, resolve_details, score_all
from .sanity import DEFAULT_MIN_GAIN_DB, sanity_gate

#: Search steps per bisection level at budget "standard" (scaled by ``budget.steps``).
DEFAULT_ERASE_STEPS = 30


def detail_erasure(
    reconstructor: Any,
    operator: LinearOperator,
    images: torch.Tensor,
    *,
    details: Any = "symbols",
    min_recovery: float = DEFAULT_MIN_RECOVERY,
    intensity: float | None = None,
    eps_max: float = 0.1,
    bisections: int = 6,
    min_eps: float = 0.01,
    steps: int | None = None,
    baseline: Any = "default",
    budget: Any = "standard",
    seed: int = 0,
    sanity: bool = True,
    sanity_min_gain_db: float = DEFAULT_MIN_GAIN_DB,
) -> CheckResult:
    """Smallest perturbation that erases an inserted detail, for the network and the baseline.

    Args: ``details`` / ``intensity`` / ``min_recovery`` as ``detail_recovery``; ``eps_max``: the
    largest size searched; ``bisections``: halvings of the bracket (the erasure size is known to
    ``eps_max / 2**bisections``); ``min_eps``: the smallest acceptable erasure size; ``steps``:
    search steps per size (``None``: ``budget.steps(DEFAULT_ERASE_STEPS)``); ``sanity`` /
    ``sanity_min_gain_db``: the sanity gate before any search (``checks.sanity``; no verdict on a
    miswired network).

    Returns a ``CheckResult`` with key metric ``erase_eps`` (higher is better; the upper end of the
    final bracket, ``inf`` if never erased), ``baseline_erase_eps`` and ``erase_ratio`` (network /
    baseline), ``recovery_clean`` (the network's recovery without perturbation).
    """
    f, op = V.check_reconstructor(reconstructor), V.check_operator(operator)
    x = V.as_image_batch(images, op)
    seed = V.check_seed(seed)
    min_rec = V.min_recovery(min_recovery, DEFAULT_MIN_RECOVERY)
    eps_max = V.positive("eps_max", eps_max, unit="relative size ||r||/||x + d||")
    min_eps = V.positive("min_eps", min_eps, allow_zero=True, unit="relative size ||r||/||x + d||")
    bisections = V.positive_int("bisections", bisections, 6)
    steps = V.positive_int("steps", steps, get_budget(budget).steps(DEFAULT_ERASE_STEPS))
    base = C.resolve_baseline(baseline)
    gate_min = C.gate_threshold(sanity, sanity_min_gain_db)
    gate = None if gate_min is None else sanity_gate("detail_erasure", f, op, x, base, min_gain_db=gate_min)
    dets = resolve_details(details, (int(op.image_shape[0]), int(op.image_shape[1])), seed)
    amp = detail_intensities(intensity, x)
    xd, _, regions = insert_per_image(x, dets, amp)
    sw = C.Stopwatch(op.device)
    job = _Job(op, x, xd, regions, min_rec, eps_max, bisections, steps, seed)
    with sw("network_s"):
        net = job.bisect(f)
    with sw("baseline_s"):
        bas = job.bisect(base) if base is not None else None
    result = _result(f, op, x, seed, net, bas, min_rec, min_eps, job, sw, base)
    result.settings["sanity"] = C.gate_settings(gate)
    return result


@dataclass
class _Job:
    op: LinearOperator
    x: torch.Tensor
    xd: torch.Tensor
    regions: list[torch.Tensor]
    min_rec: float
    eps_max: float
    bisections: int
    steps: int
    seed: int

    def recovery(self, g: Any, eps: float, start: torch.Tensor | None,
                 ref: tuple) -> tuple[float, torch.Tensor | None]:
        """The worst recovery over details and images when each detail in turn is targeted by the
        worst erasing perturbation of size ``eps`` (one batched search, each detail on its own region).
        ``ref``: ``g``'s reconstructions ``(clean, with_d)`` of ``A x`` and ``A x_d``; ``start``: the
        perturbations found at another size (a warm start). Returns the recovery and the perturbations."""
        op, x, xd = self.op, self.x, self.xd
        clean, with_d = ref
        if eps == 0:
            return float(score_all(clean, with_d, x, xd, self.regions)["recovery"].min()), None
        # One batched search for all details: row block k targets detail k on every image.
        n_reg = len(self.regions)
        xd_all, clean_all = torch.cat([xd] * n_reg), torch.cat([clean] * n_reg)
        masks = torch.cat([region.to(op.dtype).expand_as(xd) for region in self.regions])
        # a CS baseline is searched through its cheap warm-started copy, then judged with its full solve
        cheap = R.WarmBaseline(g, op, op(xd_all)) if isinstance(g, CSBaseline) else g
        att = attacks.erase_search(cheap, op, xd_all, clean_all, masks, eps=eps, steps=self.steps,
                                   seed=self.seed, start=start)
        out = att.perturbed if cheap is g else C.run_baseline(g, op(xd_all + att.perturbation), op)
        worst = min(float(score_all(clean, o, x, xd, [region])["recovery"].min())
                    for o, region in zip(out.split(xd.shape[0]), self.regions))
        return worst, att.perturbation

    def bisect(self, g: Any) -> dict[str, Any]:
        """Bracket ``(lo, hi]`` of the erasure size by bisection; ``hi = inf`` when ``eps_max`` does not erase."""
        # the reconstructions without perturbation do not depend on eps: solved once per search
        # (run_baseline also takes a CS baseline's from this session's cache)
        ref = (C.run_baseline(g, self.op(self.x), self.op), C.run_baseline(g, self.op(self.xd), self.op))
        rec0, _ = self.recovery(g, 0.0, None, ref)
        trail = [(0.0, rec0)]
        if rec0 < self.min_rec:  # not recovered even without a perturbation
            return {"lo": 0.0, "hi": 0.0, "trail": trail, "recovery_clean": rec0}
        rec, start = self.recovery(g, self.eps_max, None, ref)
        trail.append((self.eps_max, rec))
        if rec >= self.min_rec:
            return {"lo": self.eps_max, "hi": math.inf, "trail": trail, "recovery_clean": rec0}
        lo, hi = 0.0, self.eps_max
        for _ in range(self.bisections):
            mid = 0.5 * (lo + hi)
            rec, p = self.recovery(g, mid, start, ref)
            trail.append((mid, rec))
            lo, hi, start = (lo, mid, p) if rec < self.min_rec else (mid, hi, start)
        return {"lo": lo, "hi": hi, "trail": trail, "recovery_clean": rec0}


def _result(f, op, x, seed, net, bas, min_rec, min_eps, job, sw, base) -> CheckResult:
    erase, b_erase = net["hi"], (bas["hi"] if bas is not None else None)
    passed = erase >= min_eps
    metrics = {"erase_eps": erase, "recovery_clean": net["recovery_clean"]}
    message = (f"the detail vanishes (recovery < {min_rec:g}) at ||r||/||x+d|| = {C.fmt(erase, 3)} "
               f"{'>=' if passed else '<'} min_eps {min_eps:g}")
    if math.isinf(erase):
        message = f"the detail survives every perturbation up to ||r||/||x+d|| = {job.eps_max:g}"
    if b_erase is not None:
        metrics.update(baseline_erase_eps=b_erase, baseline_recovery_clean=bas["recovery_clean"],
                       erase_ratio=erase / b_erase if b_erase > 0 and math.isfinite(b_erase) else float("nan"))
        message += f"; baseline: {'survives' if math.isinf(b_erase) else 'vanishes at ' + C.fmt(b_erase, 3)}"
    settings = {"min_recovery": min_rec, "min_eps": min_eps, "eps_max": job.eps_max, "bisections": job.bisections,
                "steps": job.steps, "images": int(x.shape[0]), "baseline": C.baseline_label(base),
                "network_bracket": [net["lo"], net["hi"]], "network_trail": net["trail"],
                **({"baseline_bracket": [bas["lo"], bas["hi"]], "baseline_trail": bas["trail"]} if bas else {})}
    return C.make_result("detail_erasure", passed=passed, message=message, metrics=metrics, key_metric="erase_eps",
                         reconstructor=f, operator=op, seed=seed, settings=settings,
                         thresholds={"min_eps": min_eps}, better={"erase_eps": HIGHER_IS_BETTER},
                         timings=sw.timings("network_s", "baseline_s"))


__all__ = ["DEFAULT_ERASE_STEPS", "detail_erasure"]
