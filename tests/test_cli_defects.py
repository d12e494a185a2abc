"""Regressions from a new user's trial of the command line (issue 23, section 3)."""

import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from restore.cli.main import main
from restore.io import write_image


@pytest.fixture
def run(tiny_prior_dir):
    def _run(*args, input=None, quiet=True):
        a = [str(x) for x in args] + ["--weights", str(tiny_prior_dir)] + (["-q"] if quiet else [])
        return CliRunner().invoke(main, a, input=input, catch_exceptions=False)

    return _run


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        write_image(d / f"im{i}.png", (rng.random((20, 24, 3)) * 255).astype(np.uint8))
    return d


def test_json_records_every_failure_missing_inputs_included(tmp_path, folder, run):
    r = run("denoise", tmp_path / "nope.png", "--json")
    assert r.exit_code == 1
    rec = json.loads(r.stdout.splitlines()[0])
    assert rec["status"] == "failed" and "no such file" in rec["error"] and rec["input"].endswith("nope.png")
    r = run("denoise", folder / "im0.png", tmp_path / "nope.png", "--sigma", "5", "-o", tmp_path / "out", "--json")
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.exit_code == 1 and (tmp_path / "out" / "im0.png").exists()  # the others still run
    assert [x.get("status") for x in recs[:2]] == ["done", "failed"] and recs[-1]["summary"]["failed"] == 1
    # a README trial: "--json records name the prior", but a failed image's did not
    assert recs[1]["prior"] == recs[0]["prior"] and recs[1]["task"] == "denoise" == rec["task"] and "prior" in rec


@pytest.mark.parametrize("args, needle", [
    (["denoise", "{img}", "--sampler", "repaint"], "cannot serve task 'denoise'"),
    (["deblur", "{img}", "--kernel", "motion:abc"], "bad numbers for motion"),
    (["denoise", "{img}", "--seed", str(2**64)], "not in the range 0<=x<=18446744073709551615"),
])
def test_usage_errors_exit_2_before_any_work(folder, run, args, needle):
    r = run(*[a.format(img=folder / "im0.png") for a in args])
    assert r.exit_code == 2 and needle in r.output and "step" not in r.output


