"""Images whose detail is no noise (a trial on images people bring besides photos): a halftone
screen read as noise of 146-274 and a 1-bit dither read as 25 were smeared (7.6-18.4 dB from
themselves); a clean halftone was offered "try --sigma 96"."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

import restore
from restore.io import to_tensor, write_image
from restore.noise import NOT_NOISE, estimate_noise, hidden_grain, noise_floor, not_noise, pattern_share, two_level


def _screen(n=240, per=5, blur=0.6):
    """A smooth grey picture printed as a halftone screen (dots of ``per`` px), blurred as a scan blurs it."""
    yy, xx = np.mgrid[0:n, 0:n]
    grey = 0.5 + 0.35 * np.sin(xx / 23.0) * np.cos(yy / 31.0)
    r = np.hypot((xx % per) - per // 2, (yy % per) - per // 2)
    cell = cv2.resize(cv2.resize(grey, (n // per, n // per), interpolation=cv2.INTER_AREA), (n, n),
                      interpolation=cv2.INTER_NEAREST)
    dots = np.where(r < np.sqrt(1 - cell) * per * 0.6, 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(dots, (0, 0), blur) if blur else dots


def _photo(n=240, seed=0):
    """A smooth picture with some texture (no regular pattern)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:n, 0:n] / n
    base = 0.5 + 0.3 * np.sin(5 * xx + 2 * yy) * np.cos(3 * yy)
    return np.clip(base + cv2.GaussianBlur(rng.normal(0, 0.08, (n, n)), (0, 0), 3), 0, 1)


def test_a_halftone_screen_reads_as_a_pattern_and_is_left_as_it_is(tiny_prior):
    h = _screen()
    e = estimate_noise(to_tensor(h)[0])
    assert e.level <= 1.0  # at most the range --sigma takes (it read 274 on a trial's screen)
    assert e.level > NOT_NOISE["least"] and pattern_share(to_tensor(h)[0]) >= NOT_NOISE["share"]
    assert not_noise(to_tensor(h), e.level) == "pattern"
    res = restore.api.run(to_tensor(h), "denoise", prior=tiny_prior)
    assert res.params["not_noise"] == "pattern" and res.params["read_as_noise"] == pytest.approx(e.level)
    assert res.sigma_y == 0.0
    assert np.array_equal(restore.denoise(h, prior=tiny_prior), h)
    # told a level, it is smoothed as asked (a descreen)
    assert not np.array_equal(restore.denoise(h, sigma=0.2, prior=tiny_prior), h)


def test_a_two_level_image_holds_no_noise_to_read(tiny_prior):
    rng = np.random.default_rng(1)
    dither = np.where(rng.random((96, 120)) < _photo(120)[:96], 255, 0).astype(np.uint8)  # a 1-bit dither
    assert two_level(to_tensor(dither)[0]) and not_noise(to_tensor(dither), 0.1) == "two-level"
    assert np.array_equal(restore.denoise(dither, prior=tiny_prior), dither)
    rgb = np.dstack([dither, dither // 2, 255 - dither])  # two values a channel
    assert not_noise(to_tensor(rgb), 0.1) == "two-level"


def test_noise_is_not_taken_for_a_pattern():
    g = torch.Generator().manual_seed(0)
    for sigma in (40, 80):  # strong white noise on a picture, and on a halftone's grey level
        x = (torch.from_numpy(_photo()).float()[None] + sigma / 255 * torch.randn(1, 240, 240, generator=g)).clamp(0, 1)
        assert pattern_share(x) < 0.1 and not_noise(x, sigma / 255) is None
    x = torch.rand(3, 64, 64, generator=g)
    assert not two_level(x) and not_noise(x, 0.5) is None
    assert not_noise(x, 0.0) is None  # read clean: nothing to say
    assert not two_level(torch.full((3, 24, 24), 0.5))  # one value is no two-level image (a flat image's warnings)


def test_stripes_under_strong_noise_are_denoised(tiny_prior):
    """A trial of the rule: blinds (10-px stripes) under noise of 50 hold over 60 % of their fine
    detail in a few frequencies and read over 30, so they were left noisy (15.1 dB, 27.1 before the
    rule). Noise sets the median power of the finest frequencies (noise_floor about its std); a
    clean halftone's is a tenth of what the estimate reads in it."""
    g = torch.Generator().manual_seed(2)
    yy = torch.arange(256)[:, None].expand(256, 256)
    blinds = torch.where(yy % 10 < 6, 200 / 255, 60 / 255)[None]
    for sigma in (50, 60):
        x = (blinds + sigma / 255 * torch.randn(1, 256, 256, generator=g)).clamp(0, 1)
        level = estimate_noise(x).level
        assert level > NOT_NOISE["least"] and pattern_share(x) >= NOT_NOISE["share"]  # what the rule alone took
        assert noise_floor(x) == pytest.approx(sigma / 255, rel=0.15) and not_noise(x, level) is None
        res = restore.api.run(x[None], "denoise", prior=tiny_prior)
        assert "not_noise" not in res.params and res.sigma_y > 0
    h = to_tensor(_screen())[0]
    assert noise_floor(h) < 0.1 * estimate_noise(h).level


def test_a_clean_halftone_is_not_offered_a_level_to_try(tmp_path, tiny_prior_dir):
    from restore.cli.main import main

    h = _screen(per=6, blur=0.8)  # read clean, its raster taken for grain hidden in detail
    e = estimate_noise(to_tensor(h)[0])
    assert e.level < 3 / 255 and hidden_grain(e) is not None  # what the note offered: 100 on a 255 scale
    write_image(tmp_path / "screen.png", h)
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "screen.png"), "-o", str(tmp_path / "o.png"),
                                  "--weights", str(tiny_prior_dir), "--threads", "1"])
    assert r.exit_code == 0 and "try --sigma" not in r.output, r.output
    write_image(tmp_path / "dots.png", _screen())
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "dots.png"), "-o", str(tmp_path / "o2.png"),
                                  "--weights", str(tiny_prior_dir), "--threads", "1"])
    assert r.exit_code == 0 and "the image is a regular pattern" in r.output and "left as it is" in r.output
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "dots.png"), "-o", str(tmp_path / "o3.png"),
                                  "--weights", str(tiny_prior_dir), "--threads", "1", "--json"])
    rec = json.loads(r.output.strip().splitlines()[-1])
    assert rec["sigma"] == 0 and rec["not_noise"] == "pattern" and rec["read_as_noise"] <= 255


