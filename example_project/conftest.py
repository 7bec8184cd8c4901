"""Fixtures of the example stability suite: which network is tested, its operator, its images.

Every test in ``tests/test_stability.py`` is parametrized over the networks by id through the
``network`` fixture: ``ell50``, ``deepmri``, ``dagan``, and ``cs-ell50``, ``cs-deepmri``,
``cs-dagan``, the compressed-sensing reference on the same operator and images as that network.
The fixtures the plugin's markers use follow from it:

* ``reconstructor``: the trained network (weights from ``weights/``, or from the folder in the
  environment variable ``EXAMPLE_WEIGHTS_DIR``), or ``cs_baseline`` for a ``cs-*`` row;
* ``operator``: the network's own modality at the rate it was trained for
  (Radon with 12 angles for ``ell50``, Cartesian Fourier at 33 % / 20 % for ``deepmri`` / ``dagan``);
* ``reference_images``: Shepp-Logan plus two held-out images of the network's training family
  (random ellipses for ``ell50``, textured phantoms otherwise), seeded, 64 x 64, values in [0, 1];
* ``cs_baseline``: this project's stable reference, the TV (Chambolle–Pock) CS baseline
  (``zoo.cs_reference()``, the plugin's default too); the markers pass the same object as ``baseline=``.
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

#: Ids of the rows: the networks, then the CS reference on each network's data.
CS_PREFIX = "cs-"
IDS = (*zoo.NAMES, *(CS_PREFIX + name for name in zoo.NAMES))
#: Seed of the held-out reference images (training uses 1000 and validation 1001).
REFERENCE_SEED = 7
#: Held-out images of the training family added to Shepp-Logan.
N_FAMILY_IMAGES = 2
#: Where the weights are read from (set EXAMPLE_WEIGHTS_DIR to test freshly trained ones).
WEIGHTS_DIR = os.environ.get("EXAMPLE_WEIGHTS_DIR") or str(zoo.WEIGHTS_DIR)


@functools.lru_cache(maxsize=None)
def _network(name: str) -> torch.nn.Module:
    return zoo.load_network(name, WEIGHTS_DIR)


@functools.lru_cache(maxsize=None)
def _images(name: str) -> torch.Tensor:
    from pytest_invstab.images import shepp_logan

    spec = zoo.get_spec(name)
    family = zoo.training_images(name, N_FAMILY_IMAGES, REFERENCE_SEED)
    return torch.cat([shepp_logan(spec.size)[None], family]).float()


@pytest.fixture
def network(request: pytest.FixtureRequest) -> str:
    """The id of the row under test: parametrize with ``indirect=["network"]``."""
    name = getattr(request, "param", None)
    if name not in IDS:
        raise pytest.UsageError(f"parametrize the 'network' fixture (indirect) with one of {', '.join(IDS)}, got {name!r}")
    return name


def _data_of(network: str) -> str:
    """The trained network whose operator and images a row uses (``cs-dagan`` -> ``dagan``)."""
    return network.removeprefix(CS_PREFIX)


@pytest.fixture(scope="session")
def cs_baseline():
    """The project's stable reference: the TV (Chambolle–Pock) CS baseline (see ``zoo.cs_reference``)."""
    return zoo.cs_reference()


@pytest.fixture
def reconstructor(network: str, cs_baseline):
    """The trained network ``f(y, op)`` (eval mode), or the CS baseline for a ``cs-*`` row."""
    if network.startswith(CS_PREFIX):
        return cs_baseline
    return _network(network)


@pytest.fixture
def operator(network: str):
    """The measurement operator the network was trained for (its modality, 64 x 64, its rate)."""
    return zoo.make_operator(_data_of(network))


@pytest.fixture
def reference_images(network: str) -> torch.Tensor:
    """``[3, 64, 64]`` in [0, 1]: Shepp-Logan and two held-out images of the training family."""
    return _images(_data_of(network)).clone()
