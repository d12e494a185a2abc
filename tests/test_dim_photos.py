"""A dim photo (underexposed, at night) is read as if its brightest were white
(``restore.noise.EXPOSURE``): its texture was read as camera noise and smeared away."""

from pathlib import Path

import numpy as np
import pytest
import torch

from restore import noise
from restore.io import read_image, to_tensor
from restore.noise import EXPOSURE, NoiseEstimate, estimate_noise, exposure

BSDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "bsds" / "141012.jpg"


def test_exposure_is_the_bright_quantile_within_its_floor():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 64, 64, generator=g) * 0.3
    assert exposure(x) == pytest.approx(float(torch.quantile(x.reshape(-1), EXPOSURE["quantile"])), rel=1e-6)
    assert exposure(torch.ones(3, 8, 8)) == 1.0
    assert exposure(torch.rand(3, 64, 64, generator=g) * 0.7) == 1.0  # not dim: read as it is
    assert exposure(torch.zeros(1, 8, 8)) == EXPOSURE["floor"]
    for n in (1, 2, 3, 101, 40_000):  # its selection is torch.quantile's (which sorts)
        v = torch.rand(n, generator=g) ** 3
        for q in (0.0, 0.5, 0.99, 1.0):
            assert noise._quantile(v, q) == pytest.approx(float(torch.quantile(v, q)), abs=1e-6)


def test_the_readings_of_a_scaled_image_are_said_of_the_image():
    e = NoiseEstimate(0.1, 0.2, 0.3, 1.4, 0.5, 0.6, 0.7, 0.8, 0.9).scaled(0.5)
    assert (e.level, e.white, e.correlated, e.flat_structure, e.half, e.pooled, e.pooled_luma, e.luma) == (
        0.05, 0.1, 0.15, 0.25, 0.3, 0.35, 0.4, 0.45) and e.whiteness == 1.4


def test_white_noise_on_a_dim_image_reads_as_its_std():
    g = torch.Generator().manual_seed(1)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 128), torch.linspace(0, 1, 128), indexing="ij")
    scene = (0.05 + 0.15 * torch.stack([yy, xx, yy * xx])).clamp(0, 1)  # at most a fifth of white
    x = scene + 3 / 255 * torch.randn(scene.shape, generator=g)
    assert exposure(x) < 0.3
    assert estimate_noise(x).level * 255 == pytest.approx(3, rel=0.15)


@pytest.mark.skipif(not BSDS.is_file(), reason="../shared/data is absent")
def test_a_clean_photo_at_a_third_of_its_brightness_reads_clean(monkeypatch):
    """BSDS 141012 (a flatfish on gravel) at 0.3 of its brightness read 16.6 and came out a smear; with a
    few lamps in it too (trial AC: the 99.9th percentile they put at white let it through)."""
    a = read_image(BSDS).color
    H, W = a.shape[:2]
    a = a[(H - 256) // 2:(H - 256) // 2 + 256, (W - 256) // 2:(W - 256) // 2 + 256]
    x = to_tensor(np.round(a * 0.3).astype(np.uint8))[0]
    assert estimate_noise(x).level * 255 < 1.0
    lamps = x.clone()
    for cy, cx in ((40, 40), (120, 200), (200, 90)):  # a night photo's street lamps (0.2 % of it), the 99.9th at white
        lamps[:, cy - 3:cy + 4, cx - 3:cx + 4] = 1.0
    assert estimate_noise(lamps).level * 255 < 1.0
    monkeypatch.setitem(noise.EXPOSURE, "below", 0.0)  # read as it is, as before
    assert estimate_noise(x).level * 255 > 10
