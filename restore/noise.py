"""Noise level of an image, for tasks whose measurement noise is estimated when not given."""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["JPEG_LUMA", "LUMA_WHITE", "NOT_NOISE", "NOT_NOISE_WORDS", "NoiseEstimate", "PHOTO_NOISE", "PHOTO_POOLED",
           "TONED", "Tone", "estimate_noise", "estimate_sigma", "flat_level", "luma_of", "noise_floor", "not_noise",
           "pattern_share", "photo_level", "toned", "two_level", "white_at_half"]


def estimate_sigma(image: torch.Tensor) -> float:
    """Noise std of an image in [0, 1] units, from its finest wavelet coefficients.

    Donoho & Johnstone's robust median estimator, as ``skimage.restoration.estimate_sigma``
    computes it (db2 wavelet, the nonzero diagonal detail coefficients' median absolute value
    over the normal's 75th percentile), averaged over channels. Written out with PyWavelets so
    that no warnings filter is set: scikit-image warns for a flat channel (no nonzero
    coefficient: no noise) and for a side of 4 px, and the filters that hid those were the whole
    process's, lost for a moment by a program's other threads.
    """
    import pywt

    a = image.detach().to("cpu", torch.float64)
    if min(a.shape[-2:]) < 4:  # no wavelet detail to read: no noise measured
        return 0.0
    vals = []
    for b in range(a.shape[0]):
        est = []
        for ch in a[b].numpy():
            d = pywt.dwtn(ch, wavelet="db2")["dd"]
            d = np.abs(d[d != 0])
            est.append(float(np.median(d)) / _NORMAL_Q3 if d.size else 0.0)
        vals.append(float(np.mean(est)))
    return float(np.mean(vals))


#: the standard normal's 75th percentile (scipy.stats.norm.ppf(0.75)): a median absolute value over it is the std
_NORMAL_Q3 = 0.6744897501960817


# -- photos: the level a Gaussian denoiser must be told ------------------------------------------
@dataclass(frozen=True)
class NoiseEstimate:
    """What :func:`estimate_noise` read in an image (all stds in [0, 1] units).

    Attributes
    ----------
    level : float
        The noise level to tell a denoiser trained on white Gaussian noise: ``white`` for
        white noise, larger for camera noise (correlated over neighbouring pixels), about 0
        on a clean photo.
    white : float
        Std of the pixel-independent part (smallest eigenvalues of the patch covariance,
        Chen, Zhu & Heng 2015); exact for white Gaussian noise, blind to texture.
    correlated : float
        White-equivalent std of the noise two pixels wide: ``2 x`` the std of the 2x2-pooled
        high-pass residual in the flattest blocks (what correlated camera noise puts there).
    whiteness : float
        ``correlated / fine``: about 1 for white noise, 1.5-1.9 for in-camera JPEG noise.
    flat_structure : float
        Mean gradient magnitude left in those flattest blocks after smoothing: high when the
        image has no flat region (a texture reads as noise there, so it is not trusted).
    half : float
        A JPEG's white std read on its half-size decode (:data:`HALF_JPEG`), 0 when not read.
    pooled : float
        White-equivalent std of the noise two pixels wide read without the flattest blocks:
        twice the patch-covariance reading (as ``white``, blind to texture) of the 2x2-pooled
        image (:data:`PHOTO_POOLED`); colour images only.
    pooled_luma : float
        The same for the 2x2-pooled luma alone, read on its weakly textured patches (as a gray
        image's ``white``): what caps ``pooled`` (colour detail at the pixel scale, such as a
        demosaicking's zipper, reads as noise in the colour covariance, and camera noise has
        its share of luma).
    luma : float
        The same for the full-size luma (not pooled): ``pooled_luma`` over it is about 1 for
        white noise (:data:`PHOTO_POOLED`'s ``luma_ratio``), and ``luma`` over the luma's
        share of white noise is read as white noise (:data:`LUMA_WHITE`); colour images only.
    dim_read : float
        Where :data:`DIM_JPEG` set the level (a dim photo's JPEG file), the level the other readings
        told; 0 otherwise.
    """

    level: float
    white: float
    correlated: float
    whiteness: float
    flat_structure: float
    half: float = 0.0
    pooled: float = 0.0
    pooled_luma: float = 0.0
    luma: float = 0.0
    dim_read: float = 0.0

    def scaled(self, k: float) -> NoiseEstimate:
        """The readings of an image scaled by ``1 / k``, said of the image itself (stds times
        ``k``; ``whiteness``, a ratio, as it is)."""
        return dataclasses.replace(self, **{f: getattr(self, f) * k for f in (
            "level", "white", "correlated", "flat_structure", "half", "pooled", "pooled_luma", "luma", "dim_read")})

    @property
    def unread(self) -> float:
        """The level the flattest blocks' correlated reading tells before their structure is
        weighed (:data:`PHOTO_NOISE`'s gain and share): where that structure ruled it out, what
        camera noise wider than a pixel might be at most, since it and texture read alike there."""
        c = PHOTO_NOISE
        return c["gain"] * self.correlated * _ramp(self.whiteness, *c["whiteness"])


#: A photo read as clean whose flattest blocks hold structure (``below``: its level under this)
#: may hold camera grain the estimate could not tell from texture: where ``unread`` is over
#: ``least`` and ``ratio`` times the level, the command line's note says so and suggests telling
#: ``suggest`` x ``unread``. On 256x256 crops of PolyU100's development pairs (5 a photo, 375),
#: 22 are read under 3 with the correlated reading ruled out; told 0.4 x ``unread`` they gain
#: 1.09 dB on average (-2.3 to +2.7; 0.3: 1.05, 0.5: 1.03). No estimate can take it in their place:
#: every flat-block variant that revives them reads clean textured crops higher (39 of 269 clean
#: crops under 40 dB from their input, 51-84 with the variants; ``benchmarks/results/noise_pooled.md``).
#: The same note comes up on 59 of the 269 clean crops (a photo with no flat region), where the
#: advice is conditional: "if it still looks grainy".
HIDDEN_GRAIN = {"below": 3 / 255, "least": 5 / 255, "ratio": 3.0, "suggest": 0.4}


def hidden_grain(e: NoiseEstimate) -> float | None:
    """The level to suggest telling (``HIDDEN_GRAIN``) where ``e`` reads a photo as clean but its
    flattest blocks' correlated reading was ruled out as structure; None otherwise."""
    c, u = HIDDEN_GRAIN, e.unread
    if e.level < c["below"] and u > max(c["least"], c["ratio"] * e.level):
        return c["suggest"] * u
    return None


#: Calibration of :func:`estimate_noise`, chosen on PolyU100's development pairs (the 75 that
#: are not every 4th; ``benchmarks/real_noise.py``) under two constraints measured on CBSD68
#: 1-8: white Gaussian noise read as itself, clean photos read low enough that the denoiser
#: keeps them >= 40 dB from themselves.
PHOTO_NOISE = {
    "gain": 2.75,  # level = gain x correlated for fully correlated noise
    "whiteness": (1.1, 1.5),  # correlated share 0 below, 1 above (linear between)
    "flat": (0.9 / 255, 1.3 / 255),  # trusted below, ignored above (linear between)
    "leak": 0.06,  # share of ``correlated`` that noise itself leaves in ``flat_structure``
}


