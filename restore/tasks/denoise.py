"""Denoising: ``A = I``, ``y = x + sigma_y n``."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..io import to_tensor
from ..noise import (
    _LUMA, DIM_JPEG, HIDDEN_GRAIN, NOT_NOISE_WORDS, _blocks, camera_noise, estimate_noise, estimate_sigma,
    flat_level, hidden_grain, not_noise,
)
from .base import Case, Operator, Param, Task, from_np, level_text, np01

__all__ = ["Denoise", "DenoiseTask", "bm3d_denoise", "estimate_noise", "estimate_sigma"]


class Denoise(Operator):
    """Identity operator with Gaussian noise of std ``sigma_y`` (image units); ``wide``: how much
    of the pooled chroma step the noise takes, read with its level (:func:`wide_share`), or None
    (a level given: read by :meth:`DenoiseTask.refine`); ``dim_read``: where a dim JPEG's floor set
    the level read (:data:`~restore.noise.DIM_JPEG`), what the other readings told, else 0."""

    capabilities = frozenset({"pinv", "svd", "grad", "identity"})
    task = "denoise"

    def __init__(self, x_shape: tuple[int, int, int], sigma_y: float = 0.0, wide: float | None = None,
                 dim_read: float = 0.0) -> None:
        super().__init__(x_shape, sigma_y)
        self.wide, self.dim_read = wide, dim_read

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
#: ... in images whose shorter side is at least this (a 3x7 image's estimate is no reading)
MIN_ESTIMATE_SIDE = 16


#: A level read from a photo is lowered, by LOWER_STEP at a time down to LOWER_FLOOR, while what
#: the prior takes away at it follows the photo's own texture and follows it less at the lower
#: level: the rank correlation, over 8x8 blocks, of the residual's energy (its brightness trend
#: taken out: shot noise follows brightness) with the denoised image's fine detail is over
#: TEXTURE_TAKEN and falls (by TEXTURE_FALL). Noise is taken evenly, texture where the texture
#: is: clean, sharp web photos read 5-18/255 (a pumpkin's skin, an LED grid: detail two pixels
#: wide read as camera grain) and came out smeared. A reading that does not fall as the level
#: does is the noise's own (some of PolyU100's in-camera JPEGs read 0.3-0.5 at every level:
#: in-camera noise reduction leaves the noise where the texture is), and leaves the level as
#: read. The laxest constants tried that leave PolyU100's development pairs as they were
#: (benchmarks/noise_guard.py, benchmarks/results/noise_guard.md).
TEXTURE_TAKEN, LOWER_STEP, LOWER_FLOOR = 0.5, 0.7, 2 / 255
#: how much the reading must fall one step lower for the level to be lowered
TEXTURE_FALL = 0.1
#: ... unless it is over this: the prior takes the photo's own detail so plainly that the level is
#: lowered whether the reading falls or not. A clean BSDS photo (an iceberg, a knitted sweater) read
#: 18.5 and 0.72-0.73 at the three levels under it, kept its level and came out 30.77 dB from itself
#: (46.38 lowered). Of the constants tried (0.55-0.7) the one that leaves PolyU100's 75 development
#: pairs where they were (0.65 lowered a Nikon flower photo reading 0.67, 0.58, 0.24: -1.34 dB on it);
#: benchmarks/noise_guard.py --sure, benchmarks/results/noise_guard.md.
TEXTURE_SURE = 0.7
#: the side of the crops the check reads in a large image (four, one in each quarter)
GUARD_CROP = 256


def _ranks(v: np.ndarray) -> np.ndarray:
    r = np.empty(len(v))
    r[np.argsort(v, kind="stable")] = np.arange(len(v))
    return r


def texture_taken(y: torch.Tensor, xh: torch.Tensor) -> float:
    """How much what a denoiser took from ``y`` (its result ``xh``; ``(B, C, H, W)``, crops of
    one image) follows ``xh``'s own fine detail: the Spearman correlation over 8x8 blocks of
    the residual's log-variance (luma, less a quadratic in the block's brightness) with the
    variance of ``xh``'s luma less its 4-neighbour mean. About 0 where noise was taken (and 0 where
    there are under 16 blocks to read)."""
    if y.shape[0] * (y.shape[-2] // 8) * (y.shape[-1] // 8) < 16:
        return 0.0

    def luma(t):  # (B, H, W), float64
        t = t.detach().double().cpu()
        return t[:, 0] if t.shape[1] == 1 else torch.tensordot(_LUMA.double(), t, dims=([0], [1]))

    ly, lx = luma(y), luma(xh)
    p = torch.nn.functional.pad(lx[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    hp = lx - (p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:]) / 4

    def per_block(t, f):  # one value per whole 8x8 block of every crop
        return f(_blocks(t, 8).flatten(2)).flatten().numpy()

    e = per_block(ly - lx, lambda v: v.var(-1, correction=0))
    d = per_block(hp, lambda v: v.var(-1, correction=0))
    m = per_block(lx, lambda v: v.mean(-1))
    le = np.log(e + 1e-12)
    basis = np.stack([np.ones_like(m), m, m * m], 1)
    left = le - basis @ np.linalg.lstsq(basis, le, rcond=None)[0]
    ra, rb = _ranks(left), _ranks(d)
    sa, sb = ra.std(), rb.std()
    return 0.0 if sa == 0 or sb == 0 else float(((ra - ra.mean()) * (rb - rb.mean())).mean() / (sa * sb))


def _guard_crops(x: torch.Tensor) -> torch.Tensor:
    """What the check reads: the image, or four crops of :data:`GUARD_CROP` (one per quarter) of
    a larger one."""
    H, W = x.shape[-2:]
    c = GUARD_CROP
    if H * W <= 4 * c * c or min(H, W) < 2 * c:
        return x
    tops = [max(0, min(H - c, H * f // 4 - c // 2)) for f in (1, 3)]
    lefts = [max(0, min(W - c, W * f // 4 - c // 2)) for f in (1, 3)]
    return torch.cat([x[..., t : t + c, s : s + c] for t in tops for s in lefts])


#: A camera's grain leaves colour blotches after one evaluation of the prior at its level: the
#: result's chroma is corrected by what the prior, told the same level, takes from the 2x2-pooled
#: image against the result pooled alike (:func:`pooled_chroma`; luma as it was), by a share that
#: rises from 0 to 1 as the flattest blocks' reading (:func:`restore.noise.flat_level`: their
#: correlated part, PolyU100's camera grain) goes from ``ratio[0]`` to ``ratio[1]`` times the white
#: part (white noise reads 1.00-1.02; 99 of PolyU100's 100 photos over 2). Chosen on the first 24 of
#: PolyU100's development pairs (+0.26 dB; the pooled image told half the level +0.13, 1.25 times
#: +0.27 with larger losses), 8 BSDS validation photos clean (51.75 -> 51.33 dB from themselves) and
#: with white noise of 25 (unchanged), and a trial's cases (unchanged but digital zoom, 32.18 ->
#: 32.14 dB). Gated by the level told over the white part instead, it also took the trial's
#: synthetic blotches (luma noise of 15, chroma noise blurred by 3 px: +1.40 dB) but cost the zoom
#: 0.66 dB (a level read from the pooled image, three times the noise's, smoothing twice). Reported
#: in ``benchmarks/results/real_noise.md``: PolyU100's held-out pairs 38.38 -> 38.66 dB; the
#: synthetic camera's noise 33.31 -> 32.94 against the camera's own clean render, whose bilinear
#: demosaicking's colour zipper the step takes (+0.40-0.50 dB against the photo itself on the four
#: photos it ran on). ``least``: an image's shorter side under this is left as it is.
POOLED_CHROMA = {"ratio": (1.2, 2.0), "least": 32}


def wide_share(e) -> float:
    """How much of :func:`pooled_chroma`'s correction a noise read as ``e`` (a
    :class:`restore.noise.NoiseEstimate`) takes (:data:`POOLED_CHROMA`): 0 for white noise, 1 for
    a camera's grain read in the flattest blocks."""
    lo, hi = POOLED_CHROMA["ratio"]
    grain = flat_level(e.white, e.correlated, e.whiteness, e.flat_structure)
    r = grain / e.white if e.white > 0 else (float("inf") if grain > 0 else 0.0)
    return min(1.0, max(0.0, (r - lo) / (hi - lo)))


