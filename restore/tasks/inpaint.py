"""Inpainting: ``A = diag(known)``; the measurement is the image with holes set to 0."""

from __future__ import annotations

import torch

from ..errors import InputError
from .base import Operator

__all__ = ["Inpaint"]


class Inpaint(Operator):
    """Keep the pixels where ``known`` is True.

    Parameters
    ----------
    known : torch.Tensor
        Bool, ``(H, W)``, ``(1, H, W)`` or ``(C, H, W)``: True = observed pixel.
    x_shape : tuple
        ``(C, H, W)`` of the image.
    sigma_y : float
        Noise on the observed pixels.
    """

    capabilities = frozenset({"pinv", "svd", "grad", "mask"})
    task = "inpaint"

    def __init__(self, known: torch.Tensor, x_shape, sigma_y: float = 0.0) -> None:
        super().__init__(x_shape, sigma_y)
        k = torch.as_tensor(known).bool()
        if k.ndim == 2:
            k = k[None]
        C, H, W = self.x_shape
        if k.ndim != 3 or k.shape[-2:] != (H, W) or k.shape[0] not in (1, C):
            raise InputError(f"mask is {tuple(k.shape)} but the image is {(C, H, W)} (C, H, W)")
        if k.all():
            raise InputError("mask has no hole (every pixel is known)")
        if not k.any():
            raise InputError("mask covers the whole image (nothing is known)")
        self.known = k

    def mask(self, like: torch.Tensor) -> torch.Tensor:
        return self.known.to(device=like.device, dtype=like.dtype)[None]

    def Vt(self, x):
        return x

    V = U = Ut = Vt

    def singulars(self, like):
        return self.mask(like)

    def A(self, x):
        return x * self.mask(x)

    A_adjoint = A_dagger = A

    def init(self, y: torch.Tensor) -> torch.Tensor:
        """Holes filled by push-pull interpolation of the known pixels (a smooth, cheap
        first guess; the zero-filled pseudo-inverse would bias the low frequencies)."""
        m = self.mask(y).expand(y.shape[0], 1, *y.shape[-2:])
        return y * m + push_pull_fill(y, m) * (1 - m)

    def _noise_support(self, n):
        return n * self.mask(n)

    def describe(self) -> dict:
        return {**super().describe(), "hole_fraction": float(1 - self.known.float().mean())}


def push_pull_fill(y: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Fill where ``m == 0`` with averages of known pixels, coarse to fine (push-pull,
    Gortler et al. 1996). ``y`` is ``(B, C, H, W)``, ``m`` ``(B, 1, H, W)`` in {0, 1}."""
    import torch.nn.functional as F

    if m.shape[-2] <= 1 and m.shape[-1] <= 1:
        return torch.where(m > 0, y, (y * m).sum((-2, -1), keepdim=True) / m.sum((-2, -1), keepdim=True).clamp(min=1))
    if bool((m > 0).all()):
        return y
    H, W = y.shape[-2:]
    ph, pw = H % 2, W % 2
    yp = F.pad(y * m, (0, pw, 0, ph))
    mp = F.pad(m, (0, pw, 0, ph))
    ys, ms = F.avg_pool2d(yp, 2), F.avg_pool2d(mp, 2)
    coarse_m = (ms > 0).to(m.dtype)
    coarse = push_pull_fill(ys / ms.clamp(min=1e-8), coarse_m)
    up = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)[..., :H, :W]
    return torch.where(m > 0, y, up)
