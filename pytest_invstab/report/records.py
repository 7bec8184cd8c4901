"""Records: the JSON-able form of one check's result, and what every report is built from.

A record is ``{"nodeid", "name", "index", **CheckResult.to_dict()}``. Records are what
travels from xdist workers to the controller, what the JSON report stores and what a later
run compares against, so everything here works on plain dicts, never on tensors.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from ..result import HIGHER_IS_BETTER, LOWER_IS_BETTER, CheckResult

# Which threshold judges a check's key metric, and in which direction.
# (threshold name, comparison) -- "<=" means the metric must stay at or below the threshold.
KEY_THRESHOLDS: dict[str, tuple[str, str]] = {
    "artifact": ("max_artifact", "<="),
    "recovery": ("min_recovery", ">="),
    "max_drop_db": ("tolerance_db", "<="),
}

# Short, reviewer-facing explanations and units of the metrics the checks report.
METRIC_HELP: dict[str, tuple[str, str]] = {
    "artifact": ("worst relative artifact ||f(A(x+r)) − f(Ax)|| / ||x||", "dimensionless"),
    "max_artifact": ("largest relative artifact allowed", "dimensionless"),
    "eps": ("perturbation size ||r|| / ||x||", "dimensionless"),
    "perturbation": ("perturbation size ||r|| / ||x||", "dimensionless"),
    "recovery": ("how much of the inserted detail is reconstructed (1 = perfect, 0 = gone)", "1 = perfect"),
    "min_recovery": ("smallest detail recovery allowed", "1 = perfect"),
    "max_drop_db": ("largest PSNR drop as the sampling rate grows", "dB"),
    "tolerance_db": ("largest PSNR drop allowed as the rate grows", "dB"),
    "psnr": ("peak signal-to-noise ratio", "dB"),
    "ssim": ("structural similarity", "1 = identical"),
    "gain_db": ("PSNR gain from the trained rate to the highest rate", "dB"),
    "amplification": ("artifact / perturbation size: how many times the network amplifies r", "dimensionless"),
    "gaussian_artifact": ("artifact caused by Gaussian noise of the same size as r", "dimensionless"),
    "worse_than_random": ("worst-case artifact / Gaussian-noise artifact", "dimensionless"),
    "baseline_artifact": ("the CS baseline's artifact under the same perturbation", "dimensionless"),
    "ball_fraction": ("fraction of Gaussian draws around the worst case that keep the artifact", "0 to 1"),
    "evaluations": ("network evaluations spent by the search", "count"),
    "baseline_recovery": ("the CS baseline's detail recovery", "1 = perfect"),
    "detail_error": ("||reconstructed detail − detail|| / ||detail||", "dimensionless"),
    "baseline_margin": ("how much worse than the CS baseline the network may recover details", "recovery units"),
}


def short_name(nodeid: str) -> str:
    """The test's own name from a pytest node id: ``"a/b.py::TestX::test_y[p::q]"`` -> ``"test_y[p::q]"``.

    Parametrize ids may contain ``::`` and ``/``, so the split happens before the first ``[``.
    """
    base, bracket, params = nodeid.partition("[")
    name = base.rsplit("::", 1)[-1] if "::" in base else base.rsplit("/", 1)[-1]
    return name + bracket + params


def make_record(nodeid: str, result: CheckResult, index: int = 0) -> dict[str, Any]:
    """The JSON-able record of ``result`` produced by test ``nodeid``.

    ``index`` numbers the checks one test ran (0, 1, ...), so that a test calling the
    ``invstab`` fixture twice gets two distinct records. Call it *after* ``save_artifacts``
    so the record carries the artifact paths.
    """
    if not isinstance(result, CheckResult):
        raise TypeError(f"make_record expects a CheckResult, got {type(result).__name__}")
    record: dict[str, Any] = {"nodeid": str(nodeid), "name": short_name(str(nodeid)), "index": int(index)}
    record.update(result.to_dict())
    return record


def record_key(record: Mapping[str, Any]) -> str:
    """Identity of a record across runs: node id, check name and index (``nodeid::check#index``)."""
    return f"{record.get('nodeid', '?')}::{record.get('check', '?')}#{int(record.get('index', 0) or 0)}"


def is_number(value: Any) -> bool:
    """A finite real number (not a bool); ``None`` (NaN in JSON) and strings are not."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def key_value(record: Mapping[str, Any]) -> float | None:
    """The record's key metric value, ``None`` when missing or NaN."""
    value = (record.get("metrics") or {}).get(record.get("key_metric", ""))
    return float(value) if is_number(value) else None


def better_of(record: Mapping[str, Any], metric: str) -> str | None:
    """``"lower"`` / ``"higher"`` for ``metric`` from the record, with known defaults for the checks' metrics."""
    direction = (record.get("better") or {}).get(metric)
    if direction in (LOWER_IS_BETTER, HIGHER_IS_BETTER):
        return direction
    if metric in KEY_THRESHOLDS:
        return LOWER_IS_BETTER if KEY_THRESHOLDS[metric][1] == "<=" else HIGHER_IS_BETTER
    return None


def key_threshold(record: Mapping[str, Any]) -> tuple[str, str, float] | None:
    """``(threshold name, "<=" | ">=", value)`` that judged the key metric, or ``None``.

    Looks for, in order: the known limit of the check (``KEY_THRESHOLDS``, stored under the
    limit's or the metric's name), a threshold named like the metric (direction from
    ``better``), ``max_<key>`` / ``min_<key>``, the only threshold present.
    """
    key = record.get("key_metric", "")
    thresholds = record.get("thresholds") or {}
    if key in KEY_THRESHOLDS:
        name, op = KEY_THRESHOLDS[key]
        # Checks store the limit under its option name ("max_artifact") or under the metric's own
        # name ("recovery"); either way it is shown by its option name ("min_recovery").
        for stored in (name, key):
            if is_number(thresholds.get(stored)):
                return name, op, float(thresholds[stored])
    if is_number(thresholds.get(key)):
        return key, (">=" if better_of(record, key) == HIGHER_IS_BETTER else "<="), float(thresholds[key])
    for name, op in ((f"max_{key}", "<="), (f"min_{key}", ">=")):
        if is_number(thresholds.get(name)):
            return name, op, float(thresholds[name])
    numeric = [(k, v) for k, v in thresholds.items() if is_number(v)]
    if len(numeric) == 1:
        name, value = numeric[0]
        op = ">=" if better_of(record, key) == HIGHER_IS_BETTER or name.startswith("min") else "<="
        return name, op, float(value)
    return None


def unit_of(metric: str) -> str:
    """Display unit suffix for a metric name ("dB" for PSNR-like metrics, else empty)."""
    m = metric.lower()
    return "dB" if m.endswith("_db") or m.startswith("psnr") or m.endswith("psnr") or m == "db" else ""


def format_number(value: Any, unit: str = "") -> str:
    """Compact, aligned-friendly number: 4 significant digits, scientific when tiny or huge.

    ``None`` / NaN -> ``"nan"``; a non-number is returned as its string.
    """
    if value is None:
        return "nan"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    v = float(value)
    if math.isnan(v):
        text = "nan"
    elif math.isinf(v):
        text = "inf" if v > 0 else "-inf"
    elif v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        text = f"{v:.3g}"
    else:
        text = f"{v:.4g}"
    return f"{text} {unit}" if unit else text


def jsonable(obj: Any) -> Any:
    """``obj`` made strictly JSON-able: NaN -> ``None``, ±inf -> ``"inf"`` / ``"-inf"``, tensors and
    numpy values -> lists / numbers, tuples -> lists, other objects -> ``repr``."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (int, float)):
        if isinstance(obj, float) and not math.isfinite(obj):
            return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
        return obj
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    tolist = getattr(obj, "tolist", None)  # torch tensors, numpy arrays and scalars
    if callable(tolist):
        try:
            return jsonable(tolist())
        except Exception:  # pragma: no cover - exotic objects
            pass
    return repr(obj)


def totals(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``{"checks", "passed", "failed"}`` counts."""
    recs = list(records)
    passed = sum(1 for r in recs if r.get("passed"))
    return {"checks": len(recs), "passed": passed, "failed": len(recs) - passed}


def outcome_totals(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``totals`` plus ``expected`` (failed checks of tests marked xfail: pytest's ``xfailed``)
    and ``unexpected`` (the other failed checks, the ones that make pytest fail)."""
    recs = list(records)
    t = totals(recs)
    t["expected"] = sum(1 for r in recs if status_of(r) == "expected")
    t["unexpected"] = t["failed"] - t["expected"]
    return t


def status_of(record: Mapping[str, Any]) -> str:
    """``"passed"``, ``"failed"`` or ``"expected"`` (failed, and the test was an expected failure: xfail)."""
    if record.get("passed"):
        return "passed"
    return "expected" if record.get("outcome") == "xfailed" else "failed"


def network_id(record: Mapping[str, Any]) -> str:
    """The network's id in the test id (``test_x[ell50]`` -> ``ell50``), else the model's description."""
    name = str(record.get("name") or short_name(str(record.get("nodeid", ""))))
    _, bracket, params = name.partition("[")
    if bracket and params.endswith("]"):
        return params[:-1]
    return str(record.get("model") or name)


def failed_criteria(record: Mapping[str, Any]) -> list[str]:
    """The limits that failed the check: the record's ``failed_criteria``, else the key metric's limit."""
    if record.get("passed"):
        return []
    found = [str(c) for c in (record.get("failed_criteria") or [])]
    if not found:
        thr = key_threshold(record)
        found = [thr[0]] if thr else []
    return found


def check_line_facts(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a one-line summary of a finished check says (``progress.finished_line``), as strings."""
    key = str(record.get("key_metric", ""))
    unit = unit_of(key)
    thr = key_threshold(record)
    base = (record.get("baseline") or {}).get(key)
    seconds = (record.get("timings") or {}).get("total_s")
    verdict = str(record.get("verdict") or ("passed" if record.get("passed") else "failed"))
    crit = failed_criteria(record)
    if crit and crit != [thr[0] if thr else None]:
        verdict += f" on {', '.join(crit)}"
    return {
        "network": network_id(record), "check": record.get("check"), "key": key,
        "value": format_number(key_value(record), unit),
        "threshold": f"{thr[0]} {thr[1]} {format_number(thr[2], unit)}" if thr else "",
        "baseline": format_number(base, unit) if is_number(base) else "",
        "verdict": verdict, "seconds": seconds if is_number(seconds) else None,
    }


__all__ = [
    "KEY_THRESHOLDS",
    "METRIC_HELP",
    "better_of",
    "check_line_facts",
    "failed_criteria",
    "format_number",
    "is_number",
    "jsonable",
    "key_threshold",
    "key_value",
    "make_record",
    "network_id",
    "outcome_totals",
    "record_key",
    "short_name",
    "status_of",
    "totals",
    "unit_of",
]
