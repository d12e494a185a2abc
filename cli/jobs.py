"""A CLI job and its plan: which images, which outputs (pairing by file stem, stdin, folders,
several files), checked before any work. No restoring here (:mod:`.local` does it)."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from restore import io
from restore.errors import InputError, UsageError
from restore.io import LINK_TO_NOTHING, check_output_path, check_writable
from restore.paths import DEFAULT_PRIOR
from restore.tasks import get_task

from .groups import FORMATS

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
    redo: bool = False  # an existing output made again (its companions missing): it may be replaced


#: the names of :func:`companions` beside ``<out stem>``
COMPANION_SUFFIX = {"std": ".std.png", "compare": ".compare.png"}


def companions(opts: dict, out: Path) -> dict[str, Path]:
    """The files a run writes beside the output ``out``, by what they hold: ``std``
    (``--samples`` > 1: the per-pixel spread) and ``compare`` (``--compare``). They follow the
    output's rules: an existing one is replaced only with ``--overwrite``, and never when it is
    a file the run reads."""
    c = {}
    if opts.get("samples", 1) > 1:
        c["std"] = out.with_name(out.stem + COMPANION_SUFFIX["std"])
    if opts.get("compare"):
        c["compare"] = out.with_name(out.stem + COMPANION_SUFFIX["compare"])
    return c


def beside(src: Path, task: str, ext: str = "png") -> Path:
    """A run's default output for one image: ``<stem>.<task>.<ext>`` beside it."""
    return src.with_name(f"{src.stem}.{task}.{ext}")


def _ext(o: dict) -> str:
    """The output type ``--format`` asks for (png when not given)."""
    return o.get("format") or "png"


def settings(job: Job) -> dict:
    """What decides an output's pixels, as the command line gave it (None: the default): the
    task, its options (noise levels in 0-255), the sampler and its options, steps, first noise
    level, seed, samples and prior; not the input files, the engine or the threads. A file an
    option names (``--exclude``, a prior's folder) is there by its name alone: an output shared
    does not tell the folders of the machine that made it. A batch's outputs carry it
    (:func:`note`), so that a rerun into the folder can tell that they were made otherwise
    (:func:`made_otherwise`)."""
    o, tk = job.opts, get_task(job.task)
    files = set(tk.option_files(job.params))

    def plain(v, unit=1.0, file=False):
        if isinstance(v, Path) or (isinstance(v, str) and (file or "/" in v or "\\" in v)):  # deblur's kernel file too
            return Path(v).name
        if unit != 1.0 and isinstance(v, (int, float)) and not isinstance(v, bool):
            return round(v * unit, 4)
        return v

    s = {"task": job.task, **{q.name: plain(job.params.get(q.name), q.unit, q.name in files)
                              for q in tk.params if q.cli}}
    sm, w = o.get("sigma_max"), o.get("weights")
    sampler, options, steps, sm = _as_default(job, o.get("sampler"), dict(o.get("sampler_options") or {}),
                                              o.get("steps"), sm)
    oq = o.get("out_quality")
    if _ext(o) not in ("jpg", "jpeg", "webp") or (_ext(o) in ("jpg", "jpeg") and oq == io.DEFAULT_QUALITY):
        oq = None  # a lossless output takes none (it is said so), a JPEG's default named
    s.update(sampler=sampler, sampler_options=options, steps=steps,
             sigma_max=None if sm is None else round(sm * 255, 4), seed=o.get("seed", 0) if _seeded(job) else None,
             samples=o.get("samples", 1), output_quality=oq, weights=_prior_named(w),
             prior_weights=_prior_weights(w), no_location=bool(o.get("no_location")))
    return json.loads(json.dumps(s, default=str))  # as read back from a file (tuples as lists)


def _prior_weights(w) -> str | None:
    """The prior's :func:`~restore.prior.weights.prior_digest`: a prior trained again in its
    folder keeps its name, and a rerun into a folder of its outputs kept those of the old
    weights beside the new ones' in silence. None where the prior cannot be read (the run
    says why)."""
    from restore.errors import RestoreError
    from restore.prior.weights import prior_digest, resolve_prior_dir

    try:
        return prior_digest(resolve_prior_dir(w))
    except (RestoreError, OSError):
        return None


