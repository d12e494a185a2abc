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
    ``lam = min(1, sigma_next / sigma_y)``, eq. 19, per singular value where they differ);
    then the DDIM move to ``sigma_next`` whose range-space noise is shrunk so that injected
    measurement noise plus fresh noise has std ``sigma_next`` (DDNM+'s ``Phi_t``).

    Parameters
    ----------
    eta : float
        DDIM stochasticity (0 deterministic, 1 ancestral); the paper uses 0.85.
    """
    sig = [float(s) for s in sigmas]
    sy = op.sigma_y
    x = start(op.init(y), sig[0], generator)
    n = len(sig) - 1
    # with noise and an operator whose singular values differ (a blur: down to its cutoff), each
    # spectral component i gets its own lam_i = min(1, sigma_next r_i / sigma_y), r_i = s_i / max s
    # (eq. 19 per singular value, relative to the best-measured one): one lam for all put up to
    # 1000 x sigma_y of noise into a blur's weakest components (deblurring gave 6 dB). Equal
    # singular values (denoise, inpaint, sr) give the one lam as before.
    spectral = False
    if sy > 0 and "svd" in op.capabilities:
        ut = op.Ut(y)
        s_ = op.singulars(ut).expand_as(ut)
        obs = s_ > 0
        s_safe = s_.clamp(min=1e-12)
        rel = s_ / s_.max().clamp(min=1e-12)
        spectral = bool(obs.any()) and float(rel[obs].min()) < 1 - 1e-6
    for i in range(n):
        s, sn = sig[i], sig[i + 1]
        x0 = denoise(denoiser, x, s, clip)
        eps = (x - x0) / s
        if spectral:
            lam = torch.where(obs, (sn * rel / sy).clamp(max=1.0), torch.zeros_like(s_))
            x0c = x0 - op.V(lam * (s_ * op.Vt(x0) - ut) / s_safe) if sn > 0 else x0
        else:
            lam = 1.0 if sy == 0 else min(1.0, sn / sy)
            x0c = x0 - lam * op.A_dagger(op.A(x0) - y) if lam > 0 else x0
        if sn > 0:
            down, up = ancestral_split(s, sn, eta)
            move = down * eps + (up * randn_like(x, generator) if up > 0 else 0.0)
            if spectral:  # each component's injected noise (lam_i sigma_y / r_i) plus the fresh one: sigma_next
                gamma = torch.sqrt((sn**2 - (lam * sy / rel.clamp(min=1e-12)) ** 2).clamp(min=0.0)) / sn
                move = move - op.V(torch.where(obs, (1.0 - gamma) * op.Vt(move), torch.zeros_like(s_)))
            elif sy > 0 and lam > 0:
                gamma = math.sqrt(max(sn**2 - (lam * sy) ** 2, 0.0)) / sn
                move = move - (1.0 - gamma) * op.project(move)
            x = x0c + move
        else:
            x = x0c
        emit(callback, i, n, s, x, x0c)
    return x