#: Strong camera noise: the flattest blocks hold texture as well as noise in a photo without flat
#: regions, and strong noise leaks into their structure too, so ``trust`` drops the correlated
#: part; synthetic camera noise (Brooks et al.'s pipeline, :func:`camera_noise`) was read under 2
#: on 24 of 32 photos and left in them. Noise two pixels wide is read instead where the patch
#: covariance sees it, on the 2x2-pooled image (where such noise keeps its strength and white
#: noise halves; blind to texture as ``white`` is): ``level`` is at least ``gain`` x ``pooled``,
#: with a share that rises from 0 to 1 as ``pooled / white`` goes from ``ratio[0]`` to
#: ``ratio[1]`` (white noise reads 1; clean photos a median of 1.7-2.7, at most 4.5 on BSDS and
#: 6.0 on web JPEGs; camera noise a median of 12-16). ``pooled`` is capped at ``luma`` times the
#: pooled luma's weakly-textured reading: colour detail at edges (a demosaicking's zipper) reads
#: as noise in the colour covariance, while noise is in flat parts too. Chosen on two validation
#: sets of 32 BSDS training photos (every 12th) through the synthetic camera, with a lens blur
#: (0.8 px) before the mosaic and without (the second keeps the zipper, in its reference too),
#: by the mean of their mean PSNRs at the level told (``benchmarks/noise_pooled.py``;
#: ``benchmarks/results/noise_pooled.md``): 30.91 / 29.80 dB without the pooled reading,
#: 34.12 / 30.32 at gain 2 uncapped, 34.01 / 31.15 as shipped (the best level per photo 34.62 /
#: 32.16). PolyU100's pairs read as before: their noise is too coarse for the pooled covariance.
#: ``luma_ratio``: the share also rises from 0 to 1 as the pooled luma's reading goes from 1.15 to
#: 1.5 times the full-size luma's (:func:`_luma_whiteness`; white noise of std 25 reads 0.94-1.11,
#: 0.5-1.0 in JPEG files; camera noise a median of 3.2-3.9, a 10th percentile of 2.0-2.7), so white
#: noise is not read as camera noise where the colour reading collapsed (a JPEG's subsampled
#: chroma: std 25 decoded to arrays read a median of 30.5, up to 34.6); such noise is read on the
#: luma instead (:data:`LUMA_WHITE`). On the validation sets through files
#: the ramp from 1.05 to 1.3 scored the same, from 1.3 to 2 within 0.07 dB (``noise_pooled.md``).
PHOTO_POOLED = {"gain": 2.5, "ratio": (3.0, 6.0), "luma": 1.75, "luma_ratio": (1.15, 1.5)}
_LUMA = torch.tensor([0.299, 0.587, 0.114])
#: the std of the luma of white noise of std 1 in each of R, G, B (the norm of :data:`_LUMA`)
_LUMA_GAIN = float(_LUMA.norm())


def _luma_whiteness(pooled_luma: float, luma: float) -> float:
    """The pooled luma's reading over the full-size luma's: 1 for white noise, more for noise
    wider than a pixel (and for a photo's own detail, at the levels of a clean one); no
    luma reading at all is no sign of white noise (inf)."""
    return pooled_luma / luma if luma > 0 else math.inf


def photo_level(base: float, white: float, half: float | None = None, pooled: float | None = None,
                pooled_luma: float = 0.0, luma: float = 0.0, *, gain: float | None = None, cap: float | None = None,
                luma_ratio: tuple[float, float] | None = None, floor: float | None = None,
                jpeg: dict | None = None, whiteness: float = 1.0, exposure: float = 1.0,
                dim_jpeg: dict | None = None) -> tuple[float, float]:
    """``(level, white)`` told from :func:`estimate_noise`'s readings: ``base`` (the white part
    and the flattest blocks' correlated part), the full-size colour ``white``, a JPEG's
    ``half``-size reading (:data:`HALF_JPEG`), and for a colour image (``pooled`` not None) the
    2x2-pooled colour and luma readings and the full-size luma's (:data:`PHOTO_POOLED`,
    :data:`LUMA_WHITE`), and the flattest blocks' ``whiteness`` (:data:`JPEG_LUMA`); ``exposure``
    under 1: the readings are a dim photo's, brightened by its inverse (:data:`EXPOSURE`,
    :data:`DIM_JPEG`). ``gain``, ``cap``,
    ``luma_ratio``, ``floor``, ``jpeg``, ``dim_jpeg``: in place of those constants, for a benchmark's
    sweep."""
    q = PHOTO_POOLED
    gain, cap = q["gain"] if gain is None else gain, q["luma"] if cap is None else cap
    luma_ratio, floor = q["luma_ratio"] if luma_ratio is None else luma_ratio, LUMA_WHITE if floor is None else floor
    jpeg = JPEG_LUMA if jpeg is None else jpeg
    level, lw, white_read = base, _luma_whiteness(pooled_luma, luma), white
    if pooled is not None:
        ratio = pooled / white if white > 0 else (math.inf if pooled > 0 else 0.0)
        wide = _ramp(lw, *luma_ratio)  # the luma's noise: 0 white, 1 wider than a pixel
        level = max(level, gain * min(pooled, cap * pooled_luma) * _ramp(ratio, *q["ratio"]) * wide,
                    floor * (1 - wide) * luma / _LUMA_GAIN)
    if half is not None and half > HALF_JPEG["least"] and half > HALF_JPEG["ratio"] * white:
        if pooled is None or lw < luma_ratio[1]:  # white noise, as the luma tells: the white part
            white, level = half, max(level, half)
        else:  # noise wider than a pixel: a 2x2-pooled colour reading (chroma as stored), capped as ``pooled`` is
            level = max(level, min(half, gain * cap * pooled_luma))
    if half is not None and pooled is not None:  # a JPEG file: its quantisation took the noise's finest part
        white_blocks = 1 - _ramp(whiteness, *jpeg["whiteness"])  # 1 where the flattest blocks hold white noise
        level = max(level, jpeg["gain"] * white_blocks * pooled_luma / _LUMA_GAIN)
        if exposure < 1:  # a dim photo's file: what its quantisation left of the noise is the white reading's
            d = DIM_JPEG if dim_jpeg is None else dim_jpeg
            level = max(level, d["white"] * white_read * (1 - _ramp(white_read * exposure, *d["fade"])))
    return level, white


