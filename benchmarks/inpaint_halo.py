"""Masks drawn tight around an object (issue 24): the object's blurred edge, left just outside
the mask, tints the fill (a pale ghost of the object). `restore inpaint`'s default
(`--mask-dilate` auto: holes drawn tight grow by 2 px, loose ones are kept) against fixed
growths, on synthetic removals from validation photos.

Each case pastes an object (a union of 1-3 ellipses cut from an ImageNet training photo) on a
BSDS training photo with its edge blurred by a Gaussian of std 0.7, 1.5 or 2.5 px, or not at
all (0: a hard edge, no halo), and masks it at half opacity (what a segmentation model or a
careful hand draws); a fifth kind has no object: the same mask over the scene itself (a loose
mask, nothing to grow). The truth is the photo without the object.

Reported, per variant: PSNR of the result against the truth over the object's footprint (its
pixels of any opacity, grown by 12 px), the same after a Gaussian blur of 4 px (the ghost is a
low-frequency tint; the blur averages out which patches PatchMatch copied), the share of the
edge's tint left outside the grown hole (the sum over pixels of the squared colour difference
to the truth), and how often the hole grew.

    OMP_NUM_THREADS=2 python benchmarks/inpaint_halo.py 40 "0;1;2;3;auto"
    python benchmarks/inpaint_halo.py 40 auto --masks-only      # tint and growth only (no fills)
    python benchmarks/inpaint_halo.py 64 --ratios               # the border statistic per kind of hole
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore.api import get_prior, run  # noqa: E402
from restore.evaluate import load_dataset  # noqa: E402
from restore.tasks import inpaint as ip  # noqa: E402
from restore.tasks.base import psnr_where  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "train"
EDGES = (0.0, 0.7, 1.5, 2.5, None)  # Gaussian std of the object's edge; None: no object
SPECK_EDGES = (0.0, 0.5, 0.8, 1.2, None)  # the same for a scan's dust (a scanner's optics)


def _shape(H: int, W: int, rng: np.random.Generator) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    cx, cy = rng.integers(W // 4, 3 * W // 4), rng.integers(H // 4, 3 * H // 4)
    for _ in range(int(rng.integers(1, 4))):
        ax, ay = int(rng.integers(15, 55)), int(rng.integers(15, 55))
        ox, oy = int(rng.integers(-25, 26)), int(rng.integers(-25, 26))
        cv2.ellipse(m, (int(cx + ox), int(cy + oy)), (ax, ay), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return m.astype(np.float32)


def _dust(H: int, W: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A scan's dust: 30 specks (discs of radius 0.6-2.5 px, antialiased) and 2 hairs (smooth curves
    1 or 2 px wide, 30-90 px long), as an opacity map, and their colours (white or near black)."""
    yy, xx = np.mgrid[:H, :W].astype(np.float32)
    a, col = np.zeros((H, W), np.float32), np.zeros((H, W, 3), np.float32)
    for _ in range(30):
        cy, cx, r = rng.uniform(8, H - 8), rng.uniform(8, W - 8), rng.uniform(0.6, 2.5)
        d = np.clip(r + 0.5 - np.hypot(yy - cy, xx - cx), 0, 1)
        col[d > a] = 242 if rng.random() < 0.7 else 12
        a = np.maximum(a, d)
    for _ in range(2):
        t = np.linspace(0, 1, 200)
        x0, y0, L, ang, c = rng.uniform(30, W - 30), rng.uniform(30, H - 30), rng.uniform(30, 90), \
            rng.uniform(0, 6.28), rng.uniform(-3, 3)
        pts = np.stack([x0 + L * t * np.cos(ang + c * t), y0 + L * t * np.sin(ang + c * t)], 1)
        h = np.zeros((H * 4, W * 4), np.uint8)  # drawn at 4x, reduced: antialiased
        cv2.polylines(h, [np.round(pts * 4).astype(np.int32)], False, 255, int(rng.integers(1, 3)) * 4)
        d = cv2.resize(h.astype(np.float32) / 255, (W, H), interpolation=cv2.INTER_AREA)
        col[d > a] = 242 if rng.random() < 0.5 else 12
        a = np.maximum(a, d)
    return a, col


