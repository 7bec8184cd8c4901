"""Train the example networks: ``python -m example_project.train --net ell50|deepmri|dagan|vn|all``.

Seeded: fixed seeds for the images, the initialisation and the batch order, and
``torch.use_deterministic_algorithms`` (on a CPU with a fixed thread count the weights are
bitwise reproducible; ``--device cuda`` trains in minutes instead of hours, reproducible up to
the last bits of floating-point sums, which move the validation PSNR by far less than 0.1 dB).
Training images are made on the CPU from their seeds whatever the device. The validation PSNR
(network and direct reconstruction) is measured on the CPU after training, so that
``tests/test_networks.py`` can check the committed weights against it. Writes
``weights/<name>.pt`` and ``weights/<name>.json`` (spec, time, device, PSNRs).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from .recon_nets import zoo


def _measure(net: torch.nn.Module, y: torch.Tensor, op, chunk: int = 32) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([net(y[i : i + chunk], op) for i in range(0, y.shape[0], chunk)])


def _psnr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    from pytest_invstab.metrics import psnr

    return psnr(est, ref)


#: Validation images the quick weights check (tests/test_networks.py) recomputes: the first few,
#: so that the example suite stays fast (the record's ``val_psnr_db`` is over all ``n_val``).
CHECK_IMAGES = 8


def check_psnr(name: str, net: torch.nn.Module) -> float:
    """Mean PSNR (dB, 4 decimals) of ``net`` on the first ``CHECK_IMAGES`` validation images, on the CPU."""
    spec = zoo.get_spec(name)
    op = zoo.make_operator(name)
    x = zoo.training_images(name, spec.n_val, spec.data_seed + 1)[:CHECK_IMAGES]
    if op.complex_images:
        x = x.to(op.image_dtype)
    with torch.no_grad():
        out = _measure(net.cpu().eval(), op(x), op)
    return round(float(_psnr(out, x).mean()), 4)


def record_check(name: str, weights_dir: Path = zoo.WEIGHTS_DIR) -> float:
    """Add ``check_psnr_db`` to the record of committed weights (``--record-check``), nothing else."""
    path = Path(weights_dir) / f"{name}.json"
    record = json.loads(path.read_text())
    record["check_psnr_db"] = check_psnr(name, zoo.load_network(name, weights_dir))
    record["check_images"] = CHECK_IMAGES
    path.write_text(json.dumps(record, indent=2) + "\n")
    return record["check_psnr_db"]


def train(name: str, *, steps: int | None = None, weights_dir: Path = zoo.WEIGHTS_DIR, log_every: int = 100,
          threads: int = 2, device: str = "cpu") -> dict:
    """Train network ``name`` from scratch and save it; returns the training record."""
    spec = zoo.get_spec(name)
    steps = spec.steps if steps is None else steps
    torch.set_num_threads(threads)
    # CUDA's sparse and scatter kernels have no deterministic variant: warn instead of failing there
    torch.use_deterministic_algorithms(True, warn_only=device != "cpu")
    torch.manual_seed(spec.seed)

    t_data = time.perf_counter()
    op = zoo.make_operator(name, device)
    x_train = zoo.training_images(name, spec.n_train, spec.data_seed).to(device)
    x_val = zoo.training_images(name, spec.n_val, spec.data_seed + 1)
    if op.complex_images:
        x_train, x_val = x_train.to(op.image_dtype), x_val.to(op.image_dtype)
    with torch.no_grad():
        y_train = torch.cat([op(x_train[i : i + 64]) for i in range(0, spec.n_train, 64)])
    t_data = time.perf_counter() - t_data

    net = zoo.build_network(name).to(device)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=spec.lr)
    # cosine decay to 1 % of the initial rate: a short schedule that still ends in a minimum
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * s / steps)))
    gen = torch.Generator().manual_seed(spec.seed)
    t0 = time.perf_counter()
    running = 0.0
    for step in range(1, steps + 1):
        idx = torch.randint(0, spec.n_train, (spec.batch,), generator=gen)
        out = net(y_train[idx], op)
        diff = out - x_train[idx]
        loss = (diff.abs() ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running += float(loss.detach())
        if log_every and step % log_every == 0:
            print(f"[{name}] step {step:5d}/{steps}  mse {running / log_every:.2e}  "
                  f"{time.perf_counter() - t0:6.1f} s", flush=True)
            running = 0.0
    train_s = time.perf_counter() - t0

    net = net.cpu().eval()
    op_cpu = zoo.make_operator(name)
    with torch.no_grad():
        y_val = op_cpu(x_val)
    psnr_net = _psnr(_measure(net, y_val, op_cpu), x_val)
    psnr_direct = _psnr(op_cpu.direct(y_val), x_val)
    record = {
        "name": name,
        "title": spec.title,
        "spec": spec.describe(),
        "steps": steps,
        "threads": threads,
        "device": device if device == "cpu" else f"{device} ({torch.cuda.get_device_name()})",
        "train_seconds": round(train_s, 1),
        "data_seconds": round(t_data, 1),
        "val_psnr_db": round(float(psnr_net.mean()), 2),
        "val_psnr_direct_db": round(float(psnr_direct.mean()), 2),
        "parameters": sum(p.numel() for p in net.parameters()),
        "torch": torch.__version__,
        "operator": op_cpu.describe(),
        "check_psnr_db": check_psnr(name, net),
        "check_images": CHECK_IMAGES,
    }
    weights_dir = Path(weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), zoo.weights_path(name, weights_dir))
    (weights_dir / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"[{name}] trained {steps} steps in {train_s:.0f} s (data {t_data:.0f} s); validation PSNR "
          f"{record['val_psnr_db']:.2f} dB (direct reconstruction {record['val_psnr_direct_db']:.2f} dB); "
          f"{record['parameters']} parameters -> {zoo.weights_path(name, weights_dir)}", flush=True)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_project.train", description=__doc__.splitlines()[0])
    parser.add_argument("--net", required=True, choices=[*zoo.NAMES, "all"], help="which network to train")
    parser.add_argument("--steps", type=int, default=None, help="override the number of training steps")
    parser.add_argument("--weights-dir", type=Path, default=zoo.WEIGHTS_DIR, help="where to write the weights")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--record-check", action="store_true",
                        help="do not train: add check_psnr_db (first validation images) to the committed records")
    args = parser.parse_args(argv)
    names = zoo.NAMES if args.net == "all" else (args.net,)
    if args.record_check:
        for name in names:
            print(f"[{name}] check PSNR {record_check(name, args.weights_dir):.4f} dB")
        return 0
    t0 = time.perf_counter()
    for name in names:
        train(name, steps=args.steps, weights_dir=args.weights_dir, threads=args.threads, device=args.device)
    if len(names) > 1:
        print(f"all networks trained in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
