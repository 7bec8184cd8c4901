"""Analytic phantoms: Shepp-Logan, random ellipses, textured training images.

Grid convention (shared with the Radon operator): an image of ``size`` pixels covers the square
[-1, 1]^2. Pixel centres along both axes sit at ``-1 + (2i + 1) / size``. Column ``j`` has
``x = -1 + (2j + 1) / size`` (x grows to the right); row ``i`` has ``y = 1 - (2i + 1) / size``
(y grows *upwards*, so row 0 is the top of the picture and Shepp-Logan shows its three small
ellipses at the bottom, as in Shepp & Logan's and Kak & Slaney's figures). A pixel is
``2 / size`` wide. :func:`pixel_grid` returns these coordinates.

Ellipse tables have one row per ellipse: ``(intensity, a, b, x0, y0, phi)`` with semi-axes
``a`` (along the ellipse's own x axis) and ``b``, centre ``(x0, y0)`` in the same units and
``phi`` the counter-clockwise rotation in **degrees**. Intensities add up where ellipses overlap.

Line integrals use the parametrisation ``L(theta, s) = {(x, y): x cos(theta) + y sin(theta) = s}``
(``theta`` in radians, ``s`` in image units); see :func:`ellipse_line_integrals`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import InvalidInputError

__all__ = [
    "SHEPP_LOGAN_TABLE",
    "pixel_grid",
    "ellipse_image",
    "ellipse_line_integrals",
    "shepp_logan",
    "random_ellipses",
]

#: Modified Shepp-Logan (Toft's intensities, as MATLAB's ``phantom('Modified Shepp-Logan')``):
#: rows ``(intensity, a, b, x0, y0, phi_degrees)``. Values lie in [0, 1]: rim 1, brain 0.2,
#: ventricles 0, small structures 0.3 (0.4 where two overlap).
SHEPP_LOGAN_TABLE: tuple[tuple[float, float, float, float, float, float], ...] = (
    (1.0, 0.69, 0.92, 0.0, 0.0, 0.0),
    (-0.8, 0.6624, 0.8740, 0.0, -0.0184, 0.0),
    (-0.2, 0.1100, 0.3100, 0.22, 0.0, -18.0),
    (-0.2, 0.1600, 0.4100, -0.22, 0.0, 18.0),
    (0.1, 0.2100, 0.2500, 0.0, 0.35, 0.0),
    (0.1, 0.0460, 0.0460, 0.0, 0.1, 0.0),
    (0.1, 0.0460, 0.0460, 0.0, -0.1, 0.0),
    (0.1, 0.0460, 0.0230, -0.08, -0.605, 0.0),
    (0.1, 0.0230, 0.0230, 0.0, -0.606, 0.0),
    (0.1, 0.0230, 0.0460, 0.06, -0.605, 0.0),
)

_MIN_SIZE = 8


# --------------------------------------------------------------------------- validation
def check_size(size: object, minimum: int = _MIN_SIZE, what: str = "size") -> int:
    if isinstance(size, bool) or not isinstance(size, int):
        raise InvalidInputError(f"{what} must be an int number of pixels, got {size!r}; pass e.g. {what}=128")
    if size < minimum:
        raise InvalidInputError(f"{what}={size} is too small; use {what} >= {minimum} pixels")
    return size


def check_count(n: object, what: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidInputError(f"{what} must be a positive int (number of images), got {n!r}")
    return n


def check_supersample(supersample: object) -> int:
    if isinstance(supersample, bool) or not isinstance(supersample, int) or not 1 <= supersample <= 32:
        raise InvalidInputError(
            f"supersample must be an int in 1..32 (sub-samples per pixel side), got {supersample!r}")
    return supersample


def check_float_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        raise InvalidInputError(f"dtype must be a real floating dtype such as torch.float32, got {dtype!r}")
    return dtype


def seeded_generator(seed: object) -> torch.Generator:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInputError(f"seed must be an int, got {seed!r}")
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    return g


# --------------------------------------------------------------------------- grid
def pixel_grid(size: int, supersample: int = 1, dtype: torch.dtype = torch.float64,
               device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinates of the (sub-)pixel centres: ``(y [size*s], x [size*s])`` in image units.

    With ``supersample = s`` each pixel is split into ``s x s`` equal cells; the returned values are
    the cell centres, so ``x = -1 + (2m + 1) / (size s)`` and ``y = -x`` (y up, row 0 at the top).
    """
    n = size * supersample
    x = -1.0 + (2.0 * torch.arange(n, dtype=torch.float64) + 1.0) / n
    return (-x).to(device=device, dtype=dtype), x.to(device=device, dtype=dtype)