#: A JPEG with subsampled chroma: the white part is read again on the file decoded at half size
#: with its chroma as stored (:func:`restore.io.jpeg_half_size`), where no colour detail is
#: missing, and taken where the full-size reading collapsed (the half-size one over ``ratio``
#: times it, and over ``least``): the full-size covariance's smallest eigenvalues are the chroma
#: detail the subsampling removed, which hold no noise. Chosen on 24 BSDS training photos (every
#: 16th) saved at quality 90 with 4:2:0: clean (and at 95) the ratio was 1.2-7.4 and the half-size
#: reading 0.8-5.5; with white noise of std 25 the ratio was 9.7-46, the reading 23.5-28.9.
#: It is taken as the white part only where the luma says the noise is white (its pooled reading
#: under ``PHOTO_POOLED["luma_ratio"][1]`` times its full-size one). Camera noise is wider than a
#: pixel, and taking the half-size reading (a 2x2-pooled colour reading) as white had switched the
#: pooled reading off: there the level is at least that reading capped as ``pooled`` is (by gain x
#: luma cap x the pooled luma's reading). On synthetic camera noise saved as 4:2:0 files
#: (``benchmarks/noise_pooled.py``, the ``_j`` sets), 33.50 / 29.88 dB became 33.95 / 31.08 (lens
#: blur / zippers), 33.07 -> 33.14 saved twice; held out 34.14 -> 34.15 and 33.47 -> 33.49.
HALF_JPEG = {"ratio": 8.0, "least": 8.0 / 255}

#: White noise read on the luma alone: the level is at least this times the full-size luma's
#: reading (``NoiseEstimate.luma``, weakly textured patches as for a gray image) over the luma's
#: share of white noise (0.67 of it), by as much as the luma's noise is white (``1 -`` the
#: ``luma_ratio`` ramp). The luma keeps its full resolution in a JPEG, where the colour reading
#: collapses: white noise of std 10 saved at quality 85-97 as 4:2:0 files read a median of 1.4
#: and now 9.8 (32 BSDS training photos; 9.1 decoded to arrays); std 25 decoded to arrays 25.2
#: (16.6-26.7; 30.5 before). A factor of 0.8 read std 10 as 8.2, 1.2 read std 25 as 29.8. Clean
#: photos: 3 of 160 ImageNet photos read higher (at most 4.4), none of 32 BSDS; no noisy set's
#: score changed.
LUMA_WHITE = 1.0

#: A JPEG file (``half`` read): the level is at least ``gain`` times the 2x2-pooled luma's reading
#: over the luma's share of white noise, where the flattest blocks say the noise is white (their
#: ``whiteness`` under ``whiteness[0]``; none of it from ``whiteness[1]``). The quantisation zeroes
#: the finest frequencies of noise in flat and weakly textured parts, where the colour and full-size
#: luma readings look, and the 2x2-pooled luma keeps the noise's coarser part: white noise of std 10
#: saved at quality 75-90 read 0.5-1.5 on 11 of 32 validation photos and was left in them. Blocks
#: and texture raise the pooled luma's reading too (a clean quality-75 sky, a turtle's shell: 7-18),
#: but there the flattest blocks' fine residual is thinner than its pooled one (whiteness 1.25-1.53;
#: white noise 1.03-1.17). Chosen on 32 BSDS training photos (every 12th) with white noise of std 0,
#: 5 and 10, and dimmed to 0.3 with std 4, saved at qualities 75-95 in turn and scored against the
#: photo before the noise and the file (``benchmarks/noise_pooled.py``, the ``jw`` sets;
#: ``benchmarks/results/noise_jpeg.md``): the laxest ramp that raises no clean validation photo by
#: 0.5 and costs no validation photo PSNR. Camera noise reads higher than this floor (PolyU100's 75
#: development files and 32 synthetic camera files unchanged).
JPEG_LUMA = {"gain": 0.8, "whiteness": (1.2, 1.4)}

#: A dim photo's JPEG file (:data:`EXPOSURE` under 1, its subsampled chroma read, :data:`HALF_JPEG`): the
#: level is at least ``white`` times the full-size colour covariance's white reading. The quantisation of
#: a dim photo's file, coarse against its faint noise, leaves little of the noise's finest part and
#: little of its chroma; the flattest blocks' correlated reading is ruled out as structure once the
#: photo is brightened, and the luma readings collapse: camera noise at night (the synthetic camera given
#: 0.1-0.3 of the light) read 0.3-0.5 where a level of 4-9 gained 2-5 dB. What the file left of the
#: noise is still in the white reading, 0.25-0.52 there, where clean dim camera files read 0.08-0.42. Texture
#: reads there too: a trial's clean low-key photos of foliage read 1.0-2.4, and 8 times that smeared them (at
#: 12-19); the floor fades out as the white reading (the photo's own units) goes from ``fade[0]`` to
#: ``fade[1]``, so it is at most 4. Chosen on 32 validation photos (``benchmarks/noise_pooled.py``'s night
#: and dimmed sets; ``benchmarks/results/noise_dim_jpeg.md``). It still smooths clean dim textured files read
#: under 0.5 (to 41-51 dB from themselves): the note says so, and ``dim_read`` what the others read.
DIM_JPEG = {"white": 8.0, "fade": (0.5 / 255, 0.6 / 255)}


def white_at_half(half: torch.Tensor) -> float:
    """The white noise std (full-size units, [0, 1]) of an image read from its half-size
    decode ``half`` (``(C, H, W)`` or ``(1, C, H, W)``): twice the half-size image's, since the
    decoder's 2x2 scaling halves white noise."""
    h = half.detach().to("cpu", torch.float32)
    h = h[0] if h.ndim == 4 else h
    return 2 * _pca_white(h) if min(h.shape[-2:]) >= 8 else 0.0


def _gauss_1d(sd: float) -> torch.Tensor:
    r = int(3 * sd + 0.5)
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-t * t / (2 * sd * sd))
    return k / k.sum()


def _blur(x: torch.Tensor, sd: float) -> torch.Tensor:
    k = _gauss_1d(sd).to(x)
    C, r = x.shape[1], (k.numel() - 1) // 2
    y = torch.nn.functional.pad(x, (r, r, r, r), mode="reflect")
    y = torch.nn.functional.conv2d(y, k.view(1, 1, 1, -1).expand(C, 1, 1, -1), groups=C)
    return torch.nn.functional.conv2d(y, k.view(1, 1, -1, 1).expand(C, 1, -1, 1), groups=C)


