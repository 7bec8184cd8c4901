"""The pytest layer: the sanity gate as a failed test (not a verdict), parametrized fixtures, model names."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CONFTEST = '''
import pytest, torch

class Garbage(torch.nn.Module):
    """A network missing its normalisation: outputs in the wrong units."""
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))
    def forward(self, y, op):
        return self.w * op.adjoint(y) * 50 - 10

def zero_filled(y, op):
    return op.adjoint(y)

@pytest.fixture(params=["garbage", "garbage2"])
def reconstructor(request):
    return Garbage()

@pytest.fixture(params=[1, 2])
def my_net(request):
    return zero_filled
'''


def test_gate_fails_the_test_without_a_verdict_and_params_work(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ninvstab_size = 32\ninvstab_budget = quick\n")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.stability(baseline=None)
        def test_gate():
            pass

        @pytest.mark.stability(reconstructor="my_net", baseline=None, sanity=False, steps=2, restarts=1)
        def test_named_param():
            pass
        """
    )
    result = pytester.runpytest("--invstab-report=r.json")
    result.assert_outcomes(failed=2, passed=2)  # each fixture has two params: 4 tests, no "no parameter" error
    out = result.stdout.str()
    assert "no stability verdict: the network looks miswired" in out and "Traceback" not in out
    assert "has no parameter defined" not in out
    import json

    report = json.loads((pytester.path / "r.json").read_text())
    checks = [c for t in report.get("tests", report.get("results", [])) for c in (t.get("checks") or [t])]
    assert all("miswired" not in str(c.get("message", "")) for c in checks)  # gate failures are not recorded
    assert "zero_filled" in str(report)


def test_marker_validation_of_the_new_arguments(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ninvstab_size = 32\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.stability(sanity="off")
        def test_a():
            pass

        @pytest.mark.more_samples(allow_unnested=1)
        def test_b():
            pass
        """
    )
    result = pytester.runpytest()
    out = result.stdout.str() + result.stderr.str()
    assert "sanity='off': must be True or False" in out
    assert "allow_unnested=1: must be True or False" in out


def test_describe_model_names_the_users_class():
    import functools

    import torch

    from pytest_invstab import from_image_network
    from pytest_invstab.reconstructor import describe_model

    class BasicUNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 1, 3)

        def forward(self, x):
            return self.conv(x)

        def recon(self, y, op):
            return y

    net = BasicUNet()
    assert describe_model(from_image_network(net)) == "BasicUNet (10 parameters)"
    assert describe_model(net.recon) == "BasicUNet (10 parameters)"
    assert describe_model(functools.partial(lambda y, op, model: y, model=net)) == "BasicUNet (10 parameters)"
