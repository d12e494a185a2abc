"""16-bit data that do not fill their range (a 12-bit camera's in a 16-bit file) are restored on
their own range, and what a scientist's trial (trial Z) found beside it."""

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import restore
from restore.api import run
from restore.errors import InputError
from restore.io import bits_peak, data_bits, from_tensor, to_tensor


def _twelve_bits(shape=(24, 32), seed=0) -> np.ndarray:
    g = np.random.default_rng(seed)
    return g.integers(200, 4000, shape).astype(np.uint16)


def test_data_bits_reads_the_fewest_bits_that_hold_the_samples():
    a = np.zeros((4, 4), np.uint16)
    for top, bits in ((4000, 12), (4095, 12), (4096, 13), (1000, 10), (255, 8), (3, 8), (32767, 15), (40000, None)):
        a[0, 0] = top
        assert data_bits(a) == bits, top
    rgba = np.zeros((4, 4, 4), np.uint16)
    rgba[..., 3] = 65535  # an opaque alpha is no sample of the data
    rgba[..., :3] = 1000
    assert data_bits(rgba) == 10
    assert data_bits(np.full((4, 4), 100, np.uint8)) is None
    assert data_bits(np.full((4, 4), 0.01, np.float32)) is None
    assert bits_peak(12) == 4095 / 65535 and bits_peak(None) is None


def test_a_uint16_array_of_12_bits_runs_on_its_own_range(tiny_prior):
    """The same as the data scaled to fill [0, 1] by hand, the noise level with them, and back."""
    a = _twelve_bits()
    peak = bits_peak(12)
    out = restore.denoise(a, sigma=20 / 65535, prior=tiny_prior)
    res = run(to_tensor(a) / peak, "denoise", sigma=20 / 65535 / peak, prior=tiny_prior)
    by_hand = from_tensor(res.image * peak, np.uint16)
    assert out.dtype == np.uint16 and np.abs(out.astype(int) - by_hand.astype(int)).max() <= 1
    full = run(to_tensor(a), "denoise", sigma=20 / 65535, prior=tiny_prior)  # bits=16: the full range, as before
    assert np.array_equal(restore.denoise(a, sigma=20 / 65535, bits=16, prior=tiny_prior),
                          from_tensor(full.image, np.uint16))
    assert not np.array_equal(out, from_tensor(full.image, np.uint16))


def test_what_run_reports_is_in_the_callers_units(tiny_prior):
    a = _twelve_bits()
    peak = bits_peak(12)
    x = to_tensor(a)
    res = run(x, "denoise", bits=12, prior=tiny_prior)  # the level estimated on the data's own range
    own = run(x / peak, "denoise", prior=tiny_prior)
    assert res.sigma_estimated and res.params["bits"] == 12
    assert res.sigma_y == pytest.approx(own.sigma_y * peak, rel=1e-6)
    assert float(res.image.max()) <= peak * (1 + 1e-6)
    told = run(x, "deblur", kernel="gaussian:1.0", bits=12, sigma=30 / 65535, model_error=40 / 65535, steps=2,
               prior=tiny_prior)
    assert told.sigma_y == pytest.approx(30 / 65535, rel=1e-6)
    assert told.params["model_error"] == pytest.approx(40 / 65535, rel=1e-6)


def test_bits_that_do_not_hold_the_data_are_refused(tiny_prior):
    x = to_tensor(_twelve_bits())
    with pytest.raises(InputError, match="over 1023 of 65535"):
        run(x, "denoise", bits=10, sigma=0.001, prior=tiny_prior)
    for bad in (7, 17, 12.5, "12"):
        with pytest.raises(InputError, match="bits must be a whole number from 8 to 16"):
            run(x, "denoise", bits=bad, sigma=0.001, prior=tiny_prior)
    with pytest.raises(InputError, match="over the range of 12-bit data"):  # 200 of 255: 51400 counts
        run(x, "denoise", bits=12, sigma=200 / 255, prior=tiny_prior)


def test_inpainting_12_bit_data_keeps_the_known_samples_exactly(tiny_prior):
    a = _twelve_bits((32, 32))
    mask = np.zeros((32, 32), bool)
    mask[10:20, 12:22] = True
    out = restore.inpaint(a, mask, fill="mean", steps=2, prior=tiny_prior)
    assert out.dtype == np.uint16 and np.array_equal(out[~mask], a[~mask])
    assert int(out.max()) <= 4095


