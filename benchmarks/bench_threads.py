"""Threads per process: a worst_case check in two concurrent processes (as under ``pytest -n 2``).

Each round starts two processes at once, both running the same worst_case check (the example
``deepmri`` network at its size, 128 x 128, quick budget, default TV baseline), in one of three thread modes:

* ``plugin``: the plugin's automatic choice for a worker of 2 (``threads.choose('auto', 2)``,
  ``OMP_NUM_THREADS`` unset): cores // 2;
* ``one``: one thread each, forced (``torch.set_num_threads(1)``): the reference;
* ``torch``: torch's own default (one thread per core each), what the plugin did before.

The wall time of a round is the slower of its two processes' check times. Modes are interleaved
over the repeats; the figure is the median of ``plugin / one`` over rounds (goal <= 1.1).

Run: ``python benchmarks/bench_threads.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = ("plugin", "one", "torch")


def child(mode: str) -> None:
    import torch

    from pytest_invstab.threads import AUTO, ThreadSetting, choose

    if mode == "plugin":
        ThreadSetting(choose(AUTO, 2)).apply(force_import=True)
    elif mode == "one":
        torch.set_num_threads(1)
    from example_project.recon_nets import zoo
    from pytest_invstab.checks.worst_case import worst_case
    from pytest_invstab.images import shepp_logan

    net = zoo.load_network("deepmri")
    op = zoo.make_operator("deepmri")
    n = op.image_shape[0]  # the example networks' size (128 since they were retrained)
    x = torch.stack([shepp_logan(n), shepp_logan(n).flip(-1)]).float()
    worst_case(net, op, x[:1], budget="quick", seed=0)  # warm-up (lazy imports, first allocations)
    t0 = time.perf_counter()
    worst_case(net, op, x, budget="quick", seed=0)
    print(json.dumps({"mode": mode, "threads": torch.get_num_threads(), "seconds": time.perf_counter() - t0}))


def one_round(mode: str) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, __file__, "--child", mode]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return max(o["seconds"] for o in outs), outs[0]["threads"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", choices=MODES)
    ap.add_argument("--modes", default="plugin,one,torch", help="comma-separated subset of plugin,one,torch")
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    modes = args.modes.split(",")
    times: dict[str, list[float]] = {m: [] for m in modes}
    threads: dict[str, int] = {}
    for _ in range(args.repeats):
        for m in modes:  # interleaved, so that a change of machine load hits every mode alike
            t, n = one_round(m)
            times[m].append(t)
            threads[m] = n
    for m in modes:
        print(f"  {m:6s}: {threads[m]} thread(s) per process, round wall times "
              + ", ".join(f"{t:.2f}" for t in times[m]) + " s")
    rounds = list(zip(*(times[m] for m in modes)))
    if "plugin" in modes and "one" in modes:
        ratio = statistics.median(r[modes.index("plugin")] / r[modes.index("one")] for r in rounds)
        print(f"worst_case in 2 concurrent processes, plugin's default threads / one thread each: "
              f"{ratio:.2f} (median over {len(rounds)} interleaved rounds; goal <= 1.1)")
    if "torch" in modes and "one" in modes:
        ratio = statistics.median(r[modes.index("torch")] / r[modes.index("one")] for r in rounds)
        print(f"  for reference, torch's default threads / one thread each: {ratio:.2f}")


if __name__ == "__main__":
    main()
