"""Where pytest-invstab keeps files that are expensive to rebuild (Radon system matrices).

In order: the environment variable ``PYTEST_INVSTAB_CACHE`` (a folder; ``0``, ``off``, ``none``
or empty disables the disk cache), then the folder the plugin sets for a pytest session
(``.pytest_cache/d/invstab`` under the rootdir, when pytest's cache provider is on), then the
user's cache folder ``$XDG_CACHE_HOME/pytest-invstab`` (default ``~/.cache/pytest-invstab``).

Plain Python, no torch: the plugin imports it at start-up.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "PYTEST_INVSTAB_CACHE"
_OFF = ("", "0", "off", "none", "false", "no")
_session_dir: Path | None = None


def set_session_dir(path: str | os.PathLike[str] | None) -> None:
    """The folder of the running pytest session (``None`` when it ends)."""
    global _session_dir
    _session_dir = None if path is None else Path(path)


def session_dir() -> Path | None:
    """The folder set by :func:`set_session_dir` (``None`` outside a session)."""
    return _session_dir


def cache_dir() -> Path | None:
    """The disk-cache folder, or ``None`` when disabled (not created here)."""
    value = os.environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF else Path(os.path.expanduser(value))
    if _session_dir is not None:
        return _session_dir
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pytest-invstab"


__all__ = ["ENV", "cache_dir", "session_dir", "set_session_dir"]
