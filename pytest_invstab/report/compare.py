"""Compare this run's checks with a previous JSON report: the release gate of a model in CI.

Usage (what the plugin does with ``--invstab-compare=old.json --invstab-compare-fail=artifact:10%``)::

    previous = load_report("old.json")
    thresholds = parse_fail_thresholds(["artifact:10%", "max_drop_db:0.5"])
    comparison = compare_reports(previous, current_records, thresholds)
    print("\\n".join(comparison.format()))
    if comparison.failed: ...  # make the session fail

Rules:

* records are matched by ``record_key`` (node id, check, index);
* a metric is *worse* in the direction its record states (``record["better"]``: "lower" or
  "higher"); a **regression** is worse by more than its threshold, relative (``10%`` of the
  previous value) or absolute (``0.5``, in the metric's own unit); better by more than the
  threshold is an **improvement**; anything in between is **unchanged**;
* a threshold named by a metric family (``psnr``, ``ssim``) gates every rate of it
  (``psnr@0.25``, ``psnr@0.5``, ...); a threshold for one rate (``psnr@0.25``) wins over it;
* every matched check is either gated (at least one metric compared) or listed as *not gated*;
* with no thresholds at all, each check's key metric is gated with an absolute threshold of 0
  (any worsening beyond round-off is a regression);
* a verdict flip passed -> failed is a regression whatever the thresholds; a value that was a
  number and is NaN now is a regression too;
* checks present before but missing now make the comparison fail (a silently dropped check
  must not pass a release gate); new checks are reported and do not fail it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from ..errors import InvalidInputError
from ..result import HIGHER_IS_BETTER, LOWER_IS_BETTER
from .records import better_of, format_number, is_number, record_key, unit_of
from .summary import format_table

FAIL_OPTION = "--invstab-compare-fail"
# Relative changes smaller than this are float round-off (JSON, BLAS order), not changes.
ROUND_OFF = 1e-9

_SPEC = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.@]*)\s*:\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%?)\s*$")


#: The metrics of the built-in checks that have a direction, so a release gate can compare them
#: (``tests/test_compare.py`` checks this list against every check's ``better``).
GATE_METRICS = (
    "artifact", "amplification", "worse_than_random", "psnr_clean", "psnr_perturbed", "ssim_clean",
    "ssim_perturbed", "ball_fraction", "recovery", "intensity_recovery", "edge_recovery", "detail_error",
    "max_drop_db", "gain_db",
)
#: Families of per-detail and per-rate metrics: ``recovery_<detail>``, ``psnr@<rate>``, ``ssim@<rate>``.
GATE_PREFIXES = ("recovery_", "psnr@", "ssim@")


def is_gate_metric(name: str) -> bool:
    """Whether ``name`` is a metric of the built-in checks that a gate can compare."""
    return name in GATE_METRICS or any(name.startswith(p) and len(name) > len(p) for p in GATE_PREFIXES)


def _where(record: Mapping[str, Any]) -> str:
    """``"<nodeid> <check>#<index>"``: a record as the gate's lines name it."""
    return f"{record.get('nodeid')} {record.get('check')}#{record.get('index', 0)}"


@dataclass(frozen=True)
class Threshold:
    """How much worse ``metric`` may get: ``value`` percent of the previous value (``relative``) or absolute."""

    metric: str
    value: float
    relative: bool

    def allowed(self, previous: float) -> float:
        """The largest tolerated worsening from ``previous``, in the metric's unit."""
        return abs(previous) * self.value / 100.0 if self.relative else self.value

    def __str__(self) -> str:
        return f"{self.metric}:{self.value:g}{'%' if self.relative else ''}"


