"""restore: image restoration with a diffusion prior (its tasks: ``restore.TASKS``).

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
import importlib.util
import sys
from pathlib import Path

__version__ = "0.1.0"


def _source_cli() -> None:
    """Make ``restore.cli`` importable in a source checkout too.

    An installed wheel carries the command line as ``restore/cli`` (pyproject's package-dir);
    a checkout keeps it in ``<repo>/cli``, which is bound here to the same name without
    putting a top-level ``cli`` package on the path."""
    here = Path(__file__).resolve().parent
    src = here.parent / "cli"
    if "restore.cli" in sys.modules or (here / "cli").is_dir() or not (src / "__init__.py").is_file():
        return
    spec = importlib.util.spec_from_file_location(f"{__name__}.cli", src / "__init__.py",
                                                  submodule_search_locations=[str(src)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    globals()["cli"] = mod  # ``restore.cli`` as an attribute too, as an imported submodule is


_source_cli()

_LAZY = {
    "restore": ("api", "restore"),
    "run": ("api", "run"),
    "default_batch_size": ("api", "default_batch_size"),
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
    "default_batch_size",
    "load_prior",
    "psnr",
    "read_image",
    "restore",
    "run",
    "ssim",
    "write_image",
]


def _helpers() -> dict:
    """Each task's API helper (``restore.denoise``, ...), from the task registry."""
    from .tasks import TASKS

    return {s.helper: s for s in (TASKS.get(n) for n in TASKS) if s.helper}


#: the submodules ``restore.NAME`` reaches after a plain ``import restore`` (``restore.io.read_image``,
#: ``help(restore.samplers.ddnm)``), imported on first use as the names above are
SUBMODULES = ("api", "convert", "errors", "evaluate", "io", "metrics", "noise", "paths", "prior", "registry",
              "report", "samplers", "tasks", "tiling", "train")


def __getattr__(name: str):
    if name in _LAZY:
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{mod}", __name__), attr)
    elif name in SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif not name.startswith("_") and name in _helpers():
        value = importlib.import_module(".api", __name__).task_helper(_helpers()[name].name)
    else:
        raise AttributeError(f"module 'restore' has no attribute '{name}'")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(__all__) | set(_helpers()))


__all__ += sorted(_helpers())
