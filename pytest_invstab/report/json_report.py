"""The session's JSON report: every check's record plus run metadata, and its loader.

Format (version 1)::

    {"format": "pytest-invstab-report", "version": 1,
     "meta": {"versions": {...}, "started": ISO-8601, "finished": ISO-8601, "options": {...}, ...},
     "totals": {"checks": n, "passed": p, "failed": f},
     "checks": [record, ...]}

A record is ``make_record(...)``'s dict. The file is what ``--invstab-compare`` reads back in
a later run (CI gating of a model release), so ``load_report`` refuses anything it cannot
trust with one clear ``ReportError``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from pathlib import Path
from typing import Any, Iterable, Mapping

from .artifacts import atomic_write
from .errors import ReportError
from .records import jsonable, totals

FORMAT = "pytest-invstab-report"
VERSION = 1
JSON_OPTION = "--invstab-report"
COMPARE_OPTION = "--invstab-compare"


def _iso(t: float | _dt.datetime | str | None) -> str | None:
    if t is None or isinstance(t, str):
        return t
    if isinstance(t, (int, float)):
        t = _dt.datetime.fromtimestamp(float(t), tz=_dt.timezone.utc)
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t.astimezone(_dt.timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    """Versions of pytest-invstab, pytest, torch, numpy and Python (no host names, no paths)."""
    from importlib import metadata

    import numpy
    import torch

    from .. import __version__

    try:
        pytest_version = metadata.version("pytest")
    except metadata.PackageNotFoundError:  # pragma: no cover - used without pytest
        pytest_version = "not installed"
    return {
        "pytest_invstab": __version__,
        "pytest": pytest_version,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def build_meta(
    started: float | _dt.datetime | None = None,
    finished: float | _dt.datetime | None = None,
    options: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Run metadata for a report: versions, UTC start/finish times (ISO 8601), duration in s, options.

    ``started`` / ``finished`` are ``time.time()`` floats or datetimes; ``options`` are the
    resolved invstab settings (command line and ini). Nothing host-specific is added.
    """
    meta: dict[str, Any] = {"versions": package_versions(), "started": _iso(started), "finished": _iso(finished)}
    if isinstance(started, (int, float)) and isinstance(finished, (int, float)):
        meta["duration_s"] = round(float(finished) - float(started), 3)
    meta["options"] = jsonable(dict(options or {}))
    meta.update(jsonable(extra))
    return meta


def report_dict(records: Iterable[Mapping[str, Any]], meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """The report as a JSON-able dict (what ``write_json`` writes)."""
    recs = [dict(r) for r in records]
    return {
        "format": FORMAT,
        "version": VERSION,
        "meta": jsonable(dict(meta or {})),
        "totals": totals(recs),
        "checks": jsonable(recs),
    }


def write_json(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]], meta: Mapping[str, Any] | None = None) -> Path:
    """Write the JSON report atomically; ``ReportError`` (naming ``--invstab-report``) if it cannot."""
    text = json.dumps(report_dict(records, meta), indent=1, allow_nan=False, ensure_ascii=False)
    return atomic_write(path, text + "\n", option=JSON_OPTION)


def _guess_tool(data: Any) -> str:
    if isinstance(data, dict):
        if "benchmarks" in data and "machine_info" in data:
            return " (it looks like a pytest-benchmark file)"
        if "tests" in data and "summary" in data:
            return " (it looks like a pytest-json-report file)"
    return ""


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a report written by ``write_json`` and check that it is one.

    Raises ``ReportError`` when the file is missing or unreadable, is not JSON, is another
    tool's JSON, comes from a newer pytest-invstab (unsupported version) or is damaged.
    """
    path = Path(path)
    hint = f"write one with {JSON_OPTION}=PATH in an earlier run and pass it to {COMPARE_OPTION}=PATH"
    if not path.exists():
        raise ReportError(f"no pytest-invstab report at {path}; {hint}", path=path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReportError(f"cannot read the pytest-invstab report {path} ({exc.strerror or exc}); "
                          f"check the path given to {COMPARE_OPTION}", path=path) from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ReportError(f"{path} is not a JSON file{where}; {COMPARE_OPTION} needs the report that "
                          f"{JSON_OPTION} wrote", path=path) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ReportError(f"{path} is JSON but not a pytest-invstab report (format {found!r}, expected "
                          f"{FORMAT!r}){_guess_tool(data)}; {hint}", path=path)
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ReportError(f"{path} has no valid report version ({version!r}); regenerate it with {JSON_OPTION}",
                          path=path)
    if version > VERSION:
        raise ReportError(f"{path} is a version {version} report from a newer pytest-invstab; this version reads "
                          f"version {VERSION}: upgrade pytest-invstab or regenerate the report with this one",
                          path=path)
    if version < 1:
        raise ReportError(f"{path} has unsupported report version {version}; regenerate it with {JSON_OPTION}",
                          path=path)
    checks = data.get("checks")
    if not isinstance(checks, list) or not all(isinstance(c, dict) and "nodeid" in c and "check" in c for c in checks):
        raise ReportError(f"{path} is damaged: 'checks' must be a list of check records with 'nodeid' and 'check'; "
                          f"regenerate it with {JSON_OPTION}", path=path)
    data.setdefault("meta", {})
    return data


__all__ = ["FORMAT", "VERSION", "build_meta", "load_report", "package_versions", "report_dict", "write_json"]
