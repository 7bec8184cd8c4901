"""Reconstructors: callables ``f(y, op) -> image``, and how checks handle them safely.

A check never changes the model it tests: ``frozen`` puts every ``torch.nn.Module`` that runs
(whatever wraps it) in eval mode with ``requires_grad=False`` and restores both afterwards, also when the
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


def instance_normalize(x: torch.Tensor, eps: float = 1e-11, clamp: float = 6.0):
    """fastMRI's ``normalize_instance``: ``(x - mean) / (std + eps)`` per image (over every dim but
    the batch), clamped to ``[-clamp, clamp]`` as fastMRI's ``UnetDataTransform`` does. Returns the
    normalised input and ``undo(out) = out * std + mean``."""
    dims = tuple(range(1, x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True)
    z = ((x - mean) / (std + eps)).clamp(-clamp, clamp)
    return z, (lambda out: out * std + mean)


class ImageNetworkReconstructor(torch.nn.Module):
    """``f(y, op) = net(init(y))`` for a network that maps images to images.

    The network sees ``[B, C, H, W]``: C = 1 (real part) for real images, C = 2 (real and
    imaginary parts) for complex images when ``complex_as_channels`` is set, else the
    magnitude. Its output ``[B, 1, H, W]`` (or ``[B, 2, H, W]`` for complex) is returned
    as ``[B, H, W]``. ``normalize``: ``None``; ``"instance"`` (fastMRI's ``normalize_instance``:
    mean/std per image, clamped to +-6, output de-normalised with the same mean and std); or a
    callable ``inp -> (normalised_inp, undo)`` with ``undo(out)`` mapping the output back.
    """

    def __init__(self, net: torch.nn.Module, init: str = "direct", complex_as_channels: bool = False,
                 normalize: str | Callable | None = None):
        super().__init__()
        if init not in ("direct", "adjoint", "fbp", "zero-filled"):
            raise InvalidInputError(f"init must be 'direct', 'adjoint', 'fbp' or 'zero-filled', got {init!r}")
        if not (normalize is None or normalize == "instance" or callable(normalize)):
            raise InvalidInputError(
                f"normalize must be None, 'instance' (fastMRI's normalize_instance) or a callable "
                f"inp -> (normalised, undo), got {normalize!r}"
            )
        self.net = net
        self.init = init
        self.complex_as_channels = complex_as_channels
        self.normalize = normalize

    def forward(self, y: torch.Tensor, op: LinearOperator) -> torch.Tensor:
        x0 = op.adjoint(y) if self.init == "adjoint" else op.direct(y)
        if x0.is_complex():
            inp = torch.stack([x0.real, x0.imag], 1) if self.complex_as_channels else x0.abs()[:, None]
        else:
            inp = x0[:, None]
        undo = None
        if self.normalize is not None:
            inp, undo = instance_normalize(inp) if self.normalize == "instance" else self.normalize(inp)
        out = self.net(inp)
        if undo is not None:
            out = undo(out)
        if out.dim() == 4 and out.shape[1] == 2:
            return torch.complex(out[:, 0], out[:, 1])
        if out.dim() == 4 and out.shape[1] == 1:
            return out[:, 0]
        return out


def from_image_network(net: torch.nn.Module, init: str = "direct", complex_as_channels: bool = False,
                       normalize: str | Callable | None = None) -> ImageNetworkReconstructor:
    """Wrap an image-to-image network as a reconstructor (``init``: 'direct' = zero-filled or FBP,
    'adjoint'; ``normalize``: None, 'instance' or a callable, see :class:`ImageNetworkReconstructor`)."""
    return ImageNetworkReconstructor(net, init=init, complex_as_channels=complex_as_channels, normalize=normalize)


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
    """The torch modules reachable from a reconstructor without running it.

    Looks at the callable itself, a bound method's owner, closure cells, a ``functools.partial``'s
    function and arguments, and the attributes of a plain callable object (one level). Used to
    describe the model; ``frozen`` also catches every module that actually runs (global hook).
    """
    found: list[torch.nn.Module] = []
    candidates: list[object] = [f, getattr(f, "__self__", None)]
    if isinstance(f, functools.partial):
        candidates += [f.func, *f.args, *f.keywords.values()]
    for cell in getattr(f, "__closure__", None) or ():
        with contextlib.suppress(ValueError):
            candidates.append(cell.cell_contents)
    if not isinstance(f, torch.nn.Module) and not callable(getattr(f, "__code__", None)):
        with contextlib.suppress(TypeError):
            candidates += list(vars(f).values())
    for obj in candidates:
        if isinstance(obj, torch.nn.Module) and all(obj is not m for m in found):
            found.append(obj)
    return found


class _Freezer:
    """Records the mode and ``requires_grad`` of modules before freezing them; restores both."""

    def __init__(self) -> None:
        self.modes: dict[int, tuple[torch.nn.Module, bool]] = {}
        self.flags: dict[int, tuple[torch.nn.Parameter, bool]] = {}

    def freeze(self, module: torch.nn.Module) -> None:
        """Eval mode and no parameter gradients for ``module`` and its children (first sight only)."""
        if id(module) in self.modes and not module.training:
            return
        for m in module.modules():
            self.modes.setdefault(id(m), (m, m.training))
            for p in m.parameters(recurse=False):
                self.flags.setdefault(id(p), (p, p.requires_grad))
                p.requires_grad_(False)
        module.eval()

    def restore(self) -> None:
        for m, training in self.modes.values():
            m.train(training)
        for p, flag in self.flags.values():
            p.requires_grad_(flag)


@contextlib.contextmanager
def frozen(f: object) -> Iterator[None]:
    """Eval mode and ``requires_grad=False`` for every module the model runs; restored on exit.

    Modules reachable from ``f`` (``find_modules``) are frozen at once; any other module that
    runs inside the context (a network held by a plain object, a ``functools.partial``, a global)
    is frozen by a global forward pre-hook *before* its first forward, so BatchNorm statistics
    never update and Dropout is off from the first call. Mode and flags are restored on exit,
    also when the check fails or raises.
    """
    freezer = _Freezer()
    handle = None
    try:
        for mod in find_modules(f):
            freezer.freeze(mod)
        handle = torch.nn.modules.module.register_module_forward_pre_hook(lambda module, args: freezer.freeze(module))
        yield
    finally:
        if handle is not None:
            handle.remove()
        freezer.restore()


def reconstruct(f: Callable, y: torch.Tensor, op: LinearOperator, *, need_grad_wrt: torch.Tensor | None = None) -> torch.Tensor:
    """Call ``f(y, op)`` and validate the output: shape, device, dtype, finiteness, differentiability.

    A floating output of another precision is converted to the operator's (float64 for a
    float32 operator becomes float32). A complex output for an operator of real images is
    accepted only when its imaginary part is negligible (``|imag| <= IMAG_TOLERANCE * max |real|``)
    and then replaced by its real part; otherwise one ``ReconstructorError`` names the fix.
    """
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
    out = _match_operator(out, op)
    if not torch.isfinite(out).all():
        raise ReconstructorError(
            "the reconstructor returned NaN or Inf values; check the model's weights and its "
            "input normalisation (the check cannot judge a non-finite reconstruction)"
        )
    if need_grad_wrt is not None and not out.requires_grad:
        raise ReconstructorError(NOT_DIFFERENTIABLE)
    return out


#: Largest imaginary part (relative to the largest real part) of a complex output that an operator
#: of real images accepts as real (round-off of an FFT-based network, not a wrong output).
IMAG_TOLERANCE = 1e-6


def _match_operator(out: torch.Tensor, op: LinearOperator) -> torch.Tensor:
    """``out`` on the operator's device and in its dtype, or one clear ``ReconstructorError``."""
    __tracebackhide__ = True
    want = torch.device(op.device)
    if out.device.type != want.type or (out.device.index is not None and want.index is not None
                                        and out.device.index != want.index):
        extra = " (a meta tensor holds no values: run the model on real weights)" if out.device.type == "meta" else ""
        raise ReconstructorError(
            f"the reconstructor returned a tensor on {out.device} but the operator and images are on "
            f"{want}{extra}; move the model with model.to({str(want)!r}) (and return its output there), "
            f"or build the operator on {str(out.device)!r} with operator.to({str(out.device)!r})"
        )
    if out.is_complex() and not op.complex_images:
        real = out.real
        scale = float(real.detach().abs().max()) if real.numel() else 0.0
        imag = float(out.imag.detach().abs().max()) if real.numel() else 0.0
        if imag > IMAG_TOLERANCE * scale:
            raise ReconstructorError(
                f"the reconstructor returned a complex image (largest |imaginary part| {imag:.3g}, largest "
                f"|real part| {scale:.3g}) but {type(op).__name__} takes real images; return out.real "
                "(or out.abs()) inside the reconstructor"
            )
        out = real
    if not (out.is_floating_point() or out.is_complex()):
        raise ReconstructorError(
            f"the reconstructor returned {out.dtype} values, expected {op.image_dtype}; return a floating "
            f"tensor (out.to({op.image_dtype}))"
        )
    want_dtype = op.image_dtype if out.is_complex() else op.dtype
    return out if out.dtype == want_dtype else out.to(want_dtype)
