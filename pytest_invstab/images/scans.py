"""Real scans for tests: the small MR and CT slices bundled with pydicom (extra ``scans``).

Nothing is downloaded: the files ship inside the pydicom package and are looked up with
``get_testdata_file(..., download=False)``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InvalidInputError, require_extra
from .files import resize_square, to_unit_range

__all__ = ["load_scan", "SCAN_FILES"]

#: pydicom's bundled test files: an MR head slice (64 x 64) and a CT slice (128 x 128).
SCAN_FILES = {"mr": "MR_small.dcm", "ct": "CT_small.dcm"}


def load_scan(kind: str = "mr", size: int = 128, *, dtype: torch.dtype = torch.float32,
              device: torch.device | str = "cpu") -> torch.Tensor:
    """A real slice ``[size, size]`` in [0, 1]: ``kind`` "mr" (MR_small.dcm) or "ct" (CT_small.dcm).

    The stored values are rescaled with the file's RescaleSlope/Intercept (CT: Hounsfield units),
    resampled to ``size`` (bilinear, antialiased when shrinking) and mapped to [0, 1] (minimum 0,
    maximum 1). Needs pydicom: ``pip install 'pytest-invstab[scans]'``.
    """
    if kind not in SCAN_FILES:
        raise InvalidInputError(f"unknown scan kind {kind!r}; use 'mr' or 'ct'")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise InvalidInputError(f"size must be an int >= 8 pixels, got {size!r}")
    pydicom = require_extra("pydicom", "scans")
    data = require_extra("pydicom.data", "scans")
    name = SCAN_FILES[kind]
    try:
        path = data.get_testdata_file(name, download=False)
    except TypeError:  # pragma: no cover - pydicom < 2.1 has no download flag
        path = data.get_testdata_file(name)
    if path is None:
        raise InvalidInputError(
            f"pydicom {getattr(pydicom, '__version__', '?')} does not bundle {name}; install a pydicom that "
            "ships its test files (pip install 'pytest-invstab[scans]') or load your own image with load_image()"
        )
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array.astype(np.float64)
    pixels = pixels * float(getattr(ds, "RescaleSlope", 1) or 1) + float(getattr(ds, "RescaleIntercept", 0) or 0)
    if str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")) == "MONOCHROME1":
        pixels = -pixels  # MONOCHROME1 stores dark as high values
    image = resize_square(torch.from_numpy(pixels), size)
    return to_unit_range(image, f"scan {name}").to(device=device, dtype=dtype)