def pooled_chroma(y: torch.Tensor, out: torch.Tensor, denoiser, level: float) -> torch.Tensor:
    """``out`` (the denoised ``y``, one ``(1, 3, H, W)`` image; or several results of it, its
    samples) with its chroma corrected by what ``denoiser`` at ``level`` takes from the 2x2-pooled
    ``y``, against ``out`` pooled alike, taken back to full size (bilinear) with its luma part
    removed."""
    import torch.nn.functional as F

    H, W = y.shape[-2:]
    pad = (0, W % 2, 0, H % 2)  # an odd side: its last row or column repeated

    def pooled(t):
        return F.avg_pool2d(F.pad(t, pad, mode="replicate") if any(pad) else t, 2)

    py = pooled(y)
    d = denoiser(py, level) - pooled(out)
    d = F.interpolate(d, scale_factor=2, mode="bilinear", align_corners=False)[..., :H, :W]
    d = d - torch.tensordot(_LUMA.to(d), d, dims=([0], [1]))[:, None]  # chroma only
    return (out + d).clamp(0, 1)


def lowered_level(y: torch.Tensor, denoiser, level: float) -> float:
    """``level`` ([0, 1] units) lowered while what ``denoiser`` takes from ``y`` (one image) at
    it follows the image's texture (:func:`texture_taken` over :data:`TEXTURE_TAKEN`) and
    follows it less one step lower (by :data:`TEXTURE_FALL`), or follows it over
    :data:`TEXTURE_SURE`; ``level`` itself where it does not (a reading that does not fall with the
    level is the noise's own)."""
    if level * LOWER_STEP < LOWER_FLOOR:  # nothing lower to go to
        return level
    crops = _guard_crops(y)
    s, t = level, texture_taken(crops, denoiser(crops, level))
    while t > TEXTURE_TAKEN and s * LOWER_STEP >= LOWER_FLOOR:
        t2 = texture_taken(crops, denoiser(crops, s * LOWER_STEP))
        if t2 > t - TEXTURE_FALL and t <= TEXTURE_SURE:
            break
        s, t = s * LOWER_STEP, t2
    return s


