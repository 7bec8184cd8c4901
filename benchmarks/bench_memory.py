"""What keeping freed blocks for reuse (``invstab_malloc = auto``, :mod:`pytest_invstab.memory`) gains.

    python benchmarks/bench_memory.py [--repeats 3] [--threads 1] [--cases mc320 mc320x4 mc128 cnn radon128]

Each measurement runs in a new process (glibc's thresholds are process-wide), once with the
plugin's setting applied and once left as is, interleaved; medians over ``--repeats``:

* TV (``CSBaseline``'s Chambolle-Pock) per iteration on 15-coil Cartesian 15 % data at 320 px
  (fastMRI's multi-coil knee size), 2 images, and on the example's 8-coil data at 128 px, 4 images;
* the same at 320 px with 4 images (blocks of 49 MB) after a freed 30 MB block has taken glibc's
  own thresholds to their ceiling (32 / 64 MiB), as in a long session: blocks above 32 MiB are
  still mapped afresh on every use;
* forward + backward of a 4-layer CNN (32 channels) on 2 images of 320 px;
* TV per iteration on Radon 128 px with 50 angles (sparse products: little to gain);

with each process's kernel (system) time and peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
import torch
from pytest_invstab.memory import MallocSetting, choose
applied = MallocSetting(choose(sys.argv[1])).apply()
torch.set_num_threads(int(sys.argv[3]))
case = sys.argv[2]
from pytest_invstab.baselines import tv
from pytest_invstab.images import shepp_logan
if case == "cnn":
    c = 32
    net = torch.nn.Sequential(torch.nn.Conv2d(2, c, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(c, c, 3, padding=1),
                              torch.nn.ReLU(), torch.nn.Conv2d(c, c, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(c, 2, 3, padding=1))
    x = torch.randn(2, 2, 320, 320, requires_grad=True)
    def step(n):
        for _ in range(n):
            net(x).square().sum().backward()
    per = 1
else:
    from pytest_invstab.operators import MultiCoilFourierOperator, RadonOperator
    if case == "mc320x4":  # as in a long session: a freed 30 MB block took glibc's own thresholds to their ceiling
        torch.ones(7 * 2**20 + 2**19).sum()
    n, b, op = {"mc320": (320, 2, lambda: MultiCoilFourierOperator(320, 0.15, coils=15)),
                "mc320x4": (320, 4, lambda: MultiCoilFourierOperator(320, 0.15, coils=15)),
                "mc128": (128, 4, lambda: MultiCoilFourierOperator(128, 0.15, coils=8)),
                "radon128": (128, 4, lambda: RadonOperator(128, 50))}[case]
    op = op()
    y = op(shepp_logan(n)[None].repeat(b, 1, 1))
    def step(k):
        tv.tv_chambolle_pock(op, y, iters=k)
    per = 1
step(3)
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
count = 10 if case == "cnn" else 40
step(count)
wall = (time.perf_counter() - t0) / count
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"applied": applied, "ms": 1e3 * wall, "sys_ms": 1e3 * (r1.ru_stime - r0.ru_stime) / count,
                  "peak_mb": r1.ru_maxrss / 1024}))
"""

CASES = {"mc320": "TV, 15 coils, 320 px, 2 images: ms per iteration",
         "mc320x4": "TV, 15 coils, 320 px, 4 images, glibc's thresholds at their own ceiling: ms per iteration",
         "mc128": "TV, 8 coils, 128 px, 4 images: ms per iteration",
         "cnn": "CNN forward + backward, 320 px, 2 images: ms",
         "radon128": "TV, Radon 128 px, 50 angles, 4 images: ms per iteration"}


def measure(setting: str, case: str, threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", CHILD, setting, case, str(threads)], env=env, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cases", nargs="*", choices=list(CASES), default=list(CASES))
    args = ap.parse_args()
    print(f"# invstab_malloc = auto against off, {args.threads} thread(s), median of {args.repeats} interleaved runs")
    for case in args.cases:
        label = CASES[case]
        runs: dict[str, list[dict]] = {"auto": [], "off": []}
        for _ in range(args.repeats):
            for setting in runs:
                runs[setting].append(measure(setting, case, args.threads))
        med = {s: {k: statistics.median(r[k] for r in rs) for k in ("ms", "sys_ms", "peak_mb")} for s, rs in runs.items()}
        applied = all(r["applied"] for r in runs["auto"])
        print(f"{label}: auto {med['auto']['ms']:.2f} (kernel {med['auto']['sys_ms']:.2f}, peak "
              f"{med['auto']['peak_mb']:.0f} MB), off {med['off']['ms']:.2f} (kernel {med['off']['sys_ms']:.2f}, "
              f"peak {med['off']['peak_mb']:.0f} MB): {med['off']['ms'] / med['auto']['ms']:.2f} x"
              + ("" if applied else " (not applied on this machine)"))


if __name__ == "__main__":
    main()
