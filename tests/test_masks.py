"""Masks as users have them (issue 10): every accepted shape, fastMRI mask functions, nested rates."""

import numpy as np
import pytest
import torch

from pytest_invstab.errors import InvalidInputError
from pytest_invstab.operators import FourierOperator, MultiCoilFourierOperator
from pytest_invstab.operators.masks import UserMaskPattern, as_mask

H, W = 24, 32


def _columns():
    cols = torch.zeros(W, dtype=torch.bool)
    cols[[1, 5, 14, 15, 16, 17, 22, 30]] = True
    return cols


def _all_forms(cols):
    grid = cols[None].expand(H, W).clone()
    return {
        "bool [H, W]": grid,
        "float [H, W]": grid.float(),
        "int [H, W]": grid.int(),
        "numpy [H, W]": grid.numpy().astype(np.float32),
        "[W]": cols,
        "fastMRI [1, 1, W, 1]": cols.float().reshape(1, 1, W, 1),
        "fastMRI multi-coil [1, 1, 1, W, 1]": cols.float().reshape(1, 1, 1, W, 1),
        "deepinv [1, 2, H, W]": grid.float()[None, None].expand(1, 2, H, W),
        "deepinv [3, 1, H, W]": grid.float()[None, None].expand(3, 1, H, W),
        "deepinv [2, H, W]": grid.float()[None].expand(2, H, W),
    }


def test_every_accepted_mask_shape_gives_the_same_operator():
    cols = _columns()
    ref = FourierOperator(mask=cols[None].expand(H, W).clone(), dtype=torch.float64)
    x = torch.randn(2, H, W, dtype=torch.complex128, generator=torch.Generator().manual_seed(0))
    for name, m in _all_forms(cols).items():
        op = FourierOperator(size=(H, W), mask=m, dtype=torch.float64)
        assert torch.equal(op.mask, ref.mask), name
        assert torch.equal(op(x), ref(x)), name
        assert op.rate == pytest.approx(8 / W), name
        assert op.orientation == "columns", name


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.full((H, W), 0.5), "booleans or 0/1"),
        (torch.ones(W), r"pass shape=\(H, W\)"),
        (torch.ones(2, 3, H, W), "must have shape"),
        (torch.ones(1, 1, 1, 1, H, W), "must have shape"),
        ([[1, 0]], "torch.Tensor or numpy array"),
        (torch.stack([torch.ones(H, W), torch.zeros(H, W)])[None], "different masks"),
    ],
)
def test_bad_masks_are_one_clear_error_naming_the_shapes(bad, match):
    with pytest.raises(InvalidInputError, match=match):
        as_mask(bad, None)


def test_user_mask_at_other_rates_is_nested_and_keeps_the_users_lines():
    cols = _columns()
    op = FourierOperator(size=(H, W), mask=cols, dtype=torch.float64)
    assert torch.equal(op.at_rate(op.rate).mask, op.mask)
    rates = [2 / W, 4 / W, 8 / W, 12 / W, 20 / W, 1.0]
    masks = [op.at_rate(r).mask for r in rates]
    for small, big in zip(masks, masks[1:]):
        assert not bool((small & ~big).any())
    assert [op.at_rate(r).rate for r in rates] == pytest.approx(rates)  # the actual rate, exact to one line
    # shrinking keeps the user's lines nearest DC (16, then 15 and 17 ...), growing keeps all of them
    assert masks[0][0].nonzero().flatten().tolist() == [15, 16]
    assert bool(masks[3][0][cols].all())
    # every mask is still column-Cartesian
    assert all(bool((m == m[:1]).all()) for m in masks)


def test_user_point_mask_at_other_rates():
    gen = torch.Generator().manual_seed(3)
    pts = torch.rand(H, W, generator=gen) < 0.2
    pat = UserMaskPattern(pts, seed=1)
    assert pat.kind == "points"
    assert torch.equal(pat.mask(pat.user_rate), pts)
    small, big = pat.mask(0.1), pat.mask(0.4)
    assert not bool((small & ~pts).any()) and not bool((pts & ~big).any())


