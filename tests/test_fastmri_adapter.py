"""Layouts and from_fastmri against fastMRI's own transforms (real fastmri where it imports).

Without fastmri they run against tests/standins/fastmri, and the measurements are also checked
against an independent numpy formula of fastMRI's ``fft2c``.
"""

import pytest
import torch

from conftest_standins import import_or_standin
from pytest_invstab import from_fastmri, from_image_network
from pytest_invstab.layouts import (
    fastmri_mask,
    from_complex,
    kspace_to_measurements,
    measurements_to_kspace,
    num_low_frequencies,
    to_complex,
)
from pytest_invstab.operators import FourierOperator, MultiCoilFourierOperator

H, W = 40, 32

fastmri = import_or_standin("fastmri")  # the real one where it imports, else tests/standins/fastmri
from fastmri.data import transforms as T  # noqa: E402
from fastmri.data.subsample import RandomMaskFunc  # noqa: E402

REAL = not getattr(fastmri, "STANDIN", False)


def _fft2c_reference(x: torch.Tensor) -> torch.Tensor:
    """fastMRI's fft2c on a [..., H, W, 2] tensor, written independently with numpy."""
    import numpy as np

    z = x[..., 0].double().numpy() + 1j * x[..., 1].double().numpy()
    k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(z, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    return torch.from_numpy(np.stack([k.real, k.imag], -1))


def _image(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, 2, generator=g)


def _fft2c(x):
    k = fastmri.fft2c(x)
    assert torch.allclose(k.double(), _fft2c_reference(x), atol=1e-5)  # fastMRI's fft2c is the centred unitary DFT
    return k


def test_measurements_equal_fft2c_at_the_mask_positions():
    op = FourierOperator((H, W), 0.3, seed=1)
    x = _image((2, H, W))
    k = _fft2c(x)  # [B, H, W, 2]
    ours = op(to_complex(x, "fastmri"))
    theirs = to_complex(k, "fastmri")[:, op.mask]
    assert float((ours - theirs).abs().max()) < 1e-5 * float(theirs.abs().max())
    # and back: zero-filled grid in fastMRI's layout equals the masked fft2c
    grid = measurements_to_kspace(ours, op, "fastmri")
    assert torch.allclose(grid, k * op.mask[None, :, :, None], atol=1e-5)
    assert torch.equal(kspace_to_measurements(grid, op, "fastmri"), ours)


def test_fastmri_apply_mask_and_ifft2c_agree_with_the_operator():
    mf = RandomMaskFunc([0.08], [4])
    op = FourierOperator.from_mask_func(mf, (H, W), seed=3)
    x = _image((1, H, W), seed=2)
    k = fastmri.fft2c(x)
    masked, mask, nlf = T.apply_mask(k[0], mf, seed=3)
    assert torch.equal(mask.reshape(-1).bool(), op.mask[0])
    assert torch.allclose(measurements_to_kspace(op(to_complex(x, "fastmri")), op, "fastmri")[0], masked, atol=1e-5)
    zf = fastmri.ifft2c(masked)
    assert torch.allclose(from_complex(op.adjoint(op(to_complex(x, "fastmri"))), "fastmri")[0], zf, atol=1e-5)
    assert num_low_frequencies(op) == nlf


def test_layout_round_trips_and_deepinv_layout():
    z = torch.randn(2, 3, H, W, dtype=torch.complex64)
    d = from_complex(z, "deepinv")
    assert d.shape == (2, 2, 3, H, W) and torch.equal(d[:, 0], z.real) and torch.equal(d[:, 1], z.imag)
    assert torch.equal(to_complex(d, "deepinv"), z)
    assert torch.equal(to_complex(from_complex(z, "fastmri"), "fastmri"), z)


def _unet(in_chans=1):
    from fastmri.models import Unet

    return Unet(in_chans, 1 if in_chans == 1 else 2, chans=4, num_pool_layers=2)


def test_from_fastmri_unet_uses_instance_normalisation():
    torch.manual_seed(0)
    net = _unet(1).eval()
    f = from_fastmri(net)
    op = FourierOperator((H, W), 0.4)
    x = torch.rand(1, H, W)
    y = op(x)
    zf = op.direct(y).abs()[:, None]
    mean, std = zf.mean(), zf.std()
    with torch.no_grad():
        ref = net(((zf - mean) / (std + 1e-11)).clamp(-6, 6)) * std + mean
        out = f(y, op)
    assert torch.allclose(out, ref[:, 0], atol=1e-6)
    # fastMRI's own normalize_instance gives the same input
    norm, m2, s2 = T.normalize_instance(zf[0, 0], eps=1e-11)
    assert torch.allclose(norm, (zf[0, 0] - mean) / (std + 1e-11), atol=1e-6)
    plain = from_image_network(net)
    with torch.no_grad():
        assert not torch.allclose(plain(y, op), out, atol=1e-3)


def test_from_fastmri_varnet_gets_its_layout_mask_and_low_frequencies():
    from fastmri.models import VarNet

    torch.manual_seed(0)
    net = VarNet(num_cascades=2, sens_chans=2, sens_pools=2, chans=4, pools=2).eval()
    op = MultiCoilFourierOperator.from_mask_func(RandomMaskFunc([0.08], [4]), (H, W), seed=0, coils=4)
    x = torch.rand(1, H, W)
    y = op(x)
    k = measurements_to_kspace(y, op, "fastmri")
    assert k.shape == (1, op.coils, H, W, 2)
    mask = fastmri_mask(op)
    assert mask.shape == (1, 1, 1, W, 1) and mask.dtype == torch.bool
    with torch.no_grad():
        out = from_fastmri(net)(y, op)
        ref = net(k, mask, None)
    assert out.shape == (1, H, W) and torch.allclose(out, ref)
    rows = FourierOperator((H, W), 0.3, orientation="rows")
    with pytest.raises(Exception, match="column mask"):
        from_fastmri(net)(rows(x), rows)
