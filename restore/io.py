"""Image I/O: the only module that reads or writes image files.

Reading checks the header before decoding (pixel limit against decompression bombs),
keeps 8/16-bit depth, gray/RGB/RGBA mode, and turns palette images into RGB(A). A photo is
returned as displayed: its EXIF orientation is applied to the pixels (and reset to 1 in the
metadata kept). Its ICC profile and EXIF (:class:`Meta`) travel with the image and are
written back into PNG, JPEG, WebP and 8-bit TIFF outputs; pixels are processed in the file's
own colour space (no conversion).
Writing is atomic: a temp file in the destination folder, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import re
import struct
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import GLOBAL_STATE, DiskFullError, InputError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "READ_EXTS",
    "WRITE_EXTS",
    "Image",
    "Meta",
    "encode_image",
    "from_tensor",
    "hole_from_array",
    "incomplete",
    "jpeg_half",
    "jpeg_half_size",
    "read_image",
    "read_mask",
    "mask_of_image",
    "check_float_scale",
    "marked_pixels",
    "no_hole_why",
    "to_tensor",
    "to_uint8",
    "write_image",
    "write_error",
    "without_location",
    "resized",
]

DEFAULT_MAX_PIXELS = 100_000_000  # 100 MP; raise with --max-pixels
#: HEIC / HEIF (what phones write): read through the optional pillow-heif plugin (the heic extra)
HEIF_EXTS = {".heic", ".heif"}
READ_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", *HEIF_EXTS}
WRITE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


@dataclass(frozen=True)
class Meta:
    """What a photo carries besides its pixels, kept for its outputs.

    ``exif``: the EXIF block as TIFF bytes (camera, date, GPS...; orientation reset to 1,
    since the pixels are stored as displayed), or None; ``icc``: the ICC colour profile, or
    None; ``orientation``: the EXIF orientation the file had (1-8), applied on reading;
    ``text``: its text, ``(keyword, value)`` pairs: a PNG's text chunks (Title, Author,
    Copyright...), a JPEG's comment as ``("Comment", ...)``, and the XMP packet of any format
    as ``("XML:com.adobe.xmp", ...)`` (:data:`XMP_KEY`); ``dpi``: its resolution, pixels per
    inch ``(x, y)`` as displayed, or None (:func:`resized` scales it for an output of another
    size: a super-resolved photo keeps its print size); ``png_colour``: a PNG's ``gAMA``,
    ``cHRM`` and ``sRGB`` chunks, ``(type, data)`` pairs, for PNG outputs (how a viewer shows
    its colours where it has no ICC profile)."""

    exif: bytes | None = None
    icc: bytes | None = None
    orientation: int = 1
    text: tuple = ()
    dpi: tuple | None = None
    png_colour: tuple = ()


@dataclass
class Image:
    """A decoded image: ``array`` is ``H x W`` (gray) or ``H x W x C`` (gray + alpha, RGB,
    RGBA), in RGB channel order, uint8 or uint16, as displayed (EXIF orientation applied); ``meta`` its
    EXIF and ICC profile; ``frames`` the file's frames or pages (an animation, a multi-page TIFF), of
    which ``array`` is the first; ``stored`` how the file held samples that ``array`` widens (``"1-bit"``
    to 8-bit grey, ``"palette"`` to RGB(A)), else empty."""

    array: np.ndarray
    path: Path | None = None
    meta: Meta = Meta()
    frames: int = 1
    stored: str = ""

    @property
    def has_alpha(self) -> bool:
        """RGBA, or gray + alpha (``H x W x 2``)."""
        return self.array.ndim == 3 and self.array.shape[2] in (2, 4)

    @property
    def color(self) -> np.ndarray:
        """The channels to restore (alpha removed): ``H x W x 3``, or ``H x W`` for gray."""
        if not self.has_alpha:
            return self.array
        return self.array[..., :3] if self.array.shape[2] == 4 else self.array[..., 0]

    @property
    def alpha(self) -> np.ndarray | None:
        return self.array[..., -1] if self.has_alpha else None


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0] if s else type(e).__name__


def jpeg_half_size(path: str | os.PathLike) -> np.ndarray | None:
    """A colour 4:2:0 JPEG file decoded at half size by the decoder's own DCT scaling (Pillow's
    ``draft``): its chroma as stored, not upsampled; RGB uint8 in the file's orientation. None
    for any other file (4:4:4; 4:2:2, whose half-size decode measured no better; gray; not a
    JPEG)."""
    from PIL import Image as PILImage
    from PIL import JpegImagePlugin

    try:
        with PILImage.open(path) as im:
            if im.format != "JPEG" or im.mode != "RGB" or JpegImagePlugin.get_sampling(im) != 2:
                return None
            im.draft("YCbCr", (max(1, im.width // 2), max(1, im.height // 2)))
            return np.asarray(im.convert("RGB"))
    except Exception:  # noqa: BLE001 - an extra reading: a file it cannot make is read without it
        return None


def jpeg_half(path: str | os.PathLike) -> float | None:
    """The white noise std read on :func:`jpeg_half_size`'s decode of a JPEG file with subsampled
    chroma (:func:`restore.noise.white_at_half`): ``estimate_noise``'s ``half`` (the denoise
    task's ``jpeg_half``) for the file, as the command line reads it; None for any other file."""
    from .noise import white_at_half

    half = jpeg_half_size(path)
    return None if half is None else white_at_half(to_tensor(half))


def _pil_open(src, stack: contextlib.ExitStack):
    """``PIL.Image.open(src)`` entered on ``stack``, under Pillow's decompression-bomb limit as
    the process has it (restore does not change it: it had lifted it for every read, and a
    program's other threads decoding uploads lost their protection meanwhile). An image over
    twice that limit, which Pillow refuses, is opened again with the limit lifted for that one
    open, under :data:`restore.errors.GLOBAL_STATE`: ``max_pixels``, checked next, is the limit
    asked for."""
    from PIL import Image as PILImage

    try:
        return stack.enter_context(PILImage.open(src))
    except PILImage.DecompressionBombError:
        if isinstance(src, io.BytesIO):
            src.seek(0)
        with GLOBAL_STATE:
            old, PILImage.MAX_IMAGE_PIXELS = PILImage.MAX_IMAGE_PIXELS, None
            try:
                return stack.enter_context(PILImage.open(src))
            finally:
                PILImage.MAX_IMAGE_PIXELS = old


#: what a path that is a link and does not exist is said to be
LINK_TO_NOTHING = "a link to nothing (what it points to is missing, or the links make a loop)"


