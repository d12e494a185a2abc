"""Where shipped priors live (torch-free, so ``restore list`` stays fast)."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["CONFIG_FILE", "DEFAULT_PRIOR", "PREDICTIONS", "PRETRAINED_DIR", "REPLACED_DIR", "WEIGHTS_FILE",
           "description_from_config", "find_priors"]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
#: where ``restore train --overwrite`` sets the folder's old run aside until its first checkpoint
REPLACED_DIR = ".replaced"
DEFAULT_PRIOR = "restore-small"
#: what a prior's network may predict (config.json "prediction"); see restore.prior.denoiser
PREDICTIONS = ("eps", "edm")
_PKG = Path(__file__).resolve().parent
# an installed wheel carries them as restore/pretrained; a source checkout has <repo>/pretrained
_CANDIDATES = [_PKG / "pretrained", _PKG.parent / "pretrained"]
PRETRAINED_DIR = next((d for d in _CANDIDATES if d.is_dir()), _CANDIDATES[-1])


def find_priors() -> list[dict]:
    """Shipped priors: name, path, the training summary from their config and, where the
    config recorded it, the description of :func:`description_from_config`."""
    out = []
    for d in sorted(PRETRAINED_DIR.glob("*")):
        cfg = d / CONFIG_FILE
        if cfg.is_file() and (d / WEIGHTS_FILE).is_file():
            try:
                parsed = json.loads(cfg.read_text())
            except (OSError, ValueError):
                parsed = {}
            info = parsed.get("info", {}) if isinstance(parsed, dict) else {}
            out.append({"name": d.name, "path": str(d), "default": d.name == DEFAULT_PRIOR, "info": info,
                        **(description_from_config(d.name, parsed) or {})})
    return out


def description_from_config(name: str, cfg: object) -> dict | None:
    """What :func:`restore.prior.describe_prior` says of a prior, from the cost its parsed
    ``config.json`` recorded when it was saved (``"cost"``: parameters, GFLOPs per 256x256);
    None when there is none (then the network must be counted). No torch."""
    cost = cfg.get("cost") if isinstance(cfg, dict) else None
    net = cfg.get("network") if isinstance(cfg, dict) else None
    if not isinstance(cost, dict) or not isinstance(net, dict):
        return None
    params, gflops = cost.get("parameters"), cost.get("gflops_256")
    if isinstance(params, bool) or not isinstance(params, int) or params <= 0:
        return None
    if isinstance(gflops, bool) or not isinstance(gflops, (int, float)) or not gflops > 0:
        return None
    return {"name": name, "arch": net.get("arch", "unet"), "parameters": params,
            "native_size": cfg.get("native_size"), "prediction": cfg.get("prediction", "eps"),
            "gflops_256": float(gflops)}
