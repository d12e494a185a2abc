"""The ``restore`` command: a thin click layer over the Python API.

torch is imported only inside commands that restore or train, so ``restore --help`` and
``restore list`` answer fast. Exit codes: 0 ok, 1 some input failed, 2 usage error.
Progress goes to stderr, results (``--json`` lines, summaries) to stdout.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from pathlib import Path

import click

from restore.errors import RestoreError, UsageError
from restore.paths import PREDICTIONS
from restore.registry import MAX_SAMPLES, MAX_SEED
from restore.samplers import SAMPLERS
from restore.tasks import TASKS

from .groups import CONTEXT, FORMATS, THREADS, FiniteFloat, TaskCommands, param_option, use_threads
from .jobs import a_terminal


def _fail(msg: str, code: int = 1) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(code)


DEFAULT_STEPS = 20000  # restore train's --steps for a new run
LOG_EVERY = 60.0  # seconds between restore train's plain progress lines where stderr is no terminal


def _stored_recipe(output: Path) -> dict | None:
    """The recipe a run's checkpoint holds (None: no readable checkpoint; train() says why)."""
    try:
        stored = json.loads((output / "checkpoint" / "state.json").read_text())["config"]
        int(stored["steps"])
        return stored
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _resume_conflicts(stored: dict, given: dict) -> None:
    """Refuse options given with --resume that differ from the checkpoint's recipe ``stored``,
    which a resumed run keeps (all but --steps): they were silently ignored."""
    differ = []
    for name, v in given.items():
        if name in ("channels", "blocks"):
            v = [int(t) for t in str(v).split(",")]
        if name in stored and stored[name] != v and not (isinstance(v, float) and math.isclose(stored[name], v)):
            was = ",".join(map(str, stored[name])) if isinstance(stored[name], list) else stored[name]
            differ.append(f"--{name.replace('_', '-')} {was}")
    if differ:
        _fail(f"--resume keeps the checkpoint's recipe (all but --steps), which has {', '.join(differ)}: leave those "
              "options out, or train into another folder", 2)


def _init_prediction(init: str, prediction: str) -> None:
    """Refuse ``--prediction`` other than the ``--init`` prior's own, which a warm start keeps
    (it was ignored in silence)."""
    from restore.errors import RestoreError
    from restore.prior.weights import read_config, resolve_prior_dir

    try:
        own = read_config(resolve_prior_dir(init)).get("prediction", "eps")
    except RestoreError:
        return  # not a prior: train() says why
    if own != prediction:
        _fail(f"--init takes the prior's architecture and target (--prediction {own}): --prediction {prediction} "
              "does not apply", 2)


