"""DDRM: Kawar, Elad, Ermon & Song, "Denoising Diffusion Restoration Models",
NeurIPS 2022 (eqs. 6-8, in the spectral space of ``A = U S V^T``)."""

from __future__ import annotations

import math

import torch

from .common import denoise, emit, option_ranges, randn_like


@option_ranges(eta=(0, 1), eta_b=(0, 1))
def ddrm(denoiser, y, op, sigmas, *, generator=None, callback=None, clip: bool = True,
         eta: float = 0.85, eta_b: float = 1.0) -> torch.Tensor:
    """DDRM: per singular component, mix the denoiser's estimate with the measurement.

    In spectral coordinates ``x~ = V^T x``, ``y~ = S^+ U^T y`` with per-component noise
    ``sigma_y / s_i``. Unobserved components follow DDIM (eq. 7, first case); observed ones
    are pulled towards ``y~`` while the diffusion noise is below the measurement noise
    (second case) and replaced by it above (third case). ``eta``/``eta_b`` as in the
    paper (0.85 / 1.0).
    """
    sig = [float(s) for s in sigmas]
    ut = op.Ut(y)
    s_ = op.singulars(ut).expand_as(ut)
    obs = s_ > 0
    ybar = torch.where(obs, ut / s_.clamp(min=1e-12), torch.zeros_like(ut))
    if op.sigma_y > 0:
        sy = torch.where(obs, op.sigma_y / s_.clamp(min=1e-12), torch.full_like(ut, math.inf))
    else:
        sy = torch.where(obs, torch.zeros_like(ut), torch.full_like(ut, math.inf))
    s0 = sig[0]
    z = randn_like(ut, generator)
    init_obs = ybar + torch.sqrt((s0**2 - sy**2).clamp(min=0)) * z
    # eq. 6; unobserved components start from the operator's first guess (zero at the
    # top of the schedule, where it is drowned by noise anyway)
    xt = torch.where(obs & (sy < s0), init_obs, op.Vt(op.init(y)) + s0 * z)
    n = len(sig) - 1
    for i in range(n):
        s, sn = sig[i], sig[i + 1]
        x = op.V(xt)
        x0 = denoise(denoiser, x, s, clip)
        x0t = op.Vt(x0)
        z = randn_like(ut, generator)
        c = math.sqrt(1 - eta**2) * sn
        unobs = x0t + c * (xt - x0t) / s + eta * sn * z
        below = x0t + c * (ybar - x0t) / sy.clamp(min=1e-12) + eta * sn * z
        above = (1 - eta_b) * x0t + eta_b * ybar + torch.sqrt((sn**2 - (eta_b * sy) ** 2).clamp(min=0)) * z
        xt = torch.where(~obs, unobs, torch.where(sn < sy, below, above))
        if callback is not None:
            emit(callback, i, n, s, op.V(xt), x0)
    return op.V(xt)
