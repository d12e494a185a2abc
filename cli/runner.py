"""Running a CLI job over one image or a folder: pairing, resume, outputs, reports.

Everything restoring goes through :func:`restore.api.run`; this module only finds files,
names outputs, draws progress and writes results.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import click

from restore.errors import InputError, RestoreError
from restore import io
from restore.io import check_output_path
from restore.samplers import check_samples
from restore.tasks import get_task

if TYPE_CHECKING:  # torch and numpy load lazily: `restore --help` stays fast
    import numpy as np
    import torch


READ_EXTS = tuple(sorted(io.READ_EXTS))

#: ``-`` as an input reads the image from stdin; as the output, writes PNG to stdout
STDIO = Path("-")


@dataclass
class Job:
    task: str
    inputs: list  # one file or folder, several files, or STDIO
    files: dict  # the task's file inputs by name (a file, a folder matched by stem, or None)
    params: dict
    opts: dict


@dataclass
class Item:
    src: Path
    files: dict
    out: Path
    ref: Path | None


def _err(msg: str) -> None:
    click.echo(f"error: {msg}", err=True)


def _list_images(root: Path, recursive: bool, pattern: str | None) -> list[Path]:
    it = root.rglob("*") if recursive else root.glob("*")
    files = [p for p in it if p.is_file() and not p.name.startswith(".")]
    if pattern:
        files = [p for p in files if fnmatch.fnmatch(p.name, pattern) or fnmatch.fnmatch(str(p.relative_to(root)), pattern)]
    else:
        files = [p for p in files if p.suffix.lower() in READ_EXTS]
    return sorted(files)


def _by_stem(folder: Path, rel: Path) -> Path | None:
    """The file in ``folder`` (same sub-path) whose stem matches ``rel``'s, any image type."""
    d = folder / rel.parent
    for ext in READ_EXTS + tuple(e.upper() for e in READ_EXTS):
        cand = d / (rel.stem + ext)
        if cand.is_file():
            return cand
    return None


def _spool_stdin() -> Path:
    """stdin's bytes in a private temp file (read like any image file; removed at exit)."""
    import atexit
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="restore-"))
    atexit.register(shutil.rmtree, d, True)
    p = d / "stdin"
    p.write_bytes(sys.stdin.buffer.read())
    return p


def plan(job: Job) -> tuple[list[Item], bool]:
    """Items to process and whether this is a batch (a folder or several files; raises
    InputError on bad paths)."""
    o = job.opts
    if len(job.inputs) > 1:
        return _plan_files(job), True
    src = job.inputs[0]
    ref = o.get("reference")
    if src == STDIO:
        if any(f == STDIO for f in job.files.values()):
            raise InputError("only one input can come from stdin")
        src = _spool_stdin()
        o["_stdin_spool"] = src
        if o.get("output") is None:
            o["output"] = STDIO
    if not src.exists():
        raise InputError(f"{src}: no such file or directory")
    if src.is_file():
        for name, f in job.files.items():
            if f is not None and not f.exists():
                raise InputError(f"{f}: no such file")
            if f is not None and f.is_dir():
                raise InputError(f"{f}: is a folder but the image is a single file")
        out = o.get("output") or src.with_name(f"{src.stem}.{job.task}.png")
        if out != STDIO and out.is_dir():
            out = out / f"{src.stem}.{job.task}.png"
        if out != STDIO:
            check_output_path(out)
        r = ref if ref is None or ref.is_file() else _by_stem(ref, Path(src.name))
        return [Item(src, dict(job.files), out, r)], False
    if o.get("output") == STDIO:
        raise InputError("-o - (stdout) takes one image, not a folder")
    out_dir = o.get("output") or src.with_name(f"{src.name}.{job.task}")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder (folder input needs an output folder)")
    for f in job.files.values():
        if f is not None and not f.exists():
            raise InputError(f"{f}: no such file or directory")
    items = []
    for p in _list_images(src, o.get("recursive", False), o.get("pattern")):
        rel = p.relative_to(src)
        if out_dir.resolve() in p.resolve().parents:
            continue  # never read our own outputs
        files = {n: f if f is None or f.is_file() else (_by_stem(f, rel) or f / rel) for n, f in job.files.items()}
        r = None
        if ref is not None:
            r = ref if ref.is_file() else _by_stem(ref, rel)
        items.append(Item(p, files, out_dir / rel.parent / f"{rel.stem}.png", r))
    if not items:
        raise InputError(f"{src}: no images found" + (" (try --recursive)" if not o.get("recursive") else ""))
    _check_distinct_outputs(items)
    return items, True


