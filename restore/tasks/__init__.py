"""Tasks: forward operators ``y = A x + n`` and their registry.

Adding a task is one module with an :class:`~restore.tasks.base.Operator` subclass and
one ``TASKS.register`` line here. Operator classes are imported on first use, so listing
the registry needs no torch.
"""

from __future__ import annotations

import importlib

from ..registry import Registry, TaskSpec

__all__ = ["CAPABILITIES", "TASKS", "TaskSpec"]

#: What an operator can offer a sampler (kept here, torch-free, for ``restore list``).
CAPABILITIES = {
    "pinv": "pseudo-inverse A_dagger",
    "svd": "cheap singular value decomposition (spectral updates, exact prox)",
    "grad": "differentiable A (for guidance gradients)",
    "mask": "a pixel mask of known values (inpainting)",
    "identity": "A is the identity (pure denoising)",
}

_BASE = frozenset({"pinv", "svd", "grad"})
TASKS: Registry[TaskSpec] = Registry("task")
# defaults (sampler, steps, starting noise level) from benchmarks/choose_defaults.py
TASKS.register("denoise", TaskSpec("denoise", f"{__name__}.denoise:Denoise", "mmse", 1,
                                   "remove Gaussian noise", _BASE | {"identity"}, 0.5))
# inpaint: log-spaced levels (DPIR's own schedule) beat Karras by +0.14 dB on random 80 %
# (benchmarks/results/dpir_schedule.md); dpir's extrapolation (momentum 0.5) with the last
# level at 0.005 adds +0.38 dB on CBSD68 1-12 and +0.32 dB on 13-24 at the same 20
# evaluations, and +0.04-0.05 dB PSNR-Y to SR x4 (benchmarks/results/dpir_momentum.md)
TASKS.register("inpaint", TaskSpec("inpaint", f"{__name__}.inpaint:Inpaint", "dpir", 20,
                                   "fill masked pixels", _BASE | {"mask"}, 0.2, "log", 0.005,
                                   (("momentum", 0.5),)))
TASKS.register("sr", TaskSpec("sr", f"{__name__}.superres:SuperResolve", "dpir", 20,
                              "super-resolve x2/x3/x4/x8", _BASE, 0.2, default_options=(("momentum", 0.5),)))

_LAZY = {
    "Operator": "base", "Denoise": "denoise", "estimate_sigma": "denoise", "Inpaint": "inpaint",
    "SuperResolve": "superres", "SCALES": "superres", "KERNELS": "superres",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
