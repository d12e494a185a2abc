"""Straight edges continued across big holes (issue 24): the scene fill's exemplar start with
and without them (``exemplar_fill(..., lines=True|False)``), on the photos x masks where an
edge is found; the others are unchanged by construction.

    OMP_NUM_THREADS=2 python benchmarks/inpaint_edges.py ../shared/data/train/sunhays80 1 box,thick --long-side 640
    OMP_NUM_THREADS=2 python benchmarks/inpaint_edges.py ../shared/data/train/bsds 12 box,thick --limit 32

Masks: ``make_mask(kind, H, W, seed=i)`` for the i-th photo taken. Prints, per mask family,
how many photos had an edge continued, and on those the hole PSNR, SWD and gradient ratio
with and without; ``--save DIR`` writes panels (holes darkened, the edges drawn | without |
with) for looking at.
"""
import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from restore.evaluate import load_dataset  # noqa: E402
from restore.metrics import gradient_ratio, swd  # noqa: E402
from restore.tasks.base import psnr_where  # noqa: E402
from restore.tasks.edges import straight_edges  # noqa: E402
from restore.tasks.inpaint import exemplar_fill, make_mask  # noqa: E402


def photos(root, every, limit, long_side):
    """restore eval's photos (every ``every``-th in name order, the first ``limit``), larger
    ones shrunk to ``long_side``."""
    for i, (stem, g) in enumerate(load_dataset(root, limit, every)):
        if long_side and max(g.shape[:2]) > long_side:
            s = long_side / max(g.shape[:2])
            g = cv2.resize(g, (round(g.shape[1] * s), round(g.shape[0] * s)), interpolation=cv2.INTER_AREA)
        yield i, stem, g


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root")
    ap.add_argument("every", type=int)
    ap.add_argument("masks")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--long-side", type=int, default=None, help="shrink larger photos to this long side")
    ap.add_argument("--save", default=None, help="folder for the panels")
    a = ap.parse_args()
    torch.set_num_threads(2)
    kinds = a.masks.split(",")
    rows = {k: [] for k in kinds}
    seen = {k: 0 for k in kinds}
    secs = []
    for i, stem, g in photos(a.root, a.every, a.limit, a.long_side):
        H, W = g.shape[:2]
        gt = torch.from_numpy(g.astype(np.float32) / 255).permute(2, 0, 1)[None]
        for k in kinds:
            hole = make_mask(k, H, W, seed=i)
            seen[k] += 1
            img = np.where(hole[..., None], 0, g).astype(np.uint8)
            t = time.perf_counter()
            pairs = straight_edges(img, hole)
            secs.append(time.perf_counter() - t)
            if not pairs:
                continue
            x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
            known = torch.from_numpy(~hole)[None, None]
            th = torch.from_numpy(hole)
            r, outs = [], []
            for lines in (False, True):
                o = exemplar_fill(x, known, lines=lines)
                r.append([psnr_where(o, gt, th), swd(o, gt, th), gradient_ratio(o, gt, th)])
                outs.append((o[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
            rows[k].append((stem, len(pairs), r[0], r[1]))
            print(f"{k} {stem}: {len(pairs)} edge(s); without {r[0][0]:.2f} dB / SWD {r[0][1]:.0f}, "
                  f"with {r[1][0]:.2f} / {r[1][1]:.0f}", flush=True)
            if a.save:
                v = g.copy()
                v[hole] //= 3
                for A, B in pairs:
                    cv2.line(v, tuple(int(c) for c in A.p), tuple(int(c) for c in B.p), (255, 0, 0), 1)
                Path(a.save).mkdir(parents=True, exist_ok=True)
                panel = cv2.cvtColor(np.hstack([v, *outs]), cv2.COLOR_RGB2BGR)
                cv2.imwrite(str(Path(a.save) / f"{stem}_{k}.png"), panel)
    print(f"\n{a.root}, every {a.every}th" + (f", long side {a.long_side}" if a.long_side else "")
          + f"; edge search {np.mean(secs) * 1000:.0f} ms per photo (mean)")
    print("| masks | photos | with an edge | hole PSNR without / with | paired diff (sd) | SWD without / with "
          "| gradient ratio without / with |")
    print("|---|---|---|---|---|---|---|")
    for k in kinds:
        if not rows[k]:
            print(f"| {k} | {seen[k]} | 0 | | | | |")
            continue
        b = np.array([r[2] for r in rows[k]])
        w = np.array([r[3] for r in rows[k]])
        dd = w[:, 0] - b[:, 0]
        sd = dd.std(ddof=1) if len(dd) > 1 else float("nan")
        print(f"| {k} | {seen[k]} | {len(rows[k])} | {b[:, 0].mean():.2f} / {w[:, 0].mean():.2f} | "
              f"{dd.mean():+.2f} ({sd:.2f}) | {b[:, 1].mean():.1f} / {w[:, 1].mean():.1f} | "
              f"{b[:, 2].mean():.2f} / {w[:, 2].mean():.2f} |")


if __name__ == "__main__":
    main()
