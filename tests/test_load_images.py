"""Real data: pydicom's bundled slices (load_scan) and user files and folders (load_images)."""

from __future__ import annotations

import socket
import sys

import numpy as np
import pytest
import torch

from pytest_invstab.errors import InvalidInputError, MissingExtraError
from pytest_invstab.images import SCAN_FILES, load_images, load_scan
from pytest_invstab.images.volumes import ifft2c, rss

IDENTITY = (0.5, 1.0)  # a window that maps [0, 1] onto itself: values come back unscaled


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def _bundled(name: str):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file(name, download=False))
    return ds, ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1) or 1) \
        + float(ds.get("RescaleIntercept", 0) or 0)


# --------------------------------------------------------------------------- load_scan
def test_every_bundled_slice_loads_native_and_resized(no_network):
    pytest.importorskip("pydicom")
    expected = {"mr": (64, 64), "ct": (128, 128), "ct-head": (512, 512), "ct-head-2": (512, 512),
                "mr-abdomen": (300, 484)}
    assert {k: v.shape for k, v in SCAN_FILES.items()} == expected
    for kind, shape in expected.items():
        native = load_scan(kind, None, dtype=torch.float64)
        assert native.shape == shape, kind
        assert float(native.min()) == 0.0 and float(native.max()) == 1.0, kind
        assert 0.1 < float(native.mean()) < 0.4, kind  # real anatomy, neither black nor saturated
        small = load_scan(kind, 96)
        assert small.shape == (96, 96) and small.dtype == torch.float32
        assert float(small.min()) >= 0.0 and float(small.max()) <= 1.0


def test_file_window_is_the_default_for_the_large_slices():
    ds, hu = _bundled("J2K_pixelrep_mismatch.dcm")
    assert (float(ds.WindowCenter[0]), float(ds.WindowWidth[0])) == (40.0, 100.0)
    assert hu.shape == (512, 512) and hu.min() < -900 and hu.max() > 1000  # air to bone, Hounsfield
    brain = np.clip((hu - (40 - 50)) / 100, 0, 1)
    got = load_scan("ct-head-2", None, dtype=torch.float64)
    assert torch.allclose(got, torch.as_tensor(brain), atol=1e-12)
    bone = np.clip((hu - (500 - 1000)) / 2000, 0, 1)
    assert torch.allclose(load_scan("ct-head-2", None, window=(500, 2000), dtype=torch.float64),
                          torch.as_tensor(bone), atol=1e-12)
    minmax = load_scan("ct-head-2", None, window=None, dtype=torch.float64)
    assert torch.allclose(minmax, torch.as_tensor((hu - hu.min()) / (hu.max() - hu.min())), atol=1e-12)


def test_lossy_head_ct_decodes_to_hounsfield_units():
    ds, hu = _bundled("693_J2KI.dcm")
    assert hu.shape == (512, 512)
    assert abs(float(np.median(hu[200:300, 200:300])) - 32) < 20  # brain parenchyma, ~30 HU
    got = load_scan("ct-head", None, dtype=torch.float64)
    assert torch.allclose(got, torch.as_tensor(np.clip((hu + 10) / 100, 0, 1)), atol=1e-12)


def test_non_square_mr_is_padded_to_a_square():
    _, raw = _bundled("examples_overlay.dcm")
    assert raw.shape == (300, 484)
    img = load_scan("mr-abdomen", 242, window=None, dtype=torch.float64)
    assert img.shape == (242, 242)
    # 300 x 484 -> 484 x 484 with 92 padded rows on top and bottom: 46 at size 242
    assert float(img[:45].max()) == 0.0 and float(img[-45:].max()) == 0.0
    assert float(img[60:180].mean()) > 0.1


def test_small_scans_keep_their_images_and_file_window_changes_mr():
    _, raw = _bundled("MR_small.dcm")
    default = load_scan("mr", None, dtype=torch.float64)
    assert torch.allclose(default, torch.as_tensor((raw - raw.min()) / (raw.max() - raw.min())), atol=1e-12)
    windowed = load_scan("mr", None, window="file", dtype=torch.float64)  # MR_small: 600 / 1600
    assert torch.allclose(windowed, torch.as_tensor(np.clip((raw + 200) / 1600, 0, 1)), atol=1e-12)


def test_load_scan_errors():
    with pytest.raises(InvalidInputError, match="'ct-head', 'ct-head-2', 'mr-abdomen'"):
        load_scan("pet")
    for bad in ((40,), (40, 0), (40, -5), "soft", (float("nan"), 10)):
        with pytest.raises(InvalidInputError, match="window"):
            load_scan("ct", 32, window=bad)
    with pytest.raises(InvalidInputError, match="size"):
        load_scan("ct", 4)
    pytest.importorskip("pydicom")
    with pytest.raises(InvalidInputError, match="constant"):
        load_scan("ct", 32, window=(50000, 10))


