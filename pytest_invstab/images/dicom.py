"""Read DICOM files and series into physical units (extra ``scans``: pydicom).

Pixels are rescaled with RescaleSlope/Intercept (CT: Hounsfield units). Compressed files need a
decoder: JPEG 2000 is read by Pillow's OpenJPEG (in the PyPI wheels) or by pylibjpeg.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError, MissingExtraError, require_extra

__all__ = ["file_window", "is_dicom", "read_dicom", "read_series"]

_CODECS = "pip install pylibjpeg pylibjpeg-openjpeg pylibjpeg-libjpeg"


def is_dicom(path: Path) -> bool:
    """True for a ``.dcm`` file or any file with the DICOM preamble (``DICM`` at byte 128)."""
    if path.suffix.lower() == ".dcm":
        return True
    try:
        with open(path, "rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def dcmread(path: Path) -> Any:
    """``pydicom.dcmread`` with one clear error for an unreadable file."""
    pydicom = require_extra("pydicom", "scans")
    try:
        return pydicom.dcmread(str(path))
    except Exception as exc:  # pydicom raises InvalidDicomError, OSError, struct errors...
        raise InvalidInputError(f"{str(path)!r} is not a readable DICOM file ({type(exc).__name__}: {exc})") from exc


def read_dicom(ds: Any, what: str) -> np.ndarray:
    """The pixels of dataset ``ds`` as float64 ``[H, W]`` (or ``[frames, H, W]``) in physical units.

    MONOCHROME1 (dark stored as high values) is negated, so bright is always high.
    """
    if "PixelData" not in ds:
        raise InvalidInputError(f"{what} holds no pixel data")
    if int(getattr(ds, "SamplesPerPixel", 1) or 1) != 1:
        raise InvalidInputError(f"{what} is a colour image ({ds.PhotometricInterpretation}); "
                                "only grayscale DICOM (MONOCHROME1/2) is supported")
    try:
        pixels = ds.pixel_array.astype(np.float64)
    except (RuntimeError, NotImplementedError, ImportError) as exc:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", syntax)
        raise MissingExtraError(f"pydicom cannot decode {what} ({name}) here: {exc}; install a decoder "
                                f"with: {_CODECS}") from exc
    pixels = pixels * float(getattr(ds, "RescaleSlope", 1) or 1) + float(getattr(ds, "RescaleIntercept", 0) or 0)
    if str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")) == "MONOCHROME1":
        pixels = -pixels
    return pixels


def file_window(ds: Any) -> tuple[float, float] | None:
    """The file's first WindowCenter/WindowWidth pair (in physical units), or None.

    MONOCHROME1 images are negated by :func:`read_dicom`, so the centre is negated too.
    """
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    first = [float(_first(v)) for v in (center, width)]
    if not first[1] > 0:
        return None
    if str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")) == "MONOCHROME1":
        first[0] = -first[0]
    return first[0], first[1]


def _first(value: Any) -> Any:
    """The first of a multi-valued element (pydicom's MultiValue), or the value itself."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__getitem__"):
        return value
    return value[0]


def _position_along_normal(ds: Any) -> float | None:
    """Distance of the slice along its normal (from ImageOrientation/PositionPatient), or None."""
    iop, ipp = ds.get("ImageOrientationPatient"), ds.get("ImagePositionPatient")
    if iop is None or ipp is None or len(iop) != 6 or len(ipp) != 3:
        return None
    normal = np.cross(np.array(iop[:3], dtype=float), np.array(iop[3:], dtype=float))
    return float(np.dot(normal, np.array(ipp, dtype=float)))


def _sort_key(datasets: list[Any], paths: list[Path]) -> list[int]:
    """Slice order: position along the normal when every slice has one, else InstanceNumber, else name."""
    positions = [_position_along_normal(ds) for ds in datasets]
    if all(p is not None for p in positions) and len(set(positions)) == len(positions):
        return sorted(range(len(datasets)), key=lambda i: positions[i])
    numbers = [ds.get("InstanceNumber") for ds in datasets]
    if all(n is not None for n in numbers) and len(set(int(n) for n in numbers)) == len(numbers):
        return sorted(range(len(datasets)), key=lambda i: int(numbers[i]))
    return sorted(range(len(datasets)), key=lambda i: paths[i].name)


def read_series(paths: list[Path]) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Read DICOM files as one stack ``[B, H, W]`` (float64, physical units) in slice order, with the
    first slice's window. Multi-frame files contribute each frame. Slices must share their size."""
    datasets = [dcmread(p) for p in paths]
    order = _sort_key(datasets, paths)
    stack: list[np.ndarray] = []
    for i in order:
        pixels = read_dicom(datasets[i], f"DICOM file {str(paths[i])!r}")
        stack.extend(pixels if pixels.ndim == 3 else [pixels])
    shapes = {tuple(s.shape) for s in stack}
    if len(shapes) > 1:
        raise InvalidInputError(f"the DICOM slices differ in size {sorted(shapes)}; a series must share one "
                                "[rows, columns] (put other series in their own folder)")
    return np.stack(stack), file_window(datasets[order[0]])
