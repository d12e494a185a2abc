"""The Python API: the one place that knows the whole chain
``array -> operator (y) -> sampler(prior) -> array``.

numpy in (``H x W [x C]``, uint8 / uint16 / float in [0, 1]) gives numpy out with the same
dtype; torch in (``B x C x H x W`` float in [0, 1]) gives torch out on the same device.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from .errors import IncompatibleError, InputError, RestoreError
from .io import FLOAT_BRIGHT, OUTSIDE_SHARE, Image, check_float_scale, native, outside_share, to_tensor
from .noise import grey_as_rgb, luma_of, toned
from .prior import Prior, load_prior
from .prior.denoiser import resolve_device
from .registry import MAX_SAMPLES, MAX_SEED
from .samplers import check_compatible, check_samples
from .tasks import get_task

__all__ = ["Result", "batch_key", "check_sampler_options", "default_batch_size", "get_prior", "resolve_device",
           "restore", "run", "sampler_options", "with_params_doc"]

MAX_SIDE = 65536


@dataclass
class Result:
    """What :func:`run` returns: the restored tensor and how it was made."""

    image: torch.Tensor  # (B, C, H, W) in [0, 1], clipped
    std: torch.Tensor | None  # per-pixel posterior std when samples > 1
    task: str
    sampler: str | list[str]  # "none": no sampler ran (0 steps, or nothing to do); "a+b": regions that ran
    # different ones; a list where a batch's images, each with its own level read, ran different ones
    steps: int | list[int]  # network evaluations (with regions: the most any region made; a list as sampler)
    seed: int | None
    sigma_y: float | list[float]  # a list when each image's level was estimated on its own
    sigma_estimated: bool | list[bool]  # (a list, as sigma_y, where the images of a batch differ)
    seconds: float
    params: dict = field(default_factory=dict)  # a value is a list, one per image, where the images differ
    sigma_start: float | list | None = None  # the sampler's first noise level ([0, 1] units; per image, as params)


@lru_cache(maxsize=4)
def _cached_prior(name: str, device: str) -> Prior:
    return load_prior(name, device=device)


_PRIOR_LOCK = threading.Lock()  # two threads' first calls load the prior once, not twice


def _prior_key(prior: str | None) -> str:
    """One cache key per prior: the default's name and a path to a shipped prior are one."""
    from .prior.weights import resolve_prior_dir

    try:
        return str(resolve_prior_dir(prior).resolve())
    except RestoreError:  # not a prior directory: load_prior says why (or reads it another way)
        return str(prior)


def get_prior(prior: Prior | str | None, device: torch.device) -> Prior:
    """A :class:`Prior` instance, a shipped name / directory (cached), or the default."""
    if isinstance(prior, Prior):
        if prior.device != device:
            prior.to(device)
        return prior
    dev = resolve_device(device)
    with _PRIOR_LOCK:
        return _cached_prior(_prior_key(None if prior is None else str(prior)), str(dev))


# -- array edge ------------------------------------------------------------------------
def _to_batch(image: Any) -> tuple[torch.Tensor, Callable[[torch.Tensor], Any], np.ndarray | None]:
    """Image -> ``(B, C, H, W)`` float tensor, a function mapping a result back to the
    caller's type/dtype, and the alpha channel (numpy RGBA) kept aside."""
    if isinstance(image, torch.Tensor):
        image = image.detach()  # the result is made without gradients (the sampler's steps are not differentiable)
        _check_tensor(image)
        dtype, dev = image.dtype, image.device
        return image.float(), (lambda t, std=False: t.to(device=dev, dtype=dtype).contiguous()), None
    if isinstance(image, np.ma.MaskedArray):  # its mask would be dropped in silence
        raise InputError("image is a numpy masked array: pass its data (image.filled(...)), and, to inpaint the "
                         "masked pixels, mask=np.ma.getmaskarray(image)")
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a numpy array or a torch tensor, got {type(image).__name__}")
    a = native(image)  # a big-endian uint16 is uint16
    if a.dtype == np.bool_ or a.dtype.kind not in "uf" or a.dtype not in (
        np.uint8, np.uint16, np.float16, np.float32, np.float64
    ):
        raise InputError(f"unsupported array dtype {a.dtype} (use uint8, uint16 or float in [0, 1])")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (2, 3, 4)):
        raise InputError(f"a numpy image must be H x W or H x W x C (C = 2 for gray + alpha, 3 for RGB, 4 for RGBA), "
                         f"got shape {a.shape}")
    _check_size(a.shape[0], a.shape[1])
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InputError("image holds NaN or inf")
    img = Image(a)  # its colour and alpha split as a file's are
    alpha, color = img.alpha, img.color
    if a.dtype.kind == "f":
        check_float_scale(color)
    dtype, given = a.dtype, image.dtype  # (given: in the caller's byte order)
    squeeze = image.ndim == 3 and image.shape[2] == 1

    def back(t: torch.Tensor, std: bool = False) -> np.ndarray:
        """The result as the caller's array; ``std``: a std map, float32 in the image's own
        units (uint8: 0-255 levels), not rounded to its integer levels."""
        from .io import from_tensor

        if std:  # a std is at most 0.5: from_tensor's clip to [0, 1] leaves it as it is
            unit = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(np.dtype(dtype), 1.0)
            out = from_tensor(t, np.float32) * np.float32(unit)
        else:
            out = from_tensor(t, dtype)
        if squeeze and out.ndim == 2:  # H x W x 1 back as given (a task that makes colour of it: H x W x 3)
            out = out[:, :, None]
        return out if std or given == dtype else out.astype(given)

    return to_tensor(color), back, alpha


def _check_tensor(image: Any) -> None:
    """Refuse what is not a ``(B, C, H, W)`` float tensor of 1 or 3 channels in [0, 1], finite
    (:func:`run` takes no other; :func:`restore` converts numpy to it)."""
    if not isinstance(image, torch.Tensor):
        raise InputError(f"a (B, C, H, W) float tensor in [0, 1] is taken here, got {type(image).__name__} "
                         "(restore.restore takes numpy arrays too)")
    if image.ndim != 4:
        raise InputError(f"a torch image must be (B, C, H, W), got shape {tuple(image.shape)}")
    if not image.is_floating_point():
        raise InputError(f"a torch image must be float in [0, 1], got {image.dtype}")
    if image.shape[1] not in (1, 3):
        raise InputError(f"a torch image must have 1 or 3 channels, got {image.shape[1]}")
    if image.shape[0] == 0:
        raise InputError(f"a torch batch of no images (shape {tuple(image.shape)})")
    _check_size(image.shape[-2], image.shape[-1])
    if not torch.isfinite(image).all():
        raise InputError("image holds NaN or inf")
    if float(image.max()) > FLOAT_BRIGHT or bool((image < -0.25).any()):  # then the full check, image by image
        for b in range(image.shape[0]):
            check_float_scale(image[b].detach().float().permute(1, 2, 0).cpu().numpy(), "a torch image")


def _check_size(h: int, w: int) -> None:
    if h < 1 or w < 1:
        raise InputError(f"image has no pixels ({w}x{h})")
    if h > MAX_SIDE or w > MAX_SIDE:
        raise InputError(f"image is {w}x{h}; sides over {MAX_SIDE} pixels are not supported")


def _alpha_back(alpha: np.ndarray | None, out: Any, how: str = "cubic") -> Any:
    """The output with the input's alpha channel appended (resized when the output is, ``how``:
    "cubic" or "nearest", :meth:`Task.alpha_resize`)."""
    if alpha is None:
        return out
    if alpha.shape[:2] != out.shape[:2]:
        import cv2

        if alpha.dtype == np.float16:  # OpenCV resizes no float16 (cast back below)
            alpha = alpha.astype(np.float32)
        alpha = cv2.resize(alpha, (out.shape[1], out.shape[0]),
                           interpolation=cv2.INTER_NEAREST if how == "nearest" else cv2.INTER_CUBIC)
        if np.issubdtype(alpha.dtype, np.floating):  # cubic overshoots at edges (integers saturate)
            alpha = np.clip(alpha, 0.0, 1.0)
    return np.concatenate([out if out.ndim == 3 else out[:, :, None], alpha[:, :, None].astype(out.dtype)], axis=2)