# --------------------------------------------------------------------------- DICOM series
def _write_dicom(path, pixels, *, instance=None, position=None, photometric="MONOCHROME2", window=None):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, meta.MediaStorageSOPInstanceUID, "CT"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    if instance is not None:
        ds.InstanceNumber = instance
    if position is not None:
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, position]
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.astype(np.int16).tobytes()
    if int(pydicom.__version__.split(".")[0]) >= 3:
        ds.save_as(str(path), enforce_file_format=True)
    else:  # pragma: no cover - pydicom 2
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(str(path), write_like_original=False)


def _slice(k: int) -> np.ndarray:
    """Slice k of a known series (stored values; Hounsfield = stored - 1024): a ramp plus 100 k."""
    return np.add.outer(np.arange(6) * 10, np.arange(5)) + 1000 + 100 * k


def test_dicom_series_is_sorted_by_instance_number(tmp_path):
    order = [2, 0, 3, 1]  # file a.dcm holds slice 2, b.dcm slice 0, ...
    for name, k in zip("abcd", order):
        _write_dicom(tmp_path / f"{name}.dcm", _slice(k), instance=k + 1)
    (tmp_path / "notes.txt").write_text("ignored")
    window = (0.0, 2000.0)  # HU -1000..1000 -> 0..1: no clipping of 0..400 HU
    got = load_images(tmp_path, window=window, dtype=torch.float64)
    assert got.shape == (4, 6, 5)
    for k in range(4):
        hu = _slice(k) - 1024
        assert torch.allclose(got[k], torch.as_tensor((hu + 1000) / 2000), atol=1e-12), k
    per_slice = load_images(tmp_path, dtype=torch.float64)  # default: each slice min-max
    ramp = _slice(0) - _slice(0).min()
    assert all(torch.allclose(s, torch.as_tensor(ramp / ramp.max())) for s in per_slice)
    volume = load_images(tmp_path, normalize="volume", dtype=torch.float64)
    assert float(volume[0].min()) == 0.0 and float(volume[3].max()) == 1.0
    assert float(volume[1].mean()) < float(volume[2].mean())
    picked = load_images(tmp_path, slices=[3, -4], window=window, dtype=torch.float64)
    assert torch.allclose(picked, got[[3, 0]])
    assert torch.allclose(load_images(tmp_path, slices="middle", window=window, dtype=torch.float64), got[[2]])
    assert torch.allclose(load_images(tmp_path, slices=slice(1, 3), window=window, dtype=torch.float64), got[1:3])


def test_dicom_series_prefers_positions_over_instance_numbers(tmp_path):
    for name, (k, instance) in zip("abc", [(1, 1), (2, 2), (0, 3)]):
        _write_dicom(tmp_path / name, _slice(k), instance=instance, position=-5.0 + 2.5 * k)  # no suffix
    got = load_images(tmp_path, window=(0.0, 2000.0), dtype=torch.float64)
    hu_means = [(float(s.mean()) * 2000 - 1000) for s in got]
    assert hu_means == pytest.approx([float(_slice(k).mean()) - 1024 for k in range(3)])


def test_single_dicom_file_window_and_monochrome1(tmp_path):
    _write_dicom(tmp_path / "one.dcm", _slice(0), window=(0, 400))
    hu = _slice(0) - 1024  # -24 .. 26 HU
    got = load_images(tmp_path / "one.dcm", window="file", dtype=torch.float64)
    assert got.shape == (1, 6, 5)
    assert torch.allclose(got[0], torch.as_tensor((hu + 200) / 400), atol=1e-12)
    _write_dicom(tmp_path / "inv.dcm", _slice(0), photometric="MONOCHROME1")
    inverted = load_images(tmp_path / "inv.dcm", dtype=torch.float64)[0]
    assert torch.allclose(inverted, 1 - got[0].sub(got[0].min()).div(got[0].max() - got[0].min()), atol=1e-12)


def test_pydicom_file_through_load_images_matches_load_scan():
    pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    path = get_testdata_file("CT_small.dcm", download=False)
    assert torch.equal(load_images(path)[0], load_scan("ct", None))
    assert load_images(get_testdata_file("examples_overlay.dcm", download=False), size=64).shape == (1, 64, 64)


