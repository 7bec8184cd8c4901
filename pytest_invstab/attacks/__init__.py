"""Worst-case perturbation searches (Antun et al., PNAS 2020) and the Gaussian ball around a worst case.

Every search is batched over images ``x`` of shape ``[B, *op.image_shape]``, seeded through a
``torch.Generator`` on the operator's device, and differentiates with ``torch.autograd.grad``
with respect to its own perturbation only, with the model frozen (``reconstructor.frozen``):
eval mode and ``requires_grad=False`` during the search, both restored afterwards, and no
``.grad`` on any parameter.

Two domains:

* ``"image"``: a perturbation ``r`` with ``x``'s dtype (real ``x`` -> real ``r``) and the network
  sees ``A(x + r)``; sizes are relative to ``||x||``.
* ``"measurements"``: a perturbation ``e`` with the measurements' dtype (complex for Fourier)
  added to ``y = A x``; sizes are relative to ``||y||``.

Artifacts are always ``||f(y + .) - f(y)|| / ||x||`` (dimensionless), per image.

One module per search: ``budgeted`` (the marker's default), ``paper`` (the paper's algorithm),
``gradient_free`` (random directions), ``hidden`` (the default search's phase for instabilities
behind flat gradients), ``region`` (the artifact inside a region), ``erase`` (make a detail vanish), ``ball`` (Gaussian ball and Gaussian reference); shared
pieces: ``problem`` (the map under attack, projection, gradient), ``inputs`` (argument rules),
``results`` (result types). To add a search, add a module that builds a ``Problem`` and returns an
``AttackResult``, and re-export it here.
"""

from __future__ import annotations

from .ball import gaussian_ball, gaussian_like
from .budgeted import DEFAULT_RESTARTS, DEFAULT_STEPS, budgeted_search
from .erase import erase_search
from .gradient_free import DEFAULT_DRAWS, random_search
from .inputs import DOMAINS
from .paper import paper_search
from .region import region_search
from .results import AttackResult, BallResult, PaperSearchResult

__all__ = [
    "AttackResult",
    "BallResult",
    "DEFAULT_DRAWS",
    "DEFAULT_RESTARTS",
    "DEFAULT_STEPS",
    "DOMAINS",
    "PaperSearchResult",
    "budgeted_search",
    "erase_search",
    "gaussian_ball",
    "gaussian_like",
    "paper_search",
    "random_search",
    "region_search",
]
