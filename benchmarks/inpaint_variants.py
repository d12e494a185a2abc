"""Variants of plug-and-play inpainting on CBSD68 with 80 % random pixels missing.
(``bm3d_pnp*``: the same loop with CBM3D as the denoiser, a calibration of how much the
denoiser, not the loop, decides; needs the ``bm3d`` package of the bench extras.)

Tries what could close the gap to the issue's bar (+2 dB over biharmonic): other noise
schedules, a biharmonic start, noise injection with iterate averaging. Prints mean PSNR,
the gain over scikit-image biharmonic on the same images, seconds per image.

    python benchmarks/inpaint_variants.py 2          # first 2 CBSD68 images, all variants
    python benchmarks/inpaint_variants.py 4 dpir20_k0.2,dpir20_log0.2_0.01
    python benchmarks/inpaint_variants.py 3 dpir20_rho3_0.2_0.01,dpir50_k0.2   # any schedule by name
    python benchmarks/inpaint_variants.py 12 dpir20_log0.2_0.01,dpir20_log0.2_0.005_m0.5  # _mB: momentum B
"""
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from skimage.restoration import inpaint_biharmonic

from restore.api import get_prior
from restore.evaluate import load_dataset, make_case
from restore.tasks.denoise import bm3d_denoise
from restore.metrics import psnr
from restore.prior import karras_sigmas
from restore.samplers.common import denoise, randn_like
from restore.tasks.inpaint import Inpaint

from _usage import usage  # noqa: E402

usage(__doc__)
torch.set_num_threads(2)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 2
which = sys.argv[2].split(",") if len(sys.argv) > 2 else None
ds = load_dataset(ROOT.parent / "shared" / "data" / "test" / "CBSD68", N)
prior = get_prior(None, torch.device("cpu"))
cases = [make_case("inpaint", n, img, i, mask="random80") for i, (n, img) in enumerate(ds)]

def karras(n, lo, hi):
    return karras_sigmas(n, lo, hi).tolist()

def logspace(n, lo, hi):  # DPIR's own schedule: log-uniform sigmas
    return np.geomspace(hi, lo, n).tolist()

def ensemble(z, s):  # mean over the 8 flips/rotations: 8 network calls
    return torch.stack([denoise(prior, z, s, True, pose=k) for k in range(8)]).mean(0)


def cbm3d(z, s):  # the classical denoiser in the same loop, for calibration (bm3d package)
    return bm3d_denoise(z.clamp(0, 1), s).clamp(0, 1)


def dpir(op, y, sig, init=None, noise=0.0, avg=0, g=None, poses=8, x8=False, den=None, soft=0.0, momentum=0.0):
    z = prev = op.init(y) if init is None else init
    outs = []
    for i, s in enumerate(sig):
        beta = momentum[i] if isinstance(momentum, list) else momentum  # a list: one per step
        zz = z + beta * (z - prev) if beta else z  # as the registered dpir's momentum
        prev = z
        se = s
        if noise > 0:
            zz = zz + noise * s * randn_like(z, g)
            se = s * math.sqrt(1 + noise**2)
        if den is not None:
            x0 = den(zz, se)
        else:
            x0 = ensemble(zz, se) if x8 else denoise(prior, zz, se, True, pose=i % poses)
        # noiseless: known pixels from y (as the registered dpir); soft > 0 pretends a measurement
        # noise of that std (DPIR's mu = 0.23 soft^2 / s^2), the known pixels are put back at the end
        z = op.prox(x0, y, 0.23 * soft**2 / s**2 if soft > 0 else 0.0)
        outs.append(z)
    if avg:
        z = torch.stack(outs[-avg:]).mean(0)
    return op.prox(z, y, 0.0) if soft > 0 else z


def parse_schedule(name):
    """'dpirN_kHI' (Karras, rho 7, down to 0.005), 'dpirN_rhoR_HI_LO' (Karras, rho R),
    'dpirN_logHI_LO' (log-uniform): the same dpir loop on that schedule, N steps; a last
    part '_mB' adds dpir's momentum B."""
    head, _, rest = name.partition("_")
    if not head.startswith("dpir") or not head[4:].isdigit() or not rest:
        return None
    n = int(head[4:])
    parts = rest.split("_")
    mom = 0.0
    if len(parts) > 1 and parts[-1].startswith("m"):
        try:
            mom = float(parts.pop()[1:])
        except ValueError:
            return None
    if parts[0].startswith("k") and len(parts) == 1:
        sig = karras(n, 0.005, float(parts[0][1:]))
    elif parts[0].startswith("rho") and len(parts) == 3:
        sig = karras_sigmas(n, float(parts[2]), float(parts[1]), rho=float(parts[0][3:])).tolist()
    elif parts[0].startswith("log") and len(parts) == 2:
        sig = logspace(n, float(parts[1]), float(parts[0][3:]))
    else:
        return None
    return lambda op, y, c: dpir(op, y, sig, momentum=mom)


