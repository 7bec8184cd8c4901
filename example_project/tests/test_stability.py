"""The stability suite of the example project: the three tests of Antun et al. (PNAS 2020).

Each test runs one of the plugin's checks (the marker) for every network (the ``network``
parameter; fixtures in ``conftest.py``). A network that the check finds unstable is marked
``xfail(strict=True)`` with what was measured, so the suite is green exactly when the plugin
detects what it should: an instability that disappears (XPASS) fails the run as loudly as a
stable network that becomes unstable. The JSON report (``.invstab/report.json``) keeps every
number; ``python -m example_project.make_table`` turns it into the README's table.

Thresholds come from what the stable reference, the CS baseline, achieves on the same data,
plus a margin (numbers measured by this suite, see README.md):

* worst-case perturbation: eps = 1 % of ||x||. A stable reconstruction changes by about as much
  as its input: the zero-filled reconstruction by exactly eps (A A* = I), the l1-wavelet CS
  baseline by at most ``CS_ARTIFACT`` at eps = 1 %. ``MAX_ARTIFACT`` allows twice that, so a
  network fails when it amplifies its worst perturbation more than twice as much as CS does.
* detail recovery: the CS baseline recovers the card symbols with a score of at least
  ``CS_RECOVERY`` on these images; ``MIN_RECOVERY`` leaves a margin of 0.2 below it.
* more samples: PSNR must not fall by more than 1 dB anywhere as the rate grows (the CS
  baseline gains at every step); 1 dB is about the spread of PSNR between the reference images.
"""

from __future__ import annotations

import pytest

from example_project.recon_nets import zoo

# -- thresholds (see the module docstring for where they come from) ---------------------------------
EPS = 0.01  # relative perturbation size ||r|| / ||x||
CS_ARTIFACT = 0.02  # worst artifact of the CS baseline at EPS, measured (its own worst case)
MAX_ARTIFACT = 2 * CS_ARTIFACT  # relative artifact ||f(A(x+r)) - f(Ax)|| / ||x||
CS_RECOVERY = 0.8  # worst detail-recovery score of the CS baseline on the reference images
MIN_RECOVERY = CS_RECOVERY - 0.2  # score in (-1, 1], 1 = detail perfectly recovered
TOLERANCE_DB = 1.0  # largest allowed PSNR fall as the sampling rate grows (dB)


def case(name: str, unstable: str | None = None, **marks) -> object:
    """One network of a test; ``unstable`` gives the measured instability (strict xfail)."""
    extra = [pytest.mark.xfail(strict=True, reason=unstable)] if unstable else []
    return pytest.param(name, id=name, marks=extra + [getattr(pytest.mark, m)(**kw) for m, kw in marks.items()])


@pytest.mark.stability(eps=EPS, max_artifact=MAX_ARTIFACT)
@pytest.mark.parametrize(
    "network",
    [
        case("ell50"),
        case("deepmri", "Deep-MRI-like cascade: a worst-case perturbation of 1 % gives an artifact of 0.1"),
        case("dagan"),
        case("cs"),
    ],
    indirect=True,
)
def test_tiny_worst_case_perturbation(network: str) -> None:
    """Instability 1: a perturbation of 1 % of ||x|| must not change the reconstruction much more than CS."""


@pytest.mark.detail_recovery(details="symbols", min_recovery=MIN_RECOVERY)
@pytest.mark.parametrize(
    "network",
    [
        case("ell50", "Ell-50-like U-Net (trained on ellipses only): the card symbols vanish, recovery 0.3"),
        case("deepmri"),
        case("dagan"),
        case("cs"),
    ],
    indirect=True,
)
def test_small_structural_change(network: str) -> None:
    """Instability 2: card symbols added to the image must show in the reconstruction."""


@pytest.mark.parametrize(
    "network",
    [
        case("ell50", "Ell-50-like U-Net: PSNR falls as angles are added",
             more_samples=dict(trained_rate=zoo.trained_rate("ell50"), tolerance_db=TOLERANCE_DB)),
        case("deepmri", more_samples=dict(trained_rate=zoo.trained_rate("deepmri"), tolerance_db=TOLERANCE_DB)),
        case("dagan", "DAGAN-like U-Net: PSNR falls as lines are added",
             more_samples=dict(trained_rate=zoo.trained_rate("dagan"), tolerance_db=TOLERANCE_DB)),
        case("cs", more_samples=dict(tolerance_db=TOLERANCE_DB)),
    ],
    indirect=True,
)
def test_more_samples(network: str) -> None:
    """Instability 3: PSNR must not fall as the sampling rate grows past the trained rate."""
