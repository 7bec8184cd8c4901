"""The ``worst_case`` check: does a tiny perturbation cause a large artifact? (Antun et al., Fig. 1)

For each reference image ``x`` the check searches a perturbation ``r`` with
``||r|| <= eps ||x||`` (domain "image"; the network sees ``A(x + r)``) or ``e`` with
``||e|| <= eps ||y||`` (domain "measurements"; the network sees ``y + e``, ``y = A x``) that
maximises the change of the reconstruction, and fails when

    artifact = max over images of ||f(A(x + r)) - f(A x)|| / ||x||   >   max_artifact.

Both ``eps`` and the artifact are dimensionless (relative Euclidean norms). The same ``r`` is
applied to a stable compressed-sensing (CS) baseline, so that a large artifact is shown to be
the network's and not the problem's, and to a Gaussian perturbation of the same norm, so that
the search is shown to find something worse than noise.

Which ``max_artifact``? A stable linear method ``f = B`` has artifact at most
``eps ||B A||`` (image domain); the back-projection ``A*`` of an orthonormal Fourier operator
has exactly ``eps``. A network that amplifies the worst perturbation by a few times is
normal; ``max_artifact = 0.1`` at ``eps = 0.01`` (the default) flags 10-fold amplification.

Metrics: ``eps`` (achieved size), ``artifact``, ``amplification`` (artifact / eps), ``psnr_clean`` /
``psnr_perturbed`` (dB), ``ssim_clean`` / ``ssim_perturbed``, ``gaussian_artifact`` and ``worse_than_random``
(all of the worst image), ``baseline_artifact``, ``baseline_worst_artifact`` (``attack_baseline``),
``ball_fraction``, ``ball_ci_low``, ``ball_ci_high`` (``gaussian_draws``); a curve adds ``artifact@<eps>``,
``baseline_worst_artifact@<eps>`` and ``ratio_to_baseline@<eps>``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from .. import attacks
from .. import validate as V
from ..budget import get_budget
from ..metrics import psnr, ssim
from ..operators.base import LinearOperator
from ..result import HIGHER_IS_BETTER, LOWER_IS_BETTER, CheckResult
from ..tensors import batch_norm
from . import _common as C
from .sanity import DEFAULT_MIN_GAIN_DB, SanityResult, sanity_gate
from . import budgets as BN
from . import robustness as R
from .regions import resolve_region
from .worst_case_views import arrays as _arrays, images as _images

METHODS = ("budgeted", "paper", "random")
#: Fractions of ``eps`` at which ``method="paper"`` shows r_1 < r_2 < r_3 (the last is the worst case).
PAPER_CHECKPOINTS = (0.25, 0.5, 1.0)
#: Start of the paper's search: ``||r_0||`` about this fraction of ``eps ||x||``.
PAPER_START = 1e-2
#: Which direction is better for the metrics a release gate may compare.
BETTER = {
    "artifact": LOWER_IS_BETTER,
    "amplification": LOWER_IS_BETTER,
    "worse_than_random": LOWER_IS_BETTER,
    "psnr_perturbed": HIGHER_IS_BETTER,
    "ssim_perturbed": HIGHER_IS_BETTER,
    "psnr_clean": HIGHER_IS_BETTER,
    "ssim_clean": HIGHER_IS_BETTER,
    "ball_fraction": LOWER_IS_BETTER,
}


def worst_case(
    reconstructor: Any,
    operator: LinearOperator,
    images: torch.Tensor,
    *,
    eps: "float | tuple[float, ...]" = 0.01,
    max_artifact: float = 0.1,
    domain: str = "image",
    method: str = "budgeted",
    steps: int | None = None,
    restarts: int | None = None,
    budget: Any = "standard",
    seed: int = 0,
    baseline: Any = "default",
    attack_baseline: bool = False,
    gaussian_draws: int | None = None,
    sanity: bool = True,
    sanity_min_gain_db: float = DEFAULT_MIN_GAIN_DB,
    max_ratio_to_baseline: float | None = None,
    region: Any = None,
    budget_norm: str | None = None,
) -> CheckResult:
    """Search the worst perturbation of size ``eps`` and judge the artifact it causes.

    Args:
        reconstructor: ``f(y, op) -> [B, *op.image_shape]`` (an ``nn.Module`` or any callable);
            frozen (eval mode, no parameter gradients) during the check and restored afterwards.
        operator: the ``LinearOperator`` ``A``.
        images: reference images ``[B, H, W]``; a single ``[H, W]`` image (a tensor whose shape
            equals ``operator.image_shape``) becomes a batch of one.
        eps: perturbation size relative to ``||x||`` (domain "image") or ``||y||`` ("measurements"),
            in (0, 1] (a fraction: 1 % is 0.01); or an increasing tuple, a robustness curve (each level
            warm-started from the previous one; the network's and the baseline's own worst artifact).
        max_artifact: largest acceptable ``||f(A(x + r)) - f(Ax)|| / ||x||`` (dimensionless).
        domain: "image" (``r`` added to ``x``) or "measurements" (``e`` added to ``y``).
        method: "budgeted" (projected ascent with restarts, ``attacks.budgeted_search``),
            "paper" (the paper's momentum ascent, stopped at the ball, with checkpoints
            r_1 < r_2 < r_3 in the panel) or "random" (gradient-free best of
            ``steps * restarts`` random directions, for non-differentiable reconstructors).
        steps, restarts, budget: search budget at "standard" (``None``: the defaults); ``budget``
            ("quick" x0.25 / x0.5, "standard", "thorough" x4 / x2, or a ``budget.Budget``) scales both.
        seed: seeds every random draw; the same seed reproduces the result.
        baseline: "default" (``CSBaseline()``), ``None`` (skip) or a callable ``f(y, op)``.
        attack_baseline: also search the baseline's own worst case (a quarter of the steps, one
            restart), metric ``baseline_worst_artifact``.
        gaussian_draws: the paper's Fig. 2 test with that many draws of ``v = A* e``, ``||v|| = ||r|| / 4``,
            added to the worst case: ``ball_fraction`` of draws still above ``max_artifact`` (95 % CI).
        sanity, sanity_min_gain_db: the sanity gate (``checks.sanity``): before any search, stop with
            ``MiswiredNetworkError`` (no verdict) when the network's mean clean PSNR is below the direct
            reconstruction's plus ``sanity_min_gain_db`` (dB, default 1). ``sanity=False`` skips it.
        max_ratio_to_baseline: if set, also fail when the network's worst artifact exceeds this
            many times the baseline's own worst artifact (at any level); implies ``attack_baseline``.
        region: maximise and measure the artifact inside a region only: a bool mask ``[H, W]``,
            a box ``(r0, c0, r1, c1)`` (rows r0..r1-1, columns c0..c1-1) or ``"detail"`` (where
            ``detail_recovery`` puts its symbols). Method "budgeted" only.
        budget_norm: which size ``eps`` bounds (``checks.budgets``): "x" (``||r||/||x||``), "y"
            (``||e||/||y||``, the measurement domain's default), "full" (``||e||`` over the fully
            sampled k-space norm); every convention's size is in ``settings["budgets"]``.

    Returns:
        ``CheckResult`` with key metric ``artifact`` (lower is better); every metric is listed in the
        module docstring.
    """
    a = _validate(reconstructor, operator, images, eps=eps, max_artifact=max_artifact, domain=domain,
                  method=method, steps=steps, restarts=restarts, budget=budget, seed=seed, baseline=baseline,
                  attack_baseline=attack_baseline, gaussian_draws=gaussian_draws, sanity=sanity,
                  sanity_min_gain_db=sanity_min_gain_db, max_ratio=max_ratio_to_baseline, region=region,
                  budget_norm=budget_norm)
    sw = C.Stopwatch(a.op.device)
    gate = None if a.gate is None else sanity_gate("stability", a.f, a.op, a.x, a.base, min_gain_db=a.gate)
    run = _compute(a, sw, gate)
    metrics, baseline_vals = _metrics(run)
    curve, conv = R.curve_data(a.levels, run.levels, run.base_levels), R.convergence(run.att)
    metrics.update(R.curve_metrics(curve, len(a.levels) > 1, a.max_ratio is not None))
    judged, message = _judge(a, run, metrics)
    passed, message = R.judge_curve(judged, message, curve, a.max_artifact, a.max_ratio, conv)
    result = _result(a, run, metrics, baseline_vals, passed, message, sw.timings("attack_s", "baseline_s"), gate)
    result.failed_criteria = _failed_criteria(a, judged, passed, curve)
    return R.attach(result, a, run, curve, conv)


def _failed_criteria(a: "_Args", judged: bool, passed: bool, curve: dict | None) -> list[str]:
    """The limits the check failed on: max_artifact (at any level of a curve), else the ratio to the
    baseline's own worst case."""
    over = not judged or any(v > a.max_artifact for v in (curve or {}).get("network", []))
    return [c for c, bad in (("max_artifact", over), ("max_ratio_to_baseline", not passed and not over)) if bad]


