"""Reporting: per-check artifacts, the terminal summary, JSON and HTML reports, comparison with a previous report.

Everything here works on *records* (``make_record``: JSON-able dicts), so results can travel
between xdist workers and be compared across runs. Plain Python; matplotlib renders
off-screen (Agg) without touching pyplot.
"""

from .artifacts import atomic_write, safe_name, save_and_record, save_artifacts
from .compare import Comparison, MetricChange, Threshold, compare_reports, parse_fail_thresholds
from .errors import ReportError
from .html_report import render_html, write_html
from .json_report import build_meta, load_report, write_json
from .records import make_record, record_key
from .summary import format_summary

__all__ = [
    "Comparison",
    "MetricChange",
    "ReportError",
    "Threshold",
    "atomic_write",
    "build_meta",
    "compare_reports",
    "format_summary",
    "load_report",
    "make_record",
    "parse_fail_thresholds",
    "record_key",
    "render_html",
    "safe_name",
    "save_and_record",
    "save_artifacts",
    "write_html",
    "write_json",
]
