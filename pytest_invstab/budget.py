"""Search-budget presets: they scale the steps and restarts of every check."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidInputError


@dataclass(frozen=True)
class Budget:
    name: str
    steps_scale: float
    restarts_scale: float
    draws_scale: float

    def steps(self, default: int) -> int:
        return max(1, round(default * self.steps_scale))

    def restarts(self, default: int) -> int:
        return max(1, round(default * self.restarts_scale))

    def draws(self, default: int) -> int:
        return max(1, round(default * self.draws_scale))


PRESETS = {
    "quick": Budget("quick", 0.25, 0.5, 0.25),
    "standard": Budget("standard", 1.0, 1.0, 1.0),
    "thorough": Budget("thorough", 4.0, 2.0, 4.0),
}


def get_budget(name: "str | Budget | None") -> Budget:
    if isinstance(name, Budget):
        return name
    if name is None:
        return PRESETS["standard"]
    try:
        return PRESETS[str(name).lower()]
    except KeyError:
        raise InvalidInputError(
            f"unknown budget {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None
