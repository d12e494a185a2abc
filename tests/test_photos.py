"""Photos as people have them: EXIF orientation applied on reading, EXIF and ICC profile kept
in the outputs, JPEG/WebP quality, HEIC through its plugin, --threads."""

import functools
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageCms, ImageOps

from restore.cli.main import main
from restore.io import Meta, encode_image, orient, read_image, write_image


@pytest.fixture
def run(tiny_prior_dir):
    def _run(*args):
        a = [str(x) for x in args] + ["--weights", str(tiny_prior_dir), "-q"]
        return CliRunner().invoke(main, a, catch_exceptions=False)

    return _run


def _pattern(h, w):
    """A picture whose orientation shows: a ramp across, a bar near the top-left."""
    rng = np.random.default_rng(0)
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = np.linspace(0, 255, w)[None, :]
    a[..., 1] = np.linspace(0, 255, h)[:, None]
    a[2:10, 2:30, 2] = 255
    return np.clip(a.astype(int) + rng.integers(-3, 4, a.shape), 0, 255).astype(np.uint8)


def _exif(**tags):
    ex = Image.Exif()
    names = {"make": 0x010F, "model": 0x0110, "orientation": 0x0112}
    for k, v in tags.items():
        ex[names[k]] = v
    return ex


@pytest.mark.parametrize("o", range(1, 9))
def test_orientation_matches_pillows_exif_transpose(o):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", exif=_exif(orientation=o).tobytes())
    want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))))
    assert np.array_equal(orient(a, o), want)


def test_a_phone_jpeg_comes_out_as_displayed_with_its_exif(tmp_path, run):
    """A phone's portrait shot: stored 768x512 (W x H) with Orientation=6; read, restored and
    written as the 512x768 the viewer shows; a 512x768 mask drawn on the displayed photo
    fits; the camera make is kept and the orientation tag reset to 1."""
    stored = _pattern(512, 768)
    src = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(src, "JPEG", quality=95, exif=_exif(make="TestCam", orientation=6).tobytes())
    img = read_image(src)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(src)))
    assert img.array.shape == (768, 512, 3) and np.array_equal(img.array, shown) and img.meta.orientation == 6
    r = run("denoise", src, "--sigma", "0", "-o", tmp_path / "out.jpg")
    assert r.exit_code == 0, r.output
    out = Image.open(tmp_path / "out.jpg")
    assert out.size == (512, 768)
    ex = out.getexif()
    assert ex.get(0x010F) == "TestCam" and ex.get(0x0112) == 1
    r = run("denoise", src, "--sigma", "0", "-o", tmp_path / "out.png")
    assert r.exit_code == 0 and np.array_equal(read_image(tmp_path / "out.png").array, img.array)
    mask = np.zeros((768, 512), np.uint8)
    mask[600:640, 100:180] = 255  # lower left as displayed: off the image's stored bounds (512 high)
    write_image(tmp_path / "mask.png", mask)
    r = run("inpaint", src, tmp_path / "mask.png", "--steps", "1", "-o", tmp_path / "filled.png")
    assert r.exit_code == 0, r.output
    filled = read_image(tmp_path / "filled.png").array
    assert filled.shape == (768, 512, 3)
    assert np.array_equal(filled[:500], img.array[:500])  # pixels far from the hole kept, as displayed


