"""Convert a foreign checkpoint into a prior directory (``config.json`` + safetensors).

Only OpenAI's guided-diffusion (ADM) ``.pt`` files for now. The pickle is read with
``torch.load(..., weights_only=True)``: tensors and plain containers only, so a file that
needs anything else (code, objects) is refused before any of it runs. After conversion the
prior loads like any other (``--weights DIR``, ``prior=DIR``), with no pickle involved.

This module imports torch only when converting, so the command line stays fast.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import WeightsError, caught_warnings

__all__ = ["ADM_PRESETS", "convert_adm"]

#: guided-diffusion flags of the released unconditional 256x256 models
ADM_PRESETS: dict[str, dict] = {
    # openai/guided-diffusion README, "256x256 model (unconditional)": MODEL_FLAGS of
    # 256x256_diffusion_uncond.pt (552,814,086 parameters with these flags)
    "imagenet256-uncond": {
        "attention_resolutions": "32,16,8", "class_cond": False, "diffusion_steps": 1000, "image_size": 256,
        "learn_sigma": True, "noise_schedule": "linear", "num_channels": 256, "num_head_channels": 64,
        "num_res_blocks": 2, "resblock_updown": True, "use_fp16": True, "use_scale_shift_norm": True,
    },
    # DPS (DPS2022/diffusion-posterior-sampling) configs/model_config.yaml, the FFHQ model
    # ffhq_10m.pt that DPS and DiffPIR use; schedule from its configs/diffusion_config.yaml
    # (1000 steps, linear); 93,563,910 parameters
    "ffhq256": {
        "image_size": 256, "num_channels": 128, "num_res_blocks": 1, "channel_mult": "", "learn_sigma": True,
        "class_cond": False, "use_checkpoint": False, "attention_resolutions": "16", "num_heads": 4,
        "num_head_channels": 64, "num_heads_upsample": -1, "use_scale_shift_norm": True, "dropout": 0.0,
        "resblock_updown": True, "use_fp16": False, "use_new_attention_order": False, "diffusion_steps": 1000,
        "noise_schedule": "linear",
    },
}


def _read_checkpoint(path: Path) -> dict:
    """The tensors of a checkpoint: a ``torch.save`` file unpickled with ``weights_only=True``
    (nothing in the file runs; anything but tensors and plain containers is refused), or a
    ``.safetensors`` file (told by its header, not its name); see :func:`_nested`."""
    import pickle
    import warnings

    import torch

    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(9)
    # safetensors: an 8-byte little-endian header length, then the JSON header (read as such, whatever
    # its first byte: one whose length began with 0x80 passed for a pickle, the others were refused)
    if len(head) == 9 and head[8:9] == b"{" and 2 <= int.from_bytes(head[:8], "little") <= path.stat().st_size:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return _nested(load_file(str(path)), path)
        except (SafetensorError, OSError, ValueError) as e:
            raise WeightsError(f"{path}: not a readable safetensors file ({_first(e)})") from None
    if not (head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")):  # torch.save: a zip, or a pickle (protocol 2+)
        raise WeightsError(f"{path}: not a PyTorch checkpoint (neither a torch.save zip nor a pickle, nor safetensors)")
    try:
        with caught_warnings():  # torch's remark on plain (non-zip) pickles
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # the object's name only: torch's own advice (add_safe_globals) would undo the safety this load is for
        name = re.search(r"GLOBAL ([\w.]+)|global ['`]?([\w.]+)", str(e))
        what = f" ({name.group(1) or name.group(2)})" if name else ""
        raise WeightsError(f"{path}: refused: the checkpoint holds Python objects beyond tensors and plain "
                           f"containers{what}, which could run code when loaded; save its state dict alone "
                           "(torch.save(model.state_dict(), PATH))") from None
    except (RuntimeError, OSError, EOFError, ValueError, KeyError, AttributeError, TypeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if isinstance(e, KeyError) or len(msg) < 8:  # pickle's bare opcode ("101"): the file is no pickle at all
            msg = "neither a torch.save zip nor a pickle"
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint ({msg})") from None
    return _nested(obj, path)


def _first(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


#: the entries training checkpoints nest their weights under, the one sampled with first (a
#: checkpoint with a model and its EMA was converted from the model, in silence)
NESTED = ("ema", "state_dict", "model")


def _nested(obj, path: Path) -> dict:
    """The state dict in a checkpoint's object: itself, or the first of :data:`NESTED` it holds
    (said where it holds another); a DataParallel's ``module.`` prefix taken off every name."""
    import warnings

    import torch

    def weights(v) -> bool:  # a state dict: names -> tensors, not empty (an EMA's own settings are not one)
        return isinstance(v, dict) and bool(v) and all(isinstance(t, torch.Tensor) for t in v.values())

    if isinstance(obj, dict) and not weights(obj):
        held = [k for k in NESTED if weights(obj.get(k))]
        if held:
            if len(held) > 1:
                warnings.warn(f"{path}: the weights are its '{held[0]}' entry (it also holds "
                              f"{', '.join(repr(k) for k in held[1:])})", UserWarning, stacklevel=3)
            obj = obj[held[0]]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        if isinstance(obj, dict) and obj:
            what = f"a dict of {', '.join(repr(k) for k in list(obj)[:4])}{', ...' if len(obj) > 4 else ''}"
        elif isinstance(obj, torch.Tensor):  # (its truth value is no test: ambiguous, or its one number)
            what = f"one tensor of shape {tuple(obj.shape)}"
        elif obj is None or (isinstance(obj, (dict, list, tuple, str, bytes)) and not obj):
            what = "nothing" if obj is None else f"an empty {type(obj).__name__}"
        else:
            what = type(obj).__name__
        raise WeightsError(f"{path}: expected a state dict (names -> tensors, or one under "
                           f"{' / '.join(repr(k) for k in NESTED)}), got {what}")
    if all(k.startswith("module.") for k in obj):  # saved from torch.nn.DataParallel
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def training_checkpoint(path: str | os.PathLike) -> str | None:
    """What to say of a file of a ``restore train`` checkpoint given to convert (it asked for
    a guided-diffusion preset), else None."""
    p = Path(path)
    if p.parent.name == "checkpoint" and (p.parent / "state.json").is_file():
        return (f"{p}: a `restore train` checkpoint (to --resume), not a guided-diffusion model; its prior is the "
                f"folder above, {p.parent.parent}, ready to use")
    return None