def sigma_mismatch(given: float, estimated: float, api: bool = False) -> str | None:
    """A warning when ``--sigma`` (0-255) is far from the image's estimated noise (e.g. 0.1
    given for a sigma-25 image, taken for 0-1 units), else None. ``api``: in the Python API's
    words, whose ``sigma`` is in [0, 1] (1 given for a sigma-25 image, taken for 0-255 units
    and cut down to 1, is the mistake there)."""
    lo, hi = sorted((max(given, 2.0), max(estimated, 2.0)))  # both under 2 (invisible): they agree
    if hi / lo <= SIGMA_MISMATCH:
        return None
    zero = "; at 0 the image is left as it is" if given == 0 else ""  # (a trial: nothing said so)
    if api:
        return (f"sigma={given / 255:.4g} ({given:.3g} in 0-255 units) is far from the noise estimated in the image "
                f"({estimated / 255:.4f}, {estimated:.2f} in 0-255 units); the API's sigma is in [0, 1] units" + zero)
    return (f"--sigma {given:g} is far from the noise estimated in the image ({estimated:.2f}); "
            "--sigma is in 0-255 units" + zero)


# -- classical tools (restore eval --baselines) ------------------------------------------------
def _case_sigma(case: Case) -> float:
    """The noise std (0-255) a classical tool is given: the synthetic one when known, else
    scikit-image's estimate (what a user of these tools has; real and camera noise)."""
    if "sigma" in case.params:
        return float(case.params["sigma"])
    return estimate_sigma(case.y) * 255.0


#: OpenCV NLM's filter strength is not the noise std (h = sigma under-smooths: CBSD68 sigma 25
#: at h 15 is +1.7 dB over h 25): ``restore eval --baselines`` runs this grid and each row is
#: reported, so the best h per set is read off the table (an oracle choice, in NLM's favour).
NLM_H = (3, 5, 8, 10, 15, 20, 25, 30, 40, 50)


def _cv2_nlm(case: Case, h: float) -> torch.Tensor:
    import cv2

    n8 = case.y_uint8
    if n8.ndim == 3:
        return from_np(cv2.fastNlMeansDenoisingColored(n8, None, h, h, 7, 21))
    return from_np(cv2.fastNlMeansDenoising(n8, None, h, 7, 21))


def _sk(case: Case, which: str) -> torch.Tensor:
    from skimage import restoration as R

    a = np01(case.y).astype(np.float64)
    s = _case_sigma(case) / 255.0
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
    return bm3d_denoise(case.y, _case_sigma(case) / 255.0)