def test_icc_profile_and_exif_survive_png_webp_tiff(tmp_path, run):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "in.png"
    Image.fromarray(_pattern(40, 48)).save(src, "PNG", icc_profile=icc, exif=_exif(make="TestCam").tobytes())
    for ext in (".png", ".webp", ".tif", ".jpg"):
        out = tmp_path / f"out{ext}"
        r = run("denoise", src, "--sigma", "5", "-o", out)
        assert r.exit_code == 0, r.output
        im = Image.open(out)
        assert im.info.get("icc_profile") == icc, ext
        assert im.getexif().get(0x010F) == "TestCam", ext
    # the side-by-side keeps the colour profile (its pixels are the photo's colours), not the EXIF
    r = run("denoise", src, "--sigma", "5", "-o", tmp_path / "c.png", "--compare")
    assert r.exit_code == 0, r.output
    im = Image.open(tmp_path / "c.compare.png")
    assert im.info.get("icc_profile") == icc and 0x010F not in im.getexif()
    # a camera's EXIF points to its Exif IFD (ISO, exposure): libtiff's LZW writer refused it
    cam = _exif(make="TestCam")
    cam.get_ifd(0x8769)[0x8827] = 3200  # ISO
    Image.fromarray(_pattern(40, 48)).save(tmp_path / "camera.jpg", "JPEG", exif=cam.tobytes())
    for ext in (".tif", ".png", ".jpg", ".webp"):
        out = tmp_path / f"cam{ext}"
        r = run("denoise", tmp_path / "camera.jpg", "--sigma", "5", "-o", out)
        assert r.exit_code == 0, r.output
        ex = Image.open(out).getexif()
        assert ex.get(0x010F) == "TestCam" and ex.get_ifd(0x8769).get(0x8827) == 3200, ext
    # 16-bit PNG keeps them too (chunks added to OpenCV's own encoding)
    deep = (np.random.default_rng(1).random((20, 24, 3)) * 65535).astype(np.uint16)
    data = encode_image(deep, ".png", meta=Meta(exif=None, icc=icc))
    im = Image.open(io.BytesIO(data))
    assert im.info.get("icc_profile") == icc
    assert np.array_equal(read_image_bytes(data, tmp_path), deep)


def read_image_bytes(data, tmp_path):
    p = tmp_path / "deep.png"
    p.write_bytes(data)
    return read_image(p).array


def test_quality_sets_the_jpeg_tables_and_webp_compression(tmp_path, run):
    src = tmp_path / "in.png"
    write_image(src, _pattern(48, 64))
    r = run("denoise", src, "--sigma", "5", "--quality", "70", "-o", tmp_path / "q70.jpg")
    assert r.exit_code == 0, r.output
    ref = io.BytesIO()
    Image.fromarray(_pattern(48, 64)).save(ref, "JPEG", quality=70)
    assert Image.open(tmp_path / "q70.jpg").quantization == Image.open(ref).quantization
    r = run("denoise", src, "--sigma", "5", "-o", tmp_path / "default.jpg")
    ref95 = io.BytesIO()
    Image.fromarray(_pattern(48, 64)).save(ref95, "JPEG", quality=95)
    assert Image.open(tmp_path / "default.jpg").quantization == Image.open(ref95).quantization
    lossy = encode_image(_pattern(48, 64), ".webp", quality=30)
    lossless = encode_image(_pattern(48, 64), ".webp")
    assert len(lossy) < len(lossless)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(lossless)).convert("RGB")), _pattern(48, 64))
    r = CliRunner().invoke(main, ["denoise", str(src), "--quality", "0"])
    assert r.exit_code == 2
    r = run("denoise", src, "--sigma", "5", "--quality", "70", "-o", tmp_path / "q.png")
    assert r.exit_code == 0 and "--quality applies to JPEG and WebP" in r.output


def test_threads(tmp_path, run):
    import torch

    src = tmp_path / "in.png"
    write_image(src, _pattern(32, 32))
    before = torch.get_num_threads()
    try:
        r = run("denoise", src, "--sigma", "5", "--threads", "1", "--json", "-o", tmp_path / "o.png")
        assert r.exit_code == 0, r.output
        assert torch.get_num_threads() == 1 and json.loads(r.output.splitlines()[-1])["output"].endswith("o.png")
    finally:
        torch.set_num_threads(before)


def test_heic_needs_its_plugin_or_reads(tmp_path):
    p = tmp_path / "phone.heic"
    try:
        import pillow_heif
    except ImportError:
        p.write_bytes(b"\x00\x00\x00\x18ftypheic")
        with pytest.raises(Exception, match=r"restore\[heic\]"):
            read_image(p)
        return
    pillow_heif.register_heif_opener()
    a = _pattern(32, 48)
    Image.fromarray(a).save(p, "HEIF", quality=95)
    img = read_image(p)
    assert img.array.shape == (32, 48, 3) and np.abs(img.array.astype(int) - a).mean() < 8


