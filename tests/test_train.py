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
        h, w = rng.integers(32, 70, size=2)  # at least the tests' 32 px crop (smaller ones are warned about)
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
    assert logs[0] == {"step": 0, "started": True}  # where the steps start: a progress bar's rate counts from it
    assert not any(r.get("started") for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()))
    cfg.steps = 6
    logs = []
    train(data, out, cfg, resume=True, callback=logs.append)
    assert logs[0] == {"step": 4, "started": True} and logs[-1]["step"] == 6  # (a trial: the bar showed 563750 step/s)
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



def _d4(a):
    """The eight symmetries of the square applied to an (h, w, c) array."""
    out = []
    for k in range(4):
        r = np.rot90(a, k)
        out += [r, r[:, ::-1]]
    return out


def test_crop_bank_draws_true_windows_under_the_eight_symmetries():
    import torch

    from restore.train import CropBank

    rng = np.random.default_rng(1)
    ims = [rng.integers(0, 256, (13, 17, 3), dtype=np.uint8), rng.integers(0, 256, (9, 11, 3), dtype=np.uint8),
           rng.integers(0, 256, (5, 12, 3), dtype=np.uint8)]  # the last is smaller than a crop: edge-padded
    bank = CropBank(ims, "cpu", 8)
    x, gray = bank.batch(64, torch.Generator().manual_seed(0), gray_prob=0.0)
    assert x.shape == (64, 3, 8, 8) and x.is_contiguous(memory_format=torch.channels_last) and not gray.any()
    padded = [np.pad(ims[2], ((0, 3), (0, 0), (0, 0)), mode="edge")] + ims[:2]
    seen_syms = set()
    for crop in (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8):
        hit = False
        for im in padded:
            H, W = im.shape[:2]
            for y in range(H - 7):
                for xx in range(W - 7):
                    for s, t in enumerate(_d4(im[y:y + 8, xx:xx + 8])):
                        if np.array_equal(t, crop):
                            hit = True
                            seen_syms.add(s)
        assert hit, "a crop is not a window of any image under a symmetry of the square"
    assert len(seen_syms) == 8


def test_crop_bank_gray_crops_are_channel_identical():
    import torch

    from restore.train import CropBank

    bank = CropBank([np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)], "cpu", 16)
    x, gray = bank.batch(200, torch.Generator().manual_seed(3), gray_prob=0.5)
    assert 60 < int(gray.sum()) < 140
    assert torch.equal(x[gray][:, 0], x[gray][:, 2]) and not torch.equal(x[~gray][:, 0], x[~gray][:, 2])


def test_noise_levels_match_the_schedule():
    import torch

    from restore.prior.schedule import VPSchedule
    from restore.train import NoiseLevels

    sch = VPSchedule()
    lv = NoiseLevels(sch, "cpu")
    t = torch.linspace(0, 999, 777, dtype=torch.float64)
    assert torch.allclose(lv.sigma_from_t(t), sch.sigma_from_t(t), rtol=0, atol=0)
    s = torch.logspace(-3, 2, 50, dtype=torch.float64)
    assert torch.equal(lv.t_from_sigma(s), sch.t_from_sigma(s))
    t, sig = lv.sample(4000, TrainConfig(), torch.Generator().manual_seed(0))
    assert (t >= 0).all() and (t <= 999).all() and torch.allclose(sig, sch.sigma_from_t(t))


def _weights(d):
    from safetensors.torch import load_file

    return load_file(str(d / "checkpoint" / "ema.safetensors")), load_file(str(d / "checkpoint" / "optim.safetensors"))


def test_resume_continues_bit_for_bit(tmp_path):
    """Model, EMA, optimiser, step and generator state all come back: 3 + 3 steps with a
    stop in between give exactly the weights of 6 uninterrupted steps."""
    import torch

    data = _images(tmp_path / "data")
    kw = dict(batch_size=2, crop=32, channels=(8, 16), blocks=(1, 1), emb_dim=16, warmup=2, checkpoint_every=100,
              eval_every=100)
    train(data, tmp_path / "full", TrainConfig(steps=6, **kw))
    train(data, tmp_path / "split", TrainConfig(steps=3, **kw))
    train(data, tmp_path / "split", TrainConfig(steps=6, **kw), resume=True)
    (ema_a, opt_a), (ema_b, opt_b) = _weights(tmp_path / "full"), _weights(tmp_path / "split")
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)
    assert all(torch.equal(opt_a[k], opt_b[k]) for k in opt_a)


