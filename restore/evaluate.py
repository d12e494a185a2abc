"""Evaluation with the published conventions (``../shared/BENCHMARKS.md``).

* denoise: Gaussian noise of std sigma/255 on the [0, 1] image, seeded per image (image
  index), no clipping of the noisy input; PSNR/SSIM on RGB (or gray), no border crop.
* sr: mod-crop to the scale, LR by Pillow bicubic on uint8 (= MATLAB ``imresize``), PSNR
  and SSIM on the Y channel (BT.601) with ``scale`` pixels cropped from each border.
* inpaint: masks of missing pixels (random 50/80/90 %, centred box of 1/4 area, free-form
  strokes; seeded per image) or a folder of mask files; PSNR on the whole image and on the
  hole only.

The classical tools a user would pick instead run in the same loop (``baselines``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .errors import InputError
from .io import READ_EXTS, read_image, read_mask, to_tensor, to_uint8
from .metrics import psnr, rgb_to_y, shave, ssim

__all__ = ["BASELINES", "MASKS", "Case", "evaluate", "load_dataset", "make_case", "score", "summarise"]

MASKS = ("random50", "random80", "random90", "box", "freeform")


@dataclass
class Case:
    """One degraded image: the measurement, the ground truth and how to score it."""

    name: str
    gt: torch.Tensor  # (1, C, H, W) in [0, 1]
    y: torch.Tensor  # measurement: noisy image, LR image, or image with holes zeroed
    task: str
    params: dict = field(default_factory=dict)
    known: torch.Tensor | None = None  # (1, H, W) bool, inpainting
    lr_uint8: np.ndarray | None = None  # sr: the quantised LR image (baselines use it)
    noisy_uint8: np.ndarray | None = None  # denoise: for tools that only take uint8


def load_dataset(root: str | Path, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in READ_EXTS)
    if not files:
        raise InputError(f"{root}: no images")
    files = files[:limit] if limit else files
    out = []
    for p in files:
        out.append((p.stem, to_uint8(read_image(p).color)))
    return out


def make_mask(kind: str, H: int, W: int, seed: int) -> np.ndarray:
    """Hole mask (True = missing) of a standard kind, seeded."""
    rng = np.random.default_rng(seed)
    if kind.startswith("random"):
        frac = int(kind[6:]) / 100.0
        return rng.random((H, W)) < frac
    if kind == "box":
        h, w = H // 2, W // 2
        m = np.zeros((H, W), bool)
        m[(H - h) // 2 : (H - h) // 2 + h, (W - w) // 2 : (W - w) // 2 + w] = True
        return m
    if kind == "freeform":
        import cv2

        m = np.zeros((H, W), np.uint8)
        for _ in range(int(rng.integers(4, 8))):
            x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
            for _ in range(int(rng.integers(3, 7))):
                a = rng.uniform(0, 2 * math.pi)
                ln = int(rng.integers(10, max(11, min(H, W) // 3)))
                x2 = int(np.clip(x + ln * math.cos(a), 0, W - 1))
                y2 = int(np.clip(y + ln * math.sin(a), 0, H - 1))
                cv2.line(m, (x, y), (x2, y2), 1, int(rng.integers(5, 16)))
                x, y = x2, y2
        return m.astype(bool)
    raise InputError(f"unknown mask kind '{kind}' (choose from {', '.join(MASKS)})")


def make_case(task: str, name: str, img: np.ndarray, index: int, *, sigma: float = 25, scale: int = 4,
              mask: str = "random80", masks_dir: Path | None = None) -> Case:
    """Synthesise the degradation of one clean uint8 image (seeded by ``index``)."""
    if task == "denoise":
        gt = to_tensor(img)
        g = torch.Generator().manual_seed(index)
        y = gt + sigma / 255.0 * torch.randn(gt.shape, generator=g)
        noisy8 = (y.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        return Case(name, gt, y, task, {"sigma": sigma}, noisy_uint8=noisy8.squeeze())
    if task == "sr":
        from PIL import Image

        H, W = img.shape[:2]
        H, W = H - H % scale, W - W % scale
        hr = np.ascontiguousarray(img[:H, :W])
        lr = np.asarray(Image.fromarray(hr).resize((W // scale, H // scale), Image.BICUBIC))
        return Case(name, to_tensor(hr), to_tensor(lr), task, {"scale": scale}, lr_uint8=lr)
    if task == "inpaint":
        H, W = img.shape[:2]
        if masks_dir is not None:
            cands = [p for p in Path(masks_dir).iterdir() if p.stem == name]
            if not cands:
                raise InputError(f"{masks_dir}: no mask for {name}")
            known = read_mask(cands[0], (H, W))
        else:
            known = ~make_mask(mask, H, W, index)
        gt = to_tensor(img)
        kt = torch.from_numpy(known)[None]
        return Case(name, gt, gt * kt, task, {"mask": mask if masks_dir is None else str(masks_dir)}, known=kt)
    raise InputError(f"unknown task '{task}'")


def score(case: Case, out: torch.Tensor) -> dict:
    """PSNR / SSIM with the task's convention (and hole PSNR for inpainting)."""
    out = out.detach().float().cpu().clamp(0, 1)
    gt = case.gt
    if case.task == "sr":
        s = case.params["scale"]
        a, b = shave(rgb_to_y(out), s), shave(rgb_to_y(gt), s)
        return {"psnr": psnr(a, b), "ssim": ssim(a, b)}
    r = {"psnr": psnr(out, gt), "ssim": ssim(out, gt)}
    if case.task == "inpaint":
        hole = ~case.known[0]
        mse = float(((out - gt) ** 2)[:, :, hole].mean())
        r["psnr_hole"] = 10 * math.log10(1.0 / max(mse, 1e-12))
    return r