def test_row_masks_are_recognised_as_rows():
    rows = torch.zeros(H, W, dtype=torch.bool)
    rows[[3, 11, 12, 13]] = True
    op = FourierOperator(mask=rows)
    assert op.orientation == "rows"
    bigger = op.at_rate(0.5).mask
    assert bool((bigger == bigger[:, :1]).all()) and not bool((rows & ~bigger).any())


class _FastMRIStyleMaskFunc:
    """The calling convention of fastMRI 0.3's MaskFunc: (shape, offset, seed) -> (mask, num_low)."""

    def __call__(self, shape, offset=None, seed=None):
        w = shape[-2]
        rng = np.random.RandomState(seed)
        m = (rng.uniform(size=w) < 0.25).astype(np.float32)
        m[w // 2 - 2: w // 2 + 2] = 1
        return torch.from_numpy(m).reshape(1, 1, w, 1), 4


def test_from_mask_func_accepts_both_return_forms():
    f = _FastMRIStyleMaskFunc()
    a = FourierOperator.from_mask_func(f, (H, W), seed=7)
    b = FourierOperator.from_mask_func(lambda shape, seed=None: f(shape, seed=seed)[0], (H, W), seed=7)
    assert torch.equal(a.mask, b.mask) and a.rate == pytest.approx(float(f((1, H, W, 2), seed=7)[0].sum()) / W)


def test_real_fastmri_mask_function():
    subsample = pytest.importorskip("fastmri.data.subsample", reason="fastmri is not installed")
    mf = subsample.RandomMaskFunc([0.08], [4])
    op = FourierOperator.from_mask_func(mf, (64, 48), seed=0)
    mask, _ = mf((1, 64, 48, 2), seed=0)
    assert list(mask.shape) == [1, 1, 48, 1]
    assert torch.equal(op.mask[0], mask.reshape(-1).bool()) and op.orientation == "columns"
    assert op.rate == pytest.approx(float(mask.sum()) / 48)


def test_coils_from_1_to_32_and_user_maps_infer_coils():
    for coils in (1, 20, 32):
        op = MultiCoilFourierOperator(16, 0.5, coils=coils, dtype=torch.float64)
        assert op.measurement_shape[0] == coils
    maps = torch.randn(20, 16, 16, dtype=torch.complex128, generator=torch.Generator().manual_seed(1))
    op = MultiCoilFourierOperator(16, 0.5, coil_maps=maps, dtype=torch.float64)
    assert op.coils == 20
    assert float((op.coil_maps.abs().pow(2).sum(0) - 1).abs().max()) < 1e-12  # RSS-normalised by default
    raw = MultiCoilFourierOperator(16, 0.5, coil_maps=maps[None], normalize_maps=False, dtype=torch.float64)
    assert torch.allclose(raw.coil_maps, maps)


def test_a_column_mask_and_its_row_version_are_different_operators():
    """What a column-trained pipeline sees on a row operator: another aliasing, another operator."""
    cols = FourierOperator(32, 0.3, seed=0, dtype=torch.float64)
    rows = FourierOperator(32, 0.3, seed=0, orientation="rows", dtype=torch.float64)
    assert cols.orientation == "columns" and rows.orientation == "rows"
    assert torch.equal(rows.mask, cols.mask.T) and not torch.equal(rows.mask, cols.mask)
    x = torch.zeros(1, 32, 32, dtype=torch.float64)
    x[:, 8:24, 12:20] = 1.0
    zc, zr = cols.direct(cols(x)).abs(), rows.direct(rows(x)).abs()
    # the aliasing runs along the width for columns and along the height for rows
    assert float((zc - zr).norm() / zc.norm()) > 0.05
    assert float((zc - zr.transpose(-1, -2)).norm()) > 0  # not merely transposed: x is not symmetric
    # a user's row mask is recognised as rows, and at_rate keeps it rows
    assert FourierOperator(mask=rows.mask).at_rate(0.5).orientation == "rows"
