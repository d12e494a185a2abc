"""Deblurring when the kernel is a little wrong (issue 23.7): the images are blurred with
``--true`` and restored with kernels off by one pixel of length (``--wrong``), by the
DPIR recipe with no model error, by the same with a model error (``--floors``, the task's
``model_error``: the noise level the data term is told is ``sqrt(sigma^2 + floor^2)``,
which also raises DPIR's last level) and by scikit-image's self-tuning Wiener filter given
the same wrong kernel.

    python benchmarks/kernel_error.py .data/pack/val --limit 6 --floors 0,2.55,5,7.5,10
    python benchmarks/kernel_error.py ../shared/data/test/Set14 --floors 0,5 --wiener

Blur: mirrored edges (a photo; solved with edges=taper), noise ``--sigma``/255 seeded per
image, the true noise level given to every method. The table is the mean RGB PSNR.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restore.api import get_prior, run  # noqa: E402
from restore.evaluate import load_dataset, make_case, score  # noqa: E402
from restore.tasks.deblur import _wiener  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--true", default="motion:15,30")
    ap.add_argument("--wrong", default="motion:14,30;motion:16,30")
    ap.add_argument("--sigma", type=float, default=2.55, help="noise std, 0-255")
    ap.add_argument("--floors", default="0,5", help="uncertainty floors to try, 0-255")
    ap.add_argument("--wiener", action="store_true", help="also scikit-image's unsupervised Wiener (slow)")
    ap.add_argument("--weights", default=None)
    a = ap.parse_args()
    import torch

    prior = get_prior(a.weights, torch.device("cpu"))
    data = load_dataset(a.data, a.limit)
    kernels = [a.true, *[k for k in a.wrong.split(";") if k]]
    floors = [float(f) for f in a.floors.split(",")]
    cases = [make_case("deblur", n, img, i, kernel=a.true, sigma=a.sigma, blur="reflect")
             for i, (n, img) in enumerate(data)]
    print(f"deblurring {len(cases)} images of {a.data} blurred by {a.true} (mirrored edges), noise "
          f"{a.sigma}/255, restored with the kernel in the column; mean RGB PSNR (dB)\n")
    print("| method | " + " | ".join(("**" if k == a.true else "") + k + (" (true)**" if k == a.true else "")
                                      for k in kernels) + " | s/image |")
    print("|---|" + "---|" * (len(kernels) + 1))
    print("| blurred input | " + " | ".join(f"{np.mean([score(c, c.y)['psnr'] for c in cases]):.2f}"
                                           for _ in kernels) + " | |", flush=True)
    for f in floors:
        row, t0 = [], time.perf_counter()
        for k in kernels:
            row.append(np.mean([score(c, run(c.y, "deblur", prior=prior, kernel=k, sigma=a.sigma / 255, edges="taper",
                                             model_error=f / 255).image)["psnr"] for c in cases]))
        secs = (time.perf_counter() - t0) / (len(cases) * len(kernels))
        name = "dpir, no model error" if f == 0 else f"dpir, model error {f:g}"
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in row) + f" | {secs:.1f} |", flush=True)
    if a.wiener:
        row, t0 = [], time.perf_counter()
        for k in kernels:
            row.append(np.mean([score(c, _wiener(dataclasses.replace(c, params={**c.params, "kernel": k})))["psnr"]
                                for c in cases]))
        secs = (time.perf_counter() - t0) / (len(cases) * len(kernels))
        print("| skimage unsupervised Wiener | " + " | ".join(f"{v:.2f}" for v in row) + f" | {secs:.1f} |")


if __name__ == "__main__":
    main()
