"""The three markers as decorators (pytest layer): ``@stability(eps=0.01)``, ``@detail_recovery()``, ``@more_samples()``.

The one place they are defined; ``from pytest_invstab import stability`` reaches them lazily
(``pytest_invstab/__init__.py`` does not import pytest). They are plain ``pytest.mark``
decorators: the plugin registers and documents the marker names in ``pytest_configure``.
"""

from __future__ import annotations

import pytest

__all__ = ["detail_erasure", "detail_recovery", "more_samples", "stability"]

stability = pytest.mark.stability
detail_recovery = pytest.mark.detail_recovery
more_samples = pytest.mark.more_samples
detail_erasure = pytest.mark.detail_erasure
