"""pytest-invstab: test image-reconstruction networks for the instabilities of Antun et al. (PNAS 2020).

Every public name loads lazily: the markers (``from pytest_invstab import stability``) from the
pytest layer's :mod:`pytest_invstab.markers`, the heavy names (operators, checks, baselines)
from their packages. So pytest starts fast in projects that do not use them, and this package
imports neither pytest nor torch until a name is asked for (the checks run without pytest).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "stability": ("pytest_invstab.markers", "stability"),
    "detail_recovery": ("pytest_invstab.markers", "detail_recovery"),
    "more_samples": ("pytest_invstab.markers", "more_samples"),
    "detail_erasure": ("pytest_invstab.markers", "detail_erasure"),
    "checks": ("pytest_invstab.checks", None),
    "CheckResult": ("pytest_invstab.result", "CheckResult"),
    "from_image_network": ("pytest_invstab.reconstructor", "from_image_network"),
    "LinearOperator": ("pytest_invstab.operators", "LinearOperator"),
    "MatrixOperator": ("pytest_invstab.operators", "MatrixOperator"),
    "FourierOperator": ("pytest_invstab.operators", "FourierOperator"),
    "MultiCoilFourierOperator": ("pytest_invstab.operators", "MultiCoilFourierOperator"),
    "RadonOperator": ("pytest_invstab.operators", "RadonOperator"),
    "CSBaseline": ("pytest_invstab.baselines", "CSBaseline"),
    "shepp_logan": ("pytest_invstab.images", "shepp_logan"),
    "default_details": ("pytest_invstab.images", "default_details"),
    "load_image": ("pytest_invstab.images", "load_image"),
    "load_images": ("pytest_invstab.images", "load_images"),
    "load_scan": ("pytest_invstab.images", "load_scan"),
    "InvstabError": ("pytest_invstab.errors", "InvstabError"),
    "from_deepinv": ("pytest_invstab.adapters", "from_deepinv"),
    "from_fastmri": ("pytest_invstab.adapters", "from_fastmri"),
    "as_operator": ("pytest_invstab.operators.protocol", "as_operator"),
    "Operator": ("pytest_invstab.operators.protocol", "Operator"),
    "layouts": ("pytest_invstab.layouts", None),
    "CheckFailed": ("pytest_invstab.runner", "CheckFailed"),
    "MiswiredNetworkError": ("pytest_invstab.errors", "MiswiredNetworkError"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'pytest_invstab' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    return value if attr is None else getattr(value, attr)
