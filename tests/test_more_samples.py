"""more_samples: rate-tied networks fail, direct and CS pass, nested sampling, determinism, errors."""

from __future__ import annotations

import functools

import pytest
import torch

from pytest_invstab.checks.more_samples import (
    default_rates,
    max_drop,
    more_samples,
    samples_nested,
)
from pytest_invstab.errors import InvalidInputError, UnsupportedRateError
from pytest_invstab.images import shepp_logan
from pytest_invstab.operators.base import MatrixOperator
from pytest_invstab.operators.fourier import FourierOperator, centred_fft2, centred_ifft2
from pytest_invstab.report.layouts import panel_rows
from pytest_invstab.validate import check_rates

# The toy reconstructors of this module (zero-filling, blurs, planted failures) are meant to be no better
# than the direct reconstruction, so the sanity gate (tested in tests/test_sanity.py) is off here.
more_samples = functools.partial(more_samples, sanity=False)

TRAINED = 0.25


@pytest.fixture(scope="module")
def x64():
    return torch.stack([shepp_logan(64), shepp_logan(64).flip(-1) * 0.8])


@pytest.fixture(scope="module")
def op64():
    return FourierOperator(64, rate=TRAINED, pattern="cartesian", seed=0)


def direct(y, op):
    return op.direct(y)


def tied_to_training_rate(y, op):
    """Rescales by the trained sampling density: right at 25 %, too dark at any other rate."""
    return op.direct(y) * TRAINED / op.rate


# -- helpers with known answers ------------------------------------------------------------------
def test_max_drop_known_values():
    assert max_drop([20.0, 25.0, 22.0, 30.0]) == (3.0, 1, 2)
    assert max_drop([30.0, 25.0, 29.0, 20.0]) == (10.0, 0, 3)
    # Increasing everywhere: minus the smallest gain between two rates.
    assert max_drop([1.0, 3.0, 4.0]) == (-1.0, 1, 2)


def test_default_rates_grid():
    assert default_rates(0.25) == (0.125, 0.1875, 0.25, 0.375, 0.5, 0.75)
    assert default_rates(0.5) == (0.25, 0.375, 0.5, 0.75, 1.0)
    assert default_rates(0.25, trained_rate=0.3) == (0.125, 0.1875, 0.25, 0.3, 0.375, 0.5, 0.75)


# -- verdicts -------------------------------------------------------------------------------------
def test_network_tied_to_its_training_rate_fails(x64, op64):
    res = more_samples(tied_to_training_rate, op64, x64, trained_rate=TRAINED, baseline=direct)
    assert not res.passed
    curve = res.curves["series"]["network"]
    # PSNR peaks at the trained rate and falls beyond it.
    assert max(range(len(curve)), key=curve.__getitem__) == res.curves["x"].index(TRAINED)
    assert res.metrics["max_drop_db"] > 2.0
    drops = [curve[i] - curve[j] for i in range(6) for j in range(i + 1, 6)]
    assert res.metrics["max_drop_db"] == pytest.approx(max(drops))
    assert res.message.startswith(f"PSNR falls {res.metrics['max_drop_db']:.2f} dB > tolerance_db 1.00 dB")
    assert "baseline direct gains" in res.message  # a zero-filled baseline is not "CS" (issue 11)
    assert res.key_metric == "max_drop_db" and res.better["max_drop_db"] == "lower"


def test_direct_reconstruction_passes_and_improves(x64, op64):
    res = more_samples(direct, op64, x64, baseline=None)
    assert res.passed, res.message
    curve = res.curves["series"]["network"]
    assert all(b > a for a, b in zip(curve, curve[1:]))  # nested masks: the error only shrinks
    assert res.metrics["max_drop_db"] < 0
    assert res.metrics["gain_db"] == pytest.approx(curve[-1] - curve[0])  # no trained_rate: from the smallest
    assert res.baseline == {} and "CS baseline" not in res.curves["series"]