# -- classical baselines -------------------------------------------------------------------
def _np01(t: torch.Tensor) -> np.ndarray:
    a = t[0].detach().cpu().numpy().transpose(1, 2, 0)
    return a[:, :, 0] if a.shape[2] == 1 else a


def _t(a: np.ndarray) -> torch.Tensor:
    return to_tensor(np.asarray(a, dtype=np.float32) if a.dtype.kind == "f" else a)


def _pil_up(case: Case, method: str) -> torch.Tensor:
    from PIL import Image

    s = case.params["scale"]
    lr = case.lr_uint8
    up = Image.fromarray(lr).resize((lr.shape[1] * s, lr.shape[0] * s), getattr(Image, method))
    return _t(np.asarray(up))


def _cv2_inpaint(case: Case, flag: str) -> torch.Tensor:
    import cv2

    img = (_np01(case.y) * 255).round().astype(np.uint8)
    hole = (~case.known[0]).numpy().astype(np.uint8)
    return _t(cv2.inpaint(img, hole, 3, getattr(cv2, flag)))


def _biharmonic(case: Case) -> torch.Tensor:
    from skimage.restoration import inpaint_biharmonic

    a = _np01(case.y).astype(np.float64)
    hole = (~case.known[0]).numpy()
    return _t(inpaint_biharmonic(a, hole, channel_axis=-1 if a.ndim == 3 else None).astype(np.float32))


def _cv2_nlm(case: Case) -> torch.Tensor:
    import cv2

    n8 = case.noisy_uint8
    h = float(case.params["sigma"])
    if n8.ndim == 3:
        return _t(cv2.fastNlMeansDenoisingColored(n8, None, h, h, 7, 21))
    return _t(cv2.fastNlMeansDenoising(n8, None, h, 7, 21))


def _sk(case: Case, which: str) -> torch.Tensor:
    from skimage import restoration as R

    a = _np01(case.y).astype(np.float64)
    s = case.params["sigma"] / 255.0
    ch = -1 if a.ndim == 3 else None
    if which == "nlm":
        out = R.denoise_nl_means(a, h=0.8 * s, sigma=s, fast_mode=True, patch_size=5, patch_distance=6, channel_axis=ch)
    elif which == "tv":
        out = R.denoise_tv_chambolle(a, weight=1.0 * s, channel_axis=ch)
    else:
        out = R.denoise_wavelet(a, sigma=s, channel_axis=ch, convert2ycbcr=a.ndim == 3, method="BayesShrink",
                                mode="soft", rescale_sigma=True)
    return _t(out.astype(np.float32))