class TaskGroup(TaskCommands):
    """The top command: the task commands, then list, train, eval, convert."""

    make = staticmethod(lambda name: task_command(name))

    def invoke(self, ctx):
        """Ctrl-C anywhere a command does not take it itself (loading, before the first step)
        exits 130, as the README's exit codes say, not click's "Aborted!" with 1. The library's
        own warnings (``warnings.warn`` in restore, e.g. a big prior on the CPU) read as the
        command line's: one ``warning: ...`` line, not a file path and a source line. Pillow's
        decompression-bomb limit is lifted for the command (``--max-pixels``, checked before any
        decode, is its limit; the library leaves Pillow's to the program that calls it)."""
        import warnings

        from PIL import Image as PILImage

        import restore

        shown = warnings.showwarning
        ours = (str(Path(restore.__file__).resolve().parent), str(Path(__file__).resolve().parent))

        def one_line(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, UserWarning) and str(Path(filename).resolve()).startswith(ours):
                click.echo(f"warning: {message}", err=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = one_line
        pil_limit, PILImage.MAX_IMAGE_PIXELS = PILImage.MAX_IMAGE_PIXELS, None
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            sys.exit(130)
        finally:
            warnings.showwarning = shown
            PILImage.MAX_IMAGE_PIXELS = pil_limit


@click.group(cls=TaskGroup, context_settings=CONTEXT)
@click.version_option(package_name="restore", prog_name="restore")
def main() -> None:
    """Image restoration with a diffusion prior: the tasks are the commands below.

    \b
    restore inpaint photo.png mask.png -o out.png
    restore denoise noisy.png --sigma 25
    restore sr small.png --scale 4
    restore denoise IN_DIR -o OUT_DIR         (whole folders, resumable)
    restore TASK --help                       (a task's own options)
    """


class SamplerChoice(click.ParamType):
    """``NAME`` or ``NAME@KEY=VALUE,...``: a registered sampler and its own options, as
    ``restore eval --samplers`` takes them; gives ``(name, options)``."""

    name = "sampler"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        from restore.registry import parse_method

        try:
            name, hyper = parse_method(str(value))
        except RestoreError as e:
            self.fail(str(e), param, ctx)
        if name not in SAMPLERS:
            self.fail(f"unknown sampler '{name}' (choose from: {', '.join(SAMPLERS.names())})", param, ctx)
        return name, hyper


def common_options(f):
    """Options shared by the restoring commands."""
    opts = [
        click.option("-o", "--output", type=click.Path(), default=None,
                     help="Output file (single image) or folder (folder input; a single image's too, when it "
                          "exists or ends with /). Default: <stem>.<task>.png beside the input / "
                          "<IN_DIR>.<task>/."),
        click.option("--sampler", type=SamplerChoice(), default=None, metavar="NAME[@KEY=VALUE,...]",
                     help="Reverse sampler (default per task, see `restore list`), optionally with its own "
                          "options, e.g. mmse@poses=8 (average of the 8 flips/rotations, 8 evaluations) or "
                          "ddnm@eta=0.5; `restore list` shows each sampler's options."),
        click.option("--steps", type=click.IntRange(1, 1000), default=None,
                     help="Network evaluations (default: the task's for its sampler, as `restore list` shows)."),
        click.option("--sigma-max", type=FiniteFloat(0, None, min_open=True), default=None,
                     help="First noise level of the sampler, 0-255 units (default: the task's for its default "
                          "sampler, the sampler's own otherwise: see `restore list`). A low start refines "
                          "the operator's first estimate; the largest starts from pure noise (a level above the "
                          "prior's top starts at its top)."),
        click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
                     help="Random seed: a sampler's noise (and a task's own draws, as its help says)."),
        click.option("--samples", type=click.IntRange(1, MAX_SAMPLES), default=1, show_default=True,
                     help="Posterior samples: writes their mean, and <out>.std.png (std x4)."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
                     help="Where the network runs: auto takes the GPU when there is one."),
        click.option("--weights", type=str, default=None,
                     help="Prior directory or shipped name (default: restore-small)."),
        click.option("--compare", is_flag=True, help="Also write <output stem>.compare.png beside the output "
                                                     "(out.jpg: out.compare.png): input | output [| std]."),
        click.option("--json", "as_json", is_flag=True,
                     help="One JSON line per image on stdout (on stderr with -o -, where stdout carries the image); "
                          "what was read from an image (a noise level, a JPEG's quality, the bits) is in it, not "
                          "in a note; warnings stay on stderr, and the task's about an image are in its record's "
                          "\"warnings\" too."),
        click.option("--reference", type=click.Path(path_type=Path, readable=False), default=None,
                     help="Ground truth (file, or folder matched by stem): adds PSNR/SSIM."),
        click.option("--overwrite", is_flag=True, help="Replace existing outputs."),
        click.option("--recursive", is_flag=True, help="Folder mode: descend into sub-folders, keep the tree."),
        click.option("--glob", "pattern", default=None, help="Folder mode: only files matching this pattern."),
        click.option("--max-pixels", type=click.IntRange(1), default=None,
                     help="Refuse larger images (default 100 MP, against decompression bombs)."),
        click.option("--batch-size", type=click.IntRange(1, 256), default=None,
                     help="Folder mode: images of the same size per sampler batch (default: 1 on CPU, "
                          "where batching is no faster; on a GPU by image size and free memory)."),
        click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="Folder mode: 'ray' spreads the images over a Ray cluster (RAY_ADDRESS, or a local "
                          "one); needs restore[ray]."),
        click.option("--workers", type=click.IntRange(1), default=None,
                     help="--engine ray: workers, each holding the prior once (default: one per GPU, or "
                          "the cluster's CPUs / 2)."),
        click.option("--format", "format", type=click.Choice(FORMATS), default=None,
                     help="Output type of a folder's or several files' images (default png, which keeps 16 bits "
                          "and alpha; jpg and webp are smaller, with --quality), and of a single image's without -o."),
        click.option("--quality", "out_quality", type=click.IntRange(1, 100), default=None,  # not a task's quality
                     help="JPEG / WebP output quality, 1-100 (default: JPEG 95, WebP lossless)."),
        click.option("--no-location", is_flag=True,
                     help="Leave where the photo was taken out of the outputs (the EXIF's GPS block, the XMP's GPS "
                          "properties and place names); the rest of its metadata is kept, as always."),
        THREADS,
        click.option("-q", "--quiet", is_flag=True,
                     help="No progress bars or notes (such as the noise level estimated); each output's line "
                          "(its path and seconds), warnings and errors stay."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _plain(text: str) -> str:
    """A docstring as a help text: Sphinx roles (``:func:`x` ``) as their names."""
    return re.sub(r":(?:func|data|meth|class|mod):`~?([^`]+)`", r"\1", text).replace("``", "")


def task_command(name: str) -> click.Command:
    """``restore NAME IMAGE [FILES...] [task options] [common options]`` from the declaration."""
    from restore.tasks import get_task

    tk = get_task(name)
    cli_params = [q for q in tk.params if q.cli]

    def callback(inputs, **kw):
        from restore import io
        from restore.errors import RestoreError

        from .runner import STDIO, Job, run_job

        params = {q.name: q.from_cli(kw.pop(q.name)) for q in cli_params}
        raw = kw.get("output")  # "out/" names a folder, made if missing (Path() drops the slash)
        if raw is not None and not raw.strip():  # Path("") is ".": the outputs went into the working folder
            raise click.UsageError("-o is empty: give an output file or folder, or leave -o out")
        kw["output"] = None if raw is None else Path(raw)
        kw["_output_folder"] = raw is not None and raw != "-" and raw.endswith(("/", os.sep))
        if kw.get("sigma_max") is not None:
            kw["sigma_max"] /= 255.0
        kw["sampler"], kw["sampler_options"] = kw["sampler"] or (None, {})
        n = tk.cli_files(params)
        images, given = list(inputs[: len(inputs) - n]), list(inputs[len(inputs) - n:])
        files = dict(zip(tk.files, given + [None] * (len(tk.files) - len(given))))
        if not images:
            files = dict.fromkeys(tk.files)
            images = list(inputs)
        try:
            tk.cli_check(files, params)
        except RestoreError as e:
            raise click.UsageError(str(e)) from None
        out = kw.get("output")
        if tk.files and n == 0 and len(images) == 2 and out is not None and out.suffix.lower() in io.READ_EXTS:
            raise click.UsageError(f"{images[1]}: the input already names the holes (e.g. --mask alpha), so "
                                   f"there is no {tk.files[0].upper()} argument; two IMAGEs need -o FOLDER")
        sys.exit(run_job(Job(name, [STDIO if str(p) == "-" else p for p in images], files, params, kw)))

    files_help = "".join(f" {f.upper()}" for f in tk.files)
    doc = (f"{_plain(' '.join((tk.__doc__ or tk.summary).split()))}\n\n"
           "IMAGE is a file, several files (a batch: -o names a folder), a folder, or - (stdin; the result then "
           "goes to stdout as PNG, as with -o -)"
           + (f"; {files_help.strip()} a file or a folder (matched by file stem)" if tk.files else "")
           + ". Options marked 'folder mode' apply to folders and to several files.")
    cmd = click.Command(name, callback=callback, help=doc, context_settings=CONTEXT,
                        short_help=tk.summary,
                        params=[click.Argument(["inputs"], nargs=-1, required=True,
                                               type=click.Path(path_type=Path, readable=False),  # ours says why
                                               metavar="IMAGE..." + files_help),
                                *[param_option(q) for q in cli_params]])
    cmd.params.extend(common_options(lambda **kw: None).__click_params__[::-1])
    seed = next(p for p in cmd.params if p.name == "seed")
    seed.help = "Random seed: a sampler's noise" + (f", and {tk.seed_help}" if tk.seed_help else "") + "."
    return cmd


@main.command("list", context_settings=CONTEXT, short_help="tasks, samplers and priors, with their defaults")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--weights", "weights", multiple=True, metavar="PRIOR",
              help="Also describe this prior (a folder `restore train` or `restore convert` wrote, a diffusers "
                   "folder); repeatable.")
