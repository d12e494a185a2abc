"""Where `--fill auto` switches from the posterior mean to the scene fill (issue 24): strokes of
one width at a time on validation photos, hole PSNR and SWD of `--fill mean`, `--fill scene`,
OpenCV Telea and PatchMatch (pypatchmatch, 7x7 patches).

Each photo gets 6 polylines of 2-4 segments (30-120 px each, seeded by the photo and the width),
drawn WIDTH pixels wide; the table gives the mean inscribed radius and hole fraction per width.

    OMP_NUM_THREADS=2 python benchmarks/inpaint_stroke_width.py ../shared/data/train/bsds 16 24 4,8,12,16,24
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from restore.api import get_prior, run  # noqa: E402
from restore.evaluate import load_dataset  # noqa: E402
from restore.metrics import swd  # noqa: E402
from restore.tasks.base import psnr_where  # noqa: E402
from restore.tasks.inpaint import inscribed_radius  # noqa: E402


def strokes(H: int, W: int, width: int, rng: np.random.Generator) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    for _ in range(6):
        x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
        for _ in range(int(rng.integers(2, 5))):
            a, ln = rng.uniform(0, 2 * math.pi), rng.uniform(30, 120)
            x2, y2 = int(np.clip(x + ln * math.cos(a), 0, W - 1)), int(np.clip(y + ln * math.sin(a), 0, H - 1))
            cv2.line(m, (x, y), (x2, y2), 1, width)
            x, y = x2, y2
    return m.astype(bool)


def main() -> None:
    from _usage import usage

    usage(__doc__, 4)
    from patchmatch import patch_match as pm

    torch.set_num_threads(2)
    prior = get_prior(None, torch.device("cpu"))
    data = load_dataset(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    widths = [int(w) for w in sys.argv[4].split(",")]
    res: dict = {}
    for i, (name, img) in enumerate(data):
        H, W = img.shape[:2]
        gt = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)[None]
        for w in widths:
            hole = strokes(H, W, w, np.random.default_rng(1000 * i + w))
            known = torch.from_numpy(~hole)[None]
            outs = {f: run(gt * known, "inpaint", prior=prior, known=known, fill=f).image for f in ("mean", "scene")}
            h8 = hole.astype(np.uint8)
            outs["telea"] = cv2.inpaint(np.ascontiguousarray(img), h8, 3, cv2.INPAINT_TELEA)
            pm.set_random_seed(0)
            outs["pm"] = pm.inpaint(np.ascontiguousarray(img), h8 * 255, patch_size=3)
            ht = torch.from_numpy(hole)
            for k, o in outs.items():
                if isinstance(o, np.ndarray):
                    o = torch.from_numpy(o.astype(np.float32) / 255).permute(2, 0, 1)[None]
                o = o.clamp(0, 1)
                res.setdefault((w, k), []).append((psnr_where(o, gt, ht), swd(o, gt, ht)))
            res.setdefault((w, "geometry"), []).append((inscribed_radius(hole), hole.mean()))
        print(name, flush=True)
    print(f"\n{len(data)} photos of {sys.argv[1]}; hole PSNR / SWD")
    print("| width | radius | hole % | --fill mean | --fill scene | Telea | PatchMatch | scene - mean PSNR (sd) |")
    print("|---|---|---|---|---|---|---|---|")
    for w in widths:
        r = np.array(res[(w, "geometry")])
        g = {k: np.array(res[(w, k)]) for k in ("mean", "scene", "telea", "pm")}
        d = g["scene"][:, 0] - g["mean"][:, 0]
        cells = " | ".join(f"{g[k][:, 0].mean():.2f} / {g[k][:, 1].mean():.0f}" for k in g)
        print(f"| {w} | {r[:, 0].mean():.1f} | {100 * r[:, 1].mean():.1f} | {cells} | {d.mean():+.2f} ({d.std():.2f}) |")


if __name__ == "__main__":
    main()