@pytest.mark.parametrize("how", [{}, {"strength": 0.0}, {"sigma": 0.0}])
@pytest.mark.parametrize("sampler", ["dpir", "dps"])
def test_nothing_to_remove_runs_no_sampler(tiny_prior, how, sampler):
    """A named multi-step sampler at noise level 0 (an image left as it is, strength 0, sigma 0)
    ran its steps to hand back its input (a trial: dpir 12 s for an identical output): y = x with
    no noise is the answer, bit for bit, and the prior is not evaluated."""
    rng = np.random.default_rng(2)
    img = (np.where(rng.random((48, 64)) < _photo(64)[:48], 255, 0).astype(np.uint8) if not how
           else (_photo(64)[:48] * 255).round().astype(np.uint8))  # (given no level: a two-level image)
    calls = []
    hook = tiny_prior.net.register_forward_hook(lambda *a: calls.append(1))
    try:
        res = restore.api.run(to_tensor(img), "denoise", prior=tiny_prior, sampler=sampler,
                              samples=2 if sampler == "dps" else 1, **how)  # (dpir is deterministic)
    finally:
        hook.remove()
    assert calls == [] and (res.sampler, res.steps) == ("none", 0)
    assert res.std is None if sampler == "dpir" else float(res.std.abs().max()) == 0
    assert torch.equal((res.image * 255).round().to(torch.uint8)[0, 0], torch.from_numpy(img))
    with_noise = restore.api.run(to_tensor(img), "denoise", prior=tiny_prior, sampler=sampler, sigma=0.05, steps=3)
    assert (with_noise.sampler, with_noise.steps) == (sampler, 3)  # a level: the sampler runs


def test_a_batch_reports_what_ran_on_each_image(tiny_prior, tiny_prior_dir, tmp_path):
    """A trial: in a batch of a two-level image and a noisy one (levels read per image), the result
    and every --json record named the first image's sampler and steps ('none', 0 for the noisy one
    that dpir denoised, or 'dpir' for the image left as it is)."""
    rng = np.random.default_rng(5)
    dither = np.where(rng.random((48, 64)) < _photo(64)[:48], 1.0, 0.0)
    noisy = np.clip(_photo(64)[:48] + rng.normal(0, 0.08, (48, 64)), 0, 1)
    x = torch.from_numpy(np.stack([dither, noisy])[:, None].repeat(3, 1)).float()
    res = restore.api.run(x, "denoise", prior=tiny_prior, sampler="dpir", steps=3)
    assert (res.sampler, res.steps) == (["none", "dpir"], [0, 3])
    assert torch.equal(res.image[0], x[0]) and not torch.equal(res.image[1], x[1])
    assert res.params["not_noise"] == ["two-level", None]
    same = restore.api.run(x[[1, 1]], "denoise", prior=tiny_prior, sampler="dpir", steps=3)
    assert (same.sampler, same.steps) == ("dpir", 3)  # one value where the images agree
    for i, a in enumerate((dither, noisy)):
        write_image(tmp_path / f"{i}.png", (np.repeat(a[..., None], 3, 2) * 255).round().astype(np.uint8))
    from restore.cli.main import main

    r = CliRunner().invoke(main, [
        "denoise", str(tmp_path / "0.png"), str(tmp_path / "1.png"), "-o", str(tmp_path / "out"), "--sampler",
        "dpir", "--steps", "3", "--batch-size", "2", "--json", "--weights", str(tiny_prior_dir)])
    assert r.exit_code == 0, r.output
    recs = {Path(rec["input"]).name: rec for rec in map(json.loads, r.stdout.splitlines()) if "input" in rec}
    assert [(recs[n]["sampler"], recs[n]["steps"], recs[n]["batch"]) for n in ("0.png", "1.png")] == [
        ("none", 0, 2), ("dpir", 3, 2)]
