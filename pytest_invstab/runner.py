"""Running a check inside a pytest test (pytest layer): fetch fixtures, run, record, fail or skip.

Shared by :mod:`pytest_invstab.plugin` (marked tests) and :mod:`pytest_invstab.fixtures` (the
``invstab`` fixture); both import this module and neither imports the other, so the pytest
layer has no import circle. The session state itself (:class:`~pytest_invstab.session.InvstabSession`)
is plain Python; this module only reaches it through ``config.stash``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pytest

from .errors import InvstabError, UnsupportedRateError
from .progress import Ticker
from .session import InvstabSession, run_check
from .settings import FIXTURE_ARGUMENTS, check_kwargs

if TYPE_CHECKING:  # pragma: no cover
    from .result import CheckResult

class CheckFailed(pytest.fail.Exception):  # type: ignore[misc,name-defined]
    """A check judged the model unstable (its verdict, not a crash or a bad input).

    A subclass of pytest's ``Failed``, so the test fails as usual; mark a known instability with
    ``pytest.mark.xfail(strict=True, raises=pytest_invstab.CheckFailed)`` and a crash or a bad
    input inside the check is still reported as a failure, not as the expected xfail.
    """

    # As pytest's own Failed: reports show "CheckFailed: <message>", without a module path.
    __module__ = "builtins"


SESSION_KEY = pytest.StashKey[InvstabSession]()
# (CheckResult, record) of every check a test ran, for junit properties and pytest-html extras.
ITEM_RESULTS_KEY = pytest.StashKey[list]()
# The fixture request of a running test (stashed by the autouse fixture ``_invstab_request``),
# through which a marked test's check fetches its fixtures after the test body.
REQUEST_KEY = pytest.StashKey[pytest.FixtureRequest]()


def get_session(config: pytest.Config) -> InvstabSession:
    """The session state of ``config`` (created in the plugin's pytest_configure)."""
    return config.stash[SESSION_KEY]


def fetch_fixture(request: pytest.FixtureRequest, fixture: str, marker: str, role: str, where: str | None = None) -> Any:
    """``request.getfixturevalue(fixture)`` with one clear error when no such fixture exists.

    ``where`` names what the user can pass the argument to (default ``@pytest.mark.<marker>``).
    """
    __tracebackhide__ = True
    try:
        return request.getfixturevalue(fixture)
    except pytest.FixtureLookupError as exc:
        if getattr(exc, "argname", fixture) != fixture:
            raise  # the fixture exists but needs one that does not: pytest's own message says which
    where = where or f"@pytest.mark.{marker}"
    if role == "reconstructor":
        hint = (
            f"define a fixture named {fixture!r} in conftest.py that returns the network under test "
            f"(a callable f(y, op) -> image or a torch.nn.Module), or pass reconstructor=... to {where}"
        )
    else:
        hint = (f"define a fixture named {fixture!r} in conftest.py, or pass {role}=... to {where} "
                f"(default fixture: {FIXTURE_ARGUMENTS[role]!r})")
    pytest.fail(f"pytest-invstab {marker}: needs a {role} but there is no fixture {fixture!r}: {hint}",
                pytrace=False)


def run_and_record(item: pytest.Item, marker: str, fixtures: Mapping[str, Any], kwargs: Mapping[str, Any],
                   *, fail: bool = True) -> "CheckResult":
    """Run one check, record its result in the session, and fail (or skip) the test as it says.

    ``fixtures``: the values of ``reconstructor``, ``operator`` and ``images``. ``kwargs``: the
    check's keyword arguments (seed and budget filled from the session when absent).
    """
    __tracebackhide__ = True
    session = get_session(item.config)
    kw = check_kwargs(kwargs, session.settings)
    # Skip / fail outside the except blocks: the user's error is the message, not a chained traceback.
    skip_reason = problem = None
    try:
        with live_progress(item.config, marker):
            result = run_check(marker, fixtures["reconstructor"], fixtures["operator"], fixtures["images"], kw)
    except UnsupportedRateError as exc:
        skip_reason = f"pytest-invstab {marker}: {exc}"
    except InvstabError as exc:
        problem = f"pytest-invstab {marker}: {exc}"
    except ImportError as exc:
        problem = f"pytest-invstab {marker}: the check is not available ({exc})"
    except Exception as exc:  # the user's model raised: show its frames, not the plugin's
        raise exc.with_traceback(user_frames(exc.__traceback__))
    if skip_reason is not None:
        skip_at_test(skip_reason)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    record = session.add_result(item.nodeid, result)
    item.stash.setdefault(ITEM_RESULTS_KEY, []).append((result, record))
    if session.settings.junit_properties:
        item.user_properties.extend(junit_properties(record))
    if fail and not result.passed:
        raise CheckFailed(failure_message(record), pytrace=False)
    return result


def user_frames(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` without the frames of this package: what is left is the user's code (and torch's).

    The check's own frames (checks, attacks, reconstructor) sit between the test and the user's
    model; a model that raises should show its own line at the top, not ~100 lines of the plugin.
    """
    kept: list[TracebackType] = []
    while tb is not None:
        if not Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(_PACKAGE):
            kept.append(tb)
        tb = tb.tb_next
    out: TracebackType | None = None
    for t in reversed(kept):
        out = TracebackType(out, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return out


_PACKAGE = Path(__file__).resolve().parent


def live_progress(config: pytest.Config, check: str) -> contextlib.AbstractContextManager[Any]:
    """A ``Ticker`` showing ``[check 12 s]`` on an interactive terminal while a long check runs.

    Nothing on xdist workers (their output is not a terminal) nor when output is piped or logged:
    there pytest's own lines (``-v`` adds one per finished check) are the record.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    stream = sys.__stdout__
    if (hasattr(config, "workerinput") or reporter is None or not getattr(reporter, "isatty", False)
            or stream is None or not stream.isatty()):
        return contextlib.nullcontext()
    capman = config.pluginmanager.get_plugin("capturemanager")

    def write(text: str) -> None:
        # Straight to the terminal (pytest's writer would count the backspaces as columns).
        with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
            stream.write(text)
            stream.flush()

    return Ticker(check, write)


def skip_at_test(reason: str) -> None:
    """Skip, reported at the test's location rather than at this plugin's line."""
    __tracebackhide__ = True
    try:
        exc = pytest.skip.Exception(reason, _use_item_location=True)  # type: ignore[call-arg]
    except TypeError:  # pragma: no cover - older pytest without the keyword
        pytest.skip(reason)
    raise exc


def failure_message(record: Mapping[str, Any]) -> str:
    """The check's one-line message and where its artifacts are."""
    message = str(record.get("message") or f"{record.get('check')} failed")
    artifacts = record.get("artifacts") or {}
    if artifacts:
        folder = Path(next(iter(artifacts.values()))).parent
        return f"{message}\nartifacts: {folder}"
    if record.get("artifact_error"):
        return f"{message}\nartifacts not saved: {record['artifact_error']}"
    return message


def junit_properties(record: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(name, value)`` pairs for ``item.user_properties``: key metric, thresholds, baseline, verdict."""
    prefix = f"invstab.{record.get('check')}"
    if int(record.get("index", 0) or 0):
        prefix += f"#{int(record['index'])}"
    key = str(record.get("key_metric", ""))
    props: list[tuple[str, Any]] = [(f"{prefix}.verdict", record.get("verdict"))]
    metrics = record.get("metrics") or {}
    if key in metrics:
        props.append((f"{prefix}.{key}", metrics[key]))
    for name, value in (record.get("thresholds") or {}).items():
        props.append((f"{prefix}.{name}", value))
    baseline = record.get("baseline") or {}
    if key in baseline:
        props.append((f"{prefix}.baseline.{key}", baseline[key]))
    artifacts = record.get("artifacts") or {}
    if artifacts:
        props.append((f"{prefix}.artifacts", str(Path(next(iter(artifacts.values()))).parent)))
    return props
