"""Every performance figure of the project, each as a ratio against a named reference.

    python benchmarks/run_all.py [--quick] [--skip-suite]

Runs, one after the other so that they do not compete for the cores:

1. ``bench_operators.py``: Radon forward + adjoint against scikit-image's radon / iradon, and
   the adjoint exactness of both pairs;
2. ``bench_cs.py``: FISTA l1-wavelet time per iteration over its floor (one forward + adjoint +
   wavelet analysis + synthesis), and the CS baselines' PSNR on Shepp-Logan;
3. ``bench_attack.py``: attack time per step over one forward + backward of f∘A, and the
   paper's search against the budgeted search at equal ||r|| and network evaluations;
4. ``bench_adapters.py``: an attack step through ``from_deepinv`` (a ``(y, physics)`` model on
   deepinv's MRI physics) over one through a native operator, same network (goal <= 1.1);
5. ``bench_worst_case.py``: hidden instabilities, paper vs default, robustness curves against TV's
   own worst case, region targeting, erasure sizes (issue 13);
6. the example project's stability suite: wall time plain and with ``-n 2`` (the speed-up).

Timings on a shared machine are noisy: each script reports medians over repeats, and ratios
are taken within one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(title: str, cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    print(f"\n=== {title}: {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    ap.add_argument("--skip-suite", action="store_true", help="do not time the example suite")
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    py = sys.executable
    bench = ROOT / "benchmarks"
    repeats = ["--repeats", "2"] if args.quick else []
    run("operators", [py, str(bench / "bench_operators.py"), *repeats], ROOT, env)
    run("CS baselines", [py, str(bench / "bench_cs.py"), *(["--runs", "2"] if args.quick else [])], ROOT, env)
    run("attacks", [py, str(bench / "bench_attack.py"), *(["--quick"] if args.quick else [])], ROOT, env)
    run("adapters", [py, str(bench / "bench_adapters.py"), *(["--repeats", "2"] if args.quick else [])], ROOT, env)
    run("worst case", [py, str(bench / "bench_worst_case.py"), *(["--parts", "1,4"] if args.quick else [])], ROOT, env)
    if args.skip_suite:
        return
    suite_env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    quiet = ["-q", "-p", "no:cacheprovider"]
    plain = run("example suite, one process", [py, "-m", "pytest", *quiet], ROOT / "example_project", suite_env)
    xdist = run("example suite, -n 2", [py, "-m", "pytest", "-n", "2", *quiet], ROOT / "example_project",
                {**suite_env, "OMP_NUM_THREADS": "1"})
    print(f"\nexample suite wall time: {plain:.1f} s plain, {xdist:.1f} s with -n 2 "
          f"(speed-up {plain / xdist:.2f}x; reference: the plain run; goal < 300 s)")


if __name__ == "__main__":
    main()
