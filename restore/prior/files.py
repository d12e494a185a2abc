"""What every prior format shares: reading JSON and safetensors with one-line errors, the
weights' checks, and the registry of foreign formats that :func:`restore.prior.load_prior`
consults before this project's own (a format module registers itself; the loader imports
none of them, so formats and loader do not import each other)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import WeightsError

__all__ = ["FOREIGN_FORMATS", "WEIGHT_DTYPES", "ForeignFormat", "check_state_dict", "foreign_format",
           "load_state_dict", "read_json", "register_format"]


def read_json(path: Path, missing: str = "missing") -> object:
    """A JSON file's content, or a one-line :class:`WeightsError`."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise WeightsError(f"{path}: {missing}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"{path}: not a readable JSON file ({e})") from None


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


def check_state_dict(net: torch.nn.Module, sd: dict[str, torch.Tensor], where: str,
                     dtype: torch.dtype | None = None, against: str = "config.json") -> None:
    """Names, shapes, dtypes (the network's own, or ``dtype`` as the config declares) and
    finiteness of ``sd`` against ``net`` (built from ``against``, named in errors)."""
    expected = net.state_dict()
    missing = sorted(set(expected) - set(sd))
    extra = sorted(set(sd) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} unexpected (e.g. {extra[0]})")
        raise WeightsError(f"{where}: weights do not match {against}: {'; '.join(parts)}")
    for k, v in expected.items():
        if sd[k].shape != v.shape:
            raise WeightsError(
                f"{where}: tensor {k} has shape {tuple(sd[k].shape)}, expected {tuple(v.shape)} from {against}"
            )
        want = dtype or v.dtype
        if sd[k].dtype != want:
            raise WeightsError(f"{where}: tensor {k} is {sd[k].dtype}, expected {want}")
        if not torch.isfinite(sd[k]).all():
            raise WeightsError(f"{where}: tensor {k} holds NaN or inf")


@dataclass(frozen=True)
class ForeignFormat:
    """A folder layout other than this project's that loads as a prior.

    ``detect(dir)`` says whether a directory is one; ``load(dir, device=, tile=)`` returns
    the :class:`~restore.prior.Prior`; ``describe(dir)`` returns ``(network config with its
    "arch", prediction)`` without reading weights; ``build(network config)`` makes the
    network of ``arch == name`` (e.g. on the meta device, to count its cost)."""

    name: str
    detect: Callable[[Path], bool]
    load: Callable[..., object]
    describe: Callable[[Path], tuple[dict, str]]
    build: Callable[[dict], torch.nn.Module]


#: Registered foreign formats, by name (which is also their ``network.arch``), tried in order.
FOREIGN_FORMATS: dict[str, ForeignFormat] = {}


def register_format(fmt: ForeignFormat) -> ForeignFormat:
    FOREIGN_FORMATS[fmt.name] = fmt
    return fmt


def foreign_format(d: Path) -> ForeignFormat | None:
    """The registered foreign format of directory ``d``, if any (checked before our own)."""
    return next((f for f in FOREIGN_FORMATS.values() if f.detect(d)), None)
