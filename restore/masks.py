"""Masks as arrays: which pixels are holes (numpy only, below both the image I/O that reads
mask files and the inpainting task that uses them)."""

from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = ["hole_from_array"]


def hole_from_array(m: np.ndarray) -> np.ndarray:
    """Pixels to fill of a mask array: bool as is; a 0/1 array as is; otherwise values at
    or above half the range (128 of 255 for uint8, 32768 for uint16, 0.5 for floats), so
    that a mask saved as JPEG, whose edges ring, keeps its drawn shape."""
    m = np.asarray(m)
    if m.dtype == np.bool_:
        return m
    if m.dtype.kind == "f" and not np.isfinite(m).all():
        raise InputError("mask holds NaN or inf")
    if m.size and m.max() <= 1 and m.min() >= 0 and (m.dtype.kind in "ui" or np.isin(m, (0, 1)).all()):
        return m != 0
    if m.dtype.kind in "ui":
        return m >= (np.iinfo(m.dtype).max + 1) // 2 if m.dtype.kind == "u" else m >= 128
    return m >= 0.5