# -- the chain ---------------------------------------------------------------------------
def run(
    x: torch.Tensor,
    task: str,
    *,
    sampler: str | None = None,
    steps: int | None = None,
    seed: int | Sequence[int] | None = None,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    device: str | torch.device | None = "cpu",
    prior: Prior | str | None = None,
    samples: int = 1,
    sigma_max: float | None = None,
    sigma_min: float | None = None,
    spacing: str | None = None,
    progress: Callable[[dict], None] | None = None,
    tiles: bool = True,
    bits: int | None = None,
    check_only: bool = False,
    **options: Any,
) -> Result | None:
    """Restore a ``(B, C, H, W)`` measurement tensor in [0, 1] (the chain, no conversion).

    ``options`` are the task's parameters (``restore.TASKS``; e.g. ``sigma``, the
    measurement noise in [0, 1] units, ``known`` / ``mask`` for inpainting, ``scale``) and
    the sampler's own (e.g. ``eta``); anything else is refused. The other parameters are
    those of :func:`restore`. A problem whose operator is not pointwise (super-resolution)
    and whose output is larger than the prior's tile runs tile by tile (``tiles=False``: the
    whole image at once); pointwise ones let the prior tile its own calls.

    Each image of the batch draws its noise from its own generator (``seed``, or one seed
    per image; or ``generator``, a sequence with one per image; neither: seed 0, so calls
    without a seed give the same sample), and a parameter that is per
    image (inpainting's ``mask``) may be a list, so an image's result does not depend on its
    batch-mates. A measurement noise level estimated from the images (denoise without
    ``sigma``) is one per image: such a batch runs image by image and ``sigma_y`` is a list.
    Grey stored as RGB is restored as grey, and toned black and white (sepia) as its luma given
    back in its tone (:func:`restore.noise.toned`); a batch mixing those with colour images runs
    image by image.
    One ``torch.Generator`` for the whole batch is also accepted (the draws then follow the
    batch).

    ``bits`` (8-15): the data lie under ``2**bits`` of a 16-bit range (a 12-bit camera's in a
    16-bit file: ``x <= 4095 / 65535``); they are restored on that range, the noise levels given
    and the result in ``x``'s units as ever; the sampler's levels (``sigma_max``, ``sigma_min``,
    ``sigma_start``) are the prior's, on the data's range, as for any image (:func:`restore` sets
    ``bits`` for a uint16 array, the command line for a 16-bit file: :func:`restore.io.data_bits`).
    None (or 16): ``x``'s own range.

    ``check_only``: every check made, nothing run; returns None (an :class:`InputError` where a
    check fails). A list of images is checked so before the first of them runs.
    """
    t0 = time.perf_counter()
    tk = get_task(task)
    _check_tensor(x)  # a public entry: a uint8 or 0-255 tensor came back white, numpy as an AttributeError
    kinds = [_kind(im) for im in x]  # as grey, as its luma in its tone, or as it is (each image read once)
    if len({k for k, _ in kinds}) > 1:  # grey, toned and colour images in one batch: each as it runs alone (a
        # toned image beside a colour one ran as colour: its result depended on its batch-mates)
        B = x.shape[0]
        gens = [None] * B if generator is None else [generator] * B if isinstance(generator, torch.Generator) \
            else list(generator) if isinstance(generator, (list, tuple)) else generator
        if generator is not None and (not isinstance(gens, list) or len(gens) != B):
            raise InputError(f"generator must be a torch.Generator or a list of them, one per image of the "
                             f"{B}, got {generator!r}")
        seeds = _seeds(seed, B) if generator is None else [None] * B
        parts = [run(x[i : i + 1], task, sampler=sampler, steps=steps, seed=seeds[i],
                     generator=None if gens[i] is None else [gens[i]], device=device, prior=prior, samples=samples,
                     sigma_max=sigma_max, sigma_min=sigma_min, spacing=spacing, progress=progress, tiles=tiles,
                     bits=bits, check_only=check_only, **_item(options, i, B))
                 for i in range(B)]
        if check_only:
            return None
        return _merged(parts, seed if seed is not None else (0 if generator is None else None), t0)
    kind = kinds[0][0]
    if kind != "as is":  # restored as one grey channel and given back in colour: grey stored as RGB (a trial: a
        # black-and-white photo saved as RGB read noise of 22.6 for 15, a grey grating came out in colours) and
        # toned black and white (sepia: a trial's sepia grain read 2.88 where its grey twin read 8.43)
        tones = [t for _, t in kinds]
        res = run(x[:, :1] if kind == "grey" else luma_of(x), task, sampler=sampler, steps=steps, seed=seed,
                  generator=generator, device=device, prior=prior, samples=samples, sigma_max=sigma_max,
                  sigma_min=sigma_min, spacing=spacing, progress=progress, tiles=tiles, bits=bits,
                  check_only=check_only, **tk.as_grey(options))
        if check_only:
            return None
        g = res.image
        if kind == "grey":
            res.image = g.expand(-1, 3, -1, -1).contiguous()
            res.std = None if res.std is None else res.std.expand(-1, 3, -1, -1).contiguous()
        else:
            res.image = torch.cat([t.apply(g[b : b + 1]) for b, t in enumerate(tones)])
            if res.std is not None:
                res.std = torch.cat([t.slope(g[b : b + 1]) for b, t in enumerate(tones)]) * res.std
        # said in --json (a trial found nothing said so)
        res.params = {**res.params, "restored_as": "grey" if kind == "grey" else "toned grey"}
        res.seconds = time.perf_counter() - t0
        return res
    if bits is not None and bits != 16:
        return _on_own_range(tk, task, x, bits, options, sampler=sampler, steps=steps, seed=seed, generator=generator,
                             device=device, prior=prior, samples=samples, sigma_max=sigma_max, sigma_min=sigma_min,
                             spacing=spacing, progress=progress, tiles=tiles, check_only=check_only)
    if not _is_int(samples) or not 1 <= samples <= MAX_SAMPLES:
        raise InputError(f"samples must be an integer between 1 and {MAX_SAMPLES}, got {samples!r}")
    if steps is not None and (not _is_int(steps) or not 1 <= steps <= 1000):
        raise InputError(f"steps must be an integer between 1 and 1000, got {steps!r}")
    _check_levels(sigma_max, sigma_min, spacing)
    _check_progress(progress)
    names = {q.name for q in tk.params}
    given = {k: v for k, v in options.items() if k in names}
    hyper = {k: v for k, v in options.items() if k not in names and v is not None}
    p = tk.check(x, given)
    rc = tk.recipe(p)
    name = sampler or rc.sampler
    sspec = check_compatible(name, tk)
    check_samples(name, samples, tk, p)
    check_unscheduled(name, sspec, steps, sigma_max, sigma_min, spacing)
    own = name == rc.sampler  # the task's measured defaults go with its default sampler
    check_stepless_samples(rc if own and sampler is None else None, samples, steps)
    fn = sspec.load()
    _check_options(name, fn, hyper, tk)
    hyper = _typed_options(name, fn, hyper)
    if own:  # explicit options win over the task's measured ones
        hyper = {**dict(rc.options), **hyper}
    dev = resolve_device(device)
    x = x.to(dev)
    B, C, H, W = x.shape
    oh, ow = tk.out_size(H, W, p)
    if max(oh, ow) > MAX_SIDE:
        raise InputError(f"the output would be {ow}x{oh}; sides over {MAX_SIDE} pixels are not supported")
    pri = get_prior(prior, dev)
    _check_prior_levels(pri.schedule, sigma_max, sigma_min)
    cin = getattr(pri.net, "in_channels", C)
    if C != cin and not (C == 1 and cin == 3):  # (a grey image runs through a colour prior as grey RGB)
        raise InputError(f"the prior takes {'grey (1-channel)' if cin == 1 else f'{cin}-channel'} images, and the "
                         f"image has {C} channels" + (": make it grey first" if cin == 1 else ""))
    if generator is not None and seed is not None:  # which one draws the noise would be a silent choice
        raise InputError("give seed or generator, not both")
    reported = seed if seed is not None else (0 if generator is None else None)  # the result's seed (default 0)
    if generator is None:
        generator = [torch.Generator("cpu").manual_seed(s) for s in _seeds(seed, B)]
    elif not isinstance(generator, torch.Generator) and (
            not isinstance(generator, (list, tuple)) or not all(isinstance(g, torch.Generator) for g in generator)):
        raise InputError(f"generator must be a torch.Generator (or a list of them, one per image), got {generator!r}")
    elif not isinstance(generator, torch.Generator) and len(generator) != B:
        raise InputError(f"{len(generator)} generators for a batch of {B} images")
    # each image's seed, for a task's own randomness (inpainting's scene fill: its PatchMatch search)
    p["seeds"] = tuple(g.initial_seed() for g in ([generator] * B if isinstance(generator, torch.Generator)
                                                   else generator))
    if check_only:
        return None
    scale = tk.tile_scale(p)
    if (scale is not None and tiles and pri.tile is not None and max(oh, ow) > pri.tile >= 16 * scale
            and not (B > 1 and tk.estimates(p))):  # (such a batch is split first: each image settles its own)
        def solve(xt, cb):  # the first tile checks the sampler before any work
            return run(xt, task, sampler=sampler, steps=steps, generator=generator, device=dev,
                       prior=pri, samples=samples, sigma_max=sigma_max, sigma_min=sigma_min, spacing=spacing,
                       progress=cb, tiles=False, **{**options, **tk.settled(p)})

        res = _by_tiles(x, scale, pri.tile, pri.net.size_multiple, solve, progress)
        res.seed, res.seconds = reported, time.perf_counter() - t0
        # what the whole image settled and its tiles were told as given (a drawn image's kernel): its own too
        res.params = {**_shown(tk.reported(p)), **res.params}
        return res
    regions = tk.regions(x, p, pri.net.size_multiple) if tiles else None
    if regions is not None:  # a problem local to parts of the image (inpainting's holes)
        own_opts = {k: v for k, v in options.items() if k not in names}

        def solve(xt, params, rows, cb):
            gens = generator if isinstance(generator, torch.Generator) else [generator[i] for i in rows]
            return run(xt, task, sampler=sampler, steps=steps, generator=gens, device=dev,
                       prior=pri, samples=samples, sigma_max=sigma_max, sigma_min=sigma_min, spacing=spacing,
                       progress=cb, tiles=False, **own_opts, **params)

        res = _by_regions(x, regions, solve, progress)
        own_keys = regions[0][1].keys()  # set per region (its fill, ...): reported as the regions ran
        res.params = {**res.params, **{k: v for k, v in _shown(p).items() if k not in own_keys}}
        res.seed, res.seconds = reported, time.perf_counter() - t0
        return res
    if B > 1 and tk.estimates(p):  # each image's own noise level: one problem per image
        gens = generator if not isinstance(generator, torch.Generator) else [generator] * B
        parts = [run(x[i : i + 1], task, sampler=sampler, steps=steps, generator=[gens[i]],
                     device=dev, prior=pri, samples=samples, sigma_max=sigma_max, sigma_min=sigma_min,
                     spacing=spacing, progress=progress, tiles=tiles, **_item(options, i, B))
                 for i in range(B)]
        return _merged(parts, reported, t0, levels=True)
    op, y, estimated = tk.build(x, p)
    if estimated:  # a level read from the image, checked with the prior (a photo's texture taken for noise)
        with torch.no_grad():
            op, said = tk.settle_level(op, y, p, pri)
        p = {**p, **said}
    n_steps = int(steps) if steps else default_steps(rc, sspec, sampler)
    if n_steps and tk.left_as_is(op):  # (denoising at level 0: a named dpir ran 8 steps, 12 s, to hand back y)
        n_steps = 0
    if samples > 1:
        y = y.repeat_interleave(samples, dim=0)
    if sigma_max is None:
        sigma_max = rc.sigma_max if own else sspec.sigma_max
    if own:
        spacing = rc.spacing if spacing is None else spacing
        if sigma_min is None:
            sigma_min = rc.sigma_min if rc.sigma_min is not None else tk.last_level(op)
    if n_steps == 0:  # a recipe of no steps: the operator's first guess as it is (no prior)
        sigmas, name, hyper = None, "none", {}
        out = op.init(y)
    else:
        sigmas = pri.schedule.sampling_sigmas(n_steps, sigma_max=sigma_max, sigma_min=sigma_min,
                                              spacing=spacing or "karras")
        with torch.no_grad():
            out = fn(op.denoiser(pri), y, op, sigmas, generator=generator, callback=progress, **hyper)
        if sspec.inexact or sspec.stochastic:
            _check_converged(name, op, y, out, n_steps, sspec)
    out = op.finish(out, y).float()
    if n_steps:  # (an image left as it is stays so)
        with torch.no_grad():
            out, said = tk.refine(op, y, out, p, pri)
        p = {**p, **said}
    if not bool(torch.isfinite(out).all()):  # never written out (as black) with exit 0
        raise RestoreError(f"{task}: the result holds NaN or inf (sampler {name}, {n_steps} steps, noise level "
                           f"{float(op.noise) * 255:.3g} of 255); try another sigma or steps, and please report it")
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
        seed=reported,
        sigma_y=op.noise,
        sigma_estimated=estimated,
        seconds=time.perf_counter() - t0,
        params=_shown(tk.reported(p)) | hyper,
        sigma_start=float(sigmas[0]) if sigmas is not None and sspec.scheduled else None,
    )


