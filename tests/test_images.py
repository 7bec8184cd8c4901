"""Phantoms, line integrals, training sets, scans and image files (pytest_invstab.images)."""

from __future__ import annotations

import math
import socket
import sys

import numpy as np
import pytest
import torch

from pytest_invstab.errors import InvalidInputError, MissingExtraError
from pytest_invstab.images import (
    SHEPP_LOGAN_TABLE,
    ellipse_image,
    ellipse_line_integrals,
    load_image,
    load_scan,
    pixel_grid,
    random_ellipses,
    shepp_logan,
    textured_phantoms,
)

# Toft's levels; 0.1 where a ventricle (-0.2) overlaps ellipse 5 (+0.1), 0.4 where two +0.1 overlap.
LEVELS = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.4, 1.0], dtype=torch.float64)


def _row(y: float, n: int) -> int:
    """Row index of the pixel whose centre is nearest to height y (y up)."""
    return round((1 - y) * n / 2 - 0.5)


def _col(x: float, n: int) -> int:
    return round((x + 1) * n / 2 - 0.5)


def _pixel_averaged_integrals(table, theta: float, centres: torch.Tensor, width: float) -> torch.Tensor:
    """Closed-form projection averaged over a detector bin of ``width`` around each centre."""
    sub = centres[:, None] + width * ((torch.arange(16, dtype=torch.float64) + 0.5) / 16 - 0.5)[None, :]
    return ellipse_line_integrals(table, [theta], sub.flatten())[0].reshape(-1, 16).mean(1)


# --------------------------------------------------------------------------- Shepp-Logan
def test_shepp_logan_levels_at_known_points():
    n = 128
    p = shepp_logan(n, dtype=torch.float64)
    assert p.shape == (n, n) and p.dtype == torch.float64
    assert float(p.max()) == pytest.approx(1.0) and float(p.min()) == 0.0
    assert float(p[0, 0]) == 0.0 and float(p[-1, -1]) == 0.0  # background
    # (x, y) -> value from Toft's table: brain 0.2, ventricles 0, ellipse 5 0.3, skull 1.
    known = {(0.0, 0.0): 0.2, (-0.22, 0.0): 0.0, (0.22, 0.0): 0.0, (0.0, 0.35): 0.3, (0.0, -0.1): 0.3,
             (0.0, 0.9): 1.0, (0.3, -0.6): 0.2, (0.5, -0.6): 1.0, (0.0, -0.605): 0.3}
    for (x, y), value in known.items():
        assert float(p[_row(y, n), _col(x, n)]) == pytest.approx(value, abs=1e-9), (x, y)
    # y points up: ellipse 5 (y = +0.35) is in the upper half, the small ellipses at the bottom.
    assert float(p[_row(-0.35, n), _col(0.0, n)]) == pytest.approx(0.2)


def test_shepp_logan_mass_matches_the_table():
    n = 128
    p = shepp_logan(n, dtype=torch.float64)
    exact = sum(rho * math.pi * a * b for rho, a, b, *_ in SHEPP_LOGAN_TABLE)  # integral over [-1, 1]^2
    assert float(p.sum()) * (2 / n) ** 2 == pytest.approx(exact, rel=2e-3)


def test_shepp_logan_matches_scikit_image():
    skdata = pytest.importorskip("skimage.data")
    ref = torch.as_tensor(skdata.shepp_logan_phantom())  # 400 x 400, same modified table
    ref = ref.reshape(100, 4, 100, 4).mean(dim=(1, 3))
    mine = shepp_logan(100, dtype=torch.float64)
    assert float((mine - ref).abs().mean()) < 0.01
    assert float((mine.flip(0) - ref).abs().mean()) > 0.03  # orientation matters


def test_symmetric_part_is_left_right_symmetric_and_whole_is_not():
    sym_rows = [row for row in SHEPP_LOGAN_TABLE if row[3] == 0.0 and row[5] == 0.0]
    img = ellipse_image(sym_rows, 96, 4, dtype=torch.float64)
    assert float((img - img.flip(1)).abs().max()) < 1e-9
    full = shepp_logan(96, dtype=torch.float64)
    assert float((full - full.flip(1)).abs().max()) > 0.1  # the ventricles differ in size


def test_supersampling_gives_fractional_edges():
    hard = shepp_logan(64, dtype=torch.float64, supersample=1)
    dist = (hard.flatten()[:, None] - LEVELS[None, :]).abs().min(dim=1).values
    assert float(dist.max()) < 1e-9  # without supersampling every pixel is a table level
    soft = shepp_logan(64, dtype=torch.float64, supersample=4)
    dist = (soft.flatten()[:, None] - LEVELS[None, :]).abs().min(dim=1).values
    assert int((dist > 1e-6).sum()) > 100  # edge pixels are partial coverages
    # A fractional value is a multiple of 1/16 of the intensity steps (4 x 4 sub-samples).
    assert torch.allclose(soft * 160, torch.round(soft * 160), atol=1e-6)


