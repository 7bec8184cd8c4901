"""Load a user's images as a ``[B, H, W]`` stack in [0, 1]: a DICOM file or series, NIfTI, fastMRI
HDF5, PNG or NPY, one file or a folder.

The volume formats are optional extras; a missing one is one error naming its pip command:
DICOM ``pytest-invstab[scans]`` (pydicom), NIfTI ``pytest-invstab[nifti]`` (nibabel), HDF5
``pytest-invstab[hdf5]`` (h5py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..errors import InvalidInputError, require_extra
from .dicom import is_dicom, read_series
from .files import _check_out_size, apply_window, check_window, read_npy, read_png, resize_square, to_unit_range

__all__ = ["load_images", "ifft2c", "rss"]

Slices = int | slice | range | Sequence[int] | Literal["middle"] | None
_SUFFIXES = (".nii", ".nii.gz", ".h5", ".hdf5", ".png", ".npy", ".dcm")
#: fastMRI's datasets, in the order they are preferred when ``dataset`` is not given.
_H5_KEYS = ("reconstruction_rss", "reconstruction_esc", "kspace")


def _suffix(p: Path) -> str:
    name = p.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else p.suffix.lower()


def _select(n: int, slices: Slices, what: str) -> list[int]:
    """Indices ``slices`` picks from ``n`` slices (negative ints count from the end)."""
    if slices is None:
        return list(range(n))
    if isinstance(slices, str):
        if slices != "middle":
            raise InvalidInputError(f"slices must be None, 'middle', an int, a slice/range or ints, got {slices!r}")
        return [n // 2]
    if isinstance(slices, slice):
        picked = list(range(n))[slices]
        if not picked:
            raise InvalidInputError(f"slices={slices!r} selects nothing from the {n} slices of {what}")
        return picked
    items = [slices] if isinstance(slices, (int, np.integer)) else list(slices)
    if not items or any(isinstance(i, bool) or not isinstance(i, (int, np.integer)) for i in items):
        raise InvalidInputError(f"slices must be None, 'middle', an int, a slice/range or ints, got {slices!r}")
    if any(not -n <= int(i) < n for i in items):
        raise InvalidInputError(f"slices={slices!r} is out of range: {what} has {n} slice(s) (0 to {n - 1})")
    return [int(i) % n for i in items]


def ifft2c(kspace: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal inverse 2-D FFT over the last two axes, as fastMRI's ``ifft2c``
    (ifftshift, ``ifft2(norm="ortho")``, fftshift) on a complex tensor."""
    x = torch.fft.ifftshift(kspace, dim=(-2, -1))
    x = torch.fft.ifft2(x, norm="ortho")
    return torch.fft.fftshift(x, dim=(-2, -1))


