"""Deblurring JPEG inputs: the noise level told, on validation crops.

A blurred photo saved as JPEG reads as clean (its flat parts hold no grain), and deblurred at
that level its blocks sharpen into ripples. This measures, on centre crops (256 x 256) of BSDS
training photos (every STEP-th from the 6th), blurred with mirrored edges by four kernels, given
Gaussian noise NOISE (0-255) and saved by Pillow at each quality, the PSNR of
``restore.deblur`` told each level:

- ``est``: the noise estimated in the decode (the behaviour before 2026-12-06);
- ``aN``: N/255;
- ``cF``: F times the file's tables' quantisation RMS (``JpegTables.level``);
- ``rN/F``: the larger of the two (the shipped rule: ``JPEG_FLOOR``, ``JPEG_NOISE``).

    python benchmarks/deblur_jpeg.py --step 23 --images 4 --qualities 75,90,95 --noise 1 \\
        --settings "est;a1.5;a2;a3;r2/0.25;r2/0.33"

Results: benchmarks/results/deblur_jpeg.md.
"""

import argparse
import glob
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

import restore
from restore.io import to_tensor
from restore.metrics import psnr
from restore.tasks.deblur import parse_kernel
from restore.tasks.dejpeg import read_tables

KERNELS = ["gaussian:1.6,25", "box:5", "motion:15,30", "levin:3"]


def centre_crop(path: str, side: int = 256) -> np.ndarray:
    """The middle ``side`` x ``side`` of an RGB photo."""
    img = np.asarray(Image.open(path).convert("RGB"))
    H, W = img.shape[:2]
    return img[(H - side) // 2 : (H - side) // 2 + side, (W - side) // 2 : (W - side) // 2 + side]


def saved_as_jpeg(a: np.ndarray, quality: int):
    """``a`` (uint8 RGB) saved by Pillow at ``quality``: its decode and the file's tables."""
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    tables = read_tables(buf)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB")), tables


def level(setting: str, tables_level: float) -> float | None:
    if setting == "est":
        return None
    kind, rest = setting[0], setting[1:]
    if kind == "a":
        return float(rest) / 255
    if kind == "c":
        return float(rest) * tables_level
    floor, share = rest.split("/")
    return max(float(floor) / 255, float(share) * tables_level)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/train/bsds"),
                    help="training photos (default: ../shared/data/train/bsds beside the repository)")
    ap.add_argument("--step", type=int, default=23)
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--qualities", default="75,90,95")
    ap.add_argument("--noise", type=float, default=1.0)
    ap.add_argument("--settings", default="est;a1.5;a2;a3;r2/0.25;r2/0.33")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    files = sorted(glob.glob(f"{a.data}/*"))[5 :: a.step][: a.images]
    quals = [int(q) for q in a.qualities.split(",")]
    settings = a.settings.split(";")
    res: dict = {}
    for fi, f in enumerate(files):
        img = centre_crop(f)
        gt = img.astype(np.float64) / 255
        for kn in KERNELS:
            b = ndimage.convolve(gt, parse_kernel(kn)[:, :, None], mode="reflect")
            b = b + np.random.default_rng(fi).normal(0, a.noise / 255, b.shape)
            b8 = (b.clip(0, 1) * 255).round().astype(np.uint8)
            for q in quals:
                y, t = saved_as_jpeg(b8, q)
                res.setdefault((kn, q, "input"), []).append(psnr(to_tensor(y), to_tensor(img)))
                for s in settings:
                    # jpeg_quality=0: the level as told (or read), without the task's own JPEG floor
                    out = restore.deblur(y, kn, sigma=level(s, t.level), jpeg_quality=0)
                    res.setdefault((kn, q, s), []).append(psnr(to_tensor(out), to_tensor(img)))
                print(fi, kn, q, f"level {t.level * 255:.2f}", " ".join(f"{s}:{res[(kn, q, s)][-1]:.2f}" for s in settings),
                      f"in {res[(kn, q, 'input')][-1]:.2f}", flush=True)
    print(f"\n| kernel | quality | input | {' | '.join(settings)} |")
    print("|---|---|---|" + "---|" * len(settings))
    for kn in KERNELS:
        for q in quals:
            print(f"| {kn} | {q} | {np.mean(res[(kn, q, 'input')]):.2f} | "
                  + " | ".join(f"{np.mean(res[(kn, q, s)]):.2f}" for s in settings) + " |")
    for q in quals:
        print(f"| all | {q} | {np.mean([np.mean(res[(kn, q, 'input')]) for kn in KERNELS]):.2f} | "
              + " | ".join(f"{np.mean([np.mean(res[(kn, q, s)]) for kn in KERNELS]):.2f}" for s in settings) + " |")


if __name__ == "__main__":
    main()
