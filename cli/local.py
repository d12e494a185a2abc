"""The local engine: restore a job's items in this process (read, batch, solve, write,
report), each output claimed first so that two runs into one folder share the work. The Ray
engine runs this same code in its workers."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import click

from restore.errors import DiskFullError, InputError, RestoreError
from restore.io import write_error
from restore.tasks import get_task

from .jobs import STDIO, Item, Job, a_terminal, companions, made_by, note, one_line, shown, stdout_gone

if TYPE_CHECKING:  # torch and numpy load lazily: `restore --help` stays fast
    import numpy as np
    import torch


def _claim_path(out: Path) -> Path:
    from restore.io import hidden_name

    return out.with_name(hidden_name(out.name, ".claim", room=16))  # (room for its temp file's ".PID.tmp")


#: the run a Ray worker's claims belong to (``run=TOKEN`` after host, pid and start time): the driver
#: removes those its interrupted workers left, on whichever node they ran (None in a local run)
CLAIM_RUN: str | None = None


def claim_run(c: Path) -> str | None:
    """The run token of claim ``c`` (:data:`CLAIM_RUN` of the process that made it), or None."""
    try:
        fields = c.read_text().split()
    except OSError:
        return None
    return next((f[4:] for f in fields if f.startswith("run=")), None)


def _claim(out: Path) -> bool:
    """Claim ``out`` for this process before working on it: a ``.NAME.claim`` beside it
    (host, pid and the process's start time inside), created whole and atomically (hard link of
    a written temp file). False when another live run holds it; a claim left by a process that
    is gone (same host: pid dead, or this process's own pid, or the pid now another process's;
    another host's after 6 h) is taken over. Raises the OSError where the folder takes no
    file at all (full, out of inodes: it was counted as another run's, and the run exited 0)."""
    c = _claim_path(out)
    tmp = c.with_name(f"{c.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # the write will say why
        return True
    err = None
    for _ in range(3):
        try:
            tmp.write_text(f"{socket.gethostname()} {os.getpid()} {_started(os.getpid()) or ''}".rstrip()
                           + (f" run={CLAIM_RUN}" if CLAIM_RUN else ""))
            os.link(tmp, c)
            return True
        except FileExistsError:
            if not _stale(c):
                return False
            c.unlink(missing_ok=True)
            err = None
        except OSError as e:  # a folder we cannot write to (the write will say so), a temp swept away: again
            if not out.parent.exists() or not os.access(out.parent, os.W_OK):
                return True
            err = e
        finally:
            tmp.unlink(missing_ok=True)
    if err is not None:  # no claim could be written at all: said as the image's failure
        raise err
    return False


def _stale(c: Path) -> bool:
    """Whether claim ``c`` was left by a run that is gone (an unreadable one only once it is a
    minute old; one that says no host and pid at once: :func:`_claim` links a claim into place
    whole, so an empty or garbled one is no run's, and it blocked its image for a minute)."""
    try:
        age = time.time() - c.stat().st_mtime
    except OSError:  # gone
        return True
    try:
        owner = [f for f in c.read_text().split() if not f.startswith("run=")]
    except FileNotFoundError:
        return True
    except OSError:  # unreadable (its permissions): a minute, as a claim of unknown origin
        return age > 60
    if len(owner) not in (2, 3) or not owner[1].isdigit():
        return True
    if owner[0] != socket.gethostname():
        return age > 6 * 3600
    pid = int(owner[1])
    if pid == os.getpid():  # this run claims only what it has not: left by a process of the same pid before
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    # alive: the claim's process, unless the pid was reused since (its start time differs)
    return len(owner) == 3 and _started(pid) not in (None, owner[2])


def _started(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux: /proc/PID/stat's 22nd field, clock ticks since
    boot), to tell a claim's process from a later one given the same pid; None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].split()[19]
    except (OSError, ValueError, IndexError):
        return None


def _release(out: Path) -> None:
    _claim_path(out).unlink(missing_ok=True)


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
    ref: np.ndarray | None = None  # --reference, read (and its size checked) before the work
    seen: torch.Tensor | None = None  # the image as read where x's hidden colour was filled (--compare shows it)
    warnings: tuple[str, ...] = ()  # the task's warnings about this image (stderr; --json's record keeps them)


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
    full: list[str] = []  # the first output not written for want of space: the images after it are not worked on

    def batch_size(key: tuple, ld: Loaded) -> int:  # --batch-size, or by device and image size
        if key not in sizes:
            sizes[key] = o.get("batch_size") or default_batch_size(o["device"], ld.x.shape[-2] * ld.x.shape[-1])
        return sizes[key]

    def run_group(group: list[Loaded], progress) -> None:
        t0 = time.perf_counter()
        res = solve(job, group, progress)
        dt = (time.perf_counter() - t0) / len(group)
        for r, ld in enumerate(group):
            e = _finish(job, ld, res, r, dt, done, batch=len(group), warn=warn)
            if isinstance(e, DiskFullError) and not full:
                full.append(str(e))
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
    mine: set[Path] = set()  # outputs this run has claimed and not yet finished

    def done(it: Item, rec: dict | None, msg: str | None) -> None:
        if claims:
            _release(it.out)
            mine.discard(it.out)
        report(it, rec, msg)

    def skip(it: Item, reason: str) -> None:
        report(it, {"input": str(it.src), "output": str(it.out), "status": "skipped", "reason": reason}, None)

    later: list[Item] = []  # claimed by another live run when reached: looked at again at the end

    def claimed(it: Item, last: bool) -> bool:
        """Whether this run restores ``it``, its output claimed; else its skip or failure is
        reported, or, not ``last``, it waits in ``later`` where another live run holds it (a
        trial: that run killed, the survivor exited 0 with the image missing)."""
        from .jobs import made_otherwise, recorded

        try:
            ok = _claim(it.out)
        except OSError as e:  # the output's folder takes no file (full): this image fails, said why
            err = write_error(it.out, e)
            report(it, None, f"{it.src}: {err}")
            if isinstance(err, DiskFullError) and not full:  # (a batch held an image: it was restored)
                full.append(str(err))
            return False
        if not ok:
            if last:
                skip(it, "another run is writing it")
            else:
                later.append(it)
            return False
        if it.out.exists() and not it.redo:  # written by another run meanwhile: with this run's settings?
            _release(it.out)  # (a trial: two runs at --sigma 15 and 40 into one folder both exited 0, mixed)
            other = made_otherwise(job, recorded([it.out]))
            if other is None:
                skip(it, "already written")
            else:
                report(it, None, f"{it.src}: another run wrote its output during this one: {other}")
            return False
        mine.add(it.out)
        return True

    def take(it: Item) -> None:
        if full:  # (a trial: 16 KB left, each of 19 images was restored, then failed to be written)
            done(it, None, f"{it.src}: not restored: an output before it found no space ({full[0]}); free some "
                           "and rerun to go on")
            return
        try:
            ld = load(job, it, warn)
        except Exception as e:  # noqa: BLE001
            done(it, None, _failure(it, e))
            return
        key = batch_key(ld.x, ld.params)
        held.setdefault(key, []).append(ld)
        if len(held[key]) >= batch_size(key, ld):
            flush(key)
        elif sum(map(len, held.values())) >= 2 * max(sizes.values()):
            flush(max(held, key=lambda k: len(held[k])))

    try:
        for it in items:
            if not claims or claimed(it, last=False):
                take(it)
        for it in later:  # the other run finished them (checked as above), or is gone (its claims taken over)
            if claimed(it, last=True):
                take(it)
        for key in list(held):
            flush(key)
    finally:  # interrupted (Ctrl-C, a crash): the claims this run holds go with it
        for out in mine:
            _release(out)


def _finish(job: Job, ld: Loaded, res, r: int, seconds: float, report, batch: int = 1,
            warn: Callable[[Item, str], None] = _print_warning) -> Exception | None:
    """Write one image's outputs and report it; the exception that failed it, else None."""
    try:
        rec = write_outputs(job, ld, res, r, seconds, warn)
        if batch > 1:
            rec["batch"] = batch
    except Exception as e:  # noqa: BLE001
        report(ld.it, None, _failure(ld.it, e))
        return e
    report(ld.it, rec, None)
    return None


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
    return one_line(line)  # (a name holding a line break printed two lines: a trial)


def grown_note(rec: dict) -> str | None:
    """What the run did to the mask as drawn (inpainting's ``mask_dilate`` auto grew a hole
    that follows an object's outline), for stderr; None when nothing grew."""
    n = rec.get("holes_grown")
    if not n:
        return None
    from restore.tasks.inpaint import TIGHT_GROW

    which = "1 hole by up to {} px: its mask follows" if n == 1 else f"{n} holes by up to {{}} px: their masks follow"
    return (f"grew {which.format(TIGHT_GROW)} an object's outline (a small hole by half its depth); "
            "--mask-dilate N sets the growth, 0 keeps the mask as drawn")


def _read(path: Path, o: dict):
    from restore.io import DEFAULT_MAX_PIXELS, read_image

    return read_image(path, max_pixels=o.get("max_pixels") or DEFAULT_MAX_PIXELS)


def load(job: Job, it: Item, warn: Callable[[Item, str], None] = _print_warning) -> Loaded:
    """Read and check one image and its files (mask, ...); its warnings go to ``warn``
    (stderr by default)."""
    import dataclasses

    from restore.api import _to_batch, check_own_range
    from restore.io import (
        DEFAULT_MAX_PIXELS, _pixels, data_bits, format_drops, opaque, without_location, written_meta,
    )

    o, tk = job.opts, get_task(job.task)
    limit = o.get("max_pixels") or DEFAULT_MAX_PIXELS
    img = _read(it.src, o)
    if img.frames > 1:  # said, not dropped in silence
        warn(it, f"warning: {it.src}: {img.frames} frames or pages (an animation, a multi-page TIFF): only the "
                 "first is restored (to restore each, save them as images and give their folder)")
    params, alpha_override = tk.load(img, it.files, dict(job.params), limit)
    H, W = img.array.shape[:2]
    oh, ow = tk.out_size(H, W, params)
    if oh * ow > limit:
        raise InputError(f"{it.src}: the output would be {ow}x{oh} = {_pixels(oh * ow, limit)}, which exceeds the "
                         f"limit of {_pixels(limit)} (raise it with --max-pixels)")  # the words of the input's check
    ref = None
    if it.ref is not None:  # a reference of the wrong size is found now, not after the work
        ref = _read(it.ref, o).color
        if ref.shape[:2] != (oh, ow):
            raise InputError(f"{it.ref}: reference is {ref.shape[1]}x{ref.shape[0]} but the output will be {ow}x{oh}")
    x, back, alpha = _to_batch(img.array)
    if alpha_override is not None:
        alpha = alpha_override
    seen = x
    x, params = tk.under_alpha(x, alpha, params)  # (sr: no dark rim from the colour under alpha 0)
    ext = "" if it.out == STDIO else it.out.suffix.lower()
    lost = format_drops(ext, alpha=alpha is not None and not opaque(alpha), sixteen=img.array.dtype.itemsize == 2)
    if lost:  # an output format that cannot hold what the input has says so
        warn(it, f"warning: {it.src}: a {ext[1:].upper()} output drops {' and '.join(lost)} (PNG or TIFF keep "
                 f"{'them' if len(lost) > 1 else 'it'})")
    if job.opts.get("no_location"):
        img = dataclasses.replace(img, meta=without_location(img.meta))
    shape = img.array.shape
    dropped = written_meta(img.meta, ext, shape[2] if len(shape) == 3 else 1, img.array.dtype)[1] if ext else []
    if dropped:
        warn(it, f"warning: {it.src}: a {ext[1:].upper()} output drops {' and '.join(dropped)}")
    bits = data_bits(img.array)
    if bits is not None:  # a 12-bit camera's data in a 16-bit file: restored on their own range
        params["bits"] = bits
        check_own_range(tk, bits, {**job.params, **params})  # its options over that range: refused before warnings
        if not o["quiet"] and not o.get("as_json"):
            warn(it, f"{it.src}: its 16-bit samples all lie under {2**bits}: restored on that range, as {bits}-bit "
                     "data (a camera's of that depth, or a dark photo; the file stays 16-bit)")
    if img.stored and not o["quiet"] and not o.get("as_json"):  # (a trial: a 1-bit PNG came out 8-bit unsaid)
        pal = img.stored == "palette"  # (RGBA where the output keeps the transparency: a JPEG's drops it)
        keeps = alpha is not None and not format_drops(ext, alpha=True, sixteen=False)
        wide = "8-bit RGB" + ("A" if keeps else "") if pal else "8-bit grey"
        warn(it, f"{it.src}: a {'palette' if pal else '1-bit'} image: restored and written as {wide} (a restored "
                 f"pixel need not be {'one of its colours' if pal else 'black or white'})")
    said = tuple(tk.warnings(x, {**job.params, **params}))
    for w in said:  # shown with -q too: it is no progress
        warn(it, f"warning: {it.src}: {w}")
    return Loaded(it, x, back, alpha, params, img.meta, ref, None if seen is x else seen, said)


#: seconds of work with no sampler step before a single image's run shows a line with its
#: elapsed time (work before the first step: a scene fill's PatchMatch, noise estimation)
WAITING_LINE_AFTER = 2.0


def _step_bar(ld: Loaded):
    """A per-step progress bar (one image run alone), drawn from the sampler's first step
    (nothing is drawn before, so a message before the work is not glued to an empty bar);
    when no step comes for :data:`WAITING_LINE_AFTER` seconds (work that is not a sampler's,
    e.g. inpainting's PatchMatch fill, which can take a minute on a large photo), a line
    with the elapsed time, refreshed each second, until the first step. Both are closed,
    and their line cleared, by :func:`solve`. Nothing is drawn where stderr is no terminal (a
    log file: the redraws piled up in it)."""
    import threading

    from tqdm import tqdm

    if not a_terminal(sys.stderr):
        def idle(info) -> None:
            return None

        idle.close = lambda: None
        return idle
    bar = None
    stop = threading.Event()

    t0 = time.perf_counter()

    def waiting() -> None:
        if stop.wait(WAITING_LINE_AFTER):
            return
        line = tqdm(total=None, file=sys.stderr, bar_format="{desc}", leave=False)
        while True:
            line.set_description_str(f"{one_line(ld.it.src.name)}: working, {time.perf_counter() - t0:.0f} s")
            if stop.wait(1.0):
                break
        line.close()

    ticker = threading.Thread(target=waiting, daemon=True)
    ticker.start()

    def quiet() -> None:  # the waiting line gone before anything else is drawn
        stop.set()
        ticker.join()

    def progress(info):
        nonlocal bar
        if bar is None:  # drawn at the first step, with it done and its time counted (the rate, the time left)
            quiet()
            bar = tqdm(total=info["n"], file=sys.stderr, unit="step", dynamic_ncols=True, leave=False,
                       desc=one_line(ld.it.src.name), initial=info["i"] + 1)
            bar.start_t -= time.perf_counter() - t0
            bar.last_print_t = bar.start_t  # the rate from the run's start, not from the bar's
            bar.refresh()
            return
        bar.update(info["i"] + 1 - bar.n)  # where the run is (regions without steps are skipped over)

    def close() -> None:
        quiet()
        if bar is not None:
            bar.close()

    progress.close = close
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


def _cli_units(tk, name: str, v):
    """A run parameter as the command line gives it (noise levels in 0-255, not [0, 1])."""
    unit = next((q.unit for q in tk.params if q.name == name), tk.reported_units.get(name, 1.0))
    return round(v * unit, 4) if unit != 1.0 and isinstance(v, (int, float)) and not isinstance(v, bool) else v


def out_meta(ld: Loaded, out_arr):
    """The input's metadata for its output ``out_arr``: its resolution scaled where the output's
    size is another (super-resolution keeps the print size)."""
    from restore.io import resized

    H, W = ld.x.shape[-2:]
    return resized(ld.meta, out_arr.shape[1] / W, out_arr.shape[0] / H) if out_arr.shape[:2] != (H, W) else ld.meta


def _to_stdout(data: bytes) -> None:
    """``data`` (an image) whole to stdout, else a :class:`RestoreError` saying how much went (a
    trial: a reader that stopped, `| head -c 100`, took 65536 of 481656 bytes and the run exited 0:
    Python's buffered write returns the part the pipe took)."""
    out, n = sys.stdout.buffer, 0
    view = memoryview(data)
    try:
        while n < len(data):
            k = out.write(view[n:])
            if not k:
                break
            n += k
        out.flush()
    except OSError as e:
        why = e.strerror or type(e).__name__
    else:
        why = None if n == len(data) else "its reader stopped"
    if why is not None:
        stdout_gone()
        raise RestoreError(f"stdout: the image was cut off after {n} of {len(data)} bytes ({why})")


def write_outputs(job: Job, ld: Loaded, res, r: int, seconds: float,
                  warn: Callable[[Item, str], None] = _print_warning) -> dict:
    """Write image ``r`` of the result ``res`` (and its std / compare files); its record. What
    was estimated for it goes to ``warn`` (a Ray worker's stderr does not reach the driver)."""
    import torch

    from restore.api import _alpha_back
    from restore.io import bits_peak, write_image
    from restore.tasks.base import level_text

    o, tk, it, x = job.opts, get_task(job.task), ld.it, ld.x
    image = res.image[r : r + 1]
    std = None if res.std is None else res.std[r : r + 1]
    sigma_y = res.sigma_y[r] if isinstance(res.sigma_y, list) else res.sigma_y
    n = res.image.shape[0]

    def mine(v):  # this image's value of one that is a list, one per image, where a batch's differ
        return v[r] if isinstance(v, list) and len(v) == n else v

    estimated, start = mine(res.sigma_estimated), mine(res.sigma_start)
    params = {k: mine(v) for k, v in res.params.items()}
    # what a choice left to the task came to for this image (sr's kernel: bicubic, or box for a JPEG): a rerun
    # naming it is the same run (it was refused as made with other settings)
    resolved = {q.name: params[q.name] for q in tk.params if q.cli and job.params.get(q.name) is None and (
        (q.choices and isinstance(params.get(q.name), str))  # and a number read from the input (a JPEG's quality)
        or (q.type is int and q.default is None and type(params.get(q.name)) is int))}
    out_arr = _alpha_back(ld.alpha, ld.back(image), tk.alpha_resize(params))
    told = round(sigma_y * 255, 3) if estimated is True and tk.takes("sigma") else None  # (its note keeps it)
    if it.out == STDIO:
        from restore.io import encode_image

        _to_stdout(encode_image(out_arr, ".png", meta=out_meta(ld, out_arr), note=note(job, it, resolved, level=told)))
    else:
        write_image(it.out, out_arr, overwrite=o["overwrite"] or it.redo, quality=o.get("out_quality"),
                    meta=out_meta(ld, out_arr), note=note(job, it, resolved, level=told),
                    warn=False)  # said before the work
    rec = {
        "input": str(it.src), "output": str(it.out), **made_by(job),
        "sampler": mine(res.sampler),
        "steps": mine(res.steps), "seed": o["seed"], "seconds": round(seconds, 3),
        # (a task that takes no noise level, dejpeg, has none to record: "sigma": 0.0 beside its file_quality read)
        **({"sigma": round(sigma_y * 255, 3), "sigma_estimated": estimated} if tk.takes("sigma") else {}),
        "sigma_max": None if start is None else round(start * 255, 3),
        "width": int(out_arr.shape[1]), "height": int(out_arr.shape[0]),
        **{k: _cli_units(tk, k, v) for k, v in params.items() if isinstance(v, (int, float, str))},
    }
    if ld.warnings:  # (a pipeline reading stdout alone missed them: a light left out of deblurring's data)
        rec["warnings"] = list(ld.warnings)
    peak = bits_peak(params.get("bits")) or 1.0  # 16-bit data read on their own range, as the run read them

    def own(t):  # on the data's own range (a copy of the image only where that is not its full range)
        return t if peak == 1.0 else t / peak

    to_try = tk.sigma_to_try(params, sigma_y / peak, own(x)) if estimated else None
    to_try = None if to_try is None else to_try * peak
    if to_try is not None:
        rec["sigma_to_try"] = float(level_text(to_try * 255))
    if estimated and not o["quiet"] and not o["as_json"]:
        said = tk.estimated_note(params, sigma_y, to_try)
        if params.get("bits"):  # its levels of the 16-bit range are small: on its own range too
            said += f"; on its {params['bits']}-bit range {sigma_y / peak * 255:.2f}"
        many = len(job.inputs) > 1 or (job.inputs and job.inputs[0] != STDIO and Path(job.inputs[0]).is_dir())
        if to_try is not None and many and it.out != STDIO:  # a rerun of the folder with it would be refused
            n = level_text(to_try * 255)  # and an output beside this one, so that the folder's stay as made
            beside = it.out.with_name(f"{it.out.stem}.sigma{n}{it.out.suffix}")
            said += f" on this image alone (restore {job.task} {it.src} -o {beside} --sigma {n})"
        warn(it, shown(f"{it.src}: {said}", o))
    settled = tk.settled_note(params)
    if settled and not o["quiet"] and not o["as_json"]:  # (--json: in the record's fields)
        warn(it, shown(f"{it.src}: {settled}", o))
    side = companions(o, it.out)  # checked before the work: absent, or --overwrite
    if std is not None:  # drawn on the data's own range (16-bit data of fewer bits: it was black)
        std_img = own(std[0]).clamp(0, 0.25) * 4 * 255
        std_img = std_img.round().to(torch.uint8).permute(1, 2, 0).squeeze(-1).numpy()
        write_image(side["std"], std_img, overwrite=o["overwrite"] or it.redo, warn=False)
        rec["std"] = str(side["std"])
        rec["mean_std"] = round(float(std.mean()) * 255, 3)
    if "compare" in side:
        from restore.io import Meta

        icc = getattr(ld.meta, "icc", None)  # the photo's colours; its EXIF describes one photo, not the pair
        x = ld.seen if ld.seen is not None else x  # (a trial: the colour filled under alpha 0 hid the picture)
        shown_x = own(tk.shown(x, tk.check(x, ld.params)))  # the panels on the data's own range, as the std
        write_image(side["compare"], _side_by_side(shown_x.clamp(0, 1), own(image), None if std is None else own(std)),
                    overwrite=o["overwrite"] or it.redo, meta=Meta(icc=icc) if icc else None, warn=False)
        rec["compare"] = str(side["compare"])
    if ld.ref is not None:
        scored = image
        if out_arr.dtype.kind in "ui":  # the pixels as written: rounded, and decoded where the format is lossy
            from restore.api import _to_batch
            from restore.io import read_image

            ext = it.out.suffix.lower()
            lossy = ext in (".jpg", ".jpeg") or (ext == ".webp" and o.get("out_quality") is not None)
            scored = _to_batch(read_image(it.out).array if lossy else out_arr)[0]  # alpha set aside
        rec.update(_score(it.ref, ld.ref, scored, tk, ld.params))
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


def _score(ref_path: Path, ref: np.ndarray, out, tk, params: dict) -> dict:
    """PSNR / SSIM of ``out`` (``(1, C, H, W)``: the output as written) against the reference
    ``ref`` read from ``ref_path`` (its size checked by :func:`load`), with the task's convention
    (:meth:`view`). A grey reference for a colour output (or the reverse) is scored on grey,
    the colour side converted as Pillow's ``"L"`` does, and labelled ``PSNR-grey``."""
    import torch

    from restore.api import _to_batch
    from restore.metrics import psnr, ssim

    r, _, _ = _to_batch(ref)
    a, b = out.cpu().clamp(0, 1), r
    grey = a.shape[1] != b.shape[1]
    if grey:  # one side grey: the colour side as Pillow's "L" (ITU-R 601-2 luma) makes it, labelled so
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        a, b = ((t * w).sum(1, keepdim=True) if t.shape[1] == 3 else t for t in (a, b))
    a, b, label = tk.view(a, b, params)
    label = "-grey" if grey else label
    return {"reference": str(ref_path), "psnr": round(psnr(a, b), 4), "ssim": round(ssim(a, b), 5),
            "metric": f"PSNR{label}"}