def test_folder_with_reference_prints_scores_and_their_mean(tmp_path, folder, run):
    r = run("denoise", folder, "--sigma", "5", "--reference", folder, "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert r.output.count("PSNR") >= 4 and "mean over 4 with a reference: PSNR" in r.output
    r = run("denoise", folder, "--sigma", "5", "--reference", folder, "-o", tmp_path / "out2", "--json")
    assert json.loads(r.stdout.splitlines()[-1])["mean"]["images"] == 4


def test_each_failure_is_printed_once(tmp_path, folder, run):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    r = run("denoise", folder, "--sigma", "5", "-o", tmp_path / "out")
    assert r.exit_code == 1 and r.output.count("broken.png") == 1


def test_a_run_holding_an_output_makes_it_a_skip_not_a_failure(tmp_path, folder, run):
    """A live run's claim is a skip, said so in the summary; claims of a gone process are taken
    over: its pid dead, this process's own pid (a restarted container gives the same pids), or
    a pid now another process's (the start time in the claim differs)."""
    from restore.cli.local import _started

    out = tmp_path / "out"
    out.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # another run, alive
    try:
        live = out / ".im1.png.claim"
        live.write_text(f"{socket.gethostname()} {other.pid} {_started(other.pid) or ''}".rstrip())
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        (out / ".im2.png.claim").write_text(f"{socket.gethostname()} {dead.stdout.strip()}")  # a killed run's
        (out / ".im3.png.claim").write_text(f"{socket.gethostname()} {os.getpid()}")  # this pid, not this run
        r = run("denoise", folder, "--sigma", "5", "-o", out)
        assert r.exit_code == 0, r.output
        assert "done 3, skipped 1 (0 already written, 1 being written by another run" in r.output
        assert not (out / "im1.png").exists() and (out / "im2.png").exists() and (out / "im3.png").exists()
        assert not (out / ".im2.png.claim").exists() and live.exists()
        if _started(other.pid) is not None:  # Linux: a reused pid (another start time) is no live claim
            live.write_text(f"{socket.gethostname()} {other.pid} 1")
            r = run("denoise", folder, "--sigma", "5", "-o", out)
            assert r.exit_code == 0 and (out / "im1.png").exists() and not live.exists()
    finally:
        other.kill()


def test_a_reference_that_is_not_there_fails_before_any_work(tmp_path, folder, run):
    """--reference names a file (or a folder of them): missing, or a folder with none of the
    inputs' references, is a failed input (exit 1), where the run went on unscored."""
    r = run("denoise", folder / "im0.png", "--sigma", "5", "-o", tmp_path / "a.png", "--reference", tmp_path / "no.png")
    assert r.exit_code == 1 and "no.png: no such file or directory (--reference)" in r.output
    assert not (tmp_path / "a.png").exists()
    r = run("denoise", folder, "--sigma", "5", "-o", tmp_path / "out", "--reference", tmp_path / "nodir", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout.splitlines()[0])["status"] == "failed"
    other = tmp_path / "other"
    other.mkdir()
    write_image(other / "zzz.png", np.zeros((20, 24, 3), np.uint8))
    for src, out in ((folder, tmp_path / "out2"), (folder / "im0.png", tmp_path / "b.png")):
        r = run("denoise", src, "--sigma", "5", "-o", out, "--reference", other)
        assert r.exit_code == 1 and "holds no reference for" in r.output and not out.exists()
    write_image(other / "im1.png", np.zeros((20, 24, 3), np.uint8))  # one of four: the others run unscored
    r = run("denoise", folder, "--sigma", "5", "-o", tmp_path / "out3", "--reference", other)
    assert r.exit_code == 0 and "done 4" in r.output and "mean over 1 with a reference" in r.output


def test_an_output_folder_that_cannot_be_written_fails_before_any_work(tmp_path, folder, run, monkeypatch):
    """Found before the model is loaded, in one line naming the output (it was an 'internal
    error' naming the input, after the work)."""
    import tempfile

    import restore.cli.local as local

    def no_solve(*a, **k):
        raise AssertionError("the work ran")

    monkeypatch.setattr(local, "solve", no_solve)
    (tmp_path / "afile").write_text("x")
    r = run("denoise", folder / "im0.png", "--sigma", "5", "-o", tmp_path / "afile" / "out.png")
    assert r.exit_code == 1 and "cannot write there" in r.output and "afile is not a folder" in r.output

    def refused(*a, **k):  # a read-only mount or an immutable folder (root ignores permission bits)
        raise PermissionError(13, "Permission denied")

    done = tmp_path / "done"  # a finished folder run, rerun: nothing to write, all skipped
    done.mkdir()
    for i in range(4):
        write_image(done / f"im{i}.png", np.zeros((20, 24, 3), np.uint8))
    monkeypatch.setattr(tempfile, "mkstemp", refused)
    for src, out in ((folder / "im0.png", tmp_path / "ro" / "out.png"), (folder, tmp_path / "ro2")):
        r = run("denoise", src, "--sigma", "5", "-o", out, "--json")
        assert r.exit_code == 1 and "cannot write there (Permission denied)" in r.output
        assert json.loads(r.stdout.splitlines()[0])["status"] == "failed"
    r = run("denoise", folder, "--sigma", "5", "-o", done)
    assert r.exit_code == 0 and "skipped 4" in r.output


def test_files_beside_the_output_are_never_silently_replaced(tmp_path, folder, run):
    """--compare's <out>.compare.png follows the output's rules: there already, it is replaced
    only with --overwrite (single runs exit 1 before any work; a folder run fails that image
    alone), and never when it is one of the run's inputs."""
    out = tmp_path / "o.png"
    cmp = tmp_path / "o.compare.png"
    cmp.write_bytes(b"keep me")
    r = run("denoise", folder / "im0.png", "--sigma", "5", "-o", out, "--compare")
    assert r.exit_code == 1 and "o.compare.png: exists (pass --overwrite" in r.output
    assert cmp.read_bytes() == b"keep me" and not out.exists()
    r = run("denoise", folder / "im0.png", "--sigma", "5", "-o", out, "--compare", "--overwrite")
    assert r.exit_code == 0 and out.exists() and cmp.read_bytes()[:4] == b"\x89PNG"

    dst = tmp_path / "out"
    dst.mkdir()
    (dst / "im1.compare.png").write_bytes(b"keep me")
    r = run("denoise", folder, "--sigma", "5", "-o", dst, "--compare")
    assert r.exit_code == 1 and "im1.compare.png: exists" in r.output and "done 3" in r.output
    assert (dst / "im1.compare.png").read_bytes() == b"keep me" and not (dst / "im1.png").exists()

    src = tmp_path / "a.compare.png"  # the input is the file --compare would write
    write_image(src, (np.random.default_rng(1).random((20, 24, 3)) * 255).astype(np.uint8))
    before = src.read_bytes()
    r = run("denoise", src, "--sigma", "5", "-o", tmp_path / "a.png", "--compare", "--overwrite")
    assert r.exit_code == 2 and "is also an input of this run" in r.output and src.read_bytes() == before


def test_an_interrupted_folder_run_leaves_no_claim(tmp_path, folder, run, monkeypatch):
    """Ctrl-C in the middle of a folder run: the outputs it had claimed are released at once,
    not left for the next run to clear."""
    import restore.cli.local as local

    real, seen = local.solve, []

    def solve(job, group, progress):
        seen.append(sorted(p.name for p in (tmp_path / "out").glob(".*.claim")))
        if len(seen) == 2:
            raise KeyboardInterrupt
        return real(job, group, progress)

    monkeypatch.setattr(local, "solve", solve)
    r = run("denoise", folder, "--sigma", "5", "-o", tmp_path / "out", "--batch-size", "1")
    assert r.exit_code != 0 and len(seen) == 2 and seen[1]  # the second image was claimed while it ran
    assert len(list((tmp_path / "out").glob("*.png"))) == 1 and not list((tmp_path / "out").glob(".*claim"))


def test_two_runs_into_one_folder_share_the_work(tmp_path, folder, tiny_prior_dir):
    """Two processes started together: no image fails, none is written twice."""
    for i in range(4, 10):
        write_image(folder / f"im{i}.png", (np.random.default_rng(i).random((20, 24, 3)) * 255).astype(np.uint8))
    cmd = [sys.executable, "-m", "restore.cli.main", "denoise", str(folder), "--sigma", "5", "-o",
           str(tmp_path / "out"), "--weights", str(tiny_prior_dir), "--json", "-q"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    summaries = [json.loads(o.splitlines()[-1])["summary"] for o, _ in outs]
    assert sum(s["done"] for s in summaries) == 10 and all(s["failed"] == 0 for s in summaries)
    assert len(list((tmp_path / "out").glob("*.png"))) == 10 and not list((tmp_path / "out").glob(".*claim"))


def test_stdin_is_named_as_given_and_tiny_images_do_not_warn(tmp_path, run):
    r = run("denoise", "-", input=b"")
    assert r.exit_code == 1 and "- (stdin)" in r.output and "/stdin" not in r.output
    from restore.io import encode_image

    png = encode_image(np.full((24, 24, 3), 128, np.uint8), ".png")
    r = run("denoise", "-", "--sigma", "90", "-o", tmp_path / "s.png", "--json", input=png)
    assert r.exit_code == 0 and json.loads(r.stdout.splitlines()[-1])["input"] == "-"
    assert "far from the noise" in r.stderr and "/stdin" not in r.stderr
    write_image(tmp_path / "one.png", np.full((1, 1, 3), 128, np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = run("denoise", tmp_path / "one.png", "-o", tmp_path / "one.out.png")
        assert r.exit_code == 0, r.output
        r = run("deblur", tmp_path / "one.png", "--kernel", "box:1", "--steps", "1", "-o", tmp_path / "d.png")
        assert r.exit_code == 0, r.output


def test_deblur_help_has_no_runs_of_spaces_in_its_text(run):
    r = CliRunner().invoke(main, ["deblur", "--help"])
    assert "or a file" in " ".join(r.output.split()) and "a     file" not in r.output


def test_a_single_run_shows_its_elapsed_time_before_the_first_step(monkeypatch, capsys):
    """Work before a sampler's first step (a scene fill's PatchMatch: a minute on a large
    photo) shows a line with the elapsed time, gone when the step bar starts."""
    import time
    from types import SimpleNamespace

    import restore.cli.local as local

    monkeypatch.setattr(local, "WAITING_LINE_AFTER", 0.05)
    monkeypatch.setattr(local, "a_terminal", lambda f: True)  # (capsys is no terminal: nothing would be drawn)
    progress = local._step_bar(SimpleNamespace(it=SimpleNamespace(src=Path("photo.png"))))
    time.sleep(0.3)
    waited = capsys.readouterr().err
    progress({"i": 0, "n": 2})
    progress.close()
    assert "photo.png: working, 0 s" in waited and "step" not in waited
    assert "step" in capsys.readouterr().err
    quick = local._step_bar(SimpleNamespace(it=SimpleNamespace(src=Path("photo.png"))))
    quick.close()  # done within WAITING_LINE_AFTER: nothing drawn
    time.sleep(0.1)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(local, "a_terminal", lambda f: False)  # a log file (a trial: the redraws piled up in it)
    logged = local._step_bar(SimpleNamespace(it=SimpleNamespace(src=Path("photo.png"))))
    time.sleep(0.3)
    logged({"i": 0, "n": 2})
    logged({"i": 1, "n": 2})
    logged.close()
    assert capsys.readouterr().err == ""


def test_jpeg_options_that_a_file_overrides_say_so(tmp_path, run):
    """dejpeg reads a JPEG file's own tables (--jpeg-quality is for images without their
    file), and sr takes the larger of --sigma and the JPEG's own level: each says so."""
    from PIL import Image

    src = tmp_path / "q30.jpg"
    Image.fromarray((np.random.default_rng(0).random((40, 48, 3)) * 255).astype(np.uint8)).save(src, quality=30)
    r = run("dejpeg", src, "--chroma", "4:4:4", "--steps", "1", "-o", tmp_path / "d.png")
    assert r.exit_code == 0 and "--chroma 4:4:4 is not used" in r.output
    r = run("dejpeg", src, "--steps", "1", "-o", tmp_path / "d2.png")
    assert r.exit_code == 0 and "not used" not in r.output
    r = run("sr", src, "--scale", "2", "--sigma", "5", "--steps", "1", "-o", tmp_path / "s.png")
    assert r.exit_code == 0 and "--sigma 5 is below the noise this JPEG" in r.output
    r = run("sr", src, "--scale", "2", "--sigma", "60", "--steps", "1", "-o", tmp_path / "s2.png")
    assert r.exit_code == 0 and "below" not in r.output


def test_a_kernel_file_is_an_input(folder, run, tmp_path):
    """A kernel file that is missing or unreadable fails as an input does (exit 1, as the
    README's exit codes say); a bad spec is a usage error (exit 2)."""
    img = folder / "im0.png"
    r = run("deblur", img, "--kernel", tmp_path / "missing.png")
    assert r.exit_code == 1 and "missing.png: no such file (--kernel)" in r.output
    (tmp_path / "junk.png").write_text("junk")
    r = run("deblur", img, "--kernel", tmp_path / "junk.png", "-o", tmp_path / "o.png")
    assert r.exit_code == 1 and "not an image file" in r.output and not (tmp_path / "o.png").exists()
    r = run("deblur", img, "--kernel", "foo")
    assert r.exit_code == 2 and "is not understood" in r.output


def test_reference_scores_are_those_of_the_file_written(tmp_path, folder, run, monkeypatch):
    """--reference scores the output as written (rounded to its bit depth; a JPEG decoded),
    so scikit-image on the saved file gives the printed number; a reference of the wrong size
    is refused before the work."""
    from skimage.metrics import peak_signal_noise_ratio

    from restore.io import read_image

    ref = folder / "im1.png"
    for ext in (".png", ".jpg"):
        out = tmp_path / f"o{ext}"
        r = run("denoise", folder / "im0.png", "--sigma", "30", "-o", out, "--reference", ref, "--json")
        assert r.exit_code == 0, r.output
        rec = json.loads(r.stdout.splitlines()[-1])
        want = peak_signal_noise_ratio(read_image(ref).array, read_image(out).array, data_range=255)
        assert abs(rec["psnr"] - want) < 1e-3, ext

    import restore.cli.local as local

    monkeypatch.setattr(local, "solve", lambda *a, **k: (_ for _ in ()).throw(AssertionError("the work ran")))
    small = tmp_path / "small.png"
    write_image(small, np.zeros((10, 12, 3), np.uint8))
    r = run("denoise", folder / "im0.png", "--sigma", "30", "-o", tmp_path / "x.png", "--reference", small)
    assert r.exit_code == 1 and "reference is 12x10 but the output will be 24x20" in r.output


def test_grey_reference_for_a_colour_output_is_scored_on_grey_and_says_so(tmp_path, folder, run):
    """A one-channel reference against a colour output: both scored on grey (the colour side as
    Pillow's "L" makes it), and the record says PSNR-grey, not a plain PSNR."""
    from PIL import Image
    from skimage.metrics import peak_signal_noise_ratio

    from restore.io import read_image

    ref = tmp_path / "grey.png"
    Image.open(folder / "im1.png").convert("L").save(ref)
    out = tmp_path / "o.png"
    r = run("denoise", folder / "im0.png", "--sigma", "30", "-o", out, "--reference", ref, "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout.splitlines()[-1])
    assert rec["metric"] == "PSNR-grey"
    o = np.asarray(read_image(out).array, np.float64) @ np.array([0.299, 0.587, 0.114])
    want = peak_signal_noise_ratio(np.asarray(Image.open(ref), np.float64), o, data_range=255)
    assert abs(rec["psnr"] - want) < 1e-3


def test_folder_runs_from_a_new_users_third_trial(tmp_path, folder, run, monkeypatch):
    """'.' as the input folder (it crashed: PosixPath('.') has an empty name) writes beside it;
    a mask kept among the images is not restored as one; the input folder as -o, and two masks
    of one stem, are refused as usage (exit 2)."""
    from PIL import Image

    monkeypatch.chdir(folder)
    r = run("denoise", ".", "--sigma", "5")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (folder.parent / "in.denoise").iterdir()) == [f"im{i}.png" for i in range(4)]
    m = np.zeros((20, 24), np.uint8)
    m[5:10, 5:10] = 255
    Image.fromarray(m).save(folder / "mask.png")
    r = run("inpaint", folder, folder / "mask.png", "-o", tmp_path / "filled", "--steps", "1")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "filled").iterdir()) == [f"im{i}.png" for i in range(4)]
    r = run("denoise", folder, "-o", folder, "--sigma", "5")
    assert r.exit_code == 2 and "is the input folder" in r.output
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(m).save(masks / "im0.png")
    Image.fromarray(m).save(masks / "im0.jpg")
    r = run("inpaint", folder, masks, "-o", tmp_path / "o2", "--steps", "1")
    assert r.exit_code == 2 and "both match im0" in r.output


def test_glob_is_case_blind_and_folder_scores_go_to_stdout(tmp_path, folder, run):
    r = run("denoise", folder, "--glob", "IM*.PNG", "--sigma", "5", "-o", tmp_path / "o")
    assert r.exit_code == 0 and "done 4" in r.stdout
    r = run("denoise", folder, "--sigma", "5", "-o", tmp_path / "s", "--reference", folder)
    assert r.exit_code == 0 and sum("PSNR" in ln for ln in r.stdout.splitlines()) == 5  # 4 images, the mean


def test_json_records_and_left_out_files_are_said(tmp_path, folder, run):
    """--json: a done record says so, a single file's existing output is a failed record; a
    folder's files of other types are left out with a note, not in silence."""
    (folder / "notes.txt").write_text("not an image")
    r = run("denoise", folder, "--sigma", "5", "-o", tmp_path / "o", "--json", quiet=False)
    assert r.exit_code == 0 and "2 files" not in r.stderr and "1 file of other types left out (.txt)" in r.stderr
    assert {json.loads(x).get("status") for x in r.stdout.splitlines()[:-1]} == {"done"}
    r = run("denoise", folder / "im0.png", "--sigma", "5", "-o", tmp_path / "o" / "im0.png", "--json")
    rec = json.loads(r.stdout.splitlines()[0])
    assert r.exit_code == 1 and rec["status"] == "failed" and "exists" in rec["error"]


def test_folder_runs_from_a_batch_trial(tmp_path, folder, run):
    """From a new user's trial of folders and batches: a run killed between an output and its
    --compare file never made the compare file (the rerun skipped the output) and left its
    claim; a folder of references lacking one image's scored the rest in silence; sr's summary
    said PSNR for PSNR-Y; a shell's photos/* matching a sub-folder stopped the batch; --glob
    '**/*.png' missed the top level; a hidden folder was searched; `-o -` on a folder exited 1;
    a folder run's `-o out.png` made a folder of that name; a file given twice was told to
    rename one."""
    out = tmp_path / "out"
    r = run("denoise", folder, "-o", out, "--sigma", "5", "--compare")
    assert r.exit_code == 0 and len(list(out.glob("*.compare.png"))) == 4
    kept = (out / "im0.png").stat().st_mtime_ns
    (out / "im1.compare.png").unlink()
    (out / ".im2.png.claim").write_text(f"{socket.gethostname()} 999999999")  # its run is gone
    r = run("denoise", folder, "-o", out, "--sigma", "5", "--compare")
    assert r.exit_code == 0 and "done 1, skipped 3" in r.output, r.output
    assert (out / "im1.compare.png").exists() and (out / "im0.png").stat().st_mtime_ns == kept
    assert not (out / ".im2.png.claim").exists()
    (out / ".im0.png.claim").write_text("")  # an empty claim (no run's: claims are linked in whole): swept
    r = run("denoise", folder, "-o", out, "--sigma", "5", "--compare")
    assert r.exit_code == 0 and not (out / ".im0.png.claim").exists()
    (out / "im0.png").unlink()
    (out / "im0.compare.png").unlink()
    (out / ".im0.png.claim").write_text("garbage")  # and no block: the image is restored
    r = run("denoise", folder, "-o", out, "--sigma", "5", "--compare")
    assert r.exit_code == 0 and "done 1, skipped 3" in r.output and (out / "im0.png").exists()
    write_image(out / "im3.png", np.zeros((20, 24, 3), np.uint8), overwrite=True)  # not made by restore
    (out / "im3.compare.png").unlink()
    r = run("denoise", folder, "-o", out, "--sigma", "5", "--compare")
    assert r.exit_code == 1 and "im3.png: exists without im3.compare.png" in r.output

    refs = tmp_path / "refs"
    refs.mkdir()
    for i in range(3):
        write_image(refs / f"im{i}.png", np.full((40, 48, 3), 100, np.uint8))
    r = run("sr", folder, "--scale", "2", "--steps", "1", "-o", tmp_path / "sr", "--reference", refs)
    assert r.exit_code == 0 and "no reference for 1 of 4 images (im3.png): restored without a score" in r.output
    assert "mean over 3 with a reference: PSNR-Y " in r.output and "SSIM-Y " in r.output
    r = run("sr", folder, "--scale", "2", "--steps", "1", "-o", tmp_path / "srj", "--reference", refs, "--json")
    assert json.loads(r.stdout.splitlines()[-1])["mean"]["metric"] == "PSNR-Y"

    (folder / "sub").mkdir()
    write_image(folder / "sub" / "deep.png", np.zeros((20, 24, 3), np.uint8))
    (folder / ".thumbs").mkdir()
    write_image(folder / ".thumbs" / "t.png", np.zeros((20, 24, 3), np.uint8))
    r = run("denoise", folder / "im0.png", folder / "sub", "-o", tmp_path / "several", "--sigma", "5", quiet=False)
    assert r.exit_code == 0 and "1 folder among the inputs left out" in r.output
    assert [p.name for p in (tmp_path / "several").iterdir()] == ["im0.png"]
    r = run("denoise", folder, "--recursive", "--glob", "**/*.png", "-o", tmp_path / "rec", "--sigma", "5")
    assert r.exit_code == 0 and "done 5" in r.output
    assert not (tmp_path / "rec" / ".thumbs").exists() and (tmp_path / "rec" / "sub" / "deep.png").exists()
    r = run("denoise", folder, "-o", tmp_path / "plain", "--sigma", "5", quiet=False)
    assert "1 sub-folder left out (sub); --recursive takes them" in r.output

    r = run("denoise", folder, "-o", "-")
    assert r.exit_code == 2 and "takes one image, not a folder" in r.output
    r = run("denoise", folder, "-o", tmp_path / "x.png")
    assert r.exit_code == 2 and "needs an output folder, not a file" in r.output and not (tmp_path / "x.png").exists()
    r = run("denoise", folder / "im0.png", folder / "im0.png", "-o", tmp_path / "twice")
    assert r.exit_code == 2 and "im0.png: given twice" in r.output


def test_format_sets_a_folders_output_type(tmp_path, folder, run):
    """From the batch trial: a folder of JPEG photos could only come out as PNG files (several
    times larger); --format names the type of a folder's, a batch's or a lone image's outputs
    without -o, and disagrees with an -o of another type as a usage error."""
    from restore.io import read_image, read_note

    out = tmp_path / "out"
    r = run("denoise", folder, "-o", out, "--sigma", "5", "--format", "jpg", "--quality", "90")
    assert r.exit_code == 0 and sorted(p.name for p in out.iterdir()) == [f"im{i}.jpg" for i in range(4)]
    assert read_image(out / "im0.jpg").array.shape == (20, 24, 3) and json.loads(read_note(out / "im0.jpg"))
    r = run("denoise", folder, "-o", out, "--sigma", "5", "--format", "jpg", "--quality", "90")
    assert r.exit_code == 0 and "skipped 4" in r.output  # resumed: the JPEGs are the outputs
    r = run("denoise", folder / "im0.png", "--sigma", "5", "--format", "webp")
    assert r.exit_code == 0 and (folder / "im0.denoise.webp").exists()
    r = run("denoise", folder, "-o", tmp_path / "again", "--sigma", "5", quiet=False)  # an earlier output beside
    assert r.exit_code == 0 and "1 earlier output of restore left out" in r.output
    r = run("denoise", folder / "im0.png", "-o", tmp_path / "x.png", "--format", "jpg")
    assert r.exit_code == 2 and "--format jpg and -o .png disagree" in r.output
    r = run("denoise", folder / "im1.png", "-o", "-", "--format", "tif")
    assert r.exit_code == 2 and "stdout (-o -) takes PNG" in r.output


def test_settings_take_a_default_given_by_its_value_and_warn_of_outputs_without_a_record(tmp_path, folder, run):
    """From a trial of the settings record: `--sampler mmse` or `--steps 1` for denoise (its
    default sampler and steps: the same pixels) was refused as other settings; outputs without a
    record (re-saved by another program, a WebP) were kept in silence whatever the settings."""
    from PIL import Image

    out = tmp_path / "o"
    assert run("denoise", folder, "-o", out).exit_code == 0
    for same in (["--sampler", "mmse", "--steps", "1"], ["--sampler", "mmse@poses=1"]):
        r = run("denoise", folder, "-o", out, *same)
        assert r.exit_code == 0 and "skipped 4" in r.output, (same, r.output)
    r = run("denoise", folder, "-o", out, "--sampler", "dpir", "--steps", "2")
    assert r.exit_code == 2 and "--steps the default (this run: --steps 2)" in r.output
    m = tmp_path / "m.png"
    write_image(m, np.pad(np.full((6, 6), 255, np.uint8), ((7, 7), (9, 9))))
    assert run("inpaint", folder, m, "-o", tmp_path / "ip", "--steps", "2").exit_code == 0
    r = run("inpaint", folder, m, "-o", tmp_path / "ip", "--steps", "2", "--invert-mask")
    assert r.exit_code == 2 and "no --invert-mask (this run: --invert-mask)" in r.output
    Image.open(out / "im0.png").save(out / "im0.png")  # another program's save: the record is gone
    r = run("denoise", folder, "-o", out, "--sigma", "30")
    assert r.exit_code == 2  # the other three still say what made them
    for i in (1, 2, 3):
        (out / f"im{i}.png").unlink()
    r = run("denoise", folder, "-o", out, "--sigma", "30")
    assert r.exit_code == 0 and "im0.png holds no record of the settings that made it" in r.output


def test_a_folder_rerun_makes_again_the_outputs_whose_photo_or_mask_changed(tmp_path, folder, run):
    """From a trial: a rerun into a folder kept an output made from an older version of its
    photo, or with an older mask, since names and settings were the same ("done 0, skipped 1").
    Outputs record their inputs' fingerprints; those whose inputs changed are made again, with a
    warning naming them, and the others are kept."""
    from restore.io import read_image

    m = tmp_path / "m.png"
    write_image(m, np.pad(np.full((6, 6), 255, np.uint8), ((7, 7), (9, 9))))
    out = tmp_path / "o"
    assert run("inpaint", folder, m, "-o", out, "--steps", "2").exit_code == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    photo = read_image(folder / "im1.png").array.copy()
    photo[:8] = 255 - photo[:8]
    write_image(folder / "im1.png", photo, overwrite=True)  # an edited photo
    r = run("inpaint", folder, m, "-o", out, "--steps", "2")
    assert r.exit_code == 0 and "im1.png was made from another version of its input" in r.output, r.output
    assert "done 1" in r.output and "skipped 3" in r.output
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert [n for n in sorted(before) if after[n] != before[n]] == ["im1.png"]
    assert np.array_equal(read_image(out / "im1.png").array[:3], photo[:3])  # from the edited photo
    write_image(m, np.pad(np.full((6, 6), 255, np.uint8), ((4, 10), (9, 9))), overwrite=True)  # another mask
    r = run("inpaint", folder, m, "-o", out, "--steps", "2")
    assert r.exit_code == 0 and "done 4" in r.output
    assert "and 3 other outputs were made from another version" in r.output
    r = run("inpaint", folder, m, "-o", out, "--steps", "2")
    assert r.exit_code == 0 and "skipped 4" in r.output and "another version" not in r.output
    # a second trial: an --exclude file changed since was not seen; a per-image mask deleted since was
    # "made again" and then failed ("no mask found"): its output is kept, as before fingerprints
    ex = tmp_path / "ex.png"
    write_image(ex, np.pad(np.full((20, 4), 255, np.uint8), ((0, 0), (0, 20))))
    assert run("inpaint", folder, m, "-o", tmp_path / "x", "--steps", "2", "--exclude", ex).exit_code == 0
    write_image(ex, np.pad(np.full((20, 4), 255, np.uint8), ((0, 0), (20, 0))), overwrite=True)
    r = run("inpaint", folder, m, "-o", tmp_path / "x", "--steps", "2", "--exclude", ex)
    assert r.exit_code == 0 and "done 4" in r.output and "made from another version" in r.output
    masks = tmp_path / "masks"
    masks.mkdir()
    for i in range(4):
        write_image(masks / f"im{i}.png", np.pad(np.full((6, 6), 255, np.uint8), ((7, 7), (9, 9))))
    assert run("inpaint", folder, masks, "-o", tmp_path / "pm", "--steps", "2").exit_code == 0
    (masks / "im2.png").unlink()
    r = run("inpaint", folder, masks, "-o", tmp_path / "pm", "--steps", "2")
    assert r.exit_code == 0 and "skipped 4" in r.output and "another version" not in r.output, r.output


def test_a_folder_rerun_with_another_seed_is_refused_only_where_the_seed_changes_pixels(tmp_path, folder, run):
    """From a trial: `restore denoise DIR -o OUT` then the same with `--seed 5` was refused as
    made with other settings, though denoise's default sampler draws no noise (the same pixels
    whatever the seed). Inpainting (its scene fill draws with the seed) and a sampler that
    draws noise are still refused."""
    out = tmp_path / "o"
    assert run("denoise", folder, "-o", out, "--sigma", "10").exit_code == 0
    r = run("denoise", folder, "-o", out, "--sigma", "10", "--seed", "5")
    assert r.exit_code == 0 and "skipped 4" in r.output, r.output
    ddnm = ("--sigma", "10", "--sampler", "ddnm", "--steps", "2")
    assert run("denoise", folder, "-o", tmp_path / "d", *ddnm).exit_code == 0
    r = run("denoise", folder, "-o", tmp_path / "d", *ddnm, "--seed", "5")
    assert r.exit_code == 2 and "--seed 0 (this run: --seed 5)" in r.output
    m = tmp_path / "m.png"
    write_image(m, np.pad(np.full((6, 6), 255, np.uint8), ((7, 7), (9, 9))))
    assert run("inpaint", folder, m, "-o", tmp_path / "ip", "--steps", "2").exit_code == 0
    r = run("inpaint", folder, m, "-o", tmp_path / "ip", "--steps", "2", "--seed", "5")
    assert r.exit_code == 2 and "--seed 0 (this run: --seed 5)" in r.output


def test_a_broken_link_in_a_folder_is_named(tmp_path, folder, run):
    """From a trial: a link whose target is gone was left out of a folder run without a word."""
    (folder / "gone.png").symlink_to(tmp_path / "nowhere.png")
    r = run("denoise", folder, "-o", tmp_path / "o", "--sigma", "5", quiet=False)
    assert r.exit_code == 0 and "gone.png left out (what it points to is missing)" in r.output


def test_dejpeg_output_quality_is_not_the_inputs_jpeg_quality(tmp_path, folder, run):
    """Found while recording settings: dejpeg's --jpeg-quality (the input's JPEG quality) and the
    common --quality (a JPEG output's) shared one name, so `restore dejpeg x.png -o y.jpg
    --quality 50` took 50 as the input's quality (its tables, its levels) and wrote at 95."""
    src = folder / "im0.png"
    r = run("dejpeg", src, "-o", tmp_path / "q50.jpg", "--quality", "50", "--json")
    rec = json.loads(r.stdout.splitlines()[-1])
    assert r.exit_code == 0 and "quality" not in rec and rec["tables"].startswith("estimated")
    r = run("dejpeg", src, "-o", tmp_path / "q95.jpg", "--json")
    assert (tmp_path / "q50.jpg").stat().st_size < (tmp_path / "q95.jpg").stat().st_size
    r = run("dejpeg", src, "-o", tmp_path / "t30.jpg", "--jpeg-quality", "30", "--json")
    assert json.loads(r.stdout.splitlines()[-1])["tables"] == "quality 30"


# -- an edge-value trial of every task (2026-12-06) -----------------------------------------------
@pytest.mark.parametrize("args, needle", [
    (["denoise", "{img}", "--sigma", "25", "--steps", "5"], "evaluates the prior once"),  # was ignored, reported as 5
    (["denoise", "{img}", "--sigma", "25", "--sigma-max", "20"], "evaluates the prior once"),
    (["denoise", "{img}", "--sampler", "mmse@poses=1,poses=8"], "poses given twice"),
])
def test_options_a_sampler_cannot_take_exit_2_before_any_work(folder, run, args, needle):
    r = run(*[a.format(img=folder / "im0.png") for a in args])
    assert r.exit_code == 2 and needle in r.output and "step" not in r.output.split(needle)[0]


def test_api_refuses_fractional_integers_and_takes_none_as_the_default():
    import restore
    from restore.errors import InputError

    x = np.full((16, 16, 3), 0.5, np.float32)
    for kw in ({"task": "inpaint", "mask": np.zeros((16, 16), bool), "mask_dilate": 1.5},
               {"task": "sr", "jpeg_quality": 50.5}, {"task": "dejpeg", "quality": 50.5}):
        with pytest.raises(InputError, match="must be a whole number"):
            restore.restore(x, **kw, steps=1)
    assert restore.restore(x, "sr", scale=None, steps=1).shape == (64, 64, 3)  # None: the default (4)


def test_float_alpha_stays_in_range_when_resized(tiny_prior):
    import restore

    a = np.full((12, 16, 4), 0.5, np.float32)
    a[:, 8:, 3] = 1.0
    a[:, :8, 3] = 0.0  # a hard edge: cubic resizing overshoots it
    out = restore.super_resolve(a, scale=4, steps=1, prior=tiny_prior)
    assert out.shape == (48, 64, 4) and out[..., 3].min() >= 0.0 and out[..., 3].max() <= 1.0


def test_dejpeg_says_which_options_a_jpeg_file_makes_unused(tmp_path, run):
    from PIL import Image

    src = tmp_path / "q10.jpg"
    Image.fromarray((np.random.default_rng(0).random((32, 40, 3)) * 255).astype(np.uint8)).save(src, quality=10)
    r = run("dejpeg", src, "--chroma", "4:4:4", "-o", tmp_path / "o.png", "--json", "--steps", "1", quiet=False)
    assert r.exit_code == 0, r.output
    assert "--chroma 4:4:4 is not used" in r.stderr
    rec = json.loads(r.stdout.splitlines()[0])
    assert "quality" not in rec and rec["chroma"] == "4:2:0" and rec["tables"] == "file"
    # --jpeg-quality sets a file's tables aside (as sr's does; a trial: a photo saved again at a higher
    # quality kept its blocks, and the option that would remove them was refused), --chroma with it
    r = run("dejpeg", src, "--jpeg-quality", "90", "--chroma", "4:4:4", "-o", tmp_path / "o2.png", "--json",
            "--steps", "1", quiet=False)
    assert r.exit_code == 0 and "not used" not in r.stderr, r.output
    rec = json.loads(r.stdout.splitlines()[0])
    assert rec["tables"] == "quality 90" and rec["chroma"] == "4:4:4"
    small = tmp_path / "small.png"
    write_image(small, np.zeros((5, 7, 3), np.uint8))
    r = run("dejpeg", small, "-o", tmp_path / "s.png")
    assert r.exit_code == 1 and "--jpeg-quality" in r.output and "(--quality)" not in r.output


@pytest.mark.converges
def test_dps_result_thrown_off_its_measurement_is_refused(monkeypatch, tiny_prior):
    """DPS's fixed-length steps can throw a short run off (the trial's flat bright crop: 10 dB
    at 20 steps, exit 0): a result far from the measurement is an error, not an image; one
    within its noise is kept."""
    import torch

    import restore.samplers.guided as guided
    from restore.api import run as api_run
    from restore.errors import RestoreError

    x = torch.full((1, 3, 16, 16), 0.8)
    monkeypatch.setattr(guided, "dps", lambda den, y, op, sigmas, **k: torch.zeros_like(y))  # thrown off to black
    with pytest.raises(RestoreError, match="dps did not converge in 7 steps: its result lies 204/255"):
        api_run(x, "denoise", sigma=1 / 255, sampler="dps", steps=7, prior=tiny_prior)
    monkeypatch.setattr(guided, "dps", lambda den, y, op, sigmas, **k: y + 0.1)  # 25.5/255 off, noise 20/255
    assert api_run(x, "denoise", sigma=20 / 255, sampler="dps", steps=7, prior=tiny_prior).image.shape == x.shape
    with pytest.raises(RestoreError, match="lies 26/255"):
        api_run(x, "denoise", sigma=5 / 255, sampler="dps", steps=7, prior=tiny_prior)


def test_warnings_name_what_was_given(tmp_path, run):
    """A spike kernel in a large file is judged by its support, not the file's size; a mostly
    transparent image under --mask alpha is told about its transparent pixels, not a mask's white."""
    k = np.zeros((64, 64), np.uint8)
    k[32, 32] = 255
    write_image(tmp_path / "spike.png", k)
    write_image(tmp_path / "r.png", (np.random.default_rng(0).random((100, 100, 3)) * 255).astype(np.uint8))
    r = run("deblur", tmp_path / "r.png", "--kernel", tmp_path / "spike.png", "--sigma", "1", "--steps", "1",
            "-o", tmp_path / "d.png", quiet=False)
    assert r.exit_code == 0 and "spans more than" not in r.output
    a = np.zeros((40, 48, 4), np.uint8)
    a[..., :3], a[10:14, 10:14, 3] = 120, 255
    write_image(tmp_path / "clear.png", a)
    r = run("inpaint", tmp_path / "clear.png", "--mask", "alpha", "--steps", "1", "-o", tmp_path / "c.png",
            quiet=False)
    assert r.exit_code == 0 and "the transparent pixels mark 99 % of the image" in r.output and "white" not in r.output


def test_file_system_edges_from_a_trial(tmp_path, folder, run, monkeypatch):
    """A trial of the file system's edges: a 240-byte photo name crashed its folder run (the
    claim's temp file name was too long) and a longer one's default output a single run; a full
    disk was counted as another run's claims (exit 0, nothing written); a FIFO or /dev/null was
    taken for a folder (a traceback); a link to nothing as -o was refused after the work; -o ""
    wrote into the working folder; a name with a line break split its failure over two lines."""
    import errno

    from restore.io import NAME_MAX, hidden_name

    a = (np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)
    # long names: hidden temp and claim names fit, and keep apart
    for name in ("a.png", "L" * 236 + ".png", "é" * 120 + ".png"):
        for tail, room in ((".claim", 16), (".", 12)):
            h = hidden_name(name, tail, room)
            assert len(h.encode()) + room <= NAME_MAX and h.startswith(".") and h.endswith(tail)
            assert (h == f".{name}{tail}") == (len(name.encode()) + len(tail) + 1 + room <= NAME_MAX)
    assert hidden_name("L" * 240 + "1.png", ".claim", 16) != hidden_name("L" * 240 + "2.png", ".claim", 16)
    d = tmp_path / "long"
    d.mkdir()
    for n in ("ok.png", "L" * 236 + ".png"):
        write_image(d / n, a)
    r = run("denoise", d, "-o", tmp_path / "long_out", "--sigma", "5", "--steps", "1")
    assert r.exit_code == 0 and sorted(p.name for p in (tmp_path / "long_out").iterdir()) == sorted(
        p.name for p in d.iterdir())
    write_image(tmp_path / ("M" * 247 + ".png"), a)
    r = run("denoise", tmp_path / ("M" * 247 + ".png"), "--sigma", "5", "--steps", "1")
    assert r.exit_code == 2 and "a file name of 259 bytes, over the 255" in r.output
    # a folder that takes no file: each image fails, said why, and the run says so by its exit
    import cli.local as local

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local.os, "link", full)
    r = run("denoise", folder, "-o", tmp_path / "full", "--sigma", "5", "--steps", "1")
    assert r.exit_code == 1 and "cannot write (No space left on device)" in r.output and "another run" not in r.output
    monkeypatch.undo()
    # not a file nor a folder
    fifo = tmp_path / "ff.png"
    os.mkfifo(fifo)
    r = run("denoise", fifo, "--sigma", "5")
    assert r.exit_code == 1 and "not an image file nor a folder" in r.output
    (folder / "pipe.png").symlink_to(fifo)
    r = run("denoise", folder, "-o", tmp_path / "o2", "--sigma", "5", "--steps", "1", quiet=False)
    assert r.exit_code == 0 and "pipe.png left out (a pipe, a socket or a device" in r.output
    (folder / "pipe.png").unlink()
    # -o a link to nothing: refused before the work, as an existing output is
    (tmp_path / "dang.png").symlink_to(tmp_path / "nowhere" / "x.png")
    r = run("denoise", folder / "im0.png", "-o", tmp_path / "dang.png", "--sigma", "5")
    assert r.exit_code == 1 and "dang.png: exists (pass --overwrite to replace it)" in r.output
    r = run("denoise", folder / "im0.png", "-o", "", "--sigma", "5")
    assert r.exit_code == 2 and "-o is empty" in r.output
    # a line break in a name: one line
    (folder / "bad\nname.png").write_text("hi")
    r = run("denoise", folder, "-o", tmp_path / "o3", "--sigma", "5", "--steps", "1", quiet=False)
    assert r.exit_code == 1 and "failed: " + str(folder) + "/bad\\nname.png: not an image file" in r.output


def test_two_runs_into_one_folder_another_runs_outputs_are_checked_and_a_dead_ones_claims_taken(
        tmp_path, folder, run, monkeypatch):
    """A trial ran two folder runs into one output folder at once: with --sigma 15 and 40 both
    exited 0, the folder mixed (an output the other run wrote meanwhile was "already written"
    whatever its settings); with one of two killed, the survivor exited 0 with the image the dead
    one had claimed missing. Now an output written meanwhile with other settings fails (exit 1),
    and claims held when reached are looked at again at the end: a gone process's are taken over."""
    import shutil

    from restore.cli import local

    other_made = tmp_path / "other"
    assert run("denoise", folder / "im2.png", "--sigma", "40", "-o", other_made / "im2.png").exit_code == 0
    out = tmp_path / "out"
    out.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # another run, alive
    held = f"{socket.gethostname()} {other.pid} {local._started(other.pid) or ''}".rstrip()
    (out / ".im1.png.claim").write_text(held)
    real_load = local.load

    def load(job, it, warn=local._print_warning):  # what the other run does while this one works
        if it.src.name == "im0.png":
            shutil.copy(other_made / "im2.png", out / "im2.png")  # written by the --sigma 40 run meanwhile
        if it.src.name == "im3.png":
            other.kill()  # killed holding im1's claim
            other.wait()
        return real_load(job, it, warn)

    monkeypatch.setattr(local, "load", load)
    try:
        r = run("denoise", folder, "--sigma", "15", "-o", out, quiet=False)
    finally:
        other.kill()
    assert r.exit_code == 1, r.output
    assert "im2.png: another run wrote its output during this one:" in r.output
    assert "--sigma 40 (this run: --sigma 15)" in r.output
    assert "done 3, skipped 0" in r.output and "failed 1" in r.output
    assert (out / "im1.png").exists() and not (out / ".im1.png.claim").exists()


def test_a_file_written_beside_the_output_with_too_long_a_name_fails_before_the_work(tmp_path, folder, run):
    """A trial: a 251-byte input name with --compare made its output, then failed "internal
    error (File name too long)" for the .compare.png, and every rerun was a traceback. It is
    that image's one-line failure before any work (the batch goes on); one image is refused."""
    long = folder / ("b" * 251 + ".png")
    (folder / "im0.png").rename(long)
    out = tmp_path / "out"
    for _ in range(2):
        r = run("denoise", folder, "--sigma", "5", "-o", out, "--compare")
        assert r.exit_code == 1 and "Traceback" not in r.output, r.output
        assert "a file this run would write, has a name of 263 bytes, over the 255" in r.output
    assert not (out / long.name).exists() and (out / "im1.png").exists() and (out / "im1.compare.png").exists()
    r = run("denoise", long, "--sigma", "5", "-o", tmp_path / "one.png", "--compare")
    assert r.exit_code == 0, r.output
    r = run("denoise", long, "--sigma", "5", "-o", f"{tmp_path}/dir/", "--compare")
    assert r.exit_code == 2 and "-o FILE gives the output another name" in r.output, r.output
    r = run("denoise", folder / "im1.png", "--sigma", "5", "-o", tmp_path / ("o" * 246 + ".png"), "--compare", "--json")
    assert r.exit_code == 1 and "over the 255 a file system takes: give -o a shorter name" in r.output, r.output
    assert json.loads(r.output.splitlines()[0])["status"] == "failed"  # (a trial: no record, exit 2)


def test_one_image_whose_compare_file_was_not_written_is_completed_by_the_rerun(tmp_path, folder, run):
    """A trial: a full disk refused one image's .compare.png after its output was written; the
    same command then said "exists" (a folder run completes it). Made by these settings, it is
    made again with its file; with other settings it is still refused."""
    out = tmp_path / "o.png"
    assert run("denoise", folder / "im0.png", "--sigma", "5", "-o", out, "--compare").exit_code == 0
    side = tmp_path / "o.compare.png"
    side.unlink()
    r = run("denoise", folder / "im0.png", "--sigma", "5", "-o", out, "--compare")
    assert r.exit_code == 0 and side.is_file(), r.output
    side.unlink()
    r = run("denoise", folder / "im0.png", "--sigma", "9", "-o", out, "--compare")
    assert r.exit_code == 1 and "exists (pass --overwrite to replace it)" in r.output and not side.exists()
    before = out.read_bytes()  # the same settings, another photo: not this command's output (a trial: replaced)
    r = run("denoise", folder / "im1.png", "--sigma", "5", "-o", out, "--compare")
    assert r.exit_code == 1 and "exists (pass --overwrite" in r.output and out.read_bytes() == before


RESTORE = [sys.executable, "-m", "restore"]


def test_stdout_that_fails_is_said_and_the_exit_is_not_0(tmp_path, folder, tiny_prior_dir):
    """A trial: an image to a pipe whose reader stopped (`| head -c 100`) was cut off at 65536
    bytes and the run exited 0 (its --json record "done"); a --json folder run to /dev/full gave
    two chained tracebacks and stopped after one image, and piped to `head -1` stopped after two,
    unsaid. The image's failure is said; a folder run goes on with its files, says it once, exits 1."""
    big = tmp_path / "big.png"
    write_image(big, (np.random.default_rng(1).random((300, 300, 3)) * 255).astype(np.uint8))
    common = ["--weights", str(tiny_prior_dir), "-q", "--threads", "1", "--sigma", "5"]
    p = subprocess.Popen([*RESTORE, "denoise", str(big), "-o", "-", *common], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.read(100)
    p.stdout.close()  # the reader stops
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 1, err
    assert "stdout: the image was cut off after" in err and "Traceback" not in err, err
    out = tmp_path / "out"
    with open("/dev/full", "w") as full:
        r = subprocess.run([*RESTORE, "denoise", str(folder), "-o", str(out), "--json", *common], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("stdout: cannot write (No space left on device)") == 1, r.stderr
    assert sorted(f.name for f in out.iterdir()) == [f"im{i}.png" for i in range(4)]


def test_an_image_to_a_terminal_a_name_with_a_line_break_and_a_loop_of_links(tmp_path, folder, run, monkeypatch):
    """From the same trial: a PNG's bytes went to the terminal; a name holding a line break
    printed the result as two lines; a loop of links was "no such file or directory"."""

    from restore.cli import runner

    monkeypatch.setattr(runner, "a_terminal", lambda f: True)
    r = run("denoise", folder / "im0.png", "--sigma", "5", "-o", "-")
    assert r.exit_code == 2 and "stdout is a terminal: redirect it" in r.output
    monkeypatch.undo()
    odd = tmp_path / "new\nline.png"
    odd.write_bytes((folder / "im0.png").read_bytes())
    r = run("denoise", odd, "--sigma", "5")
    assert r.exit_code == 0 and f"{tmp_path}/new\\nline.denoise.png  " in r.output.splitlines()[-1], r.output
    (tmp_path / "l1.png").symlink_to(tmp_path / "l2.png")
    (tmp_path / "l2.png").symlink_to(tmp_path / "l1.png")
    r = run("denoise", tmp_path / "l1.png", "--sigma", "5")
    assert r.exit_code == 1 and "a link to nothing (what it points to is missing, or the links make a loop)" in r.output
    r = run("denoise", folder / "im0.png", tmp_path / "l1.png", "--sigma", "5", "-o", tmp_path / "both")
    assert r.exit_code == 1 and "l1.png: a link to nothing" in r.output, r.output  # among several too


def test_after_an_output_finds_no_space_the_folder_run_works_on_no_more_images(tmp_path, folder, run, monkeypatch):
    """A trial: with 16 KB left on the output's disk each of 19 images was restored, then failed
    to be written (25 s). A full disk is a DiskFullError (restore.io); after one, the images left
    fail at once, said why, and a rerun goes on."""
    import errno

    from restore.cli import local
    from restore.errors import DiskFullError
    from restore.io import write_image as write

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr("restore.io.os.fsync", no_space)
        with pytest.raises(DiskFullError, match="cannot write \\(No space left on device\\)"):
            write(tmp_path / "x.png", np.zeros((4, 4), np.uint8))
    assert not list(tmp_path.glob(".*tmp"))
    solved, real_solve, real_write = [], local.solve, local.write_outputs

    def solve(job, group, progress):
        solved.append(len(group))
        return real_solve(job, group, progress)

    def write_outputs(job, ld, *a, **k):
        raise DiskFullError(f"{ld.it.out}: cannot write (No space left on device)")

    monkeypatch.setattr(local, "solve", solve)
    monkeypatch.setattr(local, "write_outputs", write_outputs)
    out = tmp_path / "out"
    r = run("denoise", folder, "--sigma", "5", "-o", out, quiet=False)
    assert r.exit_code == 1 and solved == [1], (solved, r.output)
    assert r.output.count("not restored: an output before it found no space") == 3 and "failed 4" in r.output
    monkeypatch.setattr(local, "write_outputs", real_write)
    r = run("denoise", folder, "--sigma", "5", "-o", out)
    assert r.exit_code == 0 and len(list(out.glob("im*.png"))) == 4, r.output
    r = run("denoise", folder, "--sigma", "5", "-o", out / "im0.png")  # a file as a folder's output: exit 2 (was 1)
    assert r.exit_code == 2 and "exists and is not a folder" in r.output, r.output


def test_a_drawn_image_is_super_resolved_with_the_box_kernel_and_said(tmp_path, run, tiny_prior_dir):
    """A trial: sr of line art drew ringing halos beside every stroke (bicubic's model of a hard
    edge has them). An image whose few most frequent colours cover most of it (drawn: text,
    line art, charts) takes the box kernel when none is given, said, and recorded; photos, a
    given kernel, a JPEG and the evaluation's bicubic cases keep theirs."""
    import torch
    from PIL import Image, ImageDraw

    import restore
    from restore.tasks import get_task
    from restore.tasks.superres import DRAWN_SHARE, drawn_share

    im = Image.new("RGB", (40, 28), "white")
    d = ImageDraw.Draw(im)
    d.text((2, 2), "Hi 42", fill="black")
    d.rectangle((24, 4, 37, 16), outline="blue")
    d.line((2, 20, 38, 26), fill=(200, 0, 0), width=2)
    art = np.asarray(im)
    photo = (np.random.default_rng(3).random((28, 40, 3)) * 255).astype(np.uint8)
    assert drawn_share(art) >= DRAWN_SHARE > drawn_share(photo)
    grey = np.full((28, 40), 120, np.uint8) + np.random.default_rng(4).integers(0, 4, (28, 40)).astype(np.uint8)
    assert drawn_share(grey) < DRAWN_SHARE  # four grey levels: a flat grey photo, not a drawing
    from restore.io import to_tensor

    P = str(tiny_prior_dir)
    r = restore.run(to_tensor(art), "sr", scale=2, steps=1, prior=P)
    assert r.params["kernel"] == "box" and r.params["drawn"] >= DRAWN_SHARE
    assert restore.run(to_tensor(photo), "sr", scale=2, steps=1, prior=P).params["kernel"] == "bicubic"
    assert restore.run(to_tensor(art), "sr", scale=2, steps=1, prior=P, kernel="bicubic").params.get("drawn") is None
    from restore.prior import Prior, load_prior

    tiny = load_prior(tiny_prior_dir)
    big = to_tensor(np.asarray(im.resize((160, 112), Image.NEAREST)))  # x2: 320x224, tiles of 64
    r = restore.run(big, "sr", scale=2, steps=1, prior=Prior(tiny.net, tiny.schedule, tile=64))
    assert r.params["kernel"] == "box" and r.params["drawn"] >= DRAWN_SHARE  # (tiles lost the drawn share)
    sprite = np.zeros((16, 16, 3), np.uint8)  # pixel art: few colours, no antialiasing
    sprite[4:12, 4:12] = (250, 200, 0)
    sprite[6:8, 6:8] = (30, 30, 200)
    r = restore.run(to_tensor(sprite), "sr", scale=4, prior=P)
    assert r.params["colours"] == 3 and r.steps > 0  # offered in the note, not chosen (bar charts lose by it)
    assert "--kernel nearest enlarges each pixel to a block" in get_task("sr").settled_note(r.params)
    r = restore.run(to_tensor(sprite), "sr", scale=4, prior=P, kernel="nearest", steps=5)
    assert r.sampler == "none" and r.steps == 0
    with pytest.raises(restore.IncompatibleError, match="--kernel nearest runs no sampler"):  # (a trial: a zero
        restore.run(to_tensor(sprite), "sr", scale=4, prior=P, kernel="nearest", samples=2, sampler="ddnm")  # std)
    jpeg = restore.run(to_tensor(sprite), "sr", scale=2, prior=P, kernel="nearest", jpeg_quality=50)
    assert jpeg.sigma_y == 0 and jpeg.sigma_estimated is False  # no quantisation told to no sampler
    assert torch.equal((r.image[0] * 255).round().byte().permute(1, 2, 0),
                       torch.from_numpy(sprite).repeat_interleave(4, 0).repeat_interleave(4, 1))
    grey = np.full((28, 40), 250, np.uint8)
    grey[8:20, 5:35] = 10
    r = restore.run(to_tensor(grey), "sr", scale=2, steps=1, prior=P)
    assert "its 3 most frequent grey levels cover" in get_task("sr").settled_note(r.params)  # (it said colours)
    case = get_task("sr").degrade("a", np.asarray(im.resize((80, 56))), 0, scale=2)
    assert case.run["kernel"] == "bicubic"  # the benchmark's degradation, told
    write_image(tmp_path / "art.png", art)
    r = run("sr", tmp_path / "art.png", "--scale", "2", "--steps", "1", "-o", tmp_path / "a2.png", quiet=False)
    assert r.exit_code == 0 and "drawn (text, line art, a chart" in r.output and "the kernel box" in r.output
    r = run("sr", tmp_path / "art.png", "--scale", "2", "--steps", "1", "-o", tmp_path / "a3.png", "--json")
    assert json.loads(r.output.splitlines()[-1])["kernel"] == "box"
    r = run("sr", tmp_path / "art.png", "--scale", "2", "--steps", "1", "-o", tmp_path / "a2.png", "--kernel", "box")
    assert r.exit_code == 1 and "exists" in r.output  # (a rerun naming what it came to: the same run, kept)


def test_an_enlarged_rgba_image_keeps_no_dark_rim_and_pixel_art_keeps_hard_alpha(tmp_path, run, tiny_prior_dir):
    """A trial's RGBA sprite, black under its transparent pixels: enlarged, the black bled into
    the edges (RGB 178, 101, 26 at alpha 113: a grey rim over white) and with --kernel nearest
    its alpha was resized cubic (soft). The colour under alpha 0 is taken from the nearest
    visible pixel before super-resolution (Task.under_alpha), and pixel art's alpha is enlarged
    block for block (Task.alpha_resize); same-size tasks keep the hidden colour as it is."""
    import torch

    import restore
    from restore.io import read_image

    a = np.zeros((16, 16, 4), np.uint8)
    a[4:12, 4:12, :3] = (250, 200, 0)
    a[4:12, 4:12, 3] = 255
    P = str(tiny_prior_dir)
    o = restore.restore(a, "sr", scale=4, kernel="nearest", prior=P)
    assert set(np.unique(o[..., 3])) == {0, 255}
    assert np.array_equal(o[..., :3][o[..., 3] > 0].min(0), [250, 200, 0])
    from restore.tasks import get_task

    x = restore.api._to_batch(a)[0]
    bled, p = get_task("sr").under_alpha(x, a[..., 3], {"scale": 2})
    assert torch.allclose(bled[0, :, 0, 0], torch.tensor([250, 200, 0]) / 255.0)  # the nearest visible colour
    assert p["visible"].sum() == 64
    assert get_task("denoise").under_alpha(x, a[..., 3], {})[0] is x  # the same size: as it is
    write_image(tmp_path / "s.png", a)
    r = run("sr", tmp_path / "s.png", "--scale", "4", "--kernel", "nearest", "-o", tmp_path / "o.png")
    assert r.exit_code == 0, r.output
    got = read_image(tmp_path / "o.png").array
    big = np.repeat(np.repeat(a, 4, 0), 4, 1)  # pixel art: each pixel a block, alpha too (the hidden colour:
    shown = big[..., 3] > 0  # the nearest visible one's)
    assert np.array_equal(got[..., 3], big[..., 3]) and np.array_equal(got[shown], big[shown])


def test_sr_of_a_transparent_image_counts_what_shows_and_compares_the_image_as_read(tmp_path, run, tiny_prior_dir):
    """From an adversarial trial: --compare of an RGBA sr input showed the colour filled under
    alpha 0 (the picture gone); a photo cut-out (100 noise pixels on a transparent 64x64) was
    read as drawn from its filled part; a low-contrast 16-bit photo, counted at 8 bits, read as
    6 grey levels; a large output's tiles decided their own kernels."""
    import restore
    from restore.io import read_image, to_tensor
    from restore.prior import Prior, load_prior
    from restore.tasks import get_task
    from restore.tasks.superres import drawn_share

    s = np.zeros((16, 16, 4), np.uint8)
    yy, xx = np.mgrid[:16, :16]
    s[(yy - 8) ** 2 + (xx - 8) ** 2 < 25] = (230, 130, 30, 255)
    write_image(tmp_path / "sprite.png", s)
    r = run("sr", tmp_path / "sprite.png", "--scale", "2", "--steps", "1", "-o", tmp_path / "o.png", "--compare")
    assert r.exit_code == 0, r.output
    panel = read_image(tmp_path / "o.compare.png").array
    assert (panel[..., :3] == 0).all(axis=-1).any() and (panel[..., :3] == (230, 130, 30)).all(axis=-1).any()
    rng = np.random.default_rng(0)
    cut = np.zeros((64, 64, 4), np.uint8)
    cut[:10, :10, :3] = (rng.random((10, 10, 3)) * 255).astype(np.uint8)
    cut[:10, :10, 3] = 255
    P = str(tiny_prior_dir)
    x, _, alpha = restore.api._to_batch(cut)
    x, p = get_task("sr").under_alpha(x, alpha, {"scale": 2})
    assert "visible" in p and restore.run(x, "sr", steps=1, prior=P, **p).params["kernel"] == "bicubic"
    g16 = (40000 + 300 * np.sin(xx[:1].repeat(48, 0)[:, :1] + np.arange(48) / 6) + rng.normal(0, 40, (48, 48)))
    assert drawn_share(to_tensor(g16.astype(np.uint16))) < 0.5  # 16 bits counted as such
    tiny = load_prior(tiny_prior_dir)
    photo = to_tensor((rng.random((80, 80, 3)) * 255).astype(np.uint8))
    photo[..., :, :40] = 0.5  # half of it plain: its tiles alone could read as drawn
    r = restore.run(photo, "sr", scale=2, steps=1, prior=Prior(tiny.net, tiny.schedule, tile=64))
    assert r.params["kernel"] == "bicubic" and r.params.get("drawn") is None


def test_a_claim_that_finds_no_space_stops_the_work_and_unrecorded_levels_are_said(tmp_path, folder, run,
                                                                                    monkeypatch):
    """From the same trial: with --batch-size 2 a claim that failed for want of space did not
    stop the work (an image held in a batch was restored, then failed); a resumed folder's
    levels note left out outputs of an older restore (no level recorded) without a word."""
    import errno

    from restore.cli import local
    from restore.cli.runner import levels_note
    from restore.tasks import get_task

    real = local._claim

    def claim(out):
        if out.name == "im1.png":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(out)

    monkeypatch.setattr(local, "_claim", claim)
    r = run("denoise", folder, "--sigma", "5", "-o", tmp_path / "out", "--batch-size", "2", quiet=False)
    assert r.exit_code == 1 and r.output.count("not restored: an output before it found no space") == 2, r.output
    note = levels_note([(5.0, 64, 48), (9.0, 64, 48), (7.0, 64, 48)], get_task("denoise"), 2)
    assert "over 3 images of 64x48 (2 written before, by an older restore, record no level: not counted)" in note


def test_a_flat_drawing_on_the_8_pixel_grid_is_no_jpeg():
    """An adversarial trial: a 16-32 px white image with a black square at [4:12] was read as a
    JPEG of quality 35 (its edges on the block grid), and super-resolved as one (noise 13.75).
    An image of at most FLAT_COLOURS colours is no decoded JPEG; the same icon saved as JPEG is."""
    import io

    import torch
    from PIL import Image

    from restore.tasks.dejpeg import estimate_jpeg

    a = np.full((32, 32), 255, np.uint8)
    a[4:12, 4:12] = 0
    assert estimate_jpeg(torch.from_numpy(a)[None, None].float() / 255) is None
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=35)
    d = np.asarray(Image.open(buf)).copy()
    assert estimate_jpeg(torch.from_numpy(d)[None, None].float() / 255) is not None
