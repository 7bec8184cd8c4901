"""pytest-invstab: test image-reconstruction networks for the instabilities of Antun et al. (PNAS 2020)."""

__version__ = "0.1.0"