def test_shepp_logan_dtype_device_and_bad_sizes():
    assert shepp_logan(32).dtype == torch.float32
    with pytest.raises(InvalidInputError, match="size"):
        shepp_logan(4)
    with pytest.raises(InvalidInputError, match="int"):
        shepp_logan(64.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="dtype"):
        shepp_logan(32, dtype=torch.int64)
    with pytest.raises(InvalidInputError, match="supersample"):
        shepp_logan(32, supersample=0)


# --------------------------------------------------------------------------- ellipses and line integrals
def test_pixel_grid_convention():
    y, x = pixel_grid(4)
    assert torch.allclose(x, torch.tensor([-0.75, -0.25, 0.25, 0.75], dtype=torch.float64))
    assert torch.allclose(y, -x)  # row 0 is the top (y = +0.75)
    y2, x2 = pixel_grid(2, supersample=2)
    assert torch.allclose(x2, torch.tensor([-0.75, -0.25, 0.25, 0.75], dtype=torch.float64))


def test_closed_form_line_integrals_known_values():
    disc = [(1.0, 0.5, 0.5, 0.0, 0.0, 0.0)]
    p = ellipse_line_integrals(disc, [0.0, 1.0], [0.0, 0.3, 0.6])
    assert torch.allclose(p, torch.tensor([[1.0, 0.8, 0.0]] * 2, dtype=torch.float64))
    # phi is counter-clockwise in degrees: a = 0.5 along x turned by 90 deg lies along y.
    tall = [(2.0, 0.5, 0.1, 0.3, 0.0, 90.0)]
    vertical_line = ellipse_line_integrals(tall, [0.0], [0.3])[0, 0]  # x = 0.3
    horizontal_line = ellipse_line_integrals(tall, [math.pi / 2], [0.0])[0, 0]  # y = 0
    assert float(vertical_line) == pytest.approx(2.0 * 1.0) and float(horizontal_line) == pytest.approx(2.0 * 0.2)


def test_rotation_and_offset_conventions_in_image():
    n = 128
    img = ellipse_image([(1.0, 0.5, 0.08, 0.1, -0.2, 30.0)], n, 1)
    along = (0.1 + 0.4 * math.cos(math.radians(30)), -0.2 + 0.4 * math.sin(math.radians(30)))
    across = (0.1 + 0.4 * math.cos(math.radians(-30)), -0.2 + 0.4 * math.sin(math.radians(-30)))
    assert float(img[_row(along[1], n), _col(along[0], n)]) == 1.0
    assert float(img[_row(across[1], n), _col(across[0], n)]) == 0.0


@pytest.mark.parametrize("table", [SHEPP_LOGAN_TABLE,
                                   [(1.0, 0.5, 0.2, 0.2, -0.1, 30.0), (0.5, 0.3, 0.15, -0.3, 0.4, -50.0),
                                    (-0.3, 0.1, 0.25, 0.2, -0.1, 100.0)]])
def test_image_sums_agree_with_closed_form_line_integrals(table):
    n = 128
    img = ellipse_image(table, n, 4, dtype=torch.float64)
    y, x = pixel_grid(n)
    h = 2 / n
    for theta, sums, centres in ((0.0, img.sum(0), x), (math.pi / 2, img.sum(1), y)):
        point = ellipse_line_integrals(table, [theta], centres)[0]
        averaged = _pixel_averaged_integrals(table, theta, centres, h)
        assert float((sums * h - point).norm() / point.norm()) < 0.03  # pixel width blurs
        assert float((sums * h - averaged).norm() / averaged.norm()) < 0.01


@pytest.mark.parametrize("degrees", [30.0, 75.0, 140.0])
def test_oblique_projection_of_the_image_matches_closed_form(degrees):
    # Bin the sub-sampled image by s = x cos(theta) + y sin(theta): sum * area / bin width is the
    # projection averaged over the bin.
    table = [(1.0, 0.5, 0.2, 0.2, -0.1, 30.0), (0.5, 0.3, 0.15, -0.3, 0.4, -50.0), (-0.3, 0.1, 0.25, 0.2, -0.1, 100.0)]
    n = 256
    f = ellipse_image(table, n, 1, dtype=torch.float64)
    y, x = pixel_grid(n)
    th = math.radians(degrees)
    s = (x[None, :] * math.cos(th) + y[:, None] * math.sin(th)).flatten()
    bins = 80
    edges = torch.linspace(-1.2, 1.2, bins + 1, dtype=torch.float64)
    width = float(edges[1] - edges[0])
    idx = (torch.bucketize(s, edges) - 1).clamp(0, bins - 1)
    proj = torch.zeros(bins, dtype=torch.float64).index_add_(0, idx, f.flatten()) * (2 / n) ** 2 / width
    ref = _pixel_averaged_integrals(table, th, (edges[:-1] + edges[1:]) / 2, width)
    assert float((proj - ref).norm() / ref.norm()) < 0.01


