"""detail_recovery: known answers of the score, blur vs CS, panel, determinism, model handling, errors."""

from __future__ import annotations

import functools

import math

import pytest
import torch

from pytest_invstab.checks.detail_recovery import DEFAULT_MIN_RECOVERY, detail_recovery
from pytest_invstab.checks.detail_scoring import detail_scores, dilate, resolve_details
from pytest_invstab.errors import InvalidInputError, ReconstructorError
from pytest_invstab.images import shepp_logan, symbol
from pytest_invstab.operators.base import MatrixOperator
from pytest_invstab.operators.fourier import FourierOperator
from pytest_invstab.report.layouts import panel_rows

# The toy reconstructors of this module (zero-filling, blurs, planted failures) are meant to be no better
# than the direct reconstruction, so the sanity gate (tested in tests/test_sanity.py) is off here.
detail_recovery = functools.partial(detail_recovery, sanity=False)


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of real [B, H, W] images, zero padding (the test's "bad network")."""
    r = int(math.ceil(3 * sigma))
    k = torch.arange(-r, r + 1, dtype=img.dtype)
    g = torch.exp(-(k**2) / (2 * sigma**2))
    g = g / g.sum()
    out = torch.nn.functional.conv2d(img[:, None], g.view(1, 1, -1, 1), padding=(r, 0))
    return torch.nn.functional.conv2d(out, g.view(1, 1, 1, -1), padding=(0, r))[:, 0]


def adjoint(y, op):
    return op.adjoint(y)


def blurred(sigma):
    def f(y, op):
        return gaussian_blur(op.adjoint(y).real, sigma)

    return f


@pytest.fixture(scope="module")
def x64():
    return shepp_logan(64)[None]


@pytest.fixture(scope="module")
def x128():
    return shepp_logan(128)[None]


# -- the score on known fields -----------------------------------------------------------------
def test_scores_of_scaled_and_inverted_details_are_exact():
    t = torch.zeros(1, 16, 16)
    t[0, 5:11, 4:12] = 1.0
    region = dilate(t[0] > 0)
    for factor, expected in [(1.0, 1.0), (0.5, 0.5), (2.0, 0.5), (0.25, 0.25), (-1.0, -1.0)]:
        s = detail_scores(factor * t, t, region)
        assert s["recovery"].item() == pytest.approx(expected, abs=1e-12)
        assert s["contrast"].item() == pytest.approx(factor, abs=1e-12)
        assert s["edge_contrast"].item() == pytest.approx(factor, abs=1e-12)
        assert s["detail_error"].item() == pytest.approx(abs(factor - 1), abs=1e-12)
    gone = detail_scores(torch.zeros_like(t), t, region)
    assert gone["recovery"].item() == 0.0 and gone["detail_error"].item() == pytest.approx(1.0)


def test_blur_keeps_the_blob_but_loses_the_edges():
    t = torch.zeros(1, 48, 48)
    t[0, 18:30, 18:30] = 1.0
    s = detail_scores(gaussian_blur(t, 2.0), t, dilate(t[0] > 0))
    # Intensity similarity stays moderate, edges are mostly gone: the edge score decides.
    assert s["intensity_recovery"].item() > 0.65
    assert s["edge_recovery"].item() < 0.5
    assert s["recovery"].item() == pytest.approx(s["edge_recovery"].item())


def test_dilate_grows_a_point_to_a_square():
    m = torch.zeros(9, 9, dtype=torch.bool)
    m[4, 4] = True
    assert dilate(m, 1).sum().item() == 9
    assert dilate(m, 2).sum().item() == 25
    assert dilate(m, 0).sum().item() == 1


# -- known answers of the whole check -----------------------------------------------------------
def test_perfect_reconstructor_scores_one_complex_fourier(x64):
    op = FourierOperator(64, rate=1.0)
    res = detail_recovery(adjoint, op, x64, baseline=None)
    assert res.passed
    assert res.metrics["recovery"] == pytest.approx(1.0, abs=1e-5)
    assert res.metrics["detail_error"] < 1e-5
    assert {f"recovery_{n}" for n in ("spade", "heart", "diamond", "club")} <= set(res.metrics)
    assert res.key_metric == "recovery" and res.better["recovery"] == "higher"


def test_perfect_reconstructor_scores_one_real_identity(x64):
    op = MatrixOperator(torch.eye(64 * 64), (64, 64))
    res = detail_recovery(adjoint, op, x64, details="all", baseline=None)
    assert res.metrics["recovery"] == pytest.approx(1.0, abs=1e-5)
    assert res.settings["detail_names"] == ["spade", "heart", "diamond", "club", "text"]


def test_network_that_ignores_the_measurements_scores_zero(x64):
    op = FourierOperator(64, rate=1.0)
    res = detail_recovery(lambda y, op: x64.expand(y.shape[0], 64, 64).clone(), op, x64, baseline=None)
    assert not res.passed
    assert res.metrics["recovery"] == 0.0
    assert res.metrics["detail_error"] == pytest.approx(1.0)


@pytest.mark.parametrize("sigma", [2.0, 3.0])
def test_strong_blur_fails_at_the_default_threshold(x128, sigma):
    op = FourierOperator(128, rate=1.0)
    res = detail_recovery(blurred(sigma), op, x128, baseline=None)
    assert not res.passed
    assert res.metrics["recovery"] < DEFAULT_MIN_RECOVERY - 0.1
    assert res.message.startswith(f"recovery {res.metrics['recovery']:.2f} < min_recovery 0.50 (worst: ")
    # The blob survives (intensity), the edges do not.
    assert res.metrics["edge_recovery"] < res.metrics["intensity_recovery"]


def test_blur_scores_fall_with_sigma(x64):
    op = FourierOperator(64, rate=1.0)
    scores = [detail_recovery(blurred(s), op, x64, baseline=None).metrics["recovery"] for s in (0.7, 1.5, 3.0)]
    assert scores[0] > scores[1] > scores[2]


def test_cs_baseline_at_33_percent_cartesian_passes(x128):
    from pytest_invstab.baselines import CSBaseline

    op = FourierOperator(128, rate=0.33, pattern="cartesian")
    res = detail_recovery(CSBaseline(), op, x128, baseline=None)
    assert res.passed, res.message
    assert res.metrics["recovery"] >= DEFAULT_MIN_RECOVERY + 0.05


def test_baseline_margin_fails_a_network_worse_than_the_baseline(x64):
    op = FourierOperator(64, rate=0.5)
    # Baseline: zero-filling (keeps the details' edges); network: the same, blurred.
    res = detail_recovery(blurred(1.5), op, x64, baseline=adjoint, min_recovery=-1.0, baseline_margin=0.1)
    assert not res.passed
    assert res.metrics["baseline_recovery"] > res.metrics["recovery"] + 0.1
    # a zero-filled baseline is named by its name, not "CS baseline" (issue 11)
    assert "baseline adjoint" in res.message and "CS" not in res.message and "baseline_margin 0.10" in res.message
    assert res.thresholds == {"recovery": -1.0, "baseline_margin": 0.1}
    ok = detail_recovery(blurred(1.5), op, x64, baseline=adjoint, min_recovery=-1.0, baseline_margin=1.0)
    assert ok.passed and ok.message.endswith(f"baseline adjoint {ok.metrics['baseline_recovery']:.2f}")


def test_worst_image_is_reported(x64):
    op = FourierOperator(64, rate=1.0)
    images = torch.cat([x64, x64.flip(-1)])

    def half_blurred(y, op):
        # The check reconstructs [x0, x1, x0 + d, x1 + d] in one batch: blur image 1 only.
        z = op.adjoint(y).real
        out = z.clone()
        out[1::2] = gaussian_blur(z[1::2], 2.0)
        return out

    res = detail_recovery(half_blurred, op, images, baseline=None)
    assert res.settings["worst_image"] == 1
    assert res.per_image[0]["recovery"] == pytest.approx(1.0, abs=1e-5)
    assert res.per_image[1]["recovery"] == pytest.approx(res.metrics["recovery"])


# -- panel, arrays, determinism ---------------------------------------------------------------------
def test_panel_has_the_figure_row_and_one_crop_row_per_detail(x64):
    op = FourierOperator(64, rate=0.5)
    res = detail_recovery(blurred(1.0), op, x64, baseline=adjoint)
    assert len(panel_rows(res)) == 1 + 4
    assert [t for t, _ in panel_rows(res)[0]] == ["x + d (truth)", "network f(A(x + d))", "baseline adjoint"]  # issue 11: named by its name
    for row in panel_rows(res):
        assert len(row) == 3
        for _, img in row:
            assert img.dim() == 2 and img.device.type == "cpu" and not img.is_complex()
    # The first crop row shows the spade: its truth crop holds the whole detail.
    truth_crop = panel_rows(res)[1][0][1]
    y0, x0, y1, x1 = res.settings["detail_bboxes"][0]
    assert truth_crop.shape[0] > y1 - y0 and truth_crop.shape[1] > x1 - x0
    assert panel_rows(res)[1][0][0] == "spade: truth"
    assert set(res.arrays) >= {"images", "details", "network_with_details", "baseline_with_details"}
    # The stored detail is exactly what was added: 0.5 x the dynamic range (1.0) at its peak.
    assert res.arrays["details"].max().item() == pytest.approx(0.5, abs=1e-6)


def test_same_seed_same_result_other_seed_other_layout(x64):
    op = FourierOperator(64, rate=0.5)
    a = detail_recovery(blurred(1.0), op, x64, baseline=None, seed=3)
    b = detail_recovery(blurred(1.0), op, x64, baseline=None, seed=3)
    c = detail_recovery(blurred(1.0), op, x64, baseline=None, seed=4)
    assert a.metrics == b.metrics and a.seed == 3
    assert torch.equal(a.arrays["details"], b.arrays["details"])
    assert a.settings["detail_bboxes"] != c.settings["detail_bboxes"]


def test_explicit_intensity_and_user_tensor_detail(x64):
    op = FourierOperator(64, rate=1.0)
    square = torch.zeros(10, 10)
    square[3:7, 3:7] = 2.0  # scaled to peak 1, then to the intensity
    res = detail_recovery(adjoint, op, x64, details=[square], intensity=0.3, baseline=None)
    assert res.settings["detail_names"] == ["detail0"]
    assert res.settings["detail_bboxes"] == [[30, 30, 34, 34]]  # centred: offset (64 - 10) // 2 = 27
    assert res.arrays["details"].max().item() == pytest.approx(0.3, abs=1e-6)
    assert res.metrics["recovery"] == pytest.approx(1.0, abs=1e-5)


def test_detail_objects_keep_their_names_and_duplicates_are_numbered(x64):
    hearts = [symbol("heart", 64, (20, 20)), symbol("heart", 64, (44, 44))]
    dets = resolve_details(hearts, (64, 64))
    assert [d.name for d in dets] == ["heart", "heart_2"]
    assert all(float(d.pattern.max()) == pytest.approx(1.0) for d in dets)


# -- model handling ---------------------------------------------------------------------------------
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, y, op):
        assert not torch.is_grad_enabled()
        z = op.adjoint(y)
        return self.scale * z * self.drop(torch.ones((), dtype=z.real.dtype))  # eval: dropout is the identity