def parse_fail_thresholds(specs: Iterable[str] | str | None, *, known_only: bool = False) -> dict[str, Threshold]:
    """Parse ``["artifact:10%", "recovery:5%", "max_drop_db:0.5"]`` into ``{metric: Threshold}``.

    ``METRIC:VALUE%`` is relative to the previous value, ``METRIC:VALUE`` absolute (in the
    metric's unit, e.g. dB). A spec may hold several comma-separated entries. Bad syntax, a
    negative value or a metric given twice raise ``InvalidInputError`` naming the format.
    ``known_only`` (what the plugin uses): a metric that no built-in check reports
    (``is_gate_metric``) is an error listing the valid names, so a typo cannot leave it ungated.
    """
    if specs is None:
        return {}
    if isinstance(specs, str):
        specs = [specs]
    out: dict[str, Threshold] = {}
    for spec in specs:
        if not isinstance(spec, str):
            raise InvalidInputError(f"{FAIL_OPTION} entries must be strings like 'artifact:10%', got {spec!r}")
        for part in spec.split(","):
            if not part.strip():
                continue
            m = _SPEC.match(part)
            if not m:
                raise InvalidInputError(
                    f"bad {FAIL_OPTION} value {part.strip()!r}: expected METRIC:VALUE% (relative to the previous "
                    f"report) or METRIC:VALUE (absolute, in the metric's unit), e.g. artifact:10%, recovery:5%, "
                    f"max_drop_db:0.5; several may be separated by commas"
                )
            metric, value, pct = m.group(1), float(m.group(2)), bool(m.group(3))
            if known_only and not is_gate_metric(metric):
                raise InvalidInputError(
                    f"{FAIL_OPTION}: unknown metric {metric!r} in {part.strip()!r}; a gate compares one of "
                    f"{', '.join(GATE_METRICS)}, or recovery_<detail>, psnr@<rate>, ssim@<rate>"
                )
            if metric in out:
                raise InvalidInputError(f"{FAIL_OPTION} gives a threshold for {metric!r} twice; keep one")
            out[metric] = Threshold(metric, value, pct)
    return out


@dataclass
class MetricChange:
    """One compared value of one check (``metric == "verdict"`` for a verdict flip)."""

    key: str
    nodeid: str
    check: str
    metric: str
    previous: Any
    current: Any
    better: str
    threshold: Threshold | None
    status: str  # "regressed" | "improved" | "unchanged"

    @property
    def change(self) -> float | None:
        """current - previous (``None`` when either is not a number)."""
        if is_number(self.previous) and is_number(self.current):
            return float(self.current) - float(self.previous)
        return None

    @property
    def relative_change(self) -> float | None:
        """(current - previous) / |previous| (``None`` when undefined)."""
        d = self.change
        if d is None or float(self.previous) == 0:
            return None
        return d / abs(float(self.previous))

    def describe_change(self) -> str:
        if self.metric == "verdict":
            return f"{self.previous} -> {self.current}"
        d, rel = self.change, self.relative_change
        if d is None:
            return "now nan" if is_number(self.previous) else "was nan"
        unit = unit_of(self.metric)
        text = f"{'+' if d >= 0 else ''}{format_number(d, unit)}"
        return text + (f" ({rel * 100:+.1f}%)" if rel is not None else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "nodeid": self.nodeid, "check": self.check, "metric": self.metric,
            "previous": self.previous, "current": self.current, "better": self.better,
            "threshold": str(self.threshold) if self.threshold else None, "status": self.status,
        }


