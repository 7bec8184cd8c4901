"""What a reconstructor returns is checked before any metric: one clear error per wrong output."""

from __future__ import annotations

import functools

import pytest
import torch

from pytest_invstab.checks.worst_case import worst_case as _worst_case
from pytest_invstab.errors import ReconstructorError
from pytest_invstab.images import shepp_logan
from pytest_invstab.operators import RadonOperator
from pytest_invstab.operators.fourier import FourierOperator
from pytest_invstab.reconstructor import reconstruct

# Toy reconstructors (zero-filled, random untrained networks) are no better than the direct
# reconstruction, so the sanity gate (tested in tests/test_sanity.py) is off here.
worst_case = functools.partial(_worst_case, sanity=False)

N = 16


@pytest.fixture(scope="module")
def radon():
    return RadonOperator(size=N, angles=12)


@pytest.fixture(scope="module")
def fourier():
    return FourierOperator(size=N, rate=0.5, seed=0)


@pytest.fixture(scope="module")
def x():
    return shepp_logan(N)[None]


def test_complex_output_with_an_imaginary_part_for_real_images_is_an_error(radon, x):
    def complex_out(y, op):
        z = op.adjoint(y)
        return torch.complex(z, 0.1 * z)

    with pytest.raises(ReconstructorError, match=r"complex image .* RadonOperator takes real images; return out.real"):
        worst_case(complex_out, radon, x, steps=2, restarts=1, baseline=None)


def test_complex_output_with_a_round_off_imaginary_part_is_its_real_part(radon, x):
    def fft_roundtrip(y, op):
        return torch.fft.ifft2(torch.fft.fft2(op.adjoint(y)))  # imaginary part ~1e-8: round-off

    def real(y, op):
        return op.adjoint(y)

    y = radon(x)
    out = reconstruct(fft_roundtrip, y, radon)
    assert not out.is_complex() and out.dtype == torch.float32
    torch.testing.assert_close(out, real(y, radon), rtol=1e-5, atol=1e-5)


def test_float64_output_for_a_float32_operator_is_converted(fourier, x):
    def double(y, op):
        return op.adjoint(y).to(torch.complex128)

    out = reconstruct(double, fourier(x), fourier)
    assert out.dtype == torch.complex64
    res = worst_case(double, fourier, x, steps=2, restarts=1, baseline=None)  # no RuntimeError inside ssim
    assert res.metrics["ssim_clean"] == pytest.approx(
        worst_case(lambda y, op: op.adjoint(y), fourier, x, steps=2, restarts=1, baseline=None).metrics["ssim_clean"],
        rel=1e-5)


def test_float64_real_output_for_a_real_operator_is_converted(radon, x):
    out = reconstruct(lambda y, op: op.adjoint(y).double(), radon(x), radon)
    assert out.dtype == torch.float32


def test_output_on_another_device_names_the_device_and_the_fix(fourier, x):
    def on_meta(y, op):
        return torch.empty((y.shape[0], *op.image_shape), dtype=torch.complex64, device="meta")

    with pytest.raises(ReconstructorError, match=r"on meta but the operator and images are on cpu.*model\.to\('cpu'\)"):
        worst_case(on_meta, fourier, x, steps=2, restarts=1, baseline=None)


def test_integer_output_is_an_error(radon, x):
    with pytest.raises(ReconstructorError, match="torch.int64 values, expected torch.float32"):
        reconstruct(lambda y, op: op.adjoint(y).long(), radon(x), radon)


@pytest.mark.parametrize("eps", [10, 1.5, 100.0])
def test_eps_above_one_is_a_percent_for_fraction_slip(eps, fourier, x):
    from pytest_invstab.errors import InvalidInputError
    from pytest_invstab.settings import value_problems

    with pytest.raises(InvalidInputError, match=r"eps is a fraction .*1 % is eps=0\.01.*pass eps <= 1"):
        worst_case(lambda y, op: op.adjoint(y), fourier, x, eps=eps, steps=1, restarts=1, baseline=None)
    problems = value_problems("stability", {"eps": eps})
    assert len(problems) == 1 and "1 % is eps=0.01" in problems[0]
    assert value_problems("stability", {"eps": 1}) == []


