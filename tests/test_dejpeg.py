"""dejpeg: the quantisation constraint set of a JPEG file and its projection (by properties),
the tables read from files, and the task end to end with the tiny prior."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from restore.cli.main import main
from restore.io import read_image, to_tensor
from restore.tasks.dejpeg import (Dejpeg, dct8, estimate_jpeg, estimate_quality, jpeg_grid, jpeg_tables,
                                  read_tables, standard_tables)


def _photo(h, w, gray=False, seed=0):
    """A smooth random image with edges (compresses like a photo: blocks and ringing)."""
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    chans = []
    for c in range(1 if gray else 3):
        a = 0.5 + 0.3 * np.sin(2 * np.pi * (g.uniform(1, 3) * xx + g.uniform(1, 3) * yy) + c)
        a += 0.25 * ((xx + 0.3 * c) > 0.5) + 0.03 * g.standard_normal((h, w))
        chans.append(a)
    a = np.clip(np.stack(chans, -1) * 255, 0, 255).astype(np.uint8)
    return a[..., 0] if gray else a


def _jpeg(arr, tmp_path, name="x.jpg", **kw):
    p = tmp_path / name
    Image.fromarray(arr).save(p, "JPEG", **kw)
    return p


def _inside(op, x, tol=1e-6, full=False):
    """Per component: the fraction of ``x``'s DCT coefficients within the file's bins (``full``:
    of the blocks wholly inside the image only)."""
    out = []
    H, W = x.shape[-2:]
    for i, (pl, q) in enumerate(zip(op._planes(x.double()), op.tables.tables)):
        r = dct8(pl) / torch.as_tensor(q) - op.k[i]
        if full:
            fy, fx = (op.fy, op.fx) if i else (1, 1)
            r = r[:, : H // (8 * fy), : W // (8 * fx)]
        out.append(float((r.abs() <= 0.5 + tol).double().mean()))
    return out


def _op(path):
    t = read_tables(path)
    x = to_tensor(read_image(path).color).double()
    return Dejpeg(tuple(x.shape[1:]), t, x), x, t


@pytest.mark.parametrize("q", [5, 10, 30, 50, 75, 90, 100])
def test_known_quality_tables_match_pillow(q, tmp_path):
    t = read_tables(_jpeg(_photo(16, 16), tmp_path, quality=q))
    lum, chrom = standard_tables(q)
    assert np.array_equal(t.tables[0], lum) and np.array_equal(t.tables[1], chrom) and np.array_equal(t.tables[2], chrom)
    assert t.chroma == (2, 2)  # Pillow's default 4:2:0


@pytest.mark.parametrize("sub,chroma", [(0, (1, 1)), (1, (1, 2)), (2, (2, 2))])
def test_subsampling_read_from_file(sub, chroma, tmp_path):
    t = read_tables(_jpeg(_photo(24, 40), tmp_path, quality=40, subsampling=sub))
    assert t.chroma == chroma
    g = read_tables(_jpeg(_photo(24, 40, gray=True), tmp_path, "g.jpg", quality=40))
    assert len(g.tables) == 1


def test_not_a_jpeg(tmp_path):
    p = tmp_path / "x.png"
    Image.fromarray(_photo(16, 16)).save(p)
    assert read_tables(p) is None


@pytest.mark.parametrize("shape,kw", [((64, 96, 3), {"quality": 20}), ((37, 53, 3), {"quality": 20}),
                                      ((37, 53, 3), {"quality": 30, "subsampling": 0}),
                                      ((41, 30, 3), {"quality": 15, "subsampling": 1}),
                                      ((33, 45), {"quality": 10}), ((50, 70, 3), {"quality": 25, "progressive": True})])
def test_projection_properties(shape, kw, tmp_path):
    """Idempotent; the decoded image barely moves (it is nearly consistent already); a random
    image projected has the file's coefficients in every component (4:2:0 chroma included)."""
    a = _photo(shape[0], shape[1], gray=len(shape) == 2)
    op, x, t = _op(_jpeg(a, tmp_path, **kw))
    g = torch.Generator().manual_seed(0)
    z = torch.rand(x.shape, generator=g, dtype=torch.float64)
    p = op.project(z)
    pp = op.project(p)
    H, W = shape[:2]
    if H % 16 == 0 and W % 16 == 0:  # exact off the edge blocks' repetition of the last row/column
        assert float((pp - p).abs().max()) < 1e-9
        assert min(_inside(op, p)) == 1.0
    else:  # the partial edge blocks: padding by repetition is re-applied to the projected image
        inner = (slice(None), slice(None), slice(0, H - H % 16), slice(0, W - W % 16))
        assert float((pp - p)[inner].abs().max()) < 1e-9
        assert min(_inside(op, p, full=True)) == 1.0
        assert min(_inside(op, p)) > 0.9  # edge blocks: approximately
    # the projection is a projection: no closer point of the set than x itself, moving the truth little
    gt = to_tensor(a).double()
    assert float((op.project(gt) - gt).pow(2).mean().sqrt()) < float((x - gt).pow(2).mean().sqrt())


