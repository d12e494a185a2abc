"""A folder run killed with SIGKILL at random moments, then rerun: every output exactly
once, every output readable, no temp files left."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from restore.io import read_image, write_image

ROOT = Path(__file__).resolve().parents[1]


def test_sigkill_and_resume(tiny_prior_dir, tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / "in"
    src.mkdir()
    n = 10
    for i in range(n):
        write_image(src / f"im{i:02d}.png", (rng.random((48, 40, 3)) * 255).astype(np.uint8))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "restore.cli.main", "denoise", str(src), "-o", str(out), "--sigma", "15",
           "--sampler", "ddrm", "--steps", "60", "--weights", str(tiny_prior_dir), "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    kills = 0
    for delay in (0.3, 0.9, 1.6):
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        start = len(list(out.glob("*.png"))) if out.exists() else 0
        while time.time() < deadline and p.poll() is None:
            if out.exists() and len(list(out.glob("*.png"))) > start:
                break
            time.sleep(0.02)
        time.sleep(delay * rng.random())
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"im{i:02d}.png" for i in range(n)]  # once each, no temp files
    for f in files:
        assert read_image(f).array.shape == (48, 40, 3)
    assert kills >= 1


def test_sigterm_stops_as_ctrl_c_does(tiny_prior_dir, tmp_path):
    """SIGTERM (timeout, kill, a scheduler) stops a folder run as Ctrl-C does: its claims
    released (one was left, which a run on another host would have waited 6 h for), exit 143."""
    rng = np.random.default_rng(0)
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        write_image(src / f"im{i:02d}.png", (rng.random((48, 40, 3)) * 255).astype(np.uint8))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "restore.cli.main", "denoise", str(src), "-o", str(out), "--sigma", "15",
           "--sampler", "ddrm", "--steps", "400", "--weights", str(tiny_prior_dir), "-q", "--json"]
    p = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list(out.glob(".*.claim")):
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    stdout, err = p.communicate(timeout=60)
    assert p.returncode == 143 and "terminated" in err, err
    assert not list(out.glob(".*"))  # no claim, no temp file
    import json

    last = json.loads(stdout.splitlines()[-1])  # --json: the summary of what was done, said stopped
    assert last["stopped"] == "terminated" and last["summary"]["done"] == len(list(out.glob("*.png")))
