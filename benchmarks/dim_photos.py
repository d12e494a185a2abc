"""The noise level read on dim photos (``restore.noise.EXPOSURE``): the default denoise
(``restore.run(y, "denoise")``, no sigma) with dim photos read as they are (``below`` 0, as
before), as shipped (``below`` 0.5: a photo whose 99th percentile is under half of white is read
as if that were white) and with every photo read so (``below`` 1.01).

    OMP_NUM_THREADS=2 python benchmarks/dim_photos.py runs/dim/a.jsonl [--sets dim,polyu_dev,clean_val,imagenet_ho]
        [--photos 16]
    python benchmarks/dim_photos.py runs/dim/a.jsonl --summary

Sets: ``dim``: validation photos (BSDS training photos, every 12th, 256x256 centre crops, grey and
colour in turn; ``benchmarks/noise_pooled.py``'s) at 1, 0.5 and 0.3 of their brightness, clean, with
white noise of 3 and 10 (rounded to 8 bits), and (colour) through the synthetic camera
(``restore.noise.camera_noise``) at 0.5 and 0.3; ``polyu_dev``: PolyU100's 75 development pairs;
``clean_val``: the 32 BSDS validation photos as they are; ``imagenet_ho``: 40 ImageNet training
photos (every 18th), held out. PSNR against the clean photo, or against the input for a clean one
(how much a clean photo is changed).
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

VARIANTS = {"before": 0.0, "shipped": None, "all": 1.01}  # EXPOSURE["below"] (None: as shipped)


def images(which: str, photos: int):
    import noise_pooled as npd

    from restore import noise
    from restore.io import to_tensor

    if which == "dim":
        for i, (name, img) in enumerate(npd._photos("bsds", 12, 32)[:photos]):
            for b in (1.0, 0.5, 0.3):
                clean = img.astype(np.float64) * b
                c8 = np.clip(np.round(clean), 0, 255).astype(np.uint8)
                for s in (0, 3, 10):
                    rng = np.random.default_rng(zlib.crc32(f"{name}/{b}/{s}".encode()))
                    y = np.clip(np.round(clean + rng.normal(0, s, img.shape)), 0, 255).astype(np.uint8)
                    yield f"white{s}_b{b}", name, to_tensor(y), (to_tensor(c8) if s else None)
                if b < 1 and img.ndim == 3:
                    n8, r8, _ = noise.camera_noise(c8, 100 + i)
                    yield f"cam_b{b}", name, to_tensor(n8), to_tensor(r8)
    elif which == "polyu_dev":
        for n, y, c, _ in npd.images("polyu_dev"):
            yield which, n, y, c
    elif which == "clean_val":
        for n, y, _, _ in npd.images("clean_val"):
            yield which, n, y, None
    elif which == "imagenet_ho":
        for n, img in npd._photos("imagenet1k", 18, 40):
            yield which, n, to_tensor(img), None
    else:
        raise SystemExit(f"unknown set {which!r}")


def collect(out: Path, sets: list[str], photos: int) -> None:
    from restore import noise
    from restore.api import run
    from restore.metrics import psnr

    shipped = noise.EXPOSURE["below"]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f, torch.no_grad():
        for which in sets:
            for s, name, y, ref in images(which, photos):
                rec = {"set": s, "name": name, "quantile": noise.exposure(y[0]) if noise.exposure(y[0]) < 1 else None}
                for v, below in VARIANTS.items():
                    noise.EXPOSURE["below"] = shipped if below is None else below
                    r = run(y, "denoise")
                    rec[v] = [round(r.sigma_y * 255, 3), round(psnr(r.image, ref if ref is not None else y), 3)]
                noise.EXPOSURE["below"] = shipped
                f.write(json.dumps(rec) + "\n")
                f.flush()


def summary(path: Path) -> None:
    R = [json.loads(line) for line in path.open()]
    print("| set | images | before | shipped (change; least) | all read so (change; least) |\n|---|---|---|---|---|")
    for s in dict.fromkeys(r["set"] for r in R):
        rs = [r for r in R if r["set"] == s]
        b = np.array([r["before"][1] for r in rs])
        cells = []
        for v in ("shipped", "all"):
            d = np.array([r[v][1] for r in rs]) - b
            cells.append(f"{b.mean() + d.mean():.2f} ({d.mean():+.2f}; {d.min():+.2f})")
        print(f"| {s} | {len(rs)} | {b.mean():.2f} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--sets", default="dim,polyu_dev,clean_val,imagenet_ho")
    ap.add_argument("--photos", type=int, default=16)
    ap.add_argument("--summary", action="store_true")
    a = ap.parse_args()
    if a.summary:
        summary(a.path)
    else:
        collect(a.path, a.sets.split(","), a.photos)
        summary(a.path)


if __name__ == "__main__":
    main()
