"""16-bit data that do not fill their range (a 12-bit camera's in a 16-bit file): restored on
the 16-bit range (``bits=16``, as before) or on their own (``restore.io.data_bits``, the default).

    OMP_NUM_THREADS=1 python benchmarks/sixteen_bits.py [--images 12] [--out runs/sb/a.jsonl]

Validation photos (BSDS training photos, every 12th, 256x256 centre crops, grey and colour in
turn) made into data of 10, 12 and 14 bits (the photo's 0-255 scaled to 2**b - 1, rounded; the
noisy data clipped to 2**b - 1 as a camera's converter clips them), and a dark 16-bit photo (its
0-255 scaled to 0-13107, a fifth of the range: read as 14 bits, the photo at 80 % of it). Cases,
noise levels in 0-255 units of the data's own range: denoise with white noise of 3 and 10,
the level estimated; denoise with Poisson-Gaussian noise (a photon count of 1000 at the data's
white, read noise 2); deblur (gaussian:1.6, noise 1, estimated); sr x2 (the photo reduced by
OpenCV's INTER_AREA, no noise). PSNR against the clean data with the data's own range
(2**b - 1; the dark photo's 13107), one line per case and variant, then the mean per case.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = {"b10": 1023, "b12": 4095, "b14": 16383, "dark16": 13107}


def photos(n: int, size: int = 256) -> list[tuple[str, np.ndarray]]:
    from restore.io import read_image, to_uint8

    files = sorted((ROOT.parent / "shared/data/train/bsds").glob("*.*"))[::12]
    out = []
    for i, f in enumerate(files):
        a = to_uint8(read_image(f).color)
        if min(a.shape[:2]) < size:
            continue
        y0, x0 = (a.shape[0] - size) // 2, (a.shape[1] - size) // 2
        a = np.ascontiguousarray(a[y0:y0 + size, x0:x0 + size])
        out.append((f.stem, a if len(out) % 2 else a.mean(axis=2).round().astype(np.uint8)))
        if len(out) == n:
            break
    return out


def cases(a: np.ndarray, white: int, rng: np.random.Generator):
    """(case, measurement as uint16, clean as float, task, params) for one photo's data."""
    import cv2

    clean = a.astype(np.float64) / 255 * white
    data = clean.round()
    u = white / 255
    for s in (3, 10):
        yield f"denoise white {s}", data + rng.normal(0, s * u, a.shape), clean, "denoise", {}
    photons = rng.poisson(clean / white * 1000) / 1000 * white
    yield "denoise poisson", photons + rng.normal(0, 2 * u, a.shape), clean, "denoise", {}
    k = cv2.getGaussianKernel(25, 1.6)
    blurred = cv2.filter2D(clean, -1, k @ k.T, borderType=cv2.BORDER_REFLECT)
    yield "deblur gaussian:1.6", blurred + rng.normal(0, u, a.shape), clean, "deblur", {"kernel": "gaussian:1.6"}
    small = cv2.resize(clean, (a.shape[1] // 2, a.shape[0] // 2), interpolation=cv2.INTER_AREA)
    yield "sr x2", small, clean, "sr", {"scale": 2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=12)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    import torch

    import restore
    from restore.metrics import psnr

    torch.set_num_threads(a.threads)
    rows = []
    out = a.out.open("a") if a.out else None
    for name, img in photos(a.images):
        for data, white in DATA.items():
            rng = np.random.default_rng(zlib.crc32(f"{name}/{data}".encode()))
            for case, y, clean, task, params in cases(img, white, rng):
                y16 = np.clip(y.round(), 0, white if data != "dark16" else 65535).astype(np.uint16)  # an ADC's clip
                for variant, extra in (("16-bit range", {"bits": 16}), ("own range", {})):
                    res = restore.restore(y16, task, **params, **extra)
                    p = psnr(res.astype(np.float64), clean, data_range=white)
                    rec = {"photo": name, "data": data, "case": case, "variant": variant, "psnr": round(p, 3)}
                    rows.append(rec)
                    print(json.dumps(rec), flush=True)
                    if out:
                        out.write(json.dumps(rec) + "\n")
                        out.flush()
    mean = defaultdict(list)
    for r in rows:
        mean[(r["data"], r["case"], r["variant"])].append(r["psnr"])
    print(f"\n{len({r['photo'] for r in rows})} photos; mean PSNR (dB, the data's own range)\n")
    print("| data | case | 16-bit range (before) | own range (now) |\n|---|---|---|---|")
    for data in DATA:
        for case in dict.fromkeys(r["case"] for r in rows):
            b, n = mean[(data, case, "16-bit range")], mean[(data, case, "own range")]
            if b:
                print(f"| {data} | {case} | {np.mean(b):.2f} | {np.mean(n):.2f} |")


if __name__ == "__main__":
    main()
