"""Markers, options and fixtures as pytest shows them, and usage errors (pytester, no check runs)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")


def test_markers_are_registered_with_arguments_and_units(pytester: pytest.Pytester):
    result = pytester.runpytest("--markers")
    out = result.stdout.str()
    assert result.ret == 0
    for marker in ("stability", "detail_recovery", "more_samples"):
        assert f"@pytest.mark.{marker}(" in out
    assert "eps=0.01" in out and "max_artifact=0.1" in out and "relative" in out
    assert "tolerance_db=1.0" in out and "(dB)" in out
    assert "min_recovery=" in out and "1 = perfect" in out


def test_markers_pass_strict_markers(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(
        """
        import pytest

        @pytest.mark.stability
        @pytest.mark.detail_recovery
        @pytest.mark.more_samples
        def test_x():
            pass
        """
    )
    result = invstab_project.runpytest("--strict-markers", "--collect-only", "-q")
    assert result.ret == 0, result.stdout.str()


def test_options_and_ini_are_documented(pytester: pytest.Pytester):
    out = pytester.runpytest("--help").stdout.str()
    for flag in ("--invstab-results", "--invstab-save", "--invstab-report", "--invstab-html", "--invstab-compare",
                 "--invstab-compare-fail", "--invstab-device", "--invstab-seed", "--invstab-budget",
                 "--invstab-junit-properties"):
        assert flag in out, flag
    for ini in ("invstab_size", "invstab_rate", "invstab_pattern", "invstab_angles", "invstab_coils",
                "invstab_operator", "invstab_results"):
        assert ini in out, ini


def test_fixtures_are_listed_with_docstrings(pytester: pytest.Pytester):
    pytester.makepyfile("def test_x(): pass")
    out = pytester.runpytest("--fixtures", "-v").stdout.str()
    for name in ("fourier_operator", "multicoil_operator", "radon_operator", "operator", "shepp_logan",
                 "reference_images", "cs_baseline", "invstab", "invstab_settings"):
        assert f"\n{name} [session scope] --" in out or f"\n{name} --" in out, name
    assert "invstab_size" in out and "--invstab-device" in out  # docstrings say where settings come from


def test_unknown_marker_argument_is_a_usage_error(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(
        test_typo="""
        import pytest

        @pytest.mark.stability(epsilon=0.01)
        def test_network():
            pass
        """
    )
    result = invstab_project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "test_typo.py::test_network" in err
    assert "unknown argument 'epsilon'" in err
    assert "allowed: reconstructor, operator, images, eps, max_artifact" in err


def test_unknown_argument_of_each_marker_and_all_problems_listed(invstab_project: pytest.Pytester):
    invstab_project.makepyfile(
        """
        import pytest

        @pytest.mark.detail_recovery(detail="text")
        def test_a():
            pass

        @pytest.mark.more_samples(rate=(0.1, 0.2))
        def test_b():
            pass

        @pytest.mark.more_samples(rates=(0.5, 0.25))
        def test_c():
            pass

        @pytest.mark.stability(eps=0, domain="kspace")
        def test_d():
            pass
        """
    )
    result = invstab_project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "test_a: @pytest.mark.detail_recovery got unknown argument 'detail'" in err
    assert "test_b: @pytest.mark.more_samples got unknown argument 'rate'" in err
    assert "test_c: @pytest.mark.more_samples: rates=(0.5, 0.25): rates must be strictly increasing" in err
    assert "test_d: @pytest.mark.stability: eps=0: must be a positive number" in err
    assert "domain='kspace': must be one of 'image', 'measurements'" in err


def test_marker_on_class_and_module_merges_closest_wins(invstab_project: pytest.Pytester):
    # the module-level mark has a typo; a closer mark cannot hide it
    invstab_project.makepyfile(
        """
        import pytest
        pytestmark = pytest.mark.stability(max_artifacts=0.2)

        class TestNet:
            @pytest.mark.stability(eps=0.02)
            def test_x(self):
                pass
        """
    )
    result = invstab_project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "TestNet::test_x: @pytest.mark.stability got unknown argument 'max_artifacts'" in result.stderr.str()


def test_bad_command_line_value_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--invstab-save=everything")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "invalid value for --invstab-save: 'everything' is not one of failed, all, none" in result.stderr.str()


def test_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ninvstab_operator = ultrasound\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ini option invstab_operator: 'ultrasound' is not one of fourier, multicoil, radon" in result.stderr.str()


def test_cuda_device_without_cuda_is_a_clear_usage_error(pytester: pytest.Pytester):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here; the error path needs a machine without it")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--invstab-device=cuda")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--invstab-device cuda was asked for but CUDA is not available" in result.stderr.str()


def test_cuda_device_puts_operators_and_images_on_cuda(invstab_project: pytest.Pytester):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    invstab_project.makepyfile(
        """
        import pytest

        def test_devices(operator, radon_operator, reference_images, invstab_settings):
            assert invstab_settings.device == "cuda"
            assert operator.device.type == "cuda" and radon_operator.device.type == "cuda"
            assert reference_images.device.type == "cuda"

        @pytest.mark.stability(baseline=None)
        def test_check_on_cuda():
            pass
        """
    )
    result = invstab_project.runpytest("--invstab-device=cuda", "--invstab-report=r.json")
    result.assert_outcomes(passed=2)
    import json

    (rec,) = json.loads((invstab_project.path / "r.json").read_text())["checks"]
    assert rec["operator"]["device"].startswith("cuda") and rec["metrics"]["artifact"] <= 0.01 * (1 + 1e-4)


def test_plugin_is_inert_without_markers(pytester: pytest.Pytester):
    """A suite that uses no invstab marker sees no summary, no results folder, no report."""
    pytester.makepyfile("def test_x(): assert 1")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "pytest-invstab" not in result.stdout.str()
    assert not (pytester.path / ".invstab").exists()


def test_report_header_shows_resolved_settings(invstab_project: pytest.Pytester):
    invstab_project.makepyfile("def test_x(): pass")
    result = invstab_project.runpytest("--invstab-seed=4")
    result.stdout.fnmatch_lines(["invstab: device=cpu, seed=4, budget=quick, save=failed, results=*"])


def test_marks_of_a_pytest_param_override_the_function_decorator(pytester: pytest.Pytester) -> None:
    """The mark closest to the test case wins: a pytest.param's marks over the decorator's."""
    pytester.makepyfile(
        test_param_marks="""
        import pytest
        from pytest_invstab.plugin import item_markers

        @pytest.mark.stability(eps=0.01, max_artifact=0.1)
        @pytest.mark.parametrize("n", [pytest.param(1, marks=pytest.mark.stability(max_artifact=0.5)), 2])
        def test_a(n, request):
            kwargs = item_markers(request.node)["stability"][1]
            assert kwargs["eps"] == 0.01
            assert kwargs["max_artifact"] == (0.5 if n == 1 else 0.1)
        """
    )
    # Without the plugin's hooks the marked tests only run their bodies, which inspect the merge.
    result = pytester.runpytest("-p", "no:invstab", "-W", "ignore::pytest.PytestUnknownMarkWarning")
    result.assert_outcomes(passed=2)
