"""Training throughput of the prior's networks: crops/s, achieved TFLOP/s and the fraction
of the device's bf16 peak, per network, batch size and lever.

``python benchmarks/train_speed.py --device cuda [--data .data/pack/train] [--nets small,base]
[--batches 64,128,256] [--variants fp32,bf16,bf16-nocl,bf16-unfused,bf16-compile]``

It times the real training step (:class:`restore.train.Trainer`: crops, noise and
timesteps drawn on the device, forward, backward, clipping, AdamW, EMA), synchronising only
around the timed block. FLOPs per crop are counted by ``torch.utils.flop_counter`` (forward
+ backward of the network; the optimiser and the elementwise work are not counted, so the
TFLOP/s is the useful-work rate). Peak: the datasheet's dense bf16 rate (H100/H200 SXM:
989 TFLOP/s); a bf16 8192^3 matmul is measured in the same run as the practical ceiling.
Variants: ``fp32`` (no autocast), ``bf16`` (autocast, channels-last, fused AdamW),
``bf16-nocl`` (NCHW), ``bf16-unfused`` (foreach AdamW), ``bf16-compile`` (torch.compile of
forward + loss). Also times the crop draw alone (the data path's share of a step).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from restore.prior.schedule import VPSchedule  # noqa: E402
from restore.train import CropBank, TrainConfig, Trainer, find_images, load_images, train_flops_per_crop  # noqa: E402

NETS = {  # name: (channels, blocks)
    "small": ((64, 128, 160, 160), (1, 2, 2, 2)),
    "mid": ((96, 192, 256, 320), (1, 2, 2, 2)),
    "base": ((128, 192, 256, 320), (2, 2, 3, 3)),
}
PEAK_BF16 = {"H100": 989.4, "H200": 989.4, "A100": 312.0}
VARIANTS = {
    "fp32": dict(amp=False),
    "bf16": dict(),
    "bf16-nocl": dict(channels_last=False),
    "bf16-unfused": dict(fused_adam=False),
    "bf16-compile": dict(compile=True),
}


def device_peak(dev: torch.device) -> float | None:
    if dev.type != "cuda":
        return None
    name = torch.cuda.get_device_name(dev)
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def matmul_tflops(dev: torch.device, n: int = 8192) -> float:
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(dev)
    t = time.perf_counter()
    for _ in range(10):
        a @ b
    torch.cuda.synchronize(dev)
    return 2 * n**3 * 10 / (time.perf_counter() - t) / 1e12


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def measure(bank: CropBank, dev, net: str, batch: int, variant: str, steps: int, warmup: int) -> dict:
    ch, bl = NETS[net]
    cfg = TrainConfig(batch_size=batch, crop=bank.crop, channels=ch, blocks=bl, steps=10**6, warmup=10,
                      **VARIANTS[variant])
    tr = Trainer(cfg, bank, VPSchedule(), dev)
    flops = train_flops_per_crop(tr.net, bank.crop)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    for i in range(warmup):
        tr.step(i)
    sync(dev)
    t_warm = time.perf_counter() - t0
    t = time.perf_counter()
    for i in range(steps):
        tr.step(warmup + i)
    sync(dev)
    dt = (time.perf_counter() - t) / steps
    loss = tr.mean_loss()
    row = {"net": net, "batch": batch, "variant": variant, "ms_per_step": round(dt * 1e3, 2),
           "crops_per_s": round(batch / dt, 1), "tflops": round(batch * flops / dt / 1e12, 2),
           "gflops_per_crop": round(flops / 1e9, 2), "warmup_s": round(t_warm, 1),
           "loss_finite": bool(np.isfinite(loss))}
    if dev.type == "cuda":
        row["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated(dev) / 2**30, 2)
    del tr
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--data", type=Path, default=None, help="training images (default: synthetic)")
    ap.add_argument("--nets", default="small,mid,base")
    ap.add_argument("--batches", default="64,128,256")
    ap.add_argument("--variants", default="bf16")
    ap.add_argument("--grid", default=None,
                    help="explicit runs 'net:batch:variant;...' (replaces nets x batches x variants)")
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    dev = torch.device(a.device)
    if a.data is not None:
        images, _ = load_images(find_images(a.data))
    else:
        rng = np.random.default_rng(0)
        images = [rng.integers(0, 256, (384, 512, 3), dtype=np.uint8) for _ in range(64)]
    bank = CropBank(images, dev, a.crop)
    g = torch.Generator(device=dev).manual_seed(0)
    for _ in range(3):
        bank.batch(256, g, 0.2)
    sync(dev)
    t = time.perf_counter()
    for _ in range(20):
        bank.batch(256, g, 0.2)
    sync(dev)
    crop_ms = (time.perf_counter() - t) / 20 * 1e3
    peak = device_peak(dev)
    mm = matmul_tflops(dev) if dev.type == "cuda" else None
    if a.grid:
        runs = [(n, int(b), v) for n, b, v in (r.split(":") for r in a.grid.split(";") if r)]
    else:
        runs = [(n, int(b), v) for n in a.nets.split(",") for b in a.batches.split(",") for v in a.variants.split(",")]
    rows = []
    for n, b, v in runs:
        try:
            r = measure(bank, dev, n, b, v, a.steps, a.warmup if v != "bf16-compile" else a.warmup + 5)
        except Exception as e:  # e.g. out of memory at a large batch: record it, go on
            print(f"{n} batch {b} {v}: failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}", flush=True)
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            continue
        if peak:
            r["pct_peak"] = round(100 * r["tflops"] / peak, 1)
        rows.append(r)
        print(json.dumps(r), flush=True)
    dev_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu"
    print(f"\nMeasured {date.today()} on {platform.machine()} {dev_name}, torch {torch.__version__}; command: "
          f"`python benchmarks/train_speed.py {' '.join(sys.argv[1:])}`")
    print(f"Data: {len(bank)} images held on the device ({bank.nbytes / 1e6:.0f} MB uint8); "
          f"drawing a batch of 256 crops of {a.crop}^2: {crop_ms:.2f} ms. "
          + (f"bf16 8192^3 matmul: {mm:.0f} TFLOP/s; datasheet dense bf16 peak: {peak} TFLOP/s." if mm else ""))
    print("\n| network | GFLOPs/crop (fwd+bwd) | batch | variant | ms/step | crops/s | TFLOP/s | % of bf16 peak | GPU GB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['net']} | {r['gflops_per_crop']} | {r['batch']} | {r['variant']} | {r['ms_per_step']} | "
              f"{r['crops_per_s']} | {r['tflops']} | {r.get('pct_peak', '-')} | {r.get('peak_gpu_gb', '-')} |")
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "crop_draw_ms": crop_ms, "matmul_tflops": mm,
                                      "peak": peak, "device": dev_name}, indent=1))


if __name__ == "__main__":
    main()
