"""Colour blotches that one evaluation of the prior leaves in noise wider than a pixel: the
result's chroma corrected at half size (restore.tasks.denoise.pooled_chroma), for a camera's
noise only (wide_share: its level read over its white part)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import restore
import restore.tasks.denoise as dn
from restore.io import to_tensor
from restore.noise import _LUMA, camera_noise, estimate_noise
from restore.tasks.denoise import POOLED_CHROMA, pooled_chroma, wide_share


def _scene(h=96, w=128) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([0.3 + 0.4 * xx, 0.5 + 0.2 * torch.sin(3 * yy), torch.where(xx + yy > 1, 0.7, 0.25)])[None]


def test_the_share_is_nothing_for_white_noise_and_all_for_a_cameras_grain():
    from restore.noise import NoiseEstimate

    lo, hi = POOLED_CHROMA["ratio"]
    white = NoiseEstimate(0.1, 0.1, 0.1, 1.0, 0.0)  # the flattest blocks' correlated part as white as the rest
    grain = NoiseEstimate(0.05, 0.002, 0.02, 1.8, 0.0)  # PolyU-like: 2.75 x correlated far over the white part
    assert wide_share(white) == 0 and wide_share(grain) == 1
    ruled_out = NoiseEstimate(0.1, 0.002, 0.02, 1.8, 0.02)  # structure in the flattest blocks: read elsewhere
    assert wide_share(ruled_out) == 0
    assert 0 < wide_share(NoiseEstimate(0.02, 0.01, 0.01 * (lo + hi) / 2 / 2.75, 1.8, 0.0)) < 1
    y, _, _ = camera_noise((_scene(128, 160)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), 1)
    full, flat = estimate_noise(to_tensor(y)[0]), estimate_noise(to_tensor(y)[0], flat_only=True)  # (--sigma given)
    assert wide_share(full) == wide_share(flat) == 1 and flat.white == full.white and flat.pooled == 0


@pytest.mark.parametrize("h, w", [(64, 96), (65, 97)])
def test_the_correction_is_chroma_only_and_none_where_the_pooled_prior_agrees(h, w):
    g = torch.Generator().manual_seed(0)
    y = (_scene(h, w) + 0.05 * torch.randn(1, 3, h, w, generator=g)).clamp(0, 1)
    out = (_scene(h, w) * 0.9 + 0.05).clamp(0, 1)  # a result within (0, 1): no clamping below
    pad = (0, w % 2, 0, h % 2)

    def agrees(t, s):  # the result itself, pooled as pooled_chroma pools
        return F.avg_pool2d(F.pad(out, pad, mode="replicate"), 2)

    assert torch.equal(pooled_chroma(y, out, agrees, 0.05), out)
    shifted = pooled_chroma(y, out, lambda t, s: agrees(t, s) + torch.tensor([0.02, -0.01, 0.0])[:, None, None], 0.05)
    luma = lambda t: torch.tensordot(_LUMA, t[0], dims=1)  # noqa: E731
    assert torch.allclose(luma(shifted), luma(out), atol=1e-6)  # its luma as it was
    assert shifted.shape == out.shape and (shifted - out).abs().max() > 0.005


def test_the_denoise_task_corrects_a_cameras_noise_not_white_noise(tiny_prior_dir, monkeypatch):
    """Through restore.denoise: white noise (its level read as its white part) is left to the one
    evaluation; the synthetic camera's noise (read far over its white part) gets the step, at the
    level told, and with a level given too (its white part read then)."""
    seen = []

    def spy(y, out, denoiser, level):
        seen.extend([level] * out.shape[0])  # one level per result corrected (an image's samples come together)
        return out

    monkeypatch.setattr(dn, "pooled_chroma", spy)
    g = torch.Generator().manual_seed(1)
    x = _scene()
    white = (x + 15 / 255 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    restore.denoise(white[0].permute(1, 2, 0).numpy(), prior=str(tiny_prior_dir))
    restore.denoise(white[0].permute(1, 2, 0).numpy(), sigma=15 / 255, prior=str(tiny_prior_dir))
    assert seen == []
    y, _, _ = camera_noise((_scene(128, 160)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), 1)
    r = restore.api.run(to_tensor(y), "denoise", prior=str(tiny_prior_dir))
    assert len(seen) == 1 and 0 < seen[0] and abs(seen[0] - float(r.sigma_y)) < 1e-6
    seen.clear()
    restore.api.run(to_tensor(y), "denoise", sigma=10 / 255, prior=str(tiny_prior_dir))
    assert len(seen) == 1 and abs(seen[0] - 10 / 255) < 1e-6
    seen.clear()
    restore.api.run(to_tensor(y), "denoise", samples=2, sampler="ddnm", steps=2, prior=str(tiny_prior_dir))
    assert len(seen) == 2  # each sample's result
