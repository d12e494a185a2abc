"""Object removal on validation photos (issue 24): photo with the mask's outline | OpenCV
Telea | PatchMatch (pypatchmatch) | restore inpaint with its defaults.

The photos are from the validation split of ../shared/data/train (never used in training or
in the reported test sets); the masks are drawn by hand over objects (ellipses in the photo's
pixels, below). Each panel is a crop around the mask, written as a small PNG to
docs/inpaint_removal/.

    python benchmarks/gallery_removal.py [--out docs/inpaint_removal]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore.api import get_prior, run  # noqa: E402
from restore.io import read_image, write_image  # noqa: E402

#: photo (validation split), ellipses (centre x, centre y, half-axes x, y, angle) over an object
PHOTOS = {
    "crocodile_head": ("bsds/130034.jpg", [(107, 182, 72, 34, -8)]),
    "albatross": ("bsds/103029.jpg", [(262, 150, 62, 80, -20)]),
    "penguin": ("imagenet1k/n02056570_king_penguin.JPEG",
                [(240, 205, 78, 132, 0), (172, 108, 44, 18, -15), (268, 308, 62, 22, 0)]),
    "flowers": ("bsds/207038.jpg", [(410, 228, 70, 34, 0)]),
    # a mug on a table, 5184x3456: the table's two edges run through the hole (--lines)
    "mug": ("polyu40/Canon600_water_mean.JPG", [(3080, 823, 460, 322, 0)]),
}


def mask_of(shape, ellipses, dilate: int = 0) -> np.ndarray:
    import cv2

    m = np.zeros(shape[:2], np.uint8)
    for cx, cy, ax, ay, ang in ellipses:
        cv2.ellipse(m, (cx, cy), (ax + dilate, ay + dilate), ang, 0, 360, 1, -1)
    return m.astype(bool)


def outline(img: np.ndarray, hole: np.ndarray) -> np.ndarray:
    import cv2

    out = img.copy()
    cs, _ = cv2.findContours(hole.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, cs, -1, (255, 40, 40), 2)
    return out


def main() -> None:
    import cv2

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "docs/inpaint_removal"))
    ap.add_argument("--only", nargs="*", default=None)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    prior = get_prior(None, torch.device("cpu"))
    from patchmatch import patch_match as pm

    for name, (src, ells) in PHOTOS.items():
        if a.only and name not in a.only:
            continue
        img = read_image(ROOT.parent / "shared/data/train" / src).array[..., :3]
        hole = mask_of(img.shape, ells)
        telea = cv2.inpaint(img, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)
        pm.set_random_seed(0)
        pmf = pm.inpaint(np.where(hole[..., None], 0, img).astype(np.uint8), hole.astype(np.uint8) * 255,
                         patch_size=3)
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255
        t0 = time.perf_counter()
        res = run(x, "inpaint", mask=hole, prior=prior)
        secs = time.perf_counter() - t0
        ours = (res.image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        ys, xs = np.nonzero(hole)
        H, W = hole.shape
        pad = 40
        y0, y1 = max(0, ys.min() - pad), min(H, ys.max() + pad + 1)
        x0, x1 = max(0, xs.min() - pad), min(W, xs.max() + pad + 1)
        panels = [outline(img, hole), telea, pmf, ours]
        strip = np.concatenate([np.pad(p[y0:y1, x0:x1], ((0, 0), (0, 4), (0, 0)), constant_values=255)
                                for p in panels], axis=1)[:, :-4]
        path = out / f"{name}.png"
        scale = 1.0
        write_image(path, strip, overwrite=True)
        while path.stat().st_size > 300_000:  # docs stay small: shown smaller (INTER_AREA)
            scale *= 0.85
            small = cv2.resize(strip, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            write_image(path, small, overwrite=True)
        print(f"{name}: {src}, hole {hole.mean() * 100:.1f} %, restore {secs:.1f} s "
              f"(fill {res.params.get('fill')}, regions {res.params.get('regions', '-')}), "
              f"{path.stat().st_size // 1024} KB at {scale:.2f}x -> {_shown(path)}", flush=True)


def _shown(path: Path) -> Path:
    """``path`` relative to the repository where it lies in it (``--out`` may be anywhere)."""
    try:
        return path.resolve().relative_to(ROOT)
    except ValueError:
        return path


if __name__ == "__main__":
    main()
