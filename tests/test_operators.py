"""Operators: exact adjoints for every operator and pattern, Fourier identities, multi-coil maps, errors."""

from __future__ import annotations

import math

import pytest
import torch

from pytest_invstab.errors import InvalidInputError
from pytest_invstab.operators import (
    PATTERNS,
    FourierOperator,
    LinearOperator,
    MatrixOperator,
    MultiCoilFourierOperator,
    RadonOperator,
    SamplingPattern,
    centred_fft2,
    centred_ifft2,
)

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def _randn(shape, dtype, complex_, gen):
    t = torch.randn(shape, generator=gen, dtype=dtype)
    if complex_:
        t = torch.complex(t, torch.randn(shape, generator=gen, dtype=dtype))
    return t


def adjoint_mismatch(op: LinearOperator, seed: int = 0, batch: int = 2) -> float:
    """|<Ax, y> - <x, A*y>| / (||Ax|| ||y||) with the real inner product Re<., .>, Gaussian x and y."""
    gen = torch.Generator().manual_seed(seed)
    x = _randn((batch, *op.image_shape), op.dtype, op.complex_images, gen)
    y = _randn((batch, *op.measurement_shape), op.dtype, op.complex_measurements, gen)
    ax, aty = op(x), op.adjoint(y)
    lhs = torch.vdot(ax.flatten(), y.flatten()).real if ax.is_complex() else torch.dot(ax.flatten(), y.flatten())
    rhs = torch.vdot(x.flatten(), aty.flatten()).real if x.is_complex() else torch.dot(x.flatten(), aty.flatten())
    return float((lhs - rhs).abs() / (ax.norm() * y.norm()))


def _operators(dtype):
    ops = []
    for pattern in PATTERNS:
        ops.append((f"fourier-{pattern}", FourierOperator(48, 0.3, pattern, seed=1, dtype=dtype)))
        ops.append((f"multicoil-{pattern}", MultiCoilFourierOperator(40, 0.25, pattern, coils=6, seed=2, dtype=dtype)))
    ops.append(("fourier-odd", FourierOperator((33, 20), 0.4, "points", seed=3, dtype=dtype)))
    ops.append(("multicoil-odd-15", MultiCoilFourierOperator(27, 0.5, "radial", coils=15, dtype=dtype)))
    ops.append(("radon", RadonOperator(40, 30, dtype=dtype)))
    ops.append(("radon-nested", RadonOperator(33, 10, dtype=dtype).at_rate(0.4)))
    gen = torch.Generator().manual_seed(0)
    ops.append(("matrix", MatrixOperator(torch.randn(50, 64, generator=gen, dtype=dtype), (8, 8))))
    return ops


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_every_operator_has_an_exact_adjoint(dtype):
    worst = {name: max(adjoint_mismatch(op, seed) for seed in range(2)) for name, op in _operators(dtype)}
    bad = {k: v for k, v in worst.items() if not v < TOL[dtype]}
    assert not bad, f"adjoint mismatch above {TOL[dtype]}: {bad}"


