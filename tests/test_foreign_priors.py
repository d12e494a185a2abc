"""Foreign priors: diffusers folders and guided-diffusion (ADM) checkpoints as drop-in priors.

diffusers' own scheduler maths is the outside reference for the diffusers loader; the ADM
network is checked by its parameter count against the released checkpoint's and by the
round trip through ``restore convert`` (its agreement with guided-diffusion's own code was
checked once outside the test suite, see the commit).
"""

from __future__ import annotations

import json
import pickle
import re
import sys
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from restore.convert import ADM_PRESETS, convert_adm
from tests.conftest import float_tolerance
from restore.errors import WeightsError
from restore.io import read_image, write_image
from restore.prior import Prior, VPSchedule, load_prior
from restore.prior.adm import ADMNet, adm_config, adm_from_flags
from restore.prior.weights import describe_prior

try:
    from restore.cli.main import main
except ImportError:
    from cli.main import main
try:
    from restore.cli.convert_cmd import convert
except ImportError:
    from cli.convert_cmd import convert

if "convert" not in main.commands:
    main.add_command(convert)

TINY_ADM = {"image_size": 32, "num_channels": 32, "num_res_blocks": 1, "channel_mult": "1,2",
            "attention_resolutions": "16", "num_head_channels": 16, "learn_sigma": True, "resblock_updown": True}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The networks here are tiny (32x32): one thread is fastest, and it keeps the tests
    fast on a shared machine, where two threads' spin-waits cost seconds per call."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _randomise(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights everywhere (zero-initialised output layers included), so that every
    tensor matters to the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            r = torch.randn(p.shape, generator=g)
            norm_weight = p.ndim == 1 and name.endswith("weight")  # GroupNorm scales: around 1
            p.copy_(1 + 0.1 * r if norm_weight else r * (0.05 if p.ndim > 1 else 0.02))
    return module.eval()


# -- diffusers ----------------------------------------------------------------------------
def _tiny_unet(out_channels: int = 3, seed: int = 0):
    from diffusers import UNet2DModel

    torch.manual_seed(seed)
    unet = UNet2DModel(sample_size=32, in_channels=3, out_channels=out_channels, block_out_channels=(32, 64),
                       layers_per_block=1, norm_num_groups=8, attention_head_dim=8,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"))
    return _randomise(unet, seed)


def _scheduler(beta_schedule: str, prediction_type: str, learned: bool = False, **kw):
    from diffusers import DDPMScheduler

    extra = {"beta_start": 0.00085, "beta_end": 0.012} if beta_schedule == "scaled_linear" else {}
    return DDPMScheduler(beta_schedule=beta_schedule, prediction_type=prediction_type, clip_sample=False,
                         variance_type="learned_range" if learned else "fixed_small", **extra, **kw)


@pytest.fixture(scope="module")
def unets():
    pytest.importorskip("diffusers")
    return {3: _tiny_unet(3), 6: _tiny_unet(6, seed=1)}


@pytest.mark.parametrize("beta_schedule", ["linear", "scaled_linear", "squaredcos_cap_v2"])
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_diffusers_pipeline_matches_the_schedulers_own_x0(unets, tmp_path, beta_schedule, prediction_type):
    """``D(x, sigma)`` of a loaded pipeline folder against ``pred_original_sample`` of
    diffusers' own ``DDPMScheduler.step`` at the same integer timesteps (float64 maths on
    diffusers' float32 ``alphas_cumprod``), learned variance included.

    Tolerance 1e-5 in image units up to sigma = 1, 1e-5 * sigma above: ``D = x - sigma eps``
    multiplies the network's float32 rounding by sigma (78.7 at the linear schedule's top,
    1e4 at the cosine's, where ``x`` itself in float32 is only good to 1e-3)."""
    from diffusers import DDPMPipeline

    learned = prediction_type == "epsilon"  # one learned-variance model per schedule
    unet, sched = unets[6 if learned else 3], _scheduler(beta_schedule, prediction_type, learned)
    DDPMPipeline(unet=unet, scheduler=sched).save_pretrained(tmp_path / "pipe")
    prior = load_prior(tmp_path / "pipe")
    assert prior.native == 32 and prior.net.learned_variance == learned
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 3, 32, 32, generator=g, dtype=torch.float64) * 2 - 1
    noise = torch.randn(2, 3, 32, 32, generator=g, dtype=torch.float64)
    worst = 0.0  # error / tolerance
    for t in [0, 5, 100, 400, 800, 999]:
        a = sched.alphas_cumprod[t].double()
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        with torch.no_grad():
            out = unet(xt.float(), torch.tensor([t, t])).sample.double()
            ref = sched.step(out, t, xt).pred_original_sample  # diffusers' x0 estimate, [-1, 1]
            sigma = float(0.5 * ((1 - a) / a).sqrt())
            d = prior((xt / a.sqrt() + 1).float() / 2, sigma)
        err = (2 * d.double() - 1 - ref).abs().max().item() / 2  # in [0, 1] image units
        worst = max(worst, err / (1e-5 * max(1.0, sigma)))
    assert worst <= 1, f"max |D - x0_diffusers| / tolerance = {worst:.2f}"


