"""Running a CLI job over one image or a folder: resume, the chosen engine, reports.

Everything restoring goes through :func:`restore.api.run`; the plan (:mod:`.jobs`) finds
files and names outputs, an engine (:data:`ENGINES`: this process, :mod:`.local`, or a Ray
cluster, :mod:`.ray_engine`) restores them, and this module draws progress and reports.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import statistics
import sys
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import click

from restore.errors import InputError, RestoreError, UsageError
from restore.io import WRITE_EXTS, incomplete
from restore.samplers import check_samples
from restore.tasks import get_task

from .groups import use_threads
from .jobs import (STDIO, Item, Job, _err, a_terminal, companions, inputs_changed, made_by, made_otherwise, one_line,
                   plan, recorded, shown, some, stdout_gone)
from .local import grown_note, result_line

__all__ = ["ENGINES", "STDIO", "Item", "Job", "run_job"]


def _output_is_an_input(job: Job, items: list[Item]) -> str | None:
    """The error for an output that is one of the files the run reads (its image, mask,
    reference, or a file an option names, such as ``--exclude``); None when there is none."""
    named = list(get_task(job.task).option_files(job.params).values())
    for it in items:
        if it.out == STDIO:
            continue
        for out in [it.out, *companions(job.opts, it.out).values()]:  # --compare's file too
            if not out.exists():
                continue
            for q in [it.src, it.ref, *it.files.values(), *named]:
                if q is None or Path(q) == STDIO or not Path(q).is_file():
                    continue
                if os.path.samefile(out, q):
                    return f"{out}: is also an input of this run ({q}); choose another output"
    return None


def _image_size(p: Path) -> tuple[int, int] | None:
    """``(width, height)`` of image file ``p`` from its header, None where it cannot be read."""
    try:
        from PIL import Image

        with Image.open(p) as im:
            return im.size
    except Exception:  # noqa: BLE001  (any reader's error: the note leaves the image out)
        return None


class _Stdout:
    """stdout for the records and result lines: where it fails (its reader gone, a full disk) that
    is said once on stderr, the run goes on with its files, and it exits 1 (a trial: two chained
    tracebacks to /dev/full; piped to `head -1`, a folder run stopped after 2 images, unsaid)."""

    def __init__(self) -> None:
        self.failed: str | None = None
        self.bar = None  # a folder run's progress bar: the failure is said above it

    def echo(self, line: str, err: bool = False, above_bar: bool = False) -> None:
        if err:
            click.echo(line, err=True)
            return
        if self.failed:
            return
        try:
            if above_bar and self.bar is not None:  # above the progress bar (on stderr)
                self.bar.write(line, file=sys.stdout)
                sys.stdout.flush()
            else:
                click.echo(line)
        except OSError as e:
            self.failed = e.strerror or type(e).__name__
            stdout_gone()
            said = (f"error: stdout: cannot write ({self.failed}): what this run prints there from now on is lost; "
                    "it goes on")
            if self.bar is not None:
                self.bar.write(said, file=sys.stderr)
            else:
                click.echo(said, err=True)


def _names_too_long(o: dict, items: list[Item]) -> list[tuple[Item, str]]:
    """The items whose output, or a file written beside it (``--compare``, ``--samples``' std),
    would have a name over :data:`restore.io.NAME_MAX` bytes, each with its error."""
    from restore.io import NAME_MAX

    out = []
    for it in items:
        if it.out == STDIO:
            continue
        for p in [it.out, *companions(o, it.out).values()]:
            n = len(p.name.encode())
            if n > NAME_MAX:
                fix = ("give -o a shorter name" if o.get("output") is not None and len(items) == 1
                       else "give the input a shorter name")  # (the input's name made it, or -o's)
                out.append((it, f"{it.src}: {p.name[:24]}...{p.name[-16:]}, a file this run would write, has a name "
                                f"of {n} bytes, over the {NAME_MAX} a file system takes: {fix}"))
                break
    return out


def _local(job: Job, items: list[Item], report, warn, folder: bool) -> None:
    from .local import run_items

    run_items(job, items, report, step_bar=not folder and not job.opts["quiet"], release=folder,
              warn=lambda it, line: warn(line))


def _ray(job: Job, items: list[Item], report, warn, folder: bool) -> None:
    from .ray_engine import run_on_ray  # needs the ray extra: imported only when chosen

    run_on_ray(job, items, report, warn)


#: ``--engine``: how the items of a job are restored, one interface (job, items, report(item,
#: record, message), warn(line), folder)
ENGINES = {"local": _local, "ray": _ray}
class Terminated(KeyboardInterrupt):
    """SIGTERM during a run: it stops as on Ctrl-C (the claims it holds released), exit 143."""




def _sweep(items: list[Item]) -> None:
    """What a killed run left beside the outputs: temp files of a write it did not finish, and
    claims of outputs it had finished (a later run skips those and would leave the claim); not
    what a live run holding the output has. One listing per output folder."""
    from .local import _claim_path, _stale

    by_dir: dict[Path, list[Item]] = {}
    for it in items:
        if it.out != STDIO:
            by_dir.setdefault(it.out.parent, []).append(it)
    for d, its in by_dir.items():
        try:
            hidden = [n for n in os.listdir(d) if n.startswith(".")]
        except OSError:  # not made yet, or not readable: nothing left there
            continue
        claims = {n for n in hidden if n.endswith(".claim")}
        tmps = [n for n in hidden if n.endswith(".tmp")]
        for it in its:
            claim = _claim_path(it.out)
            mine = [n for n in tmps if n.startswith(f".{it.out.name}.")] if tmps else []
            if not (mine or (claim.name in claims and it.out.exists())):
                continue
            if claim.name in claims and not _stale(claim):
                continue  # a live run's
            for n in mine:
                (d / n).unlink(missing_ok=True)
            if claim.name in claims and it.out.exists():
                claim.unlink(missing_ok=True)


def _means(scores: list[dict]) -> dict[str, dict]:
    """Mean PSNR / SSIM of the records ``scores``, by the metric they were scored with (``PSNR``,
    ``PSNR-Y`` for sr, ``PSNR-grey`` for a grey reference of a colour output): means of
    different metrics are not one number."""
    groups: dict[str, list[dict]] = {}
    for r in scores:
        groups.setdefault(r.get("metric", "PSNR"), []).append(r)
    return {m: {"psnr": round(sum(r["psnr"] for r in g) / len(g), 4), "ssim": round(sum(r["ssim"] for r in g) / len(g), 4),
                "images": len(g)} for m, g in groups.items()}


#: a folder's noise levels read (denoise) that spread over this ratio, on images of one size, are
#: said at its end with their median (a video's frames: a trial's 24 frames of one camera-like
#: noise read 9.09-11.40, the frame read highest 0.77 dB under the mean level told to all)
LEVELS_SPREAD = 1.1


def levels_note(levels: list[tuple[float, int, int]], tk, unrecorded: int = 0) -> str | None:
    """For a folder whose levels were read by a task with ``one_level_hint`` (denoise):
    ``levels`` are the records' ``(sigma, width, height)``. Where three or more images of the
    size most of them share (a video's frames, a burst) read levels spread over
    :data:`LEVELS_SPREAD` times, their range and median, and how to tell every image the median
    (a rerun with --sigma into the same folder is refused: its settings differ); ``unrecorded``:
    outputs written before whose level is not recorded (an older restore's), said as left out."""
    if not tk.one_level_hint:
        return None
    sizes = Counter((w, h) for _, w, h in levels)
    size = sizes.most_common(1)[0][0] if sizes else None
    # (the records' levels are rounded to 3 places: 10.905 half up, as the image's own note gave 10.9051)
    read = sorted(float(Decimal(str(v)).quantize(Decimal("0.01"), ROUND_HALF_UP))
                  for v, w, h in levels if (w, h) == size and v > 0)
    if len(read) < 3 or read[-1] <= LEVELS_SPREAD * read[0]:
        return None
    mid = statistics.median(read)
    left = (f" ({unrecorded} written before, by an older restore, record no level: not counted)"
            if unrecorded else "")
    return (f"note: noise levels read {read[0]:.2f}-{read[-1]:.2f} (median {mid:.2f}) over {len(read)} images of "
            f"{size[0]}x{size[1]}{left}; if they are one camera's frames (a video, a burst), --sigma {mid:.2f} into "
            "another folder tells each the same level")


def run_job(job: Job) -> int:
    o = job.opts
    stdout = _Stdout()
    tk = get_task(job.task)
    use_threads(o.get("threads"))
    try:  # usage errors, refused before any work
        from restore.api import check_stepless_samples, check_unscheduled
        from restore.samplers import check_compatible

        recipe = tk.recipe(job.params)
        sampler = o["sampler"] or recipe.sampler
        spec = check_compatible(sampler, tk)
        check_unscheduled(sampler, spec, o.get("steps"), o.get("sigma_max"))
        tk.check_usage(job.params)
        check_samples(sampler, o["samples"], tk, job.params)
        check_stepless_samples(None if o["sampler"] else recipe, o["samples"], o.get("steps"))
        if o.get("sampler_options"):
            from restore.api import check_sampler_options

            o["sampler_options"] = check_sampler_options(sampler, o["sampler_options"], job.task)
        if o.get("workers") and o.get("engine", "local") != "ray":
            raise InputError("--workers is for --engine ray (the local engine runs one process)")
        if o.get("engine") == "ray" and importlib.util.find_spec("ray") is None:  # before any image is read
            raise InputError("--engine ray needs Ray: pip install 'restore[ray]'")
    except RestoreError as e:
        _err(str(e))
        return 2
    try:
        items, folder = plan(job)
    except RestoreError as e:
        if o["as_json"]:  # a record for this failure too
            given = [str(p) for p in job.inputs] if len(job.inputs) > 1 else str(job.inputs[0])
            stdout.echo(json.dumps({"input": given, **made_by(job), "status": "failed", "error": shown(str(e), o)}))
        _err(shown(str(e), o))
        return 2 if isinstance(e, UsageError) else 1  # options that do not go together; else a missing file
    long_named = _names_too_long(o, items)  # (a trial: a 251-byte name with --compare, an internal error
    if long_named and not folder:  # after the work, then a traceback on every rerun): the image fails, exit 1
        it, msg = long_named[0]
        if o["as_json"]:
            stdout.echo(json.dumps({"input": shown(str(it.src), o), "output": str(it.out), **made_by(job),
                                    "status": "failed", "error": msg}))
        _err(msg)
        return 1
    items = [it for it in items if all(it is not jt for jt, _ in long_named)]
    idle = [f for f, on in (("--recursive", o.get("recursive")), ("--glob", o.get("pattern") is not None),
                            ("--batch-size", o.get("batch_size") is not None)) if on]
    if idle and not folder:  # an option that cannot do what was asked says so
        click.echo(f"warning: {', '.join(idle)} appl{'y' if len(idle) > 1 else 'ies'} to folders and several files "
                   "(folder mode): one image is restored as it is", err=True)
    ref = o.get("reference")
    unscored = [it for it in items if it.ref is None] if ref is not None and ref.is_dir() else []
    if unscored:  # a folder of references without one for some images: they are restored, not scored; said
        click.echo(f"warning: {ref}: no reference for {len(unscored)} of {len(items)} images "
                   f"({unscored[0].src.name}{', ...' if len(unscored) > 1 else ''}): restored without a score",
                   err=True)
    clash = _output_is_an_input(job, items)
    if clash:  # --overwrite replaces an earlier output, never a file this run reads
        _err(clash)
        return 2
    lossless = sorted({it.out.suffix.lower() or "PNG (stdout)" for it in items
                       if it.out == STDIO or it.out.suffix.lower() not in (".jpg", ".jpeg", ".webp")})
    if o.get("out_quality") is not None and lossless:  # an option that cannot do what was asked says so
        click.echo(f"warning: --quality applies to JPEG and WebP outputs; {', '.join(lossless)} "
                   f"output{'s are' if folder else ' is'} written losslessly", err=True)
    if any(it.out == STDIO for it in items) and a_terminal(sys.stdout):  # (a trial: a PNG's bytes in the terminal)
        _err("stdout is a terminal: redirect it (> out.png, | another program) or give -o FILE")
        return 2
    if (o["compare"] or o["samples"] > 1) and any(it.out == STDIO for it in items):  # found out only after the work
        _err(f"{'--compare' if o['compare'] else '--samples'} writes files beside the output: give -o FILE, not stdout")
        return 2
    if o.get("engine", "local") == "ray" and any(it.out == STDIO for it in items):  # the image went to a worker's log
        _err("--engine ray writes the outputs in its workers: give -o FILE, not stdout")
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
    if problem and spec.scheduled:  # every sampler but a one-shot one (mmse) feeds it clean inputs
        click.echo(f"warning: prior {prior.name} failed its stability check at training ({problem}): "
                   f"{job.task} with {sampler} may give garbage", err=True)
    if folder:
        _sweep(items)
    made: dict = {}  # the existing outputs' recorded settings, each file's note read once
    if folder and not o["overwrite"]:  # outputs to be kept, made with other settings: refused before any work
        made = recorded([it.out for it in items if it.out != STDIO and it.out.is_file()])
        other = made_otherwise(job, made)
        if other:
            _err(shown(other, o))
            return 2
        blind = [p for p, s in made.items() if s is None and not incomplete(p)]  # (an empty one: said below)
        if blind:  # kept, as always, but not in silence: whatever made them cannot be checked
            them = "them" if len(blind) > 1 else "it"
            click.echo(f"warning: {some(blind)} hold{'' if len(blind) > 1 else 's'} no record of the settings that "
                       f"made {them} (another program's, an older restore's, or a BMP output, which carries "
                       f"none): kept; --overwrite redoes {them}", err=True)
    changed: set = set()  # existing outputs made from another version of their inputs: made again
    if folder and not o["overwrite"]:
        moved = inputs_changed(job, [it for it in items if it.out != STDIO and it.out.is_file()])
        changed = {it.out for it, _ in moved}
        if changed:
            n = len(changed)
            which = sorted({k for _, keys in moved for k in keys})
            names = {"image": "the photo"}  # the others by their option's name: the mask, the kernel, ...
            said = ", ".join(names.get(k, f"the {k}") for k in which) or "an input"
            click.echo(f"warning: {some(sorted(changed))} {'were' if n > 1 else 'was'} made from another version of "
                       f"{'their inputs' if n > 1 else 'its input'} ({said} changed since): made again", err=True)
    if folder and not o["quiet"]:  # a rerun in another --format beside a finished one: two outputs an image
        there: dict[Path, set[str]] = {}  # each output folder's names, listed once (not 6 stats an image)
        for d in {it.out.parent for it in items if it.out != STDIO}:
            with contextlib.suppress(OSError):  # (a folder not made yet holds nothing)
                there[d] = {e.name for e in os.scandir(d) if e.is_file()}
        twice = []
        for it in items:
            names = there.get(it.out.parent, set()) if it.out != STDIO else set()
            if names and it.out.name not in names:  # to be written, beside one of its name in another type
                twice += [q for q in (it.out.with_suffix(e) for e in sorted(WRITE_EXTS) if e != it.out.suffix.lower())
                          if q.name in names]
        if twice:
            click.echo(f"note: {some(twice, 'file')} of the same name{'s' if len(twice) > 1 else ''} in another "
                       f"format {'are' if len(twice) > 1 else 'is'} there already: this run writes its "
                       f"{items[0].out.suffix} outputs beside {'them' if len(twice) > 1 else 'it'}", err=True)
    counts = {"done": 0, "skipped": 0, "failed": 0}
    busy = 0  # of the skipped: outputs another run (its claim) is writing
    failures: list[str] = []
    todo = []
    levels: list[tuple[float, int, int]] = []  # (sigma, width, height) of each image whose level was read
    unrecorded = 0  # outputs written before whose level read was not recorded
    broken = list(long_named)  # outputs whose names no file system takes, and existing outputs that are not
    # whole images (cut short outside restore): reported, kept
    for it in items:
        # (a link to nothing, or a loop, as -o is there too: the write refused it after the work)
        if it.out != STDIO and (it.out.exists() or (not folder and it.out.is_symlink())) and not o["overwrite"]:
            missing = [p for p in companions(o, it.out).values() if not p.exists()]
            if not folder and missing and it.out.exists() and not incomplete(it.out) and made_otherwise(
                    job, recorded([it.out]), unknown=True) is None and not inputs_changed(job, [it], unknown=True):
                # made by this command, of this input (its note's digests: a trial's other photo's output was
                # replaced), its --compare file not
                it.redo = True  # (a trial: a full disk refused the .compare.png; the rerun said "exists")
                todo.append(it)
                continue
            if not folder:
                msg = f"{it.out}: exists (pass --overwrite to replace it)"
                if o["as_json"]:  # a record for this failure too, as for every other
                    stdout.echo(json.dumps({"input": shown(str(it.src), o), "output": str(it.out), **made_by(job),
                                            "status": "failed", "error": msg}))
                _err(msg)
                return 1
            why = incomplete(it.out)
            if why:
                broken.append((it, f"{it.out}: exists but {why}: delete it (or pass --overwrite) and rerun"))
            elif it.out in changed:
                it.redo = True
                todo.append(it)
            elif missing and made_otherwise(job, {it.out: made.get(it.out)}, unknown=True) is None:
                it.redo = True  # made by these settings, its --compare / std file not (a run killed between)
                todo.append(it)
            elif missing:
                broken.append((it, f"{it.out}: exists without {missing[0].name} and was not made by this command "
                                   "(its settings are not recorded): pass --overwrite to make both"))
            else:
                counts["skipped"] += 1
                then = made.get(it.out) or {}
                level = then.get("_level")
                if level is not None and (size := _image_size(it.out)) is not None:  # the levels note counts it
                    levels.append((level, *size))  # (a resumed folder's note counted only the images it restored)
                elif then and then.get("sigma") is None and tk.takes("sigma"):  # read then, not recorded: said
                    unrecorded += 1
                if o["as_json"]:
                    stdout.echo(json.dumps({"input": shown(str(it.src), o), "output": str(it.out), "status": "skipped",
                                            "reason": "already written"}))
            continue
        side = [] if o["overwrite"] or it.out == STDIO else [p for p in companions(o, it.out).values() if p.exists()]
        if side:  # a file the run would write beside the output is there already (and the output is not)
            if not folder:
                _err(f"{side[0]}: exists (pass --overwrite to replace it)")
                return 1
            broken.append((it, f"{side[0]}: exists (pass --overwrite to replace it)"))
        else:
            todo.append(it)
    bar = None
    if folder:
        bar = tqdm(total=len(items), initial=counts["skipped"], disable=o["quiet"] or not a_terminal(sys.stderr),
                   file=sys.stderr, unit="img", dynamic_ncols=True)
        stdout.bar = bar

    scores: list[dict] = []

    def report(it: Item, rec: dict | None, msg: str | None) -> None:
        nonlocal busy
        to_err = it.out == STDIO  # stdout holds the image
        if msg is None and rec.get("status") == "skipped":  # another run has it
            counts["skipped"] += 1
            busy += rec.get("reason") == "another run is writing it"
            if o["as_json"]:
                stdout.echo(json.dumps(rec))
        elif msg is None:
            counts["done"] += 1
            if o.get("_stdin_spool") is not None and rec.get("input") == str(o["_stdin_spool"]):
                rec["input"] = "-"  # as given, not the spool file that is gone once the run ends
            rec = {**rec, "status": "done"} if "status" not in rec else rec
            if "psnr" in rec:
                scores.append(rec)
            if rec.get("sigma_estimated") is True and isinstance(rec.get("sigma"), (int, float)):
                levels.append((rec["sigma"], rec.get("width"), rec.get("height")))
            if o["as_json"]:
                stdout.echo(json.dumps(rec), err=to_err)
            elif not folder:
                stdout.echo(result_line(rec), err=to_err)
            elif "psnr" in rec:  # a result: stdout, as a single image's (the bar is on stderr)
                stdout.echo(result_line(rec), above_bar=True)
            note = None if o["as_json"] or o["quiet"] else grown_note(rec)  # --json has it as holes_grown
            if note and not folder:
                click.echo(f"note: {note}", err=True)
            elif note:
                bar.write(one_line(f"note: {shown(str(it.src), o)}: {note}"), file=sys.stderr)
        else:
            msg = shown(msg, o)
            counts["failed"] += 1
            failures.append(msg)
            if o["as_json"]:
                stdout.echo(json.dumps({"input": shown(str(it.src), o), "output": str(it.out), **made_by(job),
                                        "status": "failed", "error": msg}), err=to_err)
            if folder:
                bar.write(one_line(f"failed: {msg}"), file=sys.stderr)
            elif not o["as_json"]:
                _err(msg)
        if bar is not None:
            bar.update(1)

    def warn(line: str) -> None:  # above the progress bar
        line = one_line(shown(line, o))
        if bar is not None:
            bar.write(line, file=sys.stderr)
        else:
            click.echo(line, err=True)

    for it, msg in broken:
        report(it, None, msg)
    import signal
    import threading

    def terminated(signum, frame):  # SIGTERM (timeout, kill, a scheduler) stops as Ctrl-C does: claims released
        raise Terminated

    old = signal.signal(signal.SIGTERM, terminated) if threading.current_thread() is threading.main_thread() else None
    try:
        if todo:  # nothing left to do starts no engine (Ray's start-up is seconds)
            ENGINES[o.get("engine", "local")](job, todo, report, warn, folder)
    except KeyboardInterrupt as e:
        if bar is not None:
            bar.close()
        how = "terminated" if isinstance(e, Terminated) else "interrupted"
        if folder and o["as_json"]:  # the summary of what was done, as a finished run gives it
            stdout.echo(json.dumps({"summary": counts, **({"busy": busy} if busy else {}), "failed": failures,
                                    "stopped": how}))
        so_far = f" after done {counts['done']}, skipped {counts['skipped']}, failed {counts['failed']}"
        _err(f"{how}{so_far}; rerun the same command to resume" if folder else how)  # one image: nothing to resume
        return 143 if isinstance(e, Terminated) else 130
    except RestoreError as e:  # refused before any image (e.g. the engine cannot start)
        if bar is not None:
            bar.close()
        _err(str(e))
        return 1
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    if bar is not None:
        bar.close()
    if folder:
        written = counts["skipped"] - busy  # kept as they are: made with these settings (or not recorded)
        why = "already written" + (", kept as they are: --overwrite redoes them" if written else "")
        if busy:
            why = (f"{written} already written, {busy} being written by another run: its .NAME.claim file beside "
                   "the output; delete those if no run is" + ("; --overwrite redoes those written" if written else ""))
        summary = f"done {counts['done']}, skipped {counts['skipped']} ({why}), failed {counts['failed']}"
        means = _means(scores)
        if o["as_json"]:
            one = {**next(iter(means.values())), "metric": next(iter(means))} if len(means) == 1 else None
            stdout.echo(json.dumps({"summary": counts, **({"busy": busy} if busy else {}), "failed": failures,
                                    **({"mean": one} if one else {"means": means} if means else {})}))
        else:
            for m, g in means.items():
                y = m[4:]
                summary += (f"; mean over {g['images']} with a reference{'' if len(means) == 1 else f' ({m})'}: "
                            f"PSNR{y} {g['psnr']:.2f} dB, SSIM{y} {g['ssim']:.4f}")
            stdout.echo(summary)  # each failure was printed once, as it happened
            note = None if o["quiet"] else levels_note(levels, tk, unrecorded)
            if note:
                click.echo(note, err=True)
    return 1 if counts["failed"] or stdout.failed else 0