def test_folder_mode_keeps_each_photos_own_exif_and_orientation(tmp_path, run):
    """A folder (and so a batch) carries each file's own metadata to its own output."""
    src = tmp_path / "in"
    src.mkdir()
    for i, (make, o) in enumerate((("CamA", 6), ("CamB", 1), ("CamC", 8))):
        Image.fromarray(_pattern(24, 40)).save(src / f"p{i}.jpg", "JPEG", quality=95,
                                                exif=_exif(make=make, orientation=o).tobytes())
    r = run("denoise", src, "--sigma", "5", "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    for i, (make, size) in enumerate((("CamA", (24, 40)), ("CamB", (40, 24)), ("CamC", (24, 40)))):
        out = Image.open(tmp_path / "out" / f"p{i}.png")
        assert out.size == size and out.getexif().get(0x010F) == make and out.getexif().get(0x0112) in (None, 1)


def test_an_output_format_that_drops_alpha_or_depth_says_so(tmp_path, run):
    rgba = np.dstack([_pattern(24, 32), np.full((24, 32), 200, np.uint8)])
    write_image(tmp_path / "a.png", rgba)
    deep = (_pattern(24, 32).astype(np.uint16) * 257)
    write_image(tmp_path / "d.png", deep)
    r = run("denoise", tmp_path / "a.png", "--sigma", "5", "-o", tmp_path / "a.jpg")
    assert r.exit_code == 0 and "a JPG output drops the transparency" in r.output
    r = run("denoise", tmp_path / "d.png", "--sigma", "5", "-o", tmp_path / "d.webp")
    assert r.exit_code == 0 and "a WEBP output drops the 16-bit depth" in r.output
    r = run("denoise", tmp_path / "d.png", "--sigma", "5", "-o", tmp_path / "d.tif")
    assert r.exit_code == 0 and "drops" not in r.output


@functools.lru_cache(maxsize=None)
def _srgb() -> bytes:
    """ImageCms's sRGB profile, made once: its header holds the time it was made, so two made a
    second apart differ (a test comparing them failed about 1 run in 6)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _icc(space: bytes = b"RGB ") -> bytes:
    """An sRGB profile, its header's colour space set to ``space`` (a stand-in for a gray or CMYK
    profile: ImageCms makes no such profile)."""
    b = bytearray(_srgb())
    b[16:20] = space
    return bytes(b)


def test_gray_with_alpha_is_restored_as_gray_and_written_as_such(tmp_path, run):
    """A gray + alpha (LA) image was read as RGBA and restored as colour: colour fringes on a
    gray photo (|R - G| up to 12 after deblur). It is read as H x W x 2, restored as gray, and
    written as LA where the format holds it (8-bit PNG / TIFF), gray in a JPEG, RGBA else."""
    la = np.dstack([_pattern(24, 32)[..., 0], np.full((24, 32), 200, np.uint8)])
    Image.fromarray(la, "LA").save(tmp_path / "la.png", icc_profile=_icc(b"GRAY"))
    img = read_image(tmp_path / "la.png")
    assert img.array.shape == (24, 32, 2) and img.has_alpha and img.color.shape == (24, 32)
    assert np.array_equal(img.alpha, la[..., 1])
    r = run("deblur", tmp_path / "la.png", "--kernel", "gaussian:1.0", "-o", tmp_path / "o.png")
    out = Image.open(tmp_path / "o.png")
    assert r.exit_code == 0 and out.mode == "LA" and out.info["icc_profile"][16:20] == b"GRAY"
    assert np.array_equal(np.asarray(out)[..., 1], la[..., 1])
    for ext, mode in ((".jpg", "L"), (".tif", "LA"), (".bmp", "RGBA"), (".webp", "RGBA")):
        r = run("denoise", tmp_path / "la.png", "--sigma", "5", "-o", tmp_path / f"o{ext}")
        got = Image.open(tmp_path / f"o{ext}")
        assert r.exit_code == 0 and got.mode == mode, (ext, got.mode)
        if mode == "RGBA":  # equal colours, and the gray profile left out of an RGB file, said so
            a = np.asarray(got).astype(int)
            assert np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2])
            said = "drops its ICC profile" if ext == ".bmp" else "drops its GRAY ICC profile (it does not describe RGB"
            assert "icc_profile" not in got.info and said in r.output


def test_an_output_never_carries_a_profile_of_another_colour_space_and_says_what_it_drops(tmp_path, run):
    """A CMYK or gray profile was copied into RGB outputs (libpng: 'invalid ICC profile color
    space'); BMP dropped ICC and EXIF in silence, and warned that it drops alpha, which it keeps."""
    rgb = _pattern(24, 32)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", icc_profile=_icc(b"CMYK"))
    r = run("denoise", tmp_path / "cmyk.jpg", "--sigma", "5", "-o", tmp_path / "c.png")
    assert r.exit_code == 0 and Image.open(tmp_path / "c.png").info.get("icc_profile") is None
    Image.fromarray(rgb).save(tmp_path / "g.png", icc_profile=_icc(b"GRAY"), exif=_exif(make="Cam").tobytes())
    r = run("denoise", tmp_path / "g.png", "--sigma", "5", "-o", tmp_path / "g2.png")
    out = Image.open(tmp_path / "g2.png")
    assert "icc_profile" not in out.info and out.getexif().get(0x010F) == "Cam"
    assert "a PNG output drops its GRAY ICC profile (it does not describe RGB pixels)" in r.output
    rgba = np.dstack([rgb, np.arange(32, dtype=np.uint8)[None].repeat(24, 0) * 8])
    Image.fromarray(rgba).save(tmp_path / "a.png", icc_profile=_icc(), exif=_exif(make="Cam").tobytes())
    r = run("denoise", tmp_path / "a.png", "--sigma", "5", "-o", tmp_path / "a.bmp")
    assert r.exit_code == 0 and "a BMP output drops its ICC profile and its EXIF" in r.output
    assert "transparency" not in r.output and np.array_equal(read_image(tmp_path / "a.bmp").alpha, rgba[..., 3])


def test_a_16_bit_colour_tiff_keeps_its_profile(tmp_path, run):
    tifffile = pytest.importorskip("tifffile")
    deep = _pattern(24, 32).astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "p.tif", deep, photometric="rgb", iccprofile=_icc())
    r = run("denoise", tmp_path / "p.tif", "--sigma", "5", "-o", tmp_path / "o.tif")
    page = tifffile.TiffFile(tmp_path / "o.tif").pages[0]
    assert r.exit_code == 0 and page.dtype == np.uint16 and page.tags[34675].value == _icc()
    assert read_image(tmp_path / "o.tif").meta.icc == _icc() and "drops" not in r.output


