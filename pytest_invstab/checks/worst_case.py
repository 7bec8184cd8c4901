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
    eps: float = 0.01,
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
) -> CheckResult:
    """Search the worst perturbation of size ``eps`` and judge the artifact it causes.

    Args:
        reconstructor: ``f(y, op) -> [B, *op.image_shape]`` (an ``nn.Module`` or any callable);
            frozen (eval mode, no parameter gradients) during the check and restored afterwards.
        operator: the ``LinearOperator`` ``A``.
        images: reference images ``[B, H, W]``; a single ``[H, W]`` image (a tensor whose shape
            equals ``operator.image_shape``) becomes a batch of one.
        eps: perturbation size relative to ``||x||`` (domain "image") or ``||y||``
            ("measurements"), dimensionless, > 0.
        max_artifact: largest acceptable ``||f(A(x + r)) - f(Ax)|| / ||x||`` (dimensionless).
        domain: "image" (``r`` added to ``x``) or "measurements" (``e`` added to ``y``).
        method: "budgeted" (projected ascent with restarts, ``attacks.budgeted_search``),
            "paper" (the paper's momentum ascent, stopped at the ball, with checkpoints
            r_1 < r_2 < r_3 in the panel) or "random" (gradient-free best of
            ``steps * restarts`` random directions, for non-differentiable reconstructors).
        steps, restarts: search budget; ``None`` takes ``budget``'s default
            (``attacks.DEFAULT_STEPS`` x ``attacks.DEFAULT_RESTARTS`` at "standard").
        budget: "quick", "standard", "thorough" or a ``budget.Budget``.
        seed: seeds every random draw; the same seed reproduces the result.
        baseline: "default" (``CSBaseline()``), ``None`` (skip) or a callable ``f(y, op)``.
        attack_baseline: also search the baseline's own worst case (a quarter of the steps, one
            restart), metric ``baseline_worst_artifact``.
        gaussian_draws: if set, the paper's Fig. 2 test with that many draws: Gaussian noise
            ``v = A* e`` of norm ``||r|| / 4`` added to the worst case; ``ball_fraction`` is the
            share of draws whose artifact still exceeds ``max_artifact`` (95 % Clopper-Pearson
            interval ``ball_ci_low``..``ball_ci_high``).

    Returns:
        ``CheckResult`` with key metric ``artifact`` (lower is better). Metrics: ``eps``
        (achieved size of the worst image's perturbation), ``artifact``, ``amplification``
        (artifact / eps), ``psnr_clean`` / ``psnr_perturbed`` (dB) and ``ssim_clean`` /
        ``ssim_perturbed`` of the worst image against ``x``, ``gaussian_artifact``,
        ``worse_than_random`` (artifact / gaussian_artifact), ``baseline_artifact``,
        ``baseline_worst_artifact`` (with ``attack_baseline``), ``ball_fraction``,
        ``ball_ci_low``, ``ball_ci_high`` (with ``gaussian_draws``).
    """
    a = _validate(reconstructor, operator, images, eps=eps, max_artifact=max_artifact, domain=domain,
                  method=method, steps=steps, restarts=restarts, budget=budget, seed=seed, baseline=baseline,
                  attack_baseline=attack_baseline, gaussian_draws=gaussian_draws)
    sw = C.Stopwatch(a.op.device)
    run = _compute(a, sw)
    metrics, baseline_vals = _metrics(run)
    passed, message = _judge(a, run, metrics)
    return _result(a, run, metrics, baseline_vals, passed, message, sw.timings("attack_s", "baseline_s"))


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


def _validate(reconstructor, operator, images, *, eps, max_artifact, domain, method, steps, restarts, budget,
              seed, baseline, attack_baseline, gaussian_draws) -> _Args:
    f = V.check_reconstructor(reconstructor)
    op = V.check_operator(operator)
    eps = V.positive("eps", eps, unit="relative size ||r||/||x||, e.g. 0.01")
    max_artifact = V.positive("max_artifact", max_artifact, allow_zero=True,
                              unit="relative artifact ||f(A(x+r)) - f(Ax)||/||x||")
    domain = V.choice("domain", domain, attacks.DOMAINS)
    method = V.choice("method", method, METHODS)
    b = get_budget(budget)
    seed = V.check_seed(seed)
    steps = V.positive_int("steps", steps, b.steps(attacks.DEFAULT_STEPS))
    restarts = V.positive_int("restarts", restarts, b.restarts(attacks.DEFAULT_RESTARTS))
    gaussian_draws = V.optional(V.positive_int, "gaussian_draws", gaussian_draws, default=1)
    attack_baseline = V.flag("attack_baseline", attack_baseline)
    x = V.as_image_batch(images, op)
    return _Args(f=f, op=op, x=x, seed=seed, budget=b, base=C.resolve_baseline(baseline), eps=eps,
                 max_artifact=max_artifact, domain=domain, method=method, steps=steps, restarts=restarts,
                 gaussian_draws=gaussian_draws, attack_baseline=attack_baseline,
                 baseline_is_cs=baseline == "default")


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


def _compute(a: _Args, sw: C.Stopwatch) -> _Run:
    """The search, its Gaussian comparisons, the network's metrics and the baseline on the same ``r``."""
    f, op, x = a.f, a.op, a.x
    paper = None
    with sw("attack_s"):
        if a.method == "budgeted":
            att = attacks.budgeted_search(f, op, x, eps=a.eps, domain=a.domain, steps=a.steps,
                                          restarts=a.restarts, seed=a.seed)
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
               ssim(att.perturbed, x), C.worst_index(att.artifact, "lower"))
    with sw("baseline_s"):
        if a.base is not None:
            _run_baseline(a, run)
    return run


