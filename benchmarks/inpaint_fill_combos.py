"""Combinations of cached hole fills (issue 24, fourth round): does any mix of the fills we have
beat the shipped scene fill on both hole PSNR and SWD? On validation photos only.

`cache` fills each photo's mask once with every ingredient and keeps them (one .npz per photo
and mask): OpenCV Telea and NS, PatchMatch (pypatchmatch; patch radius 3, 5, 7, and 5 with a
second seed), the prior's posterior mean (--fill mean, whole image) and the CLI's default
(restore inpaint as shipped). `score` combines them without running anything again:

    NAME                          a cached fill: telea ns pm3 pm5 pm7 pm5s1 mean scene; start
                                  (the shipped start without refinement: P:pm5:telea:0.5:8); pp
                                  (push-pull, computed: a smooth fill without Telea's rays); tpN
                                  (Telea up to N px from the border, fading to push-pull by 2N)
    A+B[+C]                       their average
    P:SRC:TGT:PULL:BLUR[:REACH]   SRC's Gaussian-BLUR low frequencies moved PULL of the way to TGT's
                                  (REACH: only up to REACH px into the hole, fading out by 2 REACH)
                                  (the shipped start is P:pm5:telea:0.5:8 with PatchMatch's sources
                                  from the whole photo, which these photos' holes need anyway)
    Q:SRC:TGT:LUMA:CHROMA:BLUR    the same pull, its grey part by LUMA and its colour part by CHROMA
    C:SRC:TGT:PULL:BLUR:CLIP      the low-frequency difference to TGT scaled by min(PULL, CLIP/|d|)
                                  (CLIP in 0-255 units: large departures pulled harder)
    K:SRC:TGT:PULL:BLUR:T         the pull, fading out where the low frequencies differ by T to 2T
                                  (0-255 units): a copied object kept whole, not half transparent
    S:C1,C2,..:TGT:BLUR:PULL:PB   the candidate whose blurred fill is nearest TGT's (ens: their
                                  mean), then pulled PULL towards Telea at PB px
    B:W:INSIDE:BAND               BAND within W px of the hole's border, INSIDE further in
    H:R:THICK:THIN                THICK where the hole survives an opening by a disc of radius R,
                                  THIN elsewhere (per pixel, by the hole's local width)

    OMP_NUM_THREADS=2 python benchmarks/inpaint_fill_combos.py cache ../shared/data/train/bsds 32 12 box,thick \
        runs/combos
    OMP_NUM_THREADS=2 python benchmarks/inpaint_fill_combos.py score runs/combos box "telea;scene;P:pm5:telea:0.5:8"
    OMP_NUM_THREADS=2 python benchmarks/inpaint_fill_combos.py score runs/combos thick "scene;H:16:scene:mean" --swd

Hole PSNR for every photo, paired differences to the first variant (mean, standard deviation,
standard error of an 8-image mean); with --swd also SWD and the gradient ratio (slow: ~2 s
per fill), --limit N on the first N photos.
"""
import argparse
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from restore.metrics import gradient_ratio, swd  # noqa: E402
from restore.tasks.base import psnr_where  # noqa: E402
from restore.tasks.inpaint import _pull_target, hole_depth, pull_towards, push_pull_np  # noqa: E402