def test_diffusers_schedule_is_bit_exact():
    pytest.importorskip("diffusers")
    from restore.prior.diffusers import schedule_from_scheduler_config

    for bs in ("linear", "scaled_linear", "squaredcos_cap_v2"):
        sched = _scheduler(bs, "epsilon", num_train_timesteps=500)
        ours, pred = schedule_from_scheduler_config(dict(sched.config))
        assert pred == "eps" and ours.num_timesteps == 500
        assert torch.equal(ours.alphas_cumprod(), sched.alphas_cumprod.double())
    # configs of this project's own priors read as before (float64, no new key written)
    assert VPSchedule().to_dict() == {"num_timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02, "kind": "linear"}


def test_bare_unet_folder_and_refusals(unets, tmp_path):
    pytest.importorskip("diffusers")
    unet = unets[3]
    unet.save_pretrained(tmp_path / "unet")
    with pytest.raises(WeightsError, match="scheduler_config.json"):
        load_prior(tmp_path / "unet")
    _scheduler("linear", "v_prediction").save_pretrained(tmp_path / "unet")  # scheduler_config.json beside
    prior = load_prior(tmp_path / "unet" / "config.json")
    assert prior.prediction == "v" and prior.schedule.kind == "linear"
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        t = prior.schedule.t_from_sigma(torch.tensor([0.3], dtype=torch.float64)).float()
        u = (2 * x - 1) / (1 + 0.6**2) ** 0.5
        ref = unet(u, t).sample
        got = prior.net(u, t)
    # same float32 network, possibly other kernels: rounding-level agreement, not bit equality
    tol = float_tolerance(ref, unet)
    assert (got - ref).abs().max() <= tol and tol < 1e-2 * float(ref.abs().max())
    # a pickled-only folder is refused (no pickle is ever loaded)
    w = tmp_path / "unet" / "diffusion_pytorch_model.safetensors"
    w.rename(w.with_suffix(".bin"))
    with pytest.raises(WeightsError, match="only safetensors"):
        load_prior(tmp_path / "unet")
    (tmp_path / "unet" / "scheduler_config.json").write_text(json.dumps({"_class_name": "ScoreSdeVeScheduler"}))
    with pytest.raises(WeightsError, match="not a DDPM-type"):
        load_prior(tmp_path / "unet")


def test_diffusers_missing_gives_the_install_hint(tmp_path, monkeypatch):
    (tmp_path / "p" / "unet").mkdir(parents=True)
    (tmp_path / "p" / "scheduler").mkdir()
    (tmp_path / "p" / "model_index.json").write_text(json.dumps(
        {"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"],
         "scheduler": ["diffusers", "DDPMScheduler"]}))
    (tmp_path / "p" / "unet" / "config.json").write_text(json.dumps({"_class_name": "UNet2DModel", "sample_size": 32}))
    (tmp_path / "p" / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"")
    (tmp_path / "p" / "scheduler" / "scheduler_config.json").write_text(json.dumps({"beta_schedule": "linear"}))
    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers -> ImportError
    with pytest.raises(WeightsError, match=r'pip install "restore\[diffusers\]"') as e:
        load_prior(tmp_path / "p")
    assert "\n" not in str(e.value)


