"""Strong camera noise read on the 2x2-pooled image (``restore.noise.PHOTO_POOLED``), the luma
readings (``LUMA_WHITE``), JPEG files with subsampled chroma (``HALF_JPEG``) and noise a JPEG's
quantisation thinned (``JPEG_LUMA``).

    python benchmarks/noise_pooled.py collect runs/np/data.jsonl [--sets camblur_val,cam_val_j,...]
    python benchmarks/noise_pooled.py refresh runs/np/data.jsonl
    python benchmarks/noise_pooled.py score runs/np/data.jsonl [--rules ",2::,:::1.3:2,::0.8,::::::1.0"]
    python benchmarks/noise_pooled.py pipeline runs/np/pipe.jsonl --sets jw5_val --jpeg 0,0.8 [--every 2]
    python benchmarks/noise_pooled.py pipeline runs/np/pipe.jsonl --sets nightdim_val --dim 0,8

``collect`` writes one line per image (appending; a set already there is skipped): the
estimator's readings (:func:`parts`) and, for a noisy image, the PSNR of the prior told each level
of a grid (the default denoise is that one evaluation); for a clean photo, the output's PSNR
against its input at 3, 6 and 10. ``refresh`` reads every record's image again and replaces its
readings (the grid does not depend on them): records of an earlier estimator, scored by today's.
``pipeline`` runs the default denoise itself (the level lowered where the prior takes texture,
``restore.tasks.denoise.lowered_level``, which the grid leaves out) with each ``JPEG_LUMA`` gain given,
the output rounded to 8 bits, on the images whose level read differs between the gains (the others
give the same output whatever the gain). It prints, per set, the mean PSNR over those images and
the change against the first gain, over them and over the whole set.
``score`` gives, for the rule before the luma readings and for each ``gain:cap:floor:lo:hi``
(``restore.noise.photo_level``'s constants; empty: the shipped one), the mean PSNR at the level
the rule tells (interpolated on the grid, linear in log level), beside the noisy input and the
per-image best level of the grid (an oracle), and the levels read on the clean photos.

Sets (validation: BSDS training photos, every 12th, first 32; held out: ImageNet training
photos, every 18th, first 48; ``restore.noise.camera_noise`` with seed 100 + i / 300 + i):

- ``camblur_val`` / ``camblur_ho``: the synthetic camera on the photo blurred by a Gaussian
  of 0.8 px first (a lens and an anti-aliasing filter: the reference then has no
  demosaicking zipper), and ``...clean_...``: the same without the noise;
- ``cam_val``: the synthetic camera on the photo as it is (its bilinear demosaicking puts
  colour zippers on these sharp small photos, in the reference too);
- ``polyu_dev``: PolyU100's 75 development pairs (not every 4th), ``polyuclean_dev`` their
  references;
- ``clean_val``, ``sunhays``, ``imagenet``: clean photos (every 3rd Sun-Hays, every 5th
  ImageNet from the 2nd, first 160);
- ``awgn25_val``: white Gaussian noise of std 25 (read as itself whatever the gain).

File sets (``_j``, :data:`FILE_SETS`): the same through a JPEG file with 4:2:0 chroma written by
Pillow at qualities 85-97 in turn (the camera's output without its own JPEG, the reference
through the same file), read as ``restore denoise photo.jpg`` reads it, half-size decode
included; ``awgn10_val_j`` / ``awgn25_val_j``: white noise of std 10 / 25; ``polyu_dev_j``:
PolyU100's own in-camera 4:2:0 files. ``_jj``: the camera's own JPEG (quality 90-97) saved
again (a photo edited or shared). ``haze_val_j`` / ``haze_ho_j``: hazy photos (:data:`HAZE`, clean;
ImageNet's as ``imagenet``), ``hazecam_val_j``: the same through the synthetic camera.

Truth sets (``jw``, :data:`TRUTH_SETS`; ``_val``: the 32 validation photos, ``_ho``: 24 ImageNet
photos, every 36th, held out): white noise of std 0, 5 or 10 (``jwdim``: the photo dimmed to 0.3,
std 4) saved as 4:2:0 files at qualities 75, 85, 90 and 95 in turn, scored against the photo
before the noise and the file: the compression's error is there to be taken too; ``jwdim0``: the photo
dimmed to 0.3, no noise.

Night sets (:data:`NIGHT_SETS`; ``_val``: the 32 validation photos, ``_ho``: the 24 held-out ImageNet
photos): the synthetic camera on the photo blurred as for ``camblur``, the sensor given 0.1-0.3 of the light,
kept dark (``nightdim``, shot noise 1e-4-1e-3) or brightened to half the photo's exposure (``nightpush``,
1e-4-2e-3 before the brightening), saved as 4:2:0 files at :data:`QUALITIES` in turn (``_p``: not saved),
scored against the same camera without the noise through the same file; ``...clean``: that reference alone
(``restore.noise.DIM_JPEG``, ``benchmarks/results/noise_dim_jpeg.md``).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore import noise  # noqa: E402
from restore.api import get_prior  # noqa: E402
from restore.evaluate import load_dataset, load_pairs  # noqa: E402
from restore.io import to_tensor  # noqa: E402
from restore.metrics import psnr  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
GRID = (3, 6, 9, 13, 18, 25, 35, 50)
CLEAN_GRID = (3, 6, 10)
SETS = ("camblur_val", "camblurclean_val", "cam_val", "polyu_dev", "polyuclean_dev", "clean_val", "awgn25_val",
        "camblur_ho", "camblurclean_ho", "sunhays", "imagenet")
#: the same through a JPEG file with subsampled chroma (4:2:0, Pillow, what cameras write), read as the
#: command line reads it (with its half-size decode); qualities in turn
FILE_SETS = ("camblur_val_j", "camblurclean_val_j", "cam_val_j", "clean_val_j", "awgn10_val_j", "awgn25_val_j",
             "polyu_dev_j", "polyuclean_dev_j", "camblur_ho_j", "camblurclean_ho_j", "imagenet_j",
             "camblur_val_jj", "camblurclean_val_jj", "camblur_ho_jj", "camblurclean_ho_jj", "haze_val_j", "haze_ho_j",
             "hazecam_val_j")
#: a hazy photo: ``a + b x`` of the photo (0-255), its texture faint over a mid-grey (``haze_...``: clean, read for
#: how much the default changes it; ``hazecam_val_j``: through the synthetic camera, as ``camblur``)
HAZE = (0.35 * 255, 0.3)
QUALITIES = (85, 88, 90, 92, 95, 97)
#: white noise of std 0, 5 or 10 (``dim``: the photo at 0.3 of its brightness, std 4; ``dim0``: none) saved as a 4:2:0
#: JPEG at qualities 75-95 in turn (a web or phone file), scored against the photo before the noise and the file: the
#: compression's error is the denoiser's to take too (``restore.noise.JPEG_LUMA``)
TRUTH_SETS = ("jw0_val", "jw5_val", "jw10_val", "jwdim_val", "jw0_ho", "jw5_ho", "jw10_ho", "jwdim_ho", "jwdim0_val",
              "jwdim0_ho")
TRUTH_QUALITIES = (75, 85, 90, 95)
TRUTH_GRID = (1.5, 2.5, 4, 6, 9, 13)
#: night photos through the synthetic camera (the photo blurred first, as ``camblur``): the sensor given 0.1-0.3 of
#: the light (log-uniform), the raw data kept dark (``nightdim``) or brightened to half the photo's exposure
#: (``nightpush``, its noise brightened with it), saved as a 4:2:0 JPEG at :data:`QUALITIES` in turn (``_p``: the
#: camera's output as it is), against the same camera without the noise through the same file (``...clean``: that
#: reference alone, a clean night photo)
NIGHT_SETS = tuple(f"night{k}{c}_{s}{f}" for k in ("dim", "push") for c in ("", "clean") for s in ("val", "ho")
                   for f in ("", "_p"))
NIGHT_SHOT = {"dim": (1e-4, 1e-3), "push": (1e-4, 2e-3)}
NIGHT_GRID = (1.5, 2.5, 4, 6, 9, 13, 18, 25, 35, 50)


def _blurred(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(img.astype(np.float32), (0, 0), 0.8).round().clip(0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def _photos(folder: str, every: int, first: int, start: int = 0) -> list:
    return [(n, im) for n, im in load_dataset(SHARED / "train" / folder)[start::every] if im.ndim == 3][:first]


def _through_file(a: np.ndarray, quality: int) -> tuple[torch.Tensor, float | None]:
    """``a`` (uint8 RGB) saved as a 4:2:0 JPEG and read back as the command line reads it: the
    image and its half-size reading (``restore.noise.white_at_half``)."""
    import tempfile

    from PIL import Image

    from restore.io import jpeg_half, read_image

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.jpg"
        Image.fromarray(a).save(path, "JPEG", quality=quality, subsampling=2)
        return to_tensor(read_image(path).array), jpeg_half(path)


def file_images(which: str):
    """``(name, measured, clean or None, half)`` of a file set (:data:`FILE_SETS`); ``_jj``: the
    camera's own JPEG (quality 90-97, :func:`restore.noise.camera_noise`) saved again (a photo
    edited or shared)."""
    again = which.endswith("_jj")
    base = which.removesuffix("_jj").removesuffix("_j")
    if base in ("polyu_dev", "polyuclean_dev"):  # in-camera 4:2:0 JPEGs already: read from their files
        from restore.io import jpeg_half, read_image

        root = SHARED / "real-noise" / "PolyU100"
        for i, f in enumerate(sorted((root / "noisy").iterdir())):
            if i % 4:
                path = root / ("clean" if "clean" in base else "noisy") / f.name
                y = to_tensor(read_image(path).array)
                ref = None if "clean" in base else to_tensor(read_image(root / "clean" / f.name).array)
                yield f.name, y, ref, jpeg_half(path)
        return
    if base in ("camblur_val", "cam_val", "camblur_ho", "camblurclean_val", "camblurclean_ho"):
        photos, seed0 = (_photos("imagenet1k", 18, 48), 300) if base.endswith("_ho") else (_photos("bsds", 12, 32), 100)
        for i, (n, img) in enumerate(photos):
            q = QUALITIES[i % len(QUALITIES)]
            n8, c8, _ = noise.camera_noise(_blurred(img) if base.startswith("camblur") else img, seed0 + i, jpeg=again)
            c, c_half = _through_file(c8, q)
            if "clean" in base:
                yield n, c, None, c_half
            else:
                y, y_half = _through_file(n8, q)
                yield n, y, c, y_half
        return
    if base in ("haze_val", "haze_ho", "hazecam_val"):
        photos = _photos("imagenet1k", 5, 160, 1) if base == "haze_ho" else _photos("bsds", 12, 32)
        for i, (n, img) in enumerate(photos):
            a, q = (HAZE[0] + HAZE[1] * img.astype(np.float64)).round().astype(np.uint8), QUALITIES[i % len(QUALITIES)]
            if base == "hazecam_val":
                n8, c8, _ = noise.camera_noise(_blurred(a), 400 + i)
                (y, half), (c, _) = _through_file(n8, q), _through_file(c8, q)
                yield n, y, c, half
            else:
                y, half = _through_file(a, q)
                yield n, y, None, half
        return
    photos = _photos("imagenet1k", 5, 160, 1) if base == "imagenet" else _photos("bsds", 12, 32)
    rng = np.random.default_rng(0)
    for i, (n, img) in enumerate(photos):
        sd = {"awgn10_val": 10, "awgn25_val": 25}.get(base, 0)
        a = (img + rng.normal(0, sd, img.shape)).round().clip(0, 255).astype(np.uint8) if sd else img
        y, half = _through_file(a, QUALITIES[i % len(QUALITIES)])
        yield n, y, None, half


def truth_images(which: str):
    """``(name, measured, truth, half)`` of a :data:`TRUTH_SETS` set."""
    photos = _photos("imagenet1k", 36, 24) if which.endswith("_ho") else _photos("bsds", 12, 32)
    kind = which.split("_")[0].removeprefix("jw")
    bright, sd = (0.3, 4) if kind == "dim" else (0.3, 0) if kind == "dim0" else (1.0, int(kind))
    rng = np.random.default_rng(7)
    for i, (n, img) in enumerate(photos):
        c = (img * bright).round()
        a = (c + rng.normal(0, sd, img.shape)).round().clip(0, 255).astype(np.uint8)
        y, half = _through_file(a, TRUTH_QUALITIES[i % len(TRUTH_QUALITIES)])
        yield n, y, to_tensor(c.astype(np.uint8)), half


def night_images(which: str):
    """``(name, measured, clean, half)`` of a :data:`NIGHT_SETS` set."""
    kind, part, *png = which.removeprefix("night").split("_")
    kind, clean = kind.removesuffix("clean"), kind.endswith("clean")
    photos, seed0 = (_photos("imagenet1k", 36, 24), 700) if part == "ho" else (_photos("bsds", 12, 32), 500)
    for i, (n, img) in enumerate(photos):
        e = float(np.exp(np.random.default_rng(seed0 + i).uniform(np.log(0.1), np.log(0.3))))
        n8, c8, _ = noise.camera_noise(_blurred(img), seed0 + i, jpeg=False, exposure=e,
                                       gain=0.5 / e if kind == "push" else 1.0, shot=NIGHT_SHOT[kind])
        if png:
            yield (n, to_tensor(c8), None, None) if clean else (n, to_tensor(n8), to_tensor(c8), None)
        else:
            q = QUALITIES[i % len(QUALITIES)]
            (y, half), (c, c_half) = _through_file(n8, q), _through_file(c8, q)
            yield (n, c, None, c_half) if clean else (n, y, c, half)


def images(which: str):
    """``(name, measured, clean or None, half)`` of a set, float tensors in [0, 1]; ``half``: the
    half-size reading of a file set, else None."""
    if which in TRUTH_SETS:
        yield from truth_images(which)
        return
    if which in NIGHT_SETS:
        yield from night_images(which)
        return
    if which in FILE_SETS:
        yield from file_images(which)
        return
    for item in _array_images(which):
        yield (*item, None)


def _array_images(which: str):
    val = _photos("bsds", 12, 32)
    base = which.replace("clean", "")
    if base in ("camblur_val", "cam_val", "camblur_ho"):
        photos, seed0 = (_photos("imagenet1k", 18, 48), 300) if base.endswith("_ho") else (val, 100)
        for i, (n, img) in enumerate(photos):
            n8, c8, _ = noise.camera_noise(_blurred(img) if base.startswith("camblur") else img, seed0 + i)
            yield (n, to_tensor(c8), None) if "clean" in which else (n, to_tensor(n8), to_tensor(c8))
    elif base == "polyu_dev":
        for i, (n, c, nz) in enumerate(load_pairs(SHARED / "real-noise" / "PolyU100")):
            if i % 4:
                yield (n, to_tensor(c), None) if "clean" in which else (n, to_tensor(nz), to_tensor(c))
    elif which == "clean_val":
        for n, img in val:
            yield n, to_tensor(img), None
    elif which == "awgn25_val":
        g = torch.Generator().manual_seed(0)
        for n, img in val:
            x = to_tensor(img)
            yield n, x + 25 / 255 * torch.randn(x.shape, generator=g), None  # levels only
    elif which in ("sunhays", "imagenet"):
        for n, img in _photos("sunhays80", 3, 160) if which == "sunhays" else _photos("imagenet1k", 5, 160, 1):
            yield n, to_tensor(img), None
    else:
        raise SystemExit(f"unknown set {which!r}")


def parts(y: torch.Tensor, half: float | None = None) -> dict:
    """The estimator's readings (0-255) from which :func:`restore.noise.photo_level` tells the level: ``base``
    (the white part and the flattest blocks' correlated part), the full-size colour ``white``, the ``half``-size
    reading of a file (0: none), the 2x2-pooled colour and luma readings (``pooled``, ``luma``) and the full-size
    luma's (``luma_full``); ``level``: the level told by the code that collected them. A dim photo's readings
    are those of the photo brightened by ``1 / k`` (``restore.noise.exposure``), as the estimator reads it: the
    level told is ``k`` times what they tell."""
    e = noise.estimate_noise(y[0], half)
    x = y[0].float()
    k = min(noise.exposure(x), 1.0)
    x, half_k = x / k, None if half is None else half / k
    r = e.scaled(1 / k)  # the readings of the brightened photo, which the estimator took and scaled by k
    white = noise._pca_white(x)
    base = noise.flat_level(white, r.correlated, r.whiteness, r.flat_structure)
    return {**{k: v * 255 for k, v in (("level", e.level), ("base", base), ("white", white), ("half", half_k or 0.0),
                                       ("pooled", r.pooled), ("luma", r.pooled_luma), ("luma_full", r.luma),
                                       ("correlated", r.correlated), ("flat", r.flat_structure))},
            "whiteness": r.whiteness, "jpeg": half is not None, "k": k}


def refresh(path: Path) -> None:
    """Read each record's image again and replace its readings (the grid, which does not depend on them, is kept):
    records collected before the estimator changed, scored by today's rule."""
    recs = [json.loads(line) for line in path.open()]
    fresh = {}
    for s in dict.fromkeys(r["set"] for r in recs):
        for name, y, _, half in images(s):
            fresh[s, name] = parts(y, half)
        print(f"refreshed {s}", flush=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        for r in recs:
            for k in ("level_plain", "white_full"):  # readings of an earlier version of this script
                r.pop(k, None)
            f.write(json.dumps({**r, **fresh[r["set"], r["name"]]}) + "\n")
    tmp.replace(path)


def collect(out: Path, sets: list[str]) -> None:
    prior = get_prior(None, "cpu")
    done = {json.loads(line)["set"] for line in out.open()} if out.exists() else set()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f, torch.no_grad():
        for s in sets:
            if s in done:
                continue
            for name, y, x, half in images(s):
                rec = {"set": s, "name": name, **parts(y, half)}
                if x is not None:  # noisy: PSNR against the reference over the grid
                    rec["noisy"] = psnr(y.clamp(0, 1), x)
                    grid = TRUTH_GRID if s in TRUTH_SETS else NIGHT_GRID if s in NIGHT_SETS else GRID
                    rec["grid"], rec["psnr"] = grid, [psnr(prior(y, v / 255).clamp(0, 1), x) for v in grid]
                elif not s.startswith("awgn"):  # clean: the output against its input
                    rec["grid"], rec["psnr"] = CLEAN_GRID, [psnr(prior(y, v / 255).clamp(0, 1), y) for v in CLEAN_GRID]
                f.write(json.dumps(rec) + "\n")
                f.flush()
            print(f"collected {s}", flush=True)


def told(r: dict, rule: dict) -> float:
    """The level the estimator tells from a record's readings with ``rule``'s constants in place of the shipped
    ones (0-255 units throughout)."""
    u = 1 / 255
    rule = dict(rule)
    ccap = rule.pop("ccap", None)
    base = r["base"]
    if ccap is not None and "correlated" in r and r["pooled"] > 0:  # the flattest blocks' reading capped
        base = noise.flat_level(r["white"] * u, min(r["correlated"], ccap * r["pooled"]) * u, r["whiteness"],
                                r["flat"] * u) * 255
    half = r["half"] * u if r.get("jpeg", r["half"] > 0) else None
    jpeg = {k: rule.pop(k) for k in ("jpeg", "jlo", "jhi") if k in rule}
    if jpeg:
        ramp = noise.JPEG_LUMA["whiteness"]
        rule["jpeg"] = {"gain": jpeg.get("jpeg", noise.JPEG_LUMA["gain"]),
                        "whiteness": (jpeg.get("jlo", ramp[0]), jpeg.get("jhi", ramp[1]))}
    level, _ = noise.photo_level(base * u, r["white"] * u, half, r["pooled"] * u, r["luma"] * u, r["luma_full"] * u,
                                 whiteness=r["whiteness"], exposure=r.get("k", 1.0), **rule)
    return min(level * r.get("k", 1.0), 1.0) * 255


def before(r: dict) -> float:
    """The level the estimator told before the luma readings (its rule at 83b49e1): the half-size reading taken
    as the white part wherever the full-size one collapsed, the pooled reading's share against that white part,
    no luma gate, no luma floor."""
    white, level = r["white"], r["base"]
    if r["half"] > 8.0 and r["half"] > 8.0 * white:
        white, level = r["half"], max(level, r["half"])
    ratio = r["pooled"] / white if white > 0 else math.inf
    return max(level, 2.5 * min(r["pooled"], 1.75 * r["luma"]) * min(1.0, max(0.0, (ratio - 3.0) / 3.0)))


def at(r: dict, level: float, start: float) -> float:
    """PSNR at ``level`` from the grid (``start``: the PSNR at level 0, the input itself; inf
    for a clean photo against itself)."""
    g0, p = r["grid"][0], np.array(r["psnr"])
    if level <= 0:
        return start
    if level >= g0:
        return float(np.interp(math.log(level), np.log(np.array(r["grid"], float)), p))
    if math.isfinite(start):  # towards the input, linear in the level
        return start + (p[0] - start) * level / g0
    return p[0] + 20 * math.log10(g0 / level)  # a clean photo: its error in proportion to the level


RULE_KEYS = ("gain", "cap", "floor", "lo", "hi", "ccap", "jpeg", "jlo", "jhi", "dim", "dlo", "dhi")


def _rule(spec: str) -> dict:
    """``gain:cap:floor:lo:hi[:ccap[:jpeg:jlo:jhi[:dim:dlo:dhi]]]`` (a field left empty: the shipped constant) ->
    :func:`told`'s rule; ``ccap``: the flattest blocks' correlated reading capped at that many times the pooled one
    (records with the ``correlated`` reading only); ``jpeg``, ``jlo``, ``jhi``: ``JPEG_LUMA``'s gain and whiteness
    ramp; ``dim``, ``dlo``, ``dhi``: ``DIM_JPEG``'s factor and its fade (0-255 units)."""
    v = dict(zip(RULE_KEYS, spec.split(":")))
    r = {k: float(v[k]) for k in ("gain", "cap", "floor", "ccap", "jpeg", "jlo", "jhi") if v.get(k)}
    if v.get("lo") or v.get("hi"):
        r["luma_ratio"] = (float(v["lo"]), float(v["hi"]))
    if v.get("dim") or v.get("dlo") or v.get("dhi"):
        fade = noise.DIM_JPEG["fade"]
        r["dim_jpeg"] = {"white": float(v["dim"]) if v.get("dim") else noise.DIM_JPEG["white"],
                         "fade": (float(v["dlo"]) / 255 if v.get("dlo") else fade[0],
                                  float(v["dhi"]) / 255 if v.get("dhi") else fade[1])}
    return r


def score(path: Path, specs: list[str]) -> None:
    """A row for the rule before the luma readings, then one per ``gain:cap:floor:lo:hi`` spec."""
    recs = [json.loads(line) for line in path.open()]
    sets = [s for s in SETS + FILE_SETS + TRUTH_SETS + NIGHT_SETS if any(r["set"] == s for r in recs)]
    noisy = [s for s in sets if any(r["set"] == s and "noisy" in r for r in recs)]
    clean = [s for s in sets if s not in noisy]
    rules = [("before", before)] + [(spec, functools.partial(told, rule=_rule(spec))) for spec in specs]
    print(f"| {':'.join(RULE_KEYS)} | " + " | ".join(f"{s} ({sum(r['set'] == s for r in recs)})" for s in noisy) + " |")
    print("|---" * (len(noisy) + 1) + "|")
    for name, key in (("noisy input", "noisy"), ("best level of the grid (oracle)", None)):
        cells = [np.mean([r[key] if key else max(r["psnr"]) for r in recs if r["set"] == s]) for s in noisy]
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")
    for name, f in rules:
        cells = [np.mean([at(r, f(r), r["noisy"]) for r in recs if r["set"] == s]) for s in noisy]
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")
    print()
    head = "levels read (min / median / max), raised by 0.5+ from before, under 40 dB"
    print(f"| {':'.join(RULE_KEYS)} | " + " | ".join(f"{s}: {head}" for s in clean) + " |")
    print("|---" * (len(clean) + 1) + "|")
    for name, f in rules:
        cells = []
        for s in clean:
            rs = [r for r in recs if r["set"] == s]
            lv = np.array([f(r) for r in rs])
            raised = sum(f(r) > before(r) + 0.5 for r in rs)
            under = sum(at(r, f(r), math.inf) < 40 for r in rs if "grid" in r)
            gridded = any("grid" in r for r in rs)
            levels = f"{lv.min():.1f} / {np.median(lv):.1f} / {lv.max():.1f}"
            cells.append(f"{levels}, {raised}, {under if gridded else '-'}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def pipeline(out: Path, sets: list[str], values: list[float], every: int,
             whiteness: tuple[float, float] | None = None, dim: bool = False) -> None:
    """The default denoise on each set's images with ``JPEG_LUMA``'s gain set to each of ``values``
    in turn (its whiteness ramp ``whiteness`` where given, else as shipped; ``dim``: ``DIM_JPEG``'s
    factor instead), run on the images whose level read differs between the values (the others give
    the same output whatever the value)."""
    import warnings

    from restore.api import run

    warnings.simplefilter("ignore")  # the same notes for every image
    shipped, shipped_dim = noise.JPEG_LUMA, noise.DIM_JPEG
    if whiteness is not None:
        shipped = {**shipped, "whiteness": whiteness}

    def setting(v):
        if dim:
            noise.DIM_JPEG = {**shipped_dim, "white": v}  # (its fade as shipped)
        else:
            noise.JPEG_LUMA = {**shipped, "gain": v}
    with out.open("a") as f:
        for s in sets:
            rows, n = [], 0
            for i, (name, y, x, half) in enumerate(images(s)):
                if i % every:
                    continue
                n += 1
                levels = []
                for v in values:
                    setting(v)
                    levels.append(noise.estimate_noise(y[0], half).level)
                if max(levels) - min(levels) < 1e-9:
                    continue
                ref, rec = (y if x is None else x), {"set": s, "name": name, "noisy": psnr(y, y if x is None else x)}
                for v, level in zip(values, levels):
                    setting(v)
                    res = run(y, "denoise", jpeg_half=half)
                    used = res.sigma_y[0] if isinstance(res.sigma_y, list) else res.sigma_y
                    rec[str(v)] = (psnr((res.image * 255).round() / 255, ref), level * 255, float(used) * 255)
                noise.JPEG_LUMA, noise.DIM_JPEG = shipped, shipped_dim
                f.write(json.dumps(rec) + "\n")
                f.flush()
                rows.append([rec[str(v)][0] for v in values])
            a = np.array(rows, float).reshape(-1, len(values))
            gain = (a[:, 1:] - a[:, :1]) if len(a) else np.zeros((0, len(values) - 1))
            print(f"{s} ({'against its input' if x is None else 'against the truth'}): level changed on {len(a)} of {n}"
                  + ("" if not len(a) else ": " + ", ".join(f"{v:g}: {m:.2f}" for v, m in zip(values, a.mean(0)))
                     + "; change " + ", ".join(f"{v:g}: mean {g.mean():+.2f}, worst {g.min():+.2f}, best {g.max():+.2f}"
                                                f", over the {n} {g.sum() / n:+.3f}"
                                                for v, g in zip(values[1:], gain.T))), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("collect", "refresh", "score", "pipeline"))
    ap.add_argument("path", type=Path)
    ap.add_argument("--sets", default=",".join(SETS + FILE_SETS + TRUTH_SETS + NIGHT_SETS),
                    help="sets to collect (default: all)")
    ap.add_argument("--rules", default=",:::1.05:1.3,:::1.3:2,:::1.5:2.5,::0,::0.8,::1.2,2::,3::",
                    help="gain:cap:floor:lo:hi:ccap:jpeg:jlo:jhi:dim:dlo:dhi (luma cap, luma floor, luma ratio ramp, "
                         "the flattest blocks' cap, JPEG_LUMA's gain and whiteness ramp, DIM_JPEG's factor and fade; "
                         "empty: shipped; inf: no cap)")
    ap.add_argument("--jpeg", default="0,0.8", help="pipeline: JPEG_LUMA gains (its whiteness ramp as shipped), the "
                                                    "first the reference")
    ap.add_argument("--whiteness", default="", help="pipeline: JPEG_LUMA's whiteness ramp, lo,hi (default: shipped)")
    ap.add_argument("--dim", default="", help="pipeline: DIM_JPEG's factors in place of --jpeg's gains, the first "
                                              "the reference")
    ap.add_argument("--every", type=int, default=1, help="pipeline: every Nth image of each set")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.what == "collect":
        collect(a.path, a.sets.split(","))
    elif a.what == "refresh":
        refresh(a.path)
    elif a.what == "pipeline":
        ramp = tuple(float(v) for v in a.whiteness.split(",")) if a.whiteness else None
        if ramp is not None and len(ramp) != 2:
            ap.error("--whiteness takes two numbers, lo,hi")
        values = a.dim or a.jpeg
        pipeline(a.path, a.sets.split(","), [float(v) for v in values.split(",")], a.every, ramp, dim=bool(a.dim))
    else:
        score(a.path, a.rules.split(","))


if __name__ == "__main__":
    main()
