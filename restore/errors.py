"""Typed errors. Every user-facing failure is one of these, with a one-line message."""

from __future__ import annotations


class RestoreError(Exception):
    """Base class: a problem the user can fix (bad input, bad option, bad weights)."""


class InputError(RestoreError, ValueError):
    """An image, mask or array that cannot be used (unreadable, wrong size, wrong dtype)."""


class WeightsError(RestoreError):
    """A prior directory whose config or tensors are missing, corrupt or inconsistent."""


class IncompatibleError(RestoreError, ValueError):
    """A sampler that cannot serve the given task/operator."""


class UsageError(RestoreError, ValueError):
    """Options or arguments that do not go together (the command line exits 2)."""
