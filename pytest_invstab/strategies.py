"""Hypothesis strategies for property-based stability tests of reconstruction networks.

Strategies (each value is built from drawn integers/floats, so Hypothesis can shrink and
replay it, and every random tensor comes from a drawn seed through ``torch.Generator``):

* ``phantoms(size, n)``: ``[n, size, size]`` random-ellipse or textured head phantoms;
* ``details(size)``: a card symbol or a text detail at a drawn position and intensity;
* ``sampling_masks(size, kinds)``: a k-space mask of a drawn pattern, seed and rate;
  ``nested_masks`` draws two rates of one pattern (the smaller mask inside the larger);
* ``perturbations(shape, eps, reference=...)``: random directions scaled to a relative norm
  ``||r_b|| = eps ||reference_b||``; ``kind="smooth"`` spans low-frequency cosines with drawn
  integer coefficients, a search space that ``hypothesis.target()`` can climb.

Settings: the profile ``"invstab-expensive"`` (few examples, no deadline, no too-slow health
check) for tests that call a network; use ``@expensive`` or
``settings.load_profile("invstab-expensive")``.

Steering a random search towards the worst case with ``hypothesis.target`` -- a property test
for a user's network (``x``: ``[1, H, W]`` images, ``op``: the operator)::

    from hypothesis import given, target
    from pytest_invstab.strategies import expensive, perturbations, relative_artifact

    @expensive
    @given(r=perturbations((1, 64, 64), eps=0.02, reference=x, kind="smooth"))
    def test_no_large_artifact(r):
        artifact = relative_artifact(net, op, x, r)   # ||f(A(x+r)) - f(Ax)|| / ||x||
        target(artifact, label="artifact")            # Hypothesis climbs towards larger artifacts
        assert artifact < 0.1

``targeted_artifact_search`` runs that loop as a plain function and returns the worst case it
found; its test shows that on a network with a planted instability the targeted search finds
a larger artifact than the same number of untargeted draws. A gradient search
(``pytest_invstab.checks.worst_case``) is far stronger for differentiable networks; this is
for black-box models and for property tests.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from .errors import InvalidInputError

# -- settings ----------------------------------------------------------------------------------
EXPENSIVE_PROFILE = "invstab-expensive"
#: Few examples, no deadline (a network call may take seconds), no "too slow" / "data too large" checks.
expensive = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(EXPENSIVE_PROFILE, expensive)

PHANTOM_KINDS = ("ellipses", "textured")
DETAIL_KINDS = ("spade", "heart", "diamond", "club", "text")
MASK_KINDS = ("cartesian", "points", "radial")
_SEEDS = st.integers(min_value=0, max_value=2**31 - 1)
# Integer coefficients in [-Q, Q] / Q. The hill climber behind hypothesis.target() moves one
# integer at a time by +-1, 2, 3, 4, 8, ... (floats by whole units, useless in [-1, 1]); a coarse
# grid lets one pass over 16 coefficients cost ~100 evaluations. Measured on a planted
# instability (tests/test_strategies.py): Q = 20 reaches the planted direction (cosine ~1.0) in
# 400 examples, Q = 100 ~0.9, Q = 1000 ~0.6, no better than untargeted draws.
_Q = 20


def _size(size: Any, minimum: int = 8) -> int:
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or int(size) < minimum:
        raise InvalidInputError(f"size must be an int >= {minimum} pixels, got {size!r}")
    return int(size)


def _subset(name: str, kinds: Sequence[str] | str, allowed: Sequence[str]) -> tuple[str, ...]:
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    bad = [k for k in kinds if k not in allowed]
    if not kinds or bad:
        raise InvalidInputError(f"{name} must be a non-empty selection of {', '.join(allowed)}; got {list(kinds)}")
    return kinds


# -- phantoms --------------------------------------------------------------------------------------
def phantoms(size: int = 64, n: int = 1, kinds: Sequence[str] | str = PHANTOM_KINDS,
             dtype: torch.dtype = torch.float32) -> st.SearchStrategy[torch.Tensor]:
    """Images ``[n, size, size]`` in [0, 1]: random ellipses (like Ell-50) or textured head phantoms.

    The image content is a function of a drawn seed (``random_ellipses`` / ``textured_phantoms``
    of ``pytest_invstab.images``), so a failing example replays exactly.
    """
    size = _size(size)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or int(n) < 1:
        raise InvalidInputError(f"n must be an int >= 1 (images per example), got {n!r}")
    kinds = _subset("kinds", kinds, PHANTOM_KINDS)

    def build(kind: str, seed: int) -> torch.Tensor:
        from .images import random_ellipses, textured_phantoms

        make = random_ellipses if kind == "ellipses" else textured_phantoms
        return make(int(n), size, seed, dtype=dtype)

    return st.builds(build, st.sampled_from(kinds), _SEEDS)


# -- details -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DrawnDetail:
    """A detail drawn by ``details()``: what it is, where (bbox centre, pixels) and how bright."""

    kind: str
    detail: Any  # pytest_invstab.images.Detail
    position: tuple[float, float]  # (row, col) of the bounding box centre, pixels
    intensity: float  # amplitude in image intensity units (built-in patterns peak at 1)

    def insert(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x + d, d)`` with ``d = intensity * pattern`` (``insert_details``); ``x``: ``[B, H, W]`` or ``[H, W]``."""
        from .images import insert_details

        return insert_details(x, [self.detail], self.intensity)


