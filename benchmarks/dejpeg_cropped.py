"""dejpeg of a JPEG decoded and then cropped, given without its file (2026-12-06): 4 BSDS
training photos (every 40th), saved at quality 10 / 30 (Pillow, 4:2:0), decoded, their first
(dy, dx) rows and columns cut; PSNR against the truth cut alike, for the plain decode, the
blocks assumed at the image's corner (the quality estimated there, as before), and the grid
read from the pixels (the default now: ``restore.tasks.dejpeg.estimate_jpeg``, ``mcu_offset``).
Then Set14 crops saved 4:4:4 / 4:2:2 / 4:2:0, some turned by 90 degrees after the decode: what
is read from the pixels and dejpeg's gain.

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
    from _usage import usage

    usage(__doc__)
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
                read = run(x, "dejpeg").image
                rows.append((q, off, float(psnr(x, gt)), float(psnr(corner, gt)), float(psnr(read, gt))))
    print("| quality | cut (rows, columns) | decode | blocks at the corner | grid read |\n|---|---|---|---|---|")
    for q in (10, 30):
        for off in ((0, 0), (3, 5), (8, 8)):
            r = np.array([v[2:] for v in rows if v[:2] == (q, off)]).mean(0)
            print(f"| {q} | {off[0]}, {off[1]} | {r[0]:.2f} | {r[1]:.2f} | {r[2]:.2f} |")
    turned_and_subsampled()


def turned_and_subsampled() -> None:
    """Set14 lenna / zebra / monarch, top-left 256 x 256, saved 4:4:4 / 4:2:2 / 4:2:0 (and turned
    by 90 degrees after the decode), cut: what is read from the pixels, and the gain over the decode."""
    from PIL import Image

    from restore.api import run
    from restore.io import to_tensor
    from restore.metrics import psnr
    from restore.tasks.dejpeg import DejpegTask

    print("\n| photo | quality | saved | cut | read: tables, chroma (fy, fx), MCU start | gain dB |\n"
          "|---|---|---|---|---|---|")
    for name in ("lenna", "zebra", "monarch"):
        a = np.asarray(Image.open(ROOT.parent / f"shared/data/test/Set14/{name}.png").convert("RGB"))[:256, :256]
        for q, sub, cut, turn in ((30, 0, (5, 2), False), (20, 0, (0, 0), False), (30, 1, (3, 3), False),
                                  (20, 2, (0, 0), True), (30, 2, (5, 2), True), (30, 2, (6, 9), False)):
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, "JPEG", quality=q, subsampling=sub)
            buf.seek(0)
            d, t = np.asarray(Image.open(buf).convert("RGB")), a
            if turn:
                d, t = np.rot90(d), np.rot90(a)
            x, gt = (to_tensor(np.ascontiguousarray(v[cut[0]:, cut[1]:])) for v in (d, t))
            tb = DejpegTask().tables_for(x, {})
            gain = float(psnr(run(x, "dejpeg").image, gt) - psnr(x, gt))
            saved = ["4:4:4", "4:2:2", "4:2:0"][sub] + (", turned 90" if turn else "")
            print(f"| {name} | {q} | {saved} | {cut[0]}, {cut[1]} | {tb.source}, {tb.chroma}, {tb.offset} | "
                  f"{gain:+.2f} |")


if __name__ == "__main__":
    main()
