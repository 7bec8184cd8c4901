"""Parsers of raw setting values for ``settings.OPTIONS``.

Each takes a raw value (a string from the command line or the ini file, or a Python value
from a marker) and returns the typed value, or raises ``ValueError`` with a reason that
``settings.resolve`` turns into one clear message naming where the value came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .errors import InvalidInputError


def choice(choices: Sequence[str]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return text

    return parse


def integer(minimum: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not an integer")
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise ValueError(f"{value!r} is not an integer") from None
        if minimum is not None and number < minimum:
            raise ValueError(f"{number} is below the minimum {minimum}")
        return number

    return parse


def rate(value: Any) -> float:
    from .operators.sampling import check_rate  # lazily: it imports torch

    try:
        number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    try:
        return check_rate(number)
    except InvalidInputError:
        raise ValueError(f"{number} is not a sampling rate in (0, 1]") from None


def device(value: Any) -> str:
    text = str(value).strip().lower()
    if text == "cpu" or text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise ValueError(f"{value!r} is not a device; use cpu, cuda or cuda:N")


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean (true/false)")


def text(value: Any) -> str:
    return str(value).strip()


def lines(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.replace(",", "\n").splitlines()
    return [str(v).strip() for v in value if str(v).strip()]


__all__ = ["boolean", "choice", "device", "integer", "lines", "rate", "text"]
