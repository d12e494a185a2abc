"""Tasks: their declarations (:class:`~restore.tasks.base.Task`: forward operator
``y = A x + n``, parameters, sampler defaults, evaluation) and their registry.

Adding a task is one module with a :class:`~restore.tasks.base.Task` subclass and one
``TASKS.register`` line here; the API, the command line, ``restore eval`` and ``restore
list`` read the declaration. Task modules are imported on first use, so listing the names
needs no torch.
"""

from __future__ import annotations

import importlib

from ..registry import CAPABILITIES, Registry, TaskSpec

__all__ = ["CAPABILITIES", "TASKS", "TaskSpec", "get_task"]

TASKS: Registry[TaskSpec] = Registry("task")
_R = TASKS.register
_R("denoise", TaskSpec("denoise", f"{__name__}.denoise:DenoiseTask", "remove noise (white Gaussian or a camera's)",
                       "denoise"))
_R("inpaint", TaskSpec("inpaint", f"{__name__}.inpaint:InpaintTask", "fill masked pixels", "inpaint"))
_R("sr", TaskSpec("sr", f"{__name__}.superres:SuperResolveTask", "super-resolve x2/x3/x4/x8", "super_resolve"))
_R("deblur", TaskSpec("deblur", f"{__name__}.deblur:DeblurTask", "remove a known blur", "deblur"))
_R("dejpeg", TaskSpec("dejpeg", f"{__name__}.dejpeg:DejpegTask", "remove JPEG compression artefacts", "dejpeg"))


def get_task(name: str):
    """The :class:`~restore.tasks.base.Task` registered as ``name``."""
    from ..errors import InputError

    if name not in TASKS:
        raise InputError(f"unknown task '{name}' (choose from: {', '.join(TASKS.names())})")
    return TASKS.get(name).task()


_LAZY = {
    "Operator": "base", "Task": "base", "Param": "base", "Denoise": "denoise", "estimate_sigma": "denoise",
    "Inpaint": "inpaint", "SuperResolve": "superres", "SCALES": "superres", "KERNELS": "superres",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
