"""The photo noise model (restore.noise.estimate_noise), the strength knob, the synthetic
camera and real pairs through restore eval."""

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import restore
from restore.cli.main import main
from restore.evaluate import load_pairs, make_case
from restore.io import write_image
from restore.noise import camera_noise, estimate_noise, estimate_sigma


def _scene(h=96, w=128, seed=0) -> torch.Tensor:
    """A smooth synthetic RGB scene with edges and flat regions (no texture)."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h, dtype=torch.float64), torch.linspace(0, 1, w, dtype=torch.float64),
                            indexing="ij")
    r = 0.3 + 0.4 * xx
    g = 0.5 + 0.2 * torch.sin(3 * yy)
    b = torch.where(xx + yy > 1, 0.7, 0.25)
    return torch.stack([r, g, b])[None]


def _correlated(shape, rms, seed=0) -> torch.Tensor:
    """Noise correlated over ~2 px (white noise through a 3x3 box), scaled to ``rms``."""
    n = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    n = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(n, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    return n * rms / n.std()


@pytest.mark.parametrize("sigma", [5, 15, 40])
def test_white_gaussian_noise_reads_as_its_std(sigma):
    x = _scene()
    y = x + sigma / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    e = estimate_noise(y)
    assert abs(e.level * 255 - sigma) < 0.1 * sigma, e
    assert e.level == e.white and abs(e.whiteness - 1) < 0.15


def test_a_clean_scene_reads_near_zero():
    assert estimate_noise(_scene()).level * 255 < 1.5  # curvature of the smooth shading, no noise


def test_correlated_noise_reads_above_its_fine_scale_estimate():
    """Camera-like noise: the fine-scale estimators read a fraction of it; the photo level is
    above both the white part and the old wavelet estimate, and above the noise's own RMS."""
    x = _scene(128, 160)
    y = x + _correlated(x.shape, 6 / 255)
    e = estimate_noise(y)
    assert e.whiteness > 1.5
    assert e.white * 255 < 3 and estimate_sigma(y) * 255 < 3
    assert e.level * 255 > 6 and e.level > 2 * e.white


