"""Inpainting local to the holes (issue 24): crops around the holes, known pixels untouched."""

from __future__ import annotations

import math
import numpy as np
import pytest
import torch

from restore.api import run
from restore.errors import InputError
from restore.tasks.inpaint import LOCAL_MARGIN, hole_boxes


def _photo(H, W, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, H), torch.linspace(0, 1, W), indexing="ij")
    base = torch.stack([0.3 + 0.4 * yy, 0.5 + 0.3 * torch.sin(6 * xx), 0.2 + 0.5 * xx * yy])
    return (base + 0.05 * torch.rand(3, H, W, generator=g))[None].clamp(0, 1)


def _boxed(H, W, seed, rows, cols):
    """A photo-like image, a box hole over ``rows`` x ``cols`` (half-open ranges) and its known pixels."""
    hole = np.zeros((H, W), bool)
    hole[rows[0]:rows[1], cols[0]:cols[1]] = True
    return _photo(H, W, seed=seed), hole, torch.from_numpy(~hole)


def test_hole_boxes_cover_disjoint_and_snap():
    hole = np.zeros((300, 400), bool)
    hole[20:30, 30:50] = True  # near a corner: its crop is clipped to the image
    hole[200:240, 300:330] = True
    hole[210:215, 280:290] = True  # within 2 margins of the previous one: shares its crop
    boxes = hole_boxes(hole, 16, multiple=8)
    assert len(boxes) == 2
    cover = np.zeros_like(hole)
    for y0, y1, x0, x1 in boxes:
        assert 0 <= y0 < y1 <= 300 and 0 <= x0 < x1 <= 400
        assert y0 % 16 == 0 and x0 % 16 == 0  # on the network's grid (and at least LOCAL_ALIGN's)
        assert (y1 % 16 == 0 or y1 == 300) and (x1 % 16 == 0 or x1 == 400)
        assert not cover[y0:y1, x0:x1].any()  # disjoint
        cover[y0:y1, x0:x1] = True
    assert cover[hole].all()
    # every hole pixel has the margin of context inside its crop (where the image has it)
    ys, xs = np.nonzero(hole)
    for y, x in zip(ys, xs):
        y0, y1, x0, x1 = next(b for b in boxes if b[0] <= y < b[1] and b[2] <= x < b[3])
        assert y - y0 >= min(16, y) and x - x0 >= min(16, x)
        assert y1 - 1 - y >= min(16, 299 - y) and x1 - 1 - x >= min(16, 399 - x)


def test_hole_boxes_scattered_and_whole():
    rng = np.random.default_rng(0)
    hole = rng.random((200, 200)) < 0.3
    assert hole_boxes(hole, 8) == [(0, 200, 0, 200)]


def test_local_matches_whole_and_keeps_known(tiny_prior):
    H, W = 96 + 2 * LOCAL_MARGIN + 40, 2 * (2 * LOCAL_MARGIN + 40)
    x = _photo(H, W)
    hole = np.zeros((H, W), bool)
    hole[60:72, 50:66] = True
    hole[H - 20 : H - 8, W - 30 : W - 12] = True
    ht = torch.from_numpy(hole)
    loc = run(x, "inpaint", mask=hole, prior=tiny_prior, steps=4)
    whole = run(x, "inpaint", mask=hole, prior=tiny_prior, steps=4, local=False)
    assert loc.params.get("regions") == 2 and "regions" not in whole.params
    assert torch.equal(loc.image[..., ~ht], x[..., ~ht])  # bit for bit
    assert torch.equal(whole.image[..., ~ht], x[..., ~ht])
    assert not torch.equal(loc.image[..., ht], x[..., ht])  # the holes were filled
    # the tiny prior sees far less than the margin: the crops' result is the whole image's
    assert torch.allclose(loc.image, whole.image, atol=1e-4)


def test_local_batch_masks_samples_and_progress(tiny_prior):
    H, W = 224, 224
    x = torch.cat([_photo(H, W, 0), _photo(H, W, 1)])
    m0 = np.zeros((H, W), bool)
    m0[20:30, 20:30] = True
    m1 = np.zeros((H, W), bool)
    m1[190:200, 180:200] = True
    seen = []
    r = run(x, "inpaint", mask=[m0, m1], prior=tiny_prior, steps=3, sampler="ddnm", samples=2,
            progress=lambda d: seen.append((d["i"], d["n"])))
    assert r.params.get("regions") == 2
    for b, m in enumerate((m0, m1)):
        k = torch.from_numpy(~m)
        assert torch.equal(r.image[b][..., k], x[b][..., k])
        assert float(r.std[b][..., k].abs().max()) == 0
    # image 0's second crop (image 1's hole) is known there: it stays the input
    assert torch.equal(r.image[0][..., torch.from_numpy(m1)], x[0][..., torch.from_numpy(m1)])
    assert seen[-1][0] == seen[-1][1] - 1 and seen[-1][1] == 2 * 3


