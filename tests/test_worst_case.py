"""The worst_case check: stable methods pass, a planted instability fails and is shown, inputs are checked."""

from __future__ import annotations

import functools

import re

import numpy as np
import pytest
import torch

from pytest_invstab.checks.worst_case import worst_case
from pytest_invstab.errors import InvalidInputError, ReconstructorError
from pytest_invstab.images import shepp_logan
from pytest_invstab.operators.fourier import FourierOperator
from pytest_invstab.report.layouts import panel_rows
from pytest_invstab.result import CheckResult
from pytest_invstab.tensors import batch_norm

# The toy reconstructors of this module (zero-filling, blurs, planted failures) are meant to be no better
# than the direct reconstruction, so the sanity gate (tested in tests/test_sanity.py) is off here.
worst_case = functools.partial(worst_case, sanity=False)

N = 32


def _blob(cy: float, cx: float, sigma: float) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(N, dtype=torch.float32), torch.arange(N, dtype=torch.float32), indexing="ij")
    return torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))


class Planted(torch.nn.Module):
    """f(y) = A* y + alpha tanh(k Re<u, y - y0>) s: stable except along one smooth direction u.

    At ``y0 = A x0`` a perturbation along ``A* u`` of relative size eps moves ``Re<u, y - y0>`` by
    ``eps ||x||`` (``A A* = I``), and with ``k eps ||x|| >> 1`` the blob ``s`` appears at full
    strength ``alpha``: artifact ``alpha ||s|| / ||x||`` (0.5 here) from a 1 % perturbation.
    """

    def __init__(self, op, x0: torch.Tensor, artifact: float = 0.5, k: float = 100.0):
        super().__init__()
        self.register_buffer("y0", op(x0))
        u = op(_blob(12, 12, 4.0)[None].expand(x0.shape[0], N, N).contiguous())
        self.register_buffer("u", u / u.abs().square().sum(1, keepdim=True).sqrt())
        self.register_buffer("s", _blob(8, 23, 2.0))
        self.k = k
        alpha = artifact * float(x0[0].norm()) / float(self.s.norm())
        self.alpha = torch.nn.Parameter(torch.tensor(alpha))  # a parameter whose state must survive the check
        self.bn = torch.nn.BatchNorm1d(1)  # modules whose mode must survive the check
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, y, op):
        t = (self.u.conj() * (y - self.y0)).real.sum(1)
        bump = self.alpha * torch.tanh(self.k * t)
        return op.adjoint(y) + bump[:, None, None] * self.s


def back_projection(y, op):
    return op.adjoint(y)


@pytest.fixture(scope="module")
def op():
    # row lines: the PSNR margins below were measured on them (columns give a 1 dB lower clean PSNR)
    return FourierOperator(size=N, rate=0.33, seed=0, orientation="rows")


@pytest.fixture(scope="module")
def x():
    g = torch.Generator().manual_seed(1)
    return torch.stack([shepp_logan(N), 0.1 + 0.5 * _blob(16, 16, 8) + 0.05 * torch.rand(N, N, generator=g)])


def _state(net):
    return [m.training for m in net.modules()], [p.requires_grad for p in net.parameters()]


# -- stable methods pass ----------------------------------------------------------------------------
def test_back_projection_passes_with_its_exact_worst_artifact(op, x):
    """A*A is an orthogonal projection: the worst artifact at eps is eps ||A*A|| = eps, exactly."""
    res = worst_case(back_projection, op, x, eps=0.01, max_artifact=0.02, baseline=None)
    assert isinstance(res, CheckResult) and res.passed and res.check == "worst_case"
    assert 0.99 * 0.01 <= res.metrics["artifact"] <= 0.01 * (1 + 1e-4)
    assert res.metrics["amplification"] == pytest.approx(res.metrics["artifact"] / res.metrics["eps"])
    assert res.metrics["eps"] == pytest.approx(0.01, rel=1e-4)
    # the worst case beats a Gaussian perturbation (which keeps ~sqrt(rate) of its norm)
    assert res.metrics["worse_than_random"] == pytest.approx(1 / op.rate**0.5, rel=0.15)
    assert res.message == "artifact 0.010 <= max_artifact 0.020 at ||r||/||x|| = 0.010"
    assert res.key_metric == "artifact" and res.better["artifact"] == "lower"
    assert res.thresholds == {"max_artifact": 0.02}
    assert len(res.per_image) == 2 and {"artifact", "eps", "psnr_perturbed"} <= set(res.per_image[0])
    assert set(res.timings) >= {"attack_s", "baseline_s", "total_s"}


