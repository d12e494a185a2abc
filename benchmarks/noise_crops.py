"""Small crops: the noise estimate on 256x256 crops of real noisy photos and of clean ones.

    OMP_NUM_THREADS=1 python benchmarks/noise_crops.py collect runs/nc/crops.jsonl
    python benchmarks/noise_crops.py score runs/nc/crops.jsonl

``collect`` writes one line per crop: the estimator's readings, the flattest blocks' readings
(fine, correlated, structure) for other block sizes and shares (``VARIANTS``), and the prior's
PSNR over a level grid (against the reference for a noisy crop, against the crop itself for a
clean one; the default denoise is that one evaluation). Crops: PolyU100's pairs at 5 places a
photo (the four quarters and the centre of its 512x512), split as ``benchmarks/real_noise.py``
splits them (every 4th held out); clean: PolyU40's references (4 random crops each), BSDS
every 12th, Sun-Hays every 3rd and ImageNet every 18th (one random crop each; at most 48 a set).
``score`` gives, for the shipped rule and each variant (a block size and share, the gain times
``g``, the structure ramp times ``t``), the mean PSNR at the level told, the crops read under 1.5
("dead") and, on the clean crops, the median level and how many come out under 40 / 35 dB from
their input; then the crops :func:`restore.noise.hidden_grain` flags, and what telling its
suggestion gains on the noisy ones.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from noise_pooled import at  # noqa: E402

from restore import noise  # noqa: E402
from restore.api import get_prior  # noqa: E402
from restore.io import read_image, to_tensor  # noqa: E402
from restore.metrics import psnr  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
GRID = (1.5, 3, 6, 9, 13, 18, 25, 35)
CLEAN_GRID = (3, 6, 10)
VARIANTS = [(16, 0.2), (16, 0.1), (16, 0.05), (8, 0.2), (8, 0.1), (8, 0.05)]
OFFSETS = [(0, 0), (0, 256), (256, 0), (256, 256), (128, 128)]


def _rgb(p: Path) -> np.ndarray:
    a = read_image(p).array
    return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3]


def readings(x: torch.Tensor) -> dict:
    e = noise.estimate_noise(x)
    out = {"level": e.level * 255, "white": e.white * 255, "corr": e.correlated * 255, "flat": e.flat_structure * 255,
           "whiteness": e.whiteness, "pooled": e.pooled * 255, "luma": e.pooled_luma * 255, "luma_full": e.luma * 255}
    for b, frac in VARIANTS:
        fine, corr, flat = noise._flat_residual(x, b=b, frac=frac)
        out[f"v{b}_{frac}"] = [fine * 255, corr * 255, flat * 255]
    return out


def crops():
    """(set, name, crop, reference or None) for every crop."""
    P = SHARED / "real-noise" / "PolyU100"
    for i, f in enumerate(sorted(os.listdir(P / "noisy"))):
        a, c = _rgb(P / "noisy" / f), _rgb(P / "clean" / f)
        for y, x0 in OFFSETS:
            yield ("polyu_ho" if i % 4 == 0 else "polyu_dev"), f"{f}@{y},{x0}", a[y:y + 256, x0:x0 + 256], \
                c[y:y + 256, x0:x0 + 256]
    rng = np.random.default_rng(0)
    for folder, name, every in (("polyu40", "clean_polyu40", 1), ("bsds", "clean_bsds", 12),
                                ("sunhays80", "clean_sunhays", 3), ("imagenet1k", "clean_imagenet", 18)):
        for f in sorted(os.listdir(SHARED / "train" / folder))[::every][:48]:
            a = _rgb(SHARED / "train" / folder / f)
            for _ in range(4 if folder == "polyu40" else 1):
                H, W = a.shape[:2]
                if H < 256 or W < 256:
                    continue
                y, x0 = rng.integers(0, H - 255), rng.integers(0, W - 255)
                yield name, f"{f}@{y},{x0}", a[y:y + 256, x0:x0 + 256], None


def collect(out: Path) -> None:
    prior = get_prior(None, "cpu")
    done = {json.loads(line)["name"] for line in out.open()} if out.exists() else set()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f, torch.no_grad():
        for s, name, a, ref in crops():
            if name in done:
                continue
            x = to_tensor(a)
            rec = {"set": s, "name": name, **readings(x[0])}
            if ref is not None:
                g = to_tensor(ref)
                rec.update(noisy=psnr(x, g), grid=GRID, psnr=[psnr(prior(x, v / 255).clamp(0, 1), g) for v in GRID])
            else:
                rec.update(grid=CLEAN_GRID, psnr=[psnr(prior(x, v / 255).clamp(0, 1), x) for v in CLEAN_GRID])
            f.write(json.dumps(rec) + "\n")
            f.flush()


def level(r: dict, var: str | None, gain: float = 1.0, tscale: float = 1.0) -> float:
    """The level told for a crop's readings, with the flattest blocks read as ``var`` (None: as
    shipped) and PHOTO_NOISE's gain and structure ramp scaled."""
    u = 1 / 255
    fine, corr, flat = r[var] if var else (None, r["corr"], r["flat"])
    whiteness = (corr / fine if fine > 0 else 1.0) if var else r["whiteness"]
    c = dict(noise.PHOTO_NOISE, gain=noise.PHOTO_NOISE["gain"] * gain,
             flat=tuple(v * tscale for v in noise.PHOTO_NOISE["flat"]))
    share = noise._ramp(whiteness, *c["whiteness"])
    trust = 1.0 - noise._ramp(math.sqrt(max((flat * u) ** 2 - (c["leak"] * corr * u) ** 2, 0.0)), *c["flat"])
    base = max(r["white"] * u, c["gain"] * corr * u * share * trust)
    return noise.photo_level(base, r["white"] * u, None, r["pooled"] * u, r["luma"] * u, r["luma_full"] * u)[0] * 255


