"""Stand-in for ``deepinv`` (see tests/standins/README.md): physics MRI, MultiCoilMRI, Tomography;
models ArtifactRemoval. ``STANDIN = True`` tells tests which one they got."""

from . import models, physics

STANDIN = True
__all__ = ["physics", "models"]