@pytest.mark.parametrize("method, iters", [("tv", None), ("l1-wavelet", 100)])
def test_cs_baseline_as_reconstructor_passes(method, iters, op, x):
    """The CS baselines are stable: at eps = 0.01 they pass the default max_artifact = 0.1
    (10-fold amplification). Measured worst artifacts on this Shepp-Logan at 32x32: TV (400
    iterations) 0.02-0.03, l1-wavelet 0.04 (100 iterations) and 0.07-0.08 (400), against 0.50 for
    the planted instability below."""
    from pytest_invstab.baselines import CSBaseline

    cs = CSBaseline(method=method, iters=iters)
    res = worst_case(cs, op, x[:1], eps=0.01, baseline=None, steps=6, restarts=1)
    assert res.passed, res.message
    assert res.metrics["artifact"] < 0.1
    assert res.metrics["artifact"] >= 0.01  # the search does find something, at least the data change


# -- a planted instability fails and is shown --------------------------------------------------------
def test_planted_instability_fails_and_the_panel_shows_the_blob(op, x):
    net = Planted(op, x)
    res = worst_case(net, op, x, eps=0.01, max_artifact=0.1, baseline=back_projection, gaussian_draws=10)
    assert not res.passed
    assert res.metrics["artifact"] == pytest.approx(0.5, rel=0.05)  # the blob at full strength
    assert res.metrics["amplification"] > 40
    assert res.metrics["worse_than_random"] > 2
    assert res.metrics["baseline_artifact"] <= 0.01 * (1 + 1e-4)  # the same r does nothing to A*
    assert res.metrics["ball_fraction"] == 1.0 and res.metrics["ball_ci_low"] > 0.69
    # the blob appears with either sign (tanh is odd: a tie that float rounding breaks), which
    # costs 1.6 dB of PSNR with one sign and 3.9 dB with the other on this image
    assert res.metrics["psnr_perturbed"] < res.metrics["psnr_clean"] - 1.2
    assert re.fullmatch(
        r"artifact 0\.5\d > max_artifact 0\.10 at \|\|r\|\|/\|\|x\|\| = 0\.010; baseline back_projection 0\.0(098|099|10); amplification 5\d\.\dx",
        res.message,
    ), res.message
    titles = [[t for t, _ in row] for row in panel_rows(res)]
    assert titles[0][:2] == ["x", "x + r"] and titles[0][2].startswith("r (×")
    assert titles[1] == ["f(Ax)", "f(A(x + r))", "|f(A(x + r)) − f(Ax)|"]
    assert titles[2][0] == "baseline(Ax)"
    for row in panel_rows(res):
        for _, img in row:
            assert img.dim() == 2 and img.dtype == torch.float32 and not img.is_complex() and img.device.type == "cpu"
    diff = panel_rows(res)[1][2][1]
    peak = np.unravel_index(int(diff.argmax()), diff.shape)
    assert net.s[peak] > 0.5  # the difference peaks on the planted blob
    base_diff = panel_rows(res)[2][2][1]
    assert float(base_diff.max()) < 0.2 * float(diff.max())
    # the scaled perturbation really is r times the stated factor
    factor = float(titles[0][2].split("×")[1].rstrip(")"))
    i = res.settings["worst_image"]
    assert torch.allclose(panel_rows(res)[0][2][1], factor * res.arrays["r"][i], atol=1e-6)


def test_attack_baseline_finds_the_baselines_own_worst_case(op, x):
    """With attack_baseline the baseline (here A*, worst artifact exactly eps) is attacked too."""
    res = worst_case(Planted(op, x), op, x, eps=0.01, baseline=back_projection, attack_baseline=True,
                     steps=40, restarts=1)
    assert 0.95 * 0.01 <= res.metrics["baseline_worst_artifact"] <= 0.01 * (1 + 1e-4)
    assert res.baseline["worst_artifact"] == res.metrics["baseline_worst_artifact"]
    assert res.metrics["baseline_artifact"] <= res.metrics["baseline_worst_artifact"] * (1 + 1e-4)


def test_planted_instability_in_the_measurement_domain(op, x):
    net = Planted(op, x)
    res = worst_case(net, op, x, eps=0.01, domain="measurements", baseline=None, steps=10, restarts=1)
    assert not res.passed
    assert "||e||/||y|| = 0.010" in res.message
    assert res.arrays["e"].is_complex() and res.arrays["e"].shape == (2, *op.measurement_shape)
    assert panel_rows(res)[0][1][0] == "x + A*e"


def test_paper_method_shows_three_growing_checkpoints(op, x):
    net = Planted(op, x)
    res = worst_case(net, op, x, eps=0.01, method="paper", baseline=back_projection, steps=40, restarts=1)
    assert not res.passed
    assert len(panel_rows(res)) == 5
    assert [t for t, _ in panel_rows(res)[3]] == ["x + r1", "x + r2", "x + r3"]
    assert [t for t, _ in panel_rows(res)[4]] == ["f(A(x + r1))", "f(A(x + r2))", "f(A(x + r3))"]
    sizes = [float(batch_norm(res.arrays[f"r{j}"]).max()) for j in (1, 2, 3)]
    assert sizes[0] < sizes[1] < sizes[2] <= 0.01 * float(x.norm(dim=(1, 2)).max()) * (1 + 1e-5)
    assert res.settings["paper"]["momentum"] == 0.9


