"""Where shipped priors live (torch-free, so ``restore list`` stays fast)."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["CONFIG_FILE", "DEFAULT_PRIOR", "PREDICTIONS", "PRETRAINED_DIR", "WEIGHTS_FILE", "find_priors"]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
DEFAULT_PRIOR = "restore-small"
#: what a prior's network may predict (config.json "prediction"); see restore.prior.denoiser
PREDICTIONS = ("eps", "edm")
_PKG = Path(__file__).resolve().parent
# an installed wheel carries them as restore/pretrained; a source checkout has <repo>/pretrained
_CANDIDATES = [_PKG / "pretrained", _PKG.parent / "pretrained"]
PRETRAINED_DIR = next((d for d in _CANDIDATES if d.is_dir()), _CANDIDATES[-1])


def find_priors() -> list[dict]:
    """Shipped priors: name, path and the training summary from their config."""
    out = []
    for d in sorted(PRETRAINED_DIR.glob("*")):
        cfg = d / CONFIG_FILE
        if cfg.is_file() and (d / WEIGHTS_FILE).is_file():
            try:
                info = json.loads(cfg.read_text()).get("info", {})
            except (OSError, ValueError):
                info = {}
            out.append({"name": d.name, "path": str(d), "default": d.name == DEFAULT_PRIOR, "info": info})
    return out
