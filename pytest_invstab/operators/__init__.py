"""Linear measurement operators with exact adjoints."""

from .base import LinearOperator, MatrixOperator
from .fourier import FourierOperator, centred_fft2, centred_ifft2
from .masks import UserMaskPattern, as_mask
from .protocol import Operator, ProtocolOperator, as_operator
from .multicoil import MultiCoilFourierOperator, synthetic_coil_maps
from .radon import RadonOperator, angle_weights, default_detectors
from .sampling import PATTERNS, SamplingPattern, full_angle_count, nested_angles, uniform_angles

__all__ = [
    "Operator",
    "ProtocolOperator",
    "as_operator",
    "as_mask",
    "UserMaskPattern",
    "LinearOperator",
    "MatrixOperator",
    "FourierOperator",
    "MultiCoilFourierOperator",
    "RadonOperator",
    "SamplingPattern",
    "PATTERNS",
    "uniform_angles",
    "nested_angles",
    "full_angle_count",
    "default_detectors",
    "angle_weights",
    "centred_fft2",
    "centred_ifft2",
    "synthetic_coil_maps",
]
