"""Helpers shared by every check: inputs, baseline, budget, seeds, timing, worst image, panels.

Plain torch, no pytest. A check uses them to validate what the user passed (one clear
``InvalidInputError`` per mistake), to run a reconstructor safely (frozen, no grad,
validated output) and to turn tensors into the 2-D real CPU images of ``CheckResult.panel``.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import time
from typing import Any, Callable, Iterator

import torch

from ..budget import Budget, get_budget
from ..errors import InvalidInputError
from ..operators.base import LinearOperator, real_dtype_of
from ..reconstructor import describe_model, frozen, reconstruct
from ..validate import (  # noqa: F401 - re-exported for the checks
    Reconstructor,
    as_image_batch,
    check_operator,
    check_reconstructor,
    check_seed,
    choice,
    positive,
    positive_int,
)
from ..result import CheckResult


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (the only source of randomness)."""
    return torch.Generator(device=torch.device(device)).manual_seed(int(seed))


def resolve_budget(budget: "str | Budget | None") -> Budget:
    """A ``Budget`` from its name ('quick', 'standard', 'thorough') or itself."""
    return get_budget(budget)


# -- baseline -----------------------------------------------------------------------------
def resolve_baseline(baseline: Any) -> Reconstructor | None:
    """``"default"`` -> ``CSBaseline()`` (TV), ``None`` -> no baseline, a callable as is."""
    if baseline is None:
        return None
    if isinstance(baseline, str):
        if baseline != "default":
            raise InvalidInputError(
                f"baseline must be 'default', None or a callable f(y, op), got {baseline!r}"
            )
        try:
            from ..baselines import CSBaseline
        except ImportError as exc:  # the baselines package is part of this project
            raise InvalidInputError(
                f"the default CS baseline is unavailable ({exc}); pass baseline=None or a callable f(y, op)"
            ) from exc
        return CSBaseline()
    if not callable(baseline):
        raise InvalidInputError(
            f"baseline must be 'default', None or a callable f(y, op), got {type(baseline).__name__}"
        )
    return baseline


def baseline_label(baseline: Any) -> str:
    """A short name for messages and reports ('CS baseline' for the default)."""
    if baseline is None:
        return "none"
    describe = getattr(baseline, "describe", None)
    if callable(describe):
        with contextlib.suppress(Exception):
            text = describe()
            if isinstance(text, str):
                return text
    return describe_model(baseline)


# -- running ------------------------------------------------------------------------------
def run_reconstructor(f: Reconstructor, y: torch.Tensor, op: LinearOperator) -> torch.Tensor:
    """``f(y, op)`` without gradients, model frozen and restored, output validated (shape, finite)."""
    __tracebackhide__ = True
    with frozen(f), torch.no_grad():
        return reconstruct(f, y, op).detach()


