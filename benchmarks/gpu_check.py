"""The CUDA paths of operators, baselines, attacks and checks, against the CPU (needs a CUDA GPU).

    python benchmarks/gpu_check.py

Prints, for each operator (single- and multi-coil Fourier, Radon) in float32 and float64, the
adjoint mismatch |<Ax, y> - <x, A*y>| / (||Ax|| ||y||) on the GPU and the relative difference of
A x between GPU and CPU; the TV and l1-wavelet baselines' relative difference GPU vs CPU; a
budgeted search and every check on the GPU (verdict, key number, seconds) next to the CPU's.
Random draws differ between devices (torch.Generator streams are per device), so searches are
compared by their artifact, not bit for bit.
"""

from __future__ import annotations

import time

import torch

from pytest_invstab import CSBaseline, FourierOperator, MultiCoilFourierOperator, RadonOperator, checks, shepp_logan
from pytest_invstab.attacks import budgeted_search


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.cpu() - b.cpu()).abs().norm() / b.cpu().abs().norm().clamp_min(1e-30))


def adjoint_mismatch(op, gen: torch.Generator) -> float:
    x = torch.randn((2, *op.image_shape), generator=gen, dtype=op.dtype).to(op.device).to(op.image_dtype)
    y = torch.randn((2, *op.measurement_shape), generator=gen, dtype=op.dtype).to(op.device).to(op.measurement_dtype)
    ax, aty = op(x), op.adjoint(y)
    lhs = (ax.conj() * y).real.sum() if ax.is_complex() else (ax * y).sum()
    rhs = (x.conj() * aty).real.sum() if x.is_complex() else (x * aty).sum()
    return float((lhs - rhs).abs() / (ax.norm() * y.norm()))


class SmallNet(torch.nn.Module):
    """A residual CNN on the zero-filled / FBP image: enough to exercise autograd on the device."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
                                        torch.nn.Conv2d(8, 1, 3, padding=1))

    def forward(self, y, op):
        x0 = op.direct(y)
        mag = x0.abs() if x0.is_complex() else x0
        return x0 + 0.1 * self.body(mag[:, None].float()).to(mag.dtype)[:, 0]


def main() -> None:
    assert torch.cuda.is_available(), "needs a CUDA GPU"
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    ops = {"fourier": FourierOperator(128, 0.33), "multicoil": MultiCoilFourierOperator(128, 0.15, coils=8),
           "radon": RadonOperator(128, 50)}
    gen = torch.Generator().manual_seed(0)
    x = shepp_logan(128)[None]
    for name, op in ops.items():
        for dtype in (torch.float32, torch.float64):
            g, c = op.to("cuda", dtype), op.to("cpu", dtype)
            xs = x.to(dtype)
            print(f"{name:9s} {str(dtype)[6:]:8s} adjoint mismatch (GPU) {adjoint_mismatch(g, gen):.1e}; "
                  f"A x GPU vs CPU {rel(g(xs.cuda()), c(xs)):.1e}; A* y {rel(g.adjoint(g(xs.cuda())), c.adjoint(c(xs))):.1e}")
    for method in ("tv", "l1-wavelet"):
        for name, op in ops.items():
            base, g = CSBaseline(method), op.to("cuda")
            t0 = time.perf_counter()
            out_g = base(g(x.cuda()), g)
            torch.cuda.synchronize()
            t_g = time.perf_counter() - t0
            t0 = time.perf_counter()
            out_c = base(op(x), op)
            t_c = time.perf_counter() - t0
            print(f"{method:10s} {name:9s} GPU vs CPU {rel(out_g, out_c):.1e} ({t_g:.2f} s vs {t_c:.2f} s)")
    net = SmallNet()
    for name in ("fourier", "radon"):
        op = ops[name]
        a_g = budgeted_search(net.cuda(), op.to("cuda"), x.cuda(), eps=0.01, steps=20, restarts=2, seed=0)
        a_c = budgeted_search(net.cpu(), op, x, eps=0.01, steps=20, restarts=2, seed=0)
        print(f"budgeted search {name}: artifact GPU {float(a_g.artifact.max()):.4f}, CPU {float(a_c.artifact.max()):.4f}; "
              f"size GPU {float(a_g.size.max()):.4f}")
    runs = [("worst_case", dict(eps=(0.005, 0.01), max_ratio_to_baseline=10.0, budget="quick")),
            ("detail_recovery", dict()), ("more_samples", dict(budget="quick")),
            ("detail_erasure", dict(eps_max=0.04, bisections=2, budget="quick"))]
    for check, kw in runs:
        for device in ("cuda", "cpu"):
            op = ops["fourier"].to(device)
            t0 = time.perf_counter()
            res = getattr(checks, check)(net.to(device), op, x.to(device), sanity=False, **kw) if check != "detail_erasure" \
                else getattr(checks, check)(net.to(device), op, x.to(device), **kw)
            print(f"{check:15s} {device:4s} {res.verdict:6s} {res.key_metric} = {res.key_value:.4f} "
                  f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
