"""The Python API: types and dtypes in and out, options, errors."""

import numpy as np
import pytest
import torch

import restore
from restore.errors import IncompatibleError, InputError
from restore.io import to_tensor


@pytest.fixture
def P(tiny_prior_dir):
    return str(tiny_prior_dir)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(23, 31), (23, 31, 3), (23, 31, 1)])
def test_numpy_in_same_type_out(dtype, shape, P):
    rng = np.random.default_rng(0)
    a = rng.random(shape)
    if np.issubdtype(dtype, np.integer):
        a = (a * np.iinfo(dtype).max).astype(dtype)
    else:
        a = a.astype(dtype)
    out = restore.denoise(a, sigma=0.05, prior=P)
    assert out.shape == a.shape and out.dtype == a.dtype


def test_rgba_alpha_kept_and_sr_shape(P):
    a = np.zeros((12, 10, 4), np.uint8)
    a[..., 3] = np.arange(10, dtype=np.uint8)[None] * 20
    out = restore.denoise(a, sigma=0.05, prior=P)
    assert out.shape == a.shape and np.array_equal(out[..., 3], a[..., 3])
    up = restore.super_resolve(a[..., :3], scale=3, prior=P, steps=2)
    assert up.shape == (36, 30, 3)


def test_torch_in_torch_out(P):
    x = torch.rand(2, 3, 17, 19, dtype=torch.float64)
    out = restore.restore(x, "denoise", sigma=0.1, prior=P)
    assert isinstance(out, torch.Tensor) and out.shape == x.shape and out.dtype == x.dtype


def test_inpaint_keeps_known_pixels_and_samples(P):
    rng = np.random.default_rng(1)
    img = (rng.random((20, 24, 3)) * 255).astype(np.uint8)
    hole = np.zeros((20, 24), bool)
    hole[5:12, 6:15] = True
    out = restore.inpaint(img, hole, prior=P, steps=3, mask_dilate=0)  # the holes as drawn
    assert np.array_equal(out[~hole], img[~hole])
    mean, std = restore.inpaint(img, hole, prior=P, steps=3, sampler="ddnm", samples=4)
    assert mean.shape == img.shape and std.shape == img.shape
    assert std[hole].mean() > std[~hole].mean()


def test_same_seed_same_image(P):
    img = np.random.default_rng(2).random((16, 16, 3)).astype(np.float32)
    hole = np.zeros((16, 16), bool)
    hole[4:10, 4:10] = True
    kw = {"prior": P, "steps": 3, "sampler": "ddnm"}
    a = restore.inpaint(img, hole, seed=3, **kw)
    b = restore.inpaint(img, hole, seed=3, **kw)
    c = restore.inpaint(img, hole, seed=4, **kw)
    g = torch.Generator().manual_seed(3)
    d = restore.inpaint(img, hole, generator=g, **kw)
    assert np.array_equal(a, b) and not np.array_equal(a, c) and np.array_equal(a, d)
    e = restore.inpaint(img, hole, seed=2**64 - 1, **kw)  # the largest a torch.Generator takes
    assert e.shape == img.shape
    for bad in (2**64, -1):  # one line, not torch's "Overflow when unpacking long long"
        with pytest.raises(restore.InputError, match="seed must be an integer in 0-18446744073709551615"):
            restore.inpaint(img, hole, seed=bad, **kw)


def test_sigma_estimated_when_missing(P):
    rng = np.random.default_rng(3)
    noisy = np.clip(0.5 + 0.08 * rng.standard_normal((64, 64, 3)), 0, 1).astype(np.float32)
    res = restore.run(torch.from_numpy(noisy.transpose(2, 0, 1))[None], "denoise", prior=P)
    assert res.sigma_estimated and abs(res.sigma_y - 0.08) < 0.01


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda P: restore.denoise(np.zeros((8, 8), np.int32), sigma=0.1, prior=P), "dtype"),
        (lambda P: restore.denoise(np.zeros((8, 8, 5), np.uint8), sigma=0.1, prior=P), "shape"),
        (lambda P: restore.denoise(np.full((8, 8), np.nan, np.float32), sigma=0.1, prior=P), "NaN"),
        (lambda P: restore.denoise(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), prior=P), "float"),
        (lambda P: restore.denoise([[0.1]], prior=P), "numpy array"),
        (lambda P: restore.denoise(np.zeros((8, 8)), sigma=3.0, prior=P), "sigma"),
        (lambda P: restore.inpaint(np.zeros((8, 8)), np.zeros((8, 9), bool), prior=P), "mask is 9x8"),
        (lambda P: restore.inpaint(np.zeros((8, 8)), np.zeros((8, 8), bool), prior=P), "no hole"),
        (lambda P: restore.inpaint(np.zeros((8, 8)), np.ones((8, 8), bool), prior=P), "whole image"),
        (lambda P: restore.super_resolve(np.zeros((8, 8)), scale=5, prior=P), "scale must be one of 2, 3, 4, 8"),
        (lambda P: restore.restore(np.zeros((8, 8)), "dehaze", prior=P), "unknown task"),
        (lambda P: restore.denoise(np.zeros((0, 8)), sigma=0.1, prior=P), "no pixels"),
        (lambda P: restore.inpaint(np.zeros((8, 8)), np.eye(8, dtype=bool), mask_dilation=3, prior=P),
         "unknown option 'mask_dilation'.*did you mean 'mask_dilate'"),
    ],
)
@pytest.mark.filterwarnings("ignore:.*of the image to fill:UserWarning")  # its masks are large on purpose
def test_bad_input_is_a_clear_error(call, match, P):
    with pytest.raises(InputError, match=match):
        call(P)


