"""Speed of a large foreign prior: the full-size guided-diffusion ImageNet-256 ADM (552.8 M
parameters, random weights: speed does not depend on them) as ``D(x, sigma)``.

Measures milliseconds per 256x256 evaluation and seconds for a 20-step 256x256 inpainting
(``restore.api.run``, the task's default sampler, a 96x96 hole) in float32 and, on CUDA,
under bfloat16 / float16 autocast (``Prior.autocast_dtype``; on the CPU autocast is off,
so only float32 is measured there). Prints a markdown table and one JSON line per row.

    python benchmarks/foreign_prior_speed.py                          # CPU, float32
    python benchmarks/foreign_prior_speed.py --device cuda            # fp32, bf16, fp16
    python benchmarks/foreign_prior_speed.py --evals 2 --preset ffhq256
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sync(dev) -> None:
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize()


def measure(preset: str, device: str, dtypes: list[str], evals: int, steps: int) -> list[dict]:
    import torch

    from restore.api import resolve_device, run
    from restore.convert import ADM_PRESETS
    from restore.prior import Prior, VPSchedule
    from restore.prior.adm import ADMNet, adm_config, adm_from_flags

    dev = resolve_device(device)
    net_cfg, sched, _ = adm_from_flags(ADM_PRESETS[preset])
    torch.manual_seed(0)
    net = ADMNet(**adm_config(net_cfg))
    n_params = sum(p.numel() for p in net.parameters())
    prior = Prior(net, VPSchedule(**sched), native=net.image_size, name=preset).to(dev)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 256, 256, generator=g)
    known = torch.ones(1, 256, 256, dtype=torch.bool)
    known[:, 80:176, 80:176] = False
    rows = []
    for name in dtypes:
        prior.autocast_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[name]
        xd = x.to(dev)
        with torch.no_grad():
            prior(xd, 0.1)  # warm-up
            _sync(dev)
            ts = []
            for _ in range(evals):
                t0 = time.perf_counter()
                prior(xd, 0.1)
                _sync(dev)
                ts.append(time.perf_counter() - t0)
        _sync(dev)
        t0 = time.perf_counter()
        res = run(x, "inpaint", known=known, prior=prior, steps=steps, device=dev)
        _sync(dev)
        rows.append({
            "preset": preset, "params_m": round(n_params / 1e6, 1), "device": str(dev), "dtype": name,
            "ms_per_eval_256": round(1000 * min(ts), 1), "ms_per_eval_256_mean": round(1000 * sum(ts) / len(ts), 1),
            "evals": evals, "inpaint_steps": res.steps, "sampler": res.sampler,
            "inpaint_seconds": round(time.perf_counter() - t0, 2), "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "gpu": (torch.cuda.get_device_name(dev) if dev.type == "cuda"
                    else platform.processor() or platform.machine()),
        })
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--preset", default="imagenet256-uncond")
    ap.add_argument("--dtypes", default=None,
                    help="comma-separated of fp32,bf16,fp16 (default: fp32 on CPU, all on CUDA)")
    ap.add_argument("--evals", type=int, default=5, help="timed network evaluations per dtype (min reported)")
    ap.add_argument("--steps", type=int, default=20, help="inpainting steps")
    a = ap.parse_args()
    cuda = a.device.startswith("cuda") or (a.device == "auto" and __import__("torch").cuda.is_available())
    dtypes = (a.dtypes or ("fp32,bf16,fp16" if cuda else "fp32")).split(",")
    if not cuda and dtypes != ["fp32"]:
        ap.error("autocast is CUDA-only here: on the CPU only fp32 is measured")
    rows = measure(a.preset, a.device, dtypes, a.evals, a.steps)
    print(f"| prior | device | dtype | ms / 256x256 evaluation (min of {a.evals}) "
          f"| s / {a.steps}-step 256x256 inpaint |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} ({r['params_m']} M) | {r['gpu']} ({r['device']}, {r['threads']} threads) "
              f"| {r['dtype']} | {r['ms_per_eval_256']} | {r['inpaint_seconds']} |")
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
