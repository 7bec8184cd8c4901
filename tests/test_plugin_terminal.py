"""Terminal and CLI: a line per finished check (-v), live progress, outcomes, no report from listing runs,
the compare gate in pytest's final line, --help's gate examples (pytester)."""

from __future__ import annotations

import json
import re
import time

import pytest
from conftest import STABLE_AND_UNSTABLE

from pytest_invstab.progress import Ticker, finished_line
from pytest_invstab.report.compare import parse_fail_thresholds
from pytest_invstab.report.records import METRIC_HELP
from pytest_invstab.settings import OPTIONS

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")

WITH_XFAIL = STABLE_AND_UNSTABLE + '''

@pytest.mark.xfail(strict=True, reason="a known instability")
@pytest.mark.stability(reconstructor="planted", baseline=None)
def test_known_unstable():
    pass
'''
LINE = r"invstab {net} worst_case: artifact [0-9.e-]+ \(max_artifact <= 0\.1\) {verdict} in [0-9.]+ s"


def _outcomes(pytester: pytest.Pytester, name: str) -> dict[str, str]:
    data = json.loads((pytester.path / name).read_text(encoding="utf-8"))
    return {r["name"]: r["outcome"] for r in data["checks"]}


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_verbose_prints_one_line_per_finished_check_and_records_outcomes(invstab_project: pytest.Pytester,
                                                                         xdist: bool):
    invstab_project.makepyfile(test_lines=WITH_XFAIL)
    args = ["-n", "2"] if xdist else []
    result = invstab_project.runpytest("-v", "--invstab-report=r.json", *args)
    result.assert_outcomes(passed=1, failed=1, xfailed=1)
    lines = [ln for ln in result.stdout.lines if ln.startswith("invstab ")]
    assert len(lines) == 3, result.stdout.str()  # once each, printed by the controller under xdist
    # the network id is the test's name where the test is not parametrized (the model's description)
    for verdict, count in (("PASSED", 1), ("FAILED", 2)):
        assert sum(bool(re.fullmatch(LINE.format(net=".+", verdict=verdict), ln)) for ln in lines) == count, lines
    assert _outcomes(invstab_project, "r.json") == {"test_stable": "passed", "test_unstable": "failed",
                                                    "test_known_unstable": "xfailed"}
    # the summary table agrees with pytest: the xfailed check is an expected finding
    result.stdout.fnmatch_lines(["pytest-invstab: 3 checks, 1 passed, 2 failed (1 expected: xfail)"])
    assert any("test_known_unstable" in ln and ln.rstrip().endswith("XFAIL") for ln in result.stdout.lines)
    quiet = invstab_project.runpytest("-q", *args)
    assert not [ln for ln in quiet.stdout.lines if ln.startswith("invstab ")]


def test_finished_line_names_network_check_key_number_threshold_and_seconds():
    line = finished_line({"network": "ell50", "check": "more_samples", "key": "max_drop_db", "value": "-0.04 dB",
                          "threshold": "tolerance_db <= 1 dB", "baseline": "0 dB",
                          "verdict": "failed on require_gain_db", "seconds": 12.34})
    assert line == ("invstab ell50 more_samples: max_drop_db -0.04 dB (tolerance_db <= 1 dB, CS 0 dB) "
                    "FAILED ON REQUIRE_GAIN_DB in 12.3 s")


def _screen(text: str) -> str:
    """What a terminal shows after ``text`` (backspace moves left, characters overwrite)."""
    cells: list[str] = []
    pos = 0
    for ch in text:
        if ch == "\b":
            pos = max(0, pos - 1)
        else:
            cells[pos:pos + 1] = [ch]
            pos += 1
    return "".join(cells).rstrip()


def test_live_progress_shows_while_running_and_leaves_nothing_behind():
    written: list[str] = []
    with Ticker("worst_case", written.append, after=0.05, every=0.05) as ticker:
        time.sleep(0.4)
    assert ticker.updates >= 2
    assert "[worst_case 0 s]" in "".join(written)
    assert _screen("....x" + "".join(written)) == "....x"  # pytest's dots continue as if nothing was written
    quick: list[str] = []
    with Ticker("worst_case", quick.append, after=5.0):
        pass
    assert quick == []  # a short check shows nothing


@pytest.mark.parametrize("args", [["--collect-only"], ["--fixtures"], ["--markers"], ["--help"],
                                  ["-k", "no_such_test"]],
                         ids=["collect-only", "fixtures", "markers", "help", "nothing-selected"])
def test_listing_runs_never_write_or_replace_a_report(invstab_project: pytest.Pytester, args: list[str]):
    invstab_project.makepyfile(test_listing=STABLE_AND_UNSTABLE)
    (invstab_project.path / "old.json").write_text("kept")
    (invstab_project.path / "old.html").write_text("kept")
    invstab_project.runpytest("--invstab-report=old.json", "--invstab-html=old.html", *args)
    assert (invstab_project.path / "old.json").read_text() == "kept"
    assert (invstab_project.path / "old.html").read_text() == "kept"
    if args[0].startswith("--"):  # and none is created either
        invstab_project.runpytest("--invstab-report=new.json", "--invstab-html=new.html", *args)
        assert not (invstab_project.path / "new.json").exists() and not (invstab_project.path / "new.html").exists()


def test_failed_gate_is_in_pytests_final_line(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(test_gate=STABLE_AND_UNSTABLE.replace("def test_unstable", "def _unused"))
    invstab_project.runpytest("--invstab-report=base.json").assert_outcomes(passed=1)
    base = json.loads((invstab_project.path / "base.json").read_text())
    base["checks"][0]["metrics"]["artifact"] /= 10  # the released model was ten times better
    (invstab_project.path / "base.json").write_text(json.dumps(base))
    result = invstab_project.runpytest("--invstab-compare=base.json", "--invstab-compare-fail=artifact:10%")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert re.search(r"=+ 1 passed, 1 invstab gate failure in [0-9.]+s", result.stdout.lines[-1]), result.stdout.lines[-1]
    ok = invstab_project.runpytest("--invstab-compare=base.json", "--invstab-compare-fail=artifact:2000%")
    assert ok.ret == 0 and "invstab gate" not in ok.stdout.lines[-1]


def test_help_examples_of_the_gate_are_valid():
    help_text = OPTIONS["compare_fail"].help.replace("%%", "%")
    examples = re.findall(r"([A-Za-z_][\w.@]*:[0-9.]+%?)", help_text)
    assert len(examples) >= 3, help_text
    for spec in examples:
        (name, threshold), = parse_fail_thresholds(spec).items()
        assert name.partition("@")[0] in METRIC_HELP, spec  # a metric (family) the checks report
        assert threshold.value > 0
