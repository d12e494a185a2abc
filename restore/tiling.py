"""Overlapping tiles and their blending weights, for the network's tiled calls
(:class:`restore.prior.Prior`) and for super-resolving large images tile by tile
(:func:`restore.api.run`)."""

from __future__ import annotations

import math

import torch

__all__ = ["ramp", "tile_layout", "tile_weights"]


def tile_layout(n: int, tile: int, overlap: int, multiple: int = 1, *, exact: bool = False) -> list[tuple[int, int]]:
    """``(start, size)`` of the fewest tiles of at most ``tile`` pixels covering ``n``.

    Each tile overlaps the next by at least ``overlap``; all have one size (rounded up to a
    multiple of ``multiple`` where that fits) and are evenly spaced, so a side just over
    ``tile`` costs two half-size tiles, not two full ones. ``exact``: every tile is
    ``tile`` pixels (for a network with one input size; the overlaps grow instead).
    """
    if n <= tile:
        return [(0, n)]
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap {overlap} must be in [0, tile={tile})")
    k = math.ceil((n - overlap) / (tile - overlap))
    size = math.ceil((n + (k - 1) * overlap) / k)
    size = min(tile, n, -(-size // multiple) * multiple) if multiple > 1 else size
    size = tile if exact else size
    step = (n - size) / (k - 1)
    return [(round(i * step), size) for i in range(k)]


def ramp(n: int, width: int, ramp_in: bool, ramp_out: bool, *, margin: int = 0,
         like: torch.Tensor) -> torch.Tensor:
    """1-D blending weights of a tile of ``n`` pixels: 1 inside; at an edge shared with a
    neighbour (``ramp_in`` at the start, ``ramp_out`` at the end) 0 over ``margin`` pixels,
    then a linear rise over ``width`` pixels. Neighbours overlapping by ``width + 2 margin``
    or more cross-fade with weights that never all vanish."""
    w = torch.ones(n, dtype=like.dtype, device=like.device)
    mg = min(margin, n // 4)
    k = min(width, n // 2 - mg)
    r = (torch.arange(k, dtype=like.dtype, device=like.device) + 0.5) / k if k > 0 else None
    if ramp_in:
        w[:mg] = 0
        if r is not None:
            w[mg : mg + k] = r
    if ramp_out:
        if mg:
            w[n - mg :] = 0
        if r is not None:
            w[n - mg - k : n - mg] = r.flip(0)
    return w


def tile_weights(y0: int, th: int, H: int, x0: int, tw: int, W: int, width: int, *, margin: int = 0,
                 like: torch.Tensor) -> torch.Tensor:
    """``(th, tw)`` blending weights of the tile at ``(y0, x0)`` in an ``H x W`` image: the
    product of the two 1-D :func:`ramp` s, ramping only at edges shared with a neighbour."""
    wy = ramp(th, width, y0 > 0, y0 + th < H, margin=margin, like=like)
    wx = ramp(tw, width, x0 > 0, x0 + tw < W, margin=margin, like=like)
    return wy[:, None] * wx[None, :]
