"""The Python API: the one place that knows the whole chain
``array -> operator (y) -> sampler(prior) -> array``.

numpy in (``H x W [x C]``, uint8 / uint16 / float in [0, 1]) gives numpy out with the same
dtype; torch in (``B x C x H x W`` float in [0, 1]) gives torch out on the same device.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from .errors import InputError
from .io import to_tensor
from .prior import Prior, load_prior
from .samplers import check_compatible, check_samples
from .tasks import TASKS
from .tasks.denoise import Denoise, estimate_sigma
from .tasks.inpaint import Inpaint
from .tasks.superres import SuperResolve

__all__ = ["Result", "denoise", "get_prior", "inpaint", "resolve_device", "restore", "run", "super_resolve"]

MAX_SIDE = 65536


@dataclass
class Result:
    """What :func:`run` returns: the restored tensor and how it was made."""

    image: torch.Tensor  # (B, C, H, W) in [0, 1], clipped
    std: torch.Tensor | None  # per-pixel posterior std when samples > 1
    task: str
    sampler: str
    steps: int
    seed: int | None
    sigma_y: float
    sigma_estimated: bool
    seconds: float
    params: dict = field(default_factory=dict)


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' requested but no CUDA GPU is available (use --device cpu)")
    return dev


@lru_cache(maxsize=4)
def _cached_prior(name: str | None, device: str) -> Prior:
    return load_prior(name, device=device)


def get_prior(prior: Prior | str | None, device: torch.device) -> Prior:
    """A :class:`Prior` instance, a shipped name / directory (cached), or the default."""
    if isinstance(prior, Prior):
        if prior.device != device:
            prior.to(device)
        return prior
    return _cached_prior(None if prior is None else str(prior), str(device))


# -- array edge ------------------------------------------------------------------------
def _to_batch(image: Any) -> tuple[torch.Tensor, Callable[[torch.Tensor], Any], np.ndarray | None]:
    """Image -> ``(B, C, H, W)`` float tensor, a function mapping a result back to the
    caller's type/dtype, and the alpha channel (numpy RGBA) kept aside."""
    if isinstance(image, torch.Tensor):
        if image.ndim != 4:
            raise InputError(f"a torch image must be (B, C, H, W), got shape {tuple(image.shape)}")
        if not image.is_floating_point():
            raise InputError(f"a torch image must be float in [0, 1], got {image.dtype}")
        if image.shape[1] not in (1, 3):
            raise InputError(f"a torch image must have 1 or 3 channels, got {image.shape[1]}")
        _check_size(image.shape[-2], image.shape[-1])
        if not torch.isfinite(image).all():
            raise InputError("image holds NaN or inf")
        dtype, dev = image.dtype, image.device
        return image.detach().float(), (lambda t: t.to(device=dev, dtype=dtype)), None
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a numpy array or a torch tensor, got {type(image).__name__}")
    a = image
    if a.dtype == np.bool_ or a.dtype.kind not in "uf" or a.dtype not in (
        np.uint8, np.uint16, np.float16, np.float32, np.float64
    ):
        raise InputError(f"unsupported array dtype {a.dtype} (use uint8, uint16 or float in [0, 1])")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise InputError(f"a numpy image must be H x W, H x W x 3 or H x W x 4, got shape {a.shape}")
    _check_size(a.shape[0], a.shape[1])
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InputError("image holds NaN or inf")
    alpha = a[:, :, 3] if a.ndim == 3 and a.shape[2] == 4 else None
    color = a[:, :, :3] if alpha is not None else a
    dtype = image.dtype
    squeeze = image.ndim == 3 and image.shape[2] == 1

    def back(t: torch.Tensor) -> np.ndarray:
        from .io import from_tensor

        out = from_tensor(t, dtype)
        if squeeze:
            out = out[:, :, None]
        return out

    return to_tensor(color), back, alpha


def _check_size(h: int, w: int) -> None:
    if h < 1 or w < 1:
        raise InputError(f"image has no pixels ({w}x{h})")
    if h > MAX_SIDE or w > MAX_SIDE:
        raise InputError(f"image is {w}x{h}; sides over {MAX_SIDE} pixels are not supported")


