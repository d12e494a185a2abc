"""A mask drawn tight around an object grows by TIGHT_GROW pixels (mask_dilate auto): the
object's blurred edge, left just outside, would tint the fill. Loose masks, erased holes and
``known`` (observed pixels) are kept as given."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import restore
from restore.api import run
from restore.tasks.inpaint import TIGHT_GROW, dilate_hole, tight_holes

H, W = 96, 128


def _scene(seed: int = 0) -> np.ndarray:
    """A smooth, lightly textured background (H x W x 3 float in [0, 1])."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W] / np.array([H, W])[:, None, None]
    base = np.stack([0.3 + 0.3 * yy, 0.5 + 0.2 * np.sin(5 * xx), 0.6 - 0.2 * xx], -1)
    return np.clip(base + 0.03 * rng.standard_normal((H, W, 3)), 0, 1).astype(np.float32)


def _with_object(bg: np.ndarray, centre=(48, 64), radius=18, blur=1.2):
    """``bg`` with a dark red disc whose edge is blurred (the halo), and the disc's alpha."""
    disc = np.zeros((H, W), np.float32)
    cv2.circle(disc, centre[::-1], radius, 1.0, -1)
    a = cv2.GaussianBlur(disc, (0, 0), blur)[..., None]
    return (a * np.array([0.55, 0.08, 0.05], np.float32) + (1 - a) * bg).astype(np.float32), a[..., 0]


def test_a_tight_hole_grows_by_tight_grow():
    img, a = _with_object(_scene())
    tight = a >= 0.5
    grown, n = tight_holes(img, tight)
    assert n == 1 and np.array_equal(grown, dilate_hole(tight, TIGHT_GROW))


def test_a_small_tight_hole_grows_by_half_its_depth():
    """A scan's dust drawn tight (a trial: specks 1-4 px and hairs grew 3 px, the fill 3.5 dB under the mask as
    drawn): a hole grows by half its inscribed radius, at least 1 px and at most TIGHT_GROW; each hole by its own."""
    from restore.tasks.inpaint import hole_depth

    bg = _scene(2)
    img, a = _with_object(bg)  # the big disc: 18 px deep
    tight = a >= 0.5
    yy, xx = np.mgrid[0:H, 0:W]
    for cy, cx, r in ((12, 12, 1.5), (80, 110, 4.5), (12, 110, 6.5)):  # specks, white on the scene
        d = np.clip(r + 0.5 - np.hypot(yy - cy, xx - cx), 0, 1)[..., None]
        img = (d * 0.95 + (1 - d) * img).astype(np.float32)
        tight |= d[..., 0] >= 0.5
    grown, n = tight_holes(img, tight)
    assert n == 4
    _, lab = cv2.connectedComponents(tight.astype(np.uint8), connectivity=8)
    want = np.zeros_like(tight)
    for k in range(1, lab.max() + 1):
        one = lab == k
        g = int(np.clip(np.floor(0.5 * hole_depth(tight)[one].max()), 1, TIGHT_GROW))
        want |= dilate_hole(one, g)
    assert np.array_equal(grown, want)
    by = sorted(int(np.clip(np.floor(0.5 * hole_depth(tight)[lab == k].max()), 1, TIGHT_GROW))
                for k in range(1, lab.max() + 1))
    assert by == [1, 2, TIGHT_GROW, TIGHT_GROW], by  # the specks by 1 and 2 px, a larger one and the disc by 3


def test_a_brush_over_a_thin_cable_is_loose_and_the_cable_masked_tight_grows():
    """A trial: a 6 px brush over a 2 px cable across the sky had the cable in its 3 px inner ring, counted as
    drawn tight and grew (57.51 dB against 62.18 as drawn). A small hole's inner ring is its outer half."""
    rng = np.random.default_rng(3)
    yy = np.mgrid[0:H, 0:W][0][..., None] / H
    sky = (np.array([0.55, 0.65, 0.8]) + 0.15 * yy + 0.01 * rng.standard_normal((H, W, 3))).astype(np.float32)
    for width, brush_width in ((2, 6), (3, 8)):
        line = np.zeros((H, W), np.float32)
        cv2.line(line, (0, 40), (W - 1, 52), 1.0, width, cv2.LINE_AA)
        img = (sky * (1 - 0.9 * line[..., None]) + 0.12 * 0.9 * line[..., None]).astype(np.float32)
        brush = np.zeros((H, W), np.uint8)
        cv2.line(brush, (0, 40), (W - 1, 52), 1, brush_width)
        brush = brush.astype(bool)
        assert not (line[~brush] > 0.02).any()  # the brush covers the cable
        g, n = tight_holes(img, brush)
        assert n == 0 and np.array_equal(g, brush), width  # (both counted as drawn tight before)
        g, n = tight_holes(img, line >= 0.5)  # the cable's own pixels: drawn tight, grown by 1 px
        assert n == 1 and np.array_equal(g, dilate_hole(line >= 0.5, 1)), width


