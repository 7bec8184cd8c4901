"""Details of ``detail_recovery``: their placement on the image grid and their scores.

Placement: a user's pattern (or a built-in detail) becomes a ``pytest_invstab.images.Detail``
on the image grid, scaled to a peak |value| of 1. Scores: how well a recovered change matches
the inserted one on the detail's dilated support (intensity and edge similarity); the module
docstring of ``checks.detail_recovery`` defines them.
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from .. import validate as V
from ..errors import InvalidInputError
from ..images import Detail, default_details, insert_details
from ..images.details import SUPPORT_THRESHOLD

#: Pixels by which a detail's support is dilated before scoring (catches smeared details).
SUPPORT_DILATION_PX = 1
#: Gaussian smoothing (pixels) of the edge images used by the edge score (damps pixel noise).
EDGE_SIGMA_PX = 1.0


# -- details --------------------------------------------------------------------------------
def _bbox(support: torch.Tensor) -> tuple[int, int, int, int]:
    ys, xs = torch.nonzero(support, as_tuple=True)
    return int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1


def _place(pattern: torch.Tensor, support: torch.Tensor | None, shape: tuple[int, int], name: str) -> Detail:
    """A ``Detail`` on an image of ``shape``: pattern scaled to peak |value| 1, centred if smaller."""
    h, w = shape
    if pattern.dim() != 2 or pattern.is_complex():
        raise InvalidInputError(
            f"detail {name!r} must be a real 2-D tensor [H, W], got {pattern.dtype} of shape {list(pattern.shape)}"
        )
    ph, pw = pattern.shape
    if ph > h or pw > w:
        raise InvalidInputError(
            f"detail {name!r} has shape [{ph}, {pw}] but the images are [{h}, {w}]; a detail must fit "
            "in the image: crop or resize it (a smaller detail is centred)"
        )
    pattern = pattern.detach().to("cpu", torch.float32)
    if not torch.isfinite(pattern).all():
        raise InvalidInputError(f"detail {name!r} contains NaN or Inf values; pass a finite pattern")
    peak = float(pattern.abs().max())
    if peak == 0:
        raise InvalidInputError(f"detail {name!r} is all zero; pass a pattern with a visible (non-zero) part")
    pattern = pattern / peak
    sup = pattern != 0
    if support is not None:
        support = torch.as_tensor(support).detach().to("cpu").bool()
        if tuple(support.shape) != (ph, pw):
            raise InvalidInputError(
                f"detail {name!r}: support has shape {list(support.shape)} but pattern {[ph, pw]}; make them equal"
            )
        sup = support | (pattern.abs() > SUPPORT_THRESHOLD)
    if (ph, pw) != (h, w):
        top, left = (h - ph) // 2, (w - pw) // 2
        full = torch.zeros((h, w), dtype=pattern.dtype)
        full[top:top + ph, left:left + pw] = pattern
        full_sup = torch.zeros((h, w), dtype=torch.bool)
        full_sup[top:top + ph, left:left + pw] = sup
        pattern, sup = full, full_sup
    return Detail(str(name), pattern, sup, _bbox(sup))


def _clean_name(name: str) -> str:
    """A metric-key-safe name: lower case letters, digits and underscores."""
    text = re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")
    return text or "detail"


def resolve_details(details: Any, shape: tuple[int, int], seed: int = 0) -> list[Detail]:
    """Details from ``"symbols"`` / ``"text"`` / ``"all"``, a tensor ``[h, w]``, a ``Detail``, or a list.

    Returns ``pytest_invstab.images.Detail`` objects on the image grid ``shape`` (pixels), each
    pattern scaled to a peak |value| of 1 (so the check's ``intensity`` is the detail's peak
    amplitude); smaller patterns are centred; names are made unique and metric-key safe.
    Non-square images get the default details of a ``min(H, W)`` square, centred.
    """
    if isinstance(details, str):
        items: Sequence[Any] = default_details(V.detail_kind(details), size=min(shape), seed=seed)
    elif isinstance(details, (torch.Tensor, Detail)):
        items = [details]
    elif isinstance(details, (list, tuple)):
        items = details
        if not items:
            raise InvalidInputError("details is an empty list; pass at least one detail (or details='symbols')")
    else:
        raise InvalidInputError(
            "details must be 'symbols', 'text', 'all', a tensor [H, W] or a list of tensors / Detail, "
            f"got {type(details).__name__}"
        )
    resolved = []
    for i, item in enumerate(items):
        if isinstance(item, torch.Tensor):
            resolved.append(_place(item, None, shape, f"detail{i}"))
        elif isinstance(item, Detail):
            resolved.append(_place(torch.as_tensor(item.pattern), item.support, shape, item.name))
        else:
            raise InvalidInputError(
                f"details[{i}] is a {type(item).__name__}; pass tensors [H, W] or pytest_invstab.images.Detail"
            )
    seen: dict[str, int] = {}
    out = []
    for det in resolved:
        base = _clean_name(det.name)
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base}_{seen[base]}"
        out.append(Detail(name, det.pattern, det.support, det.bbox))
    return out


# -- scoring --------------------------------------------------------------------------------
def dilate(support: torch.Tensor, pixels: int = SUPPORT_DILATION_PX) -> torch.Tensor:
    """Binary dilation of a bool ``[H, W]`` mask by a ``(2 pixels + 1)`` square."""
    if pixels <= 0:
        return support.clone()
    k = 2 * pixels + 1
    out = F.max_pool2d(support[None, None].to(torch.float32), k, stride=1, padding=pixels)
    return out[0, 0] > 0


def insert_per_image(x: torch.Tensor, dets: list[Detail], amp: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """``(x + d, d, regions)``: the details inserted in each image at its own intensity ``amp[b]``,
    and each detail's support dilated by ``SUPPORT_DILATION_PX`` (where it is scored)."""
    parts = [insert_details(x[b:b + 1], dets, float(amp[b])) for b in range(x.shape[0])]
    regions = [dilate(det.support).to(x.device) for det in dets]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]), regions


