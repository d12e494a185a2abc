"""``restore convert``: a foreign checkpoint into a prior directory (a thin layer over
:func:`restore.convert.convert_adm`; torch is imported only when it runs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from restore.convert import ADM_PRESETS, training_checkpoint

from .groups import CONTEXT


def _parse_flags(text: str) -> dict:
    """``--flags``: a JSON object, or the path of a file holding one."""
    p = Path(text)
    inline = text.lstrip().startswith("{")
    if not inline and p.is_file():
        text = p.read_text()
    elif not inline:  # neither JSON nor a file: most likely a file name mistyped
        raise click.BadParameter(f"'{text}' is neither a JSON object nor an existing file", param_hint="--flags")
    try:
        flags = json.loads(text)
    except json.JSONDecodeError as e:
        where = "" if inline else f"{p}: "
        raise click.BadParameter(f"{where}not valid JSON ({e})", param_hint="--flags") from None
    if not isinstance(flags, dict):
        raise click.BadParameter("must be a JSON object of guided-diffusion flags", param_hint="--flags")
    return flags


@click.command("convert", context_settings=CONTEXT, short_help="turn a PyTorch checkpoint into a prior folder")
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))  # a missing file: exit 1, as elsewhere
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Prior directory to write (config.json + model.safetensors).")
@click.option("--arch", type=click.Choice(["adm"]), default="adm", show_default=True,
              help="Checkpoint kind: adm = OpenAI guided-diffusion (also DPS's and DiffPIR's FFHQ model).")
@click.option("--preset", type=click.Choice(list(ADM_PRESETS)), default=None,
              help="The flags of a released model.")
@click.option("--flags", default=None,
              help="guided-diffusion flags as a JSON object (or a .json file), overriding the preset's.")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16"]), default="float32",
              show_default=True, help="Storage precision of the weights (computed in float32).")
@click.option("--overwrite", is_flag=True, help="Replace a prior already in OUTPUT.")
def convert(checkpoint, output, arch, preset, flags, dtype, overwrite):
    """Convert CHECKPOINT (a PyTorch .pt state dict or a .safetensors file; a training checkpoint's
    'ema', else 'state_dict', else 'model' entry) into a prior directory for --weights.

    The file is unpickled with torch.load(weights_only=True): one that holds anything but
    tensors is refused, and nothing in it runs. The prior keeps the model's native size
    (256): larger images run in 256x256 tiles, smaller ones padded.

    \b
    restore convert 256x256_diffusion_uncond.pt -o imagenet256 --preset imagenet256-uncond
    restore convert ffhq_10m.pt -o ffhq256 --preset ffhq256 --dtype float16
    restore inpaint photo.png mask.png --weights imagenet256 --device cuda
    """
    ours = training_checkpoint(checkpoint)
    if ours:
        click.echo(f"error: {ours}", err=True)
        sys.exit(1)
    if preset is None and flags is None:
        raise click.UsageError(f"give --preset ({', '.join(ADM_PRESETS)}) or --flags JSON")
    parsed = _parse_flags(flags) if flags is not None else None
    from restore.paths import CONFIG_FILE

    if (output / CONFIG_FILE).exists() and not overwrite:  # as restore train says it
        click.echo(f"error: {output}: holds a prior already (pass --overwrite to replace it, or use another -o)",
                   err=True)
        sys.exit(2)
    from restore.convert import convert_adm
    from restore.errors import RestoreError

    try:
        out = convert_adm(checkpoint, output, preset, parsed, dtype=dtype, overwrite=overwrite)
    except RestoreError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    click.echo(f"prior written to {out}")
