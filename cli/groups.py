"""A click group with one sub-command per registered task, built on first use."""

from __future__ import annotations

from collections.abc import Callable

import click

from restore.tasks import TASKS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


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