def _textured(h=192, w=224) -> torch.Tensor:
    """An RGB scene of sinusoids at many frequencies and angles: no flat region anywhere."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    g = torch.Generator().manual_seed(3)
    chans = []
    for _ in range(3):
        v = torch.full((h, w), 0.5, dtype=torch.float64)
        for f, th, ph in torch.rand(12, 3, generator=g, dtype=torch.float64).tolist():
            v += 0.03 * torch.sin((0.04 + 0.2 * f) * (xx * math.cos(math.pi * th) + yy * math.sin(math.pi * th))
                                  + 2 * math.pi * ph)
        chans.append(v)
    return torch.stack(chans)[None].clamp(0, 1)


@pytest.mark.parametrize("rms", [6, 12, 20])
def test_strong_correlated_noise_without_flat_regions_is_read_on_the_pooled_image(rms, monkeypatch):
    """Where no block is flat the correlated part is not trusted (a texture reads like it), and
    camera noise read as 1/6 of its RMS; the 2x2-pooled image's covariance, blind to texture,
    reads it (PHOTO_POOLED), and the clean texture still reads 0."""
    from restore import noise

    x = _textured()
    assert estimate_noise(x).level * 255 < 0.5
    y = x + _correlated(x.shape, rms / 255)
    e = estimate_noise(y)
    assert e.flat_structure * 255 > noise.PHOTO_NOISE["flat"][1] * 255  # the flattest blocks are not trusted
    assert 0.8 * rms < e.pooled * 255 < 1.2 * rms and e.white * 255 < rms / 4
    assert e.level * 255 > rms  # told above its RMS, as correlated noise needs
    monkeypatch.setitem(noise.PHOTO_POOLED, "gain", 0.0)
    assert estimate_noise(y).level * 255 < rms / 4  # without it: the reading this mends


def test_detail_at_edges_alone_is_not_read_as_noise(monkeypatch):
    """A demosaicking's zipper sits at edges, and the pooled image's colour covariance reads it
    as noise; noise is everywhere, flat regions included, where the pooled luma's weakly
    textured patches read it. The pooled reading is capped at PHOTO_POOLED["luma"] times that."""
    from restore import noise

    h, w = 192, 224
    tiles = torch.rand(3, h // 24 + 1, w // 28 + 1, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    x = (0.2 + 0.6 * tiles).repeat_interleave(24, 1).repeat_interleave(28, 2)[None, :, :h, :w]  # flat tiles
    d = x.diff(dim=-1, prepend=x[..., :1]).abs().sum(1) + x.diff(dim=-2, prepend=x[..., :1, :]).abs().sum(1)
    edges = torch.nn.functional.max_pool2d((d > 0).double()[None], 7, 1, 3)  # within 3 px of an edge
    y = x + _correlated(x.shape, 16 / 255) * edges
    e = estimate_noise(y)
    assert e.pooled * 255 > 8 and e.pooled_luma * 255 < 1
    assert e.level == pytest.approx(e.white) and e.level * 255 < 3
    monkeypatch.setitem(noise.PHOTO_POOLED, "luma", math.inf)
    assert estimate_noise(y).level * 255 > 7  # uncapped: read as noise


def test_tiny_and_batched_inputs():
    assert estimate_noise(torch.rand(1, 3, 1, 1)).level == 0.0  # too small to tell: no noise, no warning
    for c in (2, 4):  # channels that are not RGB (gray + alpha, RGBA tensors): no pooled luma, no error
        e = estimate_noise(torch.rand(1, c, 64, 64, generator=torch.Generator().manual_seed(0)))
        assert e.pooled == 0.0 and 0 < e.level < 1
    with pytest.raises(ValueError, match="one image"):
        estimate_noise(torch.rand(2, 3, 32, 32))


def test_strength_scales_the_level_told_to_the_prior(tiny_prior):
    x = _scene(32, 32).float()
    y = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    base = restore.run(y, "denoise", prior=tiny_prior, sigma=0.1)
    double = restore.run(y, "denoise", prior=tiny_prior, sigma=0.1, strength=2.0)
    same = restore.run(y, "denoise", prior=tiny_prior, sigma=0.2)
    assert double.sigma_y == pytest.approx(2 * base.sigma_y) and torch.equal(double.image, same.image)
    off = restore.run(y, "denoise", prior=tiny_prior, strength=0.0)  # estimated, then times 0: untouched
    assert off.sigma_y == 0 and torch.equal(off.image, y.clamp(0, 1))
    with pytest.raises(restore.InputError, match="strength"):
        restore.run(y, "denoise", prior=tiny_prior, strength=-1.0)


def test_camera_pipeline_is_seeded_and_noisy():
    img = (np.random.default_rng(0).random((33, 47, 3)) * 200 + 20).astype(np.uint8)
    n1, c1, i1 = camera_noise(img, 3)
    n2, c2, i2 = camera_noise(img, 3)
    assert np.array_equal(n1, n2) and np.array_equal(c1, c2) and i1 == i2
    assert n1.shape == c1.shape == img.shape and n1.dtype == np.uint8
    assert not np.array_equal(n1, c1) and 90 <= i1["jpeg"] <= 97 and 1e-4 <= i1["shot"] <= 0.012
    n3, c3, i3 = camera_noise(img, 3, jpeg=False)
    assert i3["jpeg"] is None and not np.array_equal(c3, c1)  # the reference is saved as the noisy one is
    assert np.abs(n3.astype(int) - c3).mean() > 0.5
    case = make_case("denoise", "a", img, 3, noise="camera")
    assert case.run == {} and case.params["noise"] == "camera"  # the level is left to be estimated


def test_camera_pipeline_at_night_dims_and_pushes_the_light():
    """``exposure``: the share of the light the sensor got; ``gain``: the camera's brightening of its raw data
    (its noise brightened with it); ``shot``: the range of shot noise drawn."""
    img = (np.random.default_rng(0).random((33, 47, 3)) * 200 + 20).astype(np.uint8)
    n1, c1, _ = camera_noise(img, 3, jpeg=False)
    n2, c2, _ = camera_noise(img, 3, jpeg=False, exposure=0.25, gain=4.0)
    assert np.abs(c2.astype(int) - c1).max() <= 1  # brightened back: the same photo,
    assert np.abs(n2.astype(int) - c2).std() > 1.5 * np.abs(n1.astype(int) - c1).std()  # 4x the noise's variance
    n3, c3, i3 = camera_noise(img, 3, jpeg=False, exposure=0.25, shot=(1e-4, 1e-3))
    assert c3.mean() < 0.6 * c1.mean() and 1e-4 <= i3["shot"] <= 1e-3  # kept dark


@pytest.fixture
def pairs(tmp_path):
    rng = np.random.default_rng(0)
    for d in ("noisy", "clean"):
        (tmp_path / d).mkdir()
    for i in range(3):
        c = (rng.random((24, 28, 3)) * 255).astype(np.uint8)
        n = np.clip(c + rng.normal(0, 10, c.shape), 0, 255).astype(np.uint8)
        write_image(tmp_path / "clean" / f"p{i}.png", c)
        write_image(tmp_path / "noisy" / f"p{i}.png", n)
    return tmp_path


def test_pairs_are_matched_by_name(pairs):
    got = load_pairs(pairs)
    assert [g[0] for g in got] == ["p0", "p1", "p2"] and all(g[1].shape == g[2].shape for g in got)
    assert [g[0] for g in load_pairs(pairs, every=2)] == ["p0", "p2"]
    (pairs / "noisy" / "p2.png").unlink()
    with pytest.raises(restore.InputError, match="without a pair"):
        load_pairs(pairs)


def test_eval_pairs_and_camera_from_the_cli(pairs, tiny_prior_dir):
    r = CliRunner().invoke(main, ["eval", "denoise", "--pairs", str(pairs), "--every", "2", "--baselines",
                                  "--weights", str(tiny_prior_dir), "-q"])
    assert r.exit_code == 0, r.output
    assert "real noisy/clean pairs" in r.output and "| mmse | 1 | 2 |" in r.output
    assert "opencv-nlm@h=5 (classical)" in r.output
    # the input's own row (a trial's report showed baselines that change nothing as if they were methods)
    from restore.api import run
    from restore.io import read_image, to_tensor
    from restore.metrics import psnr

    row = next(line for line in r.output.splitlines() if line.startswith("| noisy (input) |"))
    want = np.mean([psnr(to_tensor(read_image(pairs / "noisy" / f"p{i}.png").color),
                         to_tensor(read_image(pairs / "clean" / f"p{i}.png").color)) for i in (0, 2)])
    assert abs(float(row.split("|")[4]) - want) < 0.006, (row, want)
    # a trial: every --csv / --json row said "sigma 25, gaussian" (--sigma's default, unused); each restore row now
    # says the level read, as the command's record does, and the setting is the pairs
    r = CliRunner().invoke(main, ["eval", "denoise", "--pairs", str(pairs), "--limit", "2", "--baselines", "--weights",
                                  str(tiny_prior_dir), "-q", "--json", str(pairs / "e.json")])
    assert r.exit_code == 0, r.output
    rec = json.loads((pairs / "e.json").read_text())
    assert rec["setting"] == {"pairs": True}
    assert not any("sigma" in row or "noise" in row for row in rec["rows"])
    for row in (x for x in rec["rows"] if x["kind"] == "restore"):
        got = run(to_tensor(read_image(pairs / "noisy" / f"{row['image']}.png").color), "denoise",
                  prior=str(tiny_prior_dir))
        assert got.sigma_estimated is True and row["sigma_read"] == pytest.approx(got.sigma_y * 255, abs=1e-3)
    r = CliRunner().invoke(main, ["eval", "denoise", str(pairs / "clean"), "--noise", "camera", "--limit", "1",
                                  "--weights", str(tiny_prior_dir), "-q"])
    assert r.exit_code == 0, r.output
    assert "synthetic camera noise" in r.output
    r = CliRunner().invoke(main, ["eval", "sr", "--pairs", str(pairs), "--weights", str(tiny_prior_dir), "-q"])
    assert r.exit_code == 2 and "No such option '--pairs'" in r.output  # offered only where a task takes pairs
    r = CliRunner().invoke(main, ["eval", "denoise", "--pairs", str(pairs / "clean"), "--weights",
                                  str(tiny_prior_dir), "-q"])
    assert r.exit_code != 0 and "no noisy/ folder" in r.output


@pytest.mark.parametrize("sigma", [25.0])
def test_white_noise_in_a_chroma_subsampled_jpeg_reads_from_its_half_size_decode(tmp_path, tiny_prior_dir, sigma):
    """White noise saved as a 4:2:0 JPEG: the full-size reading collapses (the chroma detail the
    subsampling removed holds no noise), so the file's half-size decode, chroma as stored, is
    read instead; the same scene clean, and the noise at 4:4:4, are read as before."""
    import json

    from PIL import Image

    from restore.io import jpeg_half_size, read_image, to_tensor
    from restore.noise import white_at_half

    clean = (_scene(128, 160)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    rng = np.random.default_rng(0)
    noisy = np.clip(clean + sigma * rng.standard_normal(clean.shape), 0, 255).round().astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "n420.jpg", quality=90)
    Image.fromarray(noisy).save(tmp_path / "n444.jpg", quality=90, subsampling=0)
    Image.fromarray(clean).save(tmp_path / "c420.jpg", quality=90)
    x = to_tensor(read_image(tmp_path / "n420.jpg").array)[0]
    assert estimate_noise(x).white * 255 < 5  # the collapse this mends
    half = white_at_half(to_tensor(jpeg_half_size(tmp_path / "n420.jpg")))
    assert 0.8 * sigma < estimate_noise(x, half).level * 255 < 1.25 * sigma
    assert jpeg_half_size(tmp_path / "n444.jpg") is None  # nothing to mend at 4:4:4
    levels = {}
    for name in ("n420", "n444", "c420"):
        r = CliRunner().invoke(main, ["denoise", str(tmp_path / f"{name}.jpg"), "-o", str(tmp_path / f"{name}.png"),
                                      "--weights", str(tiny_prior_dir), "-q", "--json"])
        assert r.exit_code == 0, r.output
        levels[name] = json.loads(r.stdout.splitlines()[-1])["sigma"]
    assert 0.8 * sigma < levels["n420"] < 1.25 * sigma and 0.8 * sigma < levels["n444"] < 1.25 * sigma
    c = to_tensor(read_image(tmp_path / "c420.jpg").array)[0]
    assert levels["c420"] == pytest.approx(estimate_noise(c).level * 255, abs=1e-3)  # clean: as before
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "n420.jpg"), "--sigma", str(sigma), "-o",
                                  str(tmp_path / "given.png"), "--weights", str(tiny_prior_dir), "-q"])
    assert r.exit_code == 0 and "far from the noise" not in r.output  # the warning reads the file as the estimate


def _through_jpeg(a: np.ndarray, path, quality: int, subsampling: int):
    """``a`` saved as a JPEG and read back as the command line reads it: the image and the half-size reading."""
    from PIL import Image

    from restore.io import jpeg_half, read_image, to_tensor

    Image.fromarray(a).save(path, quality=quality, subsampling=subsampling)
    return to_tensor(read_image(path).array)[0], jpeg_half(path)


@pytest.mark.parametrize("sigma", [10.0, 25.0])
@pytest.mark.parametrize("subsampling", [2, 1])
def test_white_noise_in_subsampled_chroma_is_read_on_the_luma(tmp_path, sigma, subsampling, monkeypatch):
    """White noise in a JPEG with subsampled chroma (4:2:0, 4:2:2), decoded to an array as the API
    gets it (no half-size decode): the colour covariance collapses, and sigma 10 read 0.4 at 4:2:0
    (sigma 25 was over-read by the pooled reading); the full-size luma holds the noise and is
    read as white noise (LUMA_WHITE), the pooled reading kept off by the luma's whiteness."""
    from restore import noise

    clean = (_scene(128, 160)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    noisy = np.clip(clean + sigma * np.random.default_rng(0).standard_normal(clean.shape), 0, 255).round()
    x, _ = _through_jpeg(noisy.astype(np.uint8), tmp_path / "n.jpg", 90, subsampling)
    e = estimate_noise(x)
    assert 0.8 * sigma < e.level * 255 < 1.25 * sigma, e
    assert e.pooled_luma / e.luma < noise.PHOTO_POOLED["luma_ratio"][0] + 0.1  # white, as the luma tells
    if subsampling == 2 and sigma == 10:
        monkeypatch.setattr(noise, "LUMA_WHITE", 0.0)
        assert estimate_noise(x).level * 255 < sigma / 3  # without the luma's reading: the collapse this mends


@pytest.mark.parametrize("name", ["161062", "28083"])
def test_white_noise_a_jpeg_file_thinned_is_read_on_the_pooled_luma(shared_data, tmp_path, monkeypatch, name):
    """White noise of std 10 in a validation photo saved at quality 85: the quantisation zeroed the
    noise's finest frequencies where the colour and full-size luma readings look, and it read 0.5-0.8
    (left in the photo); the 2x2-pooled luma keeps its coarser part, and the flattest blocks say the
    noise is white (JPEG_LUMA). The same pixels as a PNG read as before (the floor is a JPEG file's),
    so does an array (no half-size reading), and the clean photo saved so reads as it did."""
    from PIL import Image

    from restore import noise

    img = np.asarray(Image.open(shared_data / "train" / "bsds" / f"{name}.jpg").convert("RGB")).astype(np.float64)
    a = (img + np.random.default_rng(0).normal(0, 10, img.shape)).round().clip(0, 255).astype(np.uint8)
    as_png = estimate_noise(torch.from_numpy(a).permute(2, 0, 1).float() / 255)
    assert 9 < as_png.level * 255 < 11
    x, half = _through_jpeg(a, tmp_path / "n.jpg", 85, 2)
    clean, clean_half = _through_jpeg(img.astype(np.uint8), tmp_path / "c.jpg", 85, 2)
    e, e_clean = estimate_noise(x, half), estimate_noise(clean, clean_half)
    assert 5.5 < e.level * 255 < 11 and e.whiteness < noise.JPEG_LUMA["whiteness"][0], e
    assert e.level == pytest.approx(noise.JPEG_LUMA["gain"] * e.pooled_luma / noise._LUMA_GAIN)
    assert estimate_noise(x).level * 255 < 3  # decoded to an array, no file: as before
    monkeypatch.setattr(noise, "JPEG_LUMA", {**noise.JPEG_LUMA, "gain": 0.0})
    assert estimate_noise(x, half).level * 255 < 1  # without it: the collapse this mends
    assert estimate_noise(clean, clean_half).level == e_clean.level  # a clean file: its blocks are not white
    assert estimate_noise(torch.from_numpy(a).permute(2, 0, 1).float() / 255).level == as_png.level


def test_camera_noise_in_a_subsampled_jpeg_file_reads_as_in_its_png(tmp_path, tiny_prior_dir):
    """Noise two pixels wide saved as a 4:2:0 JPEG: the half-size decode's colour reading is not
    white noise (the luma says so) and is no longer taken as the white part, which had cut the
    level to it (17.5 where the PNG reads 22.4); the pooled reading tells the level as for the PNG."""
    import json

    x = _textured()
    a = ((x + _correlated(x.shape, 16 / 255)).clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    png = estimate_noise(torch.from_numpy(a).permute(2, 0, 1).float() / 255).level
    y, half = _through_jpeg(a, tmp_path / "n.jpg", 95, 2)
    e = estimate_noise(y, half)
    assert half is not None and e.white < half / 8  # the half-size reading qualifies, and is not taken as white
    assert 0.9 * png < e.level < 1.1 * png, (e, png)
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "n.jpg"), "-o", str(tmp_path / "o.png"),
                                  "--weights", str(tiny_prior_dir), "-q", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.splitlines()[-1])["sigma"] == pytest.approx(e.level * 255, abs=1e-3)