@pytest.mark.parametrize("orientation", [3, 6, 7, 8])
def test_exif_orientation(orientation, tmp_path):
    """A rotated photo is restored as displayed, its bins on the file's own grid: the displayed
    decode gives the file's integers, and the projection is idempotent and lands in the bins."""
    import dataclasses

    from restore.tasks.dejpeg import to_display, to_file

    a = _photo(48, 64)
    ex = Image.Exif()
    ex[0x0112] = orientation
    path = tmp_path / "r.jpg"
    Image.fromarray(a).save(path, "JPEG", quality=20, exif=ex.tobytes())
    img = read_image(path)
    assert img.meta.orientation == orientation
    x = to_tensor(img.color).double()
    assert torch.equal(to_display(to_file(x, orientation), orientation), x)
    op = Dejpeg(tuple(x.shape[1:]), dataclasses.replace(read_tables(path), orientation=orientation), x)
    plain = Dejpeg((3, 48, 64), read_tables(path), to_file(x, orientation))
    assert all(torch.equal(k1, k2) for k1, k2 in zip(op.k, plain.k))
    z = torch.rand(x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    p = op.project(z)
    assert p.shape == x.shape
    assert float((op.project(p) - p).abs().max()) < 1e-9
    assert min(_inside(plain, to_file(p, orientation))) == 1.0


@pytest.mark.parametrize("orientation,shape,kw", [(1, (37, 53), {"quality": 20}), (6, (48, 64), {"quality": 20}),
                                                  (7, (41, 30), {"quality": 15, "subsampling": 0}),
                                                  (8, (33, 45), {"quality": 10, "gray": True})])
def test_band_denoiser_splits_on_the_files_grid(orientation, shape, kw, tmp_path):
    """The JPEG denoiser puts its bands back together exactly: a prior that returns its input
    gives the input back (any size, orientation, pose, gray or colour); a prior that adds its
    level to every pixel (a DC shift, a fine luma frequency, no chroma) adds 0.7 of it."""
    import dataclasses

    from restore.tasks.dejpeg import BandDenoiser

    kw = dict(kw)
    a = _photo(*shape, gray=kw.pop("gray", False))
    ex = Image.Exif()
    ex[0x0112] = orientation
    path = tmp_path / "b.jpg"
    Image.fromarray(a).save(path, "JPEG", exif=ex.tobytes(), **kw)
    x = to_tensor(read_image(path).color).double()
    if orientation != 1:
        assert x.shape[-2:] != shape or orientation in (2, 3, 4)  # displayed, not the file's order
    op = Dejpeg(tuple(x.shape[1:]), dataclasses.replace(read_tables(path), orientation=orientation), x)
    sig = torch.full((1,), 0.04, dtype=torch.float64)
    for pose in (0, 5):
        ident = BandDenoiser(lambda z, s: z, op)
        assert float((ident(x, sig, pose=pose) - x).abs().max()) < 1e-9
        shift = BandDenoiser(lambda z, s: z + s[:, None, None, None], op)
        assert float((shift(x, sig, pose=pose) - (x + 0.7 * 0.04)).abs().max()) < 1e-9


def test_coefficients_recovered_from_the_decode(tmp_path):
    """The file's integers are read back from its decoded pixels (luma and 4:2:0 chroma):
    they are those of the clean image for nearly every coefficient."""
    a = _photo(96, 128)
    op, x, t = _op(_jpeg(a, tmp_path, quality=20))
    for i, k in enumerate(op.coefficients(to_tensor(a).double())):
        assert float((k == op.k[i]).double().mean()) > 0.99


def test_reencoding_the_output_gives_the_files_coefficients(tmp_path):
    """The projected image, saved with the file's own tables and subsampling, encodes to the
    file's coefficients (read back from the re-encoded decode)."""
    a = _photo(64, 96)
    path = _jpeg(a, tmp_path, quality=15)
    op, x, t = _op(path)
    z = op.project(torch.clamp(x + 0.02 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1),
                                                        dtype=torch.float64), 0, 1))
    out = (z.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    re = tmp_path / "re.jpg"
    with Image.open(path) as im:
        Image.fromarray(out).save(re, "JPEG", qtables=im.quantization, subsampling=2)
    op2, _, t2 = _op(re)
    assert all(np.array_equal(u, v) for u, v in zip(t.tables, t2.tables))
    agree = [float((k1 == k2).double().mean()) for k1, k2 in zip(op.k, op2.k)]
    assert min(agree) > 0.99


@pytest.mark.parametrize("q", [10, 30, 60, 90])
def test_quality_estimated_from_the_pixels(q):
    buf = io.BytesIO()
    Image.fromarray(_photo(128, 128)).save(buf, "JPEG", quality=q)
    buf.seek(0)
    dec = np.asarray(Image.open(buf).convert("RGB"))
    est = estimate_quality(to_tensor(dec))
    assert np.array_equal(standard_tables(est)[0], standard_tables(q)[0]) or abs(est - q) <= 2


def _decoded(a, q):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=q)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


