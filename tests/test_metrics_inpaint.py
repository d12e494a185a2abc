"""Inpainting measures that do not reward blur (issue 24): SWD, gradient ratio, seam."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restore.metrics import gradient_ratio, laplacian_pyramid, seam, swd


def _texture(H=96, W=128, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    a = rng.random((H, W, 3)).astype(np.float32)
    a = cv2.GaussianBlur(a, (0, 0), 1.2)
    yy, xx = np.mgrid[0:H, 0:W]
    a += 0.3 * np.sin(xx / 5.0)[..., None] * np.array([1, 0.5, 0.2], np.float32)
    return ((a - a.min()) / (a.max() - a.min()) * 255).astype(np.uint8)


def _hole(H=96, W=128):
    h = np.zeros((H, W), bool)
    h[24:72, 32:96] = True
    return h


def test_swd_zero_on_itself_and_grows_with_blur():
    import cv2

    a, h = _texture(), _hole()
    assert swd(a, a, h) == 0
    d = [swd(cv2.GaussianBlur(a, (k, k), 0), a, h) for k in (3, 7, 15)]
    assert 0 < d[0] < d[1] < d[2]
    # blur loses to a fill with the right texture from elsewhere (another draw of it), as PSNR would not
    other = _texture(seed=1)
    assert swd(other, a, h) < d[2]


def test_swd_levels_are_wasserstein_of_projections():
    """One direction, one level: the mean absolute difference of sorted projections is
    the 1-D Wasserstein-1 distance (scipy's), for equal-size sets."""
    from scipy.stats import wasserstein_distance

    g = torch.Generator().manual_seed(0)
    a = torch.rand(200, generator=g).double()
    b = torch.rand(200, generator=g).double() * 2
    ours = float((torch.sort(a)[0] - torch.sort(b)[0]).abs().mean())
    assert ours == pytest.approx(wasserstein_distance(a.numpy(), b.numpy()), rel=1e-9)


def test_laplacian_pyramid_reconstructs():
    from restore.metrics import _blur

    x = torch.rand(1, 3, 32, 48, dtype=torch.float64)
    pyr = laplacian_pyramid(x, 3)
    assert [p.shape[-1] for p in pyr] == [48, 24, 12]
    rec = pyr[-1]
    for lap in reversed(pyr[:-1]):
        up = torch.zeros_like(lap)
        up[..., ::2, ::2] = rec * 4
        rec = lap + _blur(up)
    assert torch.allclose(rec, x, atol=1e-12)


def test_gradient_ratio_and_seam():
    import cv2

    a, h = _texture(), _hole()
    assert gradient_ratio(a, a, h) == pytest.approx(1.0) and seam(a, a, h) == pytest.approx(1.0)
    flat = a.copy()
    flat[h] = a[h].reshape(-1, 3).mean(0).astype(np.uint8)
    assert gradient_ratio(flat, a, h) == 0
    r = [gradient_ratio(cv2.GaussianBlur(a, (k, k), 0), a, h) for k in (3, 7, 15)]
    assert 1 > r[0] > r[1] > r[2] > 0
    # a fill of another brightness leaves an edge along the border
    step = a.copy().astype(np.int16)
    step[h] += 60
    assert seam(np.clip(step, 0, 255).astype(np.uint8), a, h) > 1.5
    with pytest.raises(ValueError):
        swd(a, a, h[:10])
