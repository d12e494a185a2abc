"""The scene fill's last step: its fine detail as busy as the known surroundings'
(:func:`restore.tasks.inpaint.match_detail`), checked by its properties on synthetic texture."""

import cv2
import numpy as np
import pytest
import torch

from restore.tasks.inpaint import DETAIL_BLUR, DETAIL_GAIN, exemplar_fill, match_detail


def _texture(H, W, amp, seed):
    """Grey 0.5 plus white noise of std ``amp`` (all of it fine detail), H x W x 3 float32."""
    rng = np.random.default_rng(seed)
    return (0.5 + amp * rng.standard_normal((H, W, 1))).repeat(3, -1).astype(np.float32)


def _detail_rms(f, where):
    d = f - cv2.GaussianBlur(f, (0, 0), DETAIL_BLUR)
    return float(np.sqrt((d[where] ** 2).sum(-1).mean()))


def _scene(fill_amp, around_amp, H=96, W=128):
    hole = np.zeros((H, W), bool)
    hole[28:68, 40:88] = True
    f = np.where(hole[..., None], _texture(H, W, fill_amp, 1), _texture(H, W, around_amp, 0))
    inner = np.zeros_like(hole)
    inner[36:60, 48:80] = True  # clear of the seam
    return f, hole, inner


def test_a_fill_busier_than_its_surroundings_is_calmed_to_their_level():
    f, hole, inner = _scene(0.12, 0.03)
    around = ~cv2.dilate(hole.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    g = match_detail(f, hole)
    target = _detail_rms(f, around)
    assert _detail_rms(f, inner) > 3 * target
    assert _detail_rms(g, inner) == pytest.approx(target, rel=0.2)
    assert np.array_equal(g[~hole], f[~hole])  # known pixels untouched
    assert abs(float(g[hole].mean() - f[hole].mean())) < 2e-3  # the low frequencies kept


def test_a_calmer_fill_is_amplified_at_most_the_gain():
    f, hole, inner = _scene(0.01, 0.05)
    g = match_detail(f, hole)
    assert _detail_rms(g, inner) == pytest.approx(DETAIL_GAIN * _detail_rms(f, inner), rel=0.02)
    flat = np.where(hole[..., None], np.float32(0.5), f)  # no detail inside: nothing to amplify
    assert np.allclose(match_detail(flat, hole)[inner], 0.5, atol=1e-6)


def test_pixels_that_are_no_source_do_not_set_the_level():
    f, hole, inner = _scene(0.03, 0.03)
    busy = np.zeros_like(hole)
    busy[:, :24] = True  # an excluded strip of busy texture
    f = np.where(busy[..., None], _texture(*hole.shape, 0.2, 2), f)
    assert _detail_rms(match_detail(f, hole, busy), inner) <= 1.02 * _detail_rms(f, inner)
    assert _detail_rms(match_detail(f, hole), inner) > 1.05 * _detail_rms(f, inner)  # counted, it would raise it


def test_the_scene_fill_ends_with_the_matching():
    pytest.importorskip("patchmatch")
    from tests.test_inpaint_local import _photo

    x = _photo(64, 80)
    known = torch.ones(1, 64, 80, dtype=torch.bool)
    known[:, 20:44, 24:56] = False
    a = exemplar_fill(x, known, lines=False)
    b = exemplar_fill(x, known, lines=False, detail_gain=0)
    hole = ~known[0].numpy()
    want = match_detail(b[0].permute(1, 2, 0).numpy(), hole)
    assert np.allclose(a[0].permute(1, 2, 0).numpy(), want, atol=1e-6) and not torch.equal(a, b)
