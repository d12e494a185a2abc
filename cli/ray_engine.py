"""``--engine ray``: a folder job spread over a Ray cluster with Ray Data.

The inputs become a dataset (one row per image still to do); ``map_batches`` hands them to
a pool of :class:`Worker` actors, each of which loads the prior once and restores its
batches with the local engine's own code (:func:`local.run_items`: same reading, batching,
atomic writes and per-file failures). The driver only draws the progress bar and reports
what comes back. ``RAY_ADDRESS`` set: join that cluster; otherwise start a local one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from pathlib import Path

from restore.errors import InputError

__all__ = ["Worker", "run_on_ray"]


class Worker:
    """A Ray Data actor: holds the prior, restores the images of each batch it is given."""

    def __init__(self, job, threads: int):
        import torch

        from restore.api import get_prior, resolve_device

        import ray

        from . import local

        torch.set_num_threads(job.opts.get("threads") or threads)  # --threads, as the local engine takes it
        local.CLAIM_RUN = job.opts.get("_run")  # this run's claims, removed by the driver if it is stopped
        self.job = job
        import socket

        # the host, then Ray's node (a local cluster's node id alone is new each run; nodes may share a host)
        self.node = f"{socket.gethostname()}:{ray.get_runtime_context().get_node_id()[:8]}"
        get_prior(job.opts["weights"], resolve_device(job.opts["device"]))  # once per worker (cached)

    def __call__(self, batch: dict) -> dict:
        from .local import run_items

        items = [_item(row) for row in batch["item"]]
        done: dict[int, tuple[str, str]] = {}  # by id(item)
        warned: dict[int, list[str]] = {}  # the worker's stderr does not reach the driver

        def report(it, rec, msg):
            done[id(it)] = ("" if rec is None else json.dumps({**rec, "node": self.node}), msg or "")

        run_items(self.job, items, report, warn=lambda it, line: warned.setdefault(id(it), []).append(line))
        return {"k": batch["k"], "record": [done[id(it)][0] for it in items],
                "error": [done[id(it)][1] for it in items],
                "warnings": [json.dumps(warned.get(id(it), [])) for it in items]}


def _row(it) -> str:
    """An :class:`~jobs.Item` as a dataset value (JSON text: paths travel as strings)."""
    return json.dumps({"src": str(it.src), "out": str(it.out), "ref": None if it.ref is None else str(it.ref),
                       "files": {k: None if v is None else str(v) for k, v in it.files.items()},
                       "redo": bool(it.redo)})  # an output whose --compare / .std file is missing: made again


def _item(row: str):
    from .jobs import Item

    d = json.loads(str(row))
    it = Item(Path(d["src"]), {k: None if v is None else Path(v) for k, v in d["files"].items()},
              Path(d["out"]), None if d["ref"] is None else Path(d["ref"]))
    it.redo = bool(d.get("redo"))
    return it


def _connect():
    """``ray``, connected: to ``RAY_ADDRESS`` when set, else to a local cluster started here
    (returned second: True when this call started it, so it is shut down after)."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError("--engine ray needs Ray: pip install 'restore[ray]'") from None
    if ray.is_initialized():
        return ray, False
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False, "configure_logging": True}
    # the driver's C++ log: its "Actor ... has constructor arguments in the object store and max_restarts > 0"
    # line (Ray Data's actor pool, every run) went to stderr even with -q
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    address = os.environ.get("RAY_ADDRESS")
    if address and not _reachable(address):  # ray.init would retry for minutes
        raise InputError(f"--engine ray: nothing answers at RAY_ADDRESS={address} (unset it to start a local cluster)")
    try:
        with _quiet_stderr():  # its C++ core's "Set ray log level from environment variable ..." line, every run
            if address:
                ray.init(address=address, **quiet)
            else:  # "local": a cluster of its own, also where a `ray start` one (or what a dead one left in
                # /tmp/ray/ray_current_cluster) would be joined, which refused num_cpus
                ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False, **quiet)
    except KeyboardInterrupt:  # Ctrl-C while it starts: the processes it started so far go too
        ray.shutdown()
        raise
    except Exception as e:  # noqa: BLE001  (ConnectionError, RuntimeError, ...)
        where = f"the Ray cluster at RAY_ADDRESS={address}" if address else "a local Ray cluster"
        raise InputError(f"--engine ray: cannot start or reach {where} ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''})") from None
    return ray, True