def rss(coil_images: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """Root sum of squares of the magnitudes over the coil axis ``dim`` (fastMRI's ``rss``)."""
    return coil_images.abs().square().sum(dim).sqrt()


def _read_h5(p: Path, slices: Slices, dataset: str | None) -> np.ndarray:
    """fastMRI HDF5: ``reconstruction_rss`` (or ``_esc``) if present, else the RSS of ``ifft2c(kspace)``
    (``[slices, coils, H, W]`` multi-coil or ``[slices, H, W]`` single-coil)."""
    h5py = require_extra("h5py", "hdf5")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise InvalidInputError(f"{str(p)!r} is not a readable HDF5 file ({exc})") from exc
    with f:
        keys = [k for k in f.keys() if isinstance(f[k], h5py.Dataset)]
        key = dataset if dataset is not None else next((k for k in _H5_KEYS if k in keys), None)
        if key is None or key not in keys:
            want = repr(dataset) if dataset is not None else "one of " + ", ".join(_H5_KEYS)
            raise InvalidInputError(f"{str(p)!r} has no dataset {want}; it holds {keys} (pass dataset=...)")
        d = f[key]
        kspace = key == "kspace" or np.issubdtype(d.dtype, np.complexfloating)
        ndim = d.ndim
        if ndim not in ((2, 3, 4) if kspace else (2, 3)):
            raise InvalidInputError(f"dataset {key!r} in {str(p)!r} has shape {list(d.shape)}; expected "
                                    + ("[slices, coils, H, W], [slices, H, W] or [H, W] k-space" if kspace
                                       else "[slices, H, W] or [H, W] images"))
        if ndim == 2:
            picked = [d[()]]
        else:
            picked = [d[i] for i in _select(d.shape[0], slices, f"{key!r} in {str(p)!r}")]
    if not kspace:
        return np.stack(picked).astype(np.float64)
    k = torch.from_numpy(np.stack(picked)).to(torch.complex128)
    if ndim < 4:  # single-coil: [B, H, W] -> one coil
        k = k[:, None]
    return rss(ifft2c(k), dim=1).numpy()


def _read_nifti(p: Path, slices: Slices) -> np.ndarray:
    """NIfTI: 2-D, or slices along the last (third) axis of a 3-D volume; array axes as stored."""
    nib = require_extra("nibabel", "nifti")
    try:
        img = nib.load(str(p))
        shape = tuple(img.shape)
    except Exception as exc:  # nibabel raises ImageFileError, OSError, EOFError...
        raise InvalidInputError(f"{str(p)!r} is not a readable NIfTI file ({type(exc).__name__}: {exc})") from exc
    if len(shape) < 2 or len(shape) > 3 and any(s != 1 for s in shape[3:]):
        raise InvalidInputError(f"{str(p)!r} holds a volume of shape {list(shape)}; load_images reads 2-D images "
                                "and 3-D volumes [X, Y, slices] (save one time point / channel)")
    if len(shape) == 2:
        return np.asarray(img.dataobj, dtype=np.float64)[None]
    tail = (0,) * (len(shape) - 3)
    picked = _select(shape[2], slices, str(p))
    out = np.stack([np.asanyarray(img.dataobj[(slice(None), slice(None), i) + tail]) for i in picked])
    if np.iscomplexobj(out):
        raise InvalidInputError(f"{str(p)!r} holds complex values; save the magnitude image")
    return out.astype(np.float64)


def _read_file(p: Path, slices: Slices, dataset: str | None) -> tuple[np.ndarray, tuple[float, float] | None]:
    """One file as float64 ``[B, H, W]`` with its own display window (DICOM only)."""
    suffix = _suffix(p)
    if suffix in (".nii", ".nii.gz"):
        return _read_nifti(p, slices), None
    if suffix in (".h5", ".hdf5"):
        return _read_h5(p, slices, dataset), None
    if suffix in (".dcm",) or is_dicom(p):
        stack, window = read_series([p])
        return stack[_select(len(stack), slices, str(p))], window
    if suffix in (".png", ".npy"):
        array = read_png(p) if suffix == ".png" else read_npy(p, max_dims=3)
        stack = array if array.ndim == 3 else array[None]
        return stack[_select(len(stack), slices, str(p))], None
    raise InvalidInputError(f"cannot read {str(p)!r}: unknown suffix {p.suffix or '(none)'!r}; load_images reads "
                            "DICOM (.dcm), NIfTI (.nii, .nii.gz), fastMRI HDF5 (.h5), .png and .npy")


def _read_folder(p: Path, slices: Slices, dataset: str | None) -> tuple[list[np.ndarray], tuple[float, float] | None]:
    """A folder: one DICOM series (sorted by position / InstanceNumber), or every other supported
    file in name order, each contributing all its slices; ``slices`` then picks from the whole."""
    files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".") and f.name != "DICOMDIR")
    dicom = [f for f in files if is_dicom(f)]
    others = [f for f in files if f not in dicom and _suffix(f) in _SUFFIXES]
    if dicom and others:
        raise InvalidInputError(f"folder {str(p)!r} mixes DICOM files with {others[0].name!r}...; "
                                "keep one DICOM series per folder")
    if dicom:
        stack, window = read_series(dicom)
        return [stack[i] for i in _select(len(stack), slices, f"the series in {str(p)!r}")], window
    if not others:
        raise InvalidInputError(f"folder {str(p)!r} holds no image files (.dcm, .nii, .nii.gz, .h5, .png, .npy)")
    images = [img for f in others for img in _read_file(f, None, dataset)[0]]
    return [images[i] for i in _select(len(images), slices, f"the images in {str(p)!r}")], None


