from . import subsample, transforms  # noqa: F401