def test_stop_file_checkpoints_and_init_warm_starts(tmp_path):
    import torch

    from restore.errors import InputError

    data = _images(tmp_path / "data")
    out = tmp_path / "p"
    out.mkdir()
    (out / "STOP").touch()
    cfg = TrainConfig(steps=1000, batch_size=2, crop=32, channels=(8, 16), blocks=(1, 1), emb_dim=16, log_every=5)
    train(data, out, cfg)
    p = load_prior(out)
    assert p.info["steps"] == 5 and p.info["cumulative"]["steps"] == 5
    assert p.info["stopped"] == "STOP file" and p.info["steps_planned"] == 1000
    assert not (out / "STOP").exists()  # honoured, so a --resume does not stop on it again
    # warm start: architecture and weights from the prior, cumulative steps carried over
    cfg2 = TrainConfig(steps=3, batch_size=2, crop=32, channels=(4, 4), blocks=(1, 1), lr=0.0, warmup=1)
    train(data, tmp_path / "q", cfg2, init=out)
    q = load_prior(tmp_path / "q")
    assert q.net.config() == p.net.config()
    assert all(torch.equal(a, b) for a, b in zip(p.net.state_dict().values(), q.net.state_dict().values()))
    assert q.info["cumulative"]["steps"] == 8 and q.info["cumulative"]["init"] == str(out)
    with pytest.raises(InputError):
        train(data, out, cfg, resume=True, init=out)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_weights_halve_the_file_and_load_as_fp32(tmp_path, dtype):
    import torch

    from restore.errors import WeightsError
    from restore.paths import PRETRAINED_DIR
    from restore.prior.weights import save_prior

    p = load_prior()
    save_prior(tmp_path / "h", p.net, p.schedule, p.info, dtype=dtype)
    size = (tmp_path / "h" / "model.safetensors").stat().st_size
    full = (PRETRAINED_DIR / "restore-small" / "model.safetensors").stat().st_size
    assert size < 0.51 * full
    h = load_prior(tmp_path / "h")
    assert all(v.dtype == torch.float32 for v in h.net.state_dict().values())
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert (h(x, 0.1) - p(x, 0.1)).abs().max() < 0.02
    cfg = json.loads((tmp_path / "h" / "config.json").read_text())
    cfg["dtype"] = "float32"  # the file says otherwise: refused
    (tmp_path / "h" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="expected torch.float32"):
        load_prior(tmp_path / "h")


@pytest.mark.parametrize("prediction", ["eps", "edm"])
def test_mismatched_noise_keeps_the_clean_image_as_target(prediction):
    """``actual``: the noise really added, as a fraction of the told level. A network that
    returns what recovers the clean image exactly has zero loss at any fraction (so the
    target is x0, not the noise the told level implies); all ones is the standard loss."""
    import torch

    from restore.prior.denoiser import preconditioning, vp_scale
    from restore.train import diffusion_loss

    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 3, 8, 8, generator=g)
    noise = torch.randn(x0.shape, generator=g)
    gray = torch.zeros(4, dtype=torch.bool)
    t, sigma = torch.full((4,), 300.0), torch.tensor([0.05, 0.1, 0.3, 0.6])
    actual = torch.tensor([1.0, 0.5, 0.0, 0.25])
    sn = (2 * sigma)[:, None, None, None]
    x0n = 2 * x0 - 1

    class Oracle(torch.nn.Module):  # the exact answer, from its own input
        def forward(self, xt, tt):
            xn = xt / vp_scale(sn)
            if prediction == "eps":
                return (xn - x0n) / sn
            c_skip, c_out = preconditioning("edm", sn, 0.5)
            return (x0n - c_skip * xn) / c_out

    kw = dict(prediction=prediction, channels_last=False)
    assert float(diffusion_loss(Oracle(), x0, gray, noise, t, sigma, actual=actual, **kw)) < 1e-8
    zero = torch.nn.Module()
    zero.forward = lambda xt, tt: torch.zeros_like(xt)
    full = diffusion_loss(zero, x0, gray, noise, t, sigma, **kw)
    assert torch.equal(full, diffusion_loss(zero, x0, gray, noise, t, sigma, actual=torch.ones(4), **kw))
    if prediction == "eps":  # the target is the noise that is there, over the told level
        assert float(diffusion_loss(zero, x0, gray, noise, t, sigma, actual=torch.zeros(4), **kw)) == 0.0


def test_train_with_mismatch_records_it_and_changes_the_run(tmp_path):
    import torch

    data = _images(tmp_path / "data")
    kw = dict(steps=3, batch_size=2, crop=32, channels=(8, 16), blocks=(1, 1), emb_dim=16, warmup=2,
              checkpoint_every=100, eval_every=100)
    train(data, tmp_path / "a", TrainConfig(**kw))
    train(data, tmp_path / "b", TrainConfig(mismatch=0.5, **kw))
    assert "mismatch" not in load_prior(tmp_path / "a").info and load_prior(tmp_path / "b").info["mismatch"] == 0.5
    (ema_a, _), (ema_b, _) = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert not all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)
    with pytest.raises(Exception, match="mismatch must be in"):
        train(data, tmp_path / "c", TrainConfig(mismatch=1.5, **kw))


