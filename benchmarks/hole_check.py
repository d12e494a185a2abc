"""How inpainting results' holes compare with the band of known pixels around them
(``restore.api._hole_unlike``'s two readings), by sampler and step count: the check that
refuses a fill from pure noise, chosen where failed and sound fills fall apart.

    OMP_NUM_THREADS=1 python benchmarks/hole_check.py runs/hole/a.jsonl ddnm,ddrm,repaint,pigdm,diffpir,dps,dpir \\
        d,1,2,4 FOLDER [FOLDER...]
    python benchmarks/hole_check.py --summary runs/hole/a.jsonl

Each photo of each FOLDER (the validation crops: BSDS training photos, not a test set) gets a
centred box over a quarter of it and a ``thick`` stroke mask (seed 3); each sampler runs with
``fill="mean"`` (the sampler itself) at its default steps (``d``) and at the step counts given,
the check off. One line per run: the share of the holes' pixels with a channel at 0 or 255 and
the band's (16 px), the holes' mean pixel-to-pixel change over the band's (``busy``, the band's
at least 6/255), and the RMS from the photo in the holes (0-255). ``--summary``: the largest of
each at the default steps, the smallest among 1-2 steps, and the refusals the shipped constants
make at each step count.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _usage import usage  # noqa: E402


def readings(img: np.ndarray, out: np.ndarray, hole: np.ndarray) -> dict:
    """The check's readings of ``out`` (uint8 H x W x 3) whose ``hole`` was filled, and its RMS from ``img``."""
    import restore.api as api
    from restore.tasks.inpaint import Inpaint

    o = torch.from_numpy(out.astype(np.float32) / 255).permute(2, 0, 1)[None]
    op = Inpaint(torch.from_numpy(~hole), tuple(o.shape[1:]))
    sat_hole, sat_band, busy = api._hole_readings(op, o)[0]
    rms = float(np.sqrt(((out.astype(np.float64) - img)[hole] ** 2).mean()))
    return {"sat_hole": sat_hole, "sat_band": sat_band, "busy": busy, "rms": rms}


def collect(out_path: Path, samplers: list[str], steps: list[int | None], folders: list[str]) -> None:
    import restore
    import restore.api as api
    from restore.io import read_image
    from restore.tasks.inpaint import make_mask

    torch.set_num_threads(1)
    api.HOLE_SATURATED = api.HOLE_BUSY = float("inf")  # the readings of every result, refused or not
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("a") as f:
        for folder in folders:
            for p in sorted(Path(folder).glob("*.png")):
                img = read_image(p).array[..., :3]
                h, w = img.shape[:2]
                box = np.zeros((h, w), bool)
                box[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = True
                for kind, hole in (("box", box), ("thick", np.asarray(make_mask("thick", h, w, seed=3), bool))):
                    for s in samplers:
                        for st in steps:
                            t0 = time.time()
                            rec = {"img": p.name, "kind": kind, "sampler": s, "steps": st}
                            try:
                                with warnings.catch_warnings():
                                    warnings.simplefilter("ignore")
                                    out = restore.inpaint(img, hole, sampler=s, steps=st, fill="mean")
                                rec.update(readings(img.astype(np.float64), out, hole))
                            except Exception as e:  # noqa: BLE001 - another check's refusal, recorded
                                rec["error"] = str(e)[:200]
                            rec["seconds"] = round(time.time() - t0, 1)
                            f.write(json.dumps(rec) + "\n")
                            f.flush()


def summary(path: Path) -> None:
    import restore.api as api

    rs = [json.loads(line) for line in path.open()]
    ok = [r for r in rs if "error" not in r]
    print(f"{len(rs)} runs, {len(rs) - len(ok)} refused by the measurement check (dps, pigdm at 1 step)")
    sound = [r for r in ok if r["steps"] is None or r["sampler"] == "dpir"]
    few = [r for r in ok if r["steps"] in (1, 2) and r["sampler"] != "dpir"]
    for name, rows in (("default steps (and dpir)", sound), ("1-2 steps", few)):
        if rows:
            sat = [r["sat_hole"] - r["sat_band"] for r in rows]
            busy = [r["busy"] for r in rows]
            print(f"{name}: {len(rows)} runs; holes' share at 0 or 255 over the band's {min(sat):.2f}-{max(sat):.2f}, "
                  f"busy {min(busy):.2f}-{max(busy):.2f}")
    for st in sorted({r["steps"] for r in ok}, key=lambda v: -1 if v is None else v):
        rows = [r for r in ok if r["steps"] == st and r["sampler"] != "dpir"]
        refused = [r for r in rows if r["sat_hole"] - r["sat_band"] > api.HOLE_SATURATED or r["busy"] > api.HOLE_BUSY]
        print(f"steps {'default' if st is None else st}: {len(refused)} of {len(rows)} refused "
              f"({', '.join(sorted({r['sampler'] for r in refused})) or 'none'})")


def main() -> None:
    usage(__doc__, 2)
    args = sys.argv[1:]
    if args[0] == "--summary":
        summary(Path(args[1]))
        return
    usage(__doc__, 4)
    steps = [None if s == "d" else int(s) for s in args[2].split(",")]
    collect(Path(args[0]), args[1].split(","), steps, args[3:])
    summary(Path(args[0]))


if __name__ == "__main__":
    main()
