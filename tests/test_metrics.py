"""PSNR and SSIM pinned against scikit-image and closed forms: every headline number rests on them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pytest_invstab.images import shepp_logan
from pytest_invstab.metrics import psnr, ssim


def _pairs(size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(estimate, reference) pairs, float64: noise, blur, a shifted copy, a contrast change."""
    ref = shepp_logan(size, dtype=torch.float64).numpy()
    rng = np.random.default_rng(size)
    noisy = ref + 0.05 * rng.standard_normal(ref.shape)
    k = np.array([0.25, 0.5, 0.25])
    blurred = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), 0, ref)
    blurred = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), 1, blurred)
    return [(noisy, ref), (blurred, ref), (np.roll(ref, 2, axis=1), ref), (0.8 * ref + 0.1, ref)]


SIZES = [24, 37, 64, 128]


@pytest.mark.parametrize("size", SIZES)
def test_psnr_matches_scikit_image(size):
    for est, ref in _pairs(size):
        peak = float(np.abs(ref).max())
        expected = peak_signal_noise_ratio(ref, est, data_range=peak)
        got = psnr(torch.from_numpy(est)[None], torch.from_numpy(ref)[None])
        assert float(got[0]) == pytest.approx(expected, abs=1e-9)
        got2 = psnr(torch.from_numpy(est)[None], torch.from_numpy(ref)[None], data_range=2.0)
        assert float(got2[0]) == pytest.approx(peak_signal_noise_ratio(ref, est, data_range=2.0), abs=1e-9)


@pytest.mark.parametrize("size", SIZES)
def test_ssim_matches_scikit_image(size):
    for est, ref in _pairs(size):
        dr = float(ref.max() - ref.min())
        expected = structural_similarity(ref, est, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                         data_range=dr)
        got = ssim(torch.from_numpy(est)[None], torch.from_numpy(ref)[None])
        assert float(got[0]) == pytest.approx(expected, abs=1e-7)
        expected1 = structural_similarity(ref, est, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                          data_range=1.0)
        assert float(ssim(torch.from_numpy(est)[None], torch.from_numpy(ref)[None], data_range=1.0)[0]) == \
            pytest.approx(expected1, abs=1e-7)


def test_psnr_and_ssim_are_per_image_in_a_batch_and_complex_by_magnitude():
    pairs = _pairs(32)
    est = torch.stack([torch.from_numpy(e) for e, _ in pairs])
    ref = torch.stack([torch.from_numpy(r) for _, r in pairs])
    one_by_one = torch.cat([psnr(e[None], r[None]) for e, r in zip(est, ref)])
    torch.testing.assert_close(psnr(est, ref), one_by_one)
    phase = torch.exp(1j * torch.linspace(0, 3, 32 * 32, dtype=torch.float64)).reshape(32, 32)
    torch.testing.assert_close(psnr(est * phase, ref), psnr(est.abs(), ref))  # by magnitude
    torch.testing.assert_close(ssim(est * phase, ref), ssim(est.abs(), ref))


@pytest.mark.parametrize("n, peak, c", [(16, 1.0, 0.1), (40, 2.0, 0.02), (7, 0.5, 0.5)])
def test_psnr_of_a_constant_error_is_20_log10_peak_over_error(n, peak, c):
    """Every pixel off by c: MSE = c^2, PSNR = 20 log10(peak / c) whatever the image size."""
    ref = torch.zeros(1, n, n, dtype=torch.float64)
    ref[0, 0, 0] = peak
    est = ref + c
    assert float(psnr(est, ref)[0]) == pytest.approx(20 * math.log10(peak / c), abs=1e-9)


def test_psnr_hand_computed_cases():
    # one pixel off by d in an N-pixel image: MSE = d^2 / N
    ref = torch.zeros(1, 10, 10, dtype=torch.float64)
    ref[0, 3, 3] = 1.0
    est = ref.clone()
    est[0, 5, 5] = 0.5
    assert float(psnr(est, ref)[0]) == pytest.approx(10 * math.log10(100 / 0.25), abs=1e-9)  # 26.0206 dB
    assert float(psnr(est, ref)[0]) == pytest.approx(26.020599913, abs=1e-8)
    # 2x2: ref [[1, 0], [0, 0]], est [[0.9, 0.1], [0.1, 0.1]]: MSE = 0.04 / 4 = 0.01 -> 20 dB
    ref2 = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]], dtype=torch.float64)
    est2 = torch.tensor([[[0.9, 0.1], [0.1, 0.1]]], dtype=torch.float64)
    assert float(psnr(est2, ref2)[0]) == pytest.approx(20.0, abs=1e-9)


def test_ssim_closed_forms():
    ref = shepp_logan(32, dtype=torch.float64)[None]
    assert float(ssim(ref, ref)[0]) == pytest.approx(1.0, abs=1e-12)
    # a constant estimate c against a constant reference d (same data range 1): in every window
    # SSIM = (2cd + C1) / (c^2 + d^2 + C1), with C1 = (0.01)^2 (the structure term is C2 / C2 = 1)
    c, d = 0.3, 0.7
    const_ref = torch.full((1, 16, 16), d, dtype=torch.float64)
    const_est = torch.full((1, 16, 16), c, dtype=torch.float64)
    c1 = 0.01**2
    assert float(ssim(const_est, const_ref, data_range=1.0)[0]) == pytest.approx((2 * c * d + c1) / (c * c + d * d + c1),
                                                                                  abs=1e-12)
    # zero-mean noise of variance s^2 on a constant image d: luminance term 1, contrast-structure
    # term C2 / (s^2 + C2) per window (sample moments): K2 = 0.03 sets where SSIM halves
    noise = torch.tensor([[1.0, -1.0] * 8, [-1.0, 1.0] * 8] * 8, dtype=torch.float64)[None]  # checkerboard
    s = 0.03  # = K2 at data range 1: SSIM = C2 / (var + C2) with var = s^2 = C2 in every window -> ~0.5
    got = float(ssim(const_ref + s * noise, const_ref, data_range=1.0)[0])
    w = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5**2))
    w = w / w.sum()
    # the windowed mean of a checkerboard is not exactly 0: compute the window's moments directly
    board = torch.tensor([[(-1.0) ** (i + j) for j in range(11)] for i in range(11)], dtype=torch.float64)
    ww = w[:, None] * w[None, :]
    mean = s * float((ww * board).sum())
    var = s * s - mean * mean
    c2 = 0.03**2
    one = ((2 * (d + mean) * d + c1) * c2) / (((d + mean) ** 2 + d * d + c1) * (var + c2))
    # both window phases (even / odd offset) occur; their means are +mean and -mean
    two = ((2 * (d - mean) * d + c1) * c2) / (((d - mean) ** 2 + d * d + c1) * (var + c2))
    assert got == pytest.approx((one + two) / 2, abs=1e-4)
    assert got == pytest.approx(0.5, abs=0.01)