def test_ellipse_table_errors():
    with pytest.raises(InvalidInputError, match=r"\[E, 6\]"):
        ellipse_image([(1.0, 0.5, 0.5)], 32)
    with pytest.raises(InvalidInputError, match="positive semi-axes"):
        ellipse_image([(1.0, 0.0, 0.5, 0, 0, 0)], 32)
    with pytest.raises(InvalidInputError, match="table"):
        ellipse_line_integrals("not a table", [0.0], [0.0])


# --------------------------------------------------------------------------- training sets
def test_random_ellipses_reproducible_and_varied():
    a = random_ellipses(6, 64, seed=1)
    assert a.shape == (6, 64, 64) and a.dtype == torch.float32
    assert torch.equal(a, random_ellipses(6, 64, seed=1))
    assert torch.equal(a[:3], random_ellipses(3, 64, seed=1))  # image i does not depend on n
    assert not torch.allclose(a, random_ellipses(6, 64, seed=2))
    assert float(a.min()) >= 0.0 and torch.allclose(a.amax(dim=(1, 2)), torch.ones(6))
    assert float(a[:, 0, :].abs().max()) == 0.0  # centres within 0.5, semi-axes <= 0.4: the border stays empty
    assert float(torch.cdist(a.flatten(1), a.flatten(1)).fill_diagonal_(1e9).min()) > 1.0  # images differ
    frac = (a > 0).float().mean(dim=(1, 2))
    assert bool(((frac > 0.02) & (frac < 0.8)).all())
    # Anti-aliasing by 2 x 2 sub-samples: some values are not a plain sum of full intensities.
    assert random_ellipses(1, 64, seed=0, supersample=1).unique().numel() < a[0].unique().numel()


def test_random_ellipses_count_and_errors():
    one = random_ellipses(4, 64, seed=3, min_ellipses=1, max_ellipses=1)
    # a single ellipse normalised to 1: every pixel is 1 or a partial edge
    inside = one[one > 0.999]
    assert inside.numel() > 0 and torch.allclose(inside, torch.ones_like(inside))
    with pytest.raises(InvalidInputError, match="min_ellipses"):
        random_ellipses(2, 64, min_ellipses=5, max_ellipses=2)
    with pytest.raises(InvalidInputError, match="positive int"):
        random_ellipses(0, 64)
    with pytest.raises(InvalidInputError, match="seed"):
        random_ellipses(2, 64, seed="a")  # type: ignore[arg-type]


