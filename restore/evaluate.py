"""Evaluation with the published conventions (``../shared/BENCHMARKS.md``).

Each task declares its degradation (``Task.degrade``: seeded per image by its index), its
scoring convention (``Task.score``: e.g. the Y channel with the border shaved for
super-resolution, hole PSNR for inpainting) and the classical tools a user would pick
instead (``Task.baselines``), which run in the same loop.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .api import check_sampler_options, run, sampler_options
from .errors import InputError, RestoreError, caught_warnings
from .io import READ_EXTS, read_image, to_uint8
from .registry import DEFAULT_METHOD, parse_method
from .samplers import check_compatible
from .tasks import TASKS, get_task
from .tasks.base import Case

__all__ = ["Case", "baselines_for", "evaluate", "load_dataset", "load_pairs", "make_case", "parse_method", "score",
           "summarise"]


def load_dataset(root: str | Path, limit: int | None = None, every: int = 1) -> list[tuple[str, np.ndarray]]:
    """The clean images of ``root`` in name order (every ``every``-th, then the first ``limit``)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in READ_EXTS)
    _one_per_stem(files, root)
    files = files[::every]
    if not files:
        raise InputError(f"{root}: no images")
    files = files[:limit] if limit else files
    out, deep, alpha = [], 0, 0
    for p in files:
        im = read_image(p)
        img = im.color
        deep += img.dtype != np.uint8
        alpha += im.array.ndim == 3 and im.array.shape[2] in (2, 4)
        out.append((p.stem, to_uint8(img)))
    _said_8_bit(deep, len(files), root)
    if alpha:  # said, not dropped in silence
        warnings.warn(f"{root}: {alpha} of {len(files)} images have transparency: scored on their colour, the alpha "
                      "left out", stacklevel=2)
    return out


def _one_per_stem(files: list[Path], root: Path) -> None:
    """Refuse two images of one stem (``a.png``, ``a.jpg``): rows, ``--masks`` and real pairs
    are matched by stem, and two rows named alike could not be told apart."""
    seen: dict[str, Path] = {}
    for p in files:
        if p.stem in seen:
            raise InputError(f"{root}: {seen[p.stem].name} and {p.name} share the name {p.stem} (rows and masks are "
                             "matched by name): keep one")
        seen[p.stem] = p


def _said_8_bit(deep: int, n: int, root: Path) -> None:
    """A warning that ``deep`` of ``n`` images were more than 8 bits: scored at 8, the published
    tables' depth (said, not done in silence)."""
    if deep:
        warnings.warn(f"{root}: {deep} of {n} images have more than 8 bits: scored at 8 bits (rounded), as the "
                      "published tables are", stacklevel=3)


