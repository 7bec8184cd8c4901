"""Fixtures of the example stability suite: which network is tested, its operator, its images.

Every test in ``tests/test_stability.py`` is parametrized over the networks by id through the
``network`` fixture: ``ell50``, ``deepmri``, ``dagan`` and ``vn`` (see ``recon_nets/zoo.py``). The
fixtures the plugin's markers use follow from it:

* ``reconstructor``: the trained network (weights from ``weights/``, or from the folder in the
  environment variable ``EXAMPLE_WEIGHTS_DIR``);
* ``operator``: the network's own modality at the rate it was trained for (Radon with 50 angles
  for ``ell50``; Cartesian Fourier along columns at 33 % / 20 % for ``deepmri`` / ``dagan``;
  8-coil Fourier at 15 % for ``vn``), 128 x 128;
* ``reference_images``: Shepp-Logan and a held-out image of the network's training family
  (random ellipses for ``ell50``, textured phantoms otherwise), seeded, values in [0, 1];
* ``phantom_image``: Shepp-Logan alone (for the costly erasure search);
* ``scan_images``: a real slice that pydicom ships, resized to 128 x 128 (a head CT for the CT
  network, an abdominal MR for the MRI networks): data the networks never saw (distribution shift);
* ``cs_baseline``: this project's stable reference, the TV (Chambolle-Pock) CS baseline
  (``zoo.cs_reference()``, the plugin's default); the markers pass the same object as ``baseline=``.
"""

from __future__ import annotations

import functools
import os
from importlib import metadata

import pytest
import torch

from example_project.recon_nets import zoo


def _plugin_installed() -> bool:
    return any(ep.value.startswith("pytest_invstab") for ep in metadata.entry_points(group="pytest11"))


# An installed pytest-invstab registers itself (entry point); from a plain checkout, load it here.
if not _plugin_installed():
    pytest_plugins = ["pytest_invstab.plugin"]

#: Seed of the held-out reference images (training uses 1000 and validation 1001).
REFERENCE_SEED = 7
#: The real slice each modality is tested on (``pytest_invstab.images.SCAN_FILES``).
SCANS = {"radon": "ct-head-2", "fourier": "mr-abdomen", "multicoil": "mr-abdomen"}
#: Where the weights are read from (set EXAMPLE_WEIGHTS_DIR to test freshly trained ones).
WEIGHTS_DIR = os.environ.get("EXAMPLE_WEIGHTS_DIR") or str(zoo.WEIGHTS_DIR)


@functools.lru_cache(maxsize=None)
def _network(name: str) -> torch.nn.Module:
    return zoo.load_network(name, WEIGHTS_DIR)


@functools.lru_cache(maxsize=None)
def _images(name: str) -> torch.Tensor:
    from pytest_invstab.images import shepp_logan

    spec = zoo.get_spec(name)
    family = zoo.training_images(name, 1, REFERENCE_SEED)
    return torch.cat([shepp_logan(spec.size)[None], family]).float()


@functools.lru_cache(maxsize=None)
def _scan(name: str) -> torch.Tensor:
    from pytest_invstab.images import load_scan

    spec = zoo.get_spec(name)
    return load_scan(SCANS[spec.modality], spec.size)[None].float()


@pytest.fixture
def network(request: pytest.FixtureRequest) -> str:
    """The id of the network under test: parametrize with ``indirect=["network"]``."""
    name = getattr(request, "param", None)
    if name not in zoo.NAMES:
        raise pytest.UsageError(f"parametrize the 'network' fixture (indirect) with one of {', '.join(zoo.NAMES)}, "
                                f"got {name!r}")
    return name


@pytest.fixture(scope="session")
def cs_baseline():
    """The project's stable reference: the TV (Chambolle-Pock) CS baseline (see ``zoo.cs_reference``)."""
    return zoo.cs_reference()


@pytest.fixture
def reconstructor(network: str):
    """The trained network ``f(y, op)`` (eval mode)."""
    return _network(network)


@pytest.fixture
def operator(network: str):
    """The measurement operator the network was trained for (its modality, 128 x 128, its rate)."""
    return zoo.make_operator(network)


@pytest.fixture
def reference_images(network: str) -> torch.Tensor:
    """``[2, 128, 128]`` in [0, 1]: Shepp-Logan and a held-out image of the training family."""
    return _images(network).clone()


@pytest.fixture
def phantom_image(network: str) -> torch.Tensor:
    """``[1, 128, 128]``: Shepp-Logan alone (the erasure search bisects per image: one is enough)."""
    return _images(network)[:1].clone()


@pytest.fixture
def scan_images(network: str) -> torch.Tensor:
    """``[1, 128, 128]`` in [0, 1]: a real slice of the network's modality that it never saw in training."""
    return _scan(network).clone()