def _as_table(ellipses: object) -> torch.Tensor:
    try:
        table = torch.as_tensor(ellipses, dtype=torch.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            "ellipses must be a table of rows (intensity, a, b, x0, y0, phi_degrees)"
        ) from exc
    if table.ndim == 1 and table.numel() == 6:
        table = table[None]
    if table.ndim != 2 or table.shape[1] != 6:
        raise InvalidInputError(
            "ellipses must have shape [E, 6] with rows (intensity, a, b, x0, y0, phi_degrees), "
            f"got {tuple(table.shape)}"
        )
    if not torch.isfinite(table).all() or (table[:, 1:3] <= 0).any():
        raise InvalidInputError("ellipse table must be finite with positive semi-axes a, b")
    return table.cpu()


def _ellipse_mask(y: torch.Tensor, x: torch.Tensor, a, b, x0, y0, phi_rad) -> torch.Tensor:
    """Indicator of one ellipse (or a batch, parameters ``[B, 1, 1]``) at broadcastable coordinates ``y``, ``x``."""
    if isinstance(phi_rad, torch.Tensor):
        c, s = torch.cos(phi_rad), torch.sin(phi_rad)
    else:
        c, s = math.cos(phi_rad), math.sin(phi_rad)
    dx = x - x0
    dy = y - y0
    u = dx * c + dy * s  # coordinates in the ellipse's own (rotated) frame
    v = dy * c - dx * s
    return ((u / a) ** 2 + (v / b) ** 2 <= 1.0)


