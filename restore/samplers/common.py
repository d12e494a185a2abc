"""Step maths shared by the samplers (variance-exploding view of the VP prior).

A state at noise level ``sigma`` is ``x = x0 + sigma * eps``. With the denoiser's estimate
``x0_hat = D(x, sigma)`` the implied noise is ``eps_hat = (x - x0_hat) / sigma``. Every
sampler here moves from ``sigma`` to ``sigma_next`` with :func:`renoise`: a deterministic
part along ``eps_hat`` and a fresh part, split by ``eta`` as DDIM does (Song et al. 2021,
eq. 12; ``eta=1`` is DDPM's ancestral step, ``eta=0`` deterministic DDIM), in the form of
k-diffusion's ``get_ancestral_step``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

__all__ = ["Denoiser", "Generators", "ancestral_split", "as_sigma", "denoise", "emit", "from_pose", "randn_like", "renoise",
           "to_pose"]

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


Generators = torch.Generator | Sequence[torch.Generator] | None


def option_ranges(positive: tuple[str, ...] = (), **ranges: tuple[float | None, float | None]):
    """Declare the closed range ``(lo, hi)`` (None: open on that side) of a sampler's own
    options, and those of them that must be above their ``lo`` (``positive``: dps's guidance
    at 0 is no guidance); the API checks them, with the options' types, before any work."""
    def mark(fn):
        fn.option_ranges = ranges
        fn.option_positive = frozenset(positive)
        return fn

    return mark


def randn_like(x: torch.Tensor, generator: Generators) -> torch.Tensor:
    """Standard normal noise shaped like ``x``, drawn on the generator's device (so a CPU
    generator gives the same noise whatever device ``x`` lives on).

    ``generator`` may be a sequence, one per image of a batch: ``x``'s rows are split into
    that many equal groups (an image's posterior samples are consecutive rows) and each
    group is drawn from its own generator, so an image's noise, hence its result, does not
    depend on its batch-mates."""
    if generator is None or isinstance(generator, torch.Generator):
        dev = generator.device if generator is not None else torch.device("cpu")
        return torch.randn(x.shape, generator=generator, device=dev, dtype=torch.float32).to(x)
    n = len(generator)
    if n == 0 or x.shape[0] % n:
        raise ValueError(f"{n} generators for a batch of {x.shape[0]} rows")
    rows = (x.shape[0] // n, *x.shape[1:])
    return torch.cat([torch.randn(rows, generator=g, device=g.device, dtype=torch.float32).to(x)
                      for g in generator])


def ancestral_split(sigma: float, sigma_next: float, eta: float) -> tuple[float, float]:
    """``(sigma_down, sigma_up)`` with ``sigma_down^2 + sigma_up^2 = sigma_next^2``."""
    if sigma_next <= 0:
        return 0.0, 0.0
    up = min(sigma_next, eta * math.sqrt(max(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2, 0.0)))
    return math.sqrt(max(sigma_next**2 - up**2, 0.0)), up


def renoise(
    x0: torch.Tensor,
    eps_hat: torch.Tensor,
    sigma: float,
    sigma_next: float,
    eta: float,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """``x0 + sigma_down * eps_hat + sigma_up * z``: the DDIM/DDPM move to ``sigma_next``."""
    down, up = ancestral_split(sigma, sigma_next, eta)
    out = x0 + down * eps_hat
    if up > 0:
        out = out + up * randn_like(x0, generator)
    return out


def denoise(denoiser: Denoiser, x: torch.Tensor, sigma: float, clip: bool, pose: int = 0) -> torch.Tensor:
    """``D(x, sigma)``, clipped to the image range [0, 1] when ``clip`` (DDPM's
    ``clip_denoised``: at high noise the estimate's errors scale with sigma).

    ``pose`` (0-7) runs the denoiser on a flipped / rotated copy and maps the result back
    (the prior is not exactly equivariant; cycling poses over iterations averages its
    orientation bias away at no extra cost, as DPIR's code does). A denoiser whose result
    depends on where the image's pixels lie (``poses_itself = True``: JPEG's, which works on
    the file's 8x8 grid) takes ``pose`` and applies it around its own calls of the prior."""
    if getattr(denoiser, "poses_itself", False):
        x0 = denoiser(x, as_sigma(x, sigma), pose=pose)
    else:
        x0 = from_pose(denoiser(to_pose(x, pose), as_sigma(x, sigma)), pose)
    return x0.clamp(0, 1) if clip else x0


def to_pose(x: torch.Tensor, k: int) -> torch.Tensor:
    """``x`` in pose ``k`` (0-7): flipped left-right for ``k >= 4``, then turned ``k mod 4``
    quarter turns."""
    k %= 8
    x = x.flip(-1) if k >= 4 else x
    return torch.rot90(x, k % 4, dims=(-2, -1)) if k % 4 else x


def from_pose(x: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of :func:`to_pose`."""
    k %= 8
    x = torch.rot90(x, -(k % 4), dims=(-2, -1)) if k % 4 else x
    return x.flip(-1) if k >= 4 else x


def as_sigma(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return torch.full((x.shape[0],), float(sigma), dtype=torch.float32, device=x.device)


def emit(callback, i: int, n: int, sigma: float, x: torch.Tensor, x0: torch.Tensor) -> None:
    if callback is not None:
        callback({"i": i, "n": n, "sigma": float(sigma), "x": x, "x0": x0})


def start(y_init: torch.Tensor, sigma0: float, generator) -> torch.Tensor:
    """Initial state: the pseudo-inverse estimate plus noise at the first level (at the top
    of the schedule the estimate is irrelevant; below it this is SDEdit's start)."""
    return y_init + sigma0 * randn_like(y_init, generator)
