"""The ``restore`` command-line interface (click), a thin layer over :mod:`restore.api`."""