@functools.lru_cache(maxsize=64)
def _centred_detail(kind: str, size: int) -> Any:
    # Rendering (anti-aliased, text through a font) is the slow part: do it once per kind and size.
    from .images import symbol, text_detail

    if kind != "text":
        return symbol(kind, size)
    for text in ("CAN U SEE IT", "SEE IT", "IT"):
        try:
            return text_detail(text, size)
        except InvalidInputError:
            continue
    raise InvalidInputError(f"no text detail fits a {size} x {size} image; use size >= 16")  # pragma: no cover


def _shifted(detail: Any, dy: int, dx: int) -> Any:
    from .images import Detail

    y0, x0, y1, x1 = detail.bbox
    # The shift keeps the bbox inside the image, so rolling moves only zeros across the edge.
    return Detail(detail.name, torch.roll(detail.pattern, (dy, dx), (0, 1)),
                  torch.roll(detail.support, (dy, dx), (0, 1)), (y0 + dy, x0 + dx, y1 + dy, x1 + dx))


def details(size: int = 64, kinds: Sequence[str] | str = DETAIL_KINDS,
            intensity: tuple[float, float] = (0.2, 1.0)) -> st.SearchStrategy[DrawnDetail]:
    """A structural detail (card symbol or text) anywhere it fits in a ``size x size`` image.

    Draws the kind, the position (a shift of the centred detail that keeps it inside the image)
    and the intensity in ``[intensity[0], intensity[1]]`` (image intensity units).
    """
    size = _size(size, 16)
    kinds = _subset("kinds", kinds, DETAIL_KINDS)
    lo, hi = (float(v) for v in intensity)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise InvalidInputError(f"intensity must be a range (low, high) with 0 < low <= high, got {intensity!r}")

    @st.composite
    def draw_detail(draw: Callable) -> DrawnDetail:
        kind = draw(st.sampled_from(kinds))
        base = _centred_detail(kind, size)
        y0, x0, y1, x1 = base.bbox
        dy = draw(st.integers(-y0, size - y1))
        dx = draw(st.integers(-x0, size - x1))
        amp = draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))
        det = _shifted(base, dy, dx)
        ry0, rx0, ry1, rx1 = det.bbox
        return DrawnDetail(kind, det, ((ry0 + ry1 - 1) / 2, (rx0 + rx1 - 1) / 2), float(amp))

    return draw_detail()


# -- sampling masks ------------------------------------------------------------------------------------
def sampling_masks(size: int = 64, kinds: Sequence[str] | str = MASK_KINDS,
                   rates: tuple[float, float] = (0.05, 0.9)) -> st.SearchStrategy[torch.Tensor]:
    """A boolean k-space mask ``[size, size]`` (centred layout) of a drawn pattern, seed and rate.

    Uses ``pytest_invstab.operators.sampling.SamplingPattern``; the kept fraction is the drawn
    rate up to rounding to whole lines (cartesian) or points.
    """
    return nested_masks(size, kinds, rates, count=1).map(lambda masks: masks[0])


