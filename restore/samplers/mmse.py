"""MMSE: one evaluation of the prior, the posterior mean for Gaussian denoising
(Tweedie's formula; Efron 2011)."""

from __future__ import annotations

import torch

from .common import as_sigma, emit


def mmse(denoiser, y, op, sigmas=None, *, generator=None, callback=None) -> torch.Tensor:
    """``x = D(y, sigma_y)``: the prior's denoiser at the measurement's noise level.

    Deterministic; ``sigmas`` and ``generator`` are ignored.
    """
    if op.sigma_y <= 0:
        return y.clone()
    x = denoiser(y, as_sigma(y, op.sigma_y))
    emit(callback, 0, 1, op.sigma_y, x, x)
    return x
