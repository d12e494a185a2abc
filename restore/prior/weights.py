"""Load and save a prior directory: ``config.json`` + ``model.safetensors``.

Loading never executes code from the file (safetensors only, no pickle) and checks the
tensors against the network the config describes: names, shapes and dtypes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

from ..errors import WeightsError
from ..paths import CONFIG_FILE, DEFAULT_PRIOR, PRETRAINED_DIR, WEIGHTS_FILE
from .denoiser import PREDICTIONS, Prior
from .schedule import VPSchedule
from .unet import UNet

__all__ = ["FORMAT", "PRETRAINED_DIR", "build_network", "load_prior", "save_prior"]

FORMAT = "restore-prior"
FORMAT_VERSION = 1

_NET_KEYS = {"in_channels": int, "channels": list, "blocks": list, "unshuffle": int, "emb_dim": int}
_SCHED_KEYS = {"num_timesteps": int, "beta_start": float, "beta_end": float, "kind": str}


def build_network(net_cfg: dict) -> UNet:
    """Build the U-Net a config's ``network`` section describes (validated)."""
    _check_section(net_cfg, _NET_KEYS, "network")
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
        ok = isinstance(v, typ) and not isinstance(v, bool)
        if typ is float:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if not ok:
            raise WeightsError(f"config {where}.{k} must be {typ.__name__}, got {v!r}")


def resolve_prior_dir(name_or_path: str | os.PathLike | None) -> Path:
    """A prior directory from a shipped name (``restore-small``) or a path."""
    if name_or_path is None:
        name_or_path = DEFAULT_PRIOR
    p = Path(name_or_path)
    if p.is_file() and p.name in (WEIGHTS_FILE, CONFIG_FILE):
        p = p.parent
    if p.is_dir():
        return p
    shipped = PRETRAINED_DIR / str(name_or_path)
    if shipped.is_dir():
        return shipped
    avail = ", ".join(sorted(d.name for d in PRETRAINED_DIR.glob("*") if (d / CONFIG_FILE).is_file()))
    raise WeightsError(
        f"no prior at '{name_or_path}': give a directory with {CONFIG_FILE} and "
        f"{WEIGHTS_FILE}, or a shipped name ({avail or 'none installed'})"
    )


def read_config(prior_dir: Path) -> dict:
    path = prior_dir / CONFIG_FILE
    try:
        cfg = json.loads(path.read_text())
    except FileNotFoundError:
        raise WeightsError(f"{path}: missing (a prior directory needs {CONFIG_FILE})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"{path}: not a readable JSON config ({e})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise WeightsError(f"{path}: not a restore prior config (format must be '{FORMAT}')")
    if cfg.get("version") != FORMAT_VERSION:
        raise WeightsError(f"{path}: unsupported config version {cfg.get('version')!r}")
    if cfg.get("prediction", "eps") not in PREDICTIONS:
        raise WeightsError(
            f"{path}: prediction must be one of {', '.join(PREDICTIONS)}, got {cfg.get('prediction')!r}"
        )
    sd = cfg.get("sigma_data", 0.5)
    if isinstance(sd, bool) or not isinstance(sd, (int, float)) or not 0 < sd < 10:
        raise WeightsError(f"{path}: sigma_data must be a positive number, got {sd!r}")
    _check_section(cfg.get("network"), _NET_KEYS, "network")
    _check_section(cfg.get("schedule"), _SCHED_KEYS, "schedule")
    return cfg


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file; a clear error for anything else."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise WeightsError(f"{path}: missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise WeightsError(f"{path}: not a valid safetensors file ({msg})") from None


#: Storage dtypes a prior's weights may have (``"dtype"`` in config.json; fp32 when absent).
#: Half-precision weights are stored to halve the file and computed in fp32 after loading.
WEIGHT_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _weights_dtype(cfg: dict, d: Path) -> torch.dtype:
    name = cfg.get("dtype", "float32")
    if name not in WEIGHT_DTYPES:
        raise WeightsError(f"{d / CONFIG_FILE}: dtype must be one of {', '.join(WEIGHT_DTYPES)}, got {name!r}")
    return WEIGHT_DTYPES[name]


def check_state_dict(net: torch.nn.Module, sd: dict[str, torch.Tensor], where: str,
                     dtype: torch.dtype | None = None) -> None:
    """Names, shapes, dtypes (the network's own, or ``dtype`` as the config declares) and
    finiteness of ``sd`` against ``net``."""
    expected = net.state_dict()
    missing = sorted(set(expected) - set(sd))
    extra = sorted(set(sd) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} unexpected (e.g. {extra[0]})")
        raise WeightsError(f"{where}: weights do not match config.json: {'; '.join(parts)}")
    for k, v in expected.items():
        if sd[k].shape != v.shape:
            raise WeightsError(
                f"{where}: tensor {k} has shape {tuple(sd[k].shape)}, config implies {tuple(v.shape)}"
            )
        want = dtype or v.dtype
        if sd[k].dtype != want:
            raise WeightsError(f"{where}: tensor {k} is {sd[k].dtype}, expected {want}")
        if not torch.isfinite(sd[k]).all():
            raise WeightsError(f"{where}: tensor {k} holds NaN or inf")


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
        Where to put the network.
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
    d = resolve_prior_dir(name_or_path)
    cfg = read_config(d)
    try:
        schedule = VPSchedule(**cfg["schedule"])
    except ValueError as e:
        raise WeightsError(f"{d / CONFIG_FILE}: bad schedule ({e})") from None
    net = build_network(cfg["network"])
    sd = load_state_dict(d / WEIGHTS_FILE)
    check_state_dict(net, sd, str(d / WEIGHTS_FILE), dtype=_weights_dtype(cfg, d))
    net.load_state_dict({k: v.float() for k, v in sd.items()})  # stored half precision: computed in fp32
    prior = Prior(net, schedule, tile=tile, name=d.name, info=cfg.get("info", {}),
                  prediction=cfg.get("prediction", "eps"), sigma_data=cfg.get("sigma_data", 0.5))
    return prior.to(device)


def save_prior(
    out_dir: str | os.PathLike,
    net: UNet,
    schedule: VPSchedule,
    info: dict | None = None,
    *,
    prediction: str = "eps",
    sigma_data: float = 0.5,
    dtype: str = "float32",
) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (atomically) into ``out_dir``;
    ``dtype`` (``float32``, ``bfloat16``, ``float16``) is the storage precision of the weights."""
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
        "network": net.config(),
        "schedule": schedule.to_dict(),
        "info": info or {},
    }
    sd = {k: v.detach().to("cpu", WEIGHT_DTYPES[dtype]).contiguous() for k, v in net.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".model.", suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, 0o644)
        save_file(sd, tmp, metadata={"format": FORMAT})
        os.replace(tmp, out / WEIGHTS_FILE)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    write_text_atomic(out / CONFIG_FILE, json.dumps(cfg, indent=2) + "\n")
    return out


def write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
