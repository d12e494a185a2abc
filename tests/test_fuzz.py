"""Fuzz: >= 1,000 malformed inputs through the API and the CLI (seeded generator).

Every case must end in a typed, one-line error (never another exception, never a
traceback), a non-zero exit on the CLI, and no output file left behind.
"""


import numpy as np
import pytest
import torch
from click.testing import CliRunner

import restore
from restore.cli.main import main
from restore.errors import RestoreError
from restore.io import write_image

N_API = 700
N_CLI = 320


def _bad_array(rng):
    kind = rng.integers(9)
    if kind == 0:
        return rng.integers(-5, 5, size=(8, 8)).astype(rng.choice([np.int8, np.int32, np.int64]))
    if kind == 1:
        return np.zeros(tuple(rng.integers(0, 3, size=rng.integers(0, 2))), np.uint8)  # 0-d / 1-d
    if kind == 2:
        return np.zeros((int(rng.integers(0, 2)) * 0, 8, 3), np.float32)  # zero height
    if kind == 3:
        a = rng.random((8, 8, 3)).astype(np.float32)
        a[rng.integers(8), rng.integers(8), rng.integers(3)] = rng.choice([np.nan, np.inf, -np.inf])
        return a
    if kind == 4:
        return rng.random((8, 8, int(rng.choice([2, 5, 7])))).astype(np.float32)
    if kind == 5:
        return rng.random((2, 3, 8, 8)).astype(np.float32)  # 4-d numpy
    if kind == 6:
        return torch.randint(0, 255, (1, 3, 8, 8), dtype=torch.uint8)
    if kind == 7:
        return rng.random((8, 8)) > 0.5  # bool
    return [[0.1, 0.2]]


def _api_case(rng):
    """(callable) with at least one defect."""
    good = rng.random((12, 10, 3)).astype(np.float32)
    defect = rng.integers(6)
    if defect == 0:
        img = _bad_array(rng)
        task = rng.choice(["denoise", "inpaint", "sr"])
        return lambda P: restore.restore(img, task, mask=np.ones((12, 10), bool), scale=2, sigma=0.1, prior=P)
    if defect == 1:
        m = rng.choice(["shape", "empty", "full", "nan", "type"])
        mask = {"shape": np.ones((int(rng.integers(1, 12)), 11), bool), "empty": np.zeros((12, 10)),
                "full": np.ones((12, 10)), "nan": np.full((12, 10), np.nan), "type": "mask.png"}[m]
        return lambda P: restore.inpaint(good, mask, prior=P, steps=1)
    if defect == 2:
        s = rng.choice([-1.0, 1.5, np.nan, np.inf, 300.0])
        return lambda P: restore.denoise(good, sigma=float(s), prior=P)
    if defect == 3:
        sc = int(rng.choice([0, 1, 5, 6, -2, 16]))
        return lambda P: restore.super_resolve(good, scale=sc, prior=P, steps=1)
    if defect == 4:
        kw = rng.choice(["steps", "samples", "sampler", "task"])
        val = {"steps": int(rng.choice([0, -3, 5000])), "samples": int(rng.choice([0, -1, 1000])),
               "sampler": str(rng.choice(["nope", "repaint"])), "task": None}[kw]
        if kw == "task":
            return lambda P: restore.restore(good, str(rng.choice(["deblur", "", "SR"])), prior=P)
        if kw == "sampler":
            return lambda P: restore.super_resolve(good, scale=2, sampler=val, prior=P)
        return lambda P: restore.denoise(good, sigma=0.1, prior=P, **{kw: val})
    # hostile prior argument
    where = rng.choice(["missing", "file"])
    return lambda P: restore.denoise(good, sigma=0.1, prior="/nonexistent/prior" if where == "missing" else __file__)


@pytest.mark.filterwarnings("ignore:.*of the image to fill:UserWarning")  # all-hole masks on purpose
def test_api_fuzz(tiny_prior_dir):
    rng = np.random.default_rng(12345)
    P = str(tiny_prior_dir)
    failures = []
    for i in range(N_API):
        call = _api_case(rng)
        try:
            call(P)
            failures.append((i, "no error"))
        except RestoreError as e:
            assert "\n" not in str(e), str(e)
        except Exception as e:  # noqa: BLE001
            failures.append((i, f"{type(e).__name__}: {e}"))
    assert not failures, failures[:5]


def _bad_file(rng, d, i, valid_png: bytes, valid_jpg: bytes):
    ext = str(rng.choice([".png", ".jpg", ".tif", ".bmp", ".webp"]))
    p = d / f"f{i}{ext}"
    k = rng.integers(5)
    if k == 0:
        p.write_bytes(b"")
    elif k == 1:
        p.write_bytes(rng.bytes(int(rng.integers(1, 400))))
    elif k == 2:
        src = valid_png if rng.random() < 0.5 else valid_jpg
        p.write_bytes(src[: int(rng.integers(8, len(src) // 2))])
    elif k == 3:
        p.write_text("<html>not an image</html>")
    else:
        b = bytearray(valid_png)
        b[16:24] = rng.bytes(8)  # garbled IHDR size
        p.write_bytes(bytes(b))
    return p


def test_cli_fuzz(tiny_prior_dir, tmp_path):
    rng = np.random.default_rng(777)
    img = (rng.random((24, 20, 3)) * 255).astype(np.uint8)
    good = write_image(tmp_path / "good.png", img)
    valid_png = good.read_bytes()
    valid_jpg = write_image(tmp_path / "good.jpg", img).read_bytes()
    write_image(tmp_path / "mask_wrong.png", np.full((7, 7), 255, np.uint8))
    write_image(tmp_path / "mask_empty.png", np.zeros((24, 20), np.uint8))
    runner = CliRunner()
    bad = tmp_path / "bad"
    bad.mkdir()
    failures = []
    for i in range(N_CLI):
        out = tmp_path / "out" / f"o{i}.png"
        k = rng.integers(4)
        if k == 0:
            args = ["denoise", str(_bad_file(rng, bad, i, valid_png, valid_jpg)), "--sigma", "10"]
        elif k == 1:
            args = ["inpaint", str(good), str(_bad_file(rng, bad, i, valid_png, valid_jpg))]
        elif k == 2:
            args = ["inpaint", str(good), str(tmp_path / str(rng.choice(["mask_wrong.png", "mask_empty.png"])))]
        else:
            args = ["sr", str(_bad_file(rng, bad, i, valid_png, valid_jpg)), "--scale", "2"]
        args += ["-o", str(out), "--weights", str(tiny_prior_dir), "-q", "--steps", "1"]
        r = runner.invoke(main, args)
        if r.exit_code == 0 or (r.exception is not None and not isinstance(r.exception, SystemExit)):
            failures.append((args, r.exit_code, repr(r.exception)))
        elif "Traceback" in r.output or out.exists():
            failures.append((args, "traceback or output left"))
    assert not failures, failures[:5]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert N_API + N_CLI >= 1000
