"""Textured training phantoms: smooth organs with band-limited texture and small bright lesions.

Same grid convention as :mod:`pytest_invstab.images.phantoms` (the square [-1, 1]^2, y upwards).
"""

from __future__ import annotations

import math

import torch

from .phantoms import (
    Columns,
    check_count,
    check_float_dtype,
    check_size,
    noise_generator,
    pixel_grid,
    seeded_generator,
    stamp,
)

__all__ = ["textured_phantoms"]


def _soft_shape(y: torch.Tensor, x: torch.Tensor, cx, cy, a, b, rot, p, pixel: float) -> torch.Tensor:
    """Anti-aliased superellipse ``|u/a|^p + |v/b|^p <= 1``, batched over ``[B, 1, 1]`` params (p None: ellipse).

    ``r = (|u/a|^p + |v/b|^p)^(1/p)`` is homogeneous of degree 1, so the boundary along the ray
    through a point lies at ``|(u, v)| / r`` and the radial distance to it is ``|(u, v)| (r - 1) / r``;
    a linear ramp one pixel wide across that distance anti-aliases the edge in a single pass.
    """
    c, s = torch.cos(rot), torch.sin(rot)
    dx = x - cx
    dy = y - cy
    u = dx * c + dy * s
    v = dy * c - dx * s
    if p is None:  # an ellipse without pow, which costs ten multiplications
        r = torch.sqrt((u / a) ** 2 + (v / b) ** 2)
    else:
        r = ((u / a).abs() ** p + (v / b).abs() ** p) ** (1.0 / p)
    dist = torch.sqrt(u * u + v * v) * (r - 1.0) / r.clamp_min(1e-6)
    return (0.5 - dist / pixel).clamp_(0.0, 1.0)


def _band_noise(noise_hat: torch.Tensor, radius: torch.Tensor, low: float, high: float, size: int) -> torch.Tensor:
    """Real noise whose spectrum is a smooth band ``low < |k| < high`` (cycles per image), unit RMS."""
    filt = torch.exp(-0.5 * (radius / high) ** 2)
    if low > 0:
        filt = filt * (1.0 - torch.exp(-0.5 * (radius / low) ** 2))
    filt[0, 0] = 0.0  # zero mean: shading must not shift the tissue's level
    field = torch.fft.irfft2(noise_hat * filt, s=(size, size))
    return field / field.pow(2).mean(dim=(1, 2), keepdim=True).sqrt().clamp_min(1e-12)