def test_exif_pixel_dimensions_follow_the_output_and_jpeg_colour_is_full_resolution(tmp_path, run):
    """PixelXDimension / PixelYDimension were copied as they were (an enlarged or turned photo
    kept the old size); a JPEG output at the default quality was 4:2:0 (0.1-0.3 dB lost)."""
    ex = _exif(make="Cam")
    ex[0x8769] = {0xA002: 32, 0xA003: 24, 0x8827: 800}
    Image.fromarray(_pattern(24, 32)).save(tmp_path / "s.jpg", exif=ex.tobytes(), quality=95)
    r = run("sr", tmp_path / "s.jpg", "--scale", "2", "-o", tmp_path / "big.jpg")
    out = Image.open(tmp_path / "big.jpg")
    sub = out.getexif().get_ifd(0x8769)
    assert r.exit_code == 0 and out.size == (64, 48) and (sub[0xA002], sub[0xA003], sub[0x8827]) == (64, 48, 800)
    assert [layer[1:3] for layer in out.layer] == [(1, 1)] * 3  # 4:4:4
    r = run("denoise", tmp_path / "s.jpg", "--sigma", "5", "-o", tmp_path / "q80.jpg", "--quality", "80")
    assert [layer[1:3] for layer in Image.open(tmp_path / "q80.jpg").layer][0] == (2, 2)  # 4:2:0 below 90


