"""Sampling patterns: exact rates, nesting, seeding, centre, density, Radon angle sets, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pytest_invstab.errors import InvalidInputError
from pytest_invstab.operators.sampling import (
    PATTERNS,
    SamplingPattern,
    full_angle_count,
    nested_angles,
    uniform_angles,
)

RATES = (0.02, 0.05, 0.1, 0.2, 0.33, 0.5, 0.8, 1.0)
SHAPES = (64, (40, 56), 33)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", PATTERNS)
def test_rate_is_exact_and_masks_are_nested(kind, shape):
    p = SamplingPattern(kind, shape, seed=3, orientation="rows")
    h, w = p.shape
    prev = torch.zeros(h, w, dtype=torch.bool)
    for rate in RATES:
        m = p.mask(rate)
        assert m.dtype == torch.bool and tuple(m.shape) == (h, w)
        if kind == "cartesian":
            rows = m.any(1)
            assert bool((m.all(1) == rows).all()), "cartesian samples whole phase-encode rows"
            assert int(rows.sum()) == max(1, round(rate * h))
        else:
            assert int(m.sum()) == max(1, round(rate * h * w))
        assert abs(float(m.float().mean()) - rate) <= (1 / h if kind == "cartesian" else 1 / (h * w)) + 1e-12
        assert not bool((prev & ~m).any()), f"mask at rate {rate} dropped a sample of a smaller rate"
        prev = m
    assert bool(prev.all()), "rate 1 samples the whole grid"


@pytest.mark.parametrize("kind", PATTERNS)
def test_same_seed_same_mask_other_seed_other_mask(kind):
    a = SamplingPattern(kind, 48, seed=7).mask(0.25)
    b = SamplingPattern(kind, 48, seed=7).mask(0.25)
    c = SamplingPattern(kind, 48, seed=8).mask(0.25)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # ... while the two seeds keep the same number of samples
    assert int(a.sum()) == int(c.sum())


def test_cartesian_centre_is_fully_sampled_first():
    h = 100
    p = SamplingPattern("cartesian", h, seed=0, center_fraction=0.08, orientation="rows")
    rows = p.mask(0.3)[:, 0]
    centre = torch.arange(h // 2 - 4, h // 2 + 4)  # round(0.08 * 100) = 8 lines around DC
    assert bool(rows[centre].all())
    # a rate below the centre keeps the lines nearest DC: 3 lines -> DC, DC-1, DC+1
    small = p.mask(0.03)[:, 0]
    assert torch.equal(torch.nonzero(small).flatten(), torch.tensor([h // 2 - 1, h // 2, h // 2 + 1]))


def test_points_centre_disc_is_fully_sampled():
    n = 64
    p = SamplingPattern("points", n, seed=1, center_fraction=0.1)
    m = p.mask(0.1)
    ky, kx = torch.meshgrid(torch.arange(n) - n // 2, torch.arange(n) - n // 2, indexing="ij")
    r = torch.sqrt((ky / (n / 2)) ** 2 + (kx / (n / 2)) ** 2)
    assert bool(m[r <= 0.1].all())
    assert int(m[r <= 0.1].sum()) < int(m.sum())  # ... and the rest lies outside


@pytest.mark.parametrize("kind", ("cartesian", "points"))
def test_density_is_higher_near_the_centre(kind):
    n = 128
    inner, outer = [], []
    for seed in range(4):
        m = SamplingPattern(kind, n, seed=seed, center_fraction=0.0, orientation="rows").mask(0.25).float()
        ky, kx = torch.meshgrid(torch.arange(n) - n // 2, torch.arange(n) - n // 2, indexing="ij")
        r = ky.abs() / (n / 2) if kind == "cartesian" else torch.sqrt(ky**2 + kx**2) / (n / 2)
        inner.append(float(m[r < 0.4].mean()))
        outer.append(float(m[(r >= 0.6) & (r < 1.0)].mean()))
    # weights (1 - r)^2: the inner band is drawn well over twice as densely than the outer one
    assert np.mean(inner) > 2.5 * np.mean(outer)


@pytest.mark.parametrize("shape", [(48, 64), (64, 40), 33])
def test_column_lines_are_the_transposed_row_lines(shape):
    """Columns (the default, as fastMRI and deepinv) sample whole k-space columns: the column mask
    of an H x W grid is the row mask of the W x H grid, transposed, at every rate."""
    cols = SamplingPattern("cartesian", shape, seed=4)
    assert cols.orientation == "columns"
    h, w = cols.shape
    rows = SamplingPattern("cartesian", (w, h), seed=4, orientation="rows")
    for rate in (0.1, 0.25, 0.5, 1.0):
        m = cols.mask(rate)
        assert bool((m.all(0) == m.any(0)).all()), "whole columns"
        assert int(m.any(0).sum()) == max(1, round(rate * w))
        assert torch.equal(m, rows.mask(rate).T)


def test_bad_orientation_is_one_clear_error():
    with pytest.raises(InvalidInputError, match="orientation must be 'columns'.*or 'rows'"):
        SamplingPattern("cartesian", 32, orientation="vertical")


def test_radial_spokes_pass_through_dc_and_are_lines():
    n = 64
    p = SamplingPattern("radial", n, seed=5)
    assert bool(p.mask(1 / (n * n))[n // 2, n // 2]), "the first sample is DC"
    # the first n points are on one spoke: within 0.75 px of a line through DC, and long
    m = p.mask(n / (n * n))
    pts = torch.nonzero(m).double() - n // 2
    direction = torch.linalg.svd(pts, full_matrices=False).Vh[0]
    across = pts @ torch.stack([-direction[1], direction[0]])
    assert float(across.abs().max()) <= 0.75
    assert float((pts @ direction).abs().max()) >= n / 4
    # a few spokes: several distinct directions far from DC
    m = p.mask(0.15)  # about 7 spokes of ~90 points
    pts = torch.nonzero(m).double() - n // 2
    ang = torch.atan2(pts[:, 0], pts[:, 1]) % math.pi
    assert len(torch.unique(torch.round(ang[pts.norm(dim=1) > 20] * 10))) >= 5


def test_radial_samples_the_centre_densely():
    n = 96
    m = SamplingPattern("radial", n, seed=0).mask(0.2).float()
    ky, kx = torch.meshgrid(torch.arange(n) - n // 2, torch.arange(n) - n // 2, indexing="ij")
    r = torch.sqrt(ky.double() ** 2 + kx.double() ** 2)
    assert float(m[r < 8].mean()) > 0.9
    assert float(m[r > 40].mean()) < 0.2


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.0001, 2, float("nan"), float("inf"), "0.3", True, None])
def test_rate_outside_range_is_one_clear_error(bad):
    p = SamplingPattern("cartesian", 32)
    with pytest.raises(InvalidInputError, match=r"range \(0, 1\]"):
        p.mask(bad)


@pytest.mark.parametrize("bad", [4, 7, 8.0, "64", (8,), (8, 8, 8), (16, 4), True, None])
def test_bad_shape_is_one_clear_error(bad):
    with pytest.raises(InvalidInputError, match="int >= 8"):
        SamplingPattern("points", bad)


def test_bad_kind_seed_and_centre_are_clear_errors():
    with pytest.raises(InvalidInputError, match="choose one of cartesian, points, radial"):
        SamplingPattern("spiral", 32)
    with pytest.raises(InvalidInputError, match="seed must be an int"):
        SamplingPattern("points", 32, seed=1.5)
    with pytest.raises(InvalidInputError, match=r"center_fraction must be a number in \[0, 1\)"):
        SamplingPattern("points", 32, center_fraction=1.0)


# -- Radon angles ---------------------------------------------------------------------------------
def test_uniform_and_full_angle_counts():
    assert full_angle_count(128) == 202 and full_angle_count(256) == 403
    a = uniform_angles(50)
    assert torch.allclose(a, torch.arange(50, dtype=torch.float64) * math.pi / 50, atol=1e-15, rtol=0)
    with pytest.raises(InvalidInputError, match="int >= 1"):
        uniform_angles(0)


def test_nested_angles_are_nested_near_uniform_and_full_at_the_end():
    n_full = 202
    grid = torch.arange(n_full, dtype=torch.float64) * math.pi / n_full
    prev: set[float] = set()
    for n in (1, 2, 5, 13, 50, 101, 150, 202):
        a = nested_angles(n, n_full)
        assert a.numel() == n and bool((a[1:] > a[:-1]).all())
        on_grid = torch.round(a / (math.pi / n_full))
        assert torch.allclose(a, on_grid * math.pi / n_full)
        cur = set(on_grid.long().tolist())
        assert prev <= cur
        prev = cur
        if n > 1:  # every prefix of the bit-reversal order leaves gaps of at most 2 pi / n (+ one grid step)
            gaps = torch.diff(a, append=a[:1] + math.pi)
            assert float(gaps.max()) <= 2 * math.pi / n + math.pi / n_full + 1e-12
    assert torch.allclose(nested_angles(n_full, n_full), grid)
    with pytest.raises(InvalidInputError, match=r"int in \[1, 202\]"):
        nested_angles(203, n_full)
