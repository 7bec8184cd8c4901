"""How close the TV baseline's default stop lands to the solution, and after how many iterations.

For each problem (the four example networks' operators and reference images, Shepp-Logan 128
under Fourier 33 % cartesian / radial / points and Radon 50 angles, and the 32-px Fourier 50 %
problem of ``tests/test_baseline_speed.py``) prints, per image, the iterations the default stop
ran and the relative distance ``||x - x*|| / ||x*||`` to a long solve ``x*`` (``--ref-iters``).
The TV module's documentation quotes the largest distance printed here.

For single-coil Fourier it also prints the same solve without the ADMM start (``start_iters=0``):
iterations, distance, and its time over the default's.

Run: ``python benchmarks/bench_tv.py [--ref-iters 6000] [--quick] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_invstab.baselines import stopping, tv  # noqa: E402
from pytest_invstab.images import shepp_logan  # noqa: E402
from pytest_invstab.operators import FourierOperator, RadonOperator  # noqa: E402


def problems(quick: bool):
    from example_project.conftest import _images
    from example_project.recon_nets import zoo

    for name in ("dagan", "ell50") if quick else zoo.NAMES:
        op = zoo.make_operator(name)
        yield f"example {name}", op, op(_images(name))
    if quick:
        return
    sl = shepp_logan(128)[None]
    for pattern in ("cartesian", "radial", "points"):
        op = FourierOperator(128, 0.33, pattern=pattern, seed=0)
        yield f"shepp-logan fourier {pattern} 33 %", op, op(sl.to(op.image_dtype))
    op = RadonOperator(128, 50)
    yield "shepp-logan radon 50", op, op(sl)
    op = FourierOperator(32, 0.5, pattern="cartesian", seed=0)
    s = shepp_logan(32)
    yield "32-px fourier 50 % (tests)", op, op(torch.stack([s, s.flip(-1), 0.5 * s.T]).to(op.image_dtype))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref-iters", type=int, default=6000)
    ap.add_argument("--quick", action="store_true", help="two example problems, a 2000-iteration reference")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ref_iters = 2000 if args.quick else args.ref_iters
    ran: list[list[int]] = []
    original = stopping.Stopper.assemble

    def spy(self, x, k):
        ran.append(self.iterations.tolist())
        return original(self, x, k)

    stopping.Stopper.assemble = spy
    print(f"TV default stop (tol {tv.DEFAULT_TOL:g}, cap {tv.DEFAULT_ITERS}, relaxation {tv.RELAXATION}) "
          f"against a {ref_iters}-iteration solve; single-coil Fourier also without the ADMM start "
          f"(start_iters=0; the start's {tv.START_ITERS} iterations are not in 'iterations'); "
          f"times: median of {args.repeats} interleaved")
    worst = 0.0
    for label, op, y in problems(args.quick):
        ref = tv.tv_chambolle_pock(op, y, iters=ref_iters)
        starts = (None, 0) if tv.has_exact_data_prox(op) else (None,)
        times: dict = {s: [] for s in starts}
        for _ in range(args.repeats):
            for s in starts:
                t0 = time.perf_counter()
                out = tv.tv_chambolle_pock(op, y, tol=tv.DEFAULT_TOL, start_iters=s)
                times[s].append(time.perf_counter() - t0)
                if s is None:
                    x, iters = out, ran[-1]
                else:
                    plain, plain_iters = out, ran[-1]
        b = y.shape[0]

        def dist(a):
            return ((a - ref).reshape(b, -1).norm(dim=1) / ref.reshape(b, -1).norm(dim=1)).tolist()

        d = dist(x)
        worst = max(worst, *d)
        print(f"  {label:34s} iterations {iters}  distance {' '.join(f'{v:.1e}' for v in d)}  "
              f"({statistics.median(times[None]):.3f} s)")
        if 0 in times:
            print(f"  {'   without the start':34s} iterations {plain_iters}  distance "
                  f"{' '.join(f'{v:.1e}' for v in dist(plain))}  ({statistics.median(times[0]):.3f} s: "
                  f"{statistics.median(times[0]) / statistics.median(times[None]):.1f}x the time)")
    print(f"largest distance to the long solve: {worst:.1e}")


if __name__ == "__main__":
    main()