def test_cs_baseline_improves_with_more_samples(x64, op64):
    from pytest_invstab.baselines import CSBaseline

    res = more_samples(direct, op64, x64[:1], rates=(0.15, 0.3, 0.6), trained_rate=0.3, baseline=CSBaseline())
    assert res.passed, res.message
    base = res.curves["series"]["CS baseline"]
    assert base[0] < base[1] < base[2]
    assert res.baseline["max_drop_db"] < 0 and res.baseline["gain_db"] > 3.0
    assert res.metrics["baseline_gain_db"] == res.baseline["gain_db"]
    # keys carry the actual rate of the operator (64 lines: at_rate(0.6) samples 38 of 64 columns)
    assert res.settings["actual_rates"][2] == pytest.approx(38 / 64)
    assert res.baseline["psnr@0.5938"] == pytest.approx(base[2])


def stagnating(y, op):
    """Zero-filled reconstruction from the samples of the 25 % mask only: extra samples are ignored."""
    keep = FourierOperator(64, rate=TRAINED, pattern="cartesian", seed=0).mask
    k = centred_fft2(op.adjoint(y))
    return centred_ifft2(k * keep)


def test_require_gain_catches_stagnation_while_the_baseline_gains(x64, op64):
    rates = (0.125, 0.25, 0.5, 0.75)
    plain = more_samples(stagnating, op64, x64, rates=rates, trained_rate=TRAINED, baseline=direct)
    assert plain.passed  # no drop: the curve is flat from the trained rate on
    assert abs(plain.metrics["gain_db"]) < 1e-4
    res = more_samples(stagnating, op64, x64, rates=rates, trained_rate=TRAINED, baseline=direct, require_gain_db=1.0)
    assert not res.passed
    assert "network gains 0.00 dB < require_gain_db 1.00 from rate 0.25 to 0.75" in res.message
    assert res.metrics["baseline_gain_db"] > 1.0
    assert res.thresholds == {"max_drop_db": 1.0, "gain_db": 1.0}
    # A baseline that does not gain either: stagnation is then the problem's, not the network's.
    same = more_samples(stagnating, op64, x64, rates=rates, trained_rate=TRAINED, baseline=stagnating,
                        require_gain_db=1.0)
    assert same.passed


# -- nested sampling ----------------------------------------------------------------------------------
def test_masks_seen_by_the_network_are_nested_and_increasing(x64, op64):
    seen = []

    def spy(y, op):
        seen.append((op.rate, op.mask.clone()))
        return op.direct(y)

    res = more_samples(spy, op64, x64, baseline=None)
    assert len(seen) == 6
    rates = [r for r, _ in seen]
    assert rates == sorted(rates) and len(set(rates)) == 6
    for (_, small), (_, large) in zip(seen, seen[1:]):
        assert not (small & ~large).any()  # every sample of a smaller rate is kept
    assert res.settings["nested"] is True
    assert [d["n_samples"] for d in res.settings["operators"]] == [int(m.sum()) for _, m in seen]
    assert res.settings["actual_rates"] == pytest.approx(rates)


def test_nesting_is_checked_on_radon_angles():
    from pytest_invstab.operators.radon import RadonOperator

    op = RadonOperator(32, angles=20)
    ops = [op.at_rate(r) for r in (0.2, 0.4, 0.8)]
    assert samples_nested(ops) is True
    assert samples_nested([ops[2], ops[0]]) is False
    assert samples_nested([MatrixOperator(torch.eye(4), (2, 2))] * 2) is None


