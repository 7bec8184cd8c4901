"""CS baselines: exact solutions, optimality conditions, Shepp-Logan quality, convergence, gradients."""

from __future__ import annotations

import functools

import pytest
import torch

from pytest_invstab.baselines import (
    CSBaseline,
    Wavelet2D,
    fista_l1_wavelet,
    grad2d,
    grad2d_adjoint,
    soft_threshold,
    total_variation,
    tv_chambolle_pock,
)
from pytest_invstab.baselines import fista as fista_module
from pytest_invstab.baselines import tv as tv_module
from pytest_invstab.errors import InvalidInputError
from pytest_invstab.images import shepp_logan
from pytest_invstab.metrics import psnr
from pytest_invstab.operators import FourierOperator, MatrixOperator, RadonOperator

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _identity(n: int, dtype=F64) -> MatrixOperator:
    return MatrixOperator(torch.eye(n * n, dtype=dtype), (n, n))


def _gaussian(n: int, m: int, seed: int, complex_: bool = False) -> MatrixOperator:
    g = _gen(seed)
    a = torch.randn(m, n * n, generator=g, dtype=F64)
    if complex_:
        a = torch.complex(a, torch.randn(m, n * n, generator=g, dtype=F64)) / 2**0.5
    return MatrixOperator(a / m**0.5, (n, n))


# -- building blocks ----------------------------------------------------------------------
def test_soft_threshold_values_and_finite_gradient_at_zero():
    x = torch.tensor([[-3.0, -0.5, 0.0, 0.5, 3.0]], dtype=F64)
    torch.testing.assert_close(soft_threshold(x, torch.tensor(1.0, dtype=F64)),
                               torch.tensor([[-2.0, 0.0, 0.0, 0.0, 2.0]], dtype=F64))
    z = torch.tensor([[3 + 4j, 0.3 - 0.4j, 0j]], dtype=torch.complex128, requires_grad=True)
    out = soft_threshold(z, torch.tensor(1.0, dtype=F64))
    torch.testing.assert_close(out.detach(), torch.tensor([[(3 + 4j) * 0.8, 0j, 0j]], dtype=torch.complex128))
    (g,) = torch.autograd.grad((out.abs() ** 2).sum() + out.real.sum(), z)
    assert bool(torch.isfinite(torch.view_as_real(g)).all())


@pytest.mark.parametrize("complex_", [False, True])
def test_gradient_adjoint_is_exact(complex_):
    g = _gen(0)
    x = torch.randn(2, 12, 9, generator=g, dtype=F64)
    p = torch.randn(2, 2, 12, 9, generator=g, dtype=F64)
    if complex_:
        x = torch.complex(x, torch.randn(x.shape, generator=g, dtype=F64))
        p = torch.complex(p, torch.randn(p.shape, generator=g, dtype=F64))
    lhs = (grad2d(x).conj() * p).sum().real
    rhs = (x.conj() * grad2d_adjoint(p)).sum().real
    assert abs(float(lhs - rhs)) < 1e-12 * float(lhs.abs())


def test_total_variation_of_a_step_and_of_a_complex_ramp():
    x = torch.zeros(1, 10, 10, dtype=F64)
    x[:, :, 4:] = 2.5  # one jump of 2.5 per row
    torch.testing.assert_close(total_variation(x), torch.tensor([25.0], dtype=F64))
    # Isotropic over real and imaginary parts: |d(1 + 1j)| = sqrt(2) per jump.
    torch.testing.assert_close(total_variation(x * (1 + 1j) / 2.5), torch.tensor([10 * 2**0.5], dtype=F64))