def test_gradient_free_method_accepts_numpy_inside(op, x):
    def numpy_recon(y, op_):
        return torch.as_tensor(op_.adjoint(y).numpy())

    res = worst_case(numpy_recon, op, x, eps=0.01, method="random", baseline=None, steps=4, restarts=2)
    assert res.passed and res.settings["evaluations"] == 8
    assert res.metrics["artifact"] < 0.01  # random directions find less than the worst case


# -- the model is left as it was found ---------------------------------------------------------------
@pytest.mark.parametrize("outcome", ["pass", "fail", "error"])
def test_model_state_is_restored(outcome, op, x):
    net = Planted(op, x).train()
    net.bn.weight.requires_grad_(False)
    before = _state(net)
    if outcome == "error":
        calls = []
        orig = net.forward

        def sometimes_nan(y, op_):
            calls.append(1)
            out = orig(y, op_)
            return out * float("nan") if len(calls) > 3 else out

        net.forward = sometimes_nan
        with pytest.raises(ReconstructorError, match="NaN or Inf"):
            worst_case(net, op, x, baseline=None, steps=4, restarts=1)
    else:
        res = worst_case(net, op, x, eps=0.01, max_artifact=1.0 if outcome == "pass" else 0.1,
                         baseline=None, steps=6, restarts=1)
        assert res.passed == (outcome == "pass")
    assert _state(net) == before
    assert all(p.grad is None for p in net.parameters())


# -- bad input: one clear message each ---------------------------------------------------------------
def test_nan_and_inf_outputs(op, x):
    with pytest.raises(ReconstructorError, match="NaN or Inf"):
        worst_case(lambda y, o: o.adjoint(y) * float("nan"), op, x, baseline=None)
    with pytest.raises(ReconstructorError, match="NaN or Inf"):
        worst_case(lambda y, o: o.adjoint(y) / 0.0, op, x, baseline=None)


def test_wrong_output_shape(op, x):
    with pytest.raises(ReconstructorError, match=r"expected \[2, 32, 32\].*out\[:, 0\]"):
        worst_case(lambda y, o: o.adjoint(y)[:, None], op, x, baseline=None)


def test_numpy_inside_needs_the_random_method(op, x):
    def numpy_recon(y, op_):
        return torch.as_tensor(op_.adjoint(y).numpy())

    with pytest.raises(ReconstructorError, match="method='random'"):
        worst_case(numpy_recon, op, x, baseline=None)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eps": 0}, "eps must be a finite number > 0"),
        ({"eps": -0.01}, "eps must be a finite number > 0"),
        ({"eps": "small"}, "eps must be a finite number > 0"),
        ({"max_artifact": -1}, "max_artifact must be a finite number >= 0"),
        ({"domain": "kspace"}, "domain must be one of 'image', 'measurements'"),
        ({"method": "fgsm"}, "method must be one of 'budgeted', 'paper', 'random'"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"budget": "huge"}, "unknown budget 'huge'"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"gaussian_draws": 0}, "gaussian_draws must be an integer >= 1"),
        ({"baseline": "fista"}, "baseline must be 'default', None or a callable"),
    ],
)
def test_bad_arguments(kwargs, match, op, x):
    kwargs.setdefault("baseline", None)
    with pytest.raises(InvalidInputError, match=match):
        worst_case(back_projection, op, x, **kwargs)


def test_bad_images(op, x):
    with pytest.raises(InvalidInputError, match=r"shape \[B, 32, 32\]"):
        worst_case(back_projection, op, torch.rand(2, 16, 16), baseline=None)
    with pytest.raises(InvalidInputError, match="all zero"):
        worst_case(back_projection, op, torch.zeros(1, N, N), baseline=None)


# -- conveniences and reproducibility -----------------------------------------------------------------
def test_single_image_gets_a_batch_dimension_and_seed_reproduces(op, x):
    a = worst_case(back_projection, op, x[1], baseline=None, steps=5, restarts=2, seed=3)
    b = worst_case(back_projection, op, x[1], baseline=None, steps=5, restarts=2, seed=3)
    assert a.settings["images"] == 1 and a.arrays["x"].shape == (1, N, N)
    assert torch.equal(a.arrays["r"], b.arrays["r"])
    assert a.metrics == b.metrics and a.seed == 3
    assert int(a.arrays["seed"][0]) == 3
    d = a.to_dict()
    assert d["verdict"] == "passed" and d["metrics"]["artifact"] == a.metrics["artifact"]