def bm3d_denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(C)BM3D of a ``(1, C, H, W)`` image in [0, 1] at noise ``sigma`` ([0, 1] units);
    needs the ``bm3d`` package (the ``bench`` extras)."""
    import bm3d

    a = _np01(x).astype(np.float64)
    out = bm3d.bm3d_rgb(a, sigma) if a.ndim == 3 else bm3d.bm3d(a, sigma)
    return _t(np.asarray(out, dtype=np.float32))


def _bm3d(case: Case) -> torch.Tensor:
    return bm3d_denoise(case.y, case.params["sigma"] / 255.0)


#: name -> (task, function(case) -> tensor, slow?)
BASELINES: dict[str, tuple[str, Callable[[Case], torch.Tensor], bool]] = {
    "bicubic": ("sr", lambda c: _pil_up(c, "BICUBIC"), False),
    "lanczos": ("sr", lambda c: _pil_up(c, "LANCZOS"), False),
    "opencv-telea": ("inpaint", lambda c: _cv2_inpaint(c, "INPAINT_TELEA"), False),
    "opencv-ns": ("inpaint", lambda c: _cv2_inpaint(c, "INPAINT_NS"), False),
    "skimage-biharmonic": ("inpaint", _biharmonic, False),
    "opencv-nlm": ("denoise", _cv2_nlm, False),
    "skimage-nlm": ("denoise", lambda c: _sk(c, "nlm"), False),
    "skimage-tv": ("denoise", lambda c: _sk(c, "tv"), False),
    "skimage-wavelet": ("denoise", lambda c: _sk(c, "wavelet"), False),
    "bm3d": ("denoise", _bm3d, True),
}


def baselines_for(task: str) -> list[str]:
    names = [n for n, (t, _, _) in BASELINES.items() if t == task]
    if "bm3d" in names:
        try:
            import bm3d  # noqa: F401
        except ImportError:
            names.remove("bm3d")
    return names


def evaluate(
    task: str,
    dataset: list[tuple[str, np.ndarray]],
    *,
    methods: list[str],
    steps: list[int | None] | None = None,
    baselines: list[str] = (),
    slow_limit: int | None = None,
    prior=None,
    device: str = "cpu",
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    keep_outputs: bool = False,
    **degrade,
) -> list[dict]:
    """Score samplers (each at each step count) and baselines on a dataset; one row per
    (image, method). ``slow_limit`` caps the images the slow baselines (BM3D) see."""
    from .api import run

    rows = []
    steps = steps or [None]
    for i, (name, img) in enumerate(dataset):
        case = make_case(task, name, img, i, **degrade)
        jobs = [(m, s) for m in methods for s in steps] + [(b, None) for b in baselines]
        for meth, st in jobs:
            if meth in BASELINES:
                if BASELINES[meth][2] and slow_limit is not None and i >= slow_limit:
                    continue
                t0 = time.perf_counter()
                out = BASELINES[meth][1](case)
                secs, used = time.perf_counter() - t0, None
                kind = "classical"
            else:
                kw = {"known": case.known} if task == "inpaint" else {}
                if task == "denoise":
                    kw["sigma"] = case.params["sigma"] / 255.0
                if task == "sr":
                    kw["scale"] = case.params["scale"]
                sampler, hyper = parse_method(meth)
                res = run(case.y, task, sampler=sampler, steps=st, seed=seed, device=device, prior=prior, **kw, **hyper)
                out, secs, used, kind = res.image, res.seconds, res.steps, "restore"
            r = {"image": name, "method": meth, "kind": kind, "steps": used, "seconds": secs, **score(case, out)}
            if keep_outputs:
                r["_out"], r["_case"] = out, case
            rows.append(r)
            if progress:
                progress(f"{name} {meth}{'' if used is None else f'@{used}'}: {r['psnr']:.2f} dB")
    return rows


def parse_method(spec: str) -> tuple[str, dict]:
    """``"dpir@sigma_max=0.2,eta=0"`` -> ``("dpir", {"sigma_max": 0.2, "eta": 0.0})``
    (options after ``@``, separated by ``;`` or ``,``)."""
    name, _, opts = spec.partition("@")
    hyper = {}
    for kv in filter(None, opts.replace(";", ",").split(",")):
        k, _, v = kv.partition("=")
        try:
            hyper[k.strip()] = int(v) if v.strip().lstrip("-").isdigit() else float(v)
        except ValueError:
            hyper[k.strip()] = v.strip()
    return name, hyper


def summarise(rows: list[dict]) -> list[dict]:
    """Mean per (method, steps): PSNR, SSIM, hole PSNR, seconds per image, image count."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["steps"], r["kind"]), []).append(r)
    out = []
    for (m, s, k), rs in groups.items():
        row = {"method": m, "steps": s, "kind": k, "images": len(rs),
               "psnr": float(np.mean([r["psnr"] for r in rs])), "ssim": float(np.mean([r["ssim"] for r in rs])),
               "seconds": float(np.mean([r["seconds"] for r in rs]))}
        if "psnr_hole" in rs[0]:
            row["psnr_hole"] = float(np.mean([r["psnr_hole"] for r in rs]))
        out.append(row)
    return out


def markdown_table(summary: list[dict]) -> str:
    hole = any("psnr_hole" in r for r in summary)
    head = "| method | steps | images | PSNR | SSIM |" + (" hole PSNR |" if hole else "") + " s/image |"
    sep = "|---|---|---|---|---|" + ("---|" if hole else "") + "---|"
    lines = [head, sep]
    for r in summary:
        lines.append(
            f"| {r['method']}{'' if r['kind'] == 'restore' else ' (classical)'} | {r['steps'] or '-'} | {r['images']} | "
            f"{r['psnr']:.2f} | {r['ssim']:.4f} |" + (f" {r.get('psnr_hole', float('nan')):.2f} |" if hole else "")
            + f" {r['seconds']:.2f} |"
        )
    return "\n".join(lines)