def _prior_named(w) -> str | None:
    """``--weights`` as :func:`settings` records it: None for the default prior however it is
    named (``restore-small``, or the path of its folder), else the folder's name."""
    if w is None:
        return None
    from restore.api import _prior_key

    if _prior_key(str(w)) == _prior_key(None):
        return None
    name = Path(str(w).rstrip("/\\")).name
    return name if name not in ("", ".", "..") else Path(str(w)).resolve().name  # --weights . : the folder's name


def _seeded(job: Job) -> bool:
    """Whether the seed can change this job's pixels: a sampler that draws noise, or a task that
    draws with it itself (inpainting's scene fill). With a deterministic one (denoise's mmse, dpir)
    any seed gives the same outputs, and the record says none (a rerun with another is not refused)."""
    from restore.samplers import SAMPLERS

    tk = get_task(job.task)
    if tk.seeded:
        return True
    try:
        spec = SAMPLERS.get(job.opts.get("sampler") or tk.recipe(job.params).sampler)
    except Exception:  # noqa: BLE001 - as given: a run that fails says why elsewhere
        return True
    return bool(getattr(spec, "stochastic", True))


def _default_level(job: Job) -> float | None:
    """The first noise level (0-255) run() takes for this job's sampler when ``--sigma-max`` is
    left out, for a task that runs one recipe for the whole image; else None."""
    from restore.samplers import check_compatible
    from restore.tasks.base import Task

    tk = get_task(job.task)
    if type(tk).regions is not Task.regions:
        return None
    try:
        rc = tk.recipe(job.params)
        name = job.opts.get("sampler") or rc.sampler
        level = rc.sigma_max if name == rc.sampler else check_compatible(name, tk).sigma_max
    except Exception:  # noqa: BLE001 - as given: a run that fails says why elsewhere
        return None
    return None if level is None else round(level * 255, 4)


def _defaults_named(job: Job) -> dict:
    """What :func:`settings` records as None (the default) where it was given by value, as a
    record made before it did so holds it: the default sampler's ``--sigma-max``, a JPEG
    output's ``--quality``."""
    out = {"sigma_max": _default_level(job)}
    if _ext(job.opts) in ("jpg", "jpeg"):
        out["output_quality"] = io.DEFAULT_QUALITY
    return {k: v for k, v in out.items() if v is not None}


def _as_default(job: Job, sampler, options: dict, steps, sigma_max=None):
    """``--sampler``, its options, ``--steps`` and ``--sigma-max`` with what is the default said
    as the default (None, no option): ``--sampler mmse`` for denoise, whose sampler it is, or
    ``--steps 8`` (``--sigma-max 51``) for sr, make the same pixels as neither. Only for tasks
    that run one recipe for the whole image; inpainting chooses one per hole (a named sampler or
    step count there changes the scene fill's holes), so there they stay as given."""
    from restore.tasks.base import Task

    tk = get_task(job.task)
    if type(tk).regions is not Task.regions:
        return sampler, options, steps, sigma_max
    try:
        from restore.api import default_steps, sampler_options
        from restore.samplers import check_compatible

        rc = tk.recipe(job.params)
        name = sampler or rc.sampler
        spec = check_compatible(name, tk)
        own = name == rc.sampler
        defaults = {**sampler_options(spec.load()), **(dict(rc.options) if own else {})}
    except Exception:  # noqa: BLE001 - as given: a run that fails says why elsewhere
        return sampler, options, steps, sigma_max
    options = {k: v for k, v in options.items() if k not in defaults or defaults[k] != v}
    if steps is not None and steps == default_steps(rc, spec, sampler):
        steps = None
    if sigma_max is not None and round(sigma_max * 255, 4) == _default_level(job):
        sigma_max = None
    return (None if own else sampler), options, steps, sigma_max


def digests(job: Job, it: Item) -> dict | None:
    """What an output was made from, by content: the first 16 hex digits of the SHA-256 of its
    input file, of each file of the task's (a mask) and of each file an option names (an
    ``--exclude`` mask, a kernel image), by name; None for stdin. Recorded in the output's note,
    so that a rerun into the folder can tell an input changed since (an edited photo, another
    mask) from one that did not, where names and settings are the same."""
    import hashlib

    if it.src == STDIO:
        return None
    named = [(k, v) for k, v in sorted(job.params.items()) if isinstance(v, (str, os.PathLike)) and Path(v).is_file()]
    out = {}
    for name, f in (("image", it.src), *sorted(it.files.items()), *named):
        if f is None or f == STDIO:
            continue
        h = hashlib.sha256()
        try:
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except OSError:  # unreadable now: the run says so where it reads it
            return None
        out[name] = h.hexdigest()[:16]
    return out