def convert_adm(
    ckpt_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    preset: str | None = None,
    flags: dict | None = None,
    *,
    dtype: str = "float32",
    overwrite: bool = False,
) -> Path:
    """Convert a guided-diffusion (ADM) checkpoint into a prior directory.

    Parameters
    ----------
    ckpt_path : path
        The ``.pt`` file (a state dict, as released by openai/guided-diffusion and DPS).
    out_dir : path
        Prior directory to write (``config.json`` + ``model.safetensors``, each written to a
        temporary file and renamed into place).
    preset : str, optional
        One of :data:`ADM_PRESETS` (``imagenet256-uncond``, ``ffhq256``).
    flags : dict, optional
        guided-diffusion flags (its names, e.g. ``{"num_channels": 128, ...}``); with a
        preset they override it. At least one of ``preset`` and ``flags`` is needed.
    dtype : {"float32", "float16", "bfloat16"}
        Storage precision of the weights (computed in float32 after loading).
    overwrite : bool
        Replace an existing prior in ``out_dir``.

    Returns
    -------
    Path
        ``out_dir``.

    Examples
    --------
    >>> convert_adm("256x256_diffusion_uncond.pt", "imagenet256", preset="imagenet256-uncond")  # doctest: +SKIP
    PosixPath('imagenet256')
    """
    import torch  # torch and the prior here, not at the top: `restore --help` reads ADM_PRESETS torch-free

    from .paths import CONFIG_FILE
    from .prior.adm import ADMNet, adm_config, adm_from_flags
    from .prior.schedule import VPSchedule
    from .prior.weights import WEIGHT_DTYPES, check_state_dict, save_prior

    ours = training_checkpoint(ckpt_path)
    if ours:
        raise WeightsError(ours)
    if preset is None and not flags:
        raise WeightsError(f"give a preset ({', '.join(ADM_PRESETS)}) or the model's flags")
    if preset is not None and preset not in ADM_PRESETS:
        raise WeightsError(f"unknown ADM preset {preset!r} (choose from {', '.join(ADM_PRESETS)})")
    if dtype not in WEIGHT_DTYPES:
        raise WeightsError(f"dtype must be one of {', '.join(WEIGHT_DTYPES)}, got {dtype!r}")
    out = Path(out_dir)
    if (out / CONFIG_FILE).exists() and not overwrite:
        raise WeightsError(f"{out}: already holds a prior (overwrite=True replaces it)")
    all_flags = {**ADM_PRESETS.get(preset, {}), **(flags or {})}
    net_cfg, sched_cfg, prediction = adm_from_flags(all_flags)
    sd = _read_checkpoint(Path(ckpt_path))
    with torch.device("meta"):  # no second copy of the weights: the tensors are assigned
        net = ADMNet(**adm_config(net_cfg))
    bad = [k for k, v in sd.items() if not v.is_floating_point()]
    if bad:
        raise WeightsError(f"{ckpt_path}: tensor {bad[0]} is {sd[bad[0]].dtype}, expected floating point")
    sd = {k: v.float() for k, v in sd.items()}
    try:
        check_state_dict(net, sd, str(ckpt_path), against=f"preset {preset}" if preset and not flags else "the flags")
    except WeightsError as e:
        if any(k.startswith(("conv_in.", "down_blocks.", "time_embedding.")) for k in sd):  # diffusers' names
            raise WeightsError(f"{e}; these are a diffusers UNet2DModel's weights: save it with save_pretrained() "
                               "and give that folder as the prior (--weights), no conversion needed") from None
        raise
    net.load_state_dict(sd, assign=True)
    info = {"source": Path(ckpt_path).name, "converted_from": "guided-diffusion", "flags": all_flags}
    if preset:
        info["preset"] = preset
    return save_prior(out, net, VPSchedule(**sched_cfg), info, prediction=prediction, dtype=dtype,
                      native_size=net.image_size)
