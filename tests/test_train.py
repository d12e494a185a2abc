import json

import numpy as np
import pytest

from restore.io import write_image
from restore.prior import load_prior
from restore.train import TrainConfig, train


def _images(d, n=5):
    rng = np.random.default_rng(0)
    d.mkdir()
    for i in range(n):
        h, w = rng.integers(20, 70, size=2)
        img = (rng.random((h, w, 3) if i % 2 else (h, w)) * 255).astype(np.uint8)
        write_image(d / f"im{i}.png", img)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return d


@pytest.mark.parametrize("prediction", ["edm", "eps"])
def test_train_tiny_prior_and_resume(tmp_path, prediction):
    data = _images(tmp_path / "data")
    cfg = TrainConfig(steps=4, batch_size=2, crop=32, channels=(8, 16), blocks=(1, 1), emb_dim=16,
                      warmup=2, checkpoint_every=2, eval_every=2, prediction=prediction)
    out = tmp_path / "prior"
    logs = []
    train(data, out, cfg, val_dir=data, val_count=2, val_crop=32, callback=logs.append)
    p = load_prior(out)
    assert p.info["steps"] == 4 and p.info["images"] == 5 and p.prediction == prediction
    assert set(p.info["stability"]) == {"clean_psnr_min", "at_sigma", "stable"}
    assert any("val_psnr_sigma25" in r for r in logs)
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["step"] == 4
    cfg.steps = 6
    train(data, out, cfg, resume=True)
    p = load_prior(out)
    assert p.info["steps"] == 6 and p.prediction == prediction
    lines = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    assert lines[-1]["step"] == 6


def test_edm_training_beats_the_untrained_shrinkage(tmp_path):
    """A hundred EDM steps on one image: the trained denoiser beats the untrained EDM prior
    (output layer zero = the exact Gaussian shrinkage) by a wide margin at mid and high
    noise, which a wrong target (sign, scale of c_skip / c_out) would not."""
    import copy

    import torch

    from restore.prior import Prior
    from restore.train import validation_psnr

    d = tmp_path / "one"
    d.mkdir()
    yy, xx = np.mgrid[0:48, 0:48]
    img = (127 + 100 * np.sin(xx / 5.0) * np.cos(yy / 7.0)).astype(np.uint8)
    write_image(d / "a.png", img)
    torch.manual_seed(0)
    cfg = TrainConfig(steps=100, batch_size=8, crop=32, channels=(8, 16), blocks=(1, 1), emb_dim=16,
                      warmup=5, lr=3e-3, checkpoint_every=1000, eval_every=1000, prediction="edm")
    train(d, tmp_path / "p", cfg)
    p = load_prior(tmp_path / "p")
    net0 = copy.deepcopy(p.net)
    for q in net0.tail.parameters():
        q.data.zero_()
    shrink = Prior(net0, p.schedule, prediction="edm")
    x = torch.from_numpy(img).float()[None, None].expand(1, 3, 48, 48) / 255
    for sigma in (0.3, 1.0):
        assert validation_psnr(p, [x], sigma=sigma) > validation_psnr(shrink, [x], sigma=sigma) + 1.0


def test_stability_check_finds_the_noise_level_where_a_prior_blows_up():
    import torch

    from restore.train import STABILITY_SIGMAS, stability_check

    g = torch.Generator().manual_seed(0)
    ims = [torch.rand(1, 3, 16, 16, generator=g) for _ in range(2)]
    bad = STABILITY_SIGMAS[4]

    def blows_up(x, s):  # sound except at one noise level, where it returns huge values
        return x + 100.0 if s == bad else x.mean() + 0.5 * (x - x.mean())

    st = stability_check(blows_up, ims)
    assert st["stable"] is False and st["at_sigma"] == round(bad, 4) and st["clean_psnr_min"] < 8
    st = stability_check(lambda x, s: x.mean() + 0.5 * (x - x.mean()), ims)  # a smoother: sound
    assert st["stable"] is True and st["clean_psnr_min"] > 12

