"""Inpainting: ``A = diag(known)``; the measurement is the image with holes set to 0."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError, UsageError
from ..io import hole_from_array, marked_pixels, opaque_value
from ..registry import DEFAULT_METHOD
from .base import Case, Operator, Param, Recipe, Task, from_np, np01, psnr_where

__all__ = ["MASKS", "Inpaint", "InpaintTask", "dilate_hole", "known_from_mask", "make_mask"]


class Inpaint(Operator):
    """Keep the pixels where ``known`` is True.

    Parameters
    ----------
    known : torch.Tensor
        Bool, ``(H, W)``, ``(1, H, W)`` or ``(C, H, W)``: True = observed pixel; or one mask
        per image of a batch, ``(B, 1, H, W)`` or ``(B, C, H, W)``.
    x_shape : tuple
        ``(C, H, W)`` of the image.
    sigma_y : float
        Noise on the observed pixels.
    """

    capabilities = frozenset({"pinv", "svd", "grad", "mask"})
    task = "inpaint"

    def __init__(self, known: torch.Tensor, x_shape, sigma_y: float = 0.0, start: torch.Tensor | None = None) -> None:
        super().__init__(x_shape, sigma_y)
        self.start = start  # a first guess of the holes (e.g. an exemplar fill), else push-pull
        k = torch.as_tensor(known).bool()
        if k.ndim == 2:
            k = k[None]
        C, H, W = self.x_shape
        if k.ndim not in (3, 4) or k.shape[-2:] != (H, W) or k.shape[-3] not in (1, C):
            raise InputError(f"mask is {tuple(k.shape)} but the image is {(C, H, W)} (C, H, W)")
        per = k.flatten(1) if k.ndim == 4 else k.flatten()[None]  # one row per image
        if per.all(1).any():
            raise InputError("mask has no hole (every pixel is known)")
        if not per.any(1).all():
            raise InputError("mask covers the whole image (nothing is known)")
        self.known = k

    def mask(self, like: torch.Tensor) -> torch.Tensor:
        """The known-pixel mask as ``(1 or B, 1 or C, H, W)`` (a batch's own masks are
        repeated for its posterior samples, which are consecutive rows)."""
        k = self.known.to(device=like.device, dtype=like.dtype)
        if k.ndim == 3:
            return k[None]
        if like.shape[0] != k.shape[0]:
            k = k.repeat_interleave(like.shape[0] // k.shape[0], dim=0)
        return k

    def Vt(self, x):
        return x

    V = U = Ut = Vt

    def singulars(self, like):
        return self.mask(like)

    def A(self, x):
        return x * self.mask(x)

    A_adjoint = A_dagger = A

    def init(self, y: torch.Tensor) -> torch.Tensor:
        """Holes filled by push-pull interpolation of the known pixels (a smooth, cheap
        first guess; the zero-filled pseudo-inverse would bias the low frequencies)."""
        m = self.mask(y).expand(y.shape[0], 1, *y.shape[-2:])
        if self.start is not None:
            st = self.start.to(y)
            st = st.repeat_interleave(y.shape[0] // st.shape[0], dim=0) if st.shape[0] != y.shape[0] else st
            return y * m + st * (1 - m)
        return y * m + push_pull_fill(y, m) * (1 - m)

    def _noise_support(self, n):
        return n * self.mask(n)

    def finish(self, out, y):
        """Known pixels are kept exactly when the measurement is noiseless."""
        if self.sigma_y > 0:
            return out
        m = self.mask(out)
        return m * y + (1 - m) * out

    def describe(self) -> dict:
        return {**super().describe(), "hole_fraction": float(1 - self.known.float().mean())}


def push_pull_fill(y: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Fill where ``m == 0`` with averages of known pixels, coarse to fine (push-pull,
    Gortler et al. 1996). ``y`` is ``(B, C, H, W)``, ``m`` ``(B, 1, H, W)`` in {0, 1}."""
    import torch.nn.functional as F

    if m.shape[-2] <= 1 and m.shape[-1] <= 1:
        return torch.where(m > 0, y, (y * m).sum((-2, -1), keepdim=True) / m.sum((-2, -1), keepdim=True).clamp(min=1))
    if bool((m > 0).all()):
        return y
    H, W = y.shape[-2:]
    ph, pw = H % 2, W % 2
    yp = F.pad(y * m, (0, pw, 0, ph))
    mp = F.pad(m, (0, pw, 0, ph))
    ys, ms = F.avg_pool2d(yp, 2), F.avg_pool2d(mp, 2)
    coarse_m = (ms > 0).to(m.dtype)
    coarse = push_pull_fill(ys / ms.clamp(min=1e-8), coarse_m)
    up = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)[..., :H, :W]
    return torch.where(m > 0, y, up)


# -- masks ----------------------------------------------------------------------------------
#: a mask file with more than this fraction of mid-grey (or coloured) pixels is a photo
PHOTO_MID_FRACTION = 0.25
#: more than this fraction of the image to fill: probably an inverted mask (a warning)
MOSTLY_HOLE = 0.5


def photo_like(a: np.ndarray) -> str | None:
    """Why the mask array ``a`` (``H x W [x C]``) looks like a photograph rather than a mask,
    or ``None``: masks are two-tone (black / white, or labels); a photo has most pixels at
    mid-grey or in colour. A JPEG mask's ringing edges or a feathered brush stay far under
    :data:`PHOTO_MID_FRACTION`."""
    a = np.asarray(a)
    if a.dtype == np.bool_ or a.size == 0:
        return None
    top = float(np.iinfo(a.dtype).max) if a.dtype.kind in "ui" else 1.0
    if a.max() <= 1 and a.dtype.kind in "ui":  # 0/1 labels
        return None
    f = a.astype(np.float32) / top
    mid = (f > 0.1) & (f < 0.9)
    mid = mid.any(axis=-1) if f.ndim == 3 else mid
    if f.ndim == 3 and f.shape[-1] >= 3:
        mid |= (f[..., :3].max(-1) - f[..., :3].min(-1)) > 0.1
    frac = float(mid.mean())
    if frac > PHOTO_MID_FRACTION:
        return f"{frac * 100:.0f} % of its pixels are mid-grey or coloured (a mask is black and white)"
    return None


def dilate_hole(hole: np.ndarray, px: int) -> np.ndarray:
    """Grow a hole by ``px`` pixels (a disc), as object-removal tools do for the edge halo."""
    if px <= 0:
        return hole
    import cv2

    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(hole.astype(np.uint8), k).astype(bool)


#: a hole drawn tight around an object (its border follows the object's outline) grows by this
#: many pixels under ``mask_dilate`` auto: the object's blurred edge, left just outside such a
#: mask, tints the fill (a pale ghost of the object). On 40 synthetic removals from validation
#: photos with rough masks (cut at an opacity that wanders along the outline, eroded by 0-2 px:
#: as segmentation tools draw them), 3 px left 2 % of the edge's tint, 2 px 6 %, at a better
#: footprint PSNR; with masks cut exactly at half opacity 2 px scored 0.2 dB better
#: (benchmarks/results/inpaint_halo.md)
TIGHT_GROW = 3
#: ... but by at most this share of the hole's inscribed radius (at least 1 px): a scan's dust and
#: hairs drawn tight (1-3 px deep; a trial) grew 3 px, and the fill then had the ring's detail to
#: make up too (a trial's exact dust mask: 26.40 dB in the holes against 29.87 as drawn). On 20
#: synthetic scans (validation photos, 30 specks of radius 0.6-2.5 px and 2 hairs 1-2 px wide, edges
#: blurred by 0-1.2 px or no dust under the mask, masks at half opacity), the footprint's PSNR (the
#: dust grown by 4 px) was 30.20 dB under the rule before, 32.33 / 30.58 / 28.58 for every hole grown
#: 1 / 2 / 3 px, 32.79 with this share (benchmarks/results/inpaint_halo.md). Holes 6 px deep or more
#: grow 3 px as before (the 80 object removals of the halo benchmark grow exactly as before).
TIGHT_DEPTH = 0.5
#: a pixel of a hole's border lies on an object's edge where the colour step from the hole's
#: inner ring (3 px) to a ring outside it (3-6 px out: a rough mask leaves some of the object
#: there) is over TIGHT_RATIO times the step between the next two rings (6-9 and 9-12 px out);
#: the hole is drawn tight where over TIGHT_SHARE of its border is. On 64 synthetic removals
#: (validation photos), every tight mask, exact or rough, had at least 62 % of its border on an
#: edge and loose masks at most 52 %; 0-4 % of LaMa's masks laid over photos (nothing under
#: them) count as tight (benchmarks/results/inpaint_halo.md)
TIGHT_RATIO, TIGHT_SHARE = 1.75, 0.6
#: ring width (pixels) of :func:`tight_holes`'s colour steps, and the gap (pixels) left between
#: the hole and its first ring outside
TIGHT_RING, TIGHT_GAP = 3, 3
#: ... a hole under 6 px deep takes as its inner ring its pixels within this share of its depth of
#: its border (at least 1 px): a brush 6-8 px wide over a 2-3 px cable had the cable in its 3 px
#: ring, so it counted as drawn tight and grew (a trial's four such brushes: 40.07 / 37.63 / 25.28 /
#: 24.92 dB in the hole, now kept as drawn: 43.82 / 42.86 / 28.22 / 26.99; Telea 38.86 / 37.61 /
#: 25.99 / 25.13). Specks, a date stamp's digits, small objects and sensor dust masked at half
#: opacity still count as tight (their scores unchanged); the 20 synthetic scans above 32.77 dB
#: (32.79); holes 6 px deep or more as before (benchmarks/results/inpaint_halo.md)
TIGHT_INNER = 0.5


def tight_holes(img: np.ndarray, hole: np.ndarray, grow: int = TIGHT_GROW, ratio: float = TIGHT_RATIO,
                share: float = TIGHT_SHARE, gap: int = TIGHT_GAP) -> tuple[np.ndarray, int]:
    """``hole`` (``H x W`` bool) with each connected hole drawn tight around an object grown
    by ``grow`` pixels (a small one by less: :data:`TIGHT_DEPTH`), and how many were. ``img``
    (``H x W [x C]`` float in [0, 1]) still shows what the mask covers: a hole whose pixels are
    all one value (already erased) is never grown, nor is a hole whose border crosses the scene
    (a loose mask)."""
    hole = np.asarray(hole, bool)
    img = np.asarray(img, np.float32)
    img = img[..., None] if img.ndim == 2 else img
    if grow <= 0 or not hole.any():
        return hole, 0
    out, n = hole.copy(), 0
    for y0, y1, x0, x1 in hole_boxes(hole, tight_margin(grow, gap)):
        g, k = _tight_crop(img[y0:y1, x0:x1], hole[y0:y1, x0:x1], grow, ratio, share, gap)
        out[y0:y1, x0:x1] |= g
        n += k
    return out, n


