"""Settings resolution and marker-argument validation as plain functions (no pytest run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_invstab.errors import InvalidInputError
from pytest_invstab.settings import (
    CLI,
    DEFAULT,
    INI,
    MARKER,
    OPTIONS,
    allowed_arguments,
    check_function,
    check_kwargs,
    load_settings,
    marker_problems,
    resolve,
    split_marker_kwargs,
    value_problems,
)


@pytest.mark.parametrize(
    "marker, cli, ini, expected",
    [
        (7, "5", "3", (7, MARKER)),
        (None, "5", "3", (5, CLI)),
        (None, None, "3", (3, INI)),
        (None, None, None, (0, DEFAULT)),
        (None, "", "", (0, DEFAULT)),  # an empty ini value counts as unset
    ],
)
def test_seed_precedence_marker_cli_ini_default(marker, cli, ini, expected):
    assert resolve("seed", marker=marker, cli=cli, ini=ini) == expected


def test_budget_precedence_and_case():
    assert resolve("budget", cli="Quick", ini="thorough") == ("quick", CLI)
    assert resolve("budget", ini="thorough") == ("thorough", INI)
    assert resolve("budget") == ("standard", DEFAULT)


@pytest.mark.parametrize(
    "name, raw, fragment",
    [
        ("seed", "abc", "--invstab-seed: 'abc' is not an integer"),
        ("seed", "-1", "below the minimum 0"),
        ("save", "some", "not one of failed, all, none"),
        ("budget", "huge", "not one of quick, standard, thorough"),
        ("device", "tpu", "use cpu, cuda or cuda:N"),
    ],
)
def test_bad_cli_value_names_the_flag_and_the_choices(name, raw, fragment):
    with pytest.raises(InvalidInputError, match=None) as info:
        resolve(name, cli=raw)
    assert fragment in str(info.value)


def test_bad_ini_value_names_the_ini_option():
    with pytest.raises(InvalidInputError) as info:
        resolve("rate", ini="1.5")
    assert "ini option invstab_rate" in str(info.value) and "(0, 1]" in str(info.value)


def test_load_settings_defaults_and_paths(tmp_path: Path):
    cli_dir, ini_dir = tmp_path / "cwd", tmp_path / "root"
    s = load_settings({}, {}, cli_base=cli_dir, ini_base=ini_dir)
    assert (s.size, s.rate, s.pattern, s.angles, s.coils, s.operator) == (128, 0.33, "cartesian", 50, 8, "fourier")
    assert (s.save, s.seed, s.budget, s.device, s.junit_properties) == ("failed", 0, "standard", "cpu", False)
    assert s.report is None and s.html is None and s.compare is None and s.compare_fail == []
    # the default results folder sits next to the ini file (like pytest's cache), not in the cwd
    assert s.results == (ini_dir / ".invstab").resolve()
    s = load_settings({"results": "out", "report": "r.json"}, {"html": "h/page.html", "size": "32"},
                      cli_base=cli_dir, ini_base=ini_dir)
    assert s.results == (cli_dir / "out").resolve() and s.sources["results"] == CLI
    assert s.report == (cli_dir / "r.json").resolve()
    assert s.html == (ini_dir / "h" / "page.html").resolve() and s.sources["html"] == INI
    assert s.size == 32 and isinstance(s.size, int)


def test_compare_fail_accepts_repeats_and_ini_lines():
    s = load_settings({"compare_fail": ["artifact:10%", "recovery:5%"]}, {"compare_fail": ["max_drop_db:0.5"]})
    assert s.compare_fail == ["artifact:10%", "recovery:5%"]  # the command line replaces the ini list
    s = load_settings({}, {"compare_fail": ["max_drop_db:0.5", "artifact:1%"]})
    assert s.compare_fail == ["max_drop_db:0.5", "artifact:1%"] and s.sources["compare_fail"] == INI


def test_every_option_has_flag_ini_and_help():
    for name, option in OPTIONS.items():
        assert option.ini == "invstab_" + name and option.help
        if option.cli:
            assert option.flag == "--invstab-" + name.replace("_", "-")


def test_check_kwargs_marker_beats_session():
    s = load_settings({"seed": "5", "budget": "quick"}, {})
    assert check_kwargs({"eps": 0.02}, s) == {"eps": 0.02, "seed": 5, "budget": "quick"}
    assert check_kwargs({"seed": 9, "budget": "thorough"}, s) == {"seed": 9, "budget": "thorough"}
    assert check_kwargs({"seed": None}, s)["seed"] == 5  # None means "use the session's value"


def test_split_marker_kwargs_defaults_fixture_names():
    fixtures, check = split_marker_kwargs({"reconstructor": "unet", "eps": 0.01})
    assert fixtures == {"reconstructor": "unet", "operator": "operator", "images": "reference_images"}
    assert check == {"eps": 0.01}


def test_allowed_arguments_are_fixture_names_plus_check_keywords():
    allowed = allowed_arguments("stability")
    assert allowed[:3] == ("reconstructor", "operator", "images")
    assert {"eps", "max_artifact", "domain", "steps", "restarts", "seed", "budget"} <= set(allowed)
    assert {"rates", "tolerance_db"} <= set(allowed_arguments("more_samples"))
    assert {"details", "min_recovery"} <= set(allowed_arguments("detail_recovery"))


def test_unknown_argument_message_names_argument_test_and_allowed():
    problems = marker_problems("stability", [], {"epsilon": 0.01}, "test_a.py::test_x")
    assert len(problems) == 1
    msg = problems[0]
    assert "test_a.py::test_x" in msg and "'epsilon'" in msg and "allowed:" in msg and "max_artifact" in msg


def test_positional_arguments_are_refused():
    problems = marker_problems("stability", [0.01], {}, "t::x")
    assert len(problems) == 1 and "keyword arguments only" in problems[0]


@pytest.mark.parametrize(
    "marker, kwargs, fragment",
    [
        ("stability", {"eps": 0}, "eps=0: must be a positive number"),
        ("stability", {"eps": -0.1}, "eps=-0.1"),
        ("stability", {"max_artifact": float("nan")}, "max_artifact=nan"),
        ("stability", {"domain": "kspace"}, "domain='kspace': must be one of 'image', 'measurements'"),
        ("stability", {"steps": 0}, "steps=0: must be a positive integer"),
        ("stability", {"seed": -3}, "seed=-3"),
        ("stability", {"budget": "max"}, "budget='max'"),
        ("stability", {"reconstructor": lambda y, op: y}, "must be the name of a fixture"),
        ("more_samples", {"rates": (0.5, 0.25)}, "strictly increasing"),
        ("more_samples", {"rates": (0.1, 0.1)}, "strictly increasing"),
        ("more_samples", {"rates": (0.2, 1.5)}, "(0, 1]"),
        ("more_samples", {"rates": (0.2,)}, "at least two"),
        ("more_samples", {"tolerance_db": -1}, "tolerance_db=-1"),
        ("detail_recovery", {"details": "cards"}, "details='cards'"),
        ("detail_recovery", {"min_recovery": 1.5}, "must be a recovery score <= 1"),
    ],
)
def test_bad_values_give_one_clear_message(marker, kwargs, fragment):
    problems = value_problems(marker, kwargs)
    assert len(problems) == 1, problems
    assert fragment in problems[0]


@pytest.mark.parametrize(
    "marker, kwargs",
    [
        ("stability", {"method": "fgsm"}),
        ("stability", {"attack_baseline": "yes"}),
        ("stability", {"gaussian_draws": 0}),
        ("detail_recovery", {"intensity": 0}),
        ("detail_recovery", {"min_recovery": 2}),
        ("more_samples", {"trained_rate": 1.5}),
        ("more_samples", {"rates": (0.3, 0.2)}),
    ],
)
def test_marker_values_are_judged_by_the_checks_own_rules(marker, kwargs):
    import torch

    from pytest_invstab.operators.fourier import FourierOperator

    assert len(value_problems(marker, kwargs)) == 1
    with pytest.raises(InvalidInputError, match=next(iter(kwargs))):
        check_function(marker)(lambda y, op: op.adjoint(y).real, FourierOperator(32, 0.5), torch.rand(32, 32),
                               baseline=None, **kwargs)


def test_good_values_pass():
    assert value_problems("stability", {"eps": 0.01, "max_artifact": 0.1, "domain": "measurements",
                                        "steps": 10, "seed": 3, "budget": "quick"}) == []
    assert value_problems("more_samples", {"rates": (0.1, 0.2, 0.5), "trained_rate": 0.2,
                                           "tolerance_db": 0.5}) == []
    assert value_problems("detail_recovery", {"details": "text", "min_recovery": 0.5}) == []
    assert value_problems("more_samples", {"rates": None, "trained_rate": None}) == []


@pytest.mark.parametrize("marker", ["stability", "detail_recovery", "more_samples"])
def test_marker_docs_match_the_checks_signatures(marker):
    """``pytest --markers`` must show every argument with the check's real default."""
    import inspect
    import re

    from pytest_invstab.marker_docs import MARKER_DOCS
    from pytest_invstab.settings import check_function

    doc = MARKER_DOCS[marker]
    signature_part = doc[len(marker) + 1: doc.index("):")]
    shown = dict(re.findall(r"(\w+)=('[^']*'|[^,]+)", signature_part))
    params = list(inspect.signature(check_function(marker)).parameters.values())[3:]
    for p in params:
        assert p.name in shown, f"{marker} docs miss {p.name}"
        if p.name in ("seed", "budget"):
            assert shown[p.name] == "None"  # shown as None: the session's value applies
        else:
            assert shown[p.name] == repr(p.default), (p.name, shown[p.name], p.default)
    assert set(shown) == {p.name for p in params} | {"reconstructor", "operator", "images"}
