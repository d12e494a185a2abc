"""Batching: same-size images through the sampler together give what each gives alone."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import restore
from restore.cli.main import main
from restore.errors import InputError
from restore.io import read_image, write_image
from restore.samplers.common import randn_like

ONE_LEVEL = 1  # 8-bit outputs of a batch and of single runs may differ by float rounding


@pytest.fixture
def P(tiny_prior_dir):
    return str(tiny_prior_dir)


def _images(n=4, shape=(20, 28, 3), seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random(shape) * 255).astype(np.uint8) for _ in range(n)]


def _masks(imgs, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.random(im.shape[:2]) < 0.3 + 0.05 * i for i, im in enumerate(imgs)]


def _diff(a, b):
    return int(np.abs(a.astype(int) - b.astype(int)).max())


def test_generator_per_image_draws_what_each_image_draws_alone():
    x = torch.zeros(6, 3, 5, 7)  # 3 images x 2 posterior samples
    gens = [torch.Generator().manual_seed(s) for s in (1, 2, 3)]
    z = randn_like(x, gens)
    for i, s in enumerate((1, 2, 3)):
        alone = randn_like(x[:2], torch.Generator().manual_seed(s))
        assert torch.equal(z[2 * i : 2 * i + 2], alone)
    with pytest.raises(ValueError):
        randn_like(torch.zeros(5, 1, 2, 2), gens)


@pytest.mark.parametrize("task,kw", [
    ("denoise", {"sigma": 20 / 255}),
    ("denoise", {}),  # each image's own estimated sigma
    ("inpaint", {"sampler": "ddnm", "steps": 4}),
    ("inpaint", {"sampler": "repaint", "steps": 3}),
    ("inpaint", {"sampler": "pigdm", "steps": 3}),  # the gradient-guided loop (dps refuses a run thrown off)
    ("sr", {"scale": 2, "sampler": "ddrm", "steps": 3}),
    ("deblur", {"kernel": "gaussian:1.2,7", "sigma": 2 / 255, "sampler": "diffpir", "steps": 3}),
])
@pytest.mark.filterwarnings("ignore:.*spans more than 25%:UserWarning")  # small images, their kernels wide
def test_a_list_gives_each_image_what_it_gets_alone(task, kw, P):
    imgs = _images()
    kw = {**kw, "prior": P}
    per = {"mask": _masks(imgs)} if task == "inpaint" else {}
    alone = [restore.restore(im, task, **kw, **{k: v[i] for k, v in per.items()}) for i, im in enumerate(imgs)]
    together = restore.restore(imgs, task, batch_size=4, **kw, **per)
    assert [_diff(a, b) for a, b in zip(alone, together)] == [0] * 4 or \
        max(_diff(a, b) for a, b in zip(alone, together)) <= ONE_LEVEL
    # the noise is the image's own: different batch-mates, same result
    mates = _images(seed=7)
    mixed = restore.restore([imgs[0], *mates[1:]], task, batch_size=4, **kw,
                            **{k: [v[0], *_masks(mates, seed=9)[1:]] for k, v in per.items()})
    assert _diff(mixed[0], together[0]) <= ONE_LEVEL


@pytest.mark.filterwarnings("ignore:.*of the image to fill:UserWarning")  # its masks are large on purpose
def test_a_list_of_mixed_sizes_types_and_seeds(P):
    imgs = _images(3) + _images(2, shape=(16, 16))
    outs = restore.restore(imgs, "inpaint", mask=_masks(imgs), sampler="ddnm", steps=3, seed=[0, 1, 2, 3, 4],
                           batch_size=2, prior=P)
    assert [o.shape for o in outs] == [im.shape for im in imgs]
    again = restore.restore(imgs[1], "inpaint", mask=_masks(imgs)[1], sampler="ddnm", steps=3, seed=1, prior=P)
    assert _diff(outs[1], again) <= ONE_LEVEL
    other_seed = restore.restore(imgs[1], "inpaint", mask=_masks(imgs)[1], sampler="ddnm", steps=3, seed=0, prior=P)
    assert _diff(outs[1], other_seed) > ONE_LEVEL
    t = restore.restore([torch.rand(1, 3, 8, 8), torch.rand(2, 3, 8, 8)], "denoise", sigma=0.1, prior=P)
    assert [tuple(o.shape) for o in t] == [(1, 3, 8, 8), (2, 3, 8, 8)]
    m, s = restore.restore(imgs[:2], "inpaint", mask=_masks(imgs)[:2], sampler="ddnm", steps=2, samples=2, prior=P)[1]
    assert m.shape == s.shape == imgs[1].shape
    assert restore.restore([], "denoise", prior=P) == []


def test_a_tensor_batch_is_independent_of_its_mates(P):
    x = torch.rand(3, 3, 16, 16)
    known = torch.rand(3, 1, 16, 16) > 0.5
    kw = dict(sampler="ddnm", steps=3, prior=P)
    res = restore.run(x, "inpaint", known=list(known), **kw)
    alone = restore.run(x[1:2], "inpaint", known=known[1], **kw)
    assert (res.image[1:2] - alone.image).abs().max() < 1e-4
    with pytest.raises(InputError, match="2 masks for a batch of 3"):
        restore.run(x, "inpaint", known=list(known[:2]), **kw)
    with pytest.raises(InputError, match="2 seeds for a batch of 3"):
        restore.run(x, "inpaint", known=known[0], seed=[1, 2], **kw)


def test_a_batch_with_estimated_noise_estimates_once_per_image(P, monkeypatch):
    from restore.tasks import denoise

    calls = []
    est = denoise.estimate_noise
    monkeypatch.setattr(denoise, "estimate_noise", lambda x, *a: calls.append(x.shape[0]) or est(x, *a))
    x = torch.rand(3, 3, 16, 16)
    res = restore.run(x, "denoise", prior=P)
    assert calls == [1, 1, 1] and len(res.sigma_y) == 3


def test_default_batch_size_is_one_on_cpu():
    assert restore.default_batch_size("cpu", 256 * 256) == 1


@pytest.fixture
def folder(tmp_path):
    d, m = tmp_path / "in", tmp_path / "masks"
    d.mkdir()
    m.mkdir()
    imgs = _images(5) + _images(2, shape=(12, 16))
    for i, (im, mk) in enumerate(zip(imgs, _masks(imgs))):
        write_image(d / f"im{i}.png", im)
        write_image(m / f"im{i}.png", mk.astype(np.uint8) * 255)
    return tmp_path


def _cli(*args, prior):
    r = CliRunner().invoke(main, [str(a) for a in args] + ["--weights", str(prior), "-q"], catch_exceptions=False)
    return r


def test_folder_batches_match_one_at_a_time_and_a_bad_file_fails_alone(folder, P):
    a = _cli("inpaint", folder / "in", folder / "masks", "-o", folder / "one", "--sampler", "ddnm", "--steps", "3",
             prior=P)
    assert a.exit_code == 0, a.output
    # one mask with no hole: its batch fails as a whole, reruns image by image, only it fails
    write_image(folder / "masks" / "im2.png", np.zeros((20, 28), np.uint8), overwrite=True)
    b = _cli("inpaint", folder / "in", folder / "masks", "-o", folder / "many", "--sampler", "ddnm", "--steps", "3",
             "--batch-size", "4", "--json", prior=P)
    assert b.exit_code == 1
    recs = [json.loads(line) for line in b.output.splitlines() if line.startswith("{")]
    summary = recs.pop()
    assert summary["summary"] == {"done": 6, "skipped": 0, "failed": 1}
    assert "im2.png" in summary["failed"][0] and "no hole" in summary["failed"][0]
    failed = [r for r in recs if r.get("status") == "failed"]  # --json: a record for the failure too
    assert len(failed) == 1 and failed[0]["input"].endswith("im2.png")
    recs = [r for r in recs if r not in failed]
    assert any(r.get("batch", 1) > 1 for r in recs)  # the others did share batches
    for r in recs:
        name = r["output"].rsplit("/", 1)[-1]
        assert _diff(read_image(folder / "one" / name).array, read_image(folder / "many" / name).array) <= ONE_LEVEL
    assert not (folder / "many" / "im2.png").exists()


def test_workers_without_ray_is_a_usage_error(folder, P):
    r = _cli("denoise", folder / "in", "-o", folder / "out", "--workers", "2", prior=P)
    assert r.exit_code == 2 and "--workers is for --engine ray" in r.output


def test_list_call_errors_are_clear(P):
    imgs = _images(2)
    for bad in (0, -1, 2.5, "4", True):
        with pytest.raises(InputError, match="batch_size must be a positive integer"):
            restore.restore(imgs, "denoise", sigma=0.1, batch_size=bad, prior=P)
    with pytest.raises(InputError, match="sigma: 1 values for 2 images"):
        restore.restore(imgs, "denoise", sigma=[0.1], prior=P)
    with pytest.raises(InputError, match="steps: 3 values for 2 images"):
        restore.restore(imgs, "denoise", sigma=0.1, steps=[1, 1, 1], prior=P)
    outs = restore.restore(imgs, "denoise", sigma=[0.05, 0.2], prior=P)  # per image, as documented
    assert _diff(outs[1], restore.restore(imgs[1], "denoise", sigma=0.2, prior=P)) == 0


def test_a_folder_with_two_inputs_of_one_stem_is_refused_before_any_work(tmp_path, P):
    d = tmp_path / "in"
    d.mkdir()
    img = _images(1)[0]
    write_image(d / "a.png", img)
    write_image(d / "a.jpg", img)
    write_image(d / "b.png", img)
    r = _cli("denoise", d, "-o", tmp_path / "out", "--sigma", "10", prior=P)
    assert r.exit_code == 2 and "would both write" in r.output and "a.jpg" in r.output
    assert not (tmp_path / "out").exists()


def test_a_folder_of_one_size_says_the_spread_of_its_levels(tmp_path, tiny_prior_dir):
    """A trial on a video's frames: each frame's level is read on its own (one camera-like noise read
    9.09-11.40 over 24 frames), with nothing to say so. A folder of three or more images of one size
    whose levels spread ends with their range and median, which --sigma tells all; photos of other
    sizes, levels given, other tasks and -q say nothing."""
    from restore.cli.runner import levels_note

    rng = np.random.default_rng(4)
    src = tmp_path / "frames"
    src.mkdir()
    base = (np.clip(0.5 + 0.2 * np.sin(np.arange(48)[:, None] / 7 + np.arange(64) / 9), 0, 1) * 255)[..., None]
    for i, s in enumerate((6, 10, 14)):
        a = np.clip(np.repeat(base, 3, 2) + rng.normal(0, s, (48, 64, 3)), 0, 255).round().astype(np.uint8)
        write_image(src / f"f{i}.png", a)

    def run(*args):
        r = CliRunner().invoke(main, ["denoise", str(src), "--weights", str(tiny_prior_dir), *map(str, args)])
        assert r.exit_code == 0, r.output
        return r

    r = run("-o", tmp_path / "out", "--json")
    read = sorted(json.loads(line)["sigma"] for line in r.stdout.splitlines() if '"sigma"' in line)
    assert len(read) == 3 and read[-1] > 1.1 * read[0]
    said = f"note: noise levels read {read[0]:.2f}-{read[-1]:.2f} (median {read[1]:.2f}) over 3 images of 64x48"
    assert "note: noise levels read" not in r.stderr  # (--json: each record has its level)
    r = run("-o", tmp_path / "out2")
    assert said in r.stderr and f"--sigma {read[1]:.2f} into another folder" in r.stderr
    (tmp_path / "out2" / "f1.png").unlink()  # a resumed run: the note counts the images already written
    r = run("-o", tmp_path / "out2")  # (it counted only those it restored: a trial)
    assert said in r.stderr and "done 1, skipped 2" in r.stdout, r.output
    assert "note: noise levels read" not in run("-o", tmp_path / "out3", "-q").stderr
    assert "note: noise levels read" not in run("-o", tmp_path / "out4", "--sigma", "10").stderr
    from restore.tasks import get_task

    dn = get_task("denoise")
    assert levels_note([(5.0, 64, 48), (9.0, 64, 48), (7.0, 60, 48)], dn) is None  # two of one size
    # (a trial: one image of another size beside the frames left the note out)
    assert "read 5.00-9.00 (median 7.00) over 3 images of 64x48" in levels_note(
        [(5.0, 64, 48), (9.0, 64, 48), (7.0, 64, 48), (20.0, 60, 48)], dn)
    assert levels_note([(5.0, 64, 48), (5.2, 64, 48), (5.4, 64, 48)], dn) is None  # within 1.1 times
    assert levels_note([(5.0, 64, 48), (9.0, 64, 48), (7.0, 64, 48)], get_task("sr")) is None
    assert "median 6.50" in levels_note([(5.0, 64, 48), (9.0, 64, 48), (7.0, 64, 48), (6.0, 64, 48)], dn)
    assert "read 5.00-10.91" in levels_note([(5.0, 64, 48), (10.905, 64, 48), (7.0, 64, 48)], dn)  # as its line


def test_a_rerun_in_another_format_says_it_writes_beside_the_outputs(tmp_path, tiny_prior_dir):
    """A trial: --format jpg into a folder of a finished PNG run wrote a second output for every image
    ('done 24', no word); it is said before the work."""
    src = tmp_path / "in"
    src.mkdir()
    for i, a in enumerate(_images(2, (20, 28, 3))):
        write_image(src / f"i{i}.png", a)

    def run(*args):
        r = CliRunner().invoke(main, ["denoise", str(src), "-o", str(tmp_path / "out"), "--sigma", "10",
                                      "--weights", str(tiny_prior_dir), *args])
        assert r.exit_code == 0, r.output
        return r.stderr

    assert "in another format" not in run()
    said = run("--format", "jpg")
    assert "i0.png and 1 other file of the same names in another format are there already" in said
    assert "writes its .jpg outputs beside them" in said
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == [
        "i0.jpg", "i0.png", "i1.jpg", "i1.png"]
    assert "in another format" not in run("--format", "jpg")  # (all written: nothing to write beside)