def nested_masks(size: int = 64, kinds: Sequence[str] | str = MASK_KINDS, rates: tuple[float, float] = (0.05, 0.9),
                 count: int = 2) -> st.SearchStrategy[list[torch.Tensor]]:
    """``count`` masks of one pattern and seed at increasing drawn rates: each keeps every sample of the previous."""
    size = _size(size)
    kinds = _subset("kinds", kinds, MASK_KINDS)
    lo, hi = (float(v) for v in rates)
    if not 0 < lo <= hi <= 1:
        raise InvalidInputError(f"rates must be a range (low, high) with 0 < low <= high <= 1, got {rates!r}")

    def build(kind: str, seed: int, drawn: list[float]) -> list[torch.Tensor]:
        from .operators.sampling import SamplingPattern

        pattern = SamplingPattern(kind, size, seed=seed)
        return [pattern.mask(r) for r in sorted(drawn)]

    rate = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.builds(build, st.sampled_from(kinds), _SEEDS, st.lists(rate, min_size=count, max_size=count))


# -- perturbations ------------------------------------------------------------------------------------------
def smooth_basis(shape: tuple[int, int], modes: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Orthonormal low-frequency cosines (2-D DCT-II modes ``(ky, kx)``, ``ky, kx < modes``): ``[modes^2, H, W]``."""
    h, w = shape

    def cosines(n: int) -> torch.Tensor:
        k = torch.arange(modes, dtype=torch.float64)[:, None]
        i = torch.arange(n, dtype=torch.float64)[None, :]
        c = torch.cos(math.pi * k * (i + 0.5) / n) * math.sqrt(2.0 / n)
        c[0] /= math.sqrt(2.0)
        return c

    cy, cx = cosines(h), cosines(w)
    return (cy[:, None, :, None] * cx[None, :, None, :]).reshape(modes * modes, h, w).to(dtype)


def perturbations(shape: Sequence[int], eps: float | st.SearchStrategy[float], reference: torch.Tensor | None = None,
                  *, kind: str = "gaussian", modes: int = 4, dtype: torch.dtype | None = None,
                  device: torch.device | str | None = None) -> st.SearchStrategy[torch.Tensor]:
    """Random perturbations ``r`` of ``shape`` ``[B, H, W]`` with ``||r_b|| = eps * ||reference_b||``.

    ``eps``: relative size (dimensionless), a float or a strategy of floats. ``reference``:
    images ``[B, H, W]`` or ``[H, W]`` the size is relative to; ``None`` means ``||r_b|| = eps``.
    ``kind``: ``"gaussian"`` (i.i.d. normal direction from a drawn seed) or ``"smooth"`` (a
    combination of the ``modes x modes`` lowest cosines with drawn integer coefficients:
    Hypothesis can shrink it and ``target()`` can climb it). ``dtype`` defaults to the
    reference's (float32 without one); a complex dtype draws real and imaginary parts.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise InvalidInputError(f"shape must be [B, H, W] with positive sizes, got {list(shape)}")
    if kind not in ("gaussian", "smooth"):
        raise InvalidInputError(f"kind must be 'gaussian' or 'smooth', got {kind!r}")
    if isinstance(modes, bool) or not isinstance(modes, int) or not 1 <= modes <= min(shape[1:]):
        raise InvalidInputError(f"modes must be an int in [1, {min(shape[1:])}], got {modes!r}")
    if not isinstance(eps, st.SearchStrategy):
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not (math.isfinite(eps) and eps >= 0):
            raise InvalidInputError(f"eps must be a finite number >= 0 (relative size ||r||/||x||), got {eps!r}")
        eps = st.just(float(eps))
    if reference is not None:
        if not isinstance(reference, torch.Tensor) or tuple(reference.shape[-2:]) != shape[1:] or reference.dim() not in (2, 3):
            got = list(reference.shape) if isinstance(reference, torch.Tensor) else type(reference).__name__
            raise InvalidInputError(f"reference must be images [B, H, W] or [H, W] matching shape {list(shape)}, got {got}")
        ref = reference.detach()
        ref = ref[None] if ref.dim() == 2 else ref
        if ref.shape[0] not in (1, shape[0]):
            raise InvalidInputError(f"reference has {ref.shape[0]} images but shape asks for {shape[0]}")
        scale = ref.reshape(ref.shape[0], -1).norm(dim=1).to(torch.float64).cpu()
        dtype = dtype or ref.dtype
        device = device if device is not None else ref.device
    else:
        scale = torch.ones(1, dtype=torch.float64)
        dtype = dtype or torch.float32
        device = device if device is not None else "cpu"
    is_complex = dtype.is_complex
    parts = 2 if is_complex else 1
    b, h, w = shape

    if kind == "gaussian":
        def direction(seed: int) -> torch.Tensor:
            g = torch.Generator().manual_seed(seed)
            return torch.randn((parts, b, h, w), generator=g, dtype=torch.float64)

        directions = _SEEDS.map(direction)
    else:
        basis = smooth_basis((h, w), modes)
        k = modes * modes

        def combine(coeffs: list[int]) -> torch.Tensor:
            c = torch.tensor(coeffs, dtype=torch.float64).reshape(parts, b, k) / _Q
            # An all-zero draw for an image (Hypothesis' first example) has no direction: use the constant mode.
            empty = (c == 0).all(dim=2).all(dim=0)
            c[0, empty, 0] = 1.0
            return torch.einsum("pbk,khw->pbhw", c, basis)

        directions = st.lists(st.integers(-_Q, _Q), min_size=parts * b * k, max_size=parts * b * k).map(combine)

    def build(d: torch.Tensor, size: float) -> torch.Tensor:
        r = torch.complex(d[0], d[1]) if is_complex else d[0]
        norms = r.reshape(b, -1).norm(dim=1).clamp_min(1e-300)
        r = r * (size * scale / norms)[:, None, None]
        return r.to(device=device, dtype=dtype)

    return st.builds(build, directions, eps)


# -- targeted search ---------------------------------------------------------------------------------------
def relative_artifact(reconstructor: Callable, operator: Any, x: torch.Tensor, r: torch.Tensor,
                      clean: torch.Tensor | None = None) -> float:
    """Largest ``||f(A(x + r)) - f(Ax)|| / ||x||`` over the batch (dimensionless), model frozen, no gradients.

    ``x``, ``r``: ``[B, *operator.image_shape]``; ``clean``: ``f(Ax)`` if already known.
    """
    from .metrics import norms
    from .reconstructor import frozen, reconstruct

    with frozen(reconstructor), torch.no_grad():
        if clean is None:
            clean = reconstruct(reconstructor, operator(x), operator)
        out = reconstruct(reconstructor, operator(x + r), operator)
    return float((norms(out - clean) / norms(x)).max())


@dataclass
class ArtifactSearch:
    """Outcome of ``targeted_artifact_search``: the worst artifact found and its perturbation."""

    artifact: float  # ||f(A(x+r)) - f(Ax)|| / ||x||, dimensionless
    perturbation: torch.Tensor  # r, [B, H, W], ||r_b|| = eps ||x_b||
    examples: int  # network evaluations spent
    targeted: bool


def targeted_artifact_search(reconstructor: Callable, operator: Any, x: torch.Tensor, eps: float, *,
                             max_examples: int = 100, targeted: bool = True, modes: int = 4,
                             seed: int = 0) -> ArtifactSearch:
    """Black-box worst-case search with Hypothesis: smooth perturbations of relative size ``eps``.

    With ``targeted=True`` every example reports its artifact through ``hypothesis.target``, and
    Hypothesis spends part of ``max_examples`` hill-climbing the best examples' coefficients;
    with ``targeted=False`` the same number of examples are independent draws. ``x``:
    ``[B, *operator.image_shape]``; reproducible for a given ``seed``.
    """
    from hypothesis import given, target
    from hypothesis import seed as hypothesis_seed

    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise InvalidInputError(f"max_examples must be an int >= 1, got {max_examples!r}")
    from .reconstructor import frozen, reconstruct

    with frozen(reconstructor), torch.no_grad():
        clean = reconstruct(reconstructor, operator(x), operator)
    best: dict[str, Any] = {"artifact": -math.inf, "r": None, "n": 0}

    @settings(max_examples=max_examples, deadline=None, database=None, phases=[Phase.generate, Phase.target],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
              derandomize=False, print_blob=False)
    @hypothesis_seed(seed)
    @given(r=perturbations(tuple(x.shape), eps, reference=x, kind="smooth", modes=modes))
    def search(r: torch.Tensor) -> None:
        value = relative_artifact(reconstructor, operator, x, r, clean=clean)
        best["n"] += 1
        if targeted:
            target(value, label="artifact")
        if value > best["artifact"]:
            best["artifact"], best["r"] = value, r

    search()
    return ArtifactSearch(float(best["artifact"]), best["r"], int(best["n"]), targeted)


__all__ = [
    "DETAIL_KINDS",
    "EXPENSIVE_PROFILE",
    "MASK_KINDS",
    "PHANTOM_KINDS",
    "ArtifactSearch",
    "DrawnDetail",
    "details",
    "expensive",
    "nested_masks",
    "perturbations",
    "phantoms",
    "relative_artifact",
    "sampling_masks",
    "smooth_basis",
    "targeted_artifact_search",
]
