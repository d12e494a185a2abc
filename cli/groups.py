"""A click group with one sub-command per registered task, built on first use."""

from __future__ import annotations

import math
from collections.abc import Callable

import click

from restore.tasks import TASKS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

#: ``--format``: the output type of a folder's or a batch's images, and of a single image's without
#: ``-o`` (the default, PNG, keeps every bit depth and alpha; JPEG and WebP are smaller)
FORMATS = ("png", "jpg", "webp", "tif")

#: ``--threads``, as every command that runs the network takes it (:func:`use_threads`)
THREADS = click.option("--threads", type=click.IntRange(1, 1024), default=None,
                       help="CPU threads for the network (default: torch's, one per core). On a machine others "
                            "share, 1 can be several times faster than all.")


def use_threads(n: int | None) -> None:
    """``--threads N``: torch's CPU threads, and OpenCV's (its fills, filters and the baselines it
    runs; None: their defaults)."""
    if n:
        import cv2
        import torch

        torch.set_num_threads(int(n))
        cv2.setNumThreads(int(n))


class TaskCommands(click.Group):
    """Sub-commands: one per registered task, made by ``make(name)`` when it is called (so
    ``--help`` lists them from the registry without importing torch), then any added by hand."""

    make: Callable[[str], click.Command]
    section = "Commands"

    def list_commands(self, ctx):
        return [*TASKS.names(), *sorted(c for c in self.commands if c not in TASKS)]

    def get_command(self, ctx, name):
        if name in TASKS and name not in self.commands:
            self.add_command(type(self).make(name))
        return self.commands.get(name)

    def format_commands(self, ctx, formatter):
        rows = [(n, TASKS.get(n).summary if n in TASKS else self.commands[n].get_short_help_str(formatter.width - 24))
                for n in self.list_commands(ctx)]
        with formatter.section(self.section):
            formatter.write_dl(rows)


class FiniteFloat(click.FloatRange):
    """A float (in a range, if given) that is a number: click's FloatRange lets ``nan``
    through (no comparison with it fails), to be refused later in API units."""

    def convert(self, value, param, ctx):
        v = super().convert(value, param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value} is not a finite number", param, ctx)
        return v


class OrAuto(click.ParamType):
    """A parameter's type that also takes ``auto``: the task's own choice (None), as ``--json``
    records it."""

    def __init__(self, inner: click.ParamType) -> None:
        self.inner, self.name = inner, f"{inner.name}|auto"

    def convert(self, value, param, ctx):
        if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
            return None
        return self.inner.convert(value, param, ctx)


def param_option(q) -> click.Option:
    """A click option from a task's :class:`~restore.tasks.base.Param` (CLI units)."""
    dest = q.name
    if q.switch:  # on by default: --name / --no-name
        decl = f"{q.option}/--no-{q.option[2:]}" if q.default else q.option
        return click.Option([decl, dest], is_flag=True, default=bool(q.default), help=q.help)
    if q.choices:
        typ = click.Choice([str(c) for c in q.choices])
    elif q.range is not None:
        typ = click.IntRange(*q.range) if q.type is int else FiniteFloat(*q.range)
        typ = OrAuto(typ) if q.auto else typ
    elif q.type is float:
        typ = FiniteFloat()
    else:
        typ = q.type if q.type in (int, str) else str  # objects (kernels, ...) come as text
    default = q.cli_default
    # a default of None counts as given for click >= 8.3: leave it out when required
    extra = {"default": default} if default is not None or not q.required else {}
    return click.Option([q.option, dest], type=typ, required=q.required, show_default=default is not None,
                        help=q.help, metavar=q.metavar, **extra)