def note(job: Job, it: Item | None = None, resolved: dict | None = None, named: dict | None = None,
         level: float | None = None) -> str:
    """The text an output carries (:func:`restore.io.read_note`): the version, :func:`settings`
    and, for an item, its inputs' :func:`digests`; ``resolved``: what the options left to the
    task (None in the settings) came to for this image (sr's kernel); ``named``: the names the
    settings give files an option names, where not their own (the browser app's painted layer
    and uploads, stored under the server's names); ``level``: the noise level told where it was read
    from the image (0-255, as the record's ``sigma``), which a resumed folder run's levels note counts."""
    from restore import __version__

    made = {"restore": __version__, "settings": {**settings(job), **(named or {})}}
    if it is not None:
        made["inputs"] = digests(job, it)
    if resolved:
        made["resolved"] = resolved
    if level is not None:
        made["level"] = level
    return json.dumps(made, sort_keys=True, ensure_ascii=True)


def _notes(outputs: list[Path]) -> dict[Path, dict | None]:
    """Each output's :func:`note`, read back (None where it has none: another program's file,
    an older restore's, a BMP)."""
    from restore.io import read_note

    out = {}
    for p in outputs:
        try:
            n = json.loads(read_note(p) or "null")
            out[p] = n if isinstance(n, dict) and isinstance(n.get("settings"), dict) else None
        except ValueError:
            out[p] = None
    return out


def recorded(outputs: list[Path]) -> dict[Path, dict | None]:
    """Each existing output's recorded :func:`settings` (its note), None where it has none
    (another program's file, an older restore's, a BMP)."""
    out: dict[Path, dict | None] = {}
    for p, n in _notes(outputs).items():
        if n is None:
            out[p] = None
            continue
        out[p] = dict(n["settings"])
        if isinstance(n.get("resolved"), dict):
            out[p]["_resolved"] = n["resolved"]
        if isinstance(n.get("level"), (int, float)) and not isinstance(n["level"], bool):
            out[p]["_level"] = n["level"]  # (not a setting: made_otherwise compares this run's keys only)
    return out


def inputs_changed(job: Job, items: list[Item], unknown: bool = False) -> list[tuple[Item, list[str]]]:
    """The items whose existing output records :func:`digests` of its inputs that differ from
    theirs now (the photo, its mask or a file an option names changed since it was made), each
    with the names of those inputs (``image``, ``mask``, ``kernel``, ...); an output that records
    none (an older restore's) is not judged (with ``unknown``, it counts as changed: ``["inputs"]``),
    nor an item missing a file (a mask deleted since: the run fails it in its own words)."""
    notes = _notes([it.out for it in items])
    out = []
    for it in items:
        then = (notes.get(it.out) or {}).get("inputs")
        if not isinstance(then, dict) and unknown:
            out.append((it, ["inputs"]))
            continue
        if not isinstance(then, dict) or not all(f is not None and Path(f).exists() for f in it.files.values()):
            continue
        now = digests(job, it)
        if then != now:
            now = now or {}
            out.append((it, sorted(k for k in set(then) | set(now) if then.get(k) != now.get(k))))
    return out


