"""Sparse matrices on disk: one file per matrix pair, written atomically, mapped back on load.

File format: 8 bytes little-endian header length, a JSON header (format version, the arrays'
names, dtypes, shapes and byte offsets), then the raw arrays, each 64-byte aligned. Loading maps
the file (``numpy.memmap``, copy-on-write) and hands the arrays to torch without copying, so a
load costs a few milliseconds; the pages are read on first use. Writing goes to a temporary file
in the same folder, then ``os.replace``: concurrent writers (xdist workers) each write a
complete file and the last rename wins, and a reader never sees a partial file. Any problem
(no folder, read-only disk, a damaged file) only disables the disk layer for that call.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..cachedir import cache_dir

FORMAT = 1
_ALIGN = 64


def _path(name: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / name


def load(name: str) -> dict[str, np.ndarray] | None:
    """The arrays stored under ``name``, or ``None`` (absent, disabled or unreadable)."""
    path = _path(name)
    if path is None or not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(n).decode())
        if header.get("format") != FORMAT:
            return None
        size = path.stat().st_size
        out = {}
        for key, (dtype, shape, offset) in header["arrays"].items():
            count = int(np.prod(shape))
            if offset + count * np.dtype(dtype).itemsize > size:
                return None  # truncated
            out[key] = (np.memmap(path, dtype=dtype, mode="c", offset=offset, shape=tuple(shape))
                        if count else np.zeros(shape, dtype=dtype))
        return out
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(name: str, arrays: dict[str, np.ndarray]) -> bool:
    """Write ``arrays`` under ``name`` atomically; ``False`` when the disk cache is unavailable."""
    path = _path(name)
    if path is None:
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        layout, offset = {}, 0
        for key, a in arrays.items():
            layout[key] = [a.dtype.str, list(a.shape), offset]
            offset += -(-a.nbytes // _ALIGN) * _ALIGN
        # The header's offsets are relative; fix them once its own length is known.
        head = json.dumps({"format": FORMAT, "arrays": layout}).encode()
        start = -(-(8 + len(head) + 512) // _ALIGN) * _ALIGN  # room for the longer offsets
        for v in layout.values():
            v[2] += start
        head = json.dumps({"format": FORMAT, "arrays": layout}).encode()
        if 8 + len(head) > start:  # pragma: no cover - 512 bytes hold 50 digits per array
            return False
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(len(head).to_bytes(8, "little"))
                fh.write(head)
                for key, a in arrays.items():
                    fh.seek(layout[key][2])
                    np.ascontiguousarray(a).tofile(fh)
            os.replace(tmp, path)
        except BaseException:
            with _suppress():
                os.unlink(tmp)
            raise
        return True
    except OSError:
        return False


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


__all__ = ["FORMAT", "load", "save"]
