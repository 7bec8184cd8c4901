"""from_deepinv: deepinv physics as our exact operators, deepinv models called with their own physics.

Runs against the real deepinv where it imports, else against tests/standins/deepinv (which mirrors
deepinv's public API: layouts [B, 2, H, W], centred orthonormal FFT, masks [B, 2, H, W]).
"""

import pytest
import torch

from conftest_standins import import_or_standin
from pytest_invstab import from_deepinv
from pytest_invstab.checks import worst_case
from pytest_invstab.errors import InvalidInputError, ReconstructorError
from pytest_invstab.operators import FourierOperator, as_operator
from pytest_invstab.validate import check_operator, check_reconstructor

dinv = import_or_standin("deepinv")
H, W = 32, 24


def _column_mask():
    cols = torch.zeros(W)
    cols[[2, 7, 10, 11, 12, 13, 19]] = 1.0
    return cols[None].expand(H, W).clone()


def _image(b=2, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 2, H, W, generator=g, dtype=dtype)  # deepinv layout (real, imag)


def test_mri_measurements_equal_deepinv_A_at_the_mask_positions():
    physics = dinv.physics.MRI(mask=_column_mask(), img_size=(H, W))
    op = from_deepinv(physics)
    assert isinstance(op, FourierOperator) and op.orientation == "columns"
    x = _image()
    xc = torch.complex(x[:, 0], x[:, 1])
    y_theirs = physics.A(x)  # [B, 2, H, W], zero off the mask
    mask = op.mask
    theirs = torch.complex(y_theirs[:, 0], y_theirs[:, 1])[:, mask]
    ours = op(xc)
    assert float((ours - theirs).abs().max()) < 1e-5 * float(theirs.abs().max())
    assert torch.allclose(op.to_native(ours), y_theirs, atol=1e-5)
    back = op.adjoint(ours)
    ref = physics.A_adjoint(y_theirs)
    assert float((back - torch.complex(ref[:, 0], ref[:, 1])).abs().max()) < 1e-5


def test_multicoil_measurements_equal_deepinv_A_with_the_users_coil_maps():
    g = torch.Generator().manual_seed(1)
    maps = torch.randn(1, 20, H, W, dtype=torch.complex64, generator=g)  # not RSS-normalised
    physics = dinv.physics.MultiCoilMRI(mask=_column_mask(), coil_maps=maps, img_size=(H, W))
    op = from_deepinv(physics)
    assert op.coils == 20
    x = _image(seed=3)
    y = physics.A(x)  # [B, 2, N, H, W]
    theirs = torch.complex(y[:, 0], y[:, 1])[..., op.mask]
    ours = op(torch.complex(x[:, 0], x[:, 1]))
    assert float((ours - theirs).abs().max()) < 1e-5 * float(theirs.abs().max())
    assert torch.allclose(op.to_native(ours), y, atol=1e-5)


def test_mri_at_rate_rebuilds_the_users_physics_and_leaves_it_alone():
    physics = dinv.physics.MRI(mask=_column_mask(), img_size=(H, W))
    before = physics.mask.clone()
    op = from_deepinv(physics)
    assert op.native_physics() is physics and op.at_rate(op.rate).native_physics() is physics
    bigger = op.at_rate(0.5)
    assert bigger.rate == pytest.approx(12 / W)
    p2 = bigger.native_physics()
    assert p2 is not physics and torch.equal(p2.mask[0, 0].bool(), bigger.mask)
    assert torch.equal(physics.mask, before)
    assert not bool((op.mask & ~bigger.mask).any())


