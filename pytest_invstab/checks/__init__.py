"""The three checks of Antun et al. (2020) as plain functions returning a CheckResult."""

from .detail_recovery import detail_recovery
from .more_samples import more_samples
from .worst_case import worst_case

__all__ = ["worst_case", "detail_recovery", "more_samples"]
