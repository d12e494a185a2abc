"""Folder reruns, from a trial of the engines: what an existing output's record is compared with,
and what the run says of it."""

import numpy as np
from click.testing import CliRunner

from cli.main import main
from restore.io import write_image


def _run(*args, prior):
    return CliRunner().invoke(main, [str(a) for a in args] + ["--weights", str(prior), "-q", "--threads", "1"],
                              catch_exceptions=False)


def _photos(d, n=2, jpeg=False):
    rng = np.random.default_rng(0)
    d.mkdir()
    for i in range(n):
        a = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
        write_image(d / f"im{i}.{'jpg' if jpeg else 'png'}", a, **({"quality": 60} if jpeg else {}))
    return d


def test_the_default_named_is_the_default_it_came_to(tmp_path, tiny_prior_dir):
    """`restore sr` left the kernel to the task (bicubic, box for a JPEG), then the same with
    --kernel bicubic: refused as made with other settings. Each output records what the choice
    came to for it; naming that is the same run, naming another is refused and says what it was."""
    pngs, jpgs = _photos(tmp_path / "p"), _photos(tmp_path / "j", jpeg=True)
    for src, same, other in ((pngs, "bicubic", "box"), (jpgs, "box", "bicubic")):
        out = tmp_path / f"{src.name}.out"
        assert _run("sr", src, "--scale", "2", "--steps", "1", "-o", out, prior=tiny_prior_dir).exit_code == 0
        r = _run("sr", src, "--scale", "2", "--steps", "1", "-o", out, "--kernel", same, prior=tiny_prior_dir)
        assert r.exit_code == 0, r.output
        r = _run("sr", src, "--scale", "2", "--steps", "1", "-o", out, "--kernel", other, prior=tiny_prior_dir)
        assert r.exit_code == 2 and f"--kernel {same} (the default for its input)" in r.output, r.output


def test_a_rerun_says_which_input_changed_and_an_empty_output_once(tmp_path, tiny_prior_dir):
    """A kernel file changed since was said as "the photo or its mask changed"; an empty output
    got "holds no record ... kept" and "exists but is empty" both; an empty folder was told to
    try --recursive, which finds nothing more where it has no subfolders."""
    src = _photos(tmp_path / "p")
    k = np.zeros((5, 5), np.uint8)
    k[2] = 255
    write_image(tmp_path / "k.png", k)
    out = tmp_path / "out"
    args = ("deblur", src, "--kernel", tmp_path / "k.png", "--sigma", "2", "--steps", "1", "-o", out)
    assert _run(*args, prior=tiny_prior_dir).exit_code == 0
    k[2, 0] = 0
    write_image(tmp_path / "k.png", k, overwrite=True)
    r = _run(*args, prior=tiny_prior_dir)
    assert r.exit_code == 0 and "(the kernel changed since): made again" in r.output, r.output
    (out / "im1.png").write_bytes(b"")
    r = _run(*args, prior=tiny_prior_dir)
    assert "exists but is empty" in r.output and "no record" not in r.output, r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _run("denoise", empty, "-o", tmp_path / "e", prior=tiny_prior_dir)
    assert r.exit_code == 1 and "no images found" in r.output and "--recursive" not in r.output
    (empty / "sub").mkdir()
    r = _run("denoise", empty, "-o", tmp_path / "e", prior=tiny_prior_dir)
    assert "try --recursive: it has subfolders" in r.output