@pytest.mark.parametrize("q", [10, 30, 75, 92])
def test_a_jpeg_read_from_its_pixels_cropped_or_not(q):
    """A decoded JPEG saved again (as PNG), its first rows and columns cut or not, gray or
    colour: its quality and where its blocks start are read from the pixels alone."""
    dec = _decoded(_photo(96, 112), q)
    for dy, dx in ((0, 0), (3, 5), (7, 1)):
        for img in (dec[dy:, dx:], np.asarray(Image.fromarray(dec[dy:, dx:]).convert("L"))):
            est, off, turned = estimate_jpeg(to_tensor(img))
            assert off == ((8 - dy) % 8, (8 - dx) % 8) == jpeg_grid(to_tensor(img)) and not turned
            assert np.array_equal(standard_tables(est)[0], standard_tables(q)[0]) or abs(est - q) <= 2
        # turned by 90 degrees after the decode: the blocks' frequencies swap, the tables are read transposed
        est, off, turned = estimate_jpeg(to_tensor(np.ascontiguousarray(np.rot90(dec[dy:, dx:]))))
        assert turned and (np.array_equal(standard_tables(est)[0], standard_tables(q)[0]) or abs(est - q) <= 2)


@pytest.mark.parametrize("sub,chroma", [(0, (1, 1)), (1, (1, 2)), (2, (2, 2))])
def test_a_decodes_chroma_subsampling_is_read_from_its_pixels(sub, chroma):
    """Without the file, 4:4:4, 4:2:2 and 4:2:0 are told apart by the chroma's fit to the
    chroma table's lattice (and the MCUs' start with them); --chroma still sets it."""
    from restore.tasks.dejpeg import DejpegTask

    buf = io.BytesIO()
    Image.fromarray((_photo(96, 112) * 0.8).astype(np.uint8)).save(buf, "JPEG", quality=25, subsampling=sub)
    buf.seek(0)
    x = to_tensor(np.asarray(Image.open(buf).convert("RGB"))[5:, 3:])
    t = DejpegTask().tables_for(x, {})
    fy, fx = chroma
    assert t.chroma == chroma and t.offset == ((8 * fy - 5) % (8 * fy), (8 * fx - 3) % (8 * fx))
    assert DejpegTask().tables_for(x, {"chroma": "4:2:0"}).chroma == (2, 2)


def test_a_screenshot_is_not_read_as_a_coarse_jpeg():
    """Flat fills and thin lines (a screenshot): its few unclipped blocks fitted coarse tables by
    chance (quality 7-16 read for 40-80); now its true quality or none."""
    a = np.full((180, 240, 3), (240, 240, 245), np.uint8)
    a[:24] = (40, 90, 160)
    for i in range(8):
        a[34 + 16 * i : 36 + 16 * i, 10 : 10 + 17 * (i + 5)] = 20
    a[100:170, 150:230] = (200, 60, 60)
    a[110:150, 160:200] = 255
    for q in (30, 40, 60, 80):
        found = estimate_jpeg(to_tensor(_decoded(a, q)))
        assert found is None or abs(found[0] - q) <= 2, (q, found)


def test_dejpeg_leaves_an_image_without_blocks_as_it_is(tiny_prior):
    """No file, no --jpeg-quality and no JPEG's blocks in the pixels (a decode resized after its
    decode): the image comes back as it is (at quality 100 the prior only smoothed it), said so."""
    from restore.api import run

    resized = np.asarray(Image.fromarray(_decoded((_photo(96, 112) * 0.8).astype(np.uint8), 20)).resize((84, 72)))
    res = run(to_tensor(resized), "dejpeg", prior=tiny_prior)
    assert res.params["tables"] == "estimated quality 100" and res.steps == 0
    assert torch.equal(res.image, to_tensor(resized))
    from restore.tasks import get_task

    assert "no JPEG's 8x8 blocks found" in get_task("dejpeg").estimated_note(res.params, 0.0)


def test_no_jpeg_read_where_there_is_none():
    """An image never saved as JPEG, one resized after its decode, noise, and one too small
    to tell: no JPEG found."""
    a = _photo(96, 112)
    resized = np.asarray(Image.fromarray(_decoded(a, 20)).resize((56, 48), Image.BICUBIC))
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    slide = np.zeros((64, 96, 3), np.uint8)  # flat fills never saved as JPEG (Set14's ppt3 read as quality 1)
    slide[:, :40], slide[20:40, 50:90] = (250, 250, 250), (30, 60, 200)
    for img in (a, resized, noise, _decoded(a, 20)[:15, :40], slide):
        assert estimate_jpeg(to_tensor(img)) is None


