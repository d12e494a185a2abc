"""dejpeg on photos saved twice (at Q1, then again at a higher Q2): the file's own tables
(the second save's) against the tables read from the pixels (the first save's blocks), on
centre crops (256 x 256) of BSDS training photos (every STEP-th from the 8th); single saves
(Q2 none) as the control. PSNR of the decode, of ``restore.dejpeg(tables=file's)`` and of
``restore.dejpeg`` on the pixels alone, and the ratio of the pixels' tables' level to the file's.

    python benchmarks/dejpeg_resaved.py --step 23 --images 6
    python benchmarks/dejpeg_resaved.py --step 23 --images 4 --sr   # sr x2 of the crops shrunk by 2

With ``--sr`` the crop is shrunk by 2 (bicubic) before the saves, and the columns are PSNR-Y
(2 px shaved) of bicubic, of ``restore.super_resolve`` with the file's tables as they are,
and of it on the pixels alone.

Results: benchmarks/results/dejpeg.md (photos saved twice).
"""

import argparse
import dataclasses
import glob
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import restore
from restore.io import to_tensor
from restore.metrics import psnr, rgb_to_y, shave
from restore.tasks.dejpeg import estimate_jpeg, jpeg_tables, read_tables

PAIRS = ((30, 90), (50, 95), (20, 75), (60, 90), (30, None), (90, None))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/train/bsds"),
                    help="training photos (default: ../shared/data/train/bsds beside the repository)")
    ap.add_argument("--step", type=int, default=23)
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sr", action="store_true", help="super-resolve x2 instead of dejpeg")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    res: dict = {}
    for f in sorted(glob.glob(f"{a.data}/*"))[7 :: a.step][: a.images]:
        img = np.asarray(Image.open(f).convert("RGB"))
        H, W = img.shape[:2]
        img = img[(H - 256) // 2 : (H - 256) // 2 + 256, (W - 256) // 2 : (W - 256) // 2 + 256]
        small = np.asarray(Image.fromarray(img).resize((128, 128), Image.BICUBIC)) if a.sr else img
        for q1, q2 in PAIRS[:2] + PAIRS[4:5] if a.sr else PAIRS:
            buf = io.BytesIO()
            Image.fromarray(small).save(buf, "JPEG", quality=q1)
            buf.seek(0)
            dec = np.asarray(Image.open(buf).convert("RGB"))
            if q2:
                buf = io.BytesIO()
                Image.fromarray(dec).save(buf, "JPEG", quality=q2)
                buf.seek(0)
                dec = np.asarray(Image.open(buf).convert("RGB"))
            buf.seek(0)
            tf = read_tables(buf)
            e = estimate_jpeg(to_tensor(dec))
            ratio = jpeg_tables(e[0]).level / tf.level if e else 0.0
            # the file's tables as they are (a source other than "file": no look for an earlier save's blocks)
            kept = dataclasses.replace(tf, source="the file's, as they are")
            if a.sr:
                outs = (np.asarray(Image.fromarray(dec).resize((256, 256), Image.BICUBIC)),
                        restore.super_resolve(dec, scale=2, tables=kept), restore.super_resolve(dec, scale=2))
                r = [psnr(shave(rgb_to_y(to_tensor(o)), 2), shave(rgb_to_y(to_tensor(img)), 2)) for o in outs]
            else:
                r = [psnr(to_tensor(o), to_tensor(img)) for o in (dec, restore.dejpeg(dec, tables=kept), restore.dejpeg(dec))]
            res.setdefault((q1, q2), []).append(r)
            print(f.split("/")[-1], q1, q2, "read", e and e[0], f"ratio {ratio:.2f}", " ".join(f"{v:.2f}" for v in r),
                  flush=True)
    first = "bicubic" if a.sr else "decode"
    print(f"\n| saved at | then at | {first} | file's tables | read from the pixels |\n|---|---|---|---|---|")
    for (q1, q2), v in res.items():
        m = np.mean(v, 0)
        print(f"| {q1} | {q2 or '-'} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} |")


if __name__ == "__main__":
    main()