def _check_distinct_outputs(items: list[Item]) -> None:
    """Refuse, before any work, two inputs whose outputs would be the same file (``a.png``
    and ``a.jpg`` both write ``a.png``): one would overwrite or 'skip' the other."""
    seen: dict[Path, Path] = {}
    for it in items:
        if it.out in seen:
            raise InputError(f"{seen[it.out]} and {it.src} would both write {it.out} (same file stem): "
                             "rename one, or choose with --glob")
        seen[it.out] = it.src


def _plan_files(job: Job) -> list[Item]:
    """Several image files: a batch like a folder (outputs in ``-o DIR`` or beside each
    input, existing ones skipped, failures reported at the end)."""
    o = job.opts
    out_dir, ref = o.get("output"), o.get("reference")
    if out_dir == STDIO or STDIO in job.inputs:
        raise InputError("stdin / stdout (-) take one image, not several")
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder (several inputs need an output folder)")
    if out_dir is not None and out_dir.suffix.lower() in READ_EXTS:
        raise InputError(f"{out_dir}: several inputs need an output folder, not a file")
    for f in job.files.values():
        if f is not None and not f.exists():
            raise InputError(f"{f}: no such file or directory")
    if not any(p.exists() for p in job.inputs):
        raise InputError(f"{job.inputs[0]}: no such file or directory" + (" (nor any other input)" if len(job.inputs) > 1 else ""))
    items = []  # a missing one among several fails alone (its read says so), the others run
    for p in job.inputs:
        if p.is_dir():
            raise InputError(f"{p}: is a folder; give one folder, or several image files")
        files = {n: f if f is None or f.is_file() else (_by_stem(f, Path(p.name)) or f / p.name)
                 for n, f in job.files.items()}
        r = None if ref is None else (ref if ref.is_file() else _by_stem(ref, Path(p.name)))
        out = (out_dir / f"{p.stem}.png") if out_dir is not None else p.with_name(f"{p.stem}.{job.task}.png")
        items.append(Item(p, files, out, r))
    _check_distinct_outputs(items)
    return items