def test_a_phones_exif_image_size_tags_do_not_break_a_tiff(tmp_path, run):
    """Phones write ImageWidth / ImageLength (of the photo as stored) in a JPEG's EXIF: copied
    into a TIFF output they stood for its own size, so a turned portrait did not decode (LZW
    "not enough data") and an enlarged photo came out 150x200 and scrambled; with the Exif IFD's
    pixel dimensions as well, writing failed. No output keeps them; the rest of the EXIF stays."""
    stored = _pattern(32, 24)  # a portrait stored sideways, Orientation 6: displayed 32 wide, 24 high
    ex = _exif(model="SM-G991B", orientation=6)
    ex[0x100], ex[0x101] = 24, 32
    Image.fromarray(stored).save(tmp_path / "p.jpg", exif=ex.tobytes(), quality=95)
    ex = _exif(model="SM-G991B")
    ex[0x100], ex[0x101] = 32, 24
    ex[0x8769] = {0xA002: 32, 0xA003: 24}
    Image.fromarray(_pattern(24, 32)).save(tmp_path / "s.jpg", exif=ex.tobytes(), quality=95)
    for name, args, size in (("p", ("denoise", tmp_path / "p.jpg", "--sigma", "5"), (32, 24)),
                             ("s", ("sr", tmp_path / "s.jpg", "--scale", "2", "--steps", "2"), (64, 48))):
        for ext in (".tif", ".png", ".jpg"):
            out = tmp_path / f"{name}.out{ext}"
            r = run(*args, "-o", out)
            assert r.exit_code == 0, r.output
            im = Image.open(out)
            im.load()  # decodes: the TIFF's own layout, not the EXIF's
            got = im.getexif()
            assert im.size == size and got[0x110] == "SM-G991B", (out, im.size)
            assert ext == ".tif" or (0x100 not in got and 0x101 not in got)
            if ext == ".tif":
                assert (got[0x100], got[0x101]) == size  # the TIFF's own tags, written by its encoder
    assert np.abs(np.asarray(Image.open(tmp_path / "p.out.tif"), float)
                  - np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "p.jpg")), float)).mean() < 3


_XMP = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"><dc:title>Harbour at '
        'dusk</dc:title><xmp:Rating>5</xmp:Rating></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def _xmp_in(path) -> str:
    im = Image.open(path)
    x = im.info.get("xmp") or (getattr(im, "text", None) or {}).get("XML:com.adobe.xmp") or b""
    return x.decode("utf-8") if isinstance(x, bytes) else x


