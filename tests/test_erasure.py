"""detail_erasure: the smallest perturbation that makes an inserted detail vanish, against a closed form."""

from __future__ import annotations

import pytest
import torch

from pytest_invstab.checks import detail_erasure
from pytest_invstab.checks.detail_scoring import resolve_details
from pytest_invstab.errors import InvalidInputError
from pytest_invstab.images import insert_details, shepp_logan
from pytest_invstab.operators import FourierOperator

N = 32


def identity(y, op):
    return op.adjoint(y)  # fully sampled: A* A = I


def test_identity_loses_the_detail_at_half_its_norm():
    """f = identity: the best erasing r is -c d (the search pulls f(x + d + r) to f(x) on the detail's
    region), whose recovery score is 1 - c; it falls below 0.5 at c = 1/2, i.e. at
    ||r|| / ||x + d|| = ||d|| / (2 ||x + d||) for the detail that is smallest relative to the image."""
    op = FourierOperator(size=N, rate=1.0, seed=0)
    x = shepp_logan(N)[None]
    dets = resolve_details("symbols", (N, N), 0)
    amp = 0.5 * float(x.max() - x.min())
    res = detail_erasure(identity, op, x, details="symbols", min_recovery=0.5, eps_max=0.4, bisections=8,
                         min_eps=0.0, baseline=None, steps=40)
    per_detail = []
    for det in dets:
        xd, d = insert_details(x, [det], amp)
        per_detail.append(0.5 * float(d.norm()) / float(insert_details(x, dets, amp)[0].norm()))
    expected = min(per_detail)
    assert res.metrics["recovery_clean"] == pytest.approx(1.0, abs=1e-4)
    assert res.metrics["erase_eps"] == pytest.approx(expected, rel=0.08), (res.metrics, per_detail)
    lo, hi = res.settings["network_bracket"]
    assert hi - lo <= 0.4 / 2**8 + 1e-9 and res.passed


def test_a_detail_that_survives_and_bad_arguments():
    op = FourierOperator(size=N, rate=1.0, seed=0)
    x = shepp_logan(N)[None]
    res = detail_erasure(identity, op, x, eps_max=0.005, bisections=2, baseline=None, steps=5)
    assert res.metrics["erase_eps"] == float("inf") and "survives" in res.message and res.passed
    with pytest.raises(InvalidInputError, match="eps_max"):
        detail_erasure(identity, op, x, eps_max=-1, baseline=None)


def test_marker_arguments():
    from pytest_invstab.settings import allowed_arguments, value_problems

    assert {"eps_max", "min_eps", "bisections", "details"} <= set(allowed_arguments("detail_erasure"))
    assert value_problems("detail_erasure", {"eps_max": 0.2, "min_eps": 0.0}) == []
    assert value_problems("detail_erasure", {"eps_max": -0.1})


def test_a_miswired_network_stops_at_the_sanity_gate_before_any_search():
    """No erasure verdict on a network clearly worse than zero-filling (here: a tenth of its intensity)."""
    from pytest_invstab.errors import MiswiredNetworkError

    op = FourierOperator(size=32, rate=0.5, seed=0)
    x = shepp_logan(32)[None]
    with pytest.raises(MiswiredNetworkError, match="no detail_erasure verdict.*13.8 dB.*21.1 dB"):
        detail_erasure(lambda y, o: 0.1 * o.adjoint(y), op, x, baseline=None, bisections=1, steps=1)
    # switched off, the same network gets a verdict
    res = detail_erasure(lambda y, o: 0.1 * o.adjoint(y), op, x, baseline=None, bisections=1, steps=1, sanity=False)
    assert res.verdict in ("passed", "failed") and res.settings["sanity"] == "off (sanity=False)"