def cases(n: int, rough: bool = False, specks: bool = False):
    """``n`` removals: (name, truth, photo with the object, tight mask, opacity, edge std).
    ``rough``: the tight mask as a segmentation tool draws it, not at exactly half opacity: the
    opacity it cuts at wanders along the outline between 0.15 and 0.85 (smooth noise, about 20 px
    across), and the mask is then eroded by 0, 1 or 2 px (cut inside the object; specks: not
    eroded). ``specks``: a scan's dust and hairs (:func:`_dust`) in place of the object."""
    bgs = load_dataset(str(DATA / "bsds"), n, max(1, 398 // n))
    objs = load_dataset(str(DATA / "imagenet1k"), n, max(1, 880 // n))
    for i, ((name, bg), (_, ob)) in enumerate(zip(bgs, objs)):
        rng = np.random.default_rng(7000 + i)
        H, W = bg.shape[:2]
        if specks:
            s, ob = _dust(H, W, rng)
        else:
            s = _shape(H, W, rng)
        edge = (SPECK_EDGES if specks else EDGES)[i % len(EDGES)]
        a = s * 0 if edge is None else (cv2.GaussianBlur(s, (0, 0), edge) if edge > 0 else s)
        ob = ob if specks else cv2.resize(ob, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32)
        photo = np.clip((a[..., None] * ob + (1 - a[..., None]) * bg).round(), 0, 255).astype(np.uint8)
        mask = s >= 0.5 if edge is None else a >= 0.5
        if rough and edge is not None:
            t = cv2.GaussianBlur(rng.random((H, W)).astype(np.float32), (0, 0), 10)
            t = 0.15 + 0.7 * (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
            mask = ip.dilate_hole(~((a >= t) if edge > 0 else s >= 0.5), 0 if specks else int(rng.integers(0, 3)))
            mask = ~mask
        yield name, bg, photo, mask, a, edge


def grown(photo: np.ndarray, hole: np.ndarray, variant: str) -> np.ndarray:
    """The holes a variant fills: ``N`` (grown by N px), ``auto`` (the default's) or
    ``auto:GAP:GROW`` (the default's test with another ring gap and growth)."""
    if variant.startswith("auto"):
        gap, grow = (int(v) for v in variant.split(":")[1:]) if ":" in variant else (ip.TIGHT_GAP, ip.TIGHT_GROW)
        return ip.tight_holes(photo.astype(np.float32) / 255, hole, grow=grow, gap=gap)[0]
    return ip.dilate_hole(hole, int(variant))


def _label(edge) -> str:
    return "no object" if edge is None else f"edge {edge}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int)
    ap.add_argument("variants", nargs="?", default="0;2;auto", help="';'-separated: N (grow by N px) or auto")
    ap.add_argument("--masks-only", action="store_true", help="tint left and growth only; no fills")
    ap.add_argument("--rough", action="store_true", help="tight masks cut at a wandering opacity and eroded "
                                                         "by 0-2 px, as segmentation tools draw them")
    ap.add_argument("--specks", action="store_true", help="a scan's dust and hairs in place of the object")
    ap.add_argument("--ratios", action="store_true", help="the border statistic of tight_holes per kind of hole")
    args = ap.parse_args()
    if args.ratios:
        return ratios(args.n)
    variants = args.variants.split(";")
    torch.set_num_threads(2)
    prior = None if args.masks_only else get_prior(None, torch.device("cpu"))
    res: dict = {}
    reach = 4 if args.specks else 12  # the footprint: the object's pixels of any opacity grown by this
    for name, bg, photo, hole, a, edge in cases(args.n, args.rough, args.specks):
        gt = torch.from_numpy(bg.astype(np.float32) / 255).permute(2, 0, 1)[None]
        x = torch.from_numpy(photo.astype(np.float32) / 255).permute(2, 0, 1)[None]
        foot = torch.from_numpy(cv2.dilate(((a > 0.002) | hole).astype(np.uint8),
                                           np.ones((2 * reach + 1,) * 2, np.uint8)) > 0)
        tint = ((photo.astype(np.float32) - bg) ** 2).sum(-1)
        row = []
        for v in variants:
            g = grown(photo, hole, v)
            r = {"grew": float((g & ~hole).any()), "tint": tint[~g].sum() / max(tint[~hole].sum(), 1e-9)}
            if prior is not None:
                if v == "auto":  # the command line's path
                    o = run(x, "inpaint", prior=prior, mask=hole).image
                else:  # the same as it fills the holes grown
                    o = run(x, "inpaint", prior=prior, mask=g, mask_dilate=0).image
                o = o.clamp(0, 1)

                def lo(t):
                    return torch.from_numpy(cv2.GaussianBlur(t[0].permute(1, 2, 0).numpy(), (0, 0), 4.0)).permute(
                        2, 0, 1)[None]

                r["psnr"], r["psnr_lo"] = psnr_where(o, gt, foot), psnr_where(lo(o), lo(gt), foot)
            res.setdefault((v, _label(edge)), []).append(r)
            row.append(f"{v}: " + " ".join(f"{k} {val:.3f}" for k, val in r.items()))
        print(name, _label(edge), " | ".join(row), flush=True)
    kinds = [_label(e) for e in (SPECK_EDGES if args.specks else EDGES)]
    keys = ["tint", "grew"] + ([] if prior is None else ["psnr", "psnr_lo"])
    what = {"tint": "edge tint left (of as drawn)", "grew": "holes grown", "psnr": "footprint PSNR",
            "psnr_lo": "footprint PSNR after a 4 px blur"}
    counts = ", ".join(f"{k} {len(res[(variants[0], k)])}" for k in kinds if (variants[0], k) in res)
    print(f"\n{args.n} removals ({counts})")
    for key in keys:
        print(f"\n{what[key]}\n\n| grow | all | " + " | ".join(kinds) + " |\n|---|---|" + "---|" * len(kinds))
        for v in variants:
            cells = [np.mean([r[key] for r in res.get((v, k), [])]) if (v, k) in res else float("nan") for k in kinds]
            allv = np.mean([r[key] for k in kinds for r in res.get((v, k), [])])
            print(f"| {v} | {allv:.3f} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")


def ratios(n: int) -> None:
    """Per hole: the share of its border on an edge (the statistic
    :func:`restore.tasks.inpaint.tight_holes` thresholds at TIGHT_SHARE), per kind of removal,
    on LaMa's mask families laid over the photos (nothing under them), on the shipped example
    and on the object-removal gallery's hand-drawn ellipses."""
    from restore.io import hole_from_array, read_image

    def stats(img, hole):
        img = img.astype(np.float32) / 255
        out = []
        for y0, y1, x0, x1 in ip.hole_boxes(hole, ip.tight_margin()):
            out += _shares(img[y0:y1, x0:x1], hole[y0:y1, x0:x1])
        return out

    per: dict = {}
    for rough in (False, True):
        for name, bg, photo, hole, a, edge in cases(n, rough):
            if not (rough and edge is None):  # the same as without rough
                per.setdefault(_label(edge) + (", rough mask" if rough else ""), []).extend(stats(photo, hole))
    data = load_dataset(str(DATA / "bsds"), n, max(1, 398 // n))
    for kind in ("box", "thick", "medium", "thin"):
        for i, (name, img) in enumerate(data):
            per.setdefault(f"LaMa {kind} over the scene", []).extend(stats(img, ip.make_mask(kind, *img.shape[:2],
                                                                                                  100 + i)))
    m = read_image(ROOT / "examples" / "mask.png").array
    per["the shipped example's mask"] = stats(read_image(ROOT / "examples" / "photo.png").array,
                                              hole_from_array(m if m.ndim == 2 else m[..., 0]))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gallery_removal import PHOTOS, mask_of

    for f, ell in PHOTOS.values():
        img = read_image(DATA / f).array
        per.setdefault("the removal gallery's ellipses", []).extend(stats(img, mask_of(img.shape, ell)))
    cuts = sorted({0.5, 0.6, 0.7, ip.TIGHT_SHARE})
    print("| kind | holes | min | median | max | " + " | ".join(f"share over {c:g}" for c in cuts) + " |")
    print("|---|---|---|---|---|" + "---|" * len(cuts))
    for k, r in per.items():
        r = np.array(r)
        print(f"| {k} | {len(r)} | {r.min():.2f} | {np.median(r):.2f} | {r.max():.2f} | "
              + " | ".join(f"{(r > c).mean():.3f}" for c in cuts) + " |")


def _shares(img: np.ndarray, hole: np.ndarray) -> list[float]:
    """Per hole of the crop with a border: the share of its border pixels on an edge
    (:func:`restore.tasks.inpaint.edge_counts`, which the shipped test thresholds)."""
    on, pixels, *_ = ip.edge_counts(img, hole)
    has = pixels[1:] > 0
    return (on[1:][has] / pixels[1:][has]).tolist()


if __name__ == "__main__":
    main()
