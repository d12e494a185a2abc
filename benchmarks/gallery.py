"""The README gallery, from the shipped examples: per task, input | classical tool | restore
(| the original), a crop enlarged x2 so detail shows, PSNR against the original on each
panel; for a big hole, Telea | the default (--fill auto: scene for a hole this wide) | the
posterior mean (--fill mean) | a sample (--fill sample).

    python benchmarks/gallery.py -o examples/gallery

Deterministic (seeded); restore-small on the CPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import restore  # noqa: E402
from restore.io import read_image, to_tensor, write_image  # noqa: E402
from restore.metrics import psnr  # noqa: E402
from restore.tasks import get_task  # noqa: E402
from restore.tasks.base import Case  # noqa: E402

CROP = (slice(64, 192), slice(64, 192))  # 128x128 of the 256x256 examples


def panel(img: np.ndarray, label: str, ref: np.ndarray | None) -> np.ndarray:
    import cv2

    a = img if img.ndim == 3 else np.repeat(img[..., None], 3, 2)
    text = label if ref is None else f"{label} {psnr(img, ref):.2f} dB"
    big = cv2.resize(np.ascontiguousarray(a[CROP]), (256, 256), interpolation=cv2.INTER_NEAREST)
    cv2.rectangle(big, (0, 0), (256, 18), (0, 0, 0), -1)
    cv2.putText(big, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return big


def row(panels: list[np.ndarray]) -> np.ndarray:
    gap = np.full((256, 4, 3), 255, np.uint8)
    out = [panels[0]]
    for p in panels[1:]:
        out += [gap, p]
    return np.concatenate(out, axis=1)


def to8(t) -> np.ndarray:
    return (t.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default=str(ROOT / "examples" / "gallery"))
    a = ap.parse_args()
    out = Path(a.output)
    out.mkdir(parents=True, exist_ok=True)
    ex = ROOT / "examples"
    gt = read_image(ex / "photo.png").color
    noisy = read_image(ex / "noisy.png").color
    mask = read_image(ex / "mask.png").color
    small = read_image(ex / "small.png").color
    hole = mask >= 128 if mask.ndim == 2 else (mask >= 128).any(axis=2)
    inp = get_task("inpaint")
    rows = {}

    def shown_holes(h):
        x = gt.copy()
        x[h] = 255
        return x

    case = Case("photo", to_tensor(gt), to_tensor(gt) * to_tensor((~hole[..., None]).astype(np.float32)), "inpaint",
                known=__import__("torch").from_numpy(~hole)[None])
    rows["inpaint"] = [panel(shown_holes(hole), "input", None),
                       panel(to8(inp.baselines["opencv-telea"](case)), "OpenCV Telea", gt),
                       panel(restore.inpaint(gt, hole, seed=0), "restore", gt), panel(gt, "original", None)]
    dn = get_task("denoise")
    case = Case("photo", to_tensor(gt), to_tensor(noisy), "denoise", {"sigma": 25.0}, y_uint8=noisy)
    rows["denoise"] = [panel(noisy, "noisy (25)", gt), panel(to8(dn.baselines["opencv-nlm@h=15"](case)), "OpenCV NLM (h 15)", gt),
                       panel(restore.denoise(noisy, sigma=25 / 255), "restore", gt), panel(gt, "original", None)]
    up = np.asarray(__import__("PIL.Image", fromlist=["Image"]).fromarray(small).resize((256, 256), 3))
    rows["sr"] = [panel(up, "bicubic x4", gt), panel(restore.super_resolve(small, scale=4), "restore x4", gt),
                  panel(gt, "original", None)]
    db = get_task("deblur")
    c = db.degrade("photo", gt, 0, kernel="gaussian:1.6,25", sigma=2.55, blur="reflect")
    blurred = to8(c.y)
    rows["deblur"] = [panel(blurred, "blurred", gt), panel(to8(db.baselines["skimage-wiener"](c)), "scikit Wiener", gt),
                      panel(restore.deblur(blurred, "gaussian:1.6,25", sigma=2.55 / 255), "restore", gt),
                      panel(gt, "original", None)]
    box = np.zeros(gt.shape[:2], bool)
    box[96:160, 96:160] = True
    case = Case("photo", to_tensor(gt), to_tensor(gt) * to_tensor((~box[..., None]).astype(np.float32)), "inpaint",
                known=__import__("torch").from_numpy(~box)[None])
    rows["big_hole"] = [panel(shown_holes(box), "input", None),
                        panel(to8(inp.baselines["opencv-telea"](case)), "Telea", gt),
                        panel(restore.inpaint(gt, box), "restore (default: scene)", gt),
                        panel(restore.inpaint(gt, box, fill="mean"), "fill mean", gt),
                        panel(restore.inpaint(gt, box, fill="sample", seed=0), "fill sample", gt),
                        panel(gt, "original", None)]
    for name, ps in rows.items():
        write_image(out / f"{name}.jpg", row(ps), overwrite=True)  # JPEG q95: small in the repo
        print(out / f"{name}.jpg")


if __name__ == "__main__":
    main()
