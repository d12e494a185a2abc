"""Images whose detail is no noise (``restore.noise.NOT_NOISE``): the share of an image's fine
detail in its strongest frequencies (``pattern_share``), the level the estimate reads and what
``not_noise`` calls it, on sets that must be read as they were (photos, clean and noisy) and on
the kinds the rule is for (halftone screens, hatching, 1-bit dithers, drawn here).

    OMP_NUM_THREADS=2 python benchmarks/not_noise.py [--data ../shared/data] [--drawn]

Sets: 32 BSDS validation photos (every 12th); 40 ImageNet training photos (every 18th), held out;
PolyU100's 100 noisy photos; CBSD68 and Set12 with white noise of 30, 50 and 75 (seeded);
every 3rd training photo (two-level check only); drawn halftones (periods 4-6, blurred by a scan's
0.5-0.8 px), hatching and 1-bit dithers of validation photos. Prints one row per set: images, the
largest share, the largest level read, and how many ``not_noise`` names.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from restore.io import read_image, to_tensor
from restore.noise import NOT_NOISE, estimate_noise, not_noise, pattern_share

ROOT = Path(__file__).resolve().parents[1]


def _grey(path: Path, n: int = 300) -> np.ndarray:
    a = read_image(path).array
    a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY) if a.ndim == 3 else a
    return a[:n, :n].astype(np.float64) / 255


def _screen(grey: np.ndarray, per: int, blur: float) -> np.ndarray:
    """``grey`` printed as a halftone screen of ``per`` px dots, blurred by ``blur`` px (a scan)."""
    H, W = grey.shape
    yy, xx = np.mgrid[0:H, 0:W]
    r = np.hypot((xx % per) - per // 2, (yy % per) - per // 2)
    cell = cv2.resize(cv2.resize(grey, (W // per, H // per), interpolation=cv2.INTER_AREA), (W, H),
                      interpolation=cv2.INTER_NEAREST)
    dots = np.where(r < np.sqrt(1 - cell) * per * 0.6, 0.0, 1.0)
    return cv2.GaussianBlur(dots, (0, 0), blur) if blur else dots


def _hatch(grey: np.ndarray, per: int = 6) -> np.ndarray:
    """``grey`` drawn as diagonal hatching: lines of ``per`` px whose width follows the darkness."""
    H, W = grey.shape
    yy, xx = np.mgrid[0:H, 0:W]
    return np.where(((xx + yy) % per) < (1 - grey) * per, 0.0, 1.0)


def _dither(grey: np.ndarray) -> np.ndarray:
    """Floyd-Steinberg's 1-bit dither (Pillow's)."""
    from PIL import Image

    return np.asarray(Image.fromarray((grey * 255).astype(np.uint8)).convert("1").convert("L")) / 255.0


def _row(name: str, images) -> None:
    shares, levels, named = [], [], {}
    for x in images:
        x = torch.as_tensor(x, dtype=torch.float32)
        x = x[None] if x.ndim == 2 else x
        level = estimate_noise(x).level
        kind = not_noise(x, level)
        shares.append(pattern_share(x))
        levels.append(level * 255)
        named[kind] = named.get(kind, 0) + 1
    over = sum(v > NOT_NOISE["least"] * 255 for v in levels)
    print(f"| {name} | {len(shares)} | {max(shares):.3f} | {max(levels):.1f} | {over} | "
          f"{', '.join(f'{k}: {v}' for k, v in sorted(named.items(), key=str) if k is not None) or '-'} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--drawn", action="store_true", help="only the drawn halftones, hatching and dithers")
    a = ap.parse_args()
    d = Path(a.data)
    val = sorted((d / "train" / "bsds").glob("*"))[::12][:32]
    held = sorted((d / "train" / "imagenet1k").glob("*"))[::18][:40]
    noisy = sorted((d / "real-noise" / "PolyU100" / "noisy").glob("*"))
    test = sorted((d / "test" / "CBSD68").glob("*.png")) + sorted((d / "test" / "Set12").glob("*.png"))

    def photos(files):
        for f in files:
            yield to_tensor(read_image(f).array)[0]

    def with_noise(files, sigma):
        g = torch.Generator().manual_seed(sigma)
        for x in photos(files):
            yield (x + sigma / 255 * torch.randn(x.shape, generator=g)).clamp(0, 1)

    print("| set | images | largest share | largest level read | read over 30 | named not noise |")
    print("|---|---|---|---|---|---|")
    if not a.drawn:
        _row("BSDS validation photos", photos(val))
        _row("ImageNet photos, held out", photos(held))
        _row("PolyU100 noisy photos", photos(noisy))
        for s in (30, 50, 75):
            _row(f"CBSD68 + Set12, white noise {s}", with_noise(test, s))
    greys = [_grey(f) for f in val[:8]]
    _row("halftones (periods 4-6, blurred 0.5-0.8 px)",
         (_screen(g, per, blur) for g in greys for per, blur in ((4, 0.5), (5, 0.6), (6, 0.8))))
    _row("hatching", (_hatch(g) for g in greys))
    _row("1-bit dithers", (_dither(g) for g in greys))
    _row("stripes under white noise of 30-60 (blinds, sines, a checkerboard, photos under 8-10 px stripes)",
         _noisy_stripes(greys))
    _row("1-bit text with 2-20 % salt-and-pepper speckle", _speckled_text())


def _noisy_stripes(greys):
    """Regular patterns under strong white noise (a trial of the rule: left noisy before the floor)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:256, 0:256]
    clean = [np.where(yy % 10 < 6, 200, 60) / 255, 0.5 + 0.3 * np.sin(2 * np.pi * xx / 6),
             np.where((xx // 8 + yy // 8) % 2, 0.8, 0.2)]
    clean += [g[:256, :256] * (0.45 + 0.55 * (xx % p < p // 2)) for g in greys for p in (8, 10)]
    for c in clean:
        for sigma in (30, 40, 50, 60):
            yield np.clip(c + rng.normal(0, sigma / 255, c.shape), 0, 1)


def _speckled_text():
    """Black text on a white page, 1-bit, with salt-and-pepper speckle (a scan's or a fax's)."""
    rng = np.random.default_rng(1)
    page = np.full((256, 256), 255, np.uint8)
    for i in range(10):
        cv2.putText(page, "restore the page %d" % i, (4, 22 + 24 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 1)
    page = np.where(page > 127, 1.0, 0.0)
    for p in (0.02, 0.05, 0.2):
        u = rng.random(page.shape)
        yield np.where(u < p / 2, 0.0, np.where(u < p, 1.0, page))


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
