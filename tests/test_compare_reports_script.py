"""benchmarks/compare_reports.py: two reports equal to a tolerance, or every difference listed."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_reports.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("compare_reports", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare_reports = _load_script()

OLD = {
    "format": "pytest-invstab-report", "version": 1, "meta": {"started": "2026-01-01T00:00:00+00:00"},
    "checks": [
        {"nodeid": "t.py::test_a", "check": "worst_case", "index": 0, "verdict": "failed", "passed": False,
         "key_metric": "artifact", "message": "artifact 0.5 > 0.1",
         "metrics": {"artifact": 0.5, "eps": 0.01}, "thresholds": {"artifact": 0.1},
         "baseline": {"artifact": 0.02}, "timings": {"total_s": 3.0}},
        {"nodeid": "t.py::test_a", "check": "worst_case", "index": 1, "verdict": "passed", "passed": True,
         "key_metric": "artifact", "metrics": {"artifact": 0.05, "nan": float("nan")},
         "thresholds": {"artifact": 0.1}, "baseline": {}},
        {"nodeid": "t.py::test_b", "check": "more_samples", "index": 0, "verdict": "passed", "passed": True,
         "key_metric": "max_drop_db", "metrics": {"max_drop_db": 0.0, "psnr@0.2": 20.0},
         "thresholds": {"max_drop_db": 1.0}, "baseline": {"max_drop_db": 0.0},
         "per_image": [{"index": 0, "psnr@0.2": 20.0}], "curves": {"x": [0.2], "series": {"network": [20.0]}}},
    ],
}


def _write(tmp_path: Path, name: str, report: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return str(path)


def test_equal_reports_count_checks_and_metrics(tmp_path, capsys):
    new = copy.deepcopy(OLD)
    new["checks"].reverse()  # order does not matter: checks are matched by (nodeid, check, index)
    new["checks"][0]["metrics"]["psnr@0.2"] = 20.0 + 1e-5  # relative 5e-7: within 1e-6
    new["checks"][2]["timings"] = {"total_s": 9.0}  # timings and messages are not results
    new["checks"][2]["message"] = "reworded"
    code = compare_reports.main([_write(tmp_path, "old.json", OLD), _write(tmp_path, "new.json", new)])
    # metrics 2 + 2 (NaN equals NaN) + 2, thresholds 3, baselines 2, per_image 2, curves 2
    assert (code, capsys.readouterr().out.strip()) == (0, "3 checks, 15 metrics equal within tol 1e-06")


def test_every_difference_is_listed(tmp_path, capsys):
    new = copy.deepcopy(OLD)
    new["checks"][0]["metrics"]["artifact"] = 0.5 + 1e-3
    new["checks"][0]["baseline"]["artifact"] = 0.02 + 1e-7  # within tol: not listed
    new["checks"][1]["verdict"], new["checks"][1]["passed"] = "failed", False
    del new["checks"][2]["thresholds"]["max_drop_db"]
    new["checks"][2]["curves"]["series"]["network"] = [21.0]
    new["checks"].append(dict(OLD["checks"][1], index=2))
    code = compare_reports.main([_write(tmp_path, "old.json", OLD), _write(tmp_path, "new.json", new)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0] == "6 difference(s) beyond tol 1e-06:"
    assert [line.strip() for line in out[1:]] == [
        "t.py::test_a [worst_case#0] metrics.artifact: 0.5 -> 0.501",
        "t.py::test_a [worst_case#1] verdict: 'passed' -> 'failed'",
        "t.py::test_a [worst_case#1] passed: True -> False",
        "t.py::test_a [worst_case#2]: only in the new report",
        "t.py::test_b [more_samples#0] thresholds.max_drop_db: 1.0 -> (missing)",
        "t.py::test_b [more_samples#0] curves.series.network[0]: 20.0 -> 21.0",
    ]


def test_tolerance_is_absolute_and_relative():
    same = compare_reports.same_value
    assert same(1e-8, 0.0, 1e-6) and not same(1e-5, 0.0, 1e-6)  # absolute near zero
    assert same(1000.0, 1000.0005, 1e-6) and not same(1000.0, 1000.01, 1e-6)  # relative for large values
    assert same(float("nan"), float("nan"), 1e-6) and not same(float("nan"), 1.0, 1e-6)


@pytest.mark.parametrize("content", ["not json", json.dumps({"format": "other", "checks": []})])
def test_a_file_that_is_no_report_exits_2(tmp_path, capsys, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert compare_reports.main([_write(tmp_path, "old.json", OLD), str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err
