"""What rounding to 8 bits costs a method's scores in ``restore eval``.

``restore eval`` scores each output as an 8-bit file holds it (``restore.evaluate.as_written``),
as the published tables scored their methods' uint8 outputs. This script scores the same
outputs unrounded too and prints the mean (and the largest) change per setting: the tables
in the README measured before that change scored unrounded outputs.

    OMP_NUM_THREADS=2 python benchmarks/eval_rounding.py > benchmarks/results/eval_rounding.md
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from restore.evaluate import evaluate, load_dataset, load_pairs
from restore.tasks import get_task

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data beside the repository
DATA = str(SHARED / "test")
REAL = str(SHARED / "real-noise")
CASES = [("denoise", "CBSD68", 12, {"sigma": 15}), ("denoise", "CBSD68", 12, {"sigma": 50}),
         ("sr", "Set5", 5, {"scale": 2}), ("sr", "Set14", 14, {"scale": 4}),
         ("inpaint", "CBSD68", 8, {"mask": "random80"}), ("inpaint", "CBSD68", 8, {"mask": "box"}),
         ("deblur", "CBSD68", 8, {}), ("denoise", "PolyU100", 25, {"pairs": True})]


def main() -> None:
    from _usage import usage

    usage(__doc__)
    print("# Scores of the rounded outputs against the unrounded ones\n")
    print("`OMP_NUM_THREADS=2 python benchmarks/eval_rounding.py`: each task's default method, the shipped prior, "
          "the first N images of each set; the change in the mean over the images (and the largest drop).\n")
    print("| task | set (images) | setting | PSNR: rounded - unrounded (largest drop) | SSIM: rounded - unrounded |")
    print("|---|---|---|---|---|")
    for task, ds, n, kw in CASES:
        tk = get_task(task)
        if kw.pop("pairs", False):  # real noisy / clean pairs (the README's real-noise rows: every 4th)
            data, ds_dir = load_pairs(f"{REAL}/{ds}", every=4), "real pairs, every 4th"
        else:
            data, ds_dir = load_dataset(f"{DATA}/{ds}", n), None
        rows = evaluate(task, data, methods=["default"], keep_outputs=True, **kw)
        dp, ds_ = [], []
        for r in rows:
            raw = tk.score(r["_case"], r["_out"])  # the task's score of the float output
            dp.append(r["psnr"] - raw["psnr"])
            ds_.append(r["ssim"] - raw["ssim"])
        setting = ds_dir or ", ".join(f"{k} {v}" for k, v in kw.items()) or "default kernel"
        print(f"| {task} | {ds} ({n}) | {setting} | {np.mean(dp):+.4f} ({min(dp):+.4f}) | {np.mean(ds_):+.5f} |",
              flush=True)


if __name__ == "__main__":
    main()
