"""Test images: analytic phantoms, real scans, image files and volumes, structural details."""

from .details import SYMBOLS, Detail, as_detail, default_details, insert_details, symbol, text_detail
from .files import load_image
from .phantoms import (
    SHEPP_LOGAN_TABLE,
    ellipse_image,
    ellipse_line_integrals,
    pixel_grid,
    random_ellipses,
    shepp_logan,

)
from .textured import textured_phantoms
from .scans import SCAN_FILES, ScanFile, load_scan
from .volumes import load_images

__all__ = [
    "SCAN_FILES",
    "SHEPP_LOGAN_TABLE",
    "SYMBOLS",
    "Detail",
    "ScanFile",
    "as_detail",
    "default_details",
    "ellipse_image",
    "ellipse_line_integrals",
    "insert_details",
    "load_image",
    "load_images",
    "load_scan",
    "pixel_grid",
    "random_ellipses",
    "shepp_logan",
    "symbol",
    "text_detail",
    "textured_phantoms",
]
