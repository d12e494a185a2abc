"""Denoising: ``A = I``, ``y = x + sigma_y n``."""

from __future__ import annotations

import numpy as np
import torch

from .base import Operator

__all__ = ["Denoise", "estimate_sigma"]


class Denoise(Operator):
    """Identity operator with Gaussian noise of std ``sigma_y`` (image units)."""

    capabilities = frozenset({"pinv", "svd", "grad", "identity"})
    task = "denoise"

    def Vt(self, x):
        return x

    V = U = Ut = Vt

    def singulars(self, like):
        return torch.ones((), dtype=like.dtype, device=like.device)

    def A(self, x):
        return x

    A_adjoint = A_dagger = A


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
