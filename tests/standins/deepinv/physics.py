"""deepinv.physics stand-in: the public API of deepinv's MRI, MultiCoilMRI and Tomography.

Conventions (as deepinv): complex images and k-space are real tensors with a channel dim of 2
(real, imag) at dim 1: images ``[B, 2, H, W]``; single-coil k-space ``[B, 2, H, W]``; multi-coil
``[B, 2, N, H, W]``. The FFT is centred and orthonormal (``ifftshift -> fftn(norm="ortho") ->
fftshift``). Masks are stored as ``[B, 2, H, W]`` (``check_mask`` adds dims and duplicates one
channel). Coil maps are complex ``[B, N, H, W]``, used as given. Tomography: ``theta`` in degrees
(an int ``angles`` gives ``linspace(0, 180, angles + 1)[:-1]``), images ``[B, C, W, W]``, sinograms
``[B, C, W, n_angles]``, projection by rotating the image (``affine_grid`` + ``grid_sample``) and
summing columns; ``A_adjoint`` by autograd (``adjoint_via_backprop=True``) or by rotating back
(inexact, as deepinv warns); ``A_dagger(y, fbp=True)`` is the filtered back-projection.
"""

from __future__ import annotations

import math

import numpy as np
import torch


class LinearPhysics(torch.nn.Module):
    def __init__(self, device="cpu", **kwargs):
        super().__init__()
        self.device = device

    def forward(self, x, **kwargs):
        return self.A(x, **kwargs)

    def update(self, **kwargs):
        self.update_parameters(**kwargs)

    def update_parameters(self, **kwargs):
        for k, v in kwargs.items():
            if v is not None:
                setattr(self, k, v)

    def A_dagger(self, y, n_iter: int = 50, **kwargs):
        """Least squares by conjugate gradient on A^T A x = A^T y."""
        b = self.A_adjoint(y)
        x = torch.zeros_like(b)
        r = b.clone()
        p = r.clone()
        rs = (r * r).sum()
        for _ in range(n_iter):
            ap = self.A_adjoint(self.A(p))
            alpha = rs / (p * ap).sum().clamp_min(1e-30)
            x = x + alpha * p
            r = r - alpha * ap
            new = (r * r).sum()
            if float(new) < 1e-20:
                break
            p = r + (new / rs) * p
            rs = new
        return x


class MRIMixin:
    @staticmethod
    def check_mask(mask=None, three_d: bool = False, device=None):
        if mask is not None:
            if isinstance(mask, np.ndarray):
                mask = torch.from_numpy(mask)
            while mask.dim() < 4:
                mask = mask.unsqueeze(0)
            if mask.shape[1] == 1:
                mask = torch.cat([mask, mask], dim=1)
        return mask

    @staticmethod
    def to_torch_complex(x):
        return torch.view_as_complex(x.moveaxis(1, -1).contiguous())

    @staticmethod
    def from_torch_complex(x):
        return torch.view_as_real(x).moveaxis(-1, 1)

    @staticmethod
    def fft(x, dim=(-2, -1), norm="ortho"):
        return torch.fft.fftshift(torch.fft.fftn(torch.fft.ifftshift(x, dim=dim), dim=dim, norm=norm), dim=dim)

    @staticmethod
    def ifft(x, dim=(-2, -1), norm="ortho"):
        return torch.fft.fftshift(torch.fft.ifftn(torch.fft.ifftshift(x, dim=dim), dim=dim, norm=norm), dim=dim)


class MRI(MRIMixin, LinearPhysics):
    def __init__(self, mask=None, img_size=(320, 320), three_d=False, device="cpu", **kwargs):
        super().__init__(device=device)
        self.img_size, self.three_d = img_size, three_d
        if mask is None:
            mask = torch.ones(*img_size, device=device)
        self.register_buffer("mask", self.check_mask(mask).to(device))

    def A(self, x, mask=None, **kwargs):
        self.update_parameters(mask=mask)
        return self.mask * self.from_torch_complex(self.fft(self.to_torch_complex(x)))

    def A_adjoint(self, y, mask=None, **kwargs):
        self.update_parameters(mask=mask)
        return self.from_torch_complex(self.ifft(self.to_torch_complex(self.mask * y)))

    def A_dagger(self, y, mask=None, **kwargs):
        return self.A_adjoint(y, mask=mask)  # mask entries are 0/1: the pseudo-inverse is the adjoint

    def update_parameters(self, mask=None, check_mask=True, **kwargs):
        if mask is not None:
            self.register_buffer("mask", self.check_mask(mask) if check_mask else mask)


