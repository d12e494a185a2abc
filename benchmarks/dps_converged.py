"""DPS's runs thrown off their measurement (2026-12-06): 64x64 crops (a flat bright one of
Set14 foreman, like the trial's; baby, zebra, butterfly) denoised at noise 0 / 5 / 25 and
super-resolved x2, at 20 and 50 evaluations; PSNR and the result's distance from its
measurement (RMS, 0-255), the refusal (``restore.api._check_converged``) switched off to see
what it refuses.

    OMP_NUM_THREADS=2 python benchmarks/dps_converged.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared/data/test"
CROPS = (("Set14/foreman.png", 208, 16), ("Set5/baby.png", 200, 200), ("Set14/zebra.png", 100, 100),
         ("Set5/butterfly.png", 100, 100))


def main() -> None:
    from _usage import usage

    usage(__doc__)
    import restore.api as api
    from restore.io import read_image, to_tensor
    from restore.metrics import psnr
    from restore.tasks.superres import SuperResolve

    torch.set_num_threads(2)
    api._check_converged = lambda *a, **k: None  # measure what the check would refuse
    g = torch.Generator().manual_seed(3)
    print("| crop | task | 20 steps: PSNR / distance | 50 steps: PSNR / distance |\n|---|---|---|---|")
    for name, y0, x0 in CROPS:
        img = read_image(DATA / name).color
        x = to_tensor(np.ascontiguousarray(img[y0 : y0 + 64, x0 : x0 + 64]))
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        cells = []
        for s in (0, 5, 25):
            y = (x + s / 255 * torch.randn(x.shape, generator=g)).clamp(0, 1)
            cells.append([api.run(y, "denoise", sigma=s / 255, sampler="dps", steps=n).image for n in (20, 50)]
                         + [y])
        op = SuperResolve((3, 64, 64), 2)
        lr = op.A(x)
        sr = [api.run(lr, "sr", scale=2, sampler="dps", steps=n).image for n in (20, 50)]

        def fmt(out, meas, A=lambda v: v):
            d = float(((A(out) - meas) ** 2).mean().sqrt()) * 255
            return f"{float(psnr(out, x)):.1f} / {d:.0f}"

        print(f"| {name} | denoise 0 / 5 / 25 | " + ", ".join(fmt(c[0], c[2]) for c in cells) + " | "
              + ", ".join(fmt(c[1], c[2]) for c in cells) + " |")
        print(f"| {name} | sr x2 | {fmt(sr[0], lr, op.A)} | {fmt(sr[1], lr, op.A)} |")


if __name__ == "__main__":
    main()
