"""Structural details: card symbols, text, default layouts, insertion (pytest_invstab.images.details)."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from pytest_invstab.errors import InvalidInputError
from pytest_invstab.images import (
    SYMBOLS,
    Detail,
    as_detail,
    default_details,
    ellipse_image,
    insert_details,
    symbol,
    text_detail,
)
from pytest_invstab.images import _font, details as details_module

BIG, N = 64, 96  # symbols drawn 64 px tall on a 96 x 96 grid, centred


@pytest.fixture(scope="module")
def big_symbols() -> dict[str, torch.Tensor]:
    return {k: symbol(k, N, scale_px=BIG).pattern.double() for k in SYMBOLS}


def _runs(row: torch.Tensor) -> int:
    """Number of separate ink segments along a row."""
    on = (row > 0.5).int()
    return int(on[0]) + int(((on[1:] - on[:-1]) == 1).sum())


def _row_at(v: float) -> int:
    """Row of the unit-box height v (v up, symbol spans [-1, 1]) for the centred big symbols."""
    return round((N - 1) / 2 - v * BIG / 2)


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.minimum(a, b).sum() / torch.maximum(a, b).sum())


# --------------------------------------------------------------------------- symbols
def test_symbol_areas(big_symbols):
    frac = {k: float(p.sum()) / BIG**2 for k, p in big_symbols.items()}
    assert frac["diamond"] == pytest.approx(0.36, rel=0.01)  # rhombus 0.72 x 1 half-diagonals: 2ab / 4
    assert 0.60 < frac["heart"] < 0.72
    assert 0.42 < frac["spade"] < 0.55
    assert 0.32 < frac["club"] < 0.42
    assert frac["heart"] > frac["spade"] > frac["club"]


def test_symbols_differ_and_heart_is_not_a_flipped_spade(big_symbols):
    for a, b in itertools.combinations(SYMBOLS, 2):
        assert _iou(big_symbols[a], big_symbols[b]) < 0.75, (a, b)
    flipped = _iou(big_symbols["heart"], big_symbols["spade"].flip(0))
    assert 0.5 < flipped < 0.8  # mirror-ish (blade = upside-down heart) but the spade has a stem


def test_symbol_shapes_have_their_features(big_symbols):
    h, s, d, c = (big_symbols[k] for k in ("heart", "spade", "diamond", "club"))
    # The heart has two lobes on top and a point at the bottom; the spade a point on top.
    assert _runs(h[_row_at(0.9)]) == 2 and _runs(s[_row_at(0.9)]) == 1
    assert float(h[_row_at(-0.95)].sum()) < 4 and float(s[_row_at(-0.95)].sum()) > 15  # spade's foot
    # The spade's and the club's stems: narrow in the middle, wider at the foot.
    assert float(s[_row_at(-0.6)].sum()) < 0.6 * float(s[_row_at(-0.95)].sum())
    assert float(c[_row_at(-0.6)].sum()) < 0.6 * float(c[_row_at(-0.95)].sum())
    # The club: left lobe, stem, right lobe below the lobes' centres.
    assert _runs(c[_row_at(-0.2)]) == 3
    # The diamond: widest at mid height, pointed at top and bottom.
    widths = d.sum(1)
    assert int(widths.argmax()) in (N // 2 - 1, N // 2)
    assert float(d[_row_at(0.95)].sum()) < 4 and float(d[_row_at(-0.95)].sum()) < 4
    assert float(widths.max()) == pytest.approx(0.72 * BIG, abs=1.5)


def test_symbols_are_left_right_symmetric_and_antialiased(big_symbols):
    for k, p in big_symbols.items():
        assert float((p - p.flip(1)).abs().max()) < 1e-6, k
        assert float(p.max()) == 1.0 and float(p.min()) == 0.0
        edge = (p > 0) & (p < 1)
        assert int(edge.sum()) > 40, k  # partial coverage along the outline
        # 8 x 8 sub-samples: coverages are multiples of 1/64
        assert torch.allclose(p * 64, torch.round(p * 64), atol=1e-4)


def test_symbol_position_scale_and_bbox():
    det = symbol("diamond", 128, center=(40.0, 90.0), scale_px=20)
    y0, x0, y1, x1 = det.bbox
    assert (y0 + y1 - 1) / 2 == pytest.approx(40.0, abs=0.5) and (x0 + x1 - 1) / 2 == pytest.approx(90.0, abs=0.5)
    assert 19 <= y1 - y0 <= 21 and 13 <= x1 - x0 <= 16
    assert bool(det.support[y0:y1, x0:x1].any(dim=1).all())
    assert not bool(det.support.clone().index_fill_(0, torch.arange(y0, y1), False).any())
    assert torch.equal(det.support, det.pattern > details_module.SUPPORT_THRESHOLD)
    # mass centre = centre: moving the centre by (3, -5) moves the pattern by (3, -5) pixels
    moved = symbol("diamond", 128, center=(43.0, 85.0), scale_px=20)
    assert torch.allclose(moved.pattern, torch.roll(det.pattern, shifts=(3, -5), dims=(0, 1)))


def test_symbol_errors():
    with pytest.raises(InvalidInputError, match="unknown symbol"):
        symbol("joker", 64)
    with pytest.raises(InvalidInputError, match="larger than"):
        symbol("heart", 64, scale_px=80)
    with pytest.raises(InvalidInputError, match="outside"):
        symbol("heart", 64, center=(3, 32), scale_px=12)
    with pytest.raises(InvalidInputError, match="outside"):
        symbol("club", 64, center=(32, 70), scale_px=12)
    with pytest.raises(InvalidInputError, match="too small"):
        symbol("spade", 64, scale_px=2)
    with pytest.raises(InvalidInputError, match=r"\(row, col\)"):
        symbol("spade", 64, center=5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- text
def test_text_is_rendered_with_the_bundled_font():
    path = _font.font_path("bold")
    assert path is not None and path.endswith("DejaVuSans-Bold.ttf")
    det = text_detail(size=128)
    assert det.name == "text"
    y0, x0, y1, x1 = det.bbox
    assert float(det.pattern.max()) == pytest.approx(1.0, abs=0.02) and float(det.pattern.min()) == 0.0
    assert 6 <= y1 - y0 <= 10  # cap height 0.055 * 128 = 7 px, plus anti-aliased rows and C/S overshoot
    assert 60 <= x1 - x0 <= 80  # a line of 12 characters
    assert (x0 + x1 - 1) / 2 == pytest.approx(63.5, abs=1.0) and (y0 + y1 - 1) / 2 == pytest.approx(63.5, abs=1.0)
    assert torch.equal(det.support, det.pattern > details_module.SUPPORT_THRESHOLD)
    outside = det.pattern.clone()
    outside[y0:y1, x0:x1] = 0
    assert float(outside.abs().max()) == 0.0
    ink = det.pattern[y0:y1, x0:x1]
    assert 0.25 < float(ink.mean()) < 0.65  # letters, not a filled box
    # The gaps between words: some columns inside the bbox have no ink.
    assert int((ink.sum(0) == 0).sum()) >= 3


def test_text_height_and_content_matter():
    small = text_detail("CAN U SEE IT", 256, height_px=10)
    large = text_detail("CAN U SEE IT", 256, height_px=20)
    ws, wl = small.bbox[3] - small.bbox[1], large.bbox[3] - large.bbox[1]
    assert wl == pytest.approx(2 * ws, abs=3)
    assert large.area() == pytest.approx(4 * small.area(), rel=0.1)
    narrow = text_detail("III", 128, height_px=12)
    wide = text_detail("WWW", 128, height_px=12)
    assert (wide.bbox[3] - wide.bbox[1]) > 2 * (narrow.bbox[3] - narrow.bbox[1])
    # The position moves the text.
    up = text_detail("HI", 128, position=(30, 64), height_px=12)
    down = text_detail("HI", 128, position=(90, 64), height_px=12)
    assert down.bbox[0] - up.bbox[0] == 60 and torch.allclose(down.pattern, up.pattern.roll(60, 0))


def test_text_falls_back_to_pil_font(monkeypatch):
    monkeypatch.setattr(_font, "font_path", lambda weight="bold": None)
    _font.load_font.cache_clear()
    try:
        det = text_detail("CAN U SEE IT", 128, height_px=8)
        y0, x0, y1, x1 = det.bbox
        assert 6 <= y1 - y0 <= 12 and 40 <= x1 - x0 <= 110
        assert float(det.pattern.max()) > 0.9
    finally:
        _font.load_font.cache_clear()


def test_text_errors():
    with pytest.raises(InvalidInputError, match="non-empty"):
        text_detail("  ", 128)
    with pytest.raises(InvalidInputError, match="outside"):
        text_detail("A LINE OF TEXT MUCH TOO LONG FOR THIS IMAGE", 64, height_px=8)
    with pytest.raises(InvalidInputError, match="outside"):
        text_detail("HI", 64, position=(1, 32), height_px=8)
    with pytest.raises(InvalidInputError, match="too small"):
        text_detail("HI", 64, height_px=1)


# --------------------------------------------------------------------------- layouts
def _head_interior(size: int) -> torch.Tensor:
    # The Shepp-Logan brain: inside the second ellipse, i.e. where the skull ring is not.
    return ellipse_image([(1.0, 0.6624, 0.8740, 0.0, -0.0184, 0.0)], size, 1) > 0.5


@pytest.mark.parametrize("size", [64, 128, 256])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_default_layout_fits_inside_the_head_without_overlap(size, seed):
    dets = default_details("all", size, seed=seed)
    assert [d.name for d in dets] == ["spade", "heart", "diamond", "club", "text"]
    inside = _head_interior(size)
    for d in dets:
        assert d.pattern.shape == (size, size) and d.pattern.dtype == torch.float32
        assert not bool((d.support & ~inside).any()), (d.name, size, seed)
    grown = [F.max_pool2d(d.support.float()[None, None], 3, 1, 1)[0, 0] > 0 for d in dets]  # one-pixel gap
    for (a, ga), (b, gb) in itertools.combinations(zip(dets, grown), 2):
        assert not bool((ga & b.support).any()), (a.name, b.name, size, seed)


def test_default_sizes_scale_with_the_image():
    for size in (128, 256):
        dets = {d.name: d for d in default_details("all", size)}
        for k in SYMBOLS:
            y0, x0, y1, x1 = dets[k].bbox
            assert 0.08 <= (y1 - y0) / size <= 0.13, (k, size)
            assert 0.06 <= (x1 - x0) / size <= 0.13, (k, size)
        y0, _, y1, _ = dets["text"].bbox
        assert 0.045 <= (y1 - y0 - 1) / size <= 0.075, size
    a = {d.name: d.area() for d in default_details("all", 128)}
    b = {d.name: d.area() for d in default_details("all", 256)}
    for k in a:
        assert b[k] / a[k] == pytest.approx(4.0, rel=0.15), k


def test_default_kinds_and_seeds():
    assert [d.name for d in default_details("symbols", 64)] == list(SYMBOLS)
    assert [d.name for d in default_details("text", 128)] == ["text"]
    s0, s0b, s1 = (default_details("all", 128, seed=s) for s in (0, 0, 1))
    assert all(torch.equal(a.pattern, b.pattern) for a, b in zip(s0, s0b))
    assert any(not torch.equal(a.pattern, b.pattern) for a, b in zip(s0, s1))
    # seed 0: the canonical layout, spade top-left, club bottom-right
    by = {d.name: d.bbox for d in s0}
    assert by["spade"][0] < 64 and by["spade"][1] < 64 and by["club"][0] > 64 and by["club"][1] > 64
    with pytest.raises(InvalidInputError, match="unknown details kind"):
        default_details("letters", 128)
    with pytest.raises(InvalidInputError, match="at least 64"):
        default_details("text", 48)
    with pytest.raises(InvalidInputError, match="at least 32"):
        default_details("symbols", 16)
    with pytest.raises(InvalidInputError, match="seed"):
        default_details("symbols", 64, seed=1.5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- insertion
def test_insert_details_is_exact_and_sums_patterns():
    dets = default_details("all", 64)
    x = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    xd, d = insert_details(x, dets, intensity=0.3)
    assert xd.shape == d.shape == x.shape and d.dtype == x.dtype
    assert torch.equal(xd - x, d)  # what is added is exactly d
    expected = 0.3 * sum(det.pattern for det in dets)
    assert torch.allclose(d, expected.expand_as(x), atol=1e-6)
    assert torch.allclose(d[0], d[2], atol=1e-6)  # same details in every image, up to rounding
    # one intensity per detail, and a single [H, W] image in float64
    amps = [0.1, 0.2, 0.3, 0.4, -0.5]
    x2 = torch.rand(64, 64, dtype=torch.float64)
    xd2, d2 = insert_details(x2, dets, amps)
    assert d2.shape == (64, 64) and d2.dtype == torch.float64 and torch.equal(xd2 - x2, d2)
    for a, det in zip(amps, dets):
        assert torch.allclose(d2[det.support & (det.pattern == 1)], torch.tensor(a, dtype=torch.float64))


def test_insert_details_into_complex_images():
    det = symbol("heart", 64)
    x = torch.randn(2, 64, 64, dtype=torch.complex64)
    xd, d = insert_details(x, det, 0.5)
    assert xd.dtype == torch.complex64 and d.dtype == torch.float32
    assert torch.equal(xd.imag, x.imag) and torch.allclose(xd.real - x.real, d)
    assert torch.allclose(d[0], 0.5 * det.pattern, atol=1e-6)


def test_as_detail_and_user_tensors():
    t = torch.zeros(32, 32)
    t[5:9, 10:20] = 0.7
    det = as_detail(t, name="bar")
    assert isinstance(det, Detail) and det.name == "bar" and det.bbox == (5, 10, 9, 20)
    assert int(det.support.sum()) == 40 and torch.equal(det.pattern, t)
    x = torch.zeros(32, 32)
    xd, d = insert_details(x, t, 2.0)  # a bare tensor is accepted as a detail
    assert torch.allclose(d, 2.0 * t)
    assert as_detail(t[None]).shape == (32, 32)
    with pytest.raises(InvalidInputError, match="all zero"):
        as_detail(torch.zeros(8, 8))
    with pytest.raises(InvalidInputError, match="2-D"):
        as_detail(torch.ones(2, 8, 8))
    with pytest.raises(InvalidInputError, match="NaN"):
        as_detail(torch.full((8, 8), float("nan")))


def test_insert_details_errors():
    dets = default_details("symbols", 64)
    with pytest.raises(InvalidInputError, match="size=32"):
        insert_details(torch.zeros(1, 32, 32), dets)
    with pytest.raises(InvalidInputError, match="one per detail"):
        insert_details(torch.zeros(64, 64), dets, [0.1, 0.2])
    with pytest.raises(InvalidInputError, match=r"\[B, H, W\]"):
        insert_details(torch.zeros(64), dets)
    with pytest.raises(InvalidInputError, match="default_details"):
        insert_details(torch.zeros(64, 64), "symbols")
    with pytest.raises(InvalidInputError, match="floating"):
        insert_details(torch.zeros(64, 64, dtype=torch.int64), dets)
    with pytest.raises(InvalidInputError, match="finite"):
        insert_details(torch.zeros(64, 64), dets, float("inf"))
    with pytest.raises(InvalidInputError, match="at least one"):
        insert_details(torch.zeros(64, 64), [])