# -- exact solutions and optimality -----------------------------------------------------------
def test_fista_denoising_equals_wavelet_shrinkage_with_coarse_band_kept():
    # A = I: the minimiser is W* shrink(W f, λ) with the coarsest band left alone.
    n, lam = 16, 0.3
    f = torch.randn(2, n, n, generator=_gen(1), dtype=F64)
    w = Wavelet2D((n, n), "db2", 2, dtype=F64)
    c = w.forward(f)
    expected = w.inverse(torch.where(w.detail_mask, soft_threshold(c, torch.tensor(lam, dtype=F64)), c))
    x = fista_l1_wavelet(_identity(n), f.reshape(2, -1), lam=lam, iters=60, wavelet="db2", levels=2)
    torch.testing.assert_close(x, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("complex_", [False, True])
def test_fista_solution_satisfies_the_optimality_conditions(complex_):
    # 0 ∈ W A*(Ax - y) + λ ∂||.||_1 on the details, and a zero gradient on the coarse band.
    n, m, lam = 16, 120, 0.02
    op = _gaussian(n, m, seed=2, complex_=complex_)
    w = Wavelet2D((n, n), "haar", 2, dtype=F64)
    detail = w.detail_mask
    c_true = torch.where(detail, 0.0, 1.0).to(op.image_dtype)[None]  # the coarse band
    positions = detail.flatten().nonzero()[:, 0]
    chosen = positions[torch.randperm(len(positions), generator=_gen(3))[:12]]
    c_true = c_true.flatten().index_fill(0, chosen, 2.0).reshape(1, n, n)  # a few detail coefficients
    y = op.forward(w.inverse(c_true))
    x = fista_l1_wavelet(op, y, lam=lam, iters=300, wavelet=w)  # linear convergence: 1e-11 by then
    c = w.forward(x)[0]
    g = w.forward(op.adjoint(op.forward(x) - y))[0]
    assert float(g[~detail].abs().max()) < 1e-9
    active = detail & (c.abs() > 1e-9)
    inactive = detail & ~active
    assert int(active.sum()) >= 5 and int(inactive.sum()) >= 100
    phase = c[active] / c[active].abs()
    assert float((g[active] + lam * phase).abs().max()) < 1e-9 * max(1.0, lam)
    assert float(g[inactive].abs().max()) <= lam * (1 + 1e-9)


@pytest.mark.parametrize("unit", [1.0, (1 + 1j) / 2**0.5])
def test_tv_denoising_of_a_step_has_the_closed_form_solution(unit, monkeypatch):
    # Rows identical, so the 2-D isotropic problem splits into 1-D TV denoising per row:
    # the low plateau rises by λ / (its length), the high one drops by λ / (its length).
    # For complex data along a unit phase the isotropic real+imaginary TV gives the same
    # solution times that phase (an anisotropic |Re| + |Im| TV would shrink by sqrt(2) more).
    # The fixed point does not depend on the step ratio; a large one converges fast for A = I.
    monkeypatch.setattr(tv_module, "STEP_RATIO", 5.0)
    n, j0, lam, a, b = 16, 5, 0.8, 1.0, 3.0
    s = torch.full((1, n, n), a, dtype=F64)
    s[:, :, j0:] = b
    expected = s.clone()
    expected[:, :, :j0] += lam / j0
    expected[:, :, j0:] -= lam / (n - j0)
    if isinstance(unit, complex):
        op = MatrixOperator(torch.eye(n * n, dtype=torch.complex128), (n, n))
        f, expected = s * unit, expected * unit
    else:
        op, f = _identity(n), s
    x = tv_chambolle_pock(op, f.reshape(1, -1), lam=lam, iters=400)
    torch.testing.assert_close(x, expected.to(x.dtype), rtol=0, atol=1e-10)


# -- Shepp-Logan 128: quality, monotone objective, convergence at the default iterations ------
@functools.lru_cache(maxsize=None)
def _problem(kind: str):
    x = shepp_logan(128)[None]
    # row lines: the gains asserted below were measured on them (db4 gains 4.8 dB on columns)
    op = (FourierOperator(128, 0.33, pattern="cartesian", seed=0, orientation="rows") if kind == "fourier"
          else RadonOperator(128, 50))
    x = x.to(op.image_dtype)
    y = op.forward(x)
    return op, x, y


@functools.lru_cache(maxsize=None)
def _fista_default(kind: str):
    op, x, y = _problem(kind)
    return fista_l1_wavelet(op, y, return_history=True)


def _objective64(op, x, y, lam, wavelet):
    """½||Ax - y||² + λ||W x||_1 (detail bands), accumulated in float64."""
    c = wavelet.forward(x)[0].to(torch.complex128)
    r = (op.forward(x) - y).to(torch.complex128)
    return 0.5 * float((r.abs() ** 2).sum()) + lam * float(c.abs()[wavelet.detail_mask].sum())


def test_l1_wavelet_on_shepp_logan_fourier_cartesian_33():
    op, x, y = _problem("fourier")
    rec, hist = _fista_default("fourier")
    zero_filled = float(psnr(op.direct(y), x))
    gain = float(psnr(rec, x)) - zero_filled
    # Measured: zero-filled 21.2 dB, l1-wavelet (db4) 26.4 dB.
    assert gain >= 5.0, f"l1-wavelet gains only {gain:.2f} dB over zero-filling"
    obj = hist["objective"][:, 0]
    assert obj.shape == (fista_module.DEFAULT_ITERS + 1,)
    assert bool((obj[1:] <= obj[:-1]).all()), "MFISTA's objective must not increase"
    assert float(obj[-1]) < 0.05 * float(obj[0])
    # The reported objective is the true objective of the returned image (float32 rounding).
    lam = fista_module.DEFAULT_LAM_FACTOR * float(op.adjoint(y).abs().max())
    w = Wavelet2D((128, 128), fista_module.DEFAULT_WAVELET)
    assert abs(_objective64(op, rec, y, lam, w) - float(obj[-1])) < 1e-4 * float(obj[-1])
    # Converged at the default iteration count: the proposed step and the accepted change.
    assert float(hist["step"][-1, 0]) < 1e-4
    assert float(hist["relative_change"][-1, 0]) < 1e-4


def test_l1_wavelet_on_shepp_logan_radon_50_angles():
    op, x, y = _problem("radon")
    rec, hist = _fista_default("radon")
    fbp = float(psnr(op.direct(y), x))
    # Measured: FBP 25.4 dB, l1-wavelet 31.6 dB.
    assert float(psnr(rec, x)) >= fbp + 3.0
    obj = hist["objective"][:, 0]
    assert bool((obj[1:] <= obj[:-1]).all())
    assert float(hist["step"][-1, 0]) < 1e-4
    assert float(hist["relative_change"][-1, 0]) < 1e-4


def test_tv_on_shepp_logan_fourier_and_radon():
    op, x, y = _problem("fourier")
    rec, hist = tv_chambolle_pock(op, y, return_history=True)
    # Measured: zero-filled 21.2 dB, TV 47.4 dB (Shepp-Logan is piecewise constant).
    assert float(psnr(rec, x)) >= float(psnr(op.direct(y), x)) + 20.0
    obj = hist["objective"][:, 0]
    assert float(obj[-1]) <= float(obj[len(obj) // 2]) <= float(obj[len(obj) // 4])
    assert float(hist["relative_change"][-1, 0]) < 1e-3
    op, x, y = _problem("radon")
    rec = tv_chambolle_pock(op, y)
    # Measured: FBP 25.4 dB, TV 37.4 dB.
    assert float(psnr(rec, x)) >= float(psnr(op.direct(y), x)) + 10.0


# -- scaling, batching, determinism, gradients ----------------------------------------------
@pytest.mark.parametrize("solver", [fista_l1_wavelet, tv_chambolle_pock])
def test_default_lambda_follows_the_data_and_operator_scale(solver):
    # f(s y) = s f(y), and rescaling A (with its data) leaves the reconstruction unchanged:
    # the default needs no tuning per intensity range or operator normalisation.
    op = FourierOperator(32, 0.4, pattern="points", seed=1, dtype=F64)
    x = torch.rand(2, 32, 32, generator=_gen(4), dtype=F64).to(torch.complex128)
    y = op.forward(x)
    base = solver(op, y, iters=40)
    torch.testing.assert_close(solver(op, 7.5 * y, iters=40), 7.5 * base, rtol=1e-9, atol=1e-12)
    small = _gaussian(12, 90, seed=5)
    big = MatrixOperator(3.0 * small.matrix, (12, 12))
    xr = torch.rand(1, 12, 12, generator=_gen(6), dtype=F64)
    torch.testing.assert_close(solver(big, big.forward(xr), iters=40), solver(small, small.forward(xr), iters=40),
                               rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("solver", [fista_l1_wavelet, tv_chambolle_pock])
def test_batch_equals_single_images_and_is_deterministic(solver):
    op = FourierOperator(32, 0.3, pattern="radial", seed=2, dtype=F64)
    x = torch.rand(3, 32, 32, generator=_gen(7), dtype=F64).to(torch.complex128)
    x[1] *= 10.0  # a different scale: per-image λ and per-image restarts
    y = op.forward(x)
    batch = solver(op, y, iters=60)
    for i in range(3):
        torch.testing.assert_close(batch[i:i + 1], solver(op, y[i:i + 1], iters=60), rtol=1e-10, atol=1e-12)
    assert torch.equal(batch, solver(op, y, iters=60))


def test_mfista_keeps_the_previous_point_per_image(monkeypatch):
    # A step of 1.8 / ||A||² (margin 0.55 instead of 1.01) overshoots often, so MFISTA must keep
    # x_{k-1} for some images of the batch and not others; the objective still never rises,
    # and every image gets exactly what it gets alone.
    monkeypatch.setattr(fista_module, "NORM_MARGIN", 0.55)
    op = FourierOperator(32, 0.4, pattern="radial", seed=2, dtype=F64)
    x = torch.stack([shepp_logan(32, dtype=F64), torch.rand(32, 32, generator=_gen(0), dtype=F64)])
    y = op.forward(x.to(torch.complex128))
    rec, hist = fista_l1_wavelet(op, y, iters=60, return_history=True)
    obj = hist["objective"]
    kept = obj[1:] == obj[:-1]
    assert int((kept[:, 0] ^ kept[:, 1]).sum()) >= 3, "the test needs iterations where only one image keeps x_{k-1}"
    assert bool((obj[1:] <= obj[:-1]).all())
    assert bool((hist["relative_change"][kept] == 0).all())
    for i in range(2):
        torch.testing.assert_close(rec[i:i + 1], fista_l1_wavelet(op, y[i:i + 1], iters=60), rtol=0, atol=1e-12)


def test_fista_accepts_per_image_lambda_and_warm_start():
    op = FourierOperator(32, 0.3, seed=3)
    x = torch.rand(2, 32, 32, generator=_gen(8)).to(torch.complex64)
    y = op.forward(x)
    lam = torch.tensor([1e-3, 5e-2])
    both = fista_l1_wavelet(op, y, lam=lam, iters=30)
    torch.testing.assert_close(both[1:], fista_l1_wavelet(op, y[1:], lam=0.05, iters=30), rtol=1e-5, atol=1e-6)
    # A warm start at the solution stays there.
    sol = fista_l1_wavelet(op, y, iters=250)
    again = fista_l1_wavelet(op, y, iters=5, x0=sol)
    assert float((again - sol).abs().max()) < 1e-3 * float(sol.abs().max())


@pytest.mark.parametrize("solver", [fista_l1_wavelet, tv_chambolle_pock])
def test_reconstruction_is_differentiable_in_the_measurements(solver):
    op = _gaussian(8, 24, seed=9)
    x = torch.rand(1, 8, 8, generator=_gen(10), dtype=F64)
    y = op.forward(x).requires_grad_(True)
    kwargs = {"wavelet": "haar", "levels": 2} if solver is fista_l1_wavelet else {}

    def f(yy):
        return solver(op, yy, iters=12, **kwargs)

    assert f(y).requires_grad
    assert torch.autograd.gradcheck(f, (y,), eps=1e-7, atol=1e-5, rtol=1e-4)


# -- CSBaseline ------------------------------------------------------------------------------
def test_cs_baseline_is_a_reconstructor_with_the_operators_image_dtype():
    fourier = FourierOperator(32, 0.33, seed=0)
    radon = RadonOperator(32, 20)
    img = torch.rand(2, 32, 32, generator=_gen(11))
    for method in ("l1-wavelet", "tv"):
        f = CSBaseline(method, iters=20)
        out = f(fourier.forward(img.to(torch.complex64)), fourier)
        assert out.shape == (2, 32, 32) and out.dtype == torch.complex64
        out = f(radon.forward(img), radon)
        assert out.shape == (2, 32, 32) and out.dtype == torch.float32
    y = fourier.forward(img.to(torch.complex64))
    torch.testing.assert_close(CSBaseline("l1-wavelet", iters=20)(y, fourier), fista_l1_wavelet(fourier, y, iters=20), rtol=0, atol=0)
    torch.testing.assert_close(CSBaseline("tv", lam=0.01, iters=20)(y, fourier),
                               tv_chambolle_pock(fourier, y, lam=0.01, iters=20), rtol=0, atol=0)


def test_cs_baseline_describe_and_defaults():
    f = CSBaseline()
    assert f.method == "tv" and f.iters == tv_module.DEFAULT_ITERS
    assert CSBaseline("l1-wavelet").iters == fista_module.DEFAULT_ITERS
    assert CSBaseline("l1-wavelet").describe() == "CS l1-wavelet (haar; MFISTA, tol 3e-05, at most 800 iterations, λ=0.0001·max|A*y|)"
    assert CSBaseline("tv", lam=0.5, iters=10, tol=None).describe() == "CS TV (Chambolle-Pock, 10 iterations, λ=0.5)"
    assert CSBaseline("tv").iters == tv_module.DEFAULT_ITERS


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(method="l2"), r"unknown CS method 'l2'; choose 'l1-wavelet' or 'tv'"),
        (dict(lam=-1.0), r"lam must be a finite number >= 0"),
        (dict(lam="big"), r"lam must be a number"),
        (dict(iters=0), r"iters must be a positive integer"),
        (dict(wavelet="bior2.2"), r"not orthogonal"),
    ],
)
def test_cs_baseline_bad_arguments(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        CSBaseline(**kwargs)


def test_bad_calls_name_the_fix():
    op = FourierOperator(32, 0.33)
    y = op.forward(torch.zeros(1, 32, 32, dtype=torch.complex64))
    with pytest.raises(InvalidInputError, match="needs a pytest_invstab LinearOperator"):
        CSBaseline()(y, lambda t: t)
    with pytest.raises(InvalidInputError, match=r"add the batch dimension"):
        CSBaseline(iters=2)(y[0], op)
    with pytest.raises(InvalidInputError, match="2-D images"):
        fista_l1_wavelet(MatrixOperator(torch.eye(8), (2, 2, 2)), torch.zeros(1, 8))
    with pytest.raises(InvalidInputError, match=r"shape \[B\] = \[1\]"):
        fista_l1_wavelet(op, y, lam=torch.ones(3))
    with pytest.raises(InvalidInputError, match=r"levels=2 does not fit.*valid levels are 1\.\.1"):
        odd = FourierOperator((24, 18), 0.5)  # 18 -> 9 is odd: only one level fits
        fista_l1_wavelet(odd, odd.forward(torch.zeros(1, 24, 18, dtype=torch.complex64)), levels=2)