def run_job(job: Job) -> int:
    o = job.opts
    tk = get_task(job.task)
    if o.get("threads"):
        import torch

        torch.set_num_threads(int(o["threads"]))
    sampler = o["sampler"] or tk.recipe(job.params).sampler
    try:  # usage errors, refused before any work
        from restore.samplers import check_compatible

        check_compatible(sampler, tk)
        tk.check_usage(job.params)
        check_samples(sampler, o["samples"], tk)
        if o.get("sampler_options"):
            from restore.api import check_sampler_options

            o["sampler_options"] = check_sampler_options(sampler, o["sampler_options"], job.task)
        if o.get("workers") and o.get("engine", "local") != "ray":
            raise InputError("--workers is for --engine ray (the local engine runs one process)")
    except RestoreError as e:
        _err(str(e))
        return 2
    try:
        items, folder = plan(job)
    except RestoreError as e:
        if o["as_json"]:  # a record for this failure too
            click.echo(json.dumps({"input": [str(p) for p in job.inputs] if len(job.inputs) > 1 else str(job.inputs[0]),
                                   "status": "failed", "error": _shown(str(e), o)}))
        _err(_shown(str(e), o))
        return 1
    if (o["compare"] or o["samples"] > 1) and any(it.out == STDIO for it in items):  # found out only after the work
        _err(f"{'--compare' if o['compare'] else '--samples'} writes files beside the output: give -o FILE, not stdout")
        return 2
    from tqdm import tqdm

    from restore.api import get_prior, resolve_device

    try:  # weights and device are checked once, before any image
        prior = get_prior(o["weights"], resolve_device(o["device"]))
    except RestoreError as e:
        _err(str(e))
        return 1
    from restore.train import stability_problem

    problem = stability_problem(prior.info)
    if problem and sampler != "mmse":  # every sampler but the one-shot mmse feeds it clean inputs
        click.echo(f"warning: prior {prior.name} failed its stability check at training ({problem}): "
                   f"{job.task} with {sampler} may give garbage", err=True)
    if folder:  # temp files of a run that was killed mid-write
        for it in items:
            for stale in it.out.parent.glob(f".{it.out.name}.*.tmp"):
                stale.unlink(missing_ok=True)
    counts = {"done": 0, "skipped": 0, "failed": 0}
    failures: list[str] = []
    todo = []
    for it in items:
        if it.out != STDIO and it.out.exists() and not o["overwrite"]:
            if not folder:
                _err(f"{it.out}: exists (pass --overwrite to replace it)")
                return 1
            counts["skipped"] += 1
        else:
            todo.append(it)
    bar = None
    if folder:
        bar = tqdm(total=len(items), initial=counts["skipped"], disable=o["quiet"], file=sys.stderr, unit="img",
                   dynamic_ncols=True)

    scores: list[dict] = []

    def report(it: Item, rec: dict | None, msg: str | None) -> None:
        to_err = it.out == STDIO  # stdout holds the image
        if msg is None and rec.get("status") == "skipped":  # another run has it
            counts["skipped"] += 1
            if o["as_json"]:
                click.echo(json.dumps(rec))
        elif msg is None:
            counts["done"] += 1
            if "psnr" in rec:
                scores.append(rec)
            if o["as_json"]:
                click.echo(json.dumps(rec), err=to_err)
            elif not folder:
                click.echo(result_line(rec), err=to_err)
            elif "psnr" in rec:
                bar.write(result_line(rec), file=sys.stderr)
        else:
            msg = _shown(msg, o)
            counts["failed"] += 1
            failures.append(msg)
            if o["as_json"]:
                click.echo(json.dumps({"input": _shown(str(it.src), o), "output": str(it.out), "status": "failed",
                                       "error": msg}), err=to_err)
            if folder:
                bar.write(f"failed: {msg}", file=sys.stderr)
            elif not o["as_json"]:
                _err(msg)
        if bar is not None:
            bar.update(1)

    def warn(line: str) -> None:  # above the progress bar
        if bar is not None:
            bar.write(line, file=sys.stderr)
        else:
            click.echo(line, err=True)

    try:
        if o.get("engine", "local") == "ray":
            from .ray_engine import run_on_ray

            run_on_ray(job, todo, report, warn)
        else:
            run_items(job, todo, report, step_bar=not folder and not o["quiet"], release=folder,
                      warn=lambda it, line: warn(line))
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        _err("interrupted; rerun the same command to resume")
        return 130
    except RestoreError as e:  # refused before any image (e.g. the engine cannot start)
        if bar is not None:
            bar.close()
        _err(str(e))
        return 1
    if bar is not None:
        bar.close()
    if folder:
        summary = f"done {counts['done']}, skipped {counts['skipped']} (already written), failed {counts['failed']}"
        mean = {k: round(sum(r[k] for r in scores) / len(scores), 4) for k in ("psnr", "ssim")
                if scores and all(k in r for r in scores)}
        if o["as_json"]:
            click.echo(json.dumps({"summary": counts, "failed": failures,
                                   **({"mean": {**mean, "images": len(scores)}} if scores else {})}))
        else:
            if scores:
                summary += (f"; mean over {len(scores)} with a reference: PSNR {mean['psnr']:.2f} dB"
                            + (f", SSIM {mean['ssim']:.4f}" if "ssim" in mean else ""))
            click.echo(summary)  # each failure was printed once, as it happened
    return 1 if counts["failed"] else 0


def _claim_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.claim")