def load_images(path: str | os.PathLike[str], size: int | None = None, *, slices: Slices = None,
                window: tuple[float, float] | Literal["file"] | None = None,
                normalize: Literal["slice", "volume"] = "slice", dataset: str | None = None,
                dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Read images from a file or a folder as a ``[B, H, W]`` tensor in [0, 1].

    Formats: a DICOM file (.dcm or the DICOM preamble; multi-frame files give every frame) or a
    folder holding one DICOM series (slices sorted by ImagePositionPatient along the slice normal,
    else InstanceNumber, else file name; values in physical units, e.g. Hounsfield); NIfTI
    (.nii, .nii.gz: slices along the last axis of a 3-D volume, axes as stored, no reorientation);
    fastMRI HDF5 (.h5: ``reconstruction_rss`` when present, else ``reconstruction_esc``, else the
    root-sum-of-squares of the centred orthonormal inverse FFT of ``kspace``, uncropped; ``dataset``
    names another); .png; .npy (``[H, W]`` or ``[B, H, W]``). A folder that is not a DICOM series
    gives every supported file's slices in name order.

    ``slices`` (default: all) picks along the stack axis: the sorted series, NIfTI's last axis, the
    first axis of HDF5 and 3-D NPY, the files of a folder: an int, a slice/range, a list of ints,
    or ``"middle"``. ``size``: ``None`` keeps ``[H, W]`` (a folder's images must then share it); an
    int pads each slice to a square (centred, its minimum) and resamples it to ``[size, size]``.
    Scaling: ``window=(center, width)`` in the file's units maps ``center -/+ width/2`` to 0/1
    (clipped); ``"file"`` uses a DICOM file's own window (minimum to maximum without one);
    ``None`` (default) maps minimum to 0 and maximum to 1, per slice (``normalize="slice"``) or over
    the whole stack (``normalize="volume"``, keeping the slices' relative intensities).
    """
    size = _check_out_size(size)
    if window != "file":
        window = check_window(window)
    if normalize not in ("slice", "volume"):
        raise InvalidInputError(f"normalize must be 'slice' or 'volume', got {normalize!r}")
    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"{str(p)!r} does not exist; pass an image file or a folder of images")
    if p.is_dir():
        images, own = _read_folder(p, slices, dataset)
    else:
        stack, own = _read_file(p, slices, dataset)
        images = list(stack)
    if window == "file":
        window = own
    tensors = [torch.from_numpy(np.ascontiguousarray(img)) for img in images]
    if any(not torch.isfinite(t).all() for t in tensors):
        raise InvalidInputError(f"{str(p)!r} contains NaN or Inf values; clean the images first")
    if size is not None:
        tensors = [resize_square(t, size) for t in tensors]
    elif len({tuple(t.shape) for t in tensors}) > 1:
        raise InvalidInputError(f"the images in {str(p)!r} differ in size {sorted({tuple(t.shape) for t in tensors})}; "
                                "pass size= to resample them to one square size")
    stack = torch.stack(tensors)
    if window is not None:
        out = apply_window(stack, window, f"the images in {str(p)!r}")
    elif normalize == "volume":
        out = to_unit_range(stack, f"the images in {str(p)!r}")
    else:
        out = torch.stack([to_unit_range(t, f"slice {i} of {str(p)!r} (pick others with slices=)")
                           for i, t in enumerate(stack)])
    return out.to(device=device, dtype=dtype)