# -- single-coil Fourier ------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [32, (17, 24)])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_fourier_is_the_masked_centred_unitary_dft(pattern, size):
    op = FourierOperator(size, 0.3, pattern, seed=4, dtype=torch.float64)
    x = _randn((3, *op.image_shape), torch.float64, True, torch.Generator().manual_seed(1))
    k = centred_fft2(x)
    assert torch.allclose(op(x), k[:, op.mask], atol=1e-12)  # values in row-major mask order
    # the reference is the textbook centred transform: DC of a constant image sits at (H//2, W//2)
    ones = torch.ones(1, *op.image_shape, dtype=torch.complex128)
    h, w = op.image_shape
    assert abs(float(centred_fft2(ones)[0, h // 2, w // 2].real) - math.sqrt(h * w)) < 1e-9
    # A*A is the orthogonal projection F* P F
    assert torch.allclose(op.adjoint(op(x)), centred_ifft2(k * op.mask), atol=1e-12)
    assert torch.allclose(centred_ifft2(centred_fft2(x)), x, atol=1e-12)


def _line_masks():
    rows = torch.zeros(20, 27, dtype=torch.bool)
    rows[[0, 3, 10, 11, 19]] = True
    grid = torch.zeros(24, 24, dtype=torch.bool)
    grid[::3, 1::2] = True  # kept rows times kept columns
    return {"columns": FourierOperator((21, 30), 0.3, "cartesian", seed=5).mask, "rows": rows, "grid": grid}


@pytest.mark.parametrize("name, by_lines", [("columns", True), ("rows", False), ("grid", True)])
def test_line_masks_transformed_one_axis_at_a_time_equal_the_masked_dft(name, by_lines):
    # Masks of column lines take the axis-by-axis path, row lines the 2-D one; both must equal
    # the textbook transform.
    mask = _line_masks()[name]
    gen = torch.Generator().manual_seed(6)
    single = FourierOperator(mask=mask, dtype=torch.float64)
    multi = MultiCoilFourierOperator(mask=mask, coils=3, dtype=torch.float64)
    assert (single._lines is not None) == by_lines and (multi._lines is not None) == by_lines
    x = _randn((2, *mask.shape), torch.float64, True, gen)
    assert torch.allclose(single(x), centred_fft2(x)[:, mask], atol=1e-12)
    assert torch.allclose(multi(x), centred_fft2(x[:, None] * multi.coil_maps)[..., mask], atol=1e-12)
    y = _randn((2, *single.measurement_shape), torch.float64, True, gen)
    zero_filled = torch.zeros(2, *mask.shape, dtype=torch.complex128)
    zero_filled[:, mask] = y
    assert torch.allclose(single.adjoint(y), centred_ifft2(zero_filled), atol=1e-12)
    assert adjoint_mismatch(multi) < 1e-12
    # a mask that is not whole lines keeps the 2-D path and is still the masked DFT
    mask[0, 0] = ~mask[0, 0]
    other = FourierOperator(mask=mask, dtype=torch.float64)
    assert other._lines is None and torch.allclose(other(x), centred_fft2(x)[:, mask], atol=1e-12)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_fourier_a_astar_is_identity_and_norm_is_one(pattern):
    op = FourierOperator(64, 0.2, pattern, seed=0, dtype=torch.float64)
    y = _randn((2, *op.measurement_shape), torch.float64, True, torch.Generator().manual_seed(2))
    assert float((op(op.adjoint(y)) - y).abs().max()) < 1e-13
    assert abs(op.norm() - 1.0) < 1e-6
    assert abs(op.at_rate(0.5).norm() - 1.0) < 1e-6


def test_fourier_measurements_real_promotion_direct_and_gradient():
    op = FourierOperator(32, 0.33, "cartesian", seed=0)
    assert op.measurement_shape == (int(op.mask.sum()),) and op.complex_measurements and op.complex_images
    x = torch.rand(2, 32, 32)
    assert torch.allclose(op(x), op(x.to(torch.complex64)))
    y = op(x)
    assert y.dtype == torch.complex64 and y.shape == (2, int(op.mask.sum()))
    assert torch.equal(op.direct(y), op.adjoint(y))
    # autograd: grad of ||A x||^2 / 2 with respect to a real x is Re(A* A x)
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(0.5 * op(xr).abs().pow(2).sum(), xr)
    assert torch.allclose(g, op.adjoint(op(x)).real, atol=1e-6)


def test_fourier_at_rate_is_nested_same_pattern_and_exact():
    op = FourierOperator(64, 0.1, "points", seed=9, center_fraction=0.05)
    hi = op.at_rate(0.4)
    assert isinstance(hi, FourierOperator) and hi.pattern == "points" and hi.seed == 9
    assert not bool((op.mask & ~hi.mask).any())
    assert int(hi.mask.sum()) == round(0.4 * 64 * 64) and hi.rate == pytest.approx(0.4, abs=1 / 4096)
    assert hi.measurement_shape == (round(0.4 * 64 * 64),)
    assert torch.equal(hi.mask, SamplingPattern("points", 64, seed=9, center_fraction=0.05).mask(0.4))
    assert torch.equal(op.mask, FourierOperator(64, 0.1, "points", seed=9, center_fraction=0.05).mask)


def test_fourier_user_mask_and_its_errors():
    mask = torch.zeros(24, 20, dtype=torch.bool)
    mask[10:14] = True
    mask[0, 0] = True
    op = FourierOperator(mask=mask, dtype=torch.float64)
    assert op.image_shape == (24, 20) and op.measurement_shape == (81,) and op.pattern == "custom"
    assert adjoint_mismatch(op) < 1e-12
    # issue 10: a user's mask now has a nested order starting from its own samples
    assert torch.equal(op.at_rate(op.rate).mask, mask)
    with pytest.raises(InvalidInputError, match="does not match the mask's shape"):
        FourierOperator(32, mask=mask)
    with pytest.raises(InvalidInputError, match="samples nothing"):
        FourierOperator(mask=torch.zeros(16, 16, dtype=torch.bool))
    with pytest.raises(InvalidInputError, match=r"pass shape=\(H, W\)"):
        FourierOperator(mask=torch.ones(16, dtype=torch.bool))
    with pytest.raises(InvalidInputError, match="booleans or 0/1"):
        FourierOperator(mask=torch.full((16, 16), 0.5))


def test_fourier_to_and_describe():
    op = FourierOperator(32, 0.25, "radial", seed=5)
    op64 = op.to(dtype=torch.float64)
    x = torch.rand(1, 32, 32, dtype=torch.float64)
    assert op64.dtype == torch.float64 and op.dtype == torch.float32
    assert torch.allclose(op64(x), op(x.float()).to(torch.complex128), atol=1e-5)
    assert adjoint_mismatch(op64) < 1e-12
    d = op.describe()
    assert d["pattern"] == "radial" and d["seed"] == 5 and d["size"] == [32, 32] and d["modality"] == "mri"
    assert d["n_samples"] == int(op.mask.sum()) and d["rate"] == pytest.approx(0.25, abs=1 / 1024)


@pytest.mark.parametrize("bad", [4, 7, 12.5, "64", (16,), True])
def test_fourier_bad_size_is_one_clear_error(bad):
    with pytest.raises(InvalidInputError, match="int >= 8"):
        FourierOperator(bad)


@pytest.mark.parametrize("bad", [0, -0.5, 1.5, float("nan")])
def test_fourier_bad_rate_is_one_clear_error(bad):
    with pytest.raises(InvalidInputError, match=r"range \(0, 1\]"):
        FourierOperator(32, bad)
    with pytest.raises(InvalidInputError, match=r"range \(0, 1\]"):
        FourierOperator(32, 0.3).at_rate(bad)


def test_fourier_bad_arguments_and_tensors_are_clear_errors():
    op = FourierOperator(32, 0.3)
    with pytest.raises(InvalidInputError, match="choose one of cartesian, points, radial"):
        FourierOperator(32, 0.3, "spiral")
    with pytest.raises(InvalidInputError, match="float32 or torch.float64"):
        FourierOperator(32, dtype=torch.float16)
    with pytest.raises(InvalidInputError, match=r"add the batch dimension"):
        op(torch.zeros(32, 32))
    with pytest.raises(InvalidInputError, match=r"shape \[B, 32, 32\], got \[1, 31, 32\]"):
        op(torch.zeros(1, 31, 32))
    with pytest.raises(InvalidInputError, match=r"measurements of shape \[B, "):
        op.adjoint(torch.zeros(1, 5, dtype=torch.complex64))
    with pytest.raises(InvalidInputError, match="operator works in torch.float32"):
        op(torch.zeros(1, 32, 32, dtype=torch.float64))


# -- multi-coil ----------------------------------------------------------------------------------------
def test_coil_maps_have_rss_one_are_smooth_and_distinct():
    op = MultiCoilFourierOperator(64, 0.3, coils=8, dtype=torch.float64)
    s = op.coil_maps
    assert s.shape == (8, 64, 64) and s.is_complex()
    assert float((s.abs().pow(2).sum(0) - 1).abs().max()) < 1e-12
    # smooth: neighbouring pixels differ little (a noise map would differ by O(1))
    assert float((s[:, 1:] - s[:, :-1]).abs().max()) < 0.1
    assert float((s[:, :, 1:] - s[:, :, :-1]).abs().max()) < 0.1
    # coils see different parts of the object: each coil's peak is at a different place
    peaks = {int(torch.argmax(c.abs())) for c in s}
    assert len(peaks) == 8
    # and the phase is not constant
    assert float(torch.angle(s[0]).std()) > 0.05


def test_multicoil_shapes_identity_when_fully_sampled_and_direct():
    op = MultiCoilFourierOperator(32, 0.4, "points", coils=4, dtype=torch.float64)
    x = _randn((2, 32, 32), torch.float64, True, torch.Generator().manual_seed(3))
    y = op(x)
    assert y.shape == (2, 4, int(op.mask.sum())) and op.measurement_shape == (4, int(op.mask.sum()))
    # each coil's data is the single-coil operator applied to S_c x
    single = FourierOperator(32, 0.4, "points", dtype=torch.float64)
    assert torch.allclose(y[:, 2], single(x * op.coil_maps[2]), atol=1e-12)
    assert torch.equal(op.direct(y), op.adjoint(y))
    full = op.at_rate(1.0)
    assert torch.allclose(full.adjoint(full(x)), x, atol=1e-12)  # sum_c |S_c|^2 = 1
    assert abs(full.norm() - 1) < 1e-6
    assert not bool((op.mask & ~full.mask).any()) and full.coils == 4


@pytest.mark.parametrize("bad", [33, 0, -1, 8.0, True])
def test_multicoil_coil_count_outside_1_to_32_is_one_clear_error(bad):
    with pytest.raises(InvalidInputError, match="coils must be an int from 1 to 32"):
        MultiCoilFourierOperator(32, coils=bad)


def test_multicoil_user_maps_are_normalised_and_checked():
    gen = torch.Generator().manual_seed(0)
    maps = _randn((4, 16, 16), torch.float64, True, gen)
    op = MultiCoilFourierOperator(16, 0.5, coils=4, coil_maps=maps, dtype=torch.float64)
    assert float((op.coil_maps.abs().pow(2).sum(0) - 1).abs().max()) < 1e-12
    assert adjoint_mismatch(op) < 1e-12
    with pytest.raises(InvalidInputError, match=r"coil_maps must be a tensor of shape \[4, H, W\]"):
        MultiCoilFourierOperator(16, coils=4, coil_maps=maps[:3])
    with pytest.raises(InvalidInputError, match="RSS > 0"):
        MultiCoilFourierOperator(16, coils=4, coil_maps=torch.zeros(4, 16, 16, dtype=torch.complex128))


def test_multicoil_to_and_describe():
    op = MultiCoilFourierOperator(24, 0.3, coils=5).to(dtype=torch.float64)
    assert op.coil_maps.dtype == torch.complex128 and op.describe()["coils"] == 5
    assert adjoint_mismatch(op) < 1e-12