def _merged(parts: list[Result], seed: int | None, t0: float, levels: bool = False) -> Result:
    """One result of a batch's images restored one by one (``parts``, in order); ``levels``: each
    read its own noise level (``sigma_y`` a list, as documented, whatever their values)."""
    res = parts[0]
    res.image = torch.cat([r.image for r in parts])
    res.std = None if res.std is None else torch.cat([r.std for r in parts])
    res.sigma_y = [r.sigma_y for r in parts] if levels or any(r.sigma_estimated for r in parts) \
        else _one_or_each([r.sigma_y for r in parts])
    # what each image settled on its own (a JPEG's tables, a level read): its own, not the first's; and
    # what ran on it (an image left as it is runs no sampler: a trial's batch was all 'none' or all 'dpir')
    res.sampler = _one_or_each([r.sampler for r in parts])
    res.steps = _one_or_each([r.steps for r in parts])
    res.sigma_estimated = _one_or_each([r.sigma_estimated for r in parts])
    res.sigma_start = _one_or_each([r.sigma_start for r in parts])
    keys = dict.fromkeys(k for r in parts for k in r.params)  # all the images' (one may settle a key alone)
    res.params = {k: _one_or_each([r.params.get(k) for r in parts]) for k in keys}
    res.seed, res.seconds = seed, time.perf_counter() - t0
    return res


def _kind(x: torch.Tensor):
    """How :func:`run` restores an image (``(C, H, W)``): ``("grey", None)`` (grey stored as RGB),
    ``("toned", tone)`` (toned black and white: its luma, given back in its :class:`Tone`) or
    ``("as is", None)``."""
    if grey_as_rgb(x):
        return "grey", None
    tone = toned(x)
    return ("toned", tone[0]) if tone is not None else ("as is", None)


