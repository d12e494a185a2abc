"""Defects a trial of every sampler x task x odd input found: a batch's masks read as one mask
of many channels, 32-bit TIFF samples clipped to 16 bits, samplers from pure noise handing
back their first guess after 1-2 steps, DDNM+ deblurring noise into a blur's weakest
frequencies, dps with no guidance, levels under the prior's lowest taken in silence."""

from pathlib import Path

import numpy as np
import pytest
import torch

import restore
from restore.api import run as api_run
from restore.errors import InputError, RestoreError
from restore.io import read_image

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "photo.png"


def _boxes():
    a = np.zeros((20, 24), bool)
    a[4:10, 4:10] = True
    b = np.zeros((20, 24), bool)
    b[8:16, 10:20] = True
    return a, b


def test_a_batch_takes_one_mask_per_image_as_an_array(tiny_prior):
    """A ``(B, H, W)`` mask for a batch of B was read as one mask of B channels: every image
    got the masks' intersection (25 of 100 and 150 pixels), and disjoint masks "no hole".
    ``(B, H, W)``, ``(B, 1, H, W)`` and ``known`` of ``(B, H, W)`` are one mask per image,
    as a list of them is."""
    g = torch.Generator().manual_seed(0)
    t = torch.rand(1, 3, 20, 24, generator=g)
    x = torch.cat([t, t])
    a, b = _boxes()
    kw = dict(prior=tiny_prior, mask_dilate=0, fill="mean", steps=2)
    want = restore.inpaint(x, [a, b], **kw)
    assert [int((want[i] != t[0]).any(0).sum()) for i in range(2)] == [a.sum(), b.sum()]
    for m in (np.stack([a, b]), torch.from_numpy(np.stack([a, b]))[:, None]):
        assert torch.equal(restore.inpaint(x, m, **kw), want)
    assert torch.equal(restore.inpaint(x, known=torch.from_numpy(~np.stack([a, b])), **kw), want)
    c = np.zeros((20, 24), bool)
    c[0:3, 0:3] = True  # disjoint from a: their intersection has no hole
    out = restore.inpaint(x, np.stack([a, c]), **kw)
    assert int((out[1] != t[0]).any(0).sum()) == c.sum()


@pytest.mark.parametrize("scale, ok", [(1000, False), (10, True), (1, True)])
def test_32_bit_integer_tiff(tmp_path, scale, ok):
    """An int32 TIFF of values up to 203000 was clipped to 65535 in silence (most of it came out
    white): refused, saying its range; one whose values fit 16 bits is read as 16-bit, and one
    whose values all fit 0-255 as 8-bit (it was read as 16-bit: 257 times too dark)."""
    from PIL import Image

    a = (np.arange(40 * 48).reshape(40, 48) % 166 + 38).astype(np.int32) * scale
    Image.fromarray(a).save(tmp_path / "i.tif")
    if ok:
        img = read_image(tmp_path / "i.tif")
        assert img.array.dtype == (np.uint8 if scale == 1 else np.uint16) and np.array_equal(img.array, a)
    else:
        with pytest.raises(InputError, match=r"int32 samples from 38000 to 203000, outside 0-65535"):
            read_image(tmp_path / "i.tif")


