"""Samplers: plain functions ``f(denoiser, y, op, sigmas, *, generator, callback, **hyper)``.

Each declares what it needs from an operator (see :data:`restore.registry.CAPABILITIES`);
adding one is one module and one ``SAMPLERS.register`` line here. Functions are imported
on first use (``SAMPLERS.get(name).load()``), so listing the registry needs no torch.
"""

from __future__ import annotations

import importlib

from ..errors import IncompatibleError
from ..registry import Registry, SamplerSpec, with_implied

__all__ = ["SAMPLERS", "SamplerSpec", "check_compatible", "check_samples", "compatible_samplers"]

SAMPLERS: Registry[SamplerSpec] = Registry("sampler")
_R = SAMPLERS.register
# where each starts when it is not a task's default (``sigma_max``; None: from pure noise,
# as in its paper): DPIR starts its penalty at 49/255 (Zhang et al. 2021, Sec. 5)
_R("ddnm", SamplerSpec(f"{__name__}.ddnm:ddnm", frozenset({"pinv"}), 20, "DDNM+ range/null-space projection"))
_R("ddrm", SamplerSpec(f"{__name__}.ddrm:ddrm", frozenset({"svd"}), 20, "DDRM spectral updates"))
_R("diffpir", SamplerSpec(f"{__name__}.diffpir:diffpir", frozenset({"svd"}), 20, "plug-and-play HQS, exact prox"))
# DPS at 50: at 20 its fixed-length steps threw most 64x64 denoising crops off (diverged, refused), 50 converged
# on all; random 80 % inpainting 24.10 dB at 50 against 20.32 at 20 (benchmarks/results/dps_step.md)
_R("dps", SamplerSpec(f"{__name__}.guided:dps", frozenset({"grad"}), 50, "diffusion posterior sampling (gradient)",
                      inexact=True))
_R("pigdm", SamplerSpec(f"{__name__}.guided:pigdm", frozenset({"svd", "grad"}), 20, "pseudo-inverse guidance (gradient)"))
_R("repaint", SamplerSpec(f"{__name__}.repaint:repaint", frozenset({"mask"}), 20, "RePaint resampling"))
_R("dpir", SamplerSpec(f"{__name__}.dpir:dpir", frozenset({"prox"}), 20, "deterministic plug-and-play HQS (MMSE-like)",
                         stochastic=False, sigma_max=49 / 255))
_R("mmse", SamplerSpec(f"{__name__}.mmse:mmse", frozenset({"identity"}), 1, "one prior evaluation (posterior mean)",
                         stochastic=False, scheduled=False))


def compatible_samplers(capabilities) -> list[str]:
    """Names of the samplers whose needs ``capabilities`` (a set, or an operator) meets."""
    caps = getattr(capabilities, "capabilities", capabilities)
    return [n for n, spec in SAMPLERS.items() if spec.serves(caps)]


def check_samples(name: str, samples: int, task, params: dict | None = None) -> None:
    """Refuse ``samples > 1`` with a deterministic sampler (every draw would be the same
    image and the std map all zero), naming the samplers that do sample for ``task`` (a
    :class:`~restore.tasks.base.Task`), or where ``params`` make the task run no sampler at all
    (:meth:`~restore.tasks.base.Task.no_sampler`: sr's ``kernel="nearest"``)."""
    if samples <= 1:
        return
    why = task.no_sampler(params or {})
    if why:  # (a trial: --kernel nearest --samples 2 was 'dpir is deterministic', or a std map of zeros)
        raise IncompatibleError(f"samples {samples}: {why}, so every sample would be the same image")
    spec = SAMPLERS.get(name)
    if not spec.stochastic:
        ok = [n for n, s in SAMPLERS.items() if s.stochastic and s.serves(task.capabilities)]
        raise IncompatibleError(
            f"samples {samples}: sampler '{name}' is deterministic (all samples would be the same image, "
            f"the std map zero); samplers that sample for {task.name}: {', '.join(ok)}"
        )


def check_compatible(name: str, op) -> SamplerSpec:
    """The sampler's spec, or an :class:`IncompatibleError` listing those that would work
    (``op``: an operator or a task, anything with ``capabilities``)."""
    try:
        spec = SAMPLERS.get(name)
    except KeyError as e:
        raise IncompatibleError(e.args[0]) from None
    missing = spec.needs - with_implied(op.capabilities)
    if missing:
        raise IncompatibleError(
            f"sampler '{name}' cannot serve task '{getattr(op, 'task', None) or op.name}' (it needs {', '.join(sorted(missing))}); "
            f"samplers that can: {', '.join(compatible_samplers(op))}"
        )
    return spec


def __getattr__(name: str):
    if name in SAMPLERS:
        return SAMPLERS.get(name).load()
    if name in ("ddnm", "ddrm", "diffpir", "dps", "pigdm", "repaint", "mmse", "dpir", "common"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
