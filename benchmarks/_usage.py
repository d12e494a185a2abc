"""``usage(__doc__, n)``: ``-h`` / ``--help`` for the benchmark scripts that read ``sys.argv``
by hand (their docstring is their help), and a one-line error where fewer than ``n``
arguments are given (they failed with an IndexError, or started a run on ``--help``)."""

from __future__ import annotations

import sys


def usage(doc: str | None, n: int = 0) -> None:
    args = sys.argv[1:]
    if any(a in ("-h", "--help") for a in args):
        print((doc or "").strip())
        sys.exit(0)
    if len(args) < n:
        print((doc or "").strip(), file=sys.stderr)
        sys.exit(f"error: {n} arguments needed, {len(args)} given (the commands above)")