def _bm3d_rms(case: Case) -> torch.Tensor:
    """CBM3D told the true RMS of ``y - x`` (an oracle, as in real-noise papers' tables)."""
    return bm3d_denoise(case.y, float((case.y.clamp(0, 1) - case.gt).pow(2).mean().sqrt()))


def _has_bm3d() -> bool:
    import importlib.util

    return importlib.util.find_spec("bm3d") is not None


_SIGMA = Param("sigma", float, None, "Noise level told to the prior, 0-255 units (estimated and printed when "
               "omitted: white Gaussian noise as its std, camera noise as the level that removes it, low "
               "on most clean photos, a JPEG's artefacts reading as mild noise; a fine regular texture "
               "with no flat region around it, such as woven cloth or chain mail, can read 20-60: give a low "
               "level there).",
               range=(0, 255), unit=255.0)
_HALF = Param("jpeg_half", float, None, "For a JPEG file with subsampled chroma: the white noise std read on the "
              "file decoded at half size (restore.io.jpeg_half(path)), which the estimate takes where the "
              "full-size reading collapsed (as the white part where the luma says white, else as a pooled "
              "reading); the command line reads it from the file.", unit=255.0, cli=False)
_STRENGTH = Param("strength", float, 1.0, "Multiplies the noise level (estimated or --sigma): below 1 keeps more "
                  "grain and fine texture, above 1 smooths more.", range=(0, 10))


