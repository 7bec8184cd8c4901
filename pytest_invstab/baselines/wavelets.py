"""Orthonormal, periodised, multilevel 2-D discrete wavelet transform in plain torch.

The transform uses PyWavelets' filter banks (``pywt.Wavelet(name).dec_lo`` / ``dec_hi``)
and circular boundary handling, so it is an orthogonal map of ``R^{H x W}``: the inverse is
the exact adjoint and soft-thresholding of its coefficients is an exact proximal step.

Coefficients are returned in the standard pyramid packing (the layout of
``pywt.coeffs_to_array``): a tensor with the image's shape ``[B, H, W]`` whose top-left
``H / 2^J x W / 2^J`` block holds the coarsest approximation and whose other blocks hold
the detail bands, coarse to fine. At each level the block ``[rows, cols]`` is
``[low, high]`` -> ``cV`` (pywt ``'ad'``), ``[high, low]`` -> ``cH`` (``'da'``),
``[high, high]`` -> ``cD`` (``'dd'``). With the alignment chosen here every band equals
PyWavelets' ``wavedec2(x, wavelet, mode="periodization", level=J)`` exactly (circular
shift 0); ``tests/test_wavelets.py`` searches for the shift and checks this.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import InvalidInputError

#: the default depth is "as many levels as fit", capped here: deeper levels of a 128-pixel
#: image hold only a few coefficients and do not help sparsity.
MAX_DEFAULT_LEVELS = 4


def wavelet_filters(name: str) -> tuple[list[float], list[float]]:
    """The orthogonal wavelet ``name``'s decomposition filters (low-pass, high-pass); raises for others."""
    import pywt

    try:
        w = pywt.Wavelet(name)
    except ValueError:
        families = ", ".join(f for f in ("haar", "db1..db38", "sym2..sym20", "coif1..coif17"))
        raise InvalidInputError(
            f"unknown wavelet {name!r}; use an orthogonal PyWavelets name ({families})"
        ) from None
    if not w.orthogonal:
        raise InvalidInputError(
            f"wavelet {name!r} is not orthogonal, so its DWT is not orthonormal; "
            "use an orthogonal family: haar, dbN, symN or coifN"
        )
    return list(w.dec_lo), list(w.dec_hi)


def max_levels(size: int, filter_length: int) -> int:
    """The deepest periodised DWT this package accepts on one axis of ``size`` pixels.

    Every level halves the axis, so ``size`` must be divisible by ``2^J``, and the input of
    every level must be at least as long as the filter (else the circular wrap would fold
    the filter onto itself and the fast transform would no longer be orthonormal).
    """
    levels = 0
    n = size
    while n % 2 == 0 and n >= filter_length and n >= 2:
        levels += 1
        n //= 2
    return levels