@pytest.mark.parametrize("dy,dx", [(3, 5), (8, 8), (13, 0)])
def test_a_decode_cropped_off_its_grid_is_read_on_the_files_grid(tmp_path, dy, dx):
    """A JPEG decoded, then cropped (a screenshot's part): the blocks' and the 4:2:0 MCUs'
    start is read from the pixels, and the coefficients read from the crop on that grid are
    the file's own (all but the partial first row and column of blocks)."""
    from restore.tasks.dejpeg import DejpegTask

    path = _jpeg((_photo(80, 96) * 0.8).astype(np.uint8), tmp_path, quality=20)
    full, x, _ = _op(path)
    crop = x[..., dy:, dx:].float()
    t = DejpegTask().tables_for(crop, {})
    assert t.source == "estimated quality 20" and t.offset == ((16 - dy) % 16, (16 - dx) % 16)
    op = Dejpeg(tuple(crop.shape[1:]), t, crop)
    assert (op.top, op.left) == (dy, dx)  # the crop completed back onto the file's grid
    for i, (kc, kf) in enumerate(zip(op.k, full.k)):
        f = 8 * (2 if i else 1)  # chroma blocks cover 16 px
        y0, x0 = -(-dy // f), -(-dx // f)  # the first whole blocks
        assert kc.shape == kf.shape and float((kc[:, y0:, x0:] == kf[:, y0:, x0:]).double().mean()) > 0.99, i


def test_a_batch_of_crops_reads_each_ones_grid(tmp_path, tiny_prior):
    """Two crops cut differently, given together with their quality: each is restored on its
    own grid, as alone."""
    from restore.api import run

    path = _jpeg((_photo(80, 96) * 0.8).astype(np.uint8), tmp_path, quality=20)
    x = to_tensor(read_image(path).color)
    pair = torch.cat([x[..., 3:67, 5:85], x[..., 8:72, 0:80]])
    both = run(pair, "dejpeg", quality=20, steps=1, prior=tiny_prior).image
    for i in range(2):
        alone = run(pair[i : i + 1], "dejpeg", quality=20, steps=1, prior=tiny_prior)
        assert torch.equal(both[i : i + 1], alone.image) and alone.params["tables"] == "quality 20"


def test_sr_reads_a_jpeg_from_its_pixels_once(tiny_prior, monkeypatch):
    """super-resolution of a decoded JPEG without its file: the tables estimated from the pixels
    (the quantisation as measurement noise, the box kernel), once for the whole image even when
    it is solved tile by tile; ``jpeg_quality=0`` and a PNG never saved as JPEG keep bicubic
    without noise."""
    import restore.tasks.dejpeg as dj
    from restore.api import run
    from restore.prior import Prior
    from restore.tasks.superres import JPEG_NOISE

    calls = []
    real = dj.estimate_jpeg
    monkeypatch.setattr(dj, "estimate_jpeg", lambda x: calls.append(x.shape) or real(x))
    y = to_tensor(_decoded((_photo(56, 64) * 0.8).astype(np.uint8), 30)[3:, 5:])
    small = Prior(tiny_prior.net, tiny_prior.schedule, tile=64)
    res = run(y, "sr", scale=2, steps=1, prior=small)
    assert res.params["tiles"] > 1 and len(calls) == 1
    assert res.params["tables"] == "estimated quality 30" and res.params["kernel"] == "box"
    assert res.sigma_estimated and res.sigma_y == pytest.approx(JPEG_NOISE * jpeg_tables(30).level)
    res = run(y, "sr", scale=2, steps=1, prior=small, jpeg_quality=0)
    assert "tables" not in res.params and res.params["kernel"] == "bicubic" and res.sigma_y == 0
    assert not res.sigma_estimated and len(calls) == 1
    res = run(to_tensor(_photo(37, 45)), "sr", scale=2, steps=1, prior=tiny_prior)
    assert "tables" not in res.params and res.params["kernel"] == "bicubic" and res.sigma_y == 0


def test_standard_tables_errors():
    from restore.errors import InputError

    with pytest.raises(InputError):
        standard_tables(0)
    with pytest.raises(InputError):
        Dejpeg((1, 8, 8), jpeg_tables(50, 3), torch.zeros(1, 1, 8, 8))


def test_api_and_restore(tiny_prior, tmp_path):
    import restore

    a = _photo(37, 45)
    path = _jpeg(a, tmp_path, quality=20)
    dec = np.asarray(Image.open(path).convert("RGB"))
    out = restore.dejpeg(dec, tables=read_tables(path), steps=2, prior=tiny_prior)
    assert out.shape == a.shape and out.dtype == np.uint8
    out2 = restore.dejpeg(dec, quality=20, steps=2, prior=tiny_prior)
    assert out2.shape == a.shape
    # the result is consistent with the file: its coefficients are the file's (up to uint8 rounding)
    op, _, _ = _op(path)
    got = op.coefficients(to_tensor(out).double())
    assert np.mean([float((k1 == k2).double().mean()) for k1, k2 in zip(got, op.k)]) > 0.9


def test_cli_end_to_end(tiny_prior_dir, tmp_path):
    a = _photo(40, 56)
    src = tmp_path / "p.jpg"
    Image.fromarray(a).save(src, "JPEG", quality=15, exif=Image.Exif().tobytes() if False else b"")
    gray = _jpeg(_photo(30, 33, gray=True), tmp_path, "g.jpg", quality=10, progressive=True)
    r = CliRunner().invoke(main, ["dejpeg", str(src), "--steps", "2", "--weights", str(tiny_prior_dir), "-q",
                                  "-o", str(tmp_path / "o.png")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert read_image(tmp_path / "o.png").array.shape == a.shape
    r = CliRunner().invoke(main, ["dejpeg", str(gray), "--steps", "2", "--weights", str(tiny_prior_dir), "-q",
                                  "-o", str(tmp_path / "g.png")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert read_image(tmp_path / "g.png").array.shape == (30, 33)
    png = tmp_path / "p.png"
    Image.fromarray(a).save(png)
    r = CliRunner().invoke(main, ["dejpeg", str(png), "--jpeg-quality", "101", "--weights", str(tiny_prior_dir)])
    assert r.exit_code == 2


def test_eval_qualities(tiny_prior_dir, tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    Image.fromarray(_photo(32, 40)).save(d / "a.png")
    Image.fromarray(_photo(24, 24, gray=True)).save(d / "b.png")
    r = CliRunner().invoke(main, ["eval", "dejpeg", str(d), "--quality", "10,40", "--steps", "2", "--baselines",
                                  "--weights", str(tiny_prior_dir), "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert r.output.count("| decode (input) |") == 2 and "quality 40" in r.output


def test_sr_of_a_jpeg_counts_its_quantisation(tiny_prior_dir, tmp_path):
    """A JPEG input to sr: its tables give the measurement noise and the photo kernel; a PNG
    keeps the benchmark convention (bicubic, no noise); --jpeg-quality tells it for an array."""
    from restore.tasks import get_task
    from restore.tasks.superres import JPEG_KERNEL, JPEG_NOISE

    tk = get_task("sr")
    a = _photo(24, 32)
    path = _jpeg(a, tmp_path, quality=80)
    t = read_tables(path)
    x = to_tensor(read_image(path).color)
    op, _, _ = tk.build(x, tk.check(x, {"scale": 2, "tables": t}))
    assert op.kernel == JPEG_KERNEL and op.sigma_y == pytest.approx(JPEG_NOISE * t.level)
    op, _, _ = tk.build(x, tk.check(x, {"scale": 2, "jpeg_quality": 80}))
    assert op.sigma_y == pytest.approx(JPEG_NOISE * t.level)
    op, _, _ = tk.build(x, tk.check(x, {"scale": 2}))  # the decode alone: its blocks read
    assert op.kernel == JPEG_KERNEL and op.sigma_y == pytest.approx(JPEG_NOISE * t.level, rel=0.05)
    op, _, _ = tk.build(x, tk.check(x, {"scale": 2, "jpeg_quality": 0}))  # not a JPEG
    assert op.kernel == "bicubic" and op.sigma_y == 0
    op, _, _ = tk.build(x, tk.check(x, {"scale": 2, "tables": t, "kernel": "bicubic"}))
    assert op.kernel == "bicubic"
    r = CliRunner().invoke(main, ["sr", str(path), "--scale", "2", "--steps", "2", "--weights", str(tiny_prior_dir),
                                  "-q", "-o", str(tmp_path / "o.png")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert read_image(tmp_path / "o.png").array.shape == (48, 64, 3)


def test_json_reports_the_tables_used(tiny_prior_dir, tmp_path):
    """--json says where the tables came from and the file's own subsampling (a 4:4:4 file is
    not reported as the option's default 4:2:0); sr reports its kernel as resolved; without a
    file, the line printed says the quality was estimated, not a noise sigma of 0."""
    import json

    def run(*args):
        r = CliRunner().invoke(main, [*map(str, args), "--steps", "1", "--weights", str(tiny_prior_dir), "--json",
                                      "--overwrite"])
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout.splitlines()[-1]), r.stderr

    a = _photo(32, 40)
    rec, _ = run("dejpeg", _jpeg(a, tmp_path, "f.jpg", quality=30, subsampling=0), "-o", tmp_path / "o.png")
    assert rec["tables"] == "file" and rec["chroma"] == "4:4:4" and rec["file_quality"] == 30  # (a trial: which?)
    rec, _ = run("dejpeg", _jpeg(a, tmp_path, "h.jpg", quality=30), "-o", tmp_path / "o.png")
    assert rec["tables"] == "file" and rec["chroma"] == "4:2:0"
    rec, _ = run("dejpeg", _jpeg(_photo(32, 40, gray=True), tmp_path, "g.jpg", quality=30), "-o", tmp_path / "o.png")
    assert rec["tables"] == "file" and "chroma" not in rec
    png = tmp_path / "d.png"
    Image.open(_jpeg(a, tmp_path, "d.jpg", quality=20)).save(png)
    rec, _ = run("dejpeg", png, "--jpeg-quality", "20", "-o", tmp_path / "o.png")
    assert rec["tables"] == "quality 20" and rec["chroma"] == "4:2:0"
    r = CliRunner().invoke(main, ["dejpeg", str(png), "--steps", "1", "--weights", str(tiny_prior_dir),
                                  "-o", str(tmp_path / "e.png")])
    assert r.exit_code == 0, r.output
    assert "no JPEG file" in r.stderr and "noise sigma" not in r.stderr
    rec, _ = run("sr", tmp_path / "h.jpg", "--scale", "2", "-o", tmp_path / "s.png")
    assert rec["kernel"] == "box" and rec["tables"] == "file" and rec["sigma_estimated"]
    # a JPEG file's line says what its file made of the run (a trial: the kernel box was in --json alone)
    r = CliRunner().invoke(main, ["sr", str(tmp_path / "h.jpg"), "--scale", "2", "--steps", "1", "--weights",
                                  str(tiny_prior_dir), "-o", str(tmp_path / "s.png"), "--overwrite"])
    assert "a JPEG file: its own tables' quantisation taken as noise sigma" in r.stderr and "kernel box" in r.stderr
    # a PNG of a JPEG: its blocks are read (the note says so), --jpeg-quality 0 says it is not one
    png = tmp_path / "s20.png"
    Image.open(_jpeg((_photo(48, 56) * 0.8).astype(np.uint8), tmp_path, "s20.jpg", quality=20)).save(png)
    r = CliRunner().invoke(main, ["sr", str(png), "--scale", "2", "--steps", "1", "--weights", str(tiny_prior_dir),
                                  "-o", str(tmp_path / "s.png"), "--overwrite"])
    assert r.exit_code == 0, r.output
    assert "no JPEG file's tables to read (not a JPEG, or a CMYK one), but the image shows a JPEG's 8x8 blocks" in \
        r.stderr and "--jpeg-quality 0" in r.stderr
    rec, _ = run("sr", png, "--scale", "2", "-o", tmp_path / "s.png")
    assert rec["kernel"] == "box" and rec["tables"] == "estimated quality 20" and rec["sigma_estimated"]
    rec, _ = run("sr", png, "--scale", "2", "--jpeg-quality", "0", "-o", tmp_path / "s.png")
    assert rec["kernel"] == "bicubic" and "tables" not in rec and rec["sigma"] == 0 and not rec["sigma_estimated"]
    Image.fromarray(a).save(tmp_path / "never.png")  # never a JPEG: as before
    rec, _ = run("sr", tmp_path / "never.png", "--scale", "2", "-o", tmp_path / "s.png")
    assert rec["kernel"] == "bicubic" and "tables" not in rec and rec["sigma"] == 0


def test_a_cmyk_jpeg_is_refused_by_dejpeg_naming_its_quality_option(tiny_prior_dir, tmp_path):
    """A CMYK JPEG's planes are quantised one by one, as C, M, Y and K: dejpeg's model (YCbCr planes,
    a file's chroma subsampling) does not describe it. Taken for a PNG of a JPEG (its quality read
    from its blocks, chroma 4:2:0) it lost 4.6-6.7 dB at quality 95 (a trial), so it is refused in
    one line that says what --jpeg-quality does instead (it ran then); sr, which takes a JPEG's
    quantisation as noise only, reads it without its tables and its note says so (it said "no JPEG
    file" of a .jpg)."""
    import json

    from restore.errors import InputError

    path = tmp_path / "cmyk.jpg"
    Image.fromarray(_photo(64, 64)).convert("CMYK").save(path, quality=30)
    with pytest.raises(InputError, match="CMYK JPEG: dejpeg models gray and YCbCr JPEGs only"):
        read_tables(path)

    def run(task, *args):
        return CliRunner().invoke(main, [task, str(path), *args, "--steps", "1", "--weights", str(tiny_prior_dir),
                                         "-o", str(tmp_path / f"{task}.png"), "--overwrite"])

    r = run("dejpeg")
    assert r.exit_code == 1 and "--jpeg-quality N takes it for a YCbCr one of quality N" in r.stderr
    r = run("dejpeg", "--jpeg-quality", "30", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.splitlines()[-1])["tables"] == "quality 30"
    r = run("sr", "--scale", "2", "--jpeg-quality", "30")
    assert r.exit_code == 0, r.output
    Image.open(_jpeg(_photo(64, 64), tmp_path, "b.jpg", quality=20)).convert("CMYK").save(path, quality=95)
    r = run("sr", "--scale", "2")  # (a quality-20 JPEG saved again as CMYK: its blocks show)
    assert r.exit_code == 0, r.output
    assert "no JPEG file's tables to read (not a JPEG, or a CMYK one), but the image shows a JPEG's 8x8 blocks" in \
        r.stderr


def test_an_image_without_a_jpegs_blocks_is_left_as_it_is_with_steps_too(tiny_prior_dir, tmp_path):
    """dejpeg leaves an image in which no JPEG's blocks show as it is (its recipe runs no steps, and
    the note says so), and with --steps too: --steps 3 smoothed a never-compressed photo to 41 dB
    from itself under the note 'left as it is'."""
    path = tmp_path / "drawn.png"
    Image.fromarray(_photo(64, 64)).save(path)
    for steps in ([], ["--steps", "2"]):
        r = CliRunner().invoke(main, ["dejpeg", str(path), *steps, "--weights", str(tiny_prior_dir),
                                      "-o", str(tmp_path / "o.png"), "--overwrite"])
        assert r.exit_code == 0, r.output
        assert "no JPEG file's tables to read, and no JPEG's 8x8 blocks found" in r.stderr
        assert np.array_equal(read_image(tmp_path / "o.png").array, read_image(path).array)


def test_an_image_under_8_px_takes_the_quality_given(tiny_prior):
    """From a trial: a 6x6 or 5x40 decode given its quality (--jpeg-quality 50) failed with
    "under 8 px wide ... give it (--jpeg-quality ...)": the quality given was read again. Now
    the blocks are taken from the corner, as an uncropped JPEG's are; without a quality such an
    image is still refused, in one line."""
    from restore.api import run
    from restore.errors import InputError

    rng = np.random.default_rng(3)
    for h, w in ((6, 6), (40, 5), (12, 12)):
        a = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "JPEG", quality=50)
        dec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        res = run(to_tensor(dec), "dejpeg", quality=50, steps=1, prior=tiny_prior)
        assert res.image.shape[-2:] == (h, w) and res.params["tables"] == "quality 50"
        if min(h, w) < 8:
            with pytest.raises(InputError, match="under 8 px"):
                run(to_tensor(dec), "dejpeg", steps=1, prior=tiny_prior)


def test_a_photo_saved_again_at_a_higher_quality_loses_the_first_saves_blocks(tmp_path, tiny_prior_dir):
    """From a trial: a photo saved at quality 30, then again at 90, was de-blocked with the
    file's quality-90 tables (+0.11 dB, its blocks kept). Where the pixels show an earlier save's
    blocks over RESAVED times as coarse, those are read (as for the same pixels without the
    file), and the note says so; a JPEG saved once keeps its own tables."""
    from PIL import Image

    from restore.tasks.dejpeg import RESAVED, nearest_quality

    yy, xx = np.mgrid[0:64, 0:80]
    img = np.stack([128 + 70 * np.sin(xx / (2.1 + c) + yy / 5.3) for c in range(3)], -1).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "q30.jpg", quality=30)
    Image.open(tmp_path / "q30.jpg").save(tmp_path / "again.jpg", quality=90)
    assert nearest_quality(read_tables(tmp_path / "again.jpg")) == 90 and RESAVED > 1
    recs, out = {}, {}
    for name in ("q30.jpg", "again.jpg"):
        r = CliRunner().invoke(main, ["dejpeg", str(tmp_path / name), "--steps", "1", "--weights", str(tiny_prior_dir),
                                      "--json", "-o", str(tmp_path / f"{name}.png")])
        assert r.exit_code == 0, r.output
        recs[name] = json.loads(r.stdout.strip().splitlines()[-1])
        r = CliRunner().invoke(main, ["dejpeg", str(tmp_path / name), "--steps", "1", "--weights", str(tiny_prior_dir),
                                      "--overwrite", "-o", str(tmp_path / f"{name}.png")])
        out[name] = r.output  # (--json leaves the notes out)
    assert recs["q30.jpg"]["tables"] == "file" and recs["q30.jpg"]["file_quality"] == 30
    assert recs["again.jpg"]["tables"] == ("estimated quality 30 (an earlier save's, under the file's own tables "
                                           "of quality 90)")
    assert recs["again.jpg"]["file_quality"] == 90  # (a trial: it was left out where an earlier save was read)
    assert "its pixels show the blocks of an earlier save at quality 30" in out["again.jpg"]
    assert recs["again.jpg"]["sigma_max"] == pytest.approx(recs["q30.jpg"]["sigma_max"])

    # sr and deblur, which take a JPEG's quantisation as noise, read the earlier save's too
    from restore.tasks.deblur import JPEG_FLOOR, JPEG_NOISE as DEBLUR_NOISE
    from restore.tasks.superres import JPEG_NOISE

    earlier = "estimated quality 30 (an earlier save's, under the file's own tables of quality 90)"
    for task, extra, level in (("sr", ["--scale", "2"], JPEG_NOISE * jpeg_tables(30).level),
                               ("deblur", ["--kernel", "gaussian:1.0"],
                                max(JPEG_FLOOR, DEBLUR_NOISE * jpeg_tables(30).level))):
        args = [task, str(tmp_path / "again.jpg"), *extra, "--steps", "1", "--weights", str(tiny_prior_dir),
                "--overwrite", "-o", str(tmp_path / f"{task}.png")]
        r = CliRunner().invoke(main, [*args, "--json"])
        assert r.exit_code == 0, r.output
        rec = json.loads(r.stdout.strip().splitlines()[-1])
        assert rec["tables"] == earlier and rec["sigma"] == pytest.approx(level * 255, abs=2e-3), task
        r = CliRunner().invoke(main, args)
        assert "earlier save" in r.stderr and "quality 30" in r.stderr, r.output

def test_jpeg_files_in_one_batch_keep_their_own_tables(tmp_path, tiny_prior_dir):
    """A trial: with --batch-size, JPEG files of one size shared the first one's tables (their
    short repr was the batch key: "JpegTables(file, chroma 2x2)"), in dejpeg and in deblur, and a
    re-saved file's earlier save went unread. Each keeps its own, as run alone."""
    from PIL import Image

    yy, xx = np.mgrid[0:48, 0:64]
    img = np.stack([128 + 70 * np.sin(xx / (2.1 + c) + yy / 5.3) for c in range(3)], -1).astype(np.uint8)
    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(img).save(d / "a30.jpg", quality=30)
    Image.fromarray(img).save(d / "b90.jpg", quality=90)
    Image.open(d / "a30.jpg").save(d / "c_again.jpg", quality=90)
    for task, extra in (("dejpeg", []), ("deblur", ["--kernel", "gaussian:1.0"])):
        recs = {}
        for bs in ("1", "3"):
            r = CliRunner().invoke(main, [task, str(d), "-o", str(tmp_path / f"{task}{bs}"), "--batch-size", bs, "--json",
                                          "--steps", "1", "--weights", str(tiny_prior_dir), "-q", *extra])
            assert r.exit_code == 0, r.output
            recs[bs] = {Path(x["input"]).name: x for x in map(json.loads, r.stdout.strip().splitlines()) if "input" in x}
        for name in ("a30.jpg", "b90.jpg", "c_again.jpg"):
            one, three = recs["1"][name], recs["3"][name]
            assert (one.get("sigma"), one.get("sigma_max"), one.get("tables")) == (
                three.get("sigma"), three.get("sigma_max"), three.get("tables")), (task, name)
            assert ("sigma" in one) == (task == "deblur")  # dejpeg takes no noise level: it records none
        assert recs["1"]["a30.jpg"]["sigma_max"] != recs["1"]["b90.jpg"]["sigma_max"] or task == "deblur"
        if task == "dejpeg":
            assert "an earlier save" in recs["3"]["c_again.jpg"]["tables"]
    # the API: a batch split image by image keeps each image's own parameters, whatever the first holds
    from restore.api import run

    plain = to_tensor(np.asarray(Image.fromarray(img).resize((32, 24), Image.BOX)).copy())
    dec = to_tensor(np.asarray(Image.open(d / "a30.jpg")).copy())[..., :24, :32]
    for pair in ((plain, dec), (dec, plain)):
        res = run(torch.cat(pair), "sr", scale=2, steps=1, prior=str(tiny_prior_dir))
        alone = [run(x, "sr", scale=2, steps=1, prior=str(tiny_prior_dir)).params for x in pair]
        for i in range(2):
            mine = {k: (v[i] if isinstance(v, list) else v) for k, v in res.params.items()}
            assert {k: v for k, v in mine.items() if v is not None} == alone[i]
        else:
            assert recs["3"]["a30.jpg"]["sigma"] > recs["3"]["b90.jpg"]["sigma"]


def test_a_jpeg_files_quality_is_said(tiny_prior_dir, tmp_path):
    """A browser-app trial: dejpeg said nothing of the quality it read from a file's own tables (sr
    says what a file made of its run); the line says it, and --json has it as file_quality."""
    for name, kw, said in (("a.jpg", {"quality": 30, "subsampling": 0}, "quality 30 (its own tables, 4:4:4;"),
                           ("g.jpg", {"quality": 55}, "quality 55 (its own tables;")):
        a = _photo(32, 40, gray=name == "g.jpg")
        r = CliRunner().invoke(main, ["dejpeg", str(_jpeg(a, tmp_path, name, **kw)), "--steps", "1", "--weights",
                                      str(tiny_prior_dir), "-o", str(tmp_path / f"{name}.png")])
        assert r.exit_code == 0, r.output
        assert f"{name}: a JPEG file of {said} --jpeg-quality sets another)" in r.stderr


def test_the_list_says_each_evaluation_runs_the_prior_three_times():
    """A trial: `restore list` said dejpeg's default made 3 evaluations, where the band denoiser runs
    the network three times in each (9 in all), and the trial found dejpeg 7x slower than denoise."""
    out = CliRunner().invoke(main, ["list"]).output
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("dejpeg "))
    assert "3 evaluations" in line and "runs the prior three times" in line and "9 in all" in line
