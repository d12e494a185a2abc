"""Noise level of an image, for tasks whose measurement noise is estimated when not given."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["estimate_sigma"]


def estimate_sigma(image: torch.Tensor) -> float:
    """Noise std of an image in [0, 1] units, from its finest wavelet coefficients.

    Donoho & Johnstone's robust median estimator (``skimage.restoration.estimate_sigma``),
    averaged over channels.
    """
    from skimage.restoration import estimate_sigma as sk_est

    a = image.detach().to("cpu", torch.float64)
    vals = []
    for b in range(a.shape[0]):
        arr = a[b].numpy().transpose(1, 2, 0)
        vals.append(float(np.mean(sk_est(arr, channel_axis=-1, average_sigmas=False))))
    return float(np.mean(vals))