def stdout_gone() -> None:
    """stdout, found closed or full, pointed at the null device: what is printed there later (and
    Python's own flush at exit) raises no second error."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def made_by(job: Job) -> dict:
    """What every ``--json`` record of a job names, done or failed: its task and prior."""
    return {"task": job.task, "prior": str(job.opts.get("weights") or DEFAULT_PRIOR)}


def a_terminal(f) -> bool:
    """Whether the stream ``f`` is a terminal (progress bars are drawn only there: in a log file
    their redraws piled up, a trial's)."""
    try:
        return f.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def some(paths: list[Path], noun: str = "output") -> str:
    """``a.png``, or ``a.png and 2 other outputs``: a list of files said by its first."""
    n = len(paths)
    return f"{paths[0]}{f' and {n - 1} other {noun}' + ('s' if n > 2 else '') if n > 1 else ''}"


class _Chosen(str):
    """A value an option left to the task came to for an output (:func:`note`'s ``resolved``)."""


def made_otherwise(job: Job, made: dict[Path, dict | None], unknown: bool = False) -> str | None:
    """The error for existing outputs (a batch's, to be kept) that were made with other
    settings than this run's, as their records (:func:`recorded`) ``made`` say; None when none
    was (an output without a record is not judged; with ``unknown``, it counts as made
    otherwise)."""
    now, clash, diff = settings(job), [], None
    named = _defaults_named(job)
    for out, then in made.items():
        if then is None:
            if unknown:
                clash.append(out)
                diff = diff or []
            continue
        # a seed recorded by a run it could not change (None; before, a number) is no difference
        same_weights = now.get("prior_weights") is not None and then.get("prior_weights") == now["prior_weights"]
        came_to = then.get("_resolved") or {}  # what a choice left to the task came to for that output
        d = [k for k in now if k in then and then[k] != now[k] and not (k == "seed" and None in (then[k], now[k]))
             and not (k == "weights" and same_weights)  # the same weights under another folder's name
             and not (then[k] is None and k in came_to and came_to[k] == now[k])  # the default, named
             and not (now[k] is None and k in named and then[k] == named[k])]  # the default, named by an older run
        if d:
            clash.append(out)
            diff = diff or [(k, _Chosen(came_to[k]) if then[k] is None and k in came_to else then[k], now[k])
                            for k in d]
    if not clash:
        return None

    options = {q.name: q.option for q in get_task(job.task).params if q.cli and q.option}
    read = {q.name for q in get_task(job.task).params if q.default is None}  # left out: read from the image
    options["output_quality"] = "--quality"

    def shown(k, v):
        opt = options.get(k, f"--{k.replace('_', '-')}")
        if k == "task":
            return f"restore {v}"
        if k == "prior_weights":
            return f"the prior's weights {v or '(unknown)'}"
        if k == "sampler_options":
            return f"the sampler's options {','.join(f'{a}={b}' for a, b in v.items()) or '(none)'}"
        if isinstance(v, bool):
            return opt if v else f"no {opt}"
        if isinstance(v, _Chosen):
            return f"{opt} {v} (the default for its input)"
        if v is None:
            if k in ("sigma", "quality", "jpeg_quality") and k in read:  # read from the image or its file
                return f"{opt} estimated"
            if k == "weights":
                return "the shipped prior"
            return f"{opt} the default" if k in ("sampler", "steps", "sigma_max", "output_quality",
                                                 "sigma") else f"no {opt}"
        return f"{opt} {f'{v:g}' if isinstance(v, float) else v}"

    what = "; ".join(f"{shown(k, a)} (this run: {shown(k, b)})" for k, a, b in diff[:3]) or "not recorded"
    n = len(clash)
    return (f"{some(clash)} in the output folder {'were' if n > 1 else 'was'} made with other settings: {what}. "
            f"Pass --overwrite to redo {'them' if n > 1 else 'it'}, or choose another -o")


def one_line(msg: str) -> str:
    """A message for the terminal on one line: a file name's line breaks written as ``\\n``
    (a name holding one split its failure over two lines)."""
    return msg.replace("\r", "\\r").replace("\n", "\\n")


def _err(msg: str) -> None:
    click.echo(f"error: {one_line(msg)}", err=True)


def _note(o: dict, msg: str) -> None:
    """A note on stderr (what the run left out or chose), unless ``-q``."""
    if not o.get("quiet"):
        click.echo(f"note: {one_line(msg)}", err=True)


def _glob_match(rel: Path, pattern: str) -> bool:
    """Whether ``rel`` (a path under the input folder) matches ``--glob``, case-blind, by its
    name or its whole relative path; ``**/`` also matches no folder at all (``**/*.png`` takes
    the top level's PNGs too, as a shell's globstar does)."""
    pat = pattern.lower()
    pats = [pat] + ([pat[3:]] if pat.startswith("**/") else [])
    return any(fnmatch.fnmatchcase(n.lower(), q) for n in (rel.name, str(rel)) for q in pats)


def _list_images(root: Path, recursive: bool, pattern: str | None, o: dict | None = None,
                 out_dir: Path | None = None) -> list[Path]:
    o = o or {}
    it = root.rglob("*") if recursive else root.glob("*")
    # hidden files and folders (.thumbs/, ._IMG.png, a run's .claim and .tmp files) are no inputs
    entries = [p for p in it if not any(n.startswith(".") for n in p.relative_to(root).parts)]
    files = [p for p in entries if p.is_file()]
    dangling = [p for p in entries if p.is_symlink() and not p.exists()]
    if dangling:  # not in silence: a photo the user meant may be behind it
        they = "they point" if len(dangling) > 1 else "it points"
        _note(o, f"{root}: {some(dangling, 'broken link')} left out (what {they} to is missing)")
    special = [p for p in entries if p.exists() and not p.is_file() and not p.is_dir()
               and (not pattern or _glob_match(p.relative_to(root), pattern))]
    if special:  # not in silence either
        _note(o, f"{root}: {some(special, 'special file')} left out (a pipe, a socket or a device: no image file)")
    if pattern:  # case-blind, as the plain scan's extensions are ('*.jpg' takes UPPER.JPG)
        files = [p for p in files if _glob_match(p.relative_to(root), pattern)]
    else:
        earlier = _earlier_outputs(files)
        if earlier:  # a run on one file wrote <stem>.<task>.png beside it: not an input of the folder's run
            _note(o, f"{root}: {len(earlier)} earlier output{'s' if len(earlier) > 1 else ''} of restore left out "
                     "(<stem>.<task>.png beside their inputs, <out>.compare.png and <out>.std.png beside their "
                     "outputs); --glob takes them")
            files = [p for p in files if p not in earlier]
        made = _outputs_below(root, files) if recursive else []
        if made:  # an earlier run's -o inside the input folder: its outputs are no photos of this run's
            folders = sorted({str(p.parent.relative_to(root)) for p in made})
            more = len(folders) - 1
            _note(o, f"{root}: {len(made)} output{'s' if len(made) > 1 else ''} of an earlier restore run left out "
                     f"(in {folders[0]}{f' and {more} other folder' + ('s' if more > 1 else '') if more else ''}: an "
                     "-o inside the input folder; their files carry restore's note); --glob takes them")
            files = [p for p in files if p not in set(made)]
        rest = [p for p in files if p.suffix.lower() not in READ_EXTS]
        if rest:  # said, not skipped in silence (a .gif given by name, or by --glob, is read)
            kinds = sorted({p.suffix.lower() or "(none)" for p in rest})
            _note(o, f"{root}: {len(rest)} file{'s' if len(rest) > 1 else ''} of other types left out "
                     f"({', '.join(kinds)}); --glob takes them")
        files = [p for p in files if p.suffix.lower() in READ_EXTS]
    if not recursive and not o.get("quiet"):
        out = None if out_dir is None else out_dir.resolve()
        subs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.resolve() != out]
        if subs:  # said, as other files are: their images are restored with --recursive
            _note(o, f"{root}: {len(subs)} sub-folder{'s' if len(subs) > 1 else ''} left out ({subs[0].name}"
                     f"{', ...' if len(subs) > 1 else ''}); --recursive takes them")
    return sorted(files)


