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


def test_the_wheel_and_sdist_carry_the_licence_and_the_whole_suite():
    """A packaging trial: the sdist shipped the tests without their conftest (29 of 37 files need its
    fixtures), the licence was a deprecated TOML table with no LICENSE file to carry its text."""
    import tomllib

    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not a source checkout")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"] == "MIT" and meta["license-files"] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    manifest = (ROOT / "MANIFEST.in").read_text().splitlines()
    assert "graft tests" in manifest and "graft examples" in manifest


def test_restore_cli_is_an_attribute_after_its_import():
    """In a source checkout (an editable install) `import restore.cli` left `restore.cli` an
    AttributeError: the module was bound in sys.modules only."""
    r = subprocess.run([sys.executable, "-c", "import restore, restore.cli; print(restore.cli.__name__)"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "restore.cli", r.stderr


def test_engine_ray_without_ray_is_refused_before_any_work(tmp_path, monkeypatch):
    """It printed a progress bar and "starting a local Ray cluster", then the missing extra."""
    import importlib.util

    import numpy as np
    from click.testing import CliRunner

    from restore.cli.main import main
    from restore.io import write_image

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", np.full((16, 16, 3), 100, np.uint8))
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--engine", "ray"])
    assert r.exit_code == 2 and "--engine ray needs Ray: pip install 'restore[ray]'" in r.output
    assert "starting" not in r.output and not (tmp_path / "out").exists()