class MultiCoilMRI(MRIMixin, LinearPhysics):
    def __init__(self, mask=None, coil_maps=None, img_size=(320, 320), three_d=False, device="cpu", **kwargs):
        super().__init__(device=device)
        self.img_size, self.three_d = img_size, three_d
        if mask is None:
            mask = torch.ones(*img_size)
        if coil_maps is None:
            coil_maps = torch.ones(tuple(img_size[-2:]), dtype=torch.complex64)
        self.update_parameters(mask=mask, coil_maps=coil_maps)

    def A(self, x, mask=None, coil_maps=None, **kwargs):
        self.update_parameters(mask=mask, coil_maps=coil_maps)
        sx = self.coil_maps * self.to_torch_complex(x)[:, None]
        return self.mask[:, :, None] * self.from_torch_complex(self.fft(sx))

    def A_adjoint(self, y, mask=None, coil_maps=None, **kwargs):
        self.update_parameters(mask=mask, coil_maps=coil_maps)
        fy = self.ifft(self.to_torch_complex(self.mask[:, :, None] * y))
        return self.from_torch_complex((self.coil_maps.conj() * fy).sum(1))

    def update_parameters(self, mask=None, coil_maps=None, check_mask=True, **kwargs):
        if mask is not None:
            self.register_buffer("mask", self.check_mask(mask) if check_mask else mask)
        if coil_maps is not None:
            while coil_maps.dim() < 4:
                coil_maps = coil_maps.unsqueeze(0)
            self.register_buffer("coil_maps", coil_maps)


class Tomography(LinearPhysics):
    def __init__(self, angles, img_width, circle=False, parallel_computation=True, adjoint_via_backprop=True,
                 fbp_interpolate_boundary=False, normalize=None, fan_beam=False, fan_parameters=None,
                 device="cpu", dtype=torch.float, **kwargs):
        super().__init__(device=device)
        if isinstance(angles, int):
            theta = torch.linspace(0, 180, steps=angles + 1, device=device)[:-1]
        else:
            theta = torch.as_tensor(angles, device=device)
        self.register_buffer("theta", theta.to(dtype))
        self.img_width, self.circle, self.dtype = img_width, circle, dtype
        self.adjoint_via_backprop, self.fan_beam = adjoint_via_backprop, fan_beam
        self.normalize = False
        if normalize is None:
            normalize = True
        if normalize:
            x = torch.randn(1, 1, img_width, img_width, generator=torch.Generator().manual_seed(0), dtype=dtype)
            for _ in range(30):
                x = self.A_adjoint(self.A(x))
                n = x.norm()
                x = x / n
            self.register_buffer("operator_norm", n.sqrt())
            self.normalize = True

    def _grids(self, sign: float):
        t = self.theta.double() * math.pi / 180 * sign
        c, s = torch.cos(t), torch.sin(t)
        rot = torch.stack([torch.stack([c, -s, 0 * c], -1), torch.stack([s, c, 0 * c], -1)], 1)
        w = self.img_width
        return torch.nn.functional.affine_grid(rot.to(self.dtype), (len(t), 1, w, w), align_corners=False)

    def _radon(self, x):
        b, ch, w, _ = x.shape
        grid = self._grids(1.0)
        flat = x.reshape(b * ch, 1, w, w)
        rot = torch.nn.functional.grid_sample(
            flat[:, None].expand(-1, len(self.theta), -1, -1, -1).reshape(-1, 1, w, w),
            grid.repeat(b * ch, 1, 1, 1), align_corners=False)
        return rot.reshape(b, ch, len(self.theta), w, w).sum(-2).transpose(-1, -2)  # [B, C, W, n_angles]

    def _backproject(self, y):
        b, ch, w, n = y.shape
        smear = y.transpose(-1, -2)[..., None, :].expand(b, ch, n, w, w).reshape(-1, 1, w, w)
        rot = torch.nn.functional.grid_sample(smear, self._grids(-1.0).repeat(b * ch, 1, 1, 1), align_corners=False)
        return rot.reshape(b, ch, n, w, w).sum(2)

    def A(self, x, **kwargs):
        out = self._radon(x)
        return out / self.operator_norm if self.normalize else out

    def A_adjoint(self, y, **kwargs):
        if self.adjoint_via_backprop:
            x = torch.zeros(y.shape[0], y.shape[1], self.img_width, self.img_width, dtype=y.dtype, requires_grad=True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad((self.A(x) * y).sum(), x, create_graph=y.requires_grad)
            return g
        out = self._backproject(y)
        return out / self.operator_norm if self.normalize else out

    def fbp(self, y, **kwargs):
        n_det = y.shape[-2]
        size = 2 ** int(math.ceil(math.log2(2 * n_det)))
        freq = torch.fft.fftfreq(size, dtype=torch.float64).abs().to(y.dtype)
        spec = torch.fft.fft(torch.nn.functional.pad(y.transpose(-1, -2), (0, size - n_det)), dim=-1)
        filt = torch.fft.ifft(spec * freq * 2, dim=-1).real[..., :n_det].transpose(-1, -2)
        out = self.A_adjoint(filt) * math.pi / (2 * len(self.theta))
        return out * self.operator_norm**2 if self.normalize else out

    def A_dagger(self, y, fbp=False, **kwargs):
        return self.fbp(y) if fbp else super().A_dagger(y, **kwargs)
