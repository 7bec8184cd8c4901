"""Small reconstruction networks that mirror the cases of Antun et al. (PNAS 2020)."""

from .cascade import DCCascade, DenoiserCNN
from .unet import UNet
from .zoo import NAMES, SPECS, NetSpec, build_network, get_spec, load_network, make_operator, training_images

__all__ = [
    "DCCascade",
    "DenoiserCNN",
    "NAMES",
    "NetSpec",
    "SPECS",
    "UNet",
    "build_network",
    "get_spec",
    "load_network",
    "make_operator",
    "training_images",
]
