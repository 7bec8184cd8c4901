"""What the searches return: ``AttackResult``, ``PaperSearchResult`` and ``BallResult``.

All sizes and artifacts are dimensionless (relative to ``||x||``, or ``||y||`` for sizes in the
measurement domain) and carry one value per image of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["AttackResult", "BallResult", "PaperSearchResult"]

@dataclass
class AttackResult:
    """Worst perturbation found per image.

    ``perturbation``: ``r`` ``[B, *image_shape]`` (domain "image") or ``e`` ``[B, *measurement_shape]``
    (domain "measurements"). ``size``: ``||r||/||x||`` or ``||e||/||y||`` per image ``[B]``.
    ``artifact``: ``||f(y + A r) - f(y)|| / ||x||`` per image ``[B]`` (dimensionless).
    ``clean`` = ``f(A x)`` and ``perturbed`` = ``f(A x + perturbation)``, ``[B, *image_shape]``.
    ``restart_artifacts``: ``[restarts, B]`` best artifact of each restart. ``evaluations``: number of
    batched forward passes of ``f`` (each followed by one backward pass for gradient methods).
    """

    method: str
    domain: str
    perturbation: torch.Tensor
    size: torch.Tensor
    artifact: torch.Tensor
    clean: torch.Tensor
    perturbed: torch.Tensor
    evaluations: int
    seed: int
    restart_artifacts: torch.Tensor | None = None
    settings: dict = field(default_factory=dict)
    #: convergence: best artifact so far ``[steps, B]`` after each step, at ``trace_evaluations`` evaluations
    trace: torch.Tensor | None = None
    trace_evaluations: list[int] | None = None

    @property
    def amplification(self) -> torch.Tensor:
        """``artifact / size`` per image: how much the network magnifies the perturbation."""
        return self.artifact / self.size.clamp_min(torch.finfo(self.size.dtype).tiny)


@dataclass
class PaperSearchResult:
    """The paper's gradient-ascent sequence.

    ``checkpoints``: the iterations at which ``perturbations`` were taken (r_1, r_2, ...), each
    ``[B, *shape]``; ``sizes`` / ``artifacts``: ``[len(checkpoints), B]`` relative norms and
    artifacts (as in ``AttackResult``); ``outputs``: ``f(A(x + r_j))`` per checkpoint;
    ``objective``: ``[iterations, B]`` the value 1/2||f(y + A r_k) - f(y)||^2 - lam/2 ||r_k||^2 at each
    iterate (fewer than ``iters`` rows when every image stopped at ``max_size`` early).
    """

    domain: str
    checkpoints: list[int]
    perturbations: list[torch.Tensor]
    sizes: torch.Tensor
    artifacts: torch.Tensor
    outputs: list[torch.Tensor]
    clean: torch.Tensor
    objective: torch.Tensor
    evaluations: int
    seed: int
    settings: dict = field(default_factory=dict)

    def as_attack(self, index: int = -1) -> AttackResult:
        """Checkpoint ``index`` as an ``AttackResult`` (default: the last, largest)."""
        return AttackResult(
            method="paper",
            domain=self.domain,
            perturbation=self.perturbations[index],
            size=self.sizes[index],
            artifact=self.artifacts[index],
            clean=self.clean,
            perturbed=self.outputs[index],
            evaluations=self.evaluations,
            seed=self.seed,
            settings=dict(self.settings),
        )


@dataclass
class BallResult:
    """Gaussian ball around a worst case (the paper's Fig. 2), per image.

    ``artifacts``: ``[draws, B]`` artifact ``||f(A(x + r + v)) - f(Ax)|| / ||x||`` of each draw;
    ``fraction``: ``[B]`` share of draws above ``threshold``; ``ci_low`` / ``ci_high``: ``[B]``
    95 % Clopper-Pearson interval of that share.
    """

    artifacts: torch.Tensor
    fraction: torch.Tensor
    ci_low: torch.Tensor
    ci_high: torch.Tensor
    threshold: float
    scale: float
    draws: int
    seed: int