def test_incompatible_sampler(P):
    with pytest.raises(IncompatibleError, match="samplers that can"):
        restore.super_resolve(np.zeros((8, 8)), scale=2, sampler="repaint", prior=P)


def test_public_names():
    assert {"denoise", "inpaint", "sr"} <= set(restore.TASKS.names())
    for name in restore.TASKS.names():  # every task's API helper is offered at the top
        helper = restore.TASKS.get(name).helper
        assert helper in dir(restore) and callable(getattr(restore, helper)) and helper in restore.__all__
    assert {"ddnm", "ddrm", "dps", "diffpir", "repaint", "pigdm", "mmse"} <= set(restore.SAMPLERS.names())
    assert restore.load_prior is restore.prior.load_prior


def test_large_sr_runs_in_tiles_like_the_whole_image(tiny_prior):
    """An output larger than the prior's tile is super-resolved tile by tile: same shape,
    close to the whole-image result (seams cross-fade),
    consistent with the measurement, deterministic per seed, one progress count over all
    tiles, and the std map of samples > 1 stitched the same way."""
    from restore.api import run
    from restore.prior import Prior
    from restore.tasks.superres import SuperResolve

    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.interpolate(torch.rand(1, 3, 12, 17, generator=g), size=(96, 136), mode="bicubic")
    x = 0.25 + 0.5 * x.clamp(0, 1)  # inside (0, 1): no clipping, so the whole image is exactly consistent
    y = SuperResolve((3, 96, 136), 4).A(x)
    small = Prior(tiny_prior.net, tiny_prior.schedule, tile=64)
    whole = run(y, "sr", scale=4, sampler="dpir", steps=4, prior=small, tiles=False)
    seen = []
    tiled = run(y, "sr", scale=4, sampler="dpir", steps=4, prior=small, progress=seen.append)
    # 24 x 34 LR pixels in tiles of 64 / 4 = 16 overlapping by 4: 2 x 3 tiles of 4 steps
    assert tiled.params["tiles"] == 2 * 3 and tiled.image.shape == (1, 3, 96, 136)
    assert [d["i"] for d in seen] == list(range(24)) and {d["n"] for d in seen} == {24}
    d = (tiled.image - whole.image).abs()
    assert d.mean() < 0.005 and d.max() < 0.05
    # tiles are consistent up to their blended seams (here 1 LR pixel of margin, the worst case)
    A = SuperResolve((3, 96, 136), 4).A
    assert (A(whole.image) - y).abs().max() < 1e-5
    r = (A(tiled.image) - y).abs()
    assert r.max() < 0.02 and r.mean() < 2e-3
    ddrm = lambda seed: run(y, "sr", scale=4, sampler="ddrm", steps=3, prior=small, seed=seed, samples=2)
    a, b, c = ddrm(1), ddrm(1), ddrm(2)
    assert torch.equal(a.image, b.image) and not torch.equal(a.image, c.image)
    assert a.std.shape == a.image.shape and (a.std > 0).float().mean() > 0.9


def test_each_task_default_sampler_gets_its_measured_noise_levels(tiny_prior):
    """inpaint's dpir visits log-spaced levels 0.2 -> 0.005; sr's keeps Karras down to the
    schedule's bottom; an explicit spacing / sigma_min, or another sampler, overrides."""
    import numpy as np

    from restore.api import run

    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    known = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(1)) > 0.5

    def levels(task, **kw):
        seen = []
        run(x, task, known=known if task == "inpaint" else None, steps=6, prior=tiny_prior,
            progress=seen.append, **kw)
        return np.array([r["sigma"] for r in seen])

    s = levels("inpaint")
    lo = max(0.005, tiny_prior.schedule.sigma_min)  # (that schedule's bottom is 0.0050003)
    assert abs(s[0] - 0.2) < 1e-9 and abs(s[-1] - lo) < 1e-9
    assert np.allclose(s[1:] / s[:-1], (lo / 0.2) ** (1 / 5))
    s = levels("sr", scale=2)
    assert abs(s[0] - 0.2) < 1e-9 and abs(s[-1] - tiny_prior.schedule.sigma_min) < 1e-9
    assert not np.allclose(s[1:] / s[:-1], (s[-1] / s[0]) ** (1 / 5))  # Karras, not geometric
    s = levels("inpaint", spacing="karras", sigma_min=0.02)
    assert abs(s[-1] - 0.02) < 1e-9 and not np.allclose(s[1:] / s[:-1], (0.02 / 0.2) ** (1 / 5))
    s = levels("inpaint", sampler="ddrm")
    assert abs(s[-1] - tiny_prior.schedule.sigma_min) < 1e-9


def test_each_task_default_sampler_gets_its_measured_options(tiny_prior):
    """inpaint's and sr's dpir run with momentum 0.5 (reported in the result's params, and
    it reaches the sampler: momentum=0 gives another image); an explicit value wins;
    another sampler gets none of them; denoise's mmse has none."""
    from restore.api import run

    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    known = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(1)) > 0.5
    extra = {"inpaint": {"known": known}, "sr": {"scale": 2}, "denoise": {}}
    go = lambda task, **kw: run(x, task, steps=4, prior=tiny_prior, **extra[task], **kw)
    for task in ("inpaint", "sr"):
        default, explicit = go(task), go(task, sampler="dpir")
        assert default.params["momentum"] == explicit.params["momentum"] == 0.5
        assert torch.equal(default.image, explicit.image)
        plain = go(task, momentum=0.0)
        assert plain.params["momentum"] == 0.0 and not torch.allclose(plain.image, default.image)
        assert "momentum" not in go(task, sampler="ddrm").params
    assert "momentum" not in run(x, "denoise", sigma=0.1, prior=tiny_prior).params