def read_image(path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Read an image file (PNG, JPEG, TIFF, BMP, WebP; 8 or 16 bit).

    Parameters
    ----------
    path : path
        The file.
    max_pixels : int or None
        Refuse images with more pixels than this before decoding them. Pillow's own
        decompression-bomb warning (over ``PIL.Image.MAX_IMAGE_PIXELS``, 89 MP by default) is
        left to the program: restore does not change that process-wide setting, except for the
        one open of an image over twice it (Pillow refuses those; this limit is then the one).
        The command line lifts Pillow's limit for its own process: ``--max-pixels`` is its one.

    Returns
    -------
    Image

    Raises
    ------
    InputError
        Missing, unreadable, truncated or non-image file, or too many pixels.
    """
    from PIL import UnidentifiedImageError
    from PIL.Image import DecompressionBombWarning

    p = Path(path)
    if not p.exists():
        if p.is_symlink():  # (a loop of links was "no such file": a trial)
            raise InputError(f"{p}: {LINK_TO_NOTHING}")
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not an image")
    try:
        size = p.stat().st_size
    except OSError as e:
        raise InputError(f"{p}: cannot read ({_first_line(e)})") from None
    if size == 0:
        raise InputError(f"{p}: empty file (0 bytes)")
    heif = p.suffix.lower() in HEIF_EXTS or _heif_content(p)  # by its name, or by its bytes (stdin, a wrong name)
    if heif:
        _register_heif(p)
    try:
        with contextlib.ExitStack() as stack:
            im = _pil_open(p, stack)
            w, h = im.size
            mode = im.mode
            if w <= 0 or h <= 0:
                raise InputError(f"{p}: image has no pixels ({w}x{h})")
            if max_pixels is not None and w * h > max_pixels:
                raise InputError(
                    f"{p}: {w}x{h} = {_pixels(w * h, max_pixels)} exceeds the limit of "
                    f"{_pixels(max_pixels)} (raise it with --max-pixels)"
                )
            meta = _meta(im)
            frames = int(getattr(im, "n_frames", 1) or 1)
            unturned = _tiff_unturned(p) if im.format == "TIFF" else None
            if unturned is not None:  # decoded as stored, then turned once by orient()
                im = _pil_open(io.BytesIO(unturned), stack)
            if heif:  # OpenCV cannot decode it: Pillow (with the plugin) does
                im.load()
                arr = _heif_deep(p, im)
                if arr is None:
                    arr = np.asarray(im.convert("RGBA" if "A" in mode else "RGB"))
            elif mode == "L" and "transparency" in im.info:  # a gray PNG's colour key: OpenCV drops it
                im.load()
                arr = np.asarray(im.convert("LA"))
            elif mode == "F":  # one float channel (a grey float TIFF): not scaled to 8 or 16 bits in silence
                raise InputError(f"{p}: {_unread_kind(p) if im.format == 'TIFF' else _FLOAT_SAMPLES}")
            elif mode == "CMYK" and _icc_space(meta.icc) == b"CMYK":
                arr, meta = _cmyk_to_srgb(im, meta)
            elif mode in ("P", "PA", "LA", "CMYK", "YCbCr", "LAB", "HSV", "1") or (
                mode.startswith("I") and mode not in ("I;16", "I;16B", "I;16L", "I")
            ):
                arr = _pil_convert(im)
            elif im.format == "TIFF" and im.tag_v2.get(284) == 2 and max(im.tag_v2.get(258, (8,))) > 8:
                arr = _tiff_planar(p)  # 16 bits stored a plane per channel: OpenCV returns garbage
            elif im.format == "TIFF" and mode in ("RGBA", "RGBa") and set(im.tag_v2.get(258, (8,))) == {8}:
                # OpenCV's libtiff path premultiplies an 8-bit RGBA TIFF whose alpha is
                # marked unassociated (Pillow's, an editor's): colours off by up to 249
                im.load()
                arr = np.asarray(im.convert("RGBA"))
            else:
                arr = None
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"{p}: {_unread_kind(p)}") from None
    except DecompressionBombWarning as e:  # Pillow's warning, which the program's warnings filter made an error
        raise InputError(f"{p}: {_first_line(e)} (Pillow's limit, PIL.Image.MAX_IMAGE_PIXELS; this program's "
                         "warnings filter makes it an error)") from None
    except PermissionError as e:
        raise InputError(f"{p}: cannot read ({e.strerror})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise InputError(f"{p}: unreadable image ({_first_line(e)})") from None
    except (TypeError, IndexError, KeyError, ZeroDivisionError, struct.error) as e:  # Pillow on a corrupt file
        # (a fuzzed TIFF: TypeError "Missing dimensions" from its n_frames, an internal error and a 500 in the app)
        raise InputError(f"{p}: unreadable image ({type(e).__name__}: {_first_line(e)})") from None
    if arr is None:
        arr = _cv2_decode(p, unturned)
        if arr.ndim == 3 and arr.shape[2] == 4 and _png_gray_alpha(p):  # 16-bit gray + alpha: OpenCV gives RGBA
            arr = np.ascontiguousarray(arr[..., [0, 3]])
    arr = orient(_normalise(arr, p), meta.orientation)
    if not arr.flags.writeable:  # Pillow's buffer (a palette or 1-bit file): a pipeline's in-place edit raised
        arr = arr.copy()
    dpi = meta.dpi[::-1] if meta.dpi and meta.orientation >= 5 else meta.dpi  # turned a quarter: x and y swap
    stored = {"1": "1-bit", "P": "palette", "PA": "palette"}.get(mode, "")
    return Image(arr, p, dataclasses.replace(meta, dpi=dpi), frames, stored)


#: the ISO-BMFF brands of HEIF images (``ftyp`` box), as phones write them
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}


def _heif_content(p: Path) -> bool:
    """Whether the file ``p`` is a HEIF image by its first bytes (an ``ftyp`` box of a HEIF brand)."""
    try:
        with open(p, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


_READS = "restore reads 8- and 16-bit integer images (save it as 16-bit)"
_FLOAT_SAMPLES = f"floating-point samples: {_READS}"


def _unread_kind(p: Path) -> str:
    """Why Pillow could not identify ``p``, said as a person can act on it: a TIFF of samples
    that are not read (floating point: an HDR or a scientific image), else not an image."""
    try:
        with open(p, "rb") as f:
            head = f.read(4)
    except OSError:
        head = b""
    if head in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        kind = "a TIFF of a kind not read"
        try:
            import tifffile

            with tifffile.TiffFile(p) as t:
                page = t.pages[0]
                n, dt = page.samplesperpixel, np.dtype(page.dtype)
                kind = f"a TIFF of {dt} samples ({n} per pixel)"
                if dt.kind == "u" and dt.itemsize <= 2 and n not in (1, 3, 4):  # the depth is read: the channels not
                    return (f"{kind}: restore reads grey, RGB and RGBA TIFFs (grey + alpha as PNG); save each channel "
                            "as a grey image and restore it on its own")
        except Exception:  # noqa: BLE001 - the plain message stands
            pass
        return f"{kind}: {_READS}"
    return "not an image file (format not recognised)"


def _png_gray_alpha(p: Path) -> bool:
    """Whether ``p`` is a PNG of colour type 4 (gray + alpha), by its IHDR chunk."""
    with open(p, "rb") as f:
        head = f.read(26)
    return len(head) == 26 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and head[25] == 4


def _icc_space(icc: bytes | None) -> bytes | None:
    """An ICC profile's colour space (its 128-byte header's bytes 16-20: ``RGB ``, ``GRAY``,
    ``CMYK``...); None where there is no such header."""
    return icc[16:20] if icc is not None and len(icc) >= 128 else None


def _cmyk_to_srgb(im, meta: Meta) -> tuple[np.ndarray, Meta]:
    """A CMYK image with its CMYK profile, converted through it to sRGB (with an sRGB profile
    for the output: the CMYK one does not describe RGB pixels); Pillow's plain conversion,
    without a profile, where the profile cannot be used."""
    from PIL import ImageCms

    im.load()
    srgb = ImageCms.createProfile("sRGB")
    try:
        rgb = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(meta.icc)), srgb, outputMode="RGB")
        icc = ImageCms.ImageCmsProfile(srgb).tobytes()
    except (ImageCms.PyCMSError, OSError, ValueError):
        rgb, icc = im.convert("RGB"), None
    return np.asarray(rgb), dataclasses.replace(meta, icc=icc)


def _tiff_planar(p: Path) -> np.ndarray:
    """A TIFF stored a plane per channel (PlanarConfiguration 2) of more than 8 bits, decoded
    by tifffile as stored (``H x W x C``; :func:`orient` turns it): OpenCV decodes it as
    garbage without a word, and Pillow reads no 16-bit colour."""
    try:
        import tifffile
    except ImportError:  # scikit-image's dependency
        raise InputError(f"{p}: a 16-bit TIFF stored a plane per channel needs the tifffile package") from None
    try:
        with tifffile.TiffFile(p) as tf:
            page = tf.pages[0]
            a = page.asarray()
            separate = page.planarconfig == tifffile.PLANARCONFIG.SEPARATE
            if separate and a.ndim == 3 and a.shape[0] == page.samplesperpixel:
                a = np.moveaxis(a, 0, -1)
    except Exception as e:  # noqa: BLE001 - a TIFF tifffile cannot decode
        raise InputError(f"{p}: unreadable image ({_first_line(e)})") from None
    if a.dtype.kind not in "ui" or a.itemsize > 2:
        raise InputError(f"{p}: a TIFF of {a.dtype} samples: {_READS}")
    return np.ascontiguousarray(a.astype(np.uint16) if a.dtype != np.uint8 else a)


def _tiff_unturned(p: Path) -> bytes | None:
    """A TIFF's bytes with its Orientation tag set to 1, or None when it has none or 1.

    Pillow 13 and OpenCV 5 turn a TIFF by its tag as they decode it (JPEG, PNG and WebP they
    leave as stored), and Pillow mis-decodes an uncompressed palette, CMYK or RGBA one so
    turned; :func:`orient` then turned it a second time. Decoded with the tag at 1, every
    format is turned once, by :func:`orient`."""
    try:
        import tifffile
    except ImportError:  # scikit-image's dependency; without it, as the decoders do
        return None
    try:
        with tifffile.TiffFile(p) as tf:
            tag = tf.pages[0].tags.get(0x0112)
            if tag is None or tag.value == 1 or tag.count != 1:
                return None
            offset, order = tag.valueoffset, "little" if tf.byteorder == "<" else "big"
    except Exception:  # not a TIFF tifffile reads: the decoders say what is wrong  # noqa: BLE001
        return None
    data = bytearray(p.read_bytes())
    data[offset : offset + 2] = (1).to_bytes(2, order)
    return bytes(data)


def _pixels(n: int, like: int | None = None) -> str:
    """A pixel count as said to a person: ``12.0 MP``, ``0.12 MP``, or the count itself under 0.1 MP (where
    '0.0 MP exceeds the limit of 0.0 MP' told nothing); in the unit ``like`` is said in, when
    given (a count set beside a limit: '0.1 MP exceeds the limit of 50,000 pixels' mixed them)."""
    if (n if like is None else like) < 100_000:
        return f"{n:,} pixels"
    return f"{n / 1e6:.2f} MP" if n < 10_000_000 else f"{n / 1e6:.1f} MP"  # 0.12 MP was "0.1 MP"


#: EXIF's 0th-IFD tags kept from a TIFF input (whose own tags describe its file structure)
_TIFF_KEEP = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)


def _meta(im) -> Meta:
    """The EXIF (orientation reset to 1) and ICC profile of an open Pillow image."""
    from PIL import Image as PILImage

    icc = im.info.get("icc_profile") or None
    try:
        ex = PILImage.Exif()
        raw = im.info.get("exif")
        if raw:  # JPEG APP1, PNG eXIf, WebP EXIF
            ex.load(raw)
        else:  # TIFF: its tags are the file's own; keep the descriptive ones and the sub-IFDs
            src = im.getexif()
            for tag in (*_TIFF_KEEP, 0x0112):
                if tag in src:
                    ex[tag] = src[tag]
            for ifd in (0x8769, 0x8825):
                sub = src.get_ifd(ifd)
                if sub:
                    ex[ifd] = dict(sub)
        orientation = int(ex.get(0x0112, 1) or 1)
        if orientation not in range(1, 9):
            orientation = 1
        if 0x0112 in ex:
            ex[0x0112] = 1
        exif = ex.tobytes() if len(ex) else None
    except Exception:  # unreadable EXIF: the pixels still load, without it  # noqa: BLE001
        exif, orientation = None, 1
    if exif is not None and exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    return Meta(exif=exif, icc=icc, orientation=orientation, text=_text_of(im), dpi=_dpi_of(im),
                png_colour=_png_colour_of(im))


def _png_colour_of(im) -> tuple:
    """A PNG's ``gAMA``, ``cHRM`` and ``sRGB`` chunks (as Pillow read them: its ``info``), as
    :class:`Meta`'s ``png_colour``."""
    if im.format != "PNG":
        return ()
    out, i = [], im.info
    try:
        if "srgb" in i:
            out.append((b"sRGB", bytes([int(i["srgb"])])))
        if "gamma" in i:
            out.append((b"gAMA", round(float(i["gamma"]) * 100000).to_bytes(4, "big")))
        if "chromaticity" in i and len(i["chromaticity"]) == 8:
            out.append((b"cHRM", b"".join(round(float(v) * 100000).to_bytes(4, "big") for v in i["chromaticity"])))
    except (TypeError, ValueError, OverflowError):  # a chunk Pillow read oddly: not carried
        return ()
    return tuple(out)


def _dpi_of(im) -> tuple | None:
    """The resolution an open Pillow image's file states, in pixels per inch ``(x, y)`` as
    stored: a JPEG's JFIF density (in inches or cm), a PNG's pHYs (per metre), a TIFF's
    XResolution / YResolution, else an EXIF's (unit inch or cm); None where none is stated
    (Pillow's stand-ins, 1 for a TIFF without the tags, 72 for a JPEG with an EXIF without them,
    are not) or only an aspect ratio is."""
    info = im.info
    try:
        if im.format == "JPEG" and info.get("jfif_unit") in (1, 2):
            (x, y), unit = info["jfif_density"], (2 if info["jfif_unit"] == 1 else 3)
        elif im.format == "PNG":
            (x, y), unit = info["dpi"] if "dpi" in info else (None, None), 2
        else:
            tags = im.tag_v2 if im.format == "TIFF" else im.getexif()
            x, y, unit = tags.get(0x11A), tags.get(0x11B, tags.get(0x11A)), tags.get(0x128, 2)
        x, y = float(x) * (2.54 if unit == 3 else 1), float(y) * (2.54 if unit == 3 else 1)
    except (TypeError, ValueError, KeyError, ZeroDivisionError):
        return None
    if unit not in (2, 3) or not all(math.isfinite(v) and 1 <= v <= 1e6 for v in (x, y)):
        return None
    return (round(x, 2), round(y, 2))


