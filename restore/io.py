"""Image I/O: the only module that reads or writes image files.

Reading checks the header before decoding (pixel limit against decompression bombs),
keeps 8/16-bit depth, gray/RGB/RGBA mode, and turns palette images into RGB(A).
Writing is atomic: a temp file in the destination folder, then ``os.replace``.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "READ_EXTS",
    "Image",
    "encode_image",
    "from_tensor",
    "read_image",
    "read_mask",
    "to_tensor",
    "to_uint8",
    "write_image",
]

DEFAULT_MAX_PIXELS = 100_000_000  # 100 MP; raise with --max-pixels
READ_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
_WRITE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


@dataclass
class Image:
    """A decoded image: ``array`` is ``H x W`` (gray) or ``H x W x C`` (RGB / RGBA), in RGB
    channel order, uint8 or uint16."""

    array: np.ndarray
    path: Path | None = None

    @property
    def has_alpha(self) -> bool:
        return self.array.ndim == 3 and self.array.shape[2] == 4

    @property
    def color(self) -> np.ndarray:
        """The channels to restore (alpha removed)."""
        return self.array[..., :3] if self.has_alpha else self.array

    @property
    def alpha(self) -> np.ndarray | None:
        return self.array[..., 3] if self.has_alpha else None


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0] if s else type(e).__name__


def read_image(path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Read an image file (PNG, JPEG, TIFF, BMP, WebP; 8 or 16 bit).

    Parameters
    ----------
    path : path
        The file.
    max_pixels : int or None
        Refuse images with more pixels than this before decoding them.

    Returns
    -------
    Image

    Raises
    ------
    InputError
        Missing, unreadable, truncated or non-image file, or too many pixels.
    """
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not an image")
    try:
        size = p.stat().st_size
    except OSError as e:
        raise InputError(f"{p}: cannot read ({_first_line(e)})") from None
    if size == 0:
        raise InputError(f"{p}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            old = PILImage.MAX_IMAGE_PIXELS
            PILImage.MAX_IMAGE_PIXELS = None
            try:
                with PILImage.open(p) as im:
                    w, h = im.size
                    mode = im.mode
                    if w <= 0 or h <= 0:
                        raise InputError(f"{p}: image has no pixels ({w}x{h})")
                    if max_pixels is not None and w * h > max_pixels:
                        raise InputError(
                            f"{p}: {w}x{h} = {w * h / 1e6:.1f} MP exceeds the limit of "
                            f"{max_pixels / 1e6:.1f} MP (raise it with --max-pixels)"
                        )
                    if mode in ("P", "PA", "LA", "CMYK", "YCbCr", "LAB", "HSV", "1", "F") or (
                        mode.startswith("I") and mode not in ("I;16", "I;16B", "I;16L", "I")
                    ):
                        arr = _pil_convert(im)
                    else:
                        arr = None
            finally:
                PILImage.MAX_IMAGE_PIXELS = old
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"{p}: not an image file (format not recognised)") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise InputError(f"{p}: unreadable image ({_first_line(e)})") from None
    if arr is None:
        arr = _cv2_decode(p)
    return Image(_normalise(arr, p), p)


def _pil_convert(im) -> np.ndarray:
    mode = im.mode
    im.load()
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
    elif mode == "LA":
        im = im.convert("RGBA")
    elif mode == "1":
        im = im.convert("L")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    elif mode in ("F",) or mode.startswith("I"):
        a = np.asarray(im, dtype=np.float64)
        return np.clip(a, 0, 65535).round().astype(np.uint16)
    return np.asarray(im)


def _quiet_cv2():
    """OpenCV, with its own logging off: our one-line errors already say what failed
    (its ``imgcodecs`` warnings otherwise reach stderr through the progress bar)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")  # read when cv2 is first imported
    import cv2

    try:
        from cv2.utils import logging as cvlog

        cvlog.setLogLevel(cvlog.LOG_LEVEL_SILENT)
    except (ImportError, AttributeError):  # pragma: no cover - builds without the helper
        pass
    return cv2


def check_output_path(path: str | os.PathLike) -> None:
    """Raise :class:`InputError` now if ``path`` has an extension that cannot be written
    (checked before any work, not after it)."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in _WRITE_EXTS:
        raise InputError(f"{p}: cannot write '{ext or 'no extension'}' (use {', '.join(sorted(_WRITE_EXTS))})")


def _cv2_decode(p: Path) -> np.ndarray:
    cv2 = _quiet_cv2()

    try:
        buf = np.fromfile(str(p), dtype=np.uint8)
    except OSError as e:
        raise InputError(f"{p}: cannot read ({_first_line(e)})") from None
    arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise InputError(f"{p}: unreadable or truncated image")
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
    return arr


