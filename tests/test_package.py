"""What `pip install .` puts into site-packages: one `restore` package, no top-level `cli`."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_everything_under_restore(tmp_path):
    pytest.importorskip("setuptools")
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not a source checkout")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        str(ROOT), "-w", str(tmp_path)], capture_output=True, text=True, timeout=300,
                       cwd=tmp_path)
    if r.returncode != 0 and "No module named" in r.stderr:
        pytest.skip(f"cannot build a wheel here: {r.stderr.strip().splitlines()[-1]}")
    assert r.returncode == 0, r.stderr
    (whl,) = tmp_path.glob("restore-*.whl")
    names = zipfile.ZipFile(whl).namelist()
    assert {n.split("/")[0] for n in names} == {"restore", f"{whl.name.split('-')[0]}-{whl.name.split('-')[1]}.dist-info"}
    for need in ("restore/cli/main.py", "restore/cli/runner.py", "restore/__main__.py",
                 "restore/pretrained/restore-small/model.safetensors", "restore/tasks/data/levin09.npz"):
        assert need in names, need
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "restore = restore.cli.main:main" in zipfile.ZipFile(whl).read(entry).decode()
