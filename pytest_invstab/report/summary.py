"""The terminal summary: one aligned table of every check, then where the artifacts are."""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Sequence

from .records import format_number, key_threshold, key_value, outcome_totals, status_of, unit_of

HEADER = ("test", "check", "key metric", "threshold", "CS baseline", "verdict")
MAX_TEST_WIDTH = 60


def _clip(text: str, width: int) -> str:
    # Keep the end of a long node id: the test name and its parameters are what identify it.
    return text if len(text) <= width else "..." + text[-(width - 3):]


def summary_row(record: Mapping[str, Any]) -> tuple[str, str, str, str, str, str]:
    """The six cells of one record's summary row (strings)."""
    key = str(record.get("key_metric", ""))
    unit = unit_of(key)
    test = str(record.get("nodeid") or record.get("name") or "?")
    if int(record.get("index", 0) or 0) > 0:
        test += f" #{int(record['index'])}"
    value = key_value(record)
    metric = f"{key} = {format_number(value, unit)}" if key else "-"
    thr = key_threshold(record)
    threshold = f"{thr[0]} {thr[1]} {format_number(thr[2], unit)}" if thr else "-"
    baselines = record.get("baseline") or {}
    # A baseline value of None is a NaN the baseline produced: show it, it is news.
    baseline = format_number(baselines[key], unit) if key in baselines else "-"
    # A failed check in a test marked xfail is an expected finding, as pytest reports it.
    verdict = {"passed": "PASSED", "failed": "FAILED", "expected": "XFAIL"}[status_of(record)]
    return _clip(test, MAX_TEST_WIDTH), str(record.get("check", "?")), metric, threshold, baseline, verdict


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    """Left-aligned columns separated by two spaces, a dashed rule under the header."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def format_summary(records: Iterable[Mapping[str, Any]], results_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Terminal lines summarising ``records``: a totals line, the table, the results folder.

    Columns: test (node id), check, key metric = value, threshold that judged it (``<=`` /
    ``>=``), the CS baseline's value of the same metric, verdict. Returns ``[]`` when no
    check ran, so the caller prints nothing.
    """
    recs = list(records)
    if not recs:
        return []
    t = outcome_totals(recs)
    lines = [f"pytest-invstab: {t['checks']} check{'s' if t['checks'] != 1 else ''}, "
             f"{t['passed']} passed, {t['failed']} failed"
             + (f" ({t['expected']} expected: xfail)" if t["expected"] else "")]
    lines += format_table([summary_row(r) for r in recs], HEADER)
    errors = [r for r in recs if r.get("artifact_error")]
    for r in errors:
        lines.append(f"warning: {r['artifact_error']}")
    if results_dir is not None:
        saved = sum(1 for r in recs if (r.get("artifacts") or {}))
        lines.append(f"results: {os.fspath(results_dir)} ({saved} check{'s' if saved != 1 else ''} with artifacts)")
    return lines


__all__ = ["HEADER", "format_summary", "format_table", "summary_row"]
