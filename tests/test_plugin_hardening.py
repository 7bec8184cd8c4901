"""The pytest layer after issue 11: the mask seed apart from the attack seed, user errors with
one message and no plugin frames, compare-fail specs checked at configure time (pytester)."""

from __future__ import annotations

import pytest

MASK_PROBE = """
import hashlib

def test_mask(fourier_operator, multicoil_operator, invstab_settings):
    h = hashlib.sha256(fourier_operator.mask.cpu().numpy().tobytes()).hexdigest()[:16]
    print(f"MASK={h} SEED={invstab_settings.seed} MASKSEED={invstab_settings.mask_seed}")
"""


def _line(result, prefix: str) -> str:
    return next(line[line.index(prefix):] for line in result.outlines if prefix in line)


def test_attack_seed_leaves_the_sampling_mask_alone(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ninvstab_size = 32\n")
    pytester.makepyfile(test_mask=MASK_PROBE)
    masks = {}
    for args in (["--invstab-seed=1"], ["--invstab-seed=2"], ["--invstab-seed=2", "-o", "invstab_mask_seed=5"]):
        result = pytester.runpytest("-s", *args)
        result.assert_outcomes(passed=1)
        masks[tuple(args)] = _line(result, "MASK=").split()[0]
    assert masks[("--invstab-seed=1",)] == masks[("--invstab-seed=2",)]  # same operator for a new attack seed
    assert masks[("--invstab-seed=2", "-o", "invstab_mask_seed=5")] != masks[("--invstab-seed=2",)]


def test_misspelled_compare_fail_metric_is_a_usage_error_listing_the_metrics(invstab_project: pytest.Pytester):
    invstab_project.makepyfile("def test_x():\n    pass\n")
    result = invstab_project.runpytest("--invstab-compare-fail=artifcat:10%")  # no --invstab-compare needed
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pytest-invstab: --invstab-compare-fail: unknown metric 'artifcat'*"
                                 "artifact, amplification*recovery_<detail>, psnr@<rate>*"])
    ok = invstab_project.runpytest("--invstab-compare-fail=artifact:10%,psnr@0.33:0.5,recovery_star:5%")
    assert ok.ret == pytest.ExitCode.OK


BROKEN_MODEL = """
import pytest
import torch


class Broken(torch.nn.Module):
    def forward(self, y, op):
        z = op.adjoint(y)
        raise RuntimeError("the user's model broke here")


@pytest.fixture
def broken():
    return Broken()
"""

NON_SQUARE = BROKEN_MODEL + """

@pytest.fixture
def operator():
    from pytest_invstab import MatrixOperator
    return MatrixOperator(torch.eye(32), (4, 8))
"""


def test_a_model_that_raises_shows_its_own_frame_not_the_plugins(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ninvstab_size = 16\ninvstab_budget = quick\n")
    pytester.makeconftest(BROKEN_MODEL)
    pytester.makepyfile(
        "import pytest\n\n"
        "@pytest.mark.stability(reconstructor='broken', baseline=None)\n"
        "def test_broken():\n    pass\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "RuntimeError: the user's model broke here" in out
    assert 'raise RuntimeError("the user\'s model broke here")' in out  # the user's line is shown
    # no source line of the plugin (checks, attacks, runner): before, ~100 lines of it came first
    assert "pytest_invstab" not in out.split("= FAILURES =")[1].split("short test summary")[0], out


def test_non_square_operator_with_default_images_is_one_failure_message(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ninvstab_size = 16\ninvstab_budget = quick\n")
    pytester.makeconftest(NON_SQUARE)
    pytester.makepyfile(
        "import pytest\n\n"
        "@pytest.mark.stability(reconstructor='broken', baseline=None)\n"
        "def test_wide():\n    pass\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # not a usage error of the whole run
    assert "need a square 2-D operator, got image_shape (4, 8); override the reference_images fixture" in out
    assert "UsageError" not in out and "pytest_invstab" not in out and "def shepp_logan" not in out, out


XFAIL_PROJECT = """
import pytest
import torch
from pytest_invstab import CheckFailed

unstable = pytest.mark.xfail(strict=True, raises=CheckFailed, reason="planted instability")


@unstable
@pytest.mark.stability(reconstructor="planted", baseline=None)
def test_known_unstable():
    pass


@pytest.fixture
def nan_model():
    return lambda y, op: op.adjoint(y) * float("nan")


@pytest.fixture
def crashing():
    def f(y, op):
        raise RuntimeError("crash")
    return f


@unstable
@pytest.mark.stability(reconstructor="nan_model", baseline=None)
def test_bad_output_is_no_xfail():
    pass


@unstable
@pytest.mark.stability(reconstructor="crashing", baseline=None)
def test_crash_is_no_xfail():
    pass
"""


def test_xfail_raises_check_failed_catches_only_a_failed_verdict(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(XFAIL_PROJECT)
    result = invstab_project.runpytest("-rxf")
    result.assert_outcomes(xfailed=1, failed=2)
    result.stdout.fnmatch_lines(["*XFAIL*test_known_unstable*", "*FAILED*test_bad_output_is_no_xfail*",
                                 "*FAILED*test_crash_is_no_xfail*"])
    assert "the reconstructor returned NaN or Inf values" in result.stdout.str()
