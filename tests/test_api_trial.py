"""Defects trials of the Python API inside an imaging pipeline found (trials V and P), and one a
contributor's new task found (trial U), each as it was reported."""

import warnings

import numpy as np
import pytest
import torch

import restore
from restore.errors import InputError


def test_float16_alpha_is_resized_with_the_image(tiny_prior):
    """A float16 RGBA (or gray + alpha) image crashed super-resolution after the work, in
    OpenCV's resize of the alpha, which takes no float16."""
    rgba = (np.random.default_rng(0).integers(0, 256, (16, 16, 4)) / 255).astype(np.float16)
    for img in (rgba, rgba[..., [0, 3]]):
        out = restore.super_resolve(img, 2, steps=2, prior=tiny_prior)
        assert out.shape == (32, 32, img.shape[2]) and out.dtype == np.float16
        assert 0 <= float(out[..., -1].min()) and float(out[..., -1].max()) <= 1


def test_a_kernel_given_as_rows_of_numbers_is_an_array(tiny_prior):
    """A kernel as nested lists was taken for a file name: "File name too long" (an OSError),
    or "not understood"; other types said nothing of what a kernel may be."""
    img = np.full((32, 32, 3), 100, np.uint8)
    k = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = restore.deblur(img, k, sigma=0.01, steps=2, prior=tiny_prior)
        b = restore.deblur(img, np.array(k), sigma=0.01, steps=2, prior=tiny_prior)
        assert np.array_equal(a, b)
        long_list = (np.ones((15, 15)) / 225).tolist()  # its str() is longer than a file name may be
        assert restore.deblur(img, long_list, sigma=0.01, steps=2, prior=tiny_prior).shape == img.shape
    for bad, said in (([[1, "a"], [2, 3]], "a list that is not rows of numbers"), ([[1, 2], [3]], "not rows"),
                      (3.5, "got float"), ("x" * 5000, "not understood")):
        with pytest.raises(InputError, match=said):
            restore.deblur(img, bad, sigma=0.01, prior=tiny_prior)


def test_write_image_says_what_the_format_drops(tmp_path):
    """The command line warned that a JPEG output drops the transparency (and JPEG, BMP, WebP
    the 16 bits); restore.write_image dropped them without a word."""
    cases = [("a.jpg", np.zeros((8, 8, 4), np.uint8), ["transparency"]),
             ("b.webp", np.zeros((8, 8, 3), np.uint16), ["16-bit depth"]),
             ("c.jpg", np.zeros((8, 8, 2), np.uint16), ["transparency", "16-bit depth"]),
             ("d.png", np.zeros((8, 8, 4), np.uint16), []), ("e.bmp", np.zeros((8, 8, 3), np.uint8), []),
             ("f.jpg", np.full((8, 8, 4), 255, np.uint8), [])]  # a fully opaque alpha loses nothing (trial Y)
    for name, a, lost in cases:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            restore.write_image(tmp_path / name, a)
            restore.write_image(tmp_path / name, a, overwrite=True, warn=False)
        said = [str(x.message) for x in w]
        assert len(said) == len(lost) and all(f"drops the {what}" in m for what, m in zip(lost, said)), said
        assert all(x.filename == __file__ for x in w)  # pointing at the caller's line


def test_lossless_webp_keeps_the_colour_under_transparent_pixels(tmp_path):
    """OpenCV's lossless WebP changed the RGB under fully transparent pixels (382 values, by up
    to 112 levels); the format's "exact" mode keeps them."""
    a = np.random.default_rng(0).integers(0, 256, (32, 32, 4)).astype(np.uint8)
    a[..., 3] = 255
    a[:, :4, 3] = 0
    restore.write_image(tmp_path / "w.webp", a)
    assert np.array_equal(restore.read_image(tmp_path / "w.webp").array, a)