def score(path: Path) -> None:
    R = [json.loads(line) for line in path.open()]
    noisy = [s for s in ("polyu_dev", "polyu_ho") if any(r["set"] == s for r in R)]
    clean = [r for r in R if r["set"].startswith("clean")]
    print({s: sum(r["set"] == s for r in R) for s in sorted({r["set"] for r in R})})
    for s in noisy:
        rs = [r for r in R if r["set"] == s]
        print(f"{s}: noisy {np.mean([r['noisy'] for r in rs]):.2f}, best level of the grid (oracle) "
              f"{np.mean([max(r['psnr']) for r in rs]):.2f}")
    print("\n| variant | " + " | ".join(f"{s}: PSNR (dead)" for s in noisy)
          + " | clean: median level, under 40 / 35 dB |\n|---" * 1 + "|---" * (len(noisy) + 1) + "|")
    rows = [("shipped", None, 1.0, 1.0)] + [(f"{v} g{g} t{t}", v, g, t) for v in (f"v{b}_{q}" for b, q in VARIANTS)
                                             for g, t in itertools.product((0.9, 1.0), (1.0, 1.5, 2.0))]
    for name, var, g, t in rows:
        cells = []
        for s in noisy:
            rs = [r for r in R if r["set"] == s]
            lv = [level(r, var, g, t) for r in rs]
            cells.append(f"{np.mean([at(r, v, r['noisy']) for r, v in zip(rs, lv)]):.3f} ({sum(v < 1.5 for v in lv)})")
        lv = [level(r, var, g, t) for r in clean]
        outs = [at(r, v, math.inf) for r, v in zip(clean, lv)]
        cells.append(f"{np.median(lv):.2f}, {sum(o < 40 for o in outs)} / {sum(o < 35 for o in outs)} of {len(clean)}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    for s in noisy + sorted({r["set"] for r in clean}):
        rs = [r for r in R if r["set"] == s]
        hint = [(r, noise.hidden_grain(noise.NoiseEstimate(r["level"] / 255, r["white"] / 255, r["corr"] / 255,
                                                           r["whiteness"], r["flat"] / 255))) for r in rs]
        hint = [(r, h) for r, h in hint if h is not None]
        line = f"{s}: hidden_grain flags {len(hint)} of {len(rs)}"
        if hint and "noisy" in hint[0][0]:
            gain = [at(r, h * 255, r["noisy"]) - at(r, r["level"], r["noisy"]) for r, h in hint]
            line += f"; told its suggestion: {np.mean(gain):+.2f} dB (min {min(gain):+.2f}, max {max(gain):+.2f})"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("collect", "score"))
    ap.add_argument("path", type=Path)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    collect(a.path) if a.what == "collect" else score(a.path)


if __name__ == "__main__":
    main()
