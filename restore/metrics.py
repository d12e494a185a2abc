"""PSNR and SSIM with the published conventions (``../shared/BENCHMARKS.md``).

* PSNR: ``10 log10(data_range^2 / MSE)`` over all pixels and channels.
* SSIM: Wang et al. (2004): Gaussian window 11, sigma 1.5, K1 = 0.01, K2 = 0.03, no
  sample covariance, mean over the valid region (the window's half-width cropped, as
  scikit-image does) and over channels.
* Super-resolution scores the Y channel (ITU-R BT.601) with ``scale`` pixels cropped from
  each border: :func:`rgb_to_y`, :func:`shave`.

Inputs are ``(B, C, H, W)`` tensors or ``H x W [x C]`` numpy arrays; results are floats
(the batch mean for tensors). ``data_range`` follows scikit-image when omitted: the span of
an integer dtype (uint8: 255, uint16: 65535), 1 for floats (images in [0, 1]); two inputs
of different dtypes are refused unless ``data_range`` is given.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["psnr", "rgb_to_y", "shave", "ssim"]


def _as_batch(a) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        t = a.detach().to(torch.float64)
        if t.ndim == 2:
            t = t[None, None]
        elif t.ndim == 3:
            t = t[None]
        return t
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]


def _dtype_of(a):
    return a.dtype if isinstance(a, torch.Tensor) else np.asarray(a).dtype


def _is_float(dt) -> bool:
    return dt.is_floating_point if isinstance(dt, torch.dtype) else bool(np.issubdtype(dt, np.floating))


def _data_range(x, y, data_range: float | None) -> float:
    """``data_range`` as given, else inferred from the dtype as scikit-image does (floats of
    any precision: 1; an integer dtype: its span, uint8 255)."""
    if data_range is not None:
        return float(data_range)
    dx, dy = _dtype_of(x), _dtype_of(y)
    if _is_float(dx) and _is_float(dy):
        return 1.0
    if dx != dy:
        raise ValueError(f"images have different dtypes ({dx} vs {dy}): convert one to the other's "
                         "range, or pass data_range")
    if dx in (torch.bool, np.bool_):
        return 1.0
    info = torch.iinfo(dx) if isinstance(dx, torch.dtype) else np.iinfo(dx)
    return float(info.max) - float(info.min) if info.min < 0 else float(info.max)


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")


def psnr(x, y, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB (mean over a batch); ``data_range`` defaults to the
    dtype's (uint8: 255, floats: 1), as in scikit-image.

    Examples
    --------
    >>> import numpy as np
    >>> round(psnr(np.zeros((4, 4)), np.full((4, 4), 0.1)), 2)
    20.0
    """
    data_range = _data_range(x, y, data_range)
    a, b = _as_batch(x), _as_batch(y)
    _check(a, b)
    mse = ((a - b) ** 2).flatten(1).mean(dim=1).clamp(min=1e-20)
    return float((10 * torch.log10(data_range**2 / mse)).mean())


def _gauss_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    from kornia.filters import get_gaussian_kernel1d

    return get_gaussian_kernel1d(size, sigma).to(torch.float64).reshape(-1)


def ssim(x, y, *, data_range: float | None = None, win_size: int = 11, sigma: float = 1.5) -> float:
    """Structural similarity (Wang et al. 2004), mean over channels and batch.

    Matches ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=data_range, channel_axis=-1)``.

    Examples
    --------
    >>> import numpy as np
    >>> ssim(np.eye(16), np.eye(16))
    1.0
    """
    data_range = _data_range(x, y, data_range)
    a, b = _as_batch(x), _as_batch(y)
    _check(a, b)
    _, C, H, W = a.shape
    if min(H, W) < win_size:
        raise ValueError(f"images of {W}x{H} are smaller than the SSIM window ({win_size})")
    g = _gauss_window(win_size, sigma)
    # the 2-D Gaussian is separable: two 1-D passes over the five moments at once (float64)
    kh = g.reshape(1, 1, 1, -1).expand(5 * C, 1, 1, win_size)
    kv = g.reshape(1, 1, -1, 1).expand(5 * C, 1, win_size, 1)
    moments = torch.cat([a, b, a * a, b * b, a * b], dim=1)
    f = F.conv2d(F.conv2d(moments, kh, groups=5 * C), kv, groups=5 * C)
    mu_a, mu_b, aa, bb, ab = f.split(C, dim=1)
    va = aa - mu_a**2
    vb = bb - mu_b**2
    cov = ab - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    return float(s.mean(dim=(2, 3)).mean())


def rgb_to_y(x):
    """ITU-R BT.601 luma of RGB in [0, 1]: ``(16 + 65.481 R + 128.553 G + 24.966 B) / 255``.

    Accepts ``(B, 3, H, W)`` tensors or ``H x W x 3`` arrays; gray input is returned as is.
    """
    if isinstance(x, torch.Tensor):
        if x.shape[1] == 1:
            return x
        r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    else:
        if x.ndim == 2:
            return x
        r, g, b = x[..., 0], x[..., 1], x[..., 2]
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def shave(x, border: int):
    """Crop ``border`` pixels from every side (tensor ``(..., H, W)`` or array ``H x W [x C]``)."""
    if border <= 0:
        return x
    if isinstance(x, torch.Tensor):
        return x[..., border:-border, border:-border]
    return x[border:-border, border:-border]