def test_run_checks_its_tensor(tiny_prior):
    """restore.run, a public entry, took a uint8 or a 0-255 tensor and gave back white; numpy
    failed with an AttributeError, a CHW tensor with an unpacking error, NaN deep in the work."""
    x = torch.full((1, 3, 16, 16), 128, dtype=torch.uint8)
    for bad, said in ((x, "float in \\[0, 1\\], got torch.uint8"), (x.float(), "reaches 128"),
                      (np.zeros((16, 16, 3)), "got ndarray"), (x[0].float() / 255, "must be \\(B, C, H, W\\)"),
                      (torch.full((1, 3, 16, 16), float("nan")), "NaN")):
        with pytest.raises(InputError, match=said):
            restore.run(bad, "denoise", sigma=0.05, prior=tiny_prior)
    assert restore.run(x.float() / 255, "denoise", sigma=0.05, prior=tiny_prior).image.shape == (1, 3, 16, 16)


def test_an_h_w_1_array_keeps_its_layout_only_where_the_result_is_gray():
    """An H x W x 1 image came back with a trailing axis whatever the result's channels: a task
    that makes colour of a gray image (a contributor's colorize) returned H x W x 1 x 3."""
    from restore.api import _to_batch

    g = np.full((8, 10, 1), 100, np.uint8)
    _, back, _ = _to_batch(g)
    assert back(torch.full((1, 1, 8, 10), 0.5)).shape == (8, 10, 1)
    assert back(torch.full((1, 3, 8, 10), 0.5)).shape == (8, 10, 3)