def _claim(out: Path) -> bool:
    """Claim ``out`` for this process before working on it: a ``.NAME.claim`` beside it
    (host and pid inside), created whole and atomically (hard link of a written temp file).
    False when another live run holds it; a claim left by a process that is gone (same
    host, pid dead; another host's after 6 h) is taken over."""
    import socket

    c = _claim_path(out)
    tmp = c.with_name(f"{c.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # the write will say why
        return True
    for _ in range(3):
        try:
            tmp.write_text(f"{socket.gethostname()} {os.getpid()}")
            os.link(tmp, c)
            return True
        except FileExistsError:
            if not _stale(c):
                return False
            c.unlink(missing_ok=True)
        except OSError:  # a folder we cannot write to (the write will say so), a temp swept away: again
            if not out.parent.exists() or not os.access(out.parent, os.W_OK):
                return True
        finally:
            tmp.unlink(missing_ok=True)
    return False


def _stale(c: Path) -> bool:
    import socket

    try:
        host, pid = c.read_text().split()
        age = time.time() - c.stat().st_mtime
    except FileNotFoundError:
        return True
    except (OSError, ValueError):  # unreadable: stale only when old
        try:
            return time.time() - c.stat().st_mtime > 60
        except OSError:
            return True
    if host != socket.gethostname():
        return age > 6 * 3600
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def _release(out: Path) -> None:
    _claim_path(out).unlink(missing_ok=True)


def _shown(msg: str, o: dict) -> str:
    """A message with stdin's spool file named as the user gave it (``-``)."""
    spool = o.get("_stdin_spool")
    return msg.replace(str(spool), "- (stdin)") if spool else msg


def _failure(it: Item, e: BaseException) -> str:
    """One line naming the file for an exception raised while restoring it."""
    if isinstance(e, RestoreError):
        return str(e) if str(it.src) in str(e) else f"{it.src}: {e}"
    if os.environ.get("RESTORE_DEBUG"):
        raise e
    return f"{it.src}: internal error ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"


@dataclass
class Loaded:
    """An image read and checked, ready for the sampler."""

    it: Item
    x: torch.Tensor  # (1, C, H, W)
    back: Callable
    alpha: np.ndarray | None
    params: dict
    meta: object = None  # restore.io.Meta: the input's EXIF and ICC profile, for the output


def _print_warning(it: Item, line: str) -> None:
    click.echo(line, err=True)


def run_items(job: Job, items: list[Item], report: Callable[[Item, dict | None, str | None], None], *,
              step_bar: bool = False, release: bool = True,
              warn: Callable[[Item, str], None] = _print_warning) -> None:
    """Restore ``items`` (outputs not checked here), calling ``report(item, record, None)``
    or ``report(item, None, message)`` for each, in the order they finish, and
    ``warn(item, line)`` for an input's warnings (stderr by default).

    Images that can share a sampler batch (same size and parameters, see
    :func:`restore.api.batch_key`) are held until ``--batch-size`` of them are ready (default
    :func:`restore.api.default_batch_size`: 1 on CPU; at most twice that many are held in
    all); a batch that fails is rerun image by image, so one bad file still fails alone.
    Each image keeps the job's seed, so its output is the one a run on it alone gives
    (within float rounding)."""
    from restore.api import batch_key, default_batch_size

    o = job.opts
    held: dict[tuple, list[Loaded]] = {}
    sizes: dict[tuple, int] = {}

    def batch_size(key: tuple, ld: Loaded) -> int:  # --batch-size, or by device and image size
        if key not in sizes:
            sizes[key] = o.get("batch_size") or default_batch_size(o["device"], ld.x.shape[-2] * ld.x.shape[-1])
        return sizes[key]

    def run_group(group: list[Loaded], progress) -> None:
        t0 = time.perf_counter()
        res = solve(job, group, progress)
        dt = (time.perf_counter() - t0) / len(group)
        for r, ld in enumerate(group):
            _finish(job, ld, res, r, dt, done, batch=len(group))
        if release:
            _release_memory()

    def flush(key: tuple) -> None:
        group = held.pop(key)
        if len(group) > 1:
            try:
                return run_group(group, None)
            except Exception:  # noqa: BLE001  rerun alone: the culprit fails, the rest succeed
                pass
        for ld in group:
            try:
                run_group([ld], _step_bar(ld) if step_bar else None)
            except Exception as e:  # noqa: BLE001  one line per file, the batch goes on
                done(ld.it, None, _failure(ld.it, e))

    claims = release and not o.get("overwrite")  # folder mode: two runs into one folder share the work

    def done(it: Item, rec: dict | None, msg: str | None) -> None:
        if claims:
            _release(it.out)
        report(it, rec, msg)

    for it in items:
        if claims:
            if not _claim(it.out):
                report(it, {"input": str(it.src), "output": str(it.out), "status": "skipped",
                            "reason": "another run is writing it"}, None)
                continue
            if it.out.exists():  # written by another run meanwhile
                _release(it.out)
                report(it, {"input": str(it.src), "output": str(it.out), "status": "skipped",
                            "reason": "already written"}, None)
                continue
        try:
            ld = load(job, it, warn)
        except Exception as e:  # noqa: BLE001
            done(it, None, _failure(it, e))
            continue
        key = batch_key(ld.x, ld.params)
        held.setdefault(key, []).append(ld)
        if len(held[key]) >= batch_size(key, ld):
            flush(key)
        elif sum(map(len, held.values())) >= 2 * max(sizes.values()):
            flush(max(held, key=lambda k: len(held[k])))
    for key in list(held):
        flush(key)


def _finish(job: Job, ld: Loaded, res, r: int, seconds: float, report, batch: int = 1) -> None:
    try:
        rec = write_outputs(job, ld, res, r, seconds)
        if batch > 1:
            rec["batch"] = batch
    except Exception as e:  # noqa: BLE001
        report(ld.it, None, _failure(ld.it, e))
        return
    report(ld.it, rec, None)


def _release_memory() -> None:
    """Give freed heap back to the system between images (glibc's ``malloc_trim``): images of
    many sizes otherwise leave the process holding its largest ever working set, fragmented."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@lru_cache(maxsize=1)
def _malloc_trim():
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def result_line(rec: dict) -> str:
    """The one stdout line of a single-image run: output, seconds, and the scores when a
    reference was given (PSNR-Y / SSIM-Y for super-resolution, as scored)."""
    line = f"{rec['output']}  {rec['seconds']:.2f} s"
    if "psnr" in rec:
        y = rec.get("metric", "PSNR")[4:]
        line += f"  PSNR{y} {rec['psnr']:.2f} dB  SSIM{y} {rec['ssim']:.4f}"
    return line


def _read(path: Path, o: dict):
    from restore.io import DEFAULT_MAX_PIXELS, read_image

    return read_image(path, max_pixels=o.get("max_pixels") or DEFAULT_MAX_PIXELS)


def load(job: Job, it: Item, warn: Callable[[Item, str], None] = _print_warning) -> Loaded:
    """Read and check one image and its files (mask, ...); its warnings go to ``warn``
    (stderr by default)."""
    from restore.api import _to_batch
    from restore.io import DEFAULT_MAX_PIXELS

    o, tk = job.opts, get_task(job.task)
    limit = o.get("max_pixels") or DEFAULT_MAX_PIXELS
    img = _read(it.src, o)
    params, alpha_override = tk.load(img, it.files, dict(job.params), limit)
    H, W = img.array.shape[:2]
    oh, ow = tk.out_size(H, W, params)
    if oh * ow > limit:
        raise InputError(f"{it.src}: the output would be {ow}x{oh} = {oh * ow:,} pixels, "
                         f"over the limit of {limit:,} (raise it with --max-pixels)")
    x, back, alpha = _to_batch(img.array)
    if alpha_override is not None:
        alpha = alpha_override
    for w in tk.warnings(x, params):  # shown with -q too: it is no progress
        warn(it, f"warning: {it.src}: {w}")
    return Loaded(it, x, back, alpha, params, img.meta)


def _step_bar(ld: Loaded):
    """A per-step progress bar (one image run alone), drawn from the sampler's first step
    (nothing is drawn before, so a message before the work is not glued to an empty bar);
    closed, and its line cleared, by :func:`solve`."""
    from tqdm import tqdm

    bar = None

    def progress(info):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=info["n"], file=sys.stderr, unit="step", dynamic_ncols=True, leave=False,
                       desc=ld.it.src.name)
        bar.update(1)

    progress.close = lambda: bar is not None and bar.close()
    return progress


def solve(job: Job, group: list[Loaded], progress):
    """One sampler run for ``group`` (same batch key), every image with the job's seed."""
    import torch

    from restore.api import run, stack_params

    o = job.opts
    try:
        return run(torch.cat([ld.x for ld in group]), job.task, sampler=o["sampler"], steps=o["steps"],
                   seed=[o["seed"]] * len(group), device=o["device"], prior=o["weights"], samples=o["samples"],
                   sigma_max=o.get("sigma_max"), progress=progress, **stack_params([ld.params for ld in group]),
                   **(o.get("sampler_options") or {}))
    finally:
        if progress is not None:
            progress.close()


def write_outputs(job: Job, ld: Loaded, res, r: int, seconds: float) -> dict:
    """Write image ``r`` of the result ``res`` (and its std / compare files); its record."""
    import torch

    from restore.api import _alpha_back
    from restore.io import write_image

    o, tk, it, x = job.opts, get_task(job.task), ld.it, ld.x
    image = res.image[r : r + 1]
    std = None if res.std is None else res.std[r : r + 1]
    sigma_y = res.sigma_y[r] if isinstance(res.sigma_y, list) else res.sigma_y
    out_arr = _alpha_back(ld.alpha, ld.back(image))
    if it.out == STDIO:
        from restore.io import encode_image

        sys.stdout.buffer.write(encode_image(out_arr, ".png", meta=ld.meta))
        sys.stdout.buffer.flush()
    else:
        write_image(it.out, out_arr, overwrite=o["overwrite"], quality=o.get("quality"), meta=ld.meta)
    rec = {
        "input": str(it.src), "output": str(it.out), "task": job.task, "sampler": res.sampler,
        "steps": res.steps, "seed": o["seed"], "seconds": round(seconds, 3),
        "sigma": round(sigma_y * 255, 3), "sigma_estimated": res.sigma_estimated,
        "sigma_max": None if res.sigma_start is None else round(res.sigma_start * 255, 3),
        "width": int(out_arr.shape[1]), "height": int(out_arr.shape[0]),
        **{k: v for k, v in res.params.items() if isinstance(v, (int, float, str))},
    }
    if res.sigma_estimated and not o["quiet"] and not o["as_json"]:
        click.echo(f"{it.src}: estimated noise sigma = {sigma_y * 255:.2f} (0-255 units)", err=True)
    if std is not None:
        std_path = it.out.with_name(it.out.stem + ".std.png")
        std_img = (std[0].clamp(0, 0.25) * 4 * 255).round().to(torch.uint8).permute(1, 2, 0).squeeze(-1).numpy()
        write_image(std_path, std_img, overwrite=True)
        rec["std"] = str(std_path)
        rec["mean_std"] = round(float(std.mean()) * 255, 3)
    if o["compare"]:
        cmp_path = it.out.with_name(it.out.stem + ".compare.png")
        write_image(cmp_path, _side_by_side(tk.shown(x, tk.check(x, ld.params)), image, std), overwrite=True)
        rec["compare"] = str(cmp_path)
    if it.ref is not None:
        rec.update(_score(it.ref, image, tk, ld.params, o))
    return rec


def _side_by_side(x, out, std):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from restore.io import from_tensor

    inp = x.to(out.device)
    if inp.shape[-2:] != out.shape[-2:]:
        inp = F.interpolate(inp, size=out.shape[-2:], mode="nearest")
    panels = [inp, out]
    if std is not None:
        panels.append((std * 4).clamp(0, 1))
    C = max(p.shape[1] for p in panels)
    panels = [p.expand(-1, C, -1, -1) for p in panels]
    gap = torch.ones(1, C, out.shape[-2], 4, device=out.device)
    row = [panels[0]]
    for p in panels[1:]:
        row += [gap, p]
    return from_tensor(torch.cat(row, dim=3), np.uint8)


def _score(ref_path: Path, out, tk, params: dict, o: dict) -> dict:
    from restore.api import _to_batch
    from restore.metrics import psnr, ssim

    ref = _read(ref_path, o).color
    r, _, _ = _to_batch(ref)
    if r.shape[-2:] != out.shape[-2:]:
        raise InputError(f"{ref_path}: reference is {r.shape[-1]}x{r.shape[-2]} but the output is "
                         f"{out.shape[-1]}x{out.shape[-2]}")
    a, b = out.cpu().clamp(0, 1), r
    if a.shape[1] != b.shape[1]:
        a, b = a.mean(1, keepdim=True), b.mean(1, keepdim=True)
    a, b, label = tk.view(a, b, params)
    return {"reference": str(ref_path), "psnr": round(psnr(a, b), 4), "ssim": round(ssim(a, b), 5),
            "metric": f"PSNR{label}"}