def _outputs_below(root: Path, files: list[Path]) -> list[Path]:
    """The images of ``files`` in sub-folders of ``root`` that an earlier restore run wrote (their
    note records its settings: :func:`recorded`): a folder run's ``-o`` kept inside its input
    folder, which a later ``--recursive`` run with another ``-o`` read as photos (a trial). The
    top level's are not judged: a run's output folder given as the input is restored again."""
    below = [p for p in files if len(p.relative_to(root).parts) > 1 and p.suffix.lower() in READ_EXTS]
    return [p for p, n in _notes(below).items() if n is not None]


def _earlier_outputs(files: list[Path]) -> set[Path]:
    """The files that a run on one of ``files`` wrote beside it by default (:func:`beside`, and its
    companions), and the companions of any output among them (``<out>.compare.png`` and
    ``<out>.std.png`` beside ``<out>.png``: a folder run's output folder given as the input)."""
    from restore.tasks import TASKS

    outs = {beside(p, t, e) for p in files if p.suffix.lower() in READ_EXTS for t in TASKS.names() for e in FORMATS}
    outs |= {o.with_name(o.stem + sfx) for o in outs | set(files) for sfx in COMPANION_SUFFIX.values()}
    return outs.intersection(files)


#: a file's stem, case-folded, as ``<base><sep><word><digits>`` (``img1_mask001``): the files a task's
#: file input (``word``: a mask) names by its image's stem
_TAIL = re.compile(r"(.+)[._-]([a-z]+)\d*")


def _stem_index(d: Path, listing: dict) -> tuple[dict, dict, dict]:
    """The image files of folder ``d`` by stem, by case-folded stem and by (base, word) of
    :data:`_TAIL`, listed once per plan (``listing``: the plan's cache)."""
    if d not in listing:
        exact, fold, tail = {}, {}, {}
        try:
            files = sorted(Path(e.path) for e in os.scandir(d) if Path(e.name).suffix.lower() in READ_EXTS)
        except OSError:
            files = []
        for f in files:
            st = f.stem
            exact.setdefault(st, []).append(f)
            fold.setdefault(st.casefold(), []).append(f)
            m = _TAIL.fullmatch(st.casefold())
            if m:
                tail.setdefault((m[1], m[2]), []).append(f)
        listing[d] = exact, fold, tail
    return listing[d]


