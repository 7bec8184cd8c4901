"""Benchmark of the CS baselines.

1. Cost of one FISTA (l1-wavelet) iteration on a 256 x 256 Fourier problem against its floor,
   the work no implementation can avoid: one ``A``, one ``A*``, one wavelet analysis and one
   synthesis. Printed as a ratio (goal <= 1.5). Per-iteration time is the slope between two
   iteration counts (so set-up and the final synthesis cancel); both are medians of several
   interleaved runs in one process, on one thread.
2. Shepp-Logan 128 PSNRs of the direct reconstruction (zero-filled / FBP), l1-wavelet and TV with
   their default settings, for Fourier 33 % (cartesian, radial, points) and Radon 50 angles, and
   FISTA's last proposed step ||z_k - x_{k-1}|| / ||z_k|| (the convergence criterion, < 1e-4).

Run: ``python benchmarks/bench_cs.py`` (``--skip-psnr`` for the timing alone).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from pytest_invstab.baselines import Wavelet2D, fista_l1_wavelet, tv_chambolle_pock
from pytest_invstab.images import shepp_logan
from pytest_invstab.metrics import psnr
from pytest_invstab.operators import FourierOperator, RadonOperator


def _median_time(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_iteration(size: int, runs: int, iters: tuple[int, int], wavelet: str = "db4") -> None:
    op = FourierOperator(size, 0.33, pattern="cartesian", seed=0)
    x = shepp_logan(size)[None].to(torch.complex64)
    y = op.forward(x)
    w = Wavelet2D((size, size), wavelet)
    op.norm()  # cached power iteration: not part of an iteration

    def floor() -> torch.Tensor:
        return op.forward(w.inverse(w.forward(op.adjoint(y))))

    lo, hi = iters
    floor()
    fista_l1_wavelet(op, y, iters=lo, wavelet=w)  # warm-up
    floors, per_iter = [], []
    for _ in range(runs):  # interleaved, so that a busy machine affects both alike
        floors.append(_median_time(floor, 20))
        t_lo = _median_time(lambda: fista_l1_wavelet(op, y, iters=lo, wavelet=w), 3)
        t_hi = _median_time(lambda: fista_l1_wavelet(op, y, iters=hi, wavelet=w), 3)
        per_iter.append((t_hi - t_lo) / (hi - lo))
    f, p = statistics.median(floors), statistics.median(per_iter)
    print(f"FISTA l1-wavelet, Fourier {size}x{size} cartesian 33 %, {wavelet} {w.levels} levels, batch 1, "
          f"{torch.get_num_threads()} thread(s), median of {runs} runs")
    print(f"  floor (A + A* + analysis + synthesis): {f * 1e3:7.3f} ms")
    print(f"  FISTA per iteration:                   {p * 1e3:7.3f} ms")
    print(f"  ratio per-iteration / floor:           {p / f:7.3f}   (goal <= 1.5)")


def bench_psnr() -> None:
    size = 128
    x = shepp_logan(size)[None]
    problems = [(f"Fourier 33 % {p}", FourierOperator(size, 0.33, pattern=p, seed=0))
                for p in ("cartesian", "radial", "points")]
    problems.append(("Radon 50 angles", RadonOperator(size, 50)))
    print(f"\nShepp-Logan {size}x{size}, noiseless, default λ and iterations (PSNR in dB, peak = max|x|)")
    print(f"  {'problem':<24} {'direct':>7} {'l1-wav':>7} {'TV':>7}   {'FISTA last step':>15}  time l1 / TV (s)")
    for name, op in problems:
        xi = x.to(op.image_dtype)
        y = op.forward(xi)
        direct = float(psnr(op.direct(y), xi))
        t0 = time.perf_counter()
        rec, hist = fista_l1_wavelet(op, y, return_history=True)
        t1 = time.perf_counter()
        rec_tv = tv_chambolle_pock(op, y)
        t2 = time.perf_counter()
        print(f"  {name:<24} {direct:7.2f} {float(psnr(rec, xi)):7.2f} {float(psnr(rec_tv, xi)):7.2f}   "
              f"{float(hist['step'][-1, 0]):15.1e}  {t1 - t0:5.2f} / {t2 - t1:5.2f}")


#: The reference sweep of the l1-wavelet default: orthogonal wavelets x λ factors (λ = f · max|A*y|),
#: default depth, 400 iterations (1500 changes no PSNR by more than 0.1 dB on these problems).
SWEEP_WAVELETS = ("haar", "db2", "db4", "db8")
SWEEP_FACTORS = (1e-4, 1e-3, 1e-2)


def bench_sweep(quick: bool) -> None:
    """The default l1-wavelet (CSBaseline("l1-wavelet")) against the best of the sweep, Shepp-Logan 128."""
    from pytest_invstab.baselines import CSBaseline
    from pytest_invstab.baselines.fista import data_scale

    size = 128
    x = shepp_logan(size)[None]
    patterns = ("cartesian",) if quick else ("cartesian", "radial", "points")
    problems = [(f"Fourier 33 % {p}", FourierOperator(size, 0.33, pattern=p, seed=0)) for p in patterns]
    if not quick:
        problems.append(("Radon 50 angles", RadonOperator(size, 50)))
    print(f"\nl1-wavelet default against the best of a sweep ({', '.join(SWEEP_WAVELETS)} x λ/max|A*y| in "
          f"{', '.join(f'{f:g}' for f in SWEEP_FACTORS)}; 400 iterations), Shepp-Logan {size}, PSNR dB (goal: within 0.5 dB)")
    for name, op in problems:
        xi = x.to(op.image_dtype)
        y = op.forward(xi)
        best = (-1.0, "")
        for wav in SWEEP_WAVELETS:
            for f in SWEEP_FACTORS:
                rec = fista_l1_wavelet(op, y, lam=f * data_scale(op, y), iters=400, wavelet=wav)
                best = max(best, (float(psnr(rec, xi)), f"{wav}, {f:g}"))
        default = float(psnr(CSBaseline("l1-wavelet")(y, op), xi))
        print(f"  {name:<24} default {default:6.2f}   best {best[0]:6.2f} ({best[1]})   "
              f"gap {best[0] - default:5.2f} dB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-psnr", action="store_true")
    parser.add_argument("--sweep", choices=("none", "quick", "full"), default="full",
                        help="the l1-wavelet reference sweep (quick: the cartesian problem only)")
    parser.add_argument("--wavelet", default="haar", help="wavelet of the timing (default: the baseline's default)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bench_iteration(args.size, args.runs, (10, 40), args.wavelet)
    if not args.skip_psnr:
        bench_psnr()
    if args.sweep != "none":
        bench_sweep(args.sweep == "quick")


if __name__ == "__main__":
    main()
