"""A user's own prior, end to end: from a trial that trained one on a folder of photos,
stopped and resumed it, and used it everywhere (training, `restore list`, folder runs)."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from restore.io import write_image

TINY = ["--batch-size", "2", "--crop", "16", "--channels", "4,4", "--blocks", "1,1", "--threads", "1", "-q"]


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "photos"
    d.mkdir()
    for i, shape in enumerate([(20, 24, 3), (17, 21), (24, 24, 3)]):
        write_image(d / f"im{i}.png", (rng.random(shape) * 255).astype(np.uint8))
    return d


def test_a_gray_and_alpha_photo_trains_and_what_is_not_read_is_named(photos, tmp_path):
    """A gray + alpha PNG crashed training with an IndexError (two channels where the crops take
    three); a file that cannot be read was only counted in config.json; a hidden file (macOS's
    ``._`` copies) was trained on, where the folder runs leave it out."""
    from PIL import Image

    Image.fromarray((np.random.default_rng(1).random((20, 20, 2)) * 255).astype(np.uint8), "LA").save(photos / "la.png")
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (photos / "._im0.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    r = _run("train", photos, "-o", tmp_path / "p", "--steps", "2", *TINY)
    assert r.exit_code == 0, r.output
    assert "1 of 5 image files could not be read and are left out" in r.output and "broken.png" in r.output
    info = json.loads((tmp_path / "p" / "config.json").read_text())["info"]
    assert info["images"] == 4 and info["skipped"] == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _run("train", empty, "-o", tmp_path / "q", "--steps", "2", *TINY)
    assert r.exit_code == 1 and "empty: no readable training images (no .bmp" in r.output
    assert "%" not in r.output and not (tmp_path / "q").exists()  # no progress bar before the refusal


def test_overwrite_removes_the_old_run_only_once_the_new_one_is_checked(photos, tmp_path):
    """--overwrite removed the checkpoint and the log first: a typo in the data folder then
    lost a run that could have been resumed."""
    p = tmp_path / "p"
    assert _run("train", photos, "-o", p, "--steps", "2", *TINY).exit_code == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _run("train", empty, "-o", p, "--overwrite", "--steps", "2", *TINY)
    assert r.exit_code == 1 and (p / "checkpoint" / "state.json").is_file() and (p / "log.jsonl").is_file()
    r = _run("train", photos, "-o", p, "--overwrite", "--resume", "--steps", "3", "-q")
    assert r.exit_code == 2 and "exclude each other" in r.output
    assert _run("train", photos, "-o", p, "--overwrite", "--steps", "3", *TINY).exit_code == 0
    assert json.loads((p / "checkpoint" / "state.json").read_text())["step"] == 3


def test_resume_honours_when_to_checkpoint_and_refuses_another_learning_curve(photos, tmp_path):
    """--eval-every / --checkpoint-every with --resume were ignored in silence (they change no
    weights: now honoured), another --val-dir was taken in silence (the curve changed folder
    mid-log) and another --val-count ignored (both refused now); --init with another
    --prediction was ignored; a run resumed on another folder lost the first one's record."""
    p, val = tmp_path / "p", tmp_path / "val"
    val.mkdir()
    write_image(val / "v.png", np.full((24, 24, 3), 100, np.uint8))
    assert _run("train", photos, "-o", p, "--steps", "2", "--val-dir", val, *TINY).exit_code == 0
    r = _run("train", photos, "-o", p, "--resume", "--steps", "6", "--checkpoint-every", "2", "--eval-every", "3",
             "-q")
    assert r.exit_code == 0, r.output
    cfg = json.loads((p / "checkpoint" / "state.json").read_text())["config"]
    assert (cfg["checkpoint_every"], cfg["eval_every"]) == (2, 3)
    r = _run("train", photos, "-o", p, "--resume", "--steps", "8", "--val-dir", photos, "-q")
    assert r.exit_code == 2 and "another --val-dir would change it mid-log" in r.output
    r = _run("train", photos, "-o", p, "--resume", "--steps", "8", "--val-count", "2", "-q")
    assert r.exit_code == 2 and "another count would change it mid-log" in r.output
    other = tmp_path / "other"
    other.mkdir()
    write_image(other / "o.png", np.full((24, 24, 3), 50, np.uint8))
    r = _run("train", other, "-o", p, "--resume", "--steps", "8", "-q")
    assert r.exit_code == 0 and f"where the run trained on {photos} before" in r.output
    info = json.loads((p / "config.json").read_text())["info"]
    assert info["data"] == str(other) and info["data_before"] == [str(photos)]
    r = _run("train", photos, "-o", tmp_path / "i", "--init", p, "--prediction", "edm", "--steps", "2", "-q")
    assert r.exit_code == 2 and "--prediction eps" in r.output and not (tmp_path / "i").exists()


