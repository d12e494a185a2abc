"""The issue-27 bar for dejpeg: CBSD68 images 1-8 saved by Pillow at JPEG quality 10 and 30
(4:2:0), restored by the CLI with its defaults (`restore dejpeg DIR -o OUT`, the file's own
tables), PSNR (RGB) against the plain decode.

    OMP_NUM_THREADS=2 python benchmarks/dejpeg_bar.py [--keep runs/dejpeg_bar]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from PIL import Image

    from restore.io import read_image, to_tensor, to_uint8
    from restore.metrics import psnr

    ap = argparse.ArgumentParser()
    ap.add_argument("--qualities", default="10,30")
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--keep", default=None, help="folder that keeps the JPEGs and outputs (to look at)")
    args = ap.parse_args()
    files = sorted((ROOT.parent / "shared/data/test/CBSD68").glob("*.png"))[: args.images]
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp())
    print(f"CBSD68 images 1-{len(files)}, Pillow JPEG (4:2:0); `restore dejpeg IN -o OUT --threads 2` (defaults); "
          "PSNR dB (RGB)\n")
    print("| quality | plain decode | restore dejpeg | gain | min gain | s/image |")
    print("|---|---|---|---|---|---|")
    for q in [int(v) for v in args.qualities.split(",")]:
        src, out = base / f"q{q}", base / f"q{q}.out"
        src.mkdir(parents=True, exist_ok=True)
        for f in files:
            Image.fromarray(to_uint8(read_image(f).color)).save(src / f"{f.stem}.jpg", "JPEG", quality=q)
        t0 = time.time()
        subprocess.run([str(ROOT / ".venv/bin/restore"), "dejpeg", str(src), "-o", str(out), "-q", "--threads", "2",
                        "--overwrite"], check=True)
        secs = (time.time() - t0) / len(files)
        dec, res = [], []
        for f in files:
            gt = to_tensor(to_uint8(read_image(f).color))
            dec.append(psnr(to_tensor(read_image(src / f"{f.stem}.jpg").color), gt))
            res.append(psnr(to_tensor(read_image(out / f"{f.stem}.png").color), gt))
        g = np.array(res) - np.array(dec)
        print(f"| {q} | {np.mean(dec):.2f} | {np.mean(res):.2f} | {g.mean():+.2f} | {g.min():+.2f} | {secs:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
