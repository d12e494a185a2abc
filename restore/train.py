"""Train a prior on a folder of images: ``restore train DATA_DIR -o OUT_DIR``.

Recipe (see ``pretrained/README.md`` for the runs behind it):

* random crops, flips and 90-degree rotations (the eight symmetries of the square) and a
  fraction of crops turned gray (replicated to 3 channels, channel-identical noise), so one
  network serves gray and RGB. Every image is decoded once and held on the training device
  in one flat uint8 buffer; crops, symmetries, gray, timesteps and noise are all drawn
  there with a device generator (:class:`CropBank`), so the hot loop has no DataLoader,
  no host copy and no host sync;
* the DDPM ``eps`` loss (Ho et al. 2020), or with ``prediction="edm"`` the EDM
  preconditioning and loss (Karras et al. 2022); timesteps drawn half uniformly over the
  whole schedule (what a sampler visits) and half log-normally in sigma around the noise
  levels restoration works at (Karras et al. 2022, ``P_mean``/``P_std``);
* AdamW (fused on CUDA), linear warm-up then cosine decay, gradient clipping, EMA of the
  weights; on CUDA bf16 autocast, channels-last and optionally ``torch.compile``;
* a learning curve: PSNR of the EMA denoiser at sigma=25/255 on validation images, logged
  beside the loss and the throughput (crops/s, achieved TFLOP/s) in ``log.jsonl``;
* checkpoints (safetensors: weights, EMA, optimizer state, generator state) every N steps,
  on ``max_minutes``, on SIGTERM/SIGINT and when a ``STOP`` file appears in the output
  folder; ``resume`` continues bit for bit where the checkpoint left off;
* ``init``: warm-start from a prior directory (its architecture and weights); the
  cumulative steps and device minutes carry over into the new prior's config;
* every checkpoint also writes a ready-to-use prior directory (EMA weights).

The loop is split into its parts: data (:class:`CropBank`, :func:`load_images`), noise
levels (:class:`NoiseLevels`), one optimisation step (:class:`Trainer`), checkpoints
(:func:`save_checkpoint`, :func:`load_checkpoint`) and validation
(:func:`validation_psnr`, :func:`stability_check`); :func:`train` wires them together.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError, RestoreError, UsageError
from .io import check_writable, file_mode, read_image, to_uint8
from .prior.denoiser import PREDICTIONS, Prior, preconditioning, vp_scale
from .prior.schedule import VPSchedule, sigma_from_t_table, t_from_sigma_table
from .paths import CONFIG_FILE, REPLACED_DIR, WEIGHTS_FILE
from .prior.unet import UNet
from .prior.weights import load_prior, load_state_dict, resolve_prior_dir, save_prior

__all__ = ["CropBank", "DivergenceGuard", "NoiseLevels", "TrainConfig", "Trainer", "TrainingDiverged", "find_images",
           "load_images", "train", "train_flops_per_crop"]

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
    log_every: int = 50
    amp: bool = True  # bf16 autocast on CUDA only (fp32 on CPU: bf16 is slow there)
    compile: bool = False  # torch.compile the forward + loss (CUDA; measured in benchmarks/train_speed.py)
    channels_last: bool = True  # NHWC activations and weights (cuDNN bf16, oneDNN fp32)
    fused_adam: bool = True  # one fused AdamW kernel (CUDA only)
    prediction: str = "eps"  # "eps" (DDPM, the shipped prior) or "edm" (Karras et al. 2022)
    sigma_data: float = 0.5  # EDM's data std in [-1, 1] units
    mismatch: float = 0.0  # fraction of crops noised below the level the network is told (u ~ U(0, 1) of it)


def find_images(root: Path) -> list[Path]:
    """The image files under ``root`` and its subfolders, by extension; hidden files and folders
    (a name starting with a dot: macOS's ``._photo.jpg`` copies, ``.thumbnails``) left out, as
    the folder runs leave them."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _load_rgb_uint8(path: Path) -> np.ndarray | None:
    try:
        img = to_uint8(read_image(path).array)
    except RestoreError:
        return None
    if img.ndim == 3 and img.shape[2] <= 2:  # gray + alpha: the gray (the crops are RGB)
        img = img[:, :, 0]
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def load_images(paths: list[Path], workers: int | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Decode ``paths`` to RGB uint8 arrays (threads: the decoders release the GIL);
    returns ``(arrays, skipped paths)``."""
    from concurrent.futures import ThreadPoolExecutor

    workers = workers or min(16, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as ex:
        arrays = list(ex.map(_load_rgb_uint8, paths))
    return [a for a in arrays if a is not None], [str(p) for p, a in zip(paths, arrays) if a is None]


# -- data ------------------------------------------------------------------------------------
class CropBank:
    """Training images held once on the device; random crops drawn there.

    All images live in one flat uint8 buffer (HWC, row-major, one offset per image), so a
    batch of ``n`` crops is one gather: for every output pixel the source index is computed
    from the image's offset and width, the crop's corner and one of the eight symmetries of
    the square (transpose, row flip, column flip), all drawn with a device generator.
    Images are picked with probability proportional to their area; images smaller than a
    crop are edge-padded once at load. The gathered batch is NHWC in memory, i.e. an NCHW
    tensor in channels-last layout, which the network wants anyway.
    """

    def __init__(self, images: list[np.ndarray], device: torch.device | str, crop: int) -> None:
        if not images:
            raise InputError("no readable training images found")
        dev = torch.device(device)
        c = int(crop)
        flat, offs, hs, ws = [], [], [], []
        pos = 0
        for a in images:
            H, W = a.shape[:2]
            if H < c or W < c:
                a = np.pad(a, ((0, max(0, c - H)), (0, max(0, c - W)), (0, 0)), mode="edge")
                H, W = a.shape[:2]
            flat.append(torch.from_numpy(np.ascontiguousarray(a)).reshape(-1))
            offs.append(pos)
            hs.append(H)
            ws.append(W)
            pos += H * W * 3
        self.flat = torch.cat(flat).to(dev)
        self.offset = torch.tensor(offs, dtype=torch.int64, device=dev)
        self.h = torch.tensor(hs, dtype=torch.int64, device=dev)
        self.w = torch.tensor(ws, dtype=torch.int64, device=dev)
        self.weights = (self.h * self.w).double()
        self.crop = c
        self.device = dev
        self._ar = torch.arange(c, device=dev)
        self._ch = torch.arange(3, device=dev)

    def __len__(self) -> int:
        return int(self.offset.numel())

    @property
    def nbytes(self) -> int:
        return int(self.flat.numel())

    def batch(self, n: int, g: torch.Generator, gray_prob: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` random crops in [0, 1], ``(n, 3, crop, crop)`` channels-last, and which of them
        are gray (``(n,)`` bool)."""
        dev, c = self.device, self.crop
        idx = torch.multinomial(self.weights, n, replacement=True, generator=g)
        H, W, off = self.h[idx], self.w[idx], self.offset[idx]
        r = torch.rand(n, 4, generator=g, device=dev)
        y0 = (r[:, 0] * (H - c + 1)).long().clamp_(max=H - c)
        x0 = (r[:, 1] * (W - c + 1)).long().clamp_(max=W - c)
        k = (r[:, 2] * 8).long().clamp_(max=7)
        tr, fr, fc = [((k >> b) & 1).bool()[:, None, None] for b in range(3)]
        u, v = self._ar[None, :, None], self._ar[None, None, :]
        uu = torch.where(fr, c - 1 - u, u)  # (n, c, 1)
        vv = torch.where(fc, c - 1 - v, v)  # (n, 1, c)
        dy = torch.where(tr, vv, uu)  # (n, c, c) after broadcasting
        dx = torch.where(tr, uu, vv)
        pix = off[:, None, None] + ((y0[:, None, None] + dy) * W[:, None, None] + x0[:, None, None] + dx) * 3
        x = self.flat[pix[..., None] + self._ch].permute(0, 3, 1, 2).float().div_(255.0)
        gray = r[:, 3] < gray_prob
        lum = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand_as(x)
        x = torch.where(gray[:, None, None, None], lum, x)
        return x.contiguous(memory_format=torch.channels_last), gray


class NoiseLevels:
    """Timestep draws on the device (the schedule's own interpolation, its table held there,
    so a step needs no host copy): half uniform over the schedule, half log-normal in sigma."""

    def __init__(self, schedule: VPSchedule, device: torch.device | str) -> None:
        self.log_s = torch.log(schedule.sigmas()).to(device)  # float64, as VPSchedule
        self.T = schedule.num_timesteps

    def sigma_from_t(self, t: torch.Tensor) -> torch.Tensor:
        return sigma_from_t_table(self.log_s, t)

    def t_from_sigma(self, sigma: torch.Tensor) -> torch.Tensor:
        return t_from_sigma_table(self.log_s, sigma)

    def sample(self, n: int, cfg: TrainConfig, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``(t, sigma)``: continuous timesteps and their noise levels (image units), ``(n,)``."""
        dev = self.log_s.device
        r = torch.rand(n, 2, generator=g, device=dev, dtype=torch.float64)
        z = torch.randn(n, generator=g, device=dev, dtype=torch.float64)
        t_u = r[:, 0] * (self.T - 1)
        # log-normal sigma in the network's [-1, 1] units; image units are half of that
        t_ln = self.t_from_sigma(0.5 * torch.exp(cfg.p_mean + cfg.p_std * z))
        t = torch.where(r[:, 1] < cfg.p_uniform, t_u, t_ln)
        return t, self.sigma_from_t(t)


# -- one optimisation step -------------------------------------------------------------------
def diffusion_loss(net: torch.nn.Module, x0: torch.Tensor, gray: torch.Tensor, noise: torch.Tensor,
                   t: torch.Tensor, sigma: torch.Tensor, prediction: str = "eps",
                   sigma_data: float = 0.5, amp: bool = False, channels_last: bool = True,
                   actual: torch.Tensor | None = None) -> torch.Tensor:
    """The training loss of one batch: clean ``x0`` in [0, 1], its noise, timesteps and
    noise levels (image units). Pure tensor code (no host sync), so it compiles whole.

    ``actual`` (``(B,)``, at most 1): the noise really added, as a fraction of ``sigma``
    (the level the network is told); the target is still ``x0`` (for ``eps``, the noise
    that is there, divided by the told level). None: all 1, the standard loss."""
    noise = torch.where(gray[:, None, None, None], noise[:, :1].expand_as(noise), noise)
    sn = (2.0 * sigma).float()[:, None, None, None]  # noise std in the network's [-1, 1] units
    if actual is not None:
        noise = noise * actual.float()[:, None, None, None]  # then xn - x0n = sn * noise still
    x0n = 2 * x0 - 1
    xn = x0n + sn * noise
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    xt = (vp_scale(sn) * xn).contiguous(memory_format=fmt)
    if prediction == "eps":
        target = noise
    else:  # F's target makes c_skip xn + c_out F = x0n
        c_skip, c_out = preconditioning("edm", sn, sigma_data)
        target = (x0n - c_skip * xn) / c_out
    with torch.autocast(x0.device.type, dtype=torch.bfloat16, enabled=amp):
        pred = net(xt, t.float())
    return F.mse_loss(pred.float(), target)


def _lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    p = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * p)))


def _make_net(cfg: TrainConfig) -> UNet:
    return UNet(3, tuple(cfg.channels), tuple(cfg.blocks), cfg.unshuffle, cfg.emb_dim)


class Trainer:
    """Network, EMA copy, optimiser and the device generators: :meth:`step` runs one
    optimisation step without a host sync (the loss stays on the device until
    :meth:`mean_loss` reads it)."""

    def __init__(self, cfg: TrainConfig, bank: CropBank, schedule: VPSchedule, device: torch.device) -> None:
        self.cfg, self.bank, self.device = cfg, bank, device
        torch.manual_seed(cfg.seed)  # parameter init only; data draws use explicit generators
        fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.net = _make_net(cfg).to(device, memory_format=fmt)
        self.ema = _make_net(cfg).to(device, memory_format=fmt)
        self.ema.load_state_dict(self.net.state_dict())
        self.ema.requires_grad_(False)
        cuda = device.type == "cuda"
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                     **({"fused": True} if (cuda and cfg.fused_adam) else {}))
        self.levels = NoiseLevels(schedule, device)
        self.gen = torch.Generator(device=device).manual_seed(cfg.seed)
        self.amp = cfg.amp and cuda
        self.loss_fn = torch.compile(diffusion_loss, dynamic=False) if (cfg.compile and cuda) else diffusion_loss
        self._params = list(self.net.parameters())
        self._ema_params = list(self.ema.parameters())
        self._loss_sum = torch.zeros((), device=device)
        self._loss_n = 0
        self.lr_scale = 1.0  # halved at each rollback after a divergence (DivergenceGuard)

    def step(self, step: int) -> None:
        """Optimisation step number ``step`` (0-based: sets its learning rate)."""
        cfg = self.cfg
        x0, gray = self.bank.batch(cfg.batch_size, self.gen, cfg.gray_prob)
        t, sigma = self.levels.sample(cfg.batch_size, cfg, self.gen)
        noise = torch.randn(x0.shape, generator=self.gen, device=self.device)
        actual = None
        if cfg.mismatch > 0:  # drawn only then: runs without it keep their random stream
            u = torch.rand(cfg.batch_size, 2, generator=self.gen, device=self.device)
            actual = torch.where(u[:, 0] < cfg.mismatch, u[:, 1], torch.ones_like(u[:, 1]))
        for gr in self.opt.param_groups:
            gr["lr"] = _lr_at(step, cfg) * self.lr_scale
        self.net.train()
        loss = self.loss_fn(self.net, x0, gray, noise, t, sigma, cfg.prediction, cfg.sigma_data, self.amp,
                            cfg.channels_last, actual)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self._params, cfg.grad_clip, foreach=True)
        self.opt.step()
        d = min(cfg.ema_decay, (2 + step) / (11 + step))
        with torch.no_grad():
            torch._foreach_lerp_(self._ema_params, self._params, 1 - d)
            self._loss_sum += loss.detach()
        self._loss_n += 1

    def snapshot(self) -> dict:
        """A copy of everything a step changes (weights, EMA, optimiser, generator), kept on
        the device (the base network's 320 MB copy takes well under a millisecond there)."""
        return {"net": {k: v.clone() for k, v in self.net.state_dict().items()},
                "ema": {k: v.clone() for k, v in self.ema.state_dict().items()},
                "opt": copy.deepcopy(self.opt.state_dict()), "gen": self.gen.get_state()}

    def restore(self, snap: dict) -> None:
        self.net.load_state_dict(snap["net"])
        self.ema.load_state_dict(snap["ema"])
        self.opt.load_state_dict(copy.deepcopy(snap["opt"]))
        self.gen.set_state(snap["gen"])
        self._loss_sum.zero_()
        self._loss_n = 0

    def mean_loss(self) -> float | None:
        """Mean loss since the last call (one host sync)."""
        if not self._loss_n:
            return None
        v = float(self._loss_sum) / self._loss_n
        self._loss_sum.zero_()
        self._loss_n = 0
        return v


def train_flops_per_crop(net: torch.nn.Module, crop: int) -> float:
    """FLOPs of one training crop (forward + backward), counted by
    ``torch.utils.flop_counter`` on a batch of 2 (the count is linear in the batch)."""
    from torch.utils.flop_counter import FlopCounterMode

    dev = next(net.parameters()).device
    x = torch.randn(2, 3, crop, crop, device=dev)
    with FlopCounterMode(display=False) as fc:
        net(x, torch.full((2,), 100.0, device=dev)).float().square().mean().backward()
    net.zero_grad(set_to_none=True)
    return fc.get_total_flops() / 2


# -- checkpoints -----------------------------------------------------------------------------
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


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _beside(ckpt: Path, what: str) -> Path:
    """The hidden folder beside ``ckpt`` a checkpoint is written into (``new``) or the last one
    moved to while the new one takes its place (``old``)."""
    return ckpt.with_name(f".{ckpt.name}.{what}")


def recover_checkpoint(ckpt: Path) -> None:
    """Put back a whole checkpoint where a save was cut off between its two renames
    (:func:`save_checkpoint`): the new one where it is whole (its ``state.json`` is written
    last), else the last one; what a cut-off save left half-written beside it is removed."""
    new, old = _beside(ckpt, "new"), _beside(ckpt, "old")
    if not ckpt.exists():
        for d in (new, old):
            if (d / "state.json").is_file():
                os.replace(d, ckpt)
                break
    if ckpt.exists():
        for d in (new, old):
            shutil.rmtree(d, ignore_errors=True)


def save_checkpoint(ckpt: Path, step: int, tr: Trainer, extra: dict) -> None:
    """Weights, EMA, optimiser and generator state (safetensors) + ``state.json``, written
    into a folder beside ``ckpt`` that then takes its place: the checkpoint is whole, the
    last one or this one, wherever a save stops (a kill, a full disk; its files were replaced
    one by one, and a save that failed half way left this step's weights under the last
    step's state, resumed from in silence)."""
    from safetensors.torch import save_file

    recover_checkpoint(ckpt)
    new, old = _beside(ckpt, "new"), _beside(ckpt, "old")
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    for name, sd in (
        ("net", tr.net.state_dict()),
        ("ema", tr.ema.state_dict()),
        ("optim", _optim_state_tensors(tr.opt)),
        ("rng", {"device": tr.gen.get_state()}),
    ):
        f = new / f"{name}.safetensors"
        save_file({k: v.detach().cpu().contiguous() for k, v in sd.items()}, str(f))
        os.chmod(f, file_mode())  # safetensors writes 0600
    state = {"step": step, "config": _jsonable(asdict(tr.cfg)), **extra}
    (new / ".state.json.tmp").write_text(json.dumps(state, indent=2))  # whole once named: a recovery trusts it
    os.replace(new / ".state.json.tmp", new / "state.json")
    if ckpt.exists():
        os.replace(ckpt, old)
    os.replace(new, ckpt)
    shutil.rmtree(old, ignore_errors=True)


def _write_failure(e: BaseException) -> str | None:
    """Why a file's write failed (a full disk, a folder made read-only), where ``e`` is one: an
    OSError, or safetensors' own error for one (its Rust writer's "No space left on device");
    None for any other error."""
    from safetensors import SafetensorError

    if not isinstance(e, (OSError, SafetensorError)):
        return None
    return getattr(e, "strerror", None) or str(e).split(":")[-1].strip() or type(e).__name__


def load_checkpoint(ckpt: Path, tr: Trainer) -> None:
    """Restore what :func:`save_checkpoint` wrote into ``tr`` (a checkpoint written before
    generator states were stored reseeds the generator from the step)."""
    tr.net.load_state_dict(load_state_dict(ckpt / "net.safetensors"))
    tr.ema.load_state_dict(load_state_dict(ckpt / "ema.safetensors"))
    _load_optim_state(tr.opt, load_state_dict(ckpt / "optim.safetensors"))
    if (ckpt / "rng.safetensors").is_file():
        tr.gen.set_state(load_state_dict(ckpt / "rng.safetensors")["device"])


def _stored_config(state: dict, steps: int | None) -> TrainConfig:
    """The checkpoint's recipe, run to ``steps`` (None: the steps it planned)."""
    stored = dict(state["config"])
    stored["steps"] = int(stored["steps"]) if steps is None else steps
    stored.setdefault("prediction", "eps")  # checkpoints written before EDM existed
    for k in ("channels", "blocks"):
        stored[k] = tuple(stored[k])
    known = TrainConfig.__dataclass_fields__
    return TrainConfig(**{k: v for k, v in stored.items() if k in known})


# -- validation ------------------------------------------------------------------------------
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


def _val_images(val_dir, val_count: int, val_crop: int, dev) -> list[torch.Tensor]:
    out = []
    if val_dir is None:
        return out
    for p in find_images(Path(val_dir))[:val_count]:
        arr = _load_rgb_uint8(p)
        if arr is None:
            continue
        x = torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255
        H, W = x.shape[-2:]
        c = min(val_crop, H, W)
        y0, x0 = (H - c) // 2, (W - c) // 2
        out.append(x[..., y0 : y0 + c, x0 : x0 + c].to(dev))
    return out


class _StopFlag:
    """SIGTERM/SIGINT ask the loop to checkpoint and stop (restored on exit)."""

    def __init__(self) -> None:
        self.signal: str | None = None  # the name of the signal that asked to stop
        self._old = {}

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGTERM, signal.SIGINT):
                self._old[s] = signal.signal(s, self._handle)
        return self

    @property
    def set(self) -> bool:
        return self.signal is not None

    def _handle(self, signum, frame) -> None:
        self.signal = signal.Signals(signum).name

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


class DivergenceGuard:
    """Roll a run back when its loss blows up, and go on at half the learning rate.

    At each log interval: a loss that is not finite, or above ``spike`` times the lowest
    logged so far once the run has learned something (lowest < 0.5), is a divergence; the
    trainer goes back to the last interval that was not one, with ``lr_scale`` halved. (A
    base-size run at lr 8e-4, batch 256, jumped from 0.15 to 366 at step 400 and then sat
    at 1.0 -- a network predicting zero -- for the rest of its lease, 2026-12-04.)
    After ``most`` rollbacks the run stops with :class:`TrainingDiverged`.
    """

    def __init__(self, tr: Trainer, step: int, spike: float = 3.0, most: int = 6) -> None:
        self.tr, self.spike, self.most = tr, spike, most
        self.low = math.inf
        self.rollbacks = 0
        self.good = (step, tr.snapshot())

    def check(self, step: int, loss: float | None) -> int | None:
        """The step to continue from after a rollback, else None (and this state is kept)."""
        if loss is None:
            return None
        bad = not math.isfinite(loss) or (self.low < 0.5 and loss > self.spike * self.low)
        if not bad:
            self.low = min(self.low, loss)
            self.good = (step, self.tr.snapshot())
            return None
        self.rollbacks += 1
        if self.rollbacks > self.most:
            raise TrainingDiverged(f"the loss diverged {self.rollbacks} times (last {loss:.3g} at step {step}, "
                                   f"lr x{self.tr.lr_scale:g}); lower --lr")
        back, snap = self.good
        self.tr.restore(snap)
        self.tr.lr_scale *= 0.5
        return back


class TrainingDiverged(RestoreError):
    """Training diverged again and again after rollbacks at a halved learning rate."""


def train(
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    cfg: TrainConfig | None = None,
    *,
    device: str = "cpu",
    resume: bool = False,
    init: str | os.PathLike | None = None,
    val_dir: str | os.PathLike | None = None,
    val_count: int | None = None,
    val_crop: int = 256,
    max_minutes: float | None = None,
    callback: Callable[[dict], None] | None = None,
    overwrite: bool = False,
) -> Path:
    """Train a prior and write a ready-to-use prior directory into ``out_dir``.

    Parameters
    ----------
    data_dir : path
        Folder of training images (searched recursively; any sizes, gray or RGB).
    out_dir : path
        Receives ``config.json`` + ``model.safetensors`` (EMA weights), ``log.jsonl`` and
        ``checkpoint/`` (weights, EMA, optimizer and generator state, step) for ``resume``.
    cfg : TrainConfig, optional
        The recipe; on ``resume`` the stored recipe is used, except ``steps``,
        ``checkpoint_every`` and ``eval_every``, which are ``cfg``'s (``cfg=None``: the
        run's own, to the steps it planned).
    device : str
        ``"cpu"`` or ``"cuda"``.
    resume : bool
        Continue from ``out_dir/checkpoint`` (same result as an uninterrupted run).
    init : path or name, optional
        Warm-start from this prior (a directory or a shipped prior's name): its network
        architecture replaces ``cfg``'s, its weights start both the network and the EMA,
        and its recorded steps and device minutes are carried into the new prior's
        ``info.cumulative``.
    val_dir : path, optional
        Images for the learning curve (PSNR at sigma=25); the first ``val_count`` (default
        4) are centre-cropped to ``val_crop``. On ``resume``, the run's own (with its count
        and crop), as the checkpoint recorded it: another folder or count is refused (the
        curve would change mid-log) unless the run's folder is gone.
    max_minutes : float, optional
        Stop (with a checkpoint) after this much wall time. A ``STOP`` file in ``out_dir``,
        SIGTERM and SIGINT stop the same way.
    callback : callable, optional
        Called with ``{"step": s, "started": True}`` as the steps start (``s``: 0, or the step a
        run resumes at; not logged), then with each log record (step, loss, lr, steps_per_s,
        crops_per_s, tflops, seconds, and val_psnr_sigma25 when measured). ``steps_per_s`` is
        the rate since the last record, checkpoints left out; ``seconds`` the run's wall time,
        reading the images, validation and checkpoints included (and a resumed run's before).
    overwrite : bool
        Start over in an ``out_dir`` that holds a run: once this run is checked and its images
        read (a run refused leaves them), its checkpoint, log and prior are set aside, removed at
        this run's first checkpoint and put back if it fails before.

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
    planned = cfg is None and resume  # resumed without a recipe: to the steps the run planned
    cfg = _checked(cfg, resume, init)
    if resume and overwrite:
        raise InputError("resume and overwrite exclude each other (overwrite starts the run over)")
    out = Path(out_dir)
    dev = torch.device(device)
    if out.is_dir():
        recover_run(out)
    given = cfg
    cfg, start = _starting_point(cfg, out / "checkpoint", resume, init, None if planned else cfg.steps)
    if resume and not planned:  # when to checkpoint and validate: the caller's (they change no weights)
        cfg.checkpoint_every, cfg.eval_every = given.checkpoint_every, given.eval_every
    if resume and start.state.get("val"):  # the run's own learning curve goes on
        v = start.state["val"]
        if Path(v["dir"]).is_dir():
            if val_dir is not None and Path(val_dir).resolve() != Path(v["dir"]):
                raise UsageError(f"the run's learning curve is on {v['dir']}: another --val-dir would change it "
                                 "mid-log (leave it out to go on, or train into another folder)")
            if val_count is not None and val_count != int(v["count"]):
                raise UsageError(f"the run's learning curve is on the first {v['count']} images of {v['dir']} "
                                 "(--val-count): another count would change it mid-log (leave it out to go on)")
            val_dir, val_count, val_crop = v["dir"], int(v["count"]), int(v["crop"])
        elif val_dir is None:
            raise InputError(f"{v['dir']}: the run's validation folder is gone; give --val-dir (another folder) "
                             "to resume")
    val_count = 4 if val_count is None else val_count
    with torch.device("meta"):  # the network's own rule, asked of one built without memory
        mult = _make_net(cfg).size_multiple
    if cfg.crop % mult:
        raise InputError(f"crop must be a multiple of {mult} (the network halves it {len(cfg.channels) - 1} times "
                         f"after a {cfg.unshuffle}x pixel unshuffle), got {cfg.crop}")
    # at its last step with its prior behind (its write failed): the prior is written from the checkpoint
    finish = resume and start.step == cfg.steps and _prior_step(out) != start.step
    if resume and start.step >= cfg.steps and not finish:
        raise InputError(f"{out}: the run is at step {start.step} already; give --steps above {start.step} to "
                         "train on")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    check_writable(out)  # before the images are read and the steps run (a log it could not write: a traceback)
    import warnings

    data = _data_record(data_dir, start.state if resume else None)
    paths = find_images(Path(data_dir))
    images, skipped = load_images(paths)
    if not images:
        raise InputError(f"{data_dir}: no readable training images ("
                         + (f"{len(paths)} image files, none readable: {_some(skipped)}" if paths else
                            f"no {', '.join(sorted(IMAGE_EXTS))} files in it or its subfolders") + ")")
    if skipped:  # said, not only counted in config.json
        warnings.warn(f"{len(skipped)} of {len(paths)} image files could not be read and are left out: "
                      f"{_some(skipped)}", stacklevel=2)
    small = sum(min(a.shape[:2]) < cfg.crop for a in images)
    if small:  # said, not padded in silence (config.json records the crop asked for)
        warnings.warn(f"{small} of {len(images)} training images are smaller than the {cfg.crop} px crop: their crops "
                      "are edge-padded (lower --crop)", stacklevel=2)
    if resume and isinstance(start.state.get("data"), str) and not _same_folder(
            start.state["data"], data["data"], start.state.get("data_resolved")):
        warnings.warn(f"resuming on {data_dir}, where the run trained on {start.state['data']} before (both are "
                      "recorded: data, data_before)", stacklevel=2)
    bank = CropBank(images, dev, cfg.crop)
    del images
    schedule = VPSchedule(**cfg.schedule)
    tr = Trainer(cfg, bank, schedule, dev)
    if start.weights is not None:
        tr.net.load_state_dict(start.weights)
        tr.ema.load_state_dict(start.weights)
    if resume:
        load_checkpoint(out / "checkpoint", tr)
        tr.lr_scale = float(start.state.get("lr_scale", 1.0))
    val = _val_images(val_dir, val_count, val_crop, dev)
    if val_dir is not None and not val:  # an empty folder gave no validation at all, in silence
        raise InputError(f"--val-dir {val_dir}: no readable images")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)  # here: a run refused or failed before it leaves no folder
    try:
        with _TrainLock(out):  # one run at a time in a folder (two wrote one log and checkpoint, one crashed)
            if overwrite and not resume:  # asked, and checked: the old run and its prior are set aside, and go at
                _set_aside(out)  # the first checkpoint (a first step out of memory had lost them)
            for f in out.glob(".model.*.tmp"):  # what a killed save of the prior left (save_prior's temporary)
                f.unlink(missing_ok=True)
            if resume:
                _log_back_to(out / "log.jsonl", start.step)
            run = _Run(tr, schedule, out, start, val, callback,
                       {**data, "images": len(bank), "skipped": len(skipped)},
                       {"dir": str(Path(val_dir).resolve()), "count": val_count, "crop": val_crop} if val else None)
            try:
                if finish:
                    run.save(start.step, start.state.get("last_val_psnr_sigma25"), start.state.get("last_val_step"))
                else:
                    run.loop(max_minutes)
            except BaseException:
                if not run.saved:  # failed before its first checkpoint: the old run back as it was
                    _put_back(out, failed=True)
                raise
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):  # failed before writing anything (out of memory
            out.rmdir()  # at the first step, another run training into it)
        raise
    return out


#: the old run an --overwrite sets aside until the new one's first checkpoint, and what it holds
ASIDE, ASIDE_NAMES = REPLACED_DIR, ("checkpoint", ".checkpoint.new", ".checkpoint.old", "log.jsonl", CONFIG_FILE,
                                   WEIGHTS_FILE)


def recover_run(out: Path) -> None:
    """What a killed run left in ``out``, put right before anything reads it: a checkpoint save
    cut off between its renames (:func:`recover_checkpoint`), and an old run set aside by an
    ``--overwrite`` killed before its first checkpoint (put back, under the folder's lock)."""
    recover_checkpoint(out / "checkpoint")
    if (out / ASIDE).is_dir():
        with _TrainLock(out):
            _put_back(out)


def _set_aside(out: Path) -> None:
    aside = out / ASIDE
    shutil.rmtree(aside, ignore_errors=True)
    aside.mkdir()
    for name in ASIDE_NAMES:
        if (out / name).exists():
            os.replace(out / name, aside / name)


def _put_back(out: Path, failed: bool = False) -> None:
    """The old run :func:`_set_aside` moved: back in place where the new one wrote no checkpoint
    (``failed``: it stopped before its first; else a kill left it so), its log dropped; gone where
    the new one has a checkpoint."""
    aside = out / ASIDE
    if not aside.is_dir():
        return
    if (out / "checkpoint").exists() and not failed:
        shutil.rmtree(aside, ignore_errors=True)
        return
    for name in ASIDE_NAMES:
        if (aside / name).exists():
            if (out / name).is_dir():
                shutil.rmtree(out / name)
            elif (out / name).exists():
                (out / name).unlink()
            os.replace(aside / name, out / name)
    shutil.rmtree(aside, ignore_errors=True)


class _TrainLock:
    """``OUTPUT/.train.lock`` while a run trains into OUTPUT, held with ``flock`` (released by
    the system when its process ends, however it ends) and naming its host, pid and start. A
    second run into the folder is refused while it is held, from another process or another
    call in this one (two wrote one log and checkpoint)."""

    NAME = ".train.lock"

    def __init__(self, out: Path) -> None:
        self.path, self.fd = out / self.NAME, None

    def __enter__(self):
        import socket

        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock (said nowhere else to take)
            return self
        me = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            except OSError as e:  # a folder in its place, a read-only folder
                raise InputError(f"{self.path}: cannot take the folder's lock ({e.strerror or type(e).__name__})"
                                 ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held
                try:
                    held = json.loads(os.read(fd, 4096) or b"{}")
                except ValueError:
                    held = {}
                os.close(fd)
                who = f" (pid {held.get('pid', '?')} on {held.get('host', '?')}, since {held.get('started', '?')})"
                raise InputError(f"{self.path.parent}: another run is training into it{who if held else ''}; wait "
                                 "for it or stop it (its lock goes when it ends), or use another -o") from None
            try:  # the file locked is still the lock's (not one a run ending meanwhile removed)
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(me).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # before the lock goes: a run that opens it then sees another file
            os.close(self.fd)
            self.fd = None


def _prior_step(out: Path) -> int | None:
    """The step the prior in ``out`` was written at (its config's ``info.steps``), None where
    there is none to read."""
    try:
        info = json.loads((out / CONFIG_FILE).read_text()).get("info", {})
        return int(info["steps"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _int(v) -> int:
    """``v`` where it is a count, else 0 (a config's record read as it is)."""
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0


def _some(paths: list[str], n: int = 3) -> str:
    """The first ``n`` of ``paths``, and how many more."""
    return ", ".join(paths[:n]) + (f" and {len(paths) - n} more" if len(paths) > n else "")


def _data_record(data_dir, state: dict | None) -> dict:
    """``{"data": folder}``, and ``"data_before"``: the folders a resumed run trained on before
    this one, where it was resumed on another (their record was replaced in silence)."""
    now, before = str(data_dir), []
    if state and isinstance(state.get("data"), str):
        before = [d for d in state.get("data_before", []) if isinstance(d, str)]
        if not _same_folder(state["data"], now, state.get("data_resolved")):
            before.append(state["data"])
    return {"data": now, "data_resolved": str(Path(now).resolve()), **({"data_before": before} if before else {})}


def _same_folder(was: str, now: str, was_resolved: str | None) -> bool:
    """Whether the folder a run trained on (``was``, as given; ``was_resolved``, where recorded)
    is ``now`` however spelt (``data``, ``/tmp/x/data``, ``./data/``)."""
    here = Path(now).resolve()
    return here == Path(was_resolved or was).resolve() or (was_resolved is None and was == now)


def _log_back_to(log: Path, step: int) -> None:
    """Cut ``log`` back to the records up to ``step`` (a checkpoint's): a run killed after it
    logged steps it did not checkpoint logs them again when resumed (they were there twice)."""
    if not log.is_file():
        return
    lines = log.read_text().splitlines()
    keep = []
    for ln in lines:
        try:
            if int(json.loads(ln)["step"]) > step:
                continue
        except (ValueError, KeyError, TypeError):
            pass  # not ours: kept as it is
        keep.append(ln)
    if len(keep) < len(lines):
        tmp = log.with_name(f".{log.name}.tmp")
        tmp.write_text("".join(ln + "\n" for ln in keep))
        os.replace(tmp, log)


def _checked(cfg: TrainConfig | None, resume: bool, init) -> TrainConfig:
    """A copy of the recipe, refused early when it cannot run."""
    cfg = replace(cfg) if cfg is not None else TrainConfig()
    if cfg.prediction not in PREDICTIONS:
        raise InputError(f"prediction must be one of {', '.join(PREDICTIONS)}, got {cfg.prediction!r}")
    if not 0 <= cfg.mismatch <= 1:
        raise InputError(f"mismatch must be in [0, 1], got {cfg.mismatch}")
    if resume and init is not None:
        raise InputError("resume and init exclude each other (resume continues this run's own checkpoint)")
    if resume:  # the checkpoint's architecture is used (one given that differs is refused by the caller)
        return cfg
    if not cfg.channels or len(cfg.channels) != len(cfg.blocks) or min(cfg.channels) < 1 or min(cfg.blocks) < 1:
        raise InputError(f"channels and blocks need one positive value per level each, got "
                         f"{tuple(cfg.channels)} and {tuple(cfg.blocks)}")
    return cfg


@dataclass
class _Start:
    """Where a run starts: its first step, the checkpoint's state (resume), what came before
    it (``cumulative`` bookkeeping) and the weights it starts from (init)."""

    step: int = 0
    state: dict = field(default_factory=dict)
    before: dict = field(default_factory=lambda: {"steps": 0, "device_minutes": 0.0})
    weights: dict | None = None


def _starting_point(cfg: TrainConfig, ckpt: Path, resume: bool, init,
                    steps: int | None) -> tuple[TrainConfig, _Start]:
    """The recipe and start of a fresh run, a resumed one (the checkpoint's recipe run to
    ``steps``, None: the steps it planned) or a warm start from a prior (its architecture,
    schedule and weights)."""
    if resume:
        if not (ckpt / "state.json").is_file():
            raise InputError(f"{ckpt}: no checkpoint to resume from")
        try:
            state = json.loads((ckpt / "state.json").read_text())
            int(state["step"]), dict(state["config"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(f"{ckpt / 'state.json'}: not a readable checkpoint state ({type(e).__name__}); "
                             "start over with --overwrite (without --resume), or train into another folder") from None
        return _stored_config(state, steps), _Start(int(state["step"]), state, state.get("before", _Start().before))
    if init is None:
        return cfg, _Start()
    d = resolve_prior_dir(init)
    src = load_prior(d)  # config and tensors checked, weights as fp32
    net_cfg = src.net.config()
    if net_cfg.get("arch", "unet") != "unet":
        raise InputError(f"{d}: init needs one of this project's priors (arch unet), not arch {net_cfg['arch']!r}")
    if net_cfg["in_channels"] != 3:
        raise InputError(f"{d}: init needs a 3-channel prior")
    cfg.channels, cfg.blocks = tuple(net_cfg["channels"]), tuple(net_cfg["blocks"])
    cfg.unshuffle, cfg.emb_dim = net_cfg["unshuffle"], net_cfg["emb_dim"]
    cfg.schedule = src.schedule.to_dict()
    cfg.prediction, cfg.sigma_data = src.prediction, src.sigma_data
    cum = src.info.get("cumulative", {})
    before = {
        "steps": int(cum.get("steps", src.info.get("steps", 0))),
        "device_minutes": float(cum.get("device_minutes", src.info.get("train_seconds", 0) / 60)),
        # a prior without the cumulative record (the shipped one): its own steps' crops (counted as 0, the
        # new run's crops were set beside all of its steps)
        "crops": int(cum.get("crops", _int(src.info.get("steps")) * _int(src.info.get("batch_size")))),
        "from": str(d),
    }
    return cfg, _Start(before=before, weights=src.net.state_dict())


class _Run:
    """The training loop of one run: steps, the log, validation, rollbacks, checkpoints and
    the prior written beside them, and the ways it stops (steps done, --max-minutes, STOP,
    SIGTERM/SIGINT)."""

    def __init__(self, tr: Trainer, schedule: VPSchedule, out: Path, start: _Start, val_images: list, callback,
                 data: dict, val: dict | None = None) -> None:
        cfg, dev = tr.cfg, tr.device
        self.tr, self.cfg, self.out, self.start, self.val_images, self.callback = tr, cfg, out, start, val_images, callback
        self.ckpt, self.log_path = out / "checkpoint", out / "log.jsonl"
        self.schedule = schedule
        self.flops_crop = train_flops_per_crop(tr.net, cfg.crop)
        self.ema_prior = Prior(tr.ema, self.schedule, tile=None, prediction=cfg.prediction, sigma_data=cfg.sigma_data)
        # the stability check needs no held-out data: fixed crops of the training images without it
        self.check_images = val_images or [c[None].contiguous() for c in
                                           tr.bank.batch(2, torch.Generator(device=dev).manual_seed(1))[0]]
        self.elapsed_before = float(start.state.get("train_seconds", 0.0))
        self.info = {**data, "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
                     "batch_size": cfg.batch_size, "crop": cfg.crop, "train_flops_per_crop": self.flops_crop,
                     **({"mismatch": cfg.mismatch} if cfg.mismatch else {})}
        self.val = val  # where the learning curve's images come from, for a resumed run
        self.t_start = time.time()
        self.stopped: str | None = None  # why the loop stopped before cfg.steps (None: it did not)
        self.saved = False  # a checkpoint and prior written (an old run set aside by --overwrite goes then)

    def log(self, rec: dict) -> None:
        try:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
        except OSError as e:
            raise InputError(f"{self.log_path}: cannot write the log ({_write_failure(e)})") from None
        if self.callback:
            self.callback(rec)

    def save(self, step: int, val: float | None, val_step: int | None = None) -> None:
        """A checkpoint (to resume) and the prior (EMA weights, config, info) at ``step``;
        ``val``: the last validation PSNR, measured at ``val_step``."""
        tr, cfg, before = self.tr, self.cfg, self.start.before
        secs = self.elapsed_before + time.time() - self.t_start
        extra = {"train_seconds": secs, "last_val_psnr_sigma25": val, "last_val_step": val_step, "before": before,
                 **{k: self.info[k] for k in ("data", "data_resolved", "data_before") if k in self.info},
                 "lr_scale": tr.lr_scale, **({"val": self.val} if self.val else {})}
        try:
            save_checkpoint(self.ckpt, step, tr, extra)
        except Exception as e:  # a full disk, a folder made read-only: the last whole checkpoint stays
            why = _write_failure(e)
            if why is None:
                raise
            shutil.rmtree(_beside(self.ckpt, "new"), ignore_errors=True)  # what it wrote of this one
            raise InputError(f"{self.ckpt}: cannot write the checkpoint of step {step} ({why}); the last one is kept "
                             "(--resume goes on from it)") from None
        cumulative = {
            "steps": before["steps"] + step,
            "device_minutes": round(before["device_minutes"] + secs / 60, 2),
            "crops": (before.get("crops", 0) + step * cfg.batch_size),
        }
        if "from" in before:
            cumulative["init"] = before["from"]
        info = {**self.info, "steps": step, "steps_planned": cfg.steps,
                **({"stopped": self.stopped} if self.stopped else {}),
                "train_seconds": round(secs, 1), "val_psnr_sigma25": val,
                **({"val_step": val_step} if val is not None and val_step is not None else {}),
                "cumulative": cumulative, "stability": stability_check(self.ema_prior, self.check_images)}
        try:
            save_prior(self.out, tr.ema, self.schedule, info, prediction=cfg.prediction, sigma_data=cfg.sigma_data)
            if not self.saved:
                self.saved = True
                shutil.rmtree(self.out / ASIDE, ignore_errors=True)
        except Exception as e:
            why = _write_failure(e)
            if why is None:
                raise
            raise InputError(f"{self.out}: cannot write the prior of step {step} ({why}); the checkpoint is written "
                             "(--resume goes on from it)") from None

    def loop(self, max_minutes: float | None) -> None:
        tr, cfg = self.tr, self.cfg
        step = self.start.step
        last_val = self.start.state.get("last_val_psnr_sigma25")
        last_val_step = self.start.state.get("last_val_step")
        t_last, step_last = time.time(), step
        paused = 0.0  # seconds of checkpoints since the last log record (not training time)
        if tr.device.type == "cuda":
            torch.cuda.synchronize(tr.device)
        guard = DivergenceGuard(tr, step)
        if self.callback:  # where the steps start (a resumed run's step): a progress bar's rate counts from here
            self.callback({"step": step, "started": True})
        with _StopFlag() as stop:
            while step < cfg.steps:
                tr.step(step)
                step += 1
                val = None
                if self.val_images and (step % cfg.eval_every == 0 or step == cfg.steps):
                    val = last_val = validation_psnr(self.ema_prior, self.val_images)
                    last_val_step = step
                timeout = max_minutes is not None and (time.time() - self.t_start) > 60 * max_minutes
                # (and at the last step: a run shorter than an interval left it there, to stop the next --resume)
                stop_file = (step % cfg.log_every == 0 or step == cfg.steps) and (self.out / "STOP").exists()
                halt = timeout or stop.set or stop_file
                if halt and step < cfg.steps:  # why, for the prior's info and the caller (--resume goes on)
                    self.stopped = stop.signal or ("max-minutes" if timeout else "STOP file")
                if step % cfg.log_every == 0 or val is not None or step == cfg.steps or halt:
                    loss = tr.mean_loss()  # the one host sync of a logging interval
                    back = guard.check(step, loss)
                    if back is not None:  # diverged: back to the last good interval, half the rate
                        self.log({"step": step, "loss": loss, "rollback_to": back, "lr_scale": tr.lr_scale})
                        step, t_last, step_last, paused = back, time.time(), back, 0.0
                        continue
                    now = time.time()
                    rate = (step - step_last) / max(1e-9, now - t_last - paused)
                    rec = {
                        "step": step,
                        "loss": loss,
                        "lr": _lr_at(step - 1, cfg) * tr.lr_scale,
                        "steps_per_s": round(rate, 3),
                        "crops_per_s": round(rate * cfg.batch_size, 1),
                        "tflops": round(rate * cfg.batch_size * self.flops_crop / 1e12, 2),
                        "seconds": round(self.elapsed_before + now - self.t_start, 1),
                    }
                    if val is not None:
                        rec["val_psnr_sigma25"] = round(val, 3)
                    self.log(rec)
                    t_last, step_last, paused = time.time(), step, 0.0
                if step % cfg.checkpoint_every == 0 or step == cfg.steps or halt:
                    t0 = time.time()
                    self.save(step, last_val, last_val_step)
                    paused += time.time() - t0  # the checkpoint's time is not training time (t_last was reset here,
                    # while the steps counted from the last record: a rate 100x too high at --checkpoint-every 1)
                if halt:
                    if stop_file:  # honoured: a later --resume must not stop on it again
                        (self.out / "STOP").unlink(missing_ok=True)
                    break