@pytest.mark.parametrize("params", [{"sigma": 0.02}, {"local": False}])
def test_local_off(tiny_prior, params):
    H, W = 224, 224
    x = _photo(H, W)
    hole = np.zeros((H, W), bool)
    hole[20:30, 20:30] = True
    r = run(x, "inpaint", mask=hole, prior=tiny_prior, steps=2, **params)
    assert "regions" not in r.params


# -- mask sanity --------------------------------------------------------------------------------
def _cli(tiny_prior_dir, *args):
    from click.testing import CliRunner

    from restore.cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args] + ["--weights", str(tiny_prior_dir), "--steps", "2"],
                              catch_exceptions=False)


@pytest.fixture
def photo_and_mask(tmp_path):
    from restore.io import write_image

    x = (_photo(48, 64)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    m = np.zeros((48, 64), np.uint8)
    m[10:20, 12:30] = 255
    write_image(tmp_path / "photo.png", x)
    write_image(tmp_path / "mask.png", m)
    write_image(tmp_path / "inverted.png", 255 - m)
    return tmp_path


def test_swapped_arguments_refused(tiny_prior_dir, photo_and_mask):
    d = photo_and_mask
    r = _cli(tiny_prior_dir, "inpaint", d / "mask.png", d / "photo.png", "-o", d / "o.png")
    assert r.exit_code != 0 and not (d / "o.png").exists()
    assert "does not look like a mask" in r.output and "swapped" in r.output
    assert len([ln for ln in r.output.splitlines() if "error" in ln.lower() or "mask" in ln]) == 1


def test_inverted_mask_warned_and_invert_mask(tiny_prior_dir, photo_and_mask):
    from restore.io import read_image

    d = photo_and_mask
    r = _cli(tiny_prior_dir, "inpaint", d / "photo.png", d / "inverted.png", "-o", d / "a.png", "-q")
    assert r.exit_code == 0 and "--invert-mask" in r.output and "94 %" in r.output
    r = _cli(tiny_prior_dir, "inpaint", d / "photo.png", d / "inverted.png", "--invert-mask", "-o", d / "b.png",
             "-q")
    assert r.exit_code == 0 and "warning" not in r.output
    r = _cli(tiny_prior_dir, "inpaint", d / "photo.png", d / "mask.png", "-o", d / "c.png", "-q")
    assert np.array_equal(read_image(d / "b.png").array, read_image(d / "c.png").array)


def test_the_warning_with_invert_mask_says_to_drop_it(tiny_prior_dir, photo_and_mask):
    d = photo_and_mask
    r = _cli(tiny_prior_dir, "inpaint", d / "photo.png", d / "mask.png", "--invert-mask", "-o", d / "a.png", "-q")
    assert r.exit_code == 0 and "inverted by --invert-mask" in r.stderr and "drop --invert-mask" in r.stderr
    assert "pass --invert-mask" not in r.stderr


def test_invert_mask_inverts_an_array_mask_in_the_api(tiny_prior):
    x = _photo(48, 64)
    hole = np.zeros((48, 64), bool)
    hole[10:20, 12:30] = True
    a = run(x, "inpaint", prior=tiny_prior, mask=hole, fill="mean", steps=1).image
    b = run(x, "inpaint", prior=tiny_prior, mask=~hole, invert_mask=True, fill="mean", steps=1).image
    c = run(x, "inpaint", prior=tiny_prior, mask=[(~hole).astype(np.uint8) * 255], invert_mask=True, fill="mean",
            steps=1).image
    assert torch.equal(a, b) and torch.equal(a, c)
    with pytest.raises(InputError, match="invert_mask"):
        run(x, "inpaint", prior=tiny_prior, known=torch.from_numpy(~hole), invert_mask=True, steps=1)


@pytest.mark.parametrize("opts", [["--exclude", "mask.png"], ["--no-lines"]])
def test_scene_fill_options_with_another_fill_are_refused_first(tiny_prior_dir, photo_and_mask, opts):
    d = photo_and_mask
    r = _cli(tiny_prior_dir, "inpaint", d / "photo.png", d / "mask.png", "--fill", "mean",
             *[d / o if o.endswith(".png") else o for o in opts], "-o", d / "o.png")
    assert r.exit_code == 2 and "applies to the scene fill" in r.stderr and not (d / "o.png").exists()


def test_an_exclude_inside_the_hole_is_refused(tiny_prior_dir, photo_and_mask):
    pytest.importorskip("patchmatch")
    d = photo_and_mask
    r = _cli(tiny_prior_dir, "inpaint", d / "photo.png", d / "mask.png", "--exclude", d / "mask.png", "--fill", "scene",
             "-o", d / "o.png")
    assert r.exit_code == 1 and "exclude nothing" in r.stderr and not (d / "o.png").exists()


@pytest.mark.parametrize("which", ["photo.png", "mask.png", "ex.png"])
def test_an_output_that_is_an_input_is_refused_even_with_overwrite(tiny_prior_dir, photo_and_mask, which):
    d = photo_and_mask
    if which == "ex.png":
        (d / "ex.png").write_bytes((d / "mask.png").read_bytes())
    before = (d / which).read_bytes()
    r = _cli(tiny_prior_dir, "inpaint", d / "photo.png", d / "mask.png", "-o", d / which, "--overwrite",
             *(["--exclude", d / "ex.png"] if which == "ex.png" else []))
    assert r.exit_code == 2 and "is also an input" in r.stderr and (d / which).read_bytes() == before


@pytest.mark.parametrize("missing", ["mask", "exclude"])
def test_a_missing_mask_or_exclude_file_is_a_failed_input_in_single_and_folder_runs(tiny_prior_dir, photo_and_mask,
                                                                                      missing):
    """A file the command names that is not there fails the same way (exit 1, a --json
    record) whether it is the MASK argument or an option's file, before any image is read."""
    import json

    d = photo_and_mask
    mask = d / ("nomask.png" if missing == "mask" else "mask.png")
    extra = ["--exclude", d / "noex.png"] if missing == "exclude" else []
    for src, out in ((d / "photo.png", d / "o.png"), (d, d / "outs")):
        r = _cli(tiny_prior_dir, "inpaint", src, mask, *extra, "-o", out, "--json")
        rec = json.loads(r.stdout.splitlines()[0])
        assert r.exit_code == 1 and rec["status"] == "failed" and "no such file" in rec["error"]
        assert "--exclude" in r.stderr if missing == "exclude" else "nomask.png" in r.stderr
        assert not out.exists()


def test_the_report_names_the_fill_auto_chose_on_the_whole_image_path(tiny_prior):
    x = _photo(48, 64)
    hole = np.zeros((48, 64), bool)
    hole[10:12, 5:60] = True  # a scratch: auto picks the posterior mean
    r = run(x, "inpaint", prior=tiny_prior, mask=hole, local=False, steps=1)
    assert r.params["fill"] == "mean"


def test_mostly_hole_warning_never_says_100_percent():
    from restore.tasks import get_task

    hole = np.ones((40, 40), bool)
    hole[0, :1] = False  # 1 known pixel of 1600: 99.94 %
    (w,) = get_task("inpaint").warnings(None, {"mask": hole})
    assert "99.9 % of the image" in w
    hole[:5, :] = False  # 87.5 %
    assert "88 % of the image" in get_task("inpaint").warnings(None, {"mask": hole})[0]


def test_photo_like():
    from restore.tasks.inpaint import photo_like

    m = np.zeros((40, 40), np.uint8)
    m[10:20, 10:20] = 255
    assert photo_like(m) is None and photo_like(m > 0) is None and photo_like((m > 0).astype(np.uint8)) is None
    import cv2

    soft = cv2.GaussianBlur(m, (5, 5), 1.0)  # a feathered brush's edge
    assert photo_like(soft) is None
    assert photo_like(np.repeat(m[..., None], 3, 2)) is None
    assert "mid-grey" in photo_like((_photo(40, 40)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8))


# -- the fill chosen by the hole ---------------------------------------------------------------
def test_auto_fill_follows_the_hole_geometry():
    from restore.tasks import get_task
    from restore.tasks.inpaint import SCENE_RADIUS, inscribed_radius

    tk = get_task("inpaint")
    H, W = 128, 160
    thin = np.zeros((H, W), bool)
    thin[40:44, 10:150] = True  # a scratch: radius 2
    blob = np.zeros((H, W), bool)
    blob[30:90, 40:110] = True  # an object: radius 30
    assert inscribed_radius(thin) <= 3 < SCENE_RADIUS < 29 <= inscribed_radius(blob)
    for hole, fill in ((thin, "mean"), (blob, "scene")):
        p = {"known": torch.from_numpy(~hole), "fill": "auto"}
        assert tk.fill_of(p) == fill
        assert tk.recipe(p) == (tk.SCENE if fill == "scene" else tk.recipe({"fill": "mean"}))
    assert tk.fill_of({"known": torch.from_numpy(~blob), "fill": "mean"}) == "mean"  # --fill keeps control
    post = np.zeros((H, W), bool)
    post[10:120, 70:90] = True  # a fence post 20 px wide: the scene fill, not a smooth bar
    scattered = np.random.default_rng(0).random((H, W)) < 0.97  # 97 % of the pixels missing
    assert inscribed_radius(post) > SCENE_RADIUS and inscribed_radius(scattered) > SCENE_RADIUS
    assert tk.fill_of({"known": torch.from_numpy(~post), "fill": "auto"}) == "scene"
    assert tk.fill_of({"known": torch.from_numpy(~scattered), "fill": "auto"}) == "mean"  # no whole patches


def test_auto_fill_judges_a_grown_hole_as_drawn(tiny_prior):
    """From a visual trial: thin text drawn on a photo, its mask the strokes, grew by its tight
    edge (mask_dilate auto) past the scene fill's radius, and PatchMatch pasted a balloon's top
    and a block of hair into the letters. The fill is chosen by the holes as drawn; the growth
    stays (it takes in the text's edge). A bar drawn 20 px wide still gets the scene fill."""
    pytest.importorskip("patchmatch")
    from restore.tasks import get_task

    tk = get_task("inpaint")
    rng = np.random.default_rng(0)
    for width, fill in ((12, "mean"), (20, "scene")):
        img = (rng.random((96, 128, 3)) * 0.4 + 0.2).astype(np.float32)
        img[40:40 + width, 20:110] = 0.95  # a bright bar on texture: its edge follows the mask
        m = np.zeros((96, 128), bool)
        m[39:41 + width, 19:111] = True
        x = torch.from_numpy(img).permute(2, 0, 1)[None]
        q = tk.check(x, {"mask": m})
        assert q["holes_grown"] == 1 and "drawn" in q  # grown: radius 10 (12 px) / 14 (20 px)
        assert tk.fill_of(q) == fill
        assert tk.fill_of({k: v for k, v in q.items() if k != "drawn"}) == "scene"  # by the grown hole: scene
        res = run(x, "inpaint", mask=m, prior=tiny_prior, steps=2)
        assert res.params["fill"] == fill


def test_has_sources():
    from restore.tasks.inpaint import has_sources

    hole = np.zeros((64, 64), bool)
    hole[20:40, 20:40] = True
    assert has_sources(hole) and not has_sources(np.ones((64, 64), bool))
    assert not has_sources(np.random.default_rng(0).random((64, 64)) < 0.5)  # scattered known pixels
    hole = np.ones((64, 64), bool)
    hole[30:42, :] = False  # a 12-px band: only its 2 middle rows are centres of whole 11x11 patches
    assert not has_sources(hole) and has_sources(hole, patch=2)


def test_without_pypatchmatch_auto_keeps_the_mean_and_scene_says_why(monkeypatch):
    """Where the pypatchmatch package is missing (a platform without its wheel), ``auto``
    keeps the posterior mean for wide holes too, and ``--fill scene`` is refused, saying
    what to install, before any work."""
    import restore.tasks.inpaint as ip
    from restore.tasks import get_task

    monkeypatch.setattr(ip, "has_patchmatch", lambda: False)
    tk = get_task("inpaint")
    blob = np.zeros((128, 160), bool)
    blob[30:90, 40:110] = True
    assert tk.fill_of({"known": torch.from_numpy(~blob), "fill": "auto"}) == "mean"
    with pytest.raises(InputError, match="pypatchmatch"):
        tk.recipe({"known": torch.from_numpy(~blob), "fill": "scene"})
    with pytest.raises(InputError, match=r'pip install "restore\[fill\]"'):
        run(_photo(64, 64), "inpaint", mask=blob[:64, :64], fill="scene", prior=None, steps=1)
    # a hole the default would fill from the photo's patches: said that it gets the smooth mean (a packaging
    # trial's user saw none), a narrow one not
    said = tk.warnings(_photo(128, 160), {"mask": blob, "fill": "auto"})
    assert any("needs the pypatchmatch package" in w for w in said), said
    thin = np.zeros((128, 160), bool)
    thin[60:64, 10:150] = True
    assert not tk.warnings(_photo(128, 160), {"mask": thin, "fill": "auto"})


@pytest.mark.parametrize("guide_weight,pull", [(0.0, 0.0), (0.0, 0.5), (2.0, 0.0)])
def test_scene_fill_starts_from_the_photos_patches(tiny_prior, guide_weight, pull):
    pytest.importorskip("patchmatch")
    from restore.tasks.inpaint import exemplar_fill

    H, W = 64, 96
    x, hole, known = _boxed(H, W, 0, (20, 44), (30, 60))
    st = exemplar_fill(x, known, guide_weight=guide_weight, pull=pull)
    assert st.shape == x.shape and torch.equal(st[..., known], (x[..., known] * 255).round() / 255)
    assert torch.equal(st, exemplar_fill(x, known, guide_weight=guide_weight, pull=pull))  # seeded: the same twice
    r = run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene", steps=2)
    assert r.sampler == "ddnm" and torch.equal(r.image[..., known], x[..., known])


def test_the_guide_never_wraps_in_pypatchmatchs_periodic_distance():
    """pypatchmatch compares guide values as periodic coordinates (a difference d over 0.5
    counts as 1 - d): the guide's values stay within [0, 0.5], so a larger difference in
    colour is always a larger distance (black is as far from white as the guide can tell)."""
    from restore.tasks.inpaint import guide_map

    def periodic(d):  # pypatchmatch's own reading of a difference between two guide values
        d = np.abs(d)
        return np.where(d > 0.5, 1 - d, d)

    levels = np.linspace(0, 255, 18).round().astype(np.uint8)
    grey = guide_map(np.repeat(np.repeat(levels[None, :, None], 8, 0), 3, 2), blur=0.5)[4, :, 0]
    assert grey.min() >= 0 and grey.max() <= 0.5
    assert np.all(np.diff(periodic(grey - grey[0])) > 0)  # darker to brighter: ever further from black
    rb = np.zeros((8, 16, 3), np.uint8)
    rb[:, :8, 0] = rb[:, 8:, 2] = 255  # pure red | pure blue
    c = guide_map(rb, blur=0.5)[4, :, 1]
    assert c.min() >= 0 and c.max() <= 0.5 and periodic(c[0] - c[-1]) > 0.45


def test_a_result_names_every_sampler_its_regions_ran(tiny_prior):
    """Crops with different fills (a scratch: the mean by dpir; an object: the scene fill, no
    sampler) report both, and the most steps any crop took."""
    pytest.importorskip("patchmatch")
    from restore.tasks import get_task

    H, W = 256, 512
    x = _photo(H, W, seed=4)
    hole = np.zeros((H, W), bool)
    hole[20:24, 10:60] = True  # a scratch
    hole[120:180, 380:450] = True  # an object, far from it: its own crop
    r = run(x, "inpaint", mask=hole, prior=tiny_prior, mask_dilate=2)
    assert r.params["regions"] == 2
    assert sorted(r.sampler.split("+")) == ["dpir", "none"] and r.steps == get_task("inpaint").steps
    # the crops' own fills, both; the task's options as asked, not each crop's defaults
    assert sorted(r.params["fill"].split("+")) == ["mean", "scene"] and r.params["mask_dilate"] == 2


def test_scene_fill_is_the_exemplar_start_without_steps(tiny_prior):
    """The scene recipe has no steps of the prior: the hole gets the exemplar start (its
    patches from the hole's context, here the whole image) and no sampler runs; ``steps``
    refines it."""
    pytest.importorskip("patchmatch")
    from restore.tasks import get_task
    from restore.tasks.inpaint import exemplar_fill

    tk = get_task("inpaint")
    assert tk.SCENE.steps == 0 and tk.recipe({"fill": "scene", "sigma": 0.05}).steps > 0  # noisy: restored
    H, W = 64, 96
    x, hole, known = _boxed(H, W, 2, (20, 44), (30, 60))
    r = run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene")
    assert r.sampler == "none" and r.steps == 0 and r.sigma_start is None
    assert torch.equal(r.image[..., known], x[..., known])
    st = exemplar_fill(x, known)
    torch.testing.assert_close(r.image[..., ~known], st[..., ~known], rtol=0, atol=1e-6)
    refined = run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene", steps=2)
    assert refined.steps == 2 and not torch.equal(refined.image, r.image)
    with pytest.raises(InputError, match="runs no sampler"):  # no posterior spread without steps
        run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene", samples=2)
    assert run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene", samples=2, steps=2).std is not None
    named = run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene", sampler="ddnm")  # a named sampler runs
    assert named.sampler == "ddnm" and named.steps > 0


def test_the_seed_draws_another_scene_fill(tiny_prior):
    """The seed (or the generator's) seeds PatchMatch's search: another seed, another fill of
    the hole, the known pixels kept; the same seed, the same fill, alone or in a batch, on the
    local crops and the whole image."""
    pytest.importorskip("patchmatch")
    from restore.tasks.inpaint import exemplar_fill

    H, W = 64, 96
    x, hole, known = _boxed(H, W, 2, (20, 44), (30, 60))
    a = run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene").image
    assert torch.equal(a, run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene", seed=0).image)
    b = run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene", seed=1).image
    assert torch.equal(b[..., known], x[..., known])
    assert (b - a)[..., ~known].abs().amax() > 16 / 255  # another fill, not a pixel's rounding
    torch.testing.assert_close(b[..., ~known], exemplar_fill(x, known, seed=1)[..., ~known], rtol=0, atol=1e-6)
    g = torch.Generator().manual_seed(1)
    assert torch.equal(b, run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene", generator=g).image)
    both = run(torch.cat([x, x]), "inpaint", mask=hole, prior=tiny_prior, fill="scene", seed=[0, 1]).image
    assert torch.equal(both[:1], a) and torch.equal(both[1:], b)
    whole = run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene", seed=1, local=False).image
    assert torch.equal(whole[..., known], x[..., known]) and not torch.equal(
        whole, run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene", local=False).image)


def test_a_batchs_images_are_filled_as_each_alone(tiny_prior):
    """Each image of a batch with its own holes gets what a run on it alone gives, bit for bit:
    its fill chosen by its own holes (a README trial: a batch of an image and its mirror, the
    holes of both together made a stroke wide enough for the scene fill), its own seed, and an
    image whose holes are restored at once (scattered pixels) beside ones restored in crops."""
    pytest.importorskip("patchmatch")
    H, W = 64, 96
    xs = [_photo(H, W, seed=s) for s in (1, 2, 3)]
    stroke = np.zeros((H, W), bool)
    stroke[30:34, 4:92] = True  # thin: the mean, alone
    box = np.zeros((H, W), bool)
    box[14:46, 20:56] = True  # wide: the scene fill
    cross = np.zeros((H, W), bool)
    cross[4:60, 46:50] = True  # thin, but with the first image's stroke a wide crossing
    scattered = np.random.default_rng(0).random((H, W)) < 0.5
    big = np.zeros((H, W), bool)
    big[8:56, 10:86] = True  # crops would cover most of the image: the whole image at once, the scene fill
    masks = [stroke | box, cross, scattered, big]
    xs.append(_photo(H, W, seed=4))
    for opts in ({}, {"sigma": 0.02}, {"local": False}):  # crops; noisy known pixels; the whole image
        alone = [run(x, "inpaint", mask=m, prior=tiny_prior, steps=2, seed=s, **opts).image
                 for s, (x, m) in enumerate(zip(xs, masks))]
        both = run(torch.cat(xs), "inpaint", mask=masks, prior=tiny_prior, steps=2, seed=[0, 1, 2, 3], **opts).image
        for b, a in zip(both, alone):
            assert torch.equal(b[None], a), opts


def test_border_band_first_only_where_the_hole_is_deeper():
    """PatchMatch fills a hole's border band first, then the rest (BORDER_BAND): a hole no
    deeper than the band is one pass, as before; known pixels are kept either way."""
    pytest.importorskip("patchmatch")
    from restore.tasks.inpaint import BORDER_BAND, exemplar_fill

    H, W = 96, 128
    x = _photo(H, W, seed=5)
    thin = np.zeros((H, W), bool)
    thin[40:40 + int(BORDER_BAND), 20:100] = True  # depth at most BORDER_BAND / 2
    known = torch.from_numpy(~thin)
    assert torch.equal(exemplar_fill(x, known), exemplar_fill(x, known, band=0))
    big = np.zeros((H, W), bool)
    big[16:80, 24:104] = True  # 32 px deep
    known = torch.from_numpy(~big)
    banded, one = exemplar_fill(x, known), exemplar_fill(x, known, band=0)
    assert not torch.equal(banded, one)
    assert torch.equal(banded[..., known], one[..., known])
    assert torch.equal(banded, exemplar_fill(x, known))  # seeded: the same twice


def test_border_band_takes_its_patches_from_near_the_hole(monkeypatch):
    """The border band's PatchMatch pass is given the hole's box grown by BAND_CONTEXT pixels
    (clipped to the image), the inner pass the whole crop; known pixels are kept, and
    band_context=0 gives the band the whole crop too."""
    pm = pytest.importorskip("patchmatch.patch_match")
    from restore.tasks.inpaint import BAND_CONTEXT, exemplar_fill

    real, seen = pm.inpaint, []

    def inpaint(img, mask, *a, **k):
        seen.append(img.shape[:2])
        return real(img, mask, *a, **k)

    monkeypatch.setattr(pm, "inpaint", inpaint)
    H, W, m = 160, 200, BAND_CONTEXT
    x = _photo(H, W, seed=3)
    hole = np.zeros((H, W), bool)
    hole[60:100, 10:50] = True  # 20 px deep, 10 px from the left edge
    out = exemplar_fill(x, torch.from_numpy(~hole), lines=False)
    assert seen == [(40 + 2 * m, 10 + 40 + m), (H, W)]
    k = torch.from_numpy(~hole)
    assert torch.allclose(out[..., k], x[..., k], atol=0.5 / 255 + 1e-6)  # the fill works in 8 bits
    seen.clear()
    exemplar_fill(x, torch.from_numpy(~hole), lines=False, band_context=0)
    assert seen == [(H, W), (H, W)]


def test_pull_moves_the_fill_towards_telea():
    """The pull moves each colour's mean over the hole from PatchMatch's part of the way to
    OpenCV Telea's (the pull's blur keeps it a low-frequency move)."""
    pytest.importorskip("patchmatch")
    import cv2

    from restore.tasks.inpaint import exemplar_fill

    H, W = 96, 128
    x, hole, known = _boxed(H, W, 3, (24, 72), (40, 96))
    f0 = exemplar_fill(x, known, pull=0.0)[0][:, torch.from_numpy(hole)].mean(1)
    f1 = exemplar_fill(x, known, pull=0.5, push_pull=0.0)[0][:, torch.from_numpy(hole)].mean(1)
    img = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    te = cv2.inpaint(img, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)[hole].mean(0) / 255
    te = torch.from_numpy(te).float()
    assert ((f1 - te).abs() < (f0 - te).abs() * 0.75 + 1e-3).all()
    assert ((f1 - te).abs() > (f0 - te).abs() * 0.25 - 1e-3).all()  # part of the way, not all


def test_scene_fill_keeps_patchmatchs_colours_deep_in_a_large_hole():
    """The pull holds up to ``pull_reach`` pixels from the border and is gone from twice that:
    deep in a large hole the fill is PatchMatch's own, not the grey average of the border."""
    pytest.importorskip("patchmatch")
    from restore.tasks.inpaint import PULL_REACH, exemplar_fill, hole_depth

    H, W = 96, 128
    x, hole, known = _boxed(H, W, 3, (20, 76), (30, 98))  # 28 px deep
    depth = torch.from_numpy(hole_depth(hole))
    # the pull alone: the detail matching (its scale a local mean over the hole) would tie the parts
    own = exemplar_fill(x, known, pull=0.0, detail_gain=0)
    everywhere = exemplar_fill(x, known, pull_reach=math.inf, detail_gain=0)
    reach = exemplar_fill(x, known, pull_reach=8.0, detail_gain=0)
    deep, near = depth >= 16, (depth > 0) & (depth <= 8)
    assert deep.sum() > 100 and torch.equal(reach[..., deep], own[..., deep])
    assert torch.equal(reach[..., near], everywhere[..., near]) and not torch.equal(own[..., near], reach[..., near])
    assert torch.equal(exemplar_fill(x, known, detail_gain=0), everywhere) and PULL_REACH >= 28  # as before


def test_pull_keep_leaves_a_copy_the_target_disagrees_with_whole():
    """``keep`` (lo, hi): the pull is whole where the copy's and the target's low frequencies
    differ by less than lo, none where by more than hi (white sky copied where the target is the
    border's grey average: no grey smudge), a part in between."""
    from restore.tasks.inpaint import PULL_KEEP, pull_towards

    H, W = 64, 96
    f = np.full((H, W, 3), 0.5, np.float32)
    f[:, 48:] = 0.98  # the copy: grey left, white right
    target = np.full((H, W, 3), 0.45, np.float32)  # the smooth estimate: grey everywhere
    hole = np.ones((H, W), bool)
    plain = pull_towards(f, target, hole, 2 / 3, 2.0)
    kept = pull_towards(f, target, hole, 2 / 3, 2.0, keep=(0.2, 0.35))
    assert np.allclose(kept[:, :30], plain[:, :30])  # gap 0.05: pulled as before
    assert np.allclose(kept[:, 70:], f[:, 70:]) and plain[:, 70:].max() < 0.65  # gap 0.53: kept white
    assert PULL_KEEP is None or PULL_KEEP[0] < PULL_KEEP[1] <= 1


def test_pull_reach_fades_the_pull_with_the_distance_into_the_hole():
    """With a finite reach the pull is the whole pull up to ``reach`` pixels from the nearest
    known pixel, none from twice that on, and in between a part of it."""
    import cv2

    from restore.tasks.inpaint import hole_depth, pull_towards

    rng = np.random.default_rng(0)
    H, W = 64, 96
    f = rng.random((H, W, 3)).astype(np.float32)
    target = rng.random((H, W, 3)).astype(np.float32)
    hole = np.zeros((H, W), bool)
    hole[4:60, 4:92] = True
    full = pull_towards(f, target, hole, 0.5, 2.0)
    reach = 8.0
    out = pull_towards(f, target, hole, 0.5, 2.0, reach)
    d = cv2.distanceTransform(np.pad(hole.astype(np.uint8), 1, constant_values=1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    np.testing.assert_allclose(hole_depth(hole), d)
    near, far, mid = d <= reach, d >= 2 * reach, (d > reach + 1) & (d < 2 * reach - 1)
    assert near.any() and far.any() and mid.any()
    np.testing.assert_allclose(out[near], full[near], atol=1e-6)
    np.testing.assert_allclose(out[far], f[far], atol=1e-6)
    moved, whole = np.abs(out[mid] - f[mid]).sum(), np.abs(full[mid] - f[mid]).sum()
    assert 0.05 * whole < moved < 0.95 * whole


def test_pull_target_is_telea_near_the_border_and_push_pull_deep_in():
    """The pull's target: Telea's fill within ``reach`` of the known pixels (the whole target
    where the hole is no deeper), a push-pull fill from twice ``reach`` on."""
    import torch

    from restore.tasks.inpaint import _pull_target, hole_depth, push_pull_fill

    rng = np.random.default_rng(1)
    H, W = 64, 80
    img = (rng.random((H, W, 3)) * 255).astype(np.uint8)
    telea = (rng.random((H, W, 3)) * 255).astype(np.uint8)  # any fill: the target only mixes
    hole = np.zeros((H, W), bool)
    hole[4:60, 4:76] = True
    np.testing.assert_array_equal(_pull_target(img, telea, hole, 64.0), telea.astype(np.float32) / 255)
    t = _pull_target(img, telea, hole, 8.0)
    d = hole_depth(hole)
    m = torch.from_numpy(~hole).float()[None, None]
    pp = push_pull_fill(torch.from_numpy(img / 255).float().permute(2, 0, 1)[None] * m, m)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(t[d <= 8], telea[d <= 8] / 255, atol=1e-6)
    assert (d >= 16).any()
    np.testing.assert_allclose(t[d >= 16], pp[d >= 16], atol=1e-6)
    # a push-pull share: that much of the target is push-pull everywhere, the rest as above
    mixed = _pull_target(img, telea, hole, 64.0, push_pull=0.5)
    np.testing.assert_allclose(mixed, 0.5 * telea / 255 + 0.5 * pp, atol=1e-6)
    mixed = _pull_target(img, telea, hole, 8.0, push_pull=0.25)
    np.testing.assert_allclose(mixed, 0.75 * t + 0.25 * pp, atol=1e-6)


def test_scene_start_depends_on_the_hole_not_the_crop():
    """A region's exemplar start is cut from a fill over the hole's own wider context: two
    sampler crops around the same hole get the same start where they overlap."""
    pytest.importorskip("patchmatch")
    from restore.tasks.inpaint import _scene_start

    H, W = 256, 320
    x, hole, known = _boxed(H, W, 5, (100, 170), (120, 200))  # 70 x 80: its context (80 px each side) holds both crops
    small = (100 - LOCAL_MARGIN, 170 + LOCAL_MARGIN, 120 - LOCAL_MARGIN, 200 + LOCAL_MARGIN)
    big = (100 - 64, 170 + 64, 120 - 64, 200 + 64)
    a, b = _scene_start(x, known, [0], hole, small), _scene_start(x, known, [0], hole, big)
    assert a.shape[-2:] == (small[1] - small[0], small[3] - small[2])
    d = (small[0] - big[0], small[2] - big[2])
    assert torch.equal(a, b[..., d[0]:d[0] + a.shape[-2], d[1]:d[1] + a.shape[-1]])


def test_start_of_the_wrong_size_is_refused(tiny_prior):
    H, W = 32, 48
    x = _photo(H, W)
    hole = np.zeros((H, W), bool)
    hole[8:20, 8:30] = True
    with pytest.raises(InputError, match="start"):
        run(x, "inpaint", mask=hole, prior=tiny_prior, start=torch.zeros(1, 3, H, W + 1), steps=2, local=False)


@pytest.mark.parametrize("size", [(96, 128), (256, 512)])  # holes covering most of the image / far apart
def test_each_hole_gets_the_fill_of_its_own_width_whatever_shares_its_crop(tiny_prior, size):
    """A scratch beside an object (one crop), or in an image mostly in crops (the whole image
    at once), got the object's scene fill: the quickstart photo's strokes scored 26.13 dB
    where the posterior mean gives 30.38. Each hole now gets its own fill: the scratch's pixels
    are the mean's, as with the scratch alone, and the object's are the scene fill's."""
    pytest.importorskip("patchmatch")
    H, W = size
    x = _photo(H, W, seed=3)
    scratch = np.zeros((H, W), bool)
    scratch[8:11, 6 : W // 3] = True
    box = np.zeros((H, W), bool)
    box[H // 2 - 20 : H // 2 + 20, W // 2 : W // 2 + 40] = True
    both = run(x, "inpaint", mask=scratch | box, prior=tiny_prior, mask_dilate=0)
    alone = run(x, "inpaint", mask=scratch, prior=tiny_prior, mask_dilate=0)
    scene = run(x, "inpaint", mask=scratch | box, prior=tiny_prior, mask_dilate=0, fill="scene")
    assert alone.params["fill"] == "mean" and sorted(both.params["fill"].split("+")) == ["mean", "scene"]
    s, b = torch.from_numpy(scratch), torch.from_numpy(box)
    assert torch.allclose(both.image[..., s], alone.image[..., s], atol=1e-6)
    assert not torch.allclose(both.image[..., s], scene.image[..., s], atol=1e-3)
    assert torch.equal(both.image[..., ~(s | b)], x[..., ~(s | b)])  # known pixels untouched
    assert (both.image[..., b] - x[..., b]).abs().mean() > 0  # the box was filled