def test_samples_need_a_sampler_that_samples():
    """Regression: samples > 1 with dpir returned a zero std map as 'uncertainty'."""
    import numpy as np

    import restore
    from restore.errors import IncompatibleError

    img = np.full((16, 16, 3), 100, np.uint8)
    hole = np.zeros((16, 16), bool)
    hole[4:8, 4:8] = True
    with pytest.raises(IncompatibleError, match="deterministic.*ddnm"):
        restore.inpaint(img, hole, samples=3, steps=2)
    mean, std = restore.inpaint(img, hole, samples=3, steps=8, sampler="ddnm")  # (2 steps: a fill of noise, refused)
    assert std.shape[:2] == (16, 16)


def test_task_helpers_document_their_parameters():
    import restore

    for f in (restore.denoise, restore.inpaint, restore.super_resolve):
        doc = f.__doc__
        assert all(k in doc for k in ("sampler", "steps", "seed", "device", "prior", "samples"))


def test_mmse_has_no_schedule_to_set(P):
    img = np.full((16, 16), 100, np.uint8)
    with pytest.raises(InputError, match="sigma_max / sigma_min / spacing do not apply"):
        restore.restore(img, "denoise", sigma=0.1, sigma_max=0.5, prior=P)
    res = restore.run(torch.rand(1, 1, 16, 16), "denoise", sigma=0.1, prior=P)
    assert res.sampler == "mmse" and res.sigma_start is None


def test_inputs_on_another_scale_and_bad_keywords_are_one_line(P):
    """A float image in 0-255 (it came back white) or in [-1, 1] is refused, saying what to
    pass; a little outside [0, 1] (unclipped noise) is taken. seed, generator and device of
    the wrong kind are one line, not a TypeError from inside."""
    rng = np.random.default_rng(0)
    img = rng.random((16, 16, 3)).astype(np.float32)
    with pytest.raises(restore.InputError, match="divide by 255"):
        restore.denoise(img * 255, sigma=0.05, prior=P)
    with pytest.raises(restore.InputError, match=r"\(x \+ 1\) / 2"):
        restore.denoise(img * 2 - 1, sigma=0.05, prior=P)
    with pytest.raises(restore.InputError, match="divide by 255"):
        restore.denoise(torch.from_numpy(img * 255).permute(2, 0, 1)[None], sigma=0.05, prior=P)
    noisy = img + 0.2 * rng.standard_normal(img.shape).astype(np.float32)  # unclipped: about -0.7 to 1.7
    assert restore.denoise(noisy, sigma=0.2, prior=P).shape == img.shape
    for kw, msg in [({"seed": 1.5}, "seed must be an integer"), ({"seed": "3"}, "seed must be an integer"),
                    ({"generator": 3}, "generator must be a torch.Generator"), ({"device": "tpu"}, "unknown device")]:
        with pytest.raises(restore.InputError, match=msg):
            restore.denoise(img, sigma=0.05, prior=P, **kw)


def test_region_progress_ends_full_when_a_region_runs_no_sampler():
    """Regions are counted as steps of the whole; a region with no sampler steps (a scene
    fill) reported none, so the bar stopped at 20 of 40: the last report is now the whole."""
    from restore.api import Result, _by_regions

    x = torch.zeros(1, 3, 8, 8)
    take = torch.ones(1, 1, 4, 8, dtype=torch.bool)

    def solve(crop, params, rows, cb):
        if params["steps"]:
            for i in range(params["steps"]):  # i counts from 0, as the samplers' callbacks do
                cb({"i": i, "n": params["steps"]})
        return Result(crop, None, "inpaint", "s" if params["steps"] else "none", params["steps"], 0, 0.0, False, 0.0)

    seen = []
    _by_regions(x, [((0, 4, 0, 8), {"steps": 0}, take, [0]), ((4, 8, 0, 8), {"steps": 5}, take, [0])], solve,
                lambda info: seen.append((info["i"], info["n"])))
    assert seen[-1] == (9, 10) and seen[0] == (5, 10)


def test_seed_and_generator_together_are_refused(P):
    img = np.random.default_rng(2).random((16, 16, 3)).astype(np.float32)
    hole = np.zeros((16, 16), bool)
    hole[4:10, 4:10] = True
    with pytest.raises(restore.InputError, match="seed or generator, not both"):
        restore.inpaint(img, hole, prior=P, steps=2, sampler="ddnm", seed=3, generator=torch.Generator().manual_seed(3))
    r = restore.run(torch.from_numpy(img.transpose(2, 0, 1))[None], "inpaint", mask=hole, prior=P, steps=2,
                    sampler="ddnm")
    assert r.seed == 0  # the default seed, as before


def test_a_bright_image_in_minus_one_to_one_is_refused_but_heavy_noise_is_taken(P):
    """A photo in [-1, 1] with a dark eighth (under the fifth below -0.25 that the first rule
    needs) came out as garbage: its dark regions (5x5 median under -0.5) give it away, where
    unclipped noise of std 0.3 on a dark image does not reach that."""
    truth = np.full((64, 64, 3), 0.8, np.float32)
    truth[:9] = 0.0
    with pytest.raises(restore.InputError, match=r"regions below -0.5.*\(x \+ 1\) / 2"):
        restore.denoise(truth * 2 - 1, sigma=0.05, prior=P)
    with pytest.raises(restore.InputError, match=r"regions below -0.5"):
        restore.denoise(torch.from_numpy(truth * 2 - 1).permute(2, 0, 1)[None], sigma=0.05, prior=P)
    rng = np.random.default_rng(0)
    noisy = (0.1 * rng.random((64, 64, 3)) + rng.normal(0, 0.3, (64, 64, 3))).astype(np.float32)
    assert np.mean(noisy < -0.5) > 0.01  # single pixels that deep, no region
    assert restore.denoise(noisy, sigma=0.3, prior=P).shape == noisy.shape


