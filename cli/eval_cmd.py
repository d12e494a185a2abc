"""``restore eval TASK DATASET``: score samplers and classical tools on a folder of clean
images; one sub-command per registered task, its degradation options from the task's
declaration (``Task.eval_params``)."""

from __future__ import annotations

import csv
import json
import platform
import sys
import time
from pathlib import Path

import click

from restore.errors import RestoreError
from restore.registry import DEFAULT_METHOD, MAX_SEED
from restore.samplers import SAMPLERS

from .groups import CONTEXT, THREADS, TaskCommands, param_option, use_threads


class EvalGroup(TaskCommands):
    """``restore eval TASK``: one sub-command per task."""

    make = staticmethod(lambda name: eval_command(name))
    section = "Tasks"


@click.group("eval", cls=EvalGroup, context_settings=CONTEXT, short_help="score a task on a test set (PSNR/SSIM)")
def eval_cmd():
    """Score TASK on the clean images in DATASET with the published conventions.

    \b
    restore eval denoise DIR --sigma 25 --baselines
    restore eval TASK --help        (the task's degradation options)
    """


def _common(f):
    opts = [
        click.option("--samplers", default=None,
                     help="Comma- or '+'-separated samplers (default: the task's default); with options, "
                          "'+'-separated: 'dpir@sigma_max=0.3+ddnm@eta=0.5'. Options as the Python API takes "
                          "them: levels in 0-1 units (sigma_max=0.3 is 76.5 of 255)."),
        click.option("--steps", default=None, help="Comma-separated step counts to compare (default: sampler's)."),
        click.option("--baselines", is_flag=True,
                     help="Add the classical tools, measured in the same run, and a row for the input as given "
                          "(noisy, blurred, decode: where the methods start from; scored, as every output, as an "
                          "8-bit file holds it, clipped to 0-255 and rounded, while the methods get synthetic "
                          "noise unclipped)."),
        click.option("--limit", type=click.IntRange(1), default=None, help="Use only the first N images."),
        click.option("--every", type=click.IntRange(1), default=1, show_default=True,
                     help="Use every K-th image (name order), before --limit."),
        click.option("--pairs", is_flag=True,
                     help="DATASET holds real pairs: DATASET/noisy/NAME and DATASET/clean/NAME (tasks that take "
                          "real measurements: denoise)."),
        click.option("--slow-limit", type=click.IntRange(1), default=3, show_default=True,
                     help="Images given to slow baselines (BM3D)."),
        click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None, help="Per-image rows as CSV."),
        click.option("--json", "json_path", type=click.Path(path_type=Path), default=None,
                     help="Per-image rows as JSON."),
        click.option("--report", type=click.Path(path_type=Path), default=None,
                     help="Folder for a Markdown report, a PSNR-vs-steps plot and example grids."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
        click.option("--weights", default=None, help="Prior directory or shipped name."),
        click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
                     help="The samplers' seed (and inpainting's scene fill's). Each image's degradation "
                          "(noise, mask) is seeded by its place in DATASET, as the published tables' are, "
                          "whatever --seed; --every keeps those places."),
        click.option("--overwrite", is_flag=True, help="Replace existing --csv / --json / --report files."),
        THREADS,
        click.option("-q", "--quiet", is_flag=True, help="No progress lines nor notes on stderr; the table (and the "
                                                         "published figures it is read beside), errors and warnings "
                                                         "stay."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def eval_command(task: str) -> click.Command:
    from restore.tasks import get_task

    tk = get_task(task)

    def callback(dataset, **kw):
        kw.setdefault("pairs", False)  # options a task does not offer (see below)
        kw.setdefault("slow_limit", 3)
        degrade = {q.name: q.from_cli(kw.pop(q.name)) for q in tk.eval_params}
        ctx = click.get_current_context()
        typed = click.core.ParameterSource.COMMANDLINE
        given = [q for q in tk.eval_params if ctx.get_parameter_source(q.name) == typed]
        unused = set(tk.eval_unused(degrade))
        for q in given:  # an option of the synthetic degradation that would be ignored in silence
            if kw["pairs"]:
                raise click.UsageError(f"{q.option} does not apply to --pairs: the pairs' own degradation is scored")
            if q.name in unused:
                raise click.UsageError(f"{q.option} does not apply to {tk.describe({**degrade, 'pairs': False})}")
        # a text option given as comma-separated values (dejpeg's --quality 10,20,30): one evaluation each,
        # its files (--csv/--json/--report) named with the value
        many = {q.name: degrade[q.name].split(",") for q in tk.eval_params
                if q.many and isinstance(degrade[q.name], str) and "," in degrade[q.name]}
        if not many:
            _check_outputs(kw)
            return _evaluate(task, dataset, degrade, **kw)
        (k, values), = list(many.items())[:1]
        if len({int(v) if v.strip().isdigit() else v.strip() for v in values}) < len(values):  # one run twice, its
            # files written over by the second (10 and 010 the same quality)
            raise click.UsageError(f"a value given twice in --{k.replace('_', '-')} {degrade[k]}")
        import numpy as np

        runs = []
        for v in values:
            one = dict(kw)
            for f in ("csv_path", "json_path", "report"):
                if one.get(f) is not None:
                    one[f] = one[f].with_name(f"{one[f].stem}-{k}{v.strip()}{one[f].suffix}")
            _check_outputs(one)  # every run's files, before the first runs
            try:  # each value, before the first runs ("10,abc" ran quality 10 whole, then refused abc)
                tk.degrade("check", np.zeros((16, 16, 3), np.uint8), 0, **{**degrade, k: v.strip()})
            except RestoreError as e:
                raise click.UsageError(str(e)) from None
            runs.append((v.strip(), one))
        for v, one in runs:
            _evaluate(task, dataset, {**degrade, k: v}, **one)

    cmd = click.Command(task, callback=callback, context_settings=CONTEXT, short_help=tk.summary,
                        help=f"Score {task} ({tk.summary.split(' (')[0]}) on the clean images in DATASET.",
                        params=[click.Argument(["dataset"], type=click.Path(path_type=Path)),
                                *[param_option(q) for q in tk.eval_params]])
    # --pairs for tasks that take real pairs, --slow-limit for those with a slow baseline (both were offered to all)
    offered = {"pairs": bool(tk.pairs), "slow_limit": bool(tk.slow_baselines)}
    cmd.params.extend(q for q in _common(lambda **kw: None).__click_params__[::-1] if offered.get(q.name, True))
    return cmd


def _machine(dev) -> str:
    """The machine the seconds were measured on: its CPU (or GPU) model and cores, not its host
    name alone."""
    import os

    if getattr(dev, "type", str(dev)) == "cuda":
        import torch

        return f"{torch.cuda.get_device_name(dev)}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def _command() -> str | None:
    """The command line that made a run, as typed (for its report and records); None where
    this process is not the command line (click's test runner, a script calling main())."""
    import shlex

    a0 = Path(sys.argv[0])
    if not (a0.name == "restore" or (a0.name == "__main__.py" and a0.parent.name == "restore")):
        return None
    return "restore " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _check_outputs(kw: dict) -> None:
    """The files a run writes (--csv, --json, --report), checked before any work: an existing one
    is replaced only with --overwrite (they were replaced in silence), a report is a folder,
    and each one's folder exists (a missing one failed with a traceback after the work)."""
    named = [(what, kw[f]) for f, what in (("csv_path", "--csv"), ("json_path", "--json"), ("report", "--report"))
             if kw.get(f) is not None]
    for i, (what, path) in enumerate(named):  # one file for two outputs: the second replaced the first
        for other, q in named[:i]:
            if path.resolve() == q.resolve():
                raise click.UsageError(f"{other} and {what} name one file, {path}")
    for f, what in (("csv_path", "--csv"), ("json_path", "--json"), ("report", "--report")):
        path = kw.get(f)
        if path is None:
            continue
        if f == "report":  # a folder
            if path.exists() and not path.is_dir():
                raise click.UsageError(f"{what} {path}: a file; the report is a folder")
            if (path / "README.md").exists() and not kw.get("overwrite"):
                raise click.UsageError(f"{what} {path}: holds a report already; pass --overwrite to replace it")
        elif path.is_dir():
            raise click.UsageError(f"{what} {path}: a folder; give a file name")
        elif path.exists() and not kw.get("overwrite"):
            raise click.UsageError(f"{what} {path}: exists; pass --overwrite to replace it")
        elif not path.resolve().parent.is_dir():
            raise click.UsageError(f"{what} {path}: its folder {path.parent} does not exist")
        from restore.io import check_writable

        try:  # a folder that cannot be written (read-only, full): its traceback came after the whole evaluation
            check_writable(path if f == "report" else path.resolve().parent)
        except RestoreError as e:
            click.echo(f"error: {what} {e}", err=True)
            sys.exit(1)


def _evaluate(task, dataset, degrade, samplers, steps, baselines, limit, every, pairs, slow_limit, csv_path, json_path,
              report, device, weights, seed, threads, quiet, overwrite=False):
    from restore.api import get_prior, resolve_device

    use_threads(threads)
    from restore.evaluate import baselines_for, evaluate, load_dataset, load_pairs, markdown_table, summarise
    from restore.tasks import get_task

    tk = get_task(task)
    try:
        # ',' separates plain names; options use ',' inside ('@a=1,b=2'), so with options '+' does
        names = samplers.split("+") if samplers and ("@" in samplers or "+" in samplers) else (
            samplers.split(",") if samplers else [tk.eval_method or tk.sampler])
        for n in names:
            if "," in n.partition("@")[0]:  # "mmse,dpir@lam=0.3": ',' inside a sampler's options too
                raise click.BadParameter(f"'{samplers}': with options, samplers are '+'-separated: "
                                         f"'{samplers.replace(',', '+', n.partition('@')[0].count(','))}'")
            if n.partition("@")[0] not in SAMPLERS and n.partition("@")[0] != DEFAULT_METHOD:
                raise click.BadParameter(f"unknown sampler '{n}' (choose from {', '.join(SAMPLERS.names())})")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:  # one row of twice the images
            raise click.BadParameter(f"{', '.join(twice)} given twice in --samplers")
        step_list = [int(s) for s in steps.split(",")] if steps else None
    except ValueError:
        raise click.BadParameter("--steps takes comma-separated integers") from None
    if step_list and len(set(step_list)) < len(step_list):
        raise click.BadParameter(f"a step count given twice in --steps {steps}")
    if step_list and not all(1 <= s <= 1000 for s in step_list):  # what run() takes, said as the options are
        raise click.BadParameter(f"--steps takes step counts in 1-1000, got {steps}")
    try:
        dev = resolve_device(device)
        prior = get_prior(weights, dev)
        data = load_pairs(dataset, limit, every) if pairs else load_dataset(dataset, limit, every)
        bl = baselines_for(task) if baselines else []
        for name, how in (get_task(task).missing_baselines.items() if baselines and not quiet else ()):
            click.echo(f"note: {name} left out of the baselines (not installed: {how})", err=True)
        t0 = time.time()
        log = (lambda s: None) if quiet else (lambda s: click.echo(s, err=True))
        rows = evaluate(task, data, methods=names, steps=step_list, baselines=bl, slow_limit=slow_limit,
                        prior=prior, device=str(dev), seed=seed, progress=log, keep_outputs=report is not None,
                        indices=[j * every for j in range(len(data))], **degrade)  # places in the whole DATASET
    except RestoreError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    summary = summarise(rows)
    what = tk.describe({**degrade, "pairs": True} if pairs else degrade)
    from restore import __version__

    subset = f" (every {every}{f', first {limit}' if limit else ''})" if every > 1 else (
        f" (first {limit})" if limit else "")
    # what made the numbers, in every output (a trial's 60-step prior and the shipped one looked alike; two
    # priors in folders of one name did too: their weights' digest tells them apart)
    import torch

    from restore.prior.weights import prior_digest, resolve_prior_dir

    prior_name = prior.name or str(weights or "restore-small")
    try:
        prior_dir = resolve_prior_dir(weights)
        prior_id = {"prior_path": str(prior_dir.resolve()), "prior_weights": prior_digest(prior_dir)}
    except (RestoreError, OSError):
        prior_id = {}
    machine = _machine(dev)
    setting = {k: v for k, v in degrade.items() if isinstance(v, (int, float, str, bool)) or v is None}
    if pairs:  # the pairs' own degradation was scored: the synthetic one's defaults (sigma 25, gaussian) made none
        setting = {"pairs": True}  # (a trial: every row said sigma 25; the levels read are each row's sigma_read)
    if setting.get("masks"):  # inpaint's mask files: its generated family's default made none of them
        setting.pop("mask", None)
    run = {"restore": __version__, "prior": prior_name, **prior_id, "seed": seed, "limit": limit, "every": every,
           "samplers": names, "steps": step_list, "device": str(dev), "machine": machine,
           "torch": torch.__version__, "threads": torch.get_num_threads(), "command": _command()}
    head = (f"restore eval {task} {dataset} ({what}); {len(data)} images{subset}; prior {prior_name}"
            + (f" ({prior_id['prior_weights']})" if prior_id else "") + f", seed {seed}; "
            f"restore {__version__}, torch {torch.__version__}; {machine}, device {dev}, "
            f"{torch.get_num_threads()} threads; {time.time() - t0:.0f} s")
    table = markdown_table(summary)
    click.echo(head)
    click.echo(table)

    def named(r):  # a row's method, and its step count where several were asked for
        return r["method"] + (f" at {r['_asked']} steps" if len(step_list or []) > 1 else "")

    for r in summary:  # why a method's images were refused (the first one's words; every one's in --csv / --json)
        if r.get("failed"):
            why = next(x["failed"] for x in rows if x["method"] == r["method"] and "failed" in x
                       and x["_asked"] == r["_asked"])
            click.echo(f"{named(r)}: {r['failed']} of {r['failed'] + r['images']} images failed: {why}", err=True)
    published = tk.published(degrade, str(dataset))
    if published:
        click.echo(published)
    # each row with what made it (CSVs of several settings were told apart by their file names alone)
    plain = [{**{k: v for k, v in r.items() if not k.startswith("_")}, "dataset": str(dataset), **setting,
              "restore": __version__, "seed": seed, "torch": torch.__version__, "machine": machine, "device": str(dev),
              "threads": torch.get_num_threads(), "limit": limit, "every": every, "command": _command(),
              **({"prior": prior_name, **prior_id} if r["kind"] == "restore" else {"prior": ""})} for r in rows]
    if csv_path:
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=sorted({k for r in plain for k in r}))
            w.writeheader()
            w.writerows(plain)
    if json_path:
        def finite(v):  # NaN (a method that failed on every image) as null: strict JSON has no NaN
            return {k: finite(x) for k, x in v.items()} if isinstance(v, dict) else (
                [finite(x) for x in v] if isinstance(v, list) else None if isinstance(v, float) and v != v else v)

        shown = [{k: v for k, v in r.items() if not k.startswith("_")} for r in summary]
        Path(json_path).write_text(json.dumps(finite({"task": task, "dataset": str(dataset), "setting": setting,
                                                      "run": run, "summary": shown, "rows": plain}), indent=1,
                                              allow_nan=False))
    if report:
        from restore.report import example_grid, psnr_vs_steps_plot

        report.mkdir(parents=True, exist_ok=True)
        plot = psnr_vs_steps_plot(summary, report / "psnr_vs_steps.png", title=f"{task} {what}")
        grid = example_grid(rows, report / "examples.png")
        md = [f"# {task} on {dataset}", "", head, "", *([f"`{_command()}`", ""] if _command() else []), table, "",
              f"![PSNR vs steps]({plot.name})", ""]
        if grid:
            panels = "clean | degraded | best classical | restore" if bl else "clean | degraded | restore"
            md += [f"Worst and best images ({panels}):", "", f"![examples]({grid.name})"]
        (report / "README.md").write_text("\n".join(md) + "\n")
        click.echo(f"report: {report / 'README.md'}", err=True)
    empty = [r for r in summary if not r["images"]]  # no image gave this row a result: no number for it
    if empty:  # the table, --csv, --json and --report are written, but the evaluation asked for was not done
        click.echo(f"error: no result from {', '.join(map(named, empty))}: failed on every image (reasons above)",
                   err=True)
        sys.exit(1)