def test_xmp_and_resolution_are_kept_and_the_exif_comes_first(tmp_path, run):
    """From a trial: a photo's XMP (title, rating, an editor's settings) was dropped from JPEG,
    TIFF and WebP inputs without a word, and its resolution (300 dpi) from every output; a JPEG
    output put restore's comment before the EXIF segment, where strict readers look first."""
    from restore.io import read_note

    photo = Image.fromarray(_pattern(24, 32))
    srcs = {".jpg": dict(quality=95, dpi=(300, 300), exif=_exif(model="Cam").tobytes()),
            ".tif": dict(dpi=(300, 300), tiffinfo={700: _XMP.encode("utf-8")}), ".webp": dict(lossless=True),
            ".png": dict(dpi=(300, 300))}
    for ext, kw in srcs.items():
        if ext != ".tif":
            kw = {**kw, **({"xmp": _XMP.encode("utf-8")} if ext != ".png" else {})}
        photo.save(tmp_path / f"in{ext}", **kw)
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", _XMP)
    photo.save(tmp_path / "in.png", dpi=(300, 300), pnginfo=info)
    for src in srcs:
        for ext in (".jpg", ".png", ".tif", ".webp"):
            out = tmp_path / f"out{src[1:]}{ext}"
            r = run("denoise", tmp_path / f"in{src}", "--sigma", "5", "-o", out)
            assert r.exit_code == 0, r.output
            assert "Harbour at dusk" in _xmp_in(out) and "<xmp:Rating>5" in _xmp_in(out), (src, ext)
            assert read_note(out) is not None  # restore's record, beside theirs in a TIFF's or WebP's packet
            dpi = Image.open(out).info.get("dpi")
            if src == ".webp":
                assert not dpi or ext != ".jpg"
            elif ext == ".webp":
                assert "drops its resolution (300 dpi" in r.output
            else:
                assert dpi and abs(dpi[0] - 300) < 0.5 and abs(dpi[1] - 300) < 0.5, (src, ext, dpi)
    back = read_image(tmp_path / "outjpg.tif").meta  # read again: their packet, without restore's record
    assert [k for k, _ in back.text] == ["XML:com.adobe.xmp"] and "restore:settings" not in back.text[0][1]
    data = (tmp_path / "outjpg.jpg").read_bytes()
    markers, i = [], 2
    while data[i + 1] != 0xDA:
        markers.append((data[i + 1], data[i + 4 : i + 8]))
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    assert [m for m, _ in markers[:4]] == [0xE0, 0xE1, 0xE1, 0xFE] and markers[1][1] == b"Exif"
    r = run("sr", tmp_path / "in.jpg", "--scale", "2", "--steps", "2", "-o", tmp_path / "big.jpg")
    assert r.exit_code == 0 and Image.open(tmp_path / "big.jpg").info["dpi"] == (600, 600)  # the same print size
    assert "Harbour at dusk" in _xmp_in(tmp_path / "big.jpg")
    from restore.io import resized

    img = read_image(tmp_path / "in.jpg")  # the API: a crop keeps the resolution, resized() scales it
    write_image(tmp_path / "crop.png", img.array[:12], meta=img.meta)
    write_image(tmp_path / "x3.png", np.repeat(np.repeat(img.array, 3, 0), 3, 1), meta=resized(img.meta, 3, 3))
    assert [round(Image.open(tmp_path / f).info["dpi"][0]) for f in ("crop.png", "x3.png")] == [300, 900]
    # a second trial: Pillow's stand-ins (1 dpi for a TIFF without the tags, 72 for a JPEG with an EXIF
    # without them) were taken as stated, and an EXIF's own non-square resolution (or in cm) as square
    photo.save(tmp_path / "nores.tif")
    photo.save(tmp_path / "nores.jpg", exif=_exif(model="Cam").tobytes())
    ex = _exif(orientation=6)
    ex[0x11A], ex[0x11B], ex[0x128] = 300.0, 150.0, 2
    photo.save(tmp_path / "o6.jpg", exif=ex.tobytes())
    ex = _exif(model="Cam")
    ex[0x11A], ex[0x11B], ex[0x128] = 100.0, 50.0, 3  # per cm
    photo.save(tmp_path / "cm.jpg", exif=ex.tobytes())
    assert [read_image(tmp_path / f).meta.dpi for f in ("nores.tif", "nores.jpg", "o6.jpg", "cm.jpg")] == [
        None, None, (150.0, 300.0), (254.0, 127.0)]  # o6 turned a quarter: x and y swap
    r = run("denoise", tmp_path / "o6.jpg", "--sigma", "5", "-o", tmp_path / "o6.out.jpg")
    got = Image.open(tmp_path / "o6.out.jpg")
    assert r.exit_code == 0 and got.info["dpi"] == (150, 300)
    assert (got.getexif()[0x11A], got.getexif()[0x11B]) == (150, 300)


def test_png_colour_chunks_and_a_gray_colour_key_are_kept(tmp_path, run):
    """From a trial: a PNG's gAMA chunk (gamma 1/1.8, no profile) was dropped, so browsers showed
    the output brighter than the input; a gray PNG's colour-key transparency (tRNS) was lost (an
    RGB one's became alpha)."""
    import struct
    import zlib

    a = _pattern(24, 32)
    Image.fromarray(a).save(tmp_path / "plain.png")
    d = (tmp_path / "plain.png").read_bytes()
    g = struct.pack(">I", 55556)
    chunk = struct.pack(">I", 4) + b"gAMA" + g + struct.pack(">I", zlib.crc32(b"gAMA" + g))
    (tmp_path / "g.png").write_bytes(d[:33] + chunk + d[33:])
    r = run("denoise", tmp_path / "g.png", "--sigma", "5", "-o", tmp_path / "g2.png")
    assert r.exit_code == 0 and Image.open(tmp_path / "g2.png").info.get("gamma") == 0.55556
    r = run("denoise", tmp_path / "g.png", "--sigma", "5", "-o", tmp_path / "g2.jpg")
    assert r.exit_code == 0 and "drops its gAMA chunk (how a viewer without an ICC profile" in r.output
    gray = a[..., 1].copy()
    gray[:4, :4] = 0
    Image.fromarray(gray).save(tmp_path / "key.png", transparency=0)
    img = read_image(tmp_path / "key.png")
    assert img.array.shape == (24, 32, 2) and (img.array[..., 1] == np.where(gray == 0, 0, 255)).all()