@pytest.fixture(scope="module")
def pipe_dir(unets, tmp_path_factory):
    from diffusers import DDPMPipeline

    d = tmp_path_factory.mktemp("foreign") / "ddpm-tiny"
    DDPMPipeline(unet=unets[3], scheduler=_scheduler("linear", "epsilon")).save_pretrained(d)
    return d


def test_cli_and_api_with_a_diffusers_folder(pipe_dir, tmp_path):
    """The three commands and the API take the folder as ``--weights`` / ``prior=``; output
    sizes follow the input (40x50 is larger than the native 32: tiles; 20x24: padded)."""
    rng = np.random.default_rng(0)
    img, small = tmp_path / "img.png", tmp_path / "small.png"
    write_image(img, (rng.random((40, 50, 3)) * 255).astype(np.uint8))
    write_image(small, (rng.random((20, 24, 3)) * 255).astype(np.uint8))
    mask = np.zeros((40, 50), np.uint8)
    mask[10:25, 12:30] = 255
    write_image(tmp_path / "mask.png", mask)
    runner = CliRunner()
    w = ["--weights", str(pipe_dir), "-q", "--device", "cpu"]
    for args, shape in [
        (["denoise", img, "--sigma", "25"], (40, 50, 3)),
        (["inpaint", img, tmp_path / "mask.png", "--steps", "3"], (40, 50, 3)),
        (["sr", small, "--scale", "2", "--steps", "3"], (40, 48, 3)),
    ]:
        out = tmp_path / f"{args[0]}.png"
        r = runner.invoke(main, [str(a) for a in args] + ["-o", str(out)] + w, catch_exceptions=False)
        assert r.exit_code == 0, r.output
        assert read_image(out).array.shape == shape, args[0]
    import restore

    desc = describe_prior(pipe_dir)  # from the folder's configs, no weights read
    assert desc == describe_prior(load_prior(pipe_dir)) and desc["arch"] == "diffusers"
    assert desc["native_size"] == 32
    assert desc["parameters"] == sum(p.numel() for p in load_prior(pipe_dir).net.parameters())
    noisy = (rng.random((20, 24)) * 255).astype(np.uint8)
    out = restore.denoise(noisy, sigma=0.1, prior=str(pipe_dir))
    assert out.shape == noisy.shape and out.dtype == np.uint8


# -- ADM / guided-diffusion ---------------------------------------------------------------
def test_imagenet256_parameter_count_matches_the_released_checkpoint():
    """552,814,086 parameters: 256x256_diffusion_uncond.pt is 2,211,383,297 bytes, i.e. this
    many float32 values plus 126,953 bytes (0.006 %) of pickle; the same count comes from
    guided-diffusion's own create_model with the README's flags (checked once outside the
    tests). DPS's FFHQ model: 93,563,910. Built on the meta device (no memory)."""
    counts = {}
    for name in ("imagenet256-uncond", "ffhq256"):
        net_cfg, sched, pred = adm_from_flags(ADM_PRESETS[name])
        with torch.device("meta"):
            net = ADMNet(**adm_config(net_cfg))
        counts[name] = sum(p.numel() for p in net.parameters())
        assert net.size_multiple == 32 and net.native_size == 256 and pred == "eps" and sched["kind"] == "linear"
    assert counts == {"imagenet256-uncond": 552_814_086, "ffhq256": 93_563_910}
    names = ADMNet(**adm_config(adm_from_flags(TINY_ADM)[0])).state_dict()
    assert {"time_embed.0.weight", "input_blocks.0.0.weight", "input_blocks.1.0.in_layers.2.weight",
            "input_blocks.2.0.emb_layers.1.weight", "input_blocks.3.1.qkv.weight", "middle_block.1.proj_out.weight",
            "output_blocks.0.0.skip_connection.weight", "out.2.weight"} <= set(names)
    assert names["input_blocks.3.1.qkv.weight"].shape == (192, 64, 1)  # Conv1d, as stored


@pytest.fixture(scope="module")
def adm_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    net = _randomise(ADMNet(**adm_config(adm_from_flags(TINY_ADM)[0])))
    p = tmp_path_factory.mktemp("adm") / "tiny.pt"
    torch.save(net.state_dict(), p)
    return p, net


