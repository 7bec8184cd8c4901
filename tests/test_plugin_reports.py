"""Session reports through pytest: settings precedence, JSON/HTML reports, comparison gate (pytester)."""

from __future__ import annotations

import json

import pytest
from conftest import STABLE_AND_UNSTABLE

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")

# One cheap stability check whose seed and budget the run records, and one with marker values.
PRECEDENCE_TESTS = """
import pytest

@pytest.mark.stability(baseline=None, steps=1, restarts=1)
def test_session_values():
    pass

@pytest.mark.stability(baseline=None, steps=1, restarts=1, seed=7, budget="thorough")
def test_marker_values():
    pass
"""


def _checks(pytester: pytest.Pytester, name: str = "r.json") -> dict[str, dict]:
    data = json.loads((pytester.path / name).read_text(encoding="utf-8"))
    return {r["nodeid"].split("::", 1)[1]: r for r in data["checks"]}


@pytest.mark.parametrize(
    "ini, args, expected_session",
    [
        ("", [], (0, "standard")),  # default
        ("invstab_seed = 3\ninvstab_budget = quick\n", [], (3, "quick")),  # ini beats default
        ("invstab_seed = 3\ninvstab_budget = quick\n", ["--invstab-seed=5", "--invstab-budget=standard"],
         (5, "standard")),  # command line beats ini
    ],
    ids=["default", "ini", "cli"],
)
def test_settings_precedence_marker_cli_ini_default(pytester: pytest.Pytester, ini, args, expected_session):
    pytester.makeini("[pytest]\ninvstab_size = 32\ninvstab_sanity = false\n" + ini)
    pytester.makeconftest("import pytest\n\n@pytest.fixture\ndef reconstructor():\n    return lambda y, op: op.adjoint(y)\n")
    pytester.makepyfile(PRECEDENCE_TESTS)
    pytester.runpytest("--invstab-report=r.json", *args).assert_outcomes(passed=2)
    checks = _checks(pytester)
    session, marker = checks["test_session_values"], checks["test_marker_values"]
    assert (session["seed"], session["settings"]["budget"]) == expected_session
    # the marker beats every other level
    assert (marker["seed"], marker["settings"]["budget"]) == (7, "thorough")
    # ini fixture defaults reach the operator
    assert session["operator"]["image_shape"] == [32, 32]
    meta = json.loads((pytester.path / "r.json").read_text())["meta"]
    assert meta["options"]["seed"] == expected_session[0]