# -- results --------------------------------------------------------------------------------------
def test_curves_panel_and_settings(x64, op64):
    res = more_samples(direct, op64, x64, trained_rate=TRAINED, baseline=direct)
    c = res.curves
    assert c["x"] == list(default_rates(TRAINED, TRAINED))
    assert (c["xlabel"], c["ylabel"]) == ("sampling rate", "PSNR (dB)")
    assert (c["vline"], c["vline_label"]) == (TRAINED, "trained rate")
    assert set(c["series"]) == {"network", "baseline direct"}  # named by its name (issue 11)
    assert c["series"]["network"] == pytest.approx([res.metrics[f"psnr@{r:.4g}"] for r in c["x"]])
    # Reference next to the PSNR curve (one panel, no empty cell), then the smallest, trained and largest
    # rates: network and baseline.
    assert len(panel_rows(res)) == 4 and [len(r) for r in panel_rows(res)] == [2, 2, 2, 2]
    curve_cell = panel_rows(res)[0][1]
    assert curve_cell.curve["series"]["network"] == c["series"]["network"] and "mean of 2 images" in curve_cell[0]
    assert "rate 0.125 (smallest)" in panel_rows(res)[1][0][0] and "rate 0.25 (trained)" in panel_rows(res)[2][0][0]
    assert "rate 0.75 (largest)" in panel_rows(res)[3][0][0] and panel_rows(res)[3][1][0].startswith("baseline direct, rate 0.75")
    for row in panel_rows(res):
        for _, img in row:
            assert img is None or (img.dim() == 2 and img.device.type == "cpu" and not img.is_complex())
    assert len(res.settings["operators"]) == 6 and res.settings["operators"][2]["rate"] == pytest.approx(0.25)
    assert res.arrays["psnr_network"].shape == (6, 2)
    assert len(res.per_image) == 2 and "psnr@0.25" in res.per_image[0]
    ssim_values = [res.metrics[f"ssim@{r:.4g}"] for r in c["x"]]
    assert all(0 < s <= 1 for s in ssim_values) and ssim_values[-1] > ssim_values[0]


def test_same_seed_same_result(x64, op64):
    a = more_samples(tied_to_training_rate, op64, x64, baseline=direct, seed=5)
    b = more_samples(tied_to_training_rate, op64, x64, baseline=direct, seed=5)
    assert a.metrics == b.metrics and a.baseline == b.baseline and a.seed == 5
    assert a.to_dict()["settings"] == b.to_dict()["settings"]


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, y, op):
        assert not self.training and not torch.is_grad_enabled()
        return self.scale * op.direct(y)


def test_model_left_as_found(x64, op64):
    net = Net().train()
    res = more_samples(net, op64, x64, baseline=None)
    assert res.passed
    assert net.training and net.scale.requires_grad and net.scale.grad is None


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rates", "match"),
    [
        ((0.5, 0.3), r"strictly increasing.*0.3 follows 0.5"),
        ((0.2, 0.2), "strictly increasing"),
        ((0.0, 0.5), r"rates\[0\] must be a sampling rate in \(0, 1\]"),
        ((0.5, 1.2), r"rates\[1\] must be a sampling rate in \(0, 1\]"),
        ((0.5,), "at least two"),
        ("0.5", "sequence of sampling rates"),
        ((0.2, float("nan")), r"rates\[1\]"),
    ],
)
def test_bad_rates(rates, match):
    with pytest.raises(InvalidInputError, match=match):
        check_rates(rates)


def test_bad_arguments_of_the_check(x64, op64):
    with pytest.raises(InvalidInputError, match="strictly increasing"):
        more_samples(direct, op64, x64, rates=(0.5, 0.25), baseline=None)
    with pytest.raises(InvalidInputError, match=r"trained_rate must be a sampling rate in \(0, 1\]"):
        more_samples(direct, op64, x64, trained_rate=1.5, baseline=None)
    with pytest.raises(InvalidInputError, match="tolerance_db must be a finite number >= 0"):
        more_samples(direct, op64, x64, tolerance_db=-1, baseline=None)
    with pytest.raises(InvalidInputError, match="images must have shape"):
        more_samples(direct, op64, torch.ones(1, 32, 32), baseline=None)


def test_operator_without_rates_raises_unsupported_rate_error(x64):
    dense = MatrixOperator(torch.eye(64 * 64)[::2], (64, 64))
    why = r"more_samples needs the operator at other sampling rates.*MatrixOperator cannot change"
    with pytest.raises(UnsupportedRateError, match=why):
        more_samples(direct, dense, x64, baseline=None)
    # issue 10: an operator from a user's mask now has rates (the user's samples first, nested)
    user = FourierOperator(64, rate=0.3).mask
    masked = FourierOperator(mask=user)
    assert torch.equal(masked.at_rate(masked.rate).mask, user)
    assert not bool((masked.at_rate(0.2).mask & ~user).any()) and not bool((user & ~masked.at_rate(0.5).mask).any())
