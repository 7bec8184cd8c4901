"""glibc's large-block thresholds for a session (memory.py): the choice, the plugin's use, the effect."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_invstab import memory
from pytest_invstab.errors import InvalidInputError
from pytest_invstab.settings import resolve

ROOT = Path(__file__).resolve().parent.parent
GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.parametrize("raw, expected", [("auto", "auto"), (" OFF", "off")])
def test_parse(raw, expected):
    assert memory.parse_malloc(raw) == expected


@pytest.mark.parametrize("raw", ["on", "1", True])
def test_bad_values_name_the_flag(raw):
    with pytest.raises(InvalidInputError, match="--invstab-malloc"):
        resolve("malloc", cli=raw)


@pytest.mark.parametrize("environ, reason", [
    ({"MALLOC_TRIM_THRESHOLD_": "1000"}, "MALLOC_TRIM_THRESHOLD_ set"),
    ({"MALLOC_MMAP_THRESHOLD_": "1", "MALLOC_TOP_PAD_": "2"}, "MALLOC_MMAP_THRESHOLD_, MALLOC_TOP_PAD_ set"),
    ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"}, "GLIBC_TUNABLES set"),
    ({"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}, "LD_PRELOAD=/usr/lib/libjemalloc.so.2"),
])
def test_a_tuned_or_replaced_allocator_is_left_alone(monkeypatch, environ, reason):
    monkeypatch.setattr(platform, "libc_ver", lambda: ("glibc", "2.36"))
    monkeypatch.setattr(sys, "platform", "linux")
    choice = memory.choose("auto", environ)
    assert not choice.keep and reason in choice.reason
    assert memory.choose("auto", {"GLIBC_TUNABLES": "glibc.cpu.x86_ibt=on"}).keep


def test_only_glibc_is_tuned_and_off_means_off(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))  # musl
    assert memory.choose("auto", {}).reason == "left as is (not glibc)"
    monkeypatch.setattr(platform, "libc_ver", lambda: ("glibc", "2.36"))
    assert memory.choose("auto", {}).keep
    assert memory.choose("off", {}) == memory.MallocChoice(False, "left as is (invstab_malloc = off)")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not memory.choose("auto", {}).keep


def test_nested_sessions_ease_the_thresholds_only_when_the_last_one_ends(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_mallopt", lambda parameter, value: calls.append((parameter, value)) or True)
    monkeypatch.setattr(memory, "_SESSIONS", [0])
    outer, inner = (memory.MallocSetting(memory.MallocChoice(True, "test")) for _ in range(2))
    assert outer.apply() and inner.apply() and outer.apply()
    assert calls == [(memory.M_MMAP_THRESHOLD, memory.KEEP_BYTES), (memory.M_TRIM_THRESHOLD, memory.KEEP_BYTES)]
    inner.restore()
    inner.restore()
    assert len(calls) == 2  # the outer session still holds them
    outer.restore()
    assert calls[2:] == [(memory.M_MMAP_THRESHOLD, memory.AFTER_MMAP), (memory.M_TRIM_THRESHOLD, memory.AFTER_TRIM)]
    skipped = memory.MallocSetting(memory.MallocChoice(False, "off"))
    assert not skipped.apply() and len(calls) == 4


_FAULTS = textwrap.dedent("""
    import resource, sys
    import torch
    from pytest_invstab.memory import MallocSetting, choose
    applied = MallocSetting(choose(sys.argv[1])).apply()
    for _ in range(20):  # the heap grows to its working size first (faults either way, 2-14 rounds)
        torch.ones(12 * 2**20).sum()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(6):
        torch.ones(12 * 2**20).sum()  # allocated, written and freed again: a solver's temporary
    print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_kept_blocks_are_not_faulted_in_again():
    """Kernel counters, not our own bookkeeping: a 48 MiB temporary allocated six times faults
    its 12288 pages in every time without the setting (glibc maps blocks above 32 MiB afresh),
    and about never with it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = str(ROOT)
    out = {}
    for setting in ("off", "auto"):
        text = subprocess.run([sys.executable, "-c", _FAULTS, setting], env=env, check=True, stdout=subprocess.PIPE,
                              text=True).stdout.split()
        out[setting] = (text[0] == "True", int(text[1]))
    assert out["off"][0] is False and out["auto"][0] is True
    assert out["off"][1] > 6 * 10000, out
    assert out["auto"][1] < out["off"][1] / 6, out  # measured: 0 in steady state


def test_plugin_header_and_option(invstab_project: pytest.Pytester, monkeypatch):
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "LD_PRELOAD"):
        monkeypatch.delenv(name, raising=False)
    invstab_project.makepyfile("def test_x(): pass")
    result = invstab_project.runpytest()
    expected = "invstab: malloc: freed blocks up to 256 MiB kept*" if GLIBC else "invstab: malloc: left as is*"
    result.stdout.fnmatch_lines([expected])
    result = invstab_project.runpytest("--invstab-malloc=off")
    result.stdout.fnmatch_lines(["invstab: malloc: left as is (invstab_malloc = off)"])
    result = invstab_project.runpytest("--invstab-malloc=on")
    result.stderr.fnmatch_lines(["*invalid value for --invstab-malloc: 'on' is not 'auto' or 'off'*"])
