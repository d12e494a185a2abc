"""Choose dejpeg's DPIR levels and steps on the validation split (crops of ../shared/data/train).

Each image: a 256x256 centre crop of every K-th training photo, saved by Pillow at each quality
(4:2:0), decoded; restored by dpir with levels ``START * level`` -> ``END * level`` (``level``: the
luma table's quantisation RMS, :attr:`JpegTables.level`). Prints a Markdown table of PSNR gain
over the plain decode per setting and quality.

    OMP_NUM_THREADS=2 python benchmarks/dejpeg_defaults.py --images 6 --qualities 10,30

The JPEG denoiser's bands (:class:`restore.tasks.dejpeg.BandDenoiser`): ``--bands`` takes
``LOW/HIGH/QUANTILE/CHROMA`` settings separated by commas (``1/1/0/1``: the prior alone at
one level), e.g. ``--bands 1/1/0/1,1/1/0/3,0.7/1.5/0.3/3 --starts 0.25 --ends 0.05 --steps 3``;
``--subsampling 0`` saves 4:4:4, ``--gray`` gray crops.
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
    ap.add_argument("--bands", default=None, help="LOW/HIGH/QUANTILE/CHROMA,... (default: the shipped ones)")
    ap.add_argument("--subsampling", type=int, default=None, help="Pillow's subsampling (0: 4:4:4; default 4:2:0)")
    ap.add_argument("--gray", action="store_true")
    args = ap.parse_args()
    from restore.api import get_prior, run
    from restore.metrics import psnr
    from restore.tasks import get_task
    from restore.tasks.dejpeg import BandDenoiser

    torch.set_num_threads(2)
    tk = get_task("dejpeg")
    prior = get_prior(None, "cpu")
    data = validation(args.images)
    if args.gray:
        data = [(n, np.round(a @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)) for n, a in data]
    shipped = (BandDenoiser.LOW, BandDenoiser.HIGH, BandDenoiser.QUANTILE, BandDenoiser.CHROMA)
    bands = [tuple(float(t) for t in b.split("/")) for b in args.bands.split(",")] if args.bands else [None]
    qs = [int(v) for v in args.qualities.split(",")]
    grid = list(itertools.product([float(v) for v in args.starts.split(",")], [float(v) for v in args.ends.split(",")],
                                  [int(v) for v in args.steps.split(",")], [float(v) for v in args.momentum.split(",")],
                                  bands))
    gains: dict = {}
    t0 = time.time()
    for q in qs:
        for i, (name, img) in enumerate(data):
            case = tk.degrade(name, img, i, quality=q, subsampling=args.subsampling)
            base = psnr(case.y, case.gt)
            lvl = case.run["tables"].level
            for st, en, n, mom, b in grid:
                if b is None:  # as shipped (CHROMA by the file's subsampling)
                    BandDenoiser.LOW, BandDenoiser.HIGH, BandDenoiser.QUANTILE, BandDenoiser.CHROMA = shipped
                    label = "shipped"
                else:
                    BandDenoiser.LOW, BandDenoiser.HIGH, BandDenoiser.QUANTILE = b[:3]
                    BandDenoiser.CHROMA, label = {True: b[3], False: b[3]}, "/".join(f"{v:g}" for v in b)
                out = run(case.y, "dejpeg", prior=prior, steps=n, sigma_max=st * lvl, sigma_min=en * lvl,
                          momentum=mom, **case.run).image
                gains.setdefault((q, st, en, n, mom, label), []).append(psnr(out, case.gt) - base)
            print(f"q{q} {name} done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    layout = {None: "4:2:0", 0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}[args.subsampling]
    print(f"validation: {len(data)} centre crops 256x256 of ../shared/data/train (every k-th), "
          f"{'gray' if args.gray else 'colour'}, Pillow {layout if not args.gray else ''}\n")
    print("| quality | START | END | steps | momentum | bands LOW/HIGH/QUANTILE/CHROMA | mean gain dB | min gain dB |")
    print("|---|---|---|---|---|---|---|---|")
    for k, v in sorted(gains.items()):
        print(f"| {k[0]} | {k[1]:g} | {k[2]:g} | {k[3]} | {k[4]:g} | {k[5]} | {np.mean(v):+.2f} | {np.min(v):+.2f} |")


if __name__ == "__main__":
    main()