def load_pairs(root: str | Path, limit: int | None = None, every: int = 1) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Real measurement/truth pairs: ``root/noisy/NAME.*`` beside ``root/clean/NAME.*``,
    matched by file stem (every ``every``-th pair in name order, then the first ``limit``)."""
    root = Path(root)
    dirs = {d: root / d for d in ("noisy", "clean")}
    for d, p in dirs.items():
        if not p.is_dir():
            raise InputError(f"{root}: no {d}/ folder (--pairs reads {root}/noisy/ and {root}/clean/, matched by name)")
    found = {d: sorted(f for f in p.iterdir() if f.suffix.lower() in READ_EXTS) for d, p in dirs.items()}
    for d, fs in found.items():
        _one_per_stem(fs, dirs[d])
    files = {d: {f.stem: f for f in fs} for d, fs in found.items()}
    alone = sorted(set(files["noisy"]) ^ set(files["clean"]))
    if alone:
        raise InputError(f"{root}: {len(alone)} image(s) without a pair, e.g. {alone[0]}")
    names = sorted(files["noisy"])[::every]
    if not names:
        raise InputError(f"{root}: no image pairs")
    names = names[:limit] if limit else names
    out, deep = [], 0
    for n in names:  # each pair at 8 bits as it is read (not every deep pair held at once)
        c, y = read_image(files["clean"][n]).color, read_image(files["noisy"][n]).color
        deep += c.dtype != np.uint8 or y.dtype != np.uint8
        out.append((n, to_uint8(c), to_uint8(y)))
    _said_8_bit(deep, len(out), root)
    return out


def make_case(task: str, name: str, img: np.ndarray, index: int, **degrade) -> Case:
    """The task's seeded degradation of one clean uint8 image (see each task's ``degrade``)."""
    return get_task(task).degrade(name, img, index, **degrade)


def score(case: Case, out: torch.Tensor) -> dict:
    """PSNR / SSIM with the case's task convention, of ``out`` as an 8-bit file holds it
    (:func:`as_written`)."""
    return get_task(case.task).score(case, as_written(out))


def as_written(out: torch.Tensor) -> torch.Tensor:
    """``out`` clipped to [0, 1] and rounded to the 256 levels of an 8-bit file: what a user's
    output holds, and what the published tables scored (their methods' uint8 outputs; the
    data sets are 8-bit). Unrounded, a method scored up to 0.05 dB higher in the mean
    (benchmarks/results/eval_rounding.md)."""
    return (out.detach().float().clamp(0, 1) * 255).round() / 255


def baselines_for(task: str) -> list[str]:
    """The rows ``restore eval --baselines`` adds for ``task``: the input as given
    (``Task.given``), then the classical tools."""
    tk = get_task(task)
    return ([tk.given] if tk.given else []) + list(tk.baselines)


#: the smallest side an image is scored at (SSIM's 11x11 Gaussian window, scikit-image's convention)
MIN_SCORED = 11


def evaluate(
    task: str,
    dataset: list[tuple[str, np.ndarray]],
    *,
    methods: list[str],
    steps: list[int | None] | None = None,
    baselines: list[str] = (),
    slow_limit: int | None = None,
    prior=None,
    device: str = "cpu",
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    keep_outputs: bool = False,
    indices: list[int] | None = None,
    **degrade,
) -> list[dict]:
    """Score samplers (each at each step count) and baselines on a dataset; one row per
    (image, method). ``slow_limit`` caps the images the slow baselines (BM3D) see. A dataset
    of ``(name, truth, measurement)`` triples (:func:`load_pairs`) is scored on its real
    measurements (tasks with ``pairs``). Each image's degradation is seeded by its place in
    the whole dataset, ``indices`` (default: its place in ``dataset``): a subset (``--every``)
    gets the noise and masks a full run gives those images. Every image is degraded before
    any is restored (and again as it is: seeded, the same), so that a bad degradation setting or
    a missing mask file is found before the work."""
    tk = get_task(task)
    unknown = [b for b in baselines if b not in tk.baselines and b != tk.given]
    if unknown:
        raise InputError(f"no classical tool {', '.join(unknown)} for {task} (has: {', '.join(baselines_for(task))})")
    rows = []
    steps = steps or [None]
    if any(len(item) == 3 for item in dataset) and not tk.pairs:
        raise InputError(f"{task} is evaluated on clean images it degrades itself; real pairs are for "
                         f"{', '.join(t for t in TASKS.names() if get_task(t).pairs) or 'no task'}")
    if indices is not None and len(indices) != len(dataset):
        raise InputError(f"{len(indices)} indices for {len(dataset)} images")

    def case_of(i: int):
        name, img, *measured = dataset[i]
        return tk.degrade(name, img, i if indices is None else indices[i],
                          **({"measured": measured[0]} if measured else {}), **degrade)

    def too_small(name: str, case) -> InputError:
        h, w = case.gt.shape[-2:]
        return InputError(f"{name}: {w}x{h} after the degradation's crop, too small to score (SSIM's "
                          f"{MIN_SCORED} px window, after any border shave)")

    parsed = {}  # each method's sampler and options, read once, before any work
    for meth in methods:
        sampler, hyper = parse_method(meth)
        sampler = None if sampler == DEFAULT_METHOD else sampler  # the task's own choice for each case
        # one that cannot serve the task: refused before any work (a trial: after the samplers named before it ran)
        spec = None if sampler is None else check_compatible(sampler, tk)
        if spec is not None and hyper:  # the sampler's own as the task commands take them: clip=false
            own = sampler_options(spec.load())  # (run()'s own, sigma_max, as given)
            hyper = {**hyper, **check_sampler_options(sampler, {k: v for k, v in hyper.items() if k in own}, task)}
        parsed[meth] = sampler, hyper
    smallest = None  # (its shorter side, name, case): the one image whose score is tried
    for i in range(len(dataset)):  # every degradation once first (cheap, seeded): its errors before any work
        name = dataset[i][0]
        try:
            case = case_of(i)
        except RestoreError:
            raise
        except Exception as e:  # noqa: BLE001  (a 3x3 image at x4: torch's zero-size error)
            raise InputError(f"{name}: cannot be degraded for {task} ({type(e).__name__}: {str(e).splitlines()[0]})")
        side = min(case.gt.shape[-2:])
        if min(side, *case.y.shape[-2:]) < 1 or side < MIN_SCORED:
            raise too_small(name, case)
        if smallest is None or side < smallest[0]:
            smallest = (side, name, case)
    if smallest is not None:
        try:  # the score's own crop (sr shaves its scale) must hold SSIM's window: if the smallest's does, all do
            tk.score(smallest[2], smallest[2].gt)
        except ValueError:
            raise too_small(*smallest[1:]) from None
    for i in range(len(dataset)):
        with caught_warnings():  # each degradation's warnings were given in the first pass
            warnings.simplefilter("ignore")
            name, case = dataset[i][0], case_of(i)
        jobs = [(m, s) for m in methods for s in steps] + [(b, None) for b in baselines]
        for meth, st in jobs:
            if meth in baselines:
                if meth in tk.slow_baselines and slow_limit is not None and i >= slow_limit:
                    continue
                if meth == tk.given and case.y.shape != case.gt.shape:  # a traceback in the metric, before
                    raise RestoreError(f"{task}: Task.given names the measurement as a row, but its "
                                       f"{tuple(case.y.shape)} is not the truth's {tuple(case.gt.shape)}: leave "
                                       "given None (a baseline can make an image of the truth's shape)")
                t0 = time.perf_counter()
                out = case.y.clone() if meth == tk.given else tk.baselines[meth](case)
                secs, used = time.perf_counter() - t0, None
                kind = "input" if meth == tk.given else "classical"
            else:
                sampler, hyper = parsed[meth]
                t0 = time.perf_counter()
                try:
                    res = run(case.y, task, sampler=sampler, steps=st, seed=seed, device=device, prior=prior,
                              **case.run, **hyper)
                except RestoreError as e:
                    if type(e) is not RestoreError:  # bad input, options or weights: the whole run's error
                        raise
                    # a result refused (a sampler that did not converge on this image): a row that says so,
                    # not the end of the evaluation (one dps image stopped a run of six samplers)
                    rows.append({"image": name, "method": meth, "kind": "restore", "steps": st,
                                 "seconds": time.perf_counter() - t0, "failed": str(e), "_asked": st})
                    if progress:
                        progress(f"{name} {meth}: failed ({e})")
                    continue
                out, secs, used, kind = res.image, res.seconds, res.steps, "restore"
            r = {"image": name, "method": meth, "kind": kind, "steps": used, "seconds": secs, **score(case, out),
                 "_asked": st}
            if kind == "restore":  # what ran on this image (the default's choice: a scene fill, or dpir)
                r["ran"] = _ran(res)
                if res.sigma_estimated is True and isinstance(res.sigma_y, (int, float)):  # real pairs: the level
                    r["sigma_read"] = round(float(res.sigma_y) * 255, 3)  # read, 0-255, as the commands' records
            if keep_outputs:
                r["_out"], r["_case"] = out, case
            rows.append(r)
            if progress:
                progress(f"{name} {meth}{'' if used is None else f'@{used}'}: {r['psnr']:.2f} dB")
    return rows


def _ran(res) -> str:
    """What ran on an image, for its row: the sampler, ``scene fill`` for a fill that runs none,
    and ``scene fill+dpir`` where its holes took both (the regions' sampler names read
    ``none+dpir``)."""
    fill = res.params.get("fill")
    if res.steps == 0 and res.sampler == "none" and fill:
        return f"{fill} fill"
    parts = res.sampler.split("+")
    if len(parts) > 1 and "scene" in str(fill).split("+"):  # a region that ran no sampler: the scene fill
        parts = ["scene fill" if x == "none" else x for x in parts]
    return "+".join(parts)


def summarise(rows: list[dict]) -> list[dict]:
    """Mean per (method, steps asked): PSNR, SSIM, hole PSNR, seconds per image, image count.
    Where the method's steps differ by image (the default's choice per image: inpainting's scene
    fill, no steps, or dpir) the row covers them all, ``steps`` None and ``steps_each`` the
    counts (they were split into rows of a few images each, both named "default"). Images whose
    result was refused (a sampler that did not converge: ``failed``) are counted apart, the
    means taken over the others."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        asked = r["_asked"] if "_asked" in r else r["steps"]
        groups.setdefault((r["method"], asked, r["kind"]), []).append(r)
    out = []
    for (m, asked, k), every in groups.items():
        rs = [r for r in every if "failed" not in r]  # the images it restored (the others: "failed")
        failed = len(every) - len(rs)
        each = sorted({r["steps"] for r in rs if r["steps"] is not None})
        # one step count; none for a default whose count differs by image; the count asked where all failed
        s = each[0] if len(each) == 1 else (asked if not rs else None)

        def mean(key):
            return float(np.mean([r[key] for r in rs])) if rs else float("nan")

        row = {"method": m, "steps": s, "_asked": asked, **({"steps_each": each} if len(each) > 1 else {}), "kind": k,
               "images": len(rs), **({"failed": failed} if failed else {}),
               "psnr": mean("psnr"), "ssim": mean("ssim"), "seconds": float(np.mean([r["seconds"] for r in every]))}
        for key, _, _ in HOLE_COLUMNS:
            vals = [r[key] for r in rs if key in r and np.isfinite(r[key])]
            if vals:
                row[key] = float(np.mean(vals))
                if len(vals) < len(rs):  # a mean over fewer images than the row's (said in the table)
                    row[f"{key}_images"] = len(vals)
        ran = sorted({r["ran"] for r in rs if r.get("ran")})
        if len(ran) > 1:
            row["ran"] = {x: sum(r.get("ran") == x for r in rs) for x in ran}
        out.append(row)
    return out


