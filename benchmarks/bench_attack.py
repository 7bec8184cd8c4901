"""Benchmarks of the worst-case searches (pytest_invstab.attacks). Prints measured ratios.

    OMP_NUM_THREADS=1 python benchmarks/bench_attack.py            # about 4 minutes on one core
    OMP_NUM_THREADS=1 python benchmarks/bench_attack.py --quick    # smoke run, about 1 minute

1. Cost of one attack step / one forward+backward of f∘A (gradient w.r.t. the input only, model
   frozen, the same loss), process CPU time, medians over interleaved rounds, on a small U-Net at 128x128 Fourier (33 %).
   Goal: <= 1.15. The step cost is the slope of the search time over its number of steps, so the
   fixed costs (clean reconstruction, final evaluation) do not count.
2. Step rules at equal evaluations: the default of ``budgeted_search`` (accelerated power steps,
   then projected steps) against plain power iteration, projected normalised-gradient ascent and
   Adam, on a linear reconstructor (fraction of the known optimum sigma_max) and on a trained
   network (artifact).
3. The paper's algorithm against ``budgeted_search`` at equal ||r|| (per image, the size the
   paper's search reached) and equal network evaluations, on a trained network: the budgeted
   search's artifact must be at least as large. The network is ``dagan`` from example_project
   when its weights exist, else a small U-Net trained here for ``--train-steps`` Adam steps (seeded).
   lam is set relative to the network's local squared gain (amplification^2 at eps = 0.01) so
   that the free-running search ends at perturbations of a few to tens of percent of ||x||.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_invstab import attacks  # noqa: E402
from pytest_invstab.images import textured_phantoms  # noqa: E402
from pytest_invstab.operators.fourier import FourierOperator  # noqa: E402
from pytest_invstab.reconstructor import from_image_network, frozen  # noqa: E402


# -- networks ---------------------------------------------------------------------------------------
class SmallUNet(nn.Module):
    """Two poolings, residual, ``base`` channels: a U-Net-ish image network."""

    def __init__(self, cin: int = 2, base: int = 16):
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.ReLU(), nn.Conv2d(o, o, 3, padding=1), nn.ReLU())

        self.e1, self.e2, self.mid = block(cin, base), block(base, 2 * base), block(2 * base, 4 * base)
        self.u2, self.d2 = nn.ConvTranspose2d(4 * base, 2 * base, 2, 2), block(4 * base, 2 * base)
        self.u1, self.d1 = nn.ConvTranspose2d(2 * base, base, 2, 2), block(2 * base, base)
        self.out = nn.Conv2d(base, cin, 1)

    def forward(self, z):
        e1 = self.e1(z)
        e2 = self.e2(nn.functional.max_pool2d(e1, 2))
        m = self.mid(nn.functional.max_pool2d(e2, 2))
        d2 = self.d2(torch.cat([self.u2(m), e2], 1))
        d1 = self.d1(torch.cat([self.u1(d2), e1], 1))
        return z + self.out(d1)


def unet_reconstructor(seed: int = 0, base: int = 16):
    torch.manual_seed(seed)
    return from_image_network(SmallUNet(2, base), init="adjoint", complex_as_channels=True)


def trained_network(train_steps: int, seed: int = 0):
    """``dagan`` of example_project if trained, else a small U-Net trained here (Fourier 64x64, 25 %,
    ``train_steps`` Adam steps of batch 8 on textured phantoms: about a minute on one core; a fixed
    number of steps, not a time, so that the benchmark is reproducible)."""
    try:
        from example_project.recon_nets import zoo

        if zoo.weights_path("dagan").exists():
            return "example_project dagan", zoo.load_network("dagan"), zoo.make_operator("dagan"), zoo.training_images("dagan", 4, 4242)
    except Exception:  # noqa: BLE001 - fall back to training our own
        pass
    op = FourierOperator(size=64, rate=0.25, seed=seed)
    f = unet_reconstructor(seed, base=16)
    data = textured_phantoms(256, 64, seed=seed + 100)
    opt = torch.optim.Adam(f.parameters(), 1e-3)
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(train_steps):
        x = data[torch.randint(0, len(data), (8,), generator=g)]
        out = f(op(x), op)
        l = (out - x).abs().square().mean()
        opt.zero_grad()
        l.backward()
        opt.step()
    f.eval()
    test = textured_phantoms(4, 64, seed=seed + 999)
    with torch.no_grad():
        err = float(((f(op(test), op) - test).abs().norm(dim=(1, 2)) / test.norm(dim=(1, 2))).mean())
    zf = float(((op.adjoint(op(test)) - test).abs().norm(dim=(1, 2)) / test.norm(dim=(1, 2))).mean())
    name = (f"U-Net trained here ({train_steps} Adam steps, {time.perf_counter() - t0:.0f} s; test rel. error "
            f"{err:.3f}, zero-filled {zf:.3f})")
    return name, f, op, test


# -- 1. step cost -----------------------------------------------------------------------------------
def bench_step_cost(repeats: int, steps: int) -> float:
    # CPU time of this process: with one thread it is what the work costs, and it is far less
    # disturbed than wall time by other jobs on a shared machine
    clock = time.process_time
    op = FourierOperator(size=128, rate=0.33, seed=0)
    f = unet_reconstructor(0, base=16)
    x = textured_phantoms(2, 128, seed=1)

    def fwd_bwd(n: int) -> float:
        """Seconds for n forward+backward passes of the attack's loss, gradient w.r.t. r only."""
        with frozen(f), torch.enable_grad():
            y = op(x)
            with torch.no_grad():
                f0 = f(y, op)
            r = (1e-3 * torch.randn_like(x)).requires_grad_(True)
            t0 = clock()
            for _ in range(n):
                out = f(op(x + r), op)
                d = torch.view_as_real(out - f0) if out.is_complex() else out - f0
                (g,) = torch.autograd.grad(0.5 * d.square().sum(), r)
            return clock() - t0

    def search(n: int) -> float:
        t0 = clock()
        attacks.budgeted_search(f, op, x, eps=0.01, steps=n, restarts=1, seed=0, hidden=False)  # the step itself
        return clock() - t0

    fwd_bwd(2), search(2)  # warm-up
    # Interleaved, so that other load on the machine hits both alike: per round, the step cost is
    # the slope of the search time between `steps` and 2 `steps` steps (fixed costs cancel), and
    # the reference is `steps` forward+backward passes timed in between.
    refs, slopes, ratios = [], [], []
    for _ in range(repeats):
        t1 = search(steps)
        ref = fwd_bwd(steps) / steps
        t2 = search(2 * steps)
        slope = (t2 - t1) / steps
        refs.append(ref)
        slopes.append(slope)
        ratios.append(slope / ref)
    ref, step, ratio = statistics.median(refs), statistics.median(slopes), statistics.median(ratios)
    t0 = time.perf_counter()
    attacks.budgeted_search(f, op, x, eps=0.01, seed=0)
    full = time.perf_counter() - t0
    print(f"[1] 128x128 Fourier 33 %, small U-Net ({sum(p.numel() for p in f.parameters())} parameters), batch 2")
    print(f"    forward+backward of f∘A (median over {repeats} rounds of {steps}): {1e3 * ref:.1f} ms")
    print(f"    attack step (median slope, {steps} vs {2 * steps} steps, {repeats} rounds): {1e3 * step:.1f} ms")
    print(f"    ratio step / forward+backward (median of per-round ratios): {ratio:.3f}   (goal <= 1.15; "
          f"rounds {min(ratios):.3f}..{max(ratios):.3f})")
    print(f"    default budget ({attacks.DEFAULT_STEPS} steps x {attacks.DEFAULT_RESTARTS} restarts + the hidden phase) on this batch: {full:.1f} s wall")
    return ratio


