"""Running marked tests through pytest: verdicts, messages, artifacts, fixtures (pytester).

The project (tests/conftest.py) has ``zero_filled`` (f = A*, relative artifact <= eps exactly,
because A A* = I for the orthonormal subsampled Fourier operator) and ``planted`` (a gain of
100 along one direction in the range of A*A: worst relative artifact (1 + 100) eps).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import STABLE_AND_UNSTABLE

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")


def _report(pytester: pytest.Pytester, name: str = "r.json") -> dict:
    return json.loads((pytester.path / name).read_text(encoding="utf-8"))


def _records(pytester: pytest.Pytester, name: str = "r.json") -> dict[str, dict]:
    return {f"{r['nodeid'].split('::', 1)[1]}#{r['index']}": r for r in _report(pytester, name)["checks"]}


# -- stability ------------------------------------------------------------------------------------
def test_stability_pass_and_planted_failure_with_artifacts(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(
        test_net="""
        import pytest

        @pytest.mark.stability(eps=0.01, max_artifact=0.1, baseline=None)
        def test_zero_filled_is_stable():
            pass

        @pytest.mark.stability(eps=0.01, max_artifact=0.1, reconstructor="planted", baseline=None)
        def test_planted_is_unstable():
            pass
        """
    )
    result = invstab_project.runpytest("--invstab-report=r.json")
    result.assert_outcomes(passed=1, failed=1)
    recs = _records(invstab_project)
    stable, planted = recs["test_zero_filled_is_stable#0"], recs["test_planted_is_unstable#0"]
    # ||A*A r|| <= ||r|| <= eps ||x||: the search cannot beat eps, and finds a good part of it
    assert stable["passed"] and 0.002 < stable["metrics"]["artifact"] <= 0.01 * (1 + 1e-4)
    # the planted direction gives (1 + 100) * eps = 1.01; a working search gets most of it
    assert not planted["passed"] and 0.5 < planted["metrics"]["artifact"] <= 1.01 * (1 + 1e-3)
    # the failure shows the check's one-line message and the artifact folder, no traceback
    out = result.stdout.str()
    folder = Path(planted["artifacts"]["panel"]).parent
    assert planted["message"].splitlines()[0] in out
    assert f"artifacts: {folder}" in out
    assert "Traceback" not in out and "def test_planted_is_unstable" not in out
    assert folder.parent == invstab_project.path / ".invstab"
    assert {"panel.png", "result.json", "arrays.npz"} <= {p.name for p in folder.iterdir()}
    assert json.loads((folder / "result.json").read_text())["verdict"] == "failed"
    # save=failed (default): the passing check saved nothing
    assert stable["artifacts"] == {} and len(list((invstab_project.path / ".invstab").iterdir())) == 1
    # the terminal summary lists both checks and the results folder
    result.stdout.fnmatch_lines(["*pytest-invstab: 2 checks, 1 passed, 1 failed*",
                                 "*test_planted_is_unstable*worst_case*artifact = *FAILED*",
                                 f"results: {invstab_project.path / '.invstab'}*"])


def test_xfail_strict_and_test_body_interplay(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(
        """
        import pytest

        @pytest.mark.xfail(strict=True, reason="known unstable")
        @pytest.mark.stability(reconstructor="planted", baseline=None)
        def test_known_unstable():
            pass

        @pytest.mark.xfail(strict=True, reason="claims instability, but is stable")
        @pytest.mark.stability(baseline=None)
        def test_wrongly_xfailed():
            pass

        @pytest.mark.stability(baseline=None)
        def test_body_fails_first():
            assert 1 == 2, "own assertion"

        @pytest.mark.stability(baseline=None)
        def test_body_can_use_fixtures(operator, reference_images, reconstructor):
            assert reference_images.shape == (1, 32, 32)
            assert operator.image_shape == (32, 32)

        # several models in one test: parametrize the argument the marker fetches
        @pytest.mark.parametrize("reconstructor", [lambda y, op: 2 * op.adjoint(y)], ids=["doubled"])
        @pytest.mark.stability(baseline=None, max_artifact=0.015)
        def test_parametrized(reconstructor):
            pass
        """
    )
    result = invstab_project.runpytest("--invstab-report=r.json", "-rxX")
    result.assert_outcomes(xfailed=1, failed=3, passed=1)
    # f = 2 A*: the artifact is 2 ||A*A r|| / ||x||, just under 2 eps, so above 0.015
    doubled = _records(invstab_project)["test_parametrized[doubled]#0"]
    assert 0.015 < doubled["metrics"]["artifact"] <= 0.02 * (1 + 1e-4)
    result.stdout.fnmatch_lines(["*XPASS(strict)*claims instability, but is stable*", "*own assertion*"])
    # the body failed, so its check never ran: no record
    assert not any("test_body_fails_first" in k for k in _records(invstab_project))


def test_missing_reconstructor_fixture_says_what_to_define(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ninvstab_size = 32\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.stability
        def test_default_name():
            pass

        @pytest.mark.detail_recovery(reconstructor="my_unet")
        def test_named():
            pass

        def test_fixture_call(invstab):
            invstab.more_samples()
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    assert ("pytest-invstab stability: needs a reconstructor but there is no fixture 'reconstructor': define a "
            "fixture named 'reconstructor' in conftest.py") in out
    assert "or pass reconstructor=... to @pytest.mark.stability" in out
    assert "no fixture 'my_unet': define a fixture named 'my_unet' in conftest.py" in out
    assert "or pass reconstructor=... to invstab.more_samples()" in out
    assert "Traceback" not in out


def test_fixture_with_missing_dependency_keeps_pytest_message(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ninvstab_size = 32\n")
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def reconstructor(weights_path):
            return None
        """
    )
    pytester.makepyfile("import pytest\n\n@pytest.mark.stability\ndef test_x():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    assert "fixture 'weights_path' not found" in result.stdout.str()


def test_invalid_input_from_a_check_is_one_message(invstab_project: pytest.Pytester):
    invstab_project.makeconftest(
        invstab_project.path.joinpath("conftest.py").read_text()
        + "\n\n@pytest.fixture\ndef wrong_images():\n    return torch.ones(2, 16, 16)\n"
    )
    invstab_project.makepyfile(
        """
        import pytest

        @pytest.mark.stability(images="wrong_images", baseline=None)
        def test_x():
            pass
        """
    )
    result = invstab_project.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "pytest-invstab stability: images must have shape [B, 32, 32]" in out
    assert "Traceback" not in out


# -- the invstab fixture ---------------------------------------------------------------------------
def test_invstab_fixture_returns_results_and_records_them(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(
        test_fx="""
        def test_compare_two(invstab, planted):
            stable = invstab.worst_case(baseline=None)
            unstable = invstab.worst_case(reconstructor=planted, baseline=None, fail=False)
            assert stable.passed and not unstable.passed
            assert unstable.metrics["artifact"] > 10 * stable.metrics["artifact"]

        def test_fails_by_default(invstab, planted):
            invstab.worst_case(reconstructor=planted, baseline=None)
            raise AssertionError("not reached")

        def test_bad_argument(invstab):
            invstab.worst_case(epsilon=0.1)
        """
    )
    result = invstab_project.runpytest("--invstab-report=r.json")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert "not reached" not in out
    assert "invstab.worst_case(): unknown argument 'epsilon'; allowed: eps, max_artifact" in out
    recs = _records(invstab_project)
    assert recs["test_compare_two#0"]["passed"] and not recs["test_compare_two#1"]["passed"]
    assert not recs["test_fails_by_default#0"]["passed"]
    # both checks of one test got their own folder (index 1 saved, index 0 passed)
    assert recs["test_compare_two#1"]["artifacts"] and not recs["test_compare_two#0"]["artifacts"]


# -- artifacts and folders -------------------------------------------------------------------------
def test_unsafe_test_ids_get_safe_distinct_folders(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(
        test_ids="""
        import pytest

        @pytest.mark.parametrize("case", ["a/b", "a_b", "x::y [z]", "ümlaut*?<>|"])
        @pytest.mark.stability(reconstructor="planted", baseline=None)
        def test_id(case):
            pass
        """
    )
    result = invstab_project.runpytest("--invstab-report=r.json")
    result.assert_outcomes(failed=4)
    results = invstab_project.path / ".invstab"
    folders = sorted(p for p in results.iterdir())
    assert len(folders) == 4  # "a/b" and "a_b" slug alike but do not collide
    for folder in folders:
        assert folder.parent == results and folder.is_dir()
        assert all(c.isalnum() or c in "._-" for c in folder.name), folder.name
        assert (folder / "result.json").is_file()
    recs = _report(invstab_project)["checks"]
    assert {Path(r["artifacts"]["result"]).parent for r in recs} == set(folders)


def test_save_modes_and_stale_folders(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(
        test_save=STABLE_AND_UNSTABLE
    )
    results = invstab_project.path / ".invstab"
    invstab_project.runpytest("--invstab-save=all").assert_outcomes(passed=1, failed=1)
    assert len(list(results.iterdir())) == 2
    stable_folder = next(p for p in results.iterdir() if "test_stable" in p.name)
    # with save=failed, the passing check's folder from the earlier run is stale: removed
    invstab_project.runpytest().assert_outcomes(passed=1, failed=1)
    assert not stable_folder.exists() and len(list(results.iterdir())) == 1
    other = invstab_project.path / "elsewhere"
    invstab_project.runpytest("--invstab-save=none", f"--invstab-results={other}").assert_outcomes(passed=1, failed=1)
    assert not other.exists()


def test_unwritable_results_folder_is_reported_and_records_kept(invstab_project: pytest.Pytester):
    blocker = invstab_project.path / "blocker"
    blocker.write_text("a file where the results folder should go")
    invstab_project.makepyfile(
        """
        import pytest

        @pytest.mark.stability(reconstructor="planted", baseline=None)
        def test_unstable():
            pass
        """
    )
    result = invstab_project.runpytest(f"--invstab-results={blocker / 'sub'}", "--invstab-report=r.json")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "--invstab-results" in out and "warning:" in out
    assert "artifacts not saved" in out
    (rec,) = _report(invstab_project)["checks"]
    assert rec["verdict"] == "failed" and rec["artifact_error"]


# -- junit and html --------------------------------------------------------------------------------
def test_junit_properties_are_opt_in(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(
        """
        import pytest

        @pytest.mark.stability(reconstructor="planted", baseline=None)
        def test_unstable():
            pass
        """
    )
    invstab_project.runpytest("--junitxml=plain.xml")
    assert "invstab." not in (invstab_project.path / "plain.xml").read_text()
    invstab_project.runpytest("--junitxml=props.xml", "--invstab-junit-properties")
    import xml.etree.ElementTree as ET

    props = {p.get("name"): p.get("value")
             for p in ET.parse(invstab_project.path / "props.xml").iter("property")}
    assert props["invstab.worst_case.verdict"] == "failed"
    assert float(props["invstab.worst_case.artifact"]) > 0.1
    assert float(props["invstab.worst_case.max_artifact"]) == pytest.approx(0.1)
    assert Path(props["invstab.worst_case.artifacts"]).is_dir()


def test_pytest_html_gets_the_panel(invstab_project: pytest.Pytester):
    pytest.importorskip("pytest_html")
    invstab_project.makepyfile(
        """
        import pytest

        @pytest.mark.stability(reconstructor="planted", baseline=None)
        def test_unstable():
            pass
        """
    )
    invstab_project.runpytest("--html=page.html", "--self-contained-html")
    page = (invstab_project.path / "page.html").read_text()
    assert "worst_case panel" in page and "data:image/png;base64" in page