@dataclass
class Comparison:
    """Result of ``compare_reports``; ``failed`` says whether the release gate fails."""

    regressions: list[MetricChange] = field(default_factory=list)
    improvements: list[MetricChange] = field(default_factory=list)
    unchanged: list[MetricChange] = field(default_factory=list)
    missing_in_current: list[dict[str, Any]] = field(default_factory=list)
    new_in_current: list[dict[str, Any]] = field(default_factory=list)
    gated: list[str] = field(default_factory=list)  # record keys of the checks compared on a metric
    not_gated: list[dict[str, Any]] = field(default_factory=list)  # matched checks with no gated metric
    notes: list[str] = field(default_factory=list)
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    previous_meta: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """True when anything regressed or a previously reported check is missing now."""
        return bool(self.regressions or self.missing_in_current)

    def format(self) -> list[str]:
        """Terminal lines: verdict, a table of regressions, ``improved: ...`` lines, missing / new checks, notes."""
        gate = ", ".join(str(t) for t in self.thresholds.values()) or "key metrics, any worsening"
        when = self.previous_meta.get("finished") or self.previous_meta.get("started")
        lines = [
            f"pytest-invstab compare{f' (previous run {when})' if when else ''}: "
            f"{'FAILED' if self.failed else 'passed'} -- {len(self.regressions)} regressed, "
            f"{len(self.improvements)} improved, {len(self.unchanged)} unchanged, "
            f"{len(self.missing_in_current)} missing, {len(self.new_in_current)} new (gate: {gate}); "
            f"checks: {len(self.gated)} gated, {len(self.not_gated)} not gated"
        ]
        if self.regressions:
            rows = [
                (c.nodeid, c.check, c.metric, _fmt(c.previous, c.metric), _fmt(c.current, c.metric),
                 c.describe_change(), _allowed(c))
                for c in self.regressions
            ]
            lines.append("regressions:")
            lines += ["  " + s for s in format_table(rows, ("test", "check", "metric", "previous", "current",
                                                            "change", "allowed"))]
        for c in self.improvements:
            lines.append(f"improved: {c.nodeid} {c.check} {c.metric} {_fmt(c.previous, c.metric)} -> "
                         f"{_fmt(c.current, c.metric)} ({c.describe_change()}; {c.better} is better)")
        for r in self.missing_in_current:
            lines.append(f"missing in current run: {_where(r)} "
                         f"(was {r.get('verdict', 'passed' if r.get('passed') else 'failed')} in the previous report)")
        lines += [f"not gated (no gated metric in this check): {_where(r)}" for r in self.not_gated]
        lines += [f"new in current run (not in the previous report): {_where(r)}" for r in self.new_in_current]
        lines += [f"note: {n}" for n in self.notes]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "failed": self.failed,
            "regressions": [c.to_dict() for c in self.regressions],
            "improvements": [c.to_dict() for c in self.improvements],
            "unchanged": [c.to_dict() for c in self.unchanged],
            "missing_in_current": [record_key(r) for r in self.missing_in_current],
            "new_in_current": [record_key(r) for r in self.new_in_current],
            "gated": list(self.gated),
            "not_gated": [record_key(r) for r in self.not_gated],
            "notes": list(self.notes),
        }


def _fmt(value: Any, metric: str) -> str:
    return format_number(value, unit_of(metric)) if metric != "verdict" else str(value)


def _allowed(c: MetricChange) -> str:
    if c.metric == "verdict":
        return "never"
    if c.threshold is None:
        return "-"
    return f"{c.threshold.value:g}%" if c.threshold.relative else format_number(c.threshold.value, unit_of(c.metric))


def threshold_for(metric: str, thresholds: Mapping[str, Threshold]) -> Threshold | None:
    """The threshold gating ``metric``: its own, else its family's (``psnr`` for ``psnr@0.25``), else ``None``."""
    if metric in thresholds:
        return thresholds[metric]
    family, at, _rate = metric.partition("@")
    return thresholds.get(family) if at else None


