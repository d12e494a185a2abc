"""A noise level per region (camera noise is stronger in some parts of a photo than in others):
how much could telling the prior another level in each region gain over the one level the
default denoise reads? An oracle bound, per set: the default denoise, the prior at f x its
level for f in 0.5 / 0.71 / 1 / 1.41 / 2 (sigma given), the best f per image and the best f
per square block (against the truth; a hard switch, seams not counted).

    OMP_NUM_THREADS=1 python benchmarks/noise_regions.py collect OUT_DIR SET [EVERY]
    python benchmarks/noise_regions.py score OUT_DIR SET [BLOCK]
    python benchmarks/noise_regions.py chroma OUT_DIR SET

``chroma``: the same outputs split into luma and chroma (``Y`` and ``RGB - Y``), each taken from
another factor: is camera noise's chroma, wider than a pixel after demosaicking, better told a
higher level than its luma? Per set, the mean PSNR with the luma at 1 x and the chroma at each
factor, the best pair per image (an oracle), and the chroma at 1.41 x where the noise reads as a
camera's (``whiteness`` 1.4-1.6, a ramp, and a level of 1 or more; read on the stored float16 input).

SETs are ``benchmarks/noise_pooled.py``'s noisy ones with a truth (``camblur_val``: the
synthetic camera on 32 validation photos; ``polyu_dev``: PolyU100's 75 development pairs), and
``white15_val`` / ``clean_val`` (:func:`images`);
``EVERY``: every Nth image; ``BLOCK``: the block side in px (32). ``collect`` keeps each image's
outputs (float16, ``OUT_DIR/SET_NAME.npz``) and skips those already there.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _usage import usage  # noqa: E402

FACTORS = (0.5, 0.71, 1.0, 1.41, 2.0)


def images(which: str):
    """``(name, noisy, truth, half)``: ``noise_pooled``'s sets, and ``white15_val`` (white Gaussian
    noise of std 15 on its validation photos, arrays) and ``clean_val`` (those photos, their own
    truth: what a clean photo loses)."""
    import noise_pooled as npl

    if which in ("white15_val", "clean_val"):
        g = torch.Generator().manual_seed(15)
        for n, img in npl._photos("bsds", 12, 32):
            x = npl.to_tensor(img)
            y = x if which == "clean_val" else x + 15 / 255 * torch.randn(x.shape, generator=g)
            yield n, y, x, None
        return
    yield from npl.images(which)


def collect(out: Path, which: str, every: int) -> None:
    from restore.api import run

    warnings.simplefilter("ignore")  # the same notes for every image
    out.mkdir(parents=True, exist_ok=True)
    for i, (name, y, x, half) in enumerate(images(which)):
        f = out / f"{which}_{name}.npz"
        if i % every or f.exists():
            continue
        res = run(y, "denoise", jpeg_half=half)
        level = float(res.sigma_y)
        outs = [run(y, "denoise", sigma=min(1.0, max(k * level, 0.5 / 255))).image[0].numpy() for k in FACTORS]
        np.savez_compressed(f, x=x[0].numpy().astype(np.float16), y=y[0].numpy().astype(np.float16),
                            d=res.image[0].numpy().astype(np.float16), outs=np.stack(outs).astype(np.float16),
                            level=level)
        print(which, name, f"level {level * 255:.2f}", flush=True)


def score(out: Path, which: str, block: int) -> None:
    rows = []
    for f in sorted(out.glob(f"{which}_*.npz")):
        z = np.load(f)
        x = z["x"].astype(np.float64)
        C, H, W = x.shape
        hb, wb = H // block * block, W // block * block

        def sse(a):  # per block
            e = ((a.astype(np.float64)[:, :hb, :wb] - x[:, :hb, :wb]) ** 2).sum(0)
            return e.reshape(hb // block, block, wb // block, block).sum((1, 3))

        per = np.stack([sse(o) for o in z["outs"]])
        n = C * hb * wb
        db = [10 * np.log10(n / s.sum()) for s in per]
        rows.append([10 * np.log10(n / sse(z["y"]).sum()), 10 * np.log10(n / sse(z["d"]).sum()), *db, max(db),
                     10 * np.log10(n / per.min(0).sum())])
    a = np.array(rows)
    head = ["noisy", "default", *(f"f {k:g}" for k in FACTORS), "best f per image", f"best f per {block}-px block"]
    print(f"{which}: {len(a)} images, mean PSNR (dB) over the image's whole blocks")
    for h, v in zip(head, a.mean(0)):
        print(f"  {h:<26} {v:.2f}")


def chroma(out: Path, which: str) -> None:
    from restore.noise import estimate_noise

    w = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64)[:, None, None]
    rows = []
    for f in sorted(out.glob(f"{which}_*.npz")):
        z = np.load(f)
        x = torch.from_numpy(z["x"].astype(np.float64))
        outs = torch.from_numpy(z["outs"].astype(np.float64))
        luma = (outs * w).sum(1, keepdim=True)
        mse = torch.stack([torch.stack([((outs[b] + luma[a] - luma[b]).clamp(0, 1) - x).pow(2).mean()
                                        for b in range(len(FACTORS))]) for a in range(len(FACTORS))])
        e = estimate_noise(torch.from_numpy(z["y"].astype(np.float32)))
        on = min(max((e.whiteness - 1.4) / 0.2, 0.0), 1.0) * (float(z["level"]) * 255 >= 1)
        k = FACTORS.index(1.0)
        rule = (1 - on) * mse[k, k] + on * mse[k, k + 1]  # (the chroma's factor in between: the errors' mix)
        rows.append([*(10 * torch.log10(1 / mse[k])).tolist(), float(10 * torch.log10(1 / mse.min())),
                     float(10 * torch.log10(1 / mse[k - 1, k + 1])), float(10 * torch.log10(1 / rule)), on > 0])
    a = np.array(rows, dtype=float)
    print(f"{which}: {len(a)} images, mean PSNR (dB); luma at 1 x the level, chroma at:")
    for i, k in enumerate(FACTORS):
        print(f"  {f'chroma {k:g} x':<30} {a[:, i].mean():.2f}")
    n = len(FACTORS)
    print(f"  best pair per image (oracle)   {a[:, n].mean():.2f}")
    print(f"  luma 0.71 x, chroma 1.41 x     {a[:, n + 1].mean():.2f}")
    print(f"  chroma 1.41 x where a camera's {a[:, n + 2].mean():.2f} ({int(a[:, n + 3].sum())} images)")


def main() -> None:
    usage(__doc__, 3)
    what, out, which = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    extra = int(sys.argv[4]) if len(sys.argv) > 4 else None
    if what == "collect":
        torch.set_num_threads(1)
        collect(out, which, extra or 1)
    elif what == "score":
        score(out, which, extra or 32)
    elif what == "chroma":
        chroma(out, which)
    else:
        sys.exit(f"error: unknown command {what!r} (collect, score or chroma)")


if __name__ == "__main__":
    main()
