"""Every registered sampler on every task it serves, on CPU: a 512x512 RGB image and a
333x517 gray image (sr: the output has that size, x2 from a half-size input where it
divides, else the input has that size). Records seconds per image and checks the output.

    python benchmarks/samplers.py                  # all of them
    python benchmarks/samplers.py --only dpir,ddnm # some
    python benchmarks/samplers.py --tasks sr       # every sampler, one task
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

from restore.api import get_prior, run
from restore.samplers import SAMPLERS
from restore.tasks import TASKS, get_task


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=None, help="comma-separated sampler names (default: all)")
    ap.add_argument("--tasks", default=None, help="comma-separated tasks (default: all)")
    a = ap.parse_args()
    only = set(a.only.split(",")) if a.only else None
    tasks = set(a.tasks.split(",")) if a.tasks else None
    prior = get_prior(None, torch.device("cpu"))
    cmd = "python benchmarks/samplers.py" + (f" --only {a.only}" if a.only else "") + (
        f" --tasks {a.tasks}" if a.tasks else "")
    print(f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} CPU ({torch.get_num_threads()} threads), "
          f"torch {torch.__version__}; command: `{cmd}`\n")
    print("| sampler | task | image | NFE | seconds | output |\n|---|---|---|---|---|---|")
    g = torch.Generator().manual_seed(0)
    images = {"512x512 RGB": torch.rand(1, 3, 512, 512, generator=g), "333x517 gray": torch.rand(1, 1, 333, 517, generator=g)}
    for name, spec in SAMPLERS.items():
        if only is not None and name not in only:
            continue
        for task in TASKS.names():
            if not spec.serves(get_task(task).capabilities) or (tasks is not None and task not in tasks):
                continue
            for label, x in images.items():
                kw = {}
                inp = x
                if task == "inpaint":
                    kw["known"] = torch.rand(1, *x.shape[-2:], generator=g) > 0.5
                elif task == "denoise":
                    kw["sigma"] = 25 / 255
                else:
                    kw["scale"] = 2
                    inp = x[..., ::2, ::2] if x.shape[-1] % 2 == 0 and x.shape[-2] % 2 == 0 else x
                t0 = time.perf_counter()
                res = run(inp, task, sampler=name, prior=prior, **kw)
                secs = time.perf_counter() - t0
                out = res.image
                ok = bool(torch.isfinite(out).all())
                print(f"| {name} | {task} | {label}{' (input ' + 'x'.join(map(str, inp.shape[-2:][::-1])) + ')' if task == 'sr' else ''} "
                      f"| {res.steps} | {secs:.1f} | {'x'.join(map(str, out.shape[-2:][::-1]))}{'' if ok else ' NOT FINITE'} |",
                      flush=True)


if __name__ == "__main__":
    main()
