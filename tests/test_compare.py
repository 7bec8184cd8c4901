"""Comparison with a previous report: the CI release gate."""

from __future__ import annotations

import copy

import pytest

from pytest_invstab.errors import InvalidInputError
from pytest_invstab.report import Comparison, compare_reports, load_report, parse_fail_thresholds, write_json
from pytest_invstab.report.compare import Threshold


def rec(nodeid: str, check: str, metrics: dict, passed: bool = True, index: int = 0, key: str | None = None,
        better: dict | None = None) -> dict:
    return {
        "nodeid": nodeid, "name": nodeid.split("::")[-1], "index": index, "check": check,
        "passed": passed, "verdict": "passed" if passed else "failed", "message": "",
        "key_metric": key or next(iter(metrics)), "metrics": metrics,
        "better": better if better is not None else {"artifact": "lower", "recovery": "higher",
                                                     "max_drop_db": "lower", "psnr": "higher"},
    }


PREVIOUS = [
    rec("t.py::test_wc", "worst_case", {"artifact": 0.20, "psnr": 30.0}),
    rec("t.py::test_dr", "detail_recovery", {"recovery": 0.90}),
    rec("t.py::test_ms", "more_samples", {"max_drop_db": 0.40}),
]
THRESHOLDS = ["artifact:10%", "recovery:5%", "max_drop_db:0.5"]


def current(**changes) -> list[dict]:
    recs = copy.deepcopy(PREVIOUS)
    for r in recs:
        for metric, value in changes.items():
            if metric in r["metrics"]:
                r["metrics"][metric] = value
    return recs


def test_parse_fail_thresholds():
    t = parse_fail_thresholds(["artifact:10%", "recovery:5%", "max_drop_db:0.5"])
    assert t == {"artifact": Threshold("artifact", 10.0, True), "recovery": Threshold("recovery", 5.0, True),
                 "max_drop_db": Threshold("max_drop_db", 0.5, False)}
    assert t["artifact"].allowed(0.2) == pytest.approx(0.02) and t["max_drop_db"].allowed(7.0) == 0.5
    assert parse_fail_thresholds([" psnr : 1e-1 ,ssim:2%"]) == {"psnr": Threshold("psnr", 0.1, False),
                                                                "ssim": Threshold("ssim", 2.0, True)}
    assert parse_fail_thresholds(None) == {} and parse_fail_thresholds([]) == {}
    assert parse_fail_thresholds("artifact:0") == {"artifact": Threshold("artifact", 0.0, False)}


@pytest.mark.parametrize("spec", ["artifact", "artifact:", "artifact:ten%", ":10%", "artifact:-1", "artifact:10%%",
                                  "artifact=10%", "10%:artifact"])
def test_bad_threshold_spec_names_the_format(spec):
    with pytest.raises(InvalidInputError, match=r"METRIC:VALUE% .*METRIC:VALUE .*artifact:10%"):
        parse_fail_thresholds([spec])


def test_duplicate_threshold_is_an_error():
    with pytest.raises(InvalidInputError, match="twice"):
        parse_fail_thresholds(["artifact:10%", "artifact:5%"])


def test_unchanged_passes():
    c = compare_reports({"checks": PREVIOUS, "meta": {}}, current(), parse_fail_thresholds(THRESHOLDS))
    assert isinstance(c, Comparison) and not c.failed
    assert not c.regressions and not c.improvements and len(c.unchanged) == 3
    assert c.format()[0].startswith("pytest-invstab compare: passed -- 0 regressed")


def test_within_threshold_is_unchanged():
    # artifact +9% (allowed 10%), recovery -4% (allowed 5%), drop +0.49 dB (allowed 0.5 dB)
    c = compare_reports(PREVIOUS, current(artifact=0.218, recovery=0.864, max_drop_db=0.89),
                        parse_fail_thresholds(THRESHOLDS))
    assert not c.failed and len(c.unchanged) == 3


@pytest.mark.parametrize("metric, value", [("artifact", 0.221), ("recovery", 0.85), ("max_drop_db", 0.91)])
def test_regression_fails(metric, value):
    c = compare_reports(PREVIOUS, current(**{metric: value}), parse_fail_thresholds(THRESHOLDS))
    assert c.failed
    before = next(p["metrics"][metric] for p in PREVIOUS if metric in p["metrics"])
    assert [(r.metric, r.previous, r.current) for r in c.regressions] == [(metric, before, value)]
    lines = c.format()
    assert "FAILED" in lines[0] and lines[1] == "regressions:"
    assert metric in lines[4] and ("%" in lines[4] or "dB" in lines[4])


def test_direction_comes_from_the_record():
    # Same numbers, opposite "better": a higher artifact is a regression only when lower is better.
    prev = [rec("t.py::a", "custom", {"score": 1.0}, better={"score": "higher"})]
    up = [rec("t.py::a", "custom", {"score": 1.5}, better={"score": "higher"})]
    c = compare_reports(prev, up, parse_fail_thresholds(["score:10%"]))
    assert not c.failed and [i.metric for i in c.improvements] == ["score"]
    c = compare_reports(prev, [rec("t.py::a", "custom", {"score": 0.5}, better={"score": "higher"})],
                        parse_fail_thresholds(["score:10%"]))
    assert c.failed and c.regressions[0].describe_change() == "-0.5 (-50.0%)"


