"""Straight edges continued across a big hole before the scene fill (restore.tasks.edges)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restore.tasks.edges import paint_edges, straight_edges

H, W = 96, 160
TOP, BOTTOM = np.array([200, 120, 60]), np.array([60, 90, 150])


def _edge_image(slope=0.08, flip_right=False, seed=0):
    """Two colours with mild noise, split by the line y = 48 + slope (x - 80); with
    ``flip_right`` the colours swap sides right of x = 80 (the same line, another edge)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W]
    line = 48 + slope * (xx - 80)
    top = yy < line
    if flip_right:
        top = np.where(xx >= 80, ~top, top)
    img = np.where(top[..., None], TOP, BOTTOM) + rng.normal(0, 4, (H, W, 3))
    return np.clip(img, 0, 255).round().astype(np.uint8), line


def _box():
    hole = np.zeros((H, W), bool)
    hole[24:76, 50:110] = True
    return hole


def test_an_edge_through_the_hole_is_drawn_where_it_runs():
    img, line = _edge_image()
    hole = _box()
    pairs = straight_edges(np.where(hole[..., None], 0, img).astype(np.uint8), hole)
    assert len(pairs) == 1
    out, strip = paint_edges(np.where(hole[..., None], 0, img).astype(np.uint8), hole, pairs)
    assert strip.any() and not (strip & ~hole).any()  # only hole pixels are painted
    assert np.array_equal(out[~hole], np.where(hole[..., None], 0, img)[~hole])
    # in every column of the hole the colour turns from TOP to BOTTOM within a pixel of the true line
    for x in range(52, 108):
        rows = np.nonzero(strip[:, x])[0]
        col = out[rows, x].astype(float)
        dist_top = np.abs(col - TOP).sum(1)
        dist_bottom = np.abs(col - BOTTOM).sum(1)
        turn = rows[np.argmax(dist_bottom < dist_top)]  # first row nearer the bottom colour
        assert abs(turn - line[0, x]) <= 1.5, (x, turn, line[0, x])


def test_edges_that_do_not_continue_are_not_joined():
    hole = _box()
    # the same line, but the colours swap across the hole: two edges, not one
    img, _ = _edge_image(flip_right=True)
    assert straight_edges(np.where(hole[..., None], 0, img).astype(np.uint8), hole) == []
    # an edge that runs into the hole and nothing on the far side
    img, _ = _edge_image()
    img[:, 80:] = BOTTOM
    assert straight_edges(np.where(hole[..., None], 0, img).astype(np.uint8), hole) == []
    # a plain noisy photo: nothing at all
    rng = np.random.default_rng(1)
    noise = np.clip(128 + rng.normal(0, 20, (H, W, 3)), 0, 255).astype(np.uint8)
    assert straight_edges(noise, hole) == []


def test_a_line_is_not_drawn_through_known_pixels():
    img, _ = _edge_image()
    # two holes on the line with a known red post between them: the edge runs behind the post
    img[:, 76:84] = [220, 30, 30]
    hole = _box()
    hole[:, 76:84] = False
    assert straight_edges(np.where(hole[..., None], 0, img).astype(np.uint8), hole) == []


def test_a_line_at_an_angle_outside_the_tolerance_is_not_joined():
    hole = _box()
    img, _ = _edge_image(slope=0.0)
    # the right side's edge 14 px lower: the segments are parallel but not on one line
    img2, _ = _edge_image(slope=0.0)
    img2 = np.roll(img2, 14, axis=0)
    img[:, 80:] = img2[:, 80:]
    assert straight_edges(np.where(hole[..., None], 0, img).astype(np.uint8), hole) == []


def test_the_scene_fill_keeps_the_edge_straight_and_can_be_switched_off(tiny_prior):
    pytest.importorskip("patchmatch")
    from restore.api import run

    img, line = _edge_image()
    hole = _box()
    x = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)[None]
    on = run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene", mask_dilate=0).image[0]
    off = run(x, "inpaint", mask=hole, prior=tiny_prior, fill="scene", mask_dilate=0, lines=False).image[0]
    on, off = (t.permute(1, 2, 0).numpy() * 255 for t in (on, off))
    assert np.array_equal(on[~hole].round(), img[~hole])  # known pixels kept exactly
    # along the line (2 px each side) the fill matches the photo's two colours
    yy, xx = np.mgrid[:H, :W]
    band = hole & (np.abs(yy - line) <= 3) & (np.abs(yy - line) >= 1)
    err_on = np.abs(on[band] - img[band]).mean()
    assert err_on < 12, err_on
    assert not np.array_equal(on, off)  # --no-lines is the fill as before


def test_no_edge_no_change(tiny_prior):
    pytest.importorskip("patchmatch")
    from restore.tasks.inpaint import exemplar_fill

    rng = np.random.default_rng(2)
    img = np.clip(0.5 + 0.1 * rng.standard_normal((H, W, 3)), 0, 1).astype(np.float32)
    hole = _box()
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    known = torch.from_numpy(~hole)[None, None]
    assert torch.equal(exemplar_fill(x, known, lines=True), exemplar_fill(x, known, lines=False))


def test_only_the_holes_an_edge_crosses_change():
    pytest.importorskip("patchmatch")
    from restore.tasks.inpaint import exemplar_fill

    img, _ = _edge_image()
    hole = _box()
    far = np.zeros((H, W), bool)
    far[80:92, 10:40] = True  # a second hole, below the line and away from it
    both = hole | far
    x = torch.from_numpy(np.where(both[..., None], 0, img).astype(np.float32) / 255).permute(2, 0, 1)[None]
    known = torch.from_numpy(~both)[None, None]
    on, off = exemplar_fill(x, known, lines=True)[0], exemplar_fill(x, known, lines=False)[0]
    assert torch.equal(on[:, far], off[:, far])
    assert not torch.equal(on[:, hole], off[:, hole])


def test_cli_no_lines_switch(tmp_path, tiny_prior_dir):
    pytest.importorskip("patchmatch")
    from click.testing import CliRunner

    from cli.main import main
    from restore.io import write_image

    img, _ = _edge_image()
    write_image(tmp_path / "p.png", img)
    write_image(tmp_path / "m.png", _box().astype(np.uint8) * 255)
    outs = []
    for flag in ("--lines", "--no-lines"):
        o = tmp_path / f"o{flag}.png"
        r = CliRunner().invoke(main, ["inpaint", str(tmp_path / "p.png"), str(tmp_path / "m.png"), "-o", str(o),
                                      "--weights", str(tiny_prior_dir), "--fill", "scene", "--mask-dilate", "0", flag])
        assert r.exit_code == 0, r.output
        outs.append(o.read_bytes())
    assert outs[0] != outs[1]


def test_the_patchmatch_baseline_is_the_package_alone():
    """restore eval's PatchMatch column is pypatchmatch as it comes: none of the scene fill's
    additions (straight edges, border band, pull, detail matching), though this photo would
    trigger them."""
    pm = pytest.importorskip("patchmatch.patch_match")
    from restore.tasks.base import Case
    from restore.tasks.inpaint import _patchmatch

    img, _ = _edge_image()
    hole = _box()
    gt = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)[None]
    known = torch.from_numpy(~hole)[None]
    out = _patchmatch(Case("edge", gt, gt * known, "inpaint", known=known))
    pm.set_random_seed(0)
    ref = pm.inpaint(np.where(hole[..., None], 0, img).astype(np.uint8), hole.astype(np.uint8) * 255, patch_size=3)
    assert np.array_equal((out[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), ref)
