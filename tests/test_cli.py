"""The CLI end to end with click's runner and a tiny prior."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from restore.cli.main import main
from restore.tasks import TASKS
from restore.io import read_image, write_image


@pytest.fixture
def run(tiny_prior_dir):
    runner = CliRunner()

    def _run(*args, weights=True, quiet=True):
        a = [str(x) for x in args]
        if weights and a and a[0] in TASKS:
            a += ["--weights", str(tiny_prior_dir)] + (["-q"] if quiet else [])
        return runner.invoke(main, a, catch_exceptions=False)

    return _run


@pytest.fixture
def imgs(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "in"
    d.mkdir()
    for i, shape in enumerate([(20, 24, 3), (17, 21), (24, 24, 3)]):
        write_image(d / f"im{i}.png", (rng.random(shape) * 255).astype(np.uint8))
    m = tmp_path / "masks"
    m.mkdir()
    for i, shape in enumerate([(20, 24), (17, 21), (24, 24)]):
        mk = np.zeros(shape, np.uint8)
        mk[3:9, 4:10] = 255
        write_image(m / f"im{i}.png", mk)
    return tmp_path


def test_help_and_list(run):
    r = run("--help")
    assert r.exit_code == 0 and "inpaint" in r.output
    r = run("list", "--json")
    info = json.loads(r.output)
    assert info["tasks"]["inpaint"]["default_sampler"] in info["samplers"]
    assert "inpaint" in info["samplers"]["repaint"]["tasks"] and "sr" not in info["samplers"]["repaint"]["tasks"]
    assert info["samplers"]["mmse"]["options"] == {"poses": 1} and info["samplers"]["ddnm"]["options"]["eta"] > 0
    assert any(p["name"] == "restore-small" for p in info["priors"])


def test_single_image_commands(run, imgs):
    i0 = imgs / "in" / "im0.png"
    r = run("inpaint", i0, imgs / "masks" / "im0.png", "--steps", "2", "--json", "--compare",
            "--reference", i0)
    assert r.exit_code == 0, r.output
    rec = json.loads(r.output.strip().splitlines()[-1])
    assert rec["output"].endswith("im0.inpaint.png") and "psnr" in rec
    out = read_image(rec["output"]).array
    assert out.shape == (20, 24, 3)
    assert read_image(rec["compare"]).array.shape[1] > 2 * 24
    r = run("denoise", imgs / "in" / "im1.png", "--json")
    rec = json.loads(r.output)
    assert r.exit_code == 0 and rec["sigma_estimated"] and read_image(rec["output"]).array.shape == (17, 21)
    r = run("sr", i0, "--scale", "2", "--steps", "2", "-o", imgs / "big.png", "--samples", "2", "--json",
            "--sampler", "ddrm")
    rec = json.loads(r.output)
    assert r.exit_code == 0 and read_image(imgs / "big.png").array.shape == (40, 48, 3)
    assert read_image(rec["std"]).array.shape == (40, 48, 3)


def test_bit_depth_and_alpha_kept(run, tmp_path):
    a16 = (np.random.default_rng(1).random((16, 18, 3)) * 65535).astype(np.uint16)
    write_image(tmp_path / "a.png", a16)
    assert run("denoise", tmp_path / "a.png", "--sigma", "5").exit_code == 0
    assert read_image(tmp_path / "a.denoise.png").array.dtype == np.uint16
    rgba = np.full((16, 16, 4), 255, np.uint8)
    rgba[4:8, 4:8, 3] = 0
    write_image(tmp_path / "t.png", rgba)
    r = run("inpaint", tmp_path / "t.png", "--mask", "alpha", "--steps", "2")
    assert r.exit_code == 0, r.output
    out = read_image(tmp_path / "t.inpaint.png").array
    assert out.shape == (16, 16, 4) and out[..., 3].min() == 255


def test_inpaint_alpha_and_mask_edge_cases(run, tmp_path):
    """An RGBA photo with a mask file gets its filled pixels opaque; a mask drawn only in its
    alpha marks its opaque pixels; --mask alpha with a MASK, or with nothing transparent, is
    refused in one line naming the cause."""
    rng = np.random.default_rng(2)
    rgba = np.concatenate([(rng.random((16, 20, 3)) * 255).astype(np.uint8), np.full((16, 20, 1), 255, np.uint8)], 2)
    rgba[2:5, 2:5, 3] = 0  # transparent where the mask does not reach: stays so
    write_image(tmp_path / "p.png", rgba)
    hole = np.zeros((16, 20), bool)
    hole[6:11, 8:14] = True
    rgba[6:11, 8:14, 3] = 0  # the hole is transparent too
    write_image(tmp_path / "q.png", rgba)
    write_image(tmp_path / "m.png", hole.astype(np.uint8) * 255)
    r = run("inpaint", tmp_path / "q.png", tmp_path / "m.png", "-o", tmp_path / "q_out.png", "--steps", "2")
    assert r.exit_code == 0, r.output
    out = read_image(tmp_path / "q_out.png").array
    assert (out[..., 3][hole] == 255).all() and (out[2:5, 2:5, 3] == 0).all()
    drawn = np.zeros((16, 20, 4), np.uint8)  # black strokes on a transparent layer
    drawn[hole, 3] = 255
    write_image(tmp_path / "m_alpha.png", drawn)
    red = np.zeros((16, 20, 4), np.uint8)  # red strokes, the transparent pixels red too (a trial: "not a mask")
    red[..., 0] = 255
    red[hole, 3] = 255
    write_image(tmp_path / "m_red.png", red)
    for name, m in (("a", "m.png"), ("b", "m_alpha.png"), ("c", "m_red.png")):
        r = run("inpaint", tmp_path / "p.png", tmp_path / m, "-o", tmp_path / f"{name}.png", "--steps", "2")
        assert r.exit_code == 0, r.output
    assert np.array_equal(read_image(tmp_path / "a.png").array, read_image(tmp_path / "b.png").array)
    assert np.array_equal(read_image(tmp_path / "a.png").array, read_image(tmp_path / "c.png").array)
    r = run("inpaint", tmp_path / "p.png", tmp_path / "m.png", "--mask", "alpha", "-o", tmp_path / "c2.png")
    assert r.exit_code == 2 and "no MASK argument" in r.output
    write_image(tmp_path / "opaque.png", np.full((16, 20, 4), 255, np.uint8))
    r = run("inpaint", tmp_path / "opaque.png", "--mask", "alpha", "-o", tmp_path / "d.png")
    assert r.exit_code == 1 and "found nothing to fill" in r.output and not (tmp_path / "d.png").exists()


def test_inpaint_mask_of_the_stored_pixels_names_the_exif_turn(run, tmp_path):
    """A mask drawn on a JPEG's stored pixels, where the photo is shown turned by its EXIF
    orientation, is refused with the orientation named."""
    from PIL import Image

    im = Image.fromarray((np.random.default_rng(3).random((16, 24, 3)) * 255).astype(np.uint8))
    ex = Image.Exif()
    ex[0x0112] = 6
    im.save(tmp_path / "p.jpg", exif=ex.tobytes())
    m = np.zeros((16, 24), np.uint8)  # stored: 24 wide, 16 high; shown: 16 wide, 24 high
    m[4:8, 4:8] = 255
    write_image(tmp_path / "m.png", m)
    r = run("inpaint", tmp_path / "p.jpg", tmp_path / "m.png", "-o", tmp_path / "o.png")
    assert r.exit_code == 1 and "EXIF orientation" in r.output


def test_folder_mode_with_corrupt_file_and_resume(run, imgs):
    (imgs / "in" / "bad.png").write_bytes(b"not a png at all")
    (imgs / "masks" / "bad.png").write_bytes(b"")
    out = imgs / "out"
    r = run("inpaint", imgs / "in", imgs / "masks", "-o", out, "--steps", "2")
    assert r.exit_code == 1
    assert "done 3, skipped 0 (already written), failed 1" in r.output and "bad.png" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["im0.png", "im1.png", "im2.png"]
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    (out / "im1.png").unlink()
    (imgs / "in" / "bad.png").unlink()
    r = run("inpaint", imgs / "in", imgs / "masks", "-o", out, "--steps", "2")
    assert r.exit_code == 0 and "done 1, skipped 2" in r.output
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert after["im0.png"] == before["im0.png"] and after["im2.png"] == before["im2.png"]

    cut = (out / "im2.png").read_bytes()[:100]  # cut short outside restore: reported, not skipped or replaced
    (out / "im2.png").write_bytes(cut)
    r = run("inpaint", imgs / "in", imgs / "masks", "-o", out, "--steps", "2")
    assert r.exit_code == 1 and "done 0, skipped 2 (already written, kept as they are: --overwrite redoes them), " \
        "failed 1" in r.output
    assert "im2.png: exists but has no PNG end marker" in r.output and (out / "im2.png").read_bytes() == cut
    (out / "im2.png").unlink()
    r = run("inpaint", imgs / "in", imgs / "masks", "-o", out, "--steps", "2")
    assert r.exit_code == 0 and "done 1, skipped 2" in r.output


def test_folder_one_mask_for_all_recursive_and_glob(run, imgs):
    sub = imgs / "in" / "sub"
    sub.mkdir()
    write_image(sub / "deep.png", np.zeros((20, 24, 3), np.uint8))
    r = run("denoise", imgs / "in", "-o", imgs / "o2", "--recursive", "--glob", "*0.png", "--sigma", "10")
    assert r.exit_code == 0 and (imgs / "o2" / "im0.png").exists() and not (imgs / "o2" / "im1.png").exists()
    r = run("denoise", imgs / "in", "-o", imgs / "o3", "--recursive", "--sigma", "10")
    assert r.exit_code == 0 and (imgs / "o3" / "sub" / "deep.png").exists()
    r = run("inpaint", sub, imgs / "masks" / "im0.png", "-o", imgs / "o4", "--steps", "2")
    assert r.exit_code == 0 and (imgs / "o4" / "deep.png").exists()


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["denoise", "nope.png"], 1, "no such file"),
        (["inpaint", "{i0}", "{m_small}"], 1, "mask is 5x5 but the image is 24x20"),
        (["inpaint", "{i0}", "{m_empty}"], 1, "no hole"),
        (["inpaint", "{i0}", "{m_full}"], 1, "whole image"),
        (["inpaint", "{i0}"], 2, "MASK"),
        (["sr", "{i0}", "--scale", "5"], 2, "5"),
        (["sr", "{i0}", "--scale", "2", "--sampler", "repaint"], 2, "samplers that can"),
        (["sr", "{i0}", "--scale", "8", "--max-pixels", "10000"], 1,
         "output would be 192x160 = 30,720 pixels, which exceeds the limit of 10,000 pixels"),  # the input's words
        (["denoise", "{i0}", "--sampler", "bogus"], 2, "bogus"),
        (["denoise", "{i0}", "--sampler", "mmse@pose=2"], 2, "no option 'pose' .its options: poses.*did you mean 'poses'"),
        (["denoise", "{i0}", "--sampler", "mmse@poses=2.5"], 2, "poses takes an int"),
        (["denoise", "{i0}", "--sampler", "mmse@poses"], 2, "NAME@KEY=VALUE"),
        (["denoise", "{i0}", "--sampler", "mmse@poses=9", "--sigma", "20"], 2, "option poses must be in 1-8"),
        (["inpaint", "{i0}", "{m_small}", "--sampler", "dpir@steps=3"], 2, "no option 'steps'.*its own, --steps"),
        (["denoise", "{txt}"], 1, "not an image"),
        (["denoise", "{i0}", "--weights", "{tmp}"], 1, "no prior|config.json"),
    ],
)
def test_errors_are_one_line(run, imgs, args, code, needle):
    write_image(imgs / "small.png", np.full((5, 5), 255, np.uint8))
    write_image(imgs / "empty.png", np.zeros((20, 24), np.uint8))
    write_image(imgs / "full.png", np.full((20, 24), 255, np.uint8))
    (imgs / "t.png").write_text("text")
    subs = {"i0": imgs / "in" / "im0.png", "m_small": imgs / "small.png", "m_empty": imgs / "empty.png",
            "m_full": imgs / "full.png", "txt": imgs / "t.png", "tmp": imgs}
    a = [x.format(**subs) for x in args]
    r = CliRunner().invoke(main, a + ["-q"]) if "--weights" in a else run(*a)
    assert r.exit_code == code, r.output
    import re

    assert re.search(needle, r.output)
    if code == 1:
        lines = [ln for ln in r.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.output


def test_existing_output_is_not_clobbered(run, imgs):
    i0 = imgs / "in" / "im0.png"
    assert run("denoise", i0, "--sigma", "5").exit_code == 0
    r = run("denoise", i0, "--sigma", "5")
    assert r.exit_code == 1 and "exists" in r.output
    assert run("denoise", i0, "--sigma", "5", "--overwrite").exit_code == 0


def test_train_command(run, imgs, tmp_path):
    r = run("train", imgs / "in", "-o", tmp_path / "p", "--steps", "2", "--batch-size", "2", "--crop", "16",
            "--channels", "8,8", "--blocks", "1,1", "-q")
    assert r.exit_code == 0, r.output
    r = run("denoise", imgs / "in" / "im0.png", "--weights", tmp_path / "p", "--sigma", "5", "-o",
            tmp_path / "d.png", weights=False)
    assert r.exit_code == 0 and (tmp_path / "d.png").exists()
    r = run("train", imgs / "in", "-o", tmp_path / "e", "--steps", "2", "--batch-size", "2", "--crop", "16",
            "--channels", "8,8", "--blocks", "1,1", "--prediction", "edm", "-q")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "e" / "config.json").read_text())["prediction"] == "edm"
    # stderr no terminal (a log file, as CliRunner's): plain lines, no bar's redraws (a files trial's)
    r = run("train", imgs / "in", "-o", tmp_path / "log", "--steps", "3", "--batch-size", "2", "--crop", "16",
            "--channels", "8,8", "--blocks", "1,1", quiet=False)
    assert r.exit_code == 0, r.output
    assert "step 0/3" in r.output and "\r" not in r.output and "step/s" not in r.output, r.output


def test_train_refuses_what_it_would_ignore_or_clobber(run, imgs, tmp_path):
    """From a new user's trial: an existing prior is replaced only with --overwrite (its log
    started anew); options --resume would ignore are refused; a crop the network cannot halve,
    an output that is a file or a broken checkpoint are one line, and leave no folder behind;
    the weights are as readable as any file written here (safetensors wrote them 0600)."""
    import os

    base = ["--batch-size", "2", "--crop", "16", "--channels", "8,8", "--blocks", "1,1", "-q"]
    p = tmp_path / "p"
    assert run("train", imgs / "in", "-o", p, "--steps", "2", *base).exit_code == 0
    mode = 0o666 & ~os.umask(0)
    os.umask(0o666 & ~mode)
    assert (p / "model.safetensors").stat().st_mode & 0o777 == mode
    assert (p / "checkpoint" / "ema.safetensors").stat().st_mode & 0o777 == mode
    r = run("train", imgs / "in", "-o", p, "--steps", "3", "--resume", "--channels", "16,16")
    assert r.exit_code == 2 and "keeps the checkpoint's recipe" in r.output and "--channels 8,8" in r.output
    r = run("train", imgs / "in", "-o", p, "--steps", "2", "--resume", "-q")
    assert r.exit_code == 1 and "at step 2 already" in r.output
    import shutil

    shutil.rmtree(p / "checkpoint")  # a prior without a checkpoint (a converted one, say)
    r = run("train", imgs / "in", "-o", p, "--steps", "2", *base)
    assert r.exit_code == 2 and "holds a prior already" in r.output
    r = run("train", imgs / "in", "-o", p, "--steps", "2", *base, "--overwrite")
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["step"] for x in (p / "log.jsonl").read_text().splitlines()] == [2]
    r = run("train", imgs / "in", "-o", tmp_path / "q", "--steps", "2", *base[:-7], "--crop", "40", "-q")
    assert r.exit_code == 1 and "multiple of 16" in r.output and not (tmp_path / "q").exists()
    (tmp_path / "afile").touch()
    r = run("train", imgs / "in", "-o", tmp_path / "afile", "--steps", "2", *base)
    assert r.exit_code == 1 and "not a folder" in r.output
    (p / "checkpoint" / "state.json").write_text("garbage")
    r = run("train", imgs / "in", "-o", p, "--steps", "4", "--resume", "-q")
    assert r.exit_code == 1 and "not a readable checkpoint state" in r.output
    r = run("train", imgs / "in", "-o", p, "--steps", "2", *base)  # a folder a run wrote: checkpoint and prior
    assert r.exit_code == 2 and "--overwrite to start over" in r.output
    r = run("train", imgs / "in", "-o", p, "--steps", "3", *base, "--overwrite")
    assert r.exit_code == 0, r.output
    assert json.loads((p / "checkpoint" / "state.json").read_text())["step"] == 3


def test_train_resume_goes_on_to_the_runs_own_steps_and_validation(run, imgs, tmp_path):
    """From a new user's trial: `--resume` without `--steps` trained to the default 20000
    whatever the run had planned, and dropped its --val-dir (the prior's config kept the old
    validation score as if current). A run stopped early now goes on to its own steps with its
    own validation; a finished one says to give --steps; a vanished validation folder is named."""
    import shutil

    val = tmp_path / "val"
    shutil.copytree(imgs / "in", val)
    p = tmp_path / "p"
    base = ["--batch-size", "1", "--crop", "16", "--channels", "4,4", "--blocks", "1,1", "--eval-every", "2", "-q"]
    r = run("train", imgs / "in", "-o", p, "--steps", "7", "--val-dir", val, "--max-minutes", "1e-9", *base)
    info = json.loads((p / "config.json").read_text())["info"]
    assert r.exit_code == 0 and info["stopped"] == "max-minutes" and info["steps"] == 1, r.output
    r = run("train", imgs / "in", "-o", p, "--resume", "-q")
    assert r.exit_code == 0, r.output
    info = json.loads((p / "config.json").read_text())["info"]
    assert info["steps"] == info["steps_planned"] == 7 and "stopped" not in info
    assert info["val_step"] == 7 and info["val_psnr_sigma25"] is not None  # measured on after the resume
    r = run("train", imgs / "in", "-o", p, "--resume", "-q")
    assert r.exit_code == 1 and "at step 7 already" in r.output and "--steps" in r.output
    shutil.rmtree(val)
    r = run("train", imgs / "in", "-o", p, "--resume", "--steps", "8", "-q")
    assert r.exit_code == 1 and "validation folder is gone" in r.output and str(val) in r.output


def test_train_interrupted_says_so_and_exits_130(imgs, tmp_path, tiny_prior_dir):
    """Ctrl-C stops at the next step with a checkpoint, says where, and exits 130 (it printed
    "prior written" and exited 0, as a finished run)."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "p"
    proc = subprocess.Popen([sys.executable, "-m", "restore", "train", str(imgs / "in"), "-o", str(out), "--steps",
                             "100000", "--batch-size", "1", "--crop", "16", "--channels", "4,4", "--blocks", "1,1",
                             "-q"], stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not (out / "log.jsonl").exists() and time.time() - t0 < 120:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err
    info = json.loads((out / "config.json").read_text())["info"]
    assert info["stopped"] == "SIGINT" and "stopped at step" in err and "--resume" in err


def test_train_warns_when_the_prior_is_unstable(run, imgs, tmp_path, monkeypatch):
    """The stability check's verdict reaches the user: with the threshold out of reach every
    prior counts as unstable, and the command says so (and still writes the prior)."""
    import restore.train

    monkeypatch.setattr(restore.train, "STABILITY_MIN_PSNR", float("inf"))
    r = run("train", imgs / "in", "-o", tmp_path / "p", "--steps", "2", "--batch-size", "2", "--crop", "16",
            "--channels", "8,8", "--blocks", "1,1", "-q")
    assert r.exit_code == 0, r.output
    assert "warning: the prior is unstable on noise-free inputs" in r.output
    st = json.loads((tmp_path / "p" / "config.json").read_text())["info"]["stability"]
    assert st["stable"] is False and st["at_sigma"] in [round(s, 4) for s in restore.train.STABILITY_SIGMAS]



def test_restoring_with_a_prior_that_failed_its_stability_check_warns(run, imgs, tmp_path, tiny_prior_dir):
    import shutil

    from restore.api import _cached_prior

    bad = tmp_path / "unstable"
    shutil.copytree(tiny_prior_dir, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["info"]["stability"] = {"clean_psnr_min": 5.4, "at_sigma": 0.327, "stable": False}
    (bad / "config.json").write_text(json.dumps(cfg))
    _cached_prior.cache_clear()
    i0, m0 = imgs / "in" / "im0.png", imgs / "masks" / "im0.png"
    r = run("inpaint", i0, m0, "-o", tmp_path / "o.png", "--steps", "2", "--weights", bad, "-q", weights=False)
    assert r.exit_code == 0 and (tmp_path / "o.png").exists()
    assert "warning: prior unstable failed its stability check" in r.output
    r = run("inpaint", i0, m0, "-o", tmp_path / "p.png", "--steps", "2")  # the sound tiny prior: no warning
    assert r.exit_code == 0 and "stability" not in r.output
    # denoising: the one-shot mmse never feeds the prior a clean input, dpir does
    r = run("denoise", i0, "-o", tmp_path / "d.png", "--sigma", "25", "--weights", bad, "-q", weights=False)
    assert r.exit_code == 0 and "stability" not in r.output
    r = run("denoise", i0, "-o", tmp_path / "e.png", "--sigma", "25", "--sampler", "dpir", "--steps", "2",
            "--weights", bad, "-q", weights=False)
    assert r.exit_code == 0 and "denoise with dpir may give garbage" in r.output


def test_samples_with_a_deterministic_sampler_is_refused_before_any_work(run, imgs):
    """Regression: --samples N with dpir ran N times the work and wrote an all-zero std map."""
    i0 = imgs / "in" / "im0.png"
    r = run("inpaint", i0, imgs / "masks" / "im0.png", "--samples", "4", "-o", imgs / "s.png")
    assert r.exit_code == 2 and "deterministic" in r.output and "ddnm" in r.output and "dpir" not in r.output.split(":")[-1]
    assert not (imgs / "s.png").exists()


def test_samples_bound_is_the_apis(run, imgs):
    """Regression: the command line refused --samples over 64 where the API takes up to 256."""
    from restore.registry import MAX_SAMPLES

    i0 = imgs / "in" / "im0.png"
    r = run("inpaint", i0, imgs / "masks" / "im0.png", "--sampler", "ddnm", "--steps", "1", "--samples", "65",
            "-o", imgs / "s65.png", "-q")
    assert r.exit_code == 0, r.output
    assert (imgs / "s65.png").exists() and (imgs / "s65.std.png").exists()
    r = run("inpaint", i0, imgs / "masks" / "im0.png", "--sampler", "ddnm", "--samples", str(MAX_SAMPLES + 1),
            "-o", imgs / "s257.png")
    assert r.exit_code == 2 and f"1<=x<={MAX_SAMPLES}" in r.output and not (imgs / "s257.png").exists()


def test_folder_run_leaves_out_earlier_outputs_beside_their_inputs(run, imgs, tmp_path):
    """Found by a new user's trial: `restore denoise photo.jpg` wrote photo.denoise.png beside it,
    and a later run on the folder denoised that output again as an input."""
    d = imgs / "in"
    for name in ("im0.denoise.png", "im0.denoise.std.png", "im2.inpaint.compare.png", "solo.denoise.png"):
        write_image(d / name, np.zeros((8, 8, 3), np.uint8))
    r = run("denoise", d, "-o", tmp_path / "out", "--sigma", "10", quiet=False)
    assert r.exit_code == 0, r.output
    assert "3 earlier outputs of restore left out (<stem>.<task>.png beside their inputs" in r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["im0.png", "im1.png", "im2.png", "solo.denoise.png"]
    r = run("denoise", d, "-o", tmp_path / "all", "--sigma", "10", "--glob", "*.png")  # asked for by name: taken
    assert r.exit_code == 0 and len(list((tmp_path / "all").iterdir())) == 7
    # a folder run's output folder given as the input: its --compare files are no photos (a trial's)
    r = run("denoise", d, "-o", tmp_path / "cmp", "--sigma", "10", "--compare")
    r = run("sr", tmp_path / "cmp", "-o", tmp_path / "cmp_sr", "--steps", "1", quiet=False)
    assert r.exit_code == 0 and "4 earlier outputs of restore left out" in r.output
    assert sorted(p.name for p in (tmp_path / "cmp_sr").iterdir()) == ["im0.png", "im1.png", "im2.png",
                                                                      "solo.denoise.png"]
    r = run("denoise", d, "-o", tmp_path / "q", "--sigma", "10")  # -q: no notes
    assert r.exit_code == 0 and "note:" not in r.output


def test_the_estimated_note_tells_the_estimate_and_the_level_with_strength(run, imgs, tiny_prior_dir):
    """Found by a new user's trial: with --strength 0.5 the note called the halved level the
    estimate; it tells both."""
    i0 = imgs / "in" / "im0.png"
    notes = {}
    for s in ("1", "0.5"):
        r = run("denoise", i0, "-o", imgs / f"s{s}.png", "--strength", s, "--weights", tiny_prior_dir, "--json",
                weights=False)
        assert r.exit_code == 0, r.output
        notes[s] = json.loads(r.stdout.splitlines()[-1])["sigma"]
        r = run("denoise", i0, "-o", imgs / f"n{s}.png", "--strength", s, "--weights", tiny_prior_dir, weights=False)
        notes[s + "note"] = [ln for ln in r.output.splitlines() if "estimated noise sigma" in ln][0]
    assert notes["1note"].endswith(f"estimated noise sigma = {notes['1']:.2f} (0-255 units)")
    assert f"estimated noise sigma = {notes['1']:.2f}, told {notes['0.5']:.2f} with strength 0.5" in notes["0.5note"]


def test_single_image_run_prints_its_result_line(run, imgs):
    """Regression: a single-image run printed nothing on stdout."""
    i0 = imgs / "in" / "im0.png"
    r = run("sr", i0, "--scale", "2", "--steps", "2", "-o", imgs / "line.png", "--reference",
            imgs / "in" / "im0.png", "-q")
    assert r.exit_code != 0  # the reference is the low-resolution image: sizes differ, said in one line
    big = imgs / "big_ref.png"
    write_image(big, np.zeros((40, 48, 3), np.uint8))
    r = run("sr", i0, "--scale", "2", "--steps", "2", "-o", imgs / "line.png", "--reference", big, "-q",
            "--overwrite")
    assert r.exit_code == 0, r.output
    line = r.stdout.strip().splitlines()[-1]
    assert line.startswith(str(imgs / "line.png")) and " s " in line and "PSNR-Y" in line and "SSIM-Y" in line


def test_unsupported_output_extension_fails_before_any_work(run, imgs, monkeypatch):
    """Regression: -o out.xyz failed only after the whole run."""
    import restore.api

    def boom(*a, **k):
        raise AssertionError("restored before checking the output")

    monkeypatch.setattr(restore.api, "run", boom)
    r = run("denoise", imgs / "in" / "im0.png", "-o", imgs / "out.xyz")
    assert r.exit_code == 2 and "cannot write '.xyz'" in r.output
    r = run("denoise", imgs / "in" / "im0.png", "-o", imgs / "out")  # a trial: "cannot write 'no extension'"
    assert r.exit_code == 2 and "no extension to tell the format" in r.output and "-o DIR/ writes into a folder" in r.output


def test_sigma_far_from_the_estimate_warns_with_both(run, imgs):
    """Regression: --sigma 0.1 (0-1 units by mistake) on a noisy image silently did nothing."""
    rng = np.random.default_rng(0)
    noisy = np.clip(128 + 25 * rng.standard_normal((48, 48, 3)), 0, 255).astype(np.uint8)
    write_image(imgs / "noisy.png", noisy)
    r = run("denoise", imgs / "noisy.png", "--sigma", "0.1", "-o", imgs / "n1.png")
    assert r.exit_code == 0 and "warning" in r.stderr and "0-255" in r.stderr
    est = float(r.stderr.split("estimated in the image (")[1].split(")")[0])
    assert 20 < est < 30
    r = run("denoise", imgs / "noisy.png", "--sigma", "25", "-o", imgs / "n2.png")
    assert r.exit_code == 0 and "warning" not in r.stderr


def test_list_is_aligned_and_counts_evaluations(run):
    r = run("list")
    lines = r.output.splitlines()
    assert "1 steps" not in r.output and "1 evaluation" in r.output
    rows = [l for l in lines if l.startswith("  ") and "tasks:" in l]
    assert len({l.index("tasks:") for l in rows}) == 1  # one column, the long dpir summary included


def test_opencv_warnings_stay_out_of_stderr(tmp_path):
    """Regression: libpng/OpenCV's own 'PNG input buffer is incomplete' reached stderr, also for
    a PNG cut short only in its last chunks (Pillow opens it; libpng prints past OpenCV's log).
    And OpenCV's log level is silenced only while restore decodes: a program that set its own
    keeps it (restore set it to silent for the whole process, and OPENCV_LOG_LEVEL with it)."""
    import subprocess
    import sys

    good = tmp_path / "a.png"
    write_image(good, np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = good.read_bytes()
    for n in (400, len(data) - 20):
        bad = tmp_path / f"cut{n}.png"
        bad.write_bytes(data[:n])
        code = (
            "import os, cv2\nfrom cv2.utils import logging as cvlog\ncvlog.setLogLevel(cvlog.LOG_LEVEL_WARNING)\n"
            "from restore.io import read_image, write_image\n"
            f"try:\n    read_image({str(bad)!r})\nexcept Exception as e:\n    print(e)\n"
            f"write_image({str(tmp_path / f'b{n}.png')!r}, read_image({str(good)!r}).array)\n"
            "print(cvlog.getLogLevel() == cvlog.LOG_LEVEL_WARNING, os.environ.get('OPENCV_LOG_LEVEL'))"
        )
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert bad.name in r.stdout and "truncated" in r.stdout and r.stderr.strip() == "", (n, r.stderr)
        assert r.stdout.splitlines()[-1] == "True None", r.stdout
    from PIL import Image

    from restore.errors import InputError

    j = tmp_path / "a.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(j, quality=90)
    (tmp_path / "cut.jpg").write_bytes(j.read_bytes()[:-200])  # the reason, as for a PNG (it said none)
    with pytest.raises(InputError, match=r"cut.jpg: unreadable or truncated image \(image file is truncated"):
        read_image(tmp_path / "cut.jpg")


def test_readme_quickstart_outputs_are_ignored_by_git():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    for name in ("photo.inpaint.png", "photo.inpaint.compare.png"):
        assert subprocess.run(["git", "check-ignore", "-q", name], cwd=root).returncode == 0


def test_mask_dilate_grows_the_holes(run, imgs):
    """--mask-dilate N fills N more pixels around each hole (known pixels stay exact
    otherwise)."""
    src = read_image(imgs / "in" / "im0.png").array
    r0 = run("inpaint", imgs / "in" / "im0.png", imgs / "masks" / "im0.png", "-o", imgs / "d0.png",
             "--mask-dilate", "0")
    r2 = run("inpaint", imgs / "in" / "im0.png", imgs / "masks" / "im0.png", "-o", imgs / "d2.png",
             "--mask-dilate", "2")
    assert r0.exit_code == 0 and r2.exit_code == 0
    d0, d2 = read_image(imgs / "d0.png").array, read_image(imgs / "d2.png").array
    ring = (slice(1, 2 + 9), slice(2, 12))  # the 6x6 hole at [3:9, 4:10] grown by 2
    changed0 = (d0 != src).any(axis=2)
    changed2 = (d2 != src).any(axis=2)
    assert not changed0[1:3, 2:12].any() and changed2[1:3, 2:12].any()  # rows just above the hole
    assert not changed2[12:, :].any() and changed2[ring].mean() > 0.5


def test_each_sampler_starts_where_it_says(run, imgs, tiny_prior):
    """Regression: another sampler inherited the task's start (0.2), so --sampler ddrm was an
    SDEdit restart from a fill; now each sampler has its own start (list, --json) and
    --sigma-max (0-255) sets it."""
    info = json.loads(run("list", "--json").output)
    assert info["samplers"]["ddrm"]["start"] is None and abs(info["samplers"]["dpir"]["start"] - 49) < 1e-6
    assert abs(info["tasks"]["inpaint"]["start"] - 51) < 1e-6
    args = ("inpaint", imgs / "in" / "im0.png", imgs / "masks" / "im0.png", "--steps", "2", "--json")
    rec = json.loads(run(*args, "-o", imgs / "s1.png", "--sampler", "ddrm").output.splitlines()[-1])
    assert abs(rec["sigma_max"] - tiny_prior.schedule.sigma_max * 255) < 1e-2 * rec["sigma_max"]
    rec = json.loads(run(*args, "-o", imgs / "s2.png", "--sampler", "ddrm", "--sigma-max", "30").output.splitlines()[-1])
    assert abs(rec["sigma_max"] - 30) < 1e-6
    rec = json.loads(run(*args, "-o", imgs / "s3.png").output.splitlines()[-1])
    assert rec["sampler"] == "dpir" and abs(rec["sigma_max"] - 51) < 1e-6


def test_several_files_and_stdin_stdout(run, imgs, tiny_prior_dir):
    """Regression: `restore denoise a.png b.png` and `-` for stdin/stdout did not work."""
    import subprocess
    import sys

    a, b = imgs / "in" / "im0.png", imgs / "in" / "im1.png"
    r = run("denoise", a, b, "-o", imgs / "several", "--sigma", "10")
    assert r.exit_code == 0 and "done 2" in r.output
    assert {p.name for p in (imgs / "several").iterdir()} == {"im0.png", "im1.png"}
    r = run("denoise", a, b, "-o", imgs / "several", "--sigma", "10")  # a batch: existing outputs skipped
    assert r.exit_code == 0 and "skipped 2" in r.output
    r = run("inpaint", a, imgs / "in" / "im2.png", imgs / "masks", "-o", imgs / "sev2", "--steps", "2")
    assert r.exit_code == 0 and len(list((imgs / "sev2").iterdir())) == 2  # masks matched by stem
    r = run("denoise", a, imgs / "nope.png", "-o", imgs / "x")
    assert r.exit_code == 1 and "nope.png" in r.output
    cmd = [sys.executable, "-m", "restore", "denoise", "-", "--sigma", "10", "-q", "--weights", str(tiny_prior_dir)]
    p = subprocess.run(cmd, input=a.read_bytes(), capture_output=True, timeout=120)
    assert p.returncode == 0 and p.stdout[:8] == b"\x89PNG\r\n\x1a\n", p.stderr
    import cv2

    out = cv2.imdecode(np.frombuffer(p.stdout, np.uint8), cv2.IMREAD_UNCHANGED)
    assert out.shape == read_image(a).array.shape and b"s" in p.stderr  # the result line went to stderr
    p = subprocess.run(cmd[:4] + [str(a), "-o", "-"] + cmd[5:], capture_output=True, timeout=120)
    assert p.returncode == 0 and p.stdout[:4] == b"\x89PNG"
    for extra in (["--compare"], ["--samples", "2", "--sampler", "ddnm"]):  # refused before the work
        p = subprocess.run(cmd + extra, input=a.read_bytes(), capture_output=True, timeout=120)
        assert p.returncode == 2 and b"not stdout" in p.stderr and b"step" not in p.stderr and not p.stdout


def test_fill_sample_gives_a_posterior_sample(run, imgs, tiny_prior):
    """--fill sample runs the sampling recipe (a stochastic sampler from noise), so it takes
    --samples; --fill mean (the default) is dpir's deterministic posterior mean."""
    import torch

    from restore.api import run as api_run
    from restore.tasks import get_task

    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    hole = np.zeros((16, 16), bool)
    hole[4:12, 4:12] = True
    a = api_run(x, "inpaint", mask=hole, fill="sample", steps=3, seed=1, prior=tiny_prior)
    b = api_run(x, "inpaint", mask=hole, fill="sample", steps=3, seed=2, prior=tiny_prior)
    assert a.sampler == get_task("inpaint").SAMPLE.sampler and not torch.equal(a.image, b.image)
    assert abs(a.sigma_start - get_task("inpaint").SAMPLE.sigma_max) < 1e-9
    assert api_run(x, "inpaint", mask=hole, steps=3, prior=tiny_prior).sampler == "dpir"
    r = run("inpaint", imgs / "in" / "im0.png", imgs / "masks" / "im0.png", "--fill", "sample", "--samples", "2",
            "--steps", "2", "-o", imgs / "f.png")
    assert r.exit_code == 0 and (imgs / "f.std.png").exists()


def test_sampler_options_on_the_command_line(run, imgs, tiny_prior_dir):
    """``--sampler NAME@KEY=VALUE``: the sampler's own options, as the API takes them (and
    ``restore eval --samplers``); a switch takes true/false."""
    import restore

    i0 = imgs / "in" / "im0.png"
    out = imgs / "ens.png"
    r = run("denoise", i0, "--sigma", "20", "--sampler", "mmse@poses=8", "-o", out, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["poses"] == 8
    x = read_image(i0).array
    want = restore.denoise(x, sigma=20 / 255, sampler="mmse", poses=8, prior=str(tiny_prior_dir))
    plain = restore.denoise(x, sigma=20 / 255, prior=str(tiny_prior_dir))
    got = read_image(out).array.astype(int)
    assert np.abs(got - want.astype(int)).max() <= 1 and np.abs(got - plain.astype(int)).max() > 1
    r = run("inpaint", i0, imgs / "masks" / "im0.png", "--sampler", "dpir@clip=false,momentum=0", "--steps", "2",
            "-o", imgs / "noclip.png", "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.output.strip().splitlines()[-1])
    assert rec["clip"] is False and rec["momentum"] == 0


def test_a_missing_input_of_train_or_convert_exits_1(run, imgs, tmp_path):
    """README: a file the command names that is missing exits 1; train's DATA_DIR / --val-dir
    and convert's CHECKPOINT exited 2 (click's usage error) where the tasks exit 1."""
    r = run("train", tmp_path / "none", "-o", tmp_path / "p")
    assert r.exit_code == 1 and "no such folder (DATA_DIR)" in r.output
    r = run("train", imgs / "in", "-o", tmp_path / "p", "--val-dir", tmp_path / "none")
    assert r.exit_code == 1 and "no such folder (--val-dir)" in r.output and not (tmp_path / "p").exists()
    r = run("convert", tmp_path / "none.pt", "-o", tmp_path / "q", "--preset", "ffhq256")
    assert r.exit_code == 1 and "no such file" in r.output


def test_the_librarys_warnings_read_as_the_command_lines(run, imgs, monkeypatch):
    """A big prior on the CPU was warned about as a raw Python warning (a file path, then the
    source line of the call); it is one "warning: ..." line as every other."""
    import restore.prior.denoiser as denoiser
    from restore.api import _cached_prior

    monkeypatch.setattr(denoiser, "BIG_PRIOR", 0)  # every prior is "big"
    _cached_prior.cache_clear()  # a prior loaded afresh warns (once per prior)
    r = run("denoise", imgs / "in" / "im0.png", "--sigma", "5", "-o", imgs / "warned.png")
    _cached_prior.cache_clear()
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if "runs on the CPU" in ln]
    assert len(lines) == 1 and lines[0].startswith("warning: prior") and "UserWarning" not in r.output
    assert ".py:" not in r.output


def test_folder_rerun_with_other_settings_is_refused(run, imgs):
    """A folder's outputs carry the settings that made them; a rerun into the folder with other
    settings is refused before any work (it would keep them and mix two settings), --overwrite
    redoes them, and outputs without a note (another program's) are kept as before."""
    from restore.io import read_note

    out = imgs / "out"
    r = run("denoise", imgs / "in", "-o", out, "--sigma", "10")
    assert r.exit_code == 0 and "done 3" in r.output
    made = json.loads(read_note(out / "im0.png"))["settings"]
    assert made["task"] == "denoise" and made["sigma"] == 10 and made["steps"] is None
    assert "/" not in made["weights"] and made["weights"]  # a folder by its name: a shared output tells no paths
    r = run("denoise", imgs / "in", "-o", out, "--sigma", "10")  # the same settings: a resume, all kept
    assert r.exit_code == 0 and "skipped 3" in r.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    r = run("denoise", imgs / "in", "-o", out, "--sigma", "25", "--sampler", "mmse@poses=2")
    assert r.exit_code == 2
    assert "im0.png and 2 other outputs" in r.output and "--sigma 10 (this run: --sigma 25)" in r.output
    assert "options (none) (this run: the sampler's options poses=2)" in r.output and "--overwrite" in r.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    r = run("denoise", imgs / "in", "-o", out, "--sigma", "25", "--overwrite")
    assert r.exit_code == 0 and "done 3" in r.output
    assert json.loads(read_note(out / "im1.png"))["settings"]["sigma"] == 25
    write_image(out / "im2.png", read_image(out / "im2.png").array, overwrite=True)  # no note: not judged
    (out / "im0.png").unlink()
    r = run("denoise", imgs / "in", "-o", out, "--sigma", "25", "--sampler", "mmse@poses=3")
    assert r.exit_code == 2 and "im1.png in the output folder was made with" in r.output
    r = run("denoise", imgs / "in", "-o", out, "--sigma", "25")
    assert r.exit_code == 0 and "done 1, skipped 2" in r.output


def test_a_tiff_folder_rerun_with_other_settings_is_refused_too(run, imgs):
    """TIFF outputs carried no record, so a rerun with other settings kept them in silence,
    mixing two settings in one folder; their note is now in an XMP packet, read as a PNG's is."""
    out = imgs / "tifs"
    r = run("denoise", imgs / "in", "-o", out, "--sigma", "10", "--format", "tif")
    assert r.exit_code == 0 and "done 3" in r.output and sorted(p.suffix for p in out.iterdir()) == [".tif"] * 3
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    r = run("denoise", imgs / "in", "-o", out, "--sigma", "10", "--format", "tif")
    assert r.exit_code == 0 and "skipped 3" in r.output and "no record" not in r.output
    r = run("denoise", imgs / "in", "-o", out, "--sigma", "25", "--format", "tif")
    assert r.exit_code == 2 and "--sigma 10 (this run: --sigma 25)" in r.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_no_task_option_shares_a_name_with_a_common_one():
    """dejpeg's --jpeg-quality and the common --quality once wrote one keyword: one option
    silently took the other's value. Every task's options and the common ones keep apart."""
    from restore.cli.main import task_command

    for name in TASKS.names():
        dests = [p.name for p in task_command(name).params]
        assert len(dests) == len(set(dests)), (name, sorted(d for d in dests if dests.count(d) > 1))


def test_a_recursive_run_leaves_out_an_earlier_runs_outputs_inside_its_folder(run, imgs, tmp_path):
    """From a files trial: `restore denoise photos -o photos/out1`, then `restore denoise photos -o
    photos/out2 --recursive` restored out1's outputs again as photos. Images below the top level
    that carry restore's note are left out, said; --glob takes them; a run's output folder given
    as the input is restored (its top level is not judged)."""
    import shutil

    d = tmp_path / "photos"
    shutil.copytree(imgs / "in", d)
    (d / "trip").mkdir()
    write_image(d / "trip" / "day1.png", np.full((8, 8, 3), 90, np.uint8))  # a photo of the user's in a sub-folder
    r = run("denoise", d, "-o", d / "out1", "--sigma", "10")
    assert r.exit_code == 0, r.output
    r = run("denoise", d, "-o", d / "out2", "--sigma", "10", "--recursive", quiet=False)
    assert r.exit_code == 0, r.output
    assert "3 outputs of an earlier restore run left out (in out1: an -o inside the input folder" in r.output
    got = sorted(str(p.relative_to(d / "out2")) for p in (d / "out2").rglob("*.png"))
    assert got == ["im0.png", "im1.png", "im2.png", "trip/day1.png"]
    r = run("denoise", d / "out1", "-o", tmp_path / "again", "--sigma", "10")  # the outputs as the input: taken
    assert r.exit_code == 0 and len(list((tmp_path / "again").iterdir())) == len(list((d / "out1").iterdir()))
    r = run("denoise", d, "-o", tmp_path / "all", "--sigma", "10", "--recursive", "--glob", "**/*.png")
    assert r.exit_code == 0 and len(list((tmp_path / "all" / "out1").iterdir())) == len(list((d / "out1").iterdir()))
