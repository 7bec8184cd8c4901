"""Wavelet2D: orthonormality, perfect reconstruction, agreement with PyWavelets, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import pywt
import torch

from pytest_invstab.baselines import Wavelet2D
from pytest_invstab.errors import InvalidInputError


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().pow(2).sum().sqrt() / b.abs().pow(2).sum().sqrt())


@pytest.mark.parametrize("wavelet", ["haar", "db2", "db4", "sym4", "coif1"])
@pytest.mark.parametrize("shape,levels", [((128, 128), None), ((64, 32), 2), ((48, 80), 3)])
def test_perfect_reconstruction_and_energy_float32(wavelet, shape, levels):
    w = Wavelet2D(shape, wavelet, levels)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, *shape, generator=gen)
    c = w.forward(x)
    assert c.shape == x.shape and c.dtype == torch.float32
    assert _rel(w.inverse(c), x) < 1e-6
    energy = c.pow(2).sum((1, 2)).sqrt() / x.pow(2).sum((1, 2)).sqrt()
    assert float((energy - 1).abs().max()) < 1e-6


def test_complex_images_transform_real_and_imaginary_parts():
    w = Wavelet2D((32, 32), "db4")
    gen = torch.Generator().manual_seed(1)
    x = torch.complex(torch.randn(2, 32, 32, generator=gen), torch.randn(2, 32, 32, generator=gen))
    c = w.forward(x)
    assert c.dtype == torch.complex64
    torch.testing.assert_close(c.real, w.forward(x.real), rtol=0, atol=0)
    torch.testing.assert_close(c.imag, w.forward(x.imag), rtol=0, atol=0)
    assert _rel(w.inverse(c), x) < 1e-6


@pytest.mark.parametrize("wavelet,levels", [("haar", 3), ("db2", 2), ("db4", 1)])
def test_matrix_is_orthogonal_float64(wavelet, levels):
    # Build the full 256 x 256 matrix from basis images: W^T W = I exactly, inverse = transpose.
    w = Wavelet2D((16, 16), wavelet, levels, dtype=torch.float64)
    eye = torch.eye(256, dtype=torch.float64).reshape(256, 16, 16)
    m = w.forward(eye).reshape(256, 256).T  # columns = W e_i
    torch.testing.assert_close(m.T @ m, torch.eye(256, dtype=torch.float64), rtol=0, atol=1e-12)
    inv = w.inverse(eye).reshape(256, 256).T
    torch.testing.assert_close(inv, m.T, rtol=0, atol=1e-12)


def test_adjoint_identity_and_autograd_gradient_is_the_inverse():
    w = Wavelet2D((64, 64), "db4", dtype=torch.float64)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 64, 64, generator=gen, dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 64, 64, generator=gen, dtype=torch.float64)
    lhs = (w.forward(x) * g).sum()
    rhs = (x.detach() * w.inverse(g)).sum()
    assert abs(float(lhs.detach() - rhs)) / float(lhs.detach().abs()) < 1e-12
    (grad,) = torch.autograd.grad(lhs, x)
    torch.testing.assert_close(grad, w.inverse(g), rtol=0, atol=1e-12)


def _find_shift(band: np.ndarray, ref: np.ndarray) -> tuple[tuple[int, int], float]:
    """The circular shift (dy, dx) that best maps ``ref`` onto ``band``, and the error left."""
    best = ((0, 0), np.inf)
    for dy in range(band.shape[0]):
        for dx in range(band.shape[1]):
            err = float(np.abs(np.roll(ref, (dy, dx), axis=(0, 1)) - band).max())
            if err < best[1]:
                best = ((dy, dx), err)
    return best


@pytest.mark.parametrize("wavelet", ["haar", "db4", "sym4", "db2"])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_bands_equal_pywavelets_periodization(wavelet, dtype, tol):
    size, levels = 64, 3
    w = Wavelet2D((size, size), wavelet, levels, dtype=dtype)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, size, size, generator=gen, dtype=dtype)
    c = w.forward(x)[0].double().numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pywt warns that deep levels see the boundary
        ref = pywt.wavedec2(x[0].double().numpy(), wavelet, mode="periodization", level=levels)
    slices = w.band_slices()
    shifts = set()
    (rs, cs) = slices[0]["a"]
    shift, err = _find_shift(c[rs, cs], ref[0])
    assert err < tol * max(1.0, float(np.abs(ref[0]).max()))
    shifts.add(shift)
    for level in range(1, levels + 1):
        for key, ref_band in zip(("da", "ad", "dd"), ref[level]):
            rs, cs = slices[level][key]
            shift, err = _find_shift(c[rs, cs], ref_band)
            assert err < tol * max(1.0, float(np.abs(ref_band).max())), (level, key, err)
            shifts.add(shift)
    # The alignment is chosen so that the known shift is zero in every band.
    assert shifts == {(0, 0)}
    # ... and then the whole packed array equals pywt's coeffs_to_array layout.
    arr, _ = pywt.coeffs_to_array(ref)
    assert np.abs(arr - c).max() < tol * np.abs(arr).max()


def test_default_levels_and_detail_mask():
    assert Wavelet2D((128, 128)).levels == 4  # capped at 4 although 5 fit
    assert Wavelet2D((64, 32), "db4").levels == 3  # 32 -> 16 -> 8: the third level still sees 8 >= 8 taps
    assert Wavelet2D((256, 256), "haar").levels == 4
    w = Wavelet2D((64, 32), "db4")
    mask = w.detail_mask
    assert mask.shape == (64, 32) and mask.dtype == torch.bool
    assert int((~mask).sum()) == (64 // 8) * (32 // 8)
    assert not bool(mask[:8, :4].any()) and bool(mask[8:, :].all()) and bool(mask[:, 4:].all())


def test_constant_image_lives_in_the_coarse_band_only():
    w = Wavelet2D((64, 64), "db4", levels=3, dtype=torch.float64)
    c = w.forward(torch.full((1, 64, 64), 3.0, dtype=torch.float64))
    assert float(c[0][w.detail_mask].abs().max()) < 1e-12
    # The orthonormal approximation of a constant: 3 * 2^J per coarse coefficient.
    torch.testing.assert_close(c[0][~w.detail_mask], torch.full((64,), 3.0 * 8, dtype=torch.float64))


def test_other_dtype_and_batch_sizes():
    w = Wavelet2D((32, 32), "db4")  # float32 filters
    x = torch.randn(5, 32, 32, dtype=torch.float64)
    c = w.forward(x)
    assert c.dtype == torch.float64
    assert _rel(w.inverse(c), x) < 1e-12  # a float64 copy of the filters is used
    assert w.forward(x[:1]).shape == (1, 32, 32)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(shape=(100, 100), levels=4), r"levels=4 does not fit.*valid levels are 1\.\.2"),
        (dict(shape=(128, 128), levels=6), r"valid levels are 1\.\.5"),
        (dict(shape=(128, 128), levels=0), r"valid levels"),
        (dict(shape=(6, 6)), r"at least 8.*wavelet='haar'"),
        (dict(shape=(63, 64)), r"must be even"),
        (dict(shape=(64, 64), wavelet="db99"), r"unknown wavelet 'db99'"),
        (dict(shape=(64, 64), wavelet="bior2.2"), r"not orthogonal.*haar, dbN"),
    ],
)
def test_bad_configurations_name_the_fix(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        Wavelet2D(**kwargs)


def test_bad_inputs_name_the_fix():
    w = Wavelet2D((32, 32))
    with pytest.raises(InvalidInputError, match=r"add the batch dimension"):
        w.forward(torch.zeros(32, 32))
    with pytest.raises(InvalidInputError, match=r"\[B, 32, 32\], got \[1, 16, 16\]"):
        w.inverse(torch.zeros(1, 16, 16))
    with pytest.raises(InvalidInputError, match=r"float or complex"):
        w.forward(torch.zeros(1, 32, 32, dtype=torch.int64))
