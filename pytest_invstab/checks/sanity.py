"""The sanity gate: no stability verdict on a miswired network (DESIGN.md §6).

Before a check judges anything it compares the network's clean reconstruction ``f(Ax)`` with
the operator's direct reconstruction ``op.direct(Ax)`` (zero-filled for Fourier, FBP for Radon)
and, when the check uses one, the baseline's clean reconstruction. PSNR (dB, peak = max|x| of
each reference image, magnitudes for complex images) is averaged over the reference images.

Rule
    The gate stops the check when
    ``psnr_network < min(psnr_direct + sanity_min_gain_db, PERFECT_PSNR_DB)``
    (default ``DEFAULT_MIN_GAIN_DB`` = 1 dB, ``PERFECT_PSNR_DB`` = 40 dB): a network must do at
    least a little better than the direct reconstruction it starts from, on the very data it will
    be judged on; where the direct reconstruction is already (nearly) exact, e.g. fully sampled
    data, 40 dB is enough.

Why 1 dB (measured, mean PSNR over Shepp-Logan and two held-out images): correctly wired
networks gain 3.3 dB (the tiny residual U-Net of tests/test_sanity.py, 32 x 32, 150 steps, on its
own column mask; 4.7 dB after 300 steps) and 5.5 / 8.0 / 14.2 dB (the example project's DAGAN-like
U-Net, Ell-50-like U-Net and cascade) over the direct reconstruction. Miswired ones gain nothing or
lose: the tiny column-trained U-Net on the row mask -2.5 dB (-0.3 dB after 300 steps), the example
DAGAN-like U-Net (trained on rows) on columns -0.1 dB, the tiny U-Net without its instance
normalisation -4.4 dB; fastMRI's U-Net without it (issue 10) -18 dB.

A failing gate raises :class:`~pytest_invstab.errors.MiswiredNetworkError` (one message with
the measured numbers and the likely causes); the plugin reports it as a failed test, never as a
stability verdict. ``sanity=False`` switches the gate off (for a reconstructor that is meant to
be no better than the direct one, such as the direct reconstruction itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import MiswiredNetworkError
from ..metrics import psnr
from ..operators.base import LinearOperator
from . import _common as C

#: Default ``sanity_min_gain_db`` (dB): least mean PSNR gain of the network over the direct reconstruction.
DEFAULT_MIN_GAIN_DB = 1.0
#: A mean PSNR (dB) at which a reconstruction passes the gate whatever the direct one reaches.
PERFECT_PSNR_DB = 40.0

#: What usually wires a network wrongly, named in the error.
LIKELY_CAUSES = (
    "input normalisation (a network trained on normalised inputs, e.g. fastMRI's normalize_instance, "
    "applied to raw ones: pass normalize=... or wrap the network)",
    "data layout (complex as two channels vs magnitude, [B, 1, H, W] vs [B, H, W], fastMRI [..., 2])",
    "mask orientation (trained on columns, tested on rows: FourierOperator(orientation='columns' | 'rows'))",
    "wrong operator or sampling rate (the operator fixture is not the one the network was trained for)",
)


@dataclass(frozen=True)
class SanityResult:
    """The gate's measurements; ``net_clean`` / ``base_clean`` ``[B, *op.image_shape]`` for reuse."""

    psnr_network: float
    psnr_direct: float
    psnr_baseline: float | None
    min_gain_db: float
    net_clean: torch.Tensor | None = None
    base_clean: torch.Tensor | None = None

    def settings(self) -> dict[str, Any]:
        """What the report shows under ``settings['sanity']``."""
        return {"psnr_network": self.psnr_network, "psnr_direct": self.psnr_direct,
                "psnr_baseline": self.psnr_baseline, "min_gain_db": self.min_gain_db,
                "rule": f"psnr_network >= min(psnr_direct + min_gain_db, {PERFECT_PSNR_DB:g}) (mean PSNR over images, dB)"}


def direct_label(op: LinearOperator) -> str:
    """'zero-filled' for Fourier, 'FBP' for Radon, else 'direct'."""
    return {"mri": "zero-filled", "ct": "FBP"}.get(str(getattr(op, "modality", "")), "direct")


def sanity_gate(
    check: str,
    f: Any,
    op: LinearOperator,
    x: torch.Tensor,
    base: Any = None,
    *,
    min_gain_db: float = DEFAULT_MIN_GAIN_DB,
    net_clean: torch.Tensor | None = None,
    base_clean: torch.Tensor | None = None,
) -> SanityResult:
    """Measure ``f(Ax)``, ``op.direct(Ax)`` (and ``base(Ax)``) against ``x``; raise when the network is miswired.

    ``net_clean`` / ``base_clean``: reconstructions a check already has (not recomputed). The
    returned result carries both so the check can reuse them. Raises ``MiswiredNetworkError``
    when the mean network PSNR is below the direct reconstruction's plus ``min_gain_db`` (dB).
    """
    __tracebackhide__ = True
    with torch.no_grad():
        y = op(x)
        direct = op.direct(y)
    if net_clean is None:
        net_clean = C.run_reconstructor(f, y, op)
    if base is not None and base_clean is None:
        base_clean = C.run_baseline(base, y, op)
    p_net = float(psnr(net_clean, x).double().mean())
    p_dir = float(psnr(direct, x).double().mean())
    p_base = None if base_clean is None else float(psnr(base_clean, x).double().mean())
    result = SanityResult(p_net, p_dir, p_base, float(min_gain_db), net_clean, base_clean)
    if not p_net >= min(p_dir + min_gain_db, PERFECT_PSNR_DB):  # NaN stops too
        raise MiswiredNetworkError(_message(check, op, result, x.shape[0], C.baseline_label(base)))
    return result


def _message(check: str, op: LinearOperator, r: SanityResult, n: int, base_name: str) -> str:
    label = direct_label(op)
    base = "" if r.psnr_baseline is None else f", {base_name} {r.psnr_baseline:.1f} dB"
    causes = "; ".join(f"({i + 1}) {c}" for i, c in enumerate(LIKELY_CAUSES))
    return (
        f"no {check} verdict: the network looks miswired. On the clean measurements its reconstruction has "
        f"PSNR {r.psnr_network:.1f} dB, the {label} reconstruction {r.psnr_direct:.1f} dB{base} (mean over {n} "
        f"image{'s' if n != 1 else ''}); the sanity gate needs the network at least {r.min_gain_db:g} dB above "
        f"{label} (sanity_min_gain_db; or {PERFECT_PSNR_DB:g} dB). Likely causes: {causes}. If the reconstructor is meant to be no better "
        f"than {label}, pass sanity=False"
    )


__all__ = ["DEFAULT_MIN_GAIN_DB", "LIKELY_CAUSES", "PERFECT_PSNR_DB", "SanityResult", "direct_label", "sanity_gate"]
