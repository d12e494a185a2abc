"""Choose deblurring's sampler settings on validation crops (a scene split of the training
photos, ``benchmarks/make_training_pack.py``), never on the test sets.

    python benchmarks/deblur_defaults.py .data/pack/val --limit 8 \
        --grid "steps=8,20;lam=0.1,0.23,0.5;sigma_min=0,1;momentum=0,0.5"

Each image is blurred (Gaussian std 1.6, 25x25, circular, and one Levin kernel) with noise
2.55/255, as ``restore eval deblur`` does; the table is the mean RGB PSNR per setting.
``sigma_min=1`` means "stop at the measurement's noise level" (DPIR's schedule), 0 the
schedule's bottom.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restore.api import get_prior, run  # noqa: E402
from restore.evaluate import load_dataset, make_case, score  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--kernels", default="gaussian:1.6,25;levin:4")
    ap.add_argument("--sigma", type=float, default=2.55)
    ap.add_argument("--grid", default="steps=8,20;lam=0.1,0.23,0.5;sigma_min=0,1;momentum=0,0.5")
    ap.add_argument("--weights", default=None)
    a = ap.parse_args()
    prior = get_prior(a.weights, __import__("torch").device("cpu"))
    data = load_dataset(a.data, a.limit)
    axes = [(kv.split("=")[0], [float(v) for v in kv.split("=")[1].split(",")]) for kv in a.grid.split(";")]
    cases = [make_case("deblur", n, img, i, kernel=k, sigma=a.sigma)
             for k in a.kernels.split(";") for i, (n, img) in enumerate(data)]
    print(f"deblur settings on {len(data)} validation images x {len(a.kernels.split(';'))} kernels, "
          f"noise {a.sigma}/255 ({a.data})\n")
    print("| " + " | ".join(n for n, _ in axes) + " | PSNR | s/image |")
    print("|" + "---|" * (len(axes) + 2))
    for combo in itertools.product(*[v for _, v in axes]):
        kw = dict(zip([n for n, _ in axes], combo))
        steps = int(kw.pop("steps", 20))
        stop = kw.pop("sigma_min", 0)
        psnrs, t0 = [], time.perf_counter()
        for c in cases:
            extra = {"sigma_min": a.sigma / 255} if stop else {}
            out = run(c.y, "deblur", steps=steps, prior=prior, **c.run, **extra, **kw).image
            psnrs.append(score(c, out)["psnr"])
        secs = (time.perf_counter() - t0) / len(cases)
        print("| " + " | ".join(f"{v:g}" for v in combo) + f" | {np.mean(psnrs):.2f} | {secs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
