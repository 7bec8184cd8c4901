"""pytest hooks of pytest-invstab: options, markers, running marked tests, reports, xdist.

Thin on purpose: settings are resolved in :mod:`pytest_invstab.settings`, session state and
reports live in :mod:`pytest_invstab.session`, the checks in :mod:`pytest_invstab.checks`.
This module imports neither torch nor the checks at start-up, so that installing the plugin
does not slow down test suites that do not use it.

A marked test runs as usual; when its body passed, the plugin fetches the fixtures named by
the marker (``reconstructor``, ``operator``, ``reference_images`` by default), runs the check,
records the result and fails the test with the check's one-line message and artifact folder.
"""

from __future__ import annotations

import base64
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .errors import InvalidInputError, InvstabError, UnsupportedRateError
from .session import WORKER_KEY, InvstabSession, run_check
from .settings import (
    CHECKS,
    FIXTURE_ARGUMENTS,
    MARKER_DOCS,
    OPTIONS,
    check_kwargs,
    load_settings,
    marker_problems,
    split_marker_kwargs,
)

if TYPE_CHECKING:  # pragma: no cover
    from .result import CheckResult

SESSION_KEY = pytest.StashKey[InvstabSession]()
# (CheckResult, record) of every check a test ran, for junit properties and pytest-html extras.
ITEM_RESULTS_KEY = pytest.StashKey[list]()
# Marker-argument problems of an item (reported at its setup on xdist workers).
MARKER_PROBLEMS_KEY = pytest.StashKey[list]()

# Markers as decorators: ``from pytest_invstab.plugin import stability``.
stability = pytest.mark.stability
detail_recovery = pytest.mark.detail_recovery
more_samples = pytest.mark.more_samples


# -- options ----------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("invstab", "pytest-invstab (instabilities of reconstruction networks)")
    for name, option in OPTIONS.items():
        if option.cli:
            flags = [option.flag]
            kwargs: dict[str, Any] = {"dest": f"invstab_{name}", "help": option.help + f" [ini: {option.ini}]"}
            if name == "junit_properties":
                kwargs.update(action="store_true", default=None)
            elif name == "compare_fail":
                kwargs.update(action="append", default=None, metavar=option.metavar)
            else:
                kwargs.update(action="store", default=None, metavar=option.metavar)
            group.addoption(*flags, **kwargs)
        ini_type = "linelist" if name == "compare_fail" else "string"
        parser.addini(option.ini, option.help.replace("%%", "%"), type=ini_type, default=None)


def _read_settings(config: pytest.Config):
    cli = {name: config.getoption(f"invstab_{name}") for name, o in OPTIONS.items() if o.cli}
    ini = {name: config.getini(o.ini) for name, o in OPTIONS.items()}
    ini_base = config.inipath.parent if config.inipath else config.rootpath
    return load_settings(cli, ini, cli_base=config.invocation_params.dir, ini_base=ini_base)


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKER_DOCS.items():
        config.addinivalue_line("markers", doc)
    try:
        settings = _read_settings(config)
    except InvalidInputError as exc:
        raise pytest.UsageError(f"pytest-invstab: {exc}") from None
    if settings.device != "cpu":
        _check_device(settings.device)
    worker = getattr(config, "workerinput", {}).get("workerid")
    config.stash[SESSION_KEY] = InvstabSession(settings, worker_id=worker)
    from . import fixtures

    if not config.pluginmanager.is_registered(fixtures):
        config.pluginmanager.register(fixtures, "invstab-fixtures")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(), "invstab-xdist")
    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(HtmlHooks(), "invstab-html")