def _image_of(v, i: int, n: int):
    """Image ``i``'s part of an option of a batch of ``n`` images: a list's item, or a per-image
    array's (``B x H x W``, ``B x 1 x H x W`` or ``B x H x W x C``, as a mask may be given)."""
    if isinstance(v, (list, tuple)) and len(v) == n:
        return v[i]
    if isinstance(v, (np.ndarray, torch.Tensor)) and v.ndim >= 3 and v.shape[0] == n:
        return v[i : i + 1] if v.ndim == 4 and v.shape[1] in (1, 3) else v[i]
    return v


def _times(v, f: float):
    """A value in the image's units (a number, a list or tuple of them, an array) times ``f``."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (list, tuple)):
        return type(v)(_times(e, f) for e in v)
    return v * f


def check_own_range(tk, bits, options: dict) -> float:
    """The white (``peak``, [0, 1] units) of 16-bit data that lie under ``2**bits``, with the
    parameters ``options`` of task ``tk`` in the data's units (:attr:`Param.intensity`) checked
    against that range: refused (:class:`InputError`) where they are over it. The command line
    checks them so before its warnings (a "far from the noise" warning came just before the
    refusal)."""
    from .io import LEAST_BITS, bits_peak

    if not _is_int(bits) or not LEAST_BITS <= bits <= 16:
        raise InputError(f"bits must be a whole number from {LEAST_BITS} to 16, got {bits!r}")
    peak = bits_peak(int(bits))
    own = {q.name: q for q in tk.params if q.intensity}
    for k, v in options.items():  # checked in the caller's units (their range, and the data's)
        q = own.get(k)
        if q is None or v is None or isinstance(v, (torch.Tensor, np.ndarray)):
            continue
        for e in (v if isinstance(v, (list, tuple)) else [v]):
            e = q.check(e)
            if q.range is not None and e is not None and e / peak > q.range[1] / q.unit:
                raise InputError(f"{q.name} {e * q.unit:g} (of {q.unit:g} for the 16-bit range) is over the range "
                                 f"of {bits}-bit data (values up to {2**bits - 1}): at most {q.range[1] * peak:.4g}")
    return peak


def _on_own_range(tk, task: str, x: torch.Tensor, bits, options: dict, **kw) -> Result | None:
    """:func:`run` on 16-bit data that lie under ``2**bits`` (its ``bits``): the image and the
    parameters in its units (:attr:`Param.intensity`) over ``peak`` (the data's white), the
    result's back under it; ``bits`` reported."""
    peak = check_own_range(tk, bits, options)
    if float(x.max()) > peak * (1 + 1e-6):
        raise InputError(f"bits={bits}: the image holds values over {2**bits - 1} of 65535 ({float(x.max()):.6g} "
                         f"in [0, 1] units; peak {peak:.6g})")
    own = {q.name for q in tk.params if q.intensity}
    options = {k: _times(v, 1 / peak) if k in own else v for k, v in options.items()}
    res = run((x / peak).clamp(0, 1), task, **kw, **options)  # (the sampler's levels are the prior's: as given)
    if res is None:  # (check_only)
        return None
    res.image = res.image * peak
    res.std = _times(res.std, peak)
    res.sigma_y = _times(res.sigma_y, peak)
    res.params = {k: _times(v, peak) if k in own or tk.reported_units.get(k) == 255.0 else v
                  for k, v in res.params.items()}
    res.params["bits"] = int(bits)
    return res


#: a result of a sampler from pure noise further than this (RMS, [0, 1] units) beyond 1.5 times
#: the noise from its measurement is refused: on 64x64 denoising and x2 crops, dps runs thrown
#: off lay 24-94 / 255 from it, converged ones within the noise (at most 22 for noise 25)
#: (benchmarks/results/dps_step.md); ddnm, ddrm and pigdm given 1-2 steps (a 96x128 crop, noise
#: 25) handed back the prior's guess from pure noise, 1.3-3 times this bound away, and from 4-8
#: steps on lay within half of it
DIVERGED = 12 / 255


#: a fill of holes unlike its surroundings, never handed back: more of it at black or white (a
#: channel at 0 or 1) than of the band around the holes by this share, or its pixel-to-pixel
#: change over this many times the band's (at least HOLE_CALM). Inpainting's known pixels are
#: copied, so its result lies on its measurement whatever the holes hold: given 1-2 steps, ddnm,
#: ddrm, repaint, diffpir and pigdm filled the holes with the prior's guess from pure noise (37-96 %
#: more of it at 0 or 255 than the band); at their default steps no sampler's fill had over 4 % more,
#: nor changed over 2.7 times as much (6 validation crops, a box and thick strokes, 7 samplers:
#: benchmarks/hole_check.py)
HOLE_SATURATED, HOLE_BUSY, HOLE_CALM = 0.25, 6.0, 6 / 255


def _hole_readings(op, out: torch.Tensor) -> list[tuple[float, float, float] | None]:
    """Per image of an inpainting result: the share of its holes' pixels with a channel at black
    or white, that of the band of known pixels around them (16 px), and how much more the holes
    change from pixel to pixel than the band (the band's change taken as at least HOLE_CALM);
    None for an image with no band to judge by."""
    import torch.nn.functional as F

    o = out.clamp(0, 1)
    hole = (op.mask(o) < 0.5).any(1, keepdim=True).float().expand(o.shape[0], -1, -1, -1)  # (B, 1, H, W)
    band = (F.max_pool2d(hole, 17, stride=1, padding=8) > 0).float() - hole
    sat = ((o <= 0) | (o >= 1)).any(1, keepdim=True).float()
    change = torch.zeros_like(hole)  # a forward difference: none taken off the last row or column
    change[..., :-1, :-1] = ((o[..., 1:, :-1] - o[..., :-1, :-1]).abs() + (o[..., :-1, 1:] - o[..., :-1, :-1]).abs()
                             ).sum(1, keepdim=True)
    inner = hole.clone()
    inner[..., -1:, :] = 0
    inner[..., :, -1:] = 0

    def mean(v, m):
        return float((v * m).sum() / m.sum().clamp_min(1))

    out_ = []
    for b in range(o.shape[0]):
        h, n, s, c, i = hole[b], band[b], sat[b], change[b], inner[b]
        if n.sum() < 16:  # (a hole over nearly all of the image is refused before)
            out_.append(None)
            continue
        out_.append((mean(s, h), mean(s, n), mean(c, i) / max(mean(c, n), HOLE_CALM)))
    return out_


def _hole_unlike(op, out: torch.Tensor) -> str | None:
    """How an inpainting result's holes are unlike the band of known pixels around them
    (:func:`_hole_readings`, :data:`HOLE_SATURATED`, :data:`HOLE_BUSY`), or None."""
    said = None
    for r in _hole_readings(op, out):
        if r is None:
            continue
        s_hole, s_band, busy = r
        if s_hole - s_band > HOLE_SATURATED:
            said = f"{s_hole:.0%} of its holes' fill lies at black or white ({s_band:.0%} of the pixels around them)"
        elif busy > HOLE_BUSY:
            said = f"its holes' fill changes {busy:.0f} times as much from pixel to pixel as the pixels around them"
    return said


def _check_converged(name: str, op, y: torch.Tensor, out: torch.Tensor, n_steps: int, spec) -> None:
    """Refuse a result that lies far from its measurement ``y`` (a sampler whose fixed-length
    steps threw the state off, or too few steps from pure noise), or whose holes are filled with
    what is unlike their surroundings (:func:`_hole_unlike`; the known pixels of an operator that
    keeps them exactly say nothing): never handed back as a restoration (``spec``: the
    sampler's)."""
    advice = ("give it more steps (50-100), or take a sampler with an exact data step (dpir, ddnm)" if spec.inexact
              else f"give it more steps (its default is {spec.default_steps})" if n_steps < spec.default_steps
              else "this sampler may not suit this image (with its default steps or more): try another, such "
                   "as the task's default")
    took = f"{name} did not converge in {n_steps} step{'s' if n_steps != 1 else ''}"
    far = float(torch.sqrt(((y - op.A(out.clamp(0, 1))) ** 2).flatten(1).mean(1)).max())
    if far > 1.5 * float(op.sigma_y) + DIVERGED:  # sigma_y: with a model error where the task adds one
        raise RestoreError(f"{took}: its result lies {far * 255:.0f}/255 (RMS) from the measurement, whose noise is "
                           f"{float(op.noise) * 255:.3g}/255; {advice}")
    unlike = _hole_unlike(op, out) if "mask" in op.capabilities else None
    if unlike:
        raise RestoreError(f"{took}: {unlike}; {advice}")


def default_steps(rc, spec, sampler: str | None) -> int:
    """The steps a run takes when none are given: the task's recipe ``rc``'s with its own
    sampler (a recipe of 0 steps runs no sampler, unless one is named), else the sampler's
    (``spec``) default; ``sampler``: the one named, or None."""
    own = (sampler or rc.sampler) == rc.sampler
    return rc.steps if own and (rc.steps or sampler is None) else spec.default_steps


def _shown(p: dict) -> dict:
    """The task parameters a result reports: the plain values, or lists of them (one per image
    of a batch); not tensors, arrays, switches or the noise."""
    def plain(v):
        return isinstance(v, (int, float, str)) and not isinstance(v, bool)

    return {k: v for k, v in p.items()
            if k != "sigma" and (plain(v) or (isinstance(v, list) and v and all(map(plain, v))))}


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) \
        and math.isfinite(float(v))


