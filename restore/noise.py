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
    import warnings

    from skimage.restoration import estimate_sigma as sk_est

    a = image.detach().to("cpu", torch.float64)
    vals = []
    for b in range(a.shape[0]):
        arr = a[b].numpy().transpose(1, 2, 0)
        with warnings.catch_warnings():  # a flat image has no detail coefficients: no noise
            warnings.simplefilter("ignore", RuntimeWarning)
            est = np.nan_to_num(np.asarray(sk_est(arr, channel_axis=-1, average_sigmas=False), float))
        vals.append(float(np.mean(est)))
    return float(np.mean(vals))