def ellipse_image(ellipses: object, size: int = 128, supersample: int = 4,
                  dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Render an ellipse table on the ``[size, size]`` grid, anti-aliased by supersampling.

    Each pixel is the mean of the phantom over ``supersample x supersample`` sub-pixel centres, so
    edge pixels take fractional values. No clipping: overlapping intensities simply add.
    Returns a ``[size, size]`` tensor of ``dtype`` on ``device``.
    """
    size = check_size(size, minimum=1)
    supersample = check_supersample(supersample)
    dtype = check_float_dtype(dtype)
    table = _as_table(ellipses)
    # Coordinates in float64 so that the indicator does not depend on the output dtype.
    y, x = pixel_grid(size, supersample, torch.float64, device)
    fine = torch.zeros(y.numel(), x.numel(), dtype=torch.float64, device=device)
    for rho, a, b, x0, y0, phi in table.tolist():
        fine += _ellipse_mask(y[:, None], x[None, :], a, b, x0, y0, math.radians(phi)).to(fine.dtype) * rho
    img = F.avg_pool2d(fine[None, None], supersample)[0, 0] if supersample > 1 else fine
    return img.to(dtype)


def ellipse_line_integrals(ellipses: object, angles: object, offsets: object) -> torch.Tensor:
    """Closed-form line integrals of an ellipse table (float64).

    ``angles`` ``[A]`` in radians, ``offsets`` ``[S]`` in image units; returns ``[A, S]`` with
    entry ``(k, l)`` the integral over ``{x cos(theta_k) + y sin(theta_k) = s_l}`` (arc length in
    image units, so a line through a unit-intensity disc of radius r gives at most ``2 r``).
    For one ellipse: ``2 rho a b sqrt(m^2 - t^2) / m^2`` for ``|t| <= m``, with
    ``t = s - x0 cos(theta) - y0 sin(theta)`` and ``m^2 = a^2 cos^2(theta - phi) + b^2 sin^2(theta - phi)``.
    """
    table = _as_table(ellipses)
    th = torch.as_tensor(angles, dtype=torch.float64).reshape(-1)[:, None]
    s = torch.as_tensor(offsets, dtype=torch.float64).reshape(-1)[None, :]
    out = torch.zeros(th.shape[0], s.shape[1], dtype=torch.float64)
    for rho, a, b, x0, y0, phi in table.tolist():
        t = s - x0 * torch.cos(th) - y0 * torch.sin(th)
        rel = th - math.radians(phi)
        m2 = (a * torch.cos(rel)) ** 2 + (b * torch.sin(rel)) ** 2
        out += 2.0 * rho * a * b * torch.sqrt((m2 - t**2).clamp_min(0.0)) / m2
    return out


def shepp_logan(size: int = 128, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu",
                supersample: int = 4) -> torch.Tensor:
    """The modified Shepp-Logan head phantom (Toft's intensities), ``[size, size]`` in [0, 1].

    Background 0, skull rim 1, brain 0.2, ventricles 0; edges are anti-aliased by averaging
    ``supersample^2`` sub-pixel samples per pixel.
    """
    size = check_size(size)
    img = ellipse_image(SHEPP_LOGAN_TABLE, size, supersample, torch.float64, device)
    return img.clamp(0.0, 1.0).to(check_float_dtype(dtype))


# --------------------------------------------------------------------------- random parameters
class Columns:
    """Per-image random parameters drawn as one ``[n, P]`` uniform block and handed out by columns.

    Row ``i`` depends only on the seed and ``i`` (torch's CPU generator fills row-major), so the
    first ``k`` images of a set are the same whatever ``n`` is.
    """

    def __init__(self, n: int, width: int, seed: int) -> None:
        self.block = torch.rand(n, width, generator=seeded_generator(seed), dtype=torch.float64)
        self.used = 0

    def uniform(self, lo: float, hi: float, k: int = 1) -> torch.Tensor:
        if self.used + k > self.block.shape[1]:  # pragma: no cover - programming error
            raise RuntimeError("parameter block too narrow")
        cols = self.block[:, self.used:self.used + k]
        self.used += k
        return lo + (hi - lo) * cols

    def integers(self, lo: int, hi: int) -> torch.Tensor:
        """Integers in ``lo..hi`` inclusive, shape ``[n, 1]``."""
        return (lo + torch.floor(self.uniform(0.0, 1.0) * (hi - lo + 1))).clamp_max(hi)

    def signs(self, k: int, p_plus: float = 0.5) -> torch.Tensor:
        return torch.where(self.uniform(0.0, 1.0, k) < p_plus, 1.0, -1.0).double()


def noise_generator(seed: int) -> torch.Generator:
    # A second stream, independent of the parameter block, so that noise does not shift with n.
    g = torch.Generator(device="cpu")
    g.manual_seed((int(seed) * 6364136223846793005 + 1442695040888963407) % (2**63))
    return g


# --------------------------------------------------------------------------- windowed rendering
def stamp(img: torch.Tensor, fn, cx: torch.Tensor, cy: torch.Tensor, half_extent: float,
           supersample: int = 1, weight: torch.Tensor | None = None) -> None:
    """Add ``fn(y, x)`` to each image of ``img`` ``[c, N, N]`` inside a square window only.

    A shape of circumradius ``half_extent`` (image units, common to the batch) centred at
    ``(cx, cy)`` (``[c, 1, 1]``) is evaluated on a window of about ``2 half_extent`` per side,
    ``supersample^2`` sub-samples per pixel, averaged and scatter-added (optionally multiplied by
    ``weight`` ``[c, N, N]`` gathered in the window). Evaluating small shapes on their window
    instead of the whole image is what makes thousands of training images cheap.
    """
    c, N, _ = img.shape
    pixel = 2.0 / N
    w = min(N, 2 * math.ceil(half_extent / pixel) + 3)
    col = torch.round((cx.reshape(c) + 1.0) / pixel - 0.5).long()
    row = torch.round((1.0 - cy.reshape(c)) / pixel - 0.5).long()
    # Clamping keeps the window inside the image; a shape inside the image stays inside it.
    col0 = (col - w // 2).clamp(0, N - w)
    row0 = (row - w // 2).clamp(0, N - w)
    fine = torch.arange(w * supersample, device=img.device)
    pos = lambda start: -1.0 + (2.0 * (start[:, None] * supersample + fine[None, :]) + 1.0) / (N * supersample)
    xs = pos(col0).to(img.dtype)[:, None, :]
    ys = (-pos(row0)).to(img.dtype)[:, :, None]
    vals = fn(ys, xs)
    if supersample > 1:
        vals = F.avg_pool2d(vals[:, None], supersample)[:, 0]
    ar = torch.arange(w, device=img.device)
    idx = ((row0[:, None, None] + ar[None, :, None]) * N + (col0[:, None, None] + ar[None, None, :])).reshape(c, -1)
    vals = vals.reshape(c, -1)
    if weight is not None:
        vals = vals * weight.reshape(c, -1).gather(1, idx)
    img.view(c, -1).scatter_add_(1, idx, vals)


# --------------------------------------------------------------------------- random ellipses
def random_ellipses(n: int, size: int = 128, seed: int = 0, *, min_ellipses: int = 3, max_ellipses: int = 10,
                    supersample: int = 2, dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` images of random overlapping ellipses, ``[n, size, size]`` in [0, 1].

    Like the Ell-50 training set (Jin et al. 2017): each image holds between ``min_ellipses`` and
    ``max_ellipses`` ellipses with centres in the disc of radius 0.5, semi-axes 0.05 to 0.4 (image
    units, the image spans [-1, 1]), uniform random orientation and intensity 0.1 to 1, summed and
    then divided by the image's maximum. Edges are anti-aliased by ``supersample^2`` sub-samples.
    Deterministic for ``seed``; image ``i`` does not depend on ``n``.
    """
    n, size = check_count(n), check_size(size)
    supersample = check_supersample(supersample)
    dtype = check_float_dtype(dtype)
    if not (isinstance(min_ellipses, int) and isinstance(max_ellipses, int) and 1 <= min_ellipses <= max_ellipses):
        raise InvalidInputError(
            f"need 1 <= min_ellipses <= max_ellipses (ints), got {min_ellipses!r}, {max_ellipses!r}")
    seeded_generator(seed)  # validates the seed
    E = max_ellipses
    cols = Columns(n, 1 + 7 * E, seed)
    count = cols.integers(min_ellipses, max_ellipses)
    rho = cols.uniform(0.1, 1.0, E) * (torch.arange(E)[None, :] < count).double()
    rad = 0.5 * torch.sqrt(cols.uniform(0, 1, E))
    ang = cols.uniform(0, 2 * math.pi, E)
    x0, y0 = rad * torch.cos(ang), rad * torch.sin(ang)
    a, b = cols.uniform(0.05, 0.4, E), cols.uniform(0.05, 0.4, E)
    phi = cols.uniform(0, math.pi, E)

    out = torch.empty(n, size, size, dtype=dtype, device=device)
    chunk = max(1, 2**21 // size**2)
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        img = torch.zeros(sl.stop - sl.start, size, size, dtype=torch.float32, device=device)
        for k in range(E):
            p = [t[sl, k].to(device=device, dtype=torch.float32)[:, None, None] for t in (a, b, x0, y0, phi, rho)]
            fn = lambda yy, xx, p=p: _ellipse_mask(yy, xx, p[0], p[1], p[2], p[3], p[4]).to(yy.dtype) * p[5]
            stamp(img, fn, p[2], p[3], 0.4, supersample)
        img = img / img.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
        out[sl] = img.clamp_(0.0, 1.0).to(dtype)
    return out


# --------------------------------------------------------------------------- textured phantoms
