"""Peak memory and time of large images (tiled network calls), and the seam error of tiling.

    python benchmarks/memory.py --mp 4,24
    python benchmarks/memory.py --mp 4,24 --tasks sr     # x4 to an output of that size

Each size runs in its own process (peak RSS is that process's); the image is a generated
smooth pattern plus noise (sigma 25), restored with the default denoiser. ``sr`` upscales
every fourth pixel of it by 4 with the default sampler at 4 steps (memory does not depend on the
step count; time per step does not change with it either). The seam check
compares a tiled and an untiled call of the shipped prior on a 1024x768 image.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def worker(mp: float, task: str) -> dict:
    import numpy as np

    import restore

    W = int((mp * 1e6 * 1.5) ** 0.5)
    H = int(mp * 1e6 / W)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    img = 0.5 + 0.3 * np.sin(xx / 37.0)[..., None] * np.cos(yy / 53.0)[..., None] * np.array([1, 0.8, 0.6], np.float32)
    img = img + (25 / 255) * np.random.default_rng(0).standard_normal(img.shape).astype(np.float32)
    img = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    t0 = time.perf_counter()
    expect = img.shape
    if task == "denoise":
        out = restore.denoise(img, sigma=25 / 255)
    elif task == "sr":
        lr = img[: H // 4 * 4 : 4, : W // 4 * 4 : 4]  # the pattern at a quarter of the size
        out = restore.super_resolve(lr, scale=4, steps=4)
        expect = (lr.shape[0] * 4, lr.shape[1] * 4, 3)
        H, W = expect[:2]
    else:
        hole = np.zeros((H, W), bool)
        hole[H // 3 : H // 3 + 64, :] = True
        out = restore.inpaint(img, hole, steps=4)
    secs = time.perf_counter() - t0
    return {"mp": round(H * W / 1e6, 2), "size": f"{W}x{H}", "task": task, "seconds": round(secs, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "ok": out.shape == expect}


def seam_error() -> dict:
    import torch

    from restore.prior import Prior, load_prior

    p = load_prior()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 768, 1024, generator=g) * 0.2 + torch.linspace(0, 0.7, 1024)[None, None, None]
    y = x + 0.1 * torch.randn(x.shape, generator=g)
    with torch.no_grad():
        a = Prior(p.net, p.schedule, tile=None)(y, 0.1)
        b = Prior(p.net, p.schedule, tile=512, tile_overlap=p.tile_overlap)(y, 0.1)
    d = (a - b).abs()
    return {"max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean()), "max_abs_diff_255": float(d.max() * 255)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", default="4,24")
    ap.add_argument("--tasks", default="denoise")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(float(a.worker[0]), a.worker[1])))
        return
    print(f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} CPU; command: "
          f"`python benchmarks/memory.py {' '.join(sys.argv[1:])}`\n")
    print("| task | image | megapixels | seconds | peak RSS (MB) |\n|---|---|---|---|---|")
    for task in a.tasks.split(","):
        for mp in a.mp.split(","):
            r = subprocess.run([sys.executable, __file__, "--worker", mp, task], capture_output=True, text=True,
                               check=False)
            if r.returncode:
                print(f"| {task} | {mp} MP | failed: {r.stderr.strip().splitlines()[-1]} | | |")
                continue
            d = json.loads(r.stdout.strip().splitlines()[-1])
            print(f"| {task} | {d['size']} | {d['mp']} | {d['seconds']} | {d['peak_rss_mb']} |", flush=True)
    s = seam_error()
    print(f"\nTiled (512 px tiles) vs untiled prior call on 1024x768: max |diff| = {s['max_abs_diff']:.4f} "
          f"({s['max_abs_diff_255']:.2f} / 255), mean {s['mean_abs_diff']:.5f}")


if __name__ == "__main__":
    main()
