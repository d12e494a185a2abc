"""OpenCV NLM's filter strength per set: its h is not the noise std (h = sigma under-smooths).

    python benchmarks/nlm_h.py [--out benchmarks/results/nlm_h.md]

Runs ``restore eval``'s NLM baselines (``opencv-nlm@h=H`` over ``restore.tasks.denoise.NLM_H``)
on CBSD68, BSD68 and Set12 at sigma 15 / 25 / 50 and reports each h and the best per set and
sigma: the README's NLM row is that best (an oracle choice of h, in NLM's favour).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore.evaluate import evaluate, load_dataset, summarise  # noqa: E402
from restore.tasks.denoise import NLM_H  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "test"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--sets", default="CBSD68,BSD68,Set12")
    ap.add_argument("--h", default=",".join(map(str, NLM_H)), help="the h values (default: restore's grid)")
    ap.add_argument("--sigmas", default="15,25,50")
    a = ap.parse_args()
    t0 = time.time()
    command = " ".join(["python benchmarks/nlm_h.py", *sys.argv[1:]])
    lines = ["# OpenCV NLM: h per set", "", f"`{command}`; PSNR dB / SSIM of "
             "`cv2.fastNlMeansDenoising[Colored](y8, h, hColor=h, 7, 21)` on the uint8-quantised noisy image.", ""]
    hs = [int(v) for v in a.h.split(",")]
    sigmas = [int(v) for v in a.sigmas.split(",")]
    for s in a.sets.split(","):
        data = load_dataset(DATA / s)
        lines += [f"## {s} ({len(data)} images)", "", "| h | " + " | ".join(f"sigma {sg}" for sg in sigmas) + " |",
                  "|---|" + "---|" * len(sigmas)]
        res = {}
        for sigma in sigmas:
            rows = evaluate("denoise", data, methods=[], baselines=[f"opencv-nlm@h={h}" for h in hs], sigma=sigma)
            res[sigma] = {r["method"]: r for r in summarise(rows)}
        for h in hs:
            m = f"opencv-nlm@h={h}"
            lines.append(f"| {h} | " + " | ".join(f"{res[sg][m]['psnr']:.2f} / {res[sg][m]['ssim']:.3f}"
                                                 for sg in sigmas) + " |")
        best = {sg: max(res[sg].values(), key=lambda r: r["psnr"]) for sg in sigmas}
        lines.append("| **best** | " + " | ".join(f"**{best[sg]['psnr']:.2f} / {best[sg]['ssim']:.3f}** "
                                                  f"(h {best[sg]['method'].split('=')[1]})" for sg in sigmas) + " |")
        lines.append("")
        print("\n".join(lines[-len(hs) - 6:]), flush=True)
    lines.append(f"Total {time.time() - t0:.0f} s.")
    text = "\n".join(lines) + "\n"
    if a.out:
        a.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