def textured_phantoms(n: int, size: int = 128, seed: int = 0, *, dtype: torch.dtype = torch.float32,
                      device: torch.device | str = "cpu") -> torch.Tensor:
    """Varied head-like training images, ``[n, size, size]`` in [0, 1], deterministic for ``seed``.

    Each image has a bright outer "skull" ring (intensity 0.7-1) around tissue (0.25-0.5), 3 to 6
    inner structures (ellipses and superellipses from diamond-like to rounded squares, 0.08-0.4
    brighter or darker than the tissue), smooth low-frequency shading (up to ~3 cycles per image),
    fine texture (a band around a sixth of the sampling rate) and 2 to 6 small bright or dark spots
    of 1 to 3 pixels radius. Edges are anti-aliased analytically (one evaluation per pixel) and
    small shapes are evaluated on their own window, so a few thousand 128 x 128 images take
    seconds on one CPU core. Image ``i`` does not depend on ``n``.
    """
    n, size = check_count(n), check_size(size, minimum=16)
    dtype = check_float_dtype(dtype)
    seeded_generator(seed)
    K, M = 6, 6  # most inner structures and small spots per image
    cols = Columns(n, 16 + 10 * K + 6 * M, seed)  # a few spare columns
    # Body ellipse and skull ring.
    bcx, bcy = cols.uniform(-0.05, 0.05), cols.uniform(-0.05, 0.05)
    ba, bb = cols.uniform(0.66, 0.84), cols.uniform(0.76, 0.88)  # the border stays background
    brot = cols.uniform(-0.25, 0.25)
    thick = cols.uniform(0.035, 0.08)
    skull_val, tissue_val = cols.uniform(0.7, 1.0), cols.uniform(0.25, 0.5)
    low_amp = cols.uniform(0.03, 0.1)
    fine_amp = cols.uniform(0.01, 0.04)
    # Inner structures, placed and sized in units of the body's inner semi-axes.
    k_on = (torch.arange(K)[None] < cols.integers(3, K)).double()
    k_rad, k_ang = 0.6 * torch.sqrt(cols.uniform(0, 1, K)), cols.uniform(0, 2 * math.pi, K)
    k_a, k_b = cols.uniform(0.05, 0.28, K), cols.uniform(0.05, 0.28, K)
    k_rot = cols.uniform(0, math.pi, K)
    k_p = torch.where(cols.uniform(0, 1, K) < 0.5, 2.0, cols.uniform(1.2, 4.0, K))
    k_val = cols.uniform(0.08, 0.4, K) * cols.signs(K) * k_on
    # Small spots, radius 1-3 pixels, mostly bright.
    m_on = (torch.arange(M)[None] < cols.integers(2, M)).double()
    m_rad, m_ang = 0.65 * torch.sqrt(cols.uniform(0, 1, M)), cols.uniform(0, 2 * math.pi, M)
    m_r = cols.uniform(1.0, 3.0, M) * (2.0 / size)
    m_val = cols.uniform(0.15, 0.45, M) * cols.signs(M, 0.6) * m_on

    noise_gen = noise_generator(seed)
    y, x = pixel_grid(size, 1, torch.float32, device)
    y, x = y[None, :, None], x[None, None, :]
    pixel = 2.0 / size
    ky = torch.fft.fftfreq(size, 1.0 / size, device=device)[:, None]
    kx = torch.fft.rfftfreq(size, 1.0 / size, device=device)[None, :]
    kr = torch.sqrt(kx**2 + ky**2)
    superellipse_extent = 2 ** 0.5  # |u| <= a, |v| <= b: the circumradius is at most sqrt(2) max(a, b)

    out = torch.empty(n, size, size, dtype=dtype, device=device)
    chunk = max(1, 2**21 // size**2)
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))

        def P(t: torch.Tensor, k: int = 0) -> torch.Tensor:
            return t[sl, k].reshape(-1, 1, 1).to(device=device, dtype=torch.float32)

        cx0, cy0, rot = P(bcx), P(bcy), P(brot)
        outer = _soft_shape(y, x, cx0, cy0, P(ba), P(bb), rot, None, pixel)
        ia, ib = P(ba) - P(thick), P(bb) - P(thick)
        inner = _soft_shape(y, x, cx0, cy0, ia, ib, rot, None, pixel)
        img = P(skull_val) * (outer - inner) + P(tissue_val) * inner
        cos_r, sin_r = torch.cos(rot), torch.sin(rot)

        def place(rad: torch.Tensor, ang: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
            # A point given in the inner ellipse's rotated frame, mapped to image coordinates.
            lu = P(rad, k) * torch.cos(P(ang, k)) * ia
            lv = P(rad, k) * torch.sin(P(ang, k)) * ib
            return cx0 + lu * cos_r - lv * sin_r, cy0 + lu * sin_r + lv * cos_r

        noise = torch.randn(sl.stop - sl.start, size, size, generator=noise_gen).to(device)
        noise_hat = torch.fft.rfft2(noise)
        texture = P(low_amp) * _band_noise(noise_hat, kr, 0.0, 3.0, size)
        # A disjoint band of the same white noise is (nearly) independent of the smooth shading.
        texture += P(fine_amp) * _band_noise(noise_hat, kr, size / 8, size / 4, size)
        img += texture * inner

        for k in range(K):
            cx, cy = place(k_rad, k_ang, k)
            sa, sb = P(k_a, k) * ia, P(k_b, k) * ib
            extent = superellipse_extent * float(torch.maximum(sa, sb).max()) + pixel
            fn = lambda yy, xx, cx=cx, cy=cy, sa=sa, sb=sb, k=k: P(k_val, k) * _soft_shape(
                yy, xx, cx, cy, sa, sb, P(k_rot, k), P(k_p, k), pixel)
            stamp(img, fn, cx, cy, extent, weight=inner)

        for k in range(M):
            cx, cy = place(m_rad, m_ang, k)
            fn = lambda yy, xx, cx=cx, cy=cy, k=k: P(m_val, k) * (
                (P(m_r, k) - torch.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)) / pixel + 0.5).clamp_(0.0, 1.0)
            stamp(img, fn, cx, cy, float(m_r.max()) + pixel, weight=inner)

        out[sl] = img.clamp_(0.0, 1.0).to(dtype)
    return out