def test_ini_operator_choice_and_sizes(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ninvstab_size = 32\ninvstab_sanity = false\n"
                     "invstab_operator = radon\ninvstab_angles = 12\n")
    pytester.makepyfile(
        """
        def test_operator(operator, reference_images, shepp_logan, radon_operator):
            assert operator is radon_operator
            assert operator.image_shape == (32, 32) and operator.measurement_shape[0] == 12
            assert reference_images.shape == (1, 32, 32) and not reference_images.is_complex()
            assert 0.9 < float(shepp_logan.max()) <= 1.0 and float(shepp_logan.min()) == 0.0
            shepp_logan.mul_(0)  # a test may spoil its copy ...

        def test_images_are_fresh(shepp_logan):
            assert float(shepp_logan.max()) > 0.9  # ... the next test gets a clean one
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


# -- reports -------------------------------------------------------------------------------------
def test_json_and_html_reports_hold_every_check(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(
        test_reports=STABLE_AND_UNSTABLE
    )
    result = invstab_project.runpytest("--invstab-report=out/r.json", "--invstab-html=out/page.html")
    result.assert_outcomes(passed=1, failed=1)
    from pytest_invstab.report import load_report

    report = load_report(invstab_project.path / "out" / "r.json")
    assert report["totals"] == {"checks": 2, "passed": 1, "failed": 1}
    assert [r["nodeid"] for r in report["checks"]] == ["test_reports.py::test_stable",
                                                        "test_reports.py::test_unstable"]
    page = (invstab_project.path / "out" / "page.html").read_text(encoding="utf-8")
    assert "test_unstable" in page and "test_stable" in page and "data:image/png;base64" in page
    result.stdout.fnmatch_lines([f"JSON report: {invstab_project.path / 'out' / 'r.json'}",
                                 f"HTML report: {invstab_project.path / 'out' / 'page.html'}"])


# -- comparison with a previous report (CI gate) -------------------------------------------------
GATED_CONFTEST_EXTRA = """

import os


@pytest.fixture(scope="session")
def release_candidate():
    return Planted(gain=float(os.environ["PLANTED_GAIN"]))
"""

GATED_TESTS = """
import pytest

@pytest.mark.stability(reconstructor="release_candidate", max_artifact=1.0, baseline=None)
def test_model():
    pass
"""


def _gated_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, gain: float, *args: str):
    monkeypatch.setenv("PLANTED_GAIN", str(gain))
    return pytester.runpytest(*args)


def test_compare_gate_regressed_unchanged_improved(invstab_project: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch):
    conftest = invstab_project.path / "conftest.py"
    conftest.write_text(conftest.read_text() + GATED_CONFTEST_EXTRA)
    invstab_project.makepyfile(test_gate=GATED_TESTS)
    gate = ["--invstab-compare=base.json", "--invstab-compare-fail=artifact:10%"]

    # the released model: artifact about (1 + 20) * 0.01; every test passes
    base = _gated_run(invstab_project, monkeypatch, 20, "--invstab-report=base.json")
    assert base.ret == 0
    base_artifact = _checks(invstab_project, "base.json")["test_model"]["metrics"]["artifact"]
    assert 0.1 < base_artifact <= 0.21 * (1 + 1e-3)

    # the same model again: unchanged, the gate passes
    same = _gated_run(invstab_project, monkeypatch, 20, *gate, "--invstab-report=same.json")
    assert same.ret == 0
    same.stdout.fnmatch_lines(["*compare*: passed -- 0 regressed, 0 improved, 1 unchanged*"])
    assert _checks(invstab_project, "same.json")["test_model"]["metrics"]["artifact"] == pytest.approx(
        base_artifact, rel=1e-6)

    # a regressed model: its test still passes (artifact < 1), but the session fails with the table
    worse = _gated_run(invstab_project, monkeypatch, 40, *gate, "--invstab-report=worse.json")
    worse.assert_outcomes(passed=1)
    assert worse.ret == pytest.ExitCode.TESTS_FAILED
    worse.stdout.fnmatch_lines(["*compare*: FAILED -- 1 regressed*", "regressions:",
                                "*test_gate.py::test_model*worst_case*artifact*10%*"])
    assert (invstab_project.path / "worse.json").is_file()  # its own report is written all the same
    worse_report = json.loads((invstab_project.path / "worse.json").read_text())
    assert worse_report["meta"]["comparison"]["failed"] is True

    # an improved model passes and says so
    better = _gated_run(invstab_project, monkeypatch, 5, *gate)
    assert better.ret == 0
    better.stdout.fnmatch_lines(["*compare*: passed -- 0 regressed, 1 improved*",
                                 "improved: test_gate.py::test_model worst_case artifact *"])


@pytest.mark.parametrize(
    "content, fragment",
    [
        (None, "no pytest-invstab report at"),
        ('{"benchmarks": [], "machine_info": {}}', "not a pytest-invstab report"),
    ],
    ids=["missing", "foreign"],
)
def test_unreadable_previous_report_is_one_error_line(invstab_project: pytest.Pytester, content, fragment):
    if content is not None:
        (invstab_project.path / "prev.json").write_text(content)
    invstab_project.makepyfile(
        "import pytest\n\n@pytest.mark.stability(baseline=None, steps=1, restarts=1)\ndef test_x():\n    pass\n"
    )
    result = invstab_project.runpytest("--invstab-compare=prev.json", "--invstab-report=own.json")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    errors = [line for line in result.stdout.lines if line.startswith("ERROR: pytest-invstab cannot compare")]
    assert len(errors) == 1 and fragment in errors[0], result.stdout.str()
    assert "Traceback" not in result.stdout.str()
    assert json.loads((invstab_project.path / "own.json").read_text())["totals"]["checks"] == 1


def test_bad_compare_fail_spec_is_reported(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(
        "import pytest\n\n@pytest.mark.stability(baseline=None, steps=1, restarts=1)\ndef test_x():\n    pass\n"
    )
    # the thresholds are parsed at configure time (issue 11): a usage error before any test runs,
    # with or without --invstab-compare, so a typo shows on day one
    for args in (["--invstab-compare=prev.json"], []):
        result = invstab_project.runpytest(*args, "--invstab-compare-fail=artifact=10")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["ERROR: pytest-invstab: bad --invstab-compare-fail value 'artifact=10'*"])
