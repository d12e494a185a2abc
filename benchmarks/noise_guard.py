"""The estimated noise level checked with the prior (``restore.tasks.denoise.lowered_level``):
a level read from a photo is lowered while what the prior takes away at it follows the photo's
own texture, and follows it less at the lower level. Per set, the mean PSNR of the default denoise (one evaluation) at the level read
and at the level the check leaves, against the reference (noisy sets) or against the input
(clean sets: how much a clean photo is changed), and how many levels were lowered.

    OMP_NUM_THREADS=1 python benchmarks/noise_guard.py runs/ng/a.jsonl SET[:N][,SET[:N]...] [--tau T]
        [--fall F] [--sure S]
    python benchmarks/noise_guard.py --summary runs/ng/a.jsonl [--tau T] [--fall F] [--sure S]

SETs are ``benchmarks/noise_pooled.py``'s (validation: BSDS training photos; held out: ImageNet
training photos; PolyU100's development pairs; through 4:2:0 JPEG files as the command line
reads them: ``_j``, a camera JPEG saved again: ``_jj``); ``:N`` takes the first N of a set.
Each record keeps the check's reading at every level it passed, down to a reading of 0.1 or
the floor, so ``--summary --tau T --fall F`` scores other constants (a threshold of 0.1 or
over) without the network; ``--sure S``: lowered also where the reading is over S and does not fall
(``TEXTURE_SURE``; ``--sure 2``: never).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _usage import usage  # noqa: E402


def collect(out: Path, sets: list[str]) -> None:
    import noise_pooled as npd

    from restore import noise
    from restore.api import get_prior
    from restore.metrics import psnr
    from restore.tasks.denoise import LOWER_FLOOR, LOWER_STEP, TEXTURE_TAKEN, _guard_crops, texture_taken

    torch.set_num_threads(1)
    prior = get_prior(None, "cpu")
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["set"], r["name"]) for r in map(json.loads, out.open())} if out.exists() else set()
    with out.open("a") as f, torch.no_grad():
        for spec in sets:
            s, _, n = spec.partition(":")
            for i, (name, y, x, half) in enumerate(npd.images(s)):
                if n and i >= int(n):
                    break
                if (s, name) in done:
                    continue
                ref = x if x is not None else y  # a clean set: the output against its input
                level = noise.estimate_noise(y[0], half).level
                crops, lv, read = _guard_crops(y), level, []
                while lv >= LOWER_FLOOR:  # the check's reading down the levels, to below the threshold
                    t = texture_taken(crops, prior(crops, lv))
                    read.append((lv * 255, t))
                    if t <= min(TEXTURE_TAKEN, 0.1):  # (down past TEXTURE_TAKEN: lower thresholds scored too)
                        break
                    lv *= LOWER_STEP
                levels = sorted({round(v, 4) for v, _ in read} | {round(max(level * 255, 0.01), 4),
                                                                  round(LOWER_FLOOR * 255, 4)})
                rec = {"set": s, "name": name, "level": level * 255, "read": read,
                       "psnr": {str(v): psnr(prior(y, v / 255).clamp(0, 1), ref) for v in levels}}
                if x is not None:
                    rec["noisy"] = psnr(y.clamp(0, 1), x)
                f.write(json.dumps(rec) + "\n")
                f.flush()
            print(f"collected {spec}", flush=True)


def guarded(r: dict, tau: float, fall: float, sure: float | None = None) -> float:
    """The level the check leaves at threshold ``tau`` (0-255), from the record's readings: lowered
    while the reading is over ``tau`` and falls by ``fall`` one step lower (``lowered_level``'s rule),
    or (``sure``) while it is over ``sure``, falling or not."""
    rd = r["read"]
    if not rd or rd[0][1] <= tau:
        return r["level"]
    lv, t = rd[0]
    for v, t2 in rd[1:]:
        if t2 > t - fall and (sure is None or t <= sure):
            break
        lv, t = v, t2
        if t <= tau:
            break
    return lv


def summary(path: Path, tau: float, fall: float, sure: float | None = None) -> None:
    by = defaultdict(list)
    for r in map(json.loads, path.open()):
        by[r["set"]].append(r)
    print(f"threshold {tau}, fall {fall}" + (f", lowered without a fall over {sure}" if sure is not None else ""))
    print("| set | images | noisy | at the level read | checked | lowered | level read (median) |")
    print("|---|---|---|---|---|---|---|")
    for s, rs in by.items():
        def at(r, lv):
            key = min(r["psnr"], key=lambda k: abs(float(k) - lv))
            return r["psnr"][key]

        read = np.mean([at(r, max(r["level"], 0.01)) for r in rs])
        chk = [guarded(r, tau, fall, sure) for r in rs]
        new = np.mean([at(r, v) for r, v in zip(rs, chk)])
        low = sum(v < r["level"] - 1e-6 for r, v in zip(rs, chk))
        noisy = f"{np.mean([r['noisy'] for r in rs]):.2f}" if "noisy" in rs[0] else "(clean)"
        med = np.median([r["level"] for r in rs])
        print(f"| {s} | {len(rs)} | {noisy} | {read:.2f} | {new:.2f} | {low} | {med:.1f} |")


def main() -> None:
    usage(__doc__, 2)
    args = sys.argv[1:]
    from restore.tasks.denoise import TEXTURE_FALL, TEXTURE_SURE, TEXTURE_TAKEN

    tau, fall, sure = TEXTURE_TAKEN, TEXTURE_FALL, TEXTURE_SURE
    for flag in ("--tau", "--fall", "--sure"):
        if flag in args:
            i = args.index(flag)
            v = float(args[i + 1])
            tau, fall, sure = {"--tau": (v, fall, sure), "--fall": (tau, v, sure), "--sure": (tau, fall, v)}[flag]
            del args[i : i + 2]
    if args[0] == "--summary":
        summary(Path(args[1]), tau, fall, sure)
        return
    collect(Path(args[0]), args[1].split(","))
    summary(Path(args[0]), tau, fall, sure)


if __name__ == "__main__":
    main()