# --------------------------------------------------------------------------- NIfTI
def test_nifti_volume_slices_along_the_last_axis(tmp_path):
    nib = pytest.importorskip("nibabel", reason="nibabel is not installed (pip install 'pytest-invstab[nifti]')")
    rng = np.random.default_rng(0)
    volume = rng.uniform(0.0, 1.0, size=(12, 10, 5)).astype(np.float32)
    volume[0, 0, :], volume[1, 0, :] = 0.0, 1.0  # every slice spans exactly [0, 1]
    for name in ("v.nii", "v.nii.gz"):
        nib.save(nib.Nifti1Image(volume, np.eye(4)), str(tmp_path / name))
        got = load_images(tmp_path / name, dtype=torch.float64)
        assert got.shape == (5, 12, 10)
        assert torch.allclose(got, torch.as_tensor(volume).permute(2, 0, 1).double(), atol=1e-7)
        mid = load_images(tmp_path / name, slices="middle", dtype=torch.float64)
        assert torch.allclose(mid, got[[2]])
    scaled = nib.Nifti1Image((volume * 1000).astype(np.int16), np.eye(4))
    scaled.header.set_slope_inter(0.5, -100.0)  # stored * 0.5 - 100 = physical values
    nib.save(scaled, str(tmp_path / "s.nii"))
    physical = (volume * 1000).astype(np.int16)[:, :, 1] * 0.5 - 100
    got = load_images(tmp_path / "s.nii", slices=1, window=(150.0, 500.0), dtype=torch.float64)
    assert torch.allclose(got[0], torch.as_tensor((physical + 100) / 500), atol=1e-9)
    nib.save(nib.Nifti1Image(volume[..., None], np.eye(4)), str(tmp_path / "t.nii"))  # [X, Y, Z, 1]
    assert load_images(tmp_path / "t.nii").shape == (5, 12, 10)
    nib.save(nib.Nifti1Image(np.stack([volume, volume], -1), np.eye(4)), str(tmp_path / "4d.nii"))
    with pytest.raises(InvalidInputError, match="time point"):
        load_images(tmp_path / "4d.nii")
    with pytest.raises(InvalidInputError, match="out of range"):
        load_images(tmp_path / "v.nii", slices=5)


# --------------------------------------------------------------------------- fastMRI HDF5
def _fft2c(image: np.ndarray) -> np.ndarray:
    """fastMRI's centred orthonormal forward FFT, in numpy."""
    shifted = np.fft.ifftshift(image, axes=(-2, -1))
    return np.fft.fftshift(np.fft.fft2(shifted, norm="ortho"), axes=(-2, -1))


def _known_images() -> np.ndarray:
    rng = np.random.default_rng(1)
    img = rng.uniform(0.05, 0.95, size=(3, 16, 12))
    img[:, 0, 0], img[:, 0, 1] = 0.0, 1.0
    return img


