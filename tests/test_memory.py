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