def _smooth(t: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``[B, H, W]`` (reflected borders)."""
    if sigma <= 0:
        return t
    r = max(1, math.ceil(3 * sigma))
    r = min(r, t.shape[-1] - 1, t.shape[-2] - 1)
    k = torch.arange(-r, r + 1, dtype=t.dtype, device=t.device)
    g = torch.exp(-(k**2) / (2 * sigma**2))
    g = g / g.sum()
    z = F.pad(t[:, None], (r, r, r, r), mode="reflect")
    z = F.conv2d(z, g.view(1, 1, -1, 1))
    return F.conv2d(z, g.view(1, 1, 1, -1))[:, 0]


def _edges(t: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients (forward differences, 0 at the last row/column) of the smoothed images."""
    s = _smooth(t, sigma)
    gx = F.pad(s[..., :, 1:] - s[..., :, :-1], (0, 1))
    gy = F.pad(s[..., 1:, :] - s[..., :-1, :], (0, 0, 0, 1))
    return gx, gy


def _similarity(d: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(correlation, gain, score)`` of rows ``d`` against rows ``t`` (``[B, n]``)."""
    inner = (d * t).sum(1)
    tn = t.norm(dim=1)
    dn = d.norm(dim=1)
    tiny = torch.finfo(d.dtype).tiny
    correlation = torch.where(dn > 0, inner / (dn * tn).clamp_min(tiny), torch.zeros_like(inner))
    gain = inner / (tn**2).clamp_min(tiny)
    # min(|g|, 1/|g|) penalises a washed-out and an exaggerated detail alike; the sign of the
    # correlation (= the sign of g) makes an inverted detail score below 0.
    size = gain.abs().clamp_min(tiny)
    return correlation, gain, correlation * torch.minimum(size, 1 / size)


def detail_scores(delta: torch.Tensor, target: torch.Tensor, region: torch.Tensor,
                  edge_sigma: float = EDGE_SIGMA_PX) -> dict[str, torch.Tensor]:
    """Scores of a recovered change ``delta`` against the inserted change ``target`` on ``region``.

    ``delta``, ``target``: real ``[B, H, W]`` (image units); ``region``: bool ``[H, W]``.
    Returns ``[B]`` float64 tensors (dimensionless): ``correlation``, ``contrast``,
    ``intensity_recovery``, ``edge_correlation``, ``edge_contrast``, ``edge_recovery``,
    ``recovery`` (the smaller of the two recoveries) and ``detail_error``; see the module docstring.
    """
    delta, target = delta.to(torch.float64), target.to(torch.float64)
    d, t = delta[:, region], target[:, region]
    correlation, contrast, intensity = _similarity(d, t)
    dx, dy = _edges(delta, edge_sigma)
    tx, ty = _edges(target, edge_sigma)
    de = torch.cat([dx[:, region], dy[:, region]], 1)
    te = torch.cat([tx[:, region], ty[:, region]], 1)
    e_corr, e_contrast, edge = _similarity(de, te)
    # A detail without edges in the region (it fills the whole image) is judged on intensity alone.
    flat = te.norm(dim=1) == 0
    edge = torch.where(flat, intensity, edge)
    return {
        "correlation": correlation,
        "contrast": contrast,
        "intensity_recovery": intensity,
        "edge_correlation": e_corr,
        "edge_contrast": e_contrast,
        "edge_recovery": edge,
        "recovery": torch.minimum(intensity, edge),
        "detail_error": (d - t).norm(dim=1) / t.norm(dim=1).clamp_min(torch.finfo(d.dtype).tiny),
    }


def _changes(clean: torch.Tensor, perturbed: torch.Tensor, x: torch.Tensor,
             xd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Δ, t)`` real ``[B, H, W]``: magnitudes where the reconstruction is complex."""
    if clean.is_complex() or perturbed.is_complex():
        return perturbed.abs() - clean.abs(), xd.abs() - x.abs()
    target = (xd - x).real if xd.is_complex() else xd - x
    return perturbed - clean, target


def score_all(clean: torch.Tensor, perturbed: torch.Tensor, x: torch.Tensor, xd: torch.Tensor,
               regions: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Scores ``[n_details, B]`` for every detail region."""
    delta, target = _changes(clean, perturbed, x, xd)
    per = [detail_scores(delta, target, r.to(delta.device)) for r in regions]
    return {k: torch.stack([p[k] for p in per]).cpu() for k in per[0]}


__all__ = ["EDGE_SIGMA_PX", "SUPPORT_DILATION_PX", "detail_scores", "dilate", "insert_per_image",
           "resolve_details", "score_all"]
