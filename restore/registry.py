"""Tiny explicit registries: ``register(name)``, ``get(name)``, ``names()``.

Filled by plain imports in :mod:`restore.tasks` and :mod:`restore.samplers`; nothing
scans folders and an unknown name is an error that lists what exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["Registry", "SamplerSpec", "TaskSpec"]


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


def _load_ref(ref: str):
    import importlib

    mod, _, attr = ref.partition(":")
    return getattr(importlib.import_module(mod), attr)


@dataclass(frozen=True)
class SamplerSpec:
    """A registered sampler: where its function lives (``"module:function"``, imported on
    first use so that listing the registry needs no torch) and what it needs from an
    operator (see :data:`restore.tasks.base.CAPABILITIES`)."""

    ref: str
    needs: frozenset
    tasks: tuple  # tasks it serves
    default_steps: int
    summary: str
    stochastic: bool = True  # draws fresh noise: repeated runs give posterior samples

    def load(self) -> Callable:
        return _load_ref(self.ref)


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: its operator class (``"module:Class"``, imported on first use)
    and its defaults (sampler, steps, starting noise), chosen by measurement
    (``benchmarks/choose_defaults.py``)."""

    name: str
    ref: str
    default_sampler: str
    default_steps: int
    summary: str
    capabilities: frozenset
    default_sigma_max: float | None = None
    default_spacing: str = "karras"  # of the default sampler's noise levels
    default_sigma_min: float | None = None  # its last nonzero level (None: the schedule's)
    default_options: tuple = ()  # (name, value) keyword options of the default sampler

    def load(self) -> type:
        return _load_ref(self.ref)