class Wavelet2D:
    """Orthonormal periodised multilevel 2-D DWT of images ``[B, H, W]`` (real or complex).

    Args:
        shape: the image shape ``(H, W)`` in pixels.
        wavelet: a PyWavelets orthogonal wavelet name (``"db4"``, ``"haar"``, ``"sym8"`` ...).
        levels: the decomposition depth ``J``; default: as many as fit, at most
            ``MAX_DEFAULT_LEVELS`` (4). ``H`` and ``W`` must be divisible by ``2^J`` and
            ``H / 2^(J-1)``, ``W / 2^(J-1)`` must be at least the filter length.
        device, dtype: where the filters live and their real dtype (float32 default);
            inputs of another real dtype or device are handled by a cached filter copy.

    ``forward(x)`` returns the packed coefficients ``[B, H, W]`` (complex for complex
    input: the transform acts on real and imaginary parts), ``inverse(c)`` the image; they
    are exact inverses and adjoints of each other up to float rounding.
    """

    def __init__(
        self,
        shape: tuple[int, int] | int,
        wavelet: str = "db4",
        levels: int | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if isinstance(shape, int):
            shape = (shape, shape)
        shape = tuple(int(s) for s in shape)
        if len(shape) != 2 or min(shape) < 1:
            raise InvalidInputError(f"shape must be (H, W) with positive sizes, got {shape}")
        dec_lo, dec_hi = wavelet_filters(wavelet)
        length = len(dec_lo)
        fit = min(max_levels(shape[0], length), max_levels(shape[1], length))
        if fit == 0:
            raise InvalidInputError(
                f"a {wavelet} DWT (filter length {length}) cannot decompose an image of shape {shape}: "
                f"H and W must be even and at least {length}; pad the image to an even size, use a "
                "shorter filter (wavelet='haar'), or the TV baseline (CSBaseline(method='tv')), which takes any size"
            )
        if levels is None:
            levels = min(fit, MAX_DEFAULT_LEVELS)
        if isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= fit:
            raise InvalidInputError(
                f"levels={levels!r} does not fit a {wavelet} DWT (filter length {length}) on shape {shape}: "
                f"valid levels are 1..{fit} (H and W divisible by 2^levels and H/2^(levels-1), "
                f"W/2^(levels-1) >= {length}), or levels=None for the default"
            )
        self.shape = shape
        self.wavelet = wavelet
        self.levels = levels
        self.filter_length = length
        self.device = torch.device(device)
        self.dtype = dtype
        # Analysis is a cross-correlation (conv2d) with the reversed decomposition filters,
        # one axis at a time; a circular left pad of L/2 - 1 aligns the output with pywt's
        # periodization mode (shift 0).
        f = torch.tensor([dec_lo[::-1], dec_hi[::-1]], dtype=torch.float64)  # [2 bands, L]
        p = length // 2 - 1
        # Synthesis in polyphase form: output sample 2m + r is a plain (stride-1) correlation
        # of the bands with the taps f[2i + r + p]; this is ~3x faster than conv_transpose2d.
        i_lo = min(-((r + p) // 2) for r in (0, 1))
        i_hi = max((length - 1 - r - p) // 2 for r in (0, 1))
        u = torch.zeros(2, 2, i_hi - i_lo + 1, dtype=torch.float64)  # [band, phase, tap]
        for r in (0, 1):
            for i in range(i_lo, i_hi + 1):
                if 0 <= 2 * i + r + p < length:
                    u[:, r, i - i_lo] = f[:, 2 * i + r + p]
        syn = u.permute(1, 0, 2).flip(-1)  # [phase, band, tap], flipped: the transpose
        self._pad = p
        self._syn_pad = (i_hi, -i_lo)
        self._kernels64 = {
            "ana_w": f[:, None, None, :], "ana_h": f[:, None, :, None],
            "syn_h": syn[:, :, :, None], "syn_w": syn[:, :, None, :],
        }
        self._kernels: dict[tuple[torch.dtype, torch.device], dict[str, torch.Tensor]] = {}
        self._bank(dtype, self.device)

    # -- filters -------------------------------------------------------------------
    def _bank(self, dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
        key = (dtype, torch.device(device))
        bank = self._kernels.get(key)
        if bank is None:
            bank = {k: v.to(device=device, dtype=dtype).contiguous() for k, v in self._kernels64.items()}
            self._kernels[key] = bank
        return bank

    @property
    def detail_mask(self) -> torch.Tensor:
        """Bool ``[H, W]``: True on detail coefficients, False on the coarsest approximation band."""
        mask = torch.ones(self.shape, dtype=torch.bool, device=self.device)
        h, w = self.shape[0] >> self.levels, self.shape[1] >> self.levels
        mask[:h, :w] = False
        return mask

    def band_slices(self) -> list[dict[str, tuple[slice, slice]]]:
        """Where each band sits in the packed layout, coarse to fine (pywt's ``coeff_slices`` order).

        Element 0 is ``{"a": slices}`` for the approximation, then one dict per level with keys
        ``"da"`` (pywt cH), ``"ad"`` (cV), ``"dd"`` (cD).
        """
        h, w = self.shape[0] >> self.levels, self.shape[1] >> self.levels
        out: list[dict[str, tuple[slice, slice]]] = [{"a": (slice(0, h), slice(0, w))}]
        for _ in range(self.levels):
            out.append({
                "da": (slice(h, 2 * h), slice(0, w)),
                "ad": (slice(0, h), slice(w, 2 * w)),
                "dd": (slice(h, 2 * h), slice(w, 2 * w)),
            })
            h, w = 2 * h, 2 * w
        return out

    # -- validation ----------------------------------------------------------------
    def _check(self, x: torch.Tensor, what: str) -> None:
        if not isinstance(x, torch.Tensor):
            raise InvalidInputError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 3 or tuple(x.shape[1:]) != self.shape:
            hint = " (add the batch dimension: x[None])" if tuple(x.shape) == self.shape else ""
            raise InvalidInputError(
                f"Wavelet2D{self.shape} expects {what} of shape [B, {self.shape[0]}, {self.shape[1]}], "
                f"got {list(x.shape)}{hint}"
            )
        if not (x.is_floating_point() or x.is_complex()):
            raise InvalidInputError(f"{what} must be a float or complex tensor, got {x.dtype}; use x.float()")

    # -- one level -----------------------------------------------------------------
    def _analysis(self, x: torch.Tensor) -> torch.Tensor:
        """[N, h, w] real -> [N, 2 (col band), 2 (row band), h/2, w/2]; band 0 = low, 1 = high."""
        k = self._bank(x.dtype, x.device)
        n, h, w = x.shape
        p, q = self._pad, self.filter_length - 2 - self._pad
        xp = F.pad(x[:, None], (p, q, p, q), mode="circular") if p or q else x[:, None]
        r = F.conv2d(xp, k["ana_w"], stride=(1, 2))  # filter along W: [N, 2, h + p + q, w/2]
        r = r.reshape(n * 2, 1, r.shape[-2], r.shape[-1])
        c = F.conv2d(r, k["ana_h"], stride=(2, 1))  # filter along H: [2N, 2, h/2, w/2]
        return c.reshape(n, 2, 2, h // 2, w // 2)

    def _synthesis(self, ll: torch.Tensor, lh: torch.Tensor, hl: torch.Tensor, hh: torch.Tensor) -> torch.Tensor:
        """Bands ``[N, h/2, w/2]`` (rows-cols: low-low, low-high, high-low, high-high) -> ``[N, h, w]``.

        The exact adjoint (= inverse) of ``_analysis``.
        """
        k = self._bank(ll.dtype, ll.device)
        n, h2, w2 = ll.shape
        a, b = self._syn_pad
        # Undo the H-axis filtering, for each column band: channels = row bands.
        t = torch.stack([ll, hl, lh, hh], dim=1).reshape(n * 2, 2, h2, w2)
        if a or b:
            t = F.pad(t, (0, 0, a, b), mode="circular")
        t = F.conv2d(t, k["syn_h"])  # [2N, 2 phases, h/2, w/2]
        t = t.permute(0, 2, 1, 3).reshape(n, 2, 2 * h2, w2)  # interleave phases along H
        # Undo the W-axis filtering: channels = column bands.
        if a or b:
            t = F.pad(t, (a, b, 0, 0), mode="circular")
        t = F.conv2d(t, k["syn_w"])  # [N, 2 phases, h, w/2]
        return t.permute(0, 2, 3, 1).reshape(n, 2 * h2, 2 * w2)  # interleave along W

    # -- multilevel ----------------------------------------------------------------
    def _forward_real(self, x: torch.Tensor) -> torch.Tensor:
        def recurse(a: torch.Tensor, level: int) -> torch.Tensor:
            bands = self._analysis(a)  # [N, col band, row band, h/2, w/2]
            ll = bands[:, 0, 0]
            if level + 1 < self.levels:
                ll = recurse(ll, level + 1)
            top = torch.cat([ll, bands[:, 1, 0]], dim=-1)
            bottom = torch.cat([bands[:, 0, 1], bands[:, 1, 1]], dim=-1)
            return torch.cat([top, bottom], dim=-2)

        return recurse(x, 0)

    def _inverse_real(self, c: torch.Tensor) -> torch.Tensor:
        def recurse(block: torch.Tensor, level: int) -> torch.Tensor:
            h, w = block.shape[-2:]
            h2, w2 = h // 2, w // 2
            ll = block[:, :h2, :w2]
            if level + 1 < self.levels:
                ll = recurse(ll, level + 1)
            return self._synthesis(ll, block[:, :h2, w2:], block[:, h2:, :w2], block[:, h2:, w2:])

        return recurse(c, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Packed coefficients ``[B, H, W]`` of images ``x`` ``[B, H, W]`` (complex in, complex out)."""
        self._check(x, "images")
        if x.is_complex():
            b = x.shape[0]
            c = self._forward_real(torch.cat([x.real, x.imag], dim=0))
            return torch.complex(c[:b], c[b:])
        return self._forward_real(x)

    __call__ = forward

    def inverse(self, c: torch.Tensor) -> torch.Tensor:
        """Images ``[B, H, W]`` from packed coefficients ``[B, H, W]``; the exact adjoint of ``forward``."""
        self._check(c, "coefficients")
        if c.is_complex():
            b = c.shape[0]
            x = self._inverse_real(torch.cat([c.real, c.imag], dim=0))
            return torch.complex(x[:b], x[b:])
        return self._inverse_real(c)

    adjoint = inverse

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "Wavelet2D":
        return Wavelet2D(self.shape, self.wavelet, self.levels, device or self.device, dtype or self.dtype)

    def __repr__(self) -> str:
        return f"Wavelet2D(shape={self.shape}, wavelet={self.wavelet!r}, levels={self.levels})"