@pytest.fixture(scope="module")
def crop():
    img = read_image(PHOTO).array
    c = torch.from_numpy(img[40:72, 60:92].astype(np.float32) / 255).permute(2, 0, 1)[None]
    noisy = (c + 25 / 255 * torch.randn(c.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    return c, noisy


@pytest.mark.parametrize("sampler", ["ddnm", "ddrm", "pigdm"])
def test_one_step_from_pure_noise_is_refused(crop, sampler):
    """``--steps 1`` with a sampler from pure noise handed back the prior's guess of pure
    noise (69-100 % of the pixels at 0 or 255, exit 0): a result far from its measurement is
    refused for every sampler that starts from noise, as for dps; with its default steps the
    same image is restored."""
    _, noisy = crop
    with pytest.raises(RestoreError, match=rf"{sampler} did not converge in 1 step: .*give it more steps "
                                           r"\(its default is 20\)"):
        api_run(noisy, "denoise", sigma=25 / 255, sampler=sampler, steps=1)
    r = api_run(noisy, "denoise", sigma=25 / 255, sampler=sampler, seed=0)
    assert float(((r.image - noisy) ** 2).mean().sqrt()) < 30 / 255


def test_ddnm_deblurs_with_noise(crop):
    """DDNM+ put its one lam's measurement noise, sigma_y / s_i, into a blur's weakest
    frequencies: 6 dB where ddrm gave 34 (a 96x128 crop). Each singular value has its own lam
    now; on this crop ddnm is within a few dB of ddrm."""
    from restore.evaluate import make_case, score

    c, _ = crop
    img = np.ascontiguousarray((c[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    case = make_case("deblur", "c", img, 0, kernel="gaussian:1.6", sigma=2, blur="reflect")
    got = {s: score(case, api_run(case.y, "deblur", sampler=s, seed=0, kernel="gaussian:1.6", sigma=2 / 255).image)
           ["psnr"] for s in ("ddnm", "ddrm")}
    assert got["ddnm"] > got["ddrm"] - 3 and got["ddnm"] > score(case, case.y)["psnr"], got


def test_dps_without_guidance_is_refused(crop):
    """``dps@zeta=0`` is no guidance (an unconditional sample): it ran and then was told to
    take more steps; zeta must be above 0."""
    _, noisy = crop
    with pytest.raises(InputError, match=r"option zeta must be > 0, got 0.0"):
        api_run(noisy, "denoise", sigma=25 / 255, sampler="dps", zeta=0.0, steps=2)


def test_levels_below_the_prior_are_refused(crop):
    """``sigma_max=1e-9`` ran from the prior's lowest level (1.3 of 255) in silence: refused,
    in both units; above the prior's top a run starts at its top (documented)."""
    _, noisy = crop
    with pytest.raises(InputError, match=r"sigma_max 1e-09 \(2.55e-07 of 255\) is below the prior's lowest noise "
                                         r"level, 0.005 \(1.28 of 255\)"):
        api_run(noisy, "denoise", sigma=25 / 255, sampler="ddnm", steps=2, sigma_max=1e-9)
    with pytest.raises(InputError, match=r"sigma_min 1e-06 .* is below the prior's lowest"):
        api_run(noisy, "denoise", sigma=25 / 255, sampler="ddnm", steps=2, sigma_min=1e-6)
    r = api_run(noisy, "denoise", sigma=25 / 255, sampler="ddnm", sigma_max=1e9, seed=0)
    assert r.sigma_start == pytest.approx(restore.api.get_prior(None, "cpu").schedule.sigma_max)


def test_a_batch_mask_of_another_count_and_per_channel_known_are_refused(tiny_prior):
    """A second trial: a (2, H, W) mask for 3 images was read as one gray + alpha mask (every
    image got the first hole only), a (4, H, W) one as RGBA; a per-channel ``known`` ended in
    a torch RuntimeError."""
    x = torch.rand(3, 3, 20, 24, generator=torch.Generator().manual_seed(0))
    a, b = _boxes()
    for n in (2, 4):
        m = np.stack([a, b, a, b][:n])
        with pytest.raises(InputError, match=rf"a mask of shape \({n}, 20, 24\) for a batch of 3 images: give one "
                                             r"H x W mask for all, or 3 x H x W"):
            restore.inpaint(x, m, prior=tiny_prior, steps=1)
    one = restore.inpaint(x, a[None], prior=tiny_prior, steps=1, mask_dilate=0)  # a leading 1: one mask for all
    assert torch.equal(one, restore.inpaint(x, a, prior=tiny_prior, steps=1, mask_dilate=0))
    for known in (np.ones((1, 3, 20, 24), bool), np.ones((3, 3, 20, 24), bool)):
        known[..., 4:8, 4:8] = False
        with pytest.raises(InputError, match=r"known must be H x W, one value per pixel"):
            restore.inpaint(x[: known.shape[0]], known=known, prior=tiny_prior, steps=1)


@pytest.mark.parametrize("dtype, top, bits", [(np.uint32, 103, 8), (np.uint32, 1003, 16), (np.int32, 255, 8),
                                              (np.int32, 256, 16), (np.int8, 103, 8), (np.int16, 103, 16)])
def test_other_integer_tiffs_read_as_8_or_16_bit_where_they_fit(tmp_path, dtype, top, bits):
    """uint32 and int8 TIFFs were refused as an "unsupported pixel type" where int32 ones were
    read: every integer type is read where its values fit, refused where not; int8 as 8-bit and
    int16 as 16-bit (their width), a wider type as 8-bit where its samples all lie in 0-255 (a
    numpy array of 0-255 saved as int32 came out nearly black). (An int64 TIFF is refused in
    one line: Pillow reads none.)"""
    import tifffile

    a = (np.arange(40 * 48).reshape(40, 48) % (top - 2) + 3).astype(dtype)
    assert int(a.max()) == top
    tifffile.imwrite(tmp_path / "i.tif", a)
    img = read_image(tmp_path / "i.tif")
    assert img.array.dtype == (np.uint8 if bits == 8 else np.uint16) and np.array_equal(img.array, a)
    if dtype == np.int8:
        tifffile.imwrite(tmp_path / "n.tif", -a)
        with pytest.raises(InputError, match=rf"int8 samples from -{top} to -3, outside 0-65535"):
            read_image(tmp_path / "n.tif")


@pytest.mark.parametrize("sampler, steps", [("ddnm", 1), ("repaint", 1), ("pigdm", 2)])
def test_a_hole_filled_from_pure_noise_is_refused(sampler, steps):
    """Inpainting copies the known pixels, so a result always lay on its measurement: at 1-2
    steps ddnm, ddrm, repaint, diffpir and pigdm filled a hole with the prior's guess from pure
    noise (mostly at 0 or 255), exit 0. Such a fill is refused; at the default steps the same
    hole is filled."""
    import restore

    img = read_image(PHOTO).array[20:84, 40:104]
    hole = np.zeros(img.shape[:2], bool)
    hole[20:44, 20:44] = True
    with pytest.raises(RestoreError, match=rf"{sampler} did not converge in {steps} steps?: \d+% of its holes' "
                                           r"fill lies at black or white \(0% of the pixels around them\); give it "
                                           r"more steps \(its default is 20\)"):
        restore.inpaint(img, hole, sampler=sampler, steps=steps, fill="mean")
    out = restore.inpaint(img, hole, sampler=sampler, fill="mean")
    assert np.array_equal(out[~hole], img[~hole])


def test_a_hole_unlike_its_surroundings():
    """The check's two readings on made-up results: a hole of noise that stays clear of 0 and 1
    is refused as busier than its band; a smooth fill passes, and so does a white fill in a white
    band (a hole in a blown-out sky)."""
    from restore.api import _hole_unlike
    from restore.tasks.inpaint import Inpaint

    known = torch.ones(1, 48, 48, dtype=torch.bool)
    known[:, 16:32, 16:32] = False
    op = Inpaint(known, (3, 48, 48))
    smooth = torch.linspace(0.3, 0.6, 48).repeat(1, 3, 48, 1)
    noisy = smooth.clone()
    noisy[..., 16:32, 16:32] = 0.2 + 0.6 * torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert "changes" in _hole_unlike(op, noisy) and _hole_unlike(op, smooth) is None
    white = torch.ones(1, 3, 48, 48)
    assert _hole_unlike(op, white) is None
    grey = torch.full((2, 3, 48, 48), 0.5)  # a batch sharing one mask: each image judged
    grey[1, :, 16:32, 16:32] = 0
    assert _hole_unlike(op, grey) == "100% of its holes' fill lies at black or white (0% of the pixels around them)"
    assert _hole_unlike(op, grey[:1]) is None