def test_fastmri_multicoil_kspace_gives_the_known_image(tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py is not installed (pip install 'pytest-invstab[hdf5]')")
    img = _known_images()
    rng = np.random.default_rng(2)
    sens = rng.normal(size=(4, 16, 12)) + 1j * rng.normal(size=(4, 16, 12))
    sens /= np.sqrt((np.abs(sens) ** 2).sum(0, keepdims=True))  # RSS of the maps is 1 everywhere
    kspace = _fft2c(img[:, None] * sens[None]).astype(np.complex64)  # [slices, coils, H, W]
    with h5py.File(tmp_path / "multi.h5", "w") as f:
        f.create_dataset("kspace", data=kspace)
        f.create_dataset("mask", data=np.ones(12, dtype=bool))
    got = load_images(tmp_path / "multi.h5", window=IDENTITY, dtype=torch.float64)
    assert got.shape == (3, 16, 12)
    assert torch.allclose(got, torch.as_tensor(img), atol=1e-5)
    second = load_images(tmp_path / "multi.h5", slices=1, window=IDENTITY, dtype=torch.float64)
    assert torch.allclose(second, got[[1]])
    # the torch helpers agree with a direct numpy inverse
    coil = torch.as_tensor(kspace[0].astype(np.complex128))
    direct = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kspace[0], axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    assert torch.allclose(ifft2c(coil), torch.as_tensor(direct.astype(np.complex128)), atol=1e-6)
    assert torch.allclose(rss(ifft2c(coil)), torch.as_tensor(img[0]), atol=1e-5)


def test_fastmri_singlecoil_and_reconstruction_rss(tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py is not installed (pip install 'pytest-invstab[hdf5]')")
    img = _known_images()
    phase = np.exp(1j * np.linspace(0, 3, 12))[None, None]
    with h5py.File(tmp_path / "single.h5", "w") as f:
        f.create_dataset("kspace", data=_fft2c(img * phase).astype(np.complex64))  # [slices, H, W]
    got = load_images(tmp_path / "single.h5", window=IDENTITY, dtype=torch.float64)
    assert torch.allclose(got, torch.as_tensor(img), atol=1e-5)
    recon = img[:, 2:14, 1:11] ** 2  # cropped, different from the k-space image
    with h5py.File(tmp_path / "val.h5", "w") as f:
        f.create_dataset("kspace", data=_fft2c(img).astype(np.complex64))
        f.create_dataset("reconstruction_rss", data=recon.astype(np.float32))
    rss_images = load_images(tmp_path / "val.h5", window=IDENTITY, dtype=torch.float64)
    assert torch.allclose(rss_images, torch.as_tensor(recon), atol=1e-6)
    from_kspace = load_images(tmp_path / "val.h5", dataset="kspace", window=IDENTITY, dtype=torch.float64)
    assert torch.allclose(from_kspace, torch.as_tensor(img), atol=1e-5)
    with pytest.raises(InvalidInputError, match="no dataset 'target'"):
        load_images(tmp_path / "val.h5", dataset="target")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("volume", data=img)
    with pytest.raises(InvalidInputError, match=r"reconstruction_rss.*\['volume'\]"):
        load_images(tmp_path / "other.h5")
    (tmp_path / "fake.h5").write_bytes(b"not hdf5")
    with pytest.raises(InvalidInputError, match="not a readable HDF5"):
        load_images(tmp_path / "fake.h5")


# --------------------------------------------------------------------------- PNG, NPY, folders, errors
def test_folder_of_png_and_npy_in_name_order(tmp_path):
    from PIL import Image

    gray = (np.add.outer(np.arange(8), np.arange(8)) * 10).astype(np.uint8)
    Image.fromarray(gray, mode="L").save(tmp_path / "a.png")
    stack = np.stack([np.eye(8) * (k + 1) for k in range(3)])
    np.save(tmp_path / "b.npy", stack)
    got = load_images(tmp_path, dtype=torch.float64)
    assert got.shape == (4, 8, 8)
    assert torch.allclose(got[0], torch.as_tensor(gray / gray.max()))
    assert all(torch.equal(got[k], torch.eye(8, dtype=torch.float64)) for k in (1, 2, 3))
    assert load_images(tmp_path / "b.npy", normalize="volume", dtype=torch.float64)[0].max() == pytest.approx(1 / 3)
    np.save(tmp_path / "c.npy", np.eye(10))
    with pytest.raises(InvalidInputError, match="differ in size"):
        load_images(tmp_path)
    assert load_images(tmp_path, size=16).shape == (5, 16, 16)


def test_load_images_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="holds no image files"):
        load_images(tmp_path / "empty")
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(InvalidInputError, match="unknown suffix '.jpg'"):
        load_images(tmp_path / "x.jpg")
    np.save(tmp_path / "ok.npy", np.eye(8))
    for kwargs, match in (({"size": 3}, "size"), ({"normalize": "batch"}, "normalize"),
                          ({"slices": "first"}, "slices"), ({"slices": 1}, "out of range"),
                          ({"slices": slice(3, 5)}, "selects nothing"), ({"window": (1, 0)}, "window")):
        with pytest.raises(InvalidInputError, match=match):
            load_images(tmp_path / "ok.npy", **kwargs)
    np.save(tmp_path / "flat.npy", np.ones((2, 8, 8)))
    with pytest.raises(InvalidInputError, match="constant"):
        load_images(tmp_path / "flat.npy")
    (tmp_path / "mixed").mkdir()
    _write_dicom(tmp_path / "mixed" / "a.dcm", _slice(0))
    np.save(tmp_path / "mixed" / "b.npy", np.eye(6))
    with pytest.raises(InvalidInputError, match="mixes DICOM"):
        load_images(tmp_path / "mixed")
    (tmp_path / "bad.dcm").write_bytes(b"garbage")
    with pytest.raises(InvalidInputError, match="not a readable DICOM"):
        load_images(tmp_path / "bad.dcm")


@pytest.mark.parametrize("module, extra, name", [("pydicom", "scans", "s.dcm"), ("nibabel", "nifti", "v.nii.gz"),
                                                 ("h5py", "hdf5", "f.h5")])
def test_a_missing_extra_is_one_error_naming_pip(tmp_path, monkeypatch, module, extra, name):
    (tmp_path / name).write_bytes(b"\0" * 200)
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    with pytest.raises(MissingExtraError, match=rf"pip install 'pytest-invstab\[{extra}\]'"):
        load_images(tmp_path / name)
