"""Batched tensor helpers shared by attacks, baselines, metrics and checks.

Every function takes tensors with a leading batch dimension ``[B, ...]`` and returns one value
per batch element, ``[B]``. Complex tensors are treated as real vectors of twice the length
(real and imaginary parts), which is what makes ``real_dot`` the inner product whose gradient
ascent and adjoint tests are exact.
"""

from __future__ import annotations

import torch


def batch_norm(t: torch.Tensor) -> torch.Tensor:
    """Euclidean norm per batch element, ``[B]`` (complex: sqrt of sum |z|^2)."""
    return torch.linalg.vector_norm(t.reshape(t.shape[0], -1), dim=1)


def batch_view(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``[B]`` -> ``[B, 1, ..., 1]`` broadcastable against ``like``."""
    return v.reshape(v.shape[0], *([1] * (like.dim() - 1)))


def real_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Real inner product Re<a, b> per batch element, ``[B]``."""
    if a.is_complex():
        a, b = torch.view_as_real(a), torch.view_as_real(b)
    return (a * b).reshape(a.shape[0], -1).sum(1)


def sq_norm(t: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """||t_b||^2 per batch element, accumulated in ``dtype`` if given."""
    t = t.reshape(t.shape[0], -1)
    if t.is_complex():
        t = torch.view_as_real(t).reshape(t.shape[0], -1)
    return t.square().sum(1, dtype=dtype)


def magnitude(t: torch.Tensor) -> torch.Tensor:
    """|t| for complex tensors, ``t`` itself for real ones (what a reader sees)."""
    return t.abs() if t.is_complex() else t


__all__ = ["batch_norm", "batch_view", "magnitude", "real_dot", "sq_norm"]
