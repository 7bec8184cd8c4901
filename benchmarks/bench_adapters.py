"""Adapter overhead: an attack step through ``from_deepinv`` over one through a native operator.

    OMP_NUM_THREADS=1 python benchmarks/bench_adapters.py [--repeats 5] [--steps 6]

The same 2-channel conv network reconstructs 128x128 single-coil MRI (Cartesian columns, 33 %):

* native: ``from_image_network(net, init="adjoint", complex_as_channels=True)`` on our
  ``FourierOperator`` with the mask;
* adapted: deepinv's ``ArtifactRemoval(net)`` (``forward(y, physics)``) on ``from_deepinv(MRI(mask))``:
  every call converts our measurements to deepinv's ``[B, 2, H, W]`` grid and runs the physics'
  own ``A_adjoint`` (deepinv where it imports, else tests/standins/deepinv).

The step cost is the slope of ``budgeted_search`` time between ``steps`` and ``2 steps`` steps
(fixed costs cancel), process CPU time with one thread, native and adapted interleaved per round;
the figure is the median of the per-round ratios. Goal: <= 1.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest_standins import import_or_standin  # noqa: E402
from pytest_invstab import attacks, from_deepinv  # noqa: E402
from pytest_invstab.adapters import adapt_reconstructor  # noqa: E402
from pytest_invstab.images import textured_phantoms  # noqa: E402
from pytest_invstab.operators import FourierOperator  # noqa: E402
from pytest_invstab.reconstructor import from_image_network  # noqa: E402


class Net(nn.Module):
    def __init__(self, base: int = 16):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(2, base, 3, padding=1), nn.ReLU(), nn.Conv2d(base, base, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(base, 2, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=6)
    args = ap.parse_args()
    torch.set_num_threads(1)
    dinv = import_or_standin("deepinv")
    which = "stand-in" if getattr(dinv, "STANDIN", False) else f"deepinv {getattr(dinv, '__version__', '?')}"
    torch.manual_seed(0)
    net = Net().eval()
    pattern = FourierOperator(128, rate=0.33, seed=0)  # column mask, 33 %
    physics = dinv.physics.MRI(mask=pattern.mask.float(), img_size=(128, 128))
    adapted_op = from_deepinv(physics)
    adapted_f = adapt_reconstructor(dinv.models.ArtifactRemoval(net))
    native_op = FourierOperator(mask=pattern.mask)
    native_f = from_image_network(net, init="adjoint", complex_as_channels=True)
    x = textured_phantoms(2, 128, seed=1)
    with torch.no_grad():  # same network, same maths: the two reconstructions agree
        diff = float((adapted_f(adapted_op(x), adapted_op) - native_f(native_op(x), native_op)).abs().max())
    assert diff < 1e-4, diff

    def search(f, op, n: int) -> float:
        t0 = time.process_time()
        attacks.budgeted_search(f, op, x, eps=0.01, steps=n, restarts=1, seed=0)
        return time.process_time() - t0

    def step(f, op) -> float:
        return (search(f, op, 2 * args.steps) - search(f, op, args.steps)) / args.steps

    step(native_f, native_op), step(adapted_f, adapted_op)  # warm-up
    ratios, nat, ada = [], [], []
    for _ in range(args.repeats):
        n = step(native_f, native_op)
        a = step(adapted_f, adapted_op)
        nat.append(n)
        ada.append(a)
        ratios.append(a / n)
    ratio = statistics.median(ratios)
    print(f"128x128 MRI, Cartesian columns {100 * native_op.rate:.1f} %, batch 2, {which}, 1 thread")
    print(f"    max |adapted - native| reconstruction: {diff:.2e}")
    print(f"    attack step native  (median of {args.repeats}): {1e3 * statistics.median(nat):.1f} ms")
    print(f"    attack step adapted (median of {args.repeats}): {1e3 * statistics.median(ada):.1f} ms")
    print(f"    ratio adapted / native (median of per-round ratios): {ratio:.3f}   (goal <= 1.1; "
          f"rounds {min(ratios):.3f}..{max(ratios):.3f})")


if __name__ == "__main__":
    main()