#: inpainting's scores in the hole (InpaintTask.score): key, column, format
HOLE_COLUMNS = (("psnr_hole", "hole PSNR", ".2f"), ("ssim_hole", "hole SSIM", ".4f"), ("swd_hole", "hole SWD", ".0f"),
                ("grad_ratio", "gradient ratio", ".2f"), ("seam", "seam", ".2f"))


def markdown_table(summary: list[dict]) -> str:
    cols = [c for c in HOLE_COLUMNS if any(c[0] in r for r in summary)]
    head = "| method | steps | images | PSNR | SSIM |" + "".join(f" {c[1]} |" for c in cols) + " s/image |"
    sep = "|---|---|---|---|---|" + "---|" * len(cols) + "---|"
    lines = [head, sep]

    def cell(r, k, f):
        few = f" ({r[k + '_images']} images)" if f"{k}_images" in r else ""
        return f" {r.get(k, float('nan')):{f}}{few} |"

    for r in summary:
        kind = "" if r["kind"] == "restore" else f" ({r['kind']})"  # classical, or the input as given
        ran = "".join(f", {n} on {c}" for n, c in r.get("ran", {}).items())  # the default's choices, by image
        ran += f", failed on {r['failed']}" if r.get("failed") else ""  # images whose result was refused
        steps = "/".join(map(str, r["steps_each"])) if r.get("steps_each") else (r["steps"] or "-")
        lines.append(
            f"| {r['method']}{kind}{ran} | {steps} | {r['images']} | "
            f"{r['psnr']:.2f} | {r['ssim']:.4f} |" + "".join(cell(r, k, f) for k, _, f in cols)
            + f" {r['seconds']:.2f} |"
        )
    return "\n".join(lines)
