"""Exceptions a user can cause. Each message names the fix."""

from __future__ import annotations


class InvstabError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidInputError(InvstabError, ValueError):
    """A tensor, argument or setting that the package cannot work with."""


class ReconstructorError(InvstabError, RuntimeError):
    """The reconstructor under test misbehaved (NaN output, wrong shape, no gradient)."""


class UnsupportedRateError(InvstabError, ValueError):
    """The operator cannot change its sampling rate (``at_rate``)."""


class MissingExtraError(InvstabError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


def require_extra(module: str, extra: str):
    """Import an optional module or raise a MissingExtraError naming ``pip install pytest-invstab[extra]``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(
            f"this feature needs the optional package {module!r}; "
            f"install it with: pip install 'pytest-invstab[{extra}]'"
        ) from exc


class MiswiredNetworkError(InvstabError, RuntimeError):
    """The sanity gate stopped a check: the network's clean reconstruction is no better than the
    direct one (likely a wiring mistake: normalisation, layout, mask orientation, operator).
    Not a stability verdict; the message names the measured PSNRs and the likely causes."""