def _blocks(t: torch.Tensor, b: int) -> torch.Tensor:
    """``(C, H, W)`` -> ``(C, N, b, b)``: the whole ``b x b`` blocks, row-major."""
    C, H, W = t.shape
    if H < b or W < b:  # no whole block (unfold refuses a side of 0)
        return t.new_zeros(C, 0, b, b)
    return t[:, : H // b * b, : W // b * b].unfold(1, b, b).unfold(2, b, b).reshape(C, -1, b, b)


def _patches(x: torch.Tensor, k: int, count: int) -> torch.Tensor:
    """Up to ``count`` ``k x k`` patches of ``(C, H, W)`` at a fixed draw of positions (one
    answer per image), ``(n, C, k, k)`` float64."""
    C, H, W = x.shape
    g = torch.Generator().manual_seed(0)
    n = min(count, (H - k + 1) * (W - k + 1))
    ys = torch.randint(0, H - k + 1, (n,), generator=g)
    xs = torch.randint(0, W - k + 1, (n,), generator=g)
    d = torch.arange(k)
    P = x[:, ys[:, None, None] + d[None, :, None], xs[:, None, None] + d[None, None, :]]  # C, n, k, k
    return P.permute(1, 0, 2, 3).double()


def _pca_white(x: torch.Tensor, count: int = 60000) -> float:
    """Std of white noise in ``(C, H, W)``: Chen, Zhu & Heng (ICCV 2015) -- the eigenvalues of
    the ``k x k`` patch covariance that are noise alone have equal mean and median. ``k`` is 7,
    smaller where the image has too few patches for a covariance of that size (20 per entry)."""
    C, H, W = x.shape
    k = next((k for k in (7, 6, 5, 4, 3) if (H - k + 1) * (W - k + 1) >= 20 * C * k * k), 0)
    if k == 0:
        return 0.0
    P = _patches(x, k, count)
    n = P.shape[0]
    P = P.reshape(n, -1)
    P = P - P.mean(0, keepdim=True)
    lam = torch.linalg.eigvalsh(P.T @ P / max(1, n - 1)).flip(0).clamp(min=0)
    for i in range(lam.numel()):
        tail = lam[i:]
        if tail.mean() <= tail.median():
            return float(tail.mean().sqrt())
    return float(lam[-1].sqrt())


def _gradient_energy(P: torch.Tensor) -> torch.Tensor:
    """Each patch's summed squared horizontal and vertical differences (``P``: ``(n, ..., k, k)``)."""
    dx, dy = P[..., :, 1:] - P[..., :, :-1], P[..., 1:, :] - P[..., :-1, :]
    return dx.pow(2).flatten(1).sum(1) + dy.pow(2).flatten(1).sum(1)


@functools.lru_cache(maxsize=None)
def _weak_texture_quantile(k: int = 7, delta: float = 0.99) -> float:
    """The ``delta`` quantile of a ``k x k`` patch's gradient energy under unit white noise."""
    n = torch.randn(1, 256, 256, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    P = n[0].unfold(0, k, 3).unfold(1, k, 3).reshape(-1, k, k)
    return float(torch.quantile(_gradient_energy(P), delta))


#: a pixel this close to 0 or 1 counts as clipped (half a level of 8 bits)
CLIPPED = 0.5 / 255


def _weak_texture_white(x: torch.Tensor, k: int = 7, count: int = 60000, iters: int = 5) -> float:
    """Std of white noise in a one-channel ``(1, H, W)`` image (Liu, Tanaka & Okutomi 2013):
    the smallest eigenvalue of the covariance of its weakly textured patches, those whose
    gradient energy white noise of the current estimate would give (its 99th percentile),
    iterated from :func:`_pca_white`. With one channel the plain covariance has no colour to
    tell texture from noise, and a clean gray photo read 2.7-18.4 (0-0.9 so; white noise of
    std 5-50 within 10 %, on 12 gray BSDS training photos). The smallest sample eigenvalue's
    bias (the Marchenko-Pastur edge, ``(1 - sqrt(k^2 / n))^2``) is divided out."""
    _, H, W = x.shape
    s2 = _pca_white(x, count) ** 2
    if H < k or W < k or s2 == 0:
        return math.sqrt(s2)
    P = _patches(x, k, count)[:, 0]
    lo, hi = P.flatten(1).amin(1), P.flatten(1).amax(1)
    P = P[(lo > CLIPPED) & (hi < 1 - CLIPPED)]  # a patch touching black or white: its noise is clipped away
    if P.shape[0] < 4 * k * k:
        return math.sqrt(s2)
    energy, q = _gradient_energy(P), _weak_texture_quantile(k)
    for _ in range(iters):
        sel = P[energy < s2 * q].reshape(-1, k * k)
        if sel.shape[0] < 4 * k * k:  # too few weak patches to trust: the last estimate
            break
        sel = sel - sel.mean(0, keepdim=True)
        low = float(torch.linalg.eigvalsh(sel.T @ sel / (sel.shape[0] - 1))[0].clamp(min=0))
        new = low / (1 - math.sqrt(k * k / sel.shape[0])) ** 2
        if abs(new - s2) <= 1e-4 * s2:
            s2 = new
            break
        s2 = new
    return math.sqrt(s2)


@functools.lru_cache(maxsize=None)
def _white_gains(sd: float, b: int) -> tuple[float, float]:
    """The residual stds (fine, 2x2-pooled x 2) that unit white noise gives (calibration)."""
    n = torch.randn(1, 1, 256, 256, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    r = _blocks((n - _blur(n, sd))[0], b)
    fine = float(r.pow(2).mean().sqrt())
    return fine, 2 * float(torch.nn.functional.avg_pool2d(r.reshape(-1, 1, b, b), 2).pow(2).mean().sqrt())


def _crops(x: torch.Tensor, side: int = 512, most: int = 16) -> list[torch.Tensor]:
    """``x`` itself, or for a large image ``most`` evenly spread ``side``-pixel crops of it
    (the statistics are of the noise, which is everywhere; 12 MP in full took 3 s)."""
    C, H, W = x.shape
    if H * W <= most * side * side:
        return [x]
    n = math.isqrt(most)
    ys = [round(i * (H - side) / (n - 1)) for i in range(n)] if H > side else [0]
    xs = [round(j * (W - side) / (n - 1)) for j in range(n)] if W > side else [0]
    return [x[:, y : y + side, x0 : x0 + side] for y in ys for x0 in xs]


def _flat_residual(x: torch.Tensor, sd: float = 2.0, b: int = 16, frac: float = 0.2) -> tuple[float, float, float]:
    """``(fine, correlated, structure)`` of ``(C, H, W)``: the high-pass residual
    ``x - blur(x)`` in the ``frac`` flattest ``b x b`` blocks (least gradient after the blur),
    as white-equivalent stds, and the gradient left there."""
    grads, res = [], []
    for c in _crops(x.float()):
        s = _blur(c[None], sd)[0]
        gx, gy = s[:, :, 1:] - s[:, :, :-1], s[:, 1:, :] - s[:, :-1, :]
        grad = torch.nn.functional.pad(gx * gx, (0, 1)) + torch.nn.functional.pad(gy * gy, (0, 0, 0, 1))
        grads.append(_blocks(grad, b).mean(dim=(0, 2, 3)))
        res.append(_blocks(c - s, b))
    gb, r = torch.cat(grads), torch.cat(res, dim=1)
    if gb.numel() == 0:
        return 0.0, 0.0, 0.0
    idx = torch.argsort(gb)[: max(1, int(frac * gb.numel()))]
    r = r[:, idx].double()
    g_fine, g_pooled = _white_gains(sd, b)
    fine = float(r.pow(2).mean().sqrt()) / g_fine
    pooled = 2 * float(torch.nn.functional.avg_pool2d(r.reshape(-1, 1, b, b), 2).pow(2).mean().sqrt()) / g_pooled
    return fine, pooled, float(gb[idx].double().mean().sqrt())


def _ramp(v: float, lo: float, hi: float) -> float:
    return min(1.0, max(0.0, (v - lo) / (hi - lo)))


def grey_as_rgb(x: torch.Tensor) -> bool:
    """Whether ``x`` (``(C, H, W)``, or a ``(B, C, H, W)`` batch) is grey stored as RGB: three
    channels equal at every pixel (of every image; a black-and-white photo saved in colour, a grey
    JPEG's RGB decode). Its colour covariance sees no noise (whose colour is all one) and a colour
    prior may make colour of its detail, so it is read and restored as grey."""
    return x.ndim in (3, 4) and x.shape[-3] == 3 and bool((x[..., 1:, :, :] == x[..., :1, :, :]).all())


#: A toned black-and-white image (sepia, a duotone, a colourised grey: each channel a function of
#: the luma alone) is read and restored as its grey luma, its colours given back through that
#: function (:func:`toned`). It is one where the channels' RMS distance from their means over
#: ``bins`` luma bins (linear between the bins' mean lumas) is at most ``rms``, and no sample's over
#: ``most`` (a small coloured detail, a stamp, keeps the image in colour): toned images read
#: 0.22-0.25 (0-255; 8-bit rounding), colour photos at least 0.83 (ImageNet's 880 training photos,
#: a near-monochrome scale; BSDS 398 and CBSD68 1.55 / 1.76). A trial's sepia film grain was read
#: 2.88 by the colour covariance (blind to noise whose colour is all one direction) where its grey
#: twin read 8.43, and `--sigma 19` was warned "far from the noise". A toned scan with the scanner's
#: own colour noise, or a JPEG of one (its chroma quantised: 1.5-1.7), is read as colour.
TONED = {"rms": 0.5 / 255, "most": 3 / 255, "bins": 256}


@dataclass(frozen=True)
class Tone:
    """The function from luma to colour of a toned image (:func:`toned`): ``luma`` the knots'
    lumas (increasing), ``rgb`` ``(3, K)`` the channels there; linear between, and beyond the
    ends along the line fitted to the knots of the outer quarter of their span (a deblurred or
    enlarged image reaches lumas its input did not: a trial's deblurred highlights were held at
    the input's), within [0, 1]."""

    luma: torch.Tensor
    rgb: torch.Tensor

    def _end(self, low: bool) -> tuple[float, torch.Tensor, torch.Tensor]:
        """The luma of an end knot, its colour and each channel's slope beyond it."""
        k, c = self.luma.double(), self.rgb.double()
        span = float(k[-1] - k[0])
        near = k <= k[0] + span / 4 if low else k >= k[-1] - span / 4
        kk, cc = k[near], c[:, near]
        if kk.numel() < 2 or span <= 0:
            slope = torch.zeros(3, dtype=torch.float64)
        else:
            d = kk - kk.mean()
            slope = ((cc - cc.mean(1, keepdim=True)) * d).sum(1) / d.pow(2).sum()
        i = 0 if low else -1
        return float(k[i]), c[:, i], slope

    def apply(self, g: torch.Tensor) -> torch.Tensor:
        """The colour image ``(B, 3, H, W)`` of a grey ``g`` (``(B, 1, H, W)``) in this tone."""
        k, c = self.luma.to(g), self.rgb.to(g)
        v = g.reshape(-1)
        if k.numel() == 1:
            out = c[:, :1].expand(3, v.numel()).clone()
        else:
            i = torch.searchsorted(k, v).clamp(1, k.numel() - 1)
            t = ((v - k[i - 1]) / (k[i] - k[i - 1]).clamp_min(1e-12)).clamp(0, 1)
            out = torch.lerp(c[:, i - 1], c[:, i], t)
        for low in (True, False):
            at, colour, slope = self._end(low)
            beyond = v < at if low else v > at
            if bool(beyond.any()):
                out[:, beyond] = colour.to(g)[:, None] + slope.to(g)[:, None] * (v[beyond] - at)[None]
        return out.reshape(3, g.shape[0], *g.shape[2:]).transpose(0, 1).clamp(0, 1)

    def slope(self, g: torch.Tensor) -> torch.Tensor:
        """Each channel's rate of change with the luma at ``g`` (``(B, 3, H, W)``): how a grey
        posterior std becomes the colour one."""
        h = 1 / 512
        return (self.apply(g + h) - self.apply(g - h)).abs() / (2 * h)


def luma_of(x: torch.Tensor) -> torch.Tensor:
    """The luma (ITU-R BT.601 weights) of RGB ``(..., 3, H, W)`` as ``(..., 1, H, W)``."""
    return torch.tensordot(_LUMA.to(x), x, dims=([0], [-3])).unsqueeze(-3)


def _tone_of(c: torch.Tensor) -> Tone:
    """The :class:`Tone` of colours ``c`` (``(3, N)``): each channel's mean over :data:`TONED`
    ``bins`` luma bins, at the bins' mean lumas (summed in float64, a million pixels at a time)."""
    n = TONED["bins"]
    count, ky, kc = (torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64),
                     torch.zeros(3, n, dtype=torch.float64))
    for a in range(0, c.shape[1], 1 << 20):
        part = c[:, a : a + (1 << 20)].double()
        y = luma_of(part[:, None])[0, 0]
        idx = (y * n).long().clamp(0, n - 1)
        count.index_add_(0, idx, torch.ones_like(y))
        ky.index_add_(0, idx, y)
        kc.index_add_(1, idx, part)
    ok = count > 0
    return Tone((ky[ok] / count[ok]).float(), (kc[:, ok] / count[ok]).float())


def _off_tone(tone: Tone, im: torch.Tensor) -> bool:
    """Whether ``im`` (``(3, H, W)`` or ``(3, N)``) is further from ``tone`` than :data:`TONED`
    allows (read a million pixels at a time)."""
    flat, sq, most = im.reshape(3, -1) if im.ndim == 3 else im, 0.0, 0.0
    for a in range(0, flat.shape[1], 1 << 20):
        c = flat[:, a : a + (1 << 20)].float()
        d = tone.apply(luma_of(c[:, None])[None]) - c[None, :, None]
        sq, most = sq + float(d.double().pow(2).sum()), max(most, float(d.abs().max()))
        if most > TONED["most"]:
            return True
    return math.sqrt(sq / flat.numel()) > TONED["rms"]


def toned(x: torch.Tensor) -> list[Tone] | None:
    """One :class:`Tone` per image where ``x`` (``(C, H, W)`` or a ``(B, C, H, W)`` batch) is toned
    black and white (:data:`TONED`: every image of it, RGB whose channels are a function of the
    luma, not all equal), else None. Such an image's colour covariance sees no noise (its colour
    is one direction), so it is read and restored as its grey luma and given back in its tone.
    A colour photo is told from a sample of a large image's pixels; a toned one's tone is then
    read and checked on them all."""
    if x.ndim not in (3, 4) or x.shape[-3] != 3 or grey_as_rgb(x):
        return None
    tones = []
    for im in (x[None] if x.ndim == 3 else x).detach().cpu():
        flat = im.reshape(3, -1)
        sample = flat[:, :: max(1, flat.shape[1] // 250_000)]
        tone = _tone_of(sample)
        if _off_tone(tone, sample):  # a colour photo is told from a sample
            return None
        if sample.shape[1] < flat.shape[1]:  # (a sample's tone missed the extremes: a large sepia read as colour)
            tone = _tone_of(flat)
            if _off_tone(tone, flat):
                return None
        tones.append(tone)
    return tones


def estimate_noise(image: torch.Tensor, half: float | None = None, *, flat_only: bool = False) -> NoiseEstimate:
    """The noise level a denoiser trained on white Gaussian noise must be told for ``image``
    (``(C, H, W)`` or ``(1, C, H, W)`` in [0, 1]): white noise, camera noise or none.

    Camera noise is correlated over neighbouring pixels (demosaicking, in-camera processing
    and JPEG), so a fine-scale estimate (:func:`estimate_sigma`) reads a fraction of it; it
    is measured instead on the 2x2-pooled residual of the flattest blocks, where correlated
    noise keeps its strength and white noise halves (Zhou et al. 2020 make the same point
    with pixel-shuffle subsampling). Its share grows with ``whiteness``; a texture with no
    flat region around it reads like such noise, so the correlated part is dropped as the
    structure left in the flattest blocks rises (a clean photo stays about as it is).
    ``level = max(white, gain x correlated x share x trust)``, calibrated in
    :data:`PHOTO_NOISE`; white Gaussian noise reads as itself (``white``). Strong noise two
    pixels wide in a photo without flat regions is read on the 2x2-pooled image instead
    (:data:`PHOTO_POOLED`). The full-size luma is read too (a JPEG's subsampled chroma leaves
    it whole, where the colour readings collapse): its pooled reading over it tells white
    noise (about 1) from wider noise, white noise is read on it (:data:`LUMA_WHITE`), and the
    pooled reading is kept for wider noise; :func:`photo_level` puts the readings together.

    ``half``: for a JPEG with subsampled chroma, the white std read on its half-size decode
    (:func:`white_at_half`), taken where the full-size reading collapsed (:data:`HALF_JPEG`).
    ``flat_only``: the white part and the flattest blocks' readings alone, the pooled and luma ones
    left at 0 and the level told from those two (what tells a camera's grain from white noise, in
    about two thirds of the time).
    """
    x = image.detach().to("cpu", torch.float32)  # the statistics are taken in float64 on samples of it
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"estimate_noise takes one image, got a batch of {x.shape[0]}")
        x = x[0]
    if grey_as_rgb(x):  # (a black-and-white photo saved as RGB with noise of 15 read 22.6)
        x = x[:1]
    elif toned(x) is not None:  # a toned one (sepia): its luma (a trial's sepia grain read 2.88, its grey twin 8.43)
        x = luma_of(x)
    if min(x.shape[-2:]) < 4:  # too small to tell noise from content
        return NoiseEstimate(0.0, 0.0, 0.0, 1.0, 0.0)
    k = exposure(x)
    if k < 1:  # a dim photo read as if its brightest were white (EXPOSURE)
        e = _estimate_noise(x / k, None if half is None else half / k, flat_only, exposure=k).scaled(k)
    else:
        e = _estimate_noise(x, half, flat_only)
    # at most the range: a halftone's correlated reading made 274, which --sigma refuses
    return e if e.level <= 1 else dataclasses.replace(e, level=1.0)


#: Images whose detail no noise reading describes, read as noise by the estimate and smeared (a trial
#: on images people bring besides photos): a regular pattern (a halftone screen, a printed raster,
#: hatching) read over ``least``, whose fine detail (periods under 12 px, on the luma's centre
#: ``side`` x ``side``, Hann-windowed) holds over ``share`` of its energy in the strongest 0.2 % of its
#: frequencies, where noise spreads over all, and whose finest frequencies' median power stands for
#: noise under ``floor`` times the level read (:func:`noise_floor`); and a two-level image (1-bit line
#: art, text or a dither: over 99 % of each channel's samples at two values, the second at least
#: ``second``). Two halftones read 146 and 274 (over the range ``--sigma`` takes) and came out 7.6 and
#: 11.4 dB from themselves; a 1-bit dither read 25, 18.4 dB. Halftones' shares were 0.68-0.99, their
#: floors 0.01-0.10 of the level read; of 32 clean validation photos the share was at most 0.21, of
#: 40 held-out ImageNet photos 0.44, of CBSD68 and Set12 with white noise of 30-75 at most 0.16;
#: PolyU100's 100 noisy photos reached 0.83 (printers, stairs), all read under 17. Stripes under noise
#: of 30-60 (blinds, a checkerboard, photos under stripes) reach 0.90 and read up to 54, their floors
#: 1.0-1.6 times the level read: left noisy by the first rule (blinds under noise of 50: 15.1 dB,
#: 27.1 before it), hence the floor (``benchmarks/not_noise.py``, ``benchmarks/results/not_noise.md``).
#: The trade of the two-level rule: salt-and-pepper speckle on 1-bit text stays two-level and is left
#: (2-20 %: 2.5-5.3 dB under the smear it had), where a dither was smeared.
NOT_NOISE = {"share": 0.6, "least": 30 / 255, "floor": 0.25, "side": 512, "top": 0.002, "shortest": 12,
             "two_level": 0.99, "second": 0.001}


def _spectrum(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float] | None:
    """The power spectrum of an image's luma (``(C, H, W)``; its centre ``NOT_NOISE["side"]``
    square, Hann-windowed), its frequencies (cycles per pixel) and the window's energy; None
    for an image too small to hold periods of ``NOT_NOISE["shortest"]`` px."""
    c = NOT_NOISE
    y = torch.tensordot(_LUMA.to(x), x, dims=1) / _LUMA_GAIN if x.shape[0] == 3 else x.mean(0)
    H, W = y.shape
    h, w = min(H, c["side"]), min(W, c["side"])
    if min(h, w) < 2 * c["shortest"]:
        return None
    y = y[(H - h) // 2 : (H - h) // 2 + h, (W - w) // 2 : (W - w) // 2 + w].double()
    win = torch.outer(torch.hann_window(h, periodic=False, dtype=torch.float64),
                      torch.hann_window(w, periodic=False, dtype=torch.float64))
    power = torch.fft.rfft2((y - y.mean()) * win).abs() ** 2
    f = torch.fft.fftfreq(h, dtype=torch.float64)[:, None] ** 2 + torch.fft.rfftfreq(w, dtype=torch.float64)[None] ** 2
    return power, f.sqrt(), float((win**2).sum())


def pattern_share(x: torch.Tensor) -> float:
    """The share of an image's fine detail (``(C, H, W)`` in [0, 1]; luma of a colour one) in its
    strongest frequencies (:data:`NOT_NOISE`): about 0.03 for white noise, 0.05-0.4 for photos,
    0.6-0.99 for a halftone screen or hatching (and for stripes under strong noise: see
    :func:`noise_floor`)."""
    return _share(_spectrum(x))


def noise_floor(x: torch.Tensor) -> float:
    """The white noise std ([0, 1] units, of a channel) that the median power of an image's finest
    frequencies (over a quarter cycle per pixel) stands for: white noise reads as its std, a
    pattern's strongest frequencies are left out, so a clean halftone reads a tenth or less of the
    level the estimate reads in it and stripes under noise about that level."""
    return _floor(_spectrum(x))


def _share(s) -> float:
    """:func:`pattern_share` of a :func:`_spectrum`."""
    if s is None:
        return 0.0
    fine = s[0][s[1] > 1 / NOT_NOISE["shortest"]]
    total = float(fine.sum())
    if total <= 0:
        return 0.0
    return float(fine.topk(max(1, int(NOT_NOISE["top"] * fine.numel()))).values.sum()) / total


def _floor(s) -> float:
    """:func:`noise_floor` of a :func:`_spectrum`."""
    return 0.0 if s is None else math.sqrt(float(s[0][s[1] > 0.25].median()) / (math.log(2) * s[2]))


def two_level(x: torch.Tensor) -> bool:
    """Whether over :data:`NOT_NOISE`'s ``two_level`` share of each channel's samples take one of
    two values, two values holding at least ``second`` of some channel's (1-bit line art, text,
    a dither; not a flat image), read from a sample of up to 1M."""
    seen = False
    for ch in x.reshape(x.shape[0], -1):
        v = ch[:: max(1, ch.numel() // 1_000_000)]
        counts = torch.unique(v, return_counts=True)[1]
        top = counts.topk(min(2, counts.numel())).values.tolist()
        if sum(top) < NOT_NOISE["two_level"] * v.numel():
            return False
        seen = seen or (len(top) == 2 and top[1] >= NOT_NOISE["second"] * v.numel())
    return seen


#: :func:`not_noise`'s kinds, in words
NOT_NOISE_WORDS = {
    "two-level": "two-level (1-bit line art, text or a dither), which a denoiser made for Gaussian noise would "
                 "smear to grey (speckle on a 1-bit scan wants a median filter)",
    "pattern": "a regular pattern (a halftone screen, a printed raster, hatching), whose fine detail lies in a few "
               "frequencies, where noise spreads over all",
}


def not_noise(x: torch.Tensor, level: float) -> str | None:
    """What an image (``(C, H, W)`` or ``(1, C, H, W)``) read as noise of ``level`` holds instead
    (:data:`NOT_NOISE`): ``"two-level"``, ``"pattern"`` (:data:`NOT_NOISE_WORDS`), or None."""
    if level <= 0:
        return None
    x = x[0] if x.ndim == 4 else x
    x = x.detach().to("cpu", torch.float32)
    if two_level(x):
        return "two-level"
    c = NOT_NOISE
    if level > c["least"]:
        s = _spectrum(x)  # once, for both readings
        if _share(s) >= c["share"] and _floor(s) < c["floor"] * level:
            return "pattern"
    return None


#: A dim photo (underexposed, at night) is read as if its brightest were white: where the ``quantile``
#: of its samples is under ``below``, its readings are taken on the image over that quantile ``k``
#: (at least ``floor``) and said times ``k``. The readings' thresholds (what structure in the
#: flattest blocks rules the correlated part out) are in absolute units, so a dim photo's texture
#: read as camera noise: 11 clean validation photos at 0.3 of their brightness read up to 14.3 (6 over
#: 4) and came out smeared (45.7 dB from themselves, 59.8 read so). Under ``below`` only: every photo
#: read so (``below`` 1) lost 0.08 dB on PolyU100's development pairs, where two dim NikonD800 stair
#: photos (their quantile 0.55-0.56) were read clean and left noisy (-2.9 dB each;
#: ``benchmarks/results/dim_photos.md``). The 99th percentile, not the 99.9th: a night photo's few
#: lamps (three 7-px discs, 0.13 % of a dim photo) put the 99.9th at white, and it was smeared (37.4
#: dB from itself; 65.7 read so), and photos at half their brightness (their 99.9th percentile 0.50)
#: were not caught (6 photos: 43.1 -> 56.5 dB from themselves), PolyU100 and the clean sets as before.
EXPOSURE = {"quantile": 0.99, "below": 0.5, "floor": 1 / 32}


def exposure(x: torch.Tensor) -> float:
    """The brightness a dim photo reaches (``(C, H, W)`` in [0, 1]): its samples' ``EXPOSURE``
    quantile (at least its ``floor``) where that is under its ``below``; else 1."""
    v = x.reshape(-1)
    v = v[:: max(1, v.numel() // 2_000_000)].float()  # a sample is enough
    q = _quantile(v, EXPOSURE["quantile"]) if v.numel() else 1.0
    return max(q, EXPOSURE["floor"]) if q < EXPOSURE["below"] else 1.0


def _quantile(v: torch.Tensor, q: float) -> float:
    """``torch.quantile(v, q)`` (linear between the two order statistics around ``q (n - 1)``)
    from two ``kthvalue`` selections, where it sorts: 0.04 s against 0.30 s on the 2M samples
    of a 12 MP photo, for every noise estimate."""
    pos = q * (v.numel() - 1)
    i = math.floor(pos)
    lo = v.kthvalue(i + 1).values
    hi = v.kthvalue(i + 2).values if i + 1 < v.numel() else lo
    return float(torch.lerp(lo, hi, pos - i))


def _estimate_noise(x: torch.Tensor, half: float | None, flat_only: bool = False,
                    exposure: float = 1.0) -> NoiseEstimate:
    """:func:`estimate_noise` of a ``(C, H, W)`` image at least 4 pixels a side, as it is (``exposure`` under 1:
    a dim photo brightened by its inverse)."""
    white = _pca_white(x) if x.shape[0] > 1 else _weak_texture_white(x)
    if min(x.shape[-2:]) < 32:  # too few blocks to find flat ones: the white part alone
        white = white or estimate_sigma(x[None])  # too few patches for the covariance: wavelets
        return NoiseEstimate(float(white), float(white), 0.0, 1.0, 0.0)
    fine, corr, flat = _flat_residual(x)
    whiteness = corr / fine if fine > 0 else 1.0
    if flat_only:
        level = flat_level(white, corr, whiteness, flat)
        return NoiseEstimate(float(level), float(white), float(corr), float(whiteness), float(flat))
    pooled, pooled_luma, luma = None, 0.0, 0.0
    if x.shape[0] == 3:  # the plain covariance is blind to texture only with colour (as for ``white``); RGB luma
        y = torch.tensordot(_LUMA.to(x), x, dims=1)[None]  # the luma, full size and (as pooling commutes) pooled
        pooled = 2 * _pca_white(torch.nn.functional.avg_pool2d(x[None], 2)[0])
        pooled_luma = 2 * _weak_texture_white(torch.nn.functional.avg_pool2d(y[None], 2)[0])
        luma = _weak_texture_white(y)
    base = flat_level(white, corr, whiteness, flat)
    level, told_white = photo_level(base, white, half, pooled, pooled_luma, luma, whiteness=whiteness,
                                    exposure=exposure)
    dim_read = 0.0
    if exposure < 1 and half is not None and pooled is not None:  # what the others told, where DIM_JPEG set it
        without, _ = photo_level(base, white, half, pooled, pooled_luma, luma, whiteness=whiteness, exposure=exposure,
                                 dim_jpeg={**DIM_JPEG, "white": 0.0})
        dim_read = without if level > without else 0.0
    return NoiseEstimate(float(level), float(told_white), float(corr), float(whiteness), float(flat),
                         float(half or 0.0), float(pooled or 0.0), float(pooled_luma), float(luma), float(dim_read))


def flat_level(white: float, correlated: float, whiteness: float, flat: float) -> float:
    """The level the white part and the flattest blocks' correlated part tell (:data:`PHOTO_NOISE`)."""
    c = PHOTO_NOISE
    share = _ramp(whiteness, *c["whiteness"])
    trust = 1.0 - _ramp(math.sqrt(max(flat**2 - (c["leak"] * correlated) ** 2, 0.0)), *c["flat"])
    return max(white, c["gain"] * correlated * share * trust)


# -- a synthetic camera: noise as a sensor makes it and a camera's processing shapes it ---------------
_XYZ2CAMS = np.array([  # XYZ -> camera matrices of four cameras (Brooks et al. 2019, unprocess.py)
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.613, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.838, -0.263, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.097, 0.1581, 0.5181]],
])
_RGB2XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                     [0.0193339, 0.1191920, 0.9503041]])


def _demosaic_bilinear(raw: np.ndarray) -> np.ndarray:
    """RGGB mosaic ``(H, W)`` (even sides) -> ``(H, W, 3)`` by bilinear interpolation."""
    import cv2

    H, W = raw.shape
    planes = np.zeros((H, W, 3))
    planes[0::2, 0::2, 0] = raw[0::2, 0::2]
    planes[0::2, 1::2, 1] = raw[0::2, 1::2]
    planes[1::2, 0::2, 1] = raw[1::2, 0::2]
    planes[1::2, 1::2, 2] = raw[1::2, 1::2]
    rb = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], float) / 4
    g = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], float) / 4
    out = np.empty_like(planes)
    for c, k in ((0, rb), (1, g), (2, rb)):
        out[:, :, c] = cv2.filter2D(planes[:, :, c], -1, k, borderType=cv2.BORDER_REFLECT_101)
    return out


