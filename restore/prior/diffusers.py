"""diffusers folders as priors: unconditional pixel-space pipelines and bare ``UNet2DModel`` s.

A pipeline folder (``model_index.json`` + ``unet/`` + ``scheduler/``, e.g. what
``DDPMPipeline.save_pretrained`` writes or the hub's ``google/ddpm-celebahq-256``), or a
``UNet2DModel`` folder (``config.json`` with ``"_class_name": "UNet2DModel"`` + weights)
with its ``scheduler_config.json`` beside it, in a ``scheduler/`` folder inside it, or in the
pipeline's ``scheduler/`` next to it.

The scheduler's training schedule maps exactly onto :class:`~restore.prior.VPSchedule`
(``linear``, ``scaled_linear``, ``squaredcos_cap_v2``, computed in float32 as diffusers
does) and its ``prediction_type`` (``epsilon``, ``v_prediction``, ``sample``) onto the
prior's prediction; a learned-variance U-Net (``out_channels == 2 * in_channels``) gives
its noise in the first half. The U-Net's ``sample_size`` is the prior's native size.

Weights load from safetensors only (no pickle), checked against the config; ``diffusers``
itself (an optional extra) is needed to build the U-Net and is imported only here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsError
from .denoiser import Prior
from .files import WEIGHT_DTYPES, ForeignFormat, check_state_dict, load_state_dict, read_json, register_format
from .schedule import VPSchedule

__all__ = ["DiffusersNet", "diffusers_kind", "load_diffusers_prior", "read_diffusers_folder",
           "schedule_from_scheduler_config"]

INSTALL_HINT = 'pip install "restore[diffusers]"'
WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors")
_BETAS = {"linear": "linear", "scaled_linear": "scaled_linear", "squaredcos_cap_v2": "cosine"}
_PREDICTIONS = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}


def _unet_class():
    try:
        from diffusers import UNet2DModel
    except ImportError:
        raise WeightsError(f"loading a diffusers folder needs the diffusers package: {INSTALL_HINT}") from None
    return UNet2DModel


def _json(path: Path) -> dict:
    obj = read_json(path)
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: expected a JSON object")
    return obj


def diffusers_kind(d: Path) -> str | None:
    """``"pipeline"``, ``"unet"`` or ``None`` (not a diffusers folder) for directory ``d``."""
    if (d / "model_index.json").is_file():
        return "pipeline"
    try:
        cfg = json.loads((d / "config.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None  # our own loader reports what is wrong with it
    return "unet" if isinstance(cfg, dict) and "_class_name" in cfg and "format" not in cfg else None


def schedule_from_scheduler_config(cfg: dict, where: str = "scheduler") -> tuple[VPSchedule, str]:
    """The training schedule and prediction of a diffusers scheduler config.

    Parameters
    ----------
    cfg : dict
        A ``scheduler_config.json`` of a DDPM-type scheduler (DDPM, DDIM, PNDM, ...: any
        with ``beta_schedule``; diffusers' defaults for keys not given).
    where : str
        Named in errors.

    Returns
    -------
    (VPSchedule, str)
        The schedule (float32 tables, as diffusers computes them) and the prediction
        (``"eps"``, ``"v"`` or ``"x0"``).

    Examples
    --------
    >>> s, p = schedule_from_scheduler_config({"beta_schedule": "squaredcos_cap_v2", "prediction_type": "v_prediction"})
    >>> s.kind, p
    ('cosine', 'v')
    """
    cls = cfg.get("_class_name", "scheduler")
    if "beta_schedule" not in cfg:
        raise WeightsError(f"{where}: {cls} is not a DDPM-type (variance-preserving) scheduler (no beta_schedule)")
    if cfg.get("trained_betas") is not None:
        raise WeightsError(f"{where}: explicit trained_betas are not supported (only {', '.join(_BETAS)})")
    if cfg.get("rescale_betas_zero_snr"):
        raise WeightsError(f"{where}: rescale_betas_zero_snr (infinite noise at the last step) is not supported")
    bs = cfg["beta_schedule"]
    if bs not in _BETAS:
        raise WeightsError(f"{where}: beta_schedule {bs!r} is not supported (supported: {', '.join(_BETAS)})")
    pt = cfg.get("prediction_type", "epsilon")
    if pt not in _PREDICTIONS:
        raise WeightsError(f"{where}: prediction_type {pt!r} is not supported (supported: {', '.join(_PREDICTIONS)})")
    try:
        sched = VPSchedule(num_timesteps=int(cfg.get("num_train_timesteps", 1000)),
                           beta_start=float(cfg.get("beta_start", 1e-4)), beta_end=float(cfg.get("beta_end", 0.02)),
                           kind=_BETAS[bs], precision="float32")
    except (TypeError, ValueError) as e:
        raise WeightsError(f"{where}: bad schedule ({e})") from None
    return sched, _PREDICTIONS[pt]


class DiffusersNet(nn.Module):
    """A diffusers ``UNet2DModel`` as the prior's network ``F(u, t)``.

    Returns the model's prediction (noise, velocity or clean image, as its scheduler says;
    the first half of a learned-variance output). A ``learned`` time embedding (a table per
    integer step) gets ``t`` rounded to the nearest step.
    """

    cpu_channels_last = False  # measured slower on the CPU (GroupNorm, attention)

    def __init__(self, unet: nn.Module) -> None:
        super().__init__()
        c = unet.config
        self.unet = unet
        self.in_channels = int(c.in_channels)
        self.learned_variance = int(c.out_channels) == 2 * self.in_channels
        self.size_multiple = 2 ** (len(c.block_out_channels) - 1)
        self._integer_t = c.time_embedding_type == "learned"

    @classmethod
    def from_config(cls, cfg: dict, where: str = "unet config") -> DiffusersNet:
        """Build from a ``UNet2DModel`` config (validated; a one-line error for models that
        cannot serve as an unconditional pixel prior)."""
        name = cfg.get("_class_name", "UNet2DModel")
        if name != "UNet2DModel":
            raise WeightsError(f"{where}: a {name} is not supported (only unconditional UNet2DModel)")
        if cfg.get("num_class_embeds") is not None or cfg.get("class_embed_type") is not None:
            raise WeightsError(f"{where}: class-conditional UNet2DModels are not supported")
        if cfg.get("time_embedding_type", "positional") == "fourier":
            raise WeightsError(f"{where}: a Fourier time embedding (score-SDE, variance-exploding) is not supported")
        cin, cout = cfg.get("in_channels", 3), cfg.get("out_channels", 3)
        if cin not in (1, 3) or cout not in (cin, 2 * cin):
            raise WeightsError(f"{where}: need 1 or 3 input channels and as many outputs (or twice as many, learned "
                               f"variance), got {cin} -> {cout}")
        unet_cls = _unet_class()
        try:
            unet = unet_cls.from_config({k: v for k, v in cfg.items() if k != "arch"})
        except (TypeError, ValueError, KeyError) as e:
            raise WeightsError(f"{where}: not a valid UNet2DModel config ({str(e).splitlines()[0]})") from None
        return cls(unet)

    def config(self) -> dict:
        """The U-Net's config with ``"arch": "diffusers"`` (rebuilds it with
        :func:`~restore.prior.build_network`)."""
        return {"arch": "diffusers", **{k: v for k, v in dict(self.unet.config).items()
                                        if not k.startswith("_") or k == "_class_name"}}

    @property
    def native_size(self) -> int | None:
        s = self.unet.config.sample_size
        if isinstance(s, (list, tuple)):
            return int(s[0]) if len(set(s)) == 1 else None
        return None if s is None else int(s)

    def forward(self, u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self._integer_t:
            t = t.round().long()
        out = self.unet(u, t, return_dict=False)[0]
        return out[:, : self.in_channels] if self.learned_variance else out


def _locate(d: Path, kind: str) -> tuple[Path, Path]:
    """The U-Net folder and the scheduler config of a diffusers folder."""
    if kind == "pipeline":
        idx = _json(d / "model_index.json")
        pipe = idx.get("_class_name", "pipeline")
        other = [k for k in ("vae", "vqvae", "text_encoder", "transformer") if idx.get(k)]
        if other:
            raise WeightsError(f"{d}: {pipe} has a {other[0]}: only unconditional pixel-space pipelines "
                               "(DDPMPipeline, DDIMPipeline) serve as priors")
        entry = idx.get("unet")
        if not (isinstance(entry, list) and len(entry) == 2 and entry[1] == "UNet2DModel"):
            raise WeightsError(f"{d}: {pipe} has no UNet2DModel 'unet' (model_index.json says {entry!r})")
        return d / "unet", d / "scheduler" / "scheduler_config.json"
    places = [d / "scheduler_config.json", d / "scheduler" / "scheduler_config.json",
              d.parent / "scheduler" / "scheduler_config.json"]
    found = next((p for p in places if p.is_file()), None)
    if found is None:
        raise WeightsError(f"{d}: a UNet2DModel folder needs its scheduler: scheduler_config.json beside config.json")
    return d, found


def read_diffusers_folder(d: Path) -> tuple[Path, dict, Path, VPSchedule, str]:
    """The U-Net folder, its config, the scheduler config's path, the schedule and the
    prediction of diffusers folder ``d`` (no weights read, no diffusers needed)."""
    kind = diffusers_kind(d)
    if kind is None:
        raise WeightsError(f"{d}: not a diffusers folder (no model_index.json, no UNet2DModel config.json)")
    unet_dir, sched_path = _locate(d, kind)
    ucfg = _json(unet_dir / "config.json")
    schedule, prediction = schedule_from_scheduler_config(_json(sched_path), str(sched_path))
    return unet_dir, ucfg, sched_path, schedule, prediction


def load_diffusers_prior(d: str | os.PathLike, *, device: str | torch.device = "cpu", tile: int | None = 1024) -> Prior:
    """Load a diffusers pipeline or ``UNet2DModel`` folder as a prior.

    Parameters
    ----------
    d : path
        The folder (see the module docstring).
    device : str or torch.device
        Where to put the network.
    tile : int or None
        Tile side for large images; ignored when the U-Net has a ``sample_size`` (its tiles
        are then exactly that size).

    Returns
    -------
    Prior
        ``D(x, sigma)`` with the model's schedule and prediction; bfloat16 autocast on CUDA.

    Examples
    --------
    >>> prior = load_diffusers_prior("ddpm-celebahq-256")  # doctest: +SKIP
    >>> prior.native, prior.prediction  # doctest: +SKIP
    (256, 'eps')
    """
    d = Path(d)
    unet_dir, ucfg, sched_path, schedule, prediction = read_diffusers_folder(d)
    wfile = next((unet_dir / f for f in WEIGHT_FILES if (unet_dir / f).is_file()), None)
    if wfile is None:
        pickled = sorted(p.name for p in unet_dir.glob("*.bin"))
        if pickled:
            raise WeightsError(f"{unet_dir / pickled[0]}: only safetensors weights are loaded (a .bin is a pickle); "
                               "re-save once with diffusers: UNet2DModel.from_pretrained(DIR).save_pretrained(DIR)")
        raise WeightsError(f"{unet_dir}: no {WEIGHT_FILES[0]}")
    with torch.device("meta"):  # no memory until the loaded tensors are assigned
        net = DiffusersNet.from_config(ucfg, str(unet_dir / "config.json"))
    sd = load_state_dict(wfile)
    dtypes = {v.dtype for v in sd.values()}
    stored = dtypes.pop() if len(dtypes) == 1 and dtypes <= set(WEIGHT_DTYPES.values()) else None
    check_state_dict(net.unet, sd, str(wfile), dtype=stored)
    net.unet.load_state_dict({k: v.float() for k, v in sd.items()}, assign=True)
    net.float()  # buffers computed under a caller's float64 default: float32, as the weights
    left = [n for n, b in net.named_buffers() if b.is_meta]
    if left:
        raise WeightsError(f"{wfile}: buffer {left[0]} is neither stored nor computable")
    info = {"source": "diffusers", "path": str(d), "scheduler": _json(sched_path).get("_class_name"),
            "diffusers_version": ucfg.get("_diffusers_version")}
    prior = Prior(net, schedule, tile=tile, name=d.name, info=info, prediction=prediction,
                  native=net.native_size, autocast_dtype=torch.bfloat16)
    return prior.to(device)


def _describe(d: Path) -> tuple[dict, str]:
    _, ucfg, _, _, prediction = read_diffusers_folder(d)
    return {**ucfg, "arch": "diffusers"}, prediction


register_format(ForeignFormat("diffusers", detect=lambda d: diffusers_kind(d) is not None,
                              load=load_diffusers_prior, describe=_describe, build=DiffusersNet.from_config))