def test_textured_phantoms_structure():
    n, size = 24, 64
    t = textured_phantoms(n, size, seed=0)
    assert t.shape == (n, size, size) and t.dtype == torch.float32
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0
    assert torch.equal(t, textured_phantoms(n, size, seed=0))
    assert torch.equal(t[:5], textured_phantoms(5, size, seed=0))
    other = textured_phantoms(n, size, seed=1)
    assert float((t - other).abs().mean()) > 0.05
    # Background outside the head, tissue inside, a bright skull ring in between.
    assert float(t[:, [0, -1], :].max()) == 0.0 and float(t[:, :, [0, -1]].max()) == 0.0
    centre = t[:, size // 2 - 4:size // 2 + 4, size // 2 - 4:size // 2 + 4]
    assert bool((centre.mean(dim=(1, 2)) > 0.1).all())
    mid_row = t[:, size // 2, :]
    ring = mid_row[:, : size // 4].amax(dim=1)  # the left skull wall is crossed by the middle row
    assert bool((ring > centre.mean(dim=(1, 2))).all())
    # Texture and structure: within the tissue, values vary at coarse and fine scales.
    interior = t[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4]
    assert bool((interior.std(dim=(1, 2)) > 0.02).all())
    c = interior[:, 1:-1, 1:-1]
    lap = 4 * c - interior[:, 2:, 1:-1] - interior[:, :-2, 1:-1] - interior[:, 1:-1, 2:] - interior[:, 1:-1, :-2]
    assert bool((lap.abs().mean(dim=(1, 2)) > 0.01).all())  # fine texture and edges, not a flat fill
    # The images differ from each other (not one template).
    d = torch.cdist(t.flatten(1), t.flatten(1)).fill_diagonal_(1e9)
    assert float(d.min()) > 1.0


def test_textured_phantoms_size_and_dtype():
    t = textured_phantoms(2, 128, seed=5, dtype=torch.float64)
    assert t.shape == (2, 128, 128) and t.dtype == torch.float64
    with pytest.raises(InvalidInputError, match="size"):
        textured_phantoms(2, 8)


# --------------------------------------------------------------------------- scans
def test_scans_load_at_requested_size_without_network(monkeypatch):
    pydicom = pytest.importorskip("pydicom")

    def no_network(*args, **kwargs):
        raise AssertionError("load_scan tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    for kind, native in (("mr", 64), ("ct", 128)):
        for size in (native, 96):
            img = load_scan(kind, size)
            assert img.shape == (size, size) and img.dtype == torch.float32
            assert float(img.min()) == pytest.approx(0.0, abs=1e-6) and 0.9 < float(img.max()) <= 1.0
        # At the native size the image is the file's pixels mapped affinely to [0, 1].
        raw = torch.as_tensor(pydicom.dcmread(pydicom.data.get_testdata_file(
            {"mr": "MR_small.dcm", "ct": "CT_small.dcm"}[kind], download=False)).pixel_array.astype(np.float64))
        expect = (raw - raw.min()) / (raw.max() - raw.min())
        assert torch.allclose(load_scan(kind, native, dtype=torch.float64), expect, atol=1e-12)
    assert float((load_scan("mr") - load_scan("ct")).abs().mean()) > 0.05


def test_scans_bad_input_and_missing_pydicom(monkeypatch):
    with pytest.raises(InvalidInputError, match="'mr' or 'ct'"):
        load_scan("pet")
    with pytest.raises(InvalidInputError, match="size"):
        load_scan("mr", 2)
    monkeypatch.setitem(sys.modules, "pydicom", None)  # import pydicom now raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'pytest-invstab\[scans\]'"):
        load_scan("mr")


# --------------------------------------------------------------------------- files
def test_load_npy_scales_to_unit_range(tmp_path):
    arr = np.arange(12, dtype=np.float64).reshape(2, 6) * 2.0 - 5.0
    np.save(tmp_path / "a.npy", arr)
    img = load_image(tmp_path / "a.npy", dtype=torch.float64)
    assert img.shape == (2, 6)
    assert torch.allclose(img, torch.as_tensor((arr - arr.min()) / (arr.max() - arr.min())))
    square = load_image(tmp_path / "a.npy", size=16)
    assert square.shape == (16, 16) and float(square.min()) >= 0 and float(square.max()) <= 1
    # padding to a square keeps the aspect ratio: the top and bottom rows are background
    assert float(square[0].max()) == 0.0 and float(square[-1].max()) == 0.0


def test_load_png_grayscale_and_rgb(tmp_path):
    from PIL import Image

    gray = (np.add.outer(np.arange(20), np.arange(30)) * 4).astype(np.uint8)
    Image.fromarray(gray, mode="L").save(tmp_path / "g.png")
    img = load_image(str(tmp_path / "g.png"), dtype=torch.float64)
    g = gray.astype(np.float64)
    assert torch.allclose(img, torch.as_tensor((g - g.min()) / (g.max() - g.min())))
    rgb = np.zeros((20, 30, 3), dtype=np.uint8)
    rgb[:, 15:, 1] = 200  # green right half
    Image.fromarray(rgb, mode="RGB").save(tmp_path / "c.png")
    img = load_image(tmp_path / "c.png", size=32)
    assert img.shape == (32, 32)
    assert float(img[16, 28]) == pytest.approx(1.0) and float(img[16, 2]) == 0.0


def test_load_image_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="unknown suffix"):
        load_image(tmp_path / "x.jpg")
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_image(tmp_path / "missing.npy")
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4)))
    with pytest.raises(InvalidInputError, match="2-D"):
        load_image(tmp_path / "cube.npy")
    np.save(tmp_path / "flat.npy", np.ones((8, 8)))
    with pytest.raises(InvalidInputError, match="constant"):
        load_image(tmp_path / "flat.npy")
    np.save(tmp_path / "cplx.npy", np.ones((8, 8), dtype=np.complex64))
    with pytest.raises(InvalidInputError, match="real"):
        load_image(tmp_path / "cplx.npy")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(InvalidInputError, match="PNG"):
        load_image(tmp_path / "bad.png")
    np.save(tmp_path / "ok.npy", np.eye(8))
    with pytest.raises(InvalidInputError, match="size"):
        load_image(tmp_path / "ok.npy", size=3)