def list_(as_json, weights):
    """Tasks, samplers (the tasks each serves, default steps, start), the shipped priors and
    those --weights names."""
    from restore.api import sampler_options
    from restore.paths import find_priors
    from restore.tasks import get_task

    def start(v, sampler):  # a first noise level, 0-255 units
        if not SAMPLERS.get(sampler).scheduled:
            return "at the noise level"
        return "from pure noise" if v is None else f"from sigma {v * 255:.3g}"

    tks = {n: get_task(n) for n in TASKS.names()}
    tasks = {n: {"default_sampler": t.sampler, "default_steps": t.steps, "summary": t.summary,
                 "start": None if t.sigma_max is None or not SAMPLERS.get(t.sampler).scheduled
                 else round(t.sigma_max * 255, 3),
                 **({"start_note": t.start_note} if t.start_note else {}),
                 **({"default_note": t.default_note} if t.default_note else {}),
                 "options": [q.option for q in t.params if q.cli]} for n, t in tks.items()}
    samplers = {}
    for n, s in SAMPLERS.items():
        serves = [t for t, tk in tks.items() if s.serves(tk.capabilities)]
        samplers[n] = {"tasks": serves, "needs": sorted(s.needs), "default_steps": s.default_steps,
                       "summary": s.summary, "stochastic": s.stochastic, "scheduled": s.scheduled,
                       "start": None if s.sigma_max is None else round(s.sigma_max * 255, 3),
                       "options": sampler_options(s.load())}
    priors = find_priors()
    for p in priors:  # the cost its config recorded; counted (torch) only where none is
        if "gflops_256" not in p:
            from restore.prior.weights import describe_prior

            p.update(describe_prior(p["path"]))  # configs only, no weights
    for w in dict.fromkeys(weights):  # a user's: described from its config (no weights read)
        from restore.prior.files import foreign_format
        from restore.prior.weights import describe_prior as describe, read_config, resolve_prior_dir

        try:
            d = resolve_prior_dir(w)
            desc = describe(d)
            info = read_config(d).get("info", {}) if foreign_format(d) is None else {}
        except RestoreError as e:
            _fail(str(e))
        if any(Path(p["path"]).resolve() == d.resolve() for p in priors):  # listed already (a shipped one)
            continue
        priors.append({**desc, "path": str(d.resolve()), "default": False, "user": True,
                       "info": info if isinstance(info, dict) else {}})
    if as_json:
        click.echo(json.dumps({"tasks": tasks, "samplers": samplers, "priors": priors}))
        return
    def evals(n: int) -> str:
        return f"{n} evaluation" + ("s" if n != 1 else "")

    click.echo("tasks (default sampler, its evaluations and first noise level, 0-255):")
    tw = max(len(t["summary"]) for t in tasks.values())
    for n, t in tks.items():
        first = t.start_note if t.sigma_max is None and t.start_note else start(t.sigma_max, t.sampler)
        click.echo(f"  {n:<9} {t.summary:<{tw}}  {t.sampler}, {evals(t.steps)}, {first}"
                   + (f" ({t.default_note})" if t.default_note else ""))
    click.echo("samplers (as another task's sampler: their own start; --sigma-max overrides):")
    sw = max(len(s["summary"]) for s in samplers.values())
    for n, s in SAMPLERS.items():
        kind = "samples" if s.stochastic else "deterministic"
        click.echo(f"  {n:<9} {s.summary:<{sw}}  {kind:<13}  {start(s.sigma_max, n):<18}  "
                   f"{evals(s.default_steps):<14}  tasks: {', '.join(samplers[n]['tasks'])}")
    click.echo("sampler options (--sampler NAME@KEY=VALUE,...; defaults, a task's default sampler runs with "
               "the settings measured for the task):")
    for n, s in samplers.items():
        opts = ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in s["options"].items())
        click.echo(f"  {n:<9} {opts or '-'}")
    click.echo("priors:")
    for p in priors:
        click.echo(f"  {p['name']:<14} {p['arch']:<9} {p['parameters'] / 1e6:6.1f} M  {p['gflops_256']:7.1f} GFLOPs/256²  "
                   f"native {p['native_size'] or 'any'}  {p['path']}")
        info = p.get("info") or {}
        if p.get("user") and isinstance(info.get("steps"), int):  # a user's: how far trained
            val = info.get("val_psnr_sigma25")
            click.echo(f"  {'':<14} trained {info['steps']} steps" + (f" of {info['steps_planned']}" if
                       info.get("steps_planned", info["steps"]) != info["steps"] else "")
                       + (f", PSNR {val:.2f} dB at sigma 25 on its validation images" if isinstance(val, float) else ""))
    if not priors:
        click.echo("  (none found)")


