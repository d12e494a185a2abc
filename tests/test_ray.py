"""``--engine ray``: the same folder job on a local Ray cluster (and a simulated two-node
one) writes what the local engine writes, and keeps its resume contract."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from restore.io import read_image, write_image

ray = pytest.importorskip("ray")


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "in"
    d.mkdir()
    for i in range(12):
        shape = (24, 32, 3) if i % 3 else (20, 20)
        write_image(d / f"im{i:02d}.png", (rng.random(shape) * 255).astype(np.uint8))
    return tmp_path


def _restore(*args, prior, env=None):
    cmd = [sys.executable, "-m", "restore", *map(str, args), "--weights", str(prior), "-q", "--json"]
    e = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | (env or {})
    r = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=600)
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    return r, lines


def _same(a, b):
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for n in names:
        assert np.abs(read_image(a / n).array.astype(int) - read_image(b / n).array.astype(int)).max() <= 1
    return names


def test_ray_engine_matches_local_and_resumes(folder, tiny_prior_dir):
    job = ("denoise", folder / "in", "--sigma", "15")
    r, _ = _restore(*job, "-o", folder / "local", prior=tiny_prior_dir)
    assert r.returncode == 0, r.stderr
    warned = sorted(ln for ln in r.stderr.splitlines() if ln.startswith("warning:"))
    assert len(warned) == 12  # uniform noise: --sigma 15 is far from its estimate
    r, lines = _restore(*job, "-o", folder / "ray", "--engine", "ray", prior=tiny_prior_dir)
    assert r.returncode == 0, r.stderr
    assert sorted(ln for ln in r.stderr.splitlines() if ln.startswith("warning:")) == warned  # from the workers
    assert lines[-1]["summary"] == {"done": 12, "skipped": 0, "failed": 0}
    assert len(_same(folder / "local", folder / "ray")) == 12
    before = {p.name: p.stat().st_mtime_ns for p in (folder / "ray").iterdir()}
    gone = ["im01.png", "im05.png", "im10.png"]
    for n in gone:
        (folder / "ray" / n).unlink()
    (folder / "in" / "im07.png").write_bytes(b"not an image")  # a bad file fails alone
    (folder / "ray" / "im07.png").unlink()
    r, lines = _restore(*job, "-o", folder / "ray", "--engine", "ray", prior=tiny_prior_dir)
    assert r.returncode == 1
    assert lines[-1]["summary"] == {"done": 3, "skipped": 8, "failed": 1}
    assert "im07.png" in lines[-1]["failed"][0]
    failed = [rec for rec in lines[:-1] if rec.get("status") == "failed"]  # --json: every failure has a record
    assert len(failed) == 1 and failed[0]["input"].endswith("im07.png")
    assert sorted(rec["output"].rsplit("/", 1)[-1] for rec in lines[:-1] if rec.get("status") == "done") == gone
    assert sum(rec.get("reason") == "already written" for rec in lines[:-1]) == 8  # a record for each skip too
    after = {p.name: p.stat().st_mtime_ns for p in (folder / "ray").iterdir()}
    assert all(after[n] == before[n] for n in after if n not in gone)
    (folder / "local" / "im07.png").unlink()
    _same(folder / "local", folder / "ray")


def test_ray_engine_on_a_two_node_cluster(folder, tiny_prior_dir):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        r, lines = _restore("sr", folder / "in", "--scale", "2", "--steps", "2", "-o", folder / "ray2",
                            "--engine", "ray", "--workers", "2", prior=tiny_prior_dir,
                            env={"RAY_ADDRESS": cluster.address})
        assert r.returncode == 0, r.stderr
        assert lines[-1]["summary"]["done"] == 12
        nodes = {rec.get("node") for rec in lines[:-1]}
        r, _ = _restore("sr", folder / "in", "--scale", "2", "--steps", "2", "-o", folder / "local", prior=tiny_prior_dir)
        assert r.returncode == 0, r.stderr
        _same(folder / "local", folder / "ray2")
    finally:
        cluster.shutdown()
    assert len(nodes) == 2  # both nodes' workers restored images


def test_an_unreachable_cluster_is_a_one_line_error(folder, tiny_prior_dir):
    r, _ = _restore("denoise", folder / "in", "--sigma", "15", "-o", folder / "out", "--engine", "ray",
                    prior=tiny_prior_dir, env={"RAY_ADDRESS": "127.0.0.1:1"})
    assert r.returncode == 1 and "nothing answers at RAY_ADDRESS=127.0.0.1:1" in r.stderr
    assert not (folder / "out").exists() or not any((folder / "out").iterdir())


def test_ray_engine_defects_from_a_trial(folder, tiny_prior_dir):
    """From a trial of --engine ray: stdout as the output lost the image into a worker's log
    (exit 0); a rerun never remade a missing --compare file (the item's redo did not travel);
    the estimated noise level printed in the workers never reached the user; SIGTERM exited 15
    with Ray's C++ dump and left claims (ray.init replaced the handler); Ctrl-C left the
    workers' claims too, which a worker on another node keeps for 6 hours."""
    e = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    base = [sys.executable, "-m", "restore", "denoise", "--weights", str(tiny_prior_dir)]
    one = folder / "in" / "im01.png"
    r = subprocess.run([*base, "-", "--sigma", "15", "--engine", "ray"], input=one.read_bytes(), capture_output=True,
                       env=e, timeout=300)
    assert r.returncode == 2 and b"not stdout" in r.stderr and r.stdout == b""
    r, _ = _restore("denoise", folder / "in", "--sigma", "15", "--compare", "-o", folder / "cmp", "--engine", "ray",
                    prior=tiny_prior_dir)
    assert r.returncode == 0, r.stderr
    (folder / "cmp" / "im02.compare.png").unlink()
    r, lines = _restore("denoise", folder / "in", "--sigma", "15", "--compare", "-o", folder / "cmp", "--engine", "ray",
                        prior=tiny_prior_dir)
    assert r.returncode == 0 and lines[-1]["summary"] == {"done": 1, "skipped": 11, "failed": 0}, r.stderr
    assert (folder / "cmp" / "im02.compare.png").is_file()
    r = subprocess.run([*base, folder / "in", "-o", folder / "est", "--engine", "ray"], capture_output=True, text=True,
                       env=e, timeout=300)
    assert r.returncode == 0, r.stderr
    assert sum("estimated noise sigma" in ln for ln in r.stderr.splitlines()) == 12  # from the workers
    assert "core_worker" not in r.stderr  # Ray's C++ log line of every run
    p = subprocess.Popen([*base, folder / "in", "--sigma", "15", "-o", folder / "term", "--engine", "ray",
                          "--sampler", "ddnm", "--steps", "400", "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=e)
    t0 = time.time()
    while time.time() - t0 < 240 and not list((folder / "term").glob(".*.claim")):
        time.sleep(0.2)
    assert list((folder / "term").glob(".*.claim")), "no worker started"
    p.terminate()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 143 and "terminated after done" in err, err[-2000:]
    assert json.loads(out.splitlines()[-1])["stopped"] == "terminated"
    assert not list((folder / "term").glob(".*.claim")) and not list((folder / "term").glob(".*.tmp"))


def test_ray_workers_batch_on_gpus_and_claims_carry_their_run(tmp_path, monkeypatch):
    """One image per worker call never batched anything on a GPU; a worker's claim names its
    run, which the driver removes when it stops, and is read as any other claim."""
    from restore.api import MAX_BATCH
    from restore.cli import local
    from restore.cli.ray_engine import batch_rows

    assert (batch_rows({}, 0.0), batch_rows({}, 1.0), batch_rows({"batch_size": 3}, 1.0)) == (1, MAX_BATCH, 3)
    out = tmp_path / "a.png"
    monkeypatch.setattr(local, "CLAIM_RUN", "abc123")
    assert local._claim(out) and local.claim_run(local._claim_path(out)) == "abc123"
    local._release(out)
    c = local._claim_path(out)  # a live process's claim (this one's parent), its run field after the three
    c.write_text(f"{socket.gethostname()} {os.getppid()} {local._started(os.getppid()) or ''} run=abc123")
    assert not local._stale(c) and local.claim_run(c) == "abc123"
    c.write_text(f"{socket.gethostname()} 999999999 run=abc123")  # a process that is gone
    assert local._stale(c)
    c.unlink()
    monkeypatch.setattr(local, "CLAIM_RUN", None)
    assert local._claim(out) and local.claim_run(local._claim_path(out)) is None


def test_more_cpu_workers_than_the_clusters_cpus_are_cut_with_a_note():
    """From a Ray trial: --workers 5 on a 2-CPU cluster ran 2 workers without a word (Ray held
    the other actors back); the plan is cut to the CPUs and a note says so. GPU workers share."""
    from restore.cli.ray_engine import plan_workers, workers_note

    two = {"CPU": 2.0}
    assert plan_workers(two, "auto", 5) == (2, 1, 0.0)
    note = workers_note(5, 2, two)
    assert "--workers 5" in note and "2 CPUs" in note and "2 workers run" in note
    assert plan_workers(two, "auto", 2) == (2, 1, 0.0) and workers_note(2, 2, two) is None
    assert plan_workers(two, "auto", None) == (1, 2, 0.0) and workers_note(None, 1, two) is None
    gpu = {"CPU": 4.0, "GPU": 1.0}
    assert plan_workers(gpu, "auto", 5) == (5, 1, 0.2) and workers_note(5, 5, gpu) is None
    assert plan_workers(gpu, "cpu", 5) == (4, 1, 0.0) and "4 CPUs" in workers_note(5, 4, gpu)
    assert "has 1 CPU and no GPU for this run, so 1 worker runs" in workers_note(5, 1, {"CPU": 1.0})
    assert "has 0.5 CPU" in workers_note(5, 1, {"CPU": 0.5})


def test_a_dead_clusters_address_file_and_an_interrupted_runs_count(folder, tiny_prior_dir):
    """From a trial of --engine ray: the address file a `ray start` cluster leaves when it dies
    (ray_current_cluster) made every run fail ("num_cpus and num_gpus must not be provided": it
    was joined); Ctrl-C left outputs its workers had written out of the count and the records;
    a second Ctrl-C left claims; Ray's "Set ray log level" line was printed on every run."""
    import re
    import shutil
    import signal
    import tempfile

    tmp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # Ray's socket paths must stay short
    try:
        os.makedirs(os.path.join(tmp, "ray"))
        with open(os.path.join(tmp, "ray", "ray_current_cluster"), "w") as f:
            f.write("192.0.2.2:6391\n")
        env = {"RAY_TMPDIR": tmp}
        r, lines = _restore("denoise", folder / "in", "--sigma", "15", "-o", folder / "a", "--engine", "ray",
                            prior=tiny_prior_dir, env=env)
        assert r.returncode == 0 and lines[-1]["summary"]["done"] == 12, r.stderr
        assert "Set ray log level" not in r.stderr
        e = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | env
        p = subprocess.Popen([sys.executable, "-m", "restore", "denoise", str(folder / "in"), "--sigma", "15", "-o",
                              str(folder / "b"), "--engine", "ray", "--workers", "2", "--weights",
                              str(tiny_prior_dir), "--sampler", "ddnm", "--steps", "1000", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
        t0 = time.time()
        while time.time() - t0 < 240 and not list((folder / "b").glob("*.png")):
            time.sleep(0.05)
        assert list((folder / "b").glob("*.png")), "no output written"
        # SIGTERM stops it as Ctrl-C does (Ray defers a SIGINT that lands while it submits work, which made the
        # first one's effect a matter of timing under load), then a Ctrl-C during the clean-up
        p.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 143, err[-2000:]
        done = int(re.search(r"terminated after done (\d+)", err).group(1))
        written = sorted(q.name for q in (folder / "b").glob("*.png"))
        assert done == len(written) >= 1
        said = sorted(os.path.basename(json.loads(x)["output"]) for x in out.splitlines()
                      if x.startswith("{") and json.loads(x).get("status") == "done")
        assert said == written
        assert not list((folder / "b").glob(".*.claim"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
