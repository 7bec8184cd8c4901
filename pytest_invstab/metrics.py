"""Image-quality metrics, batched: every function takes ``[B, H, W]`` and returns ``[B]``.

Complex images are compared by magnitude for PSNR and SSIM (what a reader sees) and as
complex vectors for norms and relative errors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .tensors import magnitude


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)


def norms(t: torch.Tensor) -> torch.Tensor:
    """Euclidean norm of each batch element."""
    return _flat(t).norm(dim=1)


def relative_error(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """||estimate - reference|| / ||reference|| per image (dimensionless)."""
    return norms(estimate - reference) / norms(reference).clamp_min(torch.finfo(norms(reference).dtype).tiny)


def psnr(estimate: torch.Tensor, reference: torch.Tensor, data_range: float | None = None) -> torch.Tensor:
    """PSNR in dB: 10 log10(peak^2 / MSE), peak = ``data_range`` or max|reference| per image."""
    est, ref = magnitude(estimate), magnitude(reference)
    mse = ((est - ref) ** 2).reshape(est.shape[0], -1).mean(1)
    peak = torch.full_like(mse, float(data_range)) if data_range is not None else _flat(ref).abs().amax(1)
    return 10 * torch.log10(peak**2 / mse.clamp_min(1e-30))


def _gaussian_window(size: int, sigma: float, dtype, device) -> torch.Tensor:
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(estimate: torch.Tensor, reference: torch.Tensor, data_range: float | None = None,
         window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """SSIM (Wang et al. 2004, Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03), mean over valid pixels.

    ``data_range`` defaults to max - min of each reference image.
    """
    est, ref = magnitude(estimate)[:, None], magnitude(reference)[:, None]
    if data_range is None:
        dr = (_flat(ref).amax(1) - _flat(ref).amin(1)).clamp_min(1e-12)
    else:
        dr = torch.full((ref.shape[0],), float(data_range), dtype=ref.dtype, device=ref.device)
    c1 = ((0.01 * dr) ** 2)[:, None, None, None]
    c2 = ((0.03 * dr) ** 2)[:, None, None, None]
    w = _gaussian_window(window, sigma, ref.dtype, ref.device)
    mu_x, mu_y = F.conv2d(est, w), F.conv2d(ref, w)
    sxx = F.conv2d(est * est, w) - mu_x**2
    syy = F.conv2d(ref * ref, w) - mu_y**2
    sxy = F.conv2d(est * ref, w) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return s.reshape(s.shape[0], -1).mean(1)
