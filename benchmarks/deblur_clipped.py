"""Deblurring photos with clipped light: lamps far beyond white, over-exposed photos, photos
just under white, pages of text on white paper (``restore.tasks.deblur.beyond_white``).

    python benchmarks/deblur_clipped.py [--data DIR] [--n 16] [--step 12] [--scenes lamps,windows]
        [--variants "off;on;BEYOND_LIGHT=0.15;BEYOND_LIGHT=0.2:BEYOND_ALL=0"]

Scenes, four per photo (``--data``: BSDS training photos by default, every ``step``-th:
validation, not a test set), a 320x256 centre crop each:
- ``lamps``: the photo dimmed to 0.3-0.6, one to three discs of light (radius 2-9 px) 2-12
  times white, a little coloured;
- ``bright``: the photo over-exposed 1.4-2 times (skies, walls and coloured surfaces clip);
- ``near``: the photo scaled so that its brightest pixel is 0.995 (noise clips a few pixels);
- ``page``: dark text on white paper at white;
- ``windows``: the photo dimmed, one or two lights wider than the blur (rectangles of 20-120 px,
  discs of radius 10-40) 1.5-30 times white.

Each is blurred (cycling through camera shake, a motion path, a defocus disc and a Gaussian)
with reflected edges, given noise 2/255, clipped to [0, 1] and rounded to 8 bits, then deblurred
through ``restore.api.run`` with its defaults and the exact kernel (noise estimated). PSNR
against the sharp scene clipped to [0, 1]. Variants: ``off`` (no pixel left out), ``on`` (as
shipped), ``NAME=VALUE;...`` (module constants of ``restore.tasks.deblur`` set for the run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "train" / "bsds"
SCENES = ("lamps", "bright", "near", "page", "windows")


def shake(n: int, steps: int, seed: int) -> np.ndarray:
    """A camera-shake kernel: a seeded random walk with momentum, splatted bilinearly."""
    import cv2

    r = np.random.default_rng(seed)
    k, p, v = np.zeros((n, n)), np.array([n / 2, n / 2]), np.zeros(2)
    for _ in range(steps):
        v = 0.8 * v + r.normal(0, 0.6, 2)
        p = np.clip(p + v * 0.5, 1, n - 2)
        iy, ix = int(p[0]), int(p[1])
        fy, fx = p[0] - iy, p[1] - ix
        k[iy:iy + 2, ix:ix + 2] += np.array([[(1 - fy) * (1 - fx), (1 - fy) * fx], [fy * (1 - fx), fy * fx]])
    k = cv2.GaussianBlur(k, (3, 3), 0.5)
    ys, xs = np.nonzero(k > 1e-3 * k.max())
    k = k[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return k / k.sum()


def scene(kind: str, im: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The sharp scene (float, may exceed 1) of ``kind`` from the photo crop ``im`` in [0, 1]."""
    import cv2

    h, w = im.shape[:2]
    if kind == "lamps":
        x = im * rng.uniform(0.3, 0.6)
        yy, xx = np.mgrid[:h, :w]
        for _ in range(int(rng.integers(1, 4))):
            cy, cx, r = rng.integers(30, h - 30), rng.integers(30, w - 30), rng.uniform(2, 9)
            amp = rng.uniform(2, 12) * np.array([1, rng.uniform(0.8, 1), rng.uniform(0.6, 1)])
            x = x + (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r)[..., None] * amp
        return x
    if kind == "windows":  # lights wider than the blur: a lit window, a lamp globe, the sun
        x = im * rng.uniform(0.3, 0.6)
        yy, xx = np.mgrid[:h, :w]
        for _ in range(int(rng.integers(1, 3))):
            cy, cx = rng.integers(40, h - 40), rng.integers(40, w - 40)
            amp = rng.uniform(1.5, 30) * np.array([1, rng.uniform(0.8, 1), rng.uniform(0.6, 1)])
            if rng.random() < 0.5:
                ry, rx = rng.integers(10, 50), rng.integers(10, 60)
                x = x + ((abs(yy - cy) < ry) & (abs(xx - cx) < rx))[..., None] * amp
            else:
                x = x + (((yy - cy) ** 2 + (xx - cx) ** 2) < rng.uniform(10, 40) ** 2)[..., None] * amp
        return x
    if kind == "bright":
        return im * rng.uniform(1.4, 2.0)
    if kind == "near":
        return im / im.max() * 0.995
    page = np.full((h, w, 3), 255, np.uint8)
    for j in range(6):
        words = "".join(chr(97 + int(c)) for c in rng.integers(0, 26, 12))
        cv2.putText(page, words, (8, 30 + 40 * j), cv2.FONT_HERSHEY_SIMPLEX, rng.uniform(0.6, 1.1), (25, 25, 25), 2,
                    cv2.LINE_AA)
    return page / 255.0


