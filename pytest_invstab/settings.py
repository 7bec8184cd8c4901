"""Settings of a pytest-invstab session, resolved without pytest.

Every setting resolves as: marker argument, then command line (``--invstab-<name>``), then
ini (``invstab_<name>``), then the default below. The plugin hands the raw values it reads
from pytest to :func:`load_settings`; the check-level settings (``seed``, ``budget``) are
overridden per test by marker arguments in :func:`check_kwargs`.

Marker arguments are validated here too (:func:`marker_problems`), so that a typo such as
``epsilon=0.01`` or ``domain="kspace"`` gives one clear message at collection, before any
network runs.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import parsers as P
from .errors import InvalidInputError
from .memory import parse_malloc
from .threads import parse_threads

SAVE_CHOICES = ("failed", "all", "none")
BUDGET_CHOICES = ("quick", "standard", "thorough")
OPERATOR_CHOICES = ("fourier", "multicoil", "radon")
PATTERN_CHOICES = ("cartesian", "points", "radial")

# Where a resolved value came from (recorded so a user can see why a value applies).
MARKER, CLI, INI, DEFAULT = "marker", "command line", "ini", "default"


@dataclass(frozen=True)
class Option:
    """One setting: its parser, default, help text and whether it has a command-line flag."""

    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    cli: bool = True
    metavar: str | None = None
    is_path: bool = False

    @property
    def flag(self) -> str:
        return "--invstab-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "invstab_" + self.name


OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option("results", ".invstab", P.text, "folder for per-test artifacts (default: .invstab/)",
               metavar="DIR", is_path=True),
        Option("save", "failed", P.choice(SAVE_CHOICES),
               "which checks save artifacts (panel.png, result.json, arrays.npz): failed, all or none "
               "(default: failed)", metavar="WHICH"),
        Option("report", None, P.text, "write the session's results as JSON to PATH", metavar="PATH",
               is_path=True),
        Option("html", None, P.text, "write an HTML page with every check's panel to PATH", metavar="PATH",
               is_path=True),
        Option("compare", None, P.text, "compare with a previous JSON report (from --invstab-report)",
               metavar="PATH", is_path=True),
        Option("compare_fail", [], P.lines,
               "fail the session when METRIC regresses by more than THRESHOLD against --invstab-compare, "
               "e.g. artifact:10%% (relative), psnr:0.5 (absolute, in dB, every rate) or psnr@0.25:0.5 (one rate); "
               "repeatable", metavar="METRIC:THRESHOLD"),
        Option("device", "cpu", P.device, "device for the plugin's operators and images: cpu or cuda (default: cpu)",
               metavar="DEVICE"),
        Option("seed", 0, P.integer(0), "seed of every check's randomness (default: 0); the sampling masks have their own, "
               "ini invstab_mask_seed",
               metavar="INT"),
        Option("budget", "standard", P.choice(BUDGET_CHOICES),
               "search budget: quick, standard or thorough (scales steps and restarts; default: standard)",
               metavar="BUDGET"),
        Option("threads", "auto", parse_threads,
               "torch intra-op threads per test process: auto (cores divided by xdist workers, capped by "
               "OMP_NUM_THREADS) or an integer (default: auto)", metavar="N|auto"),
        Option("malloc", "auto", parse_malloc,
               "auto: on glibc, keep freed blocks up to 256 MiB for reuse during the session instead of "
               "unmapping each large tensor (a 2x faster multi-coil baseline at 320 px); off: leave the "
               "allocator alone (default: auto)", metavar="auto|off"),
        Option("junit_properties", False, P.boolean,
               "add each check's key metrics and verdict to the JUnit XML (record_property)"),
        Option("sanity", True, P.boolean,
               "run the sanity gate before every check (no verdict on a network no better than the direct "
               "reconstruction); a marker's sanity= wins (default: true)", cli=False),
        # fixture defaults: ini only
        Option("size", 128, P.integer(8), "image size N (pixels) of the plugin's operators and phantoms (default: 128)",
               cli=False),
        Option("rate", 0.33, P.rate, "sampling rate in (0, 1] of the plugin's Fourier operators (default: 0.33)",
               cli=False),
        Option("pattern", "cartesian", P.choice(PATTERN_CHOICES),
               "sampling pattern of the plugin's Fourier operators: cartesian, points or radial (default: cartesian)",
               cli=False),
        Option("orientation", "columns", P.choice(("columns", "rows")),
               "Cartesian lines of the plugin's Fourier operators: columns (phase encoding along the width, "
               "as fastMRI and deepinv) or rows (default: columns)", cli=False),
        Option("mask_seed", 0, P.integer(0),
               "seed of the plugin's sampling masks (and coil maps), apart from --invstab-seed so that a new "
               "attack seed keeps the operator the network sees (default: 0)", cli=False),
        Option("angles", 50, P.integer(1), "number of projection angles of radon_operator (default: 50)", cli=False),
        Option("coils", 8, P.integer(1), "number of coils of multicoil_operator (default: 8)", cli=False),
        Option("operator", "fourier", P.choice(OPERATOR_CHOICES),
               "which plugin operator the `operator` fixture returns: fourier, multicoil or radon (default: fourier)",
               cli=False),
    ]
}


@dataclass
class InvstabSettings:
    """Session-wide settings after command line > ini > default resolution.

    Paths are absolute. ``sources`` says where each value came from.
    """

    results: Path
    save: str = "failed"
    report: Path | None = None
    html: Path | None = None
    compare: Path | None = None
    compare_fail: list[str] = field(default_factory=list)
    device: str = "cpu"
    seed: int = 0
    budget: str = "standard"
    junit_properties: bool = False
    sanity: bool = True
    threads: str | int = "auto"
    malloc: str = "auto"
    size: int = 128
    rate: float = 0.33
    pattern: str = "cartesian"
    orientation: str = "columns"
    mask_seed: int = 0
    angles: int = 50
    coils: int = 8
    operator: str = "fourier"
    sources: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view (for report metadata)."""
        out: dict[str, Any] = {}
        for name in OPTIONS:
            value = getattr(self, name)
            out[name] = str(value) if isinstance(value, Path) else value
        return out


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or (
        isinstance(value, (list, tuple)) and len(value) == 0
    )


