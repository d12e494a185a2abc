"""Super-resolving drawn images (text, line art, charts, slides): which kernel, and how to tell
them from photos.

A drawn image is rendered at its own resolution, each pixel the area it covers of the ideal
shapes (antialiasing): the box kernel's model, where bicubic, the benchmarks' convention for
photos, makes the sampler draw ringing halos beside every stroke. ``restore.tasks.superres``
takes an image whose few most frequent colours cover most of it for a drawn one.

    python benchmarks/sr_drawn.py shares [--limit N]    # the share on photos and on drawings
    python benchmarks/sr_drawn.py psnr [--n 12]          # PSNR-Y of x2 / x4 with either kernel

``shares``: the training photos (BSDS, Sun-Hays, ImageNet, PolyU means; each as it is and
bicubic-shrunk by 4, as a low-resolution input) against synthetic drawings (seeded: text in
the system's fonts, shapes, charts, at 4x then shrunk by area). ``psnr``: drawings made at the
output's size, shrunk by area (the box model) by 2 and 4, super-resolved with each kernel,
PSNR-Y against the drawing (the scale shaved from each border).
"""

from __future__ import annotations

import argparse
import glob
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FONTS = sorted(glob.glob("/usr/share/fonts/truetype/**/*.ttf", recursive=True))


