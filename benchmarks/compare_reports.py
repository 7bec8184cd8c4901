"""Are two pytest-invstab JSON reports the same run? Verdicts exactly, every number within a tolerance.

    python benchmarks/compare_reports.py OLD.json NEW.json [--tol 1e-6]

Made to show that a refactoring changed nothing: run a suite before and after with
``--invstab-report=OLD.json`` / ``--invstab-report=NEW.json`` and compare. Checks are matched
by ``(nodeid, check, index)``; for each pair the verdict (and ``passed``, ``key_metric``) must
be equal, and every number in ``metrics``, ``thresholds``, ``baseline``, ``per_image`` and
``curves`` must agree to ``tol`` (absolute or relative: ``math.isclose(a, b, rel_tol=tol,
abs_tol=tol)``; NaN equals NaN). Messages, timings, versions and paths are not compared.

Exit status: 0 and ``N checks, M metrics equal within tol`` when all agree; 1 with every
difference listed, one per line; 2 when a file is not a pytest-invstab report.
Plain Python (no pytest-invstab import), so reports of two different checkouts compare.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FORMAT = "pytest-invstab-report"
# Compared exactly / numerically; everything else in a record (message, timings, versions,
# artifacts, settings) may change without changing a result.
EXACT_FIELDS = ("verdict", "passed", "key_metric")
NUMERIC_FIELDS = ("metrics", "thresholds", "baseline", "per_image", "curves")


class NotAReport(ValueError):
    """The file is not a pytest-invstab JSON report."""


def load(path: str | Path) -> dict[str, Any]:
    """The report at ``path``, checked to be a pytest-invstab report (any version)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NotAReport(f"{path}: cannot read a JSON report ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("checks"), list):
        raise NotAReport(f"{path}: not a pytest-invstab report (no 'format': {FORMAT!r} with a 'checks' list)")
    return data


def check_key(record: Mapping[str, Any]) -> tuple[str, str, int]:
    """``(nodeid, check, index)``: one check of one test, stable across runs."""
    return str(record.get("nodeid")), str(record.get("check")), int(record.get("index", 0) or 0)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same_value(a: Any, b: Any, tol: float) -> bool:
    if _is_number(a) and _is_number(b):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
    return a == b


def _leaves(value: Any, path: str) -> dict[str, Any]:
    """``{"metrics.artifact": 0.3, "curves.series.network[1]": 21.8, ...}``: every leaf of a nested value."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_leaves(v, f"{path}.{k}"))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(_leaves(v, f"{path}[{i}]"))
        return out
    return {path: value}


def compare_records(old: Mapping[str, Any], new: Mapping[str, Any], tol: float) -> tuple[list[str], int]:
    """Differences between two records of the same check, and how many numbers agreed."""
    differences: list[str] = []
    for field in EXACT_FIELDS:
        if old.get(field) != new.get(field):
            differences.append(f"{field}: {old.get(field)!r} -> {new.get(field)!r}")
    equal = 0
    for field in NUMERIC_FIELDS:
        a, b = _leaves(old.get(field) or {}, field), _leaves(new.get(field) or {}, field)
        for path in sorted(a.keys() | b.keys()):
            if path not in b:
                differences.append(f"{path}: {a[path]!r} -> (missing)")
            elif path not in a:
                differences.append(f"{path}: (missing) -> {b[path]!r}")
            elif not same_value(a[path], b[path], tol):
                differences.append(f"{path}: {a[path]!r} -> {b[path]!r}")
            elif _is_number(a[path]):
                equal += 1
    return differences, equal


def compare(old: Mapping[str, Any], new: Mapping[str, Any], tol: float = 1e-6) -> tuple[list[str], int, int]:
    """``(differences, checks compared, numbers equal)`` between two loaded reports."""
    def by_key(report: Mapping[str, Any]) -> dict[tuple[str, str, int], Mapping[str, Any]]:
        return {check_key(r): r for r in report.get("checks", [])}

    before, after = by_key(old), by_key(new)
    differences: list[str] = []
    equal = 0
    for key in sorted(before.keys() | after.keys()):
        where = f"{key[0]} [{key[1]}#{key[2]}]"
        if key not in after:
            differences.append(f"{where}: only in the old report")
        elif key not in before:
            differences.append(f"{where}: only in the new report")
        else:
            found, n = compare_records(before[key], after[key], tol)
            differences += [f"{where} {d}" for d in found]
            equal += n
    return differences, len(before.keys() & after.keys()), equal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", help="the reference report (before the change)")
    parser.add_argument("new", help="the report to check (after the change)")
    parser.add_argument("--tol", type=float, default=1e-6, help="absolute and relative tolerance (default 1e-6)")
    args = parser.parse_args(argv)
    try:
        old, new = load(args.old), load(args.new)
    except NotAReport as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    differences, checks, equal = compare(old, new, args.tol)
    if differences:
        print(f"{len(differences)} difference(s) beyond tol {args.tol:g}:")
        for line in differences:
            print(f"  {line}")
        return 1
    print(f"{checks} checks, {equal} metrics equal within tol {args.tol:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
