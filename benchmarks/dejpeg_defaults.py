"""Choose dejpeg's DPIR levels and steps on the validation split (crops of ../shared/data/train).

Each image: a 256x256 centre crop of every K-th training photo, saved by Pillow at each quality
(4:2:0), decoded; restored by dpir with levels ``START * level`` -> ``END * level`` (``level``: the
luma table's quantisation RMS, :attr:`JpegTables.level`). Prints a Markdown table of PSNR gain
over the plain decode per setting and quality.

    OMP_NUM_THREADS=2 python benchmarks/dejpeg_defaults.py --images 6 --qualities 10,30
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def validation(n: int, size: int = 256) -> list[tuple[str, np.ndarray]]:
    from restore.io import read_image, to_uint8

    files = sorted((ROOT.parent / "shared/data/train").rglob("*.*"))
    files = [f for f in files if f.suffix.lower() in (".png", ".jpg", ".jpeg")]
    step = max(1, len(files) // n)
    out = []
    for f in files[::step][:n]:
        a = to_uint8(read_image(f).color)
        if a.ndim != 3 or min(a.shape[:2]) < size:
            continue
        y0, x0 = (a.shape[0] - size) // 2, (a.shape[1] - size) // 2
        out.append((f.stem, np.ascontiguousarray(a[y0 : y0 + size, x0 : x0 + size])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--qualities", default="10,30")
    ap.add_argument("--starts", default="0.3,0.5,0.8")
    ap.add_argument("--ends", default="0.05,0.15")
    ap.add_argument("--steps", default="8")
    ap.add_argument("--momentum", default="0")
    args = ap.parse_args()
    from restore.api import get_prior, run
    from restore.metrics import psnr
    from restore.tasks import get_task

    torch.set_num_threads(2)
    tk = get_task("dejpeg")
    prior = get_prior(None, "cpu")
    data = validation(args.images)
    qs = [int(v) for v in args.qualities.split(",")]
    grid = list(itertools.product([float(v) for v in args.starts.split(",")], [float(v) for v in args.ends.split(",")],
                                  [int(v) for v in args.steps.split(",")], [float(v) for v in args.momentum.split(",")]))
    gains: dict = {}
    t0 = time.time()
    for q in qs:
        for i, (name, img) in enumerate(data):
            case = tk.degrade(name, img, i, quality=q)
            base = psnr(case.y, case.gt)
            lvl = case.run["tables"].level
            for st, en, n, mom in grid:
                out = run(case.y, "dejpeg", prior=prior, steps=n, sigma_max=st * lvl, sigma_min=en * lvl,
                          momentum=mom, **case.run).image
                gains.setdefault((q, st, en, n, mom), []).append(psnr(out, case.gt) - base)
            print(f"q{q} {name} done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    print(f"validation: {len(data)} centre crops 256x256 of ../shared/data/train (every k-th), Pillow 4:2:0\n")
    print("| quality | START | END | steps | momentum | mean gain dB | min gain dB |")
    print("|---|---|---|---|---|---|---|")
    for k, v in sorted(gains.items()):
        print(f"| {k[0]} | {k[1]:g} | {k[2]:g} | {k[3]} | {k[4]:g} | {np.mean(v):+.2f} | {np.min(v):+.2f} |")


if __name__ == "__main__":
    main()
