"""The CS baseline's share of detail_recovery and more_samples, on the example networks' data.

For each example network (``ell50``: Radon 50 angles; ``deepmri``: Cartesian 33 %; ``dagan``:
Cartesian 20 %; ``vn``: 8 coils, 15 %; 128 x 128, the example suite's reference images) runs the check with the suite's baseline (``CSBaseline("tv")``) and prints
``baseline_s / total_s`` from the CheckResult's timings (goal <= 50 %; issue 12 measured 91-96 %).

``cold``: the baseline cache is emptied before the check (the worst case: nothing solved
before). The median over ``--repeats`` interleaved runs is printed.

Run: ``python benchmarks/bench_checks.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from example_project.conftest import _images  # noqa: E402  (the suite's own reference images)
from example_project.recon_nets import zoo  # noqa: E402
from pytest_invstab.baselines import CSBaseline, cache  # noqa: E402
from pytest_invstab.checks.detail_recovery import detail_recovery  # noqa: E402
from pytest_invstab.checks.more_samples import more_samples  # noqa: E402


def run(check: str, name: str) -> tuple[float, float]:
    net, op, x = zoo.load_network(name), zoo.make_operator(name), _images(name).clone()
    cache.clear()
    if check == "detail_recovery":
        r = detail_recovery(net, op, x, details="symbols", intensity=0.25, min_recovery=0.1,
                            baseline_margin=0.2, baseline=CSBaseline("tv"))
    else:
        r = more_samples(net, op, x, tolerance_db=1.0, require_gain_db=3.0, baseline=CSBaseline("tv"),
                         trained_rate=zoo.trained_rate(name))
    return r.timings["baseline_s"], r.timings["total_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cases = [(c, n) for c in ("detail_recovery", "more_samples") for n in zoo.NAMES]
    for c, n in cases:
        run(c, n)  # warm-up: loads, Radon matrices, first allocations
    shares: dict[tuple[str, str], list[float]] = {k: [] for k in cases}
    totals: dict[tuple[str, str], list[float]] = {k: [] for k in cases}
    bases: dict[tuple[str, str], list[float]] = {k: [] for k in cases}
    for _ in range(args.repeats):
        for k in cases:
            b, t = run(*k)
            shares[k].append(b / t)
            totals[k].append(t)
            bases[k].append(b)
    print(f"baseline share of the check's time (cold cache, {torch.get_num_threads()} thread(s), "
          f"median of {args.repeats}; goal <= 50 %)")
    for c, n in cases:
        print(f"  {c:16s} {n:8s} {100 * statistics.median(shares[(c, n)]):5.1f} %   "
              f"(check {statistics.median(totals[(c, n)]):.2f} s, baseline {statistics.median(bases[(c, n)]):.2f} s)")
    worst = max(statistics.median(v) for v in shares.values())
    print(f"largest baseline share: {100 * worst:.1f} %")


if __name__ == "__main__":
    main()
