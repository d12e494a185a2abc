"""PSNR and SSIM with the published conventions (``../shared/BENCHMARKS.md``).

* PSNR: ``10 log10(data_range^2 / MSE)`` over all pixels and channels.
* SSIM: Wang et al. (2004): Gaussian window 11, sigma 1.5, K1 = 0.01, K2 = 0.03, no
  sample covariance, mean over the valid region (the window's half-width cropped, as
  scikit-image does) and over channels.
* Super-resolution scores the Y channel (ITU-R BT.601) with ``scale`` pixels cropped from
  each border: :func:`rgb_to_y`, :func:`shave`.

Inputs are ``(B, C, H, W)`` tensors or ``H x W [x C]`` numpy arrays; results are floats
(the batch mean for tensors). ``data_range`` follows scikit-image when omitted: the maximum of
an unsigned integer dtype (uint8: 255, uint16: 65535), 1 for floats (images in [0, 1]; values
outside [-1, 2], such as 0-255 floats, are refused, as scikit-image refuses them, and so is a
float reference with negative values, a [-1, 1] image, whose range scikit-image's PSNR takes
for 2 and its SSIM asks for: pass ``data_range``); two
inputs of different dtypes are refused unless ``data_range`` is given, as are integers wider
than 16 bits (their dtype says nothing of their range) and NaN or inf. A refusal is an
:class:`restore.errors.InputError` (a ``ValueError``), as the rest of the API's are.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError

__all__ = ["gradient_magnitude", "gradient_ratio", "psnr", "rgb_to_y", "seam", "shave", "ssim", "swd"]


def _as_batch(a, float64: bool = True) -> torch.Tensor:
    """``(B, C, H, W)``: float64, or (``float64=False``) as stored, for metrics that convert
    strip by strip (a photo's float64 copy is 8 bytes a value)."""
    if isinstance(a, torch.Tensor):
        t = a.detach().to(torch.float64) if float64 else a.detach().cpu()
        if t.ndim == 2:
            t = t[None, None]
        elif t.ndim == 3:
            t = t[None]
        return t
    arr = np.asarray(a, dtype=np.float64) if float64 else np.asarray(a)
    if arr.ndim not in (2, 3):  # (a trial: a batch of arrays gave numpy's "axes don't match array")
        raise InputError(f"an array is one image, H x W [x C]; got shape {arr.shape} (a batch: one image at a time, "
                         "or a (B, C, H, W) tensor)")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    arr = np.ascontiguousarray(arr.transpose(2, 0, 1))
    if not arr.flags.writeable:  # a read-only view (np.asarray of a PIL image): torch warns of such a tensor
        arr = arr.copy()
    return torch.from_numpy(arr)[None]


def _dtype_of(a):
    return a.dtype if isinstance(a, torch.Tensor) else np.asarray(a).dtype


def _is_float(dt) -> bool:
    return dt.is_floating_point if isinstance(dt, torch.dtype) else bool(np.issubdtype(dt, np.floating))


#: float values a metric takes with its default range of 1: an image in [0, 1], with room for
#: unclipped noise (scikit-image refuses a reference outside [-1, 1])
FLOAT_SPAN = (-1.0, 2.0)


def _data_range(x, y, data_range: float | None, *, for_psnr: bool = False) -> float:
    """``data_range`` as given, else inferred from the dtype as scikit-image does (floats of
    any precision: 1; an unsigned integer dtype: its maximum, uint8 255). A signed integer
    dtype: its span, except for PSNR of a reference ``x`` with no negative value, its maximum
    (scikit-image's two functions differ there: int16 PSNR 32767, SSIM 65535). Integers wider
    than 16 bits say nothing of the range (numpy makes int64 of 0-255 values): refused, as is
    NaN or inf."""
    for a in (x, y):
        if _is_float(_dtype_of(a)) and not bool(
                torch.isfinite(a).all() if isinstance(a, torch.Tensor) else np.isfinite(a).all()):
            raise InputError("an image holds NaN or inf: no PSNR or SSIM for it")
    if data_range is not None:
        return float(data_range)
    dx, dy = _dtype_of(x), _dtype_of(y)
    if _is_float(dx) and _is_float(dy):
        for i, a in enumerate((x, y)):  # 0-255 values scored with a range of 1 would be a silent nonsense
            lo, hi = (float(a.min()), float(a.max())) if isinstance(a, torch.Tensor) else (
                float(np.min(a)), float(np.max(a)))
            if hi > FLOAT_SPAN[1] or lo < FLOAT_SPAN[0]:
                raise InputError(f"a float image holds values in [{lo:g}, {hi:g}], outside what an image in [0, 1] "
                                 "holds: pass data_range (e.g. 255 for 0-255 values)")
            if i == 0 and lo < 0:  # scikit-image's PSNR takes 2 there (a [-1, 1] image), its SSIM asks for it
                raise InputError(f"the reference (the first image) holds negative values (down to {lo:.3g}): a "
                                 "[-1, 1] image's range is 2, a [0, 1] one's 1; pass data_range (scikit-image's "
                                 "PSNR takes 2 for it)")
        return 1.0
    if dx != dy:
        raise InputError(f"images have different dtypes ({dx} vs {dy}): convert one to the other's "
                         "range, or pass data_range")
    if dx in (torch.bool, np.bool_):
        return 1.0
    info = torch.iinfo(dx) if isinstance(dx, torch.dtype) else np.iinfo(dx)
    if info.bits > 16:  # scikit-image takes int64's span: 0-255 values scored 371 dB
        raise InputError(f"{str(dx).replace('torch.', '')} images: their dtype says nothing of their range, "
                         "pass data_range (e.g. 255 for 0-255 values)")
    if info.min < 0 and for_psnr and float(x.min()) >= 0:  # scikit-image's PSNR: the reference's sign decides
        return float(info.max)
    return float(info.max) - float(info.min) if info.min < 0 else float(info.max)


def _check(x: torch.Tensor, y: torch.Tensor, x_given=None, y_given=None) -> None:
    """Refuse two images of different shapes, said in the layout given (``x_given``, ``y_given``: the
    images as passed; a trial read an H x W x C array's shape said as (1, C, H, W))."""
    if x.shape != y.shape:
        a, b = (tuple(np.shape(v)) if v is not None else tuple(t.shape)
                for v, t in ((x_given, x), (y_given, y)))
        raise InputError(f"images differ in shape: {a} vs {b}")


def psnr(x, y, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB (mean over a batch); ``data_range`` defaults to the
    dtype's (uint8: 255, floats: 1), as in scikit-image, whose first argument is the reference
    (``x`` here; it decides a signed integer dtype's range).

    Examples
    --------
    >>> import numpy as np
    >>> round(psnr(np.zeros((4, 4)), np.full((4, 4), 0.1)), 2)
    20.0
    """
    data_range = _data_range(x, y, data_range, for_psnr=True)
    a, b = _as_batch(x, float64=False), _as_batch(y, float64=False)
    _check(a, b, x, y)
    B, C, H, W = a.shape
    step = max(1, SSIM_STRIP_VALUES // max(1, B * C * W))  # in strips of float64: no photo-sized temporaries
    sq = sum(((a[:, :, r : r + step].double() - b[:, :, r : r + step].double()) ** 2).sum(dim=(1, 2, 3))
             for r in range(0, H, step))
    mse = sq / (C * H * W)
    return float((10 * torch.log10(data_range**2 / mse)).mean())  # identical: inf, as scikit-image


def _gauss_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """The normalised 1-D Gaussian, built in float64 as scikit-image's ``gaussian_filter`` is
    (kornia's float32 kernel cast up sums to 1 +- 3e-8: SSIM 2e-5 away from scikit-image's)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    w = torch.exp(-(x**2) / (2 * sigma**2))
    return w / w.sum()


#: values (batch x channels x width x rows) of one SSIM strip: its float64 moments stay ~100 MB
SSIM_STRIP_VALUES = 1 << 20


def ssim(x, y, *, data_range: float | None = None, win_size: int = 11, sigma: float = 1.5, where=None) -> float:
    """Structural similarity (Wang et al. 2004), mean over channels and batch.

    Matches ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
    sigma=sigma, win_size=win_size, use_sample_covariance=False, data_range=data_range,
    channel_axis=-1)``: the moments are Gaussian averages over ``3.5 sigma`` each way (the image
    mirrored at its edges where that reaches past them) and the map's ``(win_size - 1) / 2``
    pixels at each edge are left out of the mean (the defaults: an 11-pixel window, nothing
    mirrored). ``where`` (an ``(H, W)`` bool mask): the mean of that SSIM map over the pixels it
    marks (those the mean takes), e.g. a hole's SSIM; NaN where none does.

    Examples
    --------
    >>> import numpy as np
    >>> ssim(np.eye(16), np.eye(16))
    1.0
    """
    if isinstance(win_size, (float, np.floating)) and float(win_size).is_integer():
        win_size = int(win_size)
    if isinstance(win_size, bool) or not isinstance(win_size, (int, np.integer)) or win_size < 1 or win_size % 2 == 0:
        raise InputError(f"win_size must be an odd whole number (the SSIM window's side), got {win_size!r}")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.integer, np.floating)) \
            or not math.isfinite(sigma) or sigma <= 0:
        raise InputError(f"sigma must be a positive number (the SSIM window's Gaussian std, pixels), got {sigma!r}")
    data_range = _data_range(x, y, data_range)
    a, b = _as_batch(x, float64=False), _as_batch(y, float64=False)
    _check(a, b, x, y)
    _, C, H, W = a.shape
    if min(H, W) < win_size:
        raise InputError(f"images of {W}x{H} are smaller than the SSIM window ({win_size})")
    radius = int(3.5 * sigma + 0.5)  # scikit-image's Gaussian (scipy's truncate, 3.5 as it sets)
    k = 2 * radius + 1
    g = _gauss_window(k, sigma)
    half = (win_size - 1) // 2  # the map's edge left out
    mirror, skip = max(0, radius - half), max(0, half - radius)  # the window's reach past the image; edge to crop
    if mirror:  # scipy's "reflect" (the edge sample repeated: d c b a | a b c d)
        a, b = _mirrored(a, mirror), _mirrored(b, mirror)
    # the 2-D Gaussian is separable: two 1-D passes over the five moments at once (float64),
    # in strips of output rows (each with its window's halo): a photo's five moments in float64
    # at once took 10.8 GB for 18 MP
    kh = g.reshape(1, 1, 1, -1).expand(5 * C, 1, 1, k)
    kv = g.reshape(1, 1, -1, 1).expand(5 * C, 1, k, 1)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    rows, cols = H - 2 * half, W - 2 * half  # the map's pixels the mean takes, as scikit-image crops them
    step = max(1, SSIM_STRIP_VALUES // max(1, a.shape[0] * C * a.shape[-1]))
    total = torch.zeros(a.shape[0], C, dtype=torch.float64)
    if where is not None:  # the map's weights: 1 where its window's centre is marked
        # (np.array: a copy, where np.asarray of a read-only mask gave torch's 'not writable' warning)
        m = torch.as_tensor(np.array(where) if not isinstance(where, torch.Tensor) else where).bool().cpu()
        if m.shape != (H, W):
            raise InputError(f"where is {tuple(m.shape)}, the images {H}x{W}")
        m = m[half : half + rows, half : half + cols].double()
        if not m.any():
            return float("nan")
    for r0 in range(0, rows, step):  # map rows r0..r1 (of those taken): input from skip + r0, with the halo
        r1 = min(rows, r0 + step)
        sa, sb = (t[:, :, skip + r0 : skip + r1 + k - 1, skip : skip + cols + k - 1].double() for t in (a, b))
        moments = torch.cat([sa, sb, sa * sa, sb * sb, sa * sb], dim=1)
        f = F.conv2d(F.conv2d(moments, kh, groups=5 * C), kv, groups=5 * C)
        mu_a, mu_b, aa, bb, ab = f.split(C, dim=1)
        va = aa - mu_a**2
        vb = bb - mu_b**2
        cov = ab - mu_a * mu_b
        s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
        total += (s if where is None else s * m[r0:r1]).sum(dim=(2, 3))
    count = rows * cols if where is None else float(m.sum())
    return float((total / count).mean())


def _mirrored(t: torch.Tensor, e: int) -> torch.Tensor:
    """``(B, C, H, W)`` with ``e`` samples mirrored past each edge, the edge sample repeated
    (scipy.ndimage's "reflect"), as often as ``e`` needs."""
    def index(n):
        i = torch.arange(-e, n + e) % (2 * n)
        return torch.where(i < n, i, 2 * n - 1 - i)

    return t[:, :, index(t.shape[-2])][..., index(t.shape[-1])]


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


# -- inpainting: measures that do not reward blur (issue 24) -------------------------------------
def _hole_of(x: torch.Tensor, hole) -> torch.Tensor:
    h = torch.as_tensor(np.asarray(hole) if not isinstance(hole, torch.Tensor) else hole).bool().cpu()
    while h.ndim > 2:
        h = h.any(0)
    if h.shape != x.shape[-2:]:
        raise InputError(f"hole is {tuple(h.shape)} but the image is {tuple(x.shape[-2:])}")
    return h


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel gradient magnitude of the channel mean (forward differences; 0 on the last
    row / column), ``(H, W)``."""
    g = x[0].mean(0)
    gx = torch.zeros_like(g)
    gy = torch.zeros_like(g)
    gx[:, :-1] = g[:, 1:] - g[:, :-1]
    gy[:-1] = g[1:] - g[:-1]
    return (gx**2 + gy**2).sqrt()


def gradient_ratio(x, ref, hole) -> float:
    """Mean gradient magnitude inside ``hole`` of ``x`` over that of ``ref`` (the truth),
    counting only differences wholly inside the hole: a smear scores near 0, a fill with the
    truth's amount of detail near 1 (a single image, ``(1, C, H, W)`` or ``H x W [x C]``)."""
    a, b = _as_batch(x), _as_batch(ref)
    _check(a, b, x, ref)
    h = _hole_of(a, hole)
    inner = h.clone()
    inner[:, -1] = False
    inner[-1] = False
    inner &= torch.roll(h, -1, 1) & torch.roll(h, -1, 0)
    return _gradient_ratio_on(a, b, inner)


def seam(x, ref, hole, width: int = 2) -> float:
    """How visible the hole's border is: mean gradient magnitude of ``x`` on the band of
    ``width`` pixels either side of the border over that of ``ref`` on the same band (1 = as
    in the truth; above 1, an edge the truth does not have; below, a smoothed border)."""
    import cv2

    a, b = _as_batch(x), _as_batch(ref)
    _check(a, b, x, ref)
    h = _hole_of(a, hole).numpy().astype(np.uint8)
    k = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    band = torch.from_numpy((cv2.dilate(h, k) - cv2.erode(h, k)).astype(bool))
    return _gradient_ratio_on(a, b, band)


def _gradient_ratio_on(a: torch.Tensor, b: torch.Tensor, where: torch.Tensor) -> float:
    """Mean gradient magnitude of ``a`` over that of ``b`` on the pixels ``where`` (NaN if none)."""
    if not where.any():
        return float("nan")
    return float(gradient_magnitude(a)[where].mean() / gradient_magnitude(b)[where].mean().clamp(min=1e-12))


_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64) / 16


def _blur(x: torch.Tensor) -> torch.Tensor:
    C = x.shape[1]
    k = (_BINOMIAL[:, None] * _BINOMIAL[None]).to(x)[None, None].repeat(C, 1, 1, 1)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), k, groups=C)


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Karras et al. (2018)'s pyramid: binomial 5x5 blur, 2x down-sampling; each level the
    image minus its blurred, down- and up-sampled self; the last level the coarse image."""
    out = []
    for _ in range(levels - 1):
        down = _blur(x)[..., ::2, ::2]
        up = torch.zeros_like(x)
        up[..., ::2, ::2] = down * 4
        out.append(x - _blur(up))
        x = down
    out.append(x)
    return out


def _patches(x: torch.Tensor, centres: torch.Tensor, size: int) -> torch.Tensor:
    """``(N, C * size * size)`` patches of ``x`` (``(1, C, H, W)``) centred at ``centres``
    (``(N, 2)`` row, column), replicate-padded."""
    r = size // 2
    xp = F.pad(x, (r, r, r, r), mode="replicate")[0]
    d = torch.arange(size)
    ys = centres[:, 0, None, None] + d[None, :, None]
    xs = centres[:, 1, None, None] + d[None, None, :]
    return xp[:, ys, xs].permute(1, 0, 2, 3).reshape(len(centres), -1)


def swd(x, ref, hole, *, levels: int = 4, patch: int = 7, max_patches: int = 4096, directions: int = 512,
        min_patches: int = 16, seed: int = 0) -> float:
    """Sliced Wasserstein distance (x 1000) between the ``patch x patch`` Laplacian-pyramid
    patches of ``x`` and of ``ref`` centred in ``hole``, averaged over the pyramid's levels
    (Karras et al., "Progressive growing of GANs", ICLR 2018, Sec. 5 and their
    ``sliced_wasserstein.py``): 0 for ``x == ref``; a blurred fill, whose patches have lost
    the truth's detail, scores high although its PSNR may be the best.

    As in Karras et al.: 7x7 neighbourhoods of each level, each channel normalised (here by
    the truth's mean and std at that level, so that a fill with less contrast is not scaled
    up to the truth's), random unit directions, the mean absolute difference of the sorted
    projections. A level enters while the hole holds ``min_patches`` centres there; at most
    ``max_patches`` per level (the same seeded draw for both images).
    """
    a, b = _as_batch(x).float(), _as_batch(ref).float()
    _check(a, b, x, ref)
    if a.shape[0] != 1:
        raise InputError("swd takes one image")
    h = _hole_of(a, hole)
    g = torch.Generator().manual_seed(seed)
    pa, pb = laplacian_pyramid(a, levels), laplacian_pyramid(b, levels)
    dists = []
    hl = h.float()[None, None]
    for lvl, (la, lb) in enumerate(zip(pa, pb)):
        if lvl:
            hl = F.max_pool2d(hl, 2, ceil_mode=True)[..., : la.shape[-2], : la.shape[-1]]
        c = torch.nonzero(hl[0, 0] > 0)
        if len(c) < min_patches:
            break
        if len(c) > max_patches:
            c = c[torch.randperm(len(c), generator=g)[:max_patches]]
        da, db = _patches(la, c, patch), _patches(lb, c, patch)
        C = la.shape[1]
        db_c = db.reshape(len(c), C, -1)
        mu = db_c.mean((0, 2), keepdim=True)
        sd = db_c.std((0, 2), keepdim=True).clamp(min=1e-8)
        da = ((da.reshape(len(c), C, -1) - mu) / sd).reshape(len(c), -1)
        db = ((db_c - mu) / sd).reshape(len(c), -1)
        dirs = torch.randn(da.shape[1], directions, generator=g)
        dirs /= dirs.norm(dim=0, keepdim=True)
        proj_a, _ = torch.sort(da @ dirs, dim=0)
        proj_b, _ = torch.sort(db @ dirs, dim=0)
        dists.append(float((proj_a - proj_b).abs().mean()))
    if not dists:
        return float("nan")
    return 1000.0 * float(np.mean(dists))