def test_a_10_bit_heic_is_read_as_16_bits(tmp_path):
    """From a trial: a 10-bit HEIC (as phones write) was read as 8 bits."""
    pillow_heif = pytest.importorskip("pillow_heif")
    ramp = np.linspace(20000, 24000, 64)[None, :, None] * np.ones((48, 1, 3))  # 4000 of 65535: 16 8-bit levels
    deep = ramp.round().astype(np.uint16)
    pillow_heif.from_bytes(mode="RGB;16", size=(64, 48), data=deep.tobytes()).save(tmp_path / "ten.heic", quality=-1)
    got = read_image(tmp_path / "ten.heic").array
    assert got.dtype == np.uint16 and np.abs(got.astype(float) - deep).mean() < 257
    assert len(np.unique(got[..., 1])) > 40  # 10-bit steps, where 8 bits give at most 17


def test_no_location_leaves_the_gps_out_and_keeps_the_rest(tmp_path, run):
    """From a trial: the GPS position went into every output, with no way to leave it out."""
    ex = _exif(model="Cam")
    ex[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}
    ex[0x8769] = {0x8827: 800}
    xmp = _XMP.replace("xmlns:dc=", 'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLongitude="0,7.0W" '
                       "exif:GPSAltitude = '35/1' xmlns:dji=\"http://www.dji.com/drone-dji/1.0/\" "
                       'dji:GpsLatitude="48.85" photoshop:City="Paris" xmlns:dc=')
    xmp = xmp.replace("<dc:title>", "<exif:GPSLatitude>51,30.0N</exif:GPSLatitude><dc:title>")
    Image.fromarray(_pattern(24, 32)).save(tmp_path / "in.jpg", quality=95, exif=ex.tobytes(), xmp=xmp.encode())
    for flag, ext in (([], ".jpg"), (["--no-location"], ".jpg"), (["--no-location"], ".tif")):
        out = tmp_path / f"o{len(flag)}{ext}"
        assert run("denoise", tmp_path / "in.jpg", "--sigma", "5", "-o", out, *flag).exit_code == 0
        got, x = Image.open(out).getexif(), _xmp_in(out)
        assert got[0x110] == "Cam" and got.get_ifd(0x8769)[0x8827] == 800 and "Harbour at dusk" in x
        assert bool(got.get_ifd(0x8825)) == (not flag), (flag, ext)
        assert all((w in x) == (not flag) for w in ("GPS", "Gps", "Paris")), (flag, ext, x)
    out = tmp_path / "d"
    (tmp_path / "f").mkdir()
    Image.open(tmp_path / "in.jpg").save(tmp_path / "f" / "a.jpg", exif=ex.tobytes())
    assert run("denoise", tmp_path / "f", "-o", out, "--sigma", "5").exit_code == 0
    r = run("denoise", tmp_path / "f", "-o", out, "--sigma", "5", "--no-location")  # not kept with the place in silence
    assert r.exit_code == 2 and "no --no-location (this run: --no-location)" in r.output


def test_metadata_details_from_a_second_trial(tmp_path, run):
    """A JPEG's caption was lost on a second pass (Pillow keeps the last comment, restore's
    note); a UTF-16 XMP packet went into a PNG's iTXt (UTF-8 only) as it was; a BMP output's
    warning named the XMP "its text (XML:com.adobe.xmp; a PNG output keeps it)"; an ICC profile
    with an invalid rendering intent, copied into a PNG, made libpng warn on every read."""
    Image.fromarray(_pattern(24, 32)).save(tmp_path / "c0.jpg", quality=95, comment="My caption")
    assert run("denoise", tmp_path / "c0.jpg", "--sigma", "5", "-o", tmp_path / "c1.jpg").exit_code == 0
    assert run("denoise", tmp_path / "c1.jpg", "--sigma", "5", "-o", tmp_path / "c2.png").exit_code == 0
    assert Image.open(tmp_path / "c2.png").text.get("Comment") == "My caption"
    Image.fromarray(_pattern(24, 32)).save(tmp_path / "u16.jpg", xmp=_XMP.encode("utf-16"))
    r = run("denoise", tmp_path / "u16.jpg", "--sigma", "5", "-o", tmp_path / "u16.png")
    assert r.exit_code == 0 and "Harbour at dusk" in _xmp_in(tmp_path / "u16.png")
    r = run("denoise", tmp_path / "u16.jpg", "--sigma", "5", "-o", tmp_path / "u16.bmp")
    assert r.exit_code == 0 and "drops its XMP (PNG, JPEG, TIFF and WebP keep it)" in r.output
    srgb = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    srgb[64:68] = (0x1000000).to_bytes(4, "big")
    Image.fromarray(_pattern(24, 32)).save(tmp_path / "bad.jpg", icc_profile=bytes(srgb))
    assert run("denoise", tmp_path / "bad.jpg", "--sigma", "5", "-o", tmp_path / "bad.png").exit_code == 0
    assert int.from_bytes(Image.open(tmp_path / "bad.png").info["icc_profile"][64:68], "big") == 0


