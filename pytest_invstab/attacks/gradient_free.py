"""The gradient-free search: the best of many random directions on the sphere.

For reconstructors that cannot be differentiated (numpy inside): forward passes only.
"""

from __future__ import annotations

import torch

from ..budget import Budget, get_budget
from ..operators.base import LinearOperator
from ..reconstructor import Reconstructor, frozen
from .inputs import check_eps, check_inputs, count, jsonable_eps
from .problem import Best, Problem, check_finite, to_radius
from .results import AttackResult

#: Default number of random directions of ``random_search`` (budget "standard").
DEFAULT_DRAWS = 64


def random_search(
    f: Reconstructor,
    op: LinearOperator,
    x: torch.Tensor,
    *,
    eps: "float | torch.Tensor",
    domain: str = "image",
    draws: int | None = None,
    seed: int = 0,
    budget: "str | Budget | None" = "standard",
) -> AttackResult:
    """Best of ``draws`` random directions on the sphere ``||r|| = eps ||x||`` (or ``eps ||y||``).

    Gradient-free, for reconstructors that cannot be differentiated (numpy inside): only forward
    passes, without autograd. A weak search: it finds the typical, not the worst, perturbation,
    so its artifact is a lower bound of the worst case. Default ``budget.draws(DEFAULT_DRAWS)``.
    """
    x = check_inputs(f, op, x, domain)
    eps_t = check_eps(eps, x.shape[0], x.device, op.dtype)
    b = get_budget(budget)
    draws = count("draws", draws, b.draws(DEFAULT_DRAWS))
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    with frozen(f), torch.no_grad():
        prob = Problem(f, op, x, domain)
        radius = eps_t * prob.ref_norm
        best = Best(prob, keep_output=True)
        finite = torch.ones((), dtype=torch.bool, device=x.device)
        for _ in range(draws):
            p = to_radius(prob.random(gen), radius)
            out = prob.output(p)
            sq = prob.sq_dist(out)
            finite &= torch.isfinite(sq).all()
            best.update(sq, p, out)
        check_finite(finite)
    return prob.result("random", best, best.out, best.sq, seed=seed, restart_artifacts=prob.artifact(best.sq)[None],
                       settings={"eps": jsonable_eps(eps), "draws": draws, "budget": b.name})


__all__ = ["DEFAULT_DRAWS", "random_search"]
