"""A small, fully convolutional U-Net built for cost per pixel.

The network sees the VP-DDPM input ``x_t`` (image in [-1, 1] scaled by ``sqrt(abar_t)``
plus noise) and a continuous timestep ``t``, and predicts the noise ``eps`` (Ho et al.
2020, the convention of standard DDPM checkpoints and of the shipped prior) or EDM's
preconditioned target (Karras et al. 2022), as the prior's config says. Only :mod:`restore.prior.denoiser`
knows this; everything else sees ``D(x, sigma)``.

Cost levers (see ``pretrained/README.md`` for the measured GFLOPs):

* a pixel-unshuffle (space-to-depth) stem, so no convolution runs at full resolution;
* few channels where the resolution is high, more where it is low;
* residual blocks without attention and without normalisation (DRUNet-style), the
  noise level entering each block as a FiLM scale/shift; the last convolution of every
  block starts at zero so the network starts as a near-identity and trains fast;
* skip connections by addition (no concatenation), down/up-sampling by strided and
  pixel-shuffle convolutions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UNet"]


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of continuous timesteps ``t`` (shape ``(B,)``)."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half
    )
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, channels: int, emb_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(x))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(h * (1 + scale) + shift)
        return x + self.conv2(h)


class UNet(nn.Module):
    """Noise-conditional U-Net predicting ``eps``.

    Parameters
    ----------
    in_channels : int
        Image channels (3; gray images are replicated by the prior).
    channels : sequence of int
        Width of each level; level 0 runs at 1/``unshuffle`` of the image resolution and
        every further level halves it again.
    blocks : sequence of int
        Residual blocks per level, on the way down and again on the way up (the last
        level, the bottom, runs its blocks once).
    unshuffle : int
        Space-to-depth factor of the stem.
    emb_dim : int
        Width of the noise-level embedding.
    """

    def __init__(
        self,
        in_channels: int = 3,
        channels: tuple[int, ...] = (64, 128, 192, 256),
        blocks: tuple[int, ...] = (1, 1, 2, 2),
        unshuffle: int = 2,
        emb_dim: int = 256,
    ) -> None:
        super().__init__()
        if len(channels) != len(blocks) or len(channels) < 1:
            raise ValueError("channels and blocks must be non-empty and of equal length")
        self.in_channels = in_channels
        self.channels = tuple(channels)
        self.blocks = tuple(blocks)
        self.unshuffle = unshuffle
        self.emb_dim = emb_dim
        self.t_dim = 64
        self.emb = nn.Sequential(
            nn.Linear(self.t_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim), nn.SiLU()
        )
        c0 = channels[0]
        self.head = nn.Conv2d(in_channels * unshuffle**2, c0, 3, padding=1)
        L = len(channels)
        self.down_blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for i in range(L):
            self.down_blocks.append(
                nn.ModuleList(ResBlock(channels[i], emb_dim) for _ in range(blocks[i]))
            )
            if i < L - 1:
                self.downs.append(nn.Conv2d(channels[i], channels[i + 1], 2, stride=2))
                # pixel-shuffle upsampling: 1x1 conv to 4x channels, then depth-to-space
                self.ups.append(nn.Conv2d(channels[i + 1], 4 * channels[i], 1))
                self.up_blocks.append(
                    nn.ModuleList(ResBlock(channels[i], emb_dim) for _ in range(blocks[i]))
                )
        self.tail = nn.Conv2d(c0, in_channels * unshuffle**2, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    @property
    def size_multiple(self) -> int:
        """Height and width must be multiples of this."""
        return self.unshuffle * 2 ** (len(self.channels) - 1)

    def config(self) -> dict:
        return {
            "in_channels": self.in_channels,
            "channels": list(self.channels),
            "blocks": list(self.blocks),
            "unshuffle": self.unshuffle,
            "emb_dim": self.emb_dim,
        }

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.emb(timestep_embedding(t, self.t_dim))
        h = self.head(F.pixel_unshuffle(x, self.unshuffle))
        skips = []
        L = len(self.channels)
        for i in range(L):
            for blk in self.down_blocks[i]:
                h = blk(h, emb)
            if i < L - 1:
                skips.append(h)
                h = self.downs[i](h)
        for i in reversed(range(L - 1)):
            h = F.pixel_shuffle(self.ups[i](h), 2) + skips[i]
            for blk in self.up_blocks[i]:
                h = blk(h, emb)
        return F.pixel_shuffle(self.tail(F.silu(h)), self.unshuffle)