def _known_from_mask(mask: Any, shape: tuple[int, int]) -> torch.Tensor:
    from .io import mask_from_hole

    if isinstance(mask, torch.Tensor):
        m = mask.detach().cpu().numpy()
    elif isinstance(mask, np.ndarray):
        m = mask
    else:
        raise InputError(f"mask must be a numpy array or a torch tensor, got {type(mask).__name__}")
    m = np.asarray(m)
    while m.ndim > 2 and m.shape[0] == 1:
        m = m[0]
    if m.ndim == 3:
        m = m.any(axis=2) if m.shape[2] in (1, 3, 4) else m.any(axis=0)
    if m.ndim != 2:
        raise InputError(f"mask must be H x W, got shape {mask.shape}")
    if m.dtype.kind == "f" and not np.isfinite(m).all():
        raise InputError("mask holds NaN or inf")
    return torch.from_numpy(mask_from_hole(m != 0, shape))


def _alpha_back(alpha: np.ndarray | None, out: Any, scale: int) -> Any:
    if alpha is None:
        return out
    if scale > 1:
        import cv2

        alpha = cv2.resize(alpha, (alpha.shape[1] * scale, alpha.shape[0] * scale), interpolation=cv2.INTER_CUBIC)
    return np.concatenate([out if out.ndim == 3 else out[:, :, None], alpha[:, :, None].astype(out.dtype)], axis=2)


# -- the chain ---------------------------------------------------------------------------
def run(
    x: torch.Tensor,
    task: str,
    *,
    known: torch.Tensor | None = None,
    sigma: float | None = None,
    scale: int = 4,
    kernel: str = "bicubic",
    sampler: str | None = None,
    steps: int | None = None,
    seed: int | None = 0,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = "cpu",
    prior: Prior | str | None = None,
    samples: int = 1,
    sigma_max: float | None = None,
    sigma_min: float | None = None,
    spacing: str | None = None,
    progress: Callable[[dict], None] | None = None,
    tiles: bool = True,
    **hyper: Any,
) -> Result:
    """Restore a ``(B, C, H, W)`` measurement tensor in [0, 1] (the chain, no conversion).

    ``sigma`` is the measurement noise in [0, 1] units (estimated for denoising when None);
    the other parameters are those of :func:`restore`. Super-resolution whose output is
    larger than the prior's tile runs tile by tile (``tiles=False``: the whole image at
    once); denoising and inpainting are pointwise operators, so the prior tiles its own
    calls.
    """
    t0 = time.perf_counter()
    spec = TASKS.get(task) if task in TASKS else None
    if spec is None:
        raise InputError(f"unknown task '{task}' (choose from: {', '.join(TASKS.names())})")
    if samples < 1 or samples > 256:
        raise InputError(f"samples must be between 1 and 256, got {samples}")
    if steps is not None and not 1 <= int(steps) <= 1000:
        raise InputError(f"steps must be between 1 and 1000, got {steps}")
    if sigma is not None and not (np.isfinite(sigma) and 0 <= sigma <= 1):
        raise InputError(f"sigma must be in [0, 1] image units (0-255 on the CLI), got {sigma}")
    dev = resolve_device(device)
    x = x.to(dev)
    B, C, H, W = x.shape
    pri = get_prior(prior, dev)
    if generator is None:
        generator = torch.Generator("cpu").manual_seed(0 if seed is None else int(seed))
    if task == "sr" and max(H, W) * scale > MAX_SIDE:
        raise InputError(f"the x{scale} output would be {W * scale}x{H * scale}; sides over {MAX_SIDE} "
                         "pixels are not supported")
    if task == "sr" and tiles and pri.tile is not None and max(H, W) * scale > pri.tile >= 16 * scale:
        def solve(xt, cb):  # the first tile checks the sampler before any work
            return run(xt, task, sigma=sigma, scale=scale, kernel=kernel, sampler=sampler, steps=steps, seed=seed,
                       generator=generator, device=dev, prior=pri, samples=samples, sigma_max=sigma_max,
                       sigma_min=sigma_min, spacing=spacing, progress=cb, tiles=False, **hyper)

        res = _sr_by_tiles(x, scale, pri.tile, pri.net.size_multiple, solve, progress)
        res.seconds = time.perf_counter() - t0
        return res
    estimated = False
    if task == "denoise":
        if sigma is None:
            sigma = estimate_sigma(x)
            estimated = True
        op = Denoise((C, H, W), sigma)
    elif task == "inpaint":
        if known is None:
            raise InputError("inpainting needs a mask")
        op = Inpaint(known.to(dev), (C, H, W), sigma or 0.0)
    else:
        op = SuperResolve((C, H * scale, W * scale), scale, kernel, sigma or 0.0)
    name = sampler or spec.default_sampler
    sspec = check_compatible(name, op)
    check_samples(name, samples, task)
    own = name == spec.default_sampler  # the task's measured defaults go with its default sampler
    n_steps = int(steps or (spec.default_steps if own else sspec.default_steps))
    y = x if task != "inpaint" else op.A(x)
    if samples > 1:
        y = y.repeat_interleave(samples, dim=0)
    top = spec.default_sigma_max if sigma_max is None else sigma_max
    if own:  # explicit options win over the task's measured ones
        spacing = spec.default_spacing if spacing is None else spacing
        sigma_min = spec.default_sigma_min if sigma_min is None else sigma_min
        hyper = {**dict(spec.default_options), **hyper}
    spacing = spacing or "karras"
    sigmas = pri.schedule.sampling_sigmas(n_steps, sigma_max=top, sigma_min=sigma_min, spacing=spacing)
    with torch.no_grad():
        out = sspec.load()(pri, y, op, sigmas, generator=generator, callback=progress, **hyper)
    if task == "inpaint":  # known pixels are kept exactly (noiseless measurement)
        m = op.mask(out)
        out = m * y + (1 - m) * out if op.sigma_y == 0 else out
    out = out.float()
    std = None
    if samples > 1:
        out = out.reshape(B, samples, *out.shape[1:])
        std = out.std(dim=1)
        out = out.mean(dim=1)
    return Result(
        image=out.clamp(0, 1),
        std=std,
        task=task,
        sampler=name,
        steps=n_steps,
        seed=seed,
        sigma_y=op.sigma_y,
        sigma_estimated=estimated,
        seconds=time.perf_counter() - t0,
        params={k: v for k, v in {"scale": scale, "kernel": kernel}.items() if task == "sr"} | hyper,
    )


