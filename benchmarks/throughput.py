"""Throughput (issue 16): images/s for denoise, 20-step inpaint and x4 SR at 256x256 and
512x512 (output size), one image per call against a (B, C, H, W) batch per call.

    python benchmarks/throughput.py --device cpu --batch 4 --images 8

Random RGB images (the cost does not depend on content), the shipped prior. Each
configuration runs once untimed (warm-up), then ``--images`` images are timed, one call per
image and ``--images / --batch`` calls of ``--batch`` images. Prints a Markdown table.
Not yet measured here: folder mode with batching, and the Ray engine (issue 16, to do).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restore.api import get_prior, resolve_device, run  # noqa: E402


def job(task: str, side: int, n: int, g: torch.Generator) -> tuple[torch.Tensor, dict]:
    if task == "sr":
        return torch.rand(n, 3, side // 4, side // 4, generator=g), {"scale": 4}
    x = torch.rand(n, 3, side, side, generator=g)
    if task == "inpaint":
        return x, {"known": torch.rand(1, side, side, generator=g) > 0.5}
    return x, {"sigma": 25 / 255}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--tasks", default="denoise,inpaint,sr")
    a = ap.parse_args()
    dev = resolve_device(a.device)
    prior = get_prior(None, dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    print(f"device {dev}; {torch.get_num_threads()} threads; restore-small; {a.images} images per row\n")
    print(f"| task | size | images/s, batch 1 | images/s, batch {a.batch} | speed-up |\n|---|---|---|---|---|")
    g = torch.Generator().manual_seed(0)
    for task in a.tasks.split(","):
        for side in (int(s) for s in a.sizes.split(",")):
            rates = []
            for b in (1, a.batch):
                x, kw = job(task, side, b, g)
                run(x, task, device=dev, prior=prior, **kw)  # warm-up
                sync()
                t0 = time.perf_counter()
                for _ in range(max(1, a.images // b)):
                    run(x, task, device=dev, prior=prior, **kw)
                sync()
                rates.append(max(1, a.images // b) * b / (time.perf_counter() - t0))
            print(f"| {task} | {side} | {rates[0]:.2f} | {rates[1]:.2f} | {rates[1] / rates[0]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
