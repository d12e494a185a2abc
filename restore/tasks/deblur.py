"""Deblurring with a known kernel: ``y = k * x + n`` (2-D convolution).

The operator is a circular convolution, diagonalised by the FFT, so its singular value
decomposition is exact and cheap: ``V^T x`` is the orthonormal real packing of the DFT of
``x`` (cosine / sine parts of each conjugate pair), the singular values are ``|K(f)|``,
and ``U`` carries the kernel's phase. The prox of the data term and the pseudo-inverse
follow from it (DPIR's closed-form FFT step), so dpir, ddrm, ddnm, diffpir and pigdm all
apply.

Real photographs are not periodic: taken as circular, their opposite edges would meet and
ring. With ``edges="taper"`` (the default) the problem is solved on the image extended by
one kernel size on each side: the measurement is mirrored into that margin, which is then
blended with its own circular blur (an edge taper, as MATLAB's ``edgetaper``), so the
extended measurement agrees with the circular model; the result is cropped back.
``edges="periodic"`` assumes the image was blurred circularly (the published benchmark
setting, where the circular model is exact).

Kernels: ``gaussian:STD[,SIZE]`` (MATLAB ``fspecial('gaussian')``; size ``2 ceil(4 STD) + 1``
by default), ``motion:LENGTH,ANGLE`` (MATLAB ``fspecial('motion')``: a line of that length
in pixels at that angle in degrees, anti-aliased), ``disc:RADIUS`` (defocus: a uniform disc, its
rim anti-aliased, MATLAB ``fspecial('disk')``'s model), ``box:N``, ``levin:1``..``levin:8`` (the
eight camera-shake kernels of Levin et al., CVPR 2009, as distributed with DPIR), or an image
file (normalised to sum 1). A kernel's origin is its ``(size // 2, size // 2)`` pixel, as in DPIR and deepinv.
"""

from __future__ import annotations

import io
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..io import bits_peak, read_image, to_tensor
from ..metrics import psnr
from .base import SPEC_FORM, Case, Operator, Param, Task, from_np, np01, psnr_where
from .dejpeg import JpegInput, JpegTables, jpeg_params

__all__ = ["Blur", "DeblurTask", "parse_kernel"]

_DATA = Path(__file__).resolve().parent / "data"
MAX_KERNEL = 255
#: pixels at CLIPPED_LEVEL or above in a channel are clipped. A light beyond white lighting CLIPPED_SHARE[0]
#: of the image or more is said (its glow left out of the data); a clipped area over CLIPPED_SHARE[1] of
#: the image is no light (over-exposed snow or sky), said to ring perhaps where light lacks around it
CLIPPED_LEVEL = 254.5 / 255
CLIPPED_SHARE = (0.0005, 0.15)
#: :func:`beyond_white`'s test of a clipped area for a light beyond white: the kernel's core (of its
#: peak), and the light its surround lacks (of white) per border pixel and pixel of the core's width over
#: which it is a light;
#: BEYOND_ALL: a pixel a light reaches in one channel is left out in all (chosen on validation scenes,
#: benchmarks/results/deblur_clipped.md: lamps 2-12 times white +3.8 dB; per channel, a lamp found in
#: one channel only rang in the others' colours)
BEYOND_CORE = 0.1
BEYOND_LIGHT = 0.1
BEYOND_ALL = True
#: a --sigma under SIGMA_UNDER times the noise read is said (too little noise told: ripples), one
#: over 4 times too (denoise's sigma_mismatch), on images of denoise's MIN_ESTIMATE_SIDE or more
SIGMA_UNDER = 0.5
#: model error assumed for a motion kernel on a photo (edges="taper"), [0, 1] units. On 8
#: validation photos (BSDS training, 481x321; benchmarks/results/kernel_error.md), blurred by
#: motion kernels of 5-25 px at six angles and restored with the exact kernel and ones a pixel
#: short and long, 2.55 scored best or within 0.3 dB of the best in the mean of the three
#: (5, the first choice, made on 256-px crops, lost 0.3-0.7 dB on most; on 256-px crops of the
#: same photos the two tie: a small image's edges count for more); with an exact Gaussian
#: (-1.1 dB at 5) or Levin kernel (-0.4 dB) it costs, so those default to none
MODEL_ERROR = 2.55 / 255


#: the least measurement noise deblurring assumes ([0, 1] units). A noise-free blur estimated
#: (or given) as 0 made the data step invert the kernel outright: a 12 MP photo came out with
#: ripples everywhere and black (NaN) tiles. On 6 BSDS validation photos blurred by gaussian:1.6
#: and rounded to 8 bits (a scratch run, not kept), mean PSNR by the level assumed: 0: 13.30,
#: 0.29 (8-bit rounding's std): 28.90, 0.5: 29.24, 1: 29.16, 2: 28.69 (blurred: 25.83)
NOISE_FLOOR = 0.5 / 255


def _floor_of(p: dict) -> float:
    """:data:`NOISE_FLOOR` in the units of the image given with parameters ``p``: of a 16-bit file's
    own range where its data are restored on it (``bits``; ``build`` applies the floor there)."""
    return NOISE_FLOOR * (bits_peak(p.get("bits")) or 1.0)


#: A JPEG input (its file's tables, or a decode's read from its blocks): the least noise level it
#: is deblurred at, ``max(JPEG_FLOOR, JPEG_NOISE x`` the tables' quantisation RMS ``)``, in [0,
#: 1] units. Its noise reads low (the quantisation rounds the fine coefficients that show it to
#: 0: noise of 3/255 read 0.5-1.7 after quality 75-95), and deblurred at that level its blocks and
#: noise came out as ripples (validation crops, four kernels: 20.4-24.8 dB on average from 22.4-24.5
#: dB inputs, 15.8 at worst). 3/255 over 2/255:
#: +0.1 to +0.3 dB on the mean of noise 0, 1 and 3 before the JPEG, +1.9 dB at noise 3 and quality
#: 95, -0.5 dB at noise 0-1 (benchmarks/results/deblur_jpeg.md)
JPEG_FLOOR, JPEG_NOISE = 3 / 255, 0.25


def default_model_error(kernel: Any, edges: str) -> float:
    """The model error assumed when none is given: :data:`MODEL_ERROR` for a ``motion:``
    spec on a photo (``edges="taper"``), 0 otherwise."""
    return MODEL_ERROR if edges != "periodic" and isinstance(kernel, str) and kernel.startswith("motion:") else 0.0