@contextlib.contextmanager
def _quiet_stderr():
    """File descriptor 2 to /dev/null for the block (C++ writes past Python's sys.stderr); what
    fails is raised as an exception, said in one line by the caller."""
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor 2 (a test runner's capture): as it is
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _reachable(address: str, timeout: float = 5.0) -> bool:
    """Whether a TCP connection opens to a ``host:port`` or ``ray://host:port`` address
    (other forms, such as ``auto``, are left to Ray)."""
    import socket

    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return True
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def plan_workers(resources: dict, device: str, workers: int | None) -> tuple[int, int, float]:
    """``(workers, CPUs per worker, GPUs per worker)`` from the cluster's resources: one
    worker per GPU when the job runs on GPUs, else one per two CPUs (torch uses both). CPU
    workers are at most the cluster's CPUs (each takes one at least): see :func:`workers_note`."""
    gpus = int(resources.get("GPU", 0))
    cpus = max(1, int(resources.get("CPU", 1)))
    use_gpu = gpus > 0 and device != "cpu"
    if device == "cuda" and not gpus:
        raise InputError("--device cuda: the Ray cluster has no GPU")
    n = workers or (gpus if use_gpu else max(1, cpus // 2))
    if use_gpu:
        return n, max(1, cpus // n), 1.0 if n <= gpus else gpus / n
    n = min(n, cpus)
    return n, max(1, cpus // n), 0.0


def workers_note(asked: int | None, n: int, resources: dict) -> str | None:
    """The note for ``--workers`` cut to the CPU workers the cluster can hold (Ray would hold
    the rest back without a word), else None."""
    if not asked or n >= asked:
        return None
    cpus = float(resources.get("CPU", 1))
    return (f"note: --workers {asked}: the Ray cluster has {cpus:g} CPU{'s' * (cpus != 1)} and no GPU for this run, "
            f"so {n} worker{'s run' if n != 1 else ' runs'} (one CPU each at least)")


def batch_rows(o: dict, gpus: float) -> int:
    """Images handed to a worker at a time: ``--batch-size``, else one per call on CPU workers
    and :data:`restore.api.MAX_BATCH` on GPU ones, which the worker's own engine groups into
    sampler batches by size and free memory (:func:`restore.api.default_batch_size`), as the
    local engine does (one image per call never batched anything)."""
    from restore.api import MAX_BATCH

    return o.get("batch_size") or (MAX_BATCH if gpus > 0 else 1)


def run_on_ray(job, items: list, report, warn) -> None:
    """Restore ``items`` on Ray; ``report(item, record, message)`` per image, as they finish,
    after ``warn(line)`` for each of its input's warnings."""
    import signal
    import threading
    import uuid

    from .local import _claim_path, claim_run

    import time

    o = {**job.opts, "_run": uuid.uuid4().hex[:12]}  # the workers' claims carry it
    job = dataclasses.replace(job, opts=o)
    main = threading.current_thread() is threading.main_thread()
    on_term = signal.getsignal(signal.SIGTERM) if main else None
    left = set(range(len(items)))
    said: set[int] = set()  # reported failed (a worker died)
    started = False
    t_start = time.time()
    try:
        if items and not o.get("quiet") and not os.environ.get("RAY_ADDRESS"):
            warn("note: starting a local Ray cluster (some seconds; the first image's time includes them)")
        ray, started = _connect()
        if on_term is not None:  # ray.init put its own (exit 15, a C++ dump): SIGTERM stops the run as Ctrl-C
            signal.signal(signal.SIGTERM, on_term)
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        if hasattr(ctx, "enable_operator_progress_bars"):
            ctx.enable_operator_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        if not items:
            return
        resources = ray.cluster_resources()
        n, cpus, gpus = plan_workers(resources, o["device"], o.get("workers"))
        cut = n  # (the note before the cut to the images: one image ran 1 worker, said 2)
        n = min(n, len(items))
        if (note := workers_note(o.get("workers"), cut, resources)) and not o.get("quiet") and n == cut:
            warn(note)
        if gpus == 0 and o["device"] == "auto":  # the workers have no GPU to find
            o = {**o, "device": "cpu"}
        job = dataclasses.replace(job, opts=o)
        rows = [{"k": k, "item": _row(it)} for k, it in enumerate(items)]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows))
        ds = ds.map_batches(Worker, fn_constructor_kwargs={"job": job, "threads": cpus},
                            batch_size=batch_rows(o, gpus), compute=ray.data.ActorPoolStrategy(size=n),
                            num_cpus=cpus, num_gpus=gpus)
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for k, rec, err, warns in zip(batch["k"], batch["record"], batch["error"], batch["warnings"]):
                    left.discard(int(k))
                    for line in json.loads(str(warns)):
                        warn(line)
                    report(items[int(k)], json.loads(rec) if rec else None, str(err) or None)
        except (KeyboardInterrupt, InputError):
            raise
        except Exception as e:  # noqa: BLE001  a worker died: what it held is reported failed
            why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            for k in sorted(left):
                report(items[k], None, f"{items[k].src}: not restored, a Ray worker failed ({why})")
                said.add(k)
    finally:
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None  # a second Ctrl-C: cleaned up still
        try:
            if started:
                ray.shutdown()
            for k in sorted(left):  # stopped: the claims its workers held (a worker on another node left one for 6
                c = _claim_path(items[k].out)  # hours), and the outputs written whose record did not come back
                if claim_run(c) == o["_run"]:
                    c.unlink(missing_ok=True)
                elif k not in said and _written_since(items[k].out, t_start):
                    report(items[k], {"input": str(items[k].src), "output": str(items[k].out), "task": job.task,
                                      "note": "written as the run stopped (its record did not come back)"}, None)
        finally:
            if old_int is not None:
                signal.signal(signal.SIGINT, old_int)


def _written_since(out: Path, t: float) -> bool:
    """Whether ``out`` is a file written at or after ``t`` (an output its worker finished while
    the run was being stopped: outputs are renamed into place whole)."""
    try:
        return out.is_file() and out.stat().st_mtime >= t - 1
    except OSError:
        return False