def resolve(name: str, *, marker: Any = None, cli: Any = None, ini: Any = None) -> tuple[Any, str]:
    """One setting: the first of marker, command line, ini that is set, else the default.

    Returns ``(value, source)``. Raises :class:`InvalidInputError` naming the source and the
    accepted values when the chosen value does not parse.
    """
    option = OPTIONS[name]
    for raw, source, where in (
        (marker, MARKER, f"marker argument {name}="),
        (cli, CLI, option.flag),
        (ini, INI, f"ini option {option.ini}"),
    ):
        if _unset(raw):
            continue
        try:
            return option.parse(raw), source
        except ValueError as exc:
            raise InvalidInputError(f"invalid value for {where}: {exc}") from None
    default = option.default
    return (list(default) if isinstance(default, list) else default), DEFAULT


def load_settings(
    cli: Mapping[str, Any],
    ini: Mapping[str, Any],
    *,
    cli_base: str | os.PathLike[str] = ".",
    ini_base: str | os.PathLike[str] = ".",
) -> InvstabSettings:
    """Resolve every session setting from raw command-line and ini values (keys = option names).

    Relative paths from the command line are taken relative to ``cli_base`` (the invocation
    folder), those from the ini file relative to ``ini_base`` (the ini file's folder).
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, option in OPTIONS.items():
        value, source = resolve(name, cli=cli.get(name) if option.cli else None, ini=ini.get(name))
        if option.is_path and value is not None:
            base = Path(cli_base if source == CLI else ini_base)
            value = (base / Path(os.path.expanduser(value))).resolve() if not Path(value).is_absolute() else Path(value)
        values[name] = value
        sources[name] = source
    return InvstabSettings(**values, sources=sources)


# --------------------------------------------------------------------------------------
# markers
# --------------------------------------------------------------------------------------
# marker name -> (module under pytest_invstab.checks, function name, fixture-argument defaults)
CHECKS: dict[str, tuple[str, str]] = {
    "stability": ("worst_case", "worst_case"),
    "detail_recovery": ("detail_recovery", "detail_recovery"),
    "more_samples": ("more_samples", "more_samples"),
    "detail_erasure": ("erasure", "detail_erasure"),
}

# Arguments that name fixtures rather than being passed to the check, with their defaults.
FIXTURE_ARGUMENTS: dict[str, str] = {
    "reconstructor": "reconstructor",
    "operator": "operator",
    "images": "reference_images",
}

# The checks' keyword arguments as pinned in CONTRIBUTING.md; used when a check's module
# cannot be imported (it is then reported at run time), otherwise its signature is read.
_FALLBACK_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "stability": ("eps", "max_artifact", "domain", "method", "steps", "restarts", "budget", "seed",
                  "baseline", "attack_baseline", "gaussian_draws", "max_ratio_to_baseline", "region", "budget_norm",
                  "sanity", "sanity_min_gain_db"),
    "detail_recovery": ("details", "min_recovery", "intensity", "baseline", "baseline_margin", "budget", "seed",
                        "sanity", "sanity_min_gain_db"),
    "more_samples": ("rates", "trained_rate", "tolerance_db", "require_gain_db", "baseline", "budget", "seed",
                     "operators", "masks", "allow_unnested", "sanity", "sanity_min_gain_db"),
    "detail_erasure": ("details", "min_recovery", "intensity", "eps_max", "bisections", "min_eps", "steps", "baseline",
                       "budget", "seed", "sanity", "sanity_min_gain_db"),
}

def check_function(marker: str) -> Callable[..., Any]:
    """The check run by a marker (imported lazily: it pulls in torch)."""
    import importlib

    module_name, function_name = CHECKS[marker]
    module = importlib.import_module(f"pytest_invstab.checks.{module_name}")
    return getattr(module, function_name)


def allowed_arguments(marker: str) -> tuple[str, ...]:
    """Marker arguments accepted by ``marker``: the check's keyword arguments plus the fixture names."""
    try:
        signature = inspect.signature(check_function(marker))
        names = tuple(
            p.name
            for p in list(signature.parameters.values())[3:]  # after reconstructor, operator, images
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        )
    except (ImportError, AttributeError):
        names = _FALLBACK_ARGUMENTS[marker]
    return tuple(FIXTURE_ARGUMENTS) + tuple(n for n in names if n not in FIXTURE_ARGUMENTS)