def test_explicit_steps_and_restarts_are_scaled_by_the_budget(fourier, x):
    f = lambda y, op: op.adjoint(y)  # noqa: E731
    got = {b: worst_case(f, fourier, x, steps=8, restarts=2, budget=b, baseline=None).settings
           for b in ("quick", "standard", "thorough")}
    assert (got["standard"]["steps"], got["standard"]["restarts"]) == (8, 2)
    assert (got["quick"]["steps"], got["quick"]["restarts"]) == (2, 1)  # x0.25, x0.5
    assert (got["thorough"]["steps"], got["thorough"]["restarts"]) == (32, 4)  # x4, x2
    assert got["quick"]["evaluations"] < got["standard"]["evaluations"] < got["thorough"]["evaluations"]


def test_worse_than_random_compares_the_worst_image_with_its_own_gaussian_artifact(fourier):
    """Image 0: f = 4 A*y (artifact 4 eps, the larger Gaussian artifact); image 1: a rank-one
    amplification K along w (artifact (1 + K) eps, the worst). The ratio must use image 1's own
    Gaussian artifact, not image 0's larger one."""
    gen = torch.Generator().manual_seed(0)
    v = torch.randn(1, N, N, generator=gen)
    w = fourier.adjoint(fourier(v))[0]
    w = w / w.abs().square().sum().sqrt()  # A*A w = w: the search can reach it
    K = 20.0

    def f(y, op):
        z = op.adjoint(y)
        planted = z[1] + K * (w.conj() * z[1]).sum() * w
        return torch.stack([4 * z[0], planted])

    x = torch.stack([shepp_logan(N), shepp_logan(N).flip(0)])
    res = worst_case(f, fourier, x, eps=0.01, steps=20, restarts=1, baseline=None)
    i = res.settings["worst_image"]
    gauss = [row["gaussian_artifact"] for row in res.per_image]
    assert i == 1 and gauss[0] > gauss[1]  # the case where "largest over images" is a different image
    assert res.metrics["gaussian_artifact"] == pytest.approx(gauss[1])
    assert res.metrics["worse_than_random"] == pytest.approx(res.metrics["artifact"] / gauss[1])


def zero_filled(y, op):
    return op.adjoint(y)


def test_a_users_baseline_is_named_by_its_name_not_cs_baseline(fourier, x):
    from pytest_invstab.checks.detail_recovery import detail_recovery
    from pytest_invstab.checks.more_samples import more_samples
    from pytest_invstab.report.layouts import panel_rows

    def net(y, op):
        return 1.5 * op.adjoint(y)

    wc = worst_case(net, fourier, x, eps=0.01, max_artifact=0.0, steps=2, restarts=1, baseline=zero_filled)
    assert "; baseline zero_filled " in wc.message and "CS" not in wc.message
    titles = [t for row in panel_rows(wc) for t, _ in row]
    assert "baseline(Ax)" in titles and not any("CS" in t for t in titles)

    x32 = shepp_logan(32)[None]
    op32 = FourierOperator(size=32, rate=0.5, seed=0)
    dr = detail_recovery(net, op32, x32, baseline=zero_filled, baseline_margin=0.0, sanity=False)
    assert "baseline zero_filled" in dr.message and "CS" not in dr.message
    assert panel_rows(dr)[0][2][0] == "baseline zero_filled"

    ms = more_samples(net, op32, x32, rates=(0.25, 0.5), baseline=zero_filled, sanity=False)
    assert "baseline zero_filled gains" in ms.message and "CS" not in ms.message
    assert set(ms.curves["series"]) == {"network", "baseline zero_filled"}
    assert any(t.startswith("baseline zero_filled, rate") for row in panel_rows(ms) for t, _ in row)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_output_on_the_cpu_for_a_cuda_operator_names_the_device_and_the_fix(x):
    op = FourierOperator(size=N, rate=0.5, seed=0, device="cuda")
    with pytest.raises(ReconstructorError, match=r"on cpu but the operator and images are on cuda.*model\.to\('cuda"):
        worst_case(lambda y, o: o.adjoint(y).cpu(), op, x, steps=2, restarts=1, baseline=None)
    ok = worst_case(lambda y, o: o.adjoint(y), op, x, steps=2, restarts=1, baseline=None)
    assert ok.metrics["artifact"] == pytest.approx(0.01, rel=0.05)  # A*A of an isometry: artifact = eps
