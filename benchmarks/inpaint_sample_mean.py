"""Posterior-sample averaging vs deterministic dpir on CBSD68, 80 % random pixels missing.

PSNR rewards the posterior mean; a diffusion sampler gives samples. This averages N samples
(``samples=N``, batched through the network) and compares with dpir on the same images.
Each argument is ``sampler[:key=value...]`` with ``samples=N`` and ``weights=DIR`` allowed:

    python benchmarks/inpaint_sample_mean.py dpir ddrm:sigma_max=0.2 ddrm:sigma_max=0.2:samples=8
"""
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import restore
from restore.evaluate import load_dataset, make_case
from restore.metrics import psnr

from _usage import usage  # noqa: E402

usage(__doc__, 1)
torch.set_num_threads(2)
ds = load_dataset(ROOT.parent / "shared" / "data" / "test" / "CBSD68", 2)
specs = [(s.split(":")[0], dict(kv.split("=") for kv in s.split(":")[1:])) for s in sys.argv[1:]]
for name, kw in specs:
    n = int(kw.pop("samples", 1))
    w = kw.pop("weights", None)
    kw = {k: float(v) for k, v in kw.items()}
    vals, t0 = [], time.time()
    for i, (nm, img) in enumerate(ds):
        c = make_case("inpaint", nm, img, i, mask="random80")
        mask = (~c.known[0].numpy())
        with warnings.catch_warnings():  # 80 % of the pixels are the holes here, as meant: not an inverted mask
            warnings.filterwarnings("ignore", message=".*invert_mask")
            out = restore.inpaint(img, mask, sampler=name, samples=n, seed=0, prior=w, **kw)
        if n > 1:
            out = out[0]
        vals.append(psnr(torch.from_numpy(out.astype(np.float32) / 255).permute(2, 0, 1)[None], c.gt))
    print(name, n, w, kw, f"{np.mean(vals):.2f}", [round(v, 2) for v in vals], f"{(time.time()-t0)/len(ds):.1f}s", flush=True)
