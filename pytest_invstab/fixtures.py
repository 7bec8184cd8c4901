"""Fixtures of pytest-invstab: operators, images, the CS baseline and the ``invstab`` helper.

Operators are immutable, so the concrete ones (``fourier_operator``, ``multicoil_operator``,
``radon_operator``) and ``operator`` are session-scoped. Images are function-scoped (a fresh
copy per test, built once per size and device) so that a user may override ``operator`` with
a function-scoped fixture of their own. Sizes, rates and devices come from the ini options
``invstab_size``, ``invstab_rate``, ``invstab_pattern``, ``invstab_orientation``, ``invstab_angles``, ``invstab_coils``,
``invstab_operator`` and ``--invstab-device`` / ``--invstab-seed``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from .runner import REQUEST_KEY, fetch_fixture, get_session, run_and_record
from .settings import CHECKS, FIXTURE_ARGUMENTS, InvstabSettings, allowed_arguments, value_problems

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .operators.base import LinearOperator
    from .result import CheckResult

# Images are cheap but not free at 256 px with 4x4 supersampling: build once per size/device.
_IMAGE_CACHE: dict[tuple[int, str, str], "torch.Tensor"] = {}


def _settings(request: pytest.FixtureRequest) -> InvstabSettings:
    return get_session(request.config).settings


@pytest.fixture(autouse=True)
def _invstab_request(request: pytest.FixtureRequest) -> Generator[None, None, None]:
    """Keep the test's fixture request in its stash while it runs.

    The plugin runs a marked test's check after the test body and fetches the marker's
    fixtures through this request (``request.getfixturevalue`` is pytest's public route;
    the item's own request is private). Cheap, so it is autouse for every test.
    """
    request.node.stash[REQUEST_KEY] = request
    yield
    del request.node.stash[REQUEST_KEY]


@pytest.fixture(scope="session")
def invstab_settings(request: pytest.FixtureRequest) -> InvstabSettings:
    """The session's resolved pytest-invstab settings (command line > ini > default).

    Attributes: ``device`` ('cpu' or 'cuda'), ``seed``, ``budget``, ``size`` (pixels), ``rate``
    (fraction in (0, 1]), ``pattern``, ``angles``, ``coils``, ``operator``, ``results`` (folder)
    and more; handy to put a model on the right device in a ``reconstructor`` fixture.
    """
    return _settings(request)


@pytest.fixture(scope="session")
def fourier_operator(invstab_settings: InvstabSettings) -> "LinearOperator":
    """Single-coil subsampled Fourier operator (MRI): images complex [B, N, N], measurements [B, m].

    N = ini ``invstab_size`` (default 128 px), rate = ``invstab_rate`` (fraction of k-space,
    default 0.33), pattern = ``invstab_pattern`` (cartesian, points or radial), Cartesian lines
    along ``invstab_orientation`` (columns, the default, or rows), mask seed = ini
    ``invstab_mask_seed`` (default 0; not ``--invstab-seed``, which seeds the checks only, so a
    new attack seed keeps the operator), device = ``--invstab-device``.
    """
    from .operators.fourier import FourierOperator

    s = invstab_settings
    return FourierOperator(size=s.size, rate=s.rate, pattern=s.pattern, seed=s.mask_seed, device=s.device,
                           orientation=s.orientation)


@pytest.fixture(scope="session")
def multicoil_operator(invstab_settings: InvstabSettings) -> "LinearOperator":
    """Multi-coil subsampled Fourier operator (parallel MRI): measurements [B, coils, m].

    coils = ini ``invstab_coils`` (default 8); size, rate, pattern, seed and device as for
    ``fourier_operator``.
    """
    from .operators.multicoil import MultiCoilFourierOperator

    s = invstab_settings
    return MultiCoilFourierOperator(size=s.size, rate=s.rate, pattern=s.pattern, coils=s.coils, seed=s.mask_seed,
                                    orientation=s.orientation,
                                    device=s.device)


@pytest.fixture(scope="session")
def radon_operator(invstab_settings: InvstabSettings) -> "LinearOperator":
    """Parallel-beam Radon transform (CT): images real [B, N, N], measurements [B, angles, detectors].

    angles = ini ``invstab_angles`` (default 50, spread over 180 degrees); N = ``invstab_size``.
    """
    from .operators.radon import RadonOperator

    s = invstab_settings
    return RadonOperator(size=s.size, angles=s.angles, device=s.device)


@pytest.fixture(scope="session")
def operator(request: pytest.FixtureRequest, invstab_settings: InvstabSettings) -> "LinearOperator":
    """The operator a marked test uses: the plugin fixture named by ini ``invstab_operator``.

    ``fourier`` (default) -> ``fourier_operator``, ``multicoil`` -> ``multicoil_operator``,
    ``radon`` -> ``radon_operator``. Override this fixture in conftest.py to test another operator.
    """
    return request.getfixturevalue(f"{invstab_settings.operator}_operator")


def _phantom(size: int, device: str, dtype: "torch.dtype") -> "torch.Tensor":
    from .images.phantoms import shepp_logan as make

    key = (int(size), str(device), str(dtype))
    if key not in _IMAGE_CACHE:
        _IMAGE_CACHE[key] = make(size, dtype=dtype, device=device)[None]
    return _IMAGE_CACHE[key].clone()  # a test may modify its copy in place


@pytest.fixture
def shepp_logan(operator: "LinearOperator") -> "torch.Tensor":
    """The modified Shepp-Logan phantom, real [1, H, W] in [0, 1], at the operator's size, device and dtype."""
    if len(operator.image_shape) != 2 or operator.image_shape[0] != operator.image_shape[1]:
        # one failure message like every other user error (no UsageError, no plugin frames)
        pytest.fail(
            f"pytest-invstab: the default reference_images (shepp_logan) need a square 2-D operator, got "
            f"image_shape {tuple(operator.image_shape)}; override the reference_images fixture in conftest.py "
            "with images of the operator's shape",
            pytrace=False,
        )
    return _phantom(operator.image_shape[0], str(operator.device), operator.dtype)


@pytest.fixture
def reference_images(shepp_logan: "torch.Tensor") -> "torch.Tensor":
    """The images every check perturbs, [B, H, W] at the operator's size (default: ``shepp_logan``).

    Override in conftest.py with your own test images (e.g. from ``pytest_invstab.images``).
    """
    return shepp_logan


@pytest.fixture(scope="session")
def cs_baseline() -> Any:
    """The TV (Chambolle–Pock) CS baseline, ``CSBaseline()``: the default stable reconstructor, a callable f(y, op)."""
    from .baselines import CSBaseline

    return CSBaseline()


class Invstab:
    """The ``invstab`` fixture: run a check inside a test and record it in the session report.

    Arguments left out come from the fixtures (``reconstructor``, ``operator``,
    ``reference_images``) and the session settings (``seed``, ``budget``). Each method returns
    the :class:`~pytest_invstab.result.CheckResult`; when the check fails, the test fails with
    its one-line message and artifact folder, unless called with ``fail=False``.
    """

    def __init__(self, request: pytest.FixtureRequest):
        self._request = request

    @property
    def settings(self) -> InvstabSettings:
        return get_session(self._request.config).settings

    def worst_case(self, reconstructor: Any = None, operator: Any = None, images: Any = None, *,
                   fail: bool = True, **kwargs: Any) -> "CheckResult":
        """Worst-case perturbation search (keywords as ``checks.worst_case``: eps, max_artifact, domain, ...)."""
        __tracebackhide__ = True
        return self._run("stability", reconstructor, operator, images, fail, kwargs)

    def detail_recovery(self, reconstructor: Any = None, operator: Any = None, images: Any = None, *,
                        fail: bool = True, **kwargs: Any) -> "CheckResult":
        """Inserted-detail recovery (keywords as ``checks.detail_recovery``: details, min_recovery, ...)."""
        __tracebackhide__ = True
        return self._run("detail_recovery", reconstructor, operator, images, fail, kwargs)

    def more_samples(self, reconstructor: Any = None, operator: Any = None, images: Any = None, *,
                     fail: bool = True, **kwargs: Any) -> "CheckResult":
        """PSNR across growing sampling rates (keywords as ``checks.more_samples``: rates, tolerance_db, ...)."""
        __tracebackhide__ = True
        return self._run("more_samples", reconstructor, operator, images, fail, kwargs)

    def detail_erasure(self, reconstructor: Any = None, operator: Any = None, images: Any = None, *,
                       fail: bool = True, **kwargs: Any) -> "CheckResult":
        """Smallest perturbation erasing an inserted detail (keywords as ``checks.detail_erasure``)."""
        __tracebackhide__ = True
        return self._run("detail_erasure", reconstructor, operator, images, fail, kwargs)

    def _run(self, marker: str, reconstructor: Any, operator: Any, images: Any, fail: bool,
             kwargs: dict[str, Any]) -> "CheckResult":
        __tracebackhide__ = True
        assert marker in CHECKS
        allowed = [a for a in allowed_arguments(marker) if a not in FIXTURE_ARGUMENTS]
        unknown = [k for k in kwargs if k not in allowed]
        problems = [f"unknown argument {k!r}" for k in unknown]
        problems += value_problems(marker, {k: v for k, v in kwargs.items() if k not in unknown})
        if problems:
            pytest.fail(f"invstab.{_method(marker)}(): {'; '.join(problems)}; allowed: {', '.join(allowed)}",
                        pytrace=False)
        if reconstructor is None:
            reconstructor = fetch_fixture(self._request, "reconstructor", marker, "reconstructor",
                                          f"invstab.{_method(marker)}()")
        fixtures = {
            "reconstructor": reconstructor,
            "operator": operator if operator is not None else self._request.getfixturevalue("operator"),
            "images": images if images is not None else self._request.getfixturevalue("reference_images"),
        }
        return run_and_record(self._request.node, marker, fixtures, kwargs, fail=fail)


def _method(marker: str) -> str:
    return "worst_case" if marker == "stability" else marker


@pytest.fixture
def invstab(request: pytest.FixtureRequest) -> Invstab:
    """Run checks inside a test: ``invstab.worst_case(eps=0.02)``, ``invstab.detail_recovery()``,
    ``invstab.more_samples(rates=(0.2, 0.33, 0.5))``.

    Missing arguments come from the ``reconstructor``, ``operator`` and ``reference_images``
    fixtures and the session's seed and budget; results go into the session report and the
    results folder; a failed check fails the test unless ``fail=False``. Returns the CheckResult.
    """
    return Invstab(request)
