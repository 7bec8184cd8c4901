"""The operators of ``more_samples``: one per sampling rate, nested, with their actual rates.

Three ways to get them (exactly one per call):

* ``rates=`` (or the default grid): ``operator.at_rate(rate)`` for each rate;
* ``operators=``: the user's operators, a list ordered by rate or a dict ``{rate: operator}``;
* ``masks=``: the user's boolean ``[H, W]`` masks, each made into an operator of the same kind
  as ``operator`` (``FourierOperator(mask=...)``, or ``MultiCoilFourierOperator`` with the same
  coil maps).

Rates: every curve, key (``psnr@<rate>``) and message uses the **actual** rate of each operator
(``op.rate``: a Cartesian operator rounds to whole lines, e.g. ``at_rate(0.25)`` of a 64-line
operator gives 0.2656); the requested rates are kept in the result's settings.

Nesting (a larger rate keeps every sample of a smaller one, as in the paper): checked for every
consecutive pair from the operators' ``mask`` (bool ``[H, W]``: inclusion), ``angles`` (each
angle within 1e-9 of one of the next operator's) or ``samples`` (a bool tensor or a collection of
sample positions). Operators with none of these cannot be checked and count as not nested, except
on the ``at_rate`` path, whose contract promises nesting. A pair that is not nested is one
``InvalidInputError`` naming it, unless ``allow_unnested=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from .. import validate as V
from ..errors import InvalidInputError, UnsupportedRateError
from ..operators.base import LinearOperator
from ..validate import check_rates

#: Default grid: these multiples of the operator's rate, capped at 1 (duplicates dropped).
DEFAULT_RATE_FACTORS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
#: ``trained_rate`` matches an operator whose actual rate is within this (absolute) of it.
RATE_MATCH_TOL = 0.005
#: Two angles are the same within this many radians.
ANGLE_TOL = 1e-9


@dataclass(frozen=True)
class RateFamily:
    """Operators by increasing actual rate; ``requested[i]`` is ``None`` for a list of operators."""

    ops: list[LinearOperator]
    actual: tuple[float, ...]
    requested: tuple[float | None, ...]
    source: str  # "default", "rates", "operators" or "masks"
    nested: bool | None  # None: could not be checked (at_rate path only)
    unnested: str | None  # the first pair that is not nested, when allow_unnested=True

    def index_of(self, rate: float) -> int | None:
        """The operator for ``rate``: its requested rate, else the nearest actual rate within ``RATE_MATCH_TOL``."""
        for i, r in enumerate(self.requested):
            if r is not None and abs(r - rate) <= 1e-9:
                return i
        i = min(range(len(self.actual)), key=lambda k: abs(self.actual[k] - rate))
        return i if abs(self.actual[i] - rate) <= RATE_MATCH_TOL else None


def default_rates(rate: float, trained_rate: float | None = None) -> tuple[float, ...]:
    """The default grid: ``DEFAULT_RATE_FACTORS`` times ``rate`` capped at 1, plus ``trained_rate``.

    Rounded to 6 decimals, sorted, without duplicates; e.g. rate 0.25 gives
    ``(0.125, 0.1875, 0.25, 0.375, 0.5, 0.75)``.
    """
    grid = {round(min(1.0, f * float(rate)), 6) for f in DEFAULT_RATE_FACTORS}
    if trained_rate is not None:
        grid.add(round(float(trained_rate), 6))
    return tuple(sorted(r for r in grid if r > 0))


def at_rate(op: LinearOperator, rate: float) -> LinearOperator:
    """``op.at_rate(rate)`` with the reason in the error when the operator cannot change its rate."""
    try:
        new = op.at_rate(rate)
    except UnsupportedRateError as exc:
        raise UnsupportedRateError(
            f"more_samples needs the operator at other sampling rates (operator.at_rate({rate:g})), but {exc}; "
            "or pass operators=[...] or masks=[...] (one per rate, nested) to more_samples"
        ) from exc
    return _same_shape(op, new, f"{type(op).__name__}.at_rate({rate:g})")


def _same_shape(op: LinearOperator, new: Any, what: str) -> LinearOperator:
    if not isinstance(new, LinearOperator) or tuple(new.image_shape) != tuple(op.image_shape):
        shape = list(getattr(new, "image_shape", []) or [])
        raise InvalidInputError(
            f"{what} must be a LinearOperator with the operator's image shape {list(op.image_shape)}, got "
            f"{type(new).__name__} {shape}; build every rate's operator at the size of the reference images"
        )
    return new


def mask_operator(op: LinearOperator, mask: Any, i: int) -> LinearOperator:
    """An operator of ``op``'s kind with ``mask`` (multi-coil: the same coil maps, device and dtype)."""
    from ..operators import FourierOperator, MultiCoilFourierOperator

    if isinstance(op, MultiCoilFourierOperator):
        # the operator's own maps, as they are (already normalised if they were to be)
        new = MultiCoilFourierOperator(mask=mask, coil_maps=op.coil_maps.detach().cpu(), normalize_maps=False,
                                       device=op.device, dtype=op.dtype)
    elif isinstance(op, FourierOperator):
        new = FourierOperator(mask=mask, device=op.device, dtype=op.dtype)
    else:
        raise InvalidInputError(
            f"masks= needs a Fourier operator (single- or multi-coil), got {type(op).__name__}; "
            "for other operators pass operators=[...] (one per rate)"
        )
    return _same_shape(op, new, f"masks[{i}]")


