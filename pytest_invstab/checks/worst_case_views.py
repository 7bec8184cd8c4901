"""What a ``worst_case`` result keeps to draw and reproduce its shown case: images and arrays.

``images`` are the worst image's views for ``report.layouts.worst_case_rows`` (perturbations in
the image domain: ``r`` itself or ``A* e``); ``arrays`` what ``arrays.npz`` keeps.
"""

from __future__ import annotations

from typing import Any

import torch


def arrays(a: Any, run: Any) -> dict[str, torch.Tensor]:
    """What ``arrays.npz`` keeps to reproduce the case (``r`` or ``e``, and ``r1``.. for the paper)."""
    key, att = ("r" if a.domain == "image" else "e"), run.att
    arrays = {"x": a.x.detach().cpu(), key: att.perturbation.detach().cpu(), "f_clean": att.clean.detach().cpu(),
              "f_perturbed": att.perturbed.detach().cpu(), "artifact": att.artifact.detach().cpu(),
              "seed": torch.tensor([a.seed])}
    if run.paper is not None:
        for j, pj in enumerate(run.paper.perturbations, 1):
            arrays[f"{key}{j}"] = pj.detach().cpu()
    return arrays


def images(a: Any, run: Any) -> dict[str, torch.Tensor]:
    """The worst image's views for ``report.layouts.worst_case_rows`` (perturbations in the image domain)."""
    i, att = run.i, run.att
    images = {"x": a.x[i], "shown": _image_view(a, att.perturbation, i), "f_clean": att.clean[i],
              "f_perturbed": att.perturbed[i]}
    if run.base_clean is not None and run.base_pert is not None:
        images.update(baseline_clean=run.base_clean[i], baseline_perturbed=run.base_pert[i])
    if run.paper is not None:
        for j, (pj, oj) in enumerate(zip(run.paper.perturbations, run.paper.outputs), 1):
            images.update({f"shown{j}": _image_view(a, pj, i), f"output{j}": oj[i]})
    return {k: v.detach().cpu() for k, v in images.items()}


def _image_view(a: Any, p: torch.Tensor, i: int) -> torch.Tensor:
    """Image ``i`` of a perturbation as seen in the image: ``r`` itself, or ``A* e``."""
    with torch.no_grad():
        return p[i] if a.domain == "image" else a.op.adjoint(p[i : i + 1])[0]


__all__ = ["arrays", "images"]
