"""A live "still running" indication for long checks, and the one-line summary of a finished check.

Plain Python (no pytest): :mod:`pytest_invstab.runner` wires :class:`Ticker` to the terminal.
The ticker writes only while the check runs in the main thread, so pytest itself writes
nothing at the same time; it erases what it wrote before the check returns (backspaces over
its own text), so pytest's line of dots or its ``-v`` line continues as if nothing happened.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

#: Seconds a check runs before the indication appears, and between its updates.
SHOW_AFTER_S = 3.0
UPDATE_EVERY_S = 1.0


class Ticker:
    """Writes ``" [<label> 12 s]"`` through ``write`` while a ``with`` block runs longer than ``after`` seconds.

    ``write(text)`` must put ``text`` on the terminal as is (no newline added). Each update
    erases the previous text first; leaving the block erases the last one, so nothing remains.
    """

    def __init__(self, label: str, write: Callable[[str], None], *, after: float = SHOW_AFTER_S,
                 every: float = UPDATE_EVERY_S) -> None:
        self.label, self.write, self.after, self.every = label, write, after, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = ""
        self.updates = 0  # how many times it wrote (for tests)

    def _erase(self) -> None:
        if self._shown:
            n = len(self._shown)
            self.write("\b" * n + " " * n + "\b" * n)
            self._shown = ""

    def _run(self, start: float) -> None:
        if self._stop.wait(self.after):
            return
        while not self._stop.is_set():
            text = f" [{self.label} {time.monotonic() - start:.0f} s]"
            try:
                self._erase()
                self.write(text)
            except Exception:  # noqa: BLE001 - a closed terminal must never fail the check
                return
            self._shown = text
            self.updates += 1
            self._stop.wait(self.every)

    def __enter__(self) -> "Ticker":
        self._thread = threading.Thread(target=self._run, args=(time.monotonic(),), daemon=True,
                                        name="invstab-progress")
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self._erase()
        except Exception:  # noqa: BLE001
            pass


def finished_line(check: Mapping[str, Any]) -> str:
    """``"invstab ell50 worst_case: artifact 0.41 (max_artifact <= 0.1, CS 0.012) FAILED in 12.3 s"``.

    ``check``: ``{"network", "check", "key", "value", "threshold", "baseline", "verdict", "seconds"}``
    (strings already formatted, ``seconds`` a float or ``None``), see ``report.records.check_line_facts``.
    """
    limits = ", ".join(p for p in (check.get("threshold"), f"CS {check['baseline']}" if check.get("baseline")
                                   else "") if p)
    seconds = check.get("seconds")
    took = f" in {float(seconds):.1f} s" if isinstance(seconds, (int, float)) else ""
    return (f"invstab {check.get('network') or '-'} {check.get('check')}: {check.get('key')} {check.get('value')}"
            f"{f' ({limits})' if limits else ''} {str(check.get('verdict', '')).upper()}{took}")


__all__ = ["SHOW_AFTER_S", "Ticker", "UPDATE_EVERY_S", "finished_line"]
