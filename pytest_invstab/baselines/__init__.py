"""Compressed-sensing baselines: orthonormal wavelets, FISTA (l1-wavelet), Chambolle-Pock (TV)."""

from .cs import METHODS, CSBaseline
from .fista import fista_l1_wavelet, soft_threshold
from .tv import grad2d, grad2d_adjoint, total_variation, tv_chambolle_pock
from .wavelets import Wavelet2D

__all__ = [
    "CSBaseline",
    "METHODS",
    "Wavelet2D",
    "fista_l1_wavelet",
    "grad2d",
    "grad2d_adjoint",
    "soft_threshold",
    "total_variation",
    "tv_chambolle_pock",
]