SPACINGS = ("karras", "uniform", "log")


def _check_levels(sigma_max, sigma_min, spacing) -> None:
    """The noise levels asked for: positive numbers ([0, 1] units; above the prior's top they
    start at its top), the last below the first, a known spacing."""
    for k, v in (("sigma_max", sigma_max), ("sigma_min", sigma_min)):
        if v is not None and (not _is_real(v) or v <= 0):
            raise InputError(f"{k} must be a positive number (a noise level in [0, 1] units), got {v!r}")
    if sigma_max is not None and sigma_min is not None and sigma_min > sigma_max:
        raise InputError(f"sigma_min ({sigma_min:g}) must not be above sigma_max ({sigma_max:g})")
    if spacing is not None and spacing not in SPACINGS:
        raise InputError(f"spacing must be one of {', '.join(SPACINGS)}, got {spacing!r}")


def _check_prior_levels(schedule, sigma_max, sigma_min) -> None:
    """A level asked for below the prior's lowest is refused (it ran at the lowest in
    silence: ``sigma_max=1e-9`` started at 1.3 of 255); above its top it starts at the top
    (from pure noise), as documented."""
    lo = float(schedule.sigma_min)
    for k, v in (("sigma_max", sigma_max), ("sigma_min", sigma_min)):
        if v is not None and v < lo * (1 - 1e-9):
            raise InputError(f"{k} {v:.3g} ({v * 255:.3g} of 255) is below the prior's lowest noise level, {lo:.3g} "
                             f"({lo * 255:.3g} of 255)")


def check_unscheduled(name: str, spec, steps=None, sigma_max=None, sigma_min=None, spacing=None) -> None:
    """Refuse levels or steps for sampler ``name`` (``spec``) when it evaluates the prior once at
    the measurement's own level (not scheduled: mmse), where they would be ignored."""
    if spec.scheduled:
        return
    if sigma_max is not None or sigma_min is not None or spacing is not None:
        raise InputError(f"sampler '{name}' evaluates the prior once at the measurement's noise level: "
                         "sigma_max / sigma_min / spacing do not apply")
    if steps not in (None, spec.default_steps):  # never run as asked and reported so
        raise InputError(f"sampler '{name}' evaluates the prior once at the measurement's noise level: steps "
                         f"{steps} do not apply" + (" (mmse@poses=N averages N evaluations)" if name == "mmse" else ""))


def check_stepless_samples(recipe, samples: int, steps: int | None) -> None:
    """Refuse ``samples`` > 1 where the recipe runs no sampler (0 steps, none given): every
    sample would be the same fill and the std map zero."""
    if recipe is not None and samples > 1 and recipe.steps == 0 and not steps:
        raise InputError(f"samples {samples}: this fill runs no sampler (no steps of the prior), so every "
                         "sample would be the same; add steps (steps=4, --steps 4) to sample")


def _seeds(seed: int | Sequence[int] | None, n: int) -> list[int]:
    """One seed per image: ``seed`` for each (so an image's result is the same in any batch),
    or the given sequence."""
    def one(s):
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise InputError(f"seed must be an integer (or a list of integers, one per image), got {s!r}")
        return int(s)

    if seed is None or isinstance(seed, (int, np.integer, bool)) or not isinstance(seed, (list, tuple, np.ndarray)):
        seeds = [0 if seed is None else one(seed)] * n
    else:
        seeds = [one(s) for s in seed]
        if len(seeds) != n:
            raise InputError(f"{len(seeds)} seeds for a batch of {n} images")
    for s in seeds:  # what torch.Generator.manual_seed takes ("Overflow when unpacking long long" beyond)
        if not 0 <= s <= MAX_SEED:
            raise InputError(f"seed must be an integer in 0-{MAX_SEED} (2**64 - 1), got {s}")
    return seeds


def _warn_of(tk, x: torch.Tensor, params: dict, prefix: str = "") -> None:
    """``tk.api_warnings`` of the parameters as given, each a ``UserWarning`` at the caller's
    line (the first frame outside this package: ``restore.inpaint`` and the other helpers call
    :func:`restore` in turn). Given before :func:`run` checks them: where one cannot be read (a
    mask of strings) there are none, and :func:`run` refuses it in its own words."""
    import sys

    try:
        said = tk.api_warnings(x, params)
    except Exception:  # noqa: BLE001 - a bad parameter is run()'s to refuse, with its one-line message
        said = []
    outside = outside_share(x) if x.is_floating_point() else 0.0
    if outside > OUTSIDE_SHARE:  # calibrated data (a background subtracted) lost their negative part in silence
        said.insert(0, f"{outside:.1%} of the image's samples lie outside [0, 1] (from {float(x.min()):.4g} to "
                       f"{float(x.max()):.4g}): the result is clipped to [0, 1]; to keep them, scale the image into "
                       "[0, 1] first and back after")
    here = os.path.dirname(os.path.abspath(__file__))
    level, f = 2, sys._getframe(1)  # stacklevel 2: the frame that called this function
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(here + os.sep):
        level, f = level + 1, f.f_back
    for w in said:
        warnings.warn(prefix + w, UserWarning, stacklevel=level)


def _check_progress(progress) -> None:
    """``progress`` is None or a function taking one dict, refused before any work (it is
    first called after the first step)."""
    import inspect

    if progress is None:
        return
    if not callable(progress):
        raise InputError(f"progress must be a function taking one dict (or None), got {progress!r}")
    try:
        inspect.signature(progress).bind({})
    except TypeError:
        raise InputError(f"progress must take one argument (a dict of the step's state): {progress!r} does not "
                         "take one") from None
    except ValueError:  # no signature to read (some built-ins): taken as it is
        pass


def _item(options: dict, i: int, n: int) -> dict:
    """Image ``i``'s options out of a batch's (per-image lists and arrays indexed: :func:`_image_of`)."""
    return {k: _image_of(v, i, n) for k, v in options.items()}


