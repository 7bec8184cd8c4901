"""Per-check artifacts on disk: ``panel.png``, ``curves.png``, ``result.json``, ``arrays.npz``.

Each check gets its own folder ``<results>/<safe_name(nodeid, check, index)>/``. Every file
is written atomically (a temporary file in the same folder, then ``os.replace``), so an
interrupted run never leaves a half-written PNG or JSON that a later report would read.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import unicodedata
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..result import CheckResult
from .errors import ReportError
from .layouts import CURVES_IN_PANEL, panel_rows, panel_title
from .panels import render_curves, render_panel
from .records import jsonable, make_record, short_name

RESULTS_OPTION = "--invstab-results"
SAVE_MODES = ("failed", "all", "none")


# -- names ------------------------------------------------------------------------------------
def _slug(text: str, limit: int) -> str:
    # Unicode -> closest ASCII, then anything outside [A-Za-z0-9._-] becomes "_".
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_text)
    slug = re.sub(r"_{2,}", "_", slug).strip("._-")
    return slug[:limit].rstrip("._-")


def safe_name(nodeid: str, check: str, index: int = 0) -> str:
    """A short, file-system-safe, unique folder name for one check of one test.

    ``<file>.<test>-<check>-<index>-<hash>``: a readable ASCII slug (at most ~100 characters,
    no slashes, brackets, colons or spaces, safe on Windows too) plus 10 hex digits of a
    SHA-1 of ``(nodeid, check, index)``, so that ids which slug alike (``test[a/b]`` and
    ``test[a_b]``, long ids cut at the same place) still get different folders.
    """
    base = str(nodeid).partition("[")[0]
    file_part = base.split("::", 1)[0].rsplit("/", 1)[-1]
    file_stem = file_part[:-3] if file_part.endswith(".py") else file_part
    readable = _slug(f"{file_stem}.{short_name(str(nodeid))}", 60) or "test"
    check_slug = _slug(str(check), 24) or "check"
    digest = hashlib.sha1(f"{nodeid}\x00{check}\x00{int(index)}".encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{readable}-{check_slug}-{int(index)}-{digest}"


# -- atomic writes ------------------------------------------------------------------------------
def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, option: str = RESULTS_OPTION) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    Creates missing parent folders. Any ``OSError`` becomes a ``ReportError`` that names the
    path and ``option`` (the command-line option that chooses the location).
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; reports are meant to be shared
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ReportError(
            f"pytest-invstab could not write {path} ({reason}); choose a writable location with "
            f"{option}=PATH. The check results themselves are kept in the session report.",
            path=path,
        ) from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        t = value.detach().to("cpu")
        if t.dtype in (torch.float16, torch.bfloat16):  # numpy has no bfloat16
            t = t.to(torch.float32)
        elif t.dtype == torch.complex32:
            t = t.to(torch.complex64)
        return t.resolve_conj().resolve_neg().numpy()
    return np.asarray(value)


def arrays_to_npz(arrays: Mapping[str, Any]) -> bytes:
    """An ``.npz`` of ``arrays`` (tensors converted to numpy) as bytes; ``np.load`` reads it.

    Stored without compression: float images deflate by only about 20 % (measured on the example
    project's arrays) at a cost comparable to drawing the panel itself.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for k, v in arrays.items():
            with zf.open(f"{k}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(_to_numpy(v)), allow_pickle=False)
    return buf.getvalue()


# -- saving one result ----------------------------------------------------------------------------
def save_artifacts(result: CheckResult, folder: str | os.PathLike[str], nodeid: str = "") -> dict[str, str]:
    """Write the artifacts of ``result`` into ``folder`` and record their paths in ``result.artifacts``.

    Files: ``panel.png`` (when the result has a panel: ``layouts.panel_rows``; titled with the test id of
    ``nodeid`` and the key number), ``curves.png`` (when ``result.curves`` and the panel does not draw them),
    ``arrays.npz`` (when ``result.arrays``; tensors as numpy arrays under the same names)
    and ``result.json`` (``result.to_dict()``, written last so it lists the other files).
    Returns ``{"panel" | "curves" | "arrays" | "result": absolute path}``.

    Raises ``ReportError`` (naming ``--invstab-results``) when the folder cannot be written;
    ``result`` is left usable, with ``artifacts`` listing only the files that were written.
    """
    folder = Path(os.path.abspath(os.fspath(folder)))
    title = panel_title(result, short_name(nodeid) if nodeid else "")
    # Render before writing anything: a bad panel fails cleanly without half a folder.
    pending: list[tuple[str, str, bytes]] = []
    rows = panel_rows(result)
    if rows:
        pending.append(("panel", "panel.png", render_panel(rows, title=title)))
    curves_drawn = bool(rows) and not result.panel and result.check in CURVES_IN_PANEL
    if result.curves and not curves_drawn:
        pending.append(("curves", "curves.png", render_curves(result.curves, title=result.check)))
    if result.arrays:
        pending.append(("arrays", "arrays.npz", arrays_to_npz(result.arrays)))
    written: dict[str, str] = {}
    for key, name, payload in pending:
        atomic_write(folder / name, payload)
        written[key] = str(folder / name)
        result.artifacts[key] = written[key]
    written["result"] = str(folder / "result.json")
    result.artifacts["result"] = written["result"]
    try:
        atomic_write(folder / "result.json", json.dumps(jsonable(result.to_dict()), indent=1, allow_nan=False))
    except ReportError:
        result.artifacts.pop("result", None)
        raise
    return written


def save_and_record(
    nodeid: str,
    result: CheckResult,
    results_dir: str | os.PathLike[str] | None,
    index: int = 0,
    mode: str = "failed",
) -> dict[str, Any]:
    """Save the artifacts of ``result`` (per ``mode``) under ``results_dir`` and return its record.

    ``mode``: ``"failed"`` saves only failed checks, ``"all"`` every check, ``"none"`` nothing.
    The record is never lost: when writing fails, the record gets ``"artifact_error"`` (the
    ``ReportError`` message, to show as a warning) and is returned all the same.
    """
    if mode not in SAVE_MODES:
        raise ValueError(f"mode must be one of {SAVE_MODES}, got {mode!r}")
    error: str | None = None
    if results_dir is not None and (mode == "all" or (mode == "failed" and not result.passed)):
        try:
            save_artifacts(result, Path(results_dir) / safe_name(nodeid, result.check, index), nodeid=nodeid)
        except ReportError as exc:
            error = str(exc)
    record = make_record(nodeid, result, index)
    if error:
        record["artifact_error"] = error
    return record


__all__ = ["arrays_to_npz", "atomic_write", "safe_name", "save_and_record", "save_artifacts"]
