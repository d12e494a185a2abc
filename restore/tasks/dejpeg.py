"""JPEG artefact removal: the operator is the file's own compression.

A baseline JPEG stores, for each 8x8 block of each component (Y, and Cb / Cr after their
chroma subsampling), the integers ``k = round(DCT(block) / q)`` for the component's
quantisation table ``q``. Whatever the original was, its DCT coefficients lay in the bins
``[q (k - 1/2), q (k + 1/2)]``: a box in the DCT domain, hence a convex set of images (the
quantisation constraint set, QCS: Zakhor 1992; Yang, Galatsanos & Katsaggelos 1993). The
projection onto it (:meth:`Dejpeg.project`) is the data step of the plug-and-play sampler
(DPIR alternates the prior's denoiser ``D(x, sigma_k)`` with it at decreasing ``sigma_k``).

The colour transform is JFIF's (full-range BT.601, as Pillow / libjpeg encode); the chroma
constraint lives on the subsampled chroma ``A c`` (``A``: the encoder's box average over
``fy x fx`` pixels), and the projection of ``c`` onto ``{c : A c in QCS}`` is
``c + A^T (A A^T)^-1 (P(A c) - A c)`` = ``c`` plus the nearest-neighbour upsampling of the
chroma correction (``A`` has orthogonal rows). The image is padded to the encoder's block
grid (it starts at the top-left) by repeating the last row / column, as libjpeg does.

The prior's denoiser is made for white noise; a JPEG's error is shaped by its tables
(fine low frequencies, coarse high ones, coarser chroma). The operator therefore hands the
sampler :class:`BandDenoiser`, which runs the prior at three levels and takes each band of
the file's block DCT from the level that suits it.

The file's integers ``k`` are recovered from its decoded pixels: ``round(DCT(Y) / q)`` for
luma, and for chroma from the decoder's upsampled planes averaged back over ``fy x fx`` and
deconvolved by the ``[1, 6, 1] / 8`` smoothing that libjpeg's "fancy" (triangular)
upsampling leaves in that average.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..samplers.common import from_pose, to_pose
from .base import Case, Operator, Param, Recipe, Task, colours, from_np

__all__ = ["BandDenoiser", "Dejpeg", "DejpegTask", "JpegTables", "check_tables", "estimate_jpeg", "estimate_quality",
           "file_tables", "jpeg_grid", "jpeg_tables", "mcu_offset", "read_subsampling", "read_tables",
           "standard_tables"]

# Annex K tables of the JPEG standard (natural, row-major order), which libjpeg scales by quality.
_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64).reshape(8, 8)
_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32, dtype=np.float64).reshape(8, 8)


def standard_tables(quality: int) -> tuple[np.ndarray, np.ndarray]:
    """The (luma, chroma) 8x8 tables libjpeg (hence Pillow) writes at ``quality`` 1-100
    (``jpeg_set_quality`` with baseline tables: entries clamped to 1-255)."""
    if not 1 <= int(quality) <= 100:
        raise InputError(f"JPEG quality must be in 1-100, got {quality}")
    q = int(quality)
    scale = 5000 // q if q < 50 else 200 - 2 * q
    return tuple(np.clip(np.floor((t * scale + 50) / 100), 1, 255) for t in (_LUMA, _CHROMA))


@dataclass(frozen=True)
class JpegTables:
    """What the encoder did: a quantisation table per component (Y only for gray) and the
    chroma subsampling factors ``(fy, fx)`` ((1, 1): 4:4:4, (2, 2): 4:2:0)."""

    tables: tuple  # of 8x8 float arrays, one per component
    chroma: tuple[int, int] = (2, 2)
    source: str = "file"  # "file", "quality N", "estimated quality N"
    orientation: int = 1  # the file's EXIF orientation: the image is restored as displayed, the grid is the file's
    #: where the first whole block (MCU: 16 px with 4:2:0) starts, in the file's pixel order: (0, 0) for a
    #: file, otherwise read from the pixels of a decoded JPEG cropped after its decode (:func:`estimate_jpeg`)
    offset: tuple[int, int] = (0, 0)

    def __repr__(self) -> str:  # short: it appears in batch keys and reports
        return f"JpegTables({self.source}, chroma {self.chroma[1]}x{self.chroma[0]})"

    @property
    def level(self) -> float:
        """The RMS of a uniform quantisation error on luma, ``sqrt(mean(q^2) / 12)`` in
        [0, 1] units: the scale of the artefacts (the sampler's levels are set from it)."""
        return float(math.sqrt(np.mean(self.tables[0] ** 2) / 12.0) / 255.0)


def _tables_reported(t) -> dict:
    """What a result reports of JPEG tables ``t`` (None: nothing)."""
    if not isinstance(t, JpegTables):
        return {}
    chroma = {(1, 1): "4:4:4", (1, 2): "4:2:2", (2, 2): "4:2:0"}.get(tuple(t.chroma), f"{t.chroma[1]}x{t.chroma[0]}")
    return {"tables": t.source} | ({"chroma": chroma} if len(t.tables) == 3 else {})


def jpeg_tables(quality: int, channels: int = 3, chroma: tuple[int, int] = (2, 2)) -> JpegTables:
    """Pillow's tables at ``quality`` (its default subsampling for colour is 4:2:0)."""
    lum, chrom = standard_tables(quality)
    return JpegTables((lum,) if channels == 1 else (lum, chrom, chrom), chroma if channels == 3 else (1, 1),
                      f"quality {int(quality)}")


def read_tables(path: str | Path) -> JpegTables | None:
    """The quantisation tables and chroma subsampling of a JPEG file (None if it is not a
    JPEG). Raises :class:`InputError` for a JPEG layout this task cannot model (CMYK)."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(path) as im:
            if im.format != "JPEG":
                return None
            if im.mode not in ("L", "RGB"):  # (CMYK: its planes quantised one by one, as C, M, Y and K)
                raise InputError(f"{path}: a {im.mode} JPEG: dejpeg models gray and YCbCr JPEGs only (--jpeg-quality "
                                 "N takes it for a YCbCr one of quality N: that helps at low quality, +0.9 to +2.5 "
                                 "dB at 10, and costs at high, -1 dB at 95)")
            qt = {int(k): np.asarray(v, dtype=np.float64).reshape(8, 8) for k, v in im.quantization.items()}
            layers = list(getattr(im, "layer", []) or [])
    except InputError:
        raise
    except Exception:  # noqa: BLE001 - not readable as a JPEG: the caller falls back
        return None
    if not layers:
        return None
    if len(layers) == 1:
        return JpegTables((qt[layers[0][3]],), (1, 1))
    hmax, vmax = max(lay[1] for lay in layers), max(lay[2] for lay in layers)
    (_, h1, v1, _), (_, h2, v2, _) = layers[1], layers[2]
    if (h1, v1) != (h2, v2) or layers[0][1:3] != (hmax, vmax) or hmax % h1 or vmax % v1:
        raise InputError(f"{path}: unusual JPEG sampling factors {[lay[1:3] for lay in layers]}")
    return JpegTables(tuple(qt[lay[3]] for lay in layers), (vmax // v1, hmax // h1))


#: a JPEG file whose pixels show blocks over this many times as coarse (by the level) as its own
#: tables': saved before at a lower quality (single saves read as their own, 1.0: 106 ImageNet photos)
RESAVED = 1.5


def nearest_quality(t: JpegTables) -> int:
    """The Pillow / libjpeg quality whose luma table is nearest ``t``'s (in log steps)."""
    lum = np.log(np.maximum(t.tables[0], 1))
    return min(range(1, 101), key=lambda q: float(np.abs(np.log(standard_tables(q)[0]) - lum).mean()))


def earlier_quality(x: torch.Tensor, t: JpegTables) -> int | None:
    """The quality of an earlier save whose blocks the pixels ``x`` (one image) of a JPEG file
    show under its own tables ``t``, over :data:`RESAVED` times as coarse (a photo saved again at
    a higher quality); None where they show the file's own, or none."""
    found = estimate_jpeg(x)
    return found[0] if found is not None and jpeg_tables(found[0]).level > RESAVED * t.level else None


def resaved_source(source: str, t: JpegTables) -> str:
    """The source of tables read from an earlier save's blocks, under a file's own tables ``t``."""
    return f"{source} (an earlier save's, under the file's own tables of quality {nearest_quality(t)})"


#: what :func:`resaved_source` writes, read back (the earlier and the file's quality)
RESAVED_SOURCE = re.compile(r"estimated quality (\d+) \(an earlier save's, under the file's own tables of quality "
                            r"(\d+)\)")


def settle_file_tables(x: torch.Tensor, t: JpegTables) -> JpegTables:
    """For sr and deblur (which take a JPEG's quantisation as noise): a file's tables ``t``, or
    the standard tables of an earlier, coarser save its pixels show (:func:`earlier_quality`;
    sr of photos saved at 30 or 50, then at 90 or 95: +0.26 / +0.29 dB PSNR-Y over the file's
    tables on validation crops, as their decodes without the file were read already)."""
    q = earlier_quality(x, t)
    if q is None:
        return t
    e = jpeg_tables(q, len(t.tables))
    return JpegTables(e.tables, e.chroma, resaved_source("estimated " + e.source, t))


def check_tables(t) -> JpegTables | None:
    """The ``tables`` parameter of dejpeg and sr as given: JpegTables or None, else a clear error."""
    if t is not None and not isinstance(t, JpegTables):
        raise InputError("tables must be restore.tasks.dejpeg.JpegTables (read_tables(path) or jpeg_tables(q))")
    return t


def luma_tables(p: dict) -> dict:
    """Parameters whose JPEG ``tables`` are a colour file's, for the grey image its equal channels
    are (``Task.as_grey``): the luma's table alone, on the luma's 8-px grid (a grey JPEG's). Others
    as they are."""
    t = p.get("tables")
    if not isinstance(t, JpegTables) or len(t.tables) != 3:
        return p
    return {**p, "tables": dataclasses.replace(t, tables=t.tables[:1], chroma=(1, 1),
                                               offset=(t.offset[0] % 8, t.offset[1] % 8))}


def file_tables(image) -> JpegTables | None:
    """The tables of a :class:`restore.io.Image` read from a JPEG file (its EXIF orientation
    noted: the grid is the file's), None for another image or one without a path."""
    if image.path is None:
        return None
    t = read_tables(image.path)
    return None if t is None else dataclasses.replace(t, orientation=image.meta.orientation)


#: what the notes say of an image whose quality is read from its pixels (sr and deblur: a CMYK
#: JPEG's too, which dejpeg refuses)
NO_FILE_TABLES = "no JPEG file's tables to read"


def input_tables(image) -> JpegTables | None:
    """:func:`file_tables`, a JPEG layout the quantisation model does not know (CMYK, odd sampling
    factors) taken as an image without its file (its quality then read from its blocks)."""
    try:
        return file_tables(image)
    except InputError:
        return None


def pixel_tables(x: torch.Tensor) -> JpegTables | None:
    """The standard tables a decoded JPEG's pixels show (``x``: one image, ``(1, C, H, W)``;
    :func:`estimate_jpeg`), source "estimated quality N"; None where no JPEG's blocks show (a
    turned decode's transposed tables have the same level)."""
    found = estimate_jpeg(x)
    if found is None:
        return None
    t = jpeg_tables(found[0], 1 if x.shape[1] == 1 else 3)
    return JpegTables(t.tables, t.chroma, "estimated " + t.source)


class JpegInput:
    """For a task whose input may be a decoded JPEG whose quantisation counts as measurement noise
    (sr, deblur; a base class beside :class:`Task`, whose ``load`` and ``settled`` it gives): the
    parameters of :func:`jpeg_params`, settled for each image from its file or its pixels."""

    def as_grey(self, p):
        return luma_tables(p)

    def load(self, image, files, p, max_pixels):
        """A JPEG file's own tables, unless tables or ``jpeg_quality`` are given (a JPEG layout the
        quantisation model does not know, CMYK: as an image without its file)."""
        p = dict(p)
        if p.get("tables") is None and p.get("jpeg_quality") is None:
            p["tables"] = input_tables(image)
        return p, None

    def settled(self, p):
        return {k: p[k] for k in ("tables", "jpeg_quality") if p.get(k) is not None}

    @staticmethod
    def jpeg_unsettled(p: dict) -> bool:
        """Whether :meth:`settle_jpeg` reads the image's pixels (neither tables nor ``jpeg_quality``
        given, or a file's tables: an earlier save's blocks under them?): one image at a time."""
        t = p.get("tables")
        return (t is None and p.get("jpeg_quality") is None) or getattr(t, "source", None) == "file"

    @staticmethod
    def settle_jpeg(x: torch.Tensor, p: dict) -> None:
        """``p``'s tables checked and, for one image, settled in place: a file's, or an earlier,
        coarser save's its pixels show (:func:`settle_file_tables`); else, with no quality given,
        a decode's read from its blocks (:func:`pixel_tables`), or ``jpeg_quality`` 0 (none)."""
        t = check_tables(p.get("tables"))
        if x.shape[0] != 1:
            return
        if t is not None and t.source == "file":
            p["tables"] = settle_file_tables(x, t)
        elif t is None and p.get("jpeg_quality") is None:
            t = pixel_tables(x)
            p.update({"jpeg_quality": 0} if t is None else {"tables": t})

    @staticmethod
    def input_jpeg(x: torch.Tensor, p: dict) -> JpegTables | None:
        """The tables the input was saved with (settled, or Pillow's at ``jpeg_quality``), None
        where it is no JPEG."""
        t = p.get("tables")
        if t is None and p.get("jpeg_quality"):
            t = jpeg_tables(p["jpeg_quality"], 1 if x.shape[1] == 1 else 3)
        return t


def jpeg_params(what: str) -> tuple[Param, Param]:
    """The ``jpeg_quality`` and ``tables`` parameters of a task whose input, ``what``, may be a
    decoded JPEG whose quantisation counts as measurement noise."""
    return (
        Param("jpeg_quality", int, None, f"{what} was saved as JPEG at this quality (Pillow / libjpeg tables): its "
                                         "quantisation error is taken as measurement noise. Omitted, a JPEG input's "
                                         "own tables are read from the file, and another image's are estimated from "
                                         "its 8x8 blocks where it shows them (a JPEG saved again as PNG, cropped or "
                                         "not); given, it replaces them; 0: not a JPEG.", range=(0, 100)),
        Param("tables", object, None, "JpegTables of a JPEG input (restore.tasks.dejpeg.read_tables); read from "
                                      "the file on the command line.", cli=False),
    )


# -- the transforms -------------------------------------------------------------------------------
def _dct_matrix() -> torch.Tensor:
    n = torch.arange(8, dtype=torch.float64)
    D = torch.cos((2 * n[None, :] + 1) * n[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    D[0] /= math.sqrt(2)
    return D


_D = _dct_matrix()


def _blocks(p: torch.Tensor) -> torch.Tensor:
    """``(B, H, W)`` (multiples of 8) -> ``(B, H/8, W/8, 8, 8)``."""
    B, H, W = p.shape
    return p.reshape(B, H // 8, 8, W // 8, 8).transpose(2, 3)


def _unblocks(b: torch.Tensor) -> torch.Tensor:
    B, h, w = b.shape[:3]
    return b.transpose(2, 3).reshape(B, h * 8, w * 8)


def dct8(p: torch.Tensor) -> torch.Tensor:
    """Orthonormal 8x8 block DCT-II (JPEG's) of ``(B, H, W)`` planes -> ``(B, H/8, W/8, 8, 8)``."""
    D = _D.to(p)
    return D @ _blocks(p) @ D.T


def idct8(c: torch.Tensor) -> torch.Tensor:
    D = _D.to(c)
    return _unblocks(D.T @ c @ D)


_RGB2YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168735892, -0.331264108, 0.5],
                         [0.5, -0.418687589, -0.081312411]], dtype=torch.float64)
_YCC2RGB = torch.linalg.inv(_RGB2YCC)


def to_ycc(x: torch.Tensor) -> torch.Tensor:
    """RGB ``(B, 3, H, W)`` in [0, 1] -> JFIF YCbCr, 0-255 units centred on 0 (level shift done)."""
    y = torch.einsum("ij,bjhw->bihw", _RGB2YCC.to(x), x * 255.0)
    return torch.cat([y[:, :1] - 128.0, y[:, 1:]], dim=1)


def from_ycc(y: torch.Tensor) -> torch.Tensor:
    y = torch.cat([y[:, :1] + 128.0, y[:, 1:]], dim=1)
    return torch.einsum("ij,bjhw->bihw", _YCC2RGB.to(y), y) / 255.0


def to_file(t: torch.Tensor, o: int) -> torch.Tensor:
    """An image as displayed (:func:`restore.io.orient` of EXIF orientation ``o``) back in the
    file's pixel order (where the 8x8 grid is)."""
    if o in (2, 3, 4):
        return t.flip({2: (-1,), 3: (-2, -1), 4: (-2,)}[o])
    if o == 5:
        return t.transpose(-2, -1)
    if o == 6:
        return torch.rot90(t, 1, (-2, -1))
    if o == 7:
        return t.flip((-2, -1)).transpose(-2, -1)
    if o == 8:
        return torch.rot90(t, -1, (-2, -1))
    return t


def to_display(t: torch.Tensor, o: int) -> torch.Tensor:
    """The inverse of :func:`to_file`."""
    if o in (2, 3, 4, 5):
        return to_file(t, o)
    if o == 6:
        return torch.rot90(t, -1, (-2, -1))
    if o == 7:
        return t.transpose(-2, -1).flip((-2, -1))
    if o == 8:
        return torch.rot90(t, 1, (-2, -1))
    return t


def _pad(p: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """Repeat the last row / column of ``(B, C, h, w)`` up to ``H x W`` (libjpeg's padding)."""
    h, w = p.shape[-2:]
    if (h, w) == (H, W):
        return p
    return F.pad(p, (0, W - w, 0, H - h), mode="replicate")


def _smooth_inverse(a: torch.Tensor, dim: int, iters: int = 30) -> torch.Tensor:
    """Solve ``S c = a`` along ``dim`` for ``S = [1, 6, 1] / 8`` (edges repeated): the
    average over ``2`` pixels of libjpeg's triangular (fancy) upsampling of ``c``."""
    def S(c):
        n = c.shape[dim]
        lo = torch.cat([c.narrow(dim, 0, 1), c.narrow(dim, 0, n - 1)], dim)
        hi = torch.cat([c.narrow(dim, 1, n - 1), c.narrow(dim, n - 1, 1)], dim)
        return (6 * c + lo + hi) / 8

    c = a.clone()
    for _ in range(iters):  # Richardson: S's eigenvalues lie in [0.5, 1], the error halves each time
        c = c + (a - S(c))
    return c


class Dejpeg(Operator):
    """The quantisation constraint set of one JPEG (its tables, chroma subsampling and
    coefficients) and the projection onto it.

    Parameters
    ----------
    x_shape : tuple
        ``(C, H, W)`` of the image (C = 1: a gray JPEG; 3: YCbCr).
    tables : JpegTables
    decoded : torch.Tensor
        ``(B, C, H, W)`` in [0, 1]: the decoded file, from which the coefficients are read.
    """

    capabilities = frozenset({"prox"})
    task = "dejpeg"

    def __init__(self, x_shape, tables: JpegTables, decoded: torch.Tensor) -> None:
        super().__init__(x_shape, 0.0)
        C, H, W = self.x_shape
        if len(tables.tables) != C or C not in (1, 3):
            raise InputError(f"JPEG tables for {len(tables.tables)} component(s) but the image has {C} channel(s)")
        self.tables = tables
        self.o = int(tables.orientation)
        if self.o in (5, 6, 7, 8):
            H, W = W, H
        self.fy, self.fx = tables.chroma if C == 3 else (1, 1)
        # rows / columns before the first whole block: a cropped decode's partial blocks, completed
        # by repeating its edge as the encoder repeats the far edges
        self.top, self.left = (-tables.offset[0]) % (8 * self.fy), (-tables.offset[1]) % (8 * self.fx)
        self.Hp = -(-(H + self.top) // (8 * self.fy)) * 8 * self.fy
        self.Wp = -(-(W + self.left) // (8 * self.fx)) * 8 * self.fx
        self.k = self._coefficients(decoded.double())  # per component: (B, h, w, 8, 8) integers

    def file_planes(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (display order) as the encoder's full-resolution components: the file's
        pixel order, padded to its block grid, JFIF YCbCr (or level-shifted gray), 0-255."""
        x = to_file(x, self.o)
        if self.top or self.left:
            x = F.pad(x, (self.left, 0, self.top, 0), mode="replicate")
        x = _pad(x, self.Hp, self.Wp)
        return to_ycc(x) if x.shape[1] == 3 else x * 255.0 - 128.0

    def from_planes(self, p: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """The inverse of :meth:`file_planes`, cropped to ``H x W`` as displayed."""
        x = from_ycc(p) if p.shape[1] == 3 else (p + 128.0) / 255.0
        hf, wf = (H, W) if self.o < 5 else (W, H)  # the file's own sides
        return to_display(x[..., self.top : self.top + hf, self.left : self.left + wf], self.o)

    def _pooled(self, c: torch.Tensor) -> torch.Tensor:
        """A chroma plane ``(B, 1, H, W)`` as the encoder codes it: box-averaged over its subsampling."""
        return F.avg_pool2d(c, (self.fy, self.fx))

    # the components as the encoder codes them: Y at full size, chroma box-averaged
    def _planes(self, x: torch.Tensor) -> list[torch.Tensor]:
        p = self.file_planes(x)
        return [p[:, 0]] + [self._pooled(p[:, i : i + 1])[:, 0] for i in range(1, p.shape[1])]

    def _coefficients(self, decoded: torch.Tensor) -> list[torch.Tensor]:
        planes = self._planes(decoded)
        out = []
        for i, (p, q) in enumerate(zip(planes, self.tables.tables)):
            if i and self.fy > 1:
                p = _smooth_inverse(p, -2)
            if i and self.fx > 1:
                p = _smooth_inverse(p, -1)
            out.append(torch.round(dct8(p) / torch.as_tensor(q).to(p)))
        return out

    def _clamp(self, p: torch.Tensor, i: int) -> torch.Tensor:
        q = torch.as_tensor(self.tables.tables[i]).to(p)
        k = self.k[i].to(p)
        return idct8(torch.minimum(torch.maximum(dct8(p), (k - 0.5) * q), (k + 0.5) * q))

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """The image nearest ``x`` (in the YCbCr metric) whose coefficients lie in the file's bins."""
        B, H, W = x.shape[0], *x.shape[-2:]
        if self.k[0].shape[0] not in (1, B):
            raise ValueError(f"{self.k[0].shape[0]} JPEG coefficient sets for a batch of {B}")
        p = self.file_planes(x.double())
        parts = [self._clamp(p[:, 0], 0)[:, None]]
        for i in range(1, p.shape[1]):
            c = p[:, i : i + 1]
            a = self._pooled(c)
            d = self._clamp(a[:, 0], i)[:, None] - a
            parts.append(c + d.repeat_interleave(self.fy, -2).repeat_interleave(self.fx, -1))
        return self.from_planes(torch.cat(parts, 1), H, W).to(x.dtype)

    def prox(self, z, y, rho):
        """The data term is the set's indicator: its proximal step is the projection, at any ``rho``."""
        return self.project(z)

    def A(self, x):
        """The coefficients' bins are the measurement; as an image: the projection of ``x``."""
        return self.project(x)

    def init(self, y):
        return y

    def coefficients(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``round(DCT / q)`` of each component of ``x`` (as the encoder computes them)."""
        return [torch.round(dct8(p) / torch.as_tensor(q).to(p))
                for p, q in zip(self._planes(x.double()), self.tables.tables)]

    def denoiser(self, prior):
        return BandDenoiser(prior, self)

    def describe(self):
        return {**super().describe(), "tables": self.tables.source, "chroma": f"{self.fx}x{self.fy}"}


class BandDenoiser:
    """``D(x, sigma)`` for an image whose error is JPEG's rather than white noise.

    A JPEG's error is shaped by its quantisation table: small where the steps are fine (the
    lowest frequencies), large where they are coarse, and larger in the chroma (coarser
    tables, and subsampled). The prior is made for white noise, so a single level is a
    compromise: it smooths the low frequencies too much or leaves the high ones' blocking
    and ringing. This denoiser runs the prior at three levels and takes each part of its
    answer from the level that suits it, in the file's own 8x8 block DCT: luma frequencies
    whose step is below the table's 30 % quantile from ``D(x, 0.7 sigma)``, the other luma
    frequencies from ``D(x, 1.5 sigma)``, the chroma from ``D(x, 3 sigma)`` (``2 sigma`` for
    a file without chroma subsampling). Three network evaluations per call (two for gray).

    Chosen on the validation split (6 crops, quality 10 / 30, 4:2:0 / 4:4:4 / gray;
    benchmarks/results/dejpeg.md): +1.02 / +1.03 dB over the decode against +0.86 / +0.77 for
    the prior alone at the best single level; the splits and levels are flat around the choice
    (0.5-0.7 x 1.25-1.75, 20-40 %).

    ``pose`` (DPIR's cycling over flips and rotations) is applied around each call of the
    prior, while the bands are split on the file's grid, so it takes ``x`` as displayed
    (``poses_itself``: :func:`restore.samplers.common.denoise`).
    """

    poses_itself = True
    LOW, HIGH, QUANTILE = 0.7, 1.5, 0.3
    CHROMA = {True: 3.0, False: 2.0}  # by chroma subsampling

    def __init__(self, prior, op: Dejpeg) -> None:
        self.prior, self.op = prior, op
        q = torch.as_tensor(op.tables.tables[0], dtype=torch.float64)
        self.coarse = q >= torch.quantile(q.flatten(), self.QUANTILE)  # (8, 8): luma frequencies at HIGH
        self.chroma = self.CHROMA[op.fy * op.fx > 1]

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, pose: int = 0) -> torch.Tensor:
        H, W = x.shape[-2:]
        levels = (self.LOW, self.HIGH) + ((self.chroma,) if x.shape[1] == 3 else ())
        xp = to_pose(x, pose)
        outs = [self.op.file_planes(from_pose(self.prior(xp, sigma * m), pose)) for m in levels]
        fine, coarse = dct8(outs[0][:, 0]), dct8(outs[1][:, 0])
        luma = idct8(torch.where(self.coarse.to(fine.device), coarse, fine))[:, None]
        planes = torch.cat([luma, outs[2][:, 1:]], 1) if x.shape[1] == 3 else luma
        return self.op.from_planes(planes, H, W).to(x.dtype)


# -- quality estimation (an array without its file) ------------------------------------------
def _luma(x: torch.Tensor) -> torch.Tensor:
    """The first image's JPEG luma (``(1, H, W)``, 0-255 centred on 0) of ``(B, C, H, W)`` in [0, 1]."""
    p = x[:1].double()
    return to_ycc(p)[:, 0] if p.shape[1] == 3 else p[:, 0] * 255.0 - 128.0


def _windows(x: torch.Tensor, size: int, offset: tuple[int, int], n: int = 128, step: int = 8) -> torch.Tensor:
    """``size x size`` windows of the first image of ``x`` (``(B, C, H, W)``) at ``offset`` plus
    multiples of ``step``, up to ``n`` rows and ``n`` columns of them evenly spread over the
    image, side by side: ``(1, C, rows * size, cols * size)`` (empty for an image too small)."""
    def starts(o: int, L: int) -> torch.Tensor:
        k = (L - o - size) // step + 1  # windows that fit
        if k <= 0:
            return torch.zeros(0, dtype=torch.long)
        return o + step * torch.linspace(0, k - 1, min(k, n)).round().long().unique()

    ys, xs = starts(offset[0], x.shape[-2]), starts(offset[1], x.shape[-1])
    d = torch.arange(size)
    return x[:1][:, :, (ys[:, None] + d).reshape(-1)][..., (xs[:, None] + d).reshape(-1)]


#: the fewest nonzero AC coefficients a quality is read from (the DC left out: a screenshot's
#: flat fills, a DC each, fitted coarse tables by chance)
MIN_COEFFICIENTS = 48


def _quality_fit(x: torch.Tensor, offset: tuple[int, int]) -> tuple[float, int, bool]:
    """``(distance, quality, transposed)``: :func:`estimate_quality`'s reading, with the luma
    table also tried transposed (a decode turned by 90 degrees: its blocks' frequencies swap),
    and how near the coefficients lie to its lattice (1 when no table fits)."""
    H, W = x.shape[-2] - offset[0], x.shape[-1] - offset[1]
    if W < 8 or H < 8:
        raise InputError(f"the image is {W}x{H}, under 8 px {'wide' if W < 8 else 'high'}: it holds no whole 8x8 "
                         "block to read the JPEG quality from; give it (--jpeg-quality; quality= in the API)")
    w = _windows(x, 8, offset)
    c = torch.round(dct8(_luma(w)).reshape(-1, 64) * 64) / 64
    clipped = _blocks(((w <= 0) | (w >= 1)).any(1)).flatten(-2).any(-1).reshape(-1)  # off the lattice there
    # each block once: a screenshot's flat fills and repeated glyphs would outvote the rest
    c, clean = torch.unique(c, dim=0), torch.unique(c[~clipped], dim=0)

    def strict(qv: torch.Tensor, use: torch.Tensor) -> float | None:
        r = clean[:, use] / qv[use]
        r = r[r.abs() >= 0.5]
        return float(((r - r.round()) ** 2).mean()) if r.numel() >= MIN_COEFFICIENTS else None

    found = []  # per orientation: (the first quality that fits, the best of those in a row, transposed)
    for transposed in (False, True):
        run: dict[int, float] = {}  # the first qualities in a row under which the coefficients sit on the grid
        for qual in range(1, 101):
            q = torch.as_tensor(standard_tables(qual)[0])
            q = (q.T if transposed else q).reshape(64)
            use = (q >= 4) & (torch.arange(64) > 0)  # AC steps well above the decoder's rounding noise
            if not bool(use.any()):
                break
            r = c[:, use] / q[use]
            r = r[r.abs() >= 0.5]  # the coefficients this table keeps (a coarse table rounds the rest to 0)
            if r.numel() < MIN_COEFFICIENTS:
                continue
            # on the lattice or not: the mean squared distance to it (1/12 off it, near 0 on it) of the
            # nearest 80 %, as a block with a clipped pixel (0 or 255: a white sky's edge) lies off it
            d = (r - r.round()) ** 2
            off = float(d.mean())
            if 0.02 <= off < 0.016 + 0.05:  # else the nearest 80 % are surely (not) on it: no sort needed
                d = d[:: max(1, d.numel() // 50000)].sort().values
                off = float(d[: max(1, int(0.8 * d.numel()))].mean())
            if off < 0.02:
                # which of the run fits best: the unclipped blocks' full mean where they are enough (the
                # few large multiples that tell neighbouring tables apart are what the 80 % leave out)
                full = strict(q, use)
                run[qual] = off if full is None else full
            elif run:
                break
        # neighbouring qualities' steps differ by a unit or two, so the few first multiples of the
        # file's steps sit near theirs too: the one the coefficients fit best (a table of half the
        # steps, which fits all of them, lies past the qualities that do not)
        if run:
            best = min(run, key=run.__getitem__)
            found.append((min(run), run[best], best, transposed))
    # the turned tables' multiples sit on a much finer table's too (the other way round): the
    # orientation whose table fits first, the coarser, is the file's; of two as coarse, the nearer
    first = min(found)[0] if found else None
    return min((f[1], f[2], f[3]) for f in found if f[0] == first) if found else (1.0, 100, False)


def estimate_quality(x: torch.Tensor, offset: tuple[int, int] = (0, 0)) -> int:
    """The Pillow / libjpeg quality whose luma table best explains ``x``'s block DCT
    coefficients (``(1, C, H, W)`` in [0, 1]; blocks from row ``offset[0]``, column
    ``offset[1]``; 16,384 of them at most, evenly spread, each block once): of the coarsest
    tables under which the AC coefficients sit near multiples of the steps (the nearest 80 %:
    clipping moves some off), the one they fit best; 100 when none does (not a JPEG's, one saved
    at a quality too high to tell, or too few coefficients to tell)."""
    return _quality_fit(x, offset)[1]


def jpeg_grid(x: torch.Tensor) -> tuple[int, int]:
    """Where a decoded JPEG's 8x8 blocks start in ``x`` (``(1, C, H, W)`` in [0, 1]) when it was
    cropped after decoding: the row and column offsets (0-7) under which most of the blocks'
    high frequencies are zero, as quantisation leaves them (blocks across the file's grid hold
    its edges instead). Read on 4,096 windows at most, evenly spread. Any image gets an
    answer: :func:`estimate_quality` at that offset tells whether blocks are there."""
    w = _windows(x, 16, (0, 0), 64)
    if w.numel() == 0:
        return 0, 0
    w = _luma(w)[0].float().reshape(w.shape[-2] // 16, 16, w.shape[-1] // 16, 16)
    u = torch.arange(8)
    high = ((u[:, None] + u[None, :]) >= 6).reshape(64)
    D = _D.float()

    def zeros(oy: int, ox: int) -> float:
        b = w[:, oy : oy + 8, :, ox : ox + 8].permute(0, 2, 1, 3)
        c = (D @ b @ D.T).reshape(-1, 64)[:, high]
        return float((c.abs() < 0.5).float().mean())

    score = [zeros(oy, ox) for oy in range(8) for ox in range(8)]
    best = max(range(64), key=score.__getitem__)
    return best // 8, best % 8


def _chroma_off_grid(x: torch.Tensor, oy: int, ox: int, tables: JpegTables) -> float:
    """How far the chroma of ``x`` (``(1, 3, H, W)`` in [0, 1]), its MCUs taken to start at row
    ``oy``, column ``ox`` and subsampled as ``tables`` say (the decoder's upsampling undone, as
    :class:`Dejpeg` reads it), lies from the chroma table's lattice: the mean squared distance
    of its coefficients to multiples of the steps (1/12 off the lattice); read on the first
    512 x 512 at most; 1 with too few coefficients to tell."""
    fy, fx = tables.chroma
    q = torch.as_tensor(tables.tables[1]).reshape(64)
    use = q >= 4  # the DC too: a grey scene's chroma has few AC coefficients left
    w = x[:1, :, oy : oy + 512, ox : ox + 512].double()
    H, W = (w.shape[-2] // (8 * fy)) * 8 * fy, (w.shape[-1] // (8 * fx)) * 8 * fx
    if H == 0 or W == 0 or not bool(use.any()):
        return 1.0
    c = F.avg_pool2d(to_ycc(w[..., :H, :W])[:, 1:], (fy, fx))
    c = _smooth_inverse(c, -2) if fy > 1 else c
    c = _smooth_inverse(c, -1) if fx > 1 else c
    r = (dct8(c[0]).reshape(-1, 64) / q.to(c))[:, use]
    r = r[r.abs() >= 0.5]
    return float(((r - r.round()) ** 2).mean()) if r.numel() >= 32 else 1.0


def mcu_offset(x: torch.Tensor, offset: tuple[int, int], tables: JpegTables) -> tuple[int, int]:
    """Where the MCUs (``8 fy x 8 fx`` px: 16 with 4:2:0) of a decoded colour JPEG start in ``x``
    (``(1, 3, H, W)`` in [0, 1]), given where its 8x8 luma blocks do (:func:`jpeg_grid`) and its
    ``tables``: of the luma-block offsets a multiple of 8 apart, the one under which the
    subsampled chroma sits nearest the chroma table's lattice (:func:`_chroma_off_grid`). The
    luma blocks' own offset unless another fits better by a fifth."""
    return offset if x.shape[1] != 3 or tables.chroma == (1, 1) else _mcu_fit(x, offset, tables)[0]


def _mcu_fit(x: torch.Tensor, offset: tuple[int, int], tables: JpegTables) -> tuple[tuple[int, int], float]:
    """:func:`mcu_offset`'s answer and its chroma's distance to the lattice (:func:`_chroma_off_grid`)."""
    fy, fx = tables.chroma
    cands = [(offset[0] + 8 * i, offset[1] + 8 * j) for i in range(fy) for j in range(fx)]
    err = {o: _chroma_off_grid(x, *o, tables) for o in cands}
    best = min(cands, key=err.__getitem__)
    best = best if err[best] < 0.8 * err[cands[0]] else cands[0]
    return best, err[best]


def read_subsampling(x: torch.Tensor, offset: tuple[int, int], tables: JpegTables) -> JpegTables:
    """``tables`` with the chroma subsampling (4:2:0, 4:2:2 or 4:4:4) and the MCUs' offset
    that the chroma of the decoded colour JPEG ``x`` fits (:func:`_chroma_off_grid`): 4:2:0,
    Pillow's default, unless another lies on its lattice (under 0.02) at under half 4:2:0's
    distance (crops of Set14 photos at quality 20-85: the right one 0.0002-0.012, the wrong
    ones 0.006-0.12, at least 7 times the right one's)."""
    best = None
    for chroma in ((2, 2), (1, 2), (1, 1)):
        t = dataclasses.replace(tables, chroma=chroma)
        off, e = _mcu_fit(x, offset, t)
        if best is None or (e < 0.02 and e < 0.5 * best[0]):
            best = (e, dataclasses.replace(t, offset=off))
    return best[1]


#: an image of at most FLAT_COLOURS colours is no decoded JPEG (a lossy JPEG's quantisation leaves
#: intermediate values beside every edge): its edges on the 8-pixel grid are a drawing's, not blocks
FLAT_COLOURS = 8


def estimate_jpeg(x: torch.Tensor) -> tuple[int, tuple[int, int], bool] | None:
    """A decoded JPEG read from its pixels alone (the image saved again as PNG, cropped or
    turned or not): ``(quality, (row, column) offset of its blocks, transposed)``
    (``transposed``: turned by 90 degrees, its tables transposed), or None when ``x`` (``(1, C,
    H, W)`` in [0, 1]) shows no JPEG's blocks or is too small to tell (under 16 px a side)."""
    if min(x.shape[-2:]) < 16:
        return None
    if colours(x) <= FLAT_COLOURS:  # (a 16 px icon, a square on white: read as quality 35)
        return None
    # at the image's corner (uncropped) and where the blocks' high frequencies say: the nearer fit
    fits = [(*_quality_fit(x, off), off) for off in dict.fromkeys([(0, 0), jpeg_grid(x)])]
    d, q, transposed, off = min(fits, key=lambda f: f[0])
    return (q, off, transposed) if q < 100 else None


# -- the task ----------------------------------------------------------------------------------
def _cv2_nlm(case: Case, h: float) -> torch.Tensor:
    import cv2

    n8 = case.y_uint8
    if n8.ndim == 3:
        return from_np(cv2.fastNlMeansDenoisingColored(n8, None, h, h, 7, 21))
    return from_np(cv2.fastNlMeansDenoising(n8, None, h, 7, 21))


def _pocs(case: Case) -> torch.Tensor:
    """A classical deblocking: a Gaussian blur (sigma 1) projected back onto the file's bins."""
    op = Dejpeg(tuple(case.y.shape[1:]), case.run["tables"], case.y)
    t = torch.arange(-3, 4, dtype=case.y.dtype)
    k = torch.exp(-t**2 / 2)
    k = (k / k.sum()).reshape(1, 1, 1, 7)
    C = case.y.shape[1]
    blur = F.pad(case.y, (3, 3, 3, 3), mode="replicate")
    blur = F.conv2d(F.conv2d(blur, k.expand(C, 1, 1, 7), groups=C), k.transpose(-1, -2).expand(C, 1, 7, 1), groups=C)
    return op.project(blur).clamp(0, 1)




class DejpegTask(Task):
    """Remove JPEG blocking and ringing: the result stays consistent with the file (its DCT coefficients in
    the bins the file's quantisation tables define), the prior chooses within them."""

    name = "dejpeg"
    summary = "remove JPEG compression artefacts"
    operator = Dejpeg
    params = (
        Param("tables", object, None, "JpegTables of the file (restore.tasks.dejpeg.read_tables); from the "
                                      "file on the command line.", cli=False),
        Param("quality", int, None, "JPEG quality (Pillow / libjpeg standard tables) the image was saved at "
                                    "(omitted: a JPEG file's own tables are read, or the blocks of an earlier, "
                                    "coarser save they show; another image's quality is estimated from its "
                                    "blocks); given, it replaces a file's tables.", range=(1, 100),
              flag="--jpeg-quality"),
        Param("chroma", str, None, "Chroma subsampling assumed without the file (default 4:2:0, Pillow's; a JPEG "
                                   "file's own is read).",
              choices=("4:2:0", "4:2:2", "4:4:4")),
        Param("strength", float, 1.0, "Multiplies the sampler's levels: below 1 keeps more texture (and "
                                      "artefacts), above 1 smooths more.", range=(0.1, 10)),
    )
    eval_params = (Param("quality", str, "10", "Pillow JPEG quality of the degraded images, 1-100; comma-separated "
                                               "(10,20,30,40): one evaluation each, its --csv / --json / --report "
                                               "named NAME-qualityQ.", many=True),)
    # DPIR (alternate D and the projection), Karras levels from 0.25 to 0.05 times the tables'
    # quantisation RMS, 3 steps: the best of START 0.1-0.8 x END 0.02-0.15 x 3-12 steps on the validation
    # split (more steps or momentum smooth more and score less; benchmarks/dejpeg_defaults.py,
    # benchmarks/results/dejpeg.md), unchanged with the band denoiser (Dejpeg.denoiser: 3 network
    # evaluations per step; +1.02 / +1.03 dB at quality 10 / 30 on the 6 validation crops)
    sampler, steps, spacing, options = "dpir", 3, "karras", ()
    START, END = 0.25, 0.05  # sigma_max, sigma_min as multiples of JpegTables.level
    start_note = f"from {START:g} x the JPEG's quantisation RMS"
    #: (a trial: `restore list` said 3 evaluations where the network ran 9, and dejpeg took 7x denoise's time)
    default_note = "each evaluation runs the prior three times, once per frequency band's level: 9 in all, 6 for grey"
    helper_args = (("quality", None),)
    helper_doc = """Remove JPEG artefacts from a decoded image (array or tensor): give the ``quality`` it
    was saved at (Pillow / libjpeg standard tables; estimated from the pixels when None) or
    the file's own ``tables`` (``restore.tasks.dejpeg.read_tables(path)``, the exact ones).

    {params}

    Examples
    --------
    >>> import numpy as np, restore
    >>> img = np.full((24, 40, 3), 128, np.uint8)
    >>> restore.dejpeg(img, 30, steps=2).shape
    (24, 40, 3)
    """
    baselines = {
        **{f"opencv-nlm@h={h}": (lambda c, h=h: _cv2_nlm(c, h)) for h in (3, 5, 8)},
        "blur+qcs": _pocs,
    }
    given = "decode"

    def tables_for(self, x: torch.Tensor, p: dict) -> JpegTables:
        """The tables given, or Pillow's at ``quality``, or estimated; without a file, where the
        blocks start (a decode cropped later), whether they are turned, and, unless ``chroma``
        is given, the chroma subsampling are read from the pixels."""
        if p.get("tables") is not None:
            return p["tables"]
        q, given = p.get("quality"), p.get("chroma")
        if min(x.shape[-2:]) >= 16:
            found = estimate_jpeg(x)
        else:  # too small to read where the blocks start: at the corner, as an uncropped JPEG's are
            found = (estimate_quality(x) if q is None else q, (0, 0), False)  # (a quality given is not read)
        est, off, turned = found if found is not None else (100, (0, 0), False)
        chroma = {"4:2:0": (2, 2), "4:2:2": (1, 2), "4:4:4": (1, 1)}[given or "4:2:0"]
        t = jpeg_tables(est if q is None else q, x.shape[1], chroma)
        t = dataclasses.replace(t, source=("estimated " if q is None else "") + t.source)
        if found is None and q is None:  # no blocks: the image is left as it is (recipe), nothing to align
            return t
        if turned:  # a decode turned by 90 degrees: its blocks' frequencies, and its subsampling, swap
            t = dataclasses.replace(t, tables=tuple(a.T for a in t.tables), chroma=t.chroma[::-1])
        if found is not None and x.shape[1] == 3 and given is None:
            return read_subsampling(x, off, t)
        return dataclasses.replace(t, offset=mcu_offset(x, off, t))

    def check(self, x, p):
        """Also settles a single image's tables (given, or from ``quality`` or estimated, on
        the grid read from its pixels), so that the recipe's levels follow them."""
        out = super().check(x, p)
        t = check_tables(out.get("tables"))
        if x.shape[1] not in (1, 3):
            raise InputError(f"dejpeg takes gray or RGB images, got {x.shape[1]} channels")
        if t is not None and len(t.tables) != x.shape[1]:
            raise InputError(f"JPEG tables for {len(t.tables)} component(s) but the image has {x.shape[1]} channel(s)")
        if t is None and x.shape[0] == 1:
            out["tables"] = self.tables_for(x, out)
        elif t is not None and t.source == "file" and x.shape[0] == 1:
            out["tables"] = self.earlier_save(x, out, t)
        return out

    def earlier_save(self, x: torch.Tensor, p: dict, t: JpegTables) -> JpegTables:
        """A JPEG file's tables ``t``, or, where its pixels show the blocks of an earlier save
        over ``RESAVED`` times as coarse (a photo saved again at a higher quality: its tables are
        the finer save's, and its blocks were left as they were, +0.1 dB), the tables read from
        them, their source saying so (+0.4-0.8 dB on validation crops saved at 20-60, then at
        75-95; benchmarks/results/dejpeg.md)."""
        if earlier_quality(x, t) is None:
            return t
        e = self.tables_for(x, {**p, "tables": None, "quality": None})
        return dataclasses.replace(e, source=resaved_source(e.source, t))

    def estimates(self, p):
        """Without a file's tables each image's grid (and quality, unless given) is read from
        its own pixels, and with them whether its pixels show an earlier save's
        (:meth:`earlier_save`): one image at a time."""
        t = p.get("tables")
        return t is None or (isinstance(t, JpegTables) and t.source == "file")

    def reported(self, p):
        """With the tables settled, their source ("file", "quality N", "estimated quality N")
        and their chroma subsampling, not the option's default (a 4:4:4 file is 4:4:4); a file's
        own tables' nearest standard quality (``file_quality``), also where an earlier save's were
        read."""
        t = p.get("tables")
        q = {**p, **_tables_reported(t)}
        if not isinstance(t, JpegTables):
            return q
        if t.source == "file":
            q.pop("quality", None)  # not used: the file's own tables were (warned)
            q["file_quality"] = nearest_quality(t)  # what quality the file was saved at (a camera's own
            # tables: the nearest standard quality)
        elif m := RESAVED_SOURCE.fullmatch(t.source):  # an earlier save's, under the file's own
            q["file_quality"] = int(m[2])
        if len(t.tables) == 1:
            q.pop("chroma", None)  # a gray JPEG has no chroma
        return q

    def estimated_note(self, params, sigma, to_try=None):
        t = params.get("tables", "estimated quality")
        if t == "file":
            chroma = f", {params['chroma']}" if params.get("chroma") else ""
            return (f"a JPEG file of quality {params.get('file_quality', '?')} (its own tables{chroma}; --jpeg-quality "
                    "sets another)")
        m = RESAVED_SOURCE.fullmatch(t)
        if m:
            return (f"the file's own tables are quality {m[2]}'s, but its pixels show the blocks of an earlier save at "
                    f"quality {m[1]}: those are removed (--jpeg-quality sets the quality)")
        if t == self.NONE_FOUND:
            return (f"{NO_FILE_TABLES}, and no JPEG's 8x8 blocks found in the image: left as it is (--jpeg-quality "
                    "gives the quality it was saved at)")
        return f"{t}: {NO_FILE_TABLES}, its quality estimated from the blocks (--jpeg-quality sets it)"

    #: what the tables say when no JPEG's blocks were found in an image given without its file
    NONE_FOUND = "estimated quality 100"

    def left_as_is(self, op):
        """No JPEG's blocks found (the recipe's 0 steps): steps given do not run either (the note
        says the image is left as it is; --steps 3 smoothed a never-compressed photo to 41 dB)."""
        return op.tables.source == self.NONE_FOUND

    def recipe(self, p):
        """DPIR's levels from ``START`` to ``END`` times the tables' quantisation RMS (times
        ``strength``); no steps, the image as it is, where no JPEG's blocks were found (at quality
        100 the prior only smoothed it: -0.1 dB on decodes resized after their decode)."""
        t = p.get("tables")
        s = t.level * p.get("strength", 1.0) if t is not None else None
        steps = 0 if isinstance(t, JpegTables) and t.source == self.NONE_FOUND else self.steps
        return Recipe(self.sampler, steps, None if s is None else self.START * s, self.spacing,
                      None if s is None else self.END * s, self.options)

    def build(self, x, p):
        t = self.tables_for(x, p)  # (a file's tables: not given either, said as sr says them; a trial found no
        # word of the quality a file was read at)
        return Dejpeg(tuple(x.shape[1:]), t, x), x, t.source.startswith("estimated") or t.source == "file"

    def as_grey(self, p):
        return luma_tables(p)

    def load(self, image, files, p, max_pixels):
        p = dict(p)
        if p.get("tables") is None and p.get("quality") is None:  # (a quality given replaces a file's tables)
            p["tables"] = file_tables(image)  # a CMYK JPEG refused: read as YCbCr it lost 1-6 dB at quality 95
        return p, None

    def warnings(self, x, p):
        t = p.get("tables")
        if not (isinstance(t, JpegTables) and t.source == "file") or p.get("chroma") is None:
            return []
        return [f"--chroma {p['chroma']} is not used: a JPEG file's own chroma subsampling is read (--jpeg-quality "
                "sets aside the file's tables, --chroma with it)"]

    # -- evaluation --------------------------------------------------------------------------
    def degrade(self, name, img, index, quality=10, subsampling=None, **_):
        """The clean image saved by Pillow at ``quality`` (4:2:0 for colour, its default; or
        Pillow's ``subsampling``: 0 for 4:4:4), decoded."""
        import io as _io

        from PIL import Image as PILImage

        from ..io import to_tensor

        try:
            quality = int(quality)
        except ValueError:
            raise InputError(f"--quality takes integers 1-100, got {quality!r}") from None
        if not 1 <= quality <= 100:
            raise InputError(f"--quality takes integers 1-100, got {quality}")
        buf = _io.BytesIO()
        PILImage.fromarray(img).save(buf, "JPEG", quality=quality,
                                     **({} if subsampling is None else {"subsampling": subsampling}))
        buf.seek(0)
        t = read_tables(buf)
        buf.seek(0)
        with PILImage.open(buf) as im:
            dec = np.asarray(im.convert("L" if img.ndim == 2 else "RGB"))
        return Case(name, to_tensor(img), to_tensor(dec), self.name, {"quality": int(quality)}, {"tables": t},
                    y_uint8=dec)

    def describe(self, p):
        return f"Pillow JPEG quality {p['quality']} (4:2:0 for colour)"

    def published(self, p, dataset=None):
        return PUBLISHED_NOTE  # (on another set, said in it)


#: Networks trained for JPEG, on another set (gray LIVE1, MATLAB JPEG encoding): gains over the
#: decode as quoted in issue 27; the papers' tables (an image in FBCNN's README) could not be read
#: from the stored sources, so no absolute figures are given.
PUBLISHED_NOTE = ("Published, on another set (gray LIVE1, quality 10-40): DnCNN-3 (Zhang et al., TIP 2017) "
                  "+1.4-1.6 dB over the decode, FBCNN (Jiang et al., ICCV 2021) +2.0-2.2 dB (gains as quoted "
                  "in issue 27).")