# -- 2. step rules ----------------------------------------------------------------------------------
def _alt_search(rule: str, f, op, x, eps: float, steps: int, seed: int) -> torch.Tensor:
    """Alternative step rules (one restart), for comparison with attacks.budgeted's ascent. Returns the best artifact."""
    from pytest_invstab.attacks.problem import Problem, to_radius
    from pytest_invstab.tensors import batch_norm, batch_view

    gen = torch.Generator().manual_seed(seed)
    with frozen(f), torch.enable_grad():
        prob = Problem(f, op, x, "image")
        rad = eps * prob.ref_norm
        p = to_radius(prob.random(gen), rad).requires_grad_(True)
        m = torch.zeros_like(p)
        v = torch.zeros(p.shape, dtype=rad.dtype)
        best = torch.zeros_like(rad)
        for k in range(steps):
            sq = prob.sq_dist(prob.output(p))
            best = torch.maximum(best, sq.detach())
            (g,) = torch.autograd.grad(0.5 * sq.sum(), p)
            with torch.no_grad():
                if rule == "power":
                    p.copy_(to_radius(g, rad))
                    continue
                if rule == "pga":
                    a = 0.5 * (0.15 + 0.85 * 0.5 * (1 + math.cos(math.pi * k / max(1, steps - 1))))
                    q = p + g * batch_view(a * rad / batch_norm(g), g)
                else:  # adam, learning rate 0.1 radius per step (rms-normalised)
                    m.mul_(0.9).add_(g, alpha=0.1)
                    v.mul_(0.999).add_(g.abs().square(), alpha=0.001)
                    mh, vh = m / (1 - 0.9 ** (k + 1)), v / (1 - 0.999 ** (k + 1))
                    lr = 0.1 * rad / math.sqrt(p[0].numel())
                    q = p + batch_view(lr, g) * mh / (vh.sqrt() + 1e-12)
                p.copy_(q * batch_view((rad / batch_norm(q)).clamp(max=1), q))
    return prob.artifact(best)