# -- validate ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Args(C.CheckInputs):
    """The check's validated arguments."""

    eps: float
    max_artifact: float
    domain: str
    method: str
    steps: int
    restarts: int
    gaussian_draws: int | None
    attack_baseline: bool
    baseline_is_cs: bool
    levels: tuple[float, ...] = ()
    max_ratio: float | None = None
    region: torch.Tensor | None = None
    budget_norm: str = "x"


def _validate(reconstructor, operator, images, *, eps, max_artifact, domain, method, steps, restarts, budget,
              seed, baseline, attack_baseline, gaussian_draws, sanity=True, sanity_min_gain_db=DEFAULT_MIN_GAIN_DB,
              max_ratio=None, region=None, budget_norm=None) -> _Args:
    f = V.check_reconstructor(reconstructor)
    op = V.check_operator(operator)
    levels = V.eps_levels(eps)
    eps = levels[-1]
    max_artifact = V.positive("max_artifact", max_artifact, allow_zero=True,
                              unit="relative artifact ||f(A(x+r)) - f(Ax)||/||x||")
    domain = V.choice("domain", domain, attacks.DOMAINS)
    method = V.choice("method", method, METHODS)
    b = get_budget(budget)
    seed = V.check_seed(seed)
    # Explicit values count at "standard" and are scaled like the defaults (README: budget scales them).
    steps = b.steps(V.positive_int("steps", steps, attacks.DEFAULT_STEPS))
    restarts = b.restarts(V.positive_int("restarts", restarts, attacks.DEFAULT_RESTARTS))
    gaussian_draws = V.optional(V.positive_int, "gaussian_draws", gaussian_draws, default=1)
    attack_baseline = V.flag("attack_baseline", attack_baseline)
    x = V.as_image_batch(images, op)
    max_ratio = V.optional(V.positive, "max_ratio_to_baseline", max_ratio, unit="network / baseline worst artifact")
    base = C.resolve_baseline(baseline)
    if (len(levels) > 1 or max_ratio is not None or region is not None) and method != "budgeted":
        raise V.InvalidInputError("robustness curves (a tuple eps), max_ratio_to_baseline and region need "
                                  f"method='budgeted', got method={method!r}")
    if max_ratio is not None and base is None:
        raise V.InvalidInputError("max_ratio_to_baseline compares with the baseline's own worst case; "
                                  "pass a baseline (baseline='default' or a callable)")
    return _Args(f=f, op=op, x=x, seed=seed, budget=b, base=base,
                 gate=C.gate_threshold(sanity, sanity_min_gain_db), eps=eps,
                 max_artifact=max_artifact, domain=domain, method=method, steps=steps, restarts=restarts,
                 gaussian_draws=gaussian_draws, attack_baseline=attack_baseline or max_ratio is not None,
                 baseline_is_cs=C.baseline_title(base) == "CS baseline", levels=levels, max_ratio=max_ratio,
                 region=None if region is None else resolve_region(region, op, x, seed),
                 budget_norm=BN.check_budget_norm(budget_norm, domain, op))