SR_TILE_OVERLAP = 64  # output pixels shared by neighbouring super-resolution tiles


def _sr_by_tiles(x: torch.Tensor, scale: int, tile: int, multiple: int,
                 solve: Callable[[torch.Tensor, Callable | None], Result],
                 progress: Callable[[dict], None] | None) -> Result:
    """Super-resolve ``x`` in overlapping low-resolution tiles of at most ``tile`` output
    pixels, blended in the output.

    Each tile is its own problem (operator, sampler state), so memory and the operator's
    cost follow the tile, not the image. Near a tile edge the tile's operator sees a border
    where the image has none; a quarter of the overlap at each shared edge is dropped
    (weight 0) and the middle half cross-fades.
    """
    from .tiling import tile_layout, tile_weights

    B, C, h, w = x.shape
    ov = min(max(4, SR_TILE_OVERLAP // scale), tile // scale // 4)
    mult = multiple // math.gcd(multiple, scale)
    ys, xs = tile_layout(h, tile // scale, ov, mult), tile_layout(w, tile // scale, ov, mult)
    k = len(ys) * len(xs)
    out = torch.zeros(B, C, h * scale, w * scale, dtype=torch.float32, device=x.device)
    std = None
    wsum = torch.zeros(1, 1, h * scale, w * scale, dtype=torch.float32, device=x.device)
    for j, ((y0, th), (x0, tw)) in enumerate(itertools.product(ys, xs)):
        cb = None
        if progress is not None:
            def cb(info, j=j):
                n = info["n"]
                progress({**info, "i": j * n + info["i"], "n": k * n, "tile": (j, k)})

        res = solve(x[..., y0 : y0 + th, x0 : x0 + tw], cb)
        wt = tile_weights(y0 * scale, th * scale, h * scale, x0 * scale, tw * scale, w * scale,
                          ov * scale // 2, margin=ov * scale // 4, like=out)
        sl = (..., slice(y0 * scale, (y0 + th) * scale), slice(x0 * scale, (x0 + tw) * scale))
        out[sl] += res.image.to(out) * wt
        if res.std is not None:
            std = torch.zeros_like(out) if std is None else std
            std[sl] += res.std.to(out) * wt
        wsum[sl] += wt
    res.image = out.div_(wsum)
    res.std = None if std is None else std.div_(wsum)
    res.params = {**res.params, "tiles": k}
    return res


def restore(image: Any, task: str, *, mask: Any = None, samples: int = 1, **params: Any) -> Any:
    """Restore an image with the diffusion prior.

    Parameters
    ----------
    image : numpy.ndarray or torch.Tensor
        ``H x W [x C]`` array (uint8, uint16, or float in [0, 1]; an RGBA image keeps its
        alpha as is) or a ``(B, C, H, W)`` float tensor in [0, 1]. For ``sr`` this is the
        low-resolution image.
    task : {"denoise", "inpaint", "sr"}
    mask : array, optional
        Inpainting only: ``H x W``, non-zero / True = pixels to fill (as in mask files).
    samples : int
        Number of posterior samples; > 1 returns ``(mean, std)``.
    **params
        ``sigma`` (noise std in [0, 1] units), ``scale``, ``kernel``, ``sampler``,
        ``steps``, ``seed`` or ``generator``, ``device`` ("cpu", "cuda", "auto"),
        ``prior`` (a :class:`~restore.prior.Prior`, a shipped name or a directory),
        ``progress`` (called with a dict per step), ``sigma_max`` (starting noise level,
        [0, 1] units; default per task), ``sigma_min`` (last nonzero level), ``spacing``
        ("karras", "uniform" or "log"; the task's default sampler has its own measured
        defaults) and sampler hyper-parameters (e.g. ``eta``; dpir's ``momentum``, 0.5 by
        default for inpaint and sr, 0 turns it off).

    Returns
    -------
    Same type as ``image``
        The restored image (``(mean, std)`` when ``samples > 1``).

    Examples
    --------
    >>> import numpy as np, restore
    >>> img = np.full((32, 48, 3), 128, np.uint8)
    >>> restore.restore(img, "denoise", sigma=10 / 255).shape
    (32, 48, 3)
    """
    x, back, alpha = _to_batch(image)
    known = None
    if task == "inpaint":
        if mask is None:
            raise InputError("inpainting needs a mask (non-zero = pixels to fill)")
        known = _known_from_mask(mask, tuple(x.shape[-2:]))
    elif mask is not None:
        raise InputError(f"task '{task}' takes no mask")
    res = run(x, task, known=known, samples=samples, **params)
    scale = res.params.get("scale", 1) if task == "sr" else 1
    out = _alpha_back(alpha, back(res.image), scale)
    if samples > 1:
        return out, back(res.std)
    return out


_PARAMS_DOC = """Other parameters (``**params``) are those of :func:`restore`: ``sampler`` (see
    ``restore.SAMPLERS``), ``steps`` (network evaluations), ``seed`` or ``generator``,
    ``device`` ("cpu", "cuda", "auto"), ``prior`` (a Prior, a shipped name or a
    directory), ``samples`` (> 1 with a sampler that samples: returns ``(mean, std)``),
    ``progress`` (called per step), ``sigma_max`` / ``sigma_min`` / ``spacing`` (the
    noise levels) and the sampler's own options (e.g. ``eta``, dpir's ``momentum``)."""


def _with_params_doc(f):
    """Fill a task helper's ``{params}`` with the parameters it passes on to :func:`restore`."""
    f.__doc__ = f.__doc__.replace("{params}", _PARAMS_DOC)
    return f


@_with_params_doc
def denoise(image: Any, sigma: float | None = None, **params: Any) -> Any:
    """Remove Gaussian noise of std ``sigma`` ([0, 1] units; estimated when None).

    The default is one evaluation of the prior at that noise level (the MMSE estimate).

    {params}

    Examples
    --------
    >>> import numpy as np, restore
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.clip(0.5 + 0.1 * rng.standard_normal((40, 40)), 0, 1).astype(np.float32)
    >>> bool(restore.denoise(noisy, sigma=0.1).std() < noisy.std())
    True
    """
    return restore(image, "denoise", sigma=sigma, **params)


@_with_params_doc
def inpaint(image: Any, mask: Any, **params: Any) -> Any:
    """Fill the pixels where ``mask`` is non-zero; known pixels are kept exactly.

    ``mask``: ``H x W``, non-zero / True = pixels to fill.

    {params}

    Examples
    --------
    >>> import numpy as np, restore
    >>> img = np.full((32, 32, 3), 200, np.uint8)
    >>> hole = np.zeros((32, 32), bool); hole[8:16, 8:16] = True
    >>> out = restore.inpaint(img, hole, steps=4)
    >>> bool((out[~hole] == img[~hole]).all())
    True
    """
    return restore(image, "inpaint", mask=mask, **params)


@_with_params_doc
def super_resolve(image: Any, scale: int = 4, **params: Any) -> Any:
    """Upscale a low-resolution image by ``scale`` (2, 3, 4 or 8; bicubic degradation).

    ``kernel`` ("bicubic" or "box") and ``sigma`` (measurement noise, [0, 1] units) are
    taken too.

    {params}

    Examples
    --------
    >>> import numpy as np, restore
    >>> lr = np.full((16, 12), 0.5, np.float32)
    >>> restore.super_resolve(lr, scale=2, steps=4).shape
    (32, 24)
    """
    return restore(image, "sr", scale=scale, **params)
