"""pytest hooks of pytest-invstab: options, markers, running marked tests, reports, xdist.

Thin on purpose: settings are resolved in :mod:`pytest_invstab.settings`, session state and
reports live in :mod:`pytest_invstab.session`, the checks in :mod:`pytest_invstab.checks`;
running one check inside a test (fetch fixtures, run, record, fail) is
:mod:`pytest_invstab.runner`, shared with the fixtures of :mod:`pytest_invstab.fixtures`,
which this module registers (they do not import it back).
This module imports neither torch nor the checks at start-up, so that installing the plugin
does not slow down test suites that do not use it.

A marked test runs as usual; when its body passed, the plugin fetches the fixtures named by
the marker (``reconstructor``, ``operator``, ``reference_images`` by default), runs the check,
records the result and fails the test with the check's one-line message and artifact folder.
"""

from __future__ import annotations

import base64
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import cachedir, fixtures
from .errors import InvalidInputError
from .runner import (
    ITEM_RESULTS_KEY,
    REQUEST_KEY,
    SESSION_KEY,
    fetch_fixture,
    get_session,
    run_and_record,
)
from .session import WORKER_KEY, InvstabSession
from .marker_docs import MARKER_DOCS
from .memory import MallocSetting, choose as choose_malloc
from .threads import ThreadSetting, choose, xdist_workers
from .settings import (
    CHECKS,
    FIXTURE_ARGUMENTS,
    OPTIONS,
    load_settings,
    marker_problems,
    split_marker_kwargs,
)

# Marker-argument problems of an item (reported at its setup on xdist workers).
MARKER_PROBLEMS_KEY = pytest.StashKey[list]()
# torch's intra-op threads for this session (threads.py), restored at unconfigure.
THREADS_KEY = pytest.StashKey[ThreadSetting]()
# glibc's large-block thresholds for this session (memory.py), eased at unconfigure.
MALLOC_KEY = pytest.StashKey[MallocSetting]()
# The disk-cache folder in use before this session (cachedir.py), restored at unconfigure.
CACHE_DIR_KEY = pytest.StashKey[Any]()


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
    worker = getattr(config, "workerinput", {}).get("workerid")
    try:
        settings = _read_settings(config)
        session = InvstabSession(settings, worker_id=worker)  # parses --invstab-compare-fail
    except InvalidInputError as exc:
        raise pytest.UsageError(f"pytest-invstab: {exc}") from None
    if settings.device != "cpu":
        _check_device(settings.device)
    config.stash[SESSION_KEY] = session
    if not hasattr(config, "workerinput"):  # the controller (or a plain run) prints the per-check lines
        config.pluginmanager.register(CheckLines(config), "invstab-lines")
    config.stash[THREADS_KEY] = ThreadSetting(choose(settings.threads, _processes(config)))
    config.stash[THREADS_KEY].apply()  # now if torch is loaded (a conftest imported it), else at collection
    config.stash[MALLOC_KEY] = MallocSetting(choose_malloc(settings.malloc))
    config.stash[MALLOC_KEY].apply()
    cache = getattr(config, "cache", None)  # pytest's cache provider (absent with -p no:cacheprovider)
    config.stash[CACHE_DIR_KEY] = cachedir.session_dir()
    if cache is not None:
        cachedir.set_session_dir(cache.mkdir("invstab"))  # Radon matrices: .pytest_cache/d/invstab
    if not config.pluginmanager.is_registered(fixtures):
        config.pluginmanager.register(fixtures, "invstab-fixtures")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(), "invstab-xdist")
    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(HtmlHooks(), "invstab-html")


def _processes(config: pytest.Config) -> int:
    """Test processes sharing the cores: xdist's worker count (on workers and the controller), else 1."""
    if hasattr(config, "workerinput"):
        return xdist_workers()
    n = getattr(config.option, "numprocesses", None)
    return n if isinstance(n, int) and n >= 1 else 1


def pytest_unconfigure(config: pytest.Config) -> None:
    setting = config.stash.get(THREADS_KEY, None)
    if setting is not None:
        setting.restore()  # the user's own count, as found
    if MALLOC_KEY in config.stash:
        config.stash[MALLOC_KEY].restore()
    if CACHE_DIR_KEY in config.stash:
        cachedir.set_session_dir(config.stash[CACHE_DIR_KEY])


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


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if SESSION_KEY not in config.stash:
        return None
    s = get_session(config).settings
    t = config.stash[THREADS_KEY].choice
    per = " per worker" if _processes(config) > 1 else ""
    return [f"invstab: device={s.device}, seed={s.seed}, budget={s.budget}, save={s.save}, results={s.results}",
            f"invstab: torch threads={t.threads}{per} ({t.reason})",
            f"invstab: malloc: {config.stash[MALLOC_KEY].choice.reason}"]


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


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    """Let a marked test without arguments use a parametrized ``reconstructor`` / ``operator`` / images fixture.

    The check fetches its fixtures after the test body, which pytest cannot parametrize; so a
    marker fixture (or one it depends on) that has ``params`` is added to the test's
    ``usefixtures`` before pytest builds its fixture closure. Other fixtures stay lazy.
    """
    if not (collector.funcnamefilter(name) or collector.classnamefilter(name)) or not callable(obj):
        return None
    marks = [m for m in getattr(obj, "pytestmark", []) if getattr(m, "name", None) in CHECKS]
    marks += [m for m in collector.iter_markers() if m.name in CHECKS]
    if not marks:
        return None
    names = {split_marker_kwargs(m.kwargs)[0][arg] for m in marks for arg in FIXTURE_ARGUMENTS}
    wanted = sorted(n for n in names if _parametrized(collector, n))
    if wanted:
        pytest.mark.usefixtures(*wanted)(obj)
    return None


