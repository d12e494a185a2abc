"""Evaluation report: a Markdown page, a PSNR-vs-steps plot and a worst/best example grid
(drawn with OpenCV, no plotting library needed)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch

from .io import from_tensor, write_image

COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
          (227, 119, 194), (127, 127, 127)]


def psnr_vs_steps_plot(summary: list[dict], path: Path, title: str = "") -> Path:
    """Line per sampler (PSNR against steps), dashed horizontal lines for classical tools and
    for a method without one step count (the default's choice by image, a fill with no steps)."""
    import cv2

    W, H, L, R, T, B = 720, 440, 70, 190, 40, 50
    img = np.full((H, W, 3), 255, np.uint8)
    summary = [r for r in summary if np.isfinite(r["psnr"])]  # a method that failed on every image: no point
    rs = [r for r in summary if r["kind"] == "restore" and r["steps"]]
    cl = [r for r in summary if r not in rs]
    allp = [r["psnr"] for r in summary] or [0.0]
    lo, hi = min(allp) - 0.5, max(allp) + 0.5
    steps = sorted({r["steps"] for r in rs}) or [1]
    smin, smax = min(steps), max(steps)

    def px(s, p):
        xs = L + (W - L - R) * ((np.log(s) - np.log(smin)) / max(1e-9, np.log(smax) - np.log(smin)) if smax > smin else 0.5)
        ys = T + (H - T - B) * (1 - (p - lo) / (hi - lo))
        return int(xs), int(ys)

    cv2.rectangle(img, (L, T), (W - R, H - B), (0, 0, 0), 1)
    for k in range(5):
        p = lo + (hi - lo) * k / 4
        y = px(smin, p)[1]
        cv2.putText(img, f"{p:.1f}", (8, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    for s in steps:
        x = px(s, lo)[0]
        cv2.putText(img, str(s), (x - 6, H - B + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    # steps, as the table's column: a network evaluation each for most samplers, more for mmse@poses=N and
    # dejpeg's band denoiser (three per step), which the axis had been said to count
    cv2.putText(img, "steps (log)", (L + 160, H - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    cv2.putText(img, f"PSNR (dB) {title}", (L, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    methods = list(dict.fromkeys([r["method"] for r in rs] + [r["method"] for r in cl]))
    # past the colours, each round of them another dash (classical) or an open marker (restore): 17 series
    # over 8 colours drew two methods alike; the legend shows each one's line
    dashes = ((6, 6), (2, 4), (12, 4), (2, 10))

    def dashed(y: int, x0: int, x1: int, c, on: int, off: int) -> None:
        for x in range(x0, x1, on + off):
            cv2.line(img, (x, y), (min(x + on, x1), y), c, 1)

    for j, m in enumerate(methods):
        c, turn = COLORS[j % len(COLORS)][::-1], j // len(COLORS)
        on, off = dashes[turn % len(dashes)]
        pts = sorted((r["steps"], r["psnr"]) for r in rs if r["method"] == m)
        ly = T + 16 * (j + 1)
        if pts:
            for (s0, p0), (s1, p1) in itertools.pairwise(pts):
                cv2.line(img, px(s0, p0), px(s1, p1), c, 2)
            for s, p in pts:
                cv2.circle(img, px(s, p), 3 + turn, c, -1 if turn == 0 else 1)
            cv2.line(img, (W - R + 6, ly - 4), (W - R + 20, ly - 4), c, 2)
            cv2.circle(img, (W - R + 13, ly - 4), 3 + turn, c, -1 if turn == 0 else 1)
        else:
            p = next(r["psnr"] for r in cl if r["method"] == m)
            y = px(smin, p)[1]
            dashed(y, L, W - R, c, on, off)
            dashed(ly - 4, W - R + 6, W - R + 20, c, on, off)  # its legend's sample
        cv2.putText(img, m, (W - R + 24, ly), cv2.FONT_HERSHEY_SIMPLEX, 0.42, c, 1)
    write_image(path, img[:, :, ::-1].copy(), overwrite=True)
    return path


def example_grid(rows: list[dict], path: Path, k: int = 2) -> Path | None:
    """Rows of clean | degraded | best classical | restore, for the k worst and k best images
    (by the first restore method's PSNR); without classical rows, clean | degraded | restore
    (a black panel stood for the missing one). Needs rows evaluated with ``keep_outputs``."""
    import torch.nn.functional as F

    rs = [r for r in rows if r["kind"] == "restore" and "_out" in r]
    if not rs:
        return None
    first = rs[0]["method"], rs[0]["steps"]
    mine = sorted([r for r in rs if (r["method"], r["steps"]) == first], key=lambda r: r["psnr"])
    pick = mine[:k] + [r for r in mine[-k:] if r not in mine[:k]]
    lines = []
    for r in pick:
        case = r["_case"]
        cls = [c for c in rows if c["image"] == r["image"] and c["kind"] == "classical" and "_out" in c]
        best = [max(cls, key=lambda c: c["psnr"])["_out"].cpu()] if cls else []
        deg = case.y.clamp(0, 1)
        if deg.shape[-2:] != case.gt.shape[-2:]:
            deg = F.interpolate(deg, size=case.gt.shape[-2:], mode="nearest")
        panels = [case.gt, deg, *best, r["_out"].cpu()]
        C = max(p.shape[1] for p in panels)
        panels = [p.expand(-1, C, -1, -1) for p in panels]
        h = 256
        panels = [F.interpolate(p, size=(h, max(1, int(p.shape[-1] * h / p.shape[-2]))), mode="bilinear",
                                align_corners=False) for p in panels]
        gap = torch.ones(1, C, h, 4)
        row = []
        for p in panels:
            row += [p, gap]
        lines.append(torch.cat(row[:-1], dim=3))
    wmax = max(t.shape[-1] for t in lines)
    lines = [F.pad(t, (0, wmax - t.shape[-1]), value=1.0) for t in lines]
    grid = torch.cat([torch.cat([t, torch.ones(1, t.shape[1], 4, wmax)], dim=2) for t in lines], dim=2)
    write_image(path, from_tensor(grid, np.uint8), overwrite=True)
    return path
