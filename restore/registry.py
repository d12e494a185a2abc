"""Tiny explicit registries: ``register(name)``, ``get(name)``, ``names()``.

Filled by plain imports in :mod:`restore.tasks` and :mod:`restore.samplers`; nothing
scans folders and an unknown name is an error that lists what exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

from .errors import InputError

T = TypeVar("T")

__all__ = ["CAPABILITIES", "DEFAULT_METHOD", "Registry", "SamplerSpec", "TaskSpec", "parse_method", "with_implied"]


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' is registered already")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} '{name}' (choose from: {', '.join(self.names())})") from None

    def names(self) -> list[str]:
        return list(self._items)

    def items(self):
        return self._items.items()

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind}: {', '.join(self.names())})"


#: the largest seed of a run's noise (a torch.Generator's seed is 64 bits); here, torch-free, for
#: the command line's options and the API's check alike
MAX_SEED = 2**64 - 1
#: the most posterior samples one call draws (the API and the command line alike)
MAX_SAMPLES = 256


def parse_method(spec: str) -> tuple[str, dict]:
    """``"dpir@sigma_max=0.2,eta=0"`` -> ``("dpir", {"sigma_max": 0.2, "eta": 0.0})``
    (a sampler and its options after ``@``, separated by ``;`` or ``,``; numbers are read
    as int or float, anything else kept as text). An option without ``KEY=VALUE`` is an
    :class:`~restore.errors.InputError`."""
    name, _, opts = spec.partition("@")
    hyper = {}
    for kv in filter(None, opts.replace(";", ",").split(",")):
        k, _, v = kv.partition("=")
        if not k.strip() or not v.strip():
            raise InputError(f"'{spec}': options go as NAME@KEY=VALUE,... (e.g. mmse@poses=8)")
        if k.strip() in hyper:
            raise InputError(f"'{spec}': {k.strip()} given twice")
        try:
            hyper[k.strip()] = int(v) if v.strip().lstrip("-").isdigit() else float(v)
        except ValueError:
            hyper[k.strip()] = v.strip()
    return name.strip(), hyper


#: the method name (``restore eval --samplers``) that runs a task's default recipe for each
#: case's parameters, as the command line does without --sampler (e.g. inpainting's fill
#: chosen by the hole)
DEFAULT_METHOD = "default"

#: What an operator can offer a sampler (torch-free, for ``restore list``; re-exported as
#: ``restore.tasks.CAPABILITIES``): a sampler's ``needs`` and an operator's ``capabilities``
#: name these.
CAPABILITIES = {
    "pinv": "pseudo-inverse A_dagger",
    "svd": "cheap singular value decomposition (spectral updates, exact prox)",
    "grad": "differentiable A (for guidance gradients)",
    "mask": "a pixel mask of known values (inpainting)",
    "identity": "A is the identity (pure denoising)",
    "prox": "an exact proximal step of the data term (a projection onto a convex set of consistent images); "
            "implied by svd",
}

#: Capabilities an operator offering the key offers too (an SVD gives the exact prox).
IMPLIED = {"svd": frozenset({"prox"})}


def with_implied(capabilities) -> frozenset:
    """``capabilities`` with those they imply (:data:`IMPLIED`)."""
    caps = frozenset(capabilities)
    return caps.union(*(IMPLIED.get(c, ()) for c in caps))


def _load_ref(ref: str):
    import importlib

    mod, _, attr = ref.partition(":")
    try:
        return getattr(importlib.import_module(mod), attr)
    except AttributeError:  # a misspelt registration: importlib's bare "has no attribute" named no registration
        raise ImportError(f"registered as '{ref}', but module {mod} has no {attr}") from None


@dataclass(frozen=True)
class SamplerSpec:
    """A registered sampler: where its function lives (``"module:function"``, imported on
    first use so that listing the registry needs no torch), what it needs from an operator
    (see :data:`CAPABILITIES`; it serves every task whose operator offers
    that) and where it starts when it is not a task's default sampler."""

    ref: str
    needs: frozenset
    default_steps: int
    summary: str
    stochastic: bool = True  # draws fresh noise: repeated runs give posterior samples
    #: first noise level ([0, 1] units); None = the prior's largest (a run from pure noise)
    sigma_max: float | None = None
    #: False: one evaluation at the measurement's own noise level, no schedule (its start
    #: and ``--sigma-max`` do not apply)
    scheduled: bool = True
    #: its data step is a fixed-length move, not an exact one (dps): in few evaluations it can
    #: throw the state off, so a result far from the measurement is refused (restore.api.run)
    inexact: bool = False

    def __post_init__(self):  # a misspelt need ("pinvv") made a sampler that serves no task, said at its first use
        unknown = sorted(set(self.needs) - set(CAPABILITIES))
        if unknown:
            raise ValueError(f"sampler {self.ref}: unknown capabilit{'ies' if len(unknown) > 1 else 'y'} "
                             f"{', '.join(unknown)} in needs (known: {', '.join(CAPABILITIES)})")

    def load(self) -> Callable:
        return _load_ref(self.ref)

    def serves(self, capabilities) -> bool:
        return self.needs <= with_implied(capabilities)


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: its name, where its :class:`~restore.tasks.base.Task` subclass
    lives (``"module:Class"``, imported on first use), a one-line summary (so that the
    command line lists the tasks without importing torch) and the name of its API helper,
    ``restore.<helper>`` (made by :func:`restore.api.task_helper` from the task's
    declaration; without it the task has none: a task's helper exists only where named here).
    The summary is the task class's ``summary`` too (a test holds them equal)."""

    name: str
    ref: str
    summary: str
    helper: str | None = None

    def task(self):
        return _task_instance(self.ref)


@lru_cache(maxsize=None)
def _task_instance(ref: str):
    return _load_ref(ref)()