def test_small_cli_defects_from_a_trial(tmp_path, run):
    """-o DIR/ for a single image made no folder ("cannot write 'no extension'"); a 3x7 image
    with --sigma warned that its estimated noise was 0.00; dejpeg on a 2000x4 image said it was
    smaller than one 8x8 block."""
    write_image(tmp_path / "i.png", _pattern(24, 32))
    r = run("denoise", tmp_path / "i.png", "--sigma", "5", "-o", f"{tmp_path / 'new'}/")
    assert r.exit_code == 0 and (tmp_path / "new" / "i.denoise.png").is_file()
    write_image(tmp_path / "t.png", _pattern(3, 7))
    r = run("denoise", tmp_path / "t.png", "--sigma", "25", "-o", tmp_path / "t2.png")
    assert r.exit_code == 0 and "far from the noise" not in r.output
    write_image(tmp_path / "thin.png", _pattern(4, 40))
    r = run("dejpeg", tmp_path / "thin.png", "-o", tmp_path / "thin2.png")
    assert r.exit_code == 1 and "is 40x4, under 8 px high" in r.output


def test_a_16_bit_tiff_stored_a_plane_per_channel_is_read_as_it_is(tmp_path):
    """OpenCV decoded a 16-bit RGB TIFF stored a plane per channel (PlanarConfiguration 2) as
    three small grey copies over colour noise, without a word, and restore went on with it."""
    tifffile = pytest.importorskip("tifffile")
    a = _pattern(24, 32).astype(np.uint16) * 257 + 3
    rgba = np.dstack([a, np.full(a.shape[:2], 40000, np.uint16)])
    for name, arr, kw in (("rgb", a, {}), ("rgba", rgba, {"extrasamples": ["unassalpha"]}),
                          ("turned", a, {"extratags": [(274, "H", 1, 6, True)]})):
        tifffile.imwrite(tmp_path / f"{name}.tif", np.moveaxis(arr, -1, 0), photometric="rgb",
                         planarconfig="separate", **kw)
        got = read_image(tmp_path / f"{name}.tif").array
        want = np.rot90(arr, -1) if name == "turned" else arr  # Orientation 6: turned clockwise to show
        assert got.dtype == np.uint16 and np.array_equal(got, want), name


def test_a_16_bit_gray_alpha_png_is_read_as_gray_alpha(tmp_path, run):
    """OpenCV decodes a 16-bit gray + alpha PNG (which Pillow would cut to 8 bits) as RGBA: it
    was restored as colour. It is read as H x W x 2, 16 bits kept, and written as RGBA with
    equal colours (no writer here takes 16-bit gray + alpha)."""
    import struct
    import zlib

    gray = (np.arange(24 * 32).reshape(24, 32) * 80).astype(np.uint16)
    la = np.dstack([gray, np.full((24, 32), 40000, np.uint16)]).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in la)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 24, 16, 4, 0, 0, 0))  # 16 bits, colour type 4
    (tmp_path / "la16.png").write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(raw))
                                        + chunk(b"IEND", b""))
    img = read_image(tmp_path / "la16.png")
    assert img.array.shape == (24, 32, 2) and img.array.dtype == np.uint16
    assert np.array_equal(img.color, gray) and (img.alpha == 40000).all()
    r = run("denoise", tmp_path / "la16.png", "--sigma", "5", "-o", tmp_path / "o.png")
    out = read_image(tmp_path / "o.png").array
    assert r.exit_code == 0 and out.shape == (24, 32, 4) and out.dtype == np.uint16 and (out[..., 3] == 40000).all()
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
