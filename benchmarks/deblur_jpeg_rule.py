"""Deblurring JPEG inputs with noise under the JPEG: the level the deblurring reads
(``restore.noise.estimate_sigma``, at least 0.5/255) against rules with a floor.

Centre crops (256 x 256) of BSDS training photos (every 23rd from the 6th), blurred with
mirrored edges by four kernels, Gaussian noise NOISE (0-255) added, saved by Pillow at
quality 75, 90 and 95. Told: ``est`` the level read; ``max`` max(est, floor); ``quad``
sqrt(est^2 + floor^2); ``a3`` 3/255; floor = max(FLOOR/255, 0.25 x the tables' RMS).

    python benchmarks/deblur_jpeg_rule.py --images 3 --noise 1,3 --floor 2

Results: benchmarks/results/deblur_jpeg.md.
"""

import argparse
import glob
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

import restore
from deblur_jpeg import KERNELS, centre_crop, saved_as_jpeg  # (beside this script)
from restore.io import to_tensor
from restore.metrics import psnr
from restore.noise import estimate_sigma
from restore.tasks.deblur import parse_kernel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/train/bsds"),
                    help="training photos (default: ../shared/data/train/bsds beside the repository)")
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--noise", default="1,3")
    ap.add_argument("--floor", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    files = sorted(glob.glob(f"{a.data}/*"))[5::23][: a.images]
    res: dict = {}
    for noise in [float(v) for v in a.noise.split(",")]:
        for fi, f in enumerate(files):
            img = centre_crop(f)
            for kn in KERNELS:
                b = ndimage.convolve(img.astype(np.float64) / 255, parse_kernel(kn)[:, :, None], mode="reflect")
                b = b + np.random.default_rng(fi).normal(0, noise / 255, b.shape)
                b8 = (b.clip(0, 1) * 255).round().astype(np.uint8)
                for q in (75, 90, 95):
                    y, tb = saved_as_jpeg(b8, q)
                    est = max(estimate_sigma(to_tensor(y)), 0.5 / 255)
                    floor = max(a.floor / 255, 0.25 * tb.level)
                    told = {"est": est, "max": max(est, floor), "quad": float(np.hypot(est, floor)), "a3": 3 / 255}
                    for k, s in told.items():  # jpeg_quality=0: the level as told, no floor of the task's own
                        out = restore.deblur(y, kn, sigma=s, jpeg_quality=0)
                        res.setdefault((noise, kn, q, k), []).append(psnr(to_tensor(out), to_tensor(img)))
                    print(noise, fi, kn, q, f"est {est * 255:.2f}",
                          " ".join(f"{k}:{res[(noise, kn, q, k)][-1]:.2f}" for k in told), flush=True)
    print("\n| noise | kernel | quality | est | max | quad | a3 |\n|---|---|---|---|---|---|---|")
    for noise, kn, q in sorted({k[:3] for k in res}):
        print(f"| {noise:g} | {kn} | {q} | " + " | ".join(f"{np.mean(res[(noise, kn, q, k)]):.2f}"
                                                        for k in ("est", "max", "quad", "a3")) + " |")


if __name__ == "__main__":
    main()
