"""Gradient-guided samplers: DPS and PiGDM share the vector-Jacobian step."""

from __future__ import annotations

import torch

from .common import as_sigma, emit, option_ranges, renoise, start

_DATA_VAR = 0.25  # variance of images in [0, 1] assumed by PiGDM's r_t (1 in [-1, 1] units)


def _guided(denoiser, y, op, sigmas, generator, callback, eta, direction, clip):
    """Shared loop: ``x0 = D(x, sigma)`` with a gradient, ``direction`` returns
    ``(x0_guided)`` from ``(x, x0, sigma)``, then a DDIM/DDPM move."""
    sig = [float(s) for s in sigmas]
    x = start(op.init(y), sig[0], generator)
    n = len(sig) - 1
    for i in range(n):
        s, sn = sig[i], sig[i + 1]
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            x0 = denoiser(xg, as_sigma(xg, s))
            x0g, x_shift = direction(xg, x0, s)
        x0g = x0g.detach().clamp(0, 1) if clip else x0g.detach()
        eps = (x - x0g) / s
        x = renoise(x0g, eps, s, sn, eta, generator) - x_shift
        emit(callback, i, n, s, x, x0g)
    return x.detach()


@option_ranges(zeta=(0, None), eta=(0, 1), positive=("zeta",))
def dps(denoiser, y, op, sigmas, *, generator=None, callback=None,
        zeta: float = 10.0, eta: float = 1.0, clip: bool = True) -> torch.Tensor:
    """DPS: Chung et al., "Diffusion Posterior Sampling for General Noisy Inverse
    Problems", ICLR 2023 (Algorithm 1).

    After each ancestral step, ``x -= zeta_i * grad_x ||y - A D(x, sigma)||``: the gradient
    of the residual's norm, i.e. the paper's step ``zeta' / ||y - A x0||`` on the squared
    norm (its normalisation), for images in [-1, 1], converted here to the VE state in
    [0, 1] units (factor ``(1 + 4 sigma^2) / 2``).

    ``zeta`` is the step for 100 evaluations; with ``n`` it is ``zeta n / 100``. A constant
    step (the paper's, meant for 1,000 steps) barely guides a short run and a large one
    diverges there; the best constant grew with ``n`` (validation crops, random 80 %:
    1 at 20, 5 at 50, 10 at 100 evaluations), which this rule follows:
    20 / 50 / 100 evaluations score 20.32 / 24.10 / 26.20 dB against 19.21 / 20.64 / 22.37
    with the old constant 1 (``benchmarks/results/dps_step.md``).
    """
    step = zeta * max(len(sigmas) - 1, 1) / 100.0

    def direction(xg, x0, s):
        r = torch.linalg.vector_norm((y - op.A(x0)).flatten(1), dim=1).sum()
        (g,) = torch.autograd.grad(r, xg)
        return x0.detach(), step * (1 + 4 * s**2) / 2 * g

    return _guided(denoiser, y, op, sigmas, generator, callback, eta, direction, clip)


@option_ranges(eta=(0, 1))
def pigdm(denoiser, y, op, sigmas, *, generator=None, callback=None, eta: float = 1.0,
          clip: bool = True) -> torch.Tensor:
    """PiGDM: Song, Vahdat, Mardani & Kautz, "Pseudoinverse-Guided Diffusion Models for
    Inverse Problems", ICLR 2023 (eqs. 5-8).

    The guidance ``(dx0/dx)^T A^T (r^2 A A^T + sigma_y^2 I)^-1 (y - A x0)`` (eq. 8, applied
    through the SVD), ``r^2 = sigma^2 v / (sigma^2 + v)``, is added to the score, i.e.
    ``x0 <- x0 + sigma^2 g`` before a DDIM step.
    """

    def direction(xg, x0, s):
        r2 = s**2 * _DATA_VAR / (s**2 + _DATA_VAR)
        sv = op.singulars(x0)
        resid = op.Ut(y) - sv * op.Vt(x0)
        v = op.V(sv / (r2 * sv * sv + op.sigma_y**2).clamp(min=1e-12) * resid)
        (g,) = torch.autograd.grad(x0, xg, grad_outputs=v.detach())
        return x0.detach() + s**2 * g, 0.0

    return _guided(denoiser, y, op, sigmas, generator, callback, eta, direction, clip)
