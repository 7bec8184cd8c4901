"""Words of the HTML report: what each check means, the default baseline's one name, escaping, operators."""

from __future__ import annotations

import html
import math
from typing import Any, Mapping

from .records import is_number

#: The one name of the default baseline (``CSBaseline()``), used by every report and the README.
DEFAULT_BASELINE = "TV (Chambolle–Pock) CS baseline"

CHECK_HELP: dict[str, tuple[str, str]] = {
    "worst_case": (
        "Tiny worst-case perturbations",
        "Searches for a perturbation r of the image (or of the measurements) with ||r|| ≤ eps·||x|| that "
        "changes the reconstruction as much as possible. <b>artifact</b> = ||f(A(x+r)) − f(Ax)|| / ||x|| "
        "(dimensionless: 0.1 means a change of 10 % of the image's norm); <b>eps</b> = ||r|| / ||x||, the "
        "perturbation size. The same r is given to a stable compressed-sensing (CS) baseline: a small "
        "baseline artifact shows that the instability belongs to the network, not to the problem. "
        "Fails when artifact &gt; max_artifact.",
    ),
    "detail_recovery": (
        "Small structural changes",
        "Inserts clearly visible details (card symbols, text) into the image and measures how much of each "
        "detail the reconstruction shows. <b>recovery</b>: 1 = the detail is reconstructed perfectly, "
        "0 = it has vanished. The CS baseline sees the same data. Fails when recovery &lt; min_recovery "
        "(and, where a margin is set, when the network is worse than the baseline by more than it).",
    ),
    "detail_erasure": (
        "Details erased by tiny perturbations",
        "Inserts the details, then bisects the smallest perturbation size ||r|| / ||x + d|| whose worst case "
        "makes a detail's recovery fall below min_recovery (the paper's Fig. 3: a tiny perturbation washes a "
        "structure out). <b>erase_eps</b>: that size for the network, <b>baseline_erase_eps</b> for the CS "
        "baseline; higher is better. Fails when erase_eps &lt; min_eps.",
    ),
    "more_samples": (
        "More samples",
        "Reconstructs at growing sampling rates (nested masks: a larger rate keeps every sample of a smaller "
        "one). A stable method improves with more data; <b>PSNR</b> is in dB, <b>max_drop_db</b> is the "
        "largest fall of PSNR (dB) as the rate grows. The dashed line marks the rate the network was "
        "trained for. Fails when max_drop_db &gt; tolerance_db.",
    ),
}


def esc(value: Any) -> str:
    """``html.escape`` of ``str(value)``, quotes included (safe in text and attributes)."""
    return html.escape(str(value), quote=True)


def summarise_angles(angles: Any) -> str:
    """``"12 angles, 0–165°"`` from a list of angles in radians."""
    if not isinstance(angles, (list, tuple)) or not angles or not all(is_number(a) for a in angles):
        return ""
    deg = [math.degrees(float(a)) for a in angles]
    return f"{len(deg)} angles, {min(deg):.0f}–{max(deg):.0f}°"


def describe_operator(op: Mapping[str, Any]) -> str:
    """One short line: type, image size, rate (angle count and range for Radon), pattern, coils."""
    if not op:
        return "unknown operator"
    parts = [str(op.get("type", "operator"))]
    shape = op.get("image_shape")
    if isinstance(shape, (list, tuple)) and shape:
        parts.append("image " + "×".join(str(s) for s in shape))
    angles = summarise_angles(op.get("angles"))
    if angles:
        parts.append(angles)
    elif is_number(op.get("n_angles")):
        parts.append(f"{int(op['n_angles'])} angles")
    if is_number(op.get("rate")):
        parts.append(f"rate {float(op['rate']):.3g}")
    for k in ("pattern", "coils", "dtype", "device"):
        if k in op and op[k] not in (None, ""):
            parts.append(f"{k} {op[k]}")
    return ", ".join(parts)


def explanations(checks: list[str]) -> str:
    """The "How to read this report" box (folded) for the checks present."""
    items = []
    for c in checks:
        if c in CHECK_HELP:
            title, text = CHECK_HELP[c]
            # CHECK_HELP is our own trusted markup (bold units); record text is never inserted here.
            items.append(f"<dt><code>{esc(c)}</code> — {esc(title)}</dt><dd>{text}</dd>")
    items.append(
        f"<dt>CS baseline</dt><dd>By default the {esc(DEFAULT_BASELINE)}: total-variation compressed sensing on "
        "exactly the same data (a test may name another baseline). It is stable by construction, so it shows "
        "what a stable method does on the same problem.</dd>"
    )
    items.append(
        "<dt>Verdicts</dt><dd><b>failed</b>: the check failed and pytest failed the test; <b>expected</b>: the "
        "check failed in a test marked <code>xfail</code> (a known, documented instability; pytest reports it "
        "as xfailed); <b>passed</b>: within every limit.</dd>"
    )
    items.append(
        "<dt>Seed</dt><dd>Every random choice comes from the seed shown with each check; the same seed and "
        "versions reproduce the same numbers.</dd>"
    )
    return ('<details class="explain"><summary>How to read this report</summary><p>These checks follow Antun '
            "et al., “On instabilities of deep learning in image reconstruction and the potential costs of AI”, "
            "PNAS 117(48), 2020.</p><dl>" + "".join(items) + "</dl></details>")


__all__ = ["CHECK_HELP", "DEFAULT_BASELINE", "describe_operator", "esc", "explanations", "summarise_angles"]