def test_adm_round_trip_convert_then_load(adm_ckpt, tmp_path):
    """torch.save -> convert -> load_prior gives the same tensors and the same outputs,
    and the prior is the DDPM denoiser of that network (``D = x - sigma eps``)."""
    ckpt, net = adm_ckpt
    out = convert_adm(ckpt, tmp_path / "prior", flags=TINY_ADM)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["network"]["arch"] == "adm" and cfg["native_size"] == 32
    prior = load_prior(out)
    assert isinstance(prior.net, ADMNet) and prior.native == 32 and prior.autocast_dtype == torch.bfloat16
    sd = prior.net.state_dict()
    assert sd.keys() == net.state_dict().keys()
    assert all(torch.equal(v, sd[k]) for k, v in net.state_dict().items())
    ref = net
    u = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([3.0, 640.5])
    with torch.no_grad():
        assert torch.equal(prior.net(u, t), ref(u, t))
        x, s = torch.rand(1, 3, 32, 32), 0.2
        tt = prior.schedule.t_from_sigma(torch.tensor([s], dtype=torch.float64)).float()
        eps = ref((2 * x - 1) / (1 + (2 * s) ** 2) ** 0.5, tt)
        assert torch.allclose(prior(x, s), x - s * eps, atol=1e-5)
    # float16 storage halves the file and loads back as float32 (close to the original)
    half = convert_adm(ckpt, tmp_path / "half", flags=TINY_ADM, dtype="float16")
    assert json.loads((half / "config.json").read_text())["dtype"] == "float16"
    assert all(v.dtype == torch.float32 for v in load_prior(half).net.state_dict().values())
    with pytest.raises(WeightsError, match="already holds a prior"):
        convert_adm(ckpt, tmp_path / "prior", flags=TINY_ADM)


def test_adm_convert_refuses_mismatched_flags_and_class_cond(adm_ckpt, tmp_path):
    ckpt, _ = adm_ckpt
    with pytest.raises(WeightsError, match="shape|missing|unexpected"):
        convert_adm(ckpt, tmp_path / "a", flags={**TINY_ADM, "num_channels": 64})
    with pytest.raises(WeightsError, match="class-conditional"):
        convert_adm(ckpt, tmp_path / "b", flags={**TINY_ADM, "class_cond": True})
    with pytest.raises(WeightsError, match="unknown ADM flag"):
        convert_adm(ckpt, tmp_path / "c", flags={**TINY_ADM, "num_chanels": 64})
    with pytest.raises(WeightsError, match="preset"):
        convert_adm(ckpt, tmp_path / "d", preset="imagenet512")
    for bad in ("big", 0, True, 64.0):  # a trial: "big" was told "no default channel_mult for image_size big"
        with pytest.raises(WeightsError, match="ADM image_size must be a positive whole number"):
            convert_adm(ckpt, tmp_path / "c", flags={**TINY_ADM, "image_size": bad})
    assert not any((tmp_path / n).exists() for n in "abcd")
    (tmp_path / "text.pt").write_text("hello")  # not a checkpoint at all: said so, not pickle's opcode
    with pytest.raises(WeightsError, match="neither a torch.save zip nor a pickle"):
        convert_adm(tmp_path / "text.pt", tmp_path / "e", flags=TINY_ADM)
    from click.testing import CliRunner

    from restore.cli.main import main

    r = CliRunner().invoke(main, ["convert", str(ckpt), "-o", str(tmp_path / "f"), "--flags", "nosuch.json"])
    assert r.exit_code == 2 and "neither a JSON object nor an existing file" in r.output


