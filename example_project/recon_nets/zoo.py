"""The example networks by name: their specification, operator, training images and weights.

Every network is a reconstructor ``f(y, op) -> image`` (a ``torch.nn.Module``) on 128 x 128
images; every Cartesian mask samples k-space columns (phase encoding along the width):

* ``ell50``   Ell-50-like: residual U-Net after FBP, parallel-beam Radon with 50 angles (a quarter
              of the 202 a 128-pixel image needs), trained only on random ellipses (real images).
* ``deepmri`` Deep-MRI-like: cascade of small CNNs with exact data consistency, single-coil
              Cartesian Fourier at 33 %, trained on textured phantoms (complex images).
* ``dagan``   DAGAN-like: residual U-Net on the zero-filled image (real and imaginary parts as
              two channels), single-coil Cartesian Fourier at 20 %, trained on textured phantoms.
* ``vn``      MRI-VN-like: unrolled variational network (learned regularisers and step sizes)
              on 8-coil data, Cartesian Fourier at 15 %, trained on textured phantoms.

Weights live in ``example_project/weights/<name>.pt`` (a ``state_dict`` loaded with
``torch.load(..., weights_only=True)``) next to ``<name>.json`` (how they were trained and the
validation PSNR the training script measured).
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .cascade import DCCascade
from .unet import UNet
from .vn import VariationalNetwork

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
SIZE = 128  # image side in pixels: the symbols are 14 px tall, the suite still runs on 2 CPU cores


@dataclass(frozen=True)
class NetSpec:
    """How a network is built, what it measures, and how it is trained."""

    name: str
    title: str
    modality: str  # "radon", "fourier" or "multicoil"
    size: int = SIZE
    rate: float | None = None  # Fourier sampling rate (fraction of k-space)
    angles: int | None = None  # Radon: number of projection angles in [0, pi)
    coils: int | None = None  # multi-coil Fourier: number of (synthetic) receive coils
    pattern: str = "cartesian"
    orientation: str = "columns"  # Cartesian lines along the width, as fastMRI and deepinv
    mask_seed: int = 0
    training_images: str = "textured"  # "textured" or "ellipses"
    n_train: int = 2048
    n_val: int = 64
    steps: int = 3000
    batch: int = 16
    lr: float = 1e-3
    seed: int = 0  # initialisation and batch order
    data_seed: int = 1000  # training images; validation uses data_seed + 1

    def describe(self) -> dict:
        return asdict(self)


SPECS: dict[str, NetSpec] = {
    # 50 angles, as the paper's Ell-50: a quarter of the ceil(pi/2 * 128) = 202 a 128-pixel image needs.
    "ell50": NetSpec("ell50", "Ell-50-like U-Net after FBP (ellipses only)", "radon", angles=50,
                     training_images="ellipses"),
    "deepmri": NetSpec("deepmri", "Deep-MRI-like CNN cascade with data consistency", "fourier", rate=0.33,
                       training_images="textured"),
    "dagan": NetSpec("dagan", "DAGAN-like U-Net on the zero-filled image", "fourier", rate=0.20,
                     training_images="textured", steps=4000),
    "vn": NetSpec("vn", "MRI-VN-like unrolled variational network, 8 coils", "multicoil", rate=0.15, coils=8,
                  training_images="textured", steps=2000),
}

NAMES = tuple(SPECS)


def get_spec(name: str) -> NetSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(SPECS)}") from None


@functools.lru_cache(maxsize=None)
def make_operator(name: str, device: str = "cpu"):
    """The operator the network was trained for (its modality, size and rate); cached, as
    operators are immutable and a Radon operator's matrices take a moment to build."""
    spec = get_spec(name)
    if spec.modality == "radon":
        from pytest_invstab.operators import RadonOperator

        # the angles are the nested subset that ``at_rate`` uses, so that the operators of the
        # more-samples check at higher rates keep every angle the network was trained with
        full = RadonOperator(size=spec.size, angles=1, device=device)
        return full.at_rate(spec.angles / full.n_full)
    if spec.modality == "multicoil":
        from pytest_invstab.operators import MultiCoilFourierOperator

        return MultiCoilFourierOperator(size=spec.size, rate=spec.rate, pattern=spec.pattern, coils=spec.coils,
                                        seed=spec.mask_seed, device=device, orientation=spec.orientation)
    from pytest_invstab.operators import FourierOperator

    return FourierOperator(size=spec.size, rate=spec.rate, pattern=spec.pattern, seed=spec.mask_seed, device=device,
                           orientation=spec.orientation)


def trained_rate(name: str) -> float:
    """The sampling rate the network was trained at, as its operator reports it (the fraction
    of k-space lines for Fourier, of the ``ceil(pi/2 * size)`` angles for Radon)."""
    return float(make_operator(name).rate)


def training_images(name: str, n: int, seed: int) -> torch.Tensor:
    """``[n, size, size]`` float32 images in [0, 1] of the network's training distribution."""
    spec = get_spec(name)
    from pytest_invstab import images

    if spec.training_images == "ellipses":
        return images.random_ellipses(n, spec.size, seed).float()
    return images.textured_phantoms(n, spec.size, seed).float()


def build_network(name: str) -> torch.nn.Module:
    """An untrained reconstructor ``f(y, op)`` for ``name`` (seeded by the caller)."""
    from pytest_invstab import from_image_network

    get_spec(name)
    if name == "ell50":
        return from_image_network(UNet(1, 1, base=12, depth=3), init="direct")
    if name == "dagan":
        return from_image_network(UNet(2, 2, base=16, depth=3), init="direct", complex_as_channels=True)
    if name == "vn":
        return VariationalNetwork(stages=8, filters=24)
    return DCCascade(stages=5, channels=32, layers=5)


@functools.lru_cache(maxsize=None)
def cs_reference():
    """The stable reference of this project: the TV (Chambolle–Pock) CS baseline (``CSBaseline("tv")``),
    which is also the plugin's default.

    Why TV rather than the l1-wavelet baseline: on these piecewise-smooth phantoms with Cartesian
    line sampling l1-wavelet is much weaker, and a weak reference would make every network look good.
    """
    from pytest_invstab.baselines import CSBaseline

    return CSBaseline(method="tv")


def weights_path(name: str, weights_dir: Path | str = WEIGHTS_DIR) -> Path:
    return Path(weights_dir) / f"{name}.pt"


def load_network(name: str, weights_dir: Path | str = WEIGHTS_DIR, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The trained reconstructor in eval mode (weights loaded with ``weights_only=True``)."""
    path = weights_path(name, weights_dir)
    if not path.exists():
        raise FileNotFoundError(
            f"no weights for {name!r} at {path}; train them with: python -m example_project.train --net {name}"
        )
    net = build_network(name)
    net.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    return net.to(device).eval()


def training_record(name: str, weights_dir: Path | str = WEIGHTS_DIR) -> dict:
    """What the training script wrote next to the weights (time, validation PSNR, settings)."""
    path = Path(weights_dir) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}
