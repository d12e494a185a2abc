"""Denoising: ``A = I``, ``y = x + sigma_y n``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..api import restore, with_params_doc
from ..noise import estimate_sigma
from .base import Case, Operator, Param, Task, from_np, np01

__all__ = ["Denoise", "DenoiseTask", "bm3d_denoise", "estimate_sigma"]


class Denoise(Operator):
    """Identity operator with Gaussian noise of std ``sigma_y`` (image units)."""

    capabilities = frozenset({"pinv", "svd", "grad", "identity"})
    task = "denoise"

    def Vt(self, x):
        return x

    V = U = Ut = Vt

    def singulars(self, like):
        return torch.ones((), dtype=like.dtype, device=like.device)

    def A(self, x):
        return x

    A_adjoint = A_dagger = A


#: Warn when a given noise level and the image's estimated one differ by more than this factor.
SIGMA_MISMATCH = 4.0


def sigma_mismatch(given: float, estimated: float) -> str | None:
    """A warning when ``--sigma`` (0-255) is far from the image's estimated noise (e.g. 0.1
    given for a sigma-25 image, taken for 0-1 units), else None."""
    lo, hi = sorted((max(given, 0.5), max(estimated, 0.5)))  # both under 0.5: clean, agree
    if hi / lo <= SIGMA_MISMATCH:
        return None
    return (f"--sigma {given:g} is far from the noise estimated in the image ({estimated:.2f}); "
            "--sigma is in 0-255 units (omit it to use the estimate)")


# -- classical tools (restore eval --baselines) ------------------------------------------------
def _cv2_nlm(case: Case) -> torch.Tensor:
    import cv2

    n8, h = case.y_uint8, float(case.params["sigma"])
    if n8.ndim == 3:
        return from_np(cv2.fastNlMeansDenoisingColored(n8, None, h, h, 7, 21))
    return from_np(cv2.fastNlMeansDenoising(n8, None, h, 7, 21))


def _sk(case: Case, which: str) -> torch.Tensor:
    from skimage import restoration as R

    a = np01(case.y).astype(np.float64)
    s = case.params["sigma"] / 255.0
    ch = -1 if a.ndim == 3 else None
    if which == "nlm":
        out = R.denoise_nl_means(a, h=0.8 * s, sigma=s, fast_mode=True, patch_size=5, patch_distance=6, channel_axis=ch)
    elif which == "tv":
        out = R.denoise_tv_chambolle(a, weight=1.0 * s, channel_axis=ch)
    else:
        out = R.denoise_wavelet(a, sigma=s, channel_axis=ch, convert2ycbcr=a.ndim == 3, method="BayesShrink",
                                mode="soft", rescale_sigma=True)
    return from_np(out.astype(np.float32))


def bm3d_denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(C)BM3D of a ``(1, C, H, W)`` image in [0, 1] at noise ``sigma`` ([0, 1] units);
    needs the ``bm3d`` package (the ``bench`` extras)."""
    import bm3d

    a = np01(x).astype(np.float64)
    out = bm3d.bm3d_rgb(a, sigma) if a.ndim == 3 else bm3d.bm3d(a, sigma)
    return from_np(np.asarray(out, dtype=np.float32))


def _bm3d(case: Case) -> torch.Tensor:
    return bm3d_denoise(case.y, case.params["sigma"] / 255.0)


def _has_bm3d() -> bool:
    import importlib.util

    return importlib.util.find_spec("bm3d") is not None


_SIGMA = Param("sigma", float, None, "Noise std, 0-255 units (estimated and printed when omitted).",
               range=(0, 255), unit=255.0)


class DenoiseTask(Task):
    """Remove Gaussian noise of a known or estimated std."""

    name = "denoise"
    summary = "remove Gaussian noise"
    operator = Denoise
    params = (_SIGMA,)
    eval_params = (Param("sigma", float, 25.0, "Noise std, 0-255 units.", range=(0, 255)),)
    # one evaluation at the noise level (the MMSE estimate): benchmarks/choose_defaults.py
    sampler, steps, sigma_max = "mmse", 1, 0.5
    baselines = {
        "opencv-nlm": _cv2_nlm,
        "skimage-nlm": lambda c: _sk(c, "nlm"),
        "skimage-tv": lambda c: _sk(c, "tv"),
        "skimage-wavelet": lambda c: _sk(c, "wavelet"),
    }
    if _has_bm3d():
        baselines["bm3d"] = _bm3d
    slow_baselines = frozenset({"bm3d"})

    def build(self, x, p):
        sigma, estimated = self.noise_level(x, p)
        return Denoise(tuple(x.shape[1:]), sigma), x, estimated

    def warnings(self, x, p):
        if p.get("sigma") is None:
            return []
        warn = sigma_mismatch(p["sigma"] * 255, estimate_sigma(x) * 255)
        return [warn] if warn else []

    def degrade(self, name, img, index, sigma=25.0, **_):
        """Gaussian noise of std ``sigma``/255 on the [0, 1] image, seeded by the image
        index, the noisy input not clipped."""
        from ..io import to_tensor

        gt = to_tensor(img)
        g = torch.Generator().manual_seed(index)
        y = gt + sigma / 255.0 * torch.randn(gt.shape, generator=g)
        n8 = (y.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8).squeeze()
        return Case(name, gt, y, self.name, {"sigma": sigma}, {"sigma": sigma / 255.0}, y_uint8=n8)

    def describe(self, p):
        return f"sigma={p['sigma']:g}"


# -- the API helper: restore.denoise ---------------------------------------------------------------
@with_params_doc
def denoise(image: Any, sigma: float | None = None, **params: Any) -> Any:
    """Remove Gaussian noise of std ``sigma`` ([0, 1] units; estimated when None).

    The default is one evaluation of the prior at that noise level (the MMSE estimate).

    {params}

    Examples
    --------
    >>> import numpy as np, restore
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.clip(0.5 + 0.1 * rng.standard_normal((40, 40)), 0, 1).astype(np.float32)
    >>> bool(restore.denoise(noisy, sigma=0.1).std() < noisy.std())
    True
    """
    return restore(image, "denoise", sigma=sigma, **params)