def build_family(op: LinearOperator, *, rates: Any, operators: Any, masks: Any, trained: float | None,
                 allow_unnested: bool) -> RateFamily:
    """The operators of ``more_samples`` (see the module docstring); every rule is one clear error."""
    given = [name for name, v in (("rates", rates), ("operators", operators), ("masks", masks)) if v is not None]
    if len(given) > 1:
        raise InvalidInputError(
            f"more_samples takes one of rates=, operators= or masks=, got {' and '.join(given)}; "
            "operators and masks define their own rates"
        )
    if operators is not None:
        ops, requested, source = _user_operators(op, operators), None, "operators"
        if isinstance(operators, Mapping):
            requested = tuple(sorted(V.sampling_rate(f"operators key {k!r}", k) for k in operators))
    elif masks is not None:
        ops, requested, source = [mask_operator(op, m, i) for i, m in enumerate(_sequence("masks", masks))], None, "masks"
    else:
        req = default_rates(op.rate, trained) if rates is None else check_rates(rates)
        ops, requested, source = [at_rate(op, r) for r in req], req, "default" if rates is None else "rates"
    requested = requested or tuple([None] * len(ops))
    ops, requested = _order(ops, requested, source, trained)
    nested, unnested = _nesting(ops, source, allow_unnested)
    return RateFamily(ops, tuple(float(o.rate) for o in ops), requested, source, nested, unnested)


def _sequence(name: str, values: Any) -> list[Any]:
    if isinstance(values, (str, bytes, torch.Tensor)) or not isinstance(values, Sequence):
        raise InvalidInputError(
            f"{name} must be a list with one entry per sampling rate, smallest rate first, got {type(values).__name__}"
        )
    if len(values) < 2:
        raise InvalidInputError(f"{name} needs at least two entries (rates) to compare, got {len(values)}")
    return list(values)


def _user_operators(op: LinearOperator, operators: Any) -> list[LinearOperator]:
    if isinstance(operators, Mapping):
        items = sorted(operators.items(), key=lambda kv: V.sampling_rate(f"operators key {kv[0]!r}", kv[0]))
        values = _sequence("operators", [v for _, v in items])
    else:
        values = _sequence("operators", operators)
    return [_same_shape(op, V.check_operator(o), f"operators[{i}]") for i, o in enumerate(values)]


def _order(ops: list[LinearOperator], requested: tuple[float | None, ...], source: str,
           trained: float | None) -> tuple[list[LinearOperator], tuple[float | None, ...]]:
    """Check that actual rates grow; on the default grid, drop operators that repeat a rate."""
    keep_ops, keep_req = [ops[0]], [requested[0]]
    for o, r in zip(ops[1:], requested[1:]):
        prev = float(keep_ops[-1].rate)
        if float(o.rate) > prev:
            keep_ops.append(o)
            keep_req.append(r)
        elif source == "default" and float(o.rate) == prev:
            if trained is not None and r is not None and abs(r - trained) <= 1e-9:
                keep_ops[-1], keep_req[-1] = o, r  # keep the trained rate's own entry
        else:
            what = {"rates": "rates", "default": "rates", "operators": "operators", "masks": "masks"}[source]
            raise InvalidInputError(
                f"more_samples needs strictly increasing sampling rates, but {what} entry {len(keep_ops)} has actual "
                f"rate {float(o.rate):.4g} after {prev:.4g}"
                + (f" (requested {keep_req[-1]:g} and {r:g} give the same operator)" if r is not None else "")
                + "; order them by rate and drop duplicates"
            )
    if len(keep_ops) < 2:
        raise InvalidInputError("more_samples needs at least two different sampling rates")
    return keep_ops, tuple(keep_req)