def test_the_command_line_says_it_and_reports_the_bits(tmp_path, tiny_prior_dir):
    from restore.cli.main import main as cli

    a = _twelve_bits()
    Image.fromarray(a).save(tmp_path / "cells.png")
    r = CliRunner().invoke(cli, ["denoise", str(tmp_path / "cells.png"), "-o", str(tmp_path / "out.png"),
                                 "--weights", str(tiny_prior_dir), "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert "16-bit samples all lie under 4096: restored on that range, as 12-bit data" in r.output
    out = np.array(Image.open(tmp_path / "out.png"))
    assert out.dtype == np.uint16 and int(out.max()) <= 4095
    r = CliRunner().invoke(cli, ["denoise", str(tmp_path / "cells.png"), "-o", str(tmp_path / "out2.png"),
                                 "--weights", str(tiny_prior_dir), "--threads", "1", "--json"])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.output.strip().splitlines()[-1])
    assert rec["bits"] == 12 and "restored on that range" not in r.output
    # a --sigma over the data's range is refused before any warning (a "far from the noise" warning came first)
    r = CliRunner().invoke(cli, ["denoise", str(tmp_path / "cells.png"), "-o", str(tmp_path / "out3.png"),
                                 "--weights", str(tiny_prior_dir), "--threads", "1", "--sigma", "100"])
    assert r.exit_code == 1 and "over the range of 12-bit data" in r.output and "warning" not in r.output, r.output


def test_deblur_says_when_a_given_sigma_is_raised_to_its_floor(tiny_prior):
    """An explicit sigma under the least deblurring assumes was raised without a word."""
    img = np.full((32, 32), 100, np.uint8)
    with pytest.warns(UserWarning, match=r"sigma=0.0003922 = 0.1/255 is below the least noise deblurring assumes "
                      r"\(0.001961 = 0.5/255, .*0.001961 = 0.5/255 is used instead"):
        restore.deblur(img, "gaussian:1.0", sigma=0.1 / 255, steps=2, prior=tiny_prior)
    with warnings.catch_warnings():  # 12-bit data: the floor is of their own range, under the sigma given
        warnings.simplefilter("error")
        restore.deblur(_twelve_bits((32, 32)), "gaussian:1.0", sigma=0.04 / 255, steps=2, prior=tiny_prior)


def test_float_samples_outside_0_1_are_said_to_be_clipped(tiny_prior):
    """Background-subtracted data (most of it negative) came back as 0 without a word."""
    ramp = np.tile(np.linspace(0, 1, 24, dtype=np.float32), (24, 1))
    with pytest.warns(UserWarning, match=r"66.7% of the image's samples lie outside \[0, 1\] \(from -0.2 .*clipped"):
        restore.denoise(ramp * 0.3 - 0.2, sigma=2 / 255, prior=tiny_prior)
    with warnings.catch_warnings():  # a sample or two of unclipped noise is no such case
        warnings.simplefilter("error")
        g = ramp.copy()
        g[0, 0] = -0.01
        restore.denoise(g, sigma=2 / 255, prior=tiny_prior)


def test_a_tiff_of_other_channel_counts_is_refused_for_them(tmp_path):
    """The message said "save it as 16-bit" of a 16-bit TIFF with 2 or 5 channels."""
    tifffile = pytest.importorskip("tifffile")
    for n in (2, 5):
        p = tmp_path / f"ch{n}.tif"
        tifffile.imwrite(p, np.zeros((8, 8, n), np.uint16), photometric="minisblack", planarconfig="contig")
        with pytest.raises(InputError, match=rf"\({n} per pixel\): restore reads grey, RGB and RGBA TIFFs"):
            restore.read_image(p)


def test_the_samplers_levels_are_the_priors_on_the_datas_range(tiny_prior):
    """`--sigma-max 51` was scaled with the data (816 on 12-bit data), where the default start is the
    prior's 51 on their range: a folder rerun took it for the default and made other pixels (trial AC)."""
    a = _twelve_bits((32, 32))
    told = restore.super_resolve(a, 2, steps=2, sigma_max=51 / 255, prior=tiny_prior)
    assert np.array_equal(told, restore.super_resolve(a, 2, steps=2, prior=tiny_prior))
    res = run(to_tensor(a), "sr", scale=2, steps=2, bits=12, prior=tiny_prior)
    assert res.sigma_start == pytest.approx(run(to_tensor(a) / bits_peak(12), "sr", scale=2, steps=2,
                                               prior=tiny_prior).sigma_start)


def test_small_levels_are_told_with_their_digits():
    """8-bit data in a 16-bit file: "estimated noise sigma = 0.00 ... try --sigma 0" (trial AC)."""
    from restore.tasks.base import level_text

    assert level_text(0.0023) == "0.0023" and level_text(0.5) == "0.5" and level_text(6.9) == "7"
    assert level_text(23.4) == "23"


def test_bits_for_a_uint8_array_is_refused_for_what_it_is(tiny_prior):
    with pytest.raises(InputError, match="bits=12 is for 16-bit data .* this image is uint8"):
        restore.denoise(np.full((16, 16), 100, np.uint8), sigma=0.01, bits=12, prior=tiny_prior)


def test_a_floats_rounding_past_1_is_not_warned_of(tiny_prior):
    ramp = np.tile(np.linspace(0, 1, 24, dtype=np.float32), (24, 1))
    ramp[:, -3:] = np.float32(1.0000001)  # an eighth of the samples: a float's rounding, nothing to clip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restore.denoise(ramp, sigma=2 / 255, prior=tiny_prior)


def test_the_compare_and_std_files_are_drawn_on_the_datas_range(tmp_path, tiny_prior_dir):
    """12-bit data's --compare panels reached 16 of 255 (black) (trial AC)."""
    from restore.cli.main import main as cli

    Image.fromarray(_twelve_bits((32, 32))).save(tmp_path / "cells.png")
    r = CliRunner().invoke(cli, ["denoise", str(tmp_path / "cells.png"), "-o", str(tmp_path / "out.png"), "--sigma",
                                 "0.05", "--compare", "--weights", str(tiny_prior_dir), "--threads", "1", "-q"])
    assert r.exit_code == 0, r.output
    panel = np.array(Image.open(tmp_path / "out.compare.png"))
    assert panel.dtype == np.uint8 and int(panel[:, :32].max()) > 200  # the input's panel, 4000 of 4095