def test_an_image_over_one_in_its_bright_regions_is_refused_but_noise_and_overshoot_are_taken(P):
    """From a new user's trial: a [0, 1] photo times 1.5 (a third of it over 1) came out with a
    third clipped to 1, with no word. Bright regions (5x5 median) over 1.25 are refused; white
    with unclipped noise of std 0.15 and a sharpened edge's thin overshoot are not."""
    yy, xx = np.mgrid[0:64, 0:64]
    photo = np.stack([0.2 + 0.7 * xx / 63, 0.5 + 0.3 * np.sin(yy / 5), 0.1 + 0.8 * yy / 63], -1).astype(np.float32)
    with pytest.raises(restore.InputError, match=r"regions above 1.25.*scale it into \[0, 1\]"):
        restore.denoise(photo * 1.5, sigma=0.05, prior=P)
    with pytest.raises(restore.InputError, match=r"regions above 1.25"):
        restore.denoise(torch.from_numpy(photo * 1.5).permute(2, 0, 1)[None], sigma=0.05, prior=P)
    rng = np.random.default_rng(0)
    white = (np.ones((64, 64, 3)) + rng.normal(0, 0.15, (64, 64, 3))).astype(np.float32)
    assert white.max() > 1.5  # single pixels that high, no region
    assert restore.denoise(white, sigma=0.15, prior=P).shape == white.shape
    edge = np.full((64, 64), 0.9, np.float32)
    edge[:, 32:] = 0.1
    edge[:, 30:32] = 1.4  # an unsharp mask's overshoot, two pixels wide
    assert restore.denoise(edge, sigma=0.02, prior=P).shape == edge.shape


def test_outputs_are_c_ordered_and_a_std_map_keeps_its_fractions(P):
    """Arrays came back as planar views (strides (W, 1, H W)): OpenCV could not draw on them.
    A std map of a uint8 image came back as uint8 levels (a std under half a level read 0)."""
    import cv2

    img = (np.random.default_rng(0).random((24, 20, 3)) * 255).astype(np.uint8)
    hole = np.zeros((24, 20), bool)
    hole[6:14, 5:15] = True
    out = restore.denoise(img, sigma=0.05, prior=P)
    assert out.flags.c_contiguous and out.strides == (60, 3, 1)
    cv2.rectangle(out, (0, 0), (5, 5), (255, 0, 0), 1)  # raised "Layout ... incompatible with cv::Mat"
    rgba = np.dstack([img, np.full((24, 20), 255, np.uint8)])
    assert restore.inpaint(rgba, hole, prior=P, steps=2).flags.c_contiguous
    mean, std = restore.inpaint(img, hole, prior=P, sampler="ddnm", steps=3, samples=3, fill="mean")
    assert mean.dtype == np.uint8 and mean.flags.c_contiguous
    assert std.dtype == np.float32 and std.shape == img.shape and std.flags.c_contiguous
    assert np.any((std > 0) & (std != np.round(std)))  # fractions of a level, in 0-255 units
    f_mean, f_std = restore.inpaint(img / 255.0, hole, prior=P, sampler="ddnm", steps=3, samples=3, fill="mean")
    np.testing.assert_allclose(f_std * 255, std, atol=1e-3)  # the same map in the float image's units
    t = torch.from_numpy(img.transpose(2, 0, 1).astype(np.float32) / 255)[None].transpose(-1, -2)  # a strided view
    assert restore.denoise(t, sigma=0.05, prior=P).is_contiguous()  # came back as strided as it went in
    m = np.zeros((2, 1, 20, 24), np.float32)  # for one image (for a batch of 2, one mask each: test_sampler_trial)
    with pytest.raises(restore.InputError, match=r"one mask per image of a batch: a list"):
        restore.inpaint(t, m, prior=P, steps=2)


@pytest.mark.parametrize("kw, msg", [
    ({"sampler": "ddnm", "steps": 2, "clip": "false"}, "option clip takes a bool"),  # was taken as True
    ({"sampler": "ddnm", "steps": 2, "eta": "0.5"}, "option eta takes a float"),
    ({"sampler": "ddnm", "steps": 2, "eta": 5}, "option eta must be in 0-1"),
    ({"sampler": "ddnm", "steps": 2, "eta": float("nan")}, "option eta takes a float"),
    ({"sampler": "dpir", "momentum": "0.5"}, "option momentum takes a float"),
    ({"sampler": "dpir", "poses": 9}, "option poses must be in 1-8"),
    ({"sampler": "ddnm", "steps": 2, "samples": 2.0}, "samples must be an integer"),
    ({"steps": 2.5}, "steps must be an integer"),  # ran as 2
    ({"steps": "3"}, "steps must be an integer"),
    ({"steps": True}, "steps must be an integer"),
    ({"sigma_max": -1}, "sigma_max must be a positive number"),
    ({"sigma_max": 0.1, "sigma_min": 0.2}, r"sigma_min \(0.2\) must not be above sigma_max"),
    ({"spacing": "linear"}, "spacing must be one of"),
])
def test_options_of_the_wrong_type_or_range_are_refused_before_any_work(kw, msg, P, monkeypatch):
    img = np.full((16, 16, 3), 120, np.uint8)
    hole = np.zeros((16, 16), bool)
    hole[4:10, 4:10] = True
    monkeypatch.setattr(restore.api, "get_prior", lambda *a: pytest.fail("the prior was loaded"))
    with pytest.raises(restore.InputError, match=msg):
        restore.inpaint(img, hole, prior=P, fill="mean", **kw)


