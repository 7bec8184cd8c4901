"""torch threads per test process: the choice (threads.py) and the plugin applying and restoring it."""

from __future__ import annotations

import pytest
import torch

from pytest_invstab.errors import InvalidInputError
from pytest_invstab.settings import resolve
from pytest_invstab.threads import AUTO, ThreadChoice, ThreadSetting, choose, parse_threads, xdist_workers


@pytest.mark.parametrize("cores, workers, expected", [(2, 1, 2), (2, 2, 1), (16, 4, 4), (16, 3, 5), (2, 8, 1)])
def test_auto_divides_the_cores_by_the_processes(cores, workers, expected):
    assert choose(AUTO, workers, cores=cores, environ={}).threads == expected


def test_omp_num_threads_caps_auto_but_not_an_explicit_count():
    c = choose(AUTO, 1, cores=8, environ={"OMP_NUM_THREADS": "2"})
    assert c.threads == 2 and "OMP_NUM_THREADS=2" in c.reason
    assert choose(AUTO, 1, cores=8, environ={"OMP_NUM_THREADS": "16"}).threads == 8
    assert choose(3, 4, cores=2, environ={"OMP_NUM_THREADS": "1"}).threads == 3


def test_worker_count_from_xdist_environment():
    assert xdist_workers({"PYTEST_XDIST_WORKER_COUNT": "3"}) == 3
    assert xdist_workers({}) == 1


@pytest.mark.parametrize("raw, expected", [("auto", AUTO), ("AUTO ", AUTO), ("3", 3), (2, 2)])
def test_parse(raw, expected):
    assert parse_threads(raw) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "many", True])
def test_bad_values_name_the_flag(raw):
    with pytest.raises(InvalidInputError) as info:
        resolve("threads", cli=raw)
    assert "--invstab-threads" in str(info.value)


def test_setting_applies_once_and_restores():
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    s = ThreadSetting(ThreadChoice(target, "test"))
    try:
        assert s.apply() and torch.get_num_threads() == target
        torch.set_num_threads(before)  # a second apply does not save the changed value again
        s.apply()
    finally:
        s.restore()
    assert torch.get_num_threads() == before


def test_plugin_sets_threads_for_the_session_and_restores(invstab_project: pytest.Pytester):
    invstab_project.makepyfile("""
        import torch
        def test_threads():
            assert torch.get_num_threads() == 3
    """)
    before = torch.get_num_threads()
    result = invstab_project.runpytest("--invstab-threads=3")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["invstab: torch threads=3 (invstab_threads)"])
    assert torch.get_num_threads() == before


def test_header_says_auto_choice(invstab_project: pytest.Pytester, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    invstab_project.makepyfile("def test_x(): pass")
    result = invstab_project.runpytest()
    result.stdout.fnmatch_lines(["invstab: torch threads=* (auto: * cores / 1 process)"])
