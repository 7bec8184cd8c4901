"""State of one pytest-invstab session: the records of every check, reports, comparison, xdist merge.

Plain Python (no pytest): the plugin creates one :class:`InvstabSession` per pytest process,
feeds it every :class:`~pytest_invstab.result.CheckResult` through :meth:`InvstabSession.add_result`
and asks it, at the end, to write the JSON and HTML reports and to compare with a previous
report. Under pytest-xdist each worker hands its records to the controller as a JSON string
(:meth:`worker_payload` / :meth:`merge_payload`), so reports are complete with ``-n N``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidInputError, InvstabError
from .settings import InvstabSettings, check_function

if TYPE_CHECKING:  # pragma: no cover
    from .result import CheckResult

# Keys of config.workeroutput (xdist) that carry this plugin's data.
WORKER_KEY = "invstab_payload"
PAYLOAD_FORMAT = "pytest-invstab-worker"


class InvstabSession:
    """Records and reports of one session (one per pytest process; the controller's merges workers')."""

    def __init__(self, settings: InvstabSettings, *, worker_id: str | None = None):
        self.settings = settings
        self.worker_id = worker_id
        self.records: list[dict[str, Any]] = []
        self.notes: list[str] = []  # problems to show once in the terminal summary
        self.errors: list[str] = []  # problems that fail the session (bad previous report, ...)
        self.comparison: Any = None
        self.written: dict[str, str] = {}  # {"report": path, "html": path}
        self.started = time.time()
        self._counts: dict[str, int] = {}
        # Parsed now, with or without --invstab-compare: a typo in a gate shows on day one, not on
        # release day; an unknown metric is an error (InvalidInputError), never an ungated note.
        self.thresholds: dict[str, Any] = {}
        if settings.compare_fail:
            self.thresholds = _report_module().parse_fail_thresholds(settings.compare_fail, known_only=True)

    # -- recording ---------------------------------------------------------------------
    def next_index(self, nodeid: str) -> int:
        """0, 1, 2, ... for the successive checks of one test."""
        index = self._counts.get(nodeid, 0)
        self._counts[nodeid] = index + 1
        return index

    def artifact_folder(self, nodeid: str, check: str, index: int) -> Path:
        """``<results>/<safe_name(nodeid, check, index)>``: unique per test, check and index."""
        from .report import safe_name

        return self.settings.results / safe_name(nodeid, check, index)

    def add_result(self, nodeid: str, result: "CheckResult") -> dict[str, Any]:
        """Save the artifacts of ``result`` (per ``settings.save``) and keep its record.

        A folder that cannot be written does not lose the record: the record gets
        ``artifact_error`` and a note (naming ``--invstab-results``) is shown in the summary.
        """
        from .report import save_and_record

        index = self.next_index(nodeid)
        folder = self.artifact_folder(nodeid, result.check, index)
        # A folder left by an earlier run of the same check would describe an old result
        # (e.g. it failed then and passes now): remove it. Its name is ours (hash of the id).
        if folder.is_dir() and folder.parent == self.settings.results:
            shutil.rmtree(folder, ignore_errors=True)
        started = time.perf_counter()
        record = save_and_record(nodeid, result, self.settings.results, index=index, mode=self.settings.save)
        # What drawing and writing this check's artifacts cost (s), next to the check's own total_s.
        record.setdefault("timings", {})["artifacts_s"] = time.perf_counter() - started
        if record.get("artifact_error"):
            self.note(record["artifact_error"])
        self.records.append(record)
        return record

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def sorted_records(self) -> list[dict[str, Any]]:
        """Records ordered by node id, then by their index within a test (same order with or without xdist)."""
        return sorted(self.records, key=lambda r: (str(r.get("nodeid")), int(r.get("index", 0) or 0)))

    # -- xdist ---------------------------------------------------------------------------
    def worker_payload(self) -> str:
        """JSON string of this worker's records and notes for ``config.workeroutput``."""
        return json.dumps({"format": PAYLOAD_FORMAT, "records": self.records, "notes": self.notes})

    def merge_payload(self, payload: str | None) -> None:
        """Add a worker's records and notes (``payload`` from :meth:`worker_payload`)."""
        if not payload:
            return
        data = json.loads(payload)
        if not isinstance(data, dict) or data.get("format") != PAYLOAD_FORMAT:
            raise InvalidInputError("a pytest-xdist worker sent data in an unknown format; use the same "
                                    "pytest-invstab version on every worker")
        self.records.extend(data.get("records", []))
        for n in data.get("notes", []):
            self.note(n)

    # -- end of session --------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        from .report.json_report import build_meta

        return build_meta(self.started, time.time(), options=self.settings.to_dict())

    def finish(self) -> bool:
        """Write the JSON and HTML reports and run the comparison.

        Returns ``True`` when the session must fail: a regression against ``--invstab-compare``
        or a previous report that cannot be read. Problems are kept in ``notes`` / ``errors``;
        the session's own reports are written whatever the comparison says.
        """
        records = self.sorted_records()
        s = self.settings
        meta: dict[str, Any] | None = None
        if s.report is not None or s.html is not None or s.compare is not None:
            meta = self.meta()
        comparison_dict: dict[str, Any] | None = None
        if s.compare is not None:
            comparison_dict = self._compare(records)
            if meta is not None and comparison_dict is not None:
                meta["comparison"] = comparison_dict
        for what, path, writer in (("report", s.report, "write_json"), ("html", s.html, "write_html")):
            if path is None:
                continue
            if not records and Path(path).exists():  # never replace a report with an empty one
                self.note(f"no check ran: {path} was left as it was")
                continue
            self._write(what, path, lambda p, w=writer: getattr(_report_module(), w)(p, records, meta))
        return bool(self.errors) or self.gate_failed()

    def gate_failed(self) -> bool:
        """Whether the comparison with ``--invstab-compare`` (the release gate) failed."""
        return bool(self.comparison is not None and self.comparison.failed)

    def gate_verdict(self) -> str:
        """One line: why the gate failed (counts of regressions and missing checks)."""
        c = self.comparison
        if c is None:
            return ""
        return (f"invstab gate failed: {len(c.regressions)} regressed, {len(c.missing_in_current)} missing "
                f"against {self.settings.compare}")

    def _write(self, what: str, path: Path, writer: Callable[[Path], Any]) -> None:
        try:
            writer(path)
            self.written[what] = str(path)
        except (InvstabError, OSError) as exc:
            self.note(str(exc))

    def _compare(self, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        report = _report_module()
        assert self.settings.compare is not None
        try:
            previous = report.load_report(self.settings.compare)
            self.comparison = report.compare_reports(previous, records, self.thresholds)
        except (InvstabError, OSError) as exc:
            self.errors.append(f"pytest-invstab cannot compare with the previous report {self.settings.compare}: {exc}")
            return None
        return self.comparison.to_dict()

    def summary_lines(self) -> list[str]:
        """Terminal lines: the checks table, results folder, comparison, notes and errors."""
        records = self.sorted_records()
        lines: list[str] = []
        if records:
            from .report import format_summary

            lines += format_summary(records, self.settings.results)
        if self.comparison is not None:
            lines += self.comparison.format()
        for what, path in self.written.items():
            lines.append(f"{'JSON report' if what == 'report' else 'HTML report'}: {path}")
        shown = {r.get("artifact_error") for r in records}
        lines += [f"warning: {n}" for n in self.notes if n not in shown]
        lines += [f"ERROR: {e}" for e in self.errors]
        return lines


def _report_module() -> Any:
    from . import report

    return report


def run_check(marker: str, reconstructor: Any, operator: Any, images: Any, kwargs: Mapping[str, Any]) -> "CheckResult":
    """Run the check behind ``marker`` ('stability', 'detail_recovery', 'more_samples') with ``kwargs``."""
    return check_function(marker)(reconstructor, operator, images, **dict(kwargs))