def _by_stem(folder: Path, rel: Path, name: str | None = None, listing: dict | None = None,
             itself: Path | None = None) -> Path | None:
    """The file in ``folder`` (same sub-path) whose stem matches ``rel``'s, any image type: the
    same stem, else the same stem in another case (``IMG1.png`` for ``img1.jpg``), else for a task's
    file input ``name`` (a mask) the stem with it after ``_``, ``-`` or ``.`` (``img1_mask.png``,
    ``img1_mask001.png``, as LaMa's data name them); never ``itself`` (the image, where the masks
    share its folder). Two files at the first level found refuse. ``listing``: a plan's cache of
    the folders' files (listed once, not once per image)."""
    exact, fold, tail = _stem_index(folder / rel.parent, {} if listing is None else listing)
    stem, me = rel.stem, None if itself is None else itself.resolve()
    for cands in (exact.get(stem, ()), fold.get(stem.casefold(), ()), tail.get((stem.casefold(), name), ()) if name
                  else ()):
        found = {}
        for f in cands:
            if f.is_file() and f.resolve() != me:
                found.setdefault(f.resolve(), f)  # one file under two spellings (a case-blind disk) once
        if len(found) > 1:  # which one was meant cannot be told: refused, as two inputs of one stem are
            a, b = sorted(found.values())[:2]
            raise UsageError(f"{a} and {b} both match {stem}: keep one of them")
        if found:
            return next(iter(found.values()))
    return None


def _unmatched_note(items: list, job: Job) -> None:
    """A note before the work on a task's folder of files (masks) that does not match the images:
    the images it holds nothing for (they fail when their turn comes; the others run) and its
    files that match no image (a trial: both were silent, the first said only as each failed)."""
    for n, f in job.files.items():
        if f is None or not f.is_dir():
            continue
        missing = [_shown_in(it.files[n], f) for it in items if not it.files[n].is_file()]
        used = {it.files[n].resolve() for it in items if it.files[n].is_file()} | {it.src.resolve() for it in items}
        walk = f.rglob("*") if job.opts.get("recursive") else f.iterdir()
        spare = sorted(_shown_in(p, f) for p in walk if p.suffix.lower() in READ_EXTS and p.is_file()
                       and p.resolve() not in used)
        if missing:
            one = len(missing) == 1
            _note(job.opts, f"{len(missing)} of {len(items)} images {'has' if one else 'have'} no {n} in {f} "
                            f"({_some(missing)}): {'it fails' if one else 'they fail'}, the others run ({n}s are "
                            f"matched by file stem: <stem>.png, or <stem>_{n}.png)")
        if spare:
            one = len(spare) == 1
            _note(job.opts, f"{len(spare)} file{'' if one else 's'} in {f} {'matches' if one else 'match'} none of the "
                            f"images restored: {_some(spare)}")


def _shown_in(p: Path, folder: Path) -> str:
    """``p`` as a path under ``folder`` (``s2/a.png``), its name where it is not under it."""
    try:
        return p.relative_to(folder).as_posix()
    except ValueError:
        return p.name


def _some(names: list[str], most: int = 4) -> str:
    return ", ".join(names[:most]) + (f", ... ({len(names) - most} more)" if len(names) > most else "")


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


def shown(msg: str, o: dict) -> str:
    """A message with stdin's spool file named as the user gave it (``-``)."""
    spool = o.get("_stdin_spool")
    return msg.replace(str(spool), "- (stdin)") if spool else msg


