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


def test_submodules_reached_from_a_plain_import():
    """The README's `help(restore.samplers.NAME)` and `restore.io.jpeg_half(path)` raised
    AttributeError in a fresh session (the submodules came only after a function was touched):
    every top-level module is reached after `import restore`, and the list names them all."""
    from pathlib import Path

    import restore

    here = Path(restore.__file__).parent
    found = {p.stem for p in here.glob("*.py") if not p.stem.startswith("_")}
    found |= {p.parent.name for p in here.glob("*/__init__.py") if p.parent.name != "cli"}
    assert set(restore.SUBMODULES) == found
    code = "import restore; restore.io.jpeg_half; restore.samplers.ddnm; restore.noise.estimate_noise; print('ok')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
