"""The ADMM start of TV on single-coil Fourier data: its own solution, and that it changes only the cost."""

from __future__ import annotations

import pytest
import torch

from pytest_invstab.baselines import tv as tv_module
from pytest_invstab.baselines import tv_chambolle_pock
from pytest_invstab.baselines.tv_start import periodic_tv_start
from pytest_invstab.errors import InvalidInputError
from pytest_invstab.images import shepp_logan
from pytest_invstab.operators import FourierOperator, RadonOperator


@pytest.mark.parametrize("unit", [1.0, (1 + 1j) / 2**0.5])
def test_the_start_converges_to_periodic_tv_denoising_of_a_step(unit):
    # Fully sampled: A is unitary, so the problem is TV denoising of A*y. With wrap-around
    # differences every row of a two-level step has two jumps (at j0 and back at the edge), so
    # each plateau moves by 2λ / its length (twice the zero-boundary shift): a closed form that
    # a wrong Fourier symbol, shrink or dual update misses.
    n, j0, lam, a, b = 16, 5, 0.4, 1.0, 3.0
    op = FourierOperator(n, 1.0, pattern="cartesian", seed=0, dtype=torch.float64)
    s = torch.full((1, n, n), a, dtype=torch.float64)
    s[:, :, j0:] = b
    expected = s.clone()
    expected[:, :, :j0] += 2 * lam / j0
    expected[:, :, j0:] -= 2 * lam / (n - j0)
    f = (s * unit).to(op.image_dtype)
    x, p = periodic_tv_start(op, op.forward(f), torch.tensor([lam], dtype=torch.float64), torch.zeros_like(f), 600)
    torch.testing.assert_close(x, (expected * unit).to(x.dtype), rtol=0, atol=1e-8)
    # the multiplier is the TV dual variable: inside the λ-ball, on it across the jump
    mag = (p.abs() ** 2).sum(1).sqrt()
    assert float(mag.max()) <= lam * (1 + 1e-6)
    assert float(mag[0, :, j0 - 1].min()) == pytest.approx(lam, rel=1e-6)


def _problem(n=64, rate=0.3, seed=0):
    op = FourierOperator(n, rate, pattern="cartesian", seed=seed)
    x = torch.stack([shepp_logan(n), 0.7 * shepp_logan(n).flip(-2)]).to(op.image_dtype)
    return op, op.forward(x)


def test_the_start_does_not_change_the_solution_only_the_iterations(monkeypatch):
    op, y = _problem()
    long = tv_chambolle_pock(op, y, iters=3000, start_iters=0)
    with_start = tv_chambolle_pock(op, y, iters=3000)
    rel = (with_start - long).reshape(2, -1).norm(dim=1) / long.reshape(2, -1).norm(dim=1)
    assert bool((rel < 1e-3).all()), rel
    # the default stop, with and without the start: both within the documented accuracy (about
    # 1e-2 of the solution; measured 1.1e-2 either way here), the start in fewer iterations (its own
    # ADMM iterations, which cost about as much, counted)
    ran = []
    original = tv_module.Stopper.assemble

    def spy(self, x, k):
        ran.append(int(self.iterations.max()))
        return original(self, x, k)

    monkeypatch.setattr(tv_module.Stopper, "assemble", spy)
    for start, bound in ((0, 1.5e-2), (None, 1.5e-2)):
        x = tv_chambolle_pock(op, y, tol=tv_module.DEFAULT_TOL, start_iters=start)
        rel = (x - long).reshape(2, -1).norm(dim=1) / long.reshape(2, -1).norm(dim=1)
        assert bool((rel < bound).all()), (start, rel)
    plain, started = ran
    assert started + tv_module.START_ITERS <= 0.7 * plain, ran  # measured 100 against 170


def test_an_unsampled_dc_a_zero_lambda_and_zero_data_stay_finite():
    mask = torch.zeros(32, 32, dtype=torch.bool)
    mask[:, ::3] = True
    mask[:, 14:19] = True
    mask[16, 16] = False  # DC (the centre) is not sampled: the image's mean is free, TV keeps it 0
    op = FourierOperator(mask=mask)
    y = op.forward(shepp_logan(32)[None].to(op.image_dtype))
    for lam, data in ((None, y), (0.0, y), (None, torch.zeros_like(y))):
        x = tv_chambolle_pock(op, data, lam=lam, iters=50)
        assert bool(torch.isfinite(torch.view_as_real(x)).all())
    # λ = 0 is least squares: nothing may appear on unsampled frequencies (A*y's rounding noise
    # there, divided by a tiny ρ|d̂|², once did: 8 times the image's norm)
    x = tv_chambolle_pock(op, y, lam=0.0, iters=50)
    assert float((x - op.adjoint(op.forward(x))).norm()) < 1e-3 * float(x.norm())
    # an all-zero image next to a real one, with a large λ: zero, not NaN (ρ is per image)
    x = tv_chambolle_pock(op, torch.cat([y, torch.zeros_like(y)]), lam=10.0, iters=50)
    assert bool(torch.isfinite(torch.view_as_real(x)).all()) and float(x[1].abs().max()) == 0.0
    long = tv_chambolle_pock(op, y, iters=2000, start_iters=0)
    x = tv_chambolle_pock(op, y, iters=2000)
    assert float((x - long).norm() / long.norm()) < 1e-3


