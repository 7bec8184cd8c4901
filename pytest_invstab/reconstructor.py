"""Reconstructors: callables ``f(y, op) -> image``, and how checks handle them safely.

A check never changes the model it tests: ``frozen`` puts every ``torch.nn.Module`` it can
find in eval mode with ``requires_grad=False`` and restores both afterwards, also when the
check fails or raises. Attacks differentiate with ``torch.autograd.grad`` with respect to
their own perturbation only, so no ``.grad`` ever accumulates in the model's parameters.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Callable, Iterator, Protocol, runtime_checkable

import torch

from .errors import InvalidInputError, ReconstructorError
from .operators.base import LinearOperator


#: The one message for a reconstructor a gradient search cannot differentiate (attacks use it too).
NOT_DIFFERENTIABLE = (
    "the reconstructor's output does not depend differentiably on its input (numpy, .detach(), "
    "or torch.no_grad inside?); the worst-case search needs gradients: write the forward pass in "
    "torch operations, or use method='random' for a gradient-free search"
)


@runtime_checkable
class Reconstructor(Protocol):
    """What a check attacks: ``f(y, op) -> image``, ``y`` ``[B, *op.measurement_shape]`` to
    ``[B, *op.image_shape]`` (any callable with this signature, e.g. a ``torch.nn.Module``)."""

    def __call__(self, y: torch.Tensor, op: LinearOperator) -> torch.Tensor: ...


class ImageNetworkReconstructor(torch.nn.Module):
    """``f(y, op) = net(init(y))`` for a network that maps images to images.

    The network sees ``[B, C, H, W]``: C = 1 (real part) for real images, C = 2 (real and
    imaginary parts) for complex images when ``complex_as_channels`` is set, else the
    magnitude. Its output ``[B, 1, H, W]`` (or ``[B, 2, H, W]`` for complex) is returned
    as ``[B, H, W]``.
    """

    def __init__(self, net: torch.nn.Module, init: str = "direct", complex_as_channels: bool = False):
        super().__init__()
        if init not in ("direct", "adjoint", "fbp", "zero-filled"):
            raise InvalidInputError(f"init must be 'direct', 'adjoint', 'fbp' or 'zero-filled', got {init!r}")
        self.net = net
        self.init = init
        self.complex_as_channels = complex_as_channels

    def forward(self, y: torch.Tensor, op: LinearOperator) -> torch.Tensor:
        x0 = op.adjoint(y) if self.init == "adjoint" else op.direct(y)
        if x0.is_complex():
            inp = torch.stack([x0.real, x0.imag], 1) if self.complex_as_channels else x0.abs()[:, None]
        else:
            inp = x0[:, None]
        out = self.net(inp)
        if out.dim() == 4 and out.shape[1] == 2:
            return torch.complex(out[:, 0], out[:, 1])
        if out.dim() == 4 and out.shape[1] == 1:
            return out[:, 0]
        return out


def from_image_network(net: torch.nn.Module, init: str = "direct", complex_as_channels: bool = False) -> ImageNetworkReconstructor:
    """Wrap an image-to-image network as a reconstructor (``init``: 'direct' = zero-filled or FBP, 'adjoint')."""
    return ImageNetworkReconstructor(net, init=init, complex_as_channels=complex_as_channels)


def describe_model(f: object) -> str:
    """A short description for reports: the user's model class and its parameter count.

    Known wrappers are looked through to the model they hold: ``from_image_network``'s ``.net``,
    ``functools.partial`` (its function, else a module among its arguments) and bound methods
    (their owner); e.g. ``"BasicUNet (124625 parameters)"``, not the wrapper's name.
    """
    model = _unwrap(f)
    name = getattr(model, "__name__", None) or type(model).__name__
    modules = find_modules(f) or ([model] if isinstance(model, torch.nn.Module) else [])
    params = sum(p.numel() for m in modules for p in m.parameters())
    return f"{name} ({params} parameters)" if params else str(name)


def _unwrap(f: object, depth: int = 0) -> object:
    """The user's model behind the wrappers ``describe_model`` knows (at most 5 levels deep)."""
    if depth > 5:
        return f
    if isinstance(f, ImageNetworkReconstructor):
        return _unwrap(f.net, depth + 1)
    if isinstance(f, functools.partial):
        inner = [a for a in (*f.args, *f.keywords.values()) if isinstance(a, torch.nn.Module)]
        return _unwrap(inner[0] if inner else f.func, depth + 1)
    owner = getattr(f, "__self__", None)
    if owner is not None and not isinstance(owner, type) and callable(f) and not isinstance(f, torch.nn.Module):
        return _unwrap(owner, depth + 1)
    return f


def find_modules(f: object) -> list[torch.nn.Module]:
    """The torch modules behind a reconstructor: itself, a bound method's owner, closure cells."""
    found: list[torch.nn.Module] = []
    candidates: list[object] = [f, getattr(f, "__self__", None)]
    for cell in getattr(f, "__closure__", None) or ():
        with contextlib.suppress(ValueError):
            candidates.append(cell.cell_contents)
    for obj in candidates:
        if isinstance(obj, torch.nn.Module) and all(obj is not m for m in found):
            found.append(obj)
    return found


@contextlib.contextmanager
def frozen(f: object) -> Iterator[None]:
    """Eval mode and ``requires_grad=False`` for the model's modules; restored on exit."""
    modules = find_modules(f)
    modes = [(m, m.training) for mod in modules for m in mod.modules()]
    flags = [(p, p.requires_grad) for mod in modules for p in mod.parameters()]
    try:
        for mod in modules:
            mod.eval()
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for m, training in modes:
            m.train(training)
        for p, flag in flags:
            p.requires_grad_(flag)


def reconstruct(f: Callable, y: torch.Tensor, op: LinearOperator, *, need_grad_wrt: torch.Tensor | None = None) -> torch.Tensor:
    """Call ``f(y, op)`` and validate the output: shape, finiteness, differentiability."""
    __tracebackhide__ = True
    try:
        out = f(y, op)
    except InvalidInputError:
        raise
    except (TypeError, RuntimeError) as exc:
        if need_grad_wrt is not None and "numpy" in str(exc).lower():
            raise ReconstructorError(NOT_DIFFERENTIABLE) from exc
        raise
    if not isinstance(out, torch.Tensor):
        raise ReconstructorError(
            f"the reconstructor returned {type(out).__name__}, expected a torch.Tensor of shape "
            f"[B, {', '.join(map(str, op.image_shape))}]; convert numpy output with torch.as_tensor "
            "(and keep it in torch ops if it must be attacked)"
        )
    expected = (y.shape[0], *op.image_shape)
    if tuple(out.shape) != expected:
        hint = ""
        if out.dim() == len(expected) + 1 and out.shape[1] == 1:
            hint = "; drop the channel dimension (out[:, 0]) or wrap the network with from_image_network"
        raise ReconstructorError(
            f"the reconstructor returned shape {list(out.shape)}, expected {list(expected)} "
            f"([batch, *operator.image_shape]){hint}"
        )
    if not torch.isfinite(out).all():
        raise ReconstructorError(
            "the reconstructor returned NaN or Inf values; check the model's weights and its "
            "input normalisation (the check cannot judge a non-finite reconstruction)"
        )
    if need_grad_wrt is not None and not out.requires_grad:
        raise ReconstructorError(NOT_DIFFERENTIABLE)
    return out