def tight_margin(grow: int = TIGHT_GROW, gap: int = TIGHT_GAP) -> int:
    """Known pixels a crop needs around its holes for :func:`tight_holes`: the rings, their
    Gaussian weights' reach and the growth."""
    return gap + 6 * TIGHT_RING + 2 * grow + 2


def _tight_crop(img: np.ndarray, hole: np.ndarray, grow: int, ratio: float, share: float,
                gap: int) -> tuple[np.ndarray, int]:
    """:func:`tight_holes` on one crop that holds whole holes and their rings."""
    on, pixels, lab, n, depth = edge_counts(img, hole, ratio, gap)
    tight = on > share * np.maximum(pixels, 1)
    tight[0] = False  # the label of known pixels
    inside = lab[hole]  # a hole of one colour (erased) shows no object to compare with
    size = np.maximum(np.bincount(inside, minlength=n), 1)
    spread = sum(np.bincount(inside, weights=c * c, minlength=n) / size
                 - (np.bincount(inside, weights=c, minlength=n) / size) ** 2
                 for c in img[hole].astype(np.float64).T)
    tight &= spread > 1e-12
    by = np.where(tight, np.clip(np.floor(TIGHT_DEPTH * depth), 1, grow), 0).astype(int)
    out = np.zeros_like(hole)
    for g in np.unique(by[by > 0]):
        out |= dilate_hole((by == g)[lab], int(g))
    return out, int(tight.sum())


def _depths(d_in: np.ndarray, hole: np.ndarray, lab: np.ndarray, n: int) -> np.ndarray:
    """Each of the ``n`` labels' inscribed radius (its deepest pixel's distance to a known one, from
    ``d_in``, :func:`hole_depth` of ``hole``; 0 for label 0, the known pixels)."""
    depth = np.zeros(n, np.float32)
    np.maximum.at(depth, lab[hole], d_in[hole])
    return depth


def edge_counts(img: np.ndarray, hole: np.ndarray, ratio: float = TIGHT_RATIO,
                gap: int = TIGHT_GAP) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
    """Per hole of a crop that holds whole holes and their rings (label ``i`` of ``lab``, of
    ``n`` labels; 0 is the known pixels): how many of its border pixels lie on an edge (the
    step across over ``ratio`` times the step beyond, :func:`_tight_stats`), and how many
    border pixels it has; then ``lab``, ``n`` and each label's depth (:func:`_depths`)."""
    import cv2

    across, beyond, border, lab, n, depth = _tight_stats(img, hole, gap)
    near = cv2.dilate(lab.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int32)[border]  # its hole
    on_edge = (across > ratio * beyond + 2 / 255)[border]
    return np.bincount(near, weights=on_edge, minlength=n), np.bincount(near, minlength=n), lab, n, depth


def _local_mean(a: np.ndarray, w: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's mean of ``a`` (``H x W`` or ``H x W x C`` float32) over the pixels ``w``
    (``H x W`` bool), Gaussian-weighted (std ``sigma`` px), and the weights' sum there (near 0
    far from every pixel of ``w``)."""
    import cv2

    w = w.astype(np.float32)
    wa = w[..., None] if a.ndim == 3 else w
    num = cv2.GaussianBlur(a * wa, (0, 0), sigma).reshape(a.shape)
    den = cv2.GaussianBlur(w, (0, 0), sigma)
    return num / (np.maximum(den, 1e-6)[..., None] if a.ndim == 3 else np.maximum(den, 1e-6)), den


def _tight_stats(img: np.ndarray, hole: np.ndarray, gap: int):
    """Per known pixel next to a hole: the colour step across the border (the mean colours of
    the hole's inner ring of :data:`TIGHT_RING` px and of a ring outside, ``gap`` px out; each
    Gaussian-weighted around the pixel) and the step between the next two rings outside; the
    border pixels where all rings are near; the holes' labels and count
    (:func:`cv2.connectedComponents`) and each label's depth (:func:`_depths`)."""
    import cv2

    r = TIGHT_RING
    d_out = hole_depth(~hole)  # known pixels: distance to the nearest hole pixel
    d_in = hole_depth(hole)
    n, lab = cv2.connectedComponents(hole.astype(np.uint8), connectivity=8)
    depth = _depths(d_in, hole, lab, n)
    # a small hole's inner ring is its outer half (TIGHT_INNER): a brush's over a thin cable is sky
    inner = np.clip(np.floor(TIGHT_INNER * depth), 1, r)[lab]

    def local_mean(w):  # each pixel's Gaussian-weighted mean colour of the ring w
        m, den = _local_mean(img, w, r)
        return m, den > 1e-3

    known = ~hole

    def ring(a, b):
        return local_mean(known & (d_out > gap + a * r) & (d_out <= gap + b * r))

    c_in, ok_in = local_mean(hole & (d_in <= inner))
    (c1, ok1), (c2, ok2), (c3, ok3) = ring(0, 1), ring(1, 2), ring(2, 3)
    across = np.sqrt(((c_in - c1) ** 2).sum(-1))
    beyond = np.sqrt(((c2 - c3) ** 2).sum(-1))
    border = known & (d_out <= 1.5) & ok_in & ok1 & ok2 & ok3
    return across, beyond, border, lab, n, depth


def known_from_mask(mask, shape: tuple[int, int], dilate: int = 0, name: str = "mask") -> torch.Tensor:
    """``known`` (True = observed, ``(H, W)``) from a hole mask (array or tensor, ``H x W``
    [x C]; see :func:`hole_from_array` for the threshold)."""
    from ..io import mask_from_hole, no_hole_why

    hole = _marked(mask, "mask")
    a = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else mask
    if not hole.any() and (why := no_hole_why(a)):  # (a trial: a uint16 array of 0/255 was said to hold no 128 of 255)
        raise InputError(f"{'' if name == 'mask' else name + ': '}mask has no hole{why}")
    return torch.from_numpy(mask_from_hole(dilate_hole(hole, dilate), shape, name))


def _marked(mask, what: str, invert: bool = False) -> np.ndarray:
    """The pixels a mask array or tensor (``H x W``, ``[1 x] H x W x C`` or ``C x H x W``)
    marks, as ``H x W`` bool (see :func:`hole_from_array` for the threshold)."""
    if isinstance(mask, torch.Tensor):
        m = mask.detach().cpu().numpy()
    elif isinstance(mask, np.ndarray):
        m = mask
    else:
        raise InputError(f"{what} must be a numpy array or a torch tensor, got {type(mask).__name__}")
    while m.ndim > 2 and m.shape[0] == 1 and m.shape[-1] not in (2, 3, 4):
        m = m[0]
    if m.ndim == 3 and m.shape[2] not in (1, 2, 3, 4) and m.shape[0] in (1, 2, 3, 4):
        m = m.transpose(1, 2, 0)  # C x H x W (a tensor's layout)
    if m.ndim not in (2, 3) or (m.ndim == 3 and m.shape[2] not in (1, 2, 3, 4)):
        per_image = (" (one mask per image of a batch: a list of them, mask=[m1, m2, ...], or a B x H x W array)"
                     if m.ndim == 4 else "")
        raise InputError(f"{what} must be H x W (or H x W x C, C = 1-4), got shape {tuple(mask.shape)}{per_image}")
    return marked_pixels(m, invert)  # with alpha (H x W x 2 or 4), as a mask file's is read


def _exclude_of(v, shape: tuple[int, int]) -> np.ndarray:
    """The ``exclude`` parameter (a mask file's path, or an array or tensor as for
    :func:`_marked`; white / True / at least half range = excluded) as ``H x W`` bool."""
    from ..io import read_image

    where = "exclude"
    if isinstance(v, (str, Path)):
        where = str(v)
        v = read_image(v).color
        why = photo_like(v)
        if why is not None:
            raise InputError(f"{where}: does not look like a mask: {why}")
    ex = _marked(v, "exclude")
    if ex.shape != tuple(shape):
        raise InputError(f"{where}: exclude mask is {ex.shape[-1]}x{ex.shape[0]} but the image is "
                         f"{shape[1]}x{shape[0]} (width x height)")
    return ex


def _scene_only_option(p: dict) -> str | None:
    """Why the parameters ``p`` ask the scene fill's options (``exclude``, ``lines=False``) of
    another fill; None when they do not."""
    f = p.get("fill")
    if f not in ("mean", "sample"):
        return None
    if p.get("exclude") is not None:
        return f"--exclude applies to the scene fill, not to --fill {f} (use auto or scene)"
    if p.get("lines") is False:
        return f"--no-lines applies to the scene fill, not to --fill {f} (use auto or scene)"
    return None


def _grow_tight(x: torch.Tensor, known: torch.Tensor) -> tuple[torch.Tensor, int | list[int]]:
    """``known`` (``(H, W)`` shared, or ``(B, 1 or C, H, W)``) with each image's holes drawn
    tight around an object grown (:func:`tight_holes` of that image ``x[b]``), and how many
    holes grew: a number for one image, a list (one per image) for a batch. A shared mask
    becomes one per image where they differ."""
    B, H, W = x.shape[0], *x.shape[-2:]
    per = known.ndim == 4

    def hole_of(k):
        return ~k.cpu().reshape(-1, H, W).all(0).numpy()

    shared = None if per else hole_of(known)
    holes, n = [], []
    for b in range(B):
        hole = hole_of(known[b]) if per else shared
        g, nb = tight_holes(x[b].detach().float().cpu().permute(1, 2, 0).numpy(), hole)
        holes.append(g)
        n.append(nb)
    count = n[0] if B == 1 else n
    if not any(n):
        return known, count
    if not per and all((h == holes[0]).all() for h in holes):
        return torch.from_numpy(~holes[0]), count
    return torch.from_numpy(~np.stack(holes))[:, None], count


