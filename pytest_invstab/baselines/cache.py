"""A per-process (per test session / xdist worker) cache of CS-baseline solutions, per image.

Several checks solve the same clean problem: worst_case, detail_recovery and more_samples on the
same images and operator each needed the baseline's clean reconstruction. Entries are keyed by

* the method: ``repr(CSBaseline)`` (method, λ, iteration cap, tolerance, wavelet, levels);
* the operator: its class, ``describe()`` and a SHA-1 of every dense tensor it holds (mask,
  sample indices, phases, angles, coil maps; sparse matrices follow from the description);
* the content of the measurements: a SHA-1 of the image's row of ``y`` (and of its warm start).

Only ``CSBaseline`` and operators of this package are cached: both are deterministic and
stateless, and ``CSBaseline`` stops each image on its own change, so a cached image equals the
same image solved in any batch (up to float rounding). A user's callable or operator is never
cached. The cache is bounded by bytes (least recently used entries go first).
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections import OrderedDict
from typing import Any

import torch

from .cs import CSBaseline

#: Bytes of cached images kept at most (about 2000 complex 64x64 images, 250 at 128x128).
MAX_BYTES = 64 * 2**20

_ENTRIES: "OrderedDict[tuple, torch.Tensor]" = OrderedDict()
_OP_KEYS: dict[int, tuple[Any, str]] = {}  # id(op) -> (weak reference to op, key): hash an operator once


def cacheable(baseline: Any, op: Any) -> bool:
    """Whether solutions of ``baseline`` on ``op`` may be cached (this package's solver and operators)."""
    return type(baseline) is CSBaseline and type(op).__module__.startswith("pytest_invstab.operators")


def _digest(t: torch.Tensor) -> str:
    t = t.detach().cpu().contiguous()
    if t.is_complex():
        t = torch.view_as_real(t)
    return hashlib.sha1(t.numpy().tobytes()).hexdigest() + str(tuple(t.shape)) + str(t.dtype)


def operator_key(op: Any) -> str:
    """Class, description and dense tensor contents of an operator of this package."""
    cached = _OP_KEYS.get(id(op))
    if cached is not None and cached[0]() is op:
        return cached[1]
    h = hashlib.sha1(type(op).__qualname__.encode())
    h.update(json.dumps(op.describe(), sort_keys=True, default=str).encode())
    for name in sorted(vars(op)):
        value = vars(op)[name]
        if isinstance(value, torch.Tensor) and value.layout == torch.strided:
            h.update(name.encode() + _digest(value).encode())
    key = h.hexdigest()
    if len(_OP_KEYS) > 256:
        _OP_KEYS.clear()
    _OP_KEYS[id(op)] = (weakref.ref(op), key)  # the weak reference tells a reused id apart
    return key


def row_keys(baseline: CSBaseline, op: Any, y: torch.Tensor, x0: torch.Tensor | None,
             p0: torch.Tensor | None = None) -> list[tuple]:
    """One key per row of ``y`` (with its warm start, if any: the image ``x0``, the TV dual ``p0``)."""
    head = (repr(baseline), operator_key(op))
    keys = [(*head, _digest(y[i]), None if x0 is None else _digest(x0[i])) for i in range(y.shape[0])]
    return keys if p0 is None else [(*k, _digest(p0[i])) for i, k in enumerate(keys)]


def get(key: tuple) -> torch.Tensor | None:
    value = _ENTRIES.get(key)
    if value is not None:
        _ENTRIES.move_to_end(key)
    return value


def put(key: tuple, value: torch.Tensor) -> None:
    _ENTRIES[key] = value.detach()
    _ENTRIES.move_to_end(key)
    total = sum(v.numel() * v.element_size() for v in _ENTRIES.values())
    while len(_ENTRIES) > 1 and total > MAX_BYTES:
        _, old = _ENTRIES.popitem(last=False)
        total -= old.numel() * old.element_size()


def clear() -> None:
    """Forget every cached solution (tests and benchmarks time cold solves)."""
    _ENTRIES.clear()
    _OP_KEYS.clear()


def stats() -> dict[str, int]:
    return {"entries": len(_ENTRIES)}


__all__ = ["MAX_BYTES", "cacheable", "clear", "get", "operator_key", "put", "row_keys", "stats"]