def cache(root, n, every, masks, out, long_side=None, only=None):
    from patchmatch import patch_match as pm

    from restore.api import get_prior, run
    from restore.evaluate import load_dataset, make_case

    prior = get_prior(None, torch.device("cpu"))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset(root, n, every)
    if long_side:  # large photos brought to this long side (area resampling keeps their detail)
        data = [(nm, cv2.resize(img, None, fx=long_side / max(img.shape[:2]), fy=long_side / max(img.shape[:2]),
                                interpolation=cv2.INTER_AREA) if max(img.shape[:2]) > long_side else img)
                for nm, img in data]
    for mk in masks:
        for i, (nm, img) in enumerate(data):
            f = out / f"{mk}_{nm}.npz"
            if f.exists():  # resume
                continue
            c = make_case("inpaint", nm, img, i, mask=mk)
            hole = (~c.known[0]).numpy()
            im = np.ascontiguousarray((c.y[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
            h8 = hole.astype(np.uint8) * 255
            d = {"gt": img, "hole": hole, "telea": cv2.inpaint(im, h8, 3, cv2.INPAINT_TELEA),
                 "ns": cv2.inpaint(im, h8, 3, cv2.INPAINT_NS)}
            for name, patch, seed in (("pm3", 3, 0), ("pm5", 5, 0), ("pm7", 7, 0), ("pm5s1", 5, 1)):
                if only and name not in only:
                    continue
                pm.set_random_seed(seed)
                d[name] = pm.inpaint(im, h8, patch_size=patch)
            for name, kw in (("mean", dict(fill="mean", local=False)), ("scene", {})):
                if only and name not in only:
                    continue
                r = run(c.y, "inpaint", prior=prior, known=c.known, **kw).image
                d[name] = (r[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            tmp = f.with_suffix(".tmp.npz")
            np.savez_compressed(tmp, **d)
            tmp.replace(f)
            print(mk, nm, flush=True)


def _blur(a, s):
    return cv2.GaussianBlur(a, (0, 0), s)


def fill(d, name):
    """The fill ``name`` (module docstring) of one cached photo, float in [0, 1] (unclipped)."""
    if name in d:
        return d[name].astype(np.float32) / 255
    if name == "start":  # the shipped start: 11x11 PatchMatch pulled half way to Telea at 8 px
        return fill(d, "P:pm5:telea:0.5:8")
    if name.startswith("tp") and name[2:].isdigit():  # Telea up to N px into the hole, push-pull from 2N on
        gt = np.ascontiguousarray(d["gt"])
        return _pull_target(gt, d["telea"], d["hole"], float(name[2:]))
    if name == "pp":  # push-pull (coarse-to-fine averages of known pixels): smooth, no rays
        return push_pull_np(d["gt"].astype(np.float32) / 255, d["hole"])
    if ":" not in name and "+" in name:
        parts = name.split("+")
        return sum(fill(d, q) for q in parts) / len(parts)
    kind, *a = name.split(":")
    if kind == "P":
        reach = float(a[4]) if len(a) > 4 else math.inf
        return pull_towards(fill(d, a[0]), fill(d, a[1]), d["hole"], float(a[2]), float(a[3]), reach)
    if kind == "Q":
        src, tgt = fill(d, a[0]), fill(d, a[1])
        e = _blur(tgt - src, float(a[4]))
        grey = e.mean(-1, keepdims=True)
        return src + float(a[2]) * grey + float(a[3]) * (e - grey)
    if kind == "C":
        src, tgt = fill(d, a[0]), fill(d, a[1])
        e = _blur(src - tgt, float(a[3]))
        n = np.linalg.norm(e, axis=-1, keepdims=True) + 1e-8
        return src - e + e * np.minimum(float(a[2]), float(a[4]) / 255 / n)
    if kind == "K":
        src, tgt = fill(d, a[0]), fill(d, a[1])
        e = _blur(tgt - src, float(a[3]))
        n = np.linalg.norm(e, axis=-1, keepdims=True)
        keep = np.clip(n * 255 / float(a[4]) - 1, 0, 1)  # 0 below T, 1 from 2T: large departures kept
        return src + float(a[2]) * (1 - keep) * e
    if kind == "S":
        cands = [fill(d, c) for c in a[0].split(",")]
        tgt = sum(cands) / len(cands) if a[1] == "ens" else fill(d, a[1])
        h = d["hole"]
        src = cands[int(np.argmin([float((_blur(c - tgt, float(a[2]))[h] ** 2).mean()) for c in cands]))]
        return src + float(a[3]) * _blur(fill(d, "telea") - src, float(a[4]))
    if kind == "B":
        w = float(a[0])
        dist = hole_depth(d["hole"], outside_known=True)
        return np.where((dist <= w)[..., None], fill(d, a[2]), fill(d, a[1]))
    if kind == "H":
        r = int(a[0])
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        wide = cv2.morphologyEx(d["hole"].astype(np.uint8), cv2.MORPH_OPEN, disc).astype(bool)
        return np.where(wide[..., None], fill(d, a[1]), fill(d, a[2]))
    raise SystemExit(f"unknown variant {name!r}")


def score(folder, mk, variants, with_swd, limit):
    files = sorted(Path(folder).glob(f"{mk}_*.npz"))[:limit]
    if not files:
        raise SystemExit(f"{folder}: no cached {mk} fills (run the cache step first)")
    rows = {v: [] for v in variants}
    for f in files:
        d = dict(np.load(f))
        h = torch.from_numpy(d["hole"])
        gt = torch.from_numpy(d["gt"].astype(np.float32) / 255).permute(2, 0, 1)[None]
        for v in variants:
            o = np.where(d["hole"][..., None], np.clip(fill(d, v), 0, 1), d["gt"].astype(np.float32) / 255)
            o = torch.from_numpy(np.ascontiguousarray(o)).permute(2, 0, 1)[None]
            r = [psnr_where(o, gt, h)]
            if with_swd:
                r += [swd(o, gt, h), gradient_ratio(o, gt, h)]
            rows[v].append(r)
    print(f"\n{mk}, {len(files)} photos of {folder}")
    print("| variant | hole PSNR | - " + variants[0] + " (sd; se of 8) |" + (" SWD | grad ratio |" if with_swd else ""))
    print("|---|---|---|" + ("---|---|" if with_swd else ""))
    base = np.array(rows[variants[0]])
    for v in variants:
        r = np.array(rows[v])
        dd = r[:, 0] - base[:, 0]
        sd = dd.std(ddof=1) if len(dd) > 1 else float("nan")
        extra = f" {r[:, 1].mean():.1f} | {r[:, 2].mean():.2f} |" if with_swd else ""
        print(f"| {v} | {r[:, 0].mean():.2f} | {dd.mean():+.2f} ({sd:.2f}; {sd / np.sqrt(8):.2f}) |" + extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache")
    c.add_argument("root")
    c.add_argument("n", type=int)
    c.add_argument("every", type=int)
    c.add_argument("masks")
    c.add_argument("out")
    c.add_argument("--long-side", type=int, default=None, help="shrink larger photos to this long side")
    c.add_argument("--only", default=None, help="ingredients to make, comma-separated (default: all)")
    s = sub.add_parser("score")
    s.add_argument("folder")
    s.add_argument("mask")
    s.add_argument("variants")
    s.add_argument("--swd", action="store_true")
    s.add_argument("--limit", type=int, default=None)
    a = ap.parse_args()
    torch.set_num_threads(2)
    if a.cmd == "cache":
        cache(a.root, a.n, a.every, a.masks.split(","), a.out, a.long_side, a.only and a.only.split(","))
    else:
        score(a.folder, a.mask, a.variants.split(";"), a.swd, a.limit)


if __name__ == "__main__":
    main()