def _argument_rules(marker: str) -> list[tuple[str, Callable[[Any], Any], str | None, bool]]:
    """``(argument, rule, hint, None allowed)`` judged at collection for ``marker``.

    The rules are the checks' own (``pytest_invstab.validate``, ``budget.get_budget``), so a marker
    argument is refused exactly when the check would refuse it; ``hint`` (None: the rule's own
    message) is the short reason shown after ``name=value:``. Imported lazily: they import torch.
    """
    from . import validate as V
    from .attacks import DOMAINS
    from .budget import get_budget
    from .checks.worst_case import METHODS

    def one_of(options: Sequence[str]) -> str:
        return f"must be one of {', '.join(map(repr, options))}"

    rules = [
        ("seed", V.check_seed, "must be a non-negative integer", True),
        ("sanity", lambda v: V.flag("sanity", v), "must be True or False (False switches the sanity gate off)", False),
        ("sanity_min_gain_db", V.sanity_min_gain, "must be a finite number of dB", False),
        ("budget", get_budget, f"must be one of {', '.join(BUDGET_CHOICES)}", True),
    ] + [(n, lambda v, n=n: V.positive_int(n, v, 1), "must be a positive integer", True)
         for n in ("steps", "restarts", "gaussian_draws")]
    if marker == "stability":
        rules += [
            ("eps", lambda v: v if _over_one(v) else V.eps_levels(v),
             "must be a positive number (relative perturbation size ||r||/||x||, e.g. 0.01) or a strictly "
             "increasing tuple of them, e.g. (0.005, 0.01, 0.02, 0.04)", False),
            # above 1: a percent written for a fraction (the rule's own message says so)
            ("eps", lambda v: V.eps_levels(v) if _over_one(v) else v, None, False),
            ("max_ratio_to_baseline", lambda v: V.positive("max_ratio_to_baseline", v),
             "must be a positive number (network / baseline worst artifact, e.g. 3)", True),
            ("budget_norm", lambda v: V.choice("budget_norm", v, ("x", "y", "full")), one_of(("x", "y", "full")), True),
            ("max_artifact", lambda v: V.positive("max_artifact", v, allow_zero=True),
             "must be a non-negative number (relative artifact ||f(A(x+r))-f(Ax)||/||x||, e.g. 0.1)", False),
            ("domain", lambda v: V.choice("domain", v, DOMAINS), one_of(DOMAINS), False),
            ("method", lambda v: V.choice("method", v, METHODS), one_of(METHODS), False),
            ("attack_baseline", lambda v: V.flag("attack_baseline", v), "must be True or False", False),
        ]
    elif marker == "detail_recovery":
        rules += [
            ("min_recovery", V.min_recovery, "must be a recovery score <= 1 (1 = perfect recovery), e.g. 0.8", False),
            ("details", lambda v: V.detail_kind(v) if isinstance(v, str) else v,
             f"{one_of(V.DETAIL_KINDS)} or tensors [H, W]", False),
            ("intensity", lambda v: V.positive("intensity", v), "must be a positive number (image units)", True),
            ("baseline_margin", lambda v: V.positive("baseline_margin", v, allow_zero=True),
             "must be a non-negative number", True),
        ]
    elif marker == "detail_erasure":
        rules += [(n, lambda v, n=n: V.positive(n, v, allow_zero=n == "min_eps"), "must be a positive number "
                   "(relative perturbation size ||r||/||x+d||)", False) for n in ("eps_max", "min_eps")]
        rules.append(("min_recovery", V.min_recovery, "must be a recovery score <= 1, e.g. 0.5", False))
    elif marker == "more_samples":
        rules += [
            ("rates", V.check_rates, None, True),
            ("trained_rate", lambda v: V.sampling_rate("trained_rate", v), "must be a sampling rate in (0, 1]", True),
            ("tolerance_db", lambda v: V.positive("tolerance_db", v, allow_zero=True),
             "must be a non-negative number of dB", False),
            ("require_gain_db", lambda v: V.positive("require_gain_db", v, allow_zero=True),
             "must be a non-negative number of dB", True),
            ("allow_unnested", lambda v: V.flag("allow_unnested", v), "must be True or False", False),
        ]
    return rules