class _Backbone(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        return x + 0.1 * self.conv(x)


def test_a_model_taking_physics_is_called_with_the_users_physics():
    torch.manual_seed(0)
    physics = dinv.physics.MRI(mask=_column_mask(), img_size=(H, W))
    model = dinv.models.ArtifactRemoval(_Backbone())
    op = from_deepinv(physics)
    f = check_reconstructor(model)
    x = _image(1)
    y = op(torch.complex(x[:, 0], x[:, 1]))
    with torch.no_grad():
        out = f(y, op)
        ref = model(physics.A(x), physics)
    assert out.shape == (1, H, W) and out.is_complex()
    assert torch.allclose(out, torch.complex(ref[:, 0], ref[:, 1]), atol=1e-5)
    # the same through from_deepinv(model=...)
    with torch.no_grad():
        assert torch.allclose(from_deepinv(model=model)(y, op), out)


def test_a_deepinv_model_with_our_operator_is_one_error_naming_from_deepinv():
    model = dinv.models.ArtifactRemoval(_Backbone())
    op = FourierOperator((H, W), 0.3)
    f = check_reconstructor(model)
    with pytest.raises(ReconstructorError, match="from_deepinv"):
        f(op(torch.rand(1, H, W)), op)


def test_worst_case_runs_through_from_deepinv_and_gives_a_verdict():
    torch.manual_seed(0)
    physics = dinv.physics.MRI(mask=_column_mask(), img_size=(H, W))
    model = dinv.models.ArtifactRemoval(_Backbone())
    x = torch.zeros(1, H, W)
    x[:, 8:24, 6:18] = 1.0
    res = worst_case(model, from_deepinv(physics), x, eps=0.02, max_artifact=0.5, steps=5, restarts=1, sanity=False,
                     baseline=None)
    assert res.verdict in ("passed", "failed") and res.metrics


def test_tomography_adapter_angles_direct_and_nested_rates():
    physics = dinv.physics.Tomography(angles=12, img_width=W, normalize=False)
    op = from_deepinv(physics)
    assert op.image_shape == (W, W) and op.measurement_shape == (1, W, 12)
    x = torch.rand(2, W, W)
    assert torch.allclose(op(x), physics.A(x[:, None]))
    assert op.verify() < 1e-4
    assert torch.allclose(op.direct(op(x)), physics.A_dagger(physics.A(x[:, None]), fbp=True)[:, 0], atol=1e-5)
    same = op.at_rate(op.rate)
    assert torch.allclose(same.physics.theta.sort().values, physics.theta.sort().values)
    more = op.at_rate(2 * op.rate)
    assert len(more.physics.theta) == 24
    theirs = set(round(float(a), 4) for a in physics.theta)
    assert theirs <= set(round(float(a), 4) for a in more.physics.theta)
    fewer = op.at_rate(op.rate / 2)
    assert set(round(float(a), 4) for a in fewer.physics.theta) <= theirs


def test_an_inexact_adjoint_is_one_error_and_autograd_fixes_it():
    physics = dinv.physics.Tomography(angles=10, img_width=W, normalize=False, adjoint_via_backprop=False)
    op = from_deepinv(physics)
    with pytest.raises(InvalidInputError, match=r"adjoint is not the adjoint.*= [0-9.e-]+ > .*adjoint='autograd'"):
        op(torch.rand(1, W, W))
    fixed = from_deepinv(physics, adjoint="autograd")
    assert fixed.verify() < 1e-5


class _MyOperator:
    """A user's operator by protocol: a row-subsampling of a real image."""

    def __init__(self, wrong=False):
        self.image_shape = (8, 8)
        self.wrong = wrong

    def forward(self, x):
        return x[:, ::2, :].reshape(x.shape[0], -1)

    def adjoint(self, y):
        out = torch.zeros(y.shape[0], 8, 8, dtype=y.dtype)
        out[:, ::2, :] = y.reshape(y.shape[0], 4, 8) * (1.5 if self.wrong else 1.0)
        return out


def test_protocol_operators_are_accepted_and_wrong_adjoints_caught():
    op = check_operator(_MyOperator())
    assert op.measurement_shape == (32,) and op.rate == pytest.approx(0.5)
    assert op.verify() < 1e-7
    bad = as_operator(_MyOperator(wrong=True))
    with pytest.raises(InvalidInputError, match=r"= [0-9.e-]+ > 0\.0001.*adjoint='autograd'"):
        bad.adjoint(torch.rand(1, 32))
    auto = as_operator(_MyOperator(wrong=True), adjoint="autograd")
    y = torch.rand(1, 32)
    assert torch.allclose(auto.adjoint(y), _MyOperator().adjoint(y))
    with pytest.raises(InvalidInputError, match="image_shape"):
        as_operator(type("NoShape", (), {"forward": lambda s, x: x, "adjoint": lambda s, y: y})())
