"""Large images go through tiles: a 24-megapixel denoise stays within 4 GB of peak RSS.

Slow (about a minute on 2 CPU cores): run with ``pytest -m slow``.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_24mp_denoise_peak_rss_under_4gb():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "memory.py"), "--worker", "24", "denoise"],
                       capture_output=True, text=True, timeout=1800, check=False)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.strip().splitlines()[-1])
    print(d)
    assert d["ok"] and d["mp"] >= 23.9
    assert d["peak_rss_mb"] < 4096


@pytest.mark.slow
def test_folder_of_1000_mixed_sizes_keeps_memory_flat(tmp_path):
    """Issue 16: 1,000 generated images of 64 to 1024 px through folder mode; the peak RSS of
    each window of 50 images stays flat (the last within 10 % of the tenth). Several minutes."""
    out = tmp_path / "rss.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "folder_rss.py"), "--images", "1000",
                        "--json", str(out)], capture_output=True, text=True, timeout=3600, check=False)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    print({k: v for k, v in d.items() if k != "samples"})
    assert d["returncode"] == 0 and "failed 0" in d["summary"][0]
    assert len(d["samples"]) >= 19 and d["flat"], d["samples"]
