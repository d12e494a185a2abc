"""Super-resolution tile by tile vs the whole image at once, on real images.

    python benchmarks/sr_tiles.py --limit 3 --tile 256

Forces small tiles (``--tile`` output pixels) on Set14 so that images of benchmark size
are split, and prints PSNR-Y of both against the ground truth, their largest and mean
difference, and the time of each (x4, default sampler and steps, CPU).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

from restore.api import get_prior, run
from restore.evaluate import load_dataset
from restore.io import to_tensor
from restore.metrics import psnr, rgb_to_y, shave
from restore.prior import Prior
from restore.tasks.superres import SuperResolve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=3)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--scale", type=int, default=4)
    a = ap.parse_args()
    p = get_prior(None, torch.device("cpu"))
    small = Prior(p.net, p.schedule, tile=a.tile, tile_overlap=p.tile_overlap)
    s = a.scale
    print(f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} CPU; command: "
          f"`python benchmarks/sr_tiles.py {' '.join(sys.argv[1:])}`\n")
    print("| image | size | PSNR-Y whole | PSNR-Y tiled | tiles | max diff (/255) | mean diff (/255) | s whole | s tiled |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, img in load_dataset(ROOT.parent / "shared" / "data" / "test" / "Set14", a.limit):
        x = img if torch.is_tensor(img) else to_tensor(img)
        H, W = x.shape[-2] // s * s, x.shape[-1] // s * s
        x = x[..., :H, :W]
        y = SuperResolve(tuple(x.shape[1:]), s).A(x)
        t0 = time.perf_counter()
        whole = run(y, "sr", scale=s, prior=p, tiles=False).image
        t1 = time.perf_counter()
        tiled = run(y, "sr", scale=s, prior=small)
        t2 = time.perf_counter()
        ref = shave(rgb_to_y(x), s)
        d = (whole - tiled.image).abs() * 255
        print(f"| {name} | {W}x{H} | {psnr(shave(rgb_to_y(whole), s), ref):.3f} | {psnr(shave(rgb_to_y(tiled.image), s), ref):.3f} | {tiled.params['tiles']} | "
              f"{float(d.max()):.2f} | {float(d.mean()):.3f} | {t1 - t0:.1f} | {t2 - t1:.1f} |", flush=True)


if __name__ == "__main__":
    main()
