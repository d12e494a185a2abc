"""Inpainting local to the holes (issue 24): the context margin, and a large photo's cost.

``margin``: on validation photos (the scene split of the training photos, full size), small
blob holes restored on crops with ``M`` pixels of context against the whole image at once:
the RMS difference inside the hole (0-255) and the hole PSNR against the truth of each.

    python benchmarks/inpaint_large.py margin --limit 4 16 32 48 64

``large``: a 4000x3000 photo (a training photo mirrored out to that size: content for the
timing, not for quality) with a seeded ~2 % blob mask through the command line with its
defaults, under ``/usr/bin/time -v`` (wall time, peak RSS); checks that every known pixel of
the output equals the input's.

    python benchmarks/inpaint_large.py large [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore.api import get_prior, run  # noqa: E402


def blob_mask(H: int, W: int, fraction: float, seed: int, blobs: int = 3) -> np.ndarray:
    """``blobs`` irregular blobs (unions of discs along a random walk) covering about
    ``fraction`` of ``H x W``, seeded."""
    import cv2

    rng = np.random.default_rng(seed)
    m = np.zeros((H, W), np.uint8)
    target = fraction * H * W
    r = max(4, int(math.sqrt(target / blobs / math.pi) * 0.55))
    for b in range(blobs):
        cy, cx = int(rng.uniform(0.15, 0.85) * H), int(rng.uniform(0.15, 0.85) * W)
        goal = target * (b + 1) / blobs
        while m.sum() < goal:
            cv2.circle(m, (cx, cy), int(r * rng.uniform(0.6, 1.2)), 1, -1)
            cy = int(np.clip(cy + rng.normal(0, r * 0.6), r, H - r))
            cx = int(np.clip(cx + rng.normal(0, r * 0.6), r, W - r))
    return m.astype(bool)


def val_photos(limit: int, pack_dir: Path) -> list[tuple[str, np.ndarray]]:
    """Full-size validation photos (BSDS part of the scene split of the training pack in
    ``pack_dir``)."""
    import json

    from restore.io import read_image

    if not (pack_dir / "pack.json").is_file():
        sys.exit(f"error: no training pack at {pack_dir} (its scene split names the validation photos): build it "
                 "with `python benchmarks/make_training_pack.py ../shared/data/train -o .data/pack`, or pass --pack")
    pack = json.loads((pack_dir / "pack.json").read_text())
    names = [n for n in pack["split"]["val"] if n.startswith("bsds/")] if "split" in pack else []
    if not names:  # the pack lists its validation crops by file name
        names = [f"bsds/{p.stem[5:]}.jpg" for p in sorted((pack_dir / "val").glob("bsds_*.png"))]
    out = []
    for n in names[:limit]:
        out.append((n, read_image(ROOT.parent / "shared/data/train" / n).array))
    return out


def margin_study(a) -> None:
    import restore.tasks.inpaint as ip

    prior = get_prior(None, torch.device("cpu"))
    photos = val_photos(a.limit, Path(a.pack))
    print(f"blob holes (~{a.fraction * 100:.1f} %), {len(photos)} validation photos; hole RMS difference "
          "(0-255) local vs whole image, hole PSNR (dB) of each\n")
    print("| margin | hole RMS diff | hole PSNR local | hole PSNR whole | s local | s whole |\n|---|---|---|---|---|---|")
    whole, rows = {}, {m: [] for m in a.margins}
    for i, (n, img) in enumerate(photos):
        H, W = img.shape[:2]
        hole = blob_mask(H, W, a.fraction, i, blobs=1)
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255
        t0 = time.perf_counter()
        ref = run(x, "inpaint", mask=hole, prior=prior, local=False).image
        tw = time.perf_counter() - t0
        ht = torch.from_numpy(hole)
        whole[n] = (ref, tw)
        for m in a.margins:
            ip.LOCAL_MARGIN = m
            t0 = time.perf_counter()
            r = run(x, "inpaint", mask=hole, prior=prior)
            tl = time.perf_counter() - t0
            assert "regions" in r.params, "the crops covered most of the image: use a smaller --fraction"
            assert bool((r.image[..., ~ht] == x[..., ~ht]).all())
            d = float(((r.image - ref)[..., ht] ** 2).mean().sqrt()) * 255
            p_l = 10 * math.log10(1 / float(((r.image - x)[..., ht] ** 2).mean()))
            p_w = 10 * math.log10(1 / float(((ref - x)[..., ht] ** 2).mean()))
            rows[m].append((d, p_l, p_w, tl, tw))
    for m in a.margins:
        v = np.array(rows[m])
        print(f"| {m} | {v[:, 0].mean():.2f} | {v[:, 1].mean():.2f} | {v[:, 2].mean():.2f} | {v[:, 3].mean():.1f} | "
              f"{v[:, 4].mean():.1f} |", flush=True)


def large(a) -> None:
    from restore.io import read_image, write_image

    src = read_image(ROOT.parent / "shared/data/train" / a.photo).array[..., :3]
    H, W = 3000, 4000
    ph, pw = max(0, H - src.shape[0]), max(0, W - src.shape[1])
    img = np.pad(src, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)), mode="symmetric")[:H, :W]
    hole = blob_mask(H, W, a.fraction, a.seed)
    tmp = Path(a.keep or tempfile.mkdtemp(prefix="inpaint_large_"))
    tmp.mkdir(parents=True, exist_ok=True)
    photo, mask, out = tmp / "photo.png", tmp / "mask.png", tmp / "out.png"
    write_image(photo, img)
    write_image(mask, hole.astype(np.uint8) * 255)
    if out.exists():
        out.unlink()
    cmd = ["/usr/bin/time", "-v", str(ROOT / ".venv/bin/restore"), "inpaint", str(photo), str(mask), "-o", str(out)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"restore failed ({p.returncode}): {p.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024**2
    cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", p.stderr).group(1)) for k in ("User", "System"))
    load = os.getloadavg()[0]
    res = read_image(out).array
    same = bool((res[~hole] == img[~hole]).all())
    changed = float((res[hole] != img[hole]).any(-1).mean())
    print(f"{W}x{H} photo ({a.photo} mirrored out), blob mask {hole.mean() * 100:.2f} % (seed {a.seed}); "
          f"the command line with its defaults on this CPU\n")
    print("| wall s | CPU s (user + sys) | load average after | peak RSS GB | known pixels unchanged | "
          "hole pixels changed |\n|---|---|---|---|---|---|")
    print(f"| {wall:.1f} | {cpu:.1f} | {load:.1f} | {rss:.2f} | {'yes' if same else 'NO'} | {changed * 100:.1f} % |")
    print("\n" + " ".join(cmd[2:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    m = sub.add_parser("margin")
    m.add_argument("margins", nargs="+", type=int)
    m.add_argument("--limit", type=int, default=4)
    m.add_argument("--fraction", type=float, default=0.01)
    m.add_argument("--pack", default=str(ROOT / ".data/pack"),
                   help="the training pack whose validation split is used (default: .data/pack, as "
                        "make_training_pack.py builds it)")
    g = sub.add_parser("large")
    g.add_argument("--photo", default="polyu40/Canon5D2_bag_mean.JPG")
    g.add_argument("--fraction", type=float, default=0.02)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--keep", default=None, help="folder for the photo, mask and output (default: a temp dir)")
    a = ap.parse_args()
    margin_study(a) if a.mode == "margin" else large(a)


if __name__ == "__main__":
    main()
