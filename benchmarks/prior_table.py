"""What the samplers need from a prior: one row per prior, side by side.

``python benchmarks/prior_table.py PRIOR [PRIOR ...] --data DIR [--limit N] [--device cuda]``

Columns, all PSNR in dB on the images of ``--data`` (a validation split of the training
photos when choosing a recipe; never a test set you report):

* ``dn15/dn25/dn50``: denoising (default sampler, mmse) at sigma 15/25/50 (0-255);
* ``clean.05/.1/.2``: ``D(x, sigma)`` for a *clean* ``x`` told sigma = 0.05/0.1/0.2
  (inputs cleaner than the stated noise, which dpir and inpainting feed it: a sound
  denoiser smooths a little, an unstable one blows up);
* ``est.5/est1``: the clean-image estimate ``D(x + sigma n, sigma)`` at sigma = 0.5 / 1
  (what samplers that start at high noise see first);
* ``rand80`` / ``box`` (whole-image PSNR; ``box_hole`` inside the hole) and ``sr4`` (PSNR-Y,
  4 px border), each with the task's default sampler and steps, the standard seeded
  degradations of ``restore eval``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from restore.api import run  # noqa: E402
from restore.evaluate import load_dataset, make_case, score  # noqa: E402
from restore.io import to_tensor  # noqa: E402
from restore.metrics import psnr  # noqa: E402
from restore.prior import load_prior  # noqa: E402


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return psnr(a.clamp(0, 1), b)


def table_row(prior, data, device: str, tasks=("denoise", "clean", "inpaint", "sr")) -> dict:
    row: dict = {"prior": prior.name, "params_M": round(sum(p.numel() for p in prior.net.parameters()) / 1e6, 2)}
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    if "denoise" in tasks:
        for s in (15, 25, 50):
            vals = []
            for i, (name, img) in enumerate(data):
                case = make_case("denoise", name, img, i, sigma=s)
                out = run(case.y, "denoise", sigma=s / 255, device=device, prior=prior).image
                vals.append(score(case, out)["psnr"])
            row[f"dn{s}"] = round(float(np.mean(vals)), 3)
    if "clean" in tasks:
        with torch.no_grad():
            xs = [to_tensor(img).to(device) for _, img in data]
            for s in (0.05, 0.1, 0.2):
                row[f"clean{s:g}"] = round(float(np.mean([_psnr(prior(x, s), x) for x in xs])), 2)
            for s in (0.5, 1.0):
                row[f"est{s:g}"] = round(float(np.mean(
                    [_psnr(prior(x + s * torch.randn(x.shape, generator=g).to(device), s), x) for x in xs])), 2)
    if "inpaint" in tasks:
        for kind in ("random80", "box"):
            vals, holes = [], []
            for i, (name, img) in enumerate(data):
                case = make_case("inpaint", name, img, i, mask=kind)
                out = run(case.y, "inpaint", known=case.known, device=device, prior=prior).image
                sc = score(case, out)
                vals.append(sc["psnr"])
                holes.append(sc["psnr_hole"])
            row["rand80" if kind == "random80" else "box"] = round(float(np.mean(vals)), 3)
            if kind == "box":
                row["box_hole"] = round(float(np.mean(holes)), 3)
    if "sr" in tasks:
        vals = []
        for i, (name, img) in enumerate(data):
            case = make_case("sr", name, img, i, scale=4)
            out = run(case.y, "sr", scale=4, device=device, prior=prior).image
            vals.append(score(case, out)["psnr"])
        row["sr4"] = round(float(np.mean(vals)), 3)
    st = prior.info.get("stability", {})
    row["stable"] = st.get("stable")
    row["steps"] = prior.info.get("cumulative", {}).get("steps", prior.info.get("steps"))
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


COLS = ["prior", "params_M", "steps", "dn15", "dn25", "dn50", "clean0.05", "clean0.1", "clean0.2", "est0.5",
        "est1", "rand80", "box", "box_hole", "sr4", "stable"]


def markdown(rows: list[dict]) -> str:
    cols = [c for c in COLS if any(c in r for r in rows)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "-")) for c in cols) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("priors", nargs="+")
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--tasks", default="denoise,clean,inpaint,sr")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    data = load_dataset(a.data, a.limit)
    rows = []
    for p in a.priors:
        prior = load_prior(p, device=a.device)
        prior.name = Path(p).name if Path(p).exists() else p
        rows.append(table_row(prior, data, a.device, tuple(a.tasks.split(","))))
        print(json.dumps(rows[-1]), flush=True)
    print(f"\n{len(data)} images of {a.data}; device {a.device}; command: "
          f"`python benchmarks/prior_table.py {' '.join(sys.argv[1:])}`\n")
    print(markdown(rows))
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