class _Payload:
    """Unpickling this object runs ``open(marker, "w")``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_hostile_checkpoint_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    live = tmp_path / "live"
    pickle.loads(pickle.dumps(_Payload(live)))  # the payload works when unpickled plainly
    assert live.exists()
    zipped, raw = tmp_path / "evil.pt", tmp_path / "evil_raw.pt"
    torch.save({"input_blocks.0.0.weight": torch.zeros(1), "x": _Payload(marker)}, zipped)
    raw.write_bytes(pickle.dumps({"w": _Payload(marker)}))
    for p in (zipped, raw):
        with pytest.raises(WeightsError, match="refused") as e:
            convert_adm(p, tmp_path / "out", preset="ffhq256")
        assert "\n" not in str(e.value)
        assert p is raw or re.search(r"containers \([\w.]+\)", str(e.value))  # what it holds, where torch names it
        assert "add_safe_globals" not in str(e.value)  # a trial: torch's advice, which would undo the refusal
    r = CliRunner().invoke(main, ["convert", str(zipped), "-o", str(tmp_path / "out"), "--preset", "ffhq256"])
    assert r.exit_code == 1 and "refused" in r.output
    assert not marker.exists() and not (tmp_path / "out" / "config.json").exists()


def test_convert_command(adm_ckpt, tmp_path):
    ckpt, net = adm_ckpt
    runner = CliRunner()
    r = runner.invoke(main, ["convert", str(ckpt), "-o", str(tmp_path / "p"), "--flags", json.dumps(TINY_ADM),
                             "--dtype", "bfloat16"])
    assert r.exit_code == 0, r.output
    assert str(tmp_path / "p") in r.output
    prior = load_prior(tmp_path / "p")
    assert json.loads((tmp_path / "p" / "config.json").read_text())["dtype"] == "bfloat16"
    assert describe_prior(prior)["parameters"] == sum(p.numel() for p in net.parameters())
    r = runner.invoke(main, ["convert", str(ckpt), "-o", str(tmp_path / "q")])
    assert r.exit_code == 2 and "--preset" in r.output
    r = runner.invoke(main, ["convert", str(ckpt), "-o", str(tmp_path / "q"), "--flags", "{not json"])
    assert r.exit_code == 2 and "JSON" in r.output
    # from a new user's trial: the flag is named, as restore train names it (exit 2); an image is no checkpoint,
    # not a checkpoint "holding more than tensors"
    r = runner.invoke(main, ["convert", str(ckpt), "-o", str(tmp_path / "p"), "--flags", json.dumps(TINY_ADM)])
    assert r.exit_code == 2 and "pass --overwrite" in r.output
    from restore.io import write_image

    write_image(tmp_path / "photo.png", np.zeros((8, 8, 3), np.uint8))
    r = runner.invoke(main, ["convert", str(tmp_path / "photo.png"), "-o", str(tmp_path / "r"), "--preset", "ffhq256"])
    assert r.exit_code == 1 and "not a PyTorch checkpoint" in r.output and "refused" not in r.output


# -- fixed-size priors, description, CPU warning, autocast --------------------------------
class _Recorder(torch.nn.Module):
    """A fake network that records the input sizes it sees and returns its input."""

    in_channels, size_multiple = 3, 8

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.sizes = []

    def forward(self, u, t):
        self.sizes.append(tuple(u.shape[-2:]))
        return u + self.w


def test_native_size_pads_and_tiles_but_never_resizes():
    net = _Recorder()
    prior = Prior(net, VPSchedule(), native=32, prediction="x0")
    for shape in [(1, 3, 20, 45), (2, 3, 32, 32), (1, 1, 7, 9), (1, 3, 70, 100)]:
        net.sizes.clear()
        x = torch.rand(shape)
        with torch.no_grad():
            out = prior(x, 1e-3)
        assert out.shape == x.shape and set(net.sizes) == {(32, 32)}
        # x0-prediction of the identity network: D(x) = 2 x - 1 read back in [0, 1] units,
        # i.e. every pixel exactly as the tiles / the crop of the padding returned it
        a = (1 + (2e-3) ** 2) ** -0.5
        want = (2 * x - 1) * a * 0.5 + 0.5
        assert (out - want).abs().max() <= float_tolerance(want)
    with torch.no_grad():
        net.sizes.clear()
        prior(torch.rand(1, 3, 70, 100), 0.1)
    assert len(net.sizes) == 3 * 4  # 70 -> 3 tiles of 32, 100 -> 4 (overlap >= 8)


def test_describe_prior(tiny_prior, adm_ckpt, tmp_path):
    d = describe_prior(tiny_prior)
    assert d["arch"] == "unet" and d["native_size"] is None and d["parameters"] == tiny_prior.num_parameters
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc, torch.no_grad():
        tiny_prior.net(torch.zeros(1, 3, 256, 256), torch.zeros(1))
    assert d["gflops_256"] == round(fc.get_total_flops() / 1e9, 2) > 0
    from restore.prior import save_prior

    saved = save_prior(tmp_path / "u", tiny_prior.net, tiny_prior.schedule)  # records its cost
    cfg = json.loads((saved / "config.json").read_text())
    assert cfg["cost"] == {"parameters": d["parameters"], "gflops_256": d["gflops_256"]}
    assert describe_prior(saved) == {**d, "name": "u"}
    del cfg["cost"]  # a prior saved before costs were recorded is counted
    (saved / "config.json").write_text(json.dumps(cfg))
    assert describe_prior(saved) == {**d, "name": "u"}
    out = convert_adm(adm_ckpt[0], tmp_path / "p", flags=TINY_ADM)
    a = describe_prior(load_prior(out))
    assert a == describe_prior(out) and a["arch"] == "adm" and a["native_size"] == 32
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        adm_ckpt[1](torch.zeros(1, 3, 32, 32), torch.zeros(1))
    assert a["gflops_256"] == round(fc.get_total_flops() * 11**2 / 1e9, 2)  # 256 = 11 tiles of 32 (overlap 8)


def test_big_prior_on_cpu_warns_once(tiny_prior, monkeypatch):
    from restore.prior import denoiser

    p = Prior(tiny_prior.net, tiny_prior.schedule)
    x = torch.rand(1, 3, 16, 16)
    with warnings.catch_warnings(record=True) as w, torch.no_grad():
        warnings.simplefilter("always")
        p(x, 0.1)
        assert not w  # small: no warning
        monkeypatch.setattr(denoiser, "BIG_PRIOR", 1000)
        p = Prior(tiny_prior.net, tiny_prior.schedule)
        p(x, 0.1)
        p(x, 0.2)
    assert len(w) == 1 and "CPU" in str(w[0].message) and "s per 256x256" in str(w[0].message)


def test_autocast_changes_nothing_on_cpu(adm_ckpt, tmp_path, tiny_prior):
    assert tiny_prior.autocast_dtype is None
    prior = load_prior(convert_adm(adm_ckpt[0], tmp_path / "p", flags=TINY_ADM))
    assert prior.autocast_dtype == torch.bfloat16
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        a = prior(x, 0.3)
        prior.autocast_dtype = None
        b = prior(x, 0.3)
    assert a.dtype == torch.float32 and torch.equal(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_autocast_on_cuda_is_close(adm_ckpt, tmp_path):
    prior = load_prior(convert_adm(adm_ckpt[0], tmp_path / "p", flags=TINY_ADM), device="cuda")
    x = torch.rand(1, 3, 32, 32, device="cuda")
    with torch.no_grad():
        a = prior(x, 0.3)
        prior.autocast_dtype = None
        b = prior(x, 0.3)
    assert a.dtype == torch.float32 and (a - b).abs().max() < 0.05



def test_train_init_refuses_a_foreign_prior(adm_ckpt, tmp_path):
    from restore.errors import InputError
    from restore.train import train

    out = convert_adm(adm_ckpt[0], tmp_path / "p", flags=TINY_ADM)
    (tmp_path / "data").mkdir()
    with pytest.raises(InputError, match="arch 'adm'"):
        train(tmp_path / "data", tmp_path / "t", init=out)
    assert not (tmp_path / "t").exists()


def test_checkpoints_as_researchers_bring_them(adm_ckpt, tmp_path, tiny_prior_dir):
    """A researcher's trial: a .safetensors checkpoint converted or was refused by its first byte
    (one whose header length began 0x80 passed for a pickle); a checkpoint with a model and its
    EMA was converted from the model, in silence; a DataParallel's 'module.' names did not match;
    a diffusers state dict got no hint; a checkpoint given as --weights was "no prior"; a grey
    prior given a colour image failed inside the run with "takes 1 or 1 channels"."""
    from safetensors.torch import save_file

    import restore
    from restore.errors import InputError

    ckpt, net = adm_ckpt
    sd = net.state_dict()
    want = {k: v.float() for k, v in sd.items()}
    for i, meta in enumerate((None, {"note": "x" * 20}, {"note": "y" * 300})):
        p = tmp_path / f"w{i}.safetensors"
        save_file({k: v.contiguous() for k, v in sd.items()}, str(p), metadata=meta)
        out = convert_adm(p, tmp_path / f"s{i}", flags=TINY_ADM)
        got = load_prior(out).net.state_dict()
        assert all(torch.equal(got[k].float(), want[k]) for k in want)
    other = {k: v + 1 for k, v in sd.items()}
    torch.save({"model": other, "ema": sd, "step": 5}, tmp_path / "both.pt")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = convert_adm(tmp_path / "both.pt", tmp_path / "both", flags=TINY_ADM)
    assert any("the weights are its 'ema' entry (it also holds 'model')" in str(x.message) for x in w)
    got = load_prior(out).net.state_dict()
    assert all(torch.equal(got[k].float(), want[k]) for k in want)
    for bad_ema in ({}, {"decay": 0.999}):  # an EMA's settings, or an empty one, are no weights: the model's
        torch.save({"model": sd, "ema": bad_ema}, tmp_path / "ema_cfg.pt")
        got = load_prior(convert_adm(tmp_path / "ema_cfg.pt", tmp_path / "ema_cfg", flags=TINY_ADM,
                                     overwrite=True)).net.state_dict()
        assert all(torch.equal(got[k].float(), want[k]) for k in want)
    torch.save({"step": 5, "opt": {"lr": 1e-3}}, tmp_path / "none.pt")
    with pytest.raises(WeightsError, match="got a dict of 'step', 'opt'"):
        convert_adm(tmp_path / "none.pt", tmp_path / "none", flags=TINY_ADM)
    # a trial: one tensor crashed with torch's "Boolean value of Tensor ... is ambiguous" (a traceback), and a
    # one-element tensor was called "nothing"
    for name, obj, said in (("t3", torch.zeros(3), r"one tensor of shape \(3,\)"),
                            ("t1", torch.zeros(1), r"shape \(1,\)"), ("t0", torch.zeros(()), r"shape \(\)"),
                            ("e", [], "an empty list"), ("n", None, "nothing")):
        torch.save(obj, tmp_path / f"{name}.pt")
        with pytest.raises(WeightsError, match=f"expected a state dict .*got .*{said}"):
            convert_adm(tmp_path / f"{name}.pt", tmp_path / name, flags=TINY_ADM)
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "dp.pt")
    got = load_prior(convert_adm(tmp_path / "dp.pt", tmp_path / "dp", flags=TINY_ADM)).net.state_dict()
    assert all(torch.equal(got[k].float(), want[k]) for k in want)
    torch.save({"conv_in.weight": torch.zeros(8, 3, 3, 3), "down_blocks.0.x": torch.zeros(2)}, tmp_path / "df.pt")
    with pytest.raises(WeightsError, match="a diffusers UNet2DModel's weights: save it with save_pretrained"):
        convert_adm(tmp_path / "df.pt", tmp_path / "df", flags=TINY_ADM)
    with pytest.raises(WeightsError, match="is a file, not a prior folder: .*restore convert"):
        load_prior(str(ckpt))
    grey = load_prior(str(tiny_prior_dir))
    grey.net.in_channels = 1  # as a 1-channel model's
    with pytest.raises(InputError, match=r"the prior takes grey \(1-channel\) images, and the image has 3 channels"):
        yy, xx = np.mgrid[:16, :16].astype(np.float32) / 16  # colour: red across, blue down (not grey, not toned)
        restore.denoise(np.stack([xx, np.full_like(xx, 0.5), yy], -1), sigma=0.1, prior=grey, steps=1)
    # the record names the prior a run used (it named none)
    write_image(tmp_path / "g.png", np.zeros((16, 16, 3), np.uint8))
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "g.png"), "--sigma", "5", "--steps", "1", "--json", "-q",
                                  "--weights", str(tiny_prior_dir), "-o", str(tmp_path / "g2.png")])
    assert r.exit_code == 0 and json.loads(r.stdout.splitlines()[-1])["prior"] == str(tiny_prior_dir)