variants = {
    "pushpull_init": lambda op, y, c: op.init(y),
    "dpir20_k0.2": parse_schedule("dpir20_k0.2"),
    "dpir20_log0.2_0.01": parse_schedule("dpir20_log0.2_0.01"),
    "dpir20_log0.3_0.02": parse_schedule("dpir20_log0.3_0.02"),
    "bih_dpir20_k0.1": lambda op, y, c: dpir(op, y, karras(20, 0.005, 0.1), init=c["bih"]),
    "bih_dpir20_k0.2": lambda op, y, c: dpir(op, y, karras(20, 0.005, 0.2), init=c["bih"]),
    "bm3d_pnp20_k0.2": lambda op, y, c: dpir(op, y, karras(20, 0.005, 0.2), init=c["bih"], den=cbm3d),
    "bm3d_pnp20_log0.1_0.01": lambda op, y, c: dpir(op, y, logspace(20, 0.01, 0.1), init=c["bih"], den=cbm3d),
    "dpir20_soft3": lambda op, y, c: dpir(op, y, karras(20, 0.005, 0.2), soft=3 / 255),
    "dpir20_soft6": lambda op, y, c: dpir(op, y, karras(20, 0.005, 0.2), soft=6 / 255),
    "dpir20_blend_bih0.1": lambda op, y, c: 0.9 * dpir(op, y, karras(20, 0.005, 0.2)) + 0.1 * c["bih"],
    "dpir20_blend_bih0.2": lambda op, y, c: 0.8 * dpir(op, y, karras(20, 0.005, 0.2)) + 0.2 * c["bih"],
    "dpir20_x8mean": lambda op, y, c: dpir(op, y, karras(20, 0.005, 0.2), x8=True),
    "dpir160_k0.2": parse_schedule("dpir160_k0.2"),
    "dpir20_noise0.5": lambda op, y, c: dpir(op, y, karras(20, 0.005, 0.2), noise=0.5, g=torch.Generator().manual_seed(0)),
    "dpir20_noise1_avg5": lambda op, y, c: dpir(op, y, karras(20, 0.005, 0.2), noise=1.0, avg=5, g=torch.Generator().manual_seed(0)),
    "dpir20_log0.2_0.005_m0.5_avg3": lambda op, y, c: dpir(op, y, logspace(20, 0.005, 0.2), momentum=0.5, avg=3),
    "dpir20_log0.2_0.005_mramp0.3_0.7": lambda op, y, c: dpir(op, y, logspace(20, 0.005, 0.2),
                                                              momentum=np.linspace(0.3, 0.7, 20).tolist()),
    "dpir20_log0.2_0.005_mramp0.7_0.3": lambda op, y, c: dpir(op, y, logspace(20, 0.005, 0.2),
                                                              momentum=np.linspace(0.7, 0.3, 20).tolist()),
}


if which:
    for k in which:
        if k not in variants and (f := parse_schedule(k)) is not None:
            variants[k] = f
    unknown = [k for k in which if k not in variants]
    if unknown:
        sys.exit(f"unknown variants: {', '.join(unknown)}")
    variants = {k: v for k, v in variants.items() if k in which or k == "pushpull_init"}
res = {k: [] for k in ["biharmonic", *variants]}
tim = {k: 0.0 for k in res}
for c in cases:
    gt = c.gt
    known = c.known
    img = (c.y[0].permute(1, 2, 0).numpy()).astype(np.float64)
    t0 = time.time()
    bih = inpaint_biharmonic(img, ~known[0].numpy(), channel_axis=-1)
    tim["biharmonic"] += time.time() - t0
    bih = torch.from_numpy(bih).permute(2, 0, 1)[None].float()
    res["biharmonic"].append(psnr(bih.clamp(0, 1), gt))
    op = Inpaint(known, tuple(gt.shape[1:]))
    for k, f in variants.items():
        t0 = time.time()
        with torch.no_grad():
            out = f(op, c.y, {"bih": bih})
        tim[k] += time.time() - t0
        res[k].append(psnr(out.clamp(0, 1), gt))
for k, v in res.items():
    d = np.mean(v) - np.mean(res["biharmonic"])
    print(f"{k:28s} {np.mean(v):6.2f}  (+{d:.2f})  {tim[k]/len(cases):5.1f}s  " + " ".join(f"{x:.2f}" for x in v), flush=True)