def test_improvement_passes_and_says_so():
    c = compare_reports(PREVIOUS, current(artifact=0.05, recovery=0.99), parse_fail_thresholds(THRESHOLDS))
    assert not c.failed
    assert sorted(i.metric for i in c.improvements) == ["artifact", "recovery"]
    improved = [line for line in c.format() if line.startswith("improved: ")]
    assert any("t.py::test_wc worst_case artifact 0.2 -> 0.05 (-0.15 (-75.0%)" in line for line in improved)


def test_verdict_flip_is_a_regression_regardless_of_thresholds():
    cur = current()
    cur[1]["passed"], cur[1]["verdict"] = False, "failed"
    c = compare_reports(PREVIOUS, cur, parse_fail_thresholds(["recovery:100%"]))
    assert c.failed and [(r.metric, r.previous, r.current) for r in c.regressions] == [("verdict", "passed", "failed")]
    # and failed -> passed is an improvement
    back = compare_reports(cur, PREVIOUS, parse_fail_thresholds(["recovery:100%"]))
    assert not back.failed and [i.metric for i in back.improvements] == ["verdict"]


def test_nan_now_is_a_regression():
    c = compare_reports(PREVIOUS, current(artifact=None), parse_fail_thresholds(THRESHOLDS))
    assert c.failed and c.regressions[0].metric == "artifact" and c.regressions[0].describe_change() == "now nan"


def test_missing_entries_are_reported_on_both_sides():
    cur = current()[:2] + [rec("t.py::test_new", "worst_case", {"artifact": 0.1})]
    cur[0] = dict(cur[0], index=1)  # same test, other index: a different check
    c = compare_reports(PREVIOUS, cur, parse_fail_thresholds(THRESHOLDS))
    assert c.failed and not c.regressions
    assert sorted((r["nodeid"], r["index"]) for r in c.missing_in_current) == [("t.py::test_ms", 0),
                                                                               ("t.py::test_wc", 0)]
    assert sorted((r["nodeid"], r["index"]) for r in c.new_in_current) == [("t.py::test_new", 0), ("t.py::test_wc", 1)]
    text = "\n".join(c.format())
    assert "missing in current run: t.py::test_ms more_samples#0 (was passed" in text
    assert "new in current run (not in the previous report): t.py::test_new worst_case#0" in text
    # new checks alone do not fail the gate
    only_new = compare_reports(PREVIOUS, current() + [rec("t.py::x", "worst_case", {"artifact": 9.0})], {})
    assert not only_new.failed and len(only_new.new_in_current) == 1


def test_no_thresholds_gates_key_metrics_on_any_worsening():
    c = compare_reports(PREVIOUS, current(psnr=10.0), None)  # psnr is not a key metric: not gated
    assert not c.failed and len(c.unchanged) == 3
    c = compare_reports(PREVIOUS, current(artifact=0.2000001), None)
    assert c.failed and c.regressions[0].metric == "artifact"
    # round-off is not a change
    c = compare_reports(PREVIOUS, current(artifact=0.2 * (1 + 1e-12)), None)
    assert not c.failed


def test_unknown_threshold_metric_is_noted():
    c = compare_reports(PREVIOUS, current(), parse_fail_thresholds(["artifcat:10%"]))
    assert any("artifcat" in n and "spelling" in n for n in c.notes)
    assert any(line.startswith("note: ") for line in c.format())
    # a metric of a check missing now is not a spelling mistake
    c = compare_reports(PREVIOUS, current()[:2], parse_fail_thresholds(THRESHOLDS))
    assert c.failed and not c.notes


def test_compare_with_loaded_report(tmp_path):
    path = write_json(tmp_path / "prev.json", PREVIOUS, {"finished": "2024-01-01T00:00:00+00:00"})
    c = compare_reports(load_report(path), current(artifact=0.3), parse_fail_thresholds(THRESHOLDS))
    assert c.failed and "previous run 2024-01-01" in c.format()[0]
    d = c.to_dict()
    assert d["failed"] and d["regressions"][0]["metric"] == "artifact" and d["regressions"][0]["threshold"] == "artifact:10%"
    with pytest.raises(InvalidInputError, match="load_report"):
        compare_reports({"meta": {}}, current(), {})


