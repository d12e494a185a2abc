"""Masks as other tools make them (a trial of real-world masks): an alpha-drawn mask whose
transparent pixels store white, a feathered selection, float and 16-bit arrays, and a folder of
masks named as LaMa's data name them or in another case."""

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import restore
from cli.main import main
from restore.io import hole_from_array, marked_pixels, read_image, read_mask, write_image
from restore.tasks import TASKS


@pytest.fixture
def run(tiny_prior_dir):
    runner = CliRunner()

    def _run(*args):
        a = [str(x) for x in args]
        if a and a[0] in TASKS:
            a += ["--weights", str(tiny_prior_dir)]
        return runner.invoke(main, a, catch_exceptions=False)

    return _run


def _disk(h=96, w=128, r=28):
    m = np.zeros((h, w), np.uint8)
    cv2.circle(m, (w // 2, h // 2), r, 255, -1, cv2.LINE_AA)
    return m


def test_black_strokes_on_a_transparent_white_layer_mark_their_opaque_pixels(tmp_path):
    """An editor may store a transparent layer's pixels as white: the colour of a pixel nobody
    sees marks nothing (it was refused as 'no hole: brightest value 255 of 255')."""
    hole = np.zeros((20, 24), bool)
    hole[5:12, 6:15] = True
    m = np.zeros((20, 24, 4), np.uint8)
    m[..., :3] = 255  # transparent white
    m[hole] = (0, 0, 0, 255)  # opaque black strokes
    assert np.array_equal(marked_pixels(m), hole)
    write_image(tmp_path / "m.png", m)
    assert np.array_equal(~read_mask(tmp_path / "m.png", (20, 24)), hole)
    m[hole] = (255, 255, 255, 255)  # white strokes there: the same
    assert np.array_equal(marked_pixels(m), hole)
    ga = np.stack([np.full((20, 24), 255, np.uint8), hole.astype(np.uint8) * 255], 2)  # grey + alpha, the same
    ga[hole, 0] = 0
    assert np.array_equal(marked_pixels(ga), hole)


@pytest.mark.parametrize("feather", [2.0, 4.0, 8.0])
def test_a_feathered_selection_is_filled_over_its_soft_edge(feather):
    """Pixels over a tenth of the range joined to a hole are filled where the edge is graded over
    pixels (a feather), so the object's rim under the soft edge goes with it."""
    hard = _disk()
    soft = cv2.GaussianBlur(hard.astype(np.float32), (0, 0), feather).round().astype(np.uint8)
    hole = hole_from_array(soft)
    assert hole[soft >= 128].all()
    assert hole.sum() > (soft >= 128).sum()
    assert hole[hard > 0].all()  # the whole object, its antialiased rim included
    assert not hole[soft <= 25].any()  # nothing the selection does not touch
    f = soft.astype(np.float32) / 255  # the same as 0-1 floats, and as uint16
    assert np.array_equal(hole_from_array(f), hole)
    assert np.array_equal(hole_from_array(soft.astype(np.uint16) * 257), hole)


@pytest.mark.parametrize("quality", [30, 60, 90])
def test_hard_masks_keep_their_shape_through_antialiasing_and_jpeg(quality):
    """Antialiasing and a JPEG's ringing are no feather: the hole is the pixels at half or more."""
    for m in (_disk(), np.pad(np.full((30, 50), 255, np.uint8), ((20, 46), (30, 48)))):
        j = cv2.imdecode(cv2.imencode(".jpg", m, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)
        assert np.array_equal(hole_from_array(j), j >= 128)
        assert np.array_equal(hole_from_array(m), m >= 128)


def test_float_masks_beyond_one_and_uint16_masks_of_255_are_said_so(tiny_prior):
    img = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)
    m = np.zeros((24, 32), np.float32)
    m[6:14, 8:20] = 255
    with pytest.raises(restore.InputError, match="a float mask holds 0-1 .* reaches 255: divide it by its range"):
        restore.inpaint(img, m, prior=tiny_prior)
    with pytest.raises(restore.InputError, match="its brightest value is 255 of 65535, and holes are the pixels at "
                                                 "32768 or more"):
        restore.inpaint(img, (m > 0).astype(np.uint16) * 255, prior=tiny_prior)
    out = restore.inpaint(img, m / 255, prior=tiny_prior, steps=1)  # 0-1: as always
    assert np.array_equal(out[m == 0], img[m == 0])


def test_a_folder_of_masks_named_by_lama_or_in_another_case(run, tmp_path):
    """Masks named <stem>_mask.png (LaMa's data), <stem>_mask001.png, or the stem in another case
    match their photos; a folder that holds none for some images says so before the work, with
    its files that match no image (both were silent; each image failed as its turn came)."""
    rng = np.random.default_rng(1)
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    photos.mkdir(), masks.mkdir()
    hole = np.zeros((20, 24), np.uint8)
    hole[5:12, 6:15] = 255
    for i in range(4):
        write_image(photos / f"img{i}.jpg", (rng.random((20, 24, 3)) * 255).astype(np.uint8))
    for name in ("img0_mask.png", "IMG1.png", "img2-mask001.png", "spare.png"):
        write_image(masks / name, hole)
    r = run("inpaint", photos, masks, "-o", tmp_path / "out", "--steps", "1")
    assert r.exit_code == 1, r.output
    assert "note: 1 of 4 images has no mask in" in r.output and "(img3.jpg): it fails, the others run" in r.output
    assert "1 file in" in r.output and "matches none of the images restored: spare.png" in r.output
    assert "img3.jpg: no mask found in" in r.output and "expected img3.png" in r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.png", "img1.png", "img2.png"]
    for i in range(3):
        out = read_image(tmp_path / "out" / f"img{i}.png").array
        src = read_image(photos / f"img{i}.jpg").array
        assert np.array_equal(out[hole == 0], src[hole == 0])
    write_image(masks / "img0.png", hole)  # the exact stem wins over <stem>_mask
    write_image(masks / "Img0_MASK.png", hole)
    write_image(masks / "img3_mask.png", hole)
    write_image(masks / "img3_mask002.png", hole)  # two masks for one photo: which one cannot be told
    r = run("inpaint", photos, masks, "-o", tmp_path / "out2", "--steps", "1")
    assert r.exit_code == 2 and "both match img3: keep one of them" in r.output


def test_a_flat_grey_beside_a_hole_is_no_feather():
    """An adversarial trial: a grey label touching a hole, a mask drawn over a dark grey ground, a
    half-transparent ring and dust beside a feathered object were read as feathers (or not) by the
    soft pixels' count alone. A feather fades with the distance from its own hole."""
    m = np.zeros((240, 320), np.uint8)
    m[100:140, 100:140] = 255
    m[140:150, 100:200] = 80  # a label in grey 80, touching the hole
    assert hole_from_array(m).sum() == 1600
    ground = np.full((240, 320), 40, np.uint8)  # drawn in 200 on a ground of 40
    ground[100:140, 100:140] = 200
    assert hole_from_array(ground).sum() == 1600
    ring = np.zeros((240, 320, 4), np.uint8)  # white, opaque in a square, alpha 100 on a ring around it
    ring[..., :3] = 255
    ring[90:150, 90:150, 3] = 100
    ring[100:140, 100:140, 3] = 255
    assert marked_pixels(ring).sum() == 1600
    soft = cv2.GaussianBlur(np.pad(np.full((40, 40), 255.0, np.float32), ((160, 40), (140, 140))), (0, 0), 4)
    soft = (soft / soft.max() * 255).astype(np.uint8)
    alone = hole_from_array(soft)
    dust = np.zeros_like(soft)
    rng = np.random.default_rng(0)
    for _ in range(60):  # hard specks elsewhere change nothing of the object's feather
        cv2.circle(dust, (int(rng.integers(10, 310)), int(rng.integers(10, 100))), 3, 255, -1, cv2.LINE_AA)
    both = hole_from_array(np.maximum(soft, dust))
    assert alone.sum() > (soft >= 128).sum() and np.array_equal(both[130:, :], alone[130:, :])
    assert np.array_equal(both[:110], dust[:110] >= 128)


def test_an_inverted_feathered_mask_fills_its_soft_edge_and_floats_may_overshoot_a_little():
    """With --invert-mask the feather goes to the side filled (it was taken from it); a float mask
    resized by a bicubic filter (up to 1.23) is read as before, only 0-255 floats are refused."""
    sel = 255 - cv2.GaussianBlur(_disk(), (0, 0), 3)  # a black selection on white, feathered
    inv = hole_from_array(sel, invert=True)
    assert inv.sum() > (sel < 128).sum() and inv[sel < 128].all()
    assert np.array_equal(marked_pixels(sel, invert=True), inv)
    up = cv2.resize(np.pad(np.ones((8, 10), np.float32), ((8, 8), (10, 12))), (128, 96),
                                    interpolation=cv2.INTER_CUBIC)
    assert up.max() > 1 and np.array_equal(hole_from_array(up), hole_from_array(np.clip(up, 0, 1)))


def test_lama_layout_one_folder_and_the_notes_of_a_recursive_run(run, tmp_path):
    """image1.png beside image1_mask001.png in one folder given as photos and masks: the masks are
    used as such, not restored with themselves as masks; a recursive run's notes name files by their
    paths under the masks folder, and files matching none are said when every image has its mask."""
    rng = np.random.default_rng(2)
    hole = np.zeros((20, 24), np.uint8)
    hole[5:12, 6:15] = 255
    d = tmp_path / "lama"
    d.mkdir()
    for i in (1, 2):
        write_image(d / f"image{i}.png", (rng.random((20, 24, 3)) * 255).astype(np.uint8))
        write_image(d / f"image{i}_mask001.png", hole)
    r = run("inpaint", d, d, "-o", tmp_path / "out", "--steps", "1")
    assert r.exit_code == 0, r.output
    assert "2 of the images in" in r.output and "used as such, not restored" in r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["image1.png", "image2.png"]
    p, m = tmp_path / "p", tmp_path / "m"
    for sub in ("s1", "s2"):
        (p / sub).mkdir(parents=True), (m / sub).mkdir(parents=True)
        write_image(p / sub / "a.png", (rng.random((20, 24, 3)) * 255).astype(np.uint8))
    write_image(m / "s1" / "a.png", hole)
    write_image(m / "a.png", hole)
    write_image(m / "s2" / "zzz.png", hole)
    r = run("inpaint", p, m, "--recursive", "-o", tmp_path / "rout", "--steps", "1")
    assert r.exit_code == 1
    assert "1 of 2 images has no mask in" in r.output and "(s2/a.png): it fails" in r.output
    assert "2 files in" in r.output and "match none of the images restored: a.png, s2/zzz.png" in r.output
    (m / "s2" / "zzz.png").rename(m / "s2" / "a_mask.png")
    r = run("inpaint", p, m, "--recursive", "-o", tmp_path / "rout2", "--steps", "1")
    assert r.exit_code == 0 and "1 file in" in r.output and "matches none of the images restored: a.png" in r.output
