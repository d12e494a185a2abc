"""Big holes: the posterior mean (a smear) against posterior samples (texture), issue 14.

For each method, on centred box holes (1/4 of the area): the PSNR inside the hole and the
texture ratio, mean gradient magnitude inside the hole of the output over that of the
ground truth (a smear scores near 0, a plausible fill near 1). OpenCV's Telea runs beside.
Methods are ``sampler[@key=value,...]`` as for ``restore eval``:

    python benchmarks/inpaint_fill.py .data/pack/val --limit 4 dpir ddnm ddnm@sigma_max=0.5 repaint
    python benchmarks/inpaint_fill.py ../shared/data/test/CBSD68 --limit 4 dpir ddnm
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restore.api import get_prior, run  # noqa: E402
from restore.evaluate import load_dataset, make_case, parse_method  # noqa: E402
from restore.metrics import gradient_ratio  # noqa: E402
from restore.tasks import get_task  # noqa: E402
from restore.tasks.base import psnr_where  # noqa: E402


def hole_scores(out: torch.Tensor, case) -> tuple[float, float]:
    """Hole PSNR and gradient ratio (gradients wholly inside the hole), as restore eval scores them."""
    hole, o = ~case.known[0], out.clamp(0, 1)
    return psnr_where(o, case.gt, hole), gradient_ratio(o, case.gt, hole)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("methods", nargs="+")
    ap.add_argument("--limit", type=int, default=4)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    prior = get_prior(None, torch.device("cpu"))
    data = load_dataset(a.data, a.limit)
    cases = [make_case("inpaint", n, img, i, mask="box") for i, (n, img) in enumerate(data)]
    telea = get_task("inpaint").baselines["opencv-telea"]
    print(f"box holes (1/4 area), {len(cases)} images of {a.data}; restore-small, this CPU\n")
    print("| method | steps | hole PSNR | gradient ratio | s/image |\n|---|---|---|---|---|")
    rows = [("opencv-telea", None, [hole_scores(telea(c), c) for c in cases], 0.0)]
    print(f"| opencv-telea | - | {np.mean([r[0] for r in rows[0][2]]):.2f} | "
          f"{np.mean([r[1] for r in rows[0][2]]):.2f} | - |", flush=True)
    for m in a.methods:
        name, hyper = parse_method(m)
        t0, sc, used = time.perf_counter(), [], None
        for c in cases:
            res = run(c.y, "inpaint", sampler=name, steps=a.steps, seed=a.seed, prior=prior, **c.run, **hyper)
            sc.append(hole_scores(res.image, c))
            used = res.steps
        secs = (time.perf_counter() - t0) / len(cases)
        print(f"| {m} | {used} | {np.mean([s[0] for s in sc]):.2f} | {np.mean([s[1] for s in sc]):.2f} | "
              f"{secs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
