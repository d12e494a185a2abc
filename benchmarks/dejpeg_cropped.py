"""dejpeg of a JPEG decoded and then cropped, given without its file (2026-12-06): 4 BSDS
training photos (every 40th), saved at quality 10 / 30 (Pillow, 4:2:0), decoded, their first
(dy, dx) rows and columns cut; PSNR against the truth cut alike, for the plain decode, the
blocks assumed at the image's corner (the quality estimated there, as before), and the grid
read from the pixels (the default now: ``restore.tasks.dejpeg.estimate_jpeg``, ``mcu_offset``).

    OMP_NUM_THREADS=2 python benchmarks/dejpeg_cropped.py
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from PIL import Image

    from restore.api import run
    from restore.io import to_tensor
    from restore.metrics import psnr
    from restore.tasks.dejpeg import estimate_quality

    torch.set_num_threads(2)
    rows = []
    for f in sorted((ROOT.parent / "shared/data/train/bsds").iterdir())[::40][:4]:
        im = Image.open(f).convert("RGB")
        truth = np.asarray(im)
        for q in (10, 30):
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=q)
            buf.seek(0)
            dec = np.asarray(Image.open(buf).convert("RGB"))
            for off in ((0, 0), (3, 5), (8, 8)):
                x, gt = (to_tensor(np.ascontiguousarray(a[off[0]:, off[1]:])) for a in (dec, truth))
                corner = run(x, "dejpeg", quality=estimate_quality(x)).image
                rows.append((q, off, float(psnr(x, gt)), float(psnr(corner, gt)), float(psnr(run(x, "dejpeg").image, gt))))
    print("| quality | cut (rows, columns) | decode | blocks at the corner | grid read |\n|---|---|---|---|---|")
    for q in (10, 30):
        for off in ((0, 0), (3, 5), (8, 8)):
            r = np.array([v[2:] for v in rows if v[:2] == (q, off)]).mean(0)
            print(f"| {q} | {off[0]}, {off[1]} | {r[0]:.2f} | {r[1]:.2f} | {r[2]:.2f} |")


if __name__ == "__main__":
    main()
