"""Train a prior on a folder of images: ``restore train DATA_DIR -o OUT_DIR``.

Recipe (chosen for fast convergence per step, see ``pretrained/README.md``):

* random crops (reflect-padded when an image is smaller), flips and 90-degree rotations;
  a fraction of crops turned gray (replicated to 3 channels, channel-identical noise), so
  one network serves gray and RGB;
* the DDPM ``eps`` loss (Ho et al. 2020), or with ``prediction="edm"`` the EDM
  preconditioning and loss (Karras et al. 2022: the network predicts
  ``(x0 - c_skip x) / c_out``, every noise level weighted by ``1 / c_out^2``, so the
  clean-image estimate stays good at large sigma); timesteps drawn half uniformly over the whole
  schedule (what a sampler visits) and half log-normally in sigma around the noise levels
  restoration works at (Karras et al. 2022, ``P_mean``/``P_std``);
* AdamW, linear warm-up then cosine decay, gradient clipping, EMA of the weights;
* a learning curve: PSNR of the EMA denoiser at sigma=25/255 on a few validation images,
  logged beside the loss in ``log.jsonl``;
* checkpoints (safetensors: weights, EMA, optimizer state) every N steps, ``resume``;
* every checkpoint also writes a ready-to-use prior directory (EMA weights).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError, RestoreError
from .prior.denoiser import PREDICTIONS, Prior, preconditioning, vp_scale
from .prior.schedule import VPSchedule
from .prior.unet import UNet
from .prior.weights import load_state_dict, save_prior

__all__ = ["TrainConfig", "find_images", "train"]

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


@dataclass
class TrainConfig:
    """Everything that decides a training run (stored in the checkpoint)."""

    steps: int = 20000
    batch_size: int = 32
    crop: int = 128
    lr: float = 4e-4
    weight_decay: float = 0.0
    warmup: int = 500
    lr_final: float = 0.02  # fraction of lr at the end of the cosine decay
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    gray_prob: float = 0.2
    p_uniform: float = 0.5  # fraction of timesteps drawn uniformly over the schedule
    p_mean: float = -1.2  # log-normal sigma (in [-1, 1] units) for the rest
    p_std: float = 1.2
    channels: tuple = (64, 128, 160, 160)
    blocks: tuple = (1, 2, 2, 2)
    unshuffle: int = 2
    emb_dim: int = 256
    schedule: dict = field(default_factory=lambda: VPSchedule().to_dict())
    seed: int = 0
    checkpoint_every: int = 1000
    eval_every: int = 500
    amp: bool = True  # bf16 autocast on CUDA only (fp32 on CPU: bf16 is slow there)
    prediction: str = "eps"  # "eps" (DDPM, the shipped prior) or "edm" (Karras et al. 2022)
    sigma_data: float = 0.5  # EDM's data std in [-1, 1] units


def find_images(root: Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def _load_rgb_uint8(path: Path) -> np.ndarray | None:
    from .io import read_image, to_uint8  # lazy: keeps the I/O layer the only reader

    try:
        img = to_uint8(read_image(path).array)
    except RestoreError:
        return None
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


class ImageBank:
    """All training images held in memory (on the training device) as uint8 tensors."""

    def __init__(self, paths: list[Path], device: torch.device, crop: int) -> None:
        self.images: list[torch.Tensor] = []
        self.skipped: list[str] = []
        for p in paths:
            arr = _load_rgb_uint8(p)
            if arr is None:
                self.skipped.append(str(p))
                continue
            t = torch.from_numpy(arr).permute(2, 0, 1).contiguous()
            self.images.append(t.to(device))
        if not self.images:
            raise InputError("no readable training images found")
        self.crop = crop
        self.device = device
        self.weights = torch.tensor([float(i.shape[1] * i.shape[2]) for i in self.images])

    def batch(self, n: int, g: torch.Generator, gray_prob: float) -> torch.Tensor:
        """``n`` random crops in [0, 1], shape ``(n, 3, crop, crop)`` (larger images more often)."""
        idx = torch.multinomial(self.weights, n, replacement=True, generator=g)
        c = self.crop
        out = []
        params = torch.rand(n, 5, generator=g)
        for k, i in enumerate(idx.tolist()):
            img = self.images[i]
            H, W = img.shape[1:]
            if H < c or W < c:
                pad = (0, max(0, c - W), 0, max(0, c - H))
                img = F.pad(img[None].float(), pad, mode="replicate")[0].to(torch.uint8)
                H, W = img.shape[1:]
            y = int(params[k, 0] * (H - c + 1))
            x = int(params[k, 1] * (W - c + 1))
            patch = img[:, y : y + c, x : x + c]
            if params[k, 2] < 0.5:
                patch = patch.flip(2)
            rot = int(params[k, 3] * 4)
            if rot:
                patch = torch.rot90(patch, rot, dims=(1, 2))
            out.append(patch)
        x = torch.stack(out).float().div_(255.0)
        gray = (params[:, 4] < gray_prob).to(self.device)
        if gray.any():
            lum = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None].expand_as(x)
            x = torch.where(gray[:, None, None, None], lum, x)
        return x, gray


def _sample_t(n: int, cfg: TrainConfig, schedule: VPSchedule, g: torch.Generator) -> torch.Tensor:
    T = schedule.num_timesteps
    u = torch.rand(n, generator=g, dtype=torch.float64) * (T - 1)
    # log-normal sigma in the network's [-1, 1] units; image units are half of that
    sig = 0.5 * torch.exp(cfg.p_mean + cfg.p_std * torch.randn(n, generator=g, dtype=torch.float64))
    t_ln = schedule.t_from_sigma(sig)
    pick = torch.rand(n, generator=g) < cfg.p_uniform
    return torch.where(pick, u, t_ln)


def _lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    p = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * p)))


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.clamp(0, 1) - b) ** 2).item()
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def validation_psnr(prior: Prior, images: list[torch.Tensor], sigma: float = 25 / 255, seed: int = 0) -> float:
    """Mean PSNR of ``D(x + sigma n, sigma)`` over ``images`` (each ``(1, C, H, W)``)."""
    g = torch.Generator().manual_seed(seed)
    vals = []
    with torch.no_grad():
        for x in images:
            n = torch.randn(x.shape, generator=g).to(x.device)
            vals.append(_psnr(prior(x + sigma * n, sigma), x))
    return float(np.mean(vals))


#: Noise levels (image units) of the stability check: the range the samplers use.
STABILITY_SIGMAS = tuple(float(v) for v in np.geomspace(0.02, 1.0, 8))
#: Below this PSNR of ``D(x, sigma)`` against a clean ``x`` the prior counts as unstable.
STABILITY_MIN_PSNR = 12.0


def stability_check(prior: Prior, images: list[torch.Tensor], sigmas=STABILITY_SIGMAS) -> dict:
    """Worst PSNR of ``D(x, sigma)`` against ``x`` itself, for clean ``x``, over ``sigmas``.

    The samplers (dpir and every inpainting run) feed the prior images that are not as
    noisy as the ``sigma`` they claim. A sound denoiser returns a smoothed ``x`` (the
    shipped prior: 19.6 dB or more up to sigma = 1, on 4 CBSD68 crops); a prior that learnt only the noisy
    inputs can blow up there even though its denoising PSNR looks fine (measured: an
    8.3 M-parameter retrain returned values of -169..182 at sigma = 0.2 and 14.6 dB
    random-80 % inpainting, against 31.0 dB sigma-25 denoising). Returns
    ``{"clean_psnr_min": dB, "at_sigma": sigma, "stable": bool}``.
    """
    worst, at = math.inf, None
    with torch.no_grad():
        for s in sigmas:
            v = float(np.mean([_psnr(prior(x, s), x) for x in images]))
            if v < worst:
                worst, at = v, s
    return {"clean_psnr_min": round(worst, 2), "at_sigma": round(at, 4), "stable": worst >= STABILITY_MIN_PSNR}


def stability_problem(info: dict) -> str | None:
    """What a prior's recorded stability check (``info["stability"]``) found wrong, or None
    when it passed or was never run (priors trained before the check existed)."""
    st = info.get("stability") or {}
    if st.get("stable") is not False:
        return None
    return f"D(x, sigma) is {st['clean_psnr_min']:.1f} dB from a clean x at sigma {st['at_sigma']:g}"


def _optim_state_tensors(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for i, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"{i}.{k}"] = torch.as_tensor(v).detach().cpu().contiguous()
    return out


def _load_optim_state(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    sd = opt.state_dict()
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        i, k = key.split(".", 1)
        state.setdefault(int(i), {})[k] = v
    sd["state"] = state
    opt.load_state_dict(sd)


def _save_checkpoint(ckpt: Path, step: int, net, ema, opt, cfg: TrainConfig, extra: dict) -> None:
    from safetensors.torch import save_file

    ckpt.mkdir(parents=True, exist_ok=True)
    for name, sd in (
        ("net", net.state_dict()),
        ("ema", ema.state_dict()),
        ("optim", _optim_state_tensors(opt)),
    ):
        tmp = ckpt / f".{name}.safetensors.tmp"
        save_file({k: v.detach().cpu().contiguous() for k, v in sd.items()}, str(tmp))
        os.replace(tmp, ckpt / f"{name}.safetensors")
    state = {"step": step, "config": _jsonable(asdict(cfg)), **extra}
    tmp = ckpt / ".state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, ckpt / "state.json")


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def train(
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    cfg: TrainConfig | None = None,
    *,
    device: str = "cpu",
    resume: bool = False,
    val_dir: str | os.PathLike | None = None,
    val_count: int = 4,
    val_crop: int = 256,
    max_minutes: float | None = None,
    callback: Callable[[dict], None] | None = None,
) -> Path:
    """Train a prior and write a ready-to-use prior directory into ``out_dir``.

    Parameters
    ----------
    data_dir : path
        Folder of training images (searched recursively; any sizes, gray or RGB).
    out_dir : path
        Receives ``config.json`` + ``model.safetensors`` (EMA weights), ``log.jsonl`` and
        ``checkpoint/`` (weights, EMA, optimizer state, step) for ``resume``.
    cfg : TrainConfig, optional
        The recipe; on ``resume`` the stored recipe is used, except ``steps``.
    device : str
        ``"cpu"`` or ``"cuda"``.
    resume : bool
        Continue from ``out_dir/checkpoint``.
    val_dir : path, optional
        Images for the learning curve (PSNR at sigma=25); the first ``val_count`` are
        centre-cropped to ``val_crop``.
    max_minutes : float, optional
        Stop (with a checkpoint) after this much wall time.
    callback : callable, optional
        Called with a dict (step, loss, lr, steps_per_s, and val_psnr when measured).

    Returns
    -------
    Path
        ``out_dir``.

    Examples
    --------
    >>> from restore.train import TrainConfig, train
    >>> cfg = TrainConfig(steps=2, batch_size=2, crop=32, channels=(8, 8), blocks=(1, 1))
    >>> train("imgs/", "my-prior/", cfg)  # doctest: +SKIP
    """
    cfg = cfg or TrainConfig()
    if cfg.prediction not in PREDICTIONS:
        raise InputError(f"prediction must be one of {', '.join(PREDICTIONS)}, got {cfg.prediction!r}")
    out = Path(out_dir)
    ckpt = out / "checkpoint"
    dev = torch.device(device)
    start_step = 0
    state = {}
    if resume:
        if not (ckpt / "state.json").is_file():
            raise InputError(f"{ckpt}: no checkpoint to resume from")
        state = json.loads((ckpt / "state.json").read_text())
        stored = state["config"]
        stored["steps"] = cfg.steps
        stored.setdefault("prediction", "eps")  # checkpoints written before EDM existed
        for k in ("channels", "blocks"):
            stored[k] = tuple(stored[k])
        cfg = TrainConfig(**stored)
        start_step = int(state["step"])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)  # parameter init only; data draws use explicit generators
    schedule = VPSchedule(**cfg.schedule)
    net = UNet(3, tuple(cfg.channels), tuple(cfg.blocks), cfg.unshuffle, cfg.emb_dim).to(dev)
    ema = UNet(3, tuple(cfg.channels), tuple(cfg.blocks), cfg.unshuffle, cfg.emb_dim).to(dev)
    ema.load_state_dict(net.state_dict())
    ema.requires_grad_(False)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if resume:
        net.load_state_dict(load_state_dict(ckpt / "net.safetensors"))
        ema.load_state_dict(load_state_dict(ckpt / "ema.safetensors"))
        _load_optim_state(opt, load_state_dict(ckpt / "optim.safetensors"))

    # NHWC suits cuDNN's bf16 kernels and oneDNN's fp32 ones (`restore train` on this
    # project's 2-core CPU, batch 8 x 128^2: 1.14 -> 1.24 steps/s, same losses)
    net.to(memory_format=torch.channels_last)
    ema.to(memory_format=torch.channels_last)
    net_params = list(net.parameters())
    ema_params = list(ema.parameters())
    paths = find_images(Path(data_dir))
    bank = ImageBank(paths, dev, cfg.crop)
    val_images = []
    if val_dir is not None:
        for p in find_images(Path(val_dir))[:val_count]:
            arr = _load_rgb_uint8(p)
            if arr is None:
                continue
            x = torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255
            H, W = x.shape[-2:]
            c = min(val_crop, H, W)
            y0, x0 = (H - c) // 2, (W - c) // 2
            val_images.append(x[..., y0 : y0 + c, x0 : x0 + c].to(dev))
    ema_prior = Prior(ema, schedule, tile=None, prediction=cfg.prediction, sigma_data=cfg.sigma_data)

    g = torch.Generator().manual_seed(cfg.seed * 1000003 + start_step)
    gdev = torch.Generator(device=dev).manual_seed(cfg.seed * 7919 + start_step)
    log_path = out / "log.jsonl"
    t_start = time.time()
    elapsed_before = float(state.get("train_seconds", 0.0))
    use_amp = cfg.amp and dev.type == "cuda"
    info_base = {
        "data": str(data_dir),
        "images": len(bank.images),
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
    }
    step = start_step
    loss_acc, n_acc, t_last = 0.0, 0, time.time()

    if val_images:
        check_images = val_images
    else:  # fixed crops of the training images (a stability check needs no held-out data)
        check_images = [c[None] for c in bank.batch(2, torch.Generator().manual_seed(1), 0.0)[0]]

    def finish(step: int, val: float | None) -> None:
        secs = elapsed_before + time.time() - t_start
        extra = {"train_seconds": secs, "last_val_psnr_sigma25": val}
        _save_checkpoint(ckpt, step, net, ema, opt, cfg, extra)
        info = {**info_base, "steps": step, "batch_size": cfg.batch_size, "crop": cfg.crop,
                "train_seconds": round(secs, 1), "val_psnr_sigma25": val,
                "stability": stability_check(ema_prior, check_images)}
        save_prior(out, ema, schedule, info, prediction=cfg.prediction, sigma_data=cfg.sigma_data)

    last_val = state.get("last_val_psnr_sigma25")
    while step < cfg.steps:
        net.train()
        x0, gray = bank.batch(cfg.batch_size, g, cfg.gray_prob)
        t = _sample_t(cfg.batch_size, cfg, schedule, g).to(dev)
        # continuous t: interpolate abar in log-sigma (same map the prior uses)
        sig = schedule.sigma_from_t(t.cpu()).to(dev)
        sn = (2.0 * sig).float()[:, None, None, None]  # noise std in the network's [-1, 1] units
        noise = torch.randn(x0.shape, generator=gdev, device=dev)
        noise = torch.where(gray[:, None, None, None], noise[:, :1].expand_as(noise), noise)
        x0n = 2 * x0 - 1
        xn = x0n + sn * noise
        xt = vp_scale(sn) * xn
        if cfg.prediction == "eps":
            target = noise
        else:  # F's target makes c_skip xn + c_out F = x0n
            c_skip, c_out = preconditioning("edm", sn, cfg.sigma_data)
            target = (x0n - c_skip * xn) / c_out
        xt = xt.contiguous(memory_format=torch.channels_last)
        for gr in opt.param_groups:
            gr["lr"] = _lr_at(step, cfg)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
            pred = net(xt, t.float())
        loss = F.mse_loss(pred.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        d = min(cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, net_params, 1 - d)
        loss_acc += loss.item() if (step % 10 == 0 or step == cfg.steps) else 0.0
        n_acc += 1 if (step % 10 == 0 or step == cfg.steps) else 0
        val = None
        if val_images and (step % cfg.eval_every == 0 or step == cfg.steps):
            val = validation_psnr(ema_prior, val_images)
            last_val = val
        timeout = max_minutes is not None and (time.time() - t_start) > 60 * max_minutes
        if step % 50 == 0 or val is not None or step == cfg.steps or timeout:
            now = time.time()
            rec = {
                "step": step,
                "loss": loss_acc / n_acc if n_acc else None,
                "lr": _lr_at(step - 1, cfg),
                "steps_per_s": 50 / max(1e-9, now - t_last) if step % 50 == 0 else None,
                "seconds": round(elapsed_before + now - t_start, 1),
            }
            if val is not None:
                rec["val_psnr_sigma25"] = round(val, 3)
            with open(log_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
            if callback:
                callback(rec)
            loss_acc, n_acc, t_last = 0.0, 0, now
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or timeout:
            finish(step, last_val)
        if timeout:
            break
    return out