def _per_image(m, batch: int, one, shape: tuple[int, int]) -> torch.Tensor:
    """``one(m)`` for a single mask (shared by the batch), or, for a list / tuple with one
    mask per image, or a batch's array ``(B, H, W)`` / ``(B, C, H, W)`` (``shape``: the
    images' ``(H, W)``), the ``(B, 1 or C, H, W)`` stack of ``one`` of each."""
    if batch > 1 and isinstance(m, (np.ndarray, torch.Tensor)) and m.shape[0] != 1 and (
            m.ndim == 4 or (m.ndim == 3 and tuple(m.shape[1:]) == tuple(shape))):  # (1, ...): one for all
        if m.shape[0] != batch:  # (it was read as one mask of that many channels: gray + alpha, RGB...)
            raise InputError(f"a mask of shape {tuple(m.shape)} for a batch of {batch} images: give one H x W mask "
                             f"for all, or {batch} x H x W (one per image)")
        m = list(m)  # one mask per image (it was read as one mask of B channels: their intersection)
    if not isinstance(m, (list, tuple)):
        return one(m)
    if len(m) != batch:
        raise InputError(f"a list of {len(m)} masks for a batch of {batch} image{'s' if batch != 1 else ''} (a list "
                         "is one mask per image; for one image pass one H x W array, not a list)")
    ks = [one(mi) for mi in m]
    ks = [k[None] if k.ndim == 2 else k for k in ks]
    if len({tuple(k.shape) for k in ks}) > 1:
        raise InputError("the batch's masks differ in shape")
    return torch.stack(ks)


MASKS = ("random50", "random80", "random90", "box", "freeform", "thin", "medium", "thick")

#: masks in the manner of LaMa's families (Suvorov et al., WACV 2022, its random thin / medium /
#: thick generators: strokes of random angle, length and width, plus boxes): irregular strokes
#: (max angle, max length, max width, min and max strokes) and boxes (min and max side, min and
#: max count), in pixels of a 256-pixel image (scaled with the image). Their settings here are
#: smaller than LaMa's so that the mean hole is about 10 % (thin), 20 % (medium) and 30 %
#: (thick) on CBSD68's 481x321 images rather than at the 50 % cap.
LAMA = {
    "thin": ((4, 40, 10, 4, 20), None),
    "medium": ((4, 100, 30, 1, 4), (30, 100, 0, 2)),
    "thick": ((4, 150, 60, 1, 3), (30, 120, 1, 2)),
}
#: generated masks cover at most this fraction of the image (strokes beyond it are dropped)
MAX_HOLE = 0.5


def lama_mask(kind: str, H: int, W: int, rng: np.random.Generator) -> np.ndarray:
    """A mask of LaMa's family ``kind`` (:data:`LAMA`): random strokes of random widths and,
    for medium and thick, boxes; at most :data:`MAX_HOLE` of the image."""
    import cv2

    (max_angle, max_len, max_width, lo, hi), boxes = LAMA[kind]
    s = min(H, W) / 256
    m = np.zeros((H, W), np.uint8)
    shapes = []
    for i in range(int(rng.integers(lo, hi + 1))):
        x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
        for _ in range(1 + int(rng.integers(0, 5))):
            a = 0.01 + rng.uniform(0, max_angle)
            a = 2 * math.pi - a if i % 2 == 0 else a
            ln = (10 + rng.uniform(0, max_len)) * s
            w = max(1, int(round((5 + rng.uniform(0, max_width)) * s)))
            x2 = int(np.clip(x + ln * math.sin(a), 0, W - 1))
            y2 = int(np.clip(y + ln * math.cos(a), 0, H - 1))
            shapes.append(("line", (x, y), (x2, y2), w))
            x, y = x2, y2
    if boxes is not None:
        bmin, bmax, blo, bhi = boxes
        for _ in range(int(rng.integers(blo, bhi + 1))):
            bw = int(min(W - 2, rng.uniform(bmin, bmax) * s))
            bh = int(min(H - 2, rng.uniform(bmin, bmax) * s))
            x0, y0 = int(rng.integers(0, W - bw)), int(rng.integers(0, H - bh))
            shapes.append(("box", (x0, y0), (x0 + bw, y0 + bh), -1))
    for kind_, p0, p1, w in shapes:
        prev = m.copy()
        if kind_ == "line":
            cv2.line(m, p0, p1, 1, w)
        else:
            cv2.rectangle(m, p0, p1, 1, w)
        if m.mean() > MAX_HOLE:
            m = prev
    if not m.any():  # every stroke went over the cap: the first, thinner
        cv2.line(m, shapes[0][1], shapes[0][2], 1, 1)
    return m.astype(bool)