def _records_of(previous: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> tuple[list[dict], dict]:
    if isinstance(previous, Mapping):
        if "checks" not in previous:
            raise InvalidInputError("previous must be a report loaded with load_report(path) or a list of records")
        return [dict(r) for r in previous["checks"]], dict(previous.get("meta") or {})
    return [dict(r) for r in previous], {}


def _compare_metric(key: str, prev: Mapping[str, Any], cur: Mapping[str, Any], metric: str,
                    threshold: Threshold | None) -> MetricChange | None:
    direction = better_of(cur, metric) or better_of(prev, metric)
    if direction not in (LOWER_IS_BETTER, HIGHER_IS_BETTER):
        return None
    pv = _number((prev.get("metrics") or {}).get(metric), key, metric, "previous")
    cv = _number((cur.get("metrics") or {}).get(metric), key, metric, "current")
    change = MetricChange(key, str(cur.get("nodeid")), str(cur.get("check")), metric, pv, cv, direction,
                          threshold, "unchanged")
    if not is_number(pv):
        # Nothing to compare against (previously NaN); a number now is at worst unchanged.
        return change
    if not is_number(cv):
        change.status = "regressed"  # NaN / missing now where there was a number
        return change
    worse_by = (cv - pv) if direction == LOWER_IS_BETTER else (pv - cv)
    allowed = threshold.allowed(pv) if threshold else 0.0
    noise = ROUND_OFF * max(abs(pv), abs(cv), 1e-300)
    if worse_by > allowed + noise:
        change.status = "regressed"
    elif -worse_by > allowed + noise:
        change.status = "improved"
    return change


def _number(value: Any, key: str, metric: str, side: str) -> Any:
    """A stored metric as a number: numeric strings (``"0.01"``) are parsed; other strings are an
    error (a gate must never skip a value silently); ``None`` / NaN stay as they are."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise InvalidInputError(
                f"the {side} report's {key} has metric {metric!r} = {value!r}, which is not a number; "
                "fix or regenerate that report with --invstab-report"
            ) from None
    return value


def passed_of(record: Mapping[str, Any]) -> bool | None:
    """A record's verdict: its ``passed`` key, else its ``verdict`` ("passed" / "failed"), else ``None``."""
    if isinstance(record.get("passed"), bool):
        return bool(record["passed"])
    verdict = str(record.get("verdict", "")).lower()
    return True if verdict == "passed" else False if verdict == "failed" else None


def compare_reports(
    previous: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    current_records: Iterable[Mapping[str, Any]],
    thresholds: Mapping[str, Threshold] | None = None,
) -> Comparison:
    """Compare ``current_records`` with ``previous`` (a ``load_report`` dict or a list of records).

    ``thresholds`` from ``parse_fail_thresholds``: the metrics to gate and by how much each
    may worsen. Empty or ``None``: every check's key metric, any worsening. See the module
    docstring for the exact rules.
    """
    thresholds = dict(thresholds or {})
    prev_records, prev_meta = _records_of(previous)
    comparison = Comparison(thresholds=thresholds, previous_meta=prev_meta)
    prev_by_key: dict[str, dict] = {}
    for r in prev_records:
        k = record_key(r)
        if k in prev_by_key:
            comparison.notes.append(f"the previous report lists {k} twice; the last entry is used")
        prev_by_key[k] = r
    cur_by_key: dict[str, dict] = {}
    for r in current_records:
        cur_by_key[record_key(r)] = dict(r)

    seen_metrics: set[str] = set()
    for k, cur in cur_by_key.items():
        prev = prev_by_key.get(k)
        if prev is None:
            comparison.new_in_current.append(cur)
            continue
        was, now = passed_of(prev), passed_of(cur)
        if was is None:
            comparison.notes.append(f"{k}: the previous record has neither 'passed' nor 'verdict'; verdict not compared")
        elif was and now is False:
            comparison.regressions.append(MetricChange(k, str(cur.get("nodeid")), str(cur.get("check")), "verdict",
                                                       "passed", "failed", "passed", None, "regressed"))
        elif not was and now:
            comparison.improvements.append(MetricChange(k, str(cur.get("nodeid")), str(cur.get("check")), "verdict",
                                                        "failed", "passed", "passed", None, "improved"))
        metrics = set(prev.get("metrics") or {}) | set(cur.get("metrics") or {})
        if thresholds:
            gated = [(m, t) for m in sorted(metrics) if (t := threshold_for(m, thresholds)) is not None]
        else:
            key_metric = cur.get("key_metric") or prev.get("key_metric")
            gated = [(key_metric, None)] if key_metric in metrics else []
        compared = 0
        for metric, threshold in gated:
            change = _compare_metric(k, prev, cur, metric, threshold)
            if change is None:
                comparison.notes.append(f"{k}: metric {metric!r} has no 'better' direction; not compared")
                continue
            compared += 1
            {"regressed": comparison.regressions, "improved": comparison.improvements,
             "unchanged": comparison.unchanged}[change.status].append(change)
        if compared:
            comparison.gated.append(k)
        else:
            comparison.not_gated.append(cur)

    comparison.missing_in_current = [r for k, r in prev_by_key.items() if k not in cur_by_key]
    for r in [*prev_by_key.values(), *cur_by_key.values()]:
        seen_metrics |= set(r.get("metrics") or {})
    for name in thresholds:
        if not any(threshold_for(m, {name: thresholds[name]}) for m in seen_metrics):
            comparison.notes.append(
                f"no check reports the metric {name!r} given in {FAIL_OPTION}; check its spelling "
                f"(metrics seen: {', '.join(sorted(seen_metrics)) or 'none'})"
            )
    return comparison


__all__ = ["Comparison", "GATE_METRICS", "MetricChange", "Threshold", "compare_reports", "is_gate_metric",
           "parse_fail_thresholds", "passed_of", "threshold_for"]
