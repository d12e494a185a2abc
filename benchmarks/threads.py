"""How many torch threads on a shared CPU (``--threads``, issue 23.2): one 512x512 denoise
and one 512x512 inpaint, each timed with 1, 2, ... threads, alternating the thread counts
over ``--repeats`` rounds so that the other users' load falls on every setting alike.

    python benchmarks/threads.py --threads 1,2 --repeats 3

Prints a table of the median and the spread of the seconds per image, the machine's core
count and its load average before and after (the machine is shared: read the figures with
it). The restoration itself is the CLI's default for each task (restore-small).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restore.api import get_prior, run  # noqa: E402
from restore.io import read_image, to_tensor  # noqa: E402

_TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "test" / "Set14"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=str(_TEST / "barbara.png"), help="cropped to its top-left 512x512")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--weights", default=None)
    a = ap.parse_args()
    import torch

    prior = get_prior(a.weights, torch.device("cpu"))
    x = to_tensor(read_image(a.image).color[:512, :512])
    g = torch.Generator().manual_seed(0)
    noisy = (x + 25 / 255 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    mask = np.zeros((512, 512), bool)
    mask[200:280, 180:330] = True  # an object-sized hole, 80x150
    jobs = {
        "denoise 512x512 (sigma 25, default recipe)": lambda: run(noisy, "denoise", prior=prior, sigma=25 / 255),
        "inpaint 512x512 (80x150 hole, default recipe)": lambda: run(x, "inpaint", prior=prior, mask=mask),
    }
    counts = [int(t) for t in a.threads.split(",")]
    load0 = os.getloadavg()
    times = {(j, n): [] for j in jobs for n in counts}
    for j, f in jobs.items():
        torch.set_num_threads(counts[0])
        f()  # warm-up (first-call allocations, kernels)
        for _ in range(a.repeats):
            for n in counts:
                torch.set_num_threads(n)
                t0 = time.perf_counter()
                f()
                times[(j, n)].append(time.perf_counter() - t0)
    load1 = os.getloadavg()
    print(f"{os.cpu_count()} cores; load average (1, 5, 15 min) before {load0[0]:.1f} {load0[1]:.1f} {load0[2]:.1f}, "
          f"after {load1[0]:.1f} {load1[1]:.1f} {load1[2]:.1f}; torch {torch.__version__}; {a.repeats} rounds\n")
    print("| job | " + " | ".join(f"{n} thread{'s' if n > 1 else ''}: median s (min-max)" for n in counts) + " |")
    print("|---|" + "---|" * len(counts))
    for j in jobs:
        cells = [f"{statistics.median(times[(j, n)]):.2f} ({min(times[(j, n)]):.2f}-{max(times[(j, n)]):.2f})"
                 for n in counts]
        print(f"| {j} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
