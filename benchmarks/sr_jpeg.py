"""Super-resolution of JPEG inputs (issue 27).

``--mode choose`` (validation split: 256x256 centre crops of every K-th training photo): the
low-resolution image made by area (Pillow BOX) or by bicubic downscaling, saved at JPEG quality
``--quality``, restored assuming each kernel and each measurement-noise factor (times the
tables' quantisation RMS); PSNR-Y (scale pixels shaved). Chooses sr's defaults for a JPEG input
(a photo of unknown origin: mean over both downscalings).

``--mode bar`` (Set5): area-downscaled x4, saved at quality ``--quality`` (80), then ``restore sr small.jpg
--scale 4`` (the CLI with its defaults) against Pillow bicubic upscaling, PSNR-Y. ``--png K``:
the JPEG's decoded pixels saved as PNG (its tables lost: sr reads them from the blocks), their
first K rows and columns cut (the 8x8 grid moved; the truth cut to match).

    OMP_NUM_THREADS=2 python benchmarks/sr_jpeg.py --mode choose --images 4
    OMP_NUM_THREADS=2 python benchmarks/sr_jpeg.py --mode bar
    OMP_NUM_THREADS=2 python benchmarks/sr_jpeg.py --mode bar --png 3
"""

from __future__ import annotations

import argparse
import io
import itertools
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def shrink(hr: np.ndarray, s: int, how: str) -> np.ndarray:
    from PIL import Image

    H, W = hr.shape[:2]
    return np.asarray(Image.fromarray(hr).resize((W // s, H // s), Image.BOX if how == "area" else Image.BICUBIC))


def jpeg(a: np.ndarray, q: int) -> tuple[bytes, np.ndarray]:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=q)
    data = buf.getvalue()
    return data, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def psnr_y(a: np.ndarray, b: np.ndarray, s: int) -> float:
    from restore.io import to_tensor
    from restore.metrics import psnr, rgb_to_y, shave

    ta, tb = to_tensor(a), to_tensor(b)
    return psnr(shave(rgb_to_y(ta), s), shave(rgb_to_y(tb), s))


def choose(args) -> None:
    import torch

    from benchmarks.dejpeg_defaults import validation
    from restore.api import get_prior, run
    from restore.io import to_tensor, to_uint8
    from restore.tasks.dejpeg import read_tables

    torch.set_num_threads(2)
    prior = get_prior(None, "cpu")
    s = args.scale
    res: dict = {}
    data = validation(args.images or 4, args.size)
    for i, (name, hr) in enumerate(data):
        for how in ("area", "bicubic"):
            data_, lr = jpeg(shrink(hr, s, how), args.quality)
            t = read_tables(io.BytesIO(data_))
            from PIL import Image

            bic = np.asarray(Image.fromarray(lr).resize((lr.shape[1] * s, lr.shape[0] * s), Image.BICUBIC))
            res.setdefault((how, "pillow-bicubic", "-"), []).append(psnr_y(bic, hr, s))
            for kern, f in itertools.product(("box", "bicubic"), [float(v) for v in args.noise.split(",")]):
                out = run(to_tensor(lr), "sr", scale=s, kernel=kern, sigma=f * t.level, jpeg_quality=0,  # as given
                          prior=prior).image
                res.setdefault((how, kern, f), []).append(psnr_y(to_uint8(out[0].permute(1, 2, 0).numpy()), hr, s))
        print(f"{name} done", file=sys.stderr, flush=True)
    print(f"validation: {len(data)} centre crops {args.size}x{args.size} of ../shared/data/train; x{s}, JPEG quality {args.quality} "
          "(Pillow 4:2:0); PSNR-Y dB, scale pixels shaved; sigma = factor x tables' quantisation RMS\n")
    print("| downscaled by | kernel assumed | noise factor | PSNR-Y |")
    print("|---|---|---|---|")
    for k, v in sorted(res.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), str(kv[0][2]))):
        print(f"| {k[0]} | {k[1]} | {k[2]} | {np.mean(v):.2f} |")
    print("\nmean over both downscalings:\n")
    print("| kernel assumed | noise factor | PSNR-Y |")
    print("|---|---|---|")
    for kern, f in sorted({(k[1], k[2]) for k in res}, key=str):
        v = [np.mean(res[(how, kern, f)]) for how in ("area", "bicubic")]
        print(f"| {kern} | {f} | {np.mean(v):.2f} |")