def test_numpy_scalars_are_taken_as_options(P):
    img = np.full((16, 16, 3), 120, np.uint8)
    hole = np.zeros((16, 16), bool)
    hole[4:10, 4:10] = True
    a = restore.inpaint(img, hole, prior=P, fill="mean", sampler="ddnm", steps=np.int64(2), eta=np.float32(0.5),
                        clip=np.bool_(True), seed=1)
    b = restore.inpaint(img, hole, prior=P, fill="mean", sampler="ddnm", steps=2, eta=0.5, clip=True, seed=1)
    assert np.array_equal(a, b)


@pytest.mark.filterwarnings("ignore:.*of the image to fill:UserWarning")  # its masks are large on purpose
def test_rgba_images_and_masks_in_the_api_as_on_the_command_line(P):
    """An RGBA (or gray + alpha) mask array is read as a mask file is (its alpha counted, it
    was refused as covering everything); the pixels an RGBA image's mask fills become opaque,
    and mask_source='alpha' fills its transparent pixels, as --mask alpha does."""
    rng = np.random.default_rng(1)
    img = (rng.random((24, 24, 3)) * 255).astype(np.uint8)
    hole = np.zeros((24, 24), bool)
    hole[6:14, 6:16] = True
    plain = restore.inpaint(img, hole, prior=P, steps=2, seed=1)
    white = np.where(hole[..., None], 255, 0).astype(np.uint8)
    for mask in (np.dstack([white.repeat(3, 2), np.full((24, 24, 1), 255, np.uint8)]),
                 np.dstack([white, np.full((24, 24, 1), 255, np.uint8)])):
        assert np.array_equal(restore.inpaint(img, mask, prior=P, steps=2, seed=1), plain)
    rgba = np.dstack([img, np.full((24, 24), 128, np.uint8)])
    out = restore.inpaint(rgba, hole, prior=P, steps=2, seed=1)
    assert (out[..., 3][hole] == 255).all() and (out[..., 3][~hole] == 128).all()
    assert np.array_equal(out[..., :3], plain)
    rgba[..., 3][hole] = 0
    for got in (restore.restore(rgba, "inpaint", mask_source="alpha", prior=P, steps=2, seed=1),
                *restore.restore([rgba, rgba], "inpaint", mask_source="alpha", prior=P, steps=2, seed=1)):
        assert (got[..., 3] == 255).all() and np.array_equal(got[..., :3][~hole], img[~hole])
    with pytest.raises(restore.InputError, match="mask_source='alpha' needs an RGBA image"):
        restore.restore(img, "inpaint", mask_source="alpha", prior=P)
    with pytest.raises(restore.InputError, match="not both"):
        restore.restore(rgba, "inpaint", mask=hole, mask_source="alpha", prior=P)


@pytest.mark.filterwarnings("ignore:.*of the image to fill:UserWarning")  # its masks are large on purpose
def test_edge_cases_of_the_array_edge_are_one_line(P):
    """An empty torch batch and a masked array were a torch error / a silent drop of the mask;
    a tensor with requires_grad warned from inside; a bad image in a list says which."""
    import warnings

    with pytest.raises(restore.InputError, match="a torch batch of no images"):
        restore.denoise(torch.zeros(0, 3, 8, 8), sigma=0.1, prior=P)
    img = np.full((16, 16, 3), 100, np.uint8)
    with pytest.raises(restore.InputError, match="masked array"):
        restore.denoise(np.ma.masked_array(img, np.zeros(img.shape, bool)), sigma=0.1, prior=P)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = restore.denoise(torch.rand(1, 3, 16, 16, requires_grad=True), sigma=0.1, prior=P)
    assert not out.requires_grad
    with pytest.raises(restore.InputError, match="image 1 of the list: unsupported array dtype int64"):
        restore.denoise([img, img.astype(np.int64)], sigma=0.1, prior=P)
    with pytest.raises(restore.InputError, match="a list of 2 masks for a batch of 1 image "):
        restore.inpaint(img, [img[..., 0] > 0] * 2, prior=P)
    # a mask of strings, objects or dates (an integrator's trial: numpy's own TypeError, deep inside)
    for kind in (str, object, "datetime64[s]", complex):
        with pytest.raises(restore.InputError, match="a mask must be bool, integer or float, got "):
            restore.inpaint(img, (img[..., 0] > 0).astype(np.int64).astype(kind), prior=P)


def test_the_prior_is_loaded_once_per_prior_and_device(tiny_prior_dir, monkeypatch):
    """"cpu" and "cpu:0", and the default's name and its folder, each loaded their own copy;
    two threads' first calls loaded it twice."""
    import threading

    from restore import api

    loads = []
    monkeypatch.setattr(api, "load_prior", lambda name, device: loads.append((name, device)) or restore.load_prior(
        tiny_prior_dir, device=device))
    api._cached_prior.cache_clear()
    try:
        for name, dev in [(None, "cpu"), ("restore-small", "cpu:0"), (None, torch.device("cpu"))]:
            api.get_prior(name, dev)
        threads = [threading.Thread(target=api.get_prior, args=(str(tiny_prior_dir), "cpu")) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(loads) == 2 and loads[0][1] == "cpu"
    finally:
        api._cached_prior.cache_clear()


def test_calls_from_threads_leave_the_process_settings_as_they_were(tmp_path):
    """From an integrator's trial: read_image set Pillow's pixel limit and a warnings filter
    for a moment and put them back, and the noise estimate a filter; from several threads at
    once one thread's saved state overwrote another's, leaving the limit off (no protection
    from decompression bombs for the rest of the process) or warnings ignored for good."""
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image as PILImage

    path = restore.write_image(tmp_path / "a.png", np.zeros((32, 32, 3), np.uint8))
    x = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    restore.read_image(path), restore.denoise(x)  # imports done (some add filters of their own)
    filters, limit = list(warnings.filters), PILImage.MAX_IMAGE_PIXELS
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda k: restore.read_image(path) if k % 2 else restore.denoise(x), range(600)))
    assert PILImage.MAX_IMAGE_PIXELS == limit and warnings.filters == filters


