"""restore ui: the server's handlers (Starlette TestClient, tiny prior) and the command."""

from __future__ import annotations

import base64
import json
import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")  # the TestClient's transport
from starlette.testclient import TestClient  # noqa: E402

from restore.tasks import TASKS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "photo.png"


def png_bytes(a: np.ndarray) -> bytes:
    from restore.io import encode_image

    return encode_image(a, ".png")


@pytest.fixture(scope="module")
def client(tiny_prior_dir):
    from restore.cli.ui.server import create_app

    app = create_app(weights=str(tiny_prior_dir), device="cpu", max_pixels=300_000)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def upload(client, data: bytes, name: str = "photo.png"):
    return client.post("/api/images", content=data, headers={"X-Filename": name})


def wait(client, job_id: str, timeout: float = 120) -> dict:
    t0 = time.time()
    while time.time() - t0 < timeout:
        st = client.get(f"/api/jobs/{job_id}").json()
        if st["status"] not in ("queued", "running"):
            return st
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {st}")


def test_page_and_tasks_from_the_registry(client):
    r = client.get("/")
    assert r.status_code == 200 and "<canvas" in r.text
    assert client.get("/static/app.js").status_code == 200
    info = client.get("/api/tasks").json()
    assert [t["name"] for t in info["tasks"]] == TASKS.names()
    from restore.tasks import get_task

    for t in info["tasks"]:  # each command-line parameter of the declaration, nothing else
        assert [p["name"] for p in t["params"]] == [q.name for q in get_task(t["name"]).params if q.cli]
    sr = next(t for t in info["tasks"] if t["name"] == "sr")
    scale = next(p for p in sr["params"] if p["name"] == "scale")
    assert scale["kind"] == "choice" and scale["choices"] == ["2", "3", "4", "8"] and scale["default"] == "4"
    inpaint = next(t for t in info["tasks"] if t["name"] == "inpaint")
    assert inpaint["files"] == ["mask"]
    sigma = next(p for p in inpaint["params"] if p["name"] == "sigma")
    assert sigma["kind"] == "float" and sigma["range"] == [0, 255]  # command-line units
    helps = [p["help"] for t in info["tasks"] for p in t["params"] if p["kind"] != "file"]
    # in the page's words: its fields' names, not the command line's options nor the repository's files
    assert not [h for h in helps if "--" in h or "benchmarks/" in h]
    assert any("estimated or sigma)" in h for h in helps)
    # the page's mask is painted: no MASK argument, no mask file (a trial read both in inpaint's help)
    assert not [h for h in helps if "MASK" in h or "(a file" in h]
    helps = {p["name"]: p["help"] for p in inpaint["params"]}
    assert helps["invert_mask"].startswith("The painted mask marks known pixels")
    assert "(nothing painted)" in helps["mask_source"]


def test_a_task_taking_another_file_is_left_to_the_command_line(client, monkeypatch):
    """A contributor's task with a file input not named MASK (a second image) was listed, and
    every job of it failed with "missing GUIDE": the page gives only the image and the layer
    painted as its mask. It is left out of the list, and a job of it refused in one line."""
    from restore.tasks import get_task

    monkeypatch.setattr(type(get_task("denoise")), "files", ("guide",))
    names = [t["name"] for t in client.get("/api/tasks").json()["tasks"]]
    assert "denoise" not in names and "inpaint" in names
    img = upload(client, PHOTO.read_bytes()).json()["id"]
    r = client.post("/api/jobs", json={"image": img, "task": "denoise", "params": {}})
    assert r.status_code == 400
    assert r.json()["error"] == ("denoise: it takes a GUIDE file, which the page has no control for: "
                                 "use the command line")