def plan(job: Job) -> tuple[list[Item], bool]:
    """Items to process and whether this is a batch (a folder or several files; raises
    InputError on bad paths)."""
    o = job.opts
    for name, f in get_task(job.task).option_files(job.params).items():  # e.g. --exclude FILE
        if not f.is_file():
            raise InputError(f"{f}: no such file (--{name.replace('_', '-')})")
    get_task(job.task).check_option_files(job.params)  # read once (a bad --kernel file failed every image)
    ref = o.get("reference")
    if ref is not None and not ref.exists():
        raise InputError(f"{ref}: no such file or directory (--reference)")
    if len(job.inputs) > 1:
        return _checked_before_work(_plan_files(job), o), True
    src = job.inputs[0]
    if src == STDIO:
        if any(f == STDIO for f in job.files.values()):
            raise InputError("only one input can come from stdin")
        src = _spool_stdin()
        o["_stdin_spool"] = src
        if o.get("output") is None:
            o["output"] = STDIO
    if not src.exists():
        if src.is_symlink():  # (a loop of links was "no such file or directory": a trial)
            raise InputError(f"{src}: {LINK_TO_NOTHING}")
        raise InputError(f"{src}: no such file or directory")
    if not src.is_file() and not src.is_dir():  # it went on as a folder: a traceback ("Not a directory")
        raise InputError(f"{src}: not an image file nor a folder (a pipe, a socket or a device)")
    if src.is_file():
        for name, f in job.files.items():
            if f is not None and not f.exists():
                raise InputError(f"{f}: no such file")
            if f is not None and f.is_dir():
                raise UsageError(f"{f}: is a folder but the image is a single file")
        out = o.get("output") or beside(src, job.task, _ext(o))
        if out != STDIO and (_is_dir(out) or o.get("_output_folder")):
            out = out / beside(src, job.task, _ext(o)).name
        elif o.get("format") and o.get("output") is not None:  # -o names the type: --format must agree
            want = {"jpg": (".jpg", ".jpeg"), "tif": (".tif", ".tiff")}.get(o["format"], ("." + o["format"],))
            if out == STDIO and o["format"] != "png":
                raise UsageError(f"--format {o['format']}: stdout (-o -) takes PNG")
            if out != STDIO and out.suffix.lower() not in want:
                raise UsageError(f"{out}: --format {o['format']} and -o {out.suffix or 'without a type'} disagree "
                                 "(-o names a single image's type; --format is for folders, batches, or no -o)")
        if out != STDIO:
            try:
                check_output_path(out)
            except InputError as e:  # an output type that cannot be written: the command as given
                raise UsageError(f"{e}; -o DIR/ writes into a folder" if not out.suffix else str(e)) from None
        r = ref if ref is None or ref.is_file() else _by_stem(ref, Path(src.name))
        return _checked_before_work([Item(src, dict(job.files), out, r)], o), False
    if o.get("output") == STDIO:
        raise UsageError("-o - (stdout) takes one image, not a folder")
    named = src if src.name not in ("", ".", "..") else Path(os.path.abspath(src))  # "." and "..": the folder's name
    out_dir = o.get("output") or named.with_name(f"{named.name}.{job.task}")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: exists and is not a folder (folder input needs an output folder)")  # (exit 2,
        # as several files given one file: a trial)
    if not out_dir.exists() and out_dir.suffix.lower() in READ_EXTS:  # an image's name: not made a folder
        raise UsageError(f"{out_dir}: a folder input needs an output folder, not a file")
    for f in job.files.values():
        if f is not None and not f.exists():
            raise InputError(f"{f}: no such file or directory")
    top, outs = src.resolve(), out_dir.resolve()
    if outs == top:
        raise UsageError(f"{out_dir}: is the input folder; give the outputs another folder with -o")
    # the run's own inputs that are not images to restore: a mask (or masks folder), a reference,
    # an --exclude file kept in the input folder
    own = [f.resolve() for f in (*job.files.values(), ref, *get_task(job.task).option_files(job.params).values())
           if f is not None and f.exists() and f.resolve() != top]  # the input folder as the references: itself
    items, listing = [], {}
    shared = {n for n, f in job.files.items() if f is not None and f.is_dir() and f.resolve() == top}  # masks there
    for p in _list_images(src, o.get("recursive", False), o.get("pattern"), o, out_dir):
        rel = p.relative_to(src)
        rp = p.resolve()
        if outs in rp.parents:
            continue  # never read our own outputs
        if any(rp == f or f in rp.parents for f in own):
            continue  # a mask or reference that sits among the images
        files = {n: f if f is None or f.is_file() else (_by_stem(f, rel, n, listing, p if n in shared else None)
                                                          or f / rel) for n, f in job.files.items()}
        r = None
        if ref is not None:
            r = ref if ref.is_file() else _by_stem(ref, rel, listing=listing)
        items.append(Item(p, files, out_dir / rel.parent / f"{rel.stem}.{_ext(o)}", r))
    if shared:  # LaMa's layout, image1.png beside image1_mask001.png: the masks are no images to restore
        masks = {it.files[n].resolve() for it in items for n in shared if it.files[n].is_file()}
        kept = [it for it in items if it.src.resolve() not in masks]
        if len(kept) < len(items):
            _note(o, f"{len(items) - len(kept)} of the images in {src} are the others' "
                     f"{'/'.join(sorted(shared))}s (<stem>_mask...): used as such, not restored")
        items = kept
    if not items:
        deeper = not o.get("recursive") and any(d.is_dir() and not d.name.startswith(".") for d in src.iterdir())
        raise InputError(f"{src}: no images found" + (" (try --recursive: it has subfolders)" if deeper else ""))
    _check_distinct_outputs(items)
    _unmatched_note(items, job)
    return _checked_before_work(items, o), True


