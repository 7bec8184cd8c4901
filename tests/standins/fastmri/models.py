"""fastmri.models stand-in: ``Unet(in_chans, out_chans, chans, num_pool_layers, drop_prob)`` and
``VarNet(num_cascades, sens_chans, sens_pools, chans, pools)`` with fastMRI's forward signatures:
``Unet(image [B, C, H, W])`` and ``VarNet(masked_kspace [B, coils, H, W, 2], mask [B, 1, 1, W, 1],
num_low_frequencies)`` -> RSS image ``[B, H, W]``. Small networks, not fastMRI's architecture."""

import torch
from torch import nn

import fastmri


class Unet(nn.Module):
    def __init__(self, in_chans, out_chans, chans=32, num_pool_layers=4, drop_prob=0.0):
        super().__init__()
        self.in_chans, self.out_chans = in_chans, out_chans
        self.down_sample_layers = nn.ModuleList([nn.Conv2d(in_chans, chans, 3, padding=1)])
        self.conv = nn.Conv2d(chans, out_chans, 3, padding=1)

    def forward(self, image):
        return self.conv(torch.relu(self.down_sample_layers[0](image)))


class VarNet(nn.Module):
    def __init__(self, num_cascades=12, sens_chans=8, sens_pools=4, chans=18, pools=4, mask_center=True):
        super().__init__()
        self.sens_net = nn.Identity()
        self.cascades = nn.ModuleList([nn.Conv2d(2, 2, 3, padding=1) for _ in range(num_cascades)])

    def forward(self, masked_kspace, mask, num_low_frequencies=None):
        k = masked_kspace
        for conv in self.cascades:
            img = fastmri.ifft2c(k)  # [B, C, H, W, 2]
            b, c, h, w, _ = img.shape
            refined = conv(img.permute(0, 1, 4, 2, 3).reshape(b * c, 2, h, w)).reshape(b, c, 2, h, w)
            k = k - 0.1 * fastmri.fft2c(refined.permute(0, 1, 3, 4, 2).contiguous()) * ~mask
        return fastmri.rss(fastmri.complex_abs(fastmri.ifft2c(k)), dim=1)