# -- compute ----------------------------------------------------------------------------------------
@dataclass
class _Run:
    """What the searches and reconstructions produced (per image ``[B]`` unless said otherwise)."""

    att: Any  # attacks.AttackResult of the worst case
    paper: Any  # attacks.PaperSearchResult for method="paper", else None
    gauss: torch.Tensor
    ball: Any  # attacks.BallResult with gaussian_draws, else None
    psnr_c: torch.Tensor
    psnr_p: torch.Tensor
    ssim_c: torch.Tensor
    ssim_p: torch.Tensor
    i: int  # the worst image
    base_clean: torch.Tensor | None = None
    base_pert: torch.Tensor | None = None
    base_art: torch.Tensor | None = None
    base_psnr_c: torch.Tensor | None = None
    base_psnr_p: torch.Tensor | None = None
    base_worst: torch.Tensor | None = None
    levels: list[Any] | None = None  # the network's AttackResult per eps level (budgeted)
    base_levels: list[Any] | None = None  # robustness.BaselineWorst per eps level


def _levels(a: _Args) -> list[Any]:
    """The budgeted search at each eps level, each warm-started from the previous level's worst case."""
    out, start = [], None
    for eps in a.levels:
        att = attacks.budgeted_search(a.f, a.op, a.x, eps=eps, domain=a.domain, steps=a.steps, restarts=a.restarts,
                                      seed=a.seed, start=start, region=a.region,
                                      radius=BN.search_radius(a.op, a.x, eps, a.budget_norm))
        out.append(att)
        start = att.perturbation
    return out