def cases(data: Path, n: int, step: int, only=SCENES):
    import cv2
    from scipy.ndimage import convolve

    from restore.tasks.deblur import parse_kernel

    files = sorted(p for p in data.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[::step][:n]
    for i, f in enumerate(files):
        rng = np.random.default_rng(100 + i)
        im = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB).astype(np.float64) / 255
        H, W = im.shape[:2]
        if H < 256 or W < 320:
            continue
        im = im[(H - 256) // 2:(H - 256) // 2 + 256, (W - 320) // 2:(W - 320) // 2 + 320]
        kind = ("shake", "motion", "disc", "gauss")[i % 4]
        if kind == "shake":
            k = shake(21, 70, i)
        elif kind == "motion":
            k = parse_kernel(f"motion:{rng.integers(9, 21)},{rng.integers(0, 180)}")
        elif kind == "disc":
            k = parse_kernel(f"disc:{rng.uniform(2.5, 5):.1f}")
        else:
            k = parse_kernel("gaussian:2")
        for s in SCENES:
            x = scene(s, im, rng)  # (every scene made: each draws from the photo's generator in turn)
            noise = rng.normal(0, 2 / 255, x.shape)
            if s not in only:
                continue
            b = np.stack([convolve(x[..., c], k, mode="reflect") for c in range(3)], -1)
            y = np.clip(np.round((b + noise) * 255), 0, 255) / 255
            truth = np.clip(np.round(x * 255), 0, 255) / 255
            yield f"{f.stem}-{kind}", s, truth, y, k


def main() -> None:
    import torch

    from restore.api import get_prior, run
    from restore.metrics import psnr
    from restore.tasks import deblur as D

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--step", type=int, default=12)
    ap.add_argument("--variants", default="off;on")
    ap.add_argument("--scenes", default=",".join(SCENES), help="which scenes, comma-separated")
    a = ap.parse_args()
    variants = a.variants.split(";")
    shipped = {name: getattr(D, name) for name in dir(D) if name.startswith("BEYOND_")}
    found = D.beyond_white
    prior = get_prior(None, torch.device("cpu"))
    scores: dict = {}
    t0 = time.perf_counter()
    print(f"deblurring clipped light: {a.n} photos of {a.data} (every {a.step}th), scenes {', '.join(SCENES)}\n")
    only = tuple(a.scenes.split(","))
    for name, s, truth, y, k in cases(a.data, a.n, a.step, only):
        t = torch.from_numpy(y).permute(2, 0, 1)[None].float()
        tx = torch.from_numpy(truth).permute(2, 0, 1)[None].float()
        row = [f"{name} {s}: input {psnr(t, tx):.2f}"]
        for v in variants:
            for key, value in shipped.items():
                setattr(D, key, value)
            D.beyond_white = (lambda *_: None) if v == "off" else found
            for kv in [] if v in ("off", "on") else v.split(":"):
                key, value = kv.split("=")
                setattr(D, key, type(shipped[key])(float(value)))
            out = run(t, "deblur", kernel=k, prior=prior).image
            p = psnr(out.clamp(0, 1), tx)
            scores.setdefault((v, s), []).append(p)
            row.append(f"{v} {p:.2f}")
        print(" | ".join(row), flush=True)
    D.beyond_white = found
    print(f"\nmean PSNR (dB), {time.perf_counter() - t0:.0f} s\n")
    print("| variant | " + " | ".join(only) + " |")
    print("|---|" + "---|" * len(only))
    for v in variants:
        print(f"| {v} | " + " | ".join(f"{np.mean(scores[(v, s)]):.2f}" for s in only) + " |")


if __name__ == "__main__":
    main()
