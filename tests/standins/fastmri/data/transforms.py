"""fastmri.data.transforms stand-in: apply_mask and normalize_instance (fastMRI 0.3 signatures)."""

import torch


def apply_mask(data, mask_func, offset=None, seed=None, padding=None):
    shape = (1,) * len(data.shape[:-3]) + tuple(data.shape[-3:])
    mask, num_low = mask_func(shape, offset, seed)
    return data * mask + 0.0, mask, num_low


def normalize(data, mean, stddev, eps=0.0):
    return (data - mean) / (stddev + eps)


def normalize_instance(data, eps=0.0):
    mean, std = data.mean(), data.std()
    return normalize(data, mean, std, eps), mean, std