def _compute(a: _Args, sw: C.Stopwatch, gate: SanityResult | None = None) -> _Run:
    """The search, its Gaussian comparisons, the network's metrics and the baseline on the same ``r``.

    ``gate``: the sanity gate's result, whose clean baseline reconstruction is reused.
    """
    f, op, x = a.f, a.op, a.x
    paper, levels = None, None
    with sw("attack_s"):
        if a.method == "budgeted":
            levels = _levels(a)
            att = levels[-1]
        elif a.method == "random":
            att = attacks.random_search(f, op, x, eps=a.eps, domain=a.domain, draws=a.steps * a.restarts,
                                        seed=a.seed)
        else:
            paper = _paper(f, op, x, eps=a.eps, domain=a.domain, iters=a.steps * a.restarts, seed=a.seed)
            att = paper.as_attack(-1)
        gauss = attacks.gaussian_like(f, op, x, att.perturbation, domain=a.domain, seed=a.seed + 1)
        ball = None if a.gaussian_draws is None else attacks.gaussian_ball(
            f, op, x, att.perturbation, threshold=a.max_artifact, draws=a.gaussian_draws, seed=a.seed + 2,
            domain=a.domain)
    run = _Run(att, paper, gauss, ball, psnr(att.clean, x), psnr(att.perturbed, x), ssim(att.clean, x),
               ssim(att.perturbed, x), C.worst_index(att.artifact, "lower"), levels=levels)
    with sw("baseline_s"):
        if a.base is not None:
            _run_baseline(a, run, None if gate is None else gate.base_clean)
    return run


def _run_baseline(a: _Args, run: _Run, base_clean: torch.Tensor | None) -> None:
    """The baseline on the network's worst perturbations (and, with ``attack_baseline``, its own).

    ``base_clean``: the baseline's clean reconstruction when the sanity gate already made it.
    """
    op, x = a.op, a.x
    with torch.no_grad():
        y_pert = _measurements(op, x, run.att.perturbation, a.domain)
        y = y_pert if base_clean is not None else torch.cat([op(x), y_pert])  # one batched solve
    out = C.run_baseline(a.base, y, op)
    run.base_clean, run.base_pert = (base_clean, out) if base_clean is not None else (out[: x.shape[0]], out[x.shape[0]:])
    run.base_art = batch_norm(run.base_pert - run.base_clean) / batch_norm(x)
    run.base_psnr_c, run.base_psnr_p = psnr(run.base_clean, x), psnr(run.base_pert, x)
    if a.attack_baseline or len(a.levels) > 1:
        run.base_levels, start = [], None
        for eps in a.levels:  # the baseline's own worst case, warm-started level to level
            bw = R.baseline_worst(a.base, op, x, eps=eps, domain=a.domain, steps=a.steps, seed=a.seed, start=start,
                                  radius=BN.search_radius(op, x, eps, a.budget_norm))
            run.base_levels.append(bw)
            start = bw.perturbation
        run.base_worst = run.base_levels[-1].artifact


def _metrics(run: _Run) -> tuple[dict[str, float], dict[str, float]]:
    """``(metrics, baseline values)`` of the worst image (maxima over images where so documented)."""
    i, att = run.i, run.att
    artifact, size = float(att.artifact[i]), float(att.size[i])
    g_i = float(run.gauss[i])  # the Gaussian artifact of the same image (not the largest over images)
    metrics: dict[str, float] = {
        "eps": size,
        "artifact": artifact,
        "amplification": artifact / size if size > 0 else float("inf"),
        "psnr_clean": float(run.psnr_c[i]),
        "psnr_perturbed": float(run.psnr_p[i]),
        "ssim_clean": float(run.ssim_c[i]),
        "ssim_perturbed": float(run.ssim_p[i]),
        "gaussian_artifact": g_i,
        "worse_than_random": artifact / g_i if g_i > 0 else float("inf"),
    }
    baseline_vals: dict[str, float] = {}
    if run.base_art is not None:
        metrics["baseline_artifact"] = float(run.base_art.max())
        baseline_vals = {"artifact": float(run.base_art.max()), "psnr_clean": float(run.base_psnr_c[i]),
                         "psnr_perturbed": float(run.base_psnr_p[i])}
        if run.base_worst is not None:
            metrics["baseline_worst_artifact"] = baseline_vals["worst_artifact"] = float(run.base_worst.max())
    if run.ball is not None:
        metrics.update(ball_fraction=float(run.ball.fraction[i]), ball_ci_low=float(run.ball.ci_low[i]),
                       ball_ci_high=float(run.ball.ci_high[i]))
    return metrics, baseline_vals


