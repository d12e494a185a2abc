"""Typed errors. Every user-facing failure is one of these, with a one-line message. And the
one lock over the process-wide settings a call changes for a moment (warnings' filters)."""

from __future__ import annotations

import contextlib
import threading
import warnings


class RestoreError(Exception):
    """Base class: a problem the user can fix (bad input, bad option, bad weights)."""


class InputError(RestoreError, ValueError):
    """An image, mask or array that cannot be used (unreadable, wrong size, wrong dtype)."""


class DiskFullError(InputError):
    """An output not written for want of space (a full disk, a quota): the images after it
    would fail alike, so a folder run stops working on them."""


class WeightsError(RestoreError):
    """A prior directory whose config or tensors are missing, corrupt or inconsistent."""


class IncompatibleError(RestoreError, ValueError):
    """A sampler that cannot serve the given task/operator."""


class UsageError(RestoreError, ValueError):
    """Options or arguments that do not go together (the command line exits 2)."""


#: held while restore changes a process-wide setting for the length of a step and puts it back
#: (warnings' filters, Pillow's pixel limit): ``warnings.catch_warnings`` saves and restores the
#: whole process's filters, so two threads inside it at once left one's filter on for good
GLOBAL_STATE = threading.RLock()


@contextlib.contextmanager
def caught_warnings():
    """``warnings.catch_warnings()`` under :data:`GLOBAL_STATE`: what the block changes in the
    filters is undone when it ends, also while other threads call restore."""
    with GLOBAL_STATE, warnings.catch_warnings():
        yield
