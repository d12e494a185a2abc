"""The ADM U-Net of OpenAI's guided-diffusion, so its released checkpoints serve as priors.

Dhariwal & Nichol (2021), "Diffusion Models Beat GANs on Image Synthesis", sec. 3: a DDPM
U-Net (Ho et al. 2020) with residual blocks of GroupNorm-SiLU-conv, multi-head self-attention
at several resolutions (64 channels per head), the noise level entering each block as an
adaptive GroupNorm scale and shift ("AdaGN", ``use_scale_shift_norm``), and BigGAN-style
residual blocks for down- and up-sampling (``resblock_updown``). With ``learn_sigma`` the
network also outputs the interpolation weights of its variance (Nichol & Dhariwal 2021);
only the noise prediction, the first half, is used here.

Module and parameter names and shapes are those of the released checkpoints
(``time_embed.*``, ``input_blocks.N.*``, ``middle_block.*``, ``output_blocks.N.*``,
``out.*``), so their state dicts load unchanged. The flags are guided-diffusion's
(``num_channels``, ``attention_resolutions`` as image resolutions, ...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError
from .unet import timestep_embedding

__all__ = ["ADMNet", "adm_config", "adm_from_flags"]

#: guided-diffusion's ``model_and_diffusion_defaults()``: what its scripts use for a flag
#: that is not given
FLAG_DEFAULTS = {
    "image_size": 64, "num_channels": 128, "num_res_blocks": 2, "num_heads": 4, "num_heads_upsample": -1,
    "num_head_channels": -1, "attention_resolutions": "16,8", "channel_mult": "", "dropout": 0.0,
    "class_cond": False, "use_checkpoint": False, "use_scale_shift_norm": True, "resblock_updown": False,
    "use_fp16": False, "use_new_attention_order": False, "learn_sigma": False, "diffusion_steps": 1000,
    "noise_schedule": "linear", "timestep_respacing": "", "use_kl": False, "predict_xstart": False,
    "rescale_timesteps": False, "rescale_learned_sigmas": False,
}
#: flags that change nothing in evaluation (training, storage, sampling options)
_IGNORED = {"dropout", "use_checkpoint", "use_fp16", "timestep_respacing", "use_kl", "rescale_learned_sigmas",
            "model_path"}
#: ``channel_mult=""``: guided-diffusion's per-size default
_DEFAULT_MULT = {512: (0.5, 1, 1, 2, 2, 4, 4), 256: (1, 1, 2, 2, 4, 4), 128: (1, 1, 2, 3, 4), 64: (1, 2, 3, 4)}
#: the network section of a converted prior's config.json: key -> type
CONFIG_KEYS = {
    "in_channels": int, "image_size": int, "num_channels": int, "num_res_blocks": int, "channel_mult": list,
    "attention_resolutions": list, "num_heads": int, "num_head_channels": int, "num_heads_upsample": int,
    "use_scale_shift_norm": bool, "resblock_updown": bool, "learn_sigma": bool, "use_new_attention_order": bool,
}


def _ints(v, name: str) -> list:
    if isinstance(v, int) and not isinstance(v, bool):
        return [v]
    if isinstance(v, str):
        try:
            return [int(s) for s in v.split(",") if s.strip()]
        except ValueError:
            raise WeightsError(f"ADM flag {name} must be comma-separated integers, got {v!r}") from None
    if isinstance(v, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        return list(v)
    raise WeightsError(f"ADM flag {name} must be integers, got {v!r}")


def adm_from_flags(flags: dict) -> tuple[dict, dict, str]:
    """Network config, schedule and prediction of a guided-diffusion model from its flags.

    Parameters
    ----------
    flags : dict
        guided-diffusion's command-line flags (``MODEL_FLAGS`` / ``DIFFUSION_FLAGS`` in its
        README, or DPS's ``model_config.yaml``); a flag not given takes guided-diffusion's
        default (``model_and_diffusion_defaults()``).

    Returns
    -------
    (dict, dict, str)
        The ``network`` section (``"arch": "adm"``), the ``schedule`` section
        (:class:`~restore.prior.VPSchedule` fields) and the prediction (``"eps"``, or
        ``"x0"`` for ``predict_xstart``).

    Examples
    --------
    >>> net, sched, pred = adm_from_flags({"image_size": 64, "num_channels": 64, "class_cond": False})
    >>> net["channel_mult"], sched["kind"], pred
    ([1, 2, 3, 4], 'linear', 'eps')
    """
    unknown = sorted(set(flags) - set(FLAG_DEFAULTS) - _IGNORED)
    if unknown:
        raise WeightsError(f"unknown ADM flag(s) {', '.join(unknown)} (known: {', '.join(FLAG_DEFAULTS)})")
    f = {**FLAG_DEFAULTS, **flags}
    if f["class_cond"]:
        raise WeightsError("class-conditional ADM models (class_cond) are not supported: use an unconditional one")
    size = f["image_size"]
    if isinstance(size, str) and size.strip().isdigit():  # as guided-diffusion's argparse flags give it
        size = int(size)
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:  # (it was "no default channel_mult")
        raise WeightsError(f"ADM image_size must be a positive whole number, got {size!r}")
    if f["channel_mult"] in ("", None):
        if size not in _DEFAULT_MULT:
            raise WeightsError(f"no default channel_mult for image_size {size}: give channel_mult")
        mult = list(_DEFAULT_MULT[size])
    elif isinstance(f["channel_mult"], (list, tuple)):
        mult = list(f["channel_mult"])
    else:
        mult = _ints(f["channel_mult"], "channel_mult")  # guided-diffusion parses it with int()
    net = {
        "arch": "adm", "in_channels": 3, "image_size": size, "num_channels": f["num_channels"],
        "num_res_blocks": f["num_res_blocks"], "channel_mult": mult,
        "attention_resolutions": _ints(f["attention_resolutions"], "attention_resolutions"),
        **{k: f[k] for k in ("num_heads", "num_head_channels", "num_heads_upsample", "use_scale_shift_norm",
                             "resblock_updown", "learn_sigma", "use_new_attention_order")},
    }
    adm_config(net)
    T, kind = f["diffusion_steps"], f["noise_schedule"]
    if kind not in ("linear", "cosine"):
        raise WeightsError(f"ADM noise_schedule must be 'linear' or 'cosine', got {kind!r}")
    if f["rescale_timesteps"] and T != 1000:
        raise WeightsError("rescale_timesteps with diffusion_steps != 1000 is not supported")
    scale = 1000 / T  # guided-diffusion's linear schedule scales with the number of steps
    sched = {"num_timesteps": T, "beta_start": scale * 1e-4, "beta_end": scale * 0.02, "kind": kind}
    return net, sched, "x0" if f["predict_xstart"] else "eps"


def adm_config(cfg: dict) -> dict:
    """Validate a network section with ``"arch": "adm"``; returns the constructor arguments
    of :class:`ADMNet` (a one-line :class:`WeightsError` for anything wrong)."""
    for k, typ in CONFIG_KEYS.items():
        v = cfg.get(k)
        if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
            raise WeightsError(f"config network.{k} must be {typ.__name__}, got {v!r}")
    extra = sorted(set(cfg) - set(CONFIG_KEYS) - {"arch"})
    if extra:
        raise WeightsError(f"config network has unknown ADM key(s) {', '.join(extra)}")
    args = {k: cfg[k] for k in CONFIG_KEYS}
    mc, mult = args["num_channels"], args["channel_mult"]
    if args["in_channels"] not in (1, 3):
        raise WeightsError(f"network.in_channels must be 1 or 3, got {args['in_channels']}")
    if not mult or not all(isinstance(m, (int, float)) and not isinstance(m, bool) and m > 0 for m in mult):
        raise WeightsError(f"network.channel_mult must be positive numbers, got {mult}")
    if not 0 < mc <= 4096 or any(int(m * mc) % 32 for m in mult) or mc % 2:
        raise WeightsError(f"network: every level's width num_channels x channel_mult must be a multiple of 32 "
                           f"(GroupNorm's 32 groups), got {mc} x {mult}")
    if not 0 <= args["num_res_blocks"] <= 64 or args["image_size"] % 2 ** (len(mult) - 1):
        raise WeightsError(f"network: image_size {args['image_size']} must be divisible by 2^{len(mult) - 1} "
                           f"and num_res_blocks small, got {args['num_res_blocks']}")
    res = args["attention_resolutions"]
    if not all(r > 0 for r in res):
        raise WeightsError(f"network.attention_resolutions must be positive, got {res}")
    attn_ds = {args["image_size"] // r for r in res}
    widths = {int(m * mc) for i, m in enumerate(mult) if 2**i in attn_ds} | {int(mult[-1] * mc)}
    nhc = args["num_head_channels"]
    up = args["num_heads_upsample"]
    for heads in (args["num_heads"], up if up != -1 else args["num_heads"]):
        if any(w % (nhc if nhc != -1 else heads) or (nhc == -1 and heads < 1) for w in widths):
            raise WeightsError(f"network: attention heads ({heads} heads / {nhc} channels per head) do not "
                               f"divide the widths {sorted(widths)}")
    return args


class _EmbSequential(nn.Sequential):
    """Layers in order; those that take the noise embedding get it."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x, emb) if isinstance(layer, ResBlock) else layer(x)
        return x