def bar(args) -> None:
    from PIL import Image

    from restore.io import read_image, to_uint8

    s, q = 4, args.quality
    files = sorted((ROOT.parent / "shared/data/test/Set5").glob("*.png"))[: args.images]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for f in files:
            hr = to_uint8(read_image(f).color)
            H, W = hr.shape[:2]
            hr = np.ascontiguousarray(hr[: H - H % s, : W - W % s])
            small = Path(d) / f"{f.stem}.jpg"
            Image.fromarray(shrink(hr, s, "area")).save(small, "JPEG", quality=q)
            if args.png is not None:  # the decoded pixels as a PNG: the file's tables are lost
                k = args.png
                dec = np.asarray(Image.open(small).convert("RGB"))[k:, k:]
                hr = np.ascontiguousarray(hr[k * s:, k * s:])
                small = small.with_suffix(".png")
                Image.fromarray(dec).save(small)
            out = Path(d) / f"{f.stem}.sr.png"
            cmd = [str(ROOT / ".venv/bin/restore"), "sr", str(small), "--scale", "4", "-o", str(out), "-q",
                   "--threads", "2"]
            subprocess.run(cmd, check=True)
            lr = np.asarray(Image.open(small).convert("RGB"))
            bic = np.asarray(Image.fromarray(lr).resize((lr.shape[1] * s, lr.shape[0] * s), Image.BICUBIC))
            rows.append((f.stem, psnr_y(bic, hr, s), psnr_y(to_uint8(read_image(out).color), hr, s)))
            if args.keep:
                Path(args.keep).mkdir(parents=True, exist_ok=True)
                Image.fromarray(to_uint8(read_image(out).color)).save(Path(args.keep) / f"{f.stem}.sr.png")
                Image.fromarray(bic).save(Path(args.keep) / f"{f.stem}.bicubic.png")
    how = ("" if args.png is None else
           f", decoded and saved as PNG (its first {args.png} rows and columns cut: the 8x8 grid moved)" if args.png
           else ", decoded and saved as PNG")
    print(f"Set5, area-downscaled x4 (Pillow BOX), saved at JPEG quality {q}{how}; `restore sr "
          f"small.{small.suffix[1:]} --scale 4` (defaults) vs Pillow bicubic; PSNR-Y dB, 4 pixels shaved\n")
    print("| image | bicubic | restore sr | gain |")
    print("|---|---|---|---|")
    for n, b, r in rows:
        print(f"| {n} | {b:.2f} | {r:.2f} | {r - b:+.2f} |")
    b, r = np.mean([x[1] for x in rows]), np.mean([x[2] for x in rows])
    print(f"| mean | {b:.2f} | {r:.2f} | {r - b:+.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("choose", "bar"), default="bar")
    ap.add_argument("--images", type=int, default=None,
                    help="choose: validation images (default 4); bar: the first N of Set5 (default all 5)")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--size", type=int, default=256, help="choose: crop side")
    ap.add_argument("--quality", type=int, default=80)
    ap.add_argument("--noise", default="0,0.5,1")
    ap.add_argument("--png", type=int, default=None, metavar="K",
                    help="bar: give sr the JPEG's pixels as a PNG, its first K rows and columns cut (0: none)")
    ap.add_argument("--keep", default=None, help="bar: folder for the outputs (to look at)")
    args = ap.parse_args()
    choose(args) if args.mode == "choose" else bar(args)


if __name__ == "__main__":
    main()
