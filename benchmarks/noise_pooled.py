"""Strong camera noise read on the 2x2-pooled image (``restore.noise.PHOTO_POOLED``): its gain and luma cap.

    python benchmarks/noise_pooled.py collect runs/np/data.jsonl [--sets camblur_val,cam_val,...]
    python benchmarks/noise_pooled.py score runs/np/data.jsonl [--rules 0:inf,2:inf,2:2,...]

``collect`` writes one line per image (appending; a set already there is skipped): the
estimator's parts (``level`` without the pooled reading, ``white``, ``pooled``, ``luma``) and, for a noisy
image, the PSNR of the prior told each level of a grid (the default denoise is that one
evaluation); for a clean photo, the output's PSNR against its input at 3, 6 and 10.
``score`` gives, for each gain and cap, the mean PSNR at the level the rule tells (interpolated on the
grid, linear in log level), beside the noisy input and the per-image best level of the grid (an
oracle), and the levels read on the clean photos.

Sets (validation: BSDS training photos, every 12th, first 32; held out: ImageNet training
photos, every 18th, first 48; ``restore.noise.camera_noise`` with seed 100 + i / 300 + i):

- ``camblur_val`` / ``camblur_ho``: the synthetic camera on the photo blurred by a Gaussian
  of 0.8 px first (a lens and an anti-aliasing filter: the reference then has no
  demosaicking zipper), and ``...clean_...``: the same without the noise;
- ``cam_val``: the synthetic camera on the photo as it is (its bilinear demosaicking puts
  colour zippers on these sharp small photos, in the reference too);
- ``polyu_dev``: PolyU100's 75 development pairs (not every 4th), ``polyuclean_dev`` their
  references;
- ``clean_val``, ``sunhays``, ``imagenet``: clean photos (every 3rd Sun-Hays, every 5th
  ImageNet from the 2nd, first 160);
- ``awgn25_val``: white Gaussian noise of std 25 (read as itself whatever the gain).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore import noise  # noqa: E402
from restore.api import get_prior  # noqa: E402
from restore.evaluate import load_dataset, load_pairs  # noqa: E402
from restore.io import to_tensor  # noqa: E402
from restore.metrics import psnr  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
GRID = (3, 6, 9, 13, 18, 25, 35, 50)
CLEAN_GRID = (3, 6, 10)
SETS = ("camblur_val", "camblurclean_val", "cam_val", "polyu_dev", "polyuclean_dev", "clean_val", "awgn25_val",
        "camblur_ho", "camblurclean_ho", "sunhays", "imagenet")


def _blurred(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(img.astype(np.float32), (0, 0), 0.8).round().clip(0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def _photos(folder: str, every: int, first: int, start: int = 0) -> list:
    return [(n, im) for n, im in load_dataset(SHARED / "train" / folder)[start::every] if im.ndim == 3][:first]


def images(which: str):
    """``(name, measured, clean or None)`` of a set, float tensors in [0, 1]."""
    val = _photos("bsds", 12, 32)
    base = which.replace("clean", "")
    if base in ("camblur_val", "cam_val", "camblur_ho"):
        photos, seed0 = (_photos("imagenet1k", 18, 48), 300) if base.endswith("_ho") else (val, 100)
        for i, (n, img) in enumerate(photos):
            n8, c8, _ = noise.camera_noise(_blurred(img) if base.startswith("camblur") else img, seed0 + i)
            yield (n, to_tensor(c8), None) if "clean" in which else (n, to_tensor(n8), to_tensor(c8))
    elif base == "polyu_dev":
        for i, (n, c, nz) in enumerate(load_pairs(SHARED / "real-noise" / "PolyU100")):
            if i % 4:
                yield (n, to_tensor(c), None) if "clean" in which else (n, to_tensor(nz), to_tensor(c))
    elif which == "clean_val":
        for n, img in val:
            yield n, to_tensor(img), None
    elif which == "awgn25_val":
        g = torch.Generator().manual_seed(0)
        for n, img in val:
            x = to_tensor(img)
            yield n, x + 25 / 255 * torch.randn(x.shape, generator=g), None  # levels only
    elif which in ("sunhays", "imagenet"):
        for n, img in _photos("sunhays80", 3, 160) if which == "sunhays" else _photos("imagenet1k", 5, 160, 1):
            yield n, to_tensor(img), None
    else:
        raise SystemExit(f"unknown set {which!r}")


def parts(y: torch.Tensor) -> dict:
    """The estimate without the pooled reading, and its white and pooled parts (0-255)."""
    gain = noise.PHOTO_POOLED["gain"]
    try:
        noise.PHOTO_POOLED["gain"] = 0.0
        e = noise.estimate_noise(y[0])
    finally:
        noise.PHOTO_POOLED["gain"] = gain
    return {"level": e.level * 255, "white": e.white * 255, "pooled": e.pooled * 255, "luma": e.pooled_luma * 255}


def collect(out: Path, sets: list[str]) -> None:
    prior = get_prior(None, "cpu")
    done = {json.loads(line)["set"] for line in out.open()} if out.exists() else set()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f, torch.no_grad():
        for s in sets:
            if s in done:
                continue
            for name, y, x in images(s):
                rec = {"set": s, "name": name, **parts(y)}
                if x is not None:  # noisy: PSNR against the reference over the grid
                    rec["noisy"] = psnr(y.clamp(0, 1), x)
                    rec["grid"], rec["psnr"] = GRID, [psnr(prior(y, v / 255).clamp(0, 1), x) for v in GRID]
                elif s != "awgn25_val":  # clean: the output against its input
                    rec["grid"], rec["psnr"] = CLEAN_GRID, [psnr(prior(y, v / 255).clamp(0, 1), y) for v in CLEAN_GRID]
                f.write(json.dumps(rec) + "\n")
                f.flush()
            print(f"collected {s}", flush=True)


def told(r: dict, gain: float, cap: float) -> float:
    """The level the estimator tells with this gain and luma cap (0-255 units throughout)."""
    return max(r["level"], noise.pooled_level(r["pooled"], r["luma"], r["white"], gain, cap))


def at(r: dict, level: float, start: float) -> float:
    """PSNR at ``level`` from the grid (``start``: the PSNR at level 0, the input itself; inf
    for a clean photo against itself)."""
    g0, p = r["grid"][0], np.array(r["psnr"])
    if level <= 0:
        return start
    if level >= g0:
        return float(np.interp(math.log(level), np.log(np.array(r["grid"], float)), p))
    if math.isfinite(start):  # towards the input, linear in the level
        return start + (p[0] - start) * level / g0
    return p[0] + 20 * math.log10(g0 / level)  # a clean photo: its error in proportion to the level


def score(path: Path, rules: list[tuple[float, float]]) -> None:
    """``rules``: (gain, luma cap) pairs; a cap of ``inf`` is none."""
    recs = [json.loads(line) for line in path.open()]
    sets = [s for s in SETS if any(r["set"] == s for r in recs)]
    noisy = [s for s in sets if any(r["set"] == s and "noisy" in r for r in recs)]
    clean = [s for s in sets if s not in noisy]
    print("| gain / luma cap | " + " | ".join(f"{s} ({sum(r['set'] == s for r in recs)})" for s in noisy) + " |")
    print("|---" * (len(noisy) + 1) + "|")
    for name, key in (("noisy input", "noisy"), ("best level of the grid (oracle)", None)):
        cells = [np.mean([r[key] if key else max(r["psnr"]) for r in recs if r["set"] == s]) for s in noisy]
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")
    for g, k in rules:
        cells = [np.mean([at(r, told(r, g, k), r["noisy"]) for r in recs if r["set"] == s]) for s in noisy]
        print(f"| {g:g} / {k:g} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")
    print()
    head = "levels read (median / max), raised by 0.5+, under 40 dB"
    print("| gain / luma cap | " + " | ".join(f"{s}: {head}" for s in clean) + " |")
    print("|---" * (len(clean) + 1) + "|")
    for g, k in rules:
        cells = []
        for s in clean:
            rs = [r for r in recs if r["set"] == s]
            lv = np.array([told(r, g, k) for r in rs])
            raised = sum(told(r, g, k) > r["level"] + 0.5 for r in rs)
            under = sum(at(r, told(r, g, k), math.inf) < 40 for r in rs if "grid" in r)
            gridded = any("grid" in r for r in rs)
            cells.append(f"{np.median(lv):.1f} / {lv.max():.1f}, {raised}, {under if gridded else '-'}")
        print(f"| {g:g} / {k:g} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("collect", "score"))
    ap.add_argument("path", type=Path)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--rules", default="0:inf,1.5:inf,2:inf,2.5:inf,2:1.5,2:2,2:2.5,2.5:1.5,2.5:2,3:1.5",
                    help="gain:luma-cap pairs (inf: no cap)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.what == "collect":
        collect(a.path, a.sets.split(","))
    else:
        score(a.path, [tuple(float(v) for v in r.split(":")) for r in a.rules.split(",")])


if __name__ == "__main__":
    main()
