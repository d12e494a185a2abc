"""Throughput (issue 16): images/s for denoise, 20-step inpaint and x4 SR at 256x256 and
512x512 (output size).

    python benchmarks/throughput.py --device cpu --batch 4 --images 8            # the API
    python benchmarks/throughput.py --folder --device cpu --batch 4 --images 8   # the CLI

API mode: one image per call against a (B, C, H, W) batch per call; each configuration
runs once untimed (warm-up), then ``--images`` images are timed.

Folder mode (``--folder``): ``restore TASK DIR -o OUT`` on a folder of ``--images`` PNG files
(inpaint: a folder of masks), as a user runs it, wall clock from the command's start to its
end (start-up, reading and writing included): the local engine at ``--batch-size 1`` and
``--batch``, and ``--engine ray`` with 1 and 2 workers (a local Ray cluster started by the
command; its start-up is included).

Random RGB images (the cost does not depend on content), the shipped prior. Prints a
Markdown table.
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


def folder_rates(task: str, side: int, n: int, batch: int, device: str, workers: list[int]) -> list[tuple[str, float]]:
    """images/s of the CLI on a folder of ``n`` images, per engine configuration."""
    import shutil
    import subprocess
    import tempfile

    import numpy as np

    from restore.io import write_image

    rng = np.random.default_rng(0)
    root = Path(tempfile.mkdtemp(prefix="restore-throughput-"))
    try:
        src, masks = root / "in", root / "masks"
        src.mkdir()
        masks.mkdir()
        lr = side // 4 if task == "sr" else side
        for i in range(n):
            write_image(src / f"im{i:03d}.png", (rng.random((lr, lr, 3)) * 255).astype(np.uint8))
            write_image(masks / f"im{i:03d}.png", ((rng.random((lr, lr)) < 0.5) * 255).astype(np.uint8))
        extra = {"denoise": ["--sigma", "25"], "inpaint": [str(masks)], "sr": ["--scale", "4"]}[task]
        configs = [("local, batch 1", ["--batch-size", "1"]), (f"local, batch {batch}", ["--batch-size", str(batch)])]
        configs += [(f"ray, {w} worker{'s' * (w > 1)}", ["--engine", "ray", "--workers", str(w)]) for w in workers]
        out = []
        for k, (name, flags) in enumerate(configs):
            cmd = [sys.executable, "-m", "restore", task, str(src), *extra, "-o", str(root / f"out{k}"),
                   "--device", device, "-q", *flags]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            out.append((name, n / (time.perf_counter() - t0)))
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--tasks", default="denoise,inpaint,sr")
    ap.add_argument("--folder", action="store_true", help="time the CLI on folders (local and Ray engines)")
    ap.add_argument("--workers", default="1,2", help="Ray workers to try in folder mode")
    a = ap.parse_args()
    if a.folder:
        workers = [int(w) for w in a.workers.split(",") if w]
        print(f"device {a.device}; restore-small; folders of {a.images} images; images/s, wall clock per command\n")
        head = None
        for task in a.tasks.split(","):
            for side in (int(s) for s in a.sizes.split(",")):
                rates = folder_rates(task, side, a.images, a.batch, a.device, workers)
                if head is None:
                    head = " | ".join(n for n, _ in rates)
                    print(f"| task | size | {head} |\n|---|---|{'---|' * len(rates)}")
                print(f"| {task} | {side} | " + " | ".join(f"{r:.2f}" for _, r in rates) + " |", flush=True)
        return
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