@main.command(context_settings=CONTEXT, short_help="train a prior on a folder of images")
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))  # missing: exit 1, checked below
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Prior directory to write (config.json, model.safetensors, log.jsonl, checkpoint/).")
@click.option("--steps", type=click.IntRange(1), default=None,
              help="Training steps in all.  [default: 20000; with --resume, the steps the run planned]")
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True)
@click.option("--crop", type=click.IntRange(16), default=128, show_default=True,
              help="Training crop side: a multiple of the network's size step (4 with the default --channels; "
                   "2 x 2^(levels - 1) in general).")
@click.option("--lr", type=FiniteFloat(0, None, min_open=True), default=4e-4, show_default=True)
@click.option("--channels", default="64,128,160,160", show_default=True, help="Width per U-Net level.")
@click.option("--blocks", default="1,2,2,2", show_default=True, help="Residual blocks per level.")
@click.option("--prediction", type=click.Choice(PREDICTIONS), default="eps", show_default=True,
              help="Network target: DDPM noise (the shipped prior) or EDM preconditioning "
                   "(better clean-image estimates at large sigma).")
@click.option("--mismatch", type=FiniteFloat(0, 1), default=0.0, show_default=True,
              help="Fraction of crops noised below the level the network is told (a random fraction of it): "
                   "the denoiser learns to leave inputs cleaner than their stated sigma alone. Measured: it "
                   "costs dpir's inpainting and SR (benchmarks/results/mismatch_cpu.md), so 0 is the default.")