def test_gate_metrics_cover_every_metric_with_a_direction_of_the_checks():
    """The plugin refuses a compare-fail metric outside GATE_METRICS: the list must not drift from the checks."""
    import torch

    from pytest_invstab.checks.detail_recovery import detail_recovery
    from pytest_invstab.checks.more_samples import more_samples
    from pytest_invstab.checks.worst_case import worst_case
    from pytest_invstab.images import shepp_logan
    from pytest_invstab.operators.fourier import FourierOperator
    from pytest_invstab.report.compare import is_gate_metric

    op = FourierOperator(size=32, rate=0.5, seed=0)
    x = shepp_logan(32)[None]

    def f(y, o):
        return o.adjoint(y)

    off = dict(baseline=None, sanity=False)  # zero-filling is no better than itself: no gate here
    results = [worst_case(f, op, x, steps=2, restarts=1, gaussian_draws=4, **off),
               detail_recovery(f, op, x, **off), more_samples(f, op, x, rates=(0.25, 0.5), **off)]
    names = {m for r in results for m in r.better}
    assert names and all(is_gate_metric(m) for m in names), sorted(m for m in names if not is_gate_metric(m))
    assert not is_gate_metric("artifcat") and not is_gate_metric("psnr@") and torch is not None


def test_unknown_gate_metric_is_an_error_listing_the_valid_names():
    with pytest.raises(InvalidInputError, match=r"unknown metric 'artifcat'.*artifact, amplification"):
        parse_fail_thresholds(["artifcat:10%"], known_only=True)
    assert set(parse_fail_thresholds(["artifact:10%,psnr@0.25:1"], known_only=True)) == {"artifact", "psnr@0.25"}


def test_previous_record_with_a_verdict_but_no_passed_key_is_read_by_its_verdict():
    prev = [{k: v for k, v in r.items() if k != "passed"} for r in PREVIOUS]
    for r, old in zip(prev, PREVIOUS):
        r["verdict"] = "passed" if old.get("passed") else "failed"
    same = compare_reports(prev, PREVIOUS)
    assert not [c for c in same.improvements + same.regressions if c.metric == "verdict"], same.format()
    prev[0]["verdict"] = "failed"
    flipped = compare_reports(prev, PREVIOUS)
    assert [(c.metric, c.previous, c.current) for c in flipped.improvements] == [("verdict", "failed", "passed")]


def test_previous_metric_stored_as_a_string_is_parsed_or_named():
    prev = [dict(r, metrics={k: str(v) for k, v in r["metrics"].items()}) for r in PREVIOUS]
    worse = [dict(r, metrics={k: (v * 2 if k == r["key_metric"] and r["better"].get(k, "lower") == "lower" else v)
                              for k, v in r["metrics"].items()}) for r in PREVIOUS]
    c = compare_reports(prev, worse)  # "0.2" was skipped before: the gate compared nothing
    assert {ch.metric for ch in c.regressions} == {"artifact", "max_drop_db"} and c.failed
    assert [ch.metric for ch in c.unchanged] == ["recovery"] and c.unchanged[0].previous == 0.9
    bad = [dict(PREVIOUS[0], metrics={k: "n/a" for k in PREVIOUS[0]["metrics"]})]
    with pytest.raises(InvalidInputError, match=r"previous report's .* 'n/a', which is not a number"):
        compare_reports(bad, PREVIOUS[:1])


# -- metric families and checks that are not gated ---------------------------------------------------
def _samples(p25: float, p50: float, s25: float = 0.8) -> list[dict]:
    better = {"max_drop_db": "lower", "psnr@0.25": "higher", "psnr@0.5": "higher", "ssim@0.25": "higher"}
    return [rec("t.py::test_ms", "more_samples", {"max_drop_db": 0.1, "psnr@0.25": p25, "psnr@0.5": p50,
                                                  "ssim@0.25": s25}, key="max_drop_db", better=better),
            rec("t.py::test_wc", "worst_case", {"artifact": 0.2})]


def test_a_metric_family_gates_every_rate():
    c = compare_reports(_samples(30.0, 32.0), _samples(30.0, 31.0), parse_fail_thresholds(["psnr:0.5"]))
    assert c.failed and [(r.metric, r.previous, r.current) for r in c.regressions] == [("psnr@0.5", 32.0, 31.0)]
    assert [u.metric for u in c.unchanged] == ["psnr@0.25"]  # both rates compared, nothing else
    # a rate's own threshold wins over its family's
    c = compare_reports(_samples(30.0, 32.0), _samples(30.0, 31.0), parse_fail_thresholds(["psnr:0.5", "psnr@0.5:2"]))
    assert not c.failed and {u.metric for u in c.unchanged} == {"psnr@0.25", "psnr@0.5"}
    assert parse_fail_thresholds("psnr@0.25:0.5")["psnr@0.25"].value == 0.5
    assert not any("no check reports" in n for n in c.notes)


def test_every_check_is_gated_or_listed_as_not_gated():
    c = compare_reports(_samples(30.0, 32.0), _samples(30.0, 32.0), parse_fail_thresholds(["ssim:1%"]))
    assert c.gated == ["t.py::test_ms::more_samples#0"]
    assert [r["nodeid"] for r in c.not_gated] == ["t.py::test_wc"]
    lines = c.format()
    assert "checks: 1 gated, 1 not gated" in lines[0]
    assert "not gated (no gated metric in this check): t.py::test_wc worst_case#0" in lines
    assert c.to_dict()["not_gated"] == ["t.py::test_wc::worst_case#0"]