def _run_baseline(a: _Args, run: _Run) -> None:
    """The baseline on the network's worst perturbations (and, with ``attack_baseline``, its own)."""
    op, x = a.op, a.x
    with torch.no_grad():  # clean and perturbed in one batched solve
        y = torch.cat([op(x), _measurements(op, x, run.att.perturbation, a.domain)])
    out = C.run_baseline(a.base, y, op)
    run.base_clean, run.base_pert = out[: x.shape[0]], out[x.shape[0]:]
    run.base_art = batch_norm(run.base_pert - run.base_clean) / batch_norm(x)
    run.base_psnr_c, run.base_psnr_p = psnr(run.base_clean, x), psnr(run.base_pert, x)
    if a.attack_baseline:
        run.base_worst = attacks.budgeted_search(
            a.base, op, x, eps=a.eps, domain=a.domain, steps=max(2, a.steps // 4), restarts=1, seed=a.seed
        ).artifact


def _metrics(run: _Run) -> tuple[dict[str, float], dict[str, float]]:
    """``(metrics, baseline values)`` of the worst image (maxima over images where so documented)."""
    i, att = run.i, run.att
    artifact, size = float(att.artifact[i]), float(att.size[i])
    g_max = float(run.gauss.max())
    metrics: dict[str, float] = {
        "eps": size,
        "artifact": artifact,
        "amplification": artifact / size if size > 0 else float("inf"),
        "psnr_clean": float(run.psnr_c[i]),
        "psnr_perturbed": float(run.psnr_p[i]),
        "ssim_clean": float(run.ssim_c[i]),
        "ssim_perturbed": float(run.ssim_p[i]),
        "gaussian_artifact": g_max,
        "worse_than_random": artifact / g_max if g_max > 0 else float("inf"),
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
    label = "CS baseline" if a.baseline_is_cs else "baseline"
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
            message: str, timings: dict[str, float]) -> CheckResult:
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
        "evaluations": int(att.evaluations), "worst_image": run.i,
        **({"paper": run.paper.settings} if run.paper is not None else {}),
    }
    return C.make_result(
        "worst_case", passed=passed, message=message, metrics=metrics, key_metric="artifact", reconstructor=a.f,
        operator=a.op, seed=a.seed, settings=settings, thresholds={"max_artifact": a.max_artifact},
        baseline=baseline_vals, better=dict(BETTER), timings=timings, per_image=per_image, arrays=_arrays(a, run),
        images=_images(a, run), figure={"name": "r" if a.domain == "image" else "A*e",
                                         "baseline": "CS" if a.baseline_is_cs else "baseline"},
    )


def _arrays(a: _Args, run: _Run) -> dict[str, torch.Tensor]:
    """What ``arrays.npz`` keeps to reproduce the case (``r`` or ``e``, and ``r1``.. for the paper)."""
    key, att = ("r" if a.domain == "image" else "e"), run.att
    arrays = {"x": a.x.detach().cpu(), key: att.perturbation.detach().cpu(), "f_clean": att.clean.detach().cpu(),
              "f_perturbed": att.perturbed.detach().cpu(), "artifact": att.artifact.detach().cpu(),
              "seed": torch.tensor([a.seed])}
    if run.paper is not None:
        for j, pj in enumerate(run.paper.perturbations, 1):
            arrays[f"{key}{j}"] = pj.detach().cpu()
    return arrays


def _images(a: _Args, run: _Run) -> dict[str, torch.Tensor]:
    """The worst image's views for ``report.layouts.worst_case_rows`` (perturbations in the image domain)."""
    i, att = run.i, run.att
    images = {"x": a.x[i], "shown": _image_view(a, att.perturbation, i), "f_clean": att.clean[i],
              "f_perturbed": att.perturbed[i]}
    if run.base_clean is not None and run.base_pert is not None:
        images.update(baseline_clean=run.base_clean[i], baseline_perturbed=run.base_pert[i])
    if run.paper is not None:
        for j, (pj, oj) in enumerate(zip(run.paper.perturbations, run.paper.outputs), 1):
            images.update({f"shown{j}": _image_view(a, pj, i), f"output{j}": oj[i]})
    return {k: v.detach().cpu() for k, v in images.items()}


def _image_view(a: _Args, p: torch.Tensor, i: int) -> torch.Tensor:
    """Image ``i`` of a perturbation as seen in the image: ``r`` itself, or ``A* e``."""
    with torch.no_grad():
        return p[i] if a.domain == "image" else a.op.adjoint(p[i : i + 1])[0]


def _paper(f, op: LinearOperator, x: torch.Tensor, *, eps: float, domain: str, iters: int, seed: int):
    """The paper's search with a scale-free step (``step="auto"``), ``lam = 0``, stopped at the ball.

    ``lam = 0``: the ball ``||r|| <= eps ||x||`` bounds the perturbation instead of the penalty.
    """
    ref = batch_norm(x) if domain == "image" else batch_norm(op(x))
    n = x[0].numel() * (2 if (domain == "measurements" and op.complex_measurements) or x.is_complex() else 1)
    # ||tau U|| ~ tau sqrt(n / 3) for U uniform on [0, 1)
    tau = PAPER_START * eps * float(ref.min()) / (n / 3) ** 0.5
    return attacks.paper_search(
        f, op, x, lam=0.0, step="auto", momentum=0.9, tau=tau, iters=max(iters, 2),
        checkpoints=PAPER_CHECKPOINTS, seed=seed, domain=domain, max_size=eps,
    )


def _measurements(op: LinearOperator, x: torch.Tensor, p: torch.Tensor, domain: str) -> torch.Tensor:
    with torch.no_grad():
        return op(x + p) if domain == "image" else op(x) + p