class DenoiseTask(Task):
    """Remove white Gaussian noise of a known std, or noise whose level is estimated (a camera's, correlated
    over neighbouring pixels, included: :func:`restore.noise.estimate_noise`)."""

    name = "denoise"
    summary = "remove noise (white Gaussian or a camera's)"
    operator = Denoise
    params = (_SIGMA, _STRENGTH, _HALF)
    eval_params = (
        Param("sigma", float, 25.0, "Noise std, 0-255 units (gaussian noise).", range=(0, 255)),
        Param("noise", str, "gaussian", "gaussian: white, of std --sigma, known to every method; camera: a "
              "synthetic camera's (Brooks et al. 2019: Poisson-Gaussian on the Bayer mosaic, demosaicking, "
              "colour, gamma, JPEG), drawn per image and estimated by every method.",
              choices=("gaussian", "camera")),
    )
    # one evaluation at the noise level (the MMSE estimate): benchmarks/choose_defaults.py
    sampler, steps, sigma_max = "mmse", 1, 0.5
    baselines = {
        **{f"opencv-nlm@h={h}": (lambda c, h=h: _cv2_nlm(c, h)) for h in NLM_H},
        "skimage-nlm": lambda c: _sk(c, "nlm"),
        "skimage-tv": lambda c: _sk(c, "tv"),
        "skimage-wavelet": lambda c: _sk(c, "wavelet"),
    }
    if _has_bm3d():
        baselines["bm3d"] = _bm3d
        baselines["bm3d@rms"] = _bm3d_rms
    missing_baselines = {} if _has_bm3d() else {"bm3d": 'pip install "restore[bench]"'}
    slow_baselines = frozenset({"bm3d", "bm3d@rms"})
    given = "noisy"
    pairs = True  # restore eval denoise --pairs: real noisy/clean pairs
    one_level_hint = True  # a video's frames read levels of their own: --sigma tells them one
    # the level read before settle_level, and what it was lowered to
    reported_units = {"level_read": 255.0, "lowered_to": 255.0, "read_as_noise": 255.0, "dim_read": 255.0}
    helper_args = (("sigma", None),)
    helper_doc = """Remove noise: white Gaussian of std ``sigma`` ([0, 1] units), or, with ``sigma``
    None, the level a photo's noise needs, estimated (:func:`restore.noise.estimate_noise`);
    ``strength`` multiplies it.

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

    def estimate(self, x, p=None):
        """Photos: the level a Gaussian denoiser must be told (:func:`estimate_noise`), which
        reads white Gaussian noise as its std and correlated camera noise higher (a JPEG's
        half-size reading, ``jpeg_half``, where :meth:`load` made one)."""
        return estimate_noise(x, (p or {}).get("jpeg_half")).level

    def load(self, image, files, p, max_pixels):
        """A JPEG file with subsampled chroma: its half-size reading (``jpeg_half``)."""
        from ..io import jpeg_half

        p = dict(p)
        if image.path is not None and p.get("jpeg_half") is None:  # with --sigma too: its warning compares
            half = jpeg_half(image.path)
            if half is not None:
                p["jpeg_half"] = half
        return p, None

    def build(self, x, p):
        if not self.estimates(p):
            return Denoise(tuple(x.shape[1:]), (p.get("sigma") or 0.0) * p.get("strength", 1.0)), x, False
        e = estimate_noise(x, p.get("jpeg_half"))  # (its white part decides the pooled chroma step: once)
        return Denoise(tuple(x.shape[1:]), e.level * p.get("strength", 1.0), wide_share(e), e.dim_read), x, True

    def settle_level(self, op, y, p, prior):
        """The level read lowered while the prior, told it, takes the photo's own texture away
        (:func:`lowered_level`), then scaled by ``strength`` (lowered first: the level told
        rises with the strength); ``level_read`` reports the reading where it was lowered
        (``lowered_to``, before the strength) or a strength scales it (the level told is not the one read)."""
        strength = p.get("strength", 1.0)
        if strength <= 0:
            return op, {}
        read = float(op.sigma_y) / strength
        kind = not_noise(y[:1], read)
        if kind is not None:  # a halftone, a 1-bit image: its detail read as noise, and smeared (NOT_NOISE)
            return Denoise(op.x_shape, 0.0), {"not_noise": kind, "read_as_noise": read}
        s = lowered_level(y[:1], op.denoiser(prior), read)  # (y: the image, repeated for samples)
        if s >= read:  # (a --json record with --strength had only the level told: a trial)
            dim = {"dim_read": op.dim_read} if op.dim_read > 0 else {}  # (said: DIM_JPEG's is a choice to undo)
            return op, ({} if strength == 1.0 else {"level_read": read}) | dim
        return Denoise(op.x_shape, s * strength, op.wide), {"level_read": read, "lowered_to": s}

    def refine(self, op, y, out, p, prior):
        """A camera's grain (its flattest blocks' reading over its white part, :func:`wide_share`):
        the result's chroma corrected at half size (:func:`pooled_chroma`), where the prior, told
        the same level, takes the colour blotches one evaluation at full size leaves."""
        s = float(op.sigma_y)
        if y.shape[1] != 3 or min(y.shape[-2:]) < POOLED_CHROMA["least"] or s <= 0:
            return out, {}
        parts, i = [], 0
        while i < out.shape[0]:  # an image's rows (its samples) follow each other: its step computed once
            j = i + 1
            while j < out.shape[0] and torch.equal(y[j], y[i]):
                j += 1
            w = op.wide if op.wide is not None else wide_share(estimate_noise(y[i : i + 1], flat_only=True))
            parts.append(pooled_chroma(y[i : i + 1], out[i:j], op.denoiser(prior), s * w) if w else out[i:j])
            i = j
        return torch.cat(parts), {}

    def sigma_to_try(self, params, sigma, x):
        """For a photo read as clean (at strength 1) whose flattest parts hold detail, where camera
        grain wider than a pixel reads like texture: the level :func:`hidden_grain` offers."""
        if (params.get("strength", 1.0) != 1.0 or sigma >= HIDDEN_GRAIN["below"] or "lowered_to" in params
                or "not_noise" in params):
            return None  # read again only where clean (not where a higher reading took its texture)
        x = x[0] if x.ndim == 4 else x
        to_try = hidden_grain(estimate_noise(x))
        # a clean halftone's raster reads as hidden grain too (a trial was told "try --sigma 96"): not offered there
        return None if to_try is None or not_noise(x, to_try) is not None else to_try

    def estimated_note(self, params, sigma, to_try=None):
        """With ``strength``, the estimate as read and the level told (a user sees both); with
        ``to_try`` (:meth:`sigma_to_try`), that grain could hide in the photo's detail, and the level."""
        s = params.get("strength", 1.0)
        if "not_noise" in params:
            return (f"left as it is (noise level 0): the image is {NOT_NOISE_WORDS[params['not_noise']]}; read as "
                    f"noise it was {params['read_as_noise'] * 255:.2f} (0-255 units; give --sigma to smooth it anyway)")
        low = (f"; read {params['level_read'] * 255:.2f}, lowered: at that level the prior took the photo's own "
               "texture away" if "lowered_to" in params else "")
        if s == 1.0 and low:
            return f"estimated noise sigma = {sigma * 255:.2f} (0-255 units{low}; give --sigma to choose)"
        if s == 1.0:
            note = super().estimated_note(params, sigma)
            if "dim_read" in params:  # (a trial: nothing said why a dim file was smoothed, nor how to undo it)
                note += (f"; read as a dim photo's JPEG file, whose compression thins the noise: at least "
                         f"{DIM_JPEG['white']:g} times its finest reading, where the others read "
                         f"{params['dim_read'] * 255:.2f} (if its dark detail looks smoothed, give a lower --sigma)")
            if to_try is not None:
                note += (f"; its flattest parts hold detail, where camera grain reads like texture: if the output "
                         f"still looks grainy, try --sigma {level_text(to_try * 255)}")
            return note
        if s == 0:
            return "strength 0: noise level 0, the image left as it is"
        return (f"estimated noise sigma = {sigma / s * 255:.2f}, told {sigma * 255:.2f} with strength {s:g} "
                f"(0-255 units{low})")

    def api_warnings(self, x, p):
        """A ``sigma`` far from the noise read (the command line's warning, in the API's units),
        for each image of a batch (the reading: about 4 s at 12 MP on 2 cores)."""
        s = p.get("sigma")
        if s is None or isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s <= 1:
            return []  # (out of range: refused by run(), in its own words)
        said = [(i, self._mismatch(x[i : i + 1] if x.ndim == 4 else x, p, api=True))
                for i in range(x.shape[0] if x.ndim == 4 else 1)]
        n = len(said)
        return [f"image {i} of the batch: {w}" if n > 1 else w for i, w in said if w]

    def warnings(self, x, p):
        warn = self._mismatch(x, p)
        return [warn] if warn else []

    def _mismatch(self, x, p, api=False):
        if p.get("sigma") is None or min(x.shape[-2:]) < MIN_ESTIMATE_SIDE:  # too few pixels to read noise in
            return None
        e = estimate_noise(x, p.get("jpeg_half"))
        if hidden_grain(e) is not None and p["sigma"] <= e.unread:  # grain its detail could hide: what the note offers
            return None
        if not_noise(x, e.level) is not None:  # a halftone, a 1-bit image: no noise reading to compare with
            return None
        return sigma_mismatch(p["sigma"] * 255, e.level * 255, api)

    def degrade(self, name, img, index, sigma=25.0, noise="gaussian", measured=None, **_):
        """Gaussian noise of std ``sigma``/255 on the [0, 1] image, seeded by the image
        index, the noisy input not clipped; or the synthetic camera's noise
        (:func:`restore.noise.camera_noise`, seeded by the index); or, for a real pair,
        the ``measured`` noisy image. The last two leave the noise level to be estimated."""
        if measured is not None:
            if measured.shape != img.shape:
                raise InputError(f"{name}: noisy image is {measured.shape[1]}x{measured.shape[0]} but clean is "
                                 f"{img.shape[1]}x{img.shape[0]}")
            return Case(name, to_tensor(img), to_tensor(measured), self.name, {"noise": "real"}, {},
                        y_uint8=measured)
        if noise == "camera":
            if img.ndim != 3 or img.shape[2] != 3:
                raise InputError(f"{name}: the camera noise model needs RGB images")
            n8, clean, info = camera_noise(img, index)
            return Case(name, to_tensor(clean), to_tensor(n8), self.name, {"noise": "camera", **info}, {},
                        y_uint8=n8)
        if not sigma > 0:  # nothing to remove: every method scores inf dB (and TV's weight divides by it)
            raise InputError(f"eval denoise --sigma {sigma:g}: no noise to remove; give a level above 0")
        gt = to_tensor(img)
        g = torch.Generator().manual_seed(index)
        y = gt + sigma / 255.0 * torch.randn(gt.shape, generator=g)
        n8 = (y.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8).squeeze()
        return Case(name, gt, y, self.name, {"sigma": sigma}, {"sigma": sigma / 255.0}, y_uint8=n8)

    def eval_unused(self, e):
        """Camera noise has its own levels (drawn per image): ``sigma`` is white noise's."""
        return ["sigma"] if e.get("noise") == "camera" else []

    def describe(self, p):
        if p.get("pairs"):
            return "real noisy/clean pairs, noise estimated"
        if p.get("noise") == "camera":
            return "synthetic camera noise (Brooks et al. 2019, JPEG 90-97), noise estimated"
        return f"sigma={p['sigma']:g}"
