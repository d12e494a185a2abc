"""Load and save a prior directory: ``config.json`` + ``model.safetensors``.

Loading never executes code from the file (safetensors only, no pickle) and checks the
tensors against the network the config describes: names, shapes and dtypes.

Besides this project's own priors (``network`` without ``"arch"``: :class:`UNet`), a config
may describe a converted guided-diffusion model (``"arch": "adm"``, see
:mod:`restore.convert`), and :func:`load_prior` also takes a diffusers folder (a pipeline
with ``model_index.json``, or a bare ``UNet2DModel`` beside its scheduler config; see
:mod:`restore.prior.diffusers`).
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path

import torch

from ..errors import WeightsError
from ..io import file_mode
from ..paths import CONFIG_FILE, DEFAULT_PRIOR, PRETRAINED_DIR, REPLACED_DIR, WEIGHTS_FILE, description_from_config
from ..tiling import tile_layout
from .adm import ADMNet, adm_config
from .denoiser import ALL_PREDICTIONS, Prior, resolve_device
from .files import FOREIGN_FORMATS, WEIGHT_DTYPES, check_state_dict, foreign_format, load_state_dict, read_json
from .schedule import VPSchedule
from .unet import UNet

__all__ = ["ARCHS", "FORMAT", "PRETRAINED_DIR", "build_network", "describe_prior", "load_prior", "save_prior"]

FORMAT = "restore-prior"
FORMAT_VERSION = 1

_NET_KEYS = {"in_channels": int, "channels": list, "blocks": list, "unshuffle": int, "emb_dim": int}
_SCHED_KEYS = {"num_timesteps": int, "beta_start": float, "beta_end": float, "kind": str}


#: the ``network.arch`` values (absent = this project's U-Net)
ARCHS = ("unet", "adm", "diffusers")


def build_network(net_cfg: dict) -> torch.nn.Module:
    """Build the network a config's ``network`` section describes (validated): this
    project's U-Net (no ``"arch"``), guided-diffusion's ADM (``"arch": "adm"``) or a
    diffusers ``UNet2DModel`` (``"arch": "diffusers"``, the in-memory config of a loaded
    diffusers folder). Builds on the current default device (``with torch.device("meta")``
    gives a network without memory, e.g. to count its parameters and FLOPs)."""
    if not isinstance(net_cfg, dict):
        raise WeightsError("config section 'network' must be an object")
    arch = net_cfg.get("arch", "unet")
    if arch == "adm":
        return ADMNet(**adm_config(net_cfg))
    if arch in FOREIGN_FORMATS:
        return FOREIGN_FORMATS[arch].build(net_cfg)
    if arch != "unet":
        raise WeightsError(f"config network.arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    _check_section({k: v for k, v in net_cfg.items() if k != "arch"}, _NET_KEYS, "network")
    if net_cfg["in_channels"] not in (1, 3):
        raise WeightsError(f"network.in_channels must be 1 or 3, got {net_cfg['in_channels']}")
    ch, bl = net_cfg["channels"], net_cfg["blocks"]
    if not ch or len(ch) != len(bl) or not all(isinstance(c, int) and 0 < c <= 4096 for c in ch):
        raise WeightsError(f"network.channels/blocks are inconsistent: {ch} / {bl}")
    if not all(isinstance(b, int) and 0 <= b <= 64 for b in bl):
        raise WeightsError(f"network.blocks must be small non-negative integers, got {bl}")
    return UNet(
        in_channels=net_cfg["in_channels"],
        channels=tuple(ch),
        blocks=tuple(bl),
        unshuffle=net_cfg["unshuffle"],
        emb_dim=net_cfg["emb_dim"],
    )


def _check_section(cfg: object, keys: dict, where: str) -> None:
    if not isinstance(cfg, dict):
        raise WeightsError(f"config section '{where}' must be an object")
    missing = [k for k in keys if k not in cfg]
    if missing:
        raise WeightsError(f"config section '{where}' lacks {', '.join(missing)}")
    for k, typ in keys.items():
        v = cfg[k]
        ok = isinstance(v, typ) and (typ is bool or not isinstance(v, bool))
        if typ is float:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if not ok:
            raise WeightsError(f"config {where}.{k} must be {typ.__name__}, got {v!r}")


#: shipped names warned of as shadowed by a folder here (:func:`resolve_prior_dir`)
_CLASHES: set[str] = set()


def resolve_prior_dir(name_or_path: str | os.PathLike | None) -> Path:
    """A prior directory from a shipped name (``restore-small``) or a path. A shipped name is
    the shipped prior, also where the working folder holds a folder of that name (a prior
    trained with ``-o restore-small`` had taken its place in silence, default runs included):
    that one is ``./restore-small``, and the clash is warned of."""
    named = name_or_path is not None
    if name_or_path is None:
        name_or_path = DEFAULT_PRIOR
    p = Path(name_or_path)
    shipped = PRETRAINED_DIR / str(name_or_path)
    bare = isinstance(name_or_path, str) and name_or_path == p.name and name_or_path not in (".", "..")
    if bare and (shipped / CONFIG_FILE).is_file():
        if named and p.is_dir() and p.resolve() != shipped.resolve() and name_or_path not in _CLASHES:
            import warnings

            _CLASHES.add(name_or_path)  # once a process: a run resolves its prior in several places
            warnings.warn(f"'{name_or_path}' is the shipped prior; for the folder of that name here, give "
                          f"./{name_or_path}", stacklevel=2)
        return shipped
    if p.is_file() and p.name in (WEIGHTS_FILE, CONFIG_FILE):
        p = p.parent
    if p.is_dir():
        if p.name == "checkpoint" and (p / "state.json").is_file() and not (p / CONFIG_FILE).is_file():
            raise WeightsError(f"{p}: a training run's checkpoint (to --resume); its prior is the folder above, "
                               f"{p.parent}")
        return p
    if shipped.is_dir():
        return shipped
    avail = ", ".join(sorted(d.name for d in PRETRAINED_DIR.glob("*") if (d / CONFIG_FILE).is_file()))
    if p.is_file():  # a checkpoint file, most likely: what makes a prior of it
        raise WeightsError(f"'{name_or_path}' is a file, not a prior folder: a guided-diffusion checkpoint becomes one "
                           "with `restore convert CHECKPOINT -o FOLDER`, a diffusers model with save_pretrained(); "
                           f"a prior folder holds {CONFIG_FILE} and {WEIGHTS_FILE}")
    raise WeightsError(
        f"no prior at '{name_or_path}': give a directory with {CONFIG_FILE} and "
        f"{WEIGHTS_FILE} (or a diffusers folder), or a shipped name ({avail or 'none installed'})"
    )


#: a prior's weight files where it has no WEIGHTS_FILE (a diffusers folder)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


def prior_digest(prior_dir: str | os.PathLike) -> str:
    """What tells two priors' weights apart, whatever their folders' names: a SHA-256 (16 hex
    digits) of the weights file and of ``config.json`` less its ``info`` (the training record);
    for a folder without ``model.safetensors`` (a diffusers one), of its weight and config
    files. Read once per file state (path, size, time)."""
    d = Path(prior_dir)
    if (d / WEIGHTS_FILE).is_file():
        files = [d / WEIGHTS_FILE] + ([d / CONFIG_FILE] if (d / CONFIG_FILE).is_file() else [])
    else:
        files = sorted(f for f in d.rglob("*") if f.is_file() and f.suffix in (*_WEIGHT_SUFFIXES, ".json")
                       and not any(q.startswith(".") or q == "checkpoint" for q in f.relative_to(d).parts))
    return _digest(tuple((str(f), *_stamp(f)) for f in files))


def _stamp(f: Path) -> tuple[int, int]:
    st = f.stat()
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=32)
def _digest(files: tuple) -> str:
    import hashlib

    h = hashlib.sha256()
    for name, *_ in files:
        f = Path(name)
        h.update(f.name.encode() + b"\0")
        if f.name == CONFIG_FILE:
            try:
                cfg = json.loads(f.read_text())
            except (OSError, ValueError):
                cfg = None
            if isinstance(cfg, dict):  # the training record changes no pixel
                h.update(json.dumps({k: v for k, v in cfg.items() if k != "info"}, sort_keys=True).encode())
                continue
        with open(f, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size <= WHOLE_DIGEST:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
                continue
            h.update(str(size).encode())  # a large foreign prior (GBs): spread samples, read in a moment;
            for i in range(DIGEST_SAMPLES):  # weights trained again differ in every one of them
                fh.seek(i * (size - (1 << 16)) // (DIGEST_SAMPLES - 1))
                h.update(fh.read(1 << 16))
    return h.hexdigest()[:16]


#: weight files up to this size are digested whole; larger ones by DIGEST_SAMPLES 64 KB samples
WHOLE_DIGEST = 256 << 20
DIGEST_SAMPLES = 256


def read_config(prior_dir: Path) -> dict:
    path = prior_dir / CONFIG_FILE
    if not path.exists() and (prior_dir / REPLACED_DIR / CONFIG_FILE).is_file():  # a trial: "missing", no more
        raise WeightsError(f"{path}: missing: a 'restore train --overwrite' into {prior_dir} was stopped before its "
                           f"first checkpoint, and the prior it replaces is in {prior_dir / REPLACED_DIR}; the next "
                           "'restore train' into the folder puts it back (or move its files up)")
    cfg = read_json(path, f"missing (a prior directory needs {CONFIG_FILE})")
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise WeightsError(f"{path}: not a restore prior config (format must be '{FORMAT}')")
    if cfg.get("version") != FORMAT_VERSION:
        raise WeightsError(f"{path}: unsupported config version {cfg.get('version')!r}")
    if cfg.get("prediction", "eps") not in ALL_PREDICTIONS:
        raise WeightsError(
            f"{path}: prediction must be one of {', '.join(ALL_PREDICTIONS)}, got {cfg.get('prediction')!r}"
        )
    sd = cfg.get("sigma_data", 0.5)
    if isinstance(sd, bool) or not isinstance(sd, (int, float)) or not 0 < sd < 10:
        raise WeightsError(f"{path}: sigma_data must be a positive number, got {sd!r}")
    ns = cfg.get("native_size")
    if ns is not None and (isinstance(ns, bool) or not isinstance(ns, int) or not 8 <= ns <= 4096):
        raise WeightsError(f"{path}: native_size must be an integer side in pixels, got {ns!r}")
    net = cfg.get("network")
    if not isinstance(net, dict) or net.get("arch", "unet") not in ("unet", "adm"):
        arch = net.get("arch") if isinstance(net, dict) else None
        raise WeightsError(f"{path}: network must be an object with arch 'unet' (or none) or 'adm', got {arch!r}")
    if net.get("arch") == "adm":
        try:
            adm_config(net)
        except WeightsError as e:
            raise WeightsError(f"{path}: {e}") from None
    else:
        _check_section({k: v for k, v in net.items() if k != "arch"}, _NET_KEYS, "network")
    _check_section(cfg.get("schedule"), _SCHED_KEYS, "schedule")
    return cfg


def _weights_dtype(cfg: dict, d: Path) -> torch.dtype:
    name = cfg.get("dtype", "float32")
    if name not in WEIGHT_DTYPES:
        raise WeightsError(f"{d / CONFIG_FILE}: dtype must be one of {', '.join(WEIGHT_DTYPES)}, got {name!r}")
    return WEIGHT_DTYPES[name]


def load_prior(
    name_or_path: str | os.PathLike | None = None,
    *,
    device: str | torch.device = "cpu",
    tile: int | None = 1024,
) -> Prior:
    """Load a prior directory (default: the shipped ``restore-small``).

    Parameters
    ----------
    name_or_path : str or path, optional
        A shipped prior's name or a directory holding ``config.json`` and
        ``model.safetensors``.
    device : str or torch.device
        Where to put the network ("cpu", "cuda", "cuda:N", or "auto": the GPU when there is one).
    tile : int or None
        Tile side for large images (see :class:`~restore.prior.Prior`).

    Returns
    -------
    Prior
        The denoiser ``D(x, sigma)``.

    Examples
    --------
    >>> import restore
    >>> prior = restore.load_prior()
    >>> prior.sigma_max > 1
    True
    """
    device = resolve_device(device)  # a bad name in one line, before any file is read
    d = resolve_prior_dir(name_or_path)
    fmt = foreign_format(d)
    if fmt is not None:  # e.g. a diffusers folder: detected before reading our own config
        return fmt.load(d, device=device, tile=tile)
    cfg = read_config(d)
    try:
        schedule = VPSchedule(**cfg["schedule"])
    except (TypeError, ValueError) as e:
        raise WeightsError(f"{d / CONFIG_FILE}: bad schedule ({e})") from None
    foreign = cfg["network"].get("arch", "unet") != "unet"
    try:
        if foreign:  # large: built without memory, the loaded tensors assigned (no second copy)
            with torch.device("meta"):
                net = build_network(cfg["network"])
        else:  # its random start, soon replaced, drawn without moving the caller's global random stream
            with torch.random.fork_rng(devices=[]):
                net = build_network(cfg["network"])
    except WeightsError as e:  # which file, with what is wrong in it
        raise WeightsError(f"{d / CONFIG_FILE}: {e}") from None
    sd = load_state_dict(d / WEIGHTS_FILE)
    check_state_dict(net, sd, str(d / WEIGHTS_FILE), dtype=_weights_dtype(cfg, d))
    # stored half precision: computed in fp32
    net.load_state_dict({k: v.float() for k, v in sd.items()}, assign=foreign)
    net.float()  # built under a caller's float64 default its tensors were float64, and stayed so: every call failed
    prior = Prior(net, schedule, tile=tile, name=d.name, info=cfg.get("info", {}),
                  prediction=cfg.get("prediction", "eps"), sigma_data=cfg.get("sigma_data", 0.5),
                  native=cfg.get("native_size"), autocast_dtype=torch.bfloat16 if foreign else None)
    return prior.to(device)


def save_prior(
    out_dir: str | os.PathLike,
    net: torch.nn.Module,
    schedule: VPSchedule,
    info: dict | None = None,
    *,
    prediction: str = "eps",
    sigma_data: float = 0.5,
    dtype: str = "float32",
    native_size: int | None = None,
) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (atomically) into ``out_dir``;
    ``dtype`` (``float32``, ``bfloat16``, ``float16``) is the storage precision of the weights,
    ``native_size`` the input side of a network trained at one size (see
    :class:`~restore.prior.Prior`)."""
    if dtype not in WEIGHT_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(WEIGHT_DTYPES)}, got {dtype!r}")
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "prediction": prediction,
        **({"sigma_data": sigma_data} if prediction == "edm" else {}),
        **({"dtype": dtype} if dtype != "float32" else {}),
        **({"native_size": int(native_size)} if native_size is not None else {}),
        "network": net.config(),
        "schedule": schedule.to_dict(),
        "info": info or {},
    }
    cost = network_cost(cfg["network"], native_size)  # so that listing priors needs no counting
    cfg["cost"] = {"parameters": cost["parameters"], "gflops_256": cost["gflops_256"]}
    sd = {k: v.detach().to("cpu", WEIGHT_DTYPES[dtype]).contiguous() for k, v in net.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".model.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(sd, tmp, metadata={"format": FORMAT})
        os.chmod(tmp, file_mode())  # safetensors writes it 0600: a shared prior must be readable
        os.replace(tmp, out / WEIGHTS_FILE)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    write_text_atomic(out / CONFIG_FILE, json.dumps(cfg, indent=2) + "\n")
    return out


def write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        os.chmod(tmp, file_mode())
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def describe_prior(prior: Prior | str | os.PathLike) -> dict:
    """What a prior is and what it costs: name, architecture, parameters, native size,
    prediction and GFLOPs of one 256x256 evaluation.

    Parameters
    ----------
    prior : Prior, or a shipped name or a directory
        A loaded prior, or one on disk: then only its config is read (no weights), so a
        2 GB prior is described in a moment.

    Notes
    -----
    Parameters and FLOPs come from a copy of the network built on the ``meta`` device
    (nothing computed, no memory); the FLOPs are counted by ``torch.utils.flop_counter``
    (convolutions, matrix products, attention; not normalisations or activations). A
    prior with a native size under 256 is counted as the tiles it would run.

    Examples
    --------
    >>> d = describe_prior("restore-small")
    >>> d["arch"], d["native_size"], d["gflops_256"] > 1
    ('unet', None, True)
    """
    if isinstance(prior, Prior):
        name, cfg, native, prediction = prior.name, prior.net.config(), prior.native, prior.prediction
    else:
        d = resolve_prior_dir(prior)
        name, native = d.name, None
        fmt = foreign_format(d)
        if fmt is not None:
            cfg, prediction = fmt.describe(d)
        else:
            c = read_config(d)
            cached = description_from_config(d.name, c)
            if cached is not None:  # counted when it was saved
                return cached
            cfg, prediction, native = c["network"], c.get("prediction", "eps"), c.get("native_size")
    return {"name": name, "arch": cfg.get("arch", "unet"), **network_cost(cfg, native), "prediction": prediction}


def network_cost(cfg: dict, native: int | None = None) -> dict:
    """``parameters``, ``native_size`` and ``gflops_256`` (one 256x256 evaluation) of the
    network ``cfg`` describes, counted on a copy built on the ``meta`` device (once per
    configuration: a training run saves the same network at every checkpoint)."""
    return dict(_network_cost(json.dumps(cfg, sort_keys=True), native))


@functools.lru_cache(maxsize=16)
def _network_cost(cfg_json: str, native: int | None) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    cfg = json.loads(cfg_json)
    with torch.device("meta"):
        twin = build_network(cfg).eval()
        if cfg.get("arch") in FOREIGN_FORMATS:  # a foreign network knows its own size
            native = getattr(twin, "native_size", native)
        side = 256 if native is None else native
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            twin(torch.zeros(1, twin.in_channels, side, side), torch.zeros(1))
    tiles = 1 if native is None else len(tile_layout(256, native, min(32, native // 4), exact=True)) ** 2
    return {"parameters": sum(p.numel() for p in twin.parameters()), "native_size": native,
            "gflops_256": round(fc.get_total_flops() * tiles / 1e9, 2)}
