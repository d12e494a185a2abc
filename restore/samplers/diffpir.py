"""DiffPIR: Zhu et al., "Denoising Diffusion Models for Plug-and-Play Image
Restoration", CVPR Workshops 2023 (Algorithm 1)."""

from __future__ import annotations

import math

import torch

from .common import denoise, emit, option_ranges, randn_like, start


@option_ranges(lam=(0, None), zeta=(0, 1))
def diffpir(denoiser, y, op, sigmas, *, generator=None, callback=None, clip: bool = True,
            lam: float = 7.0, zeta: float = 0.3) -> torch.Tensor:
    """Half-quadratic splitting: denoise, then solve the data sub-problem exactly.

    Each step: ``x0 = D(x, sigma)``; ``x0 <- argmin_z ||y - A z||^2 + rho ||z - x0||^2``
    with ``rho = lam * sigma_y^2 / sigma^2`` (eq. 13; a hard projection when
    ``sigma_y = 0``); then ``x = x0 + sigma_next (sqrt(1 - zeta) eps_hat + sqrt(zeta) z)``
    (eq. 15).
    """
    sig = [float(s) for s in sigmas]
    x = start(op.init(y), sig[0], generator)
    n = len(sig) - 1
    for i in range(n):
        s, sn = sig[i], sig[i + 1]
        x0 = denoise(denoiser, x, s, clip)
        x0 = op.prox(x0, y, lam * op.sigma_y**2 / s**2)
        if sn > 0:
            eps = (x - x0) / s
            x = x0 + sn * (math.sqrt(1 - zeta) * eps + math.sqrt(zeta) * randn_like(x, generator))
        else:
            x = x0
        emit(callback, i, n, s, x, x0)
    return x