def _normalise(arr: np.ndarray, p: Path | None) -> np.ndarray:
    where = f"{p}: " if p is not None else ""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise InputError(f"{where}unsupported image layout {arr.shape}")
    if arr.dtype == np.uint8 or arr.dtype == np.uint16:
        return np.ascontiguousarray(arr)
    if arr.dtype in (np.float32, np.float64):
        if not np.isfinite(arr).all():
            raise InputError(f"{where}image holds NaN or inf")
        return (np.clip(arr, 0, 1) * 65535).round().astype(np.uint16)
    if arr.dtype == np.int16 or arr.dtype == np.int32:
        return np.clip(arr, 0, 65535).astype(np.uint16)
    raise InputError(f"{where}unsupported pixel type {arr.dtype}")


def read_mask(path: str | os.PathLike, shape: tuple[int, int], *, invert: bool = False,
              max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read a mask file: white = pixels to fill. Returns ``known`` (True = observed).

    A pixel is a hole when any channel is at or above half the range (128 of 255; a file
    holding only 0 and 1 is taken as labels), so a mask saved as JPEG, whose edges ring,
    keeps the shape it was drawn with; a transparent pixel (alpha under half) is not a hole.

    Raises
    ------
    InputError
        Unreadable file, size different from ``shape``, no hole, or nothing known.
    """
    from .tasks.inpaint import hole_from_array

    img = read_image(path, max_pixels=max_pixels)
    a = img.color
    hole = hole_from_array(a) if a.ndim == 2 else hole_from_array(a).any(axis=2)
    if img.has_alpha:
        hole &= hole_from_array(img.alpha)
    if invert:
        hole = ~hole
    return mask_from_hole(hole, shape, str(path))


def mask_from_hole(hole: np.ndarray, shape: tuple[int, int], name: str = "mask") -> np.ndarray:
    H, W = shape
    if hole.shape != (H, W):
        raise InputError(
            f"{name}: mask is {hole.shape[1]}x{hole.shape[0]} but the image is {W}x{H} (width x height)"
        )
    if not hole.any():
        raise InputError(f"{name}: mask has no hole (no non-zero pixels to fill)")
    if hole.all():
        raise InputError(f"{name}: mask covers the whole image (nothing is known)")
    return ~hole


def encode_image(array: np.ndarray, ext: str = ".png") -> bytes:
    """The bytes of ``array`` (``H x W [x C]``, RGB order, uint8/uint16) as an ``ext`` file."""
    cv2 = _quiet_cv2()

    ext = ext.lower()
    if ext not in _WRITE_EXTS:
        raise InputError(f"cannot write '{ext or 'no extension'}' (use {', '.join(sorted(_WRITE_EXTS))})")
    if ext in (".jpg", ".jpeg", ".bmp", ".webp"):
        array = to_uint8(array)
    arr = array
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGBA2BGRA)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, arr, params)
    if not ok:
        raise InputError(f"could not encode the image as {ext}")
    return buf.tobytes()


def write_image(path: str | os.PathLike, array: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write ``array`` (``H x W [x C]``, RGB order, uint8/uint16) atomically.

    The image goes to a temp file beside ``path`` and is renamed into place, so a crash
    never leaves a half-written output. An existing file is an error unless ``overwrite``.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in _WRITE_EXTS:
        raise InputError(f"{p}: cannot write '{ext or 'no extension'}' (use {', '.join(sorted(_WRITE_EXTS))})")
    if p.exists() and not overwrite:
        raise InputError(f"{p}: exists (pass --overwrite to replace it)")
    try:
        data = encode_image(array, ext)
    except InputError as e:
        raise InputError(f"{p}: {e}") from None
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix="." + p.name + ".", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if not overwrite and p.exists():
            raise InputError(f"{p}: exists (pass --overwrite to replace it)")
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p


def to_uint8(array: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 by rounding (``/ 257``); uint8 passes through."""
    if array.dtype == np.uint16:
        return (array.astype(np.float32) / 257.0).round().astype(np.uint8)
    return array


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def to_tensor(array: np.ndarray):
    """``H x W [x C]`` uint8/uint16/float array -> ``(1, C, H, W)`` float32 tensor in [0, 1]."""
    import torch

    a = np.asarray(array)
    if a.dtype == np.uint8:
        f = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        f = a.astype(np.float32) / 65535.0
    elif a.dtype in (np.float32, np.float64, np.float16):
        f = a.astype(np.float32)
    else:
        raise InputError(f"unsupported array dtype {a.dtype} (use uint8, uint16 or float in [0, 1])")
    if f.ndim == 2:
        f = f[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(f.transpose(2, 0, 1)))[None]


def from_tensor(x, dtype: np.dtype) -> np.ndarray:
    """``(1, C, H, W)`` tensor in [0, 1] -> ``H x W [x C]`` array of ``dtype`` (clipped)."""
    a = x[0].detach().to("cpu", dtype=__import__("torch").float32).clamp(0, 1).numpy().transpose(1, 2, 0)
    if a.shape[2] == 1:
        a = a[:, :, 0]
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return (a * 255.0).round().astype(np.uint8)
    if dtype == np.uint16:
        return (a * 65535.0).round().astype(np.uint16)
    return a.astype(dtype)