# -- kernels --------------------------------------------------------------------------------
def gaussian_kernel(std: float, size: int | None = None) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, std)``: values under ``eps * max`` dropped, sum 1."""
    size = int(size or 2 * math.ceil(4 * std) + 1)
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * std * std))
    g[g < np.finfo(float).eps * g.max()] = 0
    return g / g.sum()


def disc_kernel(radius: float) -> np.ndarray:
    """A defocus blur: a uniform disc of ``radius`` pixels, each pixel weighed by the share of
    it the disc covers (8x8 points a pixel), sum 1; size ``2 ceil(radius) + 1``."""
    n = math.ceil(radius)
    sub = (np.arange(8) + 0.5) / 8 - 0.5
    r = np.arange(-n, n + 1, dtype=np.float64)
    yy = (r[:, None, None, None] + sub[None, None, :, None]) ** 2
    xx = (r[None, :, None, None] + sub[None, None, None, :]) ** 2
    k = (yy + xx <= radius * radius).mean(axis=(2, 3))
    return k / k.sum()


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """MATLAB's ``fspecial('motion', length, angle)``: a line ``length`` pixels long (from
    end to end of the centre pixels it covers: half-length ``(length - 1) / 2``) at
    ``angle`` degrees counter-clockwise from the x axis, one pixel wide; each pixel weighs
    ``1 - distance`` to the line segment (distance to the end point past either end), sum 1.
    Horizontal and vertical lines are one row or one column (``motion:9,0`` is a 1x9 box).

    The construction is the Image Processing Toolbox's own (its half matrix, unfolded by
    point symmetry), so a kernel named as in a MATLAB paper is that kernel; e.g.
    ``fspecial('motion', 3, 45)`` is ``[[0, .0754, .1883], [.0754, .3215, .0754],
    [.1883, .0754, 0]]``.
    """
    eps = np.finfo(float).eps
    n = max(float(length), 1.0)
    half = (n - 1) / 2
    phi = math.radians(angle % 180)
    c, s = math.cos(phi), math.sin(phi)  # cos(90 deg) is 6e-17, not 0, as in MATLAB
    xsign = 1.0 if c > 0 else -1.0
    sx = math.trunc(half * c + xsign - n * eps)  # the half matrix: x from 0 to sx, y from 0 to sy
    sy = math.trunc(half * s + 1 - n * eps)
    x, y = np.meshgrid(np.arange(0, sx + xsign, xsign), np.arange(0, sy + 1.0))
    d = y * c - x * s  # distance across the line
    past = (np.hypot(x, y) >= half) & (np.abs(d) <= 1)  # beyond the end point, within the width
    along = half - np.abs((x[past] + d[past] * s) / c)  # distance to the end point, along the line
    d[past] = np.hypot(d[past], along)
    d = np.clip(1 + eps - np.abs(d), 0, None)
    ny, nx = d.shape
    k = np.zeros((2 * ny - 1, 2 * nx - 1))
    k[:ny, :nx] = np.rot90(d, 2)
    k[ny - 1:, nx - 1:] = d
    if c > 0:
        k = np.flipud(k)
    return np.ascontiguousarray(k / k.sum())


def parse_kernel(spec: Any) -> np.ndarray:
    """A normalised 2-D kernel (float64, sum 1) from a spec string, a file or an array (a file's
    or an array's cleaned as :func:`clean_kernel` says)."""
    return read_kernel(spec)[0]


def read_kernel(spec: Any) -> tuple[np.ndarray, list[str]]:
    """:func:`parse_kernel`'s kernel and what was done to a file's or an array's to make it one
    (:func:`clean_kernel`), in words; a spec's is as its kind makes it."""
    if isinstance(spec, (list, tuple)):  # rows of numbers, as an array (it was taken for a file name)
        try:
            spec = np.asarray(spec, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError("a kernel is a spec (gaussian:1.6, motion:15,30...), an image file, or a 2-D array "
                             "of numbers; got a list that is not rows of numbers") from None
    if isinstance(spec, (np.ndarray, torch.Tensor)):
        k = np.asarray(spec.detach().cpu() if isinstance(spec, torch.Tensor) else spec, dtype=np.float64)
        return clean_kernel(_check_kernel(k, "kernel array"))
    if not isinstance(spec, (str, os.PathLike)):
        raise InputError(f"a kernel is a spec (gaussian:1.6, motion:15,30...), an image file, or a 2-D array; "
                         f"got {type(spec).__name__}")
    spec = str(spec).strip()
    kind, colon, args = spec.partition(":")
    if colon and kind.strip().lower() in KINDS:  # "Gaussian: 1.6" is gaussian:1.6
        spec = f"{kind.strip().lower()}:{args.replace(' ', '')}"
    named = _named_kernel(spec)
    if named is not None:
        return named.copy(), []
    kind = spec.partition(":")[0]
    if kind in KINDS:  # a spec with bad numbers, never a file: "gaussian:99" is not looked for on the disk
        raise InputError(f"kernel '{spec}': bad numbers for {kind} (gaussian:STD[,SIZE] with STD 0.1-50, "
                         f"motion:LENGTH,ANGLE with LENGTH 1-{MAX_KERNEL - 2}, disc:RADIUS with RADIUS "
                         f"0.5-{(MAX_KERNEL - 1) // 2}, box:N with N 1-{MAX_KERNEL}, levin:1..8; finite numbers)")
    path, spec_form = Path(spec), SPEC_FORM.fullmatch(spec) is not None
    try:
        is_file = path.is_file()
    except OSError:  # a name too long for the file system: not a file
        is_file = False
    if not spec_form and is_file and path.suffix.lower() in ARRAY_FILES:  # a blind-deblurring tool's kernel
        return clean_kernel(_check_kernel(_array_file(path), str(path)))  # (a trial: "not an image file")
    if not spec_form and is_file:  # NAME:NUMBERS is a spec (./NAME:1 names a file)
        img = read_image(path)
        a = img.color.astype(np.float64)
        a = a.mean(axis=2) if a.ndim == 3 else a
        if img.has_alpha and a.max() == a.min():  # drawn in the alpha channel alone (one colour, shaped by alpha)
            a = img.alpha.astype(np.float64)
        return clean_kernel(_check_kernel(a, str(path)))
    if not spec_form and (path.suffix or "/" in spec or "\\" in spec):
        raise InputError(f"kernel file '{spec}' not found")
    raise InputError(f"kernel '{spec}' is not understood: use gaussian:STD[,SIZE], motion:LENGTH,ANGLE, disc:RADIUS, "
                     "box:N, levin:1..8, or an image file")


#: a kernel image whose border pixels' median is over this share of its peak is dark on light (inverted)
INVERTED_BORDER = 0.5
#: a background along a kernel image's border, at most this share of its peak and making up over
#: ``FLOOR_SHARE`` of its sum over the canvas, is a floor (noise, a grey level): taken as black
FLOOR_PEAK, FLOOR_SHARE = 0.03, 0.1
#: a part of a kernel image apart from the rest (not touching it), of 4 px at most and under this
#: share of its sum, beside a piece holding all but twice this share, is a speck (noise, dust): said
SPECK = 0.1


def clean_kernel(k: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A kernel image or array (non-negative, sum 1) made into the kernel it stands for, and
    what was done, in words (nothing for one that is one already):

    - dark on a light background (nine tenths of its border over ``INVERTED_BORDER`` of its
      peak, and darker inside): inverted (a disc filling its canvas, dark only in its corners,
      is not);
    - a floor over its canvas (the border's largest value at most ``FLOOR_PEAK`` of the peak,
      the floor over the canvas over ``FLOOR_SHARE`` of the sum): that value taken as black;
      a faint floor over a large canvas outweighed the kernel (101x101 at 2/255 on average:
      the contrast came out inverted);
    - a grey level all along its border (its least value at least half its largest, under half
      the peak: a photographed point of light's black level): taken as black too;
    - drawn off the middle of its image (the middle of its support and its centre of mass both
      over a pixel from the image's centre pixel ``(h // 2, w // 2)``, the origin: centred
      neither way kernels are, to a pixel, as Levin et al.'s): its origin moved to its centre of
      mass. Drawn in a 64 x 64 image 18 px from its middle, a kernel shifted the result by as
      much;
    - specks apart from a kernel in one piece (:data:`SPECK`): said, kept (a bright dot in a
      corner cost 1.3 dB; dropping such parts took a dashed path's dashes and a double
      exposure's weak dot for specks);
    - zero rows and columns around it: cut off (its origin kept).

    A kernel too small to have a border (under 3 px a side) is only centred and cut."""
    notes = []
    h, w = k.shape
    if min(h, w) >= 3:
        ring = np.concatenate([k[0], k[-1], k[1:-1, 0], k[1:-1, -1]])
        bg = float(np.median(ring))
        # light all round its border (a disc filling its canvas is dark in its corners) and dark inside
        if (ring > INVERTED_BORDER * k.max()).mean() >= 0.9 and bg > INVERTED_BORDER * k.max() and k.min() < 0.5 * bg:
            k = k.max() - k  # (not all zero: its least value is under half its border's)
            notes.append("the kernel image is dark on a light background: inverted (a kernel is light on black)")
            ring = np.concatenate([k[0], k[-1], k[1:-1, 0], k[1:-1, -1]])
        floor, peak = float(ring.max()), float(k.max())
        share = float(np.minimum(k, floor).sum() / k.sum())
        flat = 0 < floor < 0.5 * peak and ring.min() >= 0.5 * floor  # a grey level all round (a photographed PSF)
        if (share > FLOOR_SHARE and floor <= FLOOR_PEAK * peak) or flat:
            k = np.clip(k - floor, 0, None)
            if share >= 0.01:
                notes.append(f"the kernel image's background (up to {floor / peak:.1%} of its peak along its border, "
                             f"{share:.0%} of its sum over the canvas) taken as black")
    k = k / k.sum()
    from scipy import ndimage

    parts, n = ndimage.label(k > 0, structure=np.ones((3, 3)))
    if n > 1:  # specks apart from a kernel in one piece (an estimator's noise, a dust dot): said, kept
        mass = ndimage.sum(k, parts, range(1, n + 1))
        size = ndimage.sum(np.ones_like(k), parts, range(1, n + 1))
        main = int(np.argmax(mass))
        specks = [i for i in range(n) if i != main and mass[i] < SPECK and size[i] <= 4]
        if mass[main] >= 1 - SPECK * 2 and specks:  # (a dashed path, a double exposure: pieces by design)
            share = float(sum(mass[i] for i in specks))
            many = len(specks) > 1
            notes.append(f"{len(specks)} speck{'s' if many else ''} of {share:.1%} of its sum "
                         f"{'lie' if many else 'lies'} apart from the kernel: if {'they are' if many else 'it is'} "
                         "noise or dust, the blur is wrong (clean the kernel image); kept")
    on = np.argwhere(k > 0)
    (top, left), (bottom, right) = on.min(0), on.max(0)
    yy, xx = np.indices(k.shape)
    mass = tuple(int(math.floor(float((k * v).sum()) + 0.5)) for v in (yy, xx))  # the centre of mass, to a pixel
    # the middle of its support, to a pixel, and how far its middle and its mass lie from the canvas's
    cy, cx = (int(math.floor((a + b) / 2 + 0.5)) for a, b in ((top, bottom), (left, right)))
    near = max(abs(cy - h // 2), abs(cx - w // 2)) <= 1 or max(abs(mass[0] - h // 2), abs(mass[1] - w // 2)) <= 1
    if near:  # centred by its support or by its mass to a pixel (Levin et al.'s are off by one): kept,
        my, mx = min(top, h - 1 - bottom), min(left, w - 1 - right)  # less the zero margins around it
        return np.ascontiguousarray(k[my : h - my, mx : w - mx]), notes
    # drawn elsewhere in its image: its centre of mass is its origin (the middle of its support moves
    # with faint ends that 8 bits round away)
    cy, cx = mass
    ry, rx = max(cy - top, bottom - cy), max(cx - left, right - cx)
    out = np.zeros((2 * ry + 1, 2 * rx + 1))
    out[ry - (cy - top) : ry + (bottom - cy) + 1, rx - (cx - left) : rx + (right - cx) + 1] = \
        k[top : bottom + 1, left : right + 1]
    dy, dx = cy - h // 2, cx - w // 2
    off = ", ".join(f"{abs(d)} px {word[d > 0]}" for d, word in ((dx, ("left", "right")), (dy, ("up", "down"))) if d)
    notes.append(f"the kernel lies off the middle of its image ({off}): centred on it, so that the result is not "
                 "shifted")
    return out, notes


#: warn when the kernel's larger side exceeds this share of the image's shorter side
LARGE_KERNEL = 0.25


def _support(kernel) -> tuple[int, int]:
    """``(h, w)`` of the kernel's support (its entries over 1e-3 of its peak), not its array's size."""
    k = np.abs(np.asarray(kernel, dtype=np.float64))
    on = np.argwhere(k > 1e-3 * k.max())
    return tuple(int(v) for v in (on.max(0) - on.min(0) + 1)) if len(on) else k.shape


#: the kernel specs' kinds (``kind:args``)
KINDS = ("gaussian", "motion", "disc", "box", "levin")
#: the smallest Gaussian std: narrower is the identity (1e-300 gave a kernel of NaNs)
MIN_GAUSSIAN = 0.1


@lru_cache(maxsize=64)
def _named_kernel(spec: str) -> np.ndarray | None:
    """The kernel of a ``kind:args`` spec, or None if ``spec`` is not one; kept, since a
    run, its tiles, its eval case and the baselines ask for the same one (``levin:N`` reads
    a file)."""
    kind, _, args = spec.partition(":")
    try:
        nums = [float(v) for v in args.split(",")] if args else []
    except ValueError:
        nums = None
    if nums is not None and not all(map(math.isfinite, nums)):  # motion:15,nan
        nums = None
    if kind in KINDS and nums is not None:
        if kind == "gaussian" and len(nums) in (1, 2) and MIN_GAUSSIAN <= nums[0] <= 50:
            size = int(nums[1]) if len(nums) == 2 else None
            if size is not None and not (1 <= size <= MAX_KERNEL and size == nums[1]):
                raise InputError(f"kernel '{spec}': size must be an integer in 1..{MAX_KERNEL}")
            return gaussian_kernel(nums[0], size)
        if kind == "motion" and len(nums) == 2 and 1 <= nums[0] <= MAX_KERNEL - 2:
            return motion_kernel(nums[0], nums[1])
        if kind == "disc" and len(nums) == 1 and 0.5 <= nums[0] <= (MAX_KERNEL - 1) / 2:  # (a trial: defocus,
            return disc_kernel(nums[0])  # the commonest blur, had to be drawn as a file)
        if kind == "box" and len(nums) == 1 and nums[0] == int(nums[0]) and 1 <= nums[0] <= MAX_KERNEL:
            n = int(nums[0])
            return np.full((n, n), 1.0 / (n * n))
        if kind == "levin" and len(nums) == 1 and nums[0] in range(1, 9):
            with np.load(_DATA / "levin09.npz", allow_pickle=False) as d:
                return _check_kernel(d[f"k{int(nums[0])}"].astype(np.float64), spec)
    return None


def _kernel_file(spec: Any) -> Path | None:
    """The file a kernel option names (a path: an existing file, or a name with an extension
    or a folder in it), None for a spec (``gaussian:1.6``), an array or nothing."""
    if not isinstance(spec, (str, os.PathLike)):
        return None
    text = str(spec).strip()
    if text.partition(":")[0].strip().lower() in KINDS or SPEC_FORM.fullmatch(text):  # a spec, never a file
        return None
    path = Path(text)
    try:
        is_file = path.is_file()
    except OSError:  # a name too long for the file system
        is_file = False
    return path if is_file or path.suffix or "/" in text or "\\" in text else None


#: kernel files of numbers, as blind-deblurring tools write them: numpy's .npy (read without
#: pickles: no code runs), text (rows of numbers, spaces or commas between)
ARRAY_FILES = (".npy", ".txt", ".csv")


def _array_file(path: Path) -> np.ndarray:
    """The 2-D array of numbers in a .npy or text kernel file."""
    try:
        if path.suffix.lower() == ".npy":
            a = np.load(path, allow_pickle=False)
        else:
            text = path.read_text(errors="replace").replace(",", " ")
            a = np.loadtxt(io.StringIO(text), ndmin=2)
        a = np.asarray(a, dtype=np.float64)
    except (OSError, ValueError, TypeError) as e:
        raise InputError(f"{path}: not a kernel file ({str(e).splitlines()[0] if str(e) else type(e).__name__}): "
                         "a 2-D array of numbers is taken") from None
    if a.ndim == 3 and 1 in a.shape:  # (H, W, 1) or (1, H, W)
        a = a.reshape([n for n in a.shape if n != 1] or [1, 1])
    return a


def _check_kernel(k: np.ndarray, where: str) -> np.ndarray:
    if k.ndim != 2 or not 1 <= min(k.shape) <= max(k.shape) <= MAX_KERNEL:
        raise InputError(f"{where}: a kernel must be 2-D and at most {MAX_KERNEL}x{MAX_KERNEL}, got {k.shape}")
    if not np.isfinite(k).all() or (k < 0).any() or k.sum() <= 0:
        raise InputError(f"{where}: a kernel must be finite, non-negative and not all zero")
    return k / k.sum()


# -- the operator -------------------------------------------------------------------------
def _centred(k, H: int, W: int, dtype: torch.dtype) -> torch.Tensor:
    """The kernel ``k`` on an ``H x W`` grid, its origin (its middle pixel) at ``(0, 0)``: what a
    circular convolution's transform is taken of."""
    kh, kw = k.shape
    pad = torch.zeros(H, W, dtype=dtype)
    pad[:kh, :kw] = torch.as_tensor(k, dtype=dtype)
    return torch.roll(pad, (-(kh // 2), -(kw // 2)), (0, 1))


def _spread(a: torch.Tensor, k: np.ndarray, flip: bool = False) -> torch.Tensor:
    """``a`` (H, W) convolved circularly with ``k`` (origin at its middle, as :class:`Blur`'s),
    through the FFT (float32: masks and levels); correlated with it when ``flip``."""
    H, W = a.shape[-2:]
    K = torch.fft.rfft2(_centred(k, H, W, torch.float32))
    return torch.fft.irfft2(torch.fft.rfft2(a.float()) * (K.conj() if flip else K), s=(H, W))


def beyond_white(y: torch.Tensor, kernel: np.ndarray, noise: float, wide: bool = False) -> torch.Tensor | None:
    """The pixels of the blurred ``y`` (..., C, H, W) lit by a light beyond white (a mask of
    ``y``'s shape), or None: where a light (a lamp, a window at night, the sun on chrome) was
    far brighter than the image's white, its blurred glow holds more light than the blur of any
    image in [0, 1] can, and a data term that demands it draws rings around it.

    Within [0, 1], a clipped pixel means every pixel under the kernel's core (its entries of
    ``BEYOND_CORE`` of its peak or more) is white, so the blur of that white is the least the
    surround can be. A light far beyond white lights a clipped area wider than itself, whose
    surround is darker than that least: for each clipped area (per channel, areas within two
    kernel supports of each other taken as one), the light the surround lacks against the
    least (beyond three noise levels), per pixel of the area's border and per pixel of the
    core's width (twice its RMS radius), is the area's excess: a lamp's and a lit window's
    alike, however large. Over ``BEYOND_LIGHT`` the area is a light, and every pixel its blur
    reaches is returned, in every channel (``BEYOND_ALL``). A white page or wall clipped at white
    lacks nothing; an over-exposed sky or wall (1.4-2 times white) lacks a little along its
    border, and leaving its surround out of the data cost more than its rings
    (benchmarks/results/deblur_clipped.md). An area clipped over more than ``CLIPPED_SHARE[1]``
    of the image is no light (over-exposed snow or sky: left out, a held-out ski photo lost
    4.2 dB); ``wide`` returns those areas' clipped pixels that lack light instead."""
    return _lights(y, kernel, noise)[1 if wide else 0]


def _lights(y: torch.Tensor, kernel: np.ndarray, noise: float) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """:func:`beyond_white`'s two masks in one pass: the lights' reach, and the clipped pixels,
    lacking light, of areas too large for a light (or None each)."""
    from scipy import ndimage

    hot = y >= CLIPPED_LEVEL
    if not bool(hot.any()):
        return None, None
    k = np.asarray(kernel, dtype=np.float64)
    supp = (k > 1e-3 * k.max()).astype(np.float64)
    core = (k >= BEYOND_CORE * k.max()).astype(np.float64)
    shape = y.shape
    y2, hot2 = y.reshape(-1, *shape[-2:]), hot.reshape(-1, *shape[-2:])
    out, large = torch.zeros_like(hot2), torch.zeros_like(hot2)
    H, W = shape[-2:]
    reach = 3 * max(k.shape)
    on = np.argwhere(core > 0)
    width = max(1.0, 2 * float(np.sqrt(((on - on.mean(0)) ** 2).sum(1).mean())))  # the core's, 2x its RMS radius
    for c in range(hot2.shape[0]):  # (a channel at a time: a 12 MP photo's transforms are large)
        rows, cols = hot2[c].any(dim=1).nonzero(), hot2[c].any(dim=0).nonzero()
        if not len(rows):
            continue
        # the clipped areas' neighbourhood only (three kernel sizes around them: a lamp in a 12 MP photo)
        box = (slice(max(0, int(rows[0]) - reach), min(H, int(rows[-1]) + reach + 1)),
               slice(max(0, int(cols[0]) - reach), min(W, int(cols[-1]) + reach + 1)))
        h = hot2[c][box]
        white = _spread(h, core, flip=True) > 0.5  # white, if nothing was beyond it
        lacks = (_spread(white, k) - y2[c][box] - 3 * noise).clamp(min=0)  # the surround's light short of that
        near = _spread(_spread(h, supp) > 0.5, supp) > 0.5  # within two supports
        labels, n = ndimage.label(near.numpy(), np.ones((3, 3)))
        index = np.arange(1, n + 1)
        hn = h.numpy()
        border = hn & ~ndimage.binary_erosion(hn, np.ones((3, 3)), border_value=1)
        lacking = ndimage.sum(torch.where(h, 0, lacks).numpy(), labels, index)
        light = lacking / np.maximum(ndimage.sum(border, labels, index) * width, 1) > BEYOND_LIGHT
        big = ndimage.sum(hn, labels, index) > CLIPPED_SHARE[1] * H * W  # over-exposed snow or sky, no lamp
        lit = torch.as_tensor(np.concatenate([[False], light & ~big])[labels]) & h
        if bool(lit.any()):
            out[c][box] = _spread(lit, supp) > 0.5
        large[c][box] = torch.as_tensor(np.concatenate([[False], light & big])[labels]) & h
    if BEYOND_ALL:
        out = out.any(dim=0, keepdim=True).expand_as(out).clone()
        large = large.any(dim=0, keepdim=True).expand_as(large).clone()
    return tuple(m.reshape(shape) if bool(m.any()) else None for m in (out, large))


class Blur(Operator):
    """Circular convolution with ``kernel`` on images of ``x_shape``, through the FFT.

    Parameters
    ----------
    kernel : array
        2-D, normalised to sum 1 (see :func:`parse_kernel`); origin at ``(kh // 2, kw // 2)``.
    x_shape : tuple
        ``(C, H, W)``; the kernel must fit (``kh <= H``, ``kw <= W``).
    sigma_y : float
        Measurement noise (image units).
    model_error : float
        What the model misses (a kernel a pixel off, edges that are not periodic), taken as
        more noise: the data term and the samplers use ``sqrt(sigma_y^2 + model_error^2)``.
    unseen : bool tensor, optional
        Measurement pixels the data step (:meth:`prox`) leaves out, taken there as what the
        current estimate's blur predicts (an EM step for missing data): the glow of light
        beyond white (:func:`beyond_white`), which a blur of an image in [0, 1] cannot make.
    cutoff : float
        Singular values under ``cutoff`` (of 1, the kernel's DC gain) count as zero: the
        pseudo-inverse and the noiseless prox leave those frequencies to the prior instead
        of dividing by them.
    """

    capabilities = frozenset({"pinv", "svd", "grad"})
    task = "deblur"

    def __init__(self, kernel, x_shape, sigma_y: float = 0.0, cutoff: float = 1e-3, model_error: float = 0.0,
                 unseen: torch.Tensor | None = None) -> None:
        super().__init__(x_shape, math.hypot(sigma_y, model_error))
        self.unseen = unseen
        self.noise = float(sigma_y)  # the measurement's own noise (reported); sigma_y adds the model error
        k = torch.as_tensor(np.asarray(kernel, dtype=np.float64))
        _, H, W = self.x_shape
        kh, kw = k.shape
        if kh > H or kw > W:
            raise InputError(f"the {kw}x{kh} kernel is larger than the {W}x{H} image")
        K = torch.fft.fft2(_centred(k, H, W, torch.float64))
        mag = K.abs()
        self.kernel = k
        self.K = torch.where(mag >= cutoff, K, torch.zeros_like(K))  # the (truncated) transfer function
        self.phase = torch.where(mag >= cutoff, K / mag.clamp(min=1e-300), torch.ones_like(K))
        self.s = torch.where(mag >= cutoff, mag, torch.zeros_like(mag))
        # the real orthonormal packing of a Hermitian spectrum: entry f holds sqrt2 Re X(f)
        # if f comes first of {f, -f}, -sqrt2 Im X(f) if second, X(f) if f == -f
        iy, ix = torch.arange(H), torch.arange(W)
        idx = iy[:, None] * W + ix[None, :]
        neg = ((-iy) % H)[:, None] * W + ((-ix) % W)[None, :]
        self.first, self.self_conj = idx < neg, idx == neg
        self._cache: dict = {}

    def _c(self, name: str, like: torch.Tensor) -> torch.Tensor:
        key = (name, like.device, like.dtype)
        if key not in self._cache:
            v = getattr(self, name)
            cdt = torch.complex64 if like.dtype != torch.float64 else torch.complex128
            if v.is_complex():
                v = v.to(like.device, cdt)
            elif v.dtype == torch.bool:
                v = v.to(like.device)
            else:
                v = v.to(like.device, like.dtype)
            self._cache[key] = v
        return self._cache[key]

    def _pack(self, X: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        r2 = math.sqrt(2.0)
        first, sc = self._c("first", like), self._c("self_conj", like)
        return torch.where(first, r2 * X.real, torch.where(sc, X.real, -r2 * X.imag)).to(like.dtype)

    def _unpack(self, z: torch.Tensor) -> torch.Tensor:
        r2 = math.sqrt(2.0)
        zn = torch.roll(torch.flip(z, (-2, -1)), (1, 1), (-2, -1))  # z(-f)
        first, sc = self._c("first", z), self._c("self_conj", z)
        return torch.where(first, torch.complex(z, zn) / r2,
                           torch.where(sc, torch.complex(z, torch.zeros_like(z)), torch.complex(zn, -z) / r2))

    @staticmethod
    def _fft(x):
        return torch.fft.fft2(x, norm="ortho")

    @staticmethod
    def _ifft(X):
        return torch.fft.ifft2(X, norm="ortho").real

    # SVD parts
    def Vt(self, x):
        return self._pack(self._fft(x), x)

    def V(self, z):
        return self._ifft(self._unpack(z)).to(z.dtype)

    def Ut(self, y):
        return self._pack(self._fft(y) * self._c("phase", y).conj(), y)

    def U(self, z):
        return self._ifft(self._unpack(z) * self._c("phase", z)).to(z.dtype)

    def singulars(self, like):
        return self._c("s", like)

    # direct FFT forms (same maths, fewer passes)
    def A(self, x):
        return self._ifft(self._fft(x) * self._c("K", x)).to(x.dtype)

    def A_adjoint(self, y):
        return self._ifft(self._fft(y) * self._c("K", y).conj()).to(y.dtype)

    def A_dagger(self, y):
        K, s = self._c("K", y), self._c("s", y)
        inv = torch.where(s > 0, K.conj() / (s * s).clamp(min=1e-30), torch.zeros_like(K))
        return self._ifft(self._fft(y) * inv).to(y.dtype)

    def prox(self, z, y, rho):
        if self.unseen is not None:  # the data left out: what z's blur predicts there
            y = torch.where(self.unseen.to(y.device), self.A(z), y)
        if rho <= 0:
            return super().prox(z, y, rho)
        K, s = self._c("K", z), self._c("s", z)
        Z, d = self._fft(z), s * s + rho  # rho under the dtype's range (a noise of 1e-34 estimated
        # on a flat image) is 0 there: a frequency the kernel removes keeps z's (the limit), not 0/0
        X = torch.where(d > 0, (K.conj() * self._fft(y) + rho * Z) / torch.where(d > 0, d, 1), Z)
        return self._ifft(X).to(z.dtype)

    def init(self, y):
        """The blurred image itself (DPIR's start): the pseudo-inverse would amplify noise."""
        return y

    def describe(self) -> dict:
        return {**super().describe(), "kernel": list(self.kernel.shape)}


class _Extended(Blur):
    """:class:`Blur` on the image extended by a margin (``edges="taper"``); :meth:`finish`
    crops the result back to the image."""

    def __init__(self, kernel, x_shape, margin: int, sigma_y: float = 0.0, model_error: float = 0.0) -> None:
        C, H, W = x_shape
        super().__init__(kernel, (C, H + 2 * margin, W + 2 * margin), sigma_y, model_error=model_error)
        self.margin = margin

    def extend(self, y: torch.Tensor) -> torch.Tensor:
        """Mirror ``y`` into the margin, then blend the margin towards its own circular blur
        (a cosine ramp from the image edge to the outer edge), so that the extended
        measurement has no jump where the circular model wraps around."""
        import torch.nn.functional as F

        m = self.margin
        H, W = y.shape[-2:]
        mode = "reflect" if m < H and m < W else "replicate"
        e = F.pad(y, (m, m, m, m), mode=mode)
        up = 0.5 - 0.5 * torch.cos(torch.linspace(0, math.pi, m + 2, dtype=y.dtype, device=y.device)[1:-1])

        def ramp(inner: int) -> torch.Tensor:  # 0 -> 1 over the margin, 1 inside, 1 -> 0
            return torch.cat([up, torch.ones(inner, dtype=y.dtype, device=y.device), up.flip(0)])

        w = ramp(H)[:, None] * ramp(W)[None, :]
        for _ in range(2):  # the blur of the extension depends on the extension: settle it
            e = w * e + (1 - w) * self.A(e)
            e[..., m:m + H, m:m + W] = y
        return e

    def finish(self, out, y):
        m = self.margin
        return out[..., m:out.shape[-2] - m, m:out.shape[-1] - m]


# -- classical tools (restore eval --baselines) ------------------------------------------------
def _per_channel(case: Case, f) -> torch.Tensor:
    a = np01(case.y).astype(np.float64)
    out = np.stack([f(a[..., c]) for c in range(a.shape[2])], axis=2) if a.ndim == 3 else f(a)
    return from_np(np.clip(out, 0, 1).astype(np.float32))


def _wiener(case: Case) -> torch.Tensor:
    """scikit-image's self-tuning Wiener filter (``unsupervised_wiener``: noise and image
    regularisation estimated by Gibbs sampling, seeded)."""
    from skimage.restoration import unsupervised_wiener

    k = parse_kernel(case.params["kernel"])
    rng = np.random.default_rng(0)
    return _per_channel(case, lambda a: unsupervised_wiener(a, k, clip=False, rng=rng)[0])


def _richardson_lucy(case: Case) -> torch.Tensor:
    """scikit-image's Richardson-Lucy, 30 iterations (its default is 50; with noise, more
    iterations amplify it; 30 scored best of 10/30/50 on CBSD68 1-4 here, see the README)."""
    from skimage.restoration import richardson_lucy

    k = parse_kernel(case.params["kernel"])
    return _per_channel(case, lambda a: richardson_lucy(np.clip(a, 0, None), k, num_iter=30, clip=True))


# -- the declaration -------------------------------------------------------------------------
#: Published PSNR (dB, RGB, CBSD68, circular blur) for eval settings: (kernel, sigma) -> text.
PUBLISHED = {
    ("gaussian:1.6,25", 2.55): "DPIR 28.86, IRCNN+ 26.86, PnP-ADMM 28.90, DRP 29.10 (CBSD68, circular blur; "
                               "re-run by Hu et al., ICLR 2024, Table 1)",
}


class DeblurTask(JpegInput, Task):
    """Remove a known blur (a kernel: Gaussian, motion, box, Levin et al.'s camera shake, or a
    file); the measurement noise is estimated when not given."""

    name = "deblur"
    summary = "remove a known blur"
    helper_args = ("kernel", ("sigma", None))
    helper_doc = """Remove a known blur: ``kernel`` is a spec (``"gaussian:1.6"``, ``"motion:15,30"``,
    ``"box:5"``, ``"levin:3"``), a kernel image file, or a 2-D array (normalised to sum 1).

    ``sigma`` is the measurement noise ([0, 1] units; estimated when None); ``edges``
    ("taper", the default for photos, or "periodic" for circularly blurred images) sets how
    the borders are handled.

    {params}

    Examples
    --------
    >>> import numpy as np, restore
    >>> img = np.full((40, 40), 0.5, np.float32)
    >>> restore.deblur(img, "gaussian:1.0", sigma=0.01, steps=4).shape
    (40, 40)
    """
    operator = Blur
    params = (
        Param("kernel", object, None, "gaussian:STD[,SIZE], motion:LENGTH,ANGLE, disc:RADIUS (defocus), box:N, "
                                      "levin:1..8, or a numbers file (.npy, .txt, .csv), or a kernel "
                                      "image file (light on black: normalised, a dark-on-light one inverted, a "
                                      "grey background taken as black, one drawn off its middle centred, each said; "
                                      "specks apart from it said). The image is convolved with it (as "
                                      "scipy.ndimage.convolve; OpenCV's filter2D correlates: turn such a kernel by "
                                      "180 degrees); its origin is its middle pixel, row and column size // 2 for an "
                                      "even size.", required=True),
        Param("sigma", float, None, "Noise std, 0-255 units (estimated and printed when omitted; at least 0.5: "
                                    "an 8-bit image holds its rounding's noise even when the blur added none; a "
                                    "lower one given is raised, with a warning; of a 16-bit file's own range where "
                                    "restored on it).",
              range=(0, 255), unit=255.0),
        Param("edges", str, "taper", "'taper': the image is a photo (extended by a kernel size, mirrored and "
                                     "tapered: no wrap-around ringing); 'periodic': it was blurred circularly.",
              choices=("taper", "periodic")),
        Param("model_error", float, None, "How far the blur model may be off (a kernel a pixel too long or "
                                          "short, a photo's edges), 0-255 units, added to the noise the "
                                          "data term is told (sqrt(sigma^2 + e^2)): higher trusts the kernel "
                                          f"less. Default {MODEL_ERROR * 255:g} for a motion kernel with --edges "
                                          "taper (a path's length is rarely exact), 0 otherwise.",
              range=(0, 255), unit=255.0),
        *jpeg_params("The blurred image"),
    )
    eval_params = (
        Param("kernel", str, "gaussian:1.6,25", "Blur kernel (as for `restore deblur`)."),
        Param("sigma", float, 2.55, "Noise std, 0-255 units.", range=(0, 255)),
        Param("blur", str, "wrap", "How the test images are blurred: 'wrap' (circular, the published setting) "
                                   "or 'reflect' (like a photo: mirrored edges; solved with --edges taper).",
              choices=("wrap", "reflect")),
    )
    # DPIR's own deblurring schedule (Zhang et al. 2021), log-spaced levels from 49/255 down to
    # the measurement's noise level; lam 0.5 (DPIR: 0.23) and no momentum were chosen on
    # validation crops of the training photos (benchmarks/results/deblur_defaults.md: +1.3 dB over
    # lam 0.23 with momentum; 20 steps no better than 8); 6 iterations (DPIR: 8) scored +0.01 to
    # +0.25 dB over 8 on four validation settings, 25 % faster (benchmarks/results/deblur_steps.md)
    sampler, steps, sigma_max, spacing, options = "dpir", 6, 49 / 255, "log", (("lam", 0.5),)
    baselines = {"skimage-wiener": _wiener, "skimage-rl": _richardson_lucy}
    given = "blurred"

    def jpeg_level(self, x, p) -> float:
        """The least noise level a JPEG input is deblurred at (0 when not a JPEG): ``JPEG_NOISE``
        times its tables' quantisation RMS (:attr:`JpegTables.level`), at least ``JPEG_FLOOR``."""
        t = self.input_jpeg(x, p)
        return 0.0 if t is None else max(JPEG_FLOOR, JPEG_NOISE * t.level)

    def estimates(self, p):
        """The noise level left out, or the image's tables read from its pixels
        (:meth:`JpegInput.settle_jpeg`): one image at a time."""
        return super().estimates(p) or self.jpeg_unsettled(p)

    def noise_level(self, x, p):
        if p.get("sigma") is not None:  # given (a batch built at once only for the tables' sake: none read)
            return p["sigma"], False
        return super().noise_level(x, p)

    def reported(self, p):
        """With the kernel as given (a spec or a file's name: an array is not said), and a JPEG's
        tables' source."""
        t, given = p.get("tables"), p.get("kernel_given")
        out = {k: v for k, v in p.items() if k != "kernel_given"}
        return {**out, **({"kernel": given} if given is not None else {}),
                **({"tables": t.source} if isinstance(t, JpegTables) else {})}

    def check(self, x, p):
        q = super().check(x, p)
        self.settle_jpeg(x, q)
        if q.get("model_error") is None:
            q["model_error"] = default_model_error(q["kernel"], q.get("edges", "taper"))
        if isinstance(q["kernel"], (str, os.PathLike)):  # said in the record (the array is not)
            q["kernel_given"] = str(q["kernel"])
        q["kernel"] = parse_kernel(q["kernel"])
        h, w = _support(q["kernel"])
        if max(h, w) > min(x.shape[-2:]):  # what it would give is no deblurring (contrast came out inverted)
            raise InputError(f"the kernel ({w}x{h}) is longer than the image's shorter side (the image is "
                             f"{x.shape[-1]}x{x.shape[-2]}, width x height): there is nothing to recover")
        return q

    def check_usage(self, p):
        """A kernel spec is checked here (a usage error); a kernel file is an input: missing
        (:meth:`option_files`) or unreadable, it fails as an input does (exit 1)."""
        if p.get("kernel") is not None and _kernel_file(p["kernel"]) is None:
            parse_kernel(p["kernel"])

    def option_files(self, p):
        f = _kernel_file(p.get("kernel"))
        return {} if f is None else {"kernel": f}

    def check_option_files(self, p):
        """A kernel file read once, before the work: one of 300x300 failed each image of a folder."""
        f = _kernel_file(p.get("kernel"))
        if f is not None and f.is_file():
            read_kernel(f)

    def api_warnings(self, x, p):
        """The command line's warnings (a kernel this wide: in the same words), a ``sigma`` under
        the least level in the API's units, for each image of a batch."""
        if p.get("sigma") is None or x.shape[0] == 1:
            return self.warnings(x, p, api=True)
        return [f"image {i} of the batch: {w}" for i in range(x.shape[0])
                for w in self.warnings(x[i : i + 1], p, api=True)]

    def warnings(self, x, p, api: bool = False):
        if p.get("sigma") is not None and x.shape[0] == 1 and self.jpeg_unsettled(p):
            p = dict(p)  # the tables build() will take (an earlier save's, or a decode's read from its
            self.settle_jpeg(x, p)  # blocks): a PNG of a JPEG was said to be raised to 0.5, and was to 3
        sigma, jpeg = p.get("sigma"), self.jpeg_level(x, p)
        floor = _floor_of(p)
        level = max(jpeg, floor)
        err = p.get("model_error")
        if err is None and p.get("kernel") is not None:  # check() fills in the default: the same here
            err = default_model_error(p["kernel"], p.get("edges", "taper"))
        err = err or 0.0
        # the floor is on the level the data term is told, sqrt(sigma^2 + model error^2) (build): a model error
        # over it leaves --sigma as given (the warning said it was raised where it was not)
        why = ("a JPEG input is deblurred at", "its quantisation") if jpeg > floor else (
            "deblurring assumes", "a blur told no noise is inverted outright: ripples")

        def v(s):  # a level in the caller's units: the API's [0, 1] (and 0-255), the command line's 0-255
            return f"{s:.4g} = {s * 255:.3g}/255" if api else f"{s * 255:.3g}"

        low = [f"{'sigma=' if api else '--sigma '}{v(sigma)} is below the least noise {why[0]} ({v(level)}, {why[1]}): "
               f"{v(math.sqrt(level**2 - err**2))} is used instead"
               + (f" (with the model error {v(err)})" if err else "")
               ] if sigma is not None and math.hypot(sigma, err) < level else []
        from .denoise import MIN_ESTIMATE_SIDE, sigma_mismatch

        if sigma is not None and x.shape[0] == 1 and min(x.shape[-2:]) >= MIN_ESTIMATE_SIDE and not p.get("bits"):
            # (data of fewer bits than their file's are told levels of their own range: not compared here)
            est = self.estimate(x, p) * 255
            name = "sigma=" if api else "--sigma "
            if est >= 1 and sigma * 255 < est * SIGMA_UNDER:  # (a trial: 0.5 for noise 3 gave 13.82 dB, unsaid)
                low.append(f"{name}{v(sigma)} is under half the noise estimated in the image ({v(est / 255)}): told "
                           "too little noise, deblurring amplifies the rest into ripples (a trial: 0.5 for noise 3, "
                           "13.82 dB where the blurred input had 26.09); leave it out to use the estimate")
            elif sigma * 255 > est:
                off = sigma_mismatch(sigma * 255, est, api)
                low += [off] if off else []
        if p.get("kernel") is None:
            return low
        low += self._clipped_note(x, p)
        side = min(x.shape[-2:])
        k, notes = read_kernel(p["kernel"])  # what a file or an array needed to be a kernel
        h, w = _support(k)
        if LARGE_KERNEL * side < max(h, w) <= side:  # (wider than the image: refused by check)
            notes.append(f"the kernel ({w}x{h}) spans more than {LARGE_KERNEL:.0%} of the image's "
                         f"shorter side ({side} px): a blur this wide leaves little to recover, and the result may "
                         "be worse than the input")
        return low + notes

    def _clipped_note(self, x, p) -> list[str]:
        """What deblurring does with an image's clipped white: a light beyond white
        (:func:`beyond_white`) is left out of the data; an area too large for a light (over-exposed
        snow or sky) with light beyond white may ring; one clipped at white (a page) is not said."""
        if x.shape[0] != 1 or not bool((x >= CLIPPED_LEVEL).any()):
            return []
        k = parse_kernel(p["kernel"])
        noise = max(NOISE_FLOOR, self.estimate(x, p) if p.get("sigma") is None else p["sigma"])
        lit, wide = _lights(x[0], k, noise)  # (one pass for both notes)
        share = 0.0 if lit is None else float(lit.any(dim=0).float().mean())
        if share >= CLIPPED_SHARE[0]:
            return [f"{share:.1%} of the image is lit by a light beyond white (a lamp, a window at night): its glow "
                    "is no blur of an image within white; dpir (the default) and diffpir leave it out of the data, and "
                    "the light stays about as blurred; other samplers ring around it"]
        if wide is not None:  # (a page clipped at white lacks no light: not said)
            return [f"{float(wide.any(dim=0).float().mean()):.1%} of the image is clipped white with light beyond "
                    "white blurred out of it (over-exposed snow or sky, or a large light): too large to leave out of "
                    "the data, the result may ring along its edges"]
        return []

    def estimated_note(self, params, sigma, to_try=None):
        t = params.get("tables")
        if t is not None:  # a JPEG: the least level its quantisation stands for, where the noise read is under it
            src = "its file's tables" if t == "file" else t.replace("estimated quality", "the blocks of quality", 1)
            return (f"noise sigma = {sigma * 255:.2f} (0-255 units): a JPEG ({src}), whose grain reads low and whose "
                    "blocks the deblurring would sharpen into ripples under this level (--jpeg-quality 0 if it is not "
                    "a JPEG)")
        note = super().estimated_note(params, sigma)
        # the floor, where build() raised the level to it (a level read lower with a model error above it stays
        # as read: the two together are over the floor)
        floor = _floor_of(params)
        return note + " (the least deblurring assumes)" if math.isclose(sigma, floor, rel_tol=1e-6) else note

    def build(self, x, p):
        k = p["kernel"]
        sigma, estimated = self.noise_level(x, p)
        C, H, W = x.shape[1:]
        err = p.get("model_error") or 0.0  # check() fills in the default
        # 0 inverts the kernel outright: ripples, NaN at its zeros; a JPEG's blocks, read as clean, rippled
        least = max(NOISE_FLOOR, self.jpeg_level(x, p))
        if math.hypot(sigma, err) < least:
            sigma = math.sqrt(least**2 - err**2)
        if p.get("edges", "taper") == "periodic":
            op, y = Blur(k, (C, H, W), sigma, model_error=err), x
        else:
            op = _Extended(k, (C, H, W), max(k.shape), sigma, model_error=err)
            y = op.extend(x)
        op.unseen = beyond_white(y, k, sigma)  # a light's glow: left out of the data step
        return op, y, estimated

    def tile_scale(self, p):
        return 1  # not pointwise: a large image is deblurred tile by tile

    def last_level(self, op):
        return max(op.sigma_y, 1e-3)  # DPIR stops at the noise level

    def degrade(self, name, img, index, kernel="gaussian:1.6,25", sigma=2.55, blur="wrap", **_):
        """Blur the clean image (``wrap``: circularly, as DPIR's ``ndimage.convolve(...,
        mode='wrap')`` in float; ``reflect``: with mirrored edges), then add Gaussian noise
        of std ``sigma``/255 seeded by the image index, not clipped."""
        from scipy import ndimage

        k = parse_kernel(kernel)
        gt = to_tensor(img)
        a = img.astype(np.float64) / 255.0
        kk = k[:, :, None] if a.ndim == 3 else k
        b = ndimage.convolve(a, kk, mode=blur)
        g = torch.Generator().manual_seed(index)
        y = from_np(b.astype(np.float32))
        y = y + sigma / 255.0 * torch.randn(y.shape, generator=g)
        return Case(name, gt, y, self.name, {"kernel": kernel, "sigma": sigma, "blur": blur},
                    {"kernel": kernel, "sigma": sigma / 255.0, "edges": "periodic" if blur == "wrap" else "taper"})

    def score(self, case, out):
        """PSNR / SSIM on RGB, no border crop (DPIR's convention), and the PSNR of the
        16-pixel border band and of the interior apart (wrap-around ringing shows there)."""
        r = super().score(case, out)
        a, b = out.detach().float().cpu().clamp(0, 1), case.gt
        H, W = b.shape[-2:]
        if H > 48 and W > 48:
            band = torch.ones(H, W, dtype=torch.bool)
            band[16:-16, 16:-16] = False
            r["psnr_border16"] = psnr_where(a, b, band)
            r["psnr_interior"] = psnr(a[..., 16:-16, 16:-16], b[..., 16:-16, 16:-16])
        return r

    def describe(self, p):
        return f"kernel {p['kernel']}, sigma={p['sigma']:g}, {p['blur']} blur"

    def published(self, p, dataset=None):
        text = PUBLISHED.get((p["kernel"], p["sigma"]))
        if dataset is not None and Path(dataset).name.lower() != "cbsd68":  # the figures are CBSD68's
            return ""
        return f"published: {text}" if text and p["blur"] == "wrap" else ""
