"""Image I/O: formats, depths, modes, hostile files, atomic writes."""

import numpy as np
import pytest
from PIL import Image as PILImage

from restore.errors import InputError
from restore.io import incomplete, read_image, read_mask, write_image


@pytest.mark.parametrize("ext", [".png", ".tif", ".bmp", ".webp", ".jpg"])
def test_roundtrip_formats(tmp_path, ext):
    a = (np.random.default_rng(0).random((9, 13, 3)) * 255).astype(np.uint8)
    p = write_image(tmp_path / f"a{ext}", a)
    b = read_image(p).array
    assert b.shape == a.shape and b.dtype == np.uint8
    if ext in (".png", ".tif", ".bmp"):
        assert np.array_equal(a, b)


def test_16bit_gray_rgba_palette(tmp_path):
    g16 = (np.arange(20 * 10).reshape(20, 10) * 300).astype(np.uint16)
    write_image(tmp_path / "g16.png", g16)
    assert np.array_equal(read_image(tmp_path / "g16.png").array, g16)
    rgb16 = np.stack([g16, g16 // 2, g16 // 3], -1)
    write_image(tmp_path / "c16.png", rgb16)
    assert np.array_equal(read_image(tmp_path / "c16.png").array, rgb16)
    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 128
    write_image(tmp_path / "a.png", rgba)
    im = read_image(tmp_path / "a.png")
    assert im.has_alpha and np.array_equal(im.array, rgba)
    pal = PILImage.fromarray((np.arange(30).reshape(5, 6) % 4).astype(np.uint8), mode="L").convert("P")
    pal.save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").array.shape == (5, 6, 3)


def test_hostile_files(tmp_path):
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello, not an image")
    good = write_image(tmp_path / "good.png", np.zeros((40, 40, 3), np.uint8))
    (tmp_path / "trunc.png").write_bytes(good.read_bytes()[:60])
    for name, match in [("zero.png", "empty"), ("text.png", "not an image"), ("trunc.png", "unreadable|truncated"),
                        ("missing.png", "no such file")]:
        with pytest.raises(InputError, match=match):
            read_image(tmp_path / name)
    with pytest.raises(InputError, match="exceeds the limit"):
        read_image(good, max_pixels=100)


def test_decompression_bomb_refused_before_decoding(tmp_path):
    # a PNG header claiming 100k x 100k pixels
    import struct
    import zlib

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(data)
    with pytest.raises(InputError, match="exceeds the limit"):
        read_image(tmp_path / "bomb.png")


def test_mask_reading(tmp_path):
    m = np.zeros((6, 8), np.uint8)
    m[2:4, 3:5] = 255
    write_image(tmp_path / "m.png", m)
    known = read_mask(tmp_path / "m.png", (6, 8))
    assert known.sum() == 48 - 4 and not known[2, 3]
    assert read_mask(tmp_path / "m.png", (6, 8), invert=True).sum() == 4
    with pytest.raises(InputError, match="mask is 8x6 but the image is 9x6"):
        read_mask(tmp_path / "m.png", (6, 9))


def test_mask_is_thresholded_at_half_range(tmp_path):
    """Regression: a mask saved as JPEG (ringing around the drawn hole) was taken as is, every
    non-zero pixel a hole. Holes are values at or above half the range; 0/1 labels as is."""
    import cv2

    m = np.zeros((40, 48), np.uint8)
    m[10:30, 12:36] = 255
    cv2.imwrite(str(tmp_path / "m.jpg"), m, [cv2.IMWRITE_JPEG_QUALITY, 60])
    ringing = cv2.imread(str(tmp_path / "m.jpg"), cv2.IMREAD_GRAYSCALE)
    assert ((ringing > 0) & (m == 0)).sum() > 20  # the file really rings
    hole = ~read_mask(tmp_path / "m.jpg", (40, 48))
    assert abs(int(hole.sum()) - 20 * 24) <= 4 and hole[10:30, 12:36].all()
    write_image(tmp_path / "labels.png", (m > 0).astype(np.uint8))  # 0/1 label image
    assert (~read_mask(tmp_path / "labels.png", (40, 48))).sum() == 20 * 24
    write_image(tmp_path / "m16.png", m.astype(np.uint16) * 257 // 2)  # 32767: under half of 65535
    with pytest.raises(InputError, match="no hole: its brightest value is 32767 of 65535, and holes are the pixels "
                                         "at 32768 or more"):
        read_mask(tmp_path / "m16.png", (40, 48))
    write_image(tmp_path / "grey.png", m // 255 * 100)  # drawn in grey 100: says why it is no hole
    with pytest.raises(InputError, match="brightest value is 100 of 255, and holes are the pixels at 128 or more"):
        read_mask(tmp_path / "grey.png", (40, 48))
    write_image(tmp_path / "black.png", m * 0)
    with pytest.raises(InputError, match=r"mask has no hole \(no pixel at half its range or more"):
        read_mask(tmp_path / "black.png", (40, 48))


def test_write_is_atomic_and_never_clobbers(tmp_path):
    p = write_image(tmp_path / "o.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match="exists"):
        write_image(p, np.ones((4, 4), np.uint8))
    assert read_image(p).array.max() == 0
    write_image(p, np.ones((4, 4), np.uint8), overwrite=True)
    assert read_image(p).array.max() == 1
    assert [f.name for f in tmp_path.iterdir()] == ["o.png"]  # no temp files left
    with pytest.raises(InputError, match="cannot write"):
        write_image(tmp_path / "o.xyz", np.zeros((4, 4), np.uint8))


@pytest.mark.parametrize("ext,kind", [(".png", "PNG"), (".jpg", "JPEG")])
def test_incomplete_finds_files_cut_short(tmp_path, ext, kind):
    rng = np.random.default_rng(0)
    whole = write_image(tmp_path / ("whole" + ext), rng.integers(0, 256, (64, 80, 3), np.uint8))
    assert incomplete(whole) is None
    data = whole.read_bytes()
    cut = tmp_path / ("cut" + ext)
    cut.write_bytes(data[: len(data) // 2])
    assert "end marker" in incomplete(cut)
    with pytest.raises(InputError):  # and the reader agrees it is not an image
        read_image(cut)
    (tmp_path / ("empty" + ext)).write_bytes(b"")
    assert incomplete(tmp_path / ("empty" + ext)) == "is empty"
    (tmp_path / ("other" + ext)).write_bytes(b"GIF89a" + data[6:])
    assert incomplete(tmp_path / ("other" + ext)) == f"is not a {kind} file"


def test_incomplete_checks_other_formats_by_size_only(tmp_path):
    p = write_image(tmp_path / "a.tif", np.zeros((8, 8), np.uint8))
    assert incomplete(p) is None
    (tmp_path / "b.tif").write_bytes(b"")
    assert incomplete(tmp_path / "b.tif") == "is empty"


def test_rgba_tiff_alpha_marked_and_read_unpremultiplied(tmp_path):
    """An 8-bit RGBA TIFF is written with its 4th sample marked alpha (ExtraSamples, tag 338:
    OpenCV's had none) and read with its colours as stored: OpenCV's reader premultiplied a file
    whose alpha is marked unassociated (an editor's, Pillow's), colours off by up to 249."""
    from PIL import Image



    a = (np.random.default_rng(0).random((20, 30, 4)) * 255).astype(np.uint8)
    write_image(tmp_path / "w.tif", a)
    assert Image.open(tmp_path / "w.tif").tag_v2.get(338) == (2,)
    assert np.array_equal(read_image(tmp_path / "w.tif").array, a)
    Image.fromarray(a).save(tmp_path / "p.tif", compression="tiff_lzw")
    assert np.array_equal(read_image(tmp_path / "p.tif").array, a)
    b = (np.random.default_rng(1).random((20, 30, 4)) * 65535).astype(np.uint16)  # 16 bits: tifffile's writer
    write_image(tmp_path / "w16.tif", b)
    assert np.array_equal(read_image(tmp_path / "w16.tif").array, b)
    pytest.importorskip("tifffile")
    assert Image.open(tmp_path / "w16.tif").tag_v2.get(338) == (2,)


def test_write_image_takes_floats_in_0_1_and_refuses_what_it_cannot_write(tmp_path):
    """A float result of the API (float in, float out) was written as an all-black image;
    an int64 array gave OpenCV's multi-line error."""
    img = (np.random.default_rng(0).random((12, 10, 3)) * 255).astype(np.uint8)
    for dtype in (np.float32, np.float64):
        p = write_image(tmp_path / f"f{np.dtype(dtype).name}.png", (img / 255.0).astype(dtype))
        assert np.array_equal(read_image(p).array, img)
    g = write_image(tmp_path / "g.jpg", np.linspace(-0.01, 1.01, 120).reshape(12, 10))  # overshoot clipped
    assert read_image(g).array.dtype == np.uint8
    for arr, msg in [(img.astype(np.int64), "dtype int64"), (img.astype(np.float32), "divide by 255"),
                     (np.full((4, 4), np.nan), "NaN"), (np.dstack([img, img]), "H x W x C"),
                     (img.tolist(), "numpy array")]:
        with pytest.raises(InputError, match=msg):
            write_image(tmp_path / "bad.png", arr)
    assert not (tmp_path / "bad.png").exists()
    with pytest.raises(InputError, match=r"exists \(overwrite=True, or --overwrite, replaces it\)"):
        write_image(g, img)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
def test_a_tiff_is_turned_by_its_orientation_once(tmp_path, mode, compression):
    """Pillow 13 and OpenCV 5 turn a TIFF by its Orientation tag as they decode it, and read_image
    turned it again (a photo came out sideways); Pillow also mis-decoded an uncompressed RGBA or
    palette TIFF so turned. A TIFF now reads as the same pixels in a PNG with that EXIF do."""
    rng = np.random.default_rng(0)
    stored = PILImage.fromarray((rng.random((5, 7, 3)) * 255).astype(np.uint8)).convert(mode)
    for o in range(1, 9):
        ex = PILImage.Exif()
        ex[0x0112] = o
        stored.save(tmp_path / f"o{o}.png", exif=ex.tobytes())
        stored.save(tmp_path / f"o{o}.tif", exif=ex.tobytes(), **({"compression": compression} if compression else {}))
        png, tif = read_image(tmp_path / f"o{o}.png"), read_image(tmp_path / f"o{o}.tif")
        assert tif.meta.orientation == o and tif.array.shape[:2] == ((7, 5) if o >= 5 else (5, 7))
        assert np.array_equal(tif.array, png.array), o


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_note_is_carried_beside_the_metadata_and_leaves_the_pixels(tmp_path, ext):
    """``note`` goes into a PNG tEXt chunk / a JPEG comment / a WebP's XMP that other readers see
    too, beside the EXIF, and the pixels are those written without it; BMP carries none."""
    from restore.io import Meta, read_note

    a = (np.random.default_rng(1).random((12, 17, 3)) * 255).astype(np.uint8)
    ex = PILImage.Exif()
    ex[0x010F] = "Camera"
    raw = ex.tobytes()
    meta = Meta(exif=raw[6:] if raw.startswith(b"Exif") else raw)
    text = '{"settings": {"sigma": 10}}'
    p = write_image(tmp_path / f"n{ext}", a, note=text, meta=meta)
    q = write_image(tmp_path / f"plain{ext}", a, meta=meta)
    assert read_note(p) == text and read_note(q) is None
    assert np.array_equal(read_image(p).array, read_image(q).array)
    assert read_image(p).meta.exif is not None
    im = PILImage.open(p)
    assert (im.text["restore"] if ext == ".png" else im.info["comment"].decode()[len("restore "):]) == text
    assert read_note(write_image(tmp_path / "n.webp", a, note=text)) == text  # in an XMP packet
    assert np.array_equal(read_image(tmp_path / "n.webp").array, a)  # lossless, as without it
    assert read_note(write_image(tmp_path / "n.bmp", a, note=text)) is None
    assert read_note(tmp_path / "missing.png") is None


@pytest.mark.parametrize("shape, dtype, carry", [
    ((12, 17, 3), np.uint8, False), ((12, 17, 3), np.uint8, True), ((12, 17), np.uint8, False),
    ((12, 17, 2), np.uint8, False), ((12, 17, 4), np.uint8, False), ((12, 17, 3), np.uint16, False),
    ((12, 17, 3), np.uint16, True), ((12, 17, 4), np.uint16, False), ((12, 17), np.uint16, True)])
def test_a_tiff_carries_the_note_in_xmp_by_each_of_its_writers(tmp_path, shape, dtype, carry):
    """TIFF outputs carried no settings record, so a resumed TIFF batch could not tell outputs
    made with other settings: the note now goes into the XMP packet (tag 700) whichever writer
    makes the file (Pillow for 8 bits and 16-bit gray, tifffile for 16-bit RGB(A)), beside the
    EXIF and the profile, and the pixels, mode and metadata are those written without it."""
    from restore.io import Meta, read_note

    hi = np.iinfo(dtype).max
    a = (np.random.default_rng(2).random(shape) * hi).astype(dtype)
    meta = None
    if carry:
        ex = PILImage.Exif()
        ex[0x010F] = "Camera"
        raw = ex.tobytes()
        from PIL import ImageCms

        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes() if len(shape) == 3 else None
        meta = Meta(exif=raw[6:] if raw.startswith(b"Exif") else raw, icc=icc)
    text = '{"settings": {"sigma": 10, "name": "a \\"quoted\\" <b> & c"}}'
    p = write_image(tmp_path / "n.tif", a, note=text, meta=meta)
    q = write_image(tmp_path / "plain.tiff", a, meta=meta)
    assert read_note(p) == text and read_note(q) is None
    got, plain = read_image(p), read_image(q)
    assert np.array_equal(got.array, plain.array) and got.array.dtype == plain.array.dtype
    assert got.array.shape == plain.array.shape
    assert (got.meta.icc, got.meta.exif is not None) == (plain.meta.icc, plain.meta.exif is not None)
    assert read_note(write_image(tmp_path / "n.tiff", a, note=text)) == text


def test_what_a_file_holds_beyond_one_image_is_said(tmp_path):
    """From a batch trial: a multi-page TIFF was cut to its first page in silence (now counted:
    ``Image.frames``), a float TIFF was "not an image file", a HEIC given by stdin or under
    another name was not recognised, and a JPEG output dropped a 70 KB EXIF in silence."""
    from restore.io import Meta, written_meta

    a = (np.random.default_rng(2).random((12, 16, 3)) * 255).astype(np.uint8)
    ims = [PILImage.fromarray(a), PILImage.fromarray(255 - a)]
    ims[0].save(tmp_path / "pages.tif", save_all=True, append_images=ims[1:])
    im = read_image(tmp_path / "pages.tif")
    assert im.frames == 2 and np.array_equal(im.array, a)
    assert read_image(write_image(tmp_path / "one.png", a)).frames == 1
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "f.tif", a.astype(np.float32) / 255, photometric="rgb")
    with pytest.raises(InputError, match="a TIFF of float32 samples .*8- and 16-bit integer"):
        read_image(tmp_path / "f.tif")
    tifffile.imwrite(tmp_path / "g.tif", a[..., 0].astype(np.float32) / 255)  # grey: Pillow's mode F, read as
    with pytest.raises(InputError, match=r"a TIFF of float32 samples \(1 per pixel\)"):  # uint16 in silence before
        read_image(tmp_path / "g.tif")
    ex = PILImage.Exif()
    ex[0x010F] = "Cam"
    ex[0x927C] = b"x" * 70000
    raw = ex.tobytes()
    meta = Meta(exif=raw[6:] if raw.startswith(b"Exif") else raw)
    kept, lost = written_meta(meta, ".jpg", 3, np.uint8)
    assert kept.exif is None and "over the 64 KB" in lost[0]
    assert written_meta(meta, ".png", 3, np.uint8) == (meta, [])


def test_heic_is_known_by_its_bytes(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    a = (np.random.default_rng(3).random((16, 20, 3)) * 255).astype(np.uint8)
    PILImage.fromarray(a).save(tmp_path / "phone.heic")
    (tmp_path / "phone.heic").rename(tmp_path / "renamed.jpg")
    (tmp_path / "noname").write_bytes((tmp_path / "renamed.jpg").read_bytes())
    for p in (tmp_path / "renamed.jpg", tmp_path / "noname"):
        assert read_image(p).array.shape == (16, 20, 3)


def test_text_metadata_is_carried_or_its_loss_said(tmp_path):
    """From a trial: a PNG's text (Title, a UTF-8 Description, an XMP packet) and a JPEG's
    comment were dropped in silence. They go into PNG outputs (and the comment into JPEG
    outputs); elsewhere their loss is said; restore's own note is not carried over, and an XMP
    orientation is reset as the EXIF's is (the pixels are stored as shown)."""
    from PIL import PngImagePlugin

    from restore.io import read_note, written_meta

    a = (np.random.default_rng(4).random((10, 12, 3)) * 255).astype(np.uint8)
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Lake")
    info.add_itxt("Description", "湖の写真")
    info.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta><rdf:Description tiff:Orientation="6"/></x:xmpmeta>')
    info.add_text("restore", '{"settings": {"sigma": 3}}')
    PILImage.fromarray(a).save(tmp_path / "in.png", pnginfo=info)
    im = read_image(tmp_path / "in.png")
    assert [k for k, _ in im.meta.text] == ["Title", "Description", "XML:com.adobe.xmp"]
    out = write_image(tmp_path / "out.png", im.array, meta=im.meta, note='{"settings": {}}')
    t = PILImage.open(out).text
    assert t["Title"] == "Lake" and t["Description"] == "湖の写真" and 'Orientation="1"' in t["XML:com.adobe.xmp"]
    assert read_note(out) == '{"settings": {}}'
    assert "its text (Title, Description" in written_meta(im.meta, ".jpg", 3, np.uint8)[1][0]
    PILImage.fromarray(a).save(tmp_path / "c.jpg", comment=b"my caption")
    c = read_image(tmp_path / "c.jpg")
    assert c.meta.text == (("Comment", "my caption"),)
    assert PILImage.open(write_image(tmp_path / "c2.jpg", c.array, meta=c.meta)).info["comment"] == b"my caption"
    assert PILImage.open(write_image(tmp_path / "c2.png", c.array, meta=c.meta)).text == {"Comment": "my caption"}
    assert "its text (Comment" in written_meta(c.meta, ".webp", 3, np.uint8)[1][0]


def test_a_pixel_count_is_said_in_its_limits_unit(tmp_path):
    """From a trial: '400x300 = 0.1 MP exceeds the limit of 50,000 pixels' mixed the units
    (and rounded 0.12 MP down); a count set beside a limit is said in the limit's unit."""
    from restore.errors import InputError

    p = write_image(tmp_path / "a.png", np.zeros((300, 400), np.uint8))
    with pytest.raises(InputError, match=r"400x300 = 120,000 pixels exceeds the limit of 50,000 pixels"):
        read_image(p, max_pixels=50_000)
    with pytest.raises(InputError, match=r"400x300 = 0.12 MP exceeds the limit of 0.10 MP"):
        read_image(p, max_pixels=100_000)


def test_a_palette_or_1_bit_file_is_widened_and_the_command_line_says_so(tmp_path, tiny_prior_dir):
    """A trial: a 1-bit PNG came out as an 8-bit grey one and a palette PNG as RGB, unsaid. The
    read says how the file held it (``Image.stored``); the command line says what it writes."""
    from click.testing import CliRunner

    from cli.main import main

    rng = np.random.default_rng(4)
    PILImage.fromarray(rng.random((24, 32)) > 0.5).save(tmp_path / "b.png")
    PILImage.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).convert("P").save(tmp_path / "p.png")
    write_image(tmp_path / "g.png", (rng.random((24, 32)) * 255).astype(np.uint8))
    assert [read_image(tmp_path / f"{n}.png").stored for n in "bpg"] == ["1-bit", "palette", ""]
    said = {}
    for n in "bpg":
        r = CliRunner().invoke(main, ["denoise", str(tmp_path / f"{n}.png"), "-o", str(tmp_path / f"{n}.out.png"),
                                      "--weights", str(tiny_prior_dir), "--threads", "1"], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        said[n] = r.output
    assert "a 1-bit image: restored and written as 8-bit grey" in said["b"]
    assert "a palette image: restored and written as 8-bit RGB (" in said["p"]
    assert "restored and written as" not in said["g"]
    clear = PILImage.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).convert("P")
    clear.info["transparency"] = 0
    clear.save(tmp_path / "t.png", transparency=0)
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "t.png"), "-o", str(tmp_path / "t.jpg"), "--weights",
                                  str(tiny_prior_dir), "--threads", "1"], catch_exceptions=False)
    assert "written as 8-bit RGB (" in r.output  # (it said RGBA: a JPEG drops the transparency)
    out = read_image(tmp_path / "p.out.png")
    assert out.array.dtype == np.uint8 and out.array.shape == (24, 32, 3) and out.stored == ""
