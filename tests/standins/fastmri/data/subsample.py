"""fastmri.data.subsample stand-in: RandomMaskFunc(center_fractions, accelerations)(shape, offset, seed)
returns ``(mask, num_low_frequencies)``, mask float ``[1, ..., W, 1]`` (columns, centred)."""

import numpy as np
import torch


class RandomMaskFunc:
    def __init__(self, center_fractions, accelerations, allow_any_combination=False, seed=None):
        self.center_fractions, self.accelerations = list(center_fractions), list(accelerations)
        self.rng = np.random.RandomState(seed)

    def __call__(self, shape, offset=None, seed=None):
        rng = np.random.RandomState(seed) if seed is not None else self.rng
        num_cols = shape[-2]
        choice = rng.randint(len(self.center_fractions))
        frac, acc = self.center_fractions[choice], self.accelerations[choice]
        num_low = round(num_cols * frac)
        prob = (num_cols / acc - num_low) / (num_cols - num_low)
        mask = rng.uniform(size=num_cols) < prob
        pad = (num_cols - num_low + 1) // 2
        mask[pad: pad + num_low] = True
        mask_shape = [1 for _ in shape]
        mask_shape[-2] = num_cols
        return torch.from_numpy(mask.reshape(*mask_shape).astype(np.float32)), num_low
