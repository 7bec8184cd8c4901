"""Adapters for third-party physics and models (deepinv, fastMRI, MONAI), by duck typing.

None of these libraries is imported: their objects are recognised by their attributes, so the
adapters work wherever the user's objects do, and the test suite runs without the libraries.
"""

from .deepinv import DeepinvMRIOperator, DeepinvMultiCoilOperator, DeepinvPhysicsOperator, from_deepinv
from .fastmri import from_fastmri
from .models import PhysicsModel, adapt_reconstructor, takes_physics

__all__ = [
    "from_deepinv",
    "from_fastmri",
    "PhysicsModel",
    "adapt_reconstructor",
    "takes_physics",
    "DeepinvMRIOperator",
    "DeepinvMultiCoilOperator",
    "DeepinvPhysicsOperator",
]
