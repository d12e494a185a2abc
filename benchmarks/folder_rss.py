"""Memory under load (issue 16): a folder of generated images of mixed sizes through folder
mode (`restore denoise DIR -o OUT`), the process's resident memory sampled each time 50
more outputs have appeared.

    python benchmarks/folder_rss.py --images 1000 --json rss.json

Images are seeded noise-over-gradient RGB/gray PNGs with sides drawn from 64 to 1024 px.
Prints one JSON line: the samples (images done, RSS MB now, peak RSS MB over the window
since the previous sample) and whether the last window's peak is within 10 % of the
tenth's (``flat``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_images(d: Path, n: int, seed: int = 0) -> None:
    from restore.io import write_image

    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = (int(v) for v in rng.integers(64, 1025, size=2))
        gray = rng.random() < 0.25
        base = np.linspace(40, 210, w)[None, :] + np.linspace(0, 30, h)[:, None]
        img = base[..., None] + rng.normal(0, 12, (h, w, 1 if gray else 3))
        write_image(d / f"im{i:04d}.png", np.clip(img, 0, 255).astype(np.uint8).squeeze())


def status_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB (Linux /proc)."""
    vals = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            vals[k] = int(v.split()[0]) / 1024
    return vals["VmRSS"], vals["VmHWM"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in", Path(tmp) / "out"
        src.mkdir()
        t0 = time.time()
        make_images(src, a.images)
        made = time.time() - t0
        cmd = [sys.executable, "-m", "restore", "denoise", str(src), "-o", str(out), "--sigma", "12", "-q"]
        if a.weights:
            cmd += ["--weights", a.weights]
        t0 = time.time()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples, next_mark = [], a.every
        while p.poll() is None:
            done = len(list(out.glob("*.png"))) if out.is_dir() else 0
            if done >= next_mark:
                try:
                    rss, hwm = status_mb(p.pid)
                except (FileNotFoundError, KeyError):
                    break
                samples.append({"images": done, "rss_mb": round(rss, 1), "peak_rss_mb": round(hwm, 1)})
                next_mark = (done // a.every + 1) * a.every
                try:  # the next peak is that of the next window (Linux: "5" resets VmHWM)
                    Path(f"/proc/{p.pid}/clear_refs").write_text("5")
                except OSError:
                    pass
            time.sleep(0.05)
        stdout, stderr = p.communicate()
        secs = time.time() - t0
    tenth = samples[9]["peak_rss_mb"] if len(samples) >= 10 else None
    last = samples[-1]["peak_rss_mb"] if samples else None
    rec = {"images": a.images, "returncode": p.returncode, "summary": stdout.strip().splitlines()[-1:],
           "seconds": round(secs, 1), "make_seconds": round(made, 1), "samples": samples,
           "tenth_peak_mb": tenth, "last_peak_mb": last,
           "flat": tenth is not None and abs(last - tenth) <= 0.1 * tenth, "stderr_tail": stderr[-500:]}
    if a.json:
        Path(a.json).write_text(json.dumps(rec, indent=1))
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