def sampler_options(fn: Callable) -> dict:
    """A sampler function's own keywords (beyond the shared signature) and their defaults."""
    import inspect

    fixed = {"denoiser", "y", "op", "sigmas", "generator", "callback"}
    return {k: v.default for k, v in inspect.signature(fn).parameters.items() if k not in fixed}


def _check_options(name: str, fn: Callable, hyper: dict, tk) -> None:
    """Refuse keywords that neither the task nor the sampler takes (before any work)."""
    import difflib

    own = list(sampler_options(fn))
    bad = [k for k in hyper if k not in own]
    if bad:
        known = [q.name for q in tk.params] + own
        near = [m for k in bad for m in difflib.get_close_matches(k, known, n=1, cutoff=0.6)]
        raise InputError(
            f"unknown option {', '.join(map(repr, bad))} for task '{tk.name}' with sampler '{name}'"
            + (f"; did you mean {', '.join(map(repr, near))}?" if near else "")
            + f" (task options: {', '.join(q.name for q in tk.params) or 'none'}; "
            f"sampler options: {', '.join(own) or 'none'})"
        )


def check_sampler_options(name: str, options: dict, task: str) -> dict:
    """``options`` for sampler ``name`` on ``task`` (e.g. parsed from ``mmse@poses=8``),
    checked before any work: each must be the sampler's own keyword, of its default's type
    (an int where the default is one; ``true``/``false`` for a switch). Returns them with
    switches as bools."""
    tk = get_task(task)
    fn = check_compatible(name, tk).load()
    own = list(sampler_options(fn))
    bad = [k for k in options if k not in own]
    if bad:  # NAME@KEY=VALUE takes the sampler's own options only: say where the others go
        k = bad[0]
        where = {q.name: q.option for q in tk.params if q.cli and q.option}
        import difflib

        near = difflib.get_close_matches(k, own, n=1, cutoff=0.6)
        hint = (f"; {k} is an option of its own, --{k.replace('_', '-')}"
                if k in ("sigma_max", "sigma_min", "steps", "seed", "samples")
                else f"; {k} is the task's option {where[k]}" if k in where
                else f"; did you mean {near[0]!r}?" if near else "")
        raise InputError(f"sampler '{name}' has no option {k!r} (its options: {', '.join(own) or 'none'}){hint}")
    defaults = sampler_options(fn)
    switches = {k: {"true": True, "false": False, 1: True, 0: False}.get(v.lower() if isinstance(v, str) else v, v)
                for k, v in options.items() if isinstance(defaults[k], bool) and not isinstance(v, float)}
    return _typed_options(name, fn, {**options, **switches})


def _typed_options(name: str, fn: Callable, options: dict) -> dict:
    """``options`` of sampler ``fn`` checked before any work: each of its default's type (an
    integer where the default is one, a real number for a float, a bool for a switch; numpy
    scalars taken as Python's) and within the range the sampler declares
    (:func:`~restore.samplers.common.option_ranges`)."""
    defaults, ranges = sampler_options(fn), getattr(fn, "option_ranges", {})
    positive = getattr(fn, "option_positive", frozenset())
    out = {}
    for k, v in options.items():
        d = defaults[k]
        if isinstance(d, bool):
            ok = isinstance(v, (bool, np.bool_))
        elif isinstance(d, int):
            ok = _is_int(v)
        elif isinstance(d, float):
            ok = _is_real(v)
        else:
            ok = True
        if not ok:
            raise InputError(f"sampler '{name}': option {k} takes a{'n' if type(d).__name__[0] in 'aeiou' else ''} "
                             f"{type(d).__name__} (default {d!r}), got {v!r}")
        v = type(d)(v) if isinstance(d, (bool, int, float)) else v
        lo, hi = ranges.get(k, (None, None))
        above = k in positive and lo is not None  # lo itself excluded
        if (lo is not None and (v <= lo if above else v < lo)) or (hi is not None and v > hi):
            if above:
                span = f"> {lo}" + (f" and <= {hi}" if hi is not None else "")
            elif lo is not None and hi is not None:
                span = f"{lo}-{hi}"
            else:
                span = f">= {lo}" if lo is not None else f"<= {hi}"
            raise InputError(f"sampler '{name}': option {k} must be {'in ' if '-' in span else ''}{span}, got {v}")
        out[k] = v
    return out


TILE_OVERLAP = 64  # output pixels shared by neighbouring tiles of a non-pointwise problem


