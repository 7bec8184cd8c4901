"""Load a user's image from a file (.npy or .png) as a ``[H, W]`` tensor in [0, 1]; the shared
resizing, windowing and scaling helpers of the image loaders."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InvalidInputError

__all__ = ["load_image", "apply_window", "check_window", "read_npy", "read_png", "resize_square", "to_unit_range"]

_SUFFIXES = (".npy", ".png")


def _check_out_size(size: object) -> int | None:
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise InvalidInputError(f"size must be None (keep the file's size) or an int >= 8 pixels, got {size!r}")
    return size


def to_unit_range(image: torch.Tensor, what: str) -> torch.Tensor:
    """Affinely map ``image`` to [0, 1] (min to 0, max to 1); a constant image is an error."""
    lo, hi = image.min(), image.max()
    if not bool(hi > lo):
        raise InvalidInputError(f"{what} is constant (every pixel {float(lo):g}); a test image needs structure")
    return ((image - lo) / (hi - lo)).clamp_(0.0, 1.0)


def resize_square(image: torch.Tensor, size: int) -> torch.Tensor:
    """Pad ``[H, W]`` to a square with its minimum (centred, keeping the aspect ratio), then
    resample to ``[size, size]`` (bilinear, antialiased when shrinking)."""
    h, w = image.shape
    if h != w:
        n = max(h, w)
        top, left = (n - h) // 2, (n - w) // 2
        padded = torch.full((n, n), float(image.min()), dtype=image.dtype, device=image.device)
        padded[top:top + h, left:left + w] = image
        image = padded
    if image.shape[0] == size:
        return image
    out = F.interpolate(image[None, None], size=(size, size), mode="bilinear", align_corners=False,
                        antialias=size < image.shape[0])
    return out[0, 0]


def load_image(path: str | os.PathLike[str], size: int | None = None, *, dtype: torch.dtype = torch.float32,
               device: torch.device | str = "cpu") -> torch.Tensor:
    """Read a 2-D image from ``.npy`` (a real 2-D array) or ``.png`` (grayscale; colour is
    converted to luminance, alpha dropped) and scale it to [0, 1] (minimum 0, maximum 1).

    ``size``: ``None`` keeps the file's ``[H, W]``; an int pads to a square (centred, with the
    image's minimum) and resamples to ``[size, size]`` before the scaling. Returns ``dtype`` on
    ``device``.
    """
    size = _check_out_size(size)
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _SUFFIXES:
        raise InvalidInputError(f"cannot read {str(p)!r}: unknown suffix {p.suffix or '(none)'!r}; "
                                "save the image as .npy (2-D array) or .png")
    if not p.is_file():
        raise InvalidInputError(f"image file {str(p)!r} does not exist; check the path")
    array = read_npy(p) if suffix == ".npy" else read_png(p)
    image = torch.from_numpy(np.ascontiguousarray(array))
    if size is not None:
        image = resize_square(image, size)
    return to_unit_range(image, f"image {str(p)!r}").to(device=device, dtype=dtype)


def read_npy(p: Path, max_dims: int = 2) -> np.ndarray:
    """The finite real float64 array in ``p`` (2-D ``[H, W]``; 3-D ``[B, H, W]`` too when ``max_dims`` is 3)."""
    try:
        array = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InvalidInputError(
            f"{str(p)!r} is not a readable .npy array ({exc}); save it with numpy.save") from exc
    if not 2 <= array.ndim <= max_dims:
        shapes = "2-D [H, W]" if max_dims == 2 else "2-D [H, W] or 3-D [B, H, W]"
        raise InvalidInputError(f"{str(p)!r} holds an array of shape {list(array.shape)}; "
                                f"an image must be {shapes} (select one slice / channel)")
    if np.iscomplexobj(array) or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise InvalidInputError(f"{str(p)!r} holds {array.dtype} values; an image must be real numbers "
                                "(save abs() of a complex image)")
    return _finite(array.astype(np.float64), p)


def read_png(p: Path) -> np.ndarray:
    """The grayscale float64 ``[H, W]`` pixels of a PNG (colour to luminance, alpha dropped)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as img:
            if img.mode in ("I;16", "I;16B", "I;16L", "I", "F", "L"):
                array = np.asarray(img, dtype=np.float64)
            else:  # RGB, RGBA, palette, LA, 1: luminance
                array = np.asarray(img.convert("L"), dtype=np.float64)
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidInputError(f"{str(p)!r} is not a readable PNG ({exc})") from exc
    return _finite(array, p)


def _finite(array: np.ndarray, p: Path) -> np.ndarray:
    if not np.isfinite(array).all():
        raise InvalidInputError(f"{str(p)!r} contains NaN or Inf values; clean the image first")
    return array


def check_window(window: object) -> tuple[float, float] | None:
    """Validate ``window``: ``None`` or ``(center, width)``, two finite numbers with width > 0."""
    if window is None:
        return None
    try:
        center, width = (float(v) for v in window)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InvalidInputError(f"window must be None or (center, width) in the file's units, got {window!r}") from None
    if not (np.isfinite(center) and np.isfinite(width) and width > 0):
        raise InvalidInputError(f"window must be (center, width) with finite values and width > 0, got {window!r}")
    return center, width


def apply_window(image: torch.Tensor, window: tuple[float, float], what: str) -> torch.Tensor:
    """Map ``center - width/2`` to 0 and ``center + width/2`` to 1, clipping outside (a display window,
    e.g. in Hounsfield units for CT). A window that leaves every pixel equal is an error."""
    center, width = window
    out = ((image - (center - width / 2)) / width).clamp_(0.0, 1.0)
    if not bool(out.max() > out.min()):
        raise InvalidInputError(f"the window (center {center:g}, width {width:g}) leaves {what} constant; the "
                                f"image's values span [{float(image.min()):g}, {float(image.max()):g}]")
    return out
