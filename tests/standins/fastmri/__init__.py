"""Stand-in for ``fastmri`` 0.3 (see tests/standins/README.md): the layout [..., 2] (real, imag in
the last dim), the centred orthonormal ``fft2c`` / ``ifft2c``, ``complex_abs``, ``rss``, and
``models`` / ``data`` with the call signatures the adapters use. ``STANDIN = True``."""

import torch

from . import data, models  # noqa: F401

STANDIN = True


def fft2c(data: torch.Tensor, norm: str = "ortho") -> torch.Tensor:
    z = torch.view_as_complex(data.contiguous())
    k = torch.fft.fftshift(torch.fft.fftn(torch.fft.ifftshift(z, dim=(-2, -1)), dim=(-2, -1), norm=norm), dim=(-2, -1))
    return torch.view_as_real(k)


def ifft2c(data: torch.Tensor, norm: str = "ortho") -> torch.Tensor:
    z = torch.view_as_complex(data.contiguous())
    x = torch.fft.fftshift(torch.fft.ifftn(torch.fft.ifftshift(z, dim=(-2, -1)), dim=(-2, -1), norm=norm), dim=(-2, -1))
    return torch.view_as_real(x)


def complex_abs(data: torch.Tensor) -> torch.Tensor:
    return (data**2).sum(dim=-1).sqrt()


def rss(data: torch.Tensor, dim: int = 0) -> torch.Tensor:
    return torch.sqrt((data**2).sum(dim))
