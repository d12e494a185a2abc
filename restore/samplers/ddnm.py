"""DDNM+ : Wang, Yu & Zhang, "Zero-Shot Image Restoration Using Denoising Diffusion
Null-Space Model", ICLR 2023 (Algorithm 1; noise-aware DDNM+ eqs. 17-19)."""

from __future__ import annotations

import math

import torch

from .common import ancestral_split, denoise, emit, option_ranges, randn_like, start


@option_ranges(eta=(0, 1))
def ddnm(denoiser, y, op, sigmas, *, generator=None, callback=None, clip: bool = True, eta: float = 0.85) -> torch.Tensor:
    """DDNM+: replace the range-space part of each ``x0`` estimate with ``A_dagger y``.

    Each step: ``x0 = D(x, sigma)``; range-null correction
    ``x0 <- x0 - lam * A_dagger(A x0 - y)`` (eq. 13; with measurement noise
    ``lam = min(1, sigma_next / sigma_y)``, eq. 19); then the DDIM move to ``sigma_next``
    whose range-space noise is shrunk so that injected measurement noise plus fresh noise
    has std ``sigma_next`` (DDNM+'s ``Phi_t``).

    Parameters
    ----------
    eta : float
        DDIM stochasticity (0 deterministic, 1 ancestral); the paper uses 0.85.
    """
    sig = [float(s) for s in sigmas]
    sy = op.sigma_y
    x = start(op.init(y), sig[0], generator)
    n = len(sig) - 1
    for i in range(n):
        s, sn = sig[i], sig[i + 1]
        x0 = denoise(denoiser, x, s, clip)
        eps = (x - x0) / s
        lam = 1.0 if sy == 0 else min(1.0, sn / sy)
        x0c = x0 - lam * op.A_dagger(op.A(x0) - y) if lam > 0 else x0
        if sn > 0:
            down, up = ancestral_split(s, sn, eta)
            move = down * eps + (up * randn_like(x, generator) if up > 0 else 0.0)
            if sy > 0 and lam > 0:
                gamma = math.sqrt(max(sn**2 - (lam * sy) ** 2, 0.0)) / sn
                move = move - (1.0 - gamma) * op.project(move)
            x = x0c + move
        else:
            x = x0c
        emit(callback, i, n, s, x, x0c)
    return x