def _by_tiles(x: torch.Tensor, scale: int, tile: int, multiple: int,
              solve: Callable[[torch.Tensor, Callable | None], Result],
              progress: Callable[[dict], None] | None) -> Result:
    """Solve ``x`` (output ``scale`` times its size) in overlapping input tiles of at most
    ``tile`` output pixels, blended in the output.

    Each tile is its own problem (operator, sampler state), so memory and the operator's
    cost follow the tile, not the image. Near a tile edge the tile's operator sees a border
    where the image has none; a quarter of the overlap at each shared edge is dropped
    (weight 0) and the middle half cross-fades.
    """
    from .tiling import tile_layout, tile_weights

    B, C, h, w = x.shape
    ov = min(max(4, TILE_OVERLAP // scale), tile // scale // 4)
    mult = multiple // math.gcd(multiple, scale)
    ys, xs = tile_layout(h, tile // scale, ov, mult), tile_layout(w, tile // scale, ov, mult)
    k = len(ys) * len(xs)
    out = torch.zeros(B, C, h * scale, w * scale, dtype=torch.float32, device=x.device)
    std = None
    wsum = torch.zeros(1, 1, h * scale, w * scale, dtype=torch.float32, device=x.device)
    for j, ((y0, th), (x0, tw)) in enumerate(itertools.product(ys, xs)):
        res = solve(x[..., y0 : y0 + th, x0 : x0 + tw], _part_progress(progress, j, k, "tile"))
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


def _part_progress(progress: Callable[[dict], None] | None, j: int, k: int, what: str):
    """The per-step callback of part ``j`` of ``k`` (a tile, a region): its steps counted
    as steps of the whole, the part named under ``what``."""
    if progress is None:
        return None

    def cb(info):
        n = info["n"]
        progress({**info, "i": j * n + info["i"], "n": k * n, what: (j, k)})

    return cb


def _by_regions(x: torch.Tensor, regions: list, solve: Callable, progress: Callable[[dict], None] | None) -> Result:
    """Solve only the parts of ``x`` a task names (:meth:`~restore.tasks.base.Task.regions`):
    each region ``(box, params, take, rows)`` is its own problem on the crop ``box``
    (``(y0, y1, x0, x1)``) of the batch's images ``rows`` with the task parameters
    ``params``; its result replaces ``x`` only where ``take`` (bool, broadcastable to those
    rows' crop) is True. Everything else is the input, bit for bit, and costs nothing.
    Regions run in order, each on the image as the ones before it left it (overlapping ones:
    inpainting's scene fill, then the mean around it)."""
    out = x.detach().float().clone()
    std = None
    k = len(regions)
    res = None
    used = {}  # sampler -> most steps: regions may differ (inpainting's fill by each crop's holes)
    seen: dict = {}  # parameter -> its values over the regions, in order
    last: dict = {}  # the last step reported: regions that run no sampler (a scene fill) report none

    def seen_step(info):
        last.clear()
        last.update(info)
        progress(info)

    for j, (box, params, take, rows) in enumerate(regions):
        y0, y1, x0, x1 = box
        idx = torch.as_tensor(rows, device=x.device)
        res = solve(out[idx, :, y0:y1, x0:x1], params, rows,  # as the regions before left it
                    _part_progress(seen_step if progress is not None else None, j, k, "region"))
        used[res.sampler] = max(used.get(res.sampler, 0), res.steps)
        for key, v in res.params.items():
            seen.setdefault(key, {})[v] = None
        take = take.to(out.device)
        sl = (idx, slice(None), slice(y0, y1), slice(x0, x1))
        out[sl] = torch.where(take, res.image.to(out), out[sl])
        if res.std is not None:
            std = torch.zeros_like(out) if std is None else std
            std[sl] = torch.where(take, res.std.to(out), std[sl])
    if last and last["i"] < last["n"] - 1:  # the bar ends full (i counts from 0): its total counted steps
        progress({**last, "i": last["n"] - 1})  # that the stepless regions had not
    res.image, res.std = out, std
    res.sampler, res.steps = "+".join(used), max(used.values())
    res.params = {key: next(iter(vs)) if len(vs) == 1 else "+".join(map(str, vs)) for key, vs in seen.items()}
    res.params["regions"] = k
    return res


def _with_bits(image: Any, params: dict, given: dict | None = None) -> dict:
    """``params`` with ``bits`` (:func:`restore.io.data_bits`) for a uint16 array whose samples lie
    under 2**15, where neither ``params`` nor ``given`` names it (``bits=16``: the full range)."""
    from .io import data_bits

    named = {**(given or {}), **params}
    if "bits" in named:  # given: as given, but never for 8-bit data
        if isinstance(image, np.ndarray) and image.dtype == np.uint8 and named["bits"] not in (None, 16):
            raise InputError(f"bits={named['bits']!r} is for 16-bit data (a uint16 array, or floats made of one); "
                             "this image is uint8: 8-bit data on its own range already")
        return params
    if not isinstance(image, np.ndarray):
        return params
    b = data_bits(native(image))
    return params if b is None else {**params, "bits": b}


def restore(image: Any, task: str, *, samples: int = 1, batch_size: int | None = None, **params: Any) -> Any:
    """Restore an image (or a list of images) with the diffusion prior.

    Parameters
    ----------
    image : numpy.ndarray, torch.Tensor or list of them
        ``H x W [x C]`` array (uint8, uint16, or float in [0, 1]; an RGBA or gray + alpha
        (``H x W x 2``) image keeps its alpha, but pixels that inpainting fills become
        opaque) or a ``(B, C, H, W)`` float tensor in [0, 1] (the result carries no
        gradient). For ``sr`` this is the low-resolution image. A uint16 array whose samples
        all lie under ``2**b`` (b < 16: a 12-bit camera's) is restored on that range
        (:func:`run`'s ``bits``; ``bits=16``: its full range), ``sigma`` still of 65535. A list gives a list: images
        of the same size (and type) run through the sampler together, ``batch_size`` at a
        time.
    task : str
        A registered task (``restore.TASKS``: denoise, inpaint, sr, ...).
    samples : int
        Number of posterior samples; > 1 returns ``(mean, std)``: the std map per pixel as
        float32 in the image's own units (0-255 for uint8, 0-65535 for uint16, [0, 1] for
        float; for a tensor, the tensor's dtype), not rounded to integer levels.
    batch_size : int, optional
        With a list: the most images per sampler batch (default :func:`default_batch_size`:
        1 on CPU, where batching measured no faster). Each image keeps its own noise
        (``seed``, or a list of seeds), so its result does not depend on its batch-mates.
    **params
        The task's parameters (``restore list``; e.g. ``sigma``, the noise std in [0, 1]
        units, ``mask`` for inpainting: ``H x W``, True / 1 / at least half the range =
        pixels to fill; for a batch ``N x C x H x W`` one mask shared by all or ``N x H x W``
        one per image, ``scale`` for sr), ``sampler``, ``steps``, ``seed`` or
        ``generator``, ``device`` ("cpu", the default, "cuda", or "auto": the GPU when there
        is one), ``prior`` (a
        :class:`~restore.prior.Prior`, a shipped name or a directory), ``progress`` (called
        with a dict per step), ``sigma_max`` (starting noise level, [0, 1] units; default
        per task for its default sampler, per sampler otherwise), ``sigma_min`` (last
        nonzero level), ``spacing`` ("karras", "uniform" or "log") and sampler
        hyper-parameters (e.g. ``eta``; dpir's ``momentum``, 0.5 by default for inpaint
        and sr, 0 turns it off). With a list of images, a list (or tuple) value is one value
        per image and must have the list's length (``mask=[m1, m2, ...]``, ``seed=[...]``,
        ``sigma=[...]``); a value shared by all is anything else (a 2-D kernel as an array).

    Returns
    -------
    Same type as ``image``
        The restored image (``(mean, std)`` when ``samples > 1``); a list for a list.

    Examples
    --------
    >>> import numpy as np, restore
    >>> img = np.full((32, 48, 3), 128, np.uint8)
    >>> restore.restore(img, "denoise", sigma=10 / 255).shape
    (32, 48, 3)
    >>> [a.shape for a in restore.restore([img, img[:16]], "denoise", sigma=10 / 255)]
    [(32, 48, 3), (16, 48, 3)]
    """
    if isinstance(image, (list, tuple)):
        return _restore_many(list(image), task, samples, batch_size, params)
    x, back, alpha = _to_batch(image)
    tk = get_task(task)
    params = _with_bits(image, params)
    params, alpha = tk.with_alpha(alpha, params)
    _warn_of(tk, x, params)  # (the command line says its own)
    x, params = tk.under_alpha(x, alpha, params)
    res = run(x, task, samples=samples, **params)
    out = _alpha_back(alpha, back(res.image), tk.alpha_resize(res.params))
    if samples > 1:
        return out, back(res.std, std=True)
    return out


#: pixels per sampler batch on a GPU (the default batch is this over the image's pixels, at
#: most MAX_BATCH, and at most what a quarter of the free GPU memory holds)
BATCH_PIXELS = 1 << 22
MAX_BATCH = 32
_BYTES_PER_PIXEL = 4096  # a generous bound on activations per output pixel at fp32


def default_batch_size(device: str | torch.device | None, pixels: int) -> int:
    """Images per sampler batch: 1 on CPU (a batch of 4 ran at 0.79-0.98x the images/s of
    one at a time there, ``benchmarks/results/throughput_cpu.md``); on CUDA, as many as fit
    ``BATCH_PIXELS`` and a quarter of the free memory, at most ``MAX_BATCH``."""
    dev = resolve_device(device)
    if dev.type != "cuda":
        return 1
    n = BATCH_PIXELS // max(pixels, 1)
    free, _ = torch.cuda.mem_get_info(dev)
    n = min(n, free // 4 // (_BYTES_PER_PIXEL * max(pixels, 1)))
    return int(max(1, min(MAX_BATCH, n)))


def _one_or_each(values: list):
    """The value all of ``values`` share, else the list of them (one per image)."""
    first = _key_of(values[0])
    return values[0] if all(_key_of(v) == first for v in values[1:]) else list(values)


def batch_key(x: torch.Tensor, params: dict, per_image: frozenset[str] | None = None) -> tuple:
    """Images with equal keys can share a sampler batch: same shape, and the same value for
    every parameter that is not a per-image array (masks are stacked instead); a dataclass
    parameter by all its fields (a JPEG's tables: their short repr named only their source, so
    two files' tables batched as one, the first's for all). ``per_image``: the parameters whose
    arrays are stacked (the task's :attr:`~restore.tasks.base.Task.per_image`); another array (a
    deblur kernel, a 0-d sigma) is then part of the key, by its values. None: every array."""
    def stacked(k, v):
        return isinstance(v, (list, tuple)) or (isinstance(v, (np.ndarray, torch.Tensor))
                                                and (per_image is None or k in per_image))

    fixed = tuple(sorted((k, _key_of(v)) for k, v in params.items() if not stacked(k, v)))
    return (tuple(x.shape[1:]), fixed)


def _key_of(v) -> str:
    """``repr(v)``, or a digest for what a repr abbreviates: an array (by its bytes; its repr
    elides the middle) and a dataclass instance (by its fields, arrays by their bytes)."""
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    if not isinstance(v, np.ndarray) and (not dataclasses.is_dataclass(v) or isinstance(v, type)):
        return repr(v)
    import hashlib

    h = hashlib.sha1(type(v).__name__.encode())
    parts = [v] if isinstance(v, np.ndarray) else [getattr(v, f.name) for f in dataclasses.fields(v)]
    for vals in parts:
        for a in (vals if isinstance(vals, tuple) else (vals,)):
            h.update(repr((a.dtype, a.shape)).encode() + np.ascontiguousarray(a).tobytes() if isinstance(a, np.ndarray)
                     else repr(a).encode())
    return f"{type(v).__name__ if isinstance(v, np.ndarray) else repr(v)}#{h.hexdigest()[:16]}"


def stack_params(group: list[dict], per_image: frozenset[str] | None = None) -> dict:
    """One parameter dict for a batch: per-image arrays (masks) as a list, one per image
    (``per_image``: those parameters' arrays alone, as :func:`batch_key` keyed the rest; None:
    every array)."""
    out = dict(group[0])
    for k, v in group[0].items():
        if isinstance(v, (np.ndarray, torch.Tensor)) and (per_image is None or k in per_image):
            out[k] = [p[k] for p in group]
    return out


def _restore_many(images: list, task: str, samples: int, batch_size: int | None, params: dict) -> list:
    """A list of images: same-size groups in batches, each image with its own seed."""
    n = len(images)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    if "generator" in params:
        raise InputError("a list of images takes seed (or a list of seeds), not generator")
    per = {k: v for k, v in params.items() if isinstance(v, (list, tuple))}
    for k, v in per.items():
        if len(v) != n:
            raise InputError(f"{k}: {len(v)} values for {n} images (with a list of images, a list is one value "
                             "per image; give one value for all, or one per image)")
    if n == 0:
        return []
    shared = {k: v for k, v in params.items() if k not in per}
    seeds = _seeds(per.pop("seed") if "seed" in per else shared.pop("seed", 0), n)
    # one row per image (a tensor item may hold several), grouped by what a batch must share
    conv, rows, groups = [], [], {}
    tk = get_task(task)
    for i, im in enumerate(images):
        try:
            x, back, alpha = _to_batch(im)
            p = _with_bits(im, {k: v[i] for k, v in per.items()}, given=shared)
            mine, alpha = tk.with_alpha(alpha, {**shared, **p})
        except InputError as e:
            raise InputError(f"image {i} of the list: {e}") from None
        _warn_of(tk, x, mine, f"image {i} of the list: ")
        x, mine = tk.under_alpha(x, alpha, mine)
        p = {k: v for k, v in mine.items() if k in p or shared.get(k, _MISSING) is not v}  # its own, or changed
        conv.append((back, alpha, mine))
        for r in range(len(x)):
            groups.setdefault(batch_key(x, p, tk.per_image), []).append(len(rows))
            rows.append((i, x[r : r + 1], p))
    sizes = {key: batch_size or default_batch_size(shared.get("device", "cpu"), key[0][-2] * key[0][-1])
             for key in groups}
    chunks = [[rows[k] for k in idx[j : j + sizes[key]]] for key, idx in groups.items()
              for j in range(0, len(idx), sizes[key])]
    if len(chunks) > 1:  # every image's parameters checked before the first batch runs (a trial: a scale, a mask
        # or a sigma wrong for the last image was refused after the others had run, their results lost); the first
        # batch's own run checks it before its work
        for i, x, p in itertools.chain.from_iterable(chunks[1:]):
            try:
                run(x, task, samples=samples, seed=seeds[i], check_only=True, **{**shared, **p})
            except (InputError, IncompatibleError) as e:  # (a trial: an IncompatibleError named no image)
                raise type(e)(f"image {i} of the list: {e}") from None
    done: list[list] = [[] for _ in images]  # per image: its rows' (image, std)
    for chunk in chunks:  # a chunk's rows share one shape (their key's first part)
        res = run(torch.cat([x for _, x, _ in chunk]), task, samples=samples, seed=[seeds[i] for i, _, _ in chunk],
                  **{**shared, **stack_params([p for _, _, p in chunk], tk.per_image)})
        for r, (i, _, _) in enumerate(chunk):
            done[i].append((res.image[r : r + 1], None if res.std is None else res.std[r : r + 1]))
    outs = []
    for (back, alpha, mine), parts in zip(conv, done):
        out = _alpha_back(alpha, back(torch.cat([im for im, _ in parts])), tk.alpha_resize(mine))
        outs.append((out, back(torch.cat([sd for _, sd in parts]), std=True)) if samples > 1 else out)
    return outs


_PARAMS_DOC = """Other parameters (``**params``) are those of :func:`restore.restore`: ``sampler``
    (see ``restore.SAMPLERS``), ``steps`` (network evaluations), ``seed`` (default 0: the same
    sample on every call; a sampler that draws no noise, dpir or mmse, the tasks' defaults,
    gives the same result for every seed, save inpainting's scene fill, whose search it seeds)
    or ``generator``,
    ``device`` ("cpu", the default, "cuda", or "auto": the GPU when there is one), ``prior``
    (a Prior, a shipped name or a
    directory), ``samples`` (> 1 with a sampler that samples: returns ``(mean, std)``),
    ``progress`` (called per step), ``sigma_max`` / ``sigma_min`` / ``spacing`` (the
    noise levels) and the sampler's own options (e.g. ``eta``, dpir's ``momentum``)."""


def with_params_doc(f):
    """Fill a task helper's ``{params}`` with the parameters it passes on to :func:`restore`."""
    f.__doc__ = f.__doc__.replace("{params}", _PARAMS_DOC)
    return f


@lru_cache(maxsize=None)
def task_helper(task: str) -> Callable[..., Any]:
    """The public helper of ``task`` (``restore.denoise``, ``restore.inpaint``, ...), made here
    from its declaration: ``f(image, *args, **params) = restore(image, task, ...)``, where the
    arguments after the image are the task's ``helper_args`` (a name, or ``(name, default)``)
    and the docstring is its ``helper_doc`` (``{params}`` filled). A task module declares its
    helper and never imports this module."""
    import inspect

    from .tasks import TASKS

    tk, spec = get_task(task), TASKS.get(task)
    name = spec.helper or task
    args = [(a, inspect.Parameter.empty) if isinstance(a, str) else tuple(a) for a in tk.helper_args]

    def helper(image: Any, *given: Any, **params: Any) -> Any:
        if len(given) > len(args):
            raise TypeError(f"{name}() takes at most {1 + len(args)} positional arguments ({len(given) + 1} given)")
        for (a, default), v in itertools.zip_longest(args, given, fillvalue=_MISSING):
            if v is not _MISSING:
                if a in params:
                    raise TypeError(f"{name}() got multiple values for argument '{a}'")
                params[a] = v
            elif a not in params:
                if default is inspect.Parameter.empty:
                    raise TypeError(f"{name}() missing required argument: '{a}'")
                params[a] = default
        return restore(image, task, **params)

    helper.__name__ = helper.__qualname__ = name
    helper.__module__ = "restore"
    helper.__doc__ = (tk.helper_doc or f"{tk.summary}: ``restore(image, {task!r}, ...)``.\n\n    {{params}}").replace(
        "{params}", _PARAMS_DOC)
    P = inspect.Parameter
    helper.__signature__ = inspect.Signature(
        [P("image", P.POSITIONAL_OR_KEYWORD)] + [P(a, P.POSITIONAL_OR_KEYWORD, default=d) for a, d in args]
        + [P("params", P.VAR_KEYWORD)])
    return helper


_MISSING = object()
