"""Real camera noise: the photo noise model against fixed levels, OpenCV NLM and CBM3D.

    python benchmarks/real_noise.py [--out benchmarks/results/real_noise.md]

Five measurements, each the library's default path (``restore.run(y, "denoise")``, no
sigma: what ``restore denoise photo.jpg`` does) beside what it is compared with:

1. **PolyU100** (``../shared/data/real-noise/PolyU100``; 100 in-camera JPEG pairs, ISO 800-12800,
   references the mean of many shots): the *development* pairs (the 75 that are not every 4th,
   where the constants of ``restore.noise.PHOTO_NOISE`` were chosen) and the *held-out* every
   4th (25 pairs, the issue's bar). Beside the default: the same prior told a fixed level
   (5/10/15/20), the per-image best of those (an oracle), OpenCV NLM over its h grid, the old
   fine-scale estimate, and pixel-shuffle denoising (Zhou et al. 2020: the four 2x2 sub-images
   denoised apart at the level estimated on them, then a light full-size pass).
2. **Clean photos**: CBSD68 1-8 as they are; the output against its own input (>= 40 dB
   means the photo was left alone).
3. **White Gaussian noise**: CBSD68 1-8 at sigma 25, the level estimated vs given.
4. **Synthetic camera** (``restore eval denoise --noise camera``): CBSD68 1-8.
5. **White noise in a JPEG with subsampled chroma** (sigma 10 / 25 saved by Pillow at quality 90
   as 4:2:0 and 4:2:2, and at 75 as 4:2:0): CBSD68 1-8, the level read through the file (its
   half-size decode, as the command line reads it) and from the pixels alone (an API array).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import restore  # noqa: E402
from restore.api import get_prior  # noqa: E402
from restore.evaluate import load_dataset, load_pairs  # noqa: E402
from restore.io import to_tensor  # noqa: E402
from restore.metrics import psnr  # noqa: E402
from restore.noise import camera_noise, estimate_noise, estimate_sigma  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
FIXED = (5, 10, 15, 20)
NLM_H = (3, 5, 8, 10)


def nlm(n8: np.ndarray, h: float) -> torch.Tensor:
    import cv2

    return to_tensor(cv2.fastNlMeansDenoisingColored(n8, None, h, h, 7, 21))


def pixel_shuffle_denoise(prior, y: torch.Tensor) -> torch.Tensor:
    """Zhou et al. 2020 (PD): denoise the 2x2 sub-images at their own estimated level, put
    them back, then a pass at a small level over the seams of the interleave."""
    B, C, H, W = y.shape
    h2, w2 = H // 2 * 2, W // 2 * 2
    u = torch.nn.functional.pixel_unshuffle(y[..., :h2, :w2], 2).reshape(B, C, 4, h2 // 2, w2 // 2)
    subs = u.permute(0, 2, 1, 3, 4).reshape(4 * B, C, h2 // 2, w2 // 2)
    lvl = float(np.mean([estimate_noise(s[None]).level for s in subs]))
    with torch.no_grad():
        d = prior(subs, max(lvl, 1e-3))
        d = d.reshape(B, 4, C, h2 // 2, w2 // 2).permute(0, 2, 1, 3, 4).reshape(B, 4 * C, h2 // 2, w2 // 2)
        out = y.clone()
        out[..., :h2, :w2] = torch.nn.functional.pixel_shuffle(d, 2)
        return prior(out, 3 / 255).clamp(0, 1)


def polyu(prior, pairs, label: str) -> list[str]:
    cols = ["noisy", "restore (default)"] + [f"sigma {s}" for s in FIXED] + ["best fixed per image (oracle)"] + \
        [f"NLM h {h}" for h in NLM_H] + ["restore, old estimate", "pixel-shuffle (PD)"]
    acc = {c: [] for c in cols}
    levels, secs = [], []
    for name, clean, noisy in pairs:
        x, y = to_tensor(clean), to_tensor(noisy)
        acc["noisy"].append(psnr(y, x))
        t = time.perf_counter()
        res = restore.run(y, "denoise", prior=prior)
        secs.append(time.perf_counter() - t)
        levels.append(res.sigma_y * 255)
        acc["restore (default)"].append(psnr(res.image, x))
        fx = [psnr(restore.run(y, "denoise", prior=prior, sigma=s / 255).image, x) for s in FIXED]
        for s, v in zip(FIXED, fx):
            acc[f"sigma {s}"].append(v)
        acc["best fixed per image (oracle)"].append(max(fx))
        for h in NLM_H:
            acc[f"NLM h {h}"].append(psnr(nlm(noisy, h), x))
        acc["restore, old estimate"].append(psnr(restore.run(y, "denoise", prior=prior,
                                                             sigma=estimate_sigma(y)).image, x))
        acc["pixel-shuffle (PD)"].append(psnr(pixel_shuffle_denoise(prior, y), x))
    mean = {c: float(np.mean(v)) for c, v in acc.items()}
    best_fixed = max(mean[f"sigma {s}"] for s in FIXED)
    best_nlm = max(mean[f"NLM h {h}"] for h in NLM_H)
    out = [f"### PolyU100, {label} ({len(pairs)} pairs)", "", "| method | PSNR (dB) |", "|---|---|"]
    out += [f"| {c} | {mean[c]:.2f} |" for c in cols]
    out += ["", f"Estimated level (0-255): median {np.median(levels):.1f}, range {min(levels):.1f}-{max(levels):.1f}; "
            f"{np.mean(secs):.2f} s per 512x512 image (estimate + one network evaluation).",
            f"Default vs best fixed sigma: {mean['restore (default)'] - best_fixed:+.2f} dB; "
            f"vs best NLM h: {mean['restore (default)'] - best_nlm:+.2f} dB.", ""]
    return out


def clean_and_awgn(prior, data) -> list[str]:
    g = torch.Generator().manual_seed(0)
    out = ["### CBSD68 1-8: clean photos and white Gaussian noise", "",
           "| image | clean: level read | clean: output vs input (dB) | sigma 25: level read | "
           "sigma 25: estimated (dB) | sigma 25: given (dB) |", "|---|---|---|---|---|---|"]
    cl, est, giv = [], [], []
    for name, img in data:
        x = to_tensor(img)
        r = restore.run(x, "denoise", prior=prior)
        cl.append(psnr(r.image, x))
        y = x + 25 / 255 * torch.randn(x.shape, generator=g)
        re = restore.run(y, "denoise", prior=prior)
        rg = restore.run(y, "denoise", prior=prior, sigma=25 / 255)
        est.append(psnr(re.image, x))
        giv.append(psnr(rg.image, x))
        out.append(f"| {name} | {r.sigma_y * 255:.2f} | {cl[-1]:.2f} | {re.sigma_y * 255:.2f} | {est[-1]:.2f} | "
                   f"{giv[-1]:.2f} |")
    out += [f"| **mean** | | **{np.mean(cl):.2f}** (min {min(cl):.2f}) | | **{np.mean(est):.2f}** | **{np.mean(giv):.2f}** |",
            ""]
    return out


def camera(prior, data) -> list[str]:
    out = ["### Synthetic camera noise (CBSD68 1-8, `restore eval denoise --noise camera`)", "",
           "| image | shot | read | JPEG | noisy | restore (default) | level read | best fixed (5/10/15/20) | "
           "best NLM h |", "|---|---|---|---|---|---|---|---|---|"]
    acc = []
    for i, (name, img) in enumerate(data):
        n8, c8, info = camera_noise(img, i)
        x, y = to_tensor(c8), to_tensor(n8)
        r = restore.run(y, "denoise", prior=prior)
        fx = max(psnr(restore.run(y, "denoise", prior=prior, sigma=s / 255).image, x) for s in FIXED)
        nl = max(psnr(nlm(n8, h), x) for h in NLM_H)
        acc.append((psnr(y, x), psnr(r.image, x), fx, nl))
        out.append(f"| {name} | {info['shot']:.5f} | {info['read']:.2e} | {info['jpeg']} | {acc[-1][0]:.2f} | "
                   f"{acc[-1][1]:.2f} | {r.sigma_y * 255:.1f} | {fx:.2f} | {nl:.2f} |")
    m = np.mean(acc, axis=0)
    out += [f"| **mean** | | | | **{m[0]:.2f}** | **{m[1]:.2f}** | | **{m[2]:.2f}** | **{m[3]:.2f}** |", ""]
    return out


def _saved(a: np.ndarray, quality: int, subsampling: int) -> tuple[np.ndarray, float | None]:
    """``a`` saved as a JPEG by Pillow and read back as the command line reads it: the pixels and
    the half-size reading (``jpeg_half``; None unless 4:2:0)."""
    import tempfile

    from PIL import Image

    from restore.io import jpeg_half, read_image

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "n.jpg"
        Image.fromarray(a).save(path, quality=quality, subsampling=subsampling)
        return read_image(path).array, jpeg_half(path)


JPEG_CASES = ((10, 90, 2), (25, 90, 2), (10, 90, 1), (25, 90, 1), (25, 75, 2))


def jpeg(prior, data) -> list[str]:
    """White noise saved as a JPEG with subsampled chroma: the level read through the file (as
    ``restore denoise noisy.jpg`` reads it) and from its pixels alone (the API given an array)."""
    out = ["### White noise saved as a JPEG with subsampled chroma (CBSD68 1-8, Pillow)", "",
           "| sigma | quality | chroma | level read, file (min-max) | level read, pixels (min-max) | noisy (dB) | "
           "restore, file (dB) | restore, sigma given (dB) |", "|---|---|---|---|---|---|---|---|"]
    names = {2: "4:2:0", 1: "4:2:2"}
    for sd, q, sub in JPEG_CASES:
        rng = np.random.default_rng(sd)
        lf, la, acc = [], [], []
        for _, img in data:
            x = to_tensor(img)
            n8, half = _saved(np.clip(img + rng.normal(0, sd, img.shape), 0, 255).round().astype(np.uint8), q, sub)
            y = to_tensor(n8)
            rf = restore.run(y, "denoise", prior=prior, jpeg_half=half)
            lf.append(rf.sigma_y * 255)
            la.append(estimate_noise(y).level * 255)
            given = restore.run(y, "denoise", prior=prior, sigma=sd / 255).image
            acc.append((psnr(y, x), psnr(rf.image, x), psnr(given, x)))
        m = np.mean(acc, axis=0)
        out.append(f"| {sd} | {q} | {names[sub]} | {min(lf):.1f}-{max(lf):.1f} | {min(la):.1f}-{max(la):.1f} | "
                   f"{m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} |")
    return out + [""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--parts", default="heldout,dev,clean,camera,jpeg")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    prior = get_prior(a.weights, "cpu")
    parts = a.parts.split(",")
    t0 = time.time()
    lines = ["# Real camera noise", "",
             f"`python benchmarks/real_noise.py --parts {a.parts}`; {platform.machine()} CPU, "
             f"{torch.get_num_threads()} threads, prior {prior.info.get('name', a.weights or 'restore-small')}.", ""]
    root = SHARED / "real-noise" / "PolyU100"
    if "heldout" in parts:
        lines += polyu(prior, load_pairs(root, every=4), "held out: every 4th pair (the issue's bar)")
    if "dev" in parts:
        allp = load_pairs(root)
        lines += polyu(prior, [p for i, p in enumerate(allp) if i % 4], "development: the other 75 pairs")
    cb = load_dataset(SHARED / "test" / "CBSD68", limit=8)
    if "clean" in parts:
        lines += clean_and_awgn(prior, cb)
    if "camera" in parts:
        lines += camera(prior, cb)
    if "jpeg" in parts:
        lines += jpeg(prior, cb)
    lines.append(f"Total {time.time() - t0:.0f} s.")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