def test_write_image_warns_of_a_float_image_it_clips(tmp_path):
    """An API trial: a float image half below 0 (a mean taken off) was written as its clipped
    part without a word, where the restore calls warn of the same array."""
    rng = np.random.default_rng(0)
    img = rng.random((16, 16, 3))
    low = img * 0.6 - 0.2  # a third of it in [-0.2, 0)
    with pytest.warns(UserWarning, match=r"a\.png: 3\d\.\d% of the image's samples lie outside \[0, 1\].*clipped") as w:
        restore.write_image(tmp_path / "a.png", low)
    assert w[0].filename == __file__
    assert (restore.read_image(tmp_path / "a.png").array == np.round(np.clip(low, 0, 1) * 255)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a float's rounding, or a few overshooting samples, are not warned of
        restore.write_image(tmp_path / "b.png", np.clip(img, 0, 1) + 1e-7)
        few = img.copy()
        few[0, :2] = 1.05  # 6 of 768 samples
        restore.write_image(tmp_path / "c.png", few)
        restore.write_image(tmp_path / "d.png", low, warn=False)


def test_a_zero_dim_tensor_is_a_number(tiny_prior):
    """An API trial: sigma=torch.tensor(0.06) (a reduction's result) was refused as not a number,
    where np.float32 was taken; a 0-d tensor or array is its number, anything else still refused."""
    img = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    want = restore.denoise(img, sigma=0.06, prior=tiny_prior)
    for s in (torch.tensor(0.06), torch.tensor(0.06, dtype=torch.float64), np.array(0.06)):
        assert (restore.denoise(img, sigma=s, prior=tiny_prior) == want).all()
    for bad in (torch.tensor([0.06]), torch.tensor(True), np.array([0.1, 0.2])):
        with pytest.raises(InputError, match="sigma must be a number"):
            restore.denoise(img, sigma=bad, prior=tiny_prior)


def test_read_image_gives_a_writable_array_for_every_kind(tmp_path):
    """A training trial: a palette PNG raised torch's "not writable" warning; read_image handed
    Pillow's read-only buffer back for palette and 1-bit files, so an in-place edit in a pipeline
    (``img[mask] = 0``) raised where an RGB PNG's did not."""
    from PIL import Image as PILImage

    a = (np.random.default_rng(0).random((24, 20, 3)) * 255).astype(np.uint8)
    PILImage.fromarray(a).convert("P").save(tmp_path / "p.png")
    PILImage.fromarray(a).convert("P").save(tmp_path / "p.gif")
    PILImage.fromarray(a[..., 0]).convert("1").save(tmp_path / "one.png")
    PILImage.fromarray(a).save(tmp_path / "rgb.png")
    for name in ("p.png", "p.gif", "one.png", "rgb.png"):
        img = restore.read_image(tmp_path / name).array
        assert img.flags.writeable, name
        img[:2] = 0  # no "assignment destination is read-only"
    want = np.asarray(PILImage.open(tmp_path / "p.png").convert("RGB"))
    assert (restore.read_image(tmp_path / "p.png").array == want).all()


def test_the_estimated_level_takes_images_4_to_7_pixels_on_a_side(tiny_prior):
    """Trial P: denoise without sigma raised torch's "maximum size for tensor at dimension 1 is 0"
    on every image whose shorter side was 4-7 px (the prior's check cut no 8x8 block from it)."""
    from restore.tasks.denoise import texture_taken

    rng = np.random.default_rng(0)
    for shape in ((6, 40, 3), (40, 6, 3), (4, 4, 3), (7, 7), (5, 100)):
        img = (rng.random(shape) * 255).astype(np.uint8)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (nor torch's warning of a variance over no samples)
            assert restore.denoise(img, prior=tiny_prior).shape == shape
            assert restore.denoise(img, strength=2.0, prior=tiny_prior).shape == shape
    y = torch.rand(1, 3, 7, 200)
    assert texture_taken(y, y * 0.5) == 0.0  # no whole block: nothing to read


@pytest.mark.parametrize("task, images, params, said", [
    ("sr", "sizes", {"scale": [4, 5]}, "image 1 of the list: scale must be one of"),
    ("denoise", "same", {"sigma": [0.05, 0.05, 2.0]}, "image 2 of the list: sigma must be in"),
    ("inpaint", "sizes", {"mask": "last too small"}, "image 1 of the list: mask is 30x30 but the image is"),
    ("deblur", "sizes", {"kernel": "15x15"}, "image 1 of the list: the kernel (15x15) is longer"),
])
def test_a_list_is_checked_whole_before_its_first_image_runs(tiny_prior, task, images, params, said):
    """Trial P: each image's parameters were checked only when its batch came to run, so a scale,
    a mask or a sigma wrong for the last image was refused after the others had run (7 s of sr),
    their results lost."""
    img = (np.random.default_rng(0).random((48, 48, 3)) * 255).astype(np.uint8)
    imgs = [img, img[:12, :12]] if images == "sizes" else [img, img, img]
    if params.get("mask") == "last too small":
        params = {"mask": [img[..., 0] > 200, np.zeros((30, 30), bool)]}
    if params.get("kernel") == "15x15":
        params = {"kernel": np.ones((15, 15)) / 225, "sigma": 0.01}
    steps = []
    with pytest.raises(InputError) as e, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        restore.restore(imgs, task, prior=tiny_prior, progress=steps.append,
                        **({} if task == "denoise" else {"steps": 2}), **params)
    assert said in str(e.value)
    assert steps == []  # refused before any image ran


def test_a_list_runs_as_its_images_alone_after_the_check(tiny_prior):
    """The check a list gets first runs nothing: each image's result is the one it gets alone."""
    img = (np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)
    m = img[..., 0] > 200
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = restore.inpaint([img, img[:24]], mask=[m, m[:24]], steps=2, seed=[3, 4], prior=tiny_prior)
        assert np.array_equal(both[0], restore.inpaint(img, m, steps=2, seed=3, prior=tiny_prior))
        assert np.array_equal(both[1], restore.inpaint(img[:24], m[:24], steps=2, seed=4, prior=tiny_prior))
        assert restore.run(torch.rand(1, 3, 16, 16), "denoise", sigma=0.1, prior=tiny_prior, check_only=True) is None
        with pytest.raises(InputError, match="sigma must be in"):
            restore.run(torch.rand(1, 3, 16, 16), "denoise", sigma=3.0, prior=tiny_prior, check_only=True)


def test_ssim_matches_scikit_image_off_its_defaults_and_refuses_what_it_cannot_do():
    """Trial P: win_size and sigma were not checked (sigma 0 gave NaN, an even window a number,
    a window of 0 torch's error) and off the defaults differed from scikit-image, whose Gaussian
    reaches 3.5 sigma whatever the window (the window sets only the edge its mean leaves out)."""
    from skimage.metrics import structural_similarity as sk

    rng = np.random.default_rng(0)
    a = (rng.random((30, 41, 3)) * 255).astype(np.uint8)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    where = np.zeros((30, 41), bool)
    where[8:22, 10:30] = True
    for win, sd in ((1, 1.5), (3, 0.5), (7, 1.5), (7, 1.0), (11, 3.0), (21, 1.0)):
        want, full = sk(a, b, win_size=win, sigma=sd, gaussian_weights=True, use_sample_covariance=False,
                        data_range=255, channel_axis=-1, full=True)
        assert restore.ssim(a, b, win_size=win, sigma=sd) == pytest.approx(want, abs=1e-9)
        p = (win - 1) // 2
        crop = (slice(p, 30 - p), slice(p, 41 - p))
        assert restore.ssim(a, b, win_size=win, sigma=sd, where=where) == pytest.approx(
            full.mean(-1)[crop][where[crop]].mean(), abs=1e-9)
    for bad, said in ((dict(sigma=0), "sigma must be a positive"), (dict(sigma=-1.5), "sigma must be a positive"),
                      (dict(sigma=float("nan")), "sigma must be"), (dict(win_size=12), "win_size must be an odd"),
                      (dict(win_size=0), "win_size must be an odd"), (dict(win_size="7"), "win_size must be")):
        with pytest.raises(InputError, match=said):
            restore.ssim(a, b, **bad)


def test_metrics_refuse_an_array_batch_and_say_shapes_as_given():
    """Trial P: a B x H x W x C array gave numpy's "axes don't match array" (no InputError), and a
    shape mismatch of H x W x C arrays was said as (1, C, H, W)."""
    x = np.zeros((2, 40, 40, 3), np.uint8)
    for f in (restore.psnr, restore.ssim):
        with pytest.raises(InputError, match=r"one image, H x W \[x C\]; got shape \(2, 40, 40, 3\)"):
            f(x, x)
        with pytest.raises(InputError, match=r"differ in shape: \(40, 40, 3\) vs \(39, 40, 3\)"):
            f(x[0], x[0, :39])


def test_a_list_gives_each_image_its_own_kernel_array_and_names_the_image_an_incompatible_option_fails(tiny_prior):
    """Trial L: a list's per-image arrays other than masks (a deblur kernel, a 0-d sigma or strength, an
    inpainting exclude) were stacked as the masks are and refused as lists after the other images had run
    ("kernel array: a kernel must be 2-D ... got (1, 5, 5)"; "exclude must be a numpy array ..., got list"); now
    images with different such arrays run in batches of their own, each as it runs alone. An IncompatibleError
    from the list's check named no image."""
    from restore.errors import IncompatibleError

    rng = np.random.default_rng(0)
    ims = [(rng.random((24, 24, 3)) * 255).astype(np.uint8) for _ in range(3)]
    k5, k3 = np.ones((5, 5)) / 25, np.eye(3) / 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = restore.deblur(ims, kernel=["gaussian:1", k5, k3], sigma=0.02, steps=2, prior=tiny_prior)
        for im, k, out in zip(ims, ["gaussian:1", k5, k3], both):
            assert np.array_equal(out, restore.deblur(im, kernel=k, sigma=0.02, steps=2, prior=tiny_prior))
        three = restore.denoise(ims, sigma=[0.05, torch.tensor(0.07), 0.05], strength=[1.0, 1.0, np.array(0.8)],
                                prior=tiny_prior)
        assert np.array_equal(three[1], restore.denoise(ims[1], sigma=0.07, prior=tiny_prior))
        assert np.array_equal(three[2], restore.denoise(ims[2], sigma=0.05, strength=0.8, prior=tiny_prior))
        m = np.zeros((24, 24), bool)
        m[8:16, 8:16] = True
        ex = np.zeros((24, 24), bool)
        ex[:4, :4] = True
        outs = restore.inpaint(ims, mask=[m] * 3, fill="scene", exclude=[None, None, ex], prior=tiny_prior)
        assert np.array_equal(outs[2], restore.inpaint(ims[2], m, fill="scene", exclude=ex, prior=tiny_prior))
    with pytest.raises(IncompatibleError, match="^image 2 of the list: sampler 'repaint' cannot serve"):
        restore.denoise(ims, sigma=0.05, sampler=["dpir", "dpir", "repaint"], prior=tiny_prior)
