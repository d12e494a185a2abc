"""RePaint: Lugmayr et al., "RePaint: Inpainting using Denoising Diffusion Probabilistic
Models", CVPR 2022 (Algorithm 1, jump length 1)."""

from __future__ import annotations

import math

import torch

from .common import denoise, emit, option_ranges, randn_like, renoise, start


@option_ranges(resample=(1, 50), eta=(0, 1))
def repaint(denoiser, y, op, sigmas, *, generator=None, callback=None, clip: bool = True,
            resample: int = 1, eta: float = 1.0) -> torch.Tensor:
    """Known pixels are the measurement noised to the next level, unknown pixels an
    ancestral step of the prior; ``resample`` > 1 jumps back one level and repeats (the
    paper's ``r``; each repeat costs one more network evaluation)."""
    sig = [float(s) for s in sigmas]
    m = op.mask(y)
    x = start(op.init(y), sig[0], generator)
    n = len(sig) - 1
    for i in range(n):
        s, sn = sig[i], sig[i + 1]
        for u in range(max(1, resample)):
            x0 = denoise(denoiser, x, s, clip)
            unknown = renoise(x0, (x - x0) / s, s, sn, eta, generator)
            known = y + sn * randn_like(y, generator) if sn > 0 else y
            x = m * known + (1 - m) * unknown
            if u < resample - 1 and sn > 0:
                x = x + math.sqrt(s**2 - sn**2) * randn_like(x, generator)
        emit(callback, i, n, s, x, x0)
    return x