def drawing(seed: int, w: int = 384, h: int = 288) -> np.ndarray:
    """A seeded synthetic drawing (uint8 RGB, ``h x w``), drawn at 4x and shrunk by area."""
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    S = 4
    bg = tuple(int(v) for v in (rng.choice([255, 250, 240, 30]),) * 3) if rng.random() < 0.8 else tuple(
        int(v) for v in rng.integers(0, 256, 3))
    im = Image.new("RGB", (w * S, h * S), bg)
    d = ImageDraw.Draw(im)
    palette = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(4)] + [(0, 0, 0), (255, 255, 255)]
    kind = seed % 3
    for _ in range(int(rng.integers(3, 9))):
        c = palette[int(rng.integers(len(palette)))]
        if kind == 0 or rng.random() < 0.4:  # text
            size = int(rng.integers(9, 40)) * S
            font = ImageFont.truetype(FONTS[int(rng.integers(len(FONTS)))], size) if FONTS else \
                ImageFont.load_default(size=size)
            words = " ".join("".join(chr(97 + int(k)) for k in rng.integers(0, 26, int(rng.integers(2, 8))))
                             for _ in range(int(rng.integers(1, 4))))
            d.text((int(rng.integers(0, w * S // 2)), int(rng.integers(0, h * S - size))), words, fill=c, font=font)
        elif kind == 1:  # shapes and lines
            x0, y0 = int(rng.integers(0, w * S)), int(rng.integers(0, h * S))
            x1, y1 = int(rng.integers(0, w * S)), int(rng.integers(0, h * S))
            box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            r = rng.random()
            if r < 0.3:
                d.line((x0, y0, x1, y1), fill=c, width=int(rng.integers(1, 6)) * S)
            elif r < 0.6:
                d.rectangle(box, outline=c, width=int(rng.integers(1, 4)) * S)
            elif r < 0.8:
                d.ellipse(box, fill=c)
            else:
                d.ellipse(box, outline=c, width=int(rng.integers(1, 4)) * S)
        else:  # a bar chart with axes
            n = int(rng.integers(3, 9))
            base = h * S - 20 * S
            d.line((10 * S, 10 * S, 10 * S, base), fill=(0, 0, 0), width=S)
            d.line((10 * S, base, w * S - 10 * S, base), fill=(0, 0, 0), width=S)
            bw = (w * S - 40 * S) // n
            for k in range(n):
                top = int(rng.integers(20 * S, base - 10 * S))
                d.rectangle((20 * S + k * bw, top, 20 * S + k * bw + bw * 2 // 3, base), fill=c)
            break
    return np.asarray(im.resize((w, h), Image.BOX))


def photos(limit: int | None) -> list[Path]:
    out = []
    for sub in ("bsds", "sunhays80", "imagenet1k", "polyu40"):
        files = sorted(p for p in (DATA / "train" / sub).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        out += files[:limit] if limit else files
    return out


def shares(limit: int | None) -> None:
    from PIL import Image

    from restore.tasks.superres import drawn_share

    got = {k: [] for k in ("photo", "photo, shrunk 4x", "photo, grey", "photo, grey, shrunk 4x", "drawing",
                           "drawing, shrunk 2x", "drawing, grey", "drawing, grey, shrunk 2x")}

    def small(a, s, how):
        return np.asarray(Image.fromarray(a).resize((max(1, a.shape[1] // s), max(1, a.shape[0] // s)), how))

    for p in photos(limit):
        im = Image.open(p)
        if im.width * im.height > 4e6:  # (the PolyU means: 18 MP; a third of the side, as a camera's preview)
            im = im.resize((im.width // 3, im.height // 3), Image.BOX)
        for name, a in (("photo", np.asarray(im.convert("RGB"))), ("photo, grey", np.asarray(im.convert("L")))):
            got[name].append((drawn_share(a), p.name))
            got[f"{name}, shrunk 4x"].append((drawn_share(small(a, 4, Image.BICUBIC)), p.name))
    for seed in range(60):
        for name, a in (("drawing", drawing(seed)), ("drawing, grey", np.asarray(Image.fromarray(
                drawing(seed)).convert("L")))):
            got[name].append((drawn_share(a), f"seed {seed}"))
            got[f"{name}, shrunk 2x"].append((drawn_share(small(a, 2, Image.BOX)), f"seed {seed}"))
    print("| images | n | min | 1 % | median | 99 % | max (which) |")
    print("|---|---|---|---|---|---|---|")
    for k, v in got.items():
        s = np.array([x for x, _ in v])
        lo, hi = min(v), max(v)
        print(f"| {k} | {len(v)} | {lo[0]:.3f} ({lo[1]}) | {np.percentile(s, 1):.3f} | {np.median(s):.3f} | "
              f"{np.percentile(s, 99):.3f} | {hi[0]:.3f} ({hi[1]}) |")


def psnr(n: int) -> None:
    import torch
    from PIL import Image

    import restore
    from restore.io import to_tensor
    from restore.metrics import psnr as score
    from restore.metrics import rgb_to_y, shave
    from restore.tasks.base import colours
    from restore.tasks.superres import PIXEL_ART_COLOURS

    torch.set_num_threads(2)
    print("| scale | kernel | PSNR-Y mean | min | seconds |")
    print("|---|---|---|---|---|")
    for s in (2, 4):
        rows = {k: [] for k in ("bicubic", "box", "pillow bicubic", "pillow nearest")}
        secs = {k: 0.0 for k in rows}
        few = []  # the drawings of few colours (no antialiasing: pixel art's test)
        for seed in range(100, 100 + n):
            hr = drawing(seed, 192, 144)
            lr = np.asarray(Image.fromarray(hr).resize((hr.shape[1] // s, hr.shape[0] // s), Image.BOX))
            t = to_tensor(hr)
            few.append(colours(lr) <= PIXEL_ART_COLOURS)
            for k in rows:
                t0 = time.perf_counter()
                if k.startswith("pillow"):
                    how = Image.BICUBIC if k == "pillow bicubic" else Image.NEAREST
                    out = np.asarray(Image.fromarray(lr).resize((hr.shape[1], hr.shape[0]), how))
                    o = to_tensor(out)
                else:
                    o = restore.run(to_tensor(lr), "sr", scale=s, kernel=k, jpeg_quality=0).image
                secs[k] += time.perf_counter() - t0
                o = (o * 255).round() / 255
                rows[k].append(float(score(shave(rgb_to_y(o), s), shave(rgb_to_y(t), s), data_range=1.0)))
        for k, v in rows.items():
            print(f"| x{s} | {k} | {np.mean(v):.2f} | {min(v):.2f} | {secs[k] / n:.2f} |")
        for k, v in rows.items():
            w = [x for x, f in zip(v, few) if f]
            if w:
                print(f"| x{s}, {len(w)} of few colours | {k} | {np.mean(w):.2f} | {min(w):.2f} | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("shares", "psnr"))
    ap.add_argument("--limit", type=int, default=None, help="photos per training folder (default: all)")
    ap.add_argument("--n", type=int, default=12, help="drawings per scale (psnr)")
    a = ap.parse_args()
    shares(a.limit) if a.what == "shares" else psnr(a.n)


if __name__ == "__main__":
    main()
