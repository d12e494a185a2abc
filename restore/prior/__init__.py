"""The diffusion prior: noise schedule + U-Net, seen as one denoiser ``D(x, sigma)``."""

from . import diffusers  # noqa: F401  (registers the diffusers folder format with the loader)
from .denoiser import Prior
from .schedule import VPSchedule, karras_sigmas
from .unet import UNet
from .weights import build_network, describe_prior, load_prior, save_prior

__all__ = ["Prior", "UNet", "VPSchedule", "build_network", "describe_prior", "karras_sigmas", "load_prior",
           "save_prior"]
