"""torch's intra-op thread count for a test session: cores divided by the processes sharing them.

Without it every pytest-xdist worker starts one OpenMP thread per core, so ``-n 2`` on two
cores runs four spinning threads on two cores (measured: a worst_case check 9.2x slower in two
concurrent processes than with one thread each, issue 12). ``"auto"`` gives each process
``cores // workers`` threads (at least 1): all cores when alone, one each under ``-n <cores>``.
An explicit ``OMP_NUM_THREADS`` in the environment caps the automatic choice (the user asked
for at most that many). An integer forces that count.

Plain Python; torch is imported only when a count is applied.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Mapping

AUTO = "auto"


def parse_threads(value: Any) -> str | int:
    """``"auto"`` or an integer >= 1 (from the command line, the ini file or Python)."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not 'auto' or an integer >= 1")
    try:
        number = value if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not 'auto' or an integer >= 1") from None
    if number < 1:
        raise ValueError(f"{number} threads: use an integer >= 1 or 'auto'")
    return number


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ThreadChoice:
    """The chosen count and why (for the report header)."""

    threads: int
    reason: str


def choose(setting: str | int, workers: int = 1, cores: int | None = None,
           environ: Mapping[str, str] | None = None) -> ThreadChoice:
    """Threads for one process of ``workers`` sharing ``cores`` (default: this machine's)."""
    if setting != AUTO:
        return ThreadChoice(int(setting), "invstab_threads")
    cores = available_cores() if cores is None else cores
    workers = max(1, int(workers))
    n = max(1, cores // workers)
    reason = f"auto: {cores} cores / {workers} process{'es' if workers > 1 else ''}"
    env = os.environ if environ is None else environ
    omp = env.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) >= 1 and int(omp) < n:
        n = int(omp)
        reason += f", capped by OMP_NUM_THREADS={omp}"
    return ThreadChoice(n, reason)


def xdist_workers(environ: Mapping[str, str] | None = None) -> int:
    """Processes sharing the machine: ``PYTEST_XDIST_WORKER_COUNT`` on an xdist worker, else 1."""
    env = os.environ if environ is None else environ
    count = env.get("PYTEST_XDIST_WORKER_COUNT", "")
    return int(count) if count.isdigit() and int(count) >= 1 else 1


class ThreadSetting:
    """Applies a choice to torch once (when torch is loaded) and restores the previous count."""

    def __init__(self, choice: ThreadChoice):
        self.choice = choice
        self._saved: int | None = None

    @property
    def applied(self) -> bool:
        return self._saved is not None

    def apply(self, force_import: bool = False) -> bool:
        """Set torch's intra-op threads; without ``force_import`` only if torch is already imported."""
        if self.applied:
            return True
        if "torch" not in sys.modules and not force_import:
            return False
        import torch

        self._saved = torch.get_num_threads()
        torch.set_num_threads(self.choice.threads)
        return True

    def restore(self) -> None:
        """Put back the count found before :meth:`apply` (the user's setting)."""
        if self._saved is None:
            return
        import torch

        torch.set_num_threads(self._saved)
        self._saved = None


__all__ = ["AUTO", "ThreadChoice", "ThreadSetting", "available_cores", "choose", "parse_threads", "xdist_workers"]