def make_mask(kind: str, H: int, W: int, seed: int) -> np.ndarray:
    """Hole mask (True = missing) of a standard kind, seeded."""
    rng = np.random.default_rng(seed)
    if kind.startswith("random") and kind[6:].isdigit():
        return rng.random((H, W)) < int(kind[6:]) / 100.0
    if kind == "box":
        h, w = H // 2, W // 2
        m = np.zeros((H, W), bool)
        m[(H - h) // 2 : (H - h) // 2 + h, (W - w) // 2 : (W - w) // 2 + w] = True
        return m
    if kind in LAMA:
        return lama_mask(kind, H, W, rng)
    if kind == "freeform":
        import cv2

        m = np.zeros((H, W), np.uint8)
        for _ in range(int(rng.integers(4, 8))):
            x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
            for _ in range(int(rng.integers(3, 7))):
                a = rng.uniform(0, 2 * math.pi)
                ln = int(rng.integers(10, max(11, min(H, W) // 3)))
                x2 = int(np.clip(x + ln * math.cos(a), 0, W - 1))
                y2 = int(np.clip(y + ln * math.sin(a), 0, H - 1))
                cv2.line(m, (x, y), (x2, y2), 1, int(rng.integers(5, 16)))
                x, y = x2, y2
        return m.astype(bool)
    raise InputError(f"unknown mask kind '{kind}' (choose from {', '.join(MASKS)})")


# -- big holes: the photo's own patches, their low frequencies mixed with smooth fills ---------------
#: the exemplar fill's patches: radius in pixels (pypatchmatch's ``patch_size``: 11x11 patches)
EXEMPLAR_PATCH = 5
#: an optional guide (off by default): a smooth fill of the hole (OpenCV Telea) blurred by this
#: Gaussian std (pixels), weighed against the patch distance by GUIDE_WEIGHT (pypatchmatch's
#: ``guide_weight``). On object removals it broke the copied texture into 11x11 blocks at every
#: weight tried (0.25-2); the pull below keeps the texture whole. (Those trials had the guide in
#: [0, 1], which pypatchmatch's periodic comparison wraps; with :func:`guide_map` fixed, weights
#: 0.05 / 0.2 / 1 on top of the shipped fill gave box +0.06 / +0.04 / -0.03 dB hole PSNR at
#: +8.8 / +6.1 / -5.1 SWD, thick +0.15 / +0.08 / -0.12 dB at +6.0 / +5.0 / +2.3, on 16
#: validation photos: the same trade of texture for PSNR as every other lever, so still off)
GUIDE_BLUR, GUIDE_WEIGHT = 4.0, 0.0
#: the unguided fill's low frequencies (Gaussian std PULL_BLUR px) moved this fraction of the way
#: towards a smooth estimate of the hole: OpenCV Telea's fill and a push-pull fill
#: (:func:`push_pull_fill`), PUSH_PULL_SHARE of it the push-pull's. The three (PatchMatch's own
#: low frequencies, Telea's, push-pull's) weigh a third each: on 32 validation photos their mean
#: predicted the truth's low frequencies 0.2 dB better than PatchMatch and Telea alone, and the
#: fill needs no refinement by the prior (benchmarks/results/inpaint_holes.md, fifth round)
TELEA_PULL, PULL_BLUR, PUSH_PULL_SHARE = 2 / 3, 6.0, 0.5
#: the pull's target is Telea's fill up to this distance (pixels) from the hole's border, and
#: from twice it a push-pull fill (:func:`push_pull_fill`): deep in a large hole Telea's fill
#: is rays drawn in from the border, a pinwheel the pull made half visible
#: (benchmarks/results/inpaint_holes.md). Holes up to 96 px deep are as before
TELEA_REACH = 96.0
#: the pull itself holds up to this distance (pixels) from the hole's border and fades out by
#: twice it: deeper in, the smooth fills are an average of the whole border (a grey haze over a
#: large hole, with the colours of every object around it), and PatchMatch's own colours are
#: kept. Holes up to 96 px deep (the CBSD68 and validation masks) are unchanged; on 16 large
#: photos it costs 0.31 dB of box hole PSNR at the same SWD (benchmarks/results/inpaint_holes.md)
PULL_REACH = 96.0
#: PatchMatch fills a band this deep (pixels) along each hole's border first, the rest of the
#: hole excluded (neither filled nor copied from), then the rest: next to known pixels the
#: band copies the border's own texture, where one pass's EM averaged it with the whole hole.
#: On 32 validation photos (starts only) bands of 8 / 12 / 16 / 24 px gave box +0.05 / -0.03 /
#: -0.03 / -0.09 dB hole PSNR at -8 / -26 / -33 / -31 SWD, and thick +0.24 / +0.29 / +0.25 /
#: +0.12 dB at -1.3 / -0.7 / +1.5 / +1.0: 8 px is the one better on all four
#: (benchmarks/results/inpaint_holes.md). 0: one pass
BORDER_BAND = 8.0
#: the border band's pass takes its patches from the hole's box grown by this many pixels, not
#: from the scene fill's whole crop: the band continues the texture right at the border, and
#: PatchMatch's time follows the pixels it is given. Through the command line's path, 32 px
#: against the whole crop: 32 BSDS validation photos box +0.01 dB hole PSNR / SWD +0.5, thick
#: -0.01 dB / -1.4; large photos' box (8 Sun-Hays at 1024 px, 8 PolyU at 1400 px) -0.00 / -14.8
#: and -0.03 / -14.1, about 10 % less time (benchmarks/results/inpaint_holes.md, ninth round).
#: 0: the whole crop
BAND_CONTEXT = 32
#: the fill's fine detail (what a Gaussian of DETAIL_BLUR px removes) is scaled so that its local
#: energy (mean square over a Gaussian of DETAIL_REACH px) matches that of the known pixels around
#: the hole (:func:`match_detail`), amplified at most DETAIL_GAIN times: PatchMatch's EM averages
#: overlapping patches into a fill calmer than its surroundings, and copies sharp texture into
#: out-of-focus parts. Through the command line's path, on 32 validation photos hole PSNR +0.02 /
#: +0.04 dB (box / thick) at SWD -7.2 / -0.5; on 48 held-out ImageNet photos +0.01 / +0.04 dB at
#: SWD -4.7 / -3.9 (benchmarks/results/inpaint_holes.md, eighth round). 0: no matching
DETAIL_BLUR, DETAIL_REACH, DETAIL_GAIN = 1.5, 16.0, 1.15
#: the pull fades out where the copy's low frequencies and the target's differ by PULL_KEEP[0]
#: to PULL_KEEP[1] (the largest channel's gap, [0, 1] units; :func:`pull_towards`'s ``keep``);
#: None: the pull everywhere
PULL_KEEP = None


def exemplar_fill(x: torch.Tensor, known: torch.Tensor, patch: int = EXEMPLAR_PATCH, seed: int | Sequence[int] = 0,
                  guide_weight: float = GUIDE_WEIGHT, pull: float = TELEA_PULL,
                  pull_blur: float = PULL_BLUR, telea_reach: float = TELEA_REACH,
                  push_pull: float = PUSH_PULL_SHARE, pull_reach: float = PULL_REACH,
                  exclude: np.ndarray | None = None, lines: bool = True,
                  band: float = BORDER_BAND, detail_gain: float = DETAIL_GAIN,
                  band_context: int = BAND_CONTEXT,
                  pull_keep: tuple[float, float] | None = PULL_KEEP) -> torch.Tensor | None:
    """The holes of ``x`` (``(B, C, H, W)``) filled with patches of its own known part
    (PatchMatch nearest-neighbour fields, multiscale EM as in Wexler et al. 2007 and
    Content-Aware Fill; Barnes et al. 2009) by the optional ``pypatchmatch`` package
    (``patch`` is its patch radius); ``None`` when that package is not installed. ``seed``
    (one, or one per image) seeds PatchMatch's random search: another seed, another fill.

    Guided (``guide_weight`` > 0): each patch's distance adds how far its source's colour is
    from a smooth estimate of the target's (:func:`guide_map` of Telea's fill), so the copied texture follows the
    low frequencies of a smooth interpolation of the hole's border instead of pasting whatever
    matches the edge (a bright patch of sky into the shadow of a dark animal).

    ``pull`` > 0: the fill's low frequencies (Gaussian ``pull_blur`` px) are moved that
    fraction of the way towards a smooth fill of the hole: OpenCV Telea's, mixed with the
    share ``push_pull`` of a push-pull fill (:func:`push_pull_fill`); unlike the guide, this
    keeps PatchMatch's texture coherent (benchmarks/results/inpaint_holes.md). Further than
    ``telea_reach`` pixels from the hole's border Telea's part turns into push-pull too (all of
    it from twice that distance on): Telea's rays are not drawn into a large hole. The pull
    holds up to ``pull_reach`` pixels from the border and fades out by twice that (the smooth
    fills deep in a large hole are the whole border's average: a grey haze).

    ``exclude`` (``H x W`` bool): known pixels the fill takes nothing from, neither patches
    (pypatchmatch's ``global_mask``) nor the smooth fills' colours; they are kept as they are.

    ``lines``: first continue straight edges that cross the hole (a table's edge, a horizon:
    :func:`restore.tasks.edges.straight_edges`) as strips the fill then treats as known.

    ``band`` > 0: PatchMatch fills the hole's border band of that depth first, then the rest
    (:data:`BORDER_BAND`); the band's patches come from within ``band_context`` pixels of the
    hole's box (:data:`BAND_CONTEXT`; 0: from anywhere).

    ``detail_gain`` > 0: last, the fill's fine detail is as busy as the known surroundings'
    (:func:`match_detail`; amplified at most that many times)."""
    try:
        from patchmatch import patch_match as pm
    except ImportError:
        return None
    import cv2

    from .edges import paint_edges, straight_edges

    def one(img3: np.ndarray, hole: np.ndarray, ex: np.ndarray | None, seed: int) -> np.ndarray:
        """PatchMatch's fill of ``hole`` in ``img3`` (uint8), pulled: ``H x W x 3`` float."""
        avoid = hole if ex is None else hole | ex  # the pixels the fill takes nothing from
        telea = _telea(img3, avoid.astype(np.uint8) * 255) if guide_weight > 0 or pull > 0 else None
        guide = guide_map(telea) if guide_weight > 0 else None
        d_hole = hole_depth(hole) if band > 0 or (pull > 0 and ex is None) else None
        inner = hole & (d_hole >= band) if band > 0 else np.zeros_like(hole)
        if ex is not None and inner.any():
            # the band beside excluded pixels goes with the rest: its patches, between the masked inner part
            # and the excluded pixels, had almost nothing known to match, and came out as flat blocks
            near = cv2.dilate(ex.astype(np.uint8), np.ones((2 * patch + 1,) * 2, np.uint8)) > 0
            inner = inner | (hole & near)
        if inner.any() and (hole & ~inner).any():  # the border band first, then the rest
            box = None
            if band_context > 0:  # the band's sources: near the hole
                ys, xs = np.nonzero(hole)
                H3, W3 = hole.shape
                box = (max(0, ys.min() - band_context), min(H3, ys.max() + 1 + band_context),
                       max(0, xs.min() - band_context), min(W3, xs.max() + 1 + band_context))
            f = _patchmatch_pass(pm, img3, hole & ~inner, inner if ex is None else inner | ex, patch, seed,
                                 guide, guide_weight, box)
            f = _patchmatch_pass(pm, f, inner, ex, patch, seed, guide, guide_weight)
        else:
            f = _patchmatch_pass(pm, img3, hole, ex, patch, seed, guide, guide_weight)
        f = f.astype(np.float32) / 255
        if pull > 0:
            # one distance transform for the target's and the pull's reach (the hole's, when nothing is excluded)
            depth = d_hole if ex is None else hole_depth(avoid)
            f = pull_towards(f, _pull_target(img3, telea, avoid, telea_reach, push_pull, depth), avoid, pull,
                             pull_blur, pull_reach, depth, pull_keep)
            f = np.where(hole[..., None], np.clip(f, 0, 1), img3.astype(np.float32) / 255)
        if detail_gain > 0:
            f = match_detail(f, hole, avoid, detail_gain)
        return f

    B, C, H, W = x.shape
    k = known.to("cpu").bool()
    k = k.reshape(-1, *k.shape[-3:]) if k.ndim == 4 else k.reshape(1, -1, H, W)
    out = []
    for b in range(B):
        hole = (~k[b % k.shape[0]].all(0)).numpy()
        img = (x[b].detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        img3 = np.ascontiguousarray(np.repeat(img, 3, axis=2) if C == 1 else img)
        ex = None if exclude is None else np.asarray(exclude, bool) & ~hole
        if ex is not None and not ex.any():
            ex = None
        sd = seed if isinstance(seed, (int, np.integer)) else seed[b]
        pairs = straight_edges(img3, hole, ex) if lines else []
        if pairs:
            # the holes a straight edge crosses are filled with the edges' strips known; the
            # other holes keep the fill without them (PatchMatch's result anywhere depends on
            # all holes), made only when there are such holes
            img_l, strip = paint_edges(img3, hole, pairs, ex)
            _, lab = cv2.connectedComponents(hole.astype(np.uint8), connectivity=8)
            crossed = np.isin(lab, np.unique(lab[strip]))
            f = one(img_l, hole & ~strip, ex, sd)
            if (hole & ~crossed).any():
                f = np.where(crossed[..., None], f, one(img3, hole, ex, sd))
        else:
            f = one(img3, hole, ex, sd)
        f = torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)
        out.append(f[:1] if C == 1 else f)
    return torch.stack(out).to(x.device)


def match_detail(f: np.ndarray, hole: np.ndarray, avoid: np.ndarray | None = None, gain: float = DETAIL_GAIN,
                 blur: float = DETAIL_BLUR, reach: float = DETAIL_REACH) -> np.ndarray:
    """``f`` (``H x W x C`` float in [0, 1]) with the fine detail of its ``hole`` pixels (``f``
    less its Gaussian of ``blur`` px) scaled so that its local energy matches the known
    pixels': the energy is the detail's square summed over channels, averaged over a Gaussian of
    ``reach`` px; inside the hole, over hole pixels only; outside, over known pixels at least
    ``2.5 blur`` px from any pixel of ``avoid`` (the hole, and pixels that are no source: their
    detail holds none of the hole's), carried into the hole by a push-pull fill. The scale is
    at most ``gain``; the low frequencies and the known pixels are unchanged."""
    import cv2

    avoid = hole if avoid is None else avoid | hole
    clean = hole_depth(~avoid) > 2.5 * blur  # known pixels: distance to the nearest avoided one
    if not clean.any() or not hole.any():
        return f
    low = cv2.GaussianBlur(f, (0, 0), blur)
    d = f - low
    e = (d * d).reshape(*f.shape[:2], -1).sum(-1)
    around = push_pull_np(np.where(clean, _local_mean(e, clean, reach)[0], 0)[..., None], ~clean)[..., 0]
    inside = _local_mean(e, hole, reach)[0]
    k = np.minimum(np.sqrt(around / np.maximum(inside, 1e-10)), gain).astype(np.float32)
    return np.where(hole[..., None], np.clip(low + k[..., None] * d, 0, 1), f)


def _patchmatch_pass(pm, img: np.ndarray, hole: np.ndarray, off: np.ndarray | None, patch: int, seed: int,
                     guide: np.ndarray | None = None, guide_weight: float = 0.0,
                     box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """One seeded pypatchmatch fill (``pm``: its ``patch_match`` module) of ``hole`` in ``img``
    (``H x W x 3`` uint8); ``off``: pixels neither filled nor copied from (its
    ``global_mask``); with ``guide_weight`` > 0, guided by ``guide`` (:func:`guide_map`).
    ``box`` ``(y0, y1, x0, x1)``: only that crop is given to PatchMatch (it must hold every
    ``hole`` pixel); the rest of ``img`` is returned as it is."""
    if box is not None:
        y0, y1, x0, x1 = box
        out = img.copy()
        out[y0:y1, x0:x1] = _patchmatch_pass(
            pm, *(None if a is None else np.ascontiguousarray(a[y0:y1, x0:x1]) for a in (img, hole, off)), patch,
            seed, None if guide is None else np.ascontiguousarray(guide[y0:y1, x0:x1]), guide_weight)
        return out
    g = None if off is None else off.astype(np.uint8) * 255
    pm.set_random_seed(int(seed) % 2**32)  # its native seed is 32 bits (ours up to 64)
    if guide_weight > 0:
        return pm.inpaint_regularity(img, hole.astype(np.uint8) * 255, guide, global_mask=g, patch_size=patch,
                                     guide_weight=guide_weight)
    return pm.inpaint(img, hole.astype(np.uint8) * 255, global_mask=g, patch_size=patch)


def pull_towards(f: np.ndarray, target: np.ndarray, hole: np.ndarray, pull: float, blur: float,
                 reach: float = math.inf, depth: np.ndarray | None = None,
                 keep: tuple[float, float] | None = None) -> np.ndarray:
    """``f`` (``H x W x C`` float) with its low frequencies (Gaussian ``blur`` px) moved the
    fraction ``pull`` of the way towards ``target``'s; with a finite ``reach`` the fraction
    holds up to ``reach`` pixels from the nearest known pixel (``hole`` False) and falls
    linearly to 0 at twice that (``depth``: :func:`hole_depth` of ``hole``, if already made).
    ``keep`` ``(lo, hi)``: the fraction also falls linearly to 0 as the low frequencies' gap
    (the largest channel's) goes from ``lo`` to ``hi``: where the copy and the smooth target
    disagree that much (white sky copied where the target is the border's grey average), the
    copy is kept whole, not pulled half way into a smudge."""
    import cv2

    w = np.float32(pull)
    if math.isfinite(reach):
        w = (pull * _fade(hole_depth(hole) if depth is None else depth, reach)).astype(np.float32)[..., None]
    gap = cv2.GaussianBlur(target - f, (0, 0), blur)
    if keep is not None:
        lo, hi = keep
        far = np.abs(gap).max(-1, keepdims=True) if gap.ndim == 3 else np.abs(gap)
        w = w * np.clip((hi - far) / (hi - lo), 0, 1).astype(np.float32)
    return f + w * gap


def _fade(depth: np.ndarray, reach: float) -> np.ndarray:
    """1 up to ``reach`` pixels into a hole (``depth``), falling linearly to 0 at twice that."""
    return np.clip(2 - depth / reach, 0, 1)


def hole_depth(hole: np.ndarray, outside_known: bool = False) -> np.ndarray:
    """Each pixel's distance (pixels, float32) to the nearest known pixel (``hole`` False); 0
    on known pixels. Beyond the image's edge counts as hole (``outside_known``: as known)."""
    import cv2

    h = np.pad(hole.astype(np.uint8), 1, constant_values=0 if outside_known else 1)
    return cv2.distanceTransform(h, cv2.DIST_L2, 5)[1:-1, 1:-1]


def push_pull_np(a: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """:func:`push_pull_fill` of ``a`` (``H x W x C`` float in [0, 1]) where ``hole`` is True."""
    m = torch.from_numpy(~hole).float()[None, None]
    y = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).permute(2, 0, 1)[None]
    return push_pull_fill(y * m, m)[0].permute(1, 2, 0).numpy()


def _pull_target(img: np.ndarray, telea: np.ndarray, hole: np.ndarray, reach: float,
                 push_pull: float = 0.0, depth: np.ndarray | None = None) -> np.ndarray:
    """The pull's target (float in [0, 1]): ``1 - push_pull`` of Telea's fill and ``push_pull``
    of a push-pull fill of ``img`` (uint8 ``H x W x 3``); Telea's part turns linearly into
    push-pull from ``reach`` pixels into the hole to twice that (``depth``: :func:`hole_depth`
    of ``hole``, if already made)."""
    t = telea.astype(np.float32) / 255
    d = hole_depth(hole) if depth is None else depth
    deep = math.isfinite(reach) and d.max() > reach
    if not deep and push_pull == 0:
        return t
    pp = push_pull_np(img.astype(np.float32) / 255, hole)
    s = (1 - _fade(d, reach))[..., None] if deep else np.float32(0)
    return (1 - push_pull) * ((1 - s) * t + s * pp) + push_pull * pp


def _telea(img: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """OpenCV Telea's fill of ``img`` (``H x W x 3`` uint8) where ``hole`` (uint8) is non-zero:
    the smooth estimate that the guide (:func:`guide_map`) and the pull start from."""
    import cv2

    return cv2.inpaint(img, hole, 3, cv2.INPAINT_TELEA)


def guide_map(smooth: np.ndarray, blur: float = GUIDE_BLUR) -> np.ndarray:
    """pypatchmatch's guide from a smooth fill ``smooth`` (``H x W x 3`` uint8) of the image:
    blurred by ``blur`` pixels, as luma and red-minus-blue, each in [0, 0.5] (pypatchmatch
    compares two channels; the third is unused).

    pypatchmatch reads the two channels as periodic coordinates of period 1 (a difference d
    over 0.5 counts as 1 - d): in [0, 1], black and white would count as alike, a bright
    patch a match for a dark target. Within [0, 0.5] no difference wraps: a larger difference
    in colour is always a larger distance."""
    import cv2

    g = cv2.GaussianBlur(smooth.astype(np.float32) / 255, (0, 0), blur)
    luma = g @ np.array([0.299, 0.587, 0.114], np.float32)
    rb = 0.5 + (g[..., 0] - g[..., 2]) / 2
    return np.ascontiguousarray(np.clip(np.stack([luma, rb, np.zeros_like(luma)], -1), 0, 1) / 2, dtype=np.float32)


def has_sources(hole: np.ndarray, patch: int = EXEMPLAR_PATCH, share: float = 0.25) -> bool:
    """Whether the known pixels (``hole`` False) hold whole patches for PatchMatch to copy: at
    least ``share`` of them are the centre of a ``2 patch + 1`` square with no hole pixel.
    Scattered known pixels (a random mask's) have none."""
    import cv2

    known = (~hole).astype(np.uint8)
    n = int(known.sum())
    if n == 0:
        return False
    k = np.ones((2 * patch + 1, 2 * patch + 1), np.uint8)
    whole = cv2.erode(known, k, borderType=cv2.BORDER_CONSTANT, borderValue=1)
    return int(whole.sum()) >= share * n


def inscribed_radius(hole: np.ndarray) -> float:
    """The radius of the largest disc inside the hole (pixels): the distance transform's
    maximum. Scratches, text and scattered pixels have a few pixels; an object tens."""
    if not hole.any():
        return 0.0
    return float(hole_depth(hole, outside_known=True).max())


# -- work local to the holes ------------------------------------------------------------------
#: holes whose inscribed disc is wider than this radius (pixels) get the scene fill. On strokes
#: of one width (16 validation photos) the posterior mean's SWD is no worse than Telea's up to
#: 8 px wide (radius 7.8); from 12 px wide it is worse than Telea's, a smooth smear across the
#: texture, while the scene fill stays level with PatchMatch (benchmarks/results/inpaint_holes.md)
SCENE_RADIUS = 8
#: known pixels kept around each hole as the sampler's context (pixels on each side); chosen
#: on validation crops by comparing with whole-image results (benchmarks/inpaint_large.py)
LOCAL_MARGIN = 48
#: the scene fill's PatchMatch draws its patches from a wider crop than the sampler's: the
#: hole's box grown by this times its larger side (at least LOCAL_MARGIN). With LOCAL_MARGIN
#: alone a large hole has few sources, and the fill's EM averages them into a smear
#: (benchmarks/results/inpaint_holes.md)
SCENE_CONTEXT = 1.0
#: above this fraction of the image in crops, the whole image is solved at once
LOCAL_MAX_FRACTION = 0.6
#: crops start on multiples of this (and of the network's size multiple)
LOCAL_ALIGN = 16
#: more crops than this (scattered holes) and the whole image is solved at once
LOCAL_MAX_REGIONS = 256


def _snap(a0: int, a1: int, n: int, align: int) -> tuple[int, int]:
    """``[a0, a1)`` grown to start and end on multiples of ``align`` (the end clipped to
    ``n``): the network's down-sampling, and the push-pull start's pyramid, then see the crop
    on the same grid as the whole image."""
    return a0 // align * align, min(n, -(-a1 // align) * align)


def hole_boxes(hole: np.ndarray, margin: int, multiple: int = 1) -> list[tuple[int, int, int, int]]:
    """Crops ``(y0, y1, x0, x1)`` that hold every hole pixel with ``margin`` known pixels
    around it (where the image has them): the boxes of the holes' connected components grown
    by ``margin``, overlapping ones merged, starts and ends on a multiple of ``multiple`` (at
    least :data:`LOCAL_ALIGN`; the image's end where that comes first). The crops are
    disjoint."""
    import cv2

    H, W = hole.shape
    multiple = math.lcm(int(multiple), LOCAL_ALIGN)
    h8 = hole.astype(np.uint8)
    if margin > 0:  # components closer than 2 margins share a crop anyway
        h8 = cv2.dilate(h8, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(h8, connectivity=8)
    boxes = [(int(y), int(y + h), int(x), int(x + w)) for x, y, w, h, _ in stats[1:]]
    boxes = [(*_snap(y0, y1, H, multiple), *_snap(x0, x1, W, multiple)) for y0, y1, x0, x1 in boxes]
    merged = True
    while merged and len(boxes) > 1:
        merged = False
        b = np.array(boxes)
        over = ((b[:, None, 0] < b[None, :, 1]) & (b[None, :, 0] < b[:, None, 1])
                & (b[:, None, 2] < b[None, :, 3]) & (b[None, :, 2] < b[:, None, 3]))
        np.fill_diagonal(over, False)
        if over.any():
            i, j = map(int, np.argwhere(over)[0])
            u = (min(b[i, 0], b[j, 0]), max(b[i, 1], b[j, 1]), min(b[i, 2], b[j, 2]), max(b[i, 3], b[j, 3]))
            u = (*_snap(u[0], u[1], H, multiple), *_snap(u[2], u[3], W, multiple))
            boxes = [bx for k, bx in enumerate(boxes) if k not in (i, j)] + [tuple(int(v) for v in u)]
            merged = True
    return sorted(boxes)


def _transparent_holes(alpha: np.ndarray, invert: bool, p: dict, how: str, invert_name: str) -> dict:
    """``p`` with the fully transparent pixels of ``alpha`` as its mask (the opaque ones with
    ``invert``), held as drawn unless a dilation is asked for (the colours under transparent
    pixels show no object); ``how`` / ``invert_name`` name the options in the message when
    there is none."""
    hole = (alpha == 0) != invert
    if not hole.any():
        raise InputError(f"{how} found nothing to fill (the holes are the pixels of alpha "
                         + (f"above 0, with {invert_name})" if invert else "0)"))
    p = {**p, "mask": hole}
    if p.get("mask_dilate") is None:
        p["mask_dilate"] = 0
    return p


def _local_boxes(hole: np.ndarray, multiple: int) -> list[tuple[int, int, int, int]] | None:
    """:func:`hole_boxes` with :data:`LOCAL_MARGIN`, or None when they are too many or cover
    too much of the image to be worth solving apart (the whole image at once)."""
    H, W = hole.shape
    boxes = hole_boxes(hole, LOCAL_MARGIN, multiple)
    if len(boxes) > LOCAL_MAX_REGIONS or sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in boxes) > (
        LOCAL_MAX_FRACTION * H * W
    ):
        return None
    return boxes


def _scene_start(x: torch.Tensor, known: torch.Tensor, rows: list[int], hole: np.ndarray,
                 box: tuple[int, int, int, int], exclude: np.ndarray | None = None,
                 lines: bool = True, seeds: Sequence[int] | None = None) -> torch.Tensor | None:
    """The exemplar start (:func:`exemplar_fill`) of images ``rows`` of ``x`` for the
    sampler's crop ``box``, its patches drawn from a wider crop: the holes' box in ``box``
    grown by :data:`SCENE_CONTEXT` times its larger side (at least :data:`LOCAL_MARGIN`).
    ``hole``: the image's holes (``H x W`` bool, in any image or channel); ``exclude``: the
    image's pixels not to copy from; ``lines``: continue straight edges first; ``seeds``: each
    image's seed of PatchMatch's search (0 for all when None)."""
    y0, y1, x0, x1 = box
    H, W = hole.shape
    ys, xs = np.nonzero(hole[y0:y1, x0:x1])
    if ys.size == 0:
        return None
    m = max(LOCAL_MARGIN, int(SCENE_CONTEXT * max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)))
    cy0, cy1 = max(0, min(y0, y0 + ys.min() - m)), min(H, max(y1, y0 + ys.max() + 1 + m))
    cx0, cx1 = max(0, min(x0, x0 + xs.min() - m)), min(W, max(x1, x0 + xs.max() + 1 + m))
    kc = known[..., cy0:cy1, cx0:cx1]
    f = exemplar_fill(x[rows, :, cy0:cy1, cx0:cx1], kc[rows] if kc.ndim == 4 else kc,
                      seed=0 if seeds is None else [seeds[i] for i in rows],
                      exclude=None if exclude is None else exclude[cy0:cy1, cx0:cx1], lines=lines)
    return None if f is None else f[..., y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]


# -- classical tools (restore eval --baselines) ------------------------------------------------
def _cv2_inpaint(case: Case, flag: str) -> torch.Tensor:
    import cv2

    img = (np01(case.y) * 255).round().astype(np.uint8)
    hole = (~case.known[0]).numpy().astype(np.uint8)
    return from_np(cv2.inpaint(img, hole, 3, getattr(cv2, flag)))


def has_patchmatch() -> bool:
    """Whether the pypatchmatch package (the scene fill's PatchMatch) is installed."""
    return importlib.util.find_spec("patchmatch") is not None


def _patchmatch(case: Case) -> torch.Tensor:
    """PatchMatch fill (Barnes et al. 2009, multiscale EM as in Content-Aware Fill) by the
    optional ``pypatchmatch`` package (MIT; ``pip install pypatchmatch``): patches of 7x7,
    unguided, seeded, one pass, as the package gives it (:func:`exemplar_fill` with none of
    the scene fill's additions: no pull, no border band, no straight edges, no detail matching)."""
    out = exemplar_fill(case.y, case.known, patch=3, guide_weight=0.0, pull=0.0, band=0.0, lines=False,
                        detail_gain=0.0)
    if out is None:
        raise InputError("the patchmatch baseline needs the pypatchmatch package (pip install \"restore[fill]\")")
    return out


def _biharmonic(case: Case) -> torch.Tensor:
    from skimage.restoration import inpaint_biharmonic

    a = np01(case.y).astype(np.float64)
    hole = (~case.known[0]).numpy()
    return from_np(inpaint_biharmonic(a, hole, channel_axis=-1 if a.ndim == 3 else None).astype(np.float32))


class InpaintTask(Task):
    """Fill the pixels a mask marks; known pixels are kept exactly (denoised with --sigma above 0; a small hole
    drawn tight around an object grows over its rim first, ``mask_dilate``)."""

    name = "inpaint"
    per_image = frozenset({"mask", "known"})
    summary = "fill masked pixels"
    operator = Inpaint
    files = ("mask",)
    seeded = True  # the scene fill's PatchMatch search
    seed_help = "the scene fill (another seed, another fill of a big hole)"
    params = (
        Param("mask", object, None, "H x W hole mask (True / 1 / >= half range = fill); "
                                    "a list: one per image of a batch.", cli=False),
        Param("known", object, None, "(H, W) bool tensor, True = observed (instead of mask).", cli=False),
        Param("mask_dilate", int, None, "Grow the holes by N pixels, 0-256 (an object's edge left outside the mask "
                                        "tints the fill), or auto (the default): "
                                        f"{TIGHT_GROW} for a hole drawn tight around an "
                                        "object (its border follows the object's outline; a small hole, a "
                                        "speck of dust, by half its depth, at least 1), 0 for a loose one; "
                                        "if an outline of the object still shows, grow more (e.g. 6).",
              range=(0, 256), auto=True, metavar="N|auto"),
        Param("invert_mask", bool, False, "The mask (a file; in the API also an array) marks known pixels "
                                          "instead of holes.", switch=True),
        Param("exclude", object, None, "A mask (file; in the API also an H x W array) of pixels the scene "
                                       "fill must not copy from, e.g. other objects or text that turn up "
                                       "in the hole (white = excluded; they are kept as they are).",
              metavar="FILE"),
        Param("lines", bool, True, "Continue straight edges (a table's edge, a horizon) that cross a big hole "
                                   "before the scene fill, so it does not break them (on by default).",
              switch=True),
        Param("mask_source", str, "file", "'alpha': fill the fully transparent pixels of an RGBA image "
                                          "(no MASK argument); the output is opaque.",
              choices=("file", "alpha"), flag="--mask"),
        Param("sigma", float, 0.0, "Noise std of the known pixels, 0-255 units.", range=(0, 255), unit=255.0),
        Param("local", bool, True, "Restore crops around the holes only (False: the whole image).", cli=False),
        Param("start", object, None, "(B, C, H, W) first guess for the holes (default: the scene fill's "
                                     "exemplar start for fill 'scene', else the task's own).", cli=False, scaled=True),
        Param("fill", str, "auto", "'auto': 'scene' for holes over 16 px wide (objects), 'mean' for narrower ones "
                                   "(scratches, text) and scattered pixels; "
                                   "'mean': the posterior mean (best PSNR for scratches and text; large holes come "
                                   "out smooth); 'scene': patches of the photo itself (PatchMatch, by the "
                                   "pypatchmatch package), their low frequencies mixed with smooth fills' "
                                   "(with --steps N refined by the prior); 'sample': a posterior sample.",
              choices=("auto", "mean", "scene", "sample")),
    )
    #: ``fill="scene"``: the exemplar start (:func:`exemplar_fill`, its patches from the hole's
    #: wider context: :data:`SCENE_CONTEXT`) as it is: no steps of the prior. On 32 validation
    #: photos every refinement tried (ddnm from sigma 0.02 x 1 to 0.08 x 4, eta 0.5) bought
    #: +0.02-0.09 dB hole PSNR for +6 to +15 SWD, smoothing the copied texture; the start alone
    #: met both halves of the bar there (benchmarks/results/inpaint_holes.md, fifth round).
    #: ``steps=N`` refines it by ddnm from sigma 0.08 in N evaluations, known pixels enforced
    #: at every step (SDEdit)
    SCENE = Recipe("ddnm", 0, 0.08, sigma_min=0.005, options=(("eta", 0.5),))
    #: the same with noisy known pixels (``sigma`` > 0): the prior runs, for it restores them
    #: too (the earlier scene recipe: 4 evaluations)
    SCENE_NOISY = dataclasses.replace(SCENE, steps=4)
    #: ``fill="sample"``: DDNM+ restarted from 0.5 with eta 0.5, chosen on validation box holes
    #: (hole gradient ratio 0.64 against 0.12 for the mean; benchmarks/results/inpaint_fill.md)
    SAMPLE = Recipe("ddnm", 20, 0.5, sigma_min=0.005, options=(("eta", 0.5),))
    eval_params = (
        Param("mask", str, "random80", "Standard mask (seeded per image).", choices=MASKS),
        Param("masks", str, None, "Folder of mask files matched by stem (white = missing). The hole's scores "
              "compare the fill with the photo's own pixels under the mask: a mask over an object scores the "
              "fill against the object it removes."),
    )
    # log-spaced levels (DPIR's own schedule) beat Karras by +0.14 dB on random 80 %
    # (benchmarks/results/dpir_schedule.md); dpir's extrapolation (momentum 0.5) with the last
    # level at 0.005 adds +0.38 dB on CBSD68 1-12 and +0.32 dB on 13-24 at the same 20
    # evaluations (benchmarks/results/dpir_momentum.md)
    sampler, steps, sigma_max, spacing, sigma_min, options = "dpir", 20, 0.2, "log", 0.005, (("momentum", 0.5),)
    default_note = (f"for holes up to {2 * SCENE_RADIUS} px wide; wider ones get the scene fill: PatchMatch, "
                    "no evaluations, where pypatchmatch is installed")
    helper_args = (("mask", None),)  # or known=, or mask_source="alpha"
    helper_doc = """Fill the pixels ``mask`` marks; the other pixels are kept exactly (a float64 image's to
    float32's precision, about 1e-8: the work is done in float32), save where a small hole is drawn
    tight around an object: such a hole grows by up to 3 px, over the object's rim, and is filled
    so (``mask_dilate="auto"``, the default; ``mask_dilate=0`` keeps the mask as drawn, and
    ``known=`` is never grown). An RGBA image's pixels the mask marks become opaque; those a hole
    grew over keep their alpha.

    ``mask``: ``H x W``, True / 1 / values at half the range or more (128 of 255) = pixels to fill
    (or ``known=``, True = observed; or, for an RGBA image, ``mask_source="alpha"``: its
    transparent pixels).

    {params}

    Examples
    --------
    >>> import numpy as np, restore
    >>> img = np.full((32, 32, 3), 200, np.uint8)
    >>> hole = np.zeros((32, 32), bool); hole[8:16, 8:16] = True
    >>> out = restore.inpaint(img, hole, steps=4)
    >>> bool((out[~hole] == img[~hole]).all())
    True
    """
    #: restore eval's method when no --sampler is given: the recipe the command line uses for
    #: each mask (fill auto), not one sampler for all
    eval_method = DEFAULT_METHOD
    baselines = {
        "opencv-telea": lambda c: _cv2_inpaint(c, "INPAINT_TELEA"),
        "opencv-ns": lambda c: _cv2_inpaint(c, "INPAINT_NS"),
        "skimage-biharmonic": _biharmonic,
        # the optional pypatchmatch package (pip install pypatchmatch): listed where installed
        **({"patchmatch": _patchmatch} if has_patchmatch() else {}),
    }
    missing_baselines = {} if has_patchmatch() else {"patchmatch": 'pip install "restore[fill]"'}

    def fill_of(self, p) -> str:
        """The fill ``p`` asks for, ``auto`` resolved by the holes' geometry: ``scene`` where
        the largest inscribed disc's radius is over :data:`SCENE_RADIUS` (beyond what the
        mean continues), the known pixels hold whole patches to copy (:func:`has_sources`)
        and the pypatchmatch package is installed; ``mean`` otherwise (scratches, text,
        scattered pixels). The radius is the holes' as drawn (``p["drawn"]``, the known pixels
        before a tight hole grew): the growth takes in an object's edge, not more to invent
        (thin text drawn on a photo, its mask grown past 16 px, got the scene fill: a balloon's
        top pasted into the sky between its letters)."""
        f = p.get("fill") or "auto"
        if f == "scene" and not has_patchmatch():
            raise InputError("--fill scene needs the pypatchmatch package (pip install \"restore[fill]\"; it has "
                             "wheels for Linux x86_64, macOS arm64 and Windows x86_64)")
        if f != "auto":
            return f
        k = p.get("known")
        if k is None or not has_patchmatch():
            return "mean"
        H, W = k.shape[-2:]

        def hole_of(m):
            return (~torch.as_tensor(m).cpu().bool().reshape(-1, H, W).all(0)).numpy()

        hole = hole_of(k)
        drawn = hole if p.get("drawn") is None else hole_of(p["drawn"])
        return "scene" if inscribed_radius(drawn) > SCENE_RADIUS and has_sources(hole) else "mean"

    def reported(self, p):
        return {**p, "fill": self.fill_of(p)}

    def recipe(self, p):
        f = self.fill_of(p)
        if f == "sample":
            return self.SAMPLE
        if f == "scene":
            return self.SCENE_NOISY if p.get("sigma") else self.SCENE
        return super().recipe(p)

    def check(self, x, p):
        q = super().check(x, p)
        H, W = x.shape[-2:]
        if q["mask"] is not None and q["known"] is not None:
            raise InputError("give mask (holes) or known (observed pixels), not both")
        B = x.shape[0]
        inv = q.get("invert_mask")  # an array's (the command line inverts a mask file as it reads it)
        if inv and q["mask"] is None:
            raise InputError("invert_mask inverts mask, not known (pass the known pixels as they are)")
        scene_only = _scene_only_option(q)
        if scene_only:  # before the exclude file is read
            raise InputError(scene_only)
        if q["mask"] is not None:
            q["known"] = _per_image(q.pop("mask"), B, lambda m: known_from_mask(_marked(m, "mask", True) if inv else m,
                                                                               (H, W), q["mask_dilate"] or 0), (H, W))
            if q["mask_dilate"] is None:  # auto: tight holes grow (the photo shows what the mask covers)
                q["mask_dilate"] = "auto"
                drawn = q["known"]
                q["known"], q["holes_grown"] = _grow_tight(x, q["known"])
                if q["known"] is not drawn:  # the fill is chosen by the holes as drawn (fill_of)
                    q["drawn"] = drawn
        elif q["known"] is None:
            raise InputError("inpainting needs a mask (True / >= half range = pixels to fill)")
        else:
            def known_of(k):
                known = torch.as_tensor(k).bool()
                if known.ndim >= 3 and known.reshape(-1, H, W).shape[0] > 1:  # a torch traceback further on
                    raise InputError(f"known must be H x W, one value per pixel (per-channel known pixels are not "
                                     f"supported), got shape {tuple(known.shape)}")
                if q["mask_dilate"]:
                    hole = ~known.cpu().numpy().reshape(-1, H, W).all(0)
                    known = torch.from_numpy(~dilate_hole(hole, q["mask_dilate"]))
                return known

            q["known"] = _per_image(q["known"], B, known_of, (H, W))
            q["mask_dilate"] = q["mask_dilate"] or 0  # known pixels are observed exactly: as given
        for k in ("mask", "mask_source", "invert_mask"):  # consumed (by load() on the command line)
            q.pop(k, None)
        if q.get("exclude") is not None:
            q["exclude"] = _exclude_of(q["exclude"], (H, W))
            k = q["known"].reshape(-1, H, W).all(0).numpy()
            if not (k & ~q["exclude"]).any():
                raise InputError("exclude covers every known pixel: nothing is left to copy from")
            if not (k & q["exclude"]).any():  # e.g. the hole's own mask given again
                raise InputError("exclude marks no known pixel, only the hole: it would exclude nothing (mark the "
                                 "objects the fill must not copy from)")
        return q

    def check_usage(self, p):
        scene_only = _scene_only_option(p)  # refused before any image is read
        if scene_only:
            raise UsageError(scene_only)

    def option_files(self, p):
        ex = p.get("exclude")
        return {"exclude": Path(ex)} if isinstance(ex, (str, os.PathLike)) else {}

    def regions(self, x, p, multiple):
        """Crops around the holes (:func:`hole_boxes`, :data:`LOCAL_MARGIN` of context), each
        restored on its own; only hole pixels are pasted back. ``None`` (the whole image at
        once) when the known pixels are noisy (``sigma`` > 0: they are restored too), or when
        the crops would cover most of the image or be too many (scattered holes)."""
        known = p["known"].to("cpu")
        H, W = x.shape[-2:]
        if known.ndim == 4 and known.shape[0] > 1 and not bool((known == known[:1]).all()):
            return self._each_image(x, p, known, multiple)
        if p.get("sigma") or p.get("local") is False:
            return None
        k = known.reshape(-1, H, W).all(0)  # known in every image and channel
        hole = (~k).numpy()
        parts = self._fill_parts(hole, p)
        if parts is not None:
            return self._parted_regions(x, p, known, hole, parts, multiple)
        boxes = _local_boxes(hole, multiple)
        if boxes is None:
            return None
        out = []
        drawn = p.get("drawn")
        for y0, y1, x0, x1 in boxes:
            kc = known[..., y0:y1, x0:x1]
            dc = None if drawn is None else drawn.to("cpu")[..., y0:y1, x0:x1]
            rows = list(range(x.shape[0]))
            if kc.ndim == 4:  # one mask per image: the images with a hole in this crop
                rows = [i for i in rows if not bool(kc[i].all())]
                kc = kc[rows]
                dc = None if dc is None else dc[rows] if dc.ndim == 4 else dc
            fill = self.fill_of({"known": kc, "drawn": dc, "fill": p.get("fill", "auto")})  # auto: by this crop's holes
            params = {"known": kc, "sigma": 0.0, "fill": fill, "local": False}
            if fill == "scene":
                params["start"] = _scene_start(x, known, rows, hole, (y0, y1, x0, x1), p.get("exclude"),
                                               p.get("lines", True), p.get("seeds"))
            out.append(((y0, y1, x0, x1), params, ~kc, rows))  # ~kc: over the batch and channels
        return out

    def _each_image(self, x, p, known, multiple) -> list:
        """Regions for a batch whose images have holes of their own: each image's as a run on
        it alone would make them (its fill chosen by its own holes, its own seed), in turn, so
        that its result does not depend on its batch-mates (the holes of all the images together
        chose the fill: a stroke crossing another image's got the scene fill in a batch). An
        image that a run on it alone restores at once (scattered holes; noisy known pixels,
        ``sigma`` > 0; ``local=False``) is one region, the whole image, all of it taken."""
        B, H, W = x.shape[0], *x.shape[-2:]
        drawn, seeds = p.get("drawn"), p.get("seeds")
        out = []
        for i in range(B):
            pi = {**p, "known": known[i : i + 1], "seeds": None if seeds is None else seeds[i : i + 1]}
            if drawn is not None and drawn.ndim == 4 and drawn.shape[0] == B:
                pi["drawn"] = drawn[i : i + 1]
            if bool(pi["known"].all()) and not p.get("sigma"):
                continue  # no hole in this image, and its known pixels as they are
            mine = self.regions(x[i : i + 1], pi, multiple)
            if mine is None:  # this image at once, as a run on it alone restores it (its build makes any scene fill)
                params = {"known": pi["known"], "sigma": p.get("sigma") or 0.0, "fill": self.fill_of(pi),
                          "local": False, "lines": p.get("lines", True)}
                if p.get("exclude") is not None:
                    params["exclude"] = p["exclude"]
                mine = [((0, H, 0, W), params, torch.ones((1, 1, H, W), dtype=torch.bool), [0])]
            out += [(box, params, take, [i]) for box, params, take, _ in mine]
        return out

    def _fill_parts(self, hole: np.ndarray, p: dict) -> list[tuple[str, np.ndarray]] | None:
        """``fill="auto"`` over holes of both kinds: ``[("scene", the wide ones), ("mean", the
        narrow ones)]``, each hole (connected component) by its own inscribed radius (as
        :meth:`fill_of` judges a crop's); None where one fill serves all (one kind, a fill
        given, no pypatchmatch, no whole patches to copy). Without it, holes that shared a crop,
        or an image mostly in crops, got one fill: a scratch beside an object the scene's."""
        import cv2

        if (p.get("fill") or "auto") != "auto" or not has_patchmatch():
            return None
        n, lab = cv2.connectedComponents(hole.astype(np.uint8), connectivity=8)
        if n <= 2:
            return None
        drawn = hole
        if p.get("drawn") is not None:  # each hole judged by its depth as drawn (fill_of)
            H, W = hole.shape
            drawn = hole & ~p["drawn"].to("cpu").reshape(-1, H, W).all(0).numpy()
        top = np.zeros(n, np.float32)
        np.maximum.at(top, lab.ravel(), hole_depth(drawn, outside_known=True).ravel())
        wide = (top > SCENE_RADIUS)[lab] & hole
        if not wide.any() or wide.sum() == hole.sum() or not has_sources(hole):
            return None
        return [("scene", wide), ("mean", hole & ~wide)]

    def _parted_regions(self, x, p, known, hole, parts, multiple) -> list:
        """Regions for :meth:`_fill_parts`: the scene fill's crops first (every hole unknown
        there, so a scratch is no source; only the wide holes taken), then the mean's, in which
        only the narrow holes are unknown and the wide ones hold the scene's fill (regions run
        in order, each on the image as the ones before left it)."""
        H, W = hole.shape
        out = []
        for fill, part in parts:
            boxes = _local_boxes(part, multiple) or [(0, H, 0, W)]
            for y0, y1, x0, x1 in boxes:
                kc = known[..., y0:y1, x0:x1]
                pc = torch.from_numpy(part[y0:y1, x0:x1])
                take = ~kc & pc
                run_known = kc if fill == "scene" else kc | ~pc
                rows = list(range(x.shape[0]))
                if kc.ndim == 4:  # one mask per image: the images with a hole of this part in this crop
                    rows = [i for i in rows if bool(take[i].any())]
                    take, run_known = take[rows], run_known[rows]
                if not rows or not bool(take.any()):
                    continue
                params = {"known": run_known, "sigma": 0.0, "fill": fill, "local": False}
                if fill == "scene":
                    params["start"] = _scene_start(x, known, rows, hole, (y0, y1, x0, x1), p.get("exclude"),
                                                   p.get("lines", True), p.get("seeds"))
                out.append(((y0, y1, x0, x1), params, take, rows))
        return out

    def build(self, x, p):
        start = p.get("start")
        if start is not None:
            start = torch.as_tensor(start).to(x.device, torch.float32)
            if start.shape[-2:] != x.shape[-2:]:
                raise InputError(f"start is {tuple(start.shape[-2:])}, the image {tuple(x.shape[-2:])}")
        elif self.fill_of(p) == "scene":
            start = exemplar_fill(x, p["known"], seed=p.get("seeds") or 0, exclude=p.get("exclude"),
                                  lines=p.get("lines", True))
        op = Inpaint(p["known"].to(x.device), tuple(x.shape[1:]), p.get("sigma") or 0.0, start=start)
        return op, op.A(x), False

    def cli_files(self, p):
        return 0 if p.get("mask_source") == "alpha" else 1

    def cli_check(self, files, p):
        if p.get("mask_source") == "alpha" and files.get("mask") is not None:
            raise UsageError("give either a MASK file or --mask alpha, not both")
        if p.get("mask_source", "file") == "file" and files.get("mask") is None:
            raise UsageError("missing MASK (or use --mask alpha for an RGBA image)")

    def with_alpha(self, alpha, p):
        """As :meth:`load` does for a file: ``mask_source="alpha"`` fills the fully transparent
        pixels (the output opaque); otherwise the pixels the mask fills become opaque."""
        src, invert = p.get("mask_source") or "file", bool(p.get("invert_mask"))
        if src == "alpha":
            if alpha is None:
                raise InputError("mask_source='alpha' needs an RGBA image (an H x W x 4 numpy array)")
            if p.get("mask") is not None or p.get("known") is not None:
                raise InputError("give mask (or known) or mask_source='alpha', not both")
            p = _transparent_holes(alpha, invert, {**p, "mask_source": "file", "invert_mask": False},
                                   "mask_source='alpha'", "invert_mask")
            return p, np.full_like(alpha, opaque_value(alpha.dtype))
        m, k = p.get("mask"), p.get("known")
        if alpha is None or isinstance(m, (list, tuple)) or isinstance(k, (list, tuple)) or (m is None and k is None):
            return p, alpha  # the errors (a list for one image, no mask) are check()'s to give
        hole = _marked(m, "mask", invert) if m is not None else ~_marked(k, "known")
        if hole.shape != alpha.shape:
            return p, alpha  # check() says the sizes differ
        alpha = alpha.copy()  # the filled pixels become opaque: a hole left transparent hides its fill
        alpha[hole] = opaque_value(alpha.dtype)
        return p, alpha

    def load(self, image, files, p, max_pixels):
        from ..io import mask_of_image, read_image

        p = dict(p)
        src, invert = p.pop("mask_source", "file"), p.pop("invert_mask", False)
        H, W = image.array.shape[:2]
        where = image.path or "image"
        opaque = opaque_value(image.array.dtype)
        if src == "alpha":
            if not image.has_alpha:
                raise InputError(f"{where}: --mask alpha needs an RGBA image with transparent pixels")
            p = _transparent_holes(image.alpha, invert, p, f"{where}: --mask alpha", "--invert-mask")
            return p, np.full_like(image.alpha, opaque)
        path = files.get("mask")
        if path is None or not Path(path).exists():
            stem = Path(where).stem
            raise InputError(f"{where}: no mask found" + (f" in {Path(path).parent} (expected {stem}.png, another "
                                                          f"image type of that stem, or {stem}_mask.png)"
                                                          if path is not None else ""))
        m = read_image(path, max_pixels=max_pixels)  # read once: checked, then the mask
        c = m.color.reshape(-1, m.color.shape[-1]) if m.color.ndim == 3 else m.color.reshape(-1, 1)
        drawn_in_alpha = m.has_alpha and bool((c == c[0]).all())  # one colour, the strokes in the alpha alone
        why = None if drawn_in_alpha else photo_like(m.color)  # (its hidden colour refused it as a photo)
        if why is not None:
            raise InputError(f"{path}: does not look like a mask: {why}; the command is "
                             "'restore inpaint PHOTO MASK' (were the two swapped?)")
        if image.meta.orientation in (5, 6, 7, 8) and H != W and m.array.shape[:2] == (W, H):
            raise InputError(f"{path}: mask is {H}x{W} but the image is {W}x{H} (width x height); the photo is "
                             "shown turned by its EXIF orientation: draw the mask on the photo as displayed")
        p["mask"] = ~mask_of_image(m, (H, W), invert=invert, name=str(path))
        if not image.has_alpha:
            return p, None
        alpha = image.alpha.copy()  # the filled pixels become opaque: a hole left transparent hides its fill
        alpha[p["mask"]] = opaque
        return p, alpha

    def api_warnings(self, x, p):
        m = p.get("mask")
        if p.get("invert_mask") and m is not None:  # judged as filled: the command line inverts a file as it reads it
            p = {**p, "mask": [_marked(h, "mask", True) for h in m] if isinstance(m, (list, tuple))
                 else _marked(m, "mask", True)}
        return [w.replace("--invert-mask", "invert_mask=True") for w in self.warnings(x, p)]

    def warnings(self, x, p):
        k = p.get("known")
        hole = p.get("mask")
        if hole is None and k is None:
            return []
        holes = hole if isinstance(hole, (list, tuple)) else [hole]
        out = []
        for h in holes:
            marked = None if h is None else hole_from_array(np.asarray(h))  # (read once: a feathered edge's work)
            frac = float(np.mean(marked)) if h is not None else float(1 - torch.as_tensor(k).float().mean())
            if frac > MOSTLY_HOLE:
                pct = f"{frac * 100:.0f}" if frac < 0.995 else f"{math.floor(frac * 1000) / 10:.1f}"  # never "100"
                if p.get("mask_source") == "alpha":  # the holes are the transparent pixels, not a mask's white
                    out.append(f"the opaque pixels (--invert-mask) mark {pct} % of the image to fill; drop "
                               "--invert-mask to fill the transparent ones" if p.get("invert_mask") else
                               f"the transparent pixels mark {pct} % of the image to fill; if they are the pixels "
                               "to keep, pass --invert-mask (the opaque ones are filled)")
                elif p.get("invert_mask"):  # the mask was inverted as asked: the advice is the other way round
                    out.append(f"the mask, inverted by --invert-mask, marks {pct} % of the image to fill; "
                               f"if its white already marks the holes, drop --invert-mask")
                else:
                    out.append(f"the mask marks {pct} % of the image to fill; if its white marks the "
                               f"pixels to keep, pass --invert-mask")
            wide = h is not None and (p.get("fill") or "auto") == "auto" and not has_patchmatch()
            if wide and inscribed_radius(marked) > SCENE_RADIUS:
                out.append("holes over 16 px wide get the posterior mean, a smooth fill: the scene fill (object "
                           "removal) needs the pypatchmatch package (pip install \"restore[fill]\")")
        return out

    def shown(self, x, p):
        k = p["known"].to(x.device)
        return torch.where(k if k.ndim == 4 else k[None], x, torch.ones_like(x))  # holes white

    def degrade(self, name, img, index, mask="random80", masks=None, **_):
        """Holes of a standard kind (seeded by the image index), or the mask file of the
        same stem in the folder ``masks``; the measurement has its holes set to 0."""
        from ..io import READ_EXTS, read_mask, to_tensor

        H, W = img.shape[:2]
        if masks is not None and mask != "random80":  # one of the two was ignored in silence
            raise UsageError(f"--masks reads the holes from files: --mask {mask} does not apply (give one)")
        if masks is not None:
            if not Path(masks).is_dir():
                raise InputError(f"--masks {masks}: not a folder")
            # image files of the stem only (a 101085.json beside 101085.png was taken, by directory order)
            cands = sorted(q for q in Path(masks).iterdir() if q.stem == name and q.suffix.lower() in READ_EXTS)
            if not cands:
                raise InputError(f"{masks}: no mask for {name}")
            if len(cands) > 1:
                raise InputError(f"{masks}: {len(cands)} masks for {name} ({', '.join(q.name for q in cands)}): "
                                 "keep one")
            known = read_mask(cands[0], (H, W))
            frac = 1 - known.mean()
            if frac > MOSTLY_HOLE:  # as restore inpaint warns: probably white = to keep
                warnings.warn(f"{cands[0]}: the mask marks {frac * 100:.0f} % of {name} as holes; "
                              "white marks the pixels to fill (an inverted mask?)")
        else:
            known = ~make_mask(mask, H, W, index)
        gt, kt = to_tensor(img), torch.from_numpy(known)[None]
        return Case(name, gt, gt * kt, self.name, {"mask": mask if masks is None else str(masks)},
                    {"known": kt}, known=kt)

    def score(self, case, out):
        """PSNR / SSIM, and in the hole: PSNR, SSIM (scikit-image's SSIM map, averaged over the
        hole's pixels; it was the SSIM of the hole's bounding box, the whole image for scattered
        holes), the sliced Wasserstein distance of its Laplacian patches, its gradient ratio and
        the seam along its border (:mod:`restore.metrics`; the last three do not reward blur)."""
        from ..metrics import gradient_ratio, seam, ssim, swd

        r = super().score(case, out)
        o = out.detach().float().cpu().clamp(0, 1)
        hole = ~case.known[0]
        r["psnr_hole"] = psnr_where(o, case.gt, hole)
        s = ssim(o, case.gt, where=hole)
        if math.isfinite(s):  # (a hole only along the image's border has no whole window)
            r["ssim_hole"] = s
        r["swd_hole"] = swd(o, case.gt, hole)
        r["grad_ratio"] = gradient_ratio(o, case.gt, hole)
        r["seam"] = seam(o, case.gt, hole)
        return r

    def describe(self, p):
        return p.get("masks") or p.get("mask", "")

