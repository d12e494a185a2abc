"""The prior as one denoiser ``D(x, sigma) -> x0_hat``.

Images are in [0, 1], ``sigma`` in the same units (25/255 = 0.098). This module is the
only place that knows the network's value range ([-1, 1]), its input scaling and its
timesteps (k-diffusion ``external.py`` does the same for VP models).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..paths import PREDICTIONS
from ..tiling import tile_layout, tile_weights
from .schedule import VPSchedule
from .unet import UNet

__all__ = ["PREDICTIONS", "Prior", "preconditioning", "vp_scale"]


def vp_scale(sn: torch.Tensor) -> torch.Tensor:
    """The network's input scale ``sqrt(abar) = 1 / sqrt(1 + sn^2)`` at noise ``sn`` ([-1, 1]
    units): it sees ``vp_scale(sn) * (x0 + sn * n)``, in training and in use."""
    return 1.0 / torch.sqrt(1.0 + sn**2)


def preconditioning(prediction: str, sn: torch.Tensor, sigma_data: float = 0.5):
    """``(c_skip, c_out)`` with ``D = c_skip x + c_out F`` at noise ``sn`` ([-1, 1] units)."""
    if prediction == "eps":
        return torch.ones_like(sn), -sn
    sd2 = sigma_data**2
    return sd2 / (sn**2 + sd2), sn * sigma_data / torch.sqrt(sn**2 + sd2)


class Prior:
    """U-Net + noise schedule, seen from outside as the MMSE denoiser ``D(x, sigma)``.

    Parameters
    ----------
    net : UNet
        The network ``F`` (VP-scaled input, continuous timestep).
    schedule : VPSchedule
        The schedule the network was trained with.
    tile : int or None
        Largest tile side (pixels) one network call sees. Larger images are processed in
        overlapping tiles whose seams are blended; ``None`` disables tiling.
    info : dict, optional
        Free-form metadata (training data, steps); kept with the weights.
    prediction : {"eps", "edm"}
        What ``F`` predicts: the noise (DDPM, ``D = x - sigma F``), or the EDM-preconditioned
        target (Karras et al. 2022, ``D = c_skip x + c_out F`` in [-1, 1] units), whose
        clean-image estimate stays good at large sigma.
    sigma_data : float
        EDM's data standard deviation in [-1, 1] units (``edm`` only).

    Notes
    -----
    Gray images (1 channel) are replicated to the network's 3 channels and the result
    averaged back; the network was trained on gray crops with channel-identical noise too.
    """

    def __init__(
        self,
        net: UNet,
        schedule: VPSchedule,
        *,
        tile: int | None = 1024,
        tile_overlap: int = 32,
        name: str = "",
        info: dict | None = None,
        prediction: str = "eps",
        sigma_data: float = 0.5,
    ) -> None:
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
        self.prediction = prediction
        self.sigma_data = float(sigma_data)
        self.net = net
        self.schedule = schedule
        self.tile = tile
        self.tile_overlap = tile_overlap
        self.name = name
        self.info = dict(info or {})
        self.net.eval()

    # -- plumbing -------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: str | torch.device) -> Prior:
        """Move the network; on the CPU its weights are kept channels-last (see
        :meth:`_net_padded`)."""
        dev = torch.device(device)
        fmt = torch.channels_last if dev.type == "cpu" else torch.contiguous_format
        self.net.to(dev, memory_format=fmt)
        return self

    @property
    def sigma_min(self) -> float:
        return self.schedule.sigma_min

    @property
    def sigma_max(self) -> float:
        return self.schedule.sigma_max

    def _sigma_batch(self, sigma, batch: int, device) -> torch.Tensor:
        s = torch.as_tensor(sigma, dtype=torch.float32, device=device)
        if s.ndim == 0:
            s = s.expand(batch)
        s = s.reshape(-1)
        if s.shape[0] != batch:
            raise ValueError(f"sigma has {s.shape[0]} entries for a batch of {batch}")
        return s

    # -- the denoiser ---------------------------------------------------------------
    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """``D(x, sigma)``: the posterior-mean estimate of the clean image.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, H, W)`` noisy images in [0, 1] units (values may leave [0, 1]).
        sigma : float or torch.Tensor
            Noise standard deviation in image units, a scalar or one per batch item.

        Returns
        -------
        torch.Tensor
            The denoised estimate, same shape as ``x`` (not clipped).
        """
        if x.ndim != 4:
            raise ValueError(f"expected a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
        B, C, H, W = x.shape
        s = self._sigma_batch(sigma, B, x.device)
        cin = self.net.in_channels
        if C == 1 and cin == 3:
            return self(x.expand(B, 3, H, W), s).mean(dim=1, keepdim=True)
        if C != cin:
            raise ValueError(f"the prior takes 1 or {cin} channels, got {C}")
        t = self.schedule.t_from_sigma(s.double()).float()
        sn = (2.0 * s.double())[:, None, None, None]  # sigma in the network's [-1, 1] units
        u = (2.0 * x - 1.0).mul_(vp_scale(sn).float())
        if self.tile is not None and max(H, W) > self.tile:
            out = self._tiled(u, t)
        else:
            out = self._net_padded(u, t)
        del u
        c_skip, c_out = preconditioning(self.prediction, sn, self.sigma_data)
        # 0.5 * (c_skip (2x - 1) + c_out out + 1), in place: a large image is held at most
        # three times at once (x, the network input or the result, the network output)
        xn = 2.0 * x - 1.0
        return xn.mul_(c_skip.float()).add_(out.mul_(c_out.float())).add_(1.0).mul_(0.5)

    def _net_padded(self, u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        m = self.net.size_multiple
        H, W = u.shape[-2:]
        ph, pw = (-H) % m, (-W) % m
        if ph or pw:
            mode = "reflect" if (ph < H and pw < W) else "replicate"
            u = F.pad(u, (0, pw, 0, ph), mode=mode)
        if u.device.type == "cpu":  # oneDNN's convolutions run 1.1-1.4x faster channels-last
            u = u.contiguous(memory_format=torch.channels_last)
        return self.net(u, t)[..., :H, :W]

    def _tiled(self, u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Overlapping tiles, blended with a linear ramp over the overlap."""
        H, W = u.shape[-2:]
        T, ov, m = int(self.tile), int(self.tile_overlap), self.net.size_multiple
        ys, xs = tile_layout(H, T, ov, m), tile_layout(W, T, ov, m)
        out = torch.zeros_like(u)
        wsum = torch.zeros((1, 1, H, W), dtype=u.dtype, device=u.device)
        for y0, th in ys:
            for x0, tw in xs:
                patch = self._net_padded(u[..., y0 : y0 + th, x0 : x0 + tw], t)
                w = tile_weights(y0, th, H, x0, tw, W, ov, like=u)
                out[..., y0 : y0 + th, x0 : x0 + tw] += patch * w
                wsum[..., y0 : y0 + th, x0 : x0 + tw] += w
        return out / wsum
