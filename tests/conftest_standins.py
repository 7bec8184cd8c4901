"""Import the real deepinv / fastmri where they import, else the stand-ins in tests/standins."""

from __future__ import annotations

import importlib
import pathlib
import sys

STANDINS = pathlib.Path(__file__).parent / "standins"


def import_or_standin(name: str):
    """The real package ``name`` if it imports, else the stand-in of the same name (first on sys.path)."""
    try:
        return importlib.import_module(name)
    except Exception:  # deepinv fails with an ImportError or a RuntimeError from torchvision
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        if str(STANDINS) not in sys.path:
            sys.path.insert(0, str(STANDINS))
        return importlib.import_module(name)
