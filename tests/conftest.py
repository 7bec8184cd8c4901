"""Shared helpers for the plugin's own tests: a tiny user project for pytester runs.

The project is what a user would write: an ini file with small sizes and the quick budget
(so each pytester run takes seconds), and a conftest.py with reconstructors whose
stability is known exactly:

* ``zero_filled``: ``f(y) = A* y``. For the orthonormal Fourier operator A A* = I, so
  ||f(A(x+r)) - f(Ax)|| = ||A*A r|| <= ||r||: the relative artifact is at most eps.
* ``planted``: ``f(y) = A* y + K <A* y, w> w`` with a unit direction w in the range of
  A*A (so A*A w = w). The worst perturbation of size eps ||x|| is r = eps ||x|| w, whose
  artifact is (1 + K) eps ||x|| w: relative artifact (1 + K) eps, about 1 for K = 100 and
  eps = 0.01, ten times the default max_artifact of 0.1.
"""

from __future__ import annotations

import importlib


import pytest

# Threads per xdist worker: the plugin sets them (pytest_invstab/threads.py, 'auto').

# pytester's in-process runs drop the modules they imported when they end, and numpy (hence
# torch) and matplotlib break when imported twice in one process; re-importing is slow too
# (hypothesis' plugin imports its whole package, assertion-rewritten, at every terminal
# summary): import everything a run may need up front, and render one tiny panel so matplotlib's lazily imported parts load too.
for _name in ("numpy", "torch", "matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg",
              "pytest_invstab.report", "pytest_invstab.operators", "pytest_invstab.images",
              "pytest_invstab.baselines", "pytest_invstab.checks", "pytest_invstab.checks.worst_case",
              "pytest_invstab.checks.detail_recovery", "pytest_invstab.checks.more_samples",
              "pytest_invstab.fixtures", "pytest_invstab.attacks", "xdist", "xdist.dsession", "pytest_html",
              "pytest_html.extras", "hypothesis"):
    try:
        importlib.import_module(_name)
    except Exception:  # noqa: BLE001 - an optional plugin missing, or a module that its own tests report
        pass


def _warm_up_rendering() -> None:
    import torch

    from pytest_invstab.report.panels import render_curves, render_panel

    render_panel([[("a", torch.zeros(4, 4)), ("b", torch.ones(4, 4))]], title="warm-up")
    render_curves({"x": [0.1, 0.2], "series": {"s": [1.0, 2.0]}, "vline": 0.1}, title="warm-up")


try:
    _warm_up_rendering()
except Exception:  # noqa: BLE001 - only a warm-up; the tests report real problems
    pass

PROJECT_INI = """
[pytest]
invstab_size = 32
# the toy reconstructors below (zero-filling, a planted instability) are no better than zero-filling;
# the sanity gate has its own tests (tests/test_sanity.py, tests/test_plugin_sanity.py)
invstab_sanity = false
invstab_budget = quick
"""

# A test module with one stable check (zero-filled, tiny budget) and one failing one (planted).
STABLE_AND_UNSTABLE = """
import pytest

@pytest.mark.stability(baseline=None, steps=2, restarts=1)
def test_stable():
    pass

@pytest.mark.stability(reconstructor="planted", baseline=None)
def test_unstable():
    pass
"""

PROJECT_CONFTEST = '''
import pytest
import torch

_DIRECTIONS = {}


def planted_direction(op):
    """A fixed unit image w = A*A w0 / ||A*A w0|| (so A*A w = w) on the operator's device."""
    key = id(op)
    if key not in _DIRECTIONS:
        h, w = op.image_shape
        yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        blob = torch.exp(-((xx - 0.2) ** 2 + (yy + 0.1) ** 2) / 0.05).to(op.dtype).to(op.device)[None]
        d = op.adjoint(op.forward(blob))
        _DIRECTIONS[key] = d / d.norm()
    return _DIRECTIONS[key]


class Planted(torch.nn.Module):
    """Zero-filled reconstruction plus a large gain along one image direction (a planted instability)."""

    def __init__(self, gain=100.0):
        super().__init__()
        self.gain = gain
        self.scale = torch.nn.Parameter(torch.ones(()))  # a parameter, so model handling is exercised

    def forward(self, y, op):
        z = op.adjoint(y)
        w = planted_direction(op)
        c = (z.conj() * w).real.sum(dim=(-2, -1)) if z.is_complex() else (z * w).sum(dim=(-2, -1))
        return self.scale * z + self.gain * c[:, None, None] * w


def zero_filled(y, op):
    return op.adjoint(y)


@pytest.fixture(scope="session")
def reconstructor():
    return zero_filled


@pytest.fixture(scope="session")
def planted():
    return Planted()
'''


@pytest.fixture
def invstab_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project with small, quick settings and the ``zero_filled`` / ``planted`` reconstructors."""
    pytester.makeini(PROJECT_INI)
    pytester.makeconftest(PROJECT_CONFTEST)
    return pytester