def _is_dir(p: Path) -> bool:
    """``p.is_dir()``, False for a name the file system refuses (too long: check_output_path says so)."""
    try:
        return p.is_dir()
    except OSError:
        return False


def _checked_before_work(items: list[Item], o: dict) -> list[Item]:
    """``items``, unless ``--reference`` is a folder that holds no reference for any of them
    (an image scored against nothing would be a run that silently skipped what was asked),
    or an output's folder cannot be written (found before the work, not after it). In a
    folder run, images without a reference of their own are restored and not scored."""
    ref, overwrite = o.get("reference"), o.get("overwrite", False)
    if ref is not None and ref.is_dir() and not any(it.ref is not None for it in items):
        what = items[0].src.name if len(items) == 1 else "any of the images"
        raise InputError(f"{ref}: holds no reference for {what} (--reference: a file, or a folder of "
                         "images with the inputs' names)")
    for d in sorted({it.out.parent for it in items if it.out != STDIO and (overwrite or not it.out.exists())}):
        check_writable(d)  # only where something is to be written: a finished folder run is all skips
    return items


def _check_distinct_outputs(items: list[Item]) -> None:
    """Refuse, before any work, two inputs whose outputs would be the same file (``a.png``
    and ``a.jpg`` both write ``a.png``): one would overwrite or 'skip' the other."""
    seen: dict[Path, Path] = {}
    for it in items:
        if it.out in seen:
            if os.path.abspath(seen[it.out]) == os.path.abspath(it.src):
                raise UsageError(f"{it.src}: given twice")
            raise UsageError(f"{seen[it.out]} and {it.src} would both write {it.out} (same file stem): "
                             "rename one, or choose with --glob")
        seen[it.out] = it.src


def _plan_files(job: Job) -> list[Item]:
    """Several image files: a batch like a folder (outputs in ``-o DIR`` or beside each
    input, existing ones skipped, failures reported at the end)."""
    o = job.opts
    out_dir, ref = o.get("output"), o.get("reference")
    if out_dir == STDIO or STDIO in job.inputs:
        raise UsageError("stdin / stdout (-) take one image, not several")
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: exists and is not a folder (several inputs need an output folder)")
    if out_dir is not None and out_dir.suffix.lower() in READ_EXTS:
        raise UsageError(f"{out_dir}: several inputs need an output folder, not a file")
    for f in job.files.values():
        if f is not None and not f.exists():
            raise InputError(f"{f}: no such file or directory")
    if not any(p.exists() for p in job.inputs):
        raise InputError(f"{job.inputs[0]}: no such file or directory" + (" (nor any other input)" if len(job.inputs) > 1 else ""))
    dirs = [p for p in job.inputs if p.is_dir()]
    if dirs and len(dirs) == len(job.inputs):
        raise UsageError(f"{dirs[0]}: is a folder; give one folder, or several image files")
    if dirs:  # a shell's photos/* that matched a sub-folder: left out, said, the files run
        _note(o, f"{len(dirs)} folder{'s' if len(dirs) > 1 else ''} among the inputs left out ({dirs[0]}"
                 f"{', ...' if len(dirs) > 1 else ''}); give a folder alone to restore its images")
    items, listing = [], {}  # a missing one among several fails alone (its read says so), the others run
    for p in job.inputs:
        if p.is_dir():
            continue
        files = {n: f if f is None or f.is_file() else (_by_stem(f, Path(p.name), n, listing) or f / p.name)
                 for n, f in job.files.items()}
        r = None if ref is None else (ref if ref.is_file() else _by_stem(ref, Path(p.name), listing=listing))
        out = (out_dir / f"{p.stem}.{_ext(o)}") if out_dir is not None else beside(p, job.task, _ext(o))
        items.append(Item(p, files, out, r))
    _check_distinct_outputs(items)
    _unmatched_note(items, job)
    return items
