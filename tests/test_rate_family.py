"""more_samples with the user's operators or masks per rate: nesting, actual rates, trained_rate."""

from __future__ import annotations

import pytest
import torch

from pytest_invstab.checks import more_samples
from pytest_invstab.errors import InvalidInputError
from pytest_invstab.images import shepp_logan
from pytest_invstab.operators import FourierOperator, MultiCoilFourierOperator, RadonOperator


def direct(y, op):
    return op.direct(y)


def column_mask(cols: list[int], n: int = 32) -> torch.Tensor:
    m = torch.zeros(n, n, dtype=torch.bool)
    m[:, cols] = True
    return m


@pytest.fixture
def x() -> torch.Tensor:
    return shepp_logan(32)[None].float()


NESTED = [column_mask(list(range(12, 20))), column_mask(list(range(8, 24))), column_mask(list(range(4, 28)))]


def test_masks_give_operators_with_their_actual_rates_as_keys(x):
    op = FourierOperator(size=32, rate=0.25, seed=0)
    res = more_samples(direct, op, x, masks=NESTED, baseline=None, sanity=False)
    assert res.settings["actual_rates"] == [0.25, 0.5, 0.75]  # 8, 16 and 24 of 32 columns
    assert res.curves["x"] == [0.25, 0.5, 0.75]
    assert {"psnr@0.25", "psnr@0.5", "psnr@0.75"} <= set(res.metrics)
    assert res.settings["nested"] is True and res.settings["rates_rule"] == "the given masks' rates"


def test_multicoil_masks_keep_the_coil_maps(x):
    op = MultiCoilFourierOperator(size=32, rate=0.25, coils=4, seed=0)
    res = more_samples(direct, op, x, masks=NESTED[:2], baseline=None, sanity=False)
    assert res.settings["operators"][0]["type"] == "MultiCoilFourierOperator"
    from pytest_invstab.checks.rate_family import mask_operator

    new = mask_operator(op, NESTED[1], 1)
    assert torch.allclose(new.coil_maps, op.coil_maps, atol=1e-6) and torch.equal(new.mask, NESTED[1])
    assert new.coils == 4 and new.rate == 0.5


def test_operators_as_list_and_dict(x):
    ops = [FourierOperator(mask=m) for m in NESTED]
    a = more_samples(direct, ops[0], x, operators=ops, baseline=None, sanity=False)
    b = more_samples(direct, ops[0], x, operators={0.75: ops[2], 0.25: ops[0], 0.5: ops[1]}, baseline=None,
                     sanity=False)
    assert a.metrics == b.metrics
    assert b.settings["requested_rates"] == [0.25, 0.5, 0.75]


def test_masks_that_are_not_nested_are_one_error_unless_allowed(x):
    op = FourierOperator(size=32, rate=0.25, seed=0)
    shifted = [NESTED[0], column_mask(list(range(0, 16)))]  # drops columns 16-19 of the smaller mask
    with pytest.raises(InvalidInputError, match=r"masks\[0\] \(rate 0.25\) and masks\[1\] \(rate 0.5\) are not "
                                                r"nested: 128 sampled position\(s\).*allow_unnested=True"):
        more_samples(direct, op, x, masks=shifted, baseline=None, sanity=False)
    res = more_samples(direct, op, x, masks=shifted, baseline=None, sanity=False, allow_unnested=True)
    assert res.settings["nested"] is False and "not nested" in res.settings["unnested"]
    assert "allow_unnested=True" in res.message


def test_radon_angle_sets_must_be_nested(x):
    op = RadonOperator(size=32, angles=8)
    unnested = [RadonOperator(size=32, angles=8), RadonOperator(size=32, angles=12)]  # k*pi/8 not all in k*pi/12
    with pytest.raises(InvalidInputError, match="angle"):
        more_samples(direct, op, x, operators=unnested, baseline=None, sanity=False)
    nested = [RadonOperator(size=32, angles=6), RadonOperator(size=32, angles=12)]  # k*pi/6 = 2k*pi/12
    res = more_samples(direct, op, x, operators=nested, baseline=None, sanity=False)
    assert res.settings["nested"] is True


def test_trained_rate_not_among_the_rates_is_one_error(x):
    op = FourierOperator(size=32, rate=0.25, seed=0)
    with pytest.raises(InvalidInputError, match=r"trained_rate=0.3 is not one of the rates.*requested \[0.2, 0.4, 0.6\]"):
        more_samples(direct, op, x, rates=(0.2, 0.4, 0.6), trained_rate=0.3, baseline=None, sanity=False)
    ok = more_samples(direct, op, x, rates=(0.2, 0.4, 0.6), trained_rate=0.4, baseline=None, sanity=False)
    assert ok.settings["gain_from_rate"] == ok.settings["actual_rates"][1]


def test_rates_use_the_actual_rates_of_at_rate(x):
    op = FourierOperator(size=32, rate=0.25, seed=0)
    res = more_samples(direct, op, x, rates=(0.2, 0.4, 0.6), baseline=None, sanity=False)
    actual = [float(op.at_rate(r).rate) for r in (0.2, 0.4, 0.6)]
    assert res.curves["x"] == actual and res.settings["requested_rates"] == [0.2, 0.4, 0.6]
    assert all(f"psnr@{r:.4g}" in res.metrics for r in actual)


def test_only_one_source_of_rates(x):
    op = FourierOperator(size=32, rate=0.25, seed=0)
    with pytest.raises(InvalidInputError, match="one of rates=, operators= or masks="):
        more_samples(direct, op, x, rates=(0.2, 0.4), masks=NESTED, baseline=None)
    with pytest.raises(InvalidInputError, match="masks= needs a Fourier operator"):
        more_samples(direct, RadonOperator(size=32, angles=8), x, masks=NESTED, baseline=None)
