"""Defects an audit of every option against its help text found (trial AB), each as reported."""

import numpy as np
import pytest
from click.testing import CliRunner

from restore.cli.main import main
from restore.io import write_image


@pytest.fixture
def run(tiny_prior_dir):
    def _run(*args):
        return CliRunner().invoke(main, [str(a) for a in args] + ["--weights", str(tiny_prior_dir), "-q"])

    return _run


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    g = np.random.default_rng(0)
    for i in range(2):
        write_image(d / f"p{i}.png", g.integers(0, 256, (32, 32, 3)).astype(np.uint8))
    return d


def test_eval_takes_a_switch_as_the_task_commands_do(run, folder):
    """`--samplers dpir@clip=false` was refused ("option clip takes a bool, got 'false'"), where
    `restore denoise --sampler dpir@clip=false` and `restore list` take it."""
    r = run("eval", "denoise", folder, "--samplers", "dpir@clip=false", "--steps", "2", "--limit", "1")
    assert r.exit_code == 0, r.output
    assert "| dpir@clip=false | 2 | 1 |" in r.output


def test_a_default_given_by_value_resumes_a_folder(run, folder, tmp_path):
    """A rerun naming a default (`--sigma-max 51` for sr, `--quality 95` for JPEG outputs or any
    --quality for PNG ones, `--jpeg-quality 0` for a PNG input) was refused as "other settings"."""
    out = tmp_path / "sr"
    assert run("sr", folder, "-o", out, "--scale", "2", "--steps", "2").exit_code == 0
    r = run("sr", folder, "-o", out, "--scale", "2", "--steps", "2", "--sigma-max", "51")
    assert r.exit_code == 0 and "skipped 2" in r.output, r.output
    r = run("sr", folder, "-o", out, "--scale", "2", "--steps", "2", "--sigma-max", "40")
    assert r.exit_code == 2 and "--sigma-max the default (this run: --sigma-max 40)" in r.output
    for fmt, q in (("jpg", "95"), ("png", "80")):
        out = tmp_path / f"dn_{fmt}"
        assert run("denoise", folder, "-o", out, "--sigma", "10", "--format", fmt).exit_code == 0
        r = run("denoise", folder, "-o", out, "--sigma", "10", "--format", fmt, "--quality", q)
        assert r.exit_code == 0 and "skipped 2" in r.output, r.output
    r = run("denoise", folder, "-o", tmp_path / "dn_jpg", "--sigma", "10", "--format", "jpg", "--quality", "90")
    assert r.exit_code == 2 and "--quality the default (this run: --quality 90)" in r.output
    out = tmp_path / "db"
    assert run("deblur", folder, "-o", out, "--kernel", "gaussian:1", "--steps", "2").exit_code == 0
    r = run("deblur", folder, "-o", out, "--kernel", "gaussian:1", "--steps", "2", "--jpeg-quality", "0")
    assert r.exit_code == 0 and "skipped 2" in r.output, r.output


def test_a_record_that_named_the_default_is_the_default(tmp_path):
    """An output recorded by a run that gave the default by value (sigma_max 51, before such a
    value was recorded as the default) is not "made otherwise" for a run naming it or not."""
    from restore.cli.jobs import Job, made_otherwise, settings

    job = Job("sr", [tmp_path], {}, {"scale": 2}, {"sigma_max": None, "seed": 0, "samples": 1})
    then = {**settings(job), "sigma_max": 51.0}
    assert made_otherwise(job, {tmp_path / "a.png": then}) is None
    other = Job("sr", [tmp_path], {}, {"scale": 2}, {"sigma_max": 40 / 255, "seed": 0, "samples": 1})
    assert "made with other settings" in made_otherwise(other, {tmp_path / "a.png": then})


def test_eval_refuses_a_degradation_option_it_would_ignore(run, folder, tmp_path):
    """`--noise camera --sigma 50` and `--pairs --sigma 25` scored as without --sigma."""
    r = run("eval", "denoise", folder, "--noise", "camera", "--sigma", "50", "--limit", "1")
    assert r.exit_code == 2 and "--sigma does not apply to synthetic camera noise" in r.output
    pairs = tmp_path / "pairs"
    for sub in ("noisy", "clean"):
        (pairs / sub).mkdir(parents=True)
        write_image(pairs / sub / "a.png", np.full((32, 32, 3), 100, np.uint8))
    r = run("eval", "denoise", pairs, "--pairs", "--sigma", "25")
    assert r.exit_code == 2 and "--sigma does not apply to --pairs" in r.output
    assert run("eval", "denoise", pairs, "--pairs", "--limit", "1").exit_code == 0


def test_eval_refuses_a_quality_given_twice(run, folder, tmp_path):
    """`--quality 10,10` ran twice, the second run writing over the first's --json."""
    r = run("eval", "dejpeg", folder, "--quality", "10,10", "--json", tmp_path / "d.json")
    assert r.exit_code == 2 and "a value given twice in --quality 10,10" in r.output
    assert not list(tmp_path.glob("d*.json"))
    r = run("eval", "dejpeg", folder, "--quality", "10,010")  # the same quality written otherwise (trial AC)
    assert r.exit_code == 2 and "a value given twice in --quality 10,010" in r.output


def test_folder_mode_options_for_one_image_are_said_to_do_nothing(run, folder, tmp_path):
    """`--recursive`, `--glob '*.jpg'` or `--batch-size 4` with one PNG ran without a word."""
    r = run("denoise", folder / "p0.png", "-o", tmp_path / "one.png", "--sigma", "10", "--glob", "*.jpg",
            "--batch-size", "4")
    assert r.exit_code == 0 and (tmp_path / "one.png").exists()
    assert "warning: --glob, --batch-size apply to folders and several files (folder mode)" in r.output
    r = run("denoise", folder, "-o", tmp_path / "many", "--sigma", "10", "--glob", "*.png")
    assert r.exit_code == 0 and "folder mode" not in r.output
