"""detail_recovery and more_samples markers end to end, the CS-baseline column, skips (pytester).

Known answers used here: with full sampling (rate 1) the orthonormal Fourier operator is
unitary, so the zero-filled reconstruction A*y returns x + d exactly and recovers every
detail (recovery 1); ``planted`` adds a large blob and loses them. ``zero_filled`` improves
with the sampling rate; ``rescaled`` multiplies by (trained_rate / rate)^2, so above its trained
rate its output gets darker and its PSNR falls.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")

EXTRA_CONFTEST = """

from pytest_invstab.operators.base import MatrixOperator
from pytest_invstab.operators.fourier import FourierOperator


@pytest.fixture(scope="session")
def full_operator():
    return FourierOperator(size=32, rate=1.0)


@pytest.fixture(scope="session")
def matrix_operator():
    gen = torch.Generator().manual_seed(0)
    return MatrixOperator(torch.randn(300, 32 * 32, generator=gen) / 32, (32, 32))


@pytest.fixture(scope="session")
def rescaled():
    return lambda y, op: op.adjoint(y) * (0.33 / op.rate) ** 2
"""


@pytest.fixture
def project(invstab_project: pytest.Pytester) -> pytest.Pytester:
    conftest = invstab_project.path / "conftest.py"
    conftest.write_text(conftest.read_text() + EXTRA_CONFTEST)
    return invstab_project


def _records(pytester: pytest.Pytester) -> dict[str, dict]:
    data = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    return {r["nodeid"].split("::", 1)[1]: r for r in data["checks"]}


def test_detail_recovery_pass_and_fail_with_artifacts(project: pytest.Pytester):
    project.makepyfile(
        test_marked_details="""
        import pytest

        @pytest.mark.detail_recovery(operator="full_operator", baseline=None)
        def test_full_sampling_recovers():
            pass

        @pytest.mark.detail_recovery(operator="full_operator", reconstructor="planted", baseline=None)
        def test_planted_loses_details():
            pass
        """
    )
    result = project.runpytest("--invstab-report=r.json")
    result.assert_outcomes(passed=1, failed=1)
    recs = _records(project)
    good, bad = recs["test_full_sampling_recovers"], recs["test_planted_loses_details"]
    assert good["metrics"]["recovery"] == pytest.approx(1.0, abs=1e-4)
    assert bad["metrics"]["recovery"] < 0.3 and not bad["passed"]  # the blob swamps every detail
    folder = Path(bad["artifacts"]["panel"]).parent
    assert {"panel.png", "result.json", "arrays.npz"} <= {p.name for p in folder.iterdir()}
    result.stdout.fnmatch_lines(["*recovery*< min_recovery*", f"artifacts: {folder}"])


def test_more_samples_pass_fail_and_curves(project: pytest.Pytester):
    project.makepyfile(
        test_rates="""
        import pytest

        @pytest.mark.more_samples(rates=(0.2, 0.33, 0.5), baseline=None)
        def test_zero_filled_improves():
            pass

        @pytest.mark.more_samples(rates=(0.2, 0.33, 0.5), trained_rate=0.33, reconstructor="rescaled",
                                  baseline=None)
        def test_rescaled_gets_worse():
            pass
        """
    )
    result = project.runpytest("--invstab-report=r.json")
    result.assert_outcomes(passed=1, failed=1)
    recs = _records(project)
    good, bad = recs["test_zero_filled_improves"], recs["test_rescaled_gets_worse"]
    assert good["passed"] and good["metrics"]["max_drop_db"] <= 0.0
    # keys carry the operators' actual rates (32 columns: 6, 11 and 16 of them)
    assert good["settings"]["actual_rates"] == pytest.approx([6 / 32, 11 / 32, 16 / 32])
    psnr = [good["metrics"][f"psnr@{r:.4g}"] for r in good["settings"]["actual_rates"]]
    assert psnr[0] < psnr[1] < psnr[2]  # nested masks: more samples, better zero-filled image
    assert not bad["passed"] and bad["metrics"]["max_drop_db"] > 1.0
    folder = Path(bad["artifacts"]["result"]).parent
    # the PSNR curve is drawn inside the panel (one figure), not as a separate curves.png
    assert {"panel.png", "result.json"} <= {p.name for p in folder.iterdir()}
    assert "curves.png" not in {p.name for p in folder.iterdir()} and bad["curves"]["series"]["network"]


def test_operator_without_rates_skips_more_samples(project: pytest.Pytester):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.more_samples(operator="matrix_operator", rates=(0.2, 0.4), baseline=None)
        def test_matrix():
            pass
        """
    )
    result = project.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] test_operator_without_rates_skips_more_samples.py:*: pytest-invstab more_samples: *"
                                 "MatrixOperator cannot change its sampling rate*"])


def test_summary_shows_the_cs_baseline_column(project: pytest.Pytester):
    # a short CS baseline keeps the run fast (marker values reach the check as they are)
    project.makepyfile(
        """
        import pytest
        from pytest_invstab.baselines import CSBaseline

        @pytest.mark.stability(reconstructor="planted", baseline=CSBaseline(iters=10))
        def test_with_baseline():
            pass
        """
    )
    result = project.runpytest("--invstab-report=r.json")
    result.assert_outcomes(failed=1)
    (rec,) = _records(project).values()
    baseline_artifact = rec["baseline"]["artifact"]
    # the baseline is a fixed linear-ish solver: its artifact stays near eps, far below the network's
    assert 0 < baseline_artifact < 0.05 < rec["metrics"]["artifact"]
    result.stdout.fnmatch_lines(["*test_with_baseline*worst_case*artifact = *max_artifact <= 0.1*FAILED*"])
