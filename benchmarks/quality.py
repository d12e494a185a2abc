"""Quality tables for README: restore against the classical tools, measured in one run,
with the published anchors (../shared/BENCHMARKS.md) beside them.

    python benchmarks/quality.py --limit 12 --slow-limit 2 > benchmarks/results/quality.md

Denoise: CBSD68 / BSD68 / Set12 at sigma 15/25/50 (full sets unless --denoise-limit);
SR: Set5 / Set14 x2 / x4 (PSNR-Y; full sets unless --sr-limit); inpaint: CBSD68 random 80 % and centred box (first
--limit images). Prints the machine, date and command.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

from restore.api import get_prior
from restore.evaluate import baselines_for, evaluate, load_dataset, summarise

DATA = ROOT.parent / "shared" / "data" / "test"

PUBLISHED = {  # BENCHMARKS.md, published tables
    ("denoise", "CBSD68"): {"CBM3D": (33.52, 30.71, 27.38), "FFDNet": (33.87, 31.21, 27.96), "DRUNet": (34.30, 31.69, 28.51)},
    ("denoise", "BSD68"): {"BM3D": (31.08, 28.57, 25.60), "DRUNet": (31.91, 29.48, 26.59)},
    ("denoise", "Set12"): {"BM3D": (32.37, 29.97, 26.72), "DRUNet": (33.25, 30.94, 27.90)},
    ("sr", None): {"bicubic": {"Set5x2": 33.66, "Set14x2": 30.24, "Set5x4": 28.42, "Set14x4": 26.00},
                   "SRCNN (supervised)": {"Set5x2": 36.66, "Set14x2": 32.42, "Set5x4": 30.48, "Set14x4": 27.49},
                   "EDSR (supervised)": {"Set5x2": 38.11, "Set14x2": 33.92, "Set5x4": 32.46, "Set14x4": 28.80}},
}


def fmt(x, nd=2):
    return "-" if x is None else f"{x:.{nd}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=12, help="images for inpainting (slow baselines too)")
    ap.add_argument("--denoise-limit", type=int, default=None)
    ap.add_argument("--sr-limit", type=int, default=None, help="images per set for sr (default: the full sets)")
    ap.add_argument("--slow-limit", type=int, default=2, help="images per setting for BM3D")
    ap.add_argument("--only", default=None, help="denoise, sr or inpaint")
    a = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    prior = get_prior(None, torch.device("cpu"))
    print(f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} CPU ({torch.get_num_threads()} threads), "
          f"torch {torch.__version__}, prior {prior.name}; command: `python benchmarks/quality.py "
          f"{' '.join(sys.argv[1:])}`\n")
    if a.only in (None, "denoise"):
        for ds_name in ("CBSD68", "BSD68", "Set12"):
            ds = load_dataset(DATA / ds_name, a.denoise_limit)
            res: dict[str, list] = {}
            t_img: dict[str, float] = {}
            counts: dict[str, int] = {}
            for sigma in (15, 25, 50):
                rows = evaluate("denoise", ds, methods=["mmse"], baselines=baselines_for("denoise"),
                                slow_limit=a.slow_limit, prior=prior, sigma=sigma)
                for s in summarise(rows):
                    name = "restore (mmse, 1 NFE)" if s["kind"] == "restore" else s["method"]
                    res.setdefault(name, [None, None, None])[(15, 25, 50).index(sigma)] = (s["psnr"], s["ssim"])
                    t_img[name] = s["seconds"]
                    counts[name] = s["images"]
            print(f"### Denoise {ds_name} (PSNR dB / SSIM; sigma 15 / 25 / 50)\n")
            print("| method | images | sigma 15 | sigma 25 | sigma 50 | s/image |\n|---|---|---|---|---|---|")
            for name, v in res.items():
                cells = " | ".join(f"{p:.2f} / {s_:.3f}" if p is not None else "-" for p, s_ in
                                   [(x if x else (None, None)) for x in v])
                print(f"| {name} | {counts[name]} | {cells} | {t_img[name]:.2f} |")
            for name, vals in PUBLISHED[("denoise", ds_name)].items():
                print(f"| {name} (published) | all | {vals[0]:.2f} | {vals[1]:.2f} | {vals[2]:.2f} | - |")
            print(flush=True)
    if a.only in (None, "sr"):
        print("### Super-resolution (PSNR-Y / SSIM-Y, bicubic degradation)\n")
        cols = [("Set5", 2), ("Set14", 2), ("Set5", 4), ("Set14", 4)]
        res, secs = {}, {}
        for ds_name, scale in cols:
            ds = load_dataset(DATA / ds_name, a.sr_limit)
            rows = evaluate("sr", ds, methods=["dpir"], baselines=["bicubic", "lanczos"], prior=prior, scale=scale)
            for s in summarise(rows):
                name = f"restore ({s['method']}, {s['steps']} NFE)" if s["kind"] == "restore" else s["method"]
                res.setdefault(name, {})[f"{ds_name}x{scale}"] = (s["psnr"], s["ssim"])
                secs.setdefault(name, []).append(s["seconds"])
        print("| method | Set5 x2 | Set14 x2 | Set5 x4 | Set14 x4 | s/image |\n|---|---|---|---|---|---|")
        for name, v in res.items():
            cells = " | ".join(f"{v[k][0]:.2f} / {v[k][1]:.4f}" for k in ("Set5x2", "Set14x2", "Set5x4", "Set14x4"))
            print(f"| {name} | {cells} | {sum(secs[name]) / len(secs[name]):.2f} |")
        for name, vals in PUBLISHED[("sr", None)].items():
            print(f"| {name} (published) | " + " | ".join(f"{vals[k]:.2f}" for k in ("Set5x2", "Set14x2", "Set5x4", "Set14x4")) + " | - |")
        print(flush=True)
    if a.only in (None, "inpaint"):
        ds = load_dataset(DATA / "CBSD68", a.limit)
        print(f"### Inpainting CBSD68, first {len(ds)} images (PSNR whole / hole, dB; SSIM)\n")
        print("| method | random 80 % missing | box 1/4 area | s/image |\n|---|---|---|---|")
        res, secs = {}, {}
        for mask in ("random80", "box"):
            rows = evaluate("inpaint", ds, methods=["dpir"], baselines=baselines_for("inpaint"), prior=prior, mask=mask)
            for s in summarise(rows):
                name = f"restore ({s['method']}, {s['steps']} NFE)" if s["kind"] == "restore" else s["method"]
                res.setdefault(name, {})[mask] = s
                secs.setdefault(name, []).append(s["seconds"])
        for name, v in res.items():
            cells = " | ".join(f"{v[m]['psnr']:.2f} / {v[m]['psnr_hole']:.2f} / {v[m]['ssim']:.3f}" for m in ("random80", "box"))
            print(f"| {name} | {cells} | {sum(secs[name]) / 2:.2f} |")
        print(flush=True)


if __name__ == "__main__":
    main()