def _over_one(value: Any) -> bool:
    """Whether ``eps`` (a number or a sequence) holds a number above 1: a percent for a fraction."""
    values = value if isinstance(value, (list, tuple)) else [value]
    return any(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 1 for v in values)


def value_problems(marker: str, kwargs: Mapping[str, Any]) -> list[str]:
    """Reasons why marker argument values cannot work (empty when they look fine).

    Only what is certain without running anything is judged here, with the checks' own rules
    (:func:`_argument_rules`); the check validates the rest and its message is shown at run time.
    """
    problems: list[str] = []
    for name in FIXTURE_ARGUMENTS:
        if name in kwargs and not (isinstance(kwargs[name], str) and kwargs[name].isidentifier()):
            problems.append(f"{name}={kwargs[name]!r}: must be the name of a fixture (a string), e.g. "
                            f"{name}={FIXTURE_ARGUMENTS[name]!r}")
    for name, rule, hint, none_ok in _argument_rules(marker):
        if name not in kwargs or (none_ok and kwargs[name] is None):
            continue
        try:
            rule(kwargs[name])
        except InvalidInputError as exc:
            problems.append(f"{name}={kwargs[name]!r}: {hint or exc}")
    return problems


def marker_problems(marker: str, args: Sequence[Any], kwargs: Mapping[str, Any], test: str) -> list[str]:
    """Every problem with one marker's arguments, each a complete message naming the test."""
    allowed = allowed_arguments(marker)
    problems: list[str] = []
    if args:
        problems.append(
            f"{test}: @pytest.mark.{marker} takes keyword arguments only, got positional {list(args)!r}; "
            f"allowed: {', '.join(allowed)}"
        )
    for name in kwargs:
        if name not in allowed:
            problems.append(
                f"{test}: @pytest.mark.{marker} got unknown argument {name!r}; allowed: {', '.join(allowed)}"
            )
    known = {k: v for k, v in kwargs.items() if k in allowed}
    problems += [f"{test}: @pytest.mark.{marker}: {p}" for p in value_problems(marker, known)]
    return problems


def split_marker_kwargs(kwargs: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """``(fixture names, check keyword arguments)`` of a marker; fixture names get their defaults."""
    fixtures = {k: str(kwargs.get(k, default)) for k, default in FIXTURE_ARGUMENTS.items()}
    check = {k: v for k, v in kwargs.items() if k not in FIXTURE_ARGUMENTS}
    return fixtures, check


def check_kwargs(kwargs: Mapping[str, Any], settings: InvstabSettings) -> dict[str, Any]:
    """A check's keyword arguments: the marker's, with ``seed`` and ``budget`` filled from the session.

    Precedence: marker argument (not None), then the session's value (command line > ini > default).
    """
    out = dict(kwargs)
    for name in ("seed", "budget"):
        if out.get(name) is None:
            out[name] = getattr(settings, name)
    if out.get("sanity") is None and not settings.sanity:  # ini invstab_sanity = false; the check defaults to on
        out["sanity"] = False
    return out
