"""Real scans for tests: every real slice bundled with pydicom (extra ``scans``).

Nothing is downloaded: the files ship inside the pydicom package and are looked up with
``get_testdata_file(..., download=False)``. The two head CTs are JPEG 2000 compressed; Pillow
(a core dependency, its PyPI wheels include OpenJPEG) decodes them, or pylibjpeg-openjpeg.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import InvalidInputError, require_extra
from .dicom import dcmread, file_window, read_dicom
from .files import apply_window, check_window, resize_square, to_unit_range

__all__ = ["load_scan", "SCAN_FILES", "ScanFile"]


@dataclass(frozen=True)
class ScanFile:
    """One bundled slice: pydicom's file name, its native ``(rows, columns)``, what it shows, and the
    default window (``"file"``: the file's own WindowCenter/Width; ``None``: minimum to maximum)."""

    file: str
    shape: tuple[int, int]
    shows: str
    window: str | None


#: The real slices pydicom ships. "mr" and "ct" are the small ones (min-max scaled, as always).
SCAN_FILES: dict[str, ScanFile] = {
    "mr": ScanFile("MR_small.dcm", (64, 64), "MR head slice, 64 x 64", None),
    "ct": ScanFile("CT_small.dcm", (128, 128), "CT slice, 128 x 128 (Hounsfield units)", None),
    "ct-head": ScanFile("693_J2KI.dcm", (512, 512),
                        "axial head CT, 512 x 512, lossy JPEG 2000 at 339:1 (smooth brain, "
                        "little fine detail; file window: brain, 40/100 HU)", "file"),
    "ct-head-2": ScanFile("J2K_pixelrep_mismatch.dcm", (512, 512),
                          "axial head CT at the skull base, 512 x 512, lossless JPEG 2000 "
                          "(file window: brain, 40/100 HU)", "file"),
    "mr-abdomen": ScanFile("examples_overlay.dcm", (300, 484),
                           "abdominal MR (liver), 300 x 484, padded to a square (file window 450/790)", "file"),
}


def _check_size(size: object) -> int | None:
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise InvalidInputError(f"size must be None (native) or an int >= 8 pixels, got {size!r}")
    return size


def _bundled_path(name: str) -> str:
    pydicom = require_extra("pydicom", "scans")
    data = require_extra("pydicom.data", "scans")
    try:
        path = data.get_testdata_file(name, download=False)
    except TypeError:  # pragma: no cover - pydicom < 2.1 has no download flag
        path = data.get_testdata_file(name)
    if path is None:
        raise InvalidInputError(
            f"pydicom {getattr(pydicom, '__version__', '?')} does not bundle {name}; install a pydicom that "
            "ships its test files (pip install 'pytest-invstab[scans]') or load your own image with load_images()"
        )
    return str(path)


def load_scan(kind: str = "mr", size: int | None = 128, *, window: str | tuple[float, float] | None = "auto",
              dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """A real slice in [0, 1]: ``[size, size]``, or the file's native ``[rows, columns]`` with ``size=None``.

    ``kind``: a key of :data:`SCAN_FILES`: "mr" (64 x 64 MR), "ct" (128 x 128 CT), "ct-head" and
    "ct-head-2" (512 x 512 head CTs), "mr-abdomen" (300 x 484 abdominal MR).

    The stored values are rescaled with the file's RescaleSlope/Intercept (CT: Hounsfield units).
    A non-square slice is padded to a square with its minimum (centred); it is then resampled to
    ``size`` (bilinear, antialiased when shrinking). Then it is mapped to [0, 1] by ``window``:
    ``(center, width)`` in the file's units (``center - width/2`` to 0, ``center + width/2`` to 1,
    clipped); ``"file"``: the file's own first WindowCenter/WindowWidth (minimum to maximum if it
    has none); ``None``: minimum to 0 and maximum to 1; ``"auto"`` (default): the kind's window in
    SCAN_FILES ("file" for the large slices, minimum to maximum for "mr" and "ct", which keeps
    their images as in earlier releases). Needs pydicom: ``pip install 'pytest-invstab[scans]'``.
    """
    if kind not in SCAN_FILES:
        names = ", ".join(repr(k) for k in SCAN_FILES if k not in ("mr", "ct"))
        raise InvalidInputError(f"unknown scan kind {kind!r}; use 'mr' or 'ct' (small slices) or one of {names}")
    size = _check_size(size)
    entry = SCAN_FILES[kind]
    if window == "auto":
        window = entry.window
    if window != "file":
        window = check_window(window)
    ds = dcmread(_bundled_path(entry.file))
    pixels = torch.from_numpy(read_dicom(ds, f"scan {entry.file}"))
    if window == "file":
        window = file_window(ds)
    if size is not None:
        pixels = resize_square(pixels, size)
    what = f"scan {entry.file}"
    image = to_unit_range(pixels, what) if window is None else apply_window(pixels, window, what)
    return image.to(device=device, dtype=dtype)
