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
from typing import Any

import torch

from .. import attacks
from ..errors import InvalidInputError
from ..metrics import psnr, ssim
from ..operators.base import LinearOperator
from ..result import HIGHER_IS_BETTER, LOWER_IS_BETTER, CheckResult
from . import _common as C

METHODS = ("budgeted", "paper", "random")
#: Fractions of ``eps`` at which ``method="paper"`` shows r_1 < r_2 < r_3 (the last is the worst case).
PAPER_CHECKPOINTS = (0.25, 0.5, 1.0)
#: Start of the paper's search: ``||r_0||`` about this fraction of ``eps ||x||``.
PAPER_START = 1e-2


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
        domain: "image" (``r`` added to ``x``, same dtype as ``x``) or "measurements" (``e``
            added to ``y``).
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
        ``ssim_perturbed`` of the worst image against ``x``, ``gaussian_artifact`` (worst over
        images of a same-norm Gaussian perturbation's artifact), ``worse_than_random``
        (artifact / gaussian_artifact), ``baseline_artifact`` (the baseline on the same
        perturbations, worst over images), ``baseline_worst_artifact`` (with ``attack_baseline``),
        ``ball_fraction``, ``ball_ci_low``, ``ball_ci_high`` (with ``gaussian_draws``). Settings
        record the budget, the worst image's index and ``evaluations`` (forward passes of the search).
    """
    f = C.check_reconstructor(reconstructor)
    op = C.check_operator(operator)
    eps = C.positive("eps", eps, unit="relative size ||r||/||x||, e.g. 0.01")
    max_artifact = C.positive("max_artifact", max_artifact, allow_zero=True, unit="relative artifact ||f(A(x+r)) - f(Ax)||/||x||")
    domain = C.choice("domain", domain, attacks.DOMAINS)
    method = C.choice("method", method, METHODS)
    b = C.resolve_budget(budget)
    seed = C.check_seed(seed)
    steps = C.positive_int("steps", steps, b.steps(attacks.DEFAULT_STEPS))
    restarts = C.positive_int("restarts", restarts, b.restarts(attacks.DEFAULT_RESTARTS))
    if gaussian_draws is not None:
        gaussian_draws = C.positive_int("gaussian_draws", gaussian_draws, 1)
    if not isinstance(attack_baseline, bool):
        raise InvalidInputError(f"attack_baseline must be True or False, got {attack_baseline!r}")
    x = C.as_image_batch(images, op)
    base = C.resolve_baseline(baseline)
    sw = C.Stopwatch(op.device)

    paper = None
    with sw("attack_s"):
        if method == "budgeted":
            att = attacks.budgeted_search(f, op, x, eps=eps, domain=domain, steps=steps, restarts=restarts, seed=seed)
        elif method == "random":
            att = attacks.random_search(f, op, x, eps=eps, domain=domain, draws=steps * restarts, seed=seed)
        else:
            paper = _paper(f, op, x, eps=eps, domain=domain, iters=steps * restarts, seed=seed)
            att = paper.as_attack(-1)
        gauss = attacks.gaussian_like(f, op, x, att.perturbation, domain=domain, seed=seed + 1)
        ball = None
        if gaussian_draws is not None:
            ball = attacks.gaussian_ball(
                f, op, x, att.perturbation, threshold=max_artifact, draws=gaussian_draws, seed=seed + 2, domain=domain
            )

    # the network's numbers, per image
    x_norm = attacks._bnorm(x)
    pert_meas = _measurements(op, x, att.perturbation, domain)
    psnr_c, psnr_p = psnr(att.clean, x), psnr(att.perturbed, x)
    ssim_c, ssim_p = ssim(att.clean, x), ssim(att.perturbed, x)
    i = C.worst_index(att.artifact, "lower")

    base_clean = base_pert = base_art = base_worst = None
    with sw("baseline_s"):
        if base is not None:
            base_clean = C.run_reconstructor(base, op(x), op)
            base_pert = C.run_reconstructor(base, pert_meas, op)
            base_art = attacks._bnorm(base_pert - base_clean) / x_norm
            if attack_baseline:
                base_worst = attacks.budgeted_search(
                    base, op, x, eps=eps, domain=domain, steps=max(2, steps // 4), restarts=1, seed=seed
                ).artifact

    artifact = float(att.artifact[i])
    size = float(att.size[i])
    metrics: dict[str, float] = {
        "eps": size,
        "artifact": artifact,
        "amplification": artifact / size if size > 0 else float("inf"),
        "psnr_clean": float(psnr_c[i]),
        "psnr_perturbed": float(psnr_p[i]),
        "ssim_clean": float(ssim_c[i]),
        "ssim_perturbed": float(ssim_p[i]),
        "gaussian_artifact": float(gauss.max()),
    }
    g_max = metrics["gaussian_artifact"]
    metrics["worse_than_random"] = artifact / g_max if g_max > 0 else float("inf")
    baseline_vals: dict[str, float] = {}
    if base_art is not None:
        metrics["baseline_artifact"] = float(base_art.max())
        baseline_vals = {
            "artifact": float(base_art.max()),
            "psnr_clean": float(psnr(base_clean, x)[i]),
            "psnr_perturbed": float(psnr(base_pert, x)[i]),
        }
        if base_worst is not None:
            metrics["baseline_worst_artifact"] = float(base_worst.max())
            baseline_vals["worst_artifact"] = float(base_worst.max())
    if ball is not None:
        metrics.update(
            ball_fraction=float(ball.fraction[i]),
            ball_ci_low=float(ball.ci_low[i]),
            ball_ci_high=float(ball.ci_high[i]),
        )

    passed = artifact <= max_artifact
    size_name = "||r||/||x||" if domain == "image" else "||e||/||y||"
    label = "CS baseline" if baseline == "default" else "baseline"
    message = (
        f"artifact {_num(artifact)} {'<=' if passed else '>'} max_artifact {_num(max_artifact)} "
        f"at {size_name} = {C.fmt(size, 3)}"
        + (f"; {label} {_num(metrics['baseline_artifact'])}" if base_art is not None else "")
        + (f"; amplification {C.fmt(metrics['amplification'], 1)}x" if not passed else "")
    )

    per_image = C.per_image_rows(
        eps=att.size,
        artifact=att.artifact,
        amplification=att.amplification,
        psnr_clean=psnr_c,
        psnr_perturbed=psnr_p,
        ssim_clean=ssim_c,
        ssim_perturbed=ssim_p,
        gaussian_artifact=gauss,
        **({"baseline_artifact": base_art} if base_art is not None else {}),
        **({"ball_fraction": ball.fraction} if ball is not None else {}),
    )

    panel = _panel(op, x, att, i, domain, base_clean, base_pert, paper, baseline_is_cs=baseline == "default")
    key = "r" if domain == "image" else "e"
    arrays = {
        "x": x.detach().cpu(),
        key: att.perturbation.detach().cpu(),
        "f_clean": att.clean.detach().cpu(),
        "f_perturbed": att.perturbed.detach().cpu(),
        "artifact": att.artifact.detach().cpu(),
        "seed": torch.tensor([seed]),
    }
    if paper is not None:
        for j, pj in enumerate(paper.perturbations, 1):
            arrays[f"{key}{j}"] = pj.detach().cpu()
    timings = sw.timings("attack_s", "baseline_s")
    return C.make_result(
        "worst_case",
        passed=passed,
        message=message,
        metrics=metrics,
        key_metric="artifact",
        reconstructor=f,
        operator=op,
        seed=seed,
        settings={
            "eps": eps,
            "max_artifact": max_artifact,
            "domain": domain,
            "method": method,
            "steps": steps,
            "restarts": restarts,
            "budget": b.name,
            "baseline": C.baseline_label(base),
            "attack_baseline": attack_baseline,
            "gaussian_draws": gaussian_draws,
            "images": int(x.shape[0]),
            "evaluations": int(att.evaluations),
            "worst_image": i,
            **({"paper": paper.settings} if paper is not None else {}),
        },
        thresholds={"max_artifact": max_artifact},
        baseline=baseline_vals,
        better={
            "artifact": LOWER_IS_BETTER,
            "amplification": LOWER_IS_BETTER,
            "worse_than_random": LOWER_IS_BETTER,
            "psnr_perturbed": HIGHER_IS_BETTER,
            "ssim_perturbed": HIGHER_IS_BETTER,
            "psnr_clean": HIGHER_IS_BETTER,
            "ssim_clean": HIGHER_IS_BETTER,
            "ball_fraction": LOWER_IS_BETTER,
        },
        timings=timings,
        per_image=per_image,
        panel=panel,
        arrays=arrays,
    )


def _num(v: float) -> str:
    """Two significant digits and at least two decimals: 0.41, 0.10, 0.012, 0.0099 (else C.fmt)."""
    a = abs(v)
    if a != a or a == 0 or not 1e-4 <= a < 1e4:
        return C.fmt(v)
    return f"{v:.{max(2, 1 - math.floor(math.log10(a)))}f}"


def _paper(f, op: LinearOperator, x: torch.Tensor, *, eps: float, domain: str, iters: int, seed: int):
    """The paper's search with a scale-free step (``step="auto"``), ``lam = 0``, stopped at the ball.

    ``lam = 0``: the ball ``||r|| <= eps ||x||`` bounds the perturbation instead of the penalty.
    """
    ref = attacks._bnorm(x) if domain == "image" else attacks._bnorm(op(x))
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


def _panel(op, x, att, i, domain, base_clean, base_pert, paper, baseline_is_cs: bool):
    """Rows like the paper's Fig. 1 for image ``i``: inputs, network, baseline (, checkpoints)."""
    xi = x[i]
    with torch.no_grad():
        shown = att.perturbation[i] if domain == "image" else op.adjoint(att.perturbation[i : i + 1])[0]
    name = "r" if domain == "image" else "A*e"
    scaled, factor = C.amplified(shown, xi)
    rows = [
        C.panel_row(
            ("x", xi),
            (f"x + {name}", xi + shown),
            (C.factor_label(name, factor), scaled),
        ),
        C.panel_row(
            ("f(Ax)", att.clean[i]),
            (f"f(A(x + {name}))", att.perturbed[i]),
            (f"|f(A(x + {name})) − f(Ax)|", (att.perturbed[i] - att.clean[i]).abs()),
        ),
    ]
    if base_clean is not None:
        b = "CS" if baseline_is_cs else "baseline"
        rows.append(
            C.panel_row(
                (f"{b}(Ax)", base_clean[i]),
                (f"{b}(A(x + {name}))", base_pert[i]),
                (f"|{b}(A(x + {name})) − {b}(Ax)|", (base_pert[i] - base_clean[i]).abs()),
            )
        )
    if paper is not None:
        views = []
        for pj in paper.perturbations:
            with torch.no_grad():
                views.append(pj[i] if domain == "image" else op.adjoint(pj[i : i + 1])[0])
        n = "r" if domain == "image" else "A*e"
        rows.append(C.panel_row(*[(f"x + {n}{j}", xi + v) for j, v in enumerate(views, 1)]))
        rows.append(C.panel_row(*[(f"f(A(x + {n}{j}))", o[i]) for j, o in enumerate(paper.outputs, 1)]))
    return rows


__all__ = ["worst_case", "METHODS"]