def test_writers_racing_for_one_path_leave_one_winner(tmp_path):
    """Without overwrite, of several threads writing one path at once exactly one succeeds and
    the others get 'exists' (a check then a rename let two or more succeed, the last one's file
    kept); a folder in the way is said in one line, overwrite or not."""
    import threading

    for t in range(20):
        path, won, barrier = tmp_path / f"x{t}.png", [], threading.Barrier(4)

        def write(k):
            barrier.wait()
            try:
                restore.write_image(path, np.full((16, 16), 60 * k, np.uint8))
                won.append(k)
            except InputError as e:
                assert "exists" in str(e)

        threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(won) == 1 and int(restore.read_image(path).array[0, 0]) == 60 * won[0]
    assert not list(tmp_path.glob(".*.tmp"))
    (tmp_path / "d.png").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        restore.write_image(tmp_path / "d.png", np.zeros((4, 4), np.uint8), overwrite=True)


def test_a_bad_progress_or_device_is_refused_first_and_loading_keeps_the_random_stream():
    """From an integrator's trial: progress=5 (or a function of no argument) failed with a raw
    TypeError after the first step; load_prior(device='gpu') with torch's long RuntimeError; and
    load_prior drew the network's random start from the caller's global torch stream."""
    x = np.full((16, 16, 3), 128, np.uint8)
    for bad in (5, lambda: None, lambda a, b: None):
        with pytest.raises(InputError, match="progress must"):
            restore.denoise(x, sigma=0.05, progress=bad)
    with pytest.raises(InputError, match="unknown device 'gpu'"):
        restore.load_prior(device="gpu")
    torch.manual_seed(0)
    a = torch.rand(3)
    torch.manual_seed(0)
    restore.load_prior()
    assert torch.equal(torch.rand(3), a)


def test_a_big_endian_array_is_its_integer_type():
    """A '>u2' array (FITS, some TIFF readers) was refused as an 'unsupported dtype >u2 (use
    uint16)'; it is restored and written as the uint16 it is, and comes back in its byte order."""
    a = (np.random.default_rng(0).random((16, 16, 3)) * 65535).astype(">u2")
    out = restore.denoise(a, sigma=0.1)
    assert out.dtype == a.dtype and np.array_equal(out, restore.denoise(a.astype(np.uint16), sigma=0.1))


def test_the_api_warns_of_a_noise_level_far_from_the_images():
    """The command line warned of --sigma far from the noise read in the image; the API, whose
    sigma is in [0, 1], said nothing, where 1 given for a sigma-25 photo (taken for 0-255 and
    cut down) is the likely slip: it warns in the API's units, per image of a batch or a list."""
    rng = np.random.default_rng(0)
    flat = np.full((48, 48, 3), 128.0)
    noisy = np.clip(flat + rng.normal(0, 25, flat.shape), 0, 255).astype(np.uint8)
    clean = flat.astype(np.uint8)
    with pytest.warns(UserWarning, match=r"sigma=1 \(255 in 0-255 units\) is far from .*the API's sigma is in \[0, 1\]"):
        restore.denoise(noisy, sigma=1.0)
    with pytest.warns(UserWarning, match=r"sigma=0 \(0 in 0-255 units\) is far from .*; at 0 the image is left as "
                                         "it is"):  # as the command line (a trial: it did not say what 0 does)
        restore.denoise(noisy, sigma=0)
    with pytest.warns(UserWarning, match=r"^image 1 of the batch: sigma=0.09804 \(25 in 0-255"):
        restore.restore(torch.cat([to_tensor(noisy), to_tensor(clean)]), "denoise", sigma=25 / 255)
    with pytest.warns(UserWarning, match=r"^image 1 of the list: sigma=0.09804"):
        restore.restore([noisy, clean], "denoise", sigma=25 / 255)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the right level, an estimated one, or one refused in run()'s words
        restore.denoise(noisy, sigma=25 / 255)
        restore.denoise(noisy)
        with pytest.raises(InputError, match="sigma must be in"):
            restore.denoise(noisy, sigma=25)


def test_the_api_warns_where_the_command_line_does_of_a_probable_mistake():
    """From an integrator's trial: the command line warned of a mask marking most of the image
    (inverted?) and of a kernel spanning much of it; the API said nothing. It now warns in its
    own words, at the caller's line, through the helpers, restore() and a list call alike."""
    img = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    keep = np.ones((32, 32), bool)
    keep[:4, :4] = False  # the pixels to keep marked, not the holes
    with pytest.warns(UserWarning, match=r"marks 98 % of the image to fill.*pass invert_mask=True") as got:
        restore.inpaint(img, keep, fill="mean", steps=1)
    assert got[0].filename == __file__
    with pytest.warns(UserWarning, match=r"image 1 of the list: the mask marks 98 %"):
        restore.restore([img, img], "inpaint", mask=[~keep, keep], fill="mean", steps=1)
    with pytest.warns(UserWarning, match=r"the kernel \(15x15\) spans more than 25%"):
        restore.deblur(img, "box:15", steps=1)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing said where nothing is wrong
        restore.inpaint(img, keep, invert_mask=True, fill="mean", steps=1)  # the pixels to keep, inverted
        restore.inpaint(img, ~keep, fill="mean", steps=1)
    # an API trial: the mask was judged before its inversion, so the right call above was warned and this not
    with pytest.warns(UserWarning, match=r"inverted by invert_mask=True, marks 98 %.*drop invert_mask=True"):
        out = restore.inpaint(img, ~keep, invert_mask=True, fill="mean", steps=1)
    assert (out != img).any(-1).mean() > 0.9  # it did fill 98 %, as said


