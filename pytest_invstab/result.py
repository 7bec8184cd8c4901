"""CheckResult: what every check returns. Plain data; reporting is the report package's job."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from typing import Any

import torch

# Metrics that a release gate may compare, and which direction is better.
LOWER_IS_BETTER = "lower"
HIGHER_IS_BETTER = "higher"


@dataclass
class CheckResult:
    """Outcome of one stability check.

    ``metrics`` are plain floats (units documented by each check), ``key_metric`` names the
    one shown in summaries, ``thresholds`` the limits it was judged against, ``baseline``
    the CS baseline's values of the same metrics on the same data. ``images`` are the named
    images of the shown (worst) case and ``figure`` the few facts their titles need (see each
    check); ``report.layouts`` builds the Fig.-like panel from them. ``panel`` holds explicit
    rows of ``(title, image)`` instead (a hand-made result; it wins when given), ``curves`` an
    optional line plot, ``arrays`` what is saved to ``.npz`` to reproduce the case. Images,
    figure, panel and arrays are not part of ``to_dict``.
    """

    check: str
    passed: bool
    message: str
    metrics: dict[str, float]
    key_metric: str
    thresholds: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    better: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    per_image: list[dict[str, float]] = field(default_factory=list)
    images: dict[str, torch.Tensor] = field(default_factory=dict)
    figure: dict[str, Any] = field(default_factory=dict)
    panel: list[list[tuple[str, torch.Tensor]]] = field(default_factory=list)
    curves: dict[str, Any] | None = None
    arrays: dict[str, torch.Tensor] = field(default_factory=dict)
    model: str = ""
    operator: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=lambda: versions())
    artifacts: dict[str, str] = field(default_factory=dict)
    #: The limits that failed the check (``["baseline_margin"]``, ``["tolerance_db", "require_gain_db"]``);
    #: empty when it passed. Set by each check's judge step, shown by the reports.
    failed_criteria: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "failed"

    @property
    def key_value(self) -> float:
        return self.metrics[self.key_metric]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no images or arrays)."""
        return {
            "check": self.check,
            "verdict": self.verdict,
            "passed": self.passed,
            "message": self.message,
            "key_metric": self.key_metric,
            "metrics": {k: _num(v) for k, v in self.metrics.items()},
            "thresholds": {k: _num(v) for k, v in self.thresholds.items()},
            "baseline": {k: _num(v) for k, v in self.baseline.items()},
            "better": dict(self.better),
            "seed": self.seed,
            "settings": _jsonable(self.settings),
            "timings": {k: _num(v) for k, v in self.timings.items()},
            "per_image": [{k: _num(v) for k, v in d.items()} for d in self.per_image],
            "curves": _jsonable(self.curves),
            "model": self.model,
            "operator": _jsonable(self.operator),
            "versions": dict(self.versions),
            "artifacts": dict(self.artifacts),
            "failed_criteria": list(self.failed_criteria),
        }


def _num(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        v = v.item()
    if isinstance(v, float) and v != v:  # NaN is not JSON
        return None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return _num(obj) if isinstance(obj, float) else obj
    if hasattr(obj, "item"):
        return obj.item()
    return repr(obj)


def versions() -> dict[str, str]:
    """Versions of what produced a result, for reproducibility."""
    import numpy

    from . import __version__

    return {
        "pytest_invstab": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }
