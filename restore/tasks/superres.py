"""Super-resolution: ``y = (A_h X A_w^T) + n`` per channel, a separable downsampling.

``bicubic`` is the benchmark convention: antialiased bicubic (Keys, a = -0.5) with the
kernel stretched by the scale, taps outside the image dropped and the rest renormalised,
exactly as Pillow's ``Image.resize(..., BICUBIC)`` (which matches MATLAB ``imresize`` on the
published tables). ``box`` is the average over ``scale x scale`` blocks. The pseudo-inverse
and DDRM's spectral view come from the SVD of the two 1-D matrices (Kawar et al. 2022,
appendix: separable kernels), so nothing of size ``(HW)^2`` is ever formed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..errors import InputError
from .base import Case, Operator, Param, Task, colour_counts, from_np
from .dejpeg import NO_FILE_TABLES, RESAVED_SOURCE, JpegInput, jpeg_params

__all__ = ["KERNELS", "SCALES", "SuperResolve", "SuperResolveTask", "resize_matrix"]

SCALES = (2, 3, 4, 8)
KERNELS = ("bicubic", "box", "nearest")
#: A JPEG input (a photo of unknown origin): the kernel assumed by default and the measurement
#: noise, as a multiple of the tables' quantisation RMS, chosen on the validation split
#: (benchmarks/sr_jpeg.py, benchmarks/results/dejpeg.md): 0.5 lies within 0.05 dB of the best
#: factor at x2 (quality 10 / 30 / 50 / 80) and x4 (30 / 80), where 1.0, chosen first at quality 80
#: alone, lost 0.5-0.9 dB at quality 50 and under, below bicubic
JPEG_KERNEL = "box"
JPEG_NOISE = 0.5


#: A drawn image (text, line art, a chart, a slide: rendered at its own resolution, each pixel the
#: area of the shapes it covers) takes the box kernel by default, where bicubic drew ringing halos
#: beside its strokes: one whose DRAWN_COLOURS most frequent colours (DRAWN_GREYS grey levels for a
#: grey image: a dark grey photo's 8 most frequent levels covered 87 %) cover DRAWN_SHARE of its
#: pixels or more (benchmarks/sr_drawn.py: photos, as they are or shrunk, and drawings)
DRAWN_COLOURS = 8
DRAWN_GREYS = 3
DRAWN_SHARE = 0.9  # (0.8 at first: drawings shrunk with bicubic, a thumbnail's, read 0.58-0.88 and lost 0.6-5.5 dB)


#: A drawn image of at most PIXEL_ART_COLOURS colours may be pixel art (a sprite, an icon: no
#: antialiasing), which the box kernel's sampler rounded into blobs (a trial's 32x32 sprite): its
#: note offers ``--kernel nearest``. Not chosen by itself: 3 of 12 area-shrunk bar charts had 15-43
#: colours, and pixel for pixel they lost 4.7 dB to the box kernel (benchmarks/sr_drawn.py psnr)
PIXEL_ART_COLOURS = 64


def drawn_share(a, visible=None) -> float:
    """The share of an image's pixels that its :data:`DRAWN_COLOURS` most frequent colours
    (:data:`DRAWN_GREYS` levels of a grey one, RGB with equal channels too) cover (``a``:
    ``H x W (x C)`` uint8 or uint16, or a ``(1, C, H, W)`` / ``(C, H, W)`` tensor in [0, 1]);
    only the ``visible`` pixels where given (a trial's photo cut-out, its transparent part
    filled, read as drawn); at most about a million pixels are counted (an even grid)."""
    return _top_share(*colour_counts(a, visible))


def _top_share(counts: np.ndarray, channels: int) -> float:
    """:func:`drawn_share` of :func:`~restore.tasks.base.colour_counts`' counts."""
    k = DRAWN_COLOURS if channels > 1 else DRAWN_GREYS
    return float(np.sort(counts)[-k:].sum() / counts.sum()) if counts.sum() else 0.0


def _cubic(x: float, a: float = -0.5) -> float:
    x = abs(x)
    if x < 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


@lru_cache(maxsize=64)
def _resize_matrix_cached(n_in: int, scale: int, kernel: str) -> torch.Tensor:
    n_out = n_in // scale
    M = torch.zeros(n_out, n_in, dtype=torch.float64)
    if kernel in ("box", "nearest"):  # (nearest: no sampler runs; its start, box's pseudo-inverse, repeats pixels)
        for i in range(n_out):
            M[i, i * scale : (i + 1) * scale] = 1.0 / scale
        return M
    support = 2.0 * scale
    for i in range(n_out):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n_in)
        w = [_cubic((j - center + 0.5) / scale) for j in range(lo, hi)]
        tot = sum(w)
        for j, wj in zip(range(lo, hi), w):
            M[i, j] = wj / tot
    return M


def resize_matrix(n_in: int, scale: int, kernel: str = "bicubic") -> torch.Tensor:
    """The ``(n_in // scale, n_in)`` 1-D downsampling matrix (float64)."""
    if kernel not in KERNELS:
        raise InputError(f"kernel must be one of {', '.join(KERNELS)}, got '{kernel}'")
    return _resize_matrix_cached(int(n_in), int(scale), kernel).clone()


class _Separable:
    """SVD of one 1-D matrix ``M = U diag(s) V^T`` (``M`` is ``m x n``, ``m <= n``)."""

    def __init__(self, M: torch.Tensor) -> None:
        U, s, Vh = torch.linalg.svd(M, full_matrices=True)
        self.M = M
        self.U, self.s, self.V = U, s, Vh.T  # V: n x n
        self.m, self.n = M.shape