def _norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, c)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the embedding as a bias or as AdaGN's scale and shift;
    optionally resampling (nearest up / average-pool down) between the first norm and conv."""

    def __init__(self, cin: int, emb_dim: int, cout: int, scale_shift: bool, resample: str | None = None) -> None:
        super().__init__()
        self.scale_shift, self.resample = scale_shift, resample
        self.in_layers = nn.Sequential(_norm(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, 2 * cout if scale_shift else cout))
        # index 2 is the checkpoint's dropout (identity in evaluation), kept for the names
        self.out_layers = nn.Sequential(_norm(cout), nn.SiLU(), nn.Identity(), nn.Conv2d(cout, cout, 3, padding=1))
        self.skip_connection = nn.Identity() if cout == cin else nn.Conv2d(cin, cout, 1)

    def _resample(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample == "up":
            return F.interpolate(x, scale_factor=2, mode="nearest")
        return F.avg_pool2d(x, 2) if self.resample == "down" else x

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self._resample(self.in_layers[1](self.in_layers[0](x)))
        h = self.in_layers[2](h)
        x = self._resample(x)
        e = self.emb_layers(emb)[:, :, None, None].to(h.dtype)
        if self.scale_shift:
            scale, shift = e.chunk(2, dim=1)
            h = self.out_layers[0](h) * (1 + scale) + shift
        else:
            h = self.out_layers[0](h + e)
        return self.skip_connection(x) + self.out_layers[3](self.out_layers[1](h))


class Attention(nn.Module):
    """Multi-head self-attention over all positions (1x1 Conv1d projections, as stored).

    ``new_order`` splits the projection into q, k, v before the heads; the legacy order
    (the released 256x256 models) splits it into heads first."""

    def __init__(self, channels: int, heads: int, new_order: bool) -> None:
        super().__init__()
        self.heads, self.new_order = heads, new_order
        self.norm = _norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        n, d, L = self.heads, C // self.heads, H * W
        qkv = self.qkv(self.norm(x.reshape(B, C, L)))
        if self.new_order:
            q, k, v = (z.reshape(B, n, d, L) for z in qkv.chunk(3, dim=1))
        else:
            q, k, v = qkv.reshape(B, n, 3 * d, L).split(d, dim=2)
        a = F.scaled_dot_product_attention(q.transpose(2, 3), k.transpose(2, 3), v.transpose(2, 3))
        return x + self.proj_out(a.transpose(2, 3).reshape(B, C, L)).reshape(B, C, H, W)


class Downsample(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.op = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Upsample(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class ADMNet(nn.Module):
    """guided-diffusion's U-Net, evaluated as ``forward(u, t) -> eps``.

    Parameters
    ----------
    in_channels : int
        Image channels (3 for every released model).
    image_size : int
        The training resolution; the prior feeds exactly this size (see
        :class:`~restore.prior.Prior`'s ``native``).
    num_channels : int
        Base width; level ``i`` has ``channel_mult[i] * num_channels`` channels.
    num_res_blocks : int
        Residual blocks per level (the way up has one more).
    channel_mult : list of number
        Width multiplier per level; ``len - 1`` downsamplings.
    attention_resolutions : list of int
        Feature-map sides (in pixels of the image side ``image_size``) with self-attention.
    num_heads, num_head_channels, num_heads_upsample : int
        Heads of the attention layers: ``channels // num_head_channels`` where that is not
        -1, else ``num_heads`` (``num_heads_upsample`` on the way up, -1 = ``num_heads``).
    use_scale_shift_norm : bool
        AdaGN: the embedding scales and shifts the second GroupNorm's output.
    resblock_updown : bool
        Residual blocks for resampling instead of strided / upsampling convolutions.
    learn_sigma : bool
        The network outputs ``2 * in_channels`` channels; the first half is the noise.
    use_new_attention_order : bool
        Split q, k, v before the heads.
    """

    cpu_channels_last = False  # measured slower on the CPU (GroupNorm, attention)

    def __init__(self, in_channels: int = 3, image_size: int = 256, num_channels: int = 128, num_res_blocks: int = 2,
                 channel_mult=(1, 1, 2, 2, 4, 4), attention_resolutions=(16,), num_heads: int = 4,
                 num_head_channels: int = -1, num_heads_upsample: int = -1, use_scale_shift_norm: bool = True,
                 resblock_updown: bool = False, learn_sigma: bool = False,
                 use_new_attention_order: bool = False) -> None:
        super().__init__()
        self._cfg = {k: v for k, v in locals().items() if k in CONFIG_KEYS}
        self._cfg.update(channel_mult=list(channel_mult), attention_resolutions=list(attention_resolutions))
        self.in_channels, self.learn_sigma, self.model_channels = in_channels, learn_sigma, num_channels
        self.image_size, self.levels = image_size, len(channel_mult)
        attn_ds = {image_size // r for r in attention_resolutions}
        up_heads = num_heads if num_heads_upsample == -1 else num_heads_upsample
        ss, emb = use_scale_shift_norm, 4 * num_channels

        def attention(c: int, heads: int) -> Attention:
            return Attention(c, c // num_head_channels if num_head_channels != -1 else heads, use_new_attention_order)

        self.time_embed = nn.Sequential(nn.Linear(num_channels, emb), nn.SiLU(), nn.Linear(emb, emb))
        ch = c0 = int(channel_mult[0] * num_channels)
        self.input_blocks = nn.ModuleList([_EmbSequential(nn.Conv2d(in_channels, ch, 3, padding=1))])
        skip_ch, ds = [ch], 1
        for level, m in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers = [ResBlock(ch, emb, int(m * num_channels), ss)]
                ch = int(m * num_channels)
                if ds in attn_ds:
                    layers.append(attention(ch, num_heads))
                self.input_blocks.append(_EmbSequential(*layers))
                skip_ch.append(ch)
            if level < len(channel_mult) - 1:
                down = ResBlock(ch, emb, ch, ss, "down") if resblock_updown else Downsample(ch)
                self.input_blocks.append(_EmbSequential(down))
                skip_ch.append(ch)
                ds *= 2
        self.middle_block = _EmbSequential(ResBlock(ch, emb, ch, ss), attention(ch, num_heads),
                                           ResBlock(ch, emb, ch, ss))
        self.output_blocks = nn.ModuleList()
        for level, m in reversed(list(enumerate(channel_mult))):
            for i in range(num_res_blocks + 1):
                layers = [ResBlock(ch + skip_ch.pop(), emb, int(m * num_channels), ss)]
                ch = int(m * num_channels)
                if ds in attn_ds:
                    layers.append(attention(ch, up_heads))
                if level and i == num_res_blocks:
                    layers.append(ResBlock(ch, emb, ch, ss, "up") if resblock_updown else Upsample(ch))
                    ds //= 2
                self.output_blocks.append(_EmbSequential(*layers))
        cout = in_channels * (2 if learn_sigma else 1)
        self.out = nn.Sequential(_norm(ch), nn.SiLU(), nn.Conv2d(c0, cout, 3, padding=1))

    @property
    def size_multiple(self) -> int:
        """Height and width must be multiples of this (``len(channel_mult) - 1`` halvings)."""
        return 2 ** (self.levels - 1)

    @property
    def native_size(self) -> int:
        return self.image_size

    def config(self) -> dict:
        """The ``network`` section of config.json (``"arch": "adm"`` + the flags)."""
        return {"arch": "adm", **self._cfg}

    def forward(self, u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The noise prediction for the DDPM input ``u = x_t`` at (continuous) timestep ``t``."""
        emb = self.time_embed(timestep_embedding(t, self.model_channels))
        h, skips = u, []
        for block in self.input_blocks:
            h = block(h, emb)
            skips.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        out = self.out(h)
        return out[:, : self.in_channels] if self.learn_sigma else out
