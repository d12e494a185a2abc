"""Drive the prior's recipe search and long run across device calls (each <= 10 min).

Phases (each one command on the lent GPU; training runs in the background, in its own
process session, so it goes on between calls while the machine is held):

* ``start``: launch the candidate recipes at once (`restore train`, each its own folder
  under ``runs/``), with the batch size and levers ``benchmarks/train_speed.py`` measured
  best just before (its JSON);
* ``decide``: at a given time stop the candidates (STOP file: each checkpoints), tabulate
  them with ``benchmarks/prior_table.py`` on the validation split, pick the best by the
  tasks (mean of denoising sigma 25, random-80 inpainting and SR x4 PSNR; unstable priors
  excluded) and resume the winner with a step count that ends its cosine at ``--until``;
* ``finish``: stop the winner at ``--until``, write half-precision copies, tabulate fp32,
  fp16 and bf16 beside the shipped prior (the copies' cost in PSNR), and pack what must
  come back (the fp16 weights in parts, logs and tables).

Measure ``train_speed.py`` with ``--variants bf16,bf16-compile``: on an H200 the compiled base
net ran at 38.8 % of the bf16 peak against 21.5 % plain (batch 256), and ``choose_levers`` only
compiles when a compiled row was measured.

For a short lease (15 device-minutes: no time for a search), ``solo`` replaces ``start`` and
``decide``: it launches the first of ``--candidates`` alone with a step count that ends its
cosine at ``--until``, follows it until ``--at`` and then packs a ``snapshot`` of the last
prior it wrote (fp16 parts, logs), so a lost second call still leaves weights; ``finish``
in the next call (the machine still warm) stops it and packs the tables.

Times are seconds since ``start`` (the file ``runs/epoch``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs"
PACK = ROOT / ".data" / "pack"
sys.path.insert(0, str(ROOT / "benchmarks"))
from train_speed import NETS  # noqa: E402  (the networks whose speed was measured)

CANDIDATES = {  # name: (network in train_speed.NETS, data subfolders or None for all)
    "A-small": ("small", None),
    "B-mid": ("mid", None),
    "C-base": ("base", None),
    "D-base-oldmix": ("base", ["bsds", "sunhays80"]),
}


def now() -> float:
    return time.time() - float((RUNS / "epoch").read_text())


def log(msg: str) -> None:
    print(f"[{now():7.1f}s] {msg}", flush=True)


def launch(name: str, args: list[str]) -> None:
    d = RUNS / name
    d.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "restore.cli.main", "train", *args, "-q"]
    with open(d / "cmd.txt", "a") as f:  # a resume adds its line
        f.write(" ".join(cmd) + "\n")
    with open(d / "stdout.txt", "a") as f:
        subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log(f"launched {name}: {' '.join(args)}")


def choose_levers(speed: Path) -> dict:
    """The smallest batch within 5 % of the best TFLOP/s of the base net (of any net measured
    when base was not), and compile when it beat plain bf16 by 5 % at that batch."""
    rows = [r for r in json.loads(speed.read_text())["rows"] if r["loss_finite"]]
    plain = [r for r in rows if r["variant"] == "bf16"]
    ref = [r for r in plain if r["net"] == "base"] or plain
    if not ref:
        raise SystemExit(f"{speed}: no finite bf16 rows to choose the batch from")
    best = max(r["tflops"] for r in ref)
    batch = min(r["batch"] for r in ref if r["tflops"] >= 0.95 * best)
    tf = {(r["net"], r["batch"]): r["tflops"] for r in plain}
    comp = [r for r in rows if r["variant"] == "bf16-compile" and r["batch"] == batch]
    use_compile = bool(comp) and all(r["tflops"] > 1.05 * tf.get((r["net"], r["batch"]), 1e9) for r in comp)
    return {"batch": batch, "compile": use_compile}


def solo_rate(speed: Path, net: str, batch: int, compiled: bool) -> float | None:
    """Steps/s of ``net`` alone at ``batch``: the measured row, else (logged) the plain bf16
    row, else the nearest measured batch of that net scaled by the batch ratio."""
    rows = [r for r in json.loads(speed.read_text())["rows"] if r["net"] == net and r["loss_finite"]]
    for want in (["bf16-compile", "bf16"] if compiled else ["bf16"]):
        for r in rows:
            if r["batch"] == batch and r["variant"] == want:
                if want != ("bf16-compile" if compiled else "bf16"):
                    log(f"no compiled row for {net} at batch {batch}: using the plain bf16 rate")
                return 1e3 / r["ms_per_step"]
    plain = [r for r in rows if r["variant"] == "bf16"]
    if plain:
        r = min(plain, key=lambda r: abs(r["batch"] - batch))
        log(f"no row for {net} at batch {batch}: scaling batch {r['batch']}'s rate")
        return 1e3 / r["ms_per_step"] * r["batch"] / batch
    return None


DEVICE = "cuda"  # --device cpu: a smoke run of the whole plan on a CPU, tiny budgets


def train_args(name: str, lev: dict, extra: list[str]) -> list[str]:
    net, subset = CANDIDATES[name]
    ch, bl = (",".join(map(str, v)) for v in NETS[net])
    data = PACK / "train"
    if subset:
        data = RUNS / f"data-{name}"
        if not data.exists():
            data.mkdir(parents=True)
            for s in subset:
                subprocess.run(["cp", "-r", str(PACK / "train" / s), str(data / s)], check=True)
    # 4e-4 at any batch: 8e-4 (the sqrt rule at batch 256) blew the base net up at step 400 on
    # an H200 (2026-12-04, benchmarks/results/train_speed_h200.md); the trainer now also
    # rolls a divergence back at half the rate
    lr = 4e-4
    a = [str(data), "-o", str(RUNS / name), "--device", DEVICE, "--channels", ch, "--blocks", bl,
         "--batch-size", str(lev["batch"]), "--lr", f"{lr:.2e}", "--val-dir", str(PACK / "val"),
         "--val-count", "16", "--eval-every", "500", "--checkpoint-every", "2000"]
    if lev["compile"]:
        a.append("--compile")
    return a + extra


def running(names: list[str]) -> list[str]:
    return [n for n in names if subprocess.run(["pgrep", "-f", f"runs/{n} "], capture_output=True).returncode == 0]


def wait_exit(names: list[str], timeout: float = 120) -> None:
    """Wait for the runs told to STOP; after ``timeout`` s send SIGTERM (the trainer
    checkpoints on it), and after 30 s more SIGKILL."""
    t = time.time()
    while time.time() - t < timeout and running(names):
        time.sleep(2)
    for sig, grace in (("TERM", 30), ("KILL", 5)):
        alive = running(names)
        if not alive:
            return
        log(f"still running after {time.time() - t:.0f}s: {alive}; SIG{sig}")
        for n in alive:
            subprocess.run(["pkill", f"-{sig}", "-f", f"runs/{n} "])
        t2 = time.time()
        while time.time() - t2 < grace and running(alive):
            time.sleep(1)


def has_prior(name: str) -> bool:
    """Whether the run wrote a prior (config + weights) that the tables can load."""
    return (RUNS / name / "config.json").exists() and (RUNS / name / "model.safetensors").exists()


def tail(name: str, n: int = 2) -> str:
    p = RUNS / name / "log.jsonl"
    if not p.exists():
        return "(no log yet) " + ((RUNS / name / "stdout.txt").read_text()[-300:] if (RUNS / name / "stdout.txt").exists() else "")
    return " | ".join(p.read_text().splitlines()[-n:])


def table(priors: list[str], limit: int, out: Path) -> list[dict]:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "prior_table.py"), *priors, "--data", str(PACK / "val"),
           "--limit", str(limit), "--device", DEVICE, "--json", str(out)]
    subprocess.run(cmd, cwd=ROOT, check=True)
    return json.loads(out.read_text())


def sleep_until(t: float, names: list[str]) -> None:
    while now() < t:
        time.sleep(min(60, max(1, t - now())))
        for n in names:
            log(f"{n}: {tail(n, 1)}")


def pack(win: str, out: Path, tables: bool, limit: int = 24) -> None:
    """Write ``win``'s last prior as float16 (and bfloat16), tabulate them beside fp32 and
    the shipped prior when ``tables``, and put in ``out`` what must come back: the fp16
    weights in 15 MB parts, its config and a tarball of logs, tables and commands."""
    if not has_prior(win):
        log(f"{win}: no prior written yet, nothing to pack: {tail(win)}")
        return
    sys.path.insert(0, str(ROOT))
    from restore.prior import load_prior
    from restore.prior.weights import save_prior

    p = load_prior(RUNS / win, device=DEVICE)
    log(f"packing {win} at step {p.info.get('steps')}")
    for dt in ("float16", "bfloat16"):
        save_prior(RUNS / f"{win}-{dt}", p.net, p.schedule, p.info, prediction=p.prediction,
                   sigma_data=p.sigma_data, dtype=dt)
    out.mkdir(parents=True, exist_ok=True)  # the weights first: a call cut short still returns them
    w = RUNS / f"{win}-float16" / "model.safetensors"
    subprocess.run(["split", "-b", "15M", "-d", str(w), str(out / "model.fp16.part")], check=True)
    subprocess.run(["cp", str(RUNS / f"{win}-float16" / "config.json"), str(out / "config.json")], check=True)
    log(f"weights packed: {sorted(os.listdir(out))}")
    if tables:
        rows = table([str(RUNS / win), str(RUNS / f"{win}-float16"), str(RUNS / f"{win}-bfloat16"), "restore-small"],
                     limit, RUNS / "final.json")
        log(json.dumps(rows))
    files = [str(p.relative_to(RUNS)) for p in RUNS.rglob("*") if p.is_file() and
             (p.suffix in (".json", ".jsonl", ".txt", ".md") and "checkpoint" not in p.parts)
             and not str(p.relative_to(RUNS)).startswith("data-")]
    subprocess.run(["tar", "czf", str(out / "runs.tgz"), *files], cwd=RUNS, check=True)
    log("packed: " + ", ".join(sorted(os.listdir(out))))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["start", "solo", "wait", "decide", "finish"])
    ap.add_argument("--speed", type=Path, default=RUNS / "train_speed.json")
    ap.add_argument("--at", type=float, default=0, help="seconds since start: when to act")
    ap.add_argument("--until", type=float, default=0, help="seconds since start: when the winner stops")
    ap.add_argument("--limit", type=int, default=24, help="validation images for the tables")
    ap.add_argument("--candidates", default=",".join(CANDIDATES))
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "/tmp/out")))
    ap.add_argument("--device", default="cuda", help="cpu: a smoke run of the plan (tiny budgets)")
    a = ap.parse_args()
    global DEVICE
    DEVICE = a.device
    names = a.candidates.split(",")
    if a.phase == "start":
        RUNS.mkdir(parents=True, exist_ok=True)
        (RUNS / "epoch").write_text(f"{time.time():.3f}")
        lev = choose_levers(a.speed)
        (RUNS / "levers.json").write_text(json.dumps(lev))
        log(f"levers from train_speed: {lev}")
        for n in names:
            launch(n, train_args(n, lev, ["--steps", "100000"]))
        return
    if a.phase == "solo":
        RUNS.mkdir(parents=True, exist_ok=True)
        if not (RUNS / "epoch").exists():
            (RUNS / "epoch").write_text(f"{time.time():.3f}")
        lev = choose_levers(a.speed)
        (RUNS / "levers.json").write_text(json.dumps(lev))
        win = names[0]
        (RUNS / "winner.txt").write_text(win)
        rate = solo_rate(a.speed, CANDIDATES[win][0], lev["batch"], lev["compile"]) or 5.0
        left = a.until - now() - (60 if lev["compile"] else 25)
        total = int(rate * 0.95 * left)
        log(f"levers {lev}; {win} alone at {rate:.2f} steps/s, {left:.0f} s -> --steps {total}")
        launch(win, train_args(win, lev, ["--steps", str(total), "--max-minutes", f"{(a.until - now()) / 60:.2f}",
                                          "--checkpoint-every", "1000"]))  # snapshots not far behind
        sleep_until(a.at, [win])
        pack(win, a.out, tables=False)
        return
    if a.phase == "wait":
        sleep_until(a.at, names)
        return
    lev = json.loads((RUNS / "levers.json").read_text())
    if a.phase == "decide":
        sleep_until(a.at, names)
        for n in names:
            (RUNS / n / "STOP").touch()
        wait_exit(names)
        have = [n for n in names if has_prior(n)]
        for n in sorted(set(names) - set(have)):
            log(f"{n}: no prior written (crashed or out of memory?), left out: {tail(n)}")
        if not have:
            raise SystemExit("no candidate wrote a prior: nothing to decide")
        rows = table([str(RUNS / n) for n in have], a.limit, RUNS / "candidates.json")
        ok = [r for r in rows if r.get("stable")]
        if not ok:
            log("no candidate passed the stability check: resuming the best anyway; check it before shipping")
            ok = rows
        win = max(ok, key=lambda r: (r["dn25"] + r["rand80"] + r["sr4"]) / 3)["prior"]
        (RUNS / "winner.txt").write_text(win)
        state = json.loads((RUNS / win / "checkpoint" / "state.json").read_text())
        step = int(state["step"])
        rate = solo_rate(a.speed, CANDIDATES[win][0], lev["batch"], lev["compile"]) or 5.0
        left = a.until - now() - (60 if lev["compile"] else 20)
        total = step + int(rate * 0.95 * left)
        log(f"winner {win} at step {step}; solo rate {rate:.2f} steps/s, {left:.0f} s left -> --steps {total}")
        (RUNS / win / "STOP").unlink()
        launch(win, train_args(win, lev, ["--steps", str(total), "--resume",
                                          "--max-minutes", f"{(a.until - now()) / 60:.2f}"]))
        sleep_until(a.at + 60, [win])
        return
    if a.phase == "finish":
        win = (RUNS / "winner.txt").read_text().strip()
        sleep_until(a.until, [win])
        (RUNS / win / "STOP").touch()
        wait_exit([win])
        pack(win, a.out, tables=True, limit=a.limit)


if __name__ == "__main__":
    main()
