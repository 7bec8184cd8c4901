"""The checks of Antun et al. (2020) as plain functions returning a CheckResult."""

from .detail_recovery import detail_recovery
from .erasure import detail_erasure
from .more_samples import more_samples
from .worst_case import worst_case

__all__ = ["worst_case", "detail_recovery", "more_samples", "detail_erasure"]
