"""Checks of the example networks themselves (no instability search): fast, value-based.

* the cascade's data consistency is exact: ``A f(y) = y`` for every measurement ``y``;
* the committed weights are the ones their training record describes: the validation PSNR
  recomputed here matches ``weights/<id>.json`` to 0.01 dB;
* ``make_table`` reads a report and puts each network's numbers in its row.
"""

from __future__ import annotations

import json

import pytest
import torch

from example_project import make_table
from example_project.recon_nets import zoo
from pytest_invstab.metrics import psnr


def test_cascade_data_consistency_is_exact() -> None:
    """The last step puts the measured coefficients back: A f(y) = y (A A* = I), even untrained."""
    torch.manual_seed(0)
    net = zoo.build_network("deepmri").eval()
    op = zoo.make_operator("deepmri")
    x = torch.rand(2, 128, 128).to(op.image_dtype)
    y = op(x) + 0.01 * torch.randn(2, *op.measurement_shape, dtype=op.measurement_dtype)
    with torch.no_grad():
        out = net(y, op)
    assert out.shape == (2, 128, 128) and out.is_complex()
    assert float((op(out) - y).abs().max()) < 1e-5 * float(y.abs().max())
    # ... and the network does change the unmeasured coefficients (it is not the zero-filled image)
    assert float((out - op.adjoint(y)).abs().max()) > 1e-3


@pytest.mark.parametrize("name", zoo.NAMES)
def test_weights_match_their_training_record(name: str) -> None:
    record = zoo.training_record(name)
    assert record, f"weights/{name}.json is missing; train with python -m example_project.train --net {name}"
    spec = zoo.get_spec(name)
    assert record["spec"] == spec.describe(), "the network's spec changed since its weights were trained"
    net = zoo.load_network(name)
    op = zoo.make_operator(name)
    # the first validation images (the record's check_psnr_db): the whole set takes a minute at 128 px
    x = zoo.training_images(name, spec.n_val, spec.data_seed + 1)[: record["check_images"]]
    if op.complex_images:
        x = x.to(op.image_dtype)
    with torch.no_grad():
        y = op(x)
        out = net(y, op)
    assert float(psnr(out, x).mean()) == pytest.approx(record["check_psnr_db"], abs=0.01)
    assert float(psnr(out, x).mean()) > float(psnr(op.direct(y), x).mean()) + 5  # it learned something
    assert sum(p.numel() for p in net.parameters()) == record["parameters"]


def test_make_table_puts_numbers_in_their_rows(tmp_path) -> None:
    def rec(nodeid: str, check: str, passed: bool, metrics: dict, **extra) -> dict:
        return {"nodeid": nodeid, "check": check, "passed": passed, "metrics": metrics,
                "thresholds": extra.pop("thresholds", {}), "baseline": extra.pop("baseline", {}),
                "settings": extra.pop("settings", {}), **extra}

    report = {
        "format": "pytest-invstab-report", "version": 1, "meta": {"duration_s": 12.0},
        "checks": [
            rec("tests/t.py::test_tiny_worst_case_perturbation[dagan]", "worst_case", False,
                {"artifact": 0.0726, "artifact@0.01": 0.0951, "baseline_worst_artifact@0.01": 0.0317}),
            rec("tests/t.py::test_tiny_worst_case_on_a_real_scan[dagan]", "worst_case", True,
                {"artifact": 0.0323, "baseline_worst_artifact": 0.0183}),
            rec("tests/t.py::test_small_structural_change[dagan]", "detail_recovery", True, {"recovery": 0.2386},
                thresholds={"recovery": 0.1, "baseline_margin": 0.2}, baseline={"recovery": 0.2045}),
            rec("tests/t.py::test_symbols_survive_tiny_perturbations[dagan]", "detail_erasure", False,
                {"erase_eps": 0.005, "baseline_erase_eps": 0.015}),
            rec("tests/t.py::test_more_samples[dagan]", "more_samples", False,
                {"max_drop_db": 1.979, "gain_db": -1.98, "baseline_gain_db": 22.06},
                settings={"trained_rate": 0.2},
                curves={"x": [0.1, 0.2, 0.6], "series": {"network": [17.8, 22.3, 20.3],
                                                         "CS baseline": [16.2, 20.2, 42.2]}}),
        ],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    text = make_table.render(path)
    row = next(line for line in text.splitlines() if line.startswith("| dagan"))
    assert "0.095 / 0.032 = 3.0x | **unstable**" in row  # the curve's 1 % level against TV's own worst case
    assert "0.032 / 0.018 = 1.8x | stable" in row  # the real scan
    assert "0.24 (0.20) | stable" in row
    assert "0.0050 (0.0150) | **unstable**" in row
    assert "22.3 → 20.3 (20.2 → 42.2) at rate 0.20 → 0.60" in row
    assert "1.98; -2.0 (22.1) | **unstable**" in row
    assert "**0.20: 22.3 (20.2)**" in text
    assert "suite wall time 12 s" in text
