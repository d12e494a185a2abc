"""The level read from a photo checked with the prior (``restore.tasks.denoise.lowered_level``):
a trial found clean, sharp web photos (a pumpkin's skin, a scoreboard's LED grid) read as
noisy at 6-7/255 and smeared by the default denoise."""

import pytest
import torch

import restore
from restore.io import read_image, to_tensor
from restore.tasks.denoise import lowered_level, texture_taken


def _textured(seed=0, h=128, w=128) -> torch.Tensor:
    """Texture on the left half, flat on the right (float64, (1, 3, H, W))."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((1, 3, h, w), 0.5, dtype=torch.float64)
    x[..., : w // 2] += 0.15 * torch.randn(1, 1, h, w // 2, generator=g, dtype=torch.float64)
    return x


def test_the_reading_tells_noise_taken_from_texture_taken():
    """Noise removed exactly leaves a residual that is the same everywhere: about 0. A clean
    image smoothed loses its texture where the texture is: high."""
    x = _textured()
    noise = 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert abs(texture_taken(x + noise, x)) < 0.1
    smoothed = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    assert texture_taken(x, smoothed) > 0.5


@pytest.mark.parametrize("readings, expect", [
    ({10: 0.8, 7: 0.65, 4.9: 0.4}, 4.9),  # falls below the threshold: lowered to there
    ({10: 0.8, 7: 0.65, 4.9: 0.6}, 7),  # stops falling (by under 0.1): lowered as far as it fell
    ({10: 0.6, 7: 0.55}, 10),  # does not fall by 0.1: the noise's own reading, the level kept
    ({10: 0.45}, 10),  # under the threshold: kept
    ({10: 1.0, 7: 0.88, 4.9: 0.76, 3.4: 0.64, 2.4: 0.52}, 2.4),  # falls all the way: to the last step over the floor
    ({10: 0.72, 7: 0.73, 4.9: 0.73, 3.4: 0.45}, 3.4),  # over 0.7, falling or not: lowered (a knitted sweater)
    ({10: 0.72, 7: 0.69, 4.9: 0.66, 3.4: 0.45}, 7),  # 0.69 and no fall: kept there
])
def test_a_level_is_lowered_only_while_the_reading_falls_with_it(monkeypatch, readings, expect):
    """The rule on made-up readings by level (a stand-in denoiser hands back its level, the
    reading is looked up): lowered by 0.7 a step while the reading is over 0.5 and falls by 0.1, or
    is over 0.7."""
    import restore.tasks.denoise as dn

    def reading(_, xh):
        s = round(float(xh.flatten()[0]) * 255, 1)
        return next(v for k, v in readings.items() if abs(k - s) < 0.06)

    monkeypatch.setattr(dn, "texture_taken", reading)
    y = torch.zeros(1, 3, 32, 32)
    got = lowered_level(y, lambda x, s: torch.full_like(x, s), 10 / 255)
    assert got * 255 == pytest.approx(expect, abs=0.06)
    assert lowered_level(y, lambda x, s: torch.full_like(x, s), 2.5 / 255) == 2.5 / 255  # nothing lower to go to


def _photo(shared_data, *parts):
    p = shared_data.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not here")
    return to_tensor(read_image(p).array)


GOLDFINCH = ("train", "imagenet1k", "n01531178_goldfinch.JPEG")


def test_a_clean_web_photo_read_as_noisy_is_lowered_and_said(shared_data):
    """A clean ImageNet photo (a goldfinch on a branch) read 5.05 as the command line reads the
    file: told about 3.5, the reading reported (validation: benchmarks/noise_guard.py)."""
    from restore.io import jpeg_half
    from restore.tasks import get_task

    y = _photo(shared_data, *GOLDFINCH)
    r = restore.run(y, "denoise", jpeg_half=jpeg_half(shared_data.joinpath(*GOLDFINCH)))  # as the command line
    assert r.params["level_read"] * 255 == pytest.approx(5.05, abs=0.05) and "lowered_to" in r.params
    assert 2 < r.sigma_y * 255 < 4
    note = get_task("denoise").estimated_note(r.params, r.sigma_y)
    assert "read 5.05, lowered: at that level the prior took the photo's own texture away" in note


def test_a_reading_over_the_sure_threshold_lowers_without_a_fall(shared_data):
    """A clean BSDS photo (a knitted sweater before an iceberg) read 18.42 as the command line reads
    its file, and its reading (0.71, 0.71, 0.69, 0.61) never fell by 0.1: it was told 18.42 and
    smeared (30.0 dB from itself). Over TEXTURE_SURE it is lowered, falling or not."""
    from restore.io import jpeg_half

    path = ("train", "bsds", "188005.jpg")
    y = _photo(shared_data, *path)
    r = restore.run(y, "denoise", jpeg_half=jpeg_half(shared_data.joinpath(*path)))
    assert r.params["level_read"] * 255 == pytest.approx(18.42, abs=0.05)
    assert r.params["lowered_to"] * 255 == pytest.approx(9.03, abs=0.1)


def test_real_camera_noise_whose_reading_stays_high_keeps_its_level(shared_data):
    """A PolyU100 development photo (Canon 600D, ISO 1600) whose reading stays at 0.34-0.48 at
    every level: its noise, not its texture; the level read is kept."""
    y = _photo(shared_data, "real-noise", "PolyU100", "noisy", "Canon600D_3-5_125_1600_waterhouse_10.jpg")
    r = restore.run(y, "denoise")
    assert "level_read" not in r.params and r.sigma_y * 255 == pytest.approx(11.58, abs=0.05)


def test_white_noise_keeps_its_level():
    """White Gaussian noise on a textured scene is taken evenly: read and told as itself."""
    x = _textured(h=160, w=160).float()
    y = x + 25 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    r = restore.run(y, "denoise")
    assert "level_read" not in r.params
    assert r.sigma_y * 255 == pytest.approx(25, rel=0.1)


def test_a_strength_reports_the_level_read_beside_the_level_told():
    """A trial: with --strength the --json record had the level told, not the one read (the
    note had both). Not lowered, the reading is level_read, and the note says no lowering."""
    from restore.tasks import get_task

    x = _textured(h=160, w=160).float()
    y = x + 25 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    full, soft = restore.run(y, "denoise"), restore.run(y, "denoise", strength=0.7)
    assert "level_read" not in full.params and "lowered_to" not in soft.params
    assert soft.params["level_read"] == pytest.approx(full.sigma_y, rel=1e-6)
    assert soft.sigma_y == pytest.approx(0.7 * full.sigma_y, rel=1e-6)
    note = get_task("denoise").estimated_note(soft.params, soft.sigma_y)
    assert note.startswith(f"estimated noise sigma = {full.sigma_y * 255:.2f}, told") and "lowered" not in note


def test_a_given_sigma_is_not_checked():
    """The check is of a level read: a given sigma is told as it is, and strength 0 is no level."""
    y = _textured(h=96, w=96).float()
    assert restore.run(y, "denoise", sigma=20 / 255).sigma_y == pytest.approx(20 / 255)
    r = restore.run(y, "denoise", strength=0.0)
    assert "level_read" not in r.params and r.sigma_y == 0


def test_the_strength_scales_the_lowered_level(shared_data):
    """A trial: the check ran at strength 1 only, so 0.99 told the unlowered reading (7.38
    where 1.0 told 5.22): smoother below 1, against the help. The level is lowered first, then
    scaled; the note with a strength says the reading too."""
    from restore.io import jpeg_half
    from restore.tasks import get_task

    y = _photo(shared_data, *GOLDFINCH)
    half = jpeg_half(shared_data.joinpath(*GOLDFINCH))
    told = {s: restore.run(y, "denoise", jpeg_half=half, strength=s) for s in (0.9, 0.99, 1.0, 1.01)}
    levels = [told[s].sigma_y for s in (0.9, 0.99, 1.0, 1.01)]
    assert levels == sorted(levels) and all("lowered_to" in r.params for r in told.values())
    assert told[0.99].sigma_y == pytest.approx(0.99 * told[1.0].sigma_y, rel=1e-6)
    note = get_task("denoise").estimated_note(told[0.9].params, told[0.9].sigma_y)
    assert note.startswith(f"estimated noise sigma = {told[1.0].sigma_y * 255:.2f}, told ")
    assert "read 5.05, lowered" in note