@pytest.mark.parametrize("name", ["100007", "161062"])
def test_a_dim_photos_jpeg_file_reads_the_noise_its_quantisation_thinned(shared_data, tmp_path, monkeypatch, name,
                                                                         tiny_prior_dir):
    """A night photo (the synthetic camera given 0.2 of the light) saved at quality 90 read 0.4 and was left
    noisy (night photos so read gained 0.35-4.66 dB told the level DIM_JPEG gives): the file kept little of the
    noise's finest part, the flattest blocks' reading was ruled out as structure and the luma readings
    collapsed. The level is now at least DIM_JPEG times the white reading, and the note and the record say so
    (a trial: nothing said why a dim file was smoothed); the same pixels as a PNG, and the photo undimmed, read as
    before. Where the white reading is texture's (over 0.5-0.6: a trial's clean low-key photos of foliage read
    1.5-2.4 and were smeared at 12-19), the floor fades out."""
    from PIL import Image

    from restore import noise

    img = np.asarray(Image.open(shared_data / "train" / "bsds" / f"{name}.jpg").convert("RGB"))
    n8, _, _ = camera_noise(img, 5, jpeg=False, exposure=0.2, shot=(4e-4, 4e-4))
    y, half = _through_jpeg(n8, tmp_path / "n.jpg", 90, 2)
    assert noise.exposure(y) < 1  # a dim photo
    e = estimate_noise(y, half)
    assert e.level * 255 > 2 and e.level == pytest.approx(noise.DIM_JPEG["white"] * e.white, rel=1e-6), e
    assert 0 < e.dim_read * 255 < 1  # what the other readings told
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "n.jpg"), "-o", str(tmp_path / "o.png"),
                                  "--weights", str(tiny_prior_dir)])
    assert r.exit_code == 0, r.output
    assert "read as a dim photo's JPEG file" in r.output and f"the others read {e.dim_read * 255:.2f}" in r.output
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "n.jpg"), "-o", str(tmp_path / "o2.png"),
                                  "--weights", str(tiny_prior_dir), "--json"])
    assert r.exit_code == 0, r.output
    record = json.loads(r.stdout.splitlines()[-1])
    assert record["sigma"] == pytest.approx(e.level * 255, abs=1e-3)
    assert record["dim_read"] == pytest.approx(e.dim_read * 255, abs=1e-3)
    monkeypatch.setitem(noise.DIM_JPEG, "fade", (0.0, 1e-6))  # a white reading over the fade: as if no floor
    assert estimate_noise(y, half).level == pytest.approx(e.dim_read, rel=1e-6)
    monkeypatch.setitem(noise.DIM_JPEG, "fade", (0.5 / 255, 0.6 / 255))
    png = estimate_noise(torch.from_numpy(n8).permute(2, 0, 1).float() / 255)
    bright, bright_half = _through_jpeg(camera_noise(img, 5, jpeg=False, shot=(4e-4, 4e-4))[0], tmp_path / "b.jpg",
                                        90, 2)
    assert noise.exposure(bright) == 1
    before = estimate_noise(bright, bright_half)
    monkeypatch.setattr(noise, "DIM_JPEG", {**noise.DIM_JPEG, "white": 0.0})
    assert estimate_noise(y, half).level * 255 < 1  # without it: the collapse this mends
    assert estimate_noise(torch.from_numpy(n8).permute(2, 0, 1).float() / 255).level == png.level  # a PNG: as before
    assert estimate_noise(bright, bright_half).level == before.level  # not dim: as before


