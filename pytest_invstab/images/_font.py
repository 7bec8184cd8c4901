"""Find a TrueType font that ships with a dependency (matplotlib's DejaVu Sans), else PIL's default."""

from __future__ import annotations

import functools
import os
from typing import Any

_FILES = {"bold": "DejaVuSans-Bold.ttf", "regular": "DejaVuSans.ttf"}


@functools.lru_cache(maxsize=None)
def font_path(weight: str = "bold") -> str | None:
    """Path of matplotlib's bundled DejaVu Sans (``weight`` "bold" or "regular"), or None if unavailable."""
    try:
        import matplotlib
    except ImportError:  # matplotlib is a core dependency, but stay usable without it
        return None
    candidate = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", _FILES.get(weight, _FILES["regular"]))
    if os.path.isfile(candidate):
        return candidate
    try:  # a matplotlib packaged without its data folder: ask its font manager
        from matplotlib import font_manager

        props = font_manager.FontProperties(family="DejaVu Sans", weight=weight if weight == "bold" else "normal")
        found = font_manager.findfont(props, fallback_to_default=False)
        return found if os.path.isfile(found) else None
    except Exception:  # noqa: BLE001 - any failure means: no font from matplotlib
        return None


@functools.lru_cache(maxsize=64)
def load_font(pixel_size: int, weight: str = "bold") -> tuple[Any, str]:
    """A PIL font of ``pixel_size`` (em size in pixels) and a short description of where it came from."""
    from PIL import ImageFont

    path = font_path(weight)
    if path is not None:
        return ImageFont.truetype(path, pixel_size), os.path.basename(path)
    try:  # Pillow >= 10.1 has a scalable default font
        return ImageFont.load_default(size=pixel_size), "PIL default (scalable)"
    except TypeError:  # pragma: no cover - old Pillow: a fixed 11 px bitmap font
        return ImageFont.load_default(), "PIL default (bitmap)"


def cap_height_ratio(font: Any, pixel_size: int) -> float:
    """Height of a capital "H" as a fraction of the font's em size (about 0.73 for DejaVu Sans)."""
    box = font.getbbox("H")
    return max(1, box[3] - box[1]) / float(pixel_size)