def _check_device(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise pytest.UsageError(
                f"pytest-invstab: --invstab-device {device} was asked for but CUDA is not available "
                f"(torch {torch.__version__}); run with --invstab-device cpu or install a CUDA build of torch"
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise pytest.UsageError(
                f"pytest-invstab: --invstab-device {device}: only {torch.cuda.device_count()} CUDA device(s) visible"
            )


def get_session(config: pytest.Config) -> InvstabSession:
    """The session state of ``config`` (created in pytest_configure)."""
    return config.stash[SESSION_KEY]


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if SESSION_KEY not in config.stash:
        return None
    s = get_session(config).settings
    return [f"invstab: device={s.device}, seed={s.seed}, budget={s.budget}, save={s.save}, results={s.results}"]


# -- markers ----------------------------------------------------------------------------------
def item_markers(item: pytest.Item) -> dict[str, tuple[list[Any], dict[str, Any]]]:
    """``{marker: (positional args, merged kwargs)}`` of the invstab markers on ``item``.

    Marks on the module, class and function are merged; the one closest to the test wins.
    """
    found: dict[str, tuple[list[Any], dict[str, Any]]] = {}
    # Module, then class, then function; within the function its decorators come before the
    # marks of a pytest.param, which are closer to the test case and so must win.
    for node in item.listchain():
        for mark in node.own_markers:
            if mark.name in CHECKS:
                args, kwargs = found.setdefault(mark.name, ([], {}))
                args.extend(mark.args)
                kwargs.update(mark.kwargs)
    return found


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Validate every invstab marker before anything runs: one usage error lists every problem.

    Under pytest-xdist a worker cannot stop the session with a usage error (xdist reports an
    internal error instead), so there each bad test errors at setup with the same message.
    """
    problems: list[str] = []
    for item in items:
        mine = [p for name, (args, kwargs) in item_markers(item).items()
                for p in marker_problems(name, args, kwargs, item.nodeid)]
        if mine:
            item.stash[MARKER_PROBLEMS_KEY] = mine
        problems += mine
    if problems and not hasattr(config, "workerinput"):
        raise pytest.UsageError("pytest-invstab: bad marker arguments:\n" + "\n".join("  " + p for p in problems))


def pytest_runtest_setup(item: pytest.Item) -> None:
    problems = item.stash.get(MARKER_PROBLEMS_KEY, None)
    if problems:
        pytest.fail("pytest-invstab: bad marker arguments:\n" + "\n".join("  " + p for p in problems),
                    pytrace=False)


# -- running marked tests -------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    result = yield  # the test body; if it failed, its exception propagates and no check runs
    if isinstance(item, pytest.Function):
        for name, (_args, kwargs) in item_markers(item).items():
            fixture_names, kw = split_marker_kwargs(kwargs)
            request = item._request
            fixtures = {
                arg: fetch_fixture(request, fixture_names[arg], name, arg) for arg in FIXTURE_ARGUMENTS
            }
            run_and_record(item, name, fixtures, kw, fail=True)
    return result


def fetch_fixture(request: Any, fixture: str, marker: str, role: str, where: str | None = None) -> Any:
    """``request.getfixturevalue(fixture)`` with one clear error when no such fixture exists.

    ``where`` names what the user can pass the argument to (default ``@pytest.mark.<marker>``).
    """
    __tracebackhide__ = True
    from _pytest.fixtures import FixtureLookupError

    try:
        return request.getfixturevalue(fixture)
    except FixtureLookupError as exc:
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
        result = run_check(marker, fixtures["reconstructor"], fixtures["operator"], fixtures["images"], kw)
    except UnsupportedRateError as exc:
        skip_reason = f"pytest-invstab {marker}: {exc}"
    except InvstabError as exc:
        problem = f"pytest-invstab {marker}: {exc}"
    except ImportError as exc:
        problem = f"pytest-invstab {marker}: the check is not available ({exc})"
    if skip_reason is not None:
        _skip_at_test(skip_reason)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    record = session.add_result(item.nodeid, result)
    item.stash.setdefault(ITEM_RESULTS_KEY, []).append((result, record))
    if session.settings.junit_properties:
        item.user_properties.extend(junit_properties(record))
    if fail and not result.passed:
        pytest.fail(failure_message(record), pytrace=False)
    return result


def _skip_at_test(reason: str) -> None:
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


# -- end of session -----------------------------------------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if SESSION_KEY not in config.stash:
        return
    state = get_session(config)
    if hasattr(config, "workeroutput"):  # an xdist worker: hand the records to the controller
        config.workeroutput[WORKER_KEY] = state.worker_payload()
        return
    if state.finish() and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if SESSION_KEY not in config.stash or hasattr(config, "workeroutput"):
        return
    lines = get_session(config).summary_lines()
    if not lines:
        return
    terminalreporter.write_sep("=", "pytest-invstab")
    for line in lines:
        red = line.startswith(("ERROR", "regressions")) or "FAILED --" in line
        terminalreporter.write_line(line, red=red, yellow=line.startswith("warning"))


# -- optional plugins -----------------------------------------------------------------------------
class XdistHooks:
    """Merge the records of pytest-xdist workers on the controller (registered only with xdist)."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        payload = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        get_session(node.config).merge_payload(payload)


class HtmlHooks:
    """Attach each check's panel and curves to pytest-html's report (best effort)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Generator[None, Any, Any]:
        report = yield
        if call.when == "call" and ITEM_RESULTS_KEY in item.stash:
            try:
                from pytest_html import extras as html_extras

                found = list(getattr(report, "extras", []))
                for _result, record in item.stash[ITEM_RESULTS_KEY]:
                    for key in ("panel", "curves"):
                        path = (record.get("artifacts") or {}).get(key)
                        if path and Path(path).is_file():
                            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
                            found.append(html_extras.png(data, name=f"{record.get('check')} {key}"))
                report.extras = found
            except Exception:  # noqa: BLE001 - extras are a courtesy; never break a test report
                pass
        return report
