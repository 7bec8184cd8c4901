"""Every performance figure of the project, each as a ratio against a named reference.

    python benchmarks/run_all.py [--quick] [--skip-suite]

Runs, one after the other so that they do not compete for the cores:

1. ``bench_operators.py``: Radon forward + adjoint against scikit-image's radon / iradon (goal
   >= 20x, one image), the batched product per image, a cold build then a second build from the
   disk cache in a new process (goal < 0.2 s), matrix builds of ``at_rate`` (goal 0), adjoint
   exactness;
2. ``bench_cs.py``: FISTA l1-wavelet time per iteration over its floor (goal <= 1.5), the CS
   baselines' PSNR on Shepp-Logan, and the l1-wavelet default against the best of a λ/wavelet
   sweep (goal: within 0.5 dB);
3. ``bench_checks.py``: the CS baseline's share of detail_recovery and more_samples on the
   example networks' data (goal <= 50 %); ``bench_tv.py``: how close TV's default stop lands to
   the solution, and what its ADMM start saves on single-coil Fourier data;
4. ``bench_threads.py``: a worst_case check in two concurrent processes, the plugin's default
   threads over one thread each (goal <= 1.1);
   ``bench_memory.py``: the TV baseline and a CNN with freed blocks kept for reuse
   (``invstab_malloc = auto``) over the allocator left as is;
5. ``bench_attack.py``: attack time per step over one forward + backward of f∘A;
6. ``bench_adapters.py``: an attack step through ``from_deepinv`` (a ``(y, physics)`` model on
   deepinv's MRI physics) over one through a native operator, same network (goal <= 1.1);
7. ``bench_worst_case.py``: hidden instabilities, paper vs default, robustness curves against TV's
   own worst case, region targeting, erasure sizes;
8. the example project's stability suite: wall time serial and with ``-n 2`` (goal: speed-up >= 1.7),
   with the plugin's own thread choice (``OMP_NUM_THREADS`` unset), and serial with one thread:
   a serial run already uses every core, so ``2 x serial / serial-one-thread`` bounds what
   ``-n 2`` (one thread per worker) can gain.

``--quick`` (under 3 minutes on an idle 2-core machine): Radon at 128 x 128 with 90 angles, two
repeats, the sweep on one problem, one round of the checks, threads and memory (8-coil TV
only), no attack benchmark and no suite. Timings on a shared machine are noisy: each script reports medians over
interleaved repeats, and ratios are taken within one run.
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
    ap.add_argument("--quick", action="store_true", help="a smoke run of every figure, under 3 minutes")
    ap.add_argument("--skip-suite", action="store_true", help="do not time the example suite")
    args = ap.parse_args()
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    py = sys.executable
    bench = ROOT / "benchmarks"
    q = args.quick
    run("operators", [py, str(bench / "bench_operators.py"),
                      *(["--repeats", "2", "--size", "128", "--angles", "90"] if q else [])], ROOT, env)
    run("CS baselines", [py, str(bench / "bench_cs.py"),
                         *(["--runs", "2", "--size", "128", "--skip-psnr", "--sweep", "quick"] if q else [])], ROOT, env)
    run("baseline share", [py, str(bench / "bench_checks.py"), "--repeats", "1" if q else "3"], ROOT, env)
    run("TV stop and start", [py, str(bench / "bench_tv.py"), *(["--quick", "--repeats", "1"] if q else [])], ROOT, env)
    run("threads", [py, str(bench / "bench_threads.py"), "--repeats", "1" if q else "3",
                    *(["--modes", "plugin,one"] if q else [])], ROOT, env)
    run("memory", [py, str(bench / "bench_memory.py"), *(["--repeats", "1", "--cases", "mc128"] if q else [])],
        ROOT, env)
    if not q:
        run("attacks", [py, str(bench / "bench_attack.py")], ROOT, env)
    run("adapters", [py, str(bench / "bench_adapters.py"), *(["--repeats", "2"] if q else [])], ROOT, env)
    run("worst case", [py, str(bench / "bench_worst_case.py"), *(["--parts", "1,4"] if q else [])], ROOT, env)
    if not (args.skip_suite or q):
        suite_env = {k: v for k, v in env.items() if k != "OMP_NUM_THREADS"}  # the plugin chooses
        quiet = ["-q", "-p", "no:cacheprovider"]
        # -n 0: the example's pytest.ini asks for -n 2 itself
        plain = run("example suite, one process", [py, "-m", "pytest", "-n", "0", *quiet], ROOT / "example_project",
                    suite_env)
        xdist = run("example suite, -n 2", [py, "-m", "pytest", "-n", "2", *quiet], ROOT / "example_project",
                    suite_env)
        one = run("example suite, one process, one thread", [py, "-m", "pytest", "-n", "0", "--invstab-threads", "1",
                                                             *quiet], ROOT / "example_project", suite_env)
        print(f"\nexample suite wall time: {plain:.1f} s serial, {xdist:.1f} s with -n 2 "
              f"(speed-up {plain / xdist:.2f}x; goal >= 1.7); serial with one thread {one:.1f} s, so -n 2 "
              f"can gain at most {2 * plain / one:.2f}x")
    print(f"\nrun_all: {time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
