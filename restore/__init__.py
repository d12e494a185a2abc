"""restore: image restoration (denoise, inpaint, super-resolve) with a diffusion prior.

Imports are lazy so that ``import restore`` (and the CLI's ``--help``) stay fast; torch is
loaded on first use.

Examples
--------
>>> import numpy as np, restore
>>> out = restore.denoise(np.full((24, 24), 0.5, np.float32), sigma=0.05)
>>> out.shape, out.dtype
((24, 24), dtype('float32'))
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "restore": ("api", "restore"),
    "denoise": ("api", "denoise"),
    "inpaint": ("api", "inpaint"),
    "super_resolve": ("api", "super_resolve"),
    "run": ("api", "run"),
    "load_prior": ("prior", "load_prior"),
    "Prior": ("prior", "Prior"),
    "TASKS": ("tasks", "TASKS"),
    "SAMPLERS": ("samplers", "SAMPLERS"),
    "psnr": ("metrics", "psnr"),
    "ssim": ("metrics", "ssim"),
    "read_image": ("io", "read_image"),
    "write_image": ("io", "write_image"),
    "RestoreError": ("errors", "RestoreError"),
    "InputError": ("errors", "InputError"),
    "WeightsError": ("errors", "WeightsError"),
    "IncompatibleError": ("errors", "IncompatibleError"),
}

__all__ = [
    "SAMPLERS",
    "TASKS",
    "IncompatibleError",
    "InputError",
    "Prior",
    "RestoreError",
    "WeightsError",
    "__version__",
    "denoise",
    "inpaint",
    "load_prior",
    "psnr",
    "read_image",
    "restore",
    "run",
    "ssim",
    "super_resolve",
    "write_image",
]


def __getattr__(name: str):
    if name in _LAZY:
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{mod}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'restore' has no attribute '{name}'")


def __dir__():
    return __all__