def test_read_image_leaves_pillows_limit_to_the_program(tmp_path, monkeypatch):
    """From a service integrator's trial: read_image lifted Pillow's decompression-bomb limit for
    every read (under restore's own lock, which the program's other threads do not take), so a
    thread decoding uploads beside it lost that protection about a third of the time. The limit
    is left as the program has it; an image over twice it (Pillow refuses those) is still read
    where ``max_pixels`` allows, the limit lifted for that one open and put back."""
    import threading
    import warnings

    from PIL import Image as PILImage

    path = restore.write_image(tmp_path / "a.png", np.zeros((64, 48, 3), np.uint8))
    limit, seen, stop = PILImage.MAX_IMAGE_PIXELS, set(), threading.Event()

    def watch():
        while not stop.is_set():
            seen.add(PILImage.MAX_IMAGE_PIXELS)

    t = threading.Thread(target=watch)
    t.start()
    try:
        for _ in range(200):
            restore.read_image(path)
    finally:
        stop.set()
        t.join()
    assert seen == {limit}
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)  # 3072 pixels: over twice it
    assert restore.read_image(path).array.shape == (64, 48, 3)
    assert PILImage.MAX_IMAGE_PIXELS == 1000
    with pytest.raises(InputError, match="exceeds the limit"):
        restore.read_image(path, max_pixels=2000)
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 2000)  # between once and twice: Pillow's warning, as Pillow's
    with pytest.warns(PILImage.DecompressionBombWarning):
        restore.read_image(path)
    with warnings.catch_warnings():  # made an error by the program: refused in one line (it came out raw)
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        with pytest.raises(InputError, match="could be decompression bomb.*this program's warnings filter"):
            restore.read_image(path)


def test_a_float64_default_dtype_does_not_break_the_prior(tiny_prior_dir):
    """From the same trial: a program that had set ``torch.set_default_dtype(torch.float64)``
    before restore's first call got a prior built with float64 weights (cached), and every task
    then failed with torch's dtype error, also after the default was put back."""
    from restore import api

    x = np.random.default_rng(1).random((24, 24, 3)).astype(np.float32)
    api._cached_prior.cache_clear()
    torch.set_default_dtype(torch.float64)
    try:
        prior = restore.load_prior(str(tiny_prior_dir))
        assert {p.dtype for p in prior.net.parameters()} == {torch.float32}
        out = restore.denoise(x, sigma=0.05, prior=str(tiny_prior_dir))
    finally:
        torch.set_default_dtype(torch.float32)
        api._cached_prior.cache_clear()
    assert out.dtype == np.float32
    assert np.array_equal(out, restore.denoise(x, sigma=0.05, prior=str(tiny_prior_dir)))


