"""A noise level per region (camera noise is stronger in some parts of a photo than in others):
how much could telling the prior another level in each region gain over the one level the
default denoise reads? An oracle bound, per set: the default denoise, the prior at f x its
level for f in 0.5 / 0.71 / 1 / 1.41 / 2 (sigma given), the best f per image and the best f
per square block (against the truth; a hard switch, seams not counted).

    OMP_NUM_THREADS=1 python benchmarks/noise_regions.py collect OUT_DIR SET [EVERY]
    python benchmarks/noise_regions.py score OUT_DIR SET [BLOCK]

SETs are ``benchmarks/noise_pooled.py``'s noisy ones with a truth (``camblur_val``: the
synthetic camera on 32 validation photos; ``polyu_dev``: PolyU100's 75 development pairs);
``EVERY``: every Nth image; ``BLOCK``: the block side in px (32). ``collect`` keeps each image's
outputs (float16, ``OUT_DIR/SET_NAME.npz``) and skips those already there.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _usage import usage  # noqa: E402

FACTORS = (0.5, 0.71, 1.0, 1.41, 2.0)


def collect(out: Path, which: str, every: int) -> None:
    import noise_pooled as npl

    from restore.api import run

    warnings.simplefilter("ignore")  # the same notes for every image
    out.mkdir(parents=True, exist_ok=True)
    for i, (name, y, x, half) in enumerate(npl.images(which)):
        f = out / f"{which}_{name}.npz"
        if i % every or f.exists():
            continue
        res = run(y, "denoise", jpeg_half=half)
        level = float(res.sigma_y)
        outs = [run(y, "denoise", sigma=min(1.0, max(k * level, 0.5 / 255))).image[0].numpy() for k in FACTORS]
        np.savez_compressed(f, x=x[0].numpy().astype(np.float16), y=y[0].numpy().astype(np.float16),
                            d=res.image[0].numpy().astype(np.float16), outs=np.stack(outs).astype(np.float16),
                            level=level)
        print(which, name, f"level {level * 255:.2f}", flush=True)


def score(out: Path, which: str, block: int) -> None:
    rows = []
    for f in sorted(out.glob(f"{which}_*.npz")):
        z = np.load(f)
        x = z["x"].astype(np.float64)
        C, H, W = x.shape
        hb, wb = H // block * block, W // block * block

        def sse(a):  # per block
            e = ((a.astype(np.float64)[:, :hb, :wb] - x[:, :hb, :wb]) ** 2).sum(0)
            return e.reshape(hb // block, block, wb // block, block).sum((1, 3))

        per = np.stack([sse(o) for o in z["outs"]])
        n = C * hb * wb
        db = [10 * np.log10(n / s.sum()) for s in per]
        rows.append([10 * np.log10(n / sse(z["y"]).sum()), 10 * np.log10(n / sse(z["d"]).sum()), *db, max(db),
                     10 * np.log10(n / per.min(0).sum())])
    a = np.array(rows)
    head = ["noisy", "default", *(f"f {k:g}" for k in FACTORS), "best f per image", f"best f per {block}-px block"]
    print(f"{which}: {len(a)} images, mean PSNR (dB) over the image's whole blocks")
    for h, v in zip(head, a.mean(0)):
        print(f"  {h:<26} {v:.2f}")


def main() -> None:
    usage(__doc__, 3)
    what, out, which = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    extra = int(sys.argv[4]) if len(sys.argv) > 4 else None
    if what == "collect":
        torch.set_num_threads(1)
        collect(out, which, extra or 1)
    elif what == "score":
        score(out, which, extra or 32)
    else:
        sys.exit(f"error: unknown command {what!r} (collect or score)")


if __name__ == "__main__":
    main()