def test_a_gray_photo_reads_its_noise_not_its_texture(shared_data):
    """One channel gives the patch covariance no colour to tell texture from noise: a clean
    gray photo read 6.8 (and was smoothed). The weakly textured patches' covariance reads it
    near 0, and white noise of std 25 (clipped to the range, as a saved image is) as itself."""
    from PIL import Image

    from restore.noise import _pca_white, _weak_texture_white

    a = np.asarray(Image.open(shared_data / "test" / "Set12" / "01.png").convert("L")).astype(np.float64) / 255
    clean = torch.from_numpy(a).float()[None]
    assert _pca_white(clean) * 255 > 5  # what the plain covariance reads
    assert _weak_texture_white(clean) * 255 < 1.5 and estimate_noise(clean).level * 255 < 3
    noisy = np.clip(a + 25 / 255 * np.random.default_rng(0).standard_normal(a.shape), 0, 1)
    assert 23 < estimate_noise(torch.from_numpy(noisy).float()[None]).level * 255 < 27


def test_a_photo_read_clean_whose_flat_parts_hold_detail_says_grain_may_hide_there(tmp_path, tiny_prior_dir):
    """From a trial: 256-px crops of real ISO 3200-6400 photos (9 of 100) read 0.3 and came out
    unchanged, the note saying only "estimated noise sigma = 0.38". Where the flattest blocks'
    correlated reading is ruled out as structure, the note says that grain could hide there and
    which --sigma to try; a smooth clean scene and a noise read as such get no such line."""
    from restore.noise import hidden_grain

    x = _scene(128, 128)
    grid = torch.zeros(1, 1, 128, 128, dtype=torch.float64)
    grid[..., ::10, :] = 1
    grid[..., :, ::10] = 1  # tiles' grout in every block: no flat region
    y = (x * (1 - 0.3 * grid) + _correlated(x.shape, 4 / 255, seed=2)).clamp(0, 1)
    e = estimate_noise(y)
    assert e.level * 255 < 3 and hidden_grain(e) * 255 > 3 * e.level * 255, e
    assert math.isclose(e.unread, 2.75 * e.correlated * min(1.0, max(0.0, (e.whiteness - 1.1) / 0.4)))
    assert hidden_grain(estimate_noise(x)) is None  # clean, with flat regions
    assert hidden_grain(estimate_noise(x + _correlated(x.shape, 8 / 255))) is None  # read as noise
    write_image(tmp_path / "tiles.png", (y[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "tiles.png"), "-o", str(tmp_path / "o.png"),
                                  "--weights", str(tiny_prior_dir)])
    want = f"still looks grainy, try --sigma {hidden_grain(e) * 255:.0f}"
    assert r.exit_code == 0 and "its flattest parts hold detail" in r.output and want[:40] in r.output, r.output
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "tiles.png"), "-o", str(tmp_path / "o2.png"), "--json",
                                  "--weights", str(tiny_prior_dir)])
    rec = json.loads(r.stdout.splitlines()[-1])
    assert r.exit_code == 0 and abs(rec["sigma_to_try"] - hidden_grain(e) * 255) < 1.5, rec  # --json says it too
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "tiles.png"), "-o", str(tmp_path / "o3.png"), "--sigma",
                                  f"{rec['sigma_to_try']:.0f}", "--weights", str(tiny_prior_dir)])
    assert r.exit_code == 0 and "far from the noise" not in r.output  # following the note is not warned against
    folder = tmp_path / "in"  # a folder run: the note points to a run on that image alone, beside its output
    folder.mkdir()
    (folder / "tiles.png").write_bytes((tmp_path / "tiles.png").read_bytes())
    r = CliRunner().invoke(main, ["denoise", str(folder), "-o", str(tmp_path / "out"), "--weights", str(tiny_prior_dir)])
    n = f"{rec['sigma_to_try']:.0f}"
    assert r.exit_code == 0 and f"try --sigma {n} on this image alone (restore denoise" in r.output, r.output
    assert f"tiles.sigma{n}.png --sigma {n})" in r.output
