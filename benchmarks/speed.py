"""Speed: seconds per image per task at 256^2 / 512^2 / 1024^2, network GFLOPs, achieved
GFLOP/s against an fp32 matmul measured in the same run, and peak RSS (each setting runs
in its own process so its peak memory is its own).

    python benchmarks/speed.py                 # CPU
    python benchmarks/speed.py --device cuda   # GPU, when there is one
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sync(dev):
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize()


def worker(task: str, size: int, device: str, reps: int) -> dict:
    import numpy as np
    import torch

    from restore.api import get_prior, resolve_device, run

    dev = resolve_device(device)
    prior = get_prior(None, dev)
    g = torch.Generator().manual_seed(0)
    if task == "sr":
        x = torch.rand(1, 3, size // 4, size // 4, generator=g)
        kw = {"scale": 4}
    else:
        x = torch.rand(1, 3, size, size, generator=g)
        kw = {}
    if task == "inpaint":
        kw["known"] = torch.rand(1, size, size, generator=g) > 0.5
    if task == "denoise":
        kw["sigma"] = 25 / 255
    run(x, task, device=dev, prior=prior, **kw)  # warm-up
    ts = []
    for _ in range(reps):
        _sync(dev)
        t0 = time.perf_counter()
        res = run(x, task, device=dev, prior=prior, **kw)
        _sync(dev)
        ts.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"task": task, "size": size, "sampler": res.sampler, "steps": res.steps,
           "seconds": float(np.median(ts)), "peak_rss_mb": rss}
    if dev.type == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def network_figures(device: str) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from restore.api import get_prior, resolve_device

    dev = resolve_device(device)
    prior = get_prior(None, dev)
    x = torch.rand(1, 3, 256, 256, device=dev)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        prior(x, 0.1)
    flops = fc.get_total_flops()
    with torch.no_grad():
        prior(x, 0.1)
        _sync(dev)
        t0 = time.perf_counter()
        n = 5
        for _ in range(n):
            prior(x, 0.1)
        _sync(dev)
        t_net = (time.perf_counter() - t0) / n
    a = torch.randn(2048, 2048, device=dev)
    a @ a
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(5):
        a @ a
    _sync(dev)
    t_mm = (time.perf_counter() - t0) / 5
    return {"gflops_256": flops / 1e9, "params_m": sum(p.numel() for p in prior.net.parameters()) / 1e6,
            "net_seconds_256": t_net, "net_gflops_per_s": flops / 1e9 / t_net,
            "matmul_gflops_per_s": 2 * 2048**3 / 1e9 / t_mm}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--tasks", default="denoise,inpaint,sr")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--worker", nargs=2, metavar=("TASK", "SIZE"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker[0], int(a.worker[1]), a.device, a.reps)))
        return
    import torch

    print(f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} "
          f"{'CPU, ' + str(torch.get_num_threads()) + ' threads' if a.device == 'cpu' else torch.cuda.get_device_name()}"
          f", torch {torch.__version__}; command: `python benchmarks/speed.py {' '.join(sys.argv[1:])}`\n")
    nf = network_figures(a.device)
    print(f"Network: {nf['params_m']:.2f} M parameters, {nf['gflops_256']:.1f} GFLOPs per 256x256 forward, "
          f"{nf['net_seconds_256'] * 1000:.0f} ms -> {nf['net_gflops_per_s']:.0f} GFLOP/s achieved; "
          f"fp32 2048^3 matmul in the same run: {nf['matmul_gflops_per_s']:.0f} GFLOP/s.\n")
    print("| task (default sampler, NFE) | image | seconds | peak RSS (MB) |" + (" peak GPU (MB) |" if a.device != "cpu" else ""))
    print("|---|---|---|---|" + ("---|" if a.device != "cpu" else ""))
    for task in a.tasks.split(","):
        for size in [int(s) for s in a.sizes.split(",")]:
            r = subprocess.run([sys.executable, __file__, "--device", a.device, "--reps", str(a.reps),
                                "--worker", task, str(size)], capture_output=True, text=True, check=False)
            if r.returncode:
                print(f"| {task} | {size}^2 | failed: {r.stderr.strip().splitlines()[-1]} | |")
                continue
            d = json.loads(r.stdout.strip().splitlines()[-1])
            label = f"{task} ({d['sampler']}, {d['steps']})"
            extra = f" {d['peak_gpu_mb']:.0f} |" if "peak_gpu_mb" in d else ""
            print(f"| {label} | {size}x{size} RGB{' (output)' if task == 'sr' else ''} | {d['seconds']:.2f} | "
                  f"{d['peak_rss_mb']:.0f} |{extra}", flush=True)


if __name__ == "__main__":
    main()