class SuperResolve(Operator):
    """Downsampling by an integer ``scale`` with a ``bicubic`` or ``box`` kernel (``nearest``:
    box's, for pixel art, where no sampler runs and the start, each pixel repeated, is the answer).

    Parameters
    ----------
    x_shape : tuple
        ``(C, H, W)`` of the high-resolution image; ``H`` and ``W`` must be multiples of
        ``scale`` (the LR image is ``H / scale x W / scale``).
    scale : int
        2, 3, 4 or 8.
    kernel : {"bicubic", "box", "nearest"}
    sigma_y : float
        Noise on the low-resolution measurement.
    """

    task = "sr"

    def __init__(self, x_shape, scale: int = 4, kernel: str = "bicubic", sigma_y: float = 0.0) -> None:
        super().__init__(x_shape, sigma_y)
        if scale not in SCALES:
            raise InputError(f"scale {scale} is not supported (choose from {', '.join(map(str, SCALES))})")
        if kernel not in KERNELS:
            raise InputError(f"kernel must be one of {', '.join(KERNELS)}, got '{kernel}'")
        _, H, W = self.x_shape
        if H % scale or W % scale:
            raise InputError(f"image size {W}x{H} is not a multiple of the scale {scale}")
        self.scale, self.kernel = int(scale), kernel
        self.h = _Separable(resize_matrix(H, scale, kernel))
        self.w = _Separable(resize_matrix(W, scale, kernel))
        self._cache: dict = {}

    def _mats(self, like: torch.Tensor):
        key = (like.device, like.dtype)
        if key not in self._cache:
            f = lambda t: t.to(device=like.device, dtype=like.dtype)
            h, w = self.h, self.w
            sing = torch.zeros(h.n, w.n, dtype=torch.float64)
            sing[: h.m, : w.m] = torch.outer(h.s, w.s)
            self._cache[key] = {
                "Mh": f(h.M), "Mw": f(w.M), "Uh": f(h.U), "Uw": f(w.U), "Vh": f(h.V), "Vw": f(w.V), "s": f(sing)
            }
        return self._cache[key]

    @property
    def y_shape(self) -> tuple[int, int, int]:
        C, H, W = self.x_shape
        return (C, H // self.scale, W // self.scale)

    def A(self, x):
        m = self._mats(x)
        return m["Mh"] @ x @ m["Mw"].T

    def A_adjoint(self, y):
        m = self._mats(y)
        return m["Mh"].T @ y @ m["Mw"]

    def Vt(self, x):
        m = self._mats(x)
        return m["Vh"].T @ x @ m["Vw"]

    def V(self, z):
        m = self._mats(z)
        return m["Vh"] @ z @ m["Vw"].T

    def Ut(self, y):
        m = self._mats(y)
        core = m["Uh"].T @ y @ m["Uw"]
        H, W = self.x_shape[1:]
        return torch.nn.functional.pad(core, (0, W - core.shape[-1], 0, H - core.shape[-2]))

    def U(self, z):
        m = self._mats(z)
        h, w = self.y_shape[1:]
        return m["Uh"] @ z[..., :h, :w] @ m["Uw"].T

    def singulars(self, like):
        return self._mats(like)["s"]

    def init(self, y):
        """A start consistent with ``y``: for the bicubic kernel, bicubic upsampling with its
        error in the row space corrected (``up + A_dagger(y - A up)``); for box, the
        pseudo-inverse (the low-resolution pixels repeated).

        The bicubic pseudo-inverse alone (the minimum-norm solution: nothing in the null
        space) rings at the image's edges: on a 200x150 crop a first column 62 levels dark and
        a third 26 bright, which 4 sampler steps or fewer left as a dark frame. With this start,
        on 8 BSDS validation photos x4 (Y PSNR, 4 px shaved): 20 steps 26.893 dB either way,
        4 steps 26.839 against 26.834, the first column's mean error 0.3 against 3.2 levels."""
        if self.kernel != "bicubic":
            return self.A_dagger(y)
        up = torch.nn.functional.interpolate(y, size=tuple(self.x_shape[-2:]), mode="bicubic", align_corners=False)
        return up + self.A_dagger(y - self.A(up))

    def describe(self) -> dict:
        return {**super().describe(), "scale": self.scale, "kernel": self.kernel}



def _pil_up(case: Case, method: str) -> torch.Tensor:
    from PIL import Image

    s, lr = case.params["scale"], case.y_uint8
    return from_np(np.asarray(Image.fromarray(lr).resize((lr.shape[1] * s, lr.shape[0] * s), getattr(Image, method))))


class SuperResolveTask(JpegInput, Task):
    """Upscale a low-resolution image by an integer factor (known degradation)."""

    name = "sr"
    summary = "super-resolve x2/x3/x4/x8"
    operator = SuperResolve
    params = (
        Param("scale", int, 4, "Upscaling factor.", choices=SCALES),
        Param("kernel", str, None, "Degradation the low-resolution image went through (default: bicubic, the "
                                   "benchmarks' convention; for a JPEG, a photo of unknown origin, "
                                   f"{JPEG_KERNEL}, measured: benchmarks/results/dejpeg.md; for a drawn image, box, "
                                   "measured: benchmarks/results/sr_drawn.md). nearest: pixel art, each pixel enlarged "
                                   "to a block, no sampler run (whatever sampler or steps are given).",
              choices=KERNELS),
        Param("sigma", float, 0.0, "Noise std of the low-resolution image, 0-255 units.", range=(0, 255), unit=255.0),
        *jpeg_params("The low-resolution image"),
        Param("visible", object, None, "(H, W) bool, the pixels an alpha channel shows: what the drawn check "
                                       "counts (restore() and the command line give it for a transparent image).",
              cli=False),
    )
    eval_params = (Param("scale", int, 4, "Upscaling factor.", choices=SCALES),)
    # dpir's extrapolation (momentum 0.5) adds +0.04-0.05 dB PSNR-Y on x4
    # (benchmarks/results/dpir_momentum.md); Karras levels from 0.2; 8 evaluations, 2.5x faster than
    # 20 within 0.05 dB of it at every scale, and better on JPEG inputs (benchmarks/results/sr_steps.md)
    sampler, steps, sigma_max, options = "dpir", 8, 0.2, (("momentum", 0.5),)
    baselines = {"bicubic": lambda c: _pil_up(c, "BICUBIC"), "lanczos": lambda c: _pil_up(c, "LANCZOS")}
    helper_args = (("scale", 4),)
    helper_doc = """Upscale a low-resolution image by ``scale`` (2, 3, 4 or 8; bicubic degradation).

    ``kernel`` ("bicubic" or "box"), ``sigma`` (measurement noise, [0, 1] units) and, for a
    JPEG, ``jpeg_quality`` or ``tables`` (its quantisation counts as measurement noise, the
    kernel defaults to box) are taken too.

    {params}

    Examples
    --------
    >>> import numpy as np, restore
    >>> lr = np.full((16, 12), 0.5, np.float32)
    >>> restore.super_resolve(lr, scale=2, steps=4).shape
    (32, 24)
    """

    def out_size(self, h, w, p):
        return h * p["scale"], w * p["scale"]

    def tile_scale(self, p):
        return p["scale"]

    def jpeg_level(self, x, p) -> float:
        """The measurement noise a JPEG input's quantisation stands for (0 when not a JPEG):
        ``JPEG_NOISE`` times the tables' quantisation RMS (:attr:`JpegTables.level`)."""
        t = self.input_jpeg(x, p)
        return 0.0 if t is None else JPEG_NOISE * t.level

    def estimates(self, p):
        """An image's tables read from its pixels (:meth:`JpegInput.settle_jpeg`), or its kernel
        left to it (a drawn image's is box): one image at a time."""
        return self.jpeg_unsettled(p) or p.get("kernel") is None

    def check(self, x, p):
        """Also settles whether a single image is a decoded JPEG (no tables nor
        ``jpeg_quality`` given): its tables estimated from its 8x8 blocks
        (:func:`restore.tasks.dejpeg.estimate_jpeg`), else ``jpeg_quality`` 0 (not a JPEG); and,
        with no kernel given, whether one that is no JPEG is drawn (:func:`drawn_share`): its
        kernel box, ``drawn`` the share."""
        out = super().check(x, p)
        if out.get("kernel") == "nearest":  # no sampler: a JPEG's quantisation is no noise to tell it (its note
            out.pop("tables", None)  # said it was, a trial)
            out["jpeg_quality"] = 0
        self.settle_jpeg(x, out)
        if x.shape[0] == 1 and out.get("kernel") is None and self.input_jpeg(x, out) is None:
            counts, channels = colour_counts(x, out.get("visible"))  # (counted once: the share and the colours)
            share = _top_share(counts, channels)
            if share >= DRAWN_SHARE:  # (its grey levels counted for a grey one: said so, a trial)
                out.update(kernel="box", drawn=round(share, 3), drawn_of="grey levels" if channels == 1 else "colours")
                if len(counts) <= PIXEL_ART_COLOURS:
                    out["colours"] = len(counts)
            else:  # settled: each tile of a large output takes it (a tile of sky alone read as drawn)
                out["kernel"] = "bicubic"
        return out

    def alpha_resize(self, p):
        return "nearest" if p.get("kernel") == "nearest" else "cubic"

    def no_sampler(self, p):
        return ("--kernel nearest runs no sampler (pixel art: each pixel a block)" if p.get("kernel") == "nearest"
                else None)

    def left_as_is(self, op):
        """``kernel="nearest"`` (pixel art): each pixel enlarged to a block, no sampler run."""
        return op.kernel == "nearest" or super().left_as_is(op)

    def settled(self, p):
        """The tables, and the kernel (a drawn image's, or bicubic: each tile takes the image's)."""
        return {**super().settled(p), **({"kernel": p["kernel"]} if p.get("kernel") is not None else {})}

    def settled_note(self, params):
        if not params.get("drawn"):
            return None
        of, n = params.get("drawn_of", "colours"), params.get("colours")
        which = f"its {DRAWN_GREYS if of == 'grey levels' else DRAWN_COLOURS} most frequent {of}"
        few = (f"; only {n} {of if n != 1 else of[:-1]}: if it is pixel art, --kernel nearest enlarges each "
               "pixel to a block" if n else "")
        return (f"drawn (text, line art, a chart: {which} cover {params['drawn']:.0%} of it): the kernel box, "
                f"which draws no halos beside its strokes (--kernel bicubic for a photo's{few})")

    def estimated_note(self, params, sigma, to_try=None):
        m = RESAVED_SOURCE.fullmatch(str(params.get("tables")))
        if m:
            return (f"a JPEG file whose own tables are quality {m[2]}'s, but whose pixels show the blocks of an "
                    f"earlier save at quality {m[1]}: their quantisation taken as noise sigma {sigma * 255:.2f} of "
                    f"255, and the kernel {params.get('kernel', JPEG_KERNEL)} (--jpeg-quality sets the quality; 0 if "
                    "it is not a JPEG)")
        if params.get("tables") == "file":  # (not estimated, but not given either: said, as the kernel it chose)
            return (f"a JPEG file: its own tables' quantisation taken as noise sigma {sigma * 255:.2f} of 255, and the "
                    f"kernel {params.get('kernel', JPEG_KERNEL)}" + (" (a photo of unknown origin; --kernel bicubic "
                    "for a benchmark's)" if params.get("kernel", JPEG_KERNEL) == JPEG_KERNEL else "")
                    + "; --jpeg-quality 0 if it is not a JPEG")
        return (f"{params.get('tables', 'estimated quality')}: {NO_FILE_TABLES} (not a JPEG, or a CMYK one), but "
                f"the image shows a JPEG's 8x8 blocks; their quantisation taken as noise sigma {sigma * 255:.2f} of "
                "255 (--jpeg-quality 0 if it is not a JPEG)")

    def reported(self, p):
        """The kernel as resolved (a JPEG's default differs) and a JPEG input's tables."""
        t = p.get("tables")
        return {**p, "kernel": self.kernel(p), **({"tables": t.source} if t is not None else {})}

    def kernel(self, p) -> str:
        if p.get("kernel") is not None:
            return p["kernel"]
        return JPEG_KERNEL if (p.get("tables") is not None or p.get("jpeg_quality")) else "bicubic"

    def warnings(self, x, p):
        sigma, level = p.get("sigma") or 0.0, self.jpeg_level(x, p)
        if 0 < sigma < level:
            return [f"--sigma {sigma * 255:.3g} is below the noise this JPEG's quantisation stands for "
                    f"({level * 255:.3g}): that is used instead"]
        return []

    def build(self, x, p):
        C, H, W = x.shape[1:]
        s = p["scale"]
        sigma = max(p.get("sigma") or 0.0, self.jpeg_level(x, p))
        t = p.get("tables")
        return SuperResolve((C, H * s, W * s), s, self.kernel(p), sigma), x, bool(  # a file's: not given either
            t is not None and (t.source.startswith("estimated") or t.source == "file"))

    def view(self, a, b, p):
        """PSNR / SSIM on the Y channel (BT.601) with ``scale`` pixels cropped from each border."""
        from ..metrics import rgb_to_y, shave

        s = p["scale"]
        return shave(rgb_to_y(a), s), shave(rgb_to_y(b), s), "-Y"

    def degrade(self, name, img, index, scale=4, **_):
        """Mod-crop to the scale; the LR image by Pillow bicubic on uint8 (MATLAB ``imresize``)."""
        from PIL import Image

        from ..io import to_tensor

        H, W = img.shape[:2]
        H, W = H - H % scale, W - W % scale
        hr = np.ascontiguousarray(img[:H, :W])
        lr = np.asarray(Image.fromarray(hr).resize((W // scale, H // scale), Image.BICUBIC))
        return Case(name, to_tensor(hr), to_tensor(lr), self.name, {"scale": scale},  # (its kernel: this one,
                    {"scale": scale, "kernel": "bicubic"}, y_uint8=lr)  # whatever the image: ppt3 is a slide)

    def describe(self, p):
        return f"x{p['scale']}, PSNR-Y/SSIM-Y"
