"""fastMRI models as reconstructors, by duck typing (fastMRI itself need not be importable).

* ``Unet`` (``in_chans`` 1 or 2): the zero-filled image (magnitude for 1 channel, real/imag for
  2) normalised per image as fastMRI's ``UnetDataTransform`` does (``normalize_instance``:
  mean/std, clamp to +-6), the output de-normalised: :func:`from_image_network` with
  ``normalize="instance"``.
* ``VarNet``: our measurements as fastMRI's masked k-space ``[B, coils, H, W, 2]`` (single-coil
  operators give one coil), its mask ``[B, 1, 1, W, 1]`` (bool) and ``num_low_frequencies``
  (``None``: VarNet finds it from the mask). The output is VarNet's RSS image ``[B, H, W]``.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import InvalidInputError
from ..layouts import fastmri_mask, measurements_to_kspace
from ..reconstructor import ImageNetworkReconstructor, from_image_network


def _is_varnet(model: Any) -> bool:
    return hasattr(model, "cascades") and hasattr(model, "sens_net")


def _is_unet(model: Any) -> bool:
    return hasattr(model, "in_chans") and hasattr(model, "down_sample_layers")


class VarNetReconstructor(torch.nn.Module):
    """``f(y, op) = varnet(masked_kspace, mask, num_low_frequencies)`` in fastMRI's layout."""

    def __init__(self, model: torch.nn.Module, num_low_frequencies: int | None = None):
        super().__init__()
        self.model = model
        self.num_low_frequencies = num_low_frequencies

    def forward(self, y: torch.Tensor, op: Any) -> torch.Tensor:
        k = measurements_to_kspace(y, op, "fastmri")  # [B, (C,) H, W, 2]
        if k.dim() == 4:
            k = k[:, None]  # single-coil: one coil
        mask = fastmri_mask(op, batch=y.shape[0], multicoil=True).to(k.device)
        return self.model(k, mask, self.num_low_frequencies)

    def extra_repr(self) -> str:
        return f"wraps {type(self.model).__name__}"


def from_fastmri(model: torch.nn.Module, *, normalize: str | Any = "instance",
                 num_low_frequencies: int | None = None) -> torch.nn.Module:
    """A fastMRI ``Unet`` or ``VarNet`` as a reconstructor ``f(y, op)`` (module docstring).

    ``normalize`` (Unet only): ``"instance"`` (fastMRI's), ``None`` or a callable (see
    :func:`from_image_network`). ``num_low_frequencies`` (VarNet only): passed to its forward.
    """
    if _is_varnet(model):
        return VarNetReconstructor(model, num_low_frequencies)
    if _is_unet(model):
        chans = int(model.in_chans)
        if chans not in (1, 2):
            raise InvalidInputError(f"a fastMRI Unet with in_chans={chans} is not an MRI image network (1 or 2)")
        return from_image_network(model, init="direct", complex_as_channels=chans == 2, normalize=normalize)
    raise InvalidInputError(
        f"from_fastmri takes fastMRI's Unet or VarNet, got {type(model).__name__}; for another image-to-image "
        "network use from_image_network(net, normalize='instance')"
    )


__all__ = ["from_fastmri", "VarNetReconstructor", "ImageNetworkReconstructor"]