# -- judge ------------------------------------------------------------------------------------------
def _judge(a: _Args, run: _Run, metrics: dict[str, float]) -> tuple[bool, str]:
    """Pass when the worst artifact is at most ``max_artifact``; the one-line message says why."""
    artifact, size = metrics["artifact"], metrics["eps"]
    passed = artifact <= a.max_artifact
    size_name = "||r||/||x||" if a.domain == "image" else "||e||/||y||"
    label = C.baseline_title(a.base)
    message = (
        f"artifact {_num(artifact)} {'<=' if passed else '>'} max_artifact {_num(a.max_artifact)} "
        f"at {size_name} = {C.fmt(size, 3)}"
        + (f"; {label} {_num(metrics['baseline_artifact'])}" if run.base_art is not None else "")
        + (f"; amplification {C.fmt(metrics['amplification'], 1)}x" if not passed else "")
    )
    return passed, message


def _num(v: float) -> str:
    """Two significant digits and at least two decimals: 0.41, 0.10, 0.012, 0.0099 (else C.fmt)."""
    a = abs(v)
    if a != a or a == 0 or not 1e-4 <= a < 1e4:
        return C.fmt(v)
    return f"{v:.{max(2, 1 - math.floor(math.log10(a)))}f}"


# -- result -----------------------------------------------------------------------------------------
def _result(a: _Args, run: _Run, metrics: dict[str, float], baseline_vals: dict[str, float], passed: bool,
            message: str, timings: dict[str, float], gate: SanityResult | None) -> CheckResult:
    att = run.att
    per_image = C.per_image_rows(
        eps=att.size, artifact=att.artifact, amplification=att.amplification, psnr_clean=run.psnr_c,
        psnr_perturbed=run.psnr_p, ssim_clean=run.ssim_c, ssim_perturbed=run.ssim_p, gaussian_artifact=run.gauss,
        **({"baseline_artifact": run.base_art} if run.base_art is not None else {}),
        **({"ball_fraction": run.ball.fraction} if run.ball is not None else {}),
    )
    settings = {
        "eps": a.eps, "max_artifact": a.max_artifact, "domain": a.domain, "method": a.method, "steps": a.steps,
        "restarts": a.restarts, "budget": a.budget.name, "baseline": C.baseline_label(a.base),
        "attack_baseline": a.attack_baseline, "gaussian_draws": a.gaussian_draws, "images": int(a.x.shape[0]),
        "evaluations": int(att.evaluations), "worst_image": run.i, "sanity": C.gate_settings(gate),
        **({"paper": run.paper.settings} if run.paper is not None else {}),
    }
    return C.make_result(
        "worst_case", passed=passed, message=message, metrics=metrics, key_metric="artifact", reconstructor=a.f,
        operator=a.op, seed=a.seed, settings=settings, thresholds={"max_artifact": a.max_artifact},
        baseline=baseline_vals, better=dict(BETTER), timings=timings, per_image=per_image, arrays=_arrays(a, run),
        images=_images(a, run), figure={"name": "r" if a.domain == "image" else "A*e",
                                         "baseline": "CS" if a.baseline_is_cs else "baseline"},
    )


def _paper(f, op: LinearOperator, x: torch.Tensor, *, eps: float, domain: str, iters: int, seed: int):
    """The paper's search with a scale-free step (``step="auto"``), ``lam = 0``, stopped at the ball.

    ``lam = 0``: the ball ``||r|| <= eps ||x||`` bounds the perturbation instead of the penalty.
    """
    with torch.no_grad():
        base = x if domain == "image" else op(x)
    ref = batch_norm(base)
    # the start's size counts the perturbation's own entries: pixels, or measurements (real and imaginary parts)
    n = base[0].numel() * (2 if base.is_complex() else 1)
    # ||tau U|| ~ tau sqrt(n / 3) for U uniform on [0, 1)
    tau = PAPER_START * eps * float(ref.min()) / (n / 3) ** 0.5
    return attacks.paper_search(
        f, op, x, lam=0.0, step="auto", momentum=0.9, tau=tau, iters=max(iters, 2),
        checkpoints=PAPER_CHECKPOINTS, seed=seed, domain=domain, max_size=eps,
    )


def _measurements(op: LinearOperator, x: torch.Tensor, p: torch.Tensor, domain: str) -> torch.Tensor:
    with torch.no_grad():
        return op(x + p) if domain == "image" else op(x) + p
