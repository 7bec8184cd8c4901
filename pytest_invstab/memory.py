"""glibc's allocator, set up for a session of large temporary tensors.

torch's CPU tensors come from ``malloc``. glibc serves a block above ``M_MMAP_THRESHOLD``
(128 KiB at first, raised as blocks are freed, to at most 32 MiB) with a fresh ``mmap`` and
unmaps it on ``free``, and it gives the heap's free top back to the system above
``M_TRIM_THRESHOLD``. Each temporary of a solver or network iteration then has its pages faulted
in and zeroed by the kernel again. Measured with ``benchmarks/bench_memory.py`` (one thread, a
new process): the TV baseline on 15-coil 320 px data took 79 ms per iteration, half of it in
the kernel, and 36 ms with the blocks kept; a small CNN's forward and backward at 320 px was
1.6 times faster. In a long session glibc's own adjustment catches up for blocks up to 32 MiB,
but not above: 4 images of that data (49 MB blocks) still took 205 against 74 ms.

During a session (``invstab_malloc = auto``, the default) the plugin raises both thresholds to
``KEEP_BYTES`` (256 MiB), so freed blocks up to that size are reused. The peak memory barely
moves (505 against 488 MB in that run), but up to 256 MiB of free heap may stay with each
process. At the end it sets the thresholds to ``AFTER_MMAP``/``AFTER_TRIM`` (32 / 64 MiB): the
most glibc's own adjustment reaches, which a process that frees a block of about 32 MiB
reaches too. The original state cannot be put back, because glibc offers no switch that turns
its adjustment back on.

Nothing is changed where glibc is not the allocator in use (macOS, Windows, musl, or an
allocator preloaded with ``LD_PRELOAD``), where the user tuned it (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_`` or ``glibc.malloc`` tunables in
``GLIBC_TUNABLES``), or with ``invstab_malloc = off``.

Plain Python (ctypes); the numbers stay the same, only where memory comes from changes.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from dataclasses import dataclass
from typing import Any, Mapping

AUTO, OFF = "auto", "off"
KEEP_BYTES = 256 * 2**20
AFTER_MMAP, AFTER_TRIM = 32 * 2**20, 64 * 2**20
#: ``mallopt`` parameter numbers (glibc's malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
_USER_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def parse_malloc(value: Any) -> str:
    """``"auto"`` or ``"off"`` (from the command line, the ini file or Python)."""
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text not in (AUTO, OFF):
        raise ValueError(f"{value!r} is not 'auto' or 'off'")
    return text


@dataclass(frozen=True)
class MallocChoice:
    """Whether the thresholds are raised, and why (for the report header)."""

    keep: bool
    reason: str


def choose(setting: str, environ: Mapping[str, str] | None = None) -> MallocChoice:
    """Raise the thresholds only where glibc is the allocator and nobody tuned it."""
    env = os.environ if environ is None else environ
    if setting == OFF:
        return MallocChoice(False, "left as is (invstab_malloc = off)")
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return MallocChoice(False, "left as is (not glibc)")
    preload = env.get("LD_PRELOAD", "")
    if "malloc" in preload.lower():  # jemalloc, tcmalloc, mimalloc: mallopt would tune nothing
        return MallocChoice(False, f"left as is (LD_PRELOAD={preload})")
    tuned = [name for name in _USER_VARIABLES if name in env]
    if "glibc.malloc" in env.get("GLIBC_TUNABLES", ""):
        tuned.append("GLIBC_TUNABLES")
    if tuned:
        return MallocChoice(False, f"left as is ({', '.join(tuned)} set)")
    return MallocChoice(True, f"freed blocks up to {KEEP_BYTES // 2**20} MiB kept for reuse (glibc; "
                              "invstab_malloc = off leaves it)")


def _mallopt(parameter: int, value: int) -> bool:
    try:
        return bool(ctypes.CDLL(None).mallopt(parameter, value))
    except (OSError, AttributeError):
        return False


_SESSIONS = [0]  # sessions of this process holding the raised thresholds (pytester nests them)


class MallocSetting:
    """Applies a choice for the session (:meth:`apply`); :meth:`restore` leaves glibc's ceiling
    when the last session of the process that raised the thresholds ends."""

    def __init__(self, choice: MallocChoice):
        self.choice = choice
        self.applied = False

    def apply(self) -> bool:
        if self.choice.keep and not self.applied:
            ok = _SESSIONS[0] > 0 or (_mallopt(M_MMAP_THRESHOLD, KEEP_BYTES) and _mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
            if ok:
                _SESSIONS[0] += 1
                self.applied = True
        return self.applied

    def restore(self) -> None:
        if not self.applied:
            return
        self.applied = False
        _SESSIONS[0] -= 1
        if _SESSIONS[0] == 0:
            _mallopt(M_MMAP_THRESHOLD, AFTER_MMAP)
            _mallopt(M_TRIM_THRESHOLD, AFTER_TRIM)


__all__ = ["AUTO", "KEEP_BYTES", "OFF", "MallocChoice", "MallocSetting", "choose", "parse_malloc"]