def _text_of(im) -> tuple:
    """A PNG's text chunks or a JPEG's comment, as :class:`Meta`'s ``text`` (restore's own note
    left out: an output gets the note of the run that made it)."""
    out = []
    if im.format == "PNG":
        for k, v in (getattr(im, "text", None) or {}).items():
            if k != NOTE_KEY.decode() and isinstance(v, str):
                out.append((k, _upright(v) if k == XMP_KEY else v))
    else:
        # every COM segment but restore's note (Pillow's info keeps the last only, which is the note's
        # in a JPEG restore wrote)
        coms = [v for k, v in getattr(im, "applist", ()) if k == "COM"] if im.format == "JPEG" else []
        said = [c.decode("utf-8", "replace") for c in coms
                if isinstance(c, bytes) and c and not c.startswith(NOTE_KEY + b" ")]
        if said:
            out.append(("Comment", "\n".join(said)))
        x = im.info.get("xmp")  # a JPEG's APP1, a TIFF's tag 700, a WebP's XMP chunk, a HEIC's
        if isinstance(x, bytes):  # UTF-8, or UTF-16 by its byte-order mark (outputs write UTF-8)
            x = x.decode("utf-16" if x[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8", "replace")
        x = _theirs(x)
        if x:
            out.append((XMP_KEY, _upright(x)))
    return tuple(out)


#: the keyword of an XMP packet among :class:`Meta`'s text (a PNG's ``iTXt`` chunk keyword)
XMP_KEY = "XML:com.adobe.xmp"


def _upright(packet: str) -> str:
    """An XMP packet with its orientation (as the EXIF's) reset to 1: the pixels are stored as shown."""
    return re.sub(r'(tiff:Orientation(?:="|>)\s*)[2-8]', r"\g<1>1", packet)


def _xmp_in(text: tuple) -> str | None:
    """The XMP packet among :class:`Meta`'s ``text``, or None."""
    return next((v for k, v in text if k == XMP_KEY), None)


def _theirs(packet: str | None) -> str | None:
    """An XMP packet without restore's own note (:func:`_note_xmp`, in a TIFF or WebP restore
    wrote); None where nothing else is in it."""
    if not isinstance(packet, str) or not packet.strip():
        return None
    rest = re.sub(r'<rdf:Description rdf:about="" xmlns:restore="[^"]*" restore:settings="[^"]*"/>', "", packet)
    return None if rest != packet and "<rdf:Description" not in rest else rest


def orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """``a`` (``H x W [x C]``) as displayed for an EXIF orientation (1-8), as Pillow's
    ``ImageOps.exif_transpose`` turns it (2: mirrored, 3: 180 degrees, 4: flipped,
    5: transposed, 6: 90 degrees clockwise, 7: transversed, 8: 90 degrees anticlockwise)."""
    if orientation == 2:
        a = a[:, ::-1]
    elif orientation == 3:
        a = a[::-1, ::-1]
    elif orientation == 4:
        a = a[::-1]
    elif orientation == 5:
        a = a.swapaxes(0, 1)
    elif orientation == 6:
        a = np.rot90(a, -1)
    elif orientation == 7:
        a = a.swapaxes(0, 1)[::-1, ::-1]
    elif orientation == 8:
        a = np.rot90(a, 1)
    return np.ascontiguousarray(a)


def _register_heif(p: Path) -> None:
    """Make Pillow open HEIC / HEIF through pillow-heif, or say which extra to install."""
    try:
        import pillow_heif
    except ImportError:
        raise InputError(f"{p}: reading HEIC/HEIF needs the heic extra: pip install \"restore[heic]\"") from None
    pillow_heif.register_heif_opener()


def _heif_deep(p: Path, im) -> np.ndarray | None:
    """A HEIC / HEIF of more than 8 bits (10-bit, as phones write) decoded to 16 (pillow-heif
    scales it to the full range), where Pillow's plugin gives 8; None for an 8-bit one."""
    if int(im.info.get("bit_depth") or 8) <= 8:
        return None
    import pillow_heif

    a = np.asarray(pillow_heif.open_heif(p, convert_hdr_to_8bit=False))
    return a if a.dtype == np.uint16 and a.shape[:2] == (im.height, im.width) else None


def _pil_convert(im) -> np.ndarray:
    mode = im.mode
    im.load()
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
    elif mode == "1":
        im = im.convert("L")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    elif mode.startswith("I"):  # 32-bit integer samples (a float "F" image is refused before)
        return _as_8_or_16_bits(np.asarray(im), f"{im.filename}: " if getattr(im, "filename", None) else "")
    return np.asarray(im)


def _cv2():
    """OpenCV (imported on first use: ``import restore`` does not load it)."""
    import cv2

    return cv2


@contextlib.contextmanager
def _cv2_quiet():
    """OpenCV with its own logging off for the block, then as it was (under
    :data:`restore.errors.GLOBAL_STATE`, so that threads do not leave it off): our one-line
    errors already say what failed, and its ``imgcodecs`` warnings ("PNG input buffer is
    incomplete") would otherwise reach stderr through the progress bar. A program that uses
    OpenCV beside restore keeps its own log level."""
    cv2 = _cv2()
    try:
        from cv2.utils import logging as cvlog
    except ImportError:  # pragma: no cover - builds without the helper
        yield cv2
        return
    with GLOBAL_STATE:
        old = cvlog.getLogLevel()
        cvlog.setLogLevel(cvlog.LOG_LEVEL_SILENT)
        try:
            yield cv2
        finally:
            cvlog.setLogLevel(old)


#: the longest file name (bytes) the file systems restore writes to take (Linux's NAME_MAX; NTFS, APFS alike)
NAME_MAX = 255


def hidden_name(name: str, tail: str, room: int = 0) -> str:
    """``.NAME`` + ``tail``, the name of a hidden file kept beside ``name`` (a temp file, a
    claim), shortened where it and ``room`` more bytes would not fit in :data:`NAME_MAX`: the
    name cut and ``~`` and 8 hex digits of its SHA-1 put in, so that two long names keep apart
    (a 240-byte photo's claim temp file was too long, and the folder run crashed)."""
    full = f".{name}{tail}"
    if len(full.encode()) + room <= NAME_MAX:
        return full
    import hashlib

    mark = "~" + hashlib.sha1(name.encode()).hexdigest()[:8]
    keep = NAME_MAX - room - len(f".{mark}{tail}".encode())
    cut = name.encode()[: max(keep, 0)].decode("utf-8", "ignore")  # (not inside a character)
    return f".{cut}{mark}{tail}"


def _unwritable(ext: str) -> str:
    """Why a file of extension ``ext`` ('' for none) is not written, and what is."""
    kinds = ", ".join(sorted(WRITE_EXTS))
    return (f"cannot write '{ext}' (use {kinds})" if ext else
            f"no extension to tell the format (name the file with one of {kinds})")


def check_output_path(path: str | os.PathLike) -> None:
    """Raise :class:`InputError` now if ``path`` has an extension that cannot be written or a
    name longer than the file system takes (checked before any work, not after it)."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in WRITE_EXTS:
        raise InputError(f"{p}: {_unwritable(ext)}")
    n = len(p.name.encode())
    if n > NAME_MAX:
        raise InputError(f"{p.name[:24]}...{p.suffix}: a file name of {n} bytes, over the {NAME_MAX} a file system "
                         "takes (-o FILE gives the output another name)")


def check_writable(folder: str | os.PathLike) -> None:
    """Raise :class:`InputError` now if files cannot be created in ``folder`` (or, where it
    does not exist yet, in its nearest existing parent, where it would be made): a file is
    created there and removed, which also catches what permission bits do not show (a
    read-only mount, an immutable folder, root's writes)."""
    d = Path(folder).absolute()
    while not d.exists() and d != d.parent:
        d = d.parent
    if not d.is_dir():
        raise InputError(f"{folder}: cannot write there ({d} is not a folder)")
    try:
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".restore-probe.", suffix=".tmp")
    except OSError as e:
        raise InputError(f"{folder}: cannot write there ({e.strerror or _first_line(e)})") from None
    os.close(fd)
    os.unlink(tmp)


def _cv2_decode(p: Path, data: bytes | None = None) -> np.ndarray:
    """The file ``p`` (or its bytes ``data``) decoded by OpenCV, in RGB(A) order."""
    cv2 = _cv2()

    try:
        buf = np.fromfile(str(p), dtype=np.uint8) if data is None else np.frombuffer(data, np.uint8)
    except OSError as e:
        raise InputError(f"{p}: cannot read ({_first_line(e)})") from None
    if buf[:8].tobytes() == b"\x89PNG\r\n\x1a\n" and buf.tobytes().rfind(b"IEND") < 0:
        # libpng prints its own "PNG input buffer is incomplete" to stderr, past OpenCV's logging
        raise InputError(f"{p}: unreadable or truncated image (the PNG has no end chunk)")
    with _cv2_quiet():
        arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise InputError(f"{p}: unreadable or truncated image{_why_not(buf)}")
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
    return arr


def _why_not(buf: np.ndarray) -> str:
    """Why Pillow cannot decode the bytes OpenCV could not (" (image file is truncated (3 bytes
    not processed))"), or nothing: OpenCV gives no reason."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(buf.tobytes())) as im:
            im.load()
    except (PILImage.DecompressionBombError, MemoryError):  # its size, not its damage (checked before)
        return ""
    except Exception as e:  # noqa: BLE001 - its words, whatever it raised
        return f" ({_first_line(e)})"
    return ""


def _as_8_or_16_bits(a: np.ndarray, where: str) -> np.ndarray:
    """Signed or 32/64-bit integer samples as 8- or 16-bit ones, refused outside 0-65535 (they
    were clipped in silence: an image of values up to 200000 came out white). int8 is 8-bit and
    int16 16-bit, as their width says; a wider type says nothing of the scale, so samples that
    all lie in 0-255 are 8-bit (a numpy array of 0-255 saved as int64 came out 257 times too
    dark) and others 16-bit."""
    lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
    if lo < 0 or hi > 65535:
        raise InputError(f"{where}{a.dtype} samples from {lo} to {hi}, outside 0-65535: {_READS}")
    eight = a.dtype.itemsize == 1 or (a.dtype.itemsize > 2 and hi <= 255)
    return a.astype(np.uint8 if eight else np.uint16)


#: 16-bit samples that all lie under 2**bits (a 12-bit camera's in a 16-bit file) are restored on
#: that range: a prior made for photos that fill their range barely touched such data, whose
#: noise and detail lie under its levels (a 12-bit microscopy image with Poisson-Gaussian noise:
#: RMS error 54.9 -> 49.7 counts on the 16-bit range, 33.5 on its own; ``benchmarks/results/sixteen_bits.md``).
#: Never under 8 bits (data of 0-255 in a 16-bit container: the 8-bit photo it is).
LEAST_BITS = 8


def data_bits(a: np.ndarray) -> int | None:
    """For a uint16 image (an alpha, the last of 2 or 4 channels, aside): the fewest bits, at
    least :data:`LEAST_BITS`, that hold its samples, where under 16; else None."""
    if a.dtype != np.uint16 or not a.size:
        return None
    color = a[..., :-1] if a.ndim == 3 and a.shape[2] in (2, 4) else a
    bits = max(LEAST_BITS, int(color.max()).bit_length())
    return bits if bits < 16 else None


def bits_peak(bits: int | None) -> float | None:
    """The white of ``bits``-bit data in a 16-bit range ([0, 1] units); None for None."""
    return None if bits is None else (2**bits - 1) / 65535


def _normalise(arr: np.ndarray, p: Path | None) -> np.ndarray:
    where = f"{p}: " if p is not None else ""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        raise InputError(f"{where}unsupported image layout {arr.shape}")
    if arr.dtype == np.uint8 or arr.dtype == np.uint16:
        return np.ascontiguousarray(arr)
    if arr.dtype in (np.float32, np.float64):
        if not np.isfinite(arr).all():
            raise InputError(f"{where}image holds NaN or inf")
        return (np.clip(arr, 0, 1) * 65535).round().astype(np.uint16)
    if arr.dtype.kind in "ui":  # int8/16/32/64, uint32/64: as 8- or 16-bit where they fit
        return _as_8_or_16_bits(arr, where)
    raise InputError(f"{where}unsupported pixel type {arr.dtype}")


#: A feathered mask (a soft selection, its edge graded as an editor's feather grades it) is filled
#: over its soft edge too: around each hole (at half the range or more), the pixels over ``least`` of the
#: range joined to it and at most ``reach`` px from it, where they fade with the distance (a correlation
#: of at most ``graded`` between value and distance) over at least ``width`` px on average (their count
#: over the hole's border pixels). A hard mask's antialiasing and a JPEG's ringing are a pixel wide at
#: most, and a flat grey (a label, a background, a half-transparent ring) does not fade: none changes the
#: hole. A trial: an object selected with an 8 px feather kept its rim outside the hole (values under
#: half), and the rim tinted the whole fill red.
FEATHER = {"least": 0.1, "width": 1.5, "reach": 16, "graded": -0.5}


def hole_from_array(m: np.ndarray, invert: bool = False, feather: bool = True) -> np.ndarray:
    """Pixels to fill of a mask array (``H x W``, or ``H x W x C``: a pixel any channel marks):
    bool as is; a 0/1 array as is; otherwise values at or above half the range (128 of 255 for
    uint8, 32768 for uint16, 0.5 for floats, which lie in 0-1: a mask resized by a bicubic filter
    may reach a little over), so that a mask saved as JPEG, whose edges ring, keeps its drawn shape,
    and a feathered one's soft edge (:data:`FEATHER`; not with ``feather`` False). ``invert``: the
    pixels the mask does not mark (under half; a feathered edge goes to them, the side to fill)."""
    m = np.asarray(m)
    if m.dtype == np.bool_:
        h = m.any(axis=2) if m.ndim == 3 else m
        return ~h if invert else h
    if m.dtype.kind not in "uif":  # strings, objects, dates, complex: no value marks a hole
        raise InputError(f"a mask must be bool, integer or float, got {m.dtype}")
    if m.dtype.kind == "f" and not np.isfinite(m).all():
        raise InputError("mask holds NaN or inf")
    if m.ndim == 3:  # a pixel any channel marks: its brightest channel
        m = m.max(axis=2)
    if m.size and m.max() <= 1 and m.min() >= 0 and (m.dtype.kind in "ui" or np.isin(m, (0, 1)).all()):
        return (m == 0) if invert else (m != 0)
    if m.dtype.kind == "f" and m.size and m.max() > 2:  # (a trial: 0-255 floats filled the JPEG noise around a hole)
        raise InputError(f"a float mask holds 0-1 (values at 0.5 or more are holes), this one reaches "
                         f"{float(m.max()):g}: divide it by its range (255 for 8-bit values), or give it as uint8")
    top = float(np.iinfo(m.dtype).max) if m.dtype.kind == "u" else 255.0 if m.dtype.kind == "i" else 1.0
    half = (top + 1) // 2 if m.dtype.kind in "ui" else 0.5
    hole = (m < half) if invert else (m >= half)
    lo, hi = FEATHER["least"] * top, top - FEATHER["least"] * top
    if m.dtype.kind in "ui":  # the same bounds in the array's own type (a float compare converted 12 MP first)
        lo, hi = m.dtype.type(math.floor(lo)), m.dtype.type(math.ceil(hi))
    if not feather or not ((m >= half) & (m < hi) if invert else (m > lo) & (m < half)).any():
        return hole  # no soft pixel: no feather to read (12 MP: 5 ms, not 70)
    v = m.astype(np.float32) / np.float32(top)
    return _feathered(hole, 1 - v if invert else v)


def _feathered(hole: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``hole`` with the soft edge of a feathered mask added (:data:`FEATHER`; ``v``: the mask's values
    as shares of its range, the hole's side high)."""
    f = FEATHER
    soft = v > f["least"]
    if not hole.any() or not (soft & ~hole).any():
        return hole
    import cv2

    ys, xs = np.nonzero(soft)  # the holes lie among the soft pixels: read around them alone (12 MP: 0.57 s in full)
    pad = int(f["reach"]) + 2
    y0, y1, x0, x1 = max(ys.min() - pad, 0), ys.max() + pad + 1, max(xs.min() - pad, 0), xs.max() + pad + 1
    if (y1 - y0) * (x1 - x0) < hole.size:
        out = hole.copy()
        out[y0:y1, x0:x1] = _feathered(hole[y0:y1, x0:x1], v[y0:y1, x0:x1])
        return out
    n, comp = cv2.connectedComponents(hole.astype(np.uint8), connectivity=8)
    d, nearest = cv2.distanceTransformWithLabels((~hole).astype(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    owner_of = np.zeros(int(nearest.max()) + 1, np.int32)
    owner_of[nearest[hole]] = comp[hole]
    owner = owner_of[nearest]  # each pixel's nearest hole
    near = soft & ~hole & (d <= f["reach"])
    k, joined = cv2.connectedComponents((hole | near).astype(np.uint8), connectivity=8)
    reached = np.zeros(k, bool)
    reached[np.unique(joined[hole])] = True
    band = near & reached[joined]
    border = hole & (cv2.erode(hole.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0)
    o, dd, vv = owner[band], d[band].astype(np.float64), v[band].astype(np.float64)

    def per(w=None):
        return np.bincount(o, weights=w, minlength=n)

    cnt = per()
    with np.errstate(invalid="ignore", divide="ignore"):
        md, mv = per(dd) / cnt, per(vv) / cnt
        cov = per(dd * vv) / cnt - md * mv
        corr = cov / np.sqrt((per(dd * dd) / cnt - md * md) * (per(vv * vv) / cnt - mv * mv))
    wide = cnt >= f["width"] * np.maximum(np.bincount(comp[border], minlength=n), 1)
    take = wide & (np.nan_to_num(corr, nan=0.0) <= f["graded"])  # a flat grey does not fade: no feather
    take[0] = False
    return hole | (band & take[owner])


def no_hole_why(a: np.ndarray) -> str:
    """Why an integer mask array that marks no hole marks none, as a clause (its brightest value
    against the threshold), or "" for other arrays."""
    a = np.asarray(a)
    if a.dtype.kind not in "ui" or not a.size or not a.any():
        return ""
    top = int(np.iinfo(a.dtype).max) if a.dtype.kind == "u" else 255
    return (f": its brightest value is {int(a.max())} of {top}, and holes are the pixels at {(top + 1) // 2} "
            "or more (draw them white)")


def read_mask(path: str | os.PathLike, shape: tuple[int, int], *, invert: bool = False,
              max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read a mask file: white = pixels to fill. Returns ``known`` (True = observed).

    A pixel is a hole when any channel is at or above half the range (128 of 255; a file
    holding only 0 and 1 is taken as labels), so a mask saved as JPEG, whose edges ring,
    keeps the shape it was drawn with; a transparent pixel (alpha under half) is not a hole.
    A mask drawn only in its alpha (strokes of any colour on a transparent layer, the colour
    marking no hole) has its opaque pixels as the holes.

    Raises
    ------
    InputError
        Unreadable file, size different from ``shape``, no hole, or nothing known.
    """
    return mask_of_image(read_image(path, max_pixels=max_pixels), shape, invert=invert, name=str(path))


def marked_pixels(m: np.ndarray, invert: bool = False) -> np.ndarray:
    """The pixels a mask array marks, ``H x W`` bool: ``m`` is ``H x W`` or ``H x W x C``
    with C = 1 (gray), 2 (gray + alpha), 3 (colour: a pixel any channel marks) or 4 (RGBA).
    With alpha, a transparent pixel (alpha under half) marks nothing whatever its colour; a mask
    drawn in alpha alone (its visible colours mark nothing: strokes of any colour on a
    transparent layer) marks its opaque pixels, unless all are opaque. ``invert``: the pixels it
    does not mark (a feathered edge on their side: :func:`hole_from_array`)."""
    m = np.asarray(m)
    if m.ndim == 2:
        return hole_from_array(m, invert)
    if m.ndim != 3 or m.shape[2] not in (1, 2, 3, 4):
        raise InputError(f"a mask must be H x W or H x W x C (C = 1-4), got shape {m.shape}")
    if m.shape[2] in (1, 3):
        return hole_from_array(m, invert)
    colors = m[:, :, :3] if m.shape[2] == 4 else m[:, :, :1]
    hole = hole_from_array(colors)
    opaque = hole_from_array(m[:, :, -1], feather=False)  # (alpha under half marks nothing: no feather read in it)
    hole = hole & opaque  # (a trial: black strokes on transparent white were refused as no hole)
    if not hole.any():
        hole = opaque & ~opaque.all()  # all opaque: no alpha drawing
    return ~hole if invert else hole


def mask_of_image(img: Image, shape: tuple[int, int], *, invert: bool = False, name: str = "mask") -> np.ndarray:
    """:func:`read_mask` of an image already read (``name`` in its messages)."""
    hole = marked_pixels(img.array, invert)
    why = no_hole_why(img.color)
    if not hole.any() and not invert and why:
        raise InputError(f"{name}: mask has no hole{why}")
    return mask_from_hole(hole, shape, name)


def mask_from_hole(hole: np.ndarray, shape: tuple[int, int], name: str = "mask") -> np.ndarray:
    H, W = shape
    where = "" if name == "mask" else f"{name}: "
    if hole.shape != (H, W):
        raise InputError(f"{where}mask is {hole.shape[1]}x{hole.shape[0]} but the image is {W}x{H} (width x height)")
    if not hole.any():
        raise InputError(f"{where}mask has no hole (no pixel at half its range or more, e.g. 128 of 255, to fill)")
    if hole.all():
        raise InputError(f"{where}mask covers the whole image (nothing is known)")
    return ~hole


#: JPEG quality when none is given (WebP without one is lossless)
DEFAULT_QUALITY = 95
#: JPEG outputs of this quality or more keep their colour at full resolution (4:4:4), as an
#: editor's high-quality export does; below it, chroma is halved each way (4:2:0)
FULL_CHROMA_QUALITY = 90


def encode_image(array: np.ndarray, ext: str = ".png", *, quality: int | None = None, meta: Meta | None = None,
                 note: str | None = None) -> bytes:
    """The bytes of ``array`` (``H x W [x C]``, RGB(A) order, uint8 / uint16, or float in
    [0, 1], which is written as 8 bits: convert it to uint16 first for 16) as an ``ext`` file.

    ``quality`` (1-100) sets JPEG's (default 95; 4:4:4 from 90 up, else 4:2:0) and WebP's
    (default lossless) compression;
    ``meta`` (EXIF, ICC profile) is written as far as the file holds it (:func:`written_meta`:
    not into BMP; no EXIF in a 16-bit colour TIFF; no profile of another colour space than
    the pixels'); a TIFF whose EXIF points to sub-IFDs, as a camera's does, is written
    uncompressed, LZW's libtiff refusing them.
    ``note`` (ASCII text: the CLI's settings as JSON) goes into a PNG's ``tEXt`` chunk
    (keyword :data:`NOTE_KEY`), a JPEG's comment (``COM``) or a WebP's or TIFF's XMP packet,
    where :func:`read_note` finds it; BMP is written without it."""
    ext = ext.lower()
    if ext not in WRITE_EXTS:
        raise InputError(_unwritable(ext))
    if quality is not None and not (isinstance(quality, (int, np.integer)) and 1 <= quality <= 100):
        raise InputError(f"quality must be an integer in 1-100, got {quality!r}")
    array = _encodable(array)
    meta = written_meta(meta, ext, array.shape[2] if array.ndim == 3 else 1, array.dtype)[0]
    text = meta.text if meta is not None else ()
    theirs = _xmp_in(text)
    if ext in (".webp", ".tif", ".tiff"):  # the XMP packet (and the note in it), written with the pixels
        return _encode(array, ext, quality, meta, _note_xmp(note, theirs) if note is not None else
                       (theirs.encode("utf-8") if theirs else None))
    data = _encode(array, ext, quality, meta)
    if ext == ".png":
        pairs = text + (((NOTE_KEY.decode(), note),) if note is not None else ())
        chunks = b"".join(_png_chunk(k, v) for k, v in (meta.png_colour if meta is not None else ()))
        chunks += b"".join(_png_text(k, v) for k, v in pairs)
        return _png_insert(data, chunks) if chunks else data
    if ext in (".jpg", ".jpeg"):  # the carried comment, then the note (the XMP packet is an APP1 segment)
        said = [v for k, v in text if k != XMP_KEY]
        coms = ["\n".join(said).encode("utf-8")[:65000]] if said else []
        if note is not None and len(note) + len(NOTE_KEY) + 3 <= 65535:
            coms.append(NOTE_KEY + b" " + note.encode("ascii"))  # JSON written with ensure_ascii
        coms = b"".join(_jpeg_segment(b"\xff\xfe", c) for c in coms)
        return _jpeg_insert(data, coms, after_app=True) if coms else data
    return data


#: the keyword of the note :func:`encode_image` writes (a PNG ``tEXt`` chunk; a JPEG comment starts with it)
NOTE_KEY = b"restore"


def _png_text(key: str, value: str) -> bytes:
    """A PNG text chunk: ``tEXt`` where Latin-1 holds ``value``, ``iTXt`` in UTF-8 otherwise
    (and for an XMP packet, which the standard puts in ``iTXt``)."""
    k = key.encode("latin-1", "replace")[:79]
    if key != XMP_KEY:
        try:
            return _png_chunk(b"tEXt", k + b"\x00" + value.encode("latin-1"))
        except UnicodeEncodeError:
            pass
    return _png_chunk(b"iTXt", k + b"\x00\x00\x00\x00\x00" + value.encode("utf-8"))


def _png_insert(data: bytes, chunks: bytes) -> bytes:
    """PNG ``data`` with ``chunks`` right after its ``IHDR`` chunk."""
    end = 8 + 8 + int.from_bytes(data[8:12], "big") + 4  # the signature, then IHDR
    return data[:end] + chunks + data[end:]


def _jpeg_segment(marker: bytes, payload: bytes) -> bytes:
    return marker + (len(payload) + 2).to_bytes(2, "big") + payload


def _jpeg_insert(data: bytes, segments: bytes, after_app: bool = False) -> bytes:
    """JPEG ``data`` with ``segments`` after its JFIF header (APP0 must come first), or with
    ``after_app`` after all its APPn segments (a comment: EXIF readers look for APP1 at the top)."""
    pos = 4 + int.from_bytes(data[4:6], "big") if data[2:4] == b"\xff\xe0" else 2
    while after_app and data[pos] == 0xFF and 0xE0 <= data[pos + 1] <= 0xEF:
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return data[:pos] + segments + data[pos:]


#: the XMP namespace of the note in a WebP or a TIFF (:func:`_note_xmp`)
NOTE_XMP_NS = "https://restore.invalid/ns/1.0/"


def _note_xmp(note: str, theirs: str | None = None) -> bytes:
    """An XMP packet holding ``note`` as the ``restore:settings`` attribute: a packet of its own,
    or the photo's packet ``theirs`` with it as one more ``rdf:Description`` (:func:`written_meta`
    keeps only packets with an ``rdf:RDF`` element for this)."""
    from html import escape

    mine = f'<rdf:Description rdf:about="" xmlns:restore="{NOTE_XMP_NS}" restore:settings="{escape(note)}"/>'
    if theirs and "</rdf:RDF>" in theirs:
        at = theirs.rindex("</rdf:RDF>")
        return (theirs[:at] + mine + theirs[at:]).encode("utf-8")
    return (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f"{mine}</rdf:RDF></x:xmpmeta>").encode("utf-8")


def _xmp_note(packet) -> str | None:
    """The note in an XMP ``packet`` (:func:`_note_xmp`), or None."""
    from html import unescape

    m = re.search(rb'restore:settings="([^"]*)"', packet) if isinstance(packet, bytes) else None
    return unescape(m.group(1).decode("utf-8", "replace")) if m else None


def _webp_note(f) -> str | None:
    """The note in a WebP's XMP chunk (``f`` open after its 12-byte RIFF header), or None."""
    while True:
        h = f.read(8)
        if len(h) < 8:
            return None
        kind, n = h[:4], int.from_bytes(h[4:], "little")
        if kind == b"XMP ":
            return _xmp_note(f.read(n))
        f.seek(n + (n & 1), 1)


def _tiff_note(f) -> str | None:
    """The note in the XMP packet (tag 700) of a TIFF's first image directory (``f`` open at
    its start), or None; Pillow reads the directory, not the pixels."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(f) as im:
            return _xmp_note(im.tag_v2.get(700))
    except Exception:  # noqa: BLE001 - a directory Pillow cannot read holds no note we wrote
        return None


def read_note(path: str | os.PathLike) -> str | None:
    """The note :func:`encode_image` wrote into the PNG, JPEG, WebP or TIFF file ``path``, or
    None (another type, no note, or a file that is not whole). Reads only the chunks /
    segments / directory before the pixels."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if head[:4] == b"RIFF" and f.read(4) == b"WEBP":
                return _webp_note(f)
            if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # TIFF, BigTIFF
                f.seek(0)
                return _tiff_note(f)
            if head == b"\x89PNG\r\n\x1a\n":
                while True:
                    h = f.read(8)
                    if len(h) < 8:
                        return None
                    n, kind = int.from_bytes(h[:4], "big"), h[4:]
                    if kind in (b"IDAT", b"IEND"):
                        return None
                    if kind == b"tEXt" and n <= 1 << 20:
                        key, _, text = f.read(n).partition(b"\x00")
                        if key == NOTE_KEY:
                            return text.decode("latin-1")
                        f.seek(4, 1)
                    else:
                        f.seek(n + 4, 1)
            if head[:2] == b"\xff\xd8":
                f.seek(2)
                while True:
                    h = f.read(4)
                    if len(h) < 4 or h[0] != 0xFF or h[1] in (0xDA, 0xD9):  # the scan, or no segment
                        return None
                    n = int.from_bytes(h[2:], "big") - 2
                    if h[1] == 0xFE:
                        text = f.read(n)
                        if text.startswith(NOTE_KEY + b" "):
                            return text[len(NOTE_KEY) + 1:].decode("latin-1")
                    else:
                        f.seek(n, 1)
    except OSError:
        return None
    return None


def _encode(array: np.ndarray, ext: str, quality: int | None, meta: Meta | None, xmp: bytes | None = None) -> bytes:
    """:func:`encode_image` without its text and note (a WebP's or a TIFF's ``xmp`` packet written
    with it): ``array`` as :func:`_encodable` makes it, ``ext`` checked, ``meta`` as
    :func:`written_meta` keeps it."""
    cv2 = _cv2()

    channels = array.shape[2] if array.ndim == 3 else 1
    if meta is not None and meta.exif:
        meta = dataclasses.replace(meta, exif=_exif_sized(meta.exif, array.shape[1], array.shape[0], meta.dpi))
    if ext in (".jpg", ".jpeg", ".bmp", ".webp"):
        array = to_uint8(array)
    if channels == 2:  # gray + alpha: kept as such in 8-bit PNG / TIFF, gray in JPEG, else RGBA
        if ext in (".jpg", ".jpeg"):
            array = array[..., 0]
        elif _keeps_gray_alpha(ext, array.dtype):
            return _pil_encode(array, ext, quality, meta or Meta(), xmp)
        else:
            array = np.ascontiguousarray(np.concatenate([np.repeat(array[..., :1], 3, axis=2), array[..., 1:]], axis=2))
    carry = meta is not None and bool(meta.exif or meta.icc or meta.dpi or (
        ext in (".jpg", ".jpeg") and _xmp_in(meta.text) is not None))
    if ext == ".webp" and (carry or xmp or (quality is None and array.ndim == 3 and array.shape[2] == 4)):
        # (OpenCV's lossless WebP changes the colours under fully transparent pixels; Pillow's exact keeps them)
        return _pil_encode(array, ext, quality, meta or Meta(), xmp)
    if ext in (".tif", ".tiff"):
        data = _tiff_beyond_opencv(array, meta if carry else None, xmp)
        if data is not None:
            return data
    arr = array
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGBA2BGRA)
    params = []
    if ext in (".jpg", ".jpeg"):
        q = int(quality or DEFAULT_QUALITY)
        params = [cv2.IMWRITE_JPEG_QUALITY, q]
        if q >= FULL_CHROMA_QUALITY:  # colour at full resolution: 4:2:0 cost 0.1-0.3 dB at quality 95
            params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    elif ext == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality) if quality is not None else 101]  # > 100: lossless
    with _cv2_quiet():
        ok, buf = cv2.imencode(ext, arr, params)
    if not ok:
        raise InputError(f"could not encode the image as {ext}")
    data = buf.tobytes()
    if carry and ext == ".png":
        data = _png_with_meta(data, meta)
    elif carry and ext in (".jpg", ".jpeg"):
        data = _jpeg_with_meta(data, meta)
    return data


def _encodable(array) -> np.ndarray:
    """``array`` as :func:`encode_image` writes it: C-ordered ``H x W`` or ``H x W x 3|4``,
    uint8 or uint16 (float in [0, 1] rounded to uint8); anything else refused."""
    if not isinstance(array, np.ndarray):
        raise InputError(f"an image to write must be a numpy array, got {type(array).__name__}")
    array = native(array)
    a = array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (2, 3, 4)) or 0 in a.shape:
        raise InputError(f"an image to write must be H x W or H x W x C (C = 2 for gray + alpha, 3, 4), got shape "
                         f"{array.shape}")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise InputError("the image to write holds NaN or inf")
        check_float_scale(a, "a float image to write")
        return (np.clip(a, 0, 1) * 255.0).round().astype(np.uint8)
    if a.dtype not in (np.uint8, np.uint16):
        raise InputError(f"cannot write an image of dtype {a.dtype} (use uint8, uint16 or float in [0, 1])")
    return np.ascontiguousarray(a)


def _tiff_beyond_opencv(array: np.ndarray, meta: Meta | None, xmp: bytes | None) -> bytes | None:
    """A TIFF written by Pillow or tifffile where OpenCV's would lose something: ``meta``'s EXIF
    or ICC profile (None: nothing to carry), the note's ``xmp`` packet, or the alpha's meaning
    (OpenCV writes no ExtraSamples, so other readers need not take a 4th sample for alpha).
    Pillow writes 8 bits and 16-bit gray; tifffile 16-bit RGB(A) (Pillow writes none), with the
    ICC profile but no EXIF (:func:`written_meta` drops it). None where OpenCV's TIFF loses
    nothing, or tifffile is missing (it then writes one without)."""
    rgba = array.ndim == 3 and array.shape[2] == 4
    if array.dtype == np.uint8 or array.ndim == 2:
        return _pil_encode(array, ".tif", None, meta or Meta(), xmp) if meta or xmp or rgba else None
    icc, dpi = (meta.icc, meta.dpi) if meta is not None else (None, None)
    return _tifffile_rgb16(array, icc, xmp, dpi) if icc or xmp or rgba or dpi else None


def _tifffile_rgb16(array: np.ndarray, icc: bytes | None = None, xmp: bytes | None = None,
                    dpi: tuple | None = None) -> bytes | None:
    """A 16-bit RGB(A) TIFF, its alpha marked (Pillow writes no 16-bit RGB(A)), with ``icc``, an
    ``xmp`` packet (tag 700) and the resolution ``dpi``; None without tifffile (scikit-image's
    dependency): OpenCV's TIFF is written then."""
    try:
        import tifffile
    except ImportError:
        return None
    buf = io.BytesIO()
    # no Software line ("tifffile.py") nor JSON description: a reader would take them for the photo's
    tifffile.imwrite(buf, array, photometric="rgb", compression="zlib", iccprofile=icc, software=False,
                     metadata=None, extratags=[(700, 1, len(xmp), xmp, True)] if xmp else (),
                     **({"resolution": tuple(dpi), "resolutionunit": "INCH"} if dpi else {}),
                     **({"extrasamples": ["unassalpha"]} if array.shape[2] == 4 else {}))
    return buf.getvalue()


def _keeps_gray_alpha(ext: str, dtype) -> bool:
    """Whether an ``ext`` file of ``dtype`` is written as gray + alpha (Pillow's 8-bit LA);
    otherwise gray + alpha goes out as RGBA (or, in a JPEG, gray)."""
    return ext in (".png", ".tif", ".tiff") and np.dtype(dtype) == np.uint8


def written_meta(meta: Meta | None, ext: str, channels: int, dtype) -> tuple[Meta | None, list[str]]:
    """What of ``meta`` an ``ext`` file of an image with ``channels`` channels (1 gray, 2 gray
    + alpha, 3 RGB, 4 RGBA) of ``dtype`` holds, and what it drops, as said to a person: BMP
    holds neither EXIF nor ICC profile; a 16-bit colour TIFF no EXIF, a JPEG none over 64 KB; a profile of another
    colour space than the pixels' (a gray one on RGB pixels, a CMYK one) would make the file
    invalid. Text: PNG holds all, JPEG a comment and an XMP packet (up to 64 KB), TIFF and WebP
    an XMP packet (one restore's note can join); the resolution: PNG, JPEG and TIFF; a PNG's
    colour chunks: PNG (others say they drop them where they are not sRGB's)."""
    if meta is None or not (meta.exif or meta.icc or meta.text or meta.dpi or meta.png_colour):
        return meta, []
    exif, icc, lost, dpi = meta.exif, meta.icc, [], meta.dpi
    text = meta.text
    xmp = _xmp_in(text)
    dropped = None  # why a format that holds an XMP packet cannot hold this one
    if xmp and ext in (".jpg", ".jpeg") and len(_XMP_APP1) + len(xmp.encode("utf-8")) + 2 > 65535:
        dropped = (f"its XMP ({len(xmp.encode('utf-8')):,} bytes, over the {65533 - len(_XMP_APP1):,} a JPEG's "
                   "XMP segment holds; PNG, TIFF or WebP keep it)")
    elif xmp and ext in (".webp", ".tif", ".tiff") and "</rdf:RDF>" not in xmp:  # restore's note goes inside
        dropped = ("its XMP (a packet without an rdf:RDF element, which restore's record of the settings joins; "
                   "a PNG or JPEG output keeps it)")
    if dropped:
        lost.append(dropped)
        text, xmp = tuple(t for t in text if t[0] != XMP_KEY), None
    if ext == ".png":  # PNG holds every text, BMP none
        gone = ()
    elif ext == ".bmp":
        gone = text
    elif ext in (".jpg", ".jpeg"):  # a JPEG holds one comment and an XMP packet
        gone = tuple((k, v) for k, v in text if k not in ("Comment", XMP_KEY))
    else:  # a TIFF or WebP, an XMP packet
        gone = tuple((k, v) for k, v in text if k != XMP_KEY)
    if any(k == XMP_KEY for k, _ in gone):  # a BMP's: said apart from the rest of the text
        lost.append("its XMP (PNG, JPEG, TIFF and WebP keep it)")
    if any(k != XMP_KEY for k, _ in gone):
        keys = ", ".join(dict.fromkeys(k for k, _ in gone if k != XMP_KEY))
        lost.append(f"its text ({keys[:60]}{'...' if len(keys) > 60 else ''}; a PNG output keeps it)")
    if xmp and "HasExtendedXMP" in xmp:  # the rest of a large packet, in further APP1 segments: not read
        lost.append("its extended XMP (the part of a large packet a JPEG keeps in further segments)")
    text = tuple(t for t in text if t not in gone)
    colour = meta.png_colour if ext == ".png" else ()
    kinds = {k for k, _ in meta.png_colour}
    if ext != ".png" and kinds & {b"gAMA", b"cHRM"} and b"sRGB" not in kinds and not icc:  # not sRGB, no profile
        n = len(meta.png_colour)
        lost.append(f"its {' and '.join(k.decode() for k, _ in meta.png_colour)} chunk{'s' if n > 1 else ''} (how a "
                    f"viewer without an ICC profile shows its colours; a PNG output keeps {'them' if n > 1 else 'it'})")
    if dpi and ext in (".webp", ".bmp"):
        lost.append(f"its resolution ({_dpi_said(dpi)}; PNG, JPEG and TIFF keep it)")
        dpi = None
    if ext == ".bmp":
        lost = [w for w, v in (("its ICC profile", icc), ("its EXIF", exif)) if v] + lost
        return Meta(orientation=meta.orientation), lost
    gray = channels == 1 or (channels == 2 and (ext in (".jpg", ".jpeg") or _keeps_gray_alpha(ext, dtype)))
    space = _icc_space(icc)
    if space in (b"GRAY", b"RGB ", b"CMYK", b"CMY ") and space != (b"GRAY" if gray else b"RGB "):  # others: kept
        name = space.decode("latin-1").strip() or "unnamed"
        lost.append(f"its {name} ICC profile (it does not describe {'gray' if gray else 'RGB'} pixels)")
        icc = None
    if exif and ext in (".jpg", ".jpeg") and len(exif) + 8 > 65535:  # one APP1 segment holds 64 KB
        lost.append(f"its EXIF ({len(exif) // 1024} KB, over the 64 KB a JPEG's EXIF segment holds; PNG or "
                    "TIFF keep it)")
        exif = None
    if exif and ext in (".tif", ".tiff") and channels >= 2 and not gray and np.dtype(dtype) == np.uint16:
        if _exif_tells(exif):  # not only the file's own tags (a TIFF's Software line)
            lost.append("its EXIF (a 16-bit colour TIFF is written without)")
        exif = None
    if icc and ext == ".png":  # an iCCP chunk is written: a PNG with it holds no sRGB chunk
        colour = tuple(c for c in colour if c[0] != b"sRGB")
    return Meta(exif=exif, icc=icc, orientation=meta.orientation, text=text, dpi=dpi,
                png_colour=colour), lost


def without_location(meta: Meta | None) -> Meta | None:
    """``meta`` without where the photo was taken: the EXIF's GPS block, the XMP packet's GPS
    properties and place names (:data:`_PLACE`) and a PNG's raw profiles (the command line's
    ``--no-location``); the rest is kept."""
    if meta is None:
        return None
    exif = meta.exif
    if exif:
        try:
            ex = _exif_of(exif)
            if 0x8825 in ex:
                ex.get_ifd(0x8769)  # loaded, so that it is written back
                del ex[0x8825]
                out = ex.tobytes()
                exif = out[6:] if out.startswith(b"Exif\x00\x00") else out
        except Exception:  # noqa: BLE001 - an EXIF Pillow cannot rewrite: none rather than one with the place
            exif = None

    def plain(v: str) -> str:
        v = re.sub(rf"<([\w.-]+):({_PLACE})\b[^>]*?(?:/>|>.*?</\1:\2\s*>)", "", v, flags=re.S)
        return re.sub(rf"""\s+[\w.-]+:(?:{_PLACE})\s*=\s*(?:"[^"]*"|'[^']*')""", "", v)

    # a PNG's raw profiles (ImageMagick's "Raw profile type exif / xmp / iptc") hold the same, hex-coded
    text = tuple((k, plain(v) if k == XMP_KEY else v) for k, v in meta.text if not k.startswith("Raw profile type"))
    return dataclasses.replace(meta, exif=exif, text=text)


#: XMP properties that say where a photo was taken, by local name under any prefix: the EXIF
#: schema's GPS ones (a drone's GpsLatitude too) and the IPTC / Photoshop place names
_PLACE = (r"(?i:gps)\w*|City|State|Country\w*|ProvinceState|Sublocation|Location\w*|WorldRegion")


def _dpi_said(dpi: tuple) -> str:
    return f"{dpi[0]:.0f} dpi" if round(dpi[0]) == round(dpi[1]) else f"{dpi[0]:.0f} x {dpi[1]:.0f} dpi"


def resized(meta: Meta | None, scale_x: float, scale_y: float) -> Meta | None:
    """``meta`` for the image resized by ``scale_x`` x ``scale_y`` (super-resolved): its
    resolution times the scale, so that it prints at the same size; the rest as it is. (A crop
    keeps its resolution: give its ``meta`` as it is.)"""
    if meta is None or not meta.dpi:
        return meta
    return dataclasses.replace(meta, dpi=(meta.dpi[0] * scale_x, meta.dpi[1] * scale_y))


#: the header of a JPEG's APP1 XMP segment
_XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"


def _exif_of(exif: bytes | None):
    """A Pillow ``Exif`` of :class:`Meta`'s EXIF bytes (a TIFF block, no ``Exif`` header);
    empty for None."""
    from PIL import Image as PILImage

    ex = PILImage.Exif()
    if exif:
        ex.load(b"Exif\x00\x00" + exif)
    return ex


def _exif_tells(exif: bytes) -> bool:
    """Whether an EXIF block holds what a person would miss: the camera (make, model), the
    shot (the Exif sub-IFD: date, exposure, ISO) or where it was taken (GPS)."""
    try:
        return any(t in _exif_of(exif) for t in (0x010F, 0x0110, 0x8769, 0x8825))
    except Exception:  # noqa: BLE001
        return True


#: IFD0 tags that say how a TIFF stores its own pixels (size, samples, strips and tiles, the
#: thumbnail's place): a JPEG's EXIF may carry some (phones write ImageWidth and ImageLength, of the
#: photo as stored), and in a TIFF written with that EXIF they would stand for the image's own,
#: which then does not decode or comes out at the wrong size. They describe no photo, so no output keeps them.
_EXIF_LAYOUT_TAGS = frozenset((0x100, 0x101, 0x102, 0x103, 0x106, 0x111, 0x115, 0x116, 0x117, 0x11C, 0x13D, 0x140,
                               0x142, 0x143, 0x144, 0x145, 0x14A, 0x152, 0x153, 0x201, 0x202))


def _exif_sized(exif: bytes, width: int, height: int, dpi: tuple | None = None) -> bytes:
    """``exif`` with its Exif IFD's pixel dimensions (PixelXDimension, PixelYDimension) set
    to the image written, where it has them and they differ (a turned or enlarged photo), its
    resolution (XResolution, YResolution, where it states it, in its unit) set to ``dpi``, and
    without the tags of :data:`_EXIF_LAYOUT_TAGS`."""
    from PIL.TiffImagePlugin import IFDRational

    try:
        ex = _exif_of(exif)
        sub = ex.get_ifd(0x8769)
        layout = [k for k in ex if k in _EXIF_LAYOUT_TAGS]
        per = {2: 1.0, 3: 1 / 2.54}.get(ex.get(0x128, 2))  # the EXIF's unit: inch or cm
        res = [] if not dpi or per is None or 0x11A not in ex else [
            (k, v * per) for k, v in ((0x11A, dpi[0]), (0x11B, dpi[1])) if abs(float(ex.get(k, 0)) - v * per) > 0.01]
        if not layout and not res and not any(k in sub and sub[k] != v for k, v in ((0xA002, width), (0xA003, height))):
            return exif
        for k, v in ((0xA002, width), (0xA003, height)):
            if k in sub:
                sub[k] = v
        for k, v in res:
            ex[k] = IFDRational(round(v * 100), 100)
        for k in layout:
            del ex[k]
        out = ex.tobytes()
    except Exception:  # an EXIF Pillow cannot rewrite: kept as it was  # noqa: BLE001
        return exif
    return out[6:] if out.startswith(b"Exif\x00\x00") else out


def _pil_encode(array: np.ndarray, ext: str, quality: int | None, meta: Meta, xmp: bytes | None = None) -> bytes:
    from PIL import Image as PILImage

    im = PILImage.fromarray(array)
    kw = {"exif": b"Exif\x00\x00" + meta.exif} if meta.exif else {}
    if meta.icc:
        kw["icc_profile"] = meta.icc
    if meta.dpi and ext != ".webp":
        kw["dpi"] = tuple(meta.dpi)
    if xmp and ext == ".webp":
        kw["xmp"] = xmp
    buf = io.BytesIO()
    if ext == ".webp":
        how = {"quality": int(quality)} if quality is not None else {"lossless": True, "exact": True}
        im.save(buf, "WEBP", **how, **kw)
    elif ext == ".png":
        im.save(buf, "PNG", **kw)
    else:
        # libtiff (LZW) refuses an EXIF that points to sub-IFDs (a camera's Exif IFD with its ISO and
        # exposure, GPS): Pillow's own writer, uncompressed, keeps them
        ex = _exif_of(meta.exif)
        sub = any(tag in ex for tag in (0x8769, 0x8825, 0xA005))
        if xmp:  # the XMP packet (tag 700, BYTE) beside the EXIF's tags in the image's directory
            ex[700] = xmp
            kw["exif"] = ex
        im.save(buf, "TIFF", **({} if sub else {"compression": "tiff_lzw"}), **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import zlib

    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def _png_with_meta(data: bytes, meta: Meta) -> bytes:
    """PNG bytes with an ``iCCP`` and an ``eXIf`` chunk after ``IHDR`` (PNG 1.2 / 2017 ext.)."""
    import zlib

    extra = b""
    if meta.icc:
        icc = meta.icc
        if len(icc) >= 68 and int.from_bytes(icc[64:68], "big") > 3:  # an invalid rendering intent: libpng warns
            icc = icc[:64] + bytes(4) + icc[68:]  # on every read of the output ("iCCP: ... invalid rendering intent")
        extra += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc))
    if meta.exif:
        extra += _png_chunk(b"eXIf", meta.exif)
    if meta.dpi:  # pixels per metre, the unit PNG has
        ppm = [max(1, round(v / 0.0254)) for v in meta.dpi]
        extra += _png_chunk(b"pHYs", ppm[0].to_bytes(4, "big") + ppm[1].to_bytes(4, "big") + b"\x01")
    return _png_insert(data, extra)


def _jpeg_with_meta(data: bytes, meta: Meta) -> bytes:
    """JPEG bytes with an APP1 ``Exif`` segment, an APP1 XMP segment and APP2 ``ICC_PROFILE``
    segments after the JFIF header, whose density states the resolution (an EXIF block too
    large for one segment, e.g. with a big thumbnail, is left out)."""
    segs = b""
    if meta.dpi and data[2:4] == b"\xff\xe0" and data[6:11] == b"JFIF\x00":  # the header's density, in dpi
        x, y = (min(65535, max(1, round(v))) for v in meta.dpi)
        data = data[:13] + b"\x01" + x.to_bytes(2, "big") + y.to_bytes(2, "big") + data[18:]
    if meta.exif and len(meta.exif) + 8 <= 65535:
        segs += _jpeg_segment(b"\xff\xe1", b"Exif\x00\x00" + meta.exif)
    xmp = _xmp_in(meta.text)
    if xmp:  # written_meta kept it only where one segment holds it
        segs += _jpeg_segment(b"\xff\xe1", _XMP_APP1 + xmp.encode("utf-8"))
    if meta.icc:
        size = 65519
        parts = [meta.icc[i : i + size] for i in range(0, len(meta.icc), size)]
        segs += b"".join(_jpeg_segment(b"\xff\xe2", b"ICC_PROFILE\x00" + bytes([k, len(parts)]) + part)
                         for k, part in enumerate(parts, 1))
    return _jpeg_insert(data, segs)


def opaque_value(dtype) -> int:
    """Alpha's opaque value for an image of ``dtype`` (its integer top; 1 for floats)."""
    return int(np.iinfo(dtype).max) if np.dtype(dtype).kind == "u" else 1


def opaque(alpha: np.ndarray) -> bool:
    """Whether an alpha channel is fully opaque (:func:`opaque_value` everywhere): dropping it
    loses nothing."""
    a = np.asarray(alpha)
    return bool((a >= opaque_value(a.dtype)).all())


def format_drops(ext: str, *, alpha: bool, sixteen: bool) -> list[str]:
    """What an ``ext`` file cannot hold of an image with an ``alpha`` channel or ``sixteen``
    bits a sample, as said to a person: a JPEG holds no transparency, JPEG, BMP and WebP no 16
    bits (the command line warns of it before the work, :func:`write_image` as it writes)."""
    return [what for what, gone in (("the transparency", alpha and ext in (".jpg", ".jpeg")),
                                    ("the 16-bit depth", sixteen and ext in (".jpg", ".jpeg", ".bmp", ".webp")))
            if gone]


def write_image(path: str | os.PathLike, array: np.ndarray, *, overwrite: bool = False, quality: int | None = None,
                meta: Meta | None = None, note: str | None = None, warn: bool = True) -> Path:
    """Write ``array`` (``H x W [x C]``, RGB(A) order, uint8 / uint16, or float in [0, 1]
    as 8 bits; see :func:`encode_image`) atomically.

    The image goes to a temp file beside ``path`` and is renamed into place, so a crash
    never leaves a half-written output. An existing file is an error unless ``overwrite``.
    ``quality``, ``meta`` and ``note`` as in :func:`encode_image`. What the format cannot hold
    (an alpha channel in a JPEG, 16 bits in a JPEG, BMP or WebP, ``meta``'s EXIF in a BMP...)
    is said in a ``UserWarning`` each, as is a float image with over 1 % of its samples outside
    [0, 1] (written clipped), unless ``warn`` is False (the command line says it before the work).
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in WRITE_EXTS:
        raise InputError(f"{p}: {_unwritable(ext)}")
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not an image file")
    if p.exists() and not overwrite:
        raise InputError(f"{p}: exists (overwrite=True, or --overwrite, replaces it)")
    try:
        data = encode_image(array, ext, quality=quality, meta=meta, note=note)
    except InputError as e:
        raise InputError(f"{p}: {e}") from None
    if warn:
        a = np.asarray(array)
        channels = a.shape[2] if a.ndim == 3 else 1
        lost = format_drops(ext, alpha=channels in (2, 4) and not opaque(a[..., -1]),
                            sixteen=a.dtype.itemsize == 2 and a.dtype.kind == "u")
        lost += written_meta(meta, ext, channels, a.dtype)[1]
        for what in lost:
            warnings.warn(f"{p}: a {ext[1:].upper()} output drops {what}", UserWarning, stacklevel=2)
        outside = outside_share(a) if a.dtype.kind == "f" else 0.0
        if outside > OUTSIDE_SHARE:  # written as their clipped [0, 1] part, as the restore calls warn of it
            warnings.warn(f"{p}: {outside:.1%} of the image's samples lie outside [0, 1] (from {float(a.min()):.4g} "
                          f"to {float(a.max()):.4g}): written clipped to [0, 1]", UserWarning, stacklevel=2)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=hidden_name(p.name, ".", room=12), suffix=".tmp")
    except OSError as e:  # a read-only or full folder: the output's own error, not an internal one
        raise write_error(p, e) from None
    try:
        os.chmod(tmp, file_mode())
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:  # a full disk, a quota: the output's own error, not an internal one
            raise write_error(p, e) from None
        _into_place(tmp, p, overwrite)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p


def _into_place(tmp: str, p: Path, overwrite: bool) -> None:
    """The written temp file ``tmp`` renamed to ``p``. Without ``overwrite`` a hard link
    makes it, which fails if ``p`` exists (a check, then a rename, let two writers both
    succeed, the last one's file kept); where links are not made (some file systems) a check
    just before the rename."""
    exists = InputError(f"{p}: exists (overwrite=True, or --overwrite, replaces it)")
    try:
        if not overwrite:
            try:
                os.link(tmp, p)  # the caller removes tmp
                return
            except FileExistsError:
                raise exists from None
            except OSError:  # no hard links here
                if p.exists():
                    raise exists from None
        os.replace(tmp, p)
    except IsADirectoryError:
        raise InputError(f"{p}: is a folder, not an image file") from None
    except OSError as e:  # (an InputError above is no OSError: it passes)
        raise write_error(p, e) from None


def write_error(p: Path, e: OSError) -> InputError:
    """The error for output ``p`` that ``e`` kept from being written: a :class:`DiskFullError`
    for want of space (a full disk, a quota)."""
    import errno

    kind = DiskFullError if e.errno in (errno.ENOSPC, errno.EDQUOT) else InputError
    return kind(f"{p}: cannot write ({e.strerror or _first_line(e)})")


def incomplete(path: str | os.PathLike) -> str | None:
    """Why the existing file ``path`` is not a whole image, or None when it looks whole.

    A cheap check (the file's size, its PNG or JPEG signature and end marker; other formats only
    by size) for a folder run's resume: :func:`write_image` never leaves half a file, but a copy
    or a full disk outside it can.
    """
    p = Path(path)
    size = p.stat().st_size
    if size == 0:
        return "is empty"
    ext = p.suffix.lower()
    ends = {".png": (b"\x89PNG\r\n\x1a\n", b"IEND", "PNG"), ".jpg": (b"\xff\xd8", b"\xff\xd9", "JPEG"),
            ".jpeg": (b"\xff\xd8", b"\xff\xd9", "JPEG")}
    if ext not in ends:
        return None
    head, end, kind = ends[ext]
    with open(p, "rb") as f:
        start = f.read(len(head))
        f.seek(max(0, size - 4096))
        tail = f.read()
    if start != head:
        return f"is not a {kind} file"
    if end not in tail:
        return f"has no {kind} end marker (cut short?)"
    return None


#: a float image reaching above this is on another scale (0-255, 0-65535), not [0, 1] overshoot
FLOAT_MAX = 4.0
#: a float image with more than this share of its pixels under -0.25 is in [-1, 1], not [0, 1] with noise
FLOAT_NEGATIVE_SHARE = 0.2
#: ... or with more than this share of its pixels whose 5x5 median (of the channels' mean) is
#: under -0.5: noise that deep would need a std of about 2 (a median of 25 values has a
#: quarter of one value's std), a dark region of a [-1, 1] image is there as it is
FLOAT_DARK_SHARE = 0.01
#: ... and, as for the dark side, more than that share in regions whose 5x5 median (of any channel)
#: is over this: a linear or HDR image (or one scaled up), whose bright part would come out clipped
FLOAT_BRIGHT = 1.25


#: a float image with more of its samples than this outside [0, 1] by over ``OUTSIDE_BY`` is warned of
#: (its result is clipped; a float's rounding, 1.0000001, is no such sample; 1e-4 is a 40th of an 8-bit level)
OUTSIDE_SHARE, OUTSIDE_BY = 0.01, 1e-4


def outside_share(a) -> float:
    """The share of a float array's or tensor's samples outside [0, 1] by over ``OUTSIDE_BY``."""
    out = (a < -OUTSIDE_BY) | (a > 1 + OUTSIDE_BY)
    n = out.numel() if callable(getattr(out, "numel", None)) else out.size
    return float(out.sum()) / max(1, n)


def check_float_scale(a: np.ndarray, what: str = "a float image") -> None:
    """Refuse a float ``H x W [x C]`` array that is on another scale than [0, 1] (0-255,
    0-65535, [-1, 1]): taken as [0, 1] it would come out as its clipped [0, 1] part (a 0-255
    image white, a [-1, 1] one with its dark half black), or whose bright regions lie well over
    1 (a linear or HDR image: they would come out clipped). Values a little outside [0, 1]
    (unclipped noise, overshoot) are taken as they are."""
    top = float(a.max())
    if top > FLOAT_MAX:
        raise InputError(f"{what} must be in [0, 1], this one reaches {top:g} (0-255 values? divide by 255, "
                         "or pass the uint8 array)")
    if top > FLOAT_BRIGHT:
        med = _cv2().medianBlur(np.ascontiguousarray(a, dtype=np.float32), 5) if min(a.shape[:2]) >= 5 else a
        bright = float(np.mean((med.max(axis=2) if med.ndim == 3 else med) > FLOAT_BRIGHT))  # clipped per channel
        if bright > FLOAT_DARK_SHARE:
            raise InputError(f"{what} must be in [0, 1], {bright:.0%} of this one lies in regions above "
                             f"{FLOAT_BRIGHT:g} (it reaches {top:.3g}; a linear or HDR image? scale it into [0, 1]: "
                             "the output is clipped there)")
    share = float(np.mean(a < -0.25))
    if share > FLOAT_NEGATIVE_SHARE:
        raise InputError(f"{what} must be in [0, 1], {share:.0%} of this one is below -0.25 (values in [-1, 1]? "
                         "pass (x + 1) / 2)")
    if share > 0:
        grey = np.ascontiguousarray((a.mean(axis=2) if a.ndim == 3 else a), dtype=np.float32)
        dark = float(np.mean(_cv2().medianBlur(grey, 5) < -0.5)) if min(grey.shape) >= 5 else 0.0
        if dark > FLOAT_DARK_SHARE:
            raise InputError(f"{what} must be in [0, 1], {dark:.0%} of this one lies in regions below -0.5 "
                             "(values in [-1, 1]? pass (x + 1) / 2)")


def to_uint8(array: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 by rounding (``/ 257``); uint8 passes through."""
    if array.dtype == np.uint16:
        return (array.astype(np.float32) / 257.0).round().astype(np.uint8)
    return array


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def file_mode() -> int:
    """The mode a new file gets here (``0o666`` less the umask): for files written through a
    temporary one, which ``mkstemp`` and safetensors create private (0600)."""
    return 0o666 & ~_umask()


def native(a: np.ndarray) -> np.ndarray:
    """``a`` in the machine's byte order (a big-endian ``>u2`` array, as FITS and some TIFF
    readers give, as plain uint16), else ``a`` itself."""
    return a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("="))


def to_tensor(array: np.ndarray):
    """``H x W [x C]`` uint8/uint16/float array -> ``(1, C, H, W)`` float32 tensor in [0, 1]."""
    import torch

    a = native(np.asarray(array))
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
    a = a[:, :, 0] if a.shape[2] == 1 else np.ascontiguousarray(a)  # H x W x C in C order, as OpenCV draws on
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return (a * 255.0).round().astype(np.uint8)
    if dtype == np.uint16:
        return (a * 65535.0).round().astype(np.uint16)
    return a.astype(dtype)