def test_gradients_flow_through_the_start():
    op, y = _problem(32)
    y = y.clone().requires_grad_(True)
    tv_chambolle_pock(op, y, iters=10).abs().sum().backward()
    assert bool(torch.isfinite(torch.view_as_real(y.grad)).all()) and float(y.grad.abs().sum()) > 0


def test_start_iters_is_checked_and_ignored_where_it_does_not_apply():
    op, y = _problem(32)
    with pytest.raises(InvalidInputError, match="start_iters must be an integer >= 0"):
        tv_chambolle_pock(op, y, start_iters=-1)
    with pytest.raises(InvalidInputError, match="start_iters"):
        tv_chambolle_pock(op, y, start_iters=2.5)
    radon = RadonOperator(32, 10)
    yr = radon.forward(shepp_logan(32)[None])
    torch.testing.assert_close(tv_chambolle_pock(radon, yr, iters=20, start_iters=7),
                               tv_chambolle_pock(radon, yr, iters=20), rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["fourier", "radon"])
def test_the_dual_variable_comes_back_in_lambda_units_and_restarts_a_solved_problem(kind):
    # return_dual gives the multiplier of λ TV (pointwise |p| <= λ, on the ball where the image
    # has an edge); starting from the solution and that dual, the default stop ends at its first
    # check (10 iterations). A dual in the wrong units (the general split scales it) would not.
    if kind == "fourier":
        op, y = _problem(32)
    else:
        op = RadonOperator(32, 24)
        y = op.forward(torch.stack([shepp_logan(32), 0.7 * shepp_logan(32).flip(-2)]))
    lam = 0.01 * float(op.adjoint(y).abs().max())
    x, p = tv_chambolle_pock(op, y, lam=lam, tol=1e-4, return_dual=True)
    torch.testing.assert_close(x, tv_chambolle_pock(op, y, lam=lam, tol=1e-4), rtol=0, atol=0)
    mag = (p.abs() ** 2).sum(1).sqrt()
    assert float(mag.max()) <= lam * (1 + 1e-5) and float(mag.max()) >= 0.99 * lam
    ran = []
    original = tv_module.Stopper.assemble

    def spy(self, x_, k, *extra):
        ran.append(int(self.iterations.max()))
        return original(self, x_, k, *extra)

    tv_module.Stopper.assemble = spy
    try:
        again = tv_chambolle_pock(op, y, lam=lam, tol=3e-4, x0=x, p0=p)
        cold = tv_chambolle_pock(op, y, lam=lam, tol=3e-4, x0=x, start_iters=0)
    finally:
        tv_module.Stopper.assemble = original
    assert ran[0] == 10 and ran[1] > 30, ran
    assert float((again - x).norm() / x.norm()) < 1e-3 and float((cold - x).norm()) > 0
    # per image: a batch gives each image's own dual
    _, p1 = tv_chambolle_pock(op, y[1:], lam=lam, tol=1e-4, return_dual=True)
    torch.testing.assert_close(p[1:], p1, rtol=0, atol=1e-4 * lam)


def test_bad_dual_starts_are_named():
    op, y = _problem(32)
    with pytest.raises(InvalidInputError, match=r"p0 must be a tensor \[B, 2, H, W\]"):
        tv_chambolle_pock(op, y, p0=torch.zeros(2, 32, 32))
    with pytest.raises(InvalidInputError, match="return_dual and return_history"):
        tv_chambolle_pock(op, y, return_dual=True, return_history=True)
    radon = RadonOperator(32, 10)
    with pytest.raises(InvalidInputError, match="p0 is complex"):
        tv_chambolle_pock(radon, torch.zeros(1, 10, radon.n_detectors), p0=torch.zeros(1, 2, 32, 32, dtype=torch.complex64))