def test_upload_and_preview(client):
    a = (np.arange(40 * 30 * 3) % 65536).astype(np.uint16).reshape(30, 40, 3)
    r = upload(client, png_bytes(a), "deep.png")
    assert r.status_code == 200, r.text
    info = r.json()
    assert (info["width"], info["height"], info["dtype"], info["has_alpha"]) == (40, 30, "uint16", False)
    prev = client.get(f"/api/images/{info['id']}/preview.png")
    assert prev.status_code == 200 and prev.headers["content-type"] == "image/png"
    from PIL import Image

    im = Image.open(io.BytesIO(prev.content))
    assert im.size == (40, 30) and im.mode == "RGB"  # 8 bits for the browser
    assert info["frames"] == 1
    frames = [Image.fromarray(np.full((10, 12, 3), v, np.uint8)) for v in (30, 200)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    assert upload(client, buf.getvalue(), "anim.gif").json()["frames"] == 2  # said as it opens (a trial: after a run)


@pytest.mark.parametrize("data,name,expect", [
    (b"", "x.png", "empty file"),
    (b"not an image at all", "notes.png", "not an image file"),
    (PHOTO.read_bytes()[:300], "cut.png", "cut.png: unreadable"),
])
def test_bad_upload_is_one_line(client, data, name, expect):
    r = upload(client, data, name)
    assert r.status_code in (400, 413)
    msg = r.json()["error"]
    assert expect in msg and "\n" not in msg and "Traceback" not in msg
    assert "restore-ui-" not in msg  # the server's own paths are not shown


def test_a_kernel_value_never_reads_the_servers_folder(client, tmp_path, monkeypatch):
    """From a trial: "k:1.png" (a ':' let it past the page's file-name check) was read as the
    kernel from the server's folder, while "k:2.png" answered "not found". The page now takes
    NAME:NUMBERS alone, which the task reads as a spec, never as a file; its answers are the same
    whether or not such files exist; a typo gets the spec's grammar, not a talk of file names."""
    img = upload(client, PHOTO.read_bytes()).json()["id"]

    def answer(kernel):
        r = client.post("/api/jobs", json={"image": img, "task": "deblur", "steps": 1, "params": {"kernel": kernel}})
        if r.status_code == 202:
            return "queued: " + wait(client, r.json()["id"])["status"]
        return r.json()["error"]

    names = ("k:1.png", "C:kernel.png", "foo:3", "gaussian:99", "box:0")
    monkeypatch.chdir(tmp_path)
    before = {n: answer(n) for n in names}
    line = np.zeros((9, 9), np.uint8)
    line[4] = 255
    for n in names:
        (tmp_path / n).write_bytes(png_bytes(line))  # a PNG, whatever the name says
    assert {n: answer(n) for n in names} == before  # the files changed nothing
    assert all(a.startswith("kernel") and "queued" not in a for a in before.values()), before
    assert "takes no file names" in before["k:1.png"] and "takes no file names" in before["C:kernel.png"]
    assert "bad numbers for gaussian" in before["gaussian:99"]
    for typo in ("gaussian 1.6", "1.6", "motion 15 30"):
        msg = answer(typo)
        assert ("is not understood: use gaussian:STD[,SIZE], motion:LENGTH,ANGLE, disc:RADIUS (defocus), box:N, "
                "levin:1..8") in msg, msg
        assert "file" not in msg
    assert answer("Gaussian: 1.6") == "queued: done"
    kernel = [p for t in client.get("/api/tasks").json()["tasks"] if t["name"] == "deblur" for p in t["params"]
              if p["name"] == "kernel"][0]
    assert "file" not in kernel["help"] and "levin:1..8" in kernel["help"]  # the page offers no file


def test_other_sites_pages_and_other_host_names_are_refused(client):
    """From a trial: a page of another site could post images and jobs to the app (a "simple"
    request needs no permission) and a DNS name rebound to 127.0.0.1 reached it; a job's body
    was read whatever its size. Requests naming another origin or host are refused before any
    handler, the app's own page and local scripts are not."""
    ok = client.get("/api/tasks")
    assert ok.status_code == 200
    r = client.get("/api/tasks", headers={"Host": "evil.example.com"})
    assert r.status_code == 403 and "answers to 127.0.0.1, localhost, ::1 or an IP address only" in r.json()["error"]
    assert client.get("/", headers={"Host": "localhost:7860"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:7860"}).status_code == 200
    data = PHOTO.read_bytes()
    for headers in ({"Origin": "http://127.0.0.2:8765"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        r = client.post("/api/images", content=data, headers={"X-Filename": "p.png", **headers})
        assert r.status_code == 403 and "another site" in r.json()["error"], headers
    r = client.post("/api/images", content=data, headers={"X-Filename": "p.png", "Origin": "http://127.0.0.1",
                                                          "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200  # the app's own page
    img = r.json()["id"]
    job = {"image": img, "task": "denoise", "params": {"sigma": 10}, "steps": 1}
    r = client.post("/api/jobs", content=json.dumps(job), headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    limit = client.app.state.ui.max_job_bytes
    r = client.post("/api/jobs", content=b"{" + b" " * limit + b"}", headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "over the limit" in r.json()["error"]
    assert wait(client, client.post("/api/jobs", json=job).json()["id"])["status"] == "done"


def test_pixel_and_byte_limits(client):
    big = np.zeros((600, 600), np.uint8)  # 360,000 pixels > 300,000
    r = upload(client, png_bytes(big), "big.png")
    assert r.status_code == 400 and "exceeds the limit" in r.json()["error"]
    # the limit is the server's option, not the page's (a trial read "raise it with --max-pixels" in the page)
    assert "start restore ui with a larger --max-pixels" in r.json()["error"]
    limit = client.get("/api/tasks").json()["max_bytes"]
    r = client.post("/api/images", content=b"\0" * (limit + 1), headers={"X-Filename": "huge.png"})
    assert r.status_code == 413 and "upload limit" in r.json()["error"]


def test_page_names_no_paths(client):
    """A page-given name is a label only; text parameters naming a file are refused."""
    r = upload(client, PHOTO.read_bytes(), "../../etc/passwd.png")
    assert r.status_code == 200 and r.json()["name"] == "passwd.png"
    img = r.json()["id"]
    r = client.post("/api/jobs", json={"image": img, "task": "deblur", "params": {"kernel": str(PHOTO)}})
    assert r.status_code == 400 and "takes no file names" in r.json()["error"]
    # a bare name gets the same answer whether or not the server's folder holds it: no probing
    answers = set()
    for name in ("README.md", "no-such-file.png", "pyproject.toml", "k.png"):
        for task, key in (("deblur", "kernel"), ("inpaint", "exclude")):
            r = client.post("/api/jobs", json={"image": img, "task": task, "params": {key: name},
                                               "mask": painted_mask(256, 256, (0, 5, 0, 5))})
            assert r.status_code == 400, r.text
            answers.add(r.json()["error"].replace(repr(name), "NAME"))
    assert len(answers) == 2 and all("takes no file names" in a for a in answers)
    assert "exclude" not in [p["name"] for t in client.get("/api/tasks").json()["tasks"] for p in t["params"]
                             if p["kind"] != "file"]
    r = client.post("/api/jobs", json={"image": "../x", "task": "denoise"})
    assert r.status_code == 404


def test_bad_jobs_refused_before_the_queue(client):
    img = upload(client, PHOTO.read_bytes()).json()["id"]
    cases = [
        ({"task": "nope"}, "unknown task"),
        ({"task": "inpaint"}, "paint the mask first"),
        ({"task": "sr", "params": {"scale": 5}}, "must be one of"),
        ({"task": "denoise", "params": {"sigma": 300}}, "0-255"),
        ({"task": "denoise", "params": {"bogus": 1}}, "no parameter bogus"),
        ({"task": "deblur", "params": {"kernel": "gaussian:zz"}}, ""),
        ({"task": "denoise", "steps": 0}, "steps"),
        ({"task": "denoise", "sampler": "nope"}, "unknown sampler"),
        ({"task": "denoise", "sampler": "mmse@bogus=1"}, "bogus"),
        ({"task": "denoise", "params": {"sigma": True}}, "takes a number"),
        ({"task": "denoise", "seed": 2**64}, "seed must be an integer in 0-"),
        ({"task": "denoise", "seed": -1}, "seed must be an integer in 0-"),
    ]
    for body, expect in cases:
        r = client.post("/api/jobs", json={"image": img, **body})
        assert r.status_code == 400, (body, r.text)
        assert expect in r.json()["error"], (body, r.json())


def painted_mask(h: int, w: int, box) -> str:
    m = np.zeros((h, w), np.uint8)
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = 255
    return "data:image/png;base64," + base64.b64encode(png_bytes(m)).decode()


def test_inpaint_job_matches_the_api_and_keeps_depth_and_metadata(client, tiny_prior_dir):
    """The page's job equals restore.api on the same input; the download keeps 16 bits, the
    EXIF and the ICC profile; outside the painted hole the pixels are the input's."""
    from PIL import Image

    import restore
    from restore.io import Meta, encode_image, read_image

    rng = np.random.default_rng(0)
    a = (rng.random((48, 64, 3)) * 65535).astype(np.uint16)
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    meta = Meta(exif=exif.tobytes()[6:] if exif.tobytes().startswith(b"Exif") else exif.tobytes(),
                icc=b"\0\0\0\x10fake-icc-profile")
    data = encode_image(a, ".png", meta=meta)
    info = upload(client, data, "deep.png").json()
    box = (10, 30, 20, 44)
    r = client.post("/api/jobs", json={"image": info["id"], "task": "inpaint", "steps": 2, "seed": 3,
                                       "mask": painted_mask(48, 64, box)})
    assert r.status_code == 202, r.text
    st = wait(client, r.json()["id"])
    assert st["status"] == "done", st
    assert st["n"] >= 2 and st["i"] == st["n"]  # the sampler's per-step callback drove the progress
    dl = client.get(f"/api/jobs/{st['id']}/download")
    assert dl.status_code == 200 and 'filename="deep.inpaint.png"' in dl.headers["content-disposition"]
    p = Path(client.app.state.ui.dir) / "check.png"
    p.write_bytes(dl.content)
    got = read_image(p)
    assert got.array.dtype == np.uint16 and got.array.shape == a.shape
    assert got.meta.icc == meta.icc
    assert Image.open(p).getexif().get(0x010F) == "TestCam"
    from restore.io import read_note

    made = json.loads(read_note(p))["settings"]  # the settings, as the command line's outputs carry them
    assert made["task"] == "inpaint" and made["steps"] == 2 and made["seed"] == 3
    hole = np.zeros(a.shape[:2], bool)
    hole[box[0]:box[1], box[2]:box[3]] = True
    ref = restore.restore(a, "inpaint", mask=hole, steps=2, seed=3, prior=str(tiny_prior_dir), device="cpu")
    np.testing.assert_array_equal(got.array, ref)
    np.testing.assert_array_equal(got.array[~hole], a[~hole])
    assert (got.array[hole] != a[hole]).mean() > 0.9
    prev = client.get(f"/api/jobs/{st['id']}/preview.png")
    assert prev.status_code == 200


def test_keep_out_layer_is_the_command_lines_exclude(client, tiny_prior_dir, tmp_path):
    """The painted keep-out layer reaches inpaint as --exclude does: the job equals the API with
    the same exclude mask; refused for a task without it and at the wrong size (before the
    queue); its file goes with the job."""
    import restore

    a = (np.random.default_rng(1).random((48, 64, 3)) * 255).astype(np.uint8)
    a[:, 40:] = (250, 20, 20)  # a red block the fill would copy from
    info = upload(client, png_bytes(a), "scene.png").json()
    box, keep = (14, 34, 14, 38), (0, 48, 40, 64)
    body = {"image": info["id"], "task": "inpaint", "seed": 2, "params": {"fill": "scene"},
            "mask": painted_mask(48, 64, box), "exclude": painted_mask(48, 64, keep)}
    r = client.post("/api/jobs", json=body)
    assert r.status_code == 202, r.text
    st = wait(client, r.json()["id"])
    assert st["status"] == "done", st
    assert st["summary"]["exclude"] == "painted"
    got = client.get(f"/api/jobs/{st['id']}/download")
    p = tmp_path / "got.png"
    p.write_bytes(got.content)
    from restore.io import read_image

    hole, ex = np.zeros((48, 64), bool), np.zeros((48, 64), bool)
    hole[box[0]:box[1], box[2]:box[3]] = True
    ex[keep[0]:keep[1], keep[2]:keep[3]] = True
    ref = restore.restore(a, "inpaint", mask=hole, exclude=ex, fill="scene", seed=2, prior=str(tiny_prior_dir),
                          device="cpu")
    np.testing.assert_array_equal(read_image(p).array, ref)
    without = restore.restore(a, "inpaint", mask=hole, fill="scene", seed=2, prior=str(tiny_prior_dir), device="cpu")
    assert not np.array_equal(ref, without)  # the layer changed the fill
    assert not list(client.app.state.ui.dir.glob("m*.png"))  # the mask and the layer went with the job
    r = client.post("/api/jobs", json={**body, "task": "denoise", "params": {}})
    assert r.status_code == 400 and "takes no keep-out layer" in r.json()["error"]
    r = client.post("/api/jobs", json={**body, "exclude": painted_mask(10, 10, (0, 5, 0, 5))})
    assert r.status_code == 400 and "the keep-out layer is 10x10" in r.json()["error"]
    r = client.post("/api/jobs", json={**body, "params": {"fill": "mean"}})  # at Run, not after the queue
    assert r.status_code == 400 and "exclude applies to the scene fill, not to fill mean" in r.json()["error"], r.text
    assert not list(client.app.state.ui.dir.glob("m*.png"))


def test_alpha_as_mask(client):
    a = np.full((32, 40, 4), 200, np.uint8)
    a[..., 3] = 255
    a[8:20, 10:30, 3] = 0
    info = upload(client, png_bytes(a), "cut.png").json()
    assert info["has_alpha"]
    r = client.post("/api/jobs", json={"image": info["id"], "task": "inpaint", "steps": 1,
                                       "params": {"mask_source": "alpha"}})
    assert r.status_code == 202, r.text
    assert wait(client, r.json()["id"])["status"] == "done"


def test_alpha_mask_matches_the_command_line(client):
    """From a trial: a 16-bit alpha of 1-128 (of 65535) was 0 in the 8-bit preview the page's
    "Alpha → mask" reads, so the page filled pixels ``--mask alpha`` keeps; a painted mask with
    'mask: alpha' was ignored in silence (the command line refuses both); the note that a hole
    was grown along an object's outline was printed by the command line only."""
    from PIL import Image as PILImage

    a = np.full((32, 40, 4), 30000, np.uint16)
    a[..., 3] = 65535
    a[8:20, 10:30, 3] = 0
    a[8:20, 30:34, 3] = 100  # nearly transparent: not a hole
    info = upload(client, png_bytes(a), "deep.png").json()
    prev = np.asarray(PILImage.open(io.BytesIO(client.get(f"/api/images/{info['id']}/preview.png").content)))
    assert prev.dtype == np.uint8 and ((prev[..., 3] == 0) == (a[..., 3] == 0)).all()
    body = {"image": info["id"], "task": "inpaint", "steps": 1, "seed": 7, "params": {"mask_source": "alpha"}}
    r = client.post("/api/jobs", json={**body, "mask": painted_mask(32, 40, (0, 4, 0, 4))})
    assert r.status_code == 400 and "a painted mask and 'mask: alpha' both mark the holes" in r.json()["error"]
    img = np.full((48, 64, 3), 40, np.uint8)  # a bright object, its mask drawn along its outline: grown
    img[10:30, 20:40] = (200 + np.random.default_rng(0).random((20, 20, 3)) * 40).astype(np.uint8)
    hole = np.zeros((48, 64), np.uint8)
    hole[10:30, 20:40] = 255
    up = upload(client, png_bytes(img), "obj.png").json()["id"]
    st = wait(client, client.post("/api/jobs", json={"image": up, "task": "inpaint", "steps": 1, "seed": 7, "mask":
                                                     "data:image/png;base64," + base64.b64encode(png_bytes(hole))
                                                     .decode()}).json()["id"])
    assert st["status"] == "done" and st["summary"]["seed"] == 7
    assert any(w.startswith("note: grew 1 hole by") and "mask-dilate N" in w and "--" not in w
               for w in st["warnings"]), st["warnings"]  # in the page's words: its field, not --mask-dilate
    la = np.stack([np.full((20, 24), 90, np.uint8), np.full((20, 24), 255, np.uint8)], -1)
    la[5:9, 5:9, 1] = 0
    info = upload(client, png_bytes(la), "la.png").json()  # 8-bit gray + alpha: its preview failed (500)
    assert client.get(f"/api/images/{info['id']}/preview.png").status_code == 200


def test_a_value_of_0_is_shown_and_warnings_use_the_pages_words(client):
    """From a trial: a card's summary left out settings of 0 (strength 0 read as a default run,
    although the image came back as it was), and warnings named command-line options."""
    noisy = np.clip(96 + np.random.default_rng(1).normal(0, 25, (48, 64, 3)), 0, 255).astype(np.uint8)
    img = upload(client, png_bytes(noisy), "noisy.png").json()["id"]
    st = wait(client, client.post("/api/jobs", json={"image": img, "task": "denoise", "steps": 1,
                                                     "params": {"strength": 0, "sigma": 0}}).json()["id"])
    assert st["status"] == "done" and st["summary"]["strength"] == 0 and st["summary"]["sigma"] == 0
    assert st["warnings"] and not [w for w in st["warnings"] if "--" in w], st["warnings"]
    r = client.post("/api/jobs", json={"image": img, "task": "denoise", "sampler": "mmse", "steps": 4})
    msg = r.json()["error"] if r.status_code != 202 else wait(client, r.json()["id"])["message"]
    assert "steps 4 do not apply" in msg and "@poses" not in msg  # a form the page's sampler list cannot give


def test_queue_one_at_a_time_and_cancel(client):
    from restore.api import _cached_prior

    ui = client.app.state.ui
    img = upload(client, PHOTO.read_bytes()).json()["id"]
    first = client.post("/api/jobs", json={"image": img, "task": "denoise", "params": {"sigma": 10}, "steps": 1})
    wait(client, first.json()["id"])
    loads = _cached_prior.cache_info().misses
    jobs = [client.post("/api/jobs", json={"image": img, "task": "denoise", "params": {"sigma": 10},
                                          "steps": 1}).json() for _ in range(3)]
    client.post(f"/api/jobs/{jobs[2]['id']}/cancel")
    states = [wait(client, j["id"]) for j in jobs]
    assert [s["status"] for s in states] == ["done", "done", "cancelled"]
    assert _cached_prior.cache_info().misses == loads  # the prior is not loaded again
    assert ui.worker.is_alive()
    # a running job stops at its next step
    j = client.post("/api/jobs", json={"image": img, "task": "inpaint", "steps": 400,
                                      "mask": painted_mask(256, 256, (100, 140, 100, 140))}).json()
    t0 = time.time()
    while client.get(f"/api/jobs/{j['id']}").json()["i"] < 1 and time.time() - t0 < 60:
        time.sleep(0.02)
    client.post(f"/api/jobs/{j['id']}/cancel")
    st = wait(client, j["id"])
    assert st["status"] == "cancelled" and st["i"] < 400
    assert client.get(f"/api/jobs/{j['id']}/download").status_code == 409


def test_sampler_options_seed_and_a_download_named_in_any_script(client):
    """NAME@KEY=VALUE as the command line's --sampler; the largest seed; a file name in
    Chinese downloads under its own name (it failed: an HTTP header is latin-1)."""
    from urllib.parse import quote

    img = upload(client, PHOTO.read_bytes(), quote("照片.png")).json()["id"]
    r = client.post("/api/jobs", json={"image": img, "task": "denoise", "params": {"sigma": 10},
                                       "sampler": "mmse@poses=2", "seed": 2**64 - 1})
    assert r.status_code == 202, r.text
    assert wait(client, r.json()["id"])["status"] == "done"
    d = client.get(f"/api/jobs/{r.json()['id']}/download")
    assert d.status_code == 200
    assert "filename*=UTF-8''" + quote("照片.denoise.png") in d.headers["content-disposition"]
    from restore.cli.ui.server import _safe_name

    assert _safe_name("ß€ 小, Tom's & #1.jpg") == "ß€ 小, Tom's & #1.jpg"  # punctuation kept (it became _)
    assert _safe_name("../a/b\\c:d?.png") == "c_d_.png"


def test_files_go_when_their_jobs_end(client, tmp_path):
    """A queued job cancelled: its mask is removed at once; an upload dropped from the list
    while a job reads it goes when that job ends; a dead server's folder goes at the next start."""
    import os

    from restore.cli.ui import server as srv

    ui = client.app.state.ui
    img = upload(client, PHOTO.read_bytes()).json()["id"]
    mask = painted_mask(256, 256, (100, 140, 100, 140))
    running = client.post("/api/jobs", json={"image": img, "task": "inpaint", "steps": 300, "mask": mask}).json()
    queued = client.post("/api/jobs", json={"image": img, "task": "inpaint", "steps": 1, "mask": mask}).json()
    masks = sorted(ui.dir.glob("m*.png"))
    assert len(masks) == 2
    client.post(f"/api/jobs/{queued['id']}/cancel")
    assert len(list(ui.dir.glob("m*.png"))) == 1  # the queued job's, at once
    path = ui.images[img].path
    for _ in range(srv.KEEP_IMAGES):  # the running job's image drops off the list
        upload(client, png_bytes(np.zeros((8, 8, 3), np.uint8)), "x.png")
    assert img not in ui.images and path.exists()  # still read by the running job
    client.post(f"/api/jobs/{running['id']}/cancel")
    wait(client, running["id"])
    assert not path.exists() and not list(ui.dir.glob("m*.png"))
    # a folder whose server was killed (its pid gone) is cleared at the next start; a live one kept
    import subprocess
    import tempfile

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    dead = Path(tempfile.mkdtemp(prefix=srv.DIR_PREFIX))
    (dead / srv.OWNER).write_text(str(p.pid))
    live = Path(tempfile.mkdtemp(prefix=srv.DIR_PREFIX))
    (live / srv.OWNER).write_text(str(os.getpid()))
    srv._clear_stale_dirs()
    assert not dead.exists() and live.exists()
    import shutil

    shutil.rmtree(live)


def test_close_cancels_the_running_job(tiny_prior_dir):
    """Stopping the server (Ctrl-C) cancels the running job at its next step, so the worker
    ends before the process does (a busy daemon thread at exit aborted the process)."""
    from restore.cli.ui.server import create_app

    app = create_app(weights=str(tiny_prior_dir), device="cpu", max_pixels=300_000)
    ui = app.state.ui
    with TestClient(app, base_url="http://127.0.0.1") as c:
        img = upload(c, PHOTO.read_bytes()).json()["id"]
        j = c.post("/api/jobs", json={"image": img, "task": "inpaint", "steps": 1000,
                                      "mask": painted_mask(256, 256, (100, 140, 100, 140))}).json()
        t0 = time.time()
        while c.get(f"/api/jobs/{j['id']}").json()["i"] < 1 and time.time() - t0 < 60:
            time.sleep(0.02)
    # the lifespan's end ran App.close
    assert not ui.worker.is_alive() and ui.jobs[j["id"]].status == "cancelled" and not ui.dir.exists()


def test_mask_checked_before_the_queue(client):
    """A mask of the wrong size, not a PNG, or 'mask: alpha' for an image without alpha: one
    line, before the queue (400), and no file left in the server's folder."""
    ui = client.app.state.ui
    img = upload(client, PHOTO.read_bytes()).json()["id"]
    before = set(ui.dir.iterdir())
    bad_png = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nnot really").decode()
    for body, expect in [({"mask": painted_mask(10, 10, (0, 5, 0, 5))}, "the mask is 10x10 but the image is 256x256"),
                         ({"mask": bad_png}, "not a readable PNG"),
                         ({"mask": "data:image/png;base64," + base64.b64encode(b"plain text").decode()},
                          "not a readable PNG"),  # Pillow's message named the server's temp file
                         ({"params": {"mask_source": "alpha"}}, "has no transparency")]:
        r = client.post("/api/jobs", json={"image": img, "task": "inpaint", "steps": 1, **body})
        assert r.status_code == 400 and expect in r.json()["error"], r.text
        assert "\n" not in r.json()["error"] and "restore-ui-" not in r.json()["error"]
    assert set(ui.dir.iterdir()) == before


def run_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "restore", *args], capture_output=True, text=True, timeout=120, **kw)


def test_help_does_not_load_the_server():
    code = ("import sys; from restore.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('starlette', 'uvicorn') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert " ui " in r.stdout and r.stdout.strip().endswith("[]"), r.stdout + r.stderr


def test_missing_extra_is_one_line_exit_2(tmp_path):
    """Without starlette / uvicorn: one line naming the extra, exit 2."""
    (tmp_path / "uvicorn.py").write_text("raise ImportError('no uvicorn here', name='uvicorn')\n")
    import os

    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    r = run_cli("ui", "--port", "0", env=env)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'restore[ui]' in lines[0], r.stderr


def test_serves_and_warns_on_other_hosts(tmp_path):
    import os
    import urllib.request

    p = subprocess.Popen([sys.executable, "-m", "restore", "ui", "--port", "0", "--host", "0.0.0.0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        line = p.stdout.readline()  # an address a browser opens (http://0.0.0.0:PORT/ was printed)
        assert line.startswith("restore ui: http://127.0.0.1:") and "from other machines" in line, line
        port = int(line.split(":")[3].split("/")[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as r:
            assert r.status == 200 and b"<canvas" in r.read()
        import socket
        import urllib.error

        for name in ("192.0.2.7", socket.gethostname()):  # on the network: its addresses and its own names
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/tasks", headers={"Host": f"{name}:{port}"})
            with urllib.request.urlopen(req, timeout=30) as r:
                assert r.status == 200
        # a site whose DNS name was rebound to this machine sends its own name: refused there too (a trial
        # used the app fully through one, its page counting as the app's)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/tasks", headers={"Host": f"evil.example:{port}"})
        with pytest.raises(urllib.error.HTTPError, match="403"):
            urllib.request.urlopen(req, timeout=30)
    finally:
        p.terminate()
        _, err = p.communicate(timeout=30)
    assert "warning: binding 0.0.0.0" in err


def test_a_job_nobody_asks_for_is_cancelled_and_the_server_logs_each_job(client, monkeypatch, capsys):
    """From a new user's trial: a page reloaded mid-run left its job running where nobody could
    see or cancel it, and the next page's job waited 109 s behind it; the server's log said
    nothing of any job. A job not polled for ABANDONED seconds is cancelled at its next step
    (and before it starts, if queued); each finished job is one line on stderr."""
    import restore.cli.ui.server as server

    ui = client.app.state.ui
    img = upload(client, PHOTO.read_bytes()).json()["id"]
    monkeypatch.setattr(server, "ABANDONED", 0.5)
    long = {"image": img, "task": "inpaint", "steps": 1000, "sampler": "ddnm",
            "mask": painted_mask(256, 256, (100, 140, 100, 140))}
    a = client.post("/api/jobs", json=long).json()["id"]
    b = client.post("/api/jobs", json=long).json()["id"]  # queued behind it, not polled either
    t0 = time.time()
    while any(ui.jobs[j].status in ("queued", "running") for j in (a, b)) and time.time() - t0 < 60:
        time.sleep(0.05)
    for j in (a, b):
        assert ui.jobs[j].status == "cancelled" and "stopped asking" in ui.jobs[j].message, ui.jobs[j]
    assert ui.jobs[a].i < 1000
    monkeypatch.setattr(server, "ABANDONED", 150.0)
    done = client.post("/api/jobs", json={"image": img, "task": "denoise", "params": {"sigma": 10}, "steps": 1})
    assert wait(client, done.json()["id"])["status"] == "done"  # a polled job runs on
    err = capsys.readouterr().err
    assert f"restore ui: {a} inpaint photo.png: cancelled" in err and "stopped asking" in err
    assert f"restore ui: {done.json()['id']} denoise photo.png: done in " in err


def test_messages_in_the_pages_words(client):
    """The page has fields, not options: "--kernel is required" read as a command line's, an
    unknown kernel was offered "or an image file", which the page does not take; a
    scene fill's card said "sampler=none, steps=0" beside a panel saying dpir, 20 steps."""
    img = upload(client, PHOTO.read_bytes()).json()["id"]
    r = client.post("/api/jobs", json={"image": img, "task": "deblur"})
    assert r.status_code == 400 and "kernel" in r.json()["error"] and "--kernel" not in r.json()["error"]
    r = client.post("/api/jobs", json={"image": img, "task": "deblur", "params": {"kernel": "disk:3"}})
    assert r.status_code == 400 and "levin:1..8" in r.json()["error"], r.text  # the page takes no file name
    assert "file" not in r.json()["error"]
    r = client.post("/api/jobs", json={"image": img, "task": "inpaint"})
    assert r.status_code == 400 and r.json()["error"] == "paint the mask first", r.text
    tasks = {t["name"]: t for t in client.get("/api/tasks").json()["tasks"]}
    assert "scene fill" in tasks["inpaint"]["default_note"] and tasks["denoise"]["default_note"] is None
    j = client.post("/api/jobs", json={"image": img, "task": "inpaint",
                                      "mask": painted_mask(256, 256, (60, 180, 60, 180))}).json()
    st = wait(client, j["id"])
    assert st["status"] == "done" and st["summary"]["fill"] == "scene" and "steps" not in st["summary"], st


def test_a_kernel_image_is_uploaded_beside_its_field_and_the_download_notes_as_the_command_line(client, tmp_path,
                                                                                               tiny_prior_dir):
    """From trial K: a measured kernel could not be used in the page (it takes no file names, and
    offered no upload), the download's note lacked the inputs' digests the command line's carry
    and named the server's file for the keep-out layer, and steps mmse cannot take were queued
    and failed. A kernel image now comes as an upload (the same pixels as `restore deblur
    --kernel k.png`), the note is the command line's, and those steps are refused at Run."""
    from click.testing import CliRunner

    from restore.cli.main import main
    from restore.io import read_image, read_note

    a = (np.random.default_rng(3).random((40, 48, 3)) * 255).astype(np.uint8)
    (tmp_path / "b.png").write_bytes(png_bytes(a))
    k = np.zeros((9, 9), np.uint8)
    k[4, 1:8] = 255  # a horizontal line
    (tmp_path / "line.png").write_bytes(png_bytes(k))
    img = upload(client, (tmp_path / "b.png").read_bytes(), "b.png").json()["id"]
    kernel = [p for t in client.get("/api/tasks").json()["tasks"] if t["name"] == "deblur" for p in t["params"]
              if p["name"] == "kernel"][0]
    assert kernel["upload"] is True
    data = "data:image/png;base64," + base64.b64encode(png_bytes(k)).decode()
    body = {"image": img, "task": "deblur", "steps": 2, "params": {"sigma": 2},
            "param_files": {"kernel": {"name": "line.png", "data": data}}}
    r = client.post("/api/jobs", json=body)
    assert r.status_code == 202, r.text
    st = wait(client, r.json()["id"])
    assert st["status"] == "done" and st["summary"]["kernel"] == "line.png (uploaded)", st
    (tmp_path / "page.png").write_bytes(client.get(f"/api/jobs/{st['id']}/download").content)
    r = CliRunner().invoke(main, ["deblur", str(tmp_path / "b.png"), "--kernel", str(tmp_path / "line.png"), "--sigma",
                                  "2", "--steps", "2", "--weights", str(tiny_prior_dir), "-o",
                                  str(tmp_path / "cli.png"), "-q", "--threads", "1"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(read_image(tmp_path / "page.png").array, read_image(tmp_path / "cli.png").array)
    page, cli = (json.loads(read_note(tmp_path / f)) for f in ("page.png", "cli.png"))
    assert page["settings"] == cli["settings"] and page["settings"]["kernel"] == "line.png"
    assert page["inputs"]["image"] == cli["inputs"]["image"] and page["inputs"]["kernel"] == cli["inputs"]["kernel"]
    assert not list(client.app.state.ui.dir.glob("f*.png"))  # the upload went with the job
    r = client.post("/api/jobs", json={**body, "params": {"kernel": "gaussian:1.6"}})
    assert r.status_code == 400 and "both a value and an uploaded file" in r.json()["error"]
    r = client.post("/api/jobs", json={**body, "task": "denoise", "params": {}})
    assert r.status_code == 400 and "denoise takes no file for kernel" in r.json()["error"]
    bad = {"kernel": {"name": "k.png", "data": "data:image/png;base64," + base64.b64encode(b"not a png").decode()}}
    r = client.post("/api/jobs", json={**body, "param_files": bad})  # refused at Run, not after the queue
    assert r.status_code == 400 and "kernel: k.png is not a readable image" in r.json()["error"], r.text
    wide = "data:image/png;base64," + base64.b64encode(png_bytes(np.ones((9, 300), np.uint8))).decode()
    r = client.post("/api/jobs", json={**body, "param_files": {"kernel": {"name": "wide.png", "data": wide}}})
    said = r.json()["error"]
    assert r.status_code == 400 and "the uploaded wide.png: a kernel must be 2-D and at most 255x255" in said, said
    r = client.post("/api/jobs", json={"image": img, "task": "denoise", "steps": 5, "params": {"sigma": 25}})
    assert r.status_code == 400 and "steps 5 do not apply" in r.json()["error"]
    assert not list(client.app.state.ui.dir.glob("f*.png"))  # nor are refused uploads left


def test_a_downloads_note_names_the_painted_keep_out_layer(client):
    """The note named the server's own file for the keep-out layer (m32-bfe0e532.png)."""
    from restore.io import read_note

    a = (np.random.default_rng(1).random((32, 40, 3)) * 255).astype(np.uint8)
    info = upload(client, png_bytes(a), "scene.png").json()
    body = {"image": info["id"], "task": "inpaint", "params": {"fill": "scene"},
            "mask": painted_mask(32, 40, (8, 16, 8, 16)), "exclude": painted_mask(32, 40, (0, 32, 30, 40))}
    r = client.post("/api/jobs", json=body)
    assert r.status_code == 202, r.text
    st = wait(client, r.json()["id"])
    assert st["status"] == "done", st
    got = client.get(f"/api/jobs/{st['id']}/download").content
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "x.png").write_bytes(got)
        made = json.loads(read_note(Path(d) / "x.png"))
    assert made["settings"]["exclude"] == "painted" and set(made["inputs"]) == {"image", "mask", "exclude"}


def test_each_sampler_says_its_own_default_steps(client, tiny_prior):
    """A trial: with ddrm chosen for denoise the steps field still read 'default (1)' (mmse's) and
    20 ran. The tasks' list gives each sampler's steps as a run without --steps takes them."""
    import torch

    from restore.api import run
    from restore.samplers import SAMPLERS
    from restore.tasks import get_task

    tasks = client.get("/api/tasks").json()["tasks"]
    for t in tasks:
        tk = get_task(t["name"])
        assert set(t["sampler_steps"]) == set(t["samplers"])
        for s, n in t["sampler_steps"].items():
            assert n == (tk.steps if s == tk.sampler and tk.steps else SAMPLERS.get(s).default_steps), (t["name"], s)
    denoise = next(t for t in tasks if t["name"] == "denoise")
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    for s in ("mmse", "ddrm", "dpir"):  # what runs
        assert run(x, "denoise", sigma=0.1, sampler=s, prior=tiny_prior).steps == denoise["sampler_steps"][s]
    assert denoise["sampler_steps"]["mmse"] == 1 and denoise["sampler_steps"]["ddrm"] == 20


def test_what_an_http_trial_found_is_answered_in_one_line_and_leaves_no_file(client, tmp_path, monkeypatch):
    """An HTTP trial: a corrupt TIFF (Pillow's TypeError) gave a 500 and left its upload on disk until
    the server stopped; a task given as a list gave a 500 (unhashable), deeply nested JSON a 500
    (RecursionError); an uploaded kernel was read past the server's pixel limit; a name's bidi
    control showed "\\u202egnp.exe" reversed."""
    import restore.io as rio

    ui = client.app.state.ui
    before = set(ui.dir.iterdir())

    def corrupt(*a, **k):  # what Pillow raised on the trial's fuzzed TIFF, from its n_frames
        raise TypeError("Missing dimensions")

    with monkeypatch.context() as m:
        m.setattr(rio, "_pil_open", corrupt)
        r = upload(client, png_bytes(np.zeros((8, 8, 3), np.uint8)), "c.tif")
        assert r.status_code == 400 and "unreadable image (TypeError: Missing dimensions)" in r.json()["error"], r.text
        m.setattr(rio, "_pil_open", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("a bug")))
        r = upload(client, png_bytes(np.zeros((8, 8, 3), np.uint8)), "d.png")
        assert r.status_code == 500 and "RuntimeError" in r.json()["error"]  # a bug stays one, said
    assert set(ui.dir.iterdir()) == before  # neither upload kept until the server stops
    img = upload(client, png_bytes(np.zeros((16, 16, 3), np.uint8)), "a.png").json()["id"]
    for body in ({"image": img, "task": ["denoise"]}, {"image": img, "task": {"a": 1}}):
        r = client.post("/api/jobs", json=body)
        assert r.status_code == 400 and "unknown task" in r.json()["error"], r.text
    r = client.post("/api/jobs", json={"image": [img], "task": "denoise"})
    assert r.status_code == 400 and "image must be the id an upload was given" in r.json()["error"]
    r = client.post("/api/jobs", content=b"[" * 100000, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "the job must be JSON"
    big = np.zeros((600, 600), np.uint8)  # 0.36 MP, over this server's 0.3 MP
    data = "data:image/png;base64," + base64.b64encode(png_bytes(big)).decode()
    r = client.post("/api/jobs", json={"image": img, "task": "deblur", "params": {"sigma": 2},
                                       "param_files": {"kernel": {"name": "k\u202egnp.png", "data": data}}})
    assert r.status_code == 400 and "exceeds the limit" in r.json()["error"], r.text
    assert "\u202e" not in r.json()["error"] and "kgnp.png" in r.json()["error"]
    assert set(ui.dir.iterdir()) - before == {ui.images[img].path}


def test_finished_results_beyond_keep_jobs_go_as_jobs_end(client, monkeypatch):
    """An HTTP trial: twenty jobs queued at once kept all twenty results (KEEP_JOBS 12) until the
    next submit; the oldest finished go as each ends, the newest stay to download."""
    import restore.cli.ui.server as srv

    monkeypatch.setattr(srv, "KEEP_JOBS", 2)
    ui = client.app.state.ui
    img = upload(client, png_bytes((np.random.default_rng(5).random((16, 16, 3)) * 255).astype(np.uint8)),
                 "k.png").json()["id"]
    ids = [client.post("/api/jobs", json={"image": img, "task": "denoise", "params": {"sigma": 10}}).json()["id"]
           for _ in range(5)]
    t0 = time.time()
    while any(ui.jobs.get(i) is not None and ui.jobs[i].status in ("queued", "running") for i in ids):
        assert time.time() - t0 < 120
        time.sleep(0.05)
    finished = [k for k, j in ui.jobs.items() if j.status in ("done", "error", "cancelled")]
    assert len(finished) == 2 and finished == ids[-2:]
    assert client.get(f"/api/jobs/{ids[-1]}/download").status_code == 200


def test_a_job_beyond_max_waiting_is_refused_until_one_ends(client, monkeypatch):
    """An HTTP trial: the job queue had no length limit (each waiting job holds its masks and
    files). With MAX_WAITING queued or running, one more is a 429 with a line for the page,
    refused before its body is decoded; when one ends, the next is taken."""
    import types

    import restore.cli.ui.server as srv

    monkeypatch.setattr(srv, "MAX_WAITING", 2)
    ui = client.app.state.ui
    img = upload(client, png_bytes(np.zeros((16, 16, 3), np.uint8)), "w.png").json()["id"]
    held = {f"held{k}": types.SimpleNamespace(status="queued", image=None) for k in range(2)}
    with ui.lock:
        ui.jobs.update(held)
    try:
        r = client.post("/api/jobs", json={"image": img, "task": "denoise", "params": {"sigma": 10}})
        assert r.status_code == 429 and "2 jobs are queued or running already" in r.json()["error"], r.text
        r = client.post("/api/jobs", content=b"not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 429  # before the body is read
        held["held0"].status = "done"
        r = client.post("/api/jobs", json={"image": img, "task": "denoise", "params": {"sigma": 10}})
        assert r.status_code == 202, r.text
    finally:
        with ui.lock:
            for k in held:
                ui.jobs.pop(k, None)


def test_finished_results_are_kept_while_many_jobs_wait(client, monkeypatch):
    """An adversarial trial: with 13 jobs waiting (under MAX_WAITING, over KEEP_JOBS) a submit
    dropped every finished result: the prune counted the waiting jobs too."""
    import types

    import restore.cli.ui.server as srv

    monkeypatch.setattr(srv, "KEEP_JOBS", 2)
    ui = client.app.state.ui
    img = upload(client, png_bytes(np.zeros((16, 16, 3), np.uint8)), "keep.png").json()["id"]
    first = client.post("/api/jobs", json={"image": img, "task": "denoise", "params": {"sigma": 10}}).json()["id"]
    t0 = time.time()
    while ui.jobs[first].status in ("queued", "running"):
        assert time.time() - t0 < 60
        time.sleep(0.05)
    held = {f"wait{k}": types.SimpleNamespace(status="queued", image=None) for k in range(5)}
    with ui.lock:
        ui.jobs.update(held)
    try:
        r = client.post("/api/jobs", json={"image": img, "task": "denoise", "params": {"sigma": 10}})
        assert r.status_code == 202, r.text
        assert client.get(f"/api/jobs/{first}").status_code == 200
    finally:
        with ui.lock:
            for k in held:
                ui.jobs.pop(k, None)


def test_a_drawn_images_kernel_is_said_in_the_page(client):
    """An adversarial trial: the page never said that a drawn image's sr ran with the box kernel
    (the command line's note); its job's warnings carry it now."""
    a = np.full((32, 32, 3), 255, np.uint8)
    a[4:28, 6:10] = 0
    a[4:28, 14:18] = (200, 0, 0)
    a[4:28, 22:26] = (0, 0, 200)
    img = upload(client, png_bytes(a), "bars.png").json()["id"]
    jid = client.post("/api/jobs", json={"image": img, "task": "sr", "params": {"scale": 2}, "steps": 1}).json()["id"]
    t0 = time.time()
    while (job := client.get(f"/api/jobs/{jid}").json())["status"] in ("queued", "running"):
        assert time.time() - t0 < 60
        time.sleep(0.05)
    assert job["status"] == "done", job
    assert any("drawn (text, line art, a chart" in w and "the kernel box" in w for w in job["warnings"]), job