def test_a_diverging_run_rolls_back_at_half_the_learning_rate(tmp_path):
    """Regression (H200, 2026-12-04): a run whose loss blew up at step 400 sat at a network
    predicting zero for the rest of its lease. A blow-up now returns the run to its last
    good interval with the learning rate halved, recorded in the log."""
    import math

    from restore.train import DivergenceGuard, TrainingDiverged

    data = _images(tmp_path / "data")
    logs = []
    cfg = TrainConfig(steps=40, batch_size=2, crop=32, channels=(8, 16), blocks=(1, 1), emb_dim=16, warmup=1,
                      lr=20.0, log_every=2, checkpoint_every=1000, eval_every=1000)
    try:
        train(data, tmp_path / "p", cfg, callback=logs.append)
    except TrainingDiverged as e:  # six rollbacks were not enough at lr 20: a clear error, not a dead prior
        assert "lower --lr" in str(e)
    back = [r for r in logs if "rollback_to" in r]
    assert back and [r["lr_scale"] for r in back] == [0.5**k for k in range(1, len(back) + 1)]
    assert all(r["rollback_to"] < r["step"] for r in back)

    class Fake:  # the guard's rule alone: a spike after learning, or a non-finite loss
        lr_scale = 1.0

        def snapshot(self):
            return {}

        def restore(self, snap):
            pass

    g = DivergenceGuard(Fake(), 0)
    assert g.check(50, 0.9) is None and g.check(100, 0.3) is None and g.check(150, 0.8) is None
    assert g.check(200, 1.0) == 150 and g.tr.lr_scale == 0.5  # 1.0 > 3 x 0.3: back to step 150
    assert g.check(250, math.nan) == 150


def test_small_images_are_said_and_an_empty_validation_folder_refused(tmp_path):
    """From a researcher's trial: images smaller than --crop were edge-padded in silence, and an
    empty --val-dir trained with no validation at all, without a word."""
    from restore.errors import InputError

    data = tmp_path / "data"
    data.mkdir()
    for i, (h, w) in enumerate(((40, 40), (30, 50), (80, 90))):
        write_image(data / f"im{i}.png", (np.random.default_rng(i).random((h, w, 3)) * 255).astype(np.uint8))
    cfg = TrainConfig(steps=1, batch_size=2, crop=64, channels=(8, 16), blocks=(1, 1), emb_dim=16, warmup=1,
                      checkpoint_every=1, eval_every=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no readable images"), pytest.warns(UserWarning, match="smaller than"):
        train(data, tmp_path / "p0", cfg, val_dir=tmp_path / "empty")
    assert not (tmp_path / "p0").exists()
    with pytest.warns(UserWarning, match="2 of 3 training images are smaller than the 64 px crop"):
        train(data, tmp_path / "p1", cfg)


def test_a_prior_set_aside_by_a_killed_overwrite_is_said_where_it_is(tiny_prior_dir, tmp_path):
    """A training trial: an --overwrite killed before its first checkpoint leaves the folder's old
    prior in .replaced/ (the next train puts it back); loading the folder meanwhile said only
    "config.json: missing"."""
    import shutil

    from restore import train as T
    from restore.errors import WeightsError

    p = tmp_path / "p"
    shutil.copytree(tiny_prior_dir, p)
    T._set_aside(p)  # as --overwrite does, then a kill -9
    with pytest.raises(WeightsError, match=r"stopped before its first checkpoint, and the prior it replaces is in "
                                           r".*\.replaced; the next 'restore train' into the folder puts it back"):
        load_prior(p)
    T.recover_run(p)
    assert load_prior(p).net is not None and not (p / ".replaced").exists()


def test_a_stop_file_is_taken_at_the_last_step_too(tmp_path):
    """A training trial: a run shorter than a logging interval never looked at the STOP file in
    its folder and left it there, to stop the next --resume at once; it is taken (and removed)
    at the last step too."""
    data = _images(tmp_path / "data")
    out = tmp_path / "prior"
    out.mkdir()
    (out / "STOP").write_text("")
    cfg = TrainConfig(steps=3, batch_size=2, crop=32, channels=(8, 16), blocks=(1, 1), emb_dim=16, warmup=1)
    assert cfg.steps < cfg.log_every
    train(data, out, cfg)
    p = load_prior(out)
    assert not (out / "STOP").exists() and p.info["steps"] == 3 and "stopped" not in p.info
