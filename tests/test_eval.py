"""restore eval: conventions, baselines, outputs (tiny prior; the bicubic figure on Set5
is checked against the published one when ../shared is present)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from restore.cli.main import main
from restore.evaluate import evaluate, load_dataset, make_case, parse_method
from restore.tasks.inpaint import make_mask
from restore.io import write_image


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "set"
    d.mkdir()
    for i in range(2):
        write_image(d / f"img{i}.png", (rng.random((26, 30, 3)) * 255).astype(np.uint8))
    return d


def test_eval_cli_outputs(folder, tmp_path, tiny_prior_dir):
    r = CliRunner().invoke(main, ["eval", "inpaint", str(folder), "--mask", "box", "--baselines", "--steps", "1,2",
                                  "--weights", str(tiny_prior_dir), "--csv", str(tmp_path / "r.csv"),
                                  "--json", str(tmp_path / "r.json"), "--report", str(tmp_path / "rep"), "-q"])
    assert r.exit_code == 0, r.output
    # without --sampler, inpainting runs its own recipe per mask (fill auto), labelled "default"
    assert "| default | 1 | 2 |" in r.output and "opencv-telea (classical)" in r.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert {row["method"] for row in data["rows"]} >= {"default", "opencv-telea", "skimage-biharmonic"}
    assert all("psnr_hole" in row for row in data["rows"])
    assert {row["image"] for row in data["rows"]} == {"img0", "img1"}
    assert (tmp_path / "r.csv").read_text().count("\n") == len(data["rows"]) + 1
    assert (tmp_path / "rep" / "psnr_vs_steps.png").exists() and (tmp_path / "rep" / "examples.png").exists()
    assert "psnr_vs_steps.png" in (tmp_path / "rep" / "README.md").read_text()


def test_degradations_follow_the_conventions():
    img = (np.random.default_rng(1).random((50, 47, 3)) * 255).astype(np.uint8)
    c = make_case("sr", "x", img, 0, scale=4)
    assert c.gt.shape[-2:] == (48, 44) and c.y.shape[-2:] == (12, 11)  # mod-crop, LR size
    c = make_case("denoise", "x", img, 3, sigma=25)
    assert abs(float((c.y - c.gt).std()) - 25 / 255) < 0.01 and float(c.y.min()) < 0  # not clipped
    assert abs(make_mask("random80", 100, 100, 0).mean() - 0.8) < 0.02
    assert abs(make_mask("box", 100, 100, 0).mean() - 0.25) < 1e-9
    assert np.array_equal(make_mask("freeform", 64, 64, 5), make_mask("freeform", 64, 64, 5))
    assert parse_method("dpir@sigma_max=0.3,spacing=uniform") == ("dpir", {"sigma_max": 0.3, "spacing": "uniform"})


def test_bicubic_reproduces_published_set5_x4(shared_data):
    rows = evaluate("sr", load_dataset(shared_data / "test" / "Set5"), methods=[], baselines=["bicubic"], scale=4)
    mean = float(np.mean([r["psnr"] for r in rows]))
    assert abs(mean - 28.42) <= 0.02


def test_outputs_are_scored_as_an_8_bit_file_holds_them(tiny_prior):
    """A method's PSNR / SSIM are scikit-image's of its output written as uint8 and read back,
    against the uint8 truth, as the published tables (and --reference) score."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    img = (np.random.default_rng(2).random((32, 40, 3)) * 255).astype(np.uint8)
    (r,) = evaluate("denoise", [("x", img)], methods=["default"], prior=tiny_prior, keep_outputs=True, sigma=25)
    out8 = (r["_out"][0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert r["psnr"] == pytest.approx(peak_signal_noise_ratio(img, out8), abs=1e-6)
    ssim = structural_similarity(img, out8, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=255)
    assert r["ssim"] == pytest.approx(ssim, abs=1e-5)
    float_psnr = -10 * np.log10(float(((r["_out"].clamp(0, 1) - r["_case"].gt) ** 2).mean()))
    assert r["psnr"] != pytest.approx(float_psnr, abs=1e-4)  # not the unrounded output's


def test_an_inverted_mask_file_is_warned_about_once(tmp_path, tiny_prior_dir):
    """A --masks file whose white marks most of the image (the pixels to keep, inverted) is
    said, once, as restore inpaint says it; a mask marking a small hole is not."""
    d, masks = tmp_path / "set", tmp_path / "masks"
    d.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for n in "ab":
        write_image(d / f"{n}.png", (rng.random((32, 40, 3)) * 255).astype(np.uint8))
    m = np.zeros((32, 40), np.uint8)
    m[8:16, 8:20] = 255
    write_image(masks / "a.png", m)
    write_image(masks / "b.png", 255 - m)
    r = CliRunner().invoke(main, ["eval", "inpaint", str(d), "--masks", str(masks), "--steps", "1",
                                  "--weights", str(tiny_prior_dir), "-q"])
    assert r.exit_code == 0, r.output
    assert r.output.count("b.png: the mask marks 92 % of b as holes") == 1 and "a.png" not in r.output


@pytest.mark.parametrize("spec", ["dpir,ddrm", "dpir+ddrm", "dpir@sigma_max=0.3+ddrm"])
def test_eval_sampler_lists(folder, tiny_prior_dir, spec):
    """Plain names separate with ',' or '+'; with options, '+' (the options use ',')."""
    r = CliRunner().invoke(main, ["eval", "inpaint", str(folder), "--mask", "box", "--steps", "1",
                                  "--samplers", spec, "--weights", str(tiny_prior_dir), "-q"])
    assert r.exit_code == 0, r.output
    first = "dpir@sigma_max=0.3" if "@" in spec else "dpir"
    assert f"| {first} | 1 | 2 |" in r.output and "| ddrm | 1 | 2 |" in r.output


def test_eval_outputs_are_kept_checked_first_and_say_what_made_them(tmp_path, tiny_prior_dir):
    """From a researcher's trial: --csv / --json / --report were replaced in silence; a missing
    folder, a bad second --quality value and a missing mask failed only after the work (some as
    tracebacks); the outputs did not say which prior and seed made the numbers; --every drew
    other noise for an image than a full run (seeded by its place in the list evaluated)."""
    rng = np.random.default_rng(0)
    d = tmp_path / "set"
    d.mkdir()
    for i in range(4):
        write_image(d / f"img{i}.png", (rng.random((24, 28, 3)) * 255).astype(np.uint8))
    base = ["eval", "denoise", str(d), "--weights", str(tiny_prior_dir), "-q"]
    r = CliRunner().invoke(main, [*base, "--json", str(tmp_path / "all.json")])
    assert r.exit_code == 0, r.output
    full = json.loads((tmp_path / "all.json").read_text())
    assert full["run"]["prior"] and full["run"]["seed"] == 0 and full["rows"][0]["prior"] == full["run"]["prior"]
    assert f"prior {full['run']['prior']} ({full['run']['prior_weights']}), seed 0" in r.output
    r = CliRunner().invoke(main, [*base, "--json", str(tmp_path / "all.json")])
    assert r.exit_code == 2 and "exists; pass --overwrite" in r.output
    assert json.loads((tmp_path / "all.json").read_text()) == full
    r = CliRunner().invoke(main, [*base, "--json", str(tmp_path / "every.json"), "--every", "2"])
    assert r.exit_code == 0, r.output
    half = {row["image"]: row["psnr"] for row in json.loads((tmp_path / "every.json").read_text())["rows"]}
    assert half == {row["image"]: row["psnr"] for row in full["rows"] if row["image"] in ("img0", "img2")}
    r = CliRunner().invoke(main, [*base, "--csv", str(tmp_path / "no" / "such" / "r.csv")])
    assert r.exit_code == 2 and "does not exist" in r.output
    (tmp_path / "rep").write_text("a file")
    r = CliRunner().invoke(main, [*base, "--report", str(tmp_path / "rep")])
    assert r.exit_code == 2 and "the report is a folder" in r.output
    r = CliRunner().invoke(main, ["eval", "dejpeg", str(d), "--quality", "10,abc", "--weights", str(tiny_prior_dir),
                                  "--csv", str(tmp_path / "q.csv"), "-q"])
    assert r.exit_code == 2 and "got 'abc'" in r.output and not list(tmp_path.glob("q-*.csv"))
    masks = tmp_path / "masks"
    masks.mkdir()
    write_image(masks / "img0.png", np.pad(np.full((8, 8), 255, np.uint8), ((8, 8), (10, 10))))
    r = CliRunner().invoke(main, ["eval", "inpaint", str(d), "--masks", str(masks), "--weights", str(tiny_prior_dir)])
    assert r.exit_code == 1 and "img1" in r.output and "| default" not in r.output and " dB" not in r.output


def test_eval_refuses_what_it_cannot_score_before_the_work(tmp_path, tiny_prior_dir):
    """From a researcher's trial: an image too small for the SSIM window after sr's shave, a 3x3
    one at x4 (torch's zero-size error), --sigma 0 (inf dB, and TV's weight divided by it) each
    failed with a traceback, some after the other images' work; a mask folder holding 101085.json
    beside 101085.png read the JSON; 'mmse,dpir@lam=0.3' was an unknown sampler."""
    d = tmp_path / "set"
    d.mkdir()
    rng = np.random.default_rng(0)
    write_image(d / "a.png", (rng.random((40, 40, 3)) * 255).astype(np.uint8))
    write_image(d / "b.png", (rng.random((14, 14, 3)) * 255).astype(np.uint8))
    base = ["--weights", str(tiny_prior_dir)]
    r = CliRunner().invoke(main, ["eval", "sr", str(d), "--scale", "4", *base])
    assert r.exit_code == 1 and "b: 12x12" in r.output and "too small to score" in r.output
    assert "| dpir" not in r.output and "dB" not in r.output  # nothing ran
    r = CliRunner().invoke(main, ["eval", "denoise", str(d), "--sigma", "0", "--baselines", *base])
    assert r.exit_code == 1 and "no noise to remove" in r.output
    (d / "b.png").unlink()
    masks = tmp_path / "masks"
    masks.mkdir()
    (masks / "a.json").write_text("{}")
    write_image(masks / "a.png", np.pad(np.full((10, 10), 255, np.uint8), 15))
    r = CliRunner().invoke(main, ["eval", "inpaint", str(d), "--masks", str(masks), "--steps", "1", *base, "-q"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["eval", "inpaint", str(d), "--masks", str(tmp_path / "nope"), *base])
    assert r.exit_code == 1 and "not a folder" in r.output
    r = CliRunner().invoke(main, ["eval", "denoise", str(d), "--samplers", "mmse,dpir@lam=0.3", *base])
    assert r.exit_code == 2 and "'mmse+dpir@lam=0.3'" in r.output
    r = CliRunner().invoke(main, ["eval", "denoise", str(d), "--steps", "4,0", *base])  # a usage error, as on restore
    assert r.exit_code == 2 and "1-1000" in r.output and "dB" not in r.output


def test_eval_says_what_it_does_to_the_data(tmp_path, tiny_prior_dir):
    """From a researcher's trial: 16-bit images were scored at 8 bits without a word; --mask
    beside --masks was ignored in silence; a report without --baselines drew a black panel
    for the best classical tool it did not have."""
    d = tmp_path / "set"
    d.mkdir()
    rng = np.random.default_rng(0)
    write_image(d / "a.png", (rng.random((32, 32, 3)) * 65535).astype(np.uint16))
    write_image(d / "b.png", (rng.random((32, 32, 3)) * 255).astype(np.uint8))
    base = ["--weights", str(tiny_prior_dir), "-q"]
    with pytest.warns(UserWarning, match="1 of 2 images have more than 8 bits: scored at 8 bits"):
        load_dataset(d)
    r = CliRunner().invoke(main, ["eval", "denoise", str(d), *base])
    assert r.exit_code == 0 and "scored at 8 bits" in r.output
    masks = tmp_path / "masks"
    masks.mkdir()
    r = CliRunner().invoke(main, ["eval", "inpaint", str(d), "--mask", "box", "--masks", str(masks), *base])
    assert r.exit_code == 1 and "--mask box does not apply" in r.output
    r = CliRunner().invoke(main, ["eval", "sr", str(d), "--scale", "2", "--steps", "1", "--report", str(tmp_path / "rep"),
                                  *base])
    assert r.exit_code == 0, r.output
    from restore.io import read_image

    grid = read_image(tmp_path / "rep" / "examples.png").array
    assert grid.shape[1] == 3 * 256 + 2 * 4  # clean | degraded | restore, no empty classical panel
    assert "clean | degraded | restore" in (tmp_path / "rep" / "README.md").read_text()


def test_a_classical_tool_not_installed_is_said(folder, tiny_prior_dir, monkeypatch):
    """From a README trial: without the bench extra --baselines left BM3D's rows out in silence."""
    from restore.tasks import get_task

    monkeypatch.setattr(type(get_task("denoise")), "missing_baselines", {"bm3d": 'pip install "restore[bench]"'})
    r = CliRunner().invoke(main, ["eval", "denoise", str(folder), "--baselines", "--steps", "1", "--limit", "1",
                                  "--weights", str(tiny_prior_dir)])
    said = 'bm3d left out of the baselines (not installed: pip install "restore[bench]")'
    assert r.exit_code == 0 and said in r.output


def test_eval_rows_say_what_ran_and_what_made_them(tmp_path, tiny_prior_dir):
    """From a researcher's trial: with --masks the default was split into two rows named
    "default" of a few images each (the scene fill's and dpir's); a sampler listed twice made one
    row of twice the images; two images of one name made rows that could not be told apart;
    rows and the head named the prior by its folder's name alone (two priors in folders of one
    name looked alike), and the CSV did not say the setting, the data or the version."""
    import csv

    rng = np.random.default_rng(0)
    d, m = tmp_path / "set", tmp_path / "masks"
    d.mkdir()
    m.mkdir()
    for i in range(3):
        write_image(d / f"img{i}.png", (rng.random((40, 48, 3)) * 255).astype(np.uint8))
    box = np.zeros((40, 48), np.uint8)
    box[8:36, 8:40] = 255  # big: the scene fill
    line = np.zeros((40, 48), np.uint8)
    line[20:22] = 255  # thin: dpir
    for i, mk in enumerate((box, line, line)):
        write_image(m / f"img{i}.png", mk)
    r = CliRunner().invoke(main, ["eval", "inpaint", str(d), "--masks", str(m), "--weights", str(tiny_prior_dir),
                                  "-q", "--csv", str(tmp_path / "r.csv"), "--json", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    rows = [ln for ln in r.output.splitlines() if ln.startswith("| default")]
    assert len(rows) == 1 and "scene fill on 1" in rows[0] and "dpir on 2" in rows[0] and "| 0/20 | 3 |" in rows[0]
    # an image whose holes took both fills: it read "none+dpir" (the scene fill runs no sampler)
    big = np.zeros((96, 96), np.uint8)
    big[8:48, 8:48] = 255
    big[80:82, 10:90] = 255
    d2, m2 = tmp_path / "set2", tmp_path / "masks2"
    d2.mkdir()
    m2.mkdir()
    for name, mk in (("both", big), ("box", np.where(np.arange(96)[:, None] < 80, big, 0).astype(np.uint8))):
        write_image(d2 / f"{name}.png", (rng.random((96, 96, 3)) * 255).astype(np.uint8))
        write_image(m2 / f"{name}.png", mk)
    r2 = CliRunner().invoke(main, ["eval", "inpaint", str(d2), "--masks", str(m2), "--weights", str(tiny_prior_dir),
                                   "-q"])
    assert r2.exit_code == 0 and "| default, scene fill on 1, scene fill+dpir on 1 |" in r2.output, r2.output
    got = json.loads((tmp_path / "r.json").read_text())
    assert got["run"]["prior_path"] == str(tiny_prior_dir.resolve()) and len(got["run"]["prior_weights"]) == 16
    assert got["run"]["command"] is None and got["run"]["threads"] >= 1  # (a test runner's process: no command)
    with open(tmp_path / "r.csv") as f:
        table = list(csv.DictReader(f))
    assert {t["ran"] for t in table} == {"scene fill", "dpir"} and {t["masks"] for t in table} == {str(m)}
    assert all(t["dataset"] == str(d) and t["restore"] and t["prior_weights"] for t in table)
    assert "mask" not in table[0]  # the generated family's default made none of them
    assert all(t["torch"] and t["machine"] and t["threads"] and t["device"] == "cpu" for t in table)
    r = CliRunner().invoke(main, ["eval", "denoise", str(d), "-q", "--csv", str(tmp_path / "same"), "--json",
                                  str(tmp_path / "same")])
    assert r.exit_code == 2 and "--csv and --json name one file" in r.output
    r = CliRunner().invoke(main, ["eval", "denoise", str(d), "--samplers", "mmse,mmse", "-q"])
    assert r.exit_code == 2 and "mmse given twice" in r.output
    r = CliRunner().invoke(main, ["eval", "denoise", str(d), "--steps", "2,2", "--samplers", "dpir", "-q"])
    assert r.exit_code == 2 and "given twice" in r.output
    write_image(d / "img0.jpg", (rng.random((40, 48, 3)) * 255).astype(np.uint8))
    r = CliRunner().invoke(main, ["eval", "denoise", str(d), "--weights", str(tiny_prior_dir), "-q"])
    assert r.exit_code == 1 and "img0.jpg and img0.png share the name img0" in r.output


def test_published_figures_are_shown_for_their_own_data_set_only():
    """The deblurring figures (CBSD68's) were printed under a run on any folder."""
    from restore.tasks import get_task

    p = {"kernel": "gaussian:1.6,25", "sigma": 2.55, "blur": "wrap"}
    tk = get_task("deblur")
    assert "CBSD68" in tk.published(p, "/data/test/CBSD68") and "DPIR 28.86" in tk.published(p)
    assert tk.published(p, "/tmp/my_crops") == ""


def test_a_result_refused_on_one_image_is_a_failed_row_not_the_end(folder, tmp_path, tiny_prior_dir, monkeypatch):
    """A sampler whose result is refused on an image (dps that did not converge on a sr crop)
    stopped the whole evaluation of six samplers with that one error: the image is counted as
    failed in its method's row (the means over the others), the reason said and kept per row;
    bad input or options still end the run."""
    import restore.evaluate as ev
    from restore.errors import RestoreError

    real = ev.run

    def refusing(y, task, sampler=None, **kw):
        if sampler == "ddrm" and float(y.mean()) > float(refusing.first):  # one of the two images
            raise RestoreError("ddrm did not converge in 2 steps: its result lies 99/255 (RMS) from the measurement")
        return real(y, task, sampler=sampler, **kw)

    cases = [make_case("denoise", n, img, i, sigma=25) for i, (n, img) in enumerate(load_dataset(folder))]
    refusing.first = min(float(c.y.mean()) for c in cases) + 1e-6
    monkeypatch.setattr(ev, "run", refusing)
    r = CliRunner().invoke(main, ["eval", "denoise", str(folder), "--sigma", "25", "--samplers", "ddrm,ddnm",
                                  "--steps", "2", "--weights", str(tiny_prior_dir), "--json", str(tmp_path / "r.json"),
                                  "-q"])
    assert r.exit_code == 0, r.output
    assert "| ddrm, failed on 1 | 2 | 1 |" in r.output and "| ddnm | 2 | 2 |" in r.output
    assert "ddrm: 1 of 2 images failed: ddrm did not converge in 2 steps" in r.output
    data = json.loads((tmp_path / "r.json").read_text())
    failed = [row for row in data["rows"] if "failed" in row]
    assert len(failed) == 1 and failed[0]["method"] == "ddrm" and "psnr" not in failed[0]
    ddrm = next(s for s in data["summary"] if s["method"] == "ddrm")
    ok = next(row for row in data["rows"] if row["method"] == "ddrm" and "failed" not in row)
    assert ddrm["failed"] == 1 and ddrm["images"] == 1 and ddrm["psnr"] == pytest.approx(ok["psnr"])
    r = CliRunner().invoke(main, ["eval", "denoise", str(folder), "--sigma", "25", "--samplers", "ddrm@eta=5",
                                  "--weights", str(tiny_prior_dir), "-q"])
    assert r.exit_code != 0 and "eta" in r.output  # an option out of range: the run's error, as before


def test_a_method_that_failed_on_every_image_still_gives_a_report_and_strict_json(folder, tmp_path,
                                                                                   tiny_prior_dir, monkeypatch):
    """A trial's `--report` crashed on the all-failed row's NaN (the plot), and `--json` wrote
    NaN, which strict JSON parsers refuse; with several step counts each row names its own. Such a
    run exits 1 after writing them (it exited 0, the failure only in the table)."""
    import restore.evaluate as ev
    from restore.errors import RestoreError

    real = ev.run

    def refusing(y, task, sampler=None, steps=None, **kw):
        if sampler == "ddrm":
            raise RestoreError(f"ddrm did not converge in {steps} steps: its result lies 99/255 (RMS) away")
        return real(y, task, sampler=sampler, steps=steps, **kw)

    monkeypatch.setattr(ev, "run", refusing)
    r = CliRunner().invoke(main, ["eval", "denoise", str(folder), "--sigma", "25", "--samplers", "ddrm,ddnm",
                                  "--steps", "1,2", "--weights", str(tiny_prior_dir),
                                  "--json", str(tmp_path / "r.json"), "--report", str(tmp_path / "rep"), "-q"])
    # everything written, but the run did not give what was asked for: non-zero, as a folder run with a failure
    assert r.exit_code == 1, r.output
    assert "error: no result from ddrm at 1 steps, ddrm at 2 steps: failed on every image" in r.output
    assert (tmp_path / "rep" / "README.md").exists() and (tmp_path / "rep" / "psnr_vs_steps.png").exists()
    data = json.loads((tmp_path / "r.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    ddrm = [s for s in data["summary"] if s["method"] == "ddrm"]
    assert [s["psnr"] for s in ddrm] == [None, None] and all("_asked" not in s for s in data["summary"])
    assert "ddrm at 1 steps: 2 of 2 images failed: ddrm did not converge in 1 steps" in r.output
    assert "ddrm at 2 steps: 2 of 2 images failed: ddrm did not converge in 2 steps" in r.output


def test_a_given_row_of_another_shape_is_one_line(folder, tiny_prior_dir, monkeypatch):
    """A contributor's task whose measurement is not the truth's shape (a gray input of a colour
    truth) declared ``given``: --baselines ended in a metric's traceback. Now one line, exit 1."""
    from restore.tasks import get_task

    monkeypatch.setattr(type(get_task("sr")), "given", "input")
    r = CliRunner().invoke(main, ["eval", "sr", str(folder), "--scale", "2", "--baselines", "--limit", "1",
                                  "--weights", str(tiny_prior_dir), "--steps", "1", "-q"])
    assert r.exit_code == 1, r.output
    assert "error: sr: Task.given names the measurement as a row, but its (1, 3, 13, 15) is not the truth's " \
           "(1, 3, 26, 30)" in r.output and "Traceback" not in r.output


def test_a_sampler_that_cannot_serve_the_task_is_refused_before_any_work(folder, tiny_prior_dir, monkeypatch):
    """An extension trial: eval sr --samplers dpir,repaint ran dpir on the images, then refused repaint."""
    import restore.evaluate as E

    def never(*a, **k):
        raise AssertionError("restored before the samplers were checked")

    monkeypatch.setattr(E, "run", never)
    r = CliRunner().invoke(main, ["eval", "sr", str(folder), "--samplers", "dpir,repaint", "--weights",
                                  str(tiny_prior_dir)])
    assert r.exit_code != 0 and "sampler 'repaint' cannot serve task 'sr'" in r.output and "dB" not in r.output
