"""Models that take ``(y, physics)`` in their own library's layout (deepinv's convention).

:func:`adapt_reconstructor` wraps such a model in :class:`PhysicsModel`, detected by the name of
its forward's second argument (``physics``). Called with an operator from :func:`from_deepinv`,
it converts our measurements to the library's layout, passes the user's own physics (rebuilt
with the operator's mask or angles for other rates) and converts the output back. Called with
one of our native operators, it stops with one error that names ``from_deepinv`` instead of a
crash inside the library (``'FourierOperator' object has no attribute 'A_adjoint'``).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import torch

from ..errors import ReconstructorError

_PHYSICS_ATTRS = ("A_adjoint", "A_dagger", "'A'", "physics", "update_parameters")


def takes_physics(f: Any) -> bool:
    """True when ``f``'s call takes an argument named ``physics`` (deepinv models do)."""
    target = f.forward if isinstance(f, torch.nn.Module) else f
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False
    return "physics" in params


def _library(model: Any) -> str:
    return (type(model).__module__ or "").split(".")[0]


def _needs_adapter_error(model: Any, op: Any) -> ReconstructorError:
    return ReconstructorError(
        f"{type(model).__name__} takes (y, physics) in its own library's layout, but got our "
        f"{type(op).__name__}; build the operator from your physics with "
        "pytest_invstab.from_deepinv(physics) (an `operator` fixture returning from_deepinv(physics)), "
        "so the model is called with your own physics"
    )


class PhysicsModel(torch.nn.Module):
    """``f(y, op)`` for a model ``model(y_native, physics) -> image_native``.

    ``op`` must come from :func:`pytest_invstab.from_deepinv` (it provides ``to_native``,
    ``native_physics`` and ``image_from_native``). ``self.model`` is the user's model.
    """

    def __init__(self, model: Callable):
        super().__init__()
        self.model = model

    def forward(self, y: torch.Tensor, op: Any) -> torch.Tensor:
        if not callable(getattr(op, "native_physics", None)):
            if _library(self.model) == "deepinv":
                raise _needs_adapter_error(self.model, op)
            try:  # a user's own f(y, physics) written for our operators
                return self.model(y, op)
            except AttributeError as exc:
                if any(name in str(exc) for name in _PHYSICS_ATTRS):
                    raise _needs_adapter_error(self.model, op) from exc
                raise
        out = self.model(op.to_native(y), op.native_physics())
        return op.image_from_native(out)

    def extra_repr(self) -> str:
        return f"wraps {type(self.model).__name__}"


def adapt_reconstructor(f: Any) -> Any:
    """``f`` wrapped in :class:`PhysicsModel` when it takes ``(y, physics)``, else ``f`` itself."""
    if isinstance(f, PhysicsModel) or not takes_physics(f):
        return f
    return PhysicsModel(f)