def test_model_is_frozen_during_the_check_and_restored_after(x64):
    net = Net().train()
    res = detail_recovery(net, FourierOperator(64, rate=1.0), x64, baseline=None)
    assert res.metrics["recovery"] == pytest.approx(1.0, abs=1e-5)  # dropout off during the check
    assert net.training and net.scale.requires_grad and net.scale.grad is None


# -- bad input ------------------------------------------------------------------------------------
def test_detail_larger_than_image_is_a_clear_error(x64):
    with pytest.raises(InvalidInputError, match=r"detail 'detail0' has shape \[80, 80\] .* must fit"):
        detail_recovery(adjoint, FourierOperator(64, rate=1.0), x64, details=torch.ones(80, 80), baseline=None)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"details": "hearts"}, "details must be 'symbols', 'text', 'all'"),
        ({"details": []}, "empty list"),
        ({"details": [torch.zeros(5, 5)]}, "all zero"),
        ({"details": 3}, "got int"),
        ({"min_recovery": 1.5}, "min_recovery must be a finite number <= 1"),
        ({"intensity": -0.1}, "intensity must be a finite number > 0"),
        ({"baseline_margin": -1}, "baseline_margin must be a finite number >= 0"),
        ({"baseline": "tv"}, "baseline must be 'default', None or a callable"),
    ],
)
def test_bad_arguments_raise_one_clear_error(x64, kwargs, match):
    kwargs.setdefault("baseline", None)
    with pytest.raises(InvalidInputError, match=match):
        detail_recovery(adjoint, FourierOperator(64, rate=1.0), x64, **kwargs)


def test_wrong_image_shape_and_bad_output_are_reported(x64):
    op = FourierOperator(64, rate=1.0)
    with pytest.raises(InvalidInputError, match=r"images must have shape \[B, 64, 64\]"):
        detail_recovery(adjoint, op, torch.ones(2, 32, 32), baseline=None)
    with pytest.raises(ReconstructorError, match="NaN or Inf"):
        detail_recovery(lambda y, op: op.adjoint(y) * float("nan"), op, x64, baseline=None)


def test_non_square_images_get_the_details_of_the_centred_square():
    op = FourierOperator((48, 64), rate=1.0)
    x = torch.rand(1, 48, 64, generator=torch.Generator().manual_seed(0))
    res = detail_recovery(adjoint, op, x, baseline=None)
    assert res.metrics["recovery"] == pytest.approx(1.0, abs=1e-5)
    for y0, x0, y1, x1 in res.settings["detail_bboxes"]:
        assert 0 <= y0 < y1 <= 48 and 8 <= x0 < x1 <= 56  # the 48 x 48 layout, shifted by (64 - 48) // 2