def test_a_killed_run_resumes_with_a_log_cut_back_to_its_checkpoint(photos, tmp_path):
    """A run killed after logging steps past its last checkpoint logged them twice when resumed."""
    p = tmp_path / "p"
    assert _run("train", photos, "-o", p, "--steps", "4", *TINY).exit_code == 0
    with open(p / "log.jsonl", "a") as f:  # as a kill leaves it: steps logged after the checkpoint of step 4
        f.write(json.dumps({"step": 5, "loss": 1.0}) + "\n" + json.dumps({"step": 6, "loss": 1.0}) + "\n")
    assert _run("train", photos, "-o", p, "--resume", "--steps", "6", "-q").exit_code == 0
    steps = [json.loads(x)["step"] for x in (p / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 6


def test_a_checkpoint_is_whole_wherever_its_save_stops(photos, tmp_path, monkeypatch):
    """The checkpoint's files were replaced one by one: a save that failed half way left the new
    step's weights under the old step's state, which --resume took in silence. A save that fails
    now leaves the last checkpoint as it was, and says so in one line; a save cut off between
    its two renames is put back."""
    import restore.train as T
    from safetensors.torch import load_file

    p = tmp_path / "p"
    assert _run("train", photos, "-o", p, "--steps", "2", *TINY).exit_code == 0
    before = {k: v.clone() for k, v in load_file(p / "checkpoint" / "net.safetensors").items()}
    real = T._optim_state_tensors

    def full_disk(opt):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(T, "_optim_state_tensors", full_disk)  # after net and ema are written
    r = _run("train", photos, "-o", p, "--resume", "--steps", "4", "-q")
    assert r.exit_code == 1 and "cannot write the checkpoint of step 4 (No space left on device)" in r.output
    assert "Traceback" not in r.output
    assert json.loads((p / "checkpoint" / "state.json").read_text())["step"] == 2
    after = load_file(p / "checkpoint" / "net.safetensors")
    assert all(np.array_equal(before[k].numpy(), after[k].numpy()) for k in before)
    monkeypatch.setattr(T, "_optim_state_tensors", real)
    os.replace(p / "checkpoint", p / ".checkpoint.old")  # cut off after the first rename
    assert _run("train", photos, "-o", p, "--resume", "--steps", "4", "-q").exit_code == 0
    assert json.loads((p / "checkpoint" / "state.json").read_text())["step"] == 4
    assert not (p / ".checkpoint.old").exists() and not (p / ".checkpoint.new").exists()


def test_an_output_that_cannot_be_written_is_one_line_before_the_work(photos, tmp_path, monkeypatch):
    """Training into a folder it could not write failed with a traceback after the steps; so did
    eval's --json / --csv / --report after the whole evaluation."""
    from restore.errors import InputError

    def refuse(folder):
        raise InputError(f"{folder}: cannot write there (Read-only file system)")

    import restore.io
    import restore.train

    monkeypatch.setattr(restore.train, "check_writable", refuse)
    monkeypatch.setattr(restore.io, "check_writable", refuse)
    r = _run("train", photos, "-o", tmp_path / "p", "--steps", "2", *TINY)
    assert r.exit_code == 1 and "cannot write there" in r.output and "Traceback" not in r.output
    r = _run("eval", "denoise", photos, "--json", tmp_path / "x.json", "--limit", "1", "--threads", "1", "-q")
    assert r.exit_code == 1 and "--json" in r.output and "cannot write there" in r.output
    assert not (tmp_path / "x.json").exists()


def test_a_folder_named_like_a_shipped_prior_does_not_replace_it(photos, tmp_path, monkeypatch):
    """A prior trained with -o restore-small in the working folder was used by every run
    without --weights (and by --weights restore-small), its outputs recorded as the shipped
    prior's; ./restore-small is the user's."""
    import warnings

    from restore.paths import DEFAULT_PRIOR, PRETRAINED_DIR
    from restore.prior.weights import _CLASHES, resolve_prior_dir

    monkeypatch.chdir(tmp_path)
    assert _run("train", photos, "-o", DEFAULT_PRIOR, "--steps", "2", *TINY).exit_code == 0
    _CLASHES.discard(DEFAULT_PRIOR)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_prior_dir(None) == PRETRAINED_DIR / DEFAULT_PRIOR  # not named: nothing to say
    with pytest.warns(UserWarning, match=r"is the shipped prior; for the folder of that name here, give \./"):
        assert resolve_prior_dir(DEFAULT_PRIOR) == PRETRAINED_DIR / DEFAULT_PRIOR
    assert resolve_prior_dir(f"./{DEFAULT_PRIOR}").resolve() == (tmp_path / DEFAULT_PRIOR).resolve()


def test_a_folder_run_tells_a_prior_trained_again_in_its_folder(photos, tmp_path):
    """Outputs record the prior by its folder's name only: trained again in place, a rerun kept
    the old weights' outputs beside the new ones'. They now record a digest of the weights
    (the same weights in another folder are the same); `--weights .` was recorded as ''."""
    from restore.io import read_note

    p, out = tmp_path / "mine", tmp_path / "out"
    assert _run("train", photos, "-o", p, "--steps", "2", *TINY).exit_code == 0
    r = _run("denoise", photos, "-o", out, "--sigma", "10", "--weights", p, "--threads", "1", "-q")
    assert r.exit_code == 0, r.output
    made = json.loads(read_note(out / "im0.png"))["settings"]
    assert made["weights"] == "mine" and len(made["prior_weights"]) == 16
    import shutil

    shutil.copytree(p, tmp_path / "copy")
    r = _run("denoise", photos, "-o", out, "--sigma", "10", "--weights", tmp_path / "copy", "--threads", "1", "-q")
    assert r.exit_code == 0, r.output  # all kept: the same weights
    assert _run("train", photos, "-o", p, "--overwrite", "--steps", "3", *TINY).exit_code == 0
    (out / "im1.png").unlink()
    r = _run("denoise", photos, "-o", out, "--sigma", "10", "--weights", p, "--threads", "1", "-q")
    assert r.exit_code == 2 and "made with other settings: the prior's weights" in r.output
    assert not (out / "im1.png").exists()
    os.chdir(p)
    try:
        r = _run("denoise", photos / "im0.png", "-o", tmp_path / "dot.png", "--sigma", "10", "--weights", ".",
                 "--threads", "1", "-q")
    finally:
        os.chdir(tmp_path)
    assert r.exit_code == 0, r.output
    assert json.loads(read_note(tmp_path / "dot.png"))["settings"]["weights"] == "mine"


def test_list_describes_a_users_prior_and_a_checkpoint_folder_points_to_it(photos, tmp_path):
    """`restore list` showed the shipped priors only; --weights CHECKPOINT_FOLDER said
    'config.json: missing', and convert of a checkpoint file asked for a guided-diffusion preset."""
    p = tmp_path / "mine"
    assert _run("train", photos, "-o", p, "--steps", "2", *TINY).exit_code == 0
    r = _run("list", "--weights", p)
    assert r.exit_code == 0 and "mine" in r.output and "trained 2 steps" in r.output
    listed = json.loads(_run("list", "--json", "--weights", p).output)["priors"]
    assert [q["name"] for q in listed][-1] == "mine" and listed[-1]["info"]["steps"] == 2
    from restore.paths import DEFAULT_PRIOR

    shipped = json.loads(_run("list", "--json", "--weights", DEFAULT_PRIOR).output)["priors"]
    assert [q["name"] for q in shipped].count(DEFAULT_PRIOR) == 1  # listed once
    r = _run("list", "--weights", p / "checkpoint")
    assert r.exit_code == 1 and "a training run's checkpoint" in r.output and "the folder above" in r.output
    r = _run("denoise", photos / "im0.png", "--weights", p / "checkpoint", "--sigma", "5", "-q")
    assert r.exit_code == 1 and "its prior is the folder above" in r.output
    r = _run("convert", p / "checkpoint" / "ema.safetensors", "-o", tmp_path / "c")
    assert r.exit_code == 1 and "a `restore train` checkpoint" in r.output and not (tmp_path / "c").exists()


def test_a_large_foreign_priors_digest_reads_samples_of_it(tmp_path, monkeypatch):
    """A prior's digest is read once per run: a weights file of gigabytes (a diffusers UNet) is
    digested from spread samples and its size, not read whole; a change to its weights shows."""
    import restore.prior.weights as W

    monkeypatch.setattr(W, "WHOLE_DIGEST", 1 << 16)
    d = tmp_path / "foreign"
    (d / "unet").mkdir(parents=True)
    f = d / "unet" / "diffusion_pytorch_model.safetensors"
    rng = np.random.default_rng(0)
    f.write_bytes(rng.bytes(W.DIGEST_SAMPLES * (1 << 16) * 2))
    (d / "unet" / "config.json").write_text('{"sample_size": 64}')
    a = W.prior_digest(d)
    data = bytearray(f.read_bytes())
    data[:: 1 << 12] = bytes(len(data[:: 1 << 12]))  # trained again: changed all through
    f.write_bytes(bytes(data))
    b = W.prior_digest(d)
    assert b != a
    (d / "unet" / "config.json").write_text('{"sample_size": 32}')  # another network's config
    assert W.prior_digest(d) not in (a, b)


def test_one_run_at_a_time_and_a_full_disk_is_one_line(photos, tmp_path, monkeypatch):
    """From a trial of these changes: two runs into one folder wrote one log and checkpoint and
    one crashed; a full disk during a checkpoint was safetensors' own error, a traceback, and
    left the half-written checkpoint; a data folder spelt another way on --resume was recorded
    as another; a run --overwrite started, killed before its first checkpoint, left the old
    prior beside its own log; a killed save left its temporary file for good."""
    import socket
    import subprocess
    import sys

    import restore.train as T
    from safetensors import SafetensorError

    p = tmp_path / "p"
    assert _run("train", photos, "-o", p, "--steps", "2", *TINY).exit_code == 0
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, json, os, sys, time\n"
        f"fd = os.open({str(p / '.train.lock')!r}, os.O_CREAT | os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        f"os.write(fd, json.dumps({{'host': {socket.gethostname()!r}, 'pid': os.getpid(), 'started': 'then'}}).encode())\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = _run("train", photos, "-o", p, "--resume", "--steps", "4", "-q")
        assert r.exit_code == 1 and f"another run is training into it (pid {holder.pid}" in r.output
    finally:
        holder.kill()
        holder.wait()
    with T._TrainLock(p):  # another call in this process (the API from two threads) is refused too
        with pytest.raises(T.InputError, match="another run is training into it"):
            with T._TrainLock(p):
                pass
    (p / ".train.lock").write_text('{"host": "otherbox", "pid": 1}')  # a lock no process holds: taken
    (p / ".model.abc.tmp").write_bytes(b"")  # a killed save's
    assert _run("train", photos, "-o", p, "--resume", "--steps", "4", "-q").exit_code == 0  # its holder is gone
    assert not (p / ".train.lock").exists() and not (p / ".model.abc.tmp").exists()

    def full(*a, **k):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr("safetensors.torch.save_file", full)
    r = _run("train", photos, "-o", p, "--resume", "--steps", "6", "-q")
    assert r.exit_code == 1 and "cannot write the checkpoint of step 6" in r.output and "os error 28" in r.output
    assert "Traceback" not in r.output and not (p / ".checkpoint.new").exists()
    assert json.loads((p / "checkpoint" / "state.json").read_text())["step"] == 4
    monkeypatch.undo()
    r = _run("train", str(photos) + "/", "-o", p, "--resume", "--steps", "6", "-q")  # the same folder, spelt so
    assert r.exit_code == 0 and "resuming on" not in r.output
    assert "data_before" not in json.loads((p / "config.json").read_text())["info"]
    before = (p / "model.safetensors").read_bytes()
    monkeypatch.setattr(T._Run, "loop", lambda self, m: (_ for _ in ()).throw(MemoryError))  # its first step
    with pytest.raises(MemoryError):
        T.train(photos, p, T.TrainConfig(steps=9, batch_size=2, crop=16, channels=(4, 4), blocks=(1, 1)),
                overwrite=True)
    assert (p / "model.safetensors").read_bytes() == before  # the old run back as it was
    assert (p / "checkpoint" / "state.json").is_file() and not (p / ".replaced").exists()
    monkeypatch.undo()
    assert _run("train", photos, "-o", p, "--overwrite", "--steps", "3", *TINY).exit_code == 0
    assert (p / "model.safetensors").read_bytes() != before and not (p / ".replaced").exists()
    assert not (p / ".train.lock").exists()


def test_the_logged_rate_leaves_out_checkpoints_and_resume_takes_the_runs_own_channels(photos, tmp_path):
    """From trial Q: with a checkpoint each step the logged steps/s was up to 100x too high (the
    timer restarted at each checkpoint, the steps counted from the last record); --resume with
    the run's own --channels failed on the default --blocks beside it."""
    p = tmp_path / "p"
    r = _run("train", photos, "-o", p, "--steps", "60", "--checkpoint-every", "1", *TINY)
    assert r.exit_code == 0, r.output
    recs = [json.loads(x) for x in (p / "log.jsonl").read_text().splitlines()]
    last = [q for q in recs if "steps_per_s" in q][-1]
    # the rate of training time alone (checkpoints left out) is above the wall-clock one, not 100x above it
    assert last["steps_per_s"] <= 20 * last["step"] / last["seconds"]
    r = _run("train", photos, "-o", p, "--resume", "--steps", "62", "--channels", "4,4", "-q", "--threads", "1")
    assert r.exit_code == 0, r.output


def test_resume_writes_a_prior_whose_write_failed_at_the_last_step(photos, tmp_path, monkeypatch):
    """From trial Q: the prior's write failed at the run's last step ("the checkpoint is written:
    --resume goes on from it"), and --resume then said the run was done: the last weights could
    not be had without training on. It now writes the prior from the checkpoint."""
    import restore.train as T

    p = tmp_path / "p"
    assert _run("train", photos, "-o", p, "--steps", "2", *TINY).exit_code == 0
    real = T.save_prior

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(T, "save_prior", full)
    r = _run("train", photos, "-o", p, "--resume", "--steps", "4", "-q")
    assert r.exit_code == 1 and "cannot write the prior of step 4" in r.output
    monkeypatch.setattr(T, "save_prior", real)
    assert json.loads((p / "config.json").read_text())["info"]["steps"] == 2
    r = _run("train", photos, "-o", p, "--resume", "-q")
    assert r.exit_code == 0, r.output
    assert json.loads((p / "config.json").read_text())["info"]["steps"] == 4
    r = _run("train", photos, "-o", p, "--resume", "-q")
    assert r.exit_code == 1 and "at step 4 already" in r.output
