"""The prior as one denoiser ``D(x, sigma) -> x0_hat``.

Images are in [0, 1], ``sigma`` in the same units (25/255 = 0.098). This module is the
only place that knows the network's value range ([-1, 1]), its input scaling and its
timesteps (k-diffusion ``external.py`` does the same for VP models).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import warnings

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..paths import PREDICTIONS
from ..tiling import tile_layout, tile_weights
from .schedule import VPSchedule

__all__ = ["ALL_PREDICTIONS", "PREDICTIONS", "Prior", "between_tiles", "preconditioning", "vp_scale"]

_HOOKS = threading.local()


@contextlib.contextmanager
def between_tiles(check):
    """Call ``check()`` before each network tile of a tiled prior call made in this thread
    while the block runs: an exception it raises stops the call there. A sampler's progress
    callback comes once per step, and a large photo's single step (a 12 MP one-shot denoise)
    is a minute of tiles on a CPU; the browser app cancels inside it with this."""
    before = getattr(_HOOKS, "check", None)
    _HOOKS.check = check
    try:
        yield
    finally:
        _HOOKS.check = before

#: what a network may predict: this project's trainable targets (``PREDICTIONS``) and, for
#: foreign checkpoints, ``v`` (Salimans & Ho 2022) and ``x0`` (the clean image itself)
ALL_PREDICTIONS = PREDICTIONS + ("v", "x0")
#: parameters above which evaluating on the CPU earns a warning
BIG_PRIOR = 50_000_000
#: seconds per 256x256 evaluation of the ImageNet-256 ADM (552.8 M parameters, random
#: weights) on a 2-core x86 CPU, torch 2.13: 9.9 s (best of 3, mean 10.1;
#: benchmarks/foreign_prior_speed.py), stated in the CPU warning
ADM256_CPU_SECONDS = 10


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a ``torch.device`` ("auto" or None: the GPU when there is one), or an
    :class:`~restore.errors.InputError` saying what to pass."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"unknown device {device!r} (use 'cpu', 'cuda', 'cuda:N' or 'auto')") from None
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"device {device!r} is not supported (use 'cpu', 'cuda', 'cuda:N' or 'auto')")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {str(device)!r} requested but no CUDA GPU is available (run on the CPU: "
                         "device='cpu', --device cpu)")
    if dev.type == "cuda" and dev.index is None:  # one name per device ("cuda" and "cuda:0" share a cached prior)
        dev = torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu") if dev.type == "cpu" else dev


@functools.lru_cache(maxsize=1)
def _bf16_supported() -> bool:
    """Asked once, not on every network call."""
    return torch.cuda.is_bf16_supported()


def vp_scale(sn: torch.Tensor) -> torch.Tensor:
    """The network's input scale ``sqrt(abar) = 1 / sqrt(1 + sn^2)`` at noise ``sn`` ([-1, 1]
    units): it sees ``vp_scale(sn) * (x0 + sn * n)``, in training and in use."""
    return 1.0 / torch.sqrt(1.0 + sn**2)


def preconditioning(prediction: str, sn: torch.Tensor, sigma_data: float = 0.5):
    """``(c_skip, c_out)`` with ``D = c_skip x + c_out F`` at noise ``sn`` ([-1, 1] units).

    With ``x = x0 + sn n`` and the network input ``x_t = a x`` (``a = sqrt(abar) =
    1 / sqrt(1 + sn^2)``): ``eps`` gives ``x0 = x - sn F``; ``v = a n - sn a x0`` gives
    ``x0 = a x_t - sn a v = a^2 x - sn a F``; ``x0`` gives ``F`` itself; ``edm`` is Karras
    et al. (2022), Table 1."""
    if prediction == "eps":
        return torch.ones_like(sn), -sn
    if prediction == "v":
        return 1.0 / (1.0 + sn**2), -sn / torch.sqrt(1.0 + sn**2)
    if prediction == "x0":
        return torch.zeros_like(sn), torch.ones_like(sn)
    sd2 = sigma_data**2
    return sd2 / (sn**2 + sd2), sn * sigma_data / torch.sqrt(sn**2 + sd2)


class Prior:
    """U-Net + noise schedule, seen from outside as the MMSE denoiser ``D(x, sigma)``.

    Parameters
    ----------
    net : torch.nn.Module
        The network ``F(u, t)`` (VP-scaled input ``u = x_t``, continuous timestep ``t`` on
        the schedule's index scale) with attributes ``in_channels`` and ``size_multiple``:
        :class:`~restore.prior.UNet`, :class:`~restore.prior.adm.ADMNet` or
        :class:`~restore.prior.diffusers.DiffusersNet`.
    schedule : VPSchedule
        The schedule the network was trained with.
    tile : int or None
        Largest tile side (pixels) one network call sees. Larger images are processed in
        overlapping tiles whose seams are blended; ``None`` disables tiling.
    info : dict, optional
        Free-form metadata (training data, steps); kept with the weights.
    prediction : {"eps", "edm", "v", "x0"}
        What ``F`` predicts: the noise (DDPM, ``D = x - sigma F``), the EDM-preconditioned
        target (Karras et al. 2022, ``D = c_skip x + c_out F`` in [-1, 1] units), whose
        clean-image estimate stays good at large sigma, the velocity ``v`` or the clean
        image (see :func:`preconditioning`).
    sigma_data : float
        EDM's data standard deviation in [-1, 1] units (``edm`` only).
    native : int or None
        The side the network was trained at, for networks that only work at that size
        (guided-diffusion, diffusers): every call then sees exactly ``native x native``:
        a smaller image is padded (reflect, replicate where the image is too small to
        reflect) and cropped back, a larger one runs in overlapping ``native``-size tiles
        (``tile`` is set to ``native``, the overlap to at most ``native / 4``). The image
        itself is never resized. ``None``: any size (padded to the network's
        ``size_multiple``).
    autocast_dtype : torch.dtype or None
        On CUDA, evaluate the network under ``torch.autocast`` in this dtype (bfloat16 falls
        back to float16 on GPUs without it); the result is float32. Nothing changes on the
        CPU. :func:`~restore.prior.load_prior` sets bfloat16 for foreign (large) networks.

    Notes
    -----
    Gray images (1 channel) are replicated to the network's 3 channels and the result
    averaged back; the network was trained on gray crops with channel-identical noise too.
    """

    def __init__(
        self,
        net: torch.nn.Module,
        schedule: VPSchedule,
        *,
        tile: int | None = 1024,
        tile_overlap: int = 32,
        name: str = "",
        info: dict | None = None,
        prediction: str = "eps",
        sigma_data: float = 0.5,
        native: int | None = None,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        if prediction not in ALL_PREDICTIONS:
            raise ValueError(f"prediction must be one of {ALL_PREDICTIONS}, got {prediction!r}")
        if native is not None:
            if native < 8 or native % net.size_multiple:
                raise ValueError(f"native size {native} must be a multiple of {net.size_multiple}")
            tile_overlap = min(tile_overlap, native // 4)
        self.prediction = prediction
        self.sigma_data = float(sigma_data)
        self.net = net
        self.schedule = schedule
        self.native = native
        self.tile = native if native is not None else tile
        self.tile_overlap = tile_overlap
        self.name = name
        self.info = dict(info or {})
        self.autocast_dtype = autocast_dtype
        self._cpu_warned = False
        self.net.eval()

    # -- plumbing -------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def _channels_last(self) -> bool:
        """Channels-last on the CPU: faster for this project's U-Net; a network may say
        otherwise (``cpu_channels_last = False``: GroupNorm and attention nets run slower)."""
        return getattr(self.net, "cpu_channels_last", True)

    def to(self, device: str | torch.device) -> Prior:
        """Move the network; on the CPU its weights are kept channels-last (see
        :meth:`_net_padded`)."""
        dev = torch.device(device)
        fmt = torch.channels_last if dev.type == "cpu" and self._channels_last else torch.contiguous_format
        self.net.to(dev, memory_format=fmt)
        return self

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def _warn_cpu(self) -> None:
        """Once per prior: a large network evaluated on the CPU is slow."""
        self._cpu_warned = True
        n = self.num_parameters
        if n > BIG_PRIOR:
            warnings.warn(
                f"prior {self.name or type(self.net).__name__!r} has {n / 1e6:.0f} M parameters and runs on the "
                f"CPU: expect seconds per evaluation (the 553 M ImageNet-256 ADM: about {ADM256_CPU_SECONDS} s per "
                f"256x256 evaluation on 2 cores, so minutes for 20 steps); use a GPU (--device cuda) for it",
                stacklevel=3)

    @property
    def sigma_min(self) -> float:
        return self.schedule.sigma_min

    @property
    def sigma_max(self) -> float:
        return self.schedule.sigma_max

    def _sigma_batch(self, sigma, batch: int, device) -> torch.Tensor:
        s = torch.as_tensor(sigma, dtype=torch.float32, device=device)
        if s.ndim == 0:
            s = s.expand(batch)
        s = s.reshape(-1)
        if s.shape[0] != batch:
            raise ValueError(f"sigma has {s.shape[0]} entries for a batch of {batch}")
        return s

    # -- the denoiser ---------------------------------------------------------------
    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """``D(x, sigma)``: the posterior-mean estimate of the clean image.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, H, W)`` noisy images in [0, 1] units (values may leave [0, 1]).
        sigma : float or torch.Tensor
            Noise standard deviation in image units, a scalar or one per batch item.

        Returns
        -------
        torch.Tensor
            The denoised estimate, same shape as ``x`` (not clipped).
        """
        if x.ndim != 4:
            raise ValueError(f"expected a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
        B, C, H, W = x.shape
        s = self._sigma_batch(sigma, B, x.device)
        if x.device.type == "cpu" and not self._cpu_warned:
            self._warn_cpu()
        cin = self.net.in_channels
        if C == 1 and cin == 3:
            return self(x.expand(B, 3, H, W), s).mean(dim=1, keepdim=True)
        if C != cin:
            raise ValueError(f"the prior takes {'1 or 3' if cin == 3 else cin} channels, got {C}")
        t = self.schedule.t_from_sigma(s.double()).float()
        sn = (2.0 * s.double())[:, None, None, None]  # sigma in the network's [-1, 1] units
        u = (2.0 * x - 1.0).mul_(vp_scale(sn).float())
        if self.tile is not None and max(H, W) > self.tile:
            out = self._tiled(u, t)
        else:
            out = self._net_padded(u, t)
        del u
        c_skip, c_out = preconditioning(self.prediction, sn, self.sigma_data)
        # 0.5 * (c_skip (2x - 1) + c_out out + 1), in place: a large image is held at most
        # three times at once (x, the network input or the result, the network output)
        xn = 2.0 * x - 1.0
        return xn.mul_(c_skip.float()).add_(out.mul_(c_out.float())).add_(1.0).mul_(0.5)

    def _net_padded(self, u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The network on ``u`` padded to its size multiple (or to ``native``), cropped back."""
        m = self.net.size_multiple
        H, W = u.shape[-2:]
        if self.native is not None:
            ph, pw = self.native - H, self.native - W
        else:
            ph, pw = (-H) % m, (-W) % m
        if ph or pw:
            mode = "reflect" if (ph < H and pw < W) else "replicate"
            u = F.pad(u, (0, pw, 0, ph), mode=mode)
        if u.device.type == "cpu" and self._channels_last:  # oneDNN's convolutions: 1.1-1.4x faster
            u = u.contiguous(memory_format=torch.channels_last)
        dt = self.autocast_dtype
        if dt is not None and u.device.type == "cuda":
            if dt == torch.bfloat16 and not _bf16_supported():
                dt = torch.float16
            with torch.autocast("cuda", dtype=dt):
                return self.net(u, t)[..., :H, :W].float()
        return self.net(u, t)[..., :H, :W]

    def _tiled(self, u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Overlapping tiles, blended with a linear ramp over the overlap (``native``: all
        tiles exactly ``native`` pixels, or the image's side where that is smaller)."""
        H, W = u.shape[-2:]
        T, ov, m = int(self.tile), int(self.tile_overlap), self.net.size_multiple
        exact = self.native is not None
        ys, xs = tile_layout(H, T, ov, m, exact=exact), tile_layout(W, T, ov, m, exact=exact)
        out = torch.zeros_like(u)
        wsum = torch.zeros((1, 1, H, W), dtype=u.dtype, device=u.device)
        check = getattr(_HOOKS, "check", None)
        for y0, th in ys:
            for x0, tw in xs:
                if check is not None:
                    check()
                patch = self._net_padded(u[..., y0 : y0 + th, x0 : x0 + tw], t)
                w = tile_weights(y0, th, H, x0, tw, W, ov, like=u)
                out[..., y0 : y0 + th, x0 : x0 + tw] += patch * w
                wsum[..., y0 : y0 + th, x0 : x0 + tw] += w
        return out / wsum
