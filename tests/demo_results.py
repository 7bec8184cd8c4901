"""Hand-made results of the three checks, to test the reports (test-only code; not shipped).

``python tests/demo_results.py OUT_DIR`` (with the package importable) writes ``report.html``,
``report.json`` and the artifact folders of three synthetic checks (one failing worst case, one failing detail
recovery, one passing more-samples check) into ``OUT_DIR``. The numbers are made up but
consistent (artifacts computed from the images shown); no network is run.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

from pytest_invstab.result import HIGHER_IS_BETTER, LOWER_IS_BETTER, CheckResult


def _phantom(size: int) -> torch.Tensor:
    """A small Shepp-Logan-like phantom ``[size, size]`` in [0, 1] (ellipses, not the exact table)."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    img = torch.zeros(size, size)
    for cx, cy, a, b, v in [(0, 0, 0.69, 0.92, 1.0), (0, -0.02, 0.62, 0.87, -0.7), (0.22, 0, 0.11, 0.31, -0.2),
                            (-0.22, 0, 0.16, 0.41, -0.2), (0, 0.35, 0.21, 0.25, 0.25), (0, -0.6, 0.05, 0.05, 0.3)]:
        img += v * ((((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2) <= 1).float()
    return img.clamp(0, 1)


def demo_results(size: int = 64, seed: int = 0) -> list[CheckResult]:
    """Three ``CheckResult``s (worst_case failed, detail_recovery failed, more_samples passed)."""
    g = torch.Generator().manual_seed(seed)
    x = _phantom(size)
    xn = float(x.norm())
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    # worst case: a tiny smooth r, a network that hallucinates a stripe, a CS baseline that does not.
    r = torch.nn.functional.avg_pool2d(torch.randn(1, 1, size, size, generator=g), 5, 1, 2)[0, 0]
    r = r * (0.01 * xn / float(r.norm()))
    stripe = 0.35 * torch.exp(-(((xx - size * 0.6) / (size * 0.04)) ** 2)) * (x > 0.1)
    f_clean = x.clone()
    f_pert = x + stripe
    cs_clean = x * 0.97
    cs_pert = cs_clean + 0.6 * r
    artifact = float((f_pert - f_clean).norm()) / xn
    cs_artifact = float((cs_pert - cs_clean).norm()) / xn
    worst = CheckResult(
        check="worst_case",
        passed=artifact <= 0.1,
        message=(f"worst-case artifact {artifact:.3f} > max_artifact 0.10 with a perturbation of "
                 f"eps = 0.010 (CS baseline: {cs_artifact:.4f})"),
        metrics={"artifact": artifact, "eps": 0.01, "artifact_r1": artifact * 0.4, "psnr_clean": 31.2},
        key_metric="artifact",
        thresholds={"max_artifact": 0.1, "eps": 0.01},
        baseline={"artifact": cs_artifact, "psnr_clean": 29.4},
        better={"artifact": LOWER_IS_BETTER, "artifact_r1": LOWER_IS_BETTER, "psnr_clean": HIGHER_IS_BETTER},
        seed=seed,
        settings={"domain": "image", "method": "budgeted", "steps": 200, "restarts": 2},
        timings={"search_s": 3.2, "total_s": 4.1},
        per_image=[{"index": 0.0, "artifact": artifact}, {"index": 1.0, "artifact": artifact * 0.5}],
        panel=[
            [("x", x), ("x + r", x + r), ("r x20", r * 20)],
            [("f(Ax)", f_clean), ("f(A(x + r))", f_pert), ("f(A(x+r)) − f(Ax)", f_pert - f_clean)],
            [("CS(Ax)", cs_clean), ("CS(A(x + r))", cs_pert), ("CS(A(x+r)) − CS(Ax)", cs_pert - cs_clean)],
        ],
        arrays={"x": x[None], "r": r[None], "f_clean": f_clean[None], "f_perturbed": f_pert[None]},
        model="UNet(depth=3) <script>alert(1)</script>",
        operator={"type": "FourierOperator", "modality": "mri", "image_shape": [size, size],
                  "measurement_shape": [int(size * size * 0.33)], "rate": 0.33, "pattern": "cartesian",
                  "device": "cpu", "dtype": "float32"},
    )
    # detail recovery: a cross and a square; the network blurs them away, CS keeps them.
    detail = torch.zeros(size, size)
    c = size // 2
    detail[c - 6:c + 6, c - 1:c + 1] = 0.5
    detail[c - 1:c + 1, c - 6:c + 6] = 0.5
    detail[size // 5:size // 5 + 5, size // 2 - 12:size // 2 - 7] = 0.5
    xd = (x + detail).clamp(0, 1.5)
    f_d = x + 0.3 * detail
    cs_d = x * 0.97 + 0.9 * detail
    details = CheckResult(
        check="detail_recovery",
        passed=False,
        message="detail recovery 0.30 < min_recovery 0.80 (CS baseline recovers 0.90): the network removes details",
        metrics={"recovery": 0.3, "recovery_symbols": 0.3, "psnr": 27.5},
        key_metric="recovery",
        thresholds={"recovery": 0.8},  # stored under the metric's name, as the check does
        baseline={"recovery": 0.9, "psnr": 28.1},
        better={"recovery": HIGHER_IS_BETTER, "recovery_symbols": HIGHER_IS_BETTER, "psnr": HIGHER_IS_BETTER},
        seed=seed,
        settings={"details": "symbols", "intensity": 0.5},
        timings={"total_s": 1.3},
        panel=[[("x + detail", xd), ("f(A(x + detail))", f_d), ("CS(A(x + detail))", cs_d),
                ("detail", detail)]],
        arrays={"x_detail": xd[None], "detail": detail[None]},
        model="UNet(depth=3)",
        operator=worst.operator,
    )
    rates = [0.1, 0.15, 0.2, 0.25, 0.33, 0.4, 0.5]
    net = [24.1, 26.9, 28.6, 29.5, 30.2, 30.0, 29.9]
    cs = [21.0, 23.2, 25.1, 26.8, 28.9, 30.6, 32.8]
    drop = max(max(net[:i + 1]) - net[i] for i in range(len(net)))
    samples = CheckResult(
        check="more_samples",
        passed=drop <= 1.0,
        message=f"PSNR drops by at most {drop:.2f} dB as the rate grows (tolerance 1.00 dB)",
        metrics={"max_drop_db": drop, "gain_db": net[-1] - net[4], "psnr_at_trained": net[4]},
        key_metric="max_drop_db",
        thresholds={"max_drop_db": 1.0},
        baseline={"max_drop_db": 0.0, "gain_db": cs[-1] - cs[4]},
        better={"max_drop_db": LOWER_IS_BETTER, "gain_db": HIGHER_IS_BETTER, "psnr_at_trained": HIGHER_IS_BETTER},
        seed=seed,
        settings={"rates": rates, "trained_rate": 0.33},
        timings={"total_s": 2.2},
        curves={"x": rates, "xlabel": "sampling rate", "ylabel": "PSNR (dB)",
                "series": {"network": net, "CS baseline": cs}, "vline": 0.33, "vline_label": "trained rate"},
        arrays={"psnr": torch.tensor([net, cs])},
        model="UNet(depth=3)",
        operator=worst.operator,
    )
    assert math.isfinite(artifact)
    return [worst, details, samples]


DEMO_NODEIDS = [
    "tests/test_stability.py::test_mri_net_is_stable[unet-0.01]",
    "tests/test_stability.py::TestDetails::test_symbols_survive[unet]",
    "tests/test_stability.py::test_more_samples_do_not_hurt",
]


def main(argv: list[str] | None = None) -> int:
    import time

    from pytest_invstab.report import build_meta, save_and_record, write_html, write_json

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "invstab-demo")
    started = time.time()
    records = [save_and_record(n, r, out / "results", mode="all") for n, r in zip(DEMO_NODEIDS, demo_results(96))]
    meta = build_meta(started, time.time(), {"invstab_budget": "standard", "invstab_save": "all"})
    write_json(out / "report.json", records, meta)
    write_html(out / "report.html", records, meta)
    print(out / "report.html")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
