"""Choose each task's default sampler, steps and starting noise level by measurement.

Runs every candidate on the first images of the benchmark sets (CPU, conventions of
../shared/BENCHMARKS.md) and prints one table per task; the winners within the CPU budget
(about 20 network evaluations) are what restore/tasks/__init__.py registers.

    python benchmarks/choose_defaults.py --limit 4
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore.api import get_prior
from restore.evaluate import evaluate, load_dataset, markdown_table, summarise

DATA = ROOT.parent / "shared" / "data" / "test"

CANDIDATES = {
    ("inpaint", "random80"): ["dpir@sigma_max=0.05", "dpir@sigma_max=0.1", "dpir@sigma_max=0.2",
                              "ddnm@sigma_max=0.2", "ddnm@sigma_max=1.0", "ddrm@sigma_max=0.2",
                              "diffpir@sigma_max=0.2", "repaint@sigma_max=0.2"],
    ("inpaint", "box"): ["dpir@sigma_max=0.1", "dpir@sigma_max=0.3", "dpir@sigma_max=1.0",
                         "ddnm@sigma_max=1.0", "ddnm@sigma_max=5.0", "repaint@sigma_max=1.0"],
    ("sr", 4): ["dpir@sigma_max=0.1", "dpir@sigma_max=0.2", "dpir@sigma_max=0.4",
                "ddnm@sigma_max=0.3", "ddrm@sigma_max=0.3", "diffpir@sigma_max=0.3", "pigdm@sigma_max=0.3"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=4)
    ap.add_argument("--steps", default="20")
    ap.add_argument("--only", default=None, help="inpaint-random80, inpaint-box or sr-4")
    a = ap.parse_args()
    prior = get_prior(None, __import__("torch").device("cpu"))
    print(f"# choose_defaults: {platform.node()} {platform.machine()}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"limit {a.limit}, steps {a.steps}")
    steps = [int(s) for s in a.steps.split(",")]
    for (task, arg), cands in CANDIDATES.items():
        if a.only and a.only != f"{task}-{arg}":
            continue
        ds = load_dataset(DATA / ("CBSD68" if task == "inpaint" else "Set5"), a.limit)
        kw = {"mask": arg} if task == "inpaint" else {"scale": arg}
        t0 = time.time()
        rows = evaluate(task, ds, methods=cands, steps=steps, prior=prior, **kw)
        print(f"\n## {task} {arg} ({len(ds)} images, {time.time() - t0:.0f} s)\n")
        print(markdown_table(summarise(rows)), flush=True)


if __name__ == "__main__":
    main()
