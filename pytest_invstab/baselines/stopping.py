"""Per-image stopping of batched iterative solvers: an image leaves the batch once it has converged.

The rule (both CS baselines): every ``CHECK_EVERY`` iterations, an image whose relative change
over the last iteration ``||x_k - x_{k-1}|| / ||x_k||`` is below ``tol`` is finished; its iterate
is kept and it is removed from the working batch, so later iterations cost only what the
unfinished images need. ``iters`` stays the cap. Because each image stops on its own change,
an image's result does not depend on the other images of its batch (a batch gives the same
images as one call per image, up to float rounding), which lets the checks cache per image.

Removal is done by indexing, so the map ``y -> x`` stays differentiable (an attack on the
baseline differentiates through the iterations each image ran).
"""

from __future__ import annotations

import torch

#: How often the change is measured (every iteration would add a device sync per iteration).
CHECK_EVERY = 10


def relative_change(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """``||new - old|| / ||new||`` per batch element (detached), ``[B]``."""
    b = new.shape[0]
    d = (new.detach() - old.detach()).reshape(b, -1)
    n = new.detach().reshape(b, -1)
    return torch.linalg.vector_norm(d, dim=1) / torch.linalg.vector_norm(n, dim=1).clamp_min(1e-30)


class Stopper:
    """Tracks which images of a batch are still iterating and collects the finished ones.

    Args:
        batch: number of images at the start.
        tol: relative-change tolerance, or ``None`` for a fixed iteration count.
        every: check period in iterations.
    """

    def __init__(self, batch: int, tol: float | None, every: int = CHECK_EVERY):
        self.tol = tol
        self.every = every
        self.index = torch.arange(batch)  # original positions of the rows still iterating
        self._done_index: list[torch.Tensor] = []
        self._done_x: list[tuple[torch.Tensor, ...]] = []
        self.iterations = torch.zeros(batch, dtype=torch.long)  # iterations each image ran

    def due(self, k: int) -> bool:
        """Whether the change should be measured after iteration ``k`` (1-based)."""
        return self.tol is not None and k % self.every == 0

    def update(self, k: int, change: torch.Tensor, x: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor | None:
        """After iteration ``k``: retire the rows of ``x`` (and of each ``extra`` tensor kept with
        it, e.g. a dual variable) whose ``change`` < tol.

        Returns ``None`` when every row goes on, else the boolean mask of the rows to keep
        (on ``x``'s device): the caller indexes its working state with it.
        """
        self.iterations[self.index] = k
        stop = (change.detach() < self.tol).cpu()
        if not bool(stop.any()):
            return None
        self._done_index.append(self.index[stop])
        done = stop.to(x.device)
        self._done_x.append(tuple(t[done] for t in (x, *extra)))
        self.index = self.index[~stop]
        return ~done

    @property
    def finished(self) -> bool:
        return self.index.numel() == 0

    def assemble(self, x_active: torch.Tensor, k: int, *extra_active: torch.Tensor):
        """The full batch in its original order: the retired rows and the ones still in ``x_active``.

        With ``extra_active`` (the tensors given to :meth:`update` as ``extra``), a tuple
        ``(x, *extra)``, each assembled the same way.
        """
        self.iterations[self.index] = k
        active = (x_active, *extra_active)
        if self._done_x:
            index = torch.cat([*self._done_index, self.index])
            order = torch.argsort(index).to(x_active.device)
            active = tuple(torch.cat([*(done[i] for done in self._done_x), t])[order] for i, t in enumerate(active))
        return active if extra_active else active[0]


__all__ = ["CHECK_EVERY", "Stopper", "relative_change"]