def samples_of(op: LinearOperator) -> Any:
    """What ``op`` samples: a bool tensor, a float64 tensor of angles, a set, or None (unknown)."""
    for name in ("mask", "samples"):
        value = getattr(op, name, None)
        if isinstance(value, torch.Tensor) and value.dtype == torch.bool:
            return value.detach().cpu()
        if name == "samples" and isinstance(value, (set, frozenset, list, tuple)):
            return set(value)
    angles = getattr(op, "angles", None)
    if isinstance(angles, torch.Tensor):
        return angles.detach().cpu().to(torch.float64).flatten()
    return None


def pair_problem(a: Any, b: Any) -> str | None:
    """Why samples ``a`` are not a subset of ``b`` (None: nested); 'unknown' when it cannot tell."""
    if isinstance(a, torch.Tensor) and a.dtype == torch.bool and isinstance(b, torch.Tensor) and b.dtype == torch.bool:
        if a.shape != b.shape:
            return f"masks of different shapes {list(a.shape)} and {list(b.shape)}"
        extra = int((a & ~b).sum())
        return None if extra == 0 else f"{extra} sampled position(s) of the smaller mask are missing from the larger"
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.is_floating_point() and b.is_floating_point():
        if b.numel() == 0:
            return f"{a.numel()} angle(s) missing from the larger set"
        missing = int(((a[:, None] - b[None, :]).abs().amin(1) > ANGLE_TOL).sum())
        return None if missing == 0 else f"{missing} angle(s) of the smaller set are missing from the larger"
    if isinstance(a, set) and isinstance(b, set):
        extra = len(a - b)
        return None if extra == 0 else f"{extra} sample(s) of the smaller set are missing from the larger"
    return "unknown"


def samples_nested(ops: Sequence[LinearOperator]) -> bool | None:
    """Whether each operator samples a subset of the next one's samples (None: cannot tell)."""
    sets = [samples_of(o) for o in ops]
    problems = [pair_problem(a, b) for a, b in zip(sets, sets[1:])]
    if any(p is not None and p != "unknown" for p in problems):
        return False
    return None if "unknown" in problems else True


def _nesting(ops: list[LinearOperator], source: str, allow: bool) -> tuple[bool | None, str | None]:
    """``(nested, first problem when allowed)``; raises on a pair that is not nested unless ``allow``."""
    sets = [samples_of(o) for o in ops]
    for i in range(len(ops) - 1):
        why = pair_problem(sets[i], sets[i + 1])
        if why is None:
            continue
        if why == "unknown":
            if source == "default" or source == "rates":
                return None, None  # at_rate promises nested samples; nothing to check them with
            why = (f"cannot tell whether {type(ops[i]).__name__} samples a subset of {type(ops[i + 1]).__name__}: "
                   "they have no mask, angles or samples attribute")
        pair = (f"{source}[{i}] (rate {float(ops[i].rate):.4g}) and {source}[{i + 1}] "
                f"(rate {float(ops[i + 1].rate):.4g}) are not nested: {why}")
        if allow:
            return False, pair
        raise InvalidInputError(
            f"more_samples needs nested sampling (a larger rate keeps every sample of a smaller one): {pair}; "
            "build each larger mask or angle set as a superset of the smaller one (e.g. mask_b | mask_a), "
            "or pass allow_unnested=True to compare them anyway (the report then says so)"
        )
    return True, None


__all__ = ["ANGLE_TOL", "DEFAULT_RATE_FACTORS", "RATE_MATCH_TOL", "RateFamily", "at_rate", "build_family",
           "default_rates", "mask_operator", "pair_problem", "samples_nested", "samples_of"]