def test_loose_erased_and_two_holes():
    bg = _scene(1)
    img, a = _with_object(bg)
    loose = dilate_hole(a >= 0.5, 12)  # drawn around the object, its border over the scene
    g, n = tight_holes(img, loose)
    assert n == 0 and np.array_equal(g, loose)
    erased = img.copy()
    erased[a >= 0.5] = 0  # the object already cut out: nothing under the hole to compare with
    g, n = tight_holes(erased, a >= 0.5)
    assert n == 0 and np.array_equal(g, a >= 0.5)
    # an erased hole beside a tight one: only the one showing its object grows
    second, _ = _with_object(bg, centre=(20, 24), radius=10)
    both = img.copy()
    both[:40, :50] = second[:40, :50]
    dark = np.zeros((H, W), bool)
    dark[10:31, 14:35] = True
    both[dark] = 0
    g, n = tight_holes(both, (a >= 0.5) | dark)
    assert n == 1 and np.array_equal(g, dilate_hole(a >= 0.5, TIGHT_GROW) | dark)
    # one tight hole (the object) and one loose hole (over the plain scene): only the first grows
    other = np.zeros((H, W), bool)
    other[8:24, 8:30] = True
    g, n = tight_holes(img, (a >= 0.5) | other)
    assert n == 1 and np.array_equal(g, dilate_hole(a >= 0.5, TIGHT_GROW) | other)


def test_inpaint_by_default_fills_the_grown_hole_and_keeps_the_rest(tiny_prior):
    img, a = _with_object(_scene(2))
    tight = a >= 0.5
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    r = run(x, "inpaint", mask=tight, prior=tiny_prior, steps=2)
    assert r.params["mask_dilate"] == "auto" and r.params["holes_grown"] == 1
    out = r.image[0].permute(1, 2, 0).numpy()
    grown = dilate_hole(tight, TIGHT_GROW)
    assert np.array_equal(out[~grown], img[~grown])  # beyond the grown hole: bit for bit
    ring = grown & ~tight
    assert np.abs(out[ring] - img[ring]).max(-1).mean() > 0.01  # the halo's pixels were filled
    # the reddish halo gone: where the edge tints the ring, the output is nearer the background
    halo = ring & (a > 0.1)
    assert halo.sum() > 50
    assert np.abs(out[halo] - _scene(2)[halo]).mean() < np.abs(img[halo] - _scene(2)[halo]).mean()
    # as drawn: nothing outside the mask changes
    r0 = run(x, "inpaint", mask=tight, prior=tiny_prior, steps=2, mask_dilate=0)
    assert r0.params["mask_dilate"] == 0 and "holes_grown" not in r0.params
    assert np.array_equal(r0.image[0].permute(1, 2, 0).numpy()[~tight], img[~tight])


def test_known_is_taken_as_given(tiny_prior):
    """``known`` (observed pixels: restore eval's path) is exact; it never grows."""
    img, a = _with_object(_scene(3))
    known = torch.from_numpy(a < 0.5)
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    r = run(x, "inpaint", known=known, prior=tiny_prior, steps=2)
    assert r.params["mask_dilate"] == 0
    out = r.image[0].permute(1, 2, 0).numpy()
    assert np.array_equal(out[a < 0.5], img[a < 0.5])


def test_a_batch_grows_each_image_by_its_own_content(tiny_prior):
    """One mask for two images: tight around the object in the first, over the plain scene in
    the second; only the first image's hole grows."""
    img, a = _with_object(_scene(4))
    tight = a >= 0.5
    x = torch.from_numpy(np.stack([img, _scene(5)])).permute(0, 3, 1, 2)
    r = run(x, "inpaint", mask=tight, prior=tiny_prior, steps=2)
    assert r.params["holes_grown"] == [1, 0]  # per image
    out = r.image.permute(0, 2, 3, 1).numpy()
    ring = dilate_hole(tight, TIGHT_GROW) & ~tight
    assert not np.array_equal(out[0][ring], img[ring])
    assert np.array_equal(out[1][~tight], _scene(5)[~tight])


@pytest.mark.parametrize("dilate", [0, 3])
def test_an_explicit_dilate_wins(tiny_prior, dilate):
    img, a = _with_object(_scene(6))
    tight = a >= 0.5
    out = restore.inpaint(img, tight, prior=tiny_prior, steps=2, mask_dilate=dilate)
    keep = ~dilate_hole(tight, dilate)
    assert np.array_equal(out[keep], img[keep])


