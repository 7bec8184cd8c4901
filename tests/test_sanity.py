"""The sanity gate (checks/sanity.py): no verdict on a miswired network.

One tiny residual U-Net is trained here (seeded, 32 x 32 textured phantoms, Cartesian
*column* mask at 33 %, fastMRI-style instance normalisation of input and target). Wired
correctly it passes the gate; on the row mask (the wrong orientation) and without its
normalisation it stops every check with one ``MiswiredNetworkError`` and no verdict.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pytest_invstab.checks import detail_recovery, more_samples, worst_case
from pytest_invstab.checks.sanity import DEFAULT_MIN_GAIN_DB, sanity_gate
from pytest_invstab.errors import InvalidInputError, MiswiredNetworkError
from pytest_invstab.images import shepp_logan, textured_phantoms
from pytest_invstab.metrics import psnr
from pytest_invstab.operators import FourierOperator

N, RATE = 32, 0.33


class TinyUNet(nn.Module):
    """One pooling level, residual: learns to remove the aliasing of the zero-filled image."""

    def __init__(self, c: int = 8):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU())
        self.mid = nn.Sequential(nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.ConvTranspose2d(2 * c, c, 2, stride=2))
        self.dec = nn.Conv2d(2 * c, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.enc(x)
        return x + self.dec(torch.cat([e, self.mid(nn.functional.max_pool2d(e, 2))], 1))


def _normalised(net: nn.Module, y: torch.Tensor, op) -> torch.Tensor:
    """fastMRI's recipe: magnitude of the zero-filled image, instance-normalised, and back."""
    x0 = op.direct(y).abs()[:, None]
    mu, sd = x0.mean((1, 2, 3), keepdim=True), x0.std(dim=(1, 2, 3), keepdim=True)
    return (net((x0 - mu) / sd) * sd + mu)[:, 0]


class Wired(nn.Module):
    """The network as trained: with its normalisation."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, y, op):
        return _normalised(self.net, y, op)


class MissingNormalisation(nn.Module):
    """The same network fed the raw zero-filled magnitude (the normalisation forgotten)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, y, op):
        return self.net(op.direct(y).abs()[:, None])[:, 0]


@pytest.fixture(scope="module")
def column_net() -> nn.Module:
    torch.manual_seed(0)
    net = TinyUNet()
    op = FourierOperator(size=N, rate=RATE, seed=0, orientation="columns")
    data = textured_phantoms(128, N, 1000).float()
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        x = data[torch.randint(0, len(data), (8,), generator=g)]
        loss = ((_normalised(net, op(x), op) - x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.cat([shepp_logan(N)[None], textured_phantoms(2, N, 7)]).float()


def _op(orientation: str) -> FourierOperator:
    return FourierOperator(size=N, rate=RATE, seed=0, orientation=orientation)


def _gain(f, op, x) -> float:
    with torch.no_grad():
        y = op(x)
        return float(psnr(f(y, op), x).mean() - psnr(op.direct(y), x).mean())


def test_measured_gains_separate_wired_from_miswired(column_net, images):
    wired, raw = Wired(column_net), MissingNormalisation(column_net)
    cols, rows = _op("columns"), _op("rows")
    assert _gain(wired, cols, images) > 3.0  # trained wiring: clearly better than zero-filling
    assert _gain(wired, rows, images) < DEFAULT_MIN_GAIN_DB  # wrong orientation: no better
    assert _gain(raw, cols, images) < -3.0  # missing normalisation: far worse


def test_correctly_wired_network_passes_the_gate(column_net, images):
    gate = sanity_gate("stability", Wired(column_net), _op("columns"), images)
    assert gate.psnr_network > gate.psnr_direct + 3.0
    res = detail_recovery(Wired(column_net), _op("columns"), images, baseline=None)
    assert res.settings["sanity"]["psnr_network"] == pytest.approx(gate.psnr_network, abs=1e-4)


@pytest.mark.parametrize("check", [worst_case, detail_recovery, more_samples])
def test_column_trained_network_on_the_row_operator_stops_at_the_gate(column_net, images, check):
    kwargs = {"steps": 2, "restarts": 1} if check is worst_case else {}
    with pytest.raises(MiswiredNetworkError) as info:
        check(Wired(column_net), _op("rows"), images, baseline=None, **kwargs)
    message = str(info.value)
    assert "mask orientation" in message and "normalisation" in message and "zero-filled" in message
    assert "sanity=False" in message


def test_network_missing_its_normalisation_stops_with_the_numbers(column_net, images):
    f, op = MissingNormalisation(column_net), _op("columns")
    with torch.no_grad():
        y = op(images)
        p_net, p_dir = float(psnr(f(y, op), images).mean()), float(psnr(op.direct(y), images).mean())
    with pytest.raises(MiswiredNetworkError) as info:
        worst_case(f, op, images, steps=2, restarts=1)
    message = str(info.value)
    assert f"PSNR {p_net:.1f} dB, the zero-filled reconstruction {p_dir:.1f} dB" in message
    assert "CS TV" in message  # the baseline's clean PSNR is named too


def test_gate_can_be_switched_off_and_is_validated(column_net, images):
    res = worst_case(Wired(column_net), _op("rows"), images, steps=2, restarts=1, baseline=None, sanity=False)
    assert res.settings["sanity"] == "off (sanity=False)"
    with pytest.raises(InvalidInputError, match="sanity must be True or False"):
        worst_case(Wired(column_net), _op("rows"), images, sanity="no")
    with pytest.raises(InvalidInputError, match="sanity_min_gain_db must be a finite number"):
        worst_case(Wired(column_net), _op("rows"), images, sanity_min_gain_db=float("nan"))
    # A negative threshold lets a network be worse than zero-filling by that much.
    gate = sanity_gate("stability", Wired(column_net), _op("rows"), images, min_gain_db=-3.0)
    assert gate.psnr_network < gate.psnr_direct + DEFAULT_MIN_GAIN_DB


def test_gate_reuses_the_baseline_reconstruction(images):
    calls = []

    def base(y, op):
        calls.append(y.shape[0])
        return op.direct(y) * 0 + images.to(op.image_dtype)[: y.shape[0]]

    op = _op("columns")
    worst_case(lambda y, op: images.to(op.image_dtype) + 0 * op.adjoint(y), op, images, steps=2, restarts=1,
               baseline=base)
    assert len(calls) == 2  # the gate's clean call, then the perturbed one: clean is not recomputed


def test_exact_reconstruction_of_fully_sampled_data_passes(images):
    op = FourierOperator(size=N, rate=1.0, seed=0)
    gate = sanity_gate("stability", lambda y, op: op.direct(y), op, images)
    assert gate.psnr_direct > 100