def _parametrized(node: pytest.Collector, name: str, seen: set[str] | None = None) -> bool:
    """Whether fixture ``name`` as seen from ``node``, or a fixture it requests, has ``params``."""
    manager = node.config.pluginmanager.get_plugin("funcmanage")  # pytest's fixture manager
    getdefs = getattr(manager, "getfixturedefs", None)
    seen = set() if seen is None else seen
    if getdefs is None or name in seen:
        return False
    seen.add(name)
    try:
        defs = getdefs(name, node) or ()
    except Exception:  # noqa: BLE001 - best effort; the check's own error follows at run time
        return False
    for fixturedef in defs:
        if getattr(fixturedef, "params", None) is not None:
            return True
        if any(_parametrized(node, arg, seen) for arg in getattr(fixturedef, "argnames", ()) if arg != "request"):
            return True
    return False


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Validate every invstab marker before anything runs: one usage error lists every problem.

    Under pytest-xdist a worker cannot stop the session with a usage error (xdist reports an
    internal error instead), so there each bad test errors at setup with the same message.
    """
    config.stash[THREADS_KEY].apply()  # test modules have imported torch by now, if they use it
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
    if THREADS_KEY in item.config.stash:
        item.config.stash[THREADS_KEY].apply()  # cheap once applied
    problems = item.stash.get(MARKER_PROBLEMS_KEY, None)
    if problems:
        pytest.fail("pytest-invstab: bad marker arguments:\n" + "\n".join("  " + p for p in problems),
                    pytrace=False)


# -- running marked tests -------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    __tracebackhide__ = True
    result = yield  # the test body; if it failed, its exception propagates and no check runs
    # The request was stashed at setup by the autouse fixture ``_invstab_request`` (fixtures.py):
    # the public route to getfixturevalue for a test item.
    if isinstance(item, pytest.Function):
        for name, (_args, kwargs) in item_markers(item).items():
            request = item.stash[REQUEST_KEY]
            fixture_names, kw = split_marker_kwargs(kwargs)
            values = {arg: fetch_fixture(request, fixture_names[arg], name, arg) for arg in FIXTURE_ARGUMENTS}
            run_and_record(item, name, values, kw, fail=True)
    return result


# -- outcome of each test, and a line per finished check ---------------------------------------------
def _outcome(report: pytest.TestReport) -> str:
    """pytest's word for a call report: passed, failed, xfailed, xpassed or skipped."""
    if hasattr(report, "wasxfail"):
        return "xpassed" if report.passed else ("xfailed" if report.skipped else "failed")
    return report.outcome


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Generator[None, Any, Any]:
    """Record pytest's outcome (an xfail is an expected finding) in each record of the test.

    The facts of the one-line summaries travel on the report (``invstab_checks``), so under
    xdist the controller prints them from the workers' reports.
    """
    report = yield
    if call.when == "call" and ITEM_RESULTS_KEY in item.stash:
        from .report.records import check_line_facts

        outcome = _outcome(report)
        facts = []
        for _result, record in item.stash[ITEM_RESULTS_KEY]:
            record["outcome"] = outcome
            facts.append(check_line_facts(record))
        report.invstab_checks = facts
    return report


class CheckLines:
    """With ``-v``: one line per finished check (network, check, key number, threshold, seconds).

    Registered per config; prints on the controller only (xdist workers print nothing).
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(trylast=True)  # after pytest printed the outcome
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        checks = getattr(report, "invstab_checks", None)
        if not checks or report.when != "call" or self.config.get_verbosity() < 1:
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        from .progress import finished_line

        for facts in checks:
            reporter.write_line(finished_line(facts))


# -- end of session -----------------------------------------------------------------------------
# Runs that only list things (no test runs): they never write or replace a report.
LISTING_OPTIONS = ("collectonly", "showfixtures", "show_fixtures_per_test", "markers", "help", "version")


def _listing_only(config: pytest.Config) -> bool:
    return any(getattr(config.option, name, False) for name in LISTING_OPTIONS)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if SESSION_KEY not in config.stash:
        return
    state = get_session(config)
    if hasattr(config, "workeroutput"):  # an xdist worker: hand the records to the controller
        config.workeroutput[WORKER_KEY] = state.worker_payload()
        return
    if _listing_only(config):
        return
    if state.finish() and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# The stat that puts a failed compare gate into pytest's last line ("2 passed, 1 invstab gate failure").
GATE_STAT = "invstab gate failure"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if SESSION_KEY not in config.stash or hasattr(config, "workeroutput"):
        return
    state = get_session(config)
    lines = state.summary_lines()
    if not lines:
        return
    terminalreporter.write_sep("=", "pytest-invstab")
    for line in lines:
        red = line.startswith(("ERROR", "regressions")) or "FAILED --" in line
        terminalreporter.write_line(line, red=red, yellow=line.startswith("warning"))
    if state.gate_failed():
        terminalreporter.stats.setdefault(GATE_STAT, []).append(state.gate_verdict())


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
