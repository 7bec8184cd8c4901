"""Text rendering for details: a TrueType font that ships with a dependency (matplotlib's DejaVu Sans,
else PIL's default) and ``render_text``."""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

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


def render_text(text: str, cap_px: float, weight: str) -> tuple[torch.Tensor, tuple[float, float]]:
    """Render ``text`` with cap height ``cap_px`` (fine pixels); return the canvas in [0, 1] and
    the reference point (row, col) in canvas index coordinates."""
    from PIL import Image, ImageDraw

    probe, _ = load_font(100, weight)
    em = max(4, round(cap_px / cap_height_ratio(probe, 100)))
    font, _ = load_font(em, weight)
    left, top, right, bottom = font.getbbox(text, anchor="ls")
    cap_box = font.getbbox("H", anchor="ls")
    margin = 2
    w, h = right - left + 2 * margin, bottom - top + 2 * margin
    image = Image.new("L", (w, h), 0)
    origin = (margin - left, margin - top)  # where the baseline-left anchor sits on the canvas
    ImageDraw.Draw(image).text(origin, text, fill=255, font=font, anchor="ls")
    canvas = torch.from_numpy(np.asarray(image, dtype=np.float64).copy()) / 255.0
    drawn_cap = float(cap_box[3] - cap_box[1])
    # PIL's continuous coordinates put pixel i's centre at i + 0.5.
    ref_r = origin[1] - drawn_cap / 2 - 0.5
    ref_c = origin[0] + (left + right) / 2 - 0.5
    zoom = cap_px / max(drawn_cap, 1.0)
    if abs(zoom - 1.0) > 0.05:  # a fixed-size bitmap font: resample to the asked height
        nh, nw = max(1, round(h * zoom)), max(1, round(w * zoom))
        canvas = F.interpolate(canvas[None, None], size=(nh, nw), mode="bilinear", align_corners=False,
                               antialias=zoom < 1)[0, 0].clamp(0.0, 1.0)
        ref_r = (ref_r + 0.5) * nh / h - 0.5
        ref_c = (ref_c + 0.5) * nw / w - 0.5
    return canvas, (ref_r, ref_c)