def test_auto_can_be_given_as_json_records_it(tmp_path, tiny_prior_dir, tiny_prior):
    """A trial: --json records "mask_dilate": "auto", and --mask-dilate auto was refused as not an integer."""
    import json

    from click.testing import CliRunner

    from cli.main import main
    from restore.errors import InputError
    from restore.io import read_image, write_image

    img, a = _with_object(_scene(9))
    tight = a >= 0.5
    out = restore.inpaint(img, tight, prior=tiny_prior, steps=2, mask_dilate="auto")
    assert np.array_equal(out, restore.inpaint(img, tight, prior=tiny_prior, steps=2))
    with pytest.raises(InputError, match="mask_dilate must be a number"):
        restore.inpaint(img, tight, prior=tiny_prior, steps=2, mask_dilate="wide")
    write_image(tmp_path / "a.png", (img * 255).round().astype(np.uint8))
    write_image(tmp_path / "m.png", (tight * 255).astype(np.uint8))
    recs = []
    for name, extra in (("given", ["--mask-dilate", "auto"]), ("omitted", [])):
        r = CliRunner().invoke(main, ["inpaint", str(tmp_path / "a.png"), str(tmp_path / "m.png"), "-o",
                                      str(tmp_path / f"{name}.png"), "--json", "-q", "--steps", "2",
                                      "--weights", str(tiny_prior_dir), *extra], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        recs.append(json.loads(r.output.splitlines()[0]))
    assert recs[0]["mask_dilate"] == recs[1]["mask_dilate"] == "auto" and recs[0]["holes_grown"] == 1
    assert np.array_equal(read_image(tmp_path / "given.png").array, read_image(tmp_path / "omitted.png").array)
    bad = CliRunner().invoke(main, ["inpaint", str(tmp_path / "a.png"), str(tmp_path / "m.png"), "-o",
                                    str(tmp_path / "x.png"), "--mask-dilate", "wide", "--weights", str(tiny_prior_dir)])
    assert bad.exit_code == 2 and "'wide' is not a valid integer" in bad.output


def test_cli_says_when_a_hole_grew_per_image(tmp_path, tiny_prior_dir):
    """A folder run in one batch: each image's record counts its own grown holes, and the plain
    line says the mask was not used as drawn."""
    import json

    from click.testing import CliRunner

    from cli.main import main
    from restore.io import write_image

    img, a = _with_object(_scene(7))
    (tmp_path / "in").mkdir()
    (tmp_path / "masks").mkdir()
    for name, photo in (("a", img), ("b", _scene(8))):
        write_image(tmp_path / "in" / f"{name}.png", (photo * 255).round().astype(np.uint8))
        write_image(tmp_path / "masks" / f"{name}.png", ((a >= 0.5) * 255).astype(np.uint8))
    r = CliRunner().invoke(main, ["inpaint", str(tmp_path / "in"), str(tmp_path / "masks"), "-o",
                                  str(tmp_path / "out"), "--batch-size", "2", "--json", "-q",
                                  "--weights", str(tiny_prior_dir)], catch_exceptions=False)
    assert r.exit_code == 0
    lines = [json.loads(x) for x in r.output.splitlines() if x.startswith("{")]
    recs = {Path(d["input"]).stem: d for d in lines if "input" in d}
    assert recs["a"]["holes_grown"] == 1 and recs["b"]["holes_grown"] == 0 and recs["a"]["batch"] == 2
    one = CliRunner().invoke(main, ["inpaint", str(tmp_path / "in" / "a.png"), str(tmp_path / "masks" / "a.png"),
                                    "-o", str(tmp_path / "a.png"), "--weights", str(tiny_prior_dir)],
                             catch_exceptions=False)
    note = f"grew 1 hole by up to {TIGHT_GROW} px: its mask follows an object's outline"
    assert one.exit_code == 0 and note in one.stderr  # a note, not part of the result line scripts read
    assert one.stdout.split() == [str(tmp_path / "a.png"), one.stdout.split()[1], "s"]
    quiet = CliRunner().invoke(main, ["inpaint", str(tmp_path / "in" / "a.png"), str(tmp_path / "masks" / "a.png"),
                                      "-o", str(tmp_path / "q.png"), "--weights", str(tiny_prior_dir), "-q"],
                               catch_exceptions=False)
    assert quiet.exit_code == 0 and "grew" not in quiet.stderr  # -q drops notes (a README trial: this one stayed)
    folder = CliRunner().invoke(main, ["inpaint", str(tmp_path / "in"), str(tmp_path / "masks"), "-o",
                                       str(tmp_path / "out2"), "--weights", str(tiny_prior_dir)],
                                catch_exceptions=False)
    assert folder.exit_code == 0 and f"a.png: {note}" in folder.stderr and "b.png: grew" not in folder.stderr