def test_grey_stored_as_rgb_is_restored_as_grey(P, tmp_path):
    """A black-and-white photo saved as RGB (a trial: noise of 15 read 22.6, its colour covariance
    blind to noise whose colour is all one; a grey grating came out in colours): restored as the
    grey image it is, every task, and given back as RGB with its channels equal."""
    from PIL import Image

    from restore.noise import estimate_noise
    from restore.tasks.dejpeg import read_tables

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    clean = 0.3 + 0.4 * xx / 64 + 0.1 * (yy > 32)
    grey = (np.clip(clean + rng.normal(0, 15 / 255, clean.shape), 0, 1) * 255).round().astype(np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    e_rgb, e_grey = estimate_noise(to_tensor(rgb)[0]), estimate_noise(to_tensor(grey)[0])
    assert e_rgb.level == e_grey.level and abs(e_grey.level * 255 - 15) < 3
    mask = np.zeros((64, 64), bool)
    mask[20:40, 24:44] = True
    for task, kw in (("denoise", {}), ("inpaint", {"mask": mask}), ("sr", {"scale": 2, "steps": 2}),
                     ("deblur", {"kernel": "gaussian:1", "steps": 2})):
        a = restore.restore(rgb, task, prior=P, **kw)
        b = restore.restore(grey, task, prior=P, **kw)
        assert a.shape == b.shape + (3,) and (a == b[:, :, None]).all(), task
    t = restore.restore(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255, "denoise", prior=P)
    assert t.shape == (1, 3, 64, 64) and (t[:, 1:] == t[:, :1]).all()
    Image.fromarray(rgb).save(tmp_path / "g.jpg", quality=30)  # a colour JPEG file of a grey image: its luma table
    dec = np.asarray(Image.open(tmp_path / "g.jpg"))
    Image.fromarray(dec[:, :, 0]).save(tmp_path / "l.jpg", quality=30)
    a = restore.dejpeg(dec, tables=read_tables(tmp_path / "g.jpg"), steps=2, prior=P)
    b = restore.dejpeg(dec[:, :, 0], tables=read_tables(tmp_path / "l.jpg"), steps=2, prior=P)
    assert (a == b[:, :, None]).all()
    colour = rgb.copy()
    colour[0, 0, 0] ^= 1  # one channel differs by one level: a colour image
    assert not restore.api.grey_as_rgb(to_tensor(colour))


def test_toned_black_and_white_is_restored_as_its_grey_luma_in_its_tone(P):
    """A sepia (toned) black-and-white photo (a trial on old scans: its film grain read 2.88 by the colour
    covariance, blind to noise whose colour is one direction, where its grey twin read 8.43, and the best
    ``--sigma`` was warned as far from the noise): read and restored as its grey luma, every task, and given
    back in its tone; a small coloured detail keeps an image in colour."""
    from restore.noise import estimate_noise, luma_of, toned

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    grey = np.clip(0.2 + 0.5 * xx / 64 + 0.15 * (yy > 32) + rng.normal(0, 15 / 255, (64, 64)), 0, 1)
    sepia = np.stack([grey + 0.04, 0.88 * grey + 0.02, 0.68 * grey], -1)
    sepia = (np.clip(sepia, 0, 1) * 255).round().astype(np.uint8)
    x = to_tensor(sepia)
    tones = toned(x)
    assert tones is not None and len(tones) == 1
    y = luma_of(x)
    assert y.shape == (1, 1, 64, 64)
    assert (tones[0].apply(y) - x).abs().max() <= 3 / 255  # the tone gives the image back from its luma
    e, e_luma = estimate_noise(x[0]), estimate_noise(y[0])
    assert e.level == e_luma.level and abs(e.level * 255 - 0.89 * 15) < 3  # luma noise: 0.89 of the grey's
    mask = np.zeros((64, 64), bool)
    mask[20:40, 24:44] = True
    for task, kw in (("denoise", {}), ("inpaint", {"mask": mask}), ("sr", {"scale": 2, "steps": 2}),
                     ("deblur", {"kernel": "gaussian:1", "steps": 2})):
        a = restore.restore(x, task, prior=P, **kw)
        g = restore.restore(y, task, prior=P, **kw)
        assert a.shape == (1, 3) + g.shape[2:]
        assert torch.equal(a, tones[0].apply(g)), task
    r = restore.api.run(x, "denoise", prior=P, samples=2, sampler="ddnm", steps=2, sigma=0.06)
    assert r.image.shape == r.std.shape == (1, 3, 64, 64) and bool((r.std >= 0).all())
    assert r.params["restored_as"] == "toned grey"  # (said in --json)
    assert restore.api.run(to_tensor(np.repeat(sepia[:, :, :1], 3, axis=2)), "denoise", prior=P,
                           sigma=0.06).params["restored_as"] == "grey"
    assert "restored_as" not in restore.api.run(to_tensor((rng.random((16, 16, 3)) * 255).astype(np.uint8)),
                                                "denoise", prior=P, sigma=0.06).params
    assert toned(x.expand(2, -1, -1, -1)) is not None  # a batch of toned images
    stamp = sepia.copy()
    stamp[5:7, 5:7] = (200, 20, 20)  # a red stamp of 4 pixels: a colour image
    assert toned(to_tensor(stamp)) is None
    assert toned(to_tensor(np.repeat(sepia[:, :, :1], 3, axis=2))) is None  # grey stored as RGB: handled as such
    photo = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    assert toned(to_tensor(photo)) is None


def test_a_tone_goes_on_beyond_its_input_and_a_batch_mixing_kinds_runs_image_by_image(P):
    """The adversarial trial of toned images: deblurred highlights were held at the blurred input's
    brightest (the tone flat beyond its knots), a large sepia whose darkest pixel a sample missed was
    read as colour, and a toned image batched with a colour one ran as colour (its result depended on
    its batch-mates)."""
    from restore.noise import luma_of, toned

    def sepia(g):
        return torch.from_numpy(np.stack([0.9 * g + 0.1, 0.8 * g + 0.05, 0.6 * g])).float()[None]

    rng = np.random.default_rng(0)
    g = np.clip(0.3 + 0.2 * rng.random((48, 48)), 0, 1)
    x = sepia(g)
    tone = toned(x)[0]
    far = torch.tensor([0.0, 0.05, 0.95, 1.0]).reshape(1, 1, 1, 4)  # lumas the input never reached
    lum_gain = float(luma_of(sepia(np.ones((1, 1))) - sepia(np.zeros((1, 1))))[0, 0, 0, 0])
    want = sepia((far[0, 0].numpy() - float(luma_of(sepia(np.zeros((1, 1))))[0, 0, 0, 0])) / lum_gain).clamp(0, 1)
    assert torch.allclose(tone.apply(far), want, atol=2e-3)  # the line the tone follows, on beyond its ends
    big = np.tile(np.linspace(0.2, 0.8, 1000), (600, 1))
    big[301, 501] = 0.0  # one dark pixel, off the sample of every other pixel
    assert toned(sepia(big)) is not None
    yy, xx = np.mgrid[:48, :48] / 48
    col = np.stack([0.2 + 0.5 * xx, 0.7 - 0.4 * yy, 0.4 + 0.2 * xx * yy]) + rng.normal(0, 0.05, (3, 48, 48))
    col = torch.from_numpy(col)
    col = col.clamp(0, 1).float()[None]
    both = torch.cat([x, col])
    for task, kw in (("denoise", {"sigma": 0.05}), ("inpaint", {"mask": np.stack([g > 0.45, g > 0.4])})):
        r = restore.restore(both, task, prior=P, **kw)
        one = {k: (v[0] if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        two = {k: (v[1] if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        assert torch.equal(r[:1], restore.restore(x, task, prior=P, **one)), task
        assert torch.equal(r[1:], restore.restore(col, task, prior=P, **two)), task
