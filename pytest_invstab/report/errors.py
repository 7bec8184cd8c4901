"""The report package's one error type."""

from __future__ import annotations

from ..errors import InvstabError


class ReportError(InvstabError, OSError):
    """A report or artifact could not be written or read.

    The message says which path was tried and which option (``--invstab-results``,
    ``--invstab-report``, ``--invstab-html``, ``--invstab-compare``) changes it. It is an
    ``OSError`` so code that already handles file errors keeps working.
    """

    def __init__(self, message: str, path: object = None):
        super().__init__(message)
        self.path = None if path is None else str(path)

    def __str__(self) -> str:  # OSError would print "[Errno ...]" forms for 2-tuple args
        return str(self.args[0]) if self.args else ""