def bench_step_rules(f, op, x, steps: int) -> None:
    print(f"[2] step rules, {steps} evaluations, one restart, mean over images and 2 seeds")
    # a linear reconstructor with a dense spectrum: f(y) = conv(A* y), known optimum sigma_max
    g = torch.Generator().manual_seed(3)
    k = torch.randn(1, 1, 5, 5, generator=g)

    def lin(y, o):
        z = o.adjoint(y)
        return torch.complex(nn.functional.conv2d(z.real[:, None], k, padding=2)[:, 0],
                             nn.functional.conv2d(z.imag[:, None], k, padding=2)[:, 0])

    long = attacks.budgeted_search(lin, op, x, eps=0.01, steps=400, restarts=1, hidden=False).artifact  # ~ the optimum
    rows = {"default (accelerated power, then projected)": lambda fn, e, s: attacks.budgeted_search(
        fn, op, x, eps=e, steps=steps, restarts=1, seed=s, hidden=False).artifact}
    for rule, label in (("power", "plain power iteration"), ("pga", "projected normalised gradient"), ("adam", "Adam + projection")):
        rows[label] = lambda fn, e, s, rule=rule: _alt_search(rule, fn, op, x, e, steps, s)
    print(f"    {'rule':45s} {'linear: % of optimum':>22s} {'network eps=0.01':>17s} {'eps=0.05':>9s}")
    for label, run in rows.items():
        lin_frac = statistics.mean(float((run(lin, 0.01, s) / long).mean()) for s in (0, 1))
        net1 = statistics.mean(float(run(f, 0.01, s).mean()) for s in (0, 1))
        net5 = statistics.mean(float(run(f, 0.05, s).mean()) for s in (0, 1))
        print(f"    {label:45s} {100 * lin_frac:21.2f}% {net1:17.4f} {net5:9.4f}")


# -- 3. paper vs budgeted -----------------------------------------------------------------------------
def bench_paper_vs_budgeted(f, op, x, iters: int) -> bool:
    print(f"[3] paper's search vs budgeted_search, equal ||r|| per image and {iters} evaluations each")
    amp = attacks.budgeted_search(f, op, x, eps=0.01, steps=10, restarts=1, hidden=False).amplification
    gain = float(amp.mean()) ** 2  # local squared gain, to put lam on the network's scale
    n = x[0].numel()
    tau = 1e-4 * float(x.norm(dim=(1, 2)).min()) / math.sqrt(n / 3)
    ok = True
    configs = [
        ("paper, lam = 0.6 gain, free-running", dict(lam=0.6 * gain, max_size=None, checkpoints=[iters])),
        ("paper, lam = 0.8 gain, free-running", dict(lam=0.8 * gain, max_size=None, checkpoints=[iters])),
        ("paper, lam = 0, stopped at ||r|| <= 0.02 ||x||", dict(lam=0.0, max_size=0.02, checkpoints=[1.0])),
        ("paper, lam = 0, stopped at ||r|| <= 0.05 ||x||", dict(lam=0.0, max_size=0.05, checkpoints=[1.0])),
    ]
    for label, cfg in configs:
        p = attacks.paper_search(f, op, x, step="auto", momentum=0.9, tau=tau, iters=iters, seed=0, **cfg)
        size, art_p = p.sizes[-1], p.artifacts[-1]
        restarts = attacks.DEFAULT_RESTARTS  # the paper's evaluations (it may stop early at the ball), split
        b = attacks.budgeted_search(f, op, x, eps=size, steps=max(2, p.evaluations // restarts), restarts=restarts, seed=0,
                                    hidden=False)  # the restarts alone: at these budgets there is no room for the hidden phase
        assert b.evaluations <= p.evaluations
        better = bool(torch.all(b.artifact >= art_p * (1 - 1e-3)))  # ties within 0.1 % count
        ok &= better
        print(f"    {label:48s} evals {p.evaluations:3d}/{b.evaluations:3d} ||r||/||x|| {float(size.mean()):.4f}  artifact paper {float(art_p.mean()):.4f}  "
              f"budgeted {float(b.artifact.mean()):.4f}  (ratio {float((b.artifact / art_p).min()):.3f} worst image, "
              f"{'>=' if better else 'NOT >='})")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="short smoke run")
    ap.add_argument("--train-steps", type=int, default=300, help="Adam steps if example_project has no weights")
    ap.add_argument("--skip-step-cost", action="store_true", help="only parts 2 and 3")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    quick = args.quick
    ratio = float("nan") if args.skip_step_cost else bench_step_cost(repeats=3 if quick else 7, steps=4 if quick else 10)
    name, f, op, x = trained_network(40 if quick else args.train_steps)
    print(f"    network for [2] and [3]: {name}")
    x = x[:2]
    bench_step_rules(f, op, x, steps=20 if quick else attacks.DEFAULT_STEPS)
    ok = bench_paper_vs_budgeted(f, op, x, iters=30 if quick else attacks.DEFAULT_STEPS * attacks.DEFAULT_RESTARTS)
    print(f"summary: step/fwd+bwd = {ratio:.3f} (goal <= 1.15: {'met' if ratio <= 1.15 else 'NOT met'}); "
          f"budgeted >= paper at equal ||r|| and evaluations: {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