class Stopwatch:
    """Accumulates wall-clock seconds per key; synchronises CUDA so GPU work is counted."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.times: dict[str, float] = {}
        self._start = time.perf_counter()

    def _sync(self) -> None:
        if self.device.type == "cuda" and torch.cuda.is_available():
            torch.cuda.synchronize(self.device)

    @contextlib.contextmanager
    def __call__(self, key: str) -> Iterator[None]:
        self._sync()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.times[key] = self.times.get(key, 0.0) + time.perf_counter() - t0

    def total(self) -> float:
        self._sync()
        return time.perf_counter() - self._start

    def timings(self, *keys: str) -> dict[str, float]:
        """Seconds for ``keys`` (0.0 where never timed) plus ``total_s`` since construction."""
        out = {k: float(self.times.get(k, 0.0)) for k in keys}
        out.update({k: float(v) for k, v in self.times.items() if k not in out})
        out["total_s"] = self.total()
        return out


# -- per-image values ---------------------------------------------------------------------
def worst_index(values: torch.Tensor | list[float], better: str = "lower") -> int:
    """Index of the worst image: the largest value when lower is better, else the smallest.

    NaN counts as worst.
    """
    v = torch.as_tensor(values, dtype=torch.float64).flatten().cpu()
    if v.numel() == 0:
        raise InvalidInputError("no per-image values to choose from")
    nan = torch.isnan(v)
    if nan.any():
        return int(nan.nonzero()[0])
    return int(v.argmax() if better == "lower" else v.argmin())


def per_image_rows(**columns: torch.Tensor | list[float]) -> list[dict[str, float]]:
    """``[{name: float}]`` rows from equally long 1-D columns (``index`` added)."""
    cols = {k: torch.as_tensor(v).detach().flatten().cpu().tolist() for k, v in columns.items()}
    n = {len(v) for v in cols.values()}
    if len(n) > 1:  # pragma: no cover - programming error
        raise ValueError(f"columns of different lengths: { {k: len(v) for k, v in cols.items()} }")
    count = n.pop() if n else 0
    return [{"index": float(i), **{k: float(v[i]) for k, v in cols.items()}} for i in range(count)]


# -- panels ---------------------------------------------------------------------------------
def to_display(t: torch.Tensor) -> torch.Tensor:
    """A 2-D real float32 CPU tensor for a panel: magnitude of complex, leading size-1 dims dropped."""
    t = t.detach()
    while t.dim() > 2 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 2:
        raise ValueError(f"panel images must be 2-D, got shape {list(t.shape)}")
    if t.is_complex():
        t = t.abs()
    return t.to(device="cpu", dtype=torch.float32).contiguous()


def nice_factor(value: float) -> float:
    """``value`` rounded down to 1, 2 or 5 times a power of ten (at least 1)."""
    if not math.isfinite(value) or value <= 1:
        return 1.0
    exp = math.floor(math.log10(value))
    for m in (5, 2, 1):
        if m * 10**exp <= value:
            return float(m * 10**exp)
    return float(10**exp)  # pragma: no cover


def amplified(t: torch.Tensor, reference: torch.Tensor, fill: float = 0.5) -> tuple[torch.Tensor, float]:
    """``t`` multiplied by a round factor so its peak magnitude is about ``fill`` x the reference's peak.

    Returns ``(display image, factor)``; titles should state the factor (``factor_label``).
    """
    img, ref = to_display(t), to_display(reference)
    peak, ref_peak = float(img.abs().max()), float(ref.abs().max())
    factor = nice_factor(fill * ref_peak / peak) if peak > 0 else 1.0
    return img * factor, factor


def factor_label(name: str, factor: float) -> str:
    """Title of an amplified image: ``"r (×20)"`` (just ``name`` for a factor of 1)."""
    return name if factor == 1 else f"{name} (×{factor:g})"


def panel_row(*cells: tuple[str, torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    """A panel row of ``(title, image)`` with every image converted by ``to_display``."""
    return [(str(title), to_display(img)) for title, img in cells]


# -- results --------------------------------------------------------------------------------
def make_result(
    check: str,
    *,
    passed: bool,
    message: str,
    metrics: dict[str, float],
    key_metric: str,
    reconstructor: Any,
    operator: LinearOperator,
    seed: int,
    settings: dict[str, Any],
    **fields: Any,
) -> CheckResult:
    """A ``CheckResult`` with the model description and operator description filled in.

    Metric values are converted to plain floats (tensors ``.item()``-ed, NaN kept).
    """
    clean = {k: _as_float(v) for k, v in metrics.items()}
    for key in ("thresholds", "baseline"):
        if key in fields:
            fields[key] = {k: _as_float(v) for k, v in fields[key].items()}
    return CheckResult(
        check=check,
        passed=bool(passed),
        message=message,
        metrics=clean,
        key_metric=key_metric,
        seed=int(seed),
        settings=dict(settings),
        model=describe_model(reconstructor),
        operator=operator.describe(),
        **fields,
    )


def _as_float(v: Any) -> float:
    if isinstance(v, torch.Tensor):
        return float(v.detach().cpu().item())
    return float(v)


def fmt(value: float, digits: int = 2) -> str:
    """Numbers for one-line messages: fixed for ordinary sizes, scientific for tiny or huge ones."""
    if value != value:
        return "nan"
    a = abs(value)
    if a != 0 and (a < 10 ** -(digits) or a >= 1e4):
        return f"{value:.{max(1, digits - 1)}e}"
    return f"{value:.{digits}f}"


__all__ = [
    "Reconstructor",
    "Stopwatch",
    "amplified",
    "as_image_batch",
    "baseline_label",
    "check_operator",
    "check_reconstructor",
    "check_seed",
    "choice",
    "factor_label",
    "fmt",
    "generator",
    "make_result",
    "nice_factor",
    "panel_row",
    "per_image_rows",
    "positive",
    "positive_int",
    "real_dtype_of",
    "resolve_baseline",
    "resolve_budget",
    "run_reconstructor",
    "to_display",
    "worst_index",
]