@click.option("--checkpoint-every", type=click.IntRange(1), default=1000, show_default=True)
@click.option("--eval-every", type=click.IntRange(1), default=500, show_default=True)
@click.option("--val-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Images for the learning curve (PSNR at sigma=25 of the EMA denoiser).")
@click.option("--resume", is_flag=True, help="Continue from OUTPUT/checkpoint (weights, EMA, optimiser, step, RNG).")
@click.option("--init", "init", default=None, metavar="PRIOR",
              help="Warm-start from a prior (directory or shipped name): its architecture and weights.")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the training step (CUDA).")
@click.option("--val-count", type=click.IntRange(1), default=4, show_default=True,
              help="Validation images (centre crops) on the learning curve.")
@click.option("--max-minutes", type=FiniteFloat(0, None, min_open=True), default=None,
              help="Stop (with a checkpoint) after this long; a STOP file in OUTPUT or SIGTERM stops the same way.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Start over in an OUTPUT that holds a prior or a run: its checkpoint "
              "and log are removed, its weights and config replaced.")
@THREADS
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@click.pass_context
def train(ctx, data_dir, output, steps, batch_size, crop, lr, channels, blocks, prediction, mismatch,
          checkpoint_every, eval_every, val_dir, resume, init, compile_, val_count, max_minutes, device, seed,
          overwrite, threads, quiet):
    """Train a prior on the images in DATA_DIR (any sizes, gray or RGB).

    Ctrl-C (or SIGTERM, a STOP file in OUTPUT, --max-minutes) stops at the next step with a
    checkpoint; --resume continues to the steps the run planned (or to --steps), with its
    recipe and its --val-dir."""
    use_threads(threads)
    try:
        ch = tuple(int(v) for v in channels.split(","))
        bl = tuple(int(v) for v in blocks.split(","))
    except ValueError:
        raise click.BadParameter("--channels/--blocks take comma-separated integers") from None
    if (len(ch) != len(bl) or not ch) and not resume and init is None:  # those take a stored architecture
        raise click.BadParameter("--channels and --blocks need the same number of levels")
    for name, d in (("DATA_DIR", data_dir), ("--val-dir", val_dir)):  # a missing input is exit 1, as for the tasks
        if d is not None and not d.is_dir():
            _fail(f"{d}: no such folder ({name})")
    if output.exists() and not output.is_dir():
        _fail(f"{output}: exists and is not a folder")
    from restore.paths import CONFIG_FILE, WEIGHTS_FILE
    from restore.train import recover_run

    if resume and overwrite:
        _fail("--resume and --overwrite exclude each other (--overwrite starts the run over)", 2)
    ckpt = output / "checkpoint"
    if output.is_dir():
        try:  # a save cut off, an --overwrite killed before its first checkpoint: put right before the checks
            recover_run(output)
        except RestoreError as e:
            _fail(str(e))
    if output.exists() and not resume and not overwrite and ckpt.exists():
        _fail(f"{output}: holds a checkpoint already (use --resume to go on, --overwrite to start over, or "
              "another -o)", 2)
    if not resume and any((output / f).exists() for f in (CONFIG_FILE, WEIGHTS_FILE)) and not overwrite:
        _fail(f"{output}: holds a prior already (pass --overwrite to replace it, or use another -o)", 2)
    given = [n for n in ("batch_size", "crop", "lr", "channels", "blocks", "prediction", "mismatch", "seed")
             if ctx.get_parameter_source(n) == click.core.ParameterSource.COMMANDLINE]
    if init is not None and {"channels", "blocks"} & set(given):
        _fail("--init takes the prior's architecture: --channels / --blocks do not apply", 2)
    if init is not None and "prediction" in given:
        _init_prediction(init, prediction)
    stored = _stored_recipe(output) if resume else None
    if stored is not None and given:
        _resume_conflicts(stored, {n: ctx.params[n] for n in given})
    typed = {n for n in ("checkpoint_every", "eval_every", "val_count")
             if ctx.get_parameter_source(n) == click.core.ParameterSource.COMMANDLINE}
    from tqdm import tqdm

    from restore.api import resolve_device
    from restore.train import TrainConfig
    from restore.train import train as train_fn

    term = []

    def on_term(signum, frame):  # before the loop (reading the images), SIGTERM stops as Ctrl-C: said (it was not)
        term.append(signum)
        raise KeyboardInterrupt

    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)
    planned = int(stored["steps"]) if stored is not None and steps is None else None
    if stored is not None:  # when to checkpoint and validate: the run's own unless given (they change no weights)
        checkpoint_every = checkpoint_every if "checkpoint_every" in typed else stored.get("checkpoint_every",
                                                                                            checkpoint_every)
        eval_every = eval_every if "eval_every" in typed else stored.get("eval_every", eval_every)
        planned = None if typed & {"checkpoint_every", "eval_every"} else planned
    try:
        dev = resolve_device(device)
        steps = steps or planned or (int(stored["steps"]) if stored is not None else DEFAULT_STEPS)
        cfg = None if planned else TrainConfig(  # resumed as it was: the checkpoint's recipe as it is
            steps=steps, batch_size=batch_size, crop=crop, lr=lr, channels=ch, blocks=bl, prediction=prediction,
            mismatch=mismatch, checkpoint_every=checkpoint_every, eval_every=eval_every, seed=seed, compile=compile_,
            warmup=min(500, max(1, steps // 10)))
        bar = None
        logged = 0.0  # off a terminal (a log file: a bar's redraws piled up), a plain line a minute and at each
        # validation instead

        def cb(rec):
            nonlocal bar, logged
            if not quiet and not a_terminal(sys.stderr):
                now = time.monotonic()
                if rec.get("started") or rec.get("val_psnr_sigma25") is not None or now - logged >= LOG_EVERY:
                    logged = now
                    loss = f", loss {rec['loss']:.4f}" if rec.get("loss") is not None else ""
                    val = (f", validation PSNR at 25 {rec['val_psnr_sigma25']:.2f} dB"
                           if rec.get("val_psnr_sigma25") is not None else "")
                    click.echo(f"step {rec['step']}/{steps}{loss}{val}", err=True)
                return
            if rec.get("started"):  # made as the steps start (a run refused before prints no empty bar), at the
                bar = tqdm(total=steps, initial=rec["step"], disable=quiet, file=sys.stderr, unit="step",
                           dynamic_ncols=True)  # step it resumes at: the rate counts this run's steps, as they go
                return
            b = bar
            if rec["step"] >= b.n:
                b.update(rec["step"] - b.n)
            else:  # rolled back (a diverged interval)
                b.n = rec["step"]
            post = {"loss": f"{rec['loss']:.4f}" if rec.get("loss") is not None else "-"}
            if rec.get("val_psnr_sigma25") is not None:
                post["psnr25"] = f"{rec['val_psnr_sigma25']:.2f}"
            b.set_postfix(post, refresh=True)

        out = train_fn(data_dir, output, cfg, device=str(dev), resume=resume, init=init, val_dir=val_dir,
                       val_count=val_count if "val_count" in typed or not resume else None,
                       max_minutes=max_minutes, callback=cb, overwrite=overwrite)
        if bar is not None:
            bar.close()
    except RestoreError as e:  # options that do not go together (another --val-dir on --resume) exit 2, as click's
        _fail(str(e), 2 if isinstance(e, UsageError) else 1)
    except KeyboardInterrupt:  # before the training loop, which takes Ctrl-C as a stop with a checkpoint
        code = 143 if term else 130
        if (output / "checkpoint" / "state.json").exists():
            _fail("interrupted (resume with --resume)", code)
        _fail("interrupted before the first step: nothing to resume (run the command again)", code)
    except (RuntimeError, MemoryError) as e:  # torch's OutOfMemoryError (CUDA), a CPU allocation's RuntimeError
        if not isinstance(e, MemoryError) and not any(t in str(e) for t in ("out of memory", "allocate memory")):
            raise
        _fail(f"out of memory: lower --batch-size ({batch_size}) or --crop ({crop})")
    from restore.prior.weights import read_config
    from restore.train import stability_problem

    info = read_config(out).get("info", {})
    if info.get("stopped"):
        import shlex

        again = f"restore train {shlex.quote(str(data_dir))} -o {shlex.quote(str(out))} --resume"
        click.echo(f"stopped at step {info['steps']} of {info.get('steps_planned', steps)} ({info['stopped']}); "
                   f"prior and checkpoint written to {out}: `{again}` goes on (with the run's recipe)", err=True)
        if info["stopped"] in ("SIGINT", "SIGTERM"):
            sys.exit(130 if info["stopped"] == "SIGINT" else 143)
    else:
        click.echo(f"prior written to {out}")
    problem = stability_problem(info)
    if problem:
        click.echo(f"warning: the prior is unstable on noise-free inputs ({problem}); inpainting and "
                   "dpir will give garbage with it: train on, or use an earlier checkpoint", err=True)


from .convert_cmd import convert  # noqa: E402
from .eval_cmd import eval_cmd  # noqa: E402

main.add_command(eval_cmd)
main.add_command(convert)

from .ui.command import ui  # noqa: E402  (click only; the server loads when `restore ui` runs)

main.add_command(ui)

if __name__ == "__main__":  # pragma: no cover
    main()