def _jpeg(a: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    ok, buf = cv2.imencode(".jpg", a[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def camera_noise(img: np.ndarray, seed: int, *, jpeg: bool = True, exposure: float = 1.0, gain: float = 1.0,
                 shot: tuple[float, float] = (1e-4, 0.012)) -> tuple[np.ndarray, np.ndarray, dict]:
    """A clean sRGB photo through a synthetic camera with and without sensor noise
    (Brooks et al. 2019, "Unprocessing images for learned raw denoising").

    The photo is unprocessed to raw (inverse tone curve, inverse gamma 2.2, a random
    XYZ->camera matrix, inverse white balance and brightening, RGGB mosaic), given
    Poisson-Gaussian noise (shot noise log-uniform in ``shot``, [1e-4, 0.012], read noise on the
    paper's log-log line), then processed back as a camera does (white balance, bilinear
    demosaicking, colour matrix, gamma, tone curve) and saved as a JPEG of
    quality 90-97 (in-camera "fine").
    ``img`` is ``(H, W, 3)`` uint8; returns ``(noisy, clean, info)``, both uint8: ``clean``
    is the same pipeline without the noise, saved as the same JPEG (the reference, as a
    real set's mean of many shots is; ``jpeg=False``: neither is compressed), ``info`` the
    draws. ``exposure``: the share of the photo's light the sensor got (a dim scene, at night);
    ``gain``: the camera's brightening of its raw data after the sensor (a pushed exposure, its
    noise brightened with it).
    """
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError("the camera pipeline takes RGB images")
    rng = np.random.default_rng(seed)
    H, W = img.shape[:2]
    x = np.pad(img.astype(np.float64) / 255.0, ((0, H % 2), (0, W % 2), (0, 0)), mode="reflect")
    w = rng.uniform(1e-8, 1e8, size=4)
    xyz2cam = np.tensordot(w, _XYZ2CAMS, axes=1) / w.sum()
    rgb2cam = xyz2cam @ _RGB2XYZ
    rgb2cam /= rgb2cam.sum(axis=1, keepdims=True)
    cam2rgb = np.linalg.inv(rgb2cam)
    rgb_gain, red_gain, blue_gain = 1.0 / rng.normal(0.8, 0.1), rng.uniform(1.9, 2.4), rng.uniform(1.5, 1.9)
    log_shot = rng.uniform(np.log(shot[0]), np.log(shot[1]))
    shot, read = np.exp(log_shot), np.exp(2.18 * log_shot + 1.20 + rng.normal(0, 0.26))
    quality = int(rng.integers(90, 98))
    # unprocess
    lin = np.clip(x, 0, 1)
    lin = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * lin) / 3.0)
    lin = np.maximum(lin, 1e-8) ** 2.2
    lin = lin @ rgb2cam.T
    gains = np.array([1.0 / red_gain, 1.0, 1.0 / blue_gain]) / rgb_gain
    gray = lin.mean(axis=2, keepdims=True)
    mask = (np.maximum(gray - 0.9, 0.0) / 0.1) ** 2
    lin = np.clip(lin * np.maximum(mask + (1 - mask) * gains, gains), 0, 1)
    raw = np.zeros(lin.shape[:2])
    raw[0::2, 0::2], raw[0::2, 1::2] = lin[0::2, 0::2, 0], lin[0::2, 1::2, 1]
    raw[1::2, 0::2], raw[1::2, 1::2] = lin[1::2, 0::2, 1], lin[1::2, 1::2, 2]
    raw = raw * exposure
    noisy_raw = raw + rng.standard_normal(raw.shape) * np.sqrt(np.maximum(raw * shot + read, 0))
    raw, noisy_raw = raw * gain, noisy_raw * gain

    def process(r: np.ndarray) -> np.ndarray:
        g = np.ones_like(r) * rgb_gain
        g[0::2, 0::2] *= red_gain
        g[1::2, 1::2] *= blue_gain
        rgb = np.clip(_demosaic_bilinear(r * g), 0, 1) @ cam2rgb.T
        rgb = np.maximum(np.clip(rgb, 0, 1), 1e-8) ** (1 / 2.2)
        rgb = 3 * rgb**2 - 2 * rgb**3
        return (np.clip(rgb, 0, 1)[:H, :W] * 255).round().astype(np.uint8)

    clean, noisy = process(raw), process(noisy_raw)
    if jpeg:  # both, as in-camera JPEGs (a reference without it would score the JPEG's chroma loss)
        clean, noisy = (_jpeg(a, quality) for a in (clean, noisy))
    info = {"shot": float(shot), "read": float(read), "jpeg": quality if jpeg else None}
    return noisy, clean, info
