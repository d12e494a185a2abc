"""Noise schedule of the prior: data, not state.

The prior is a variance-preserving DDPM (Ho et al. 2020): ``x_t = sqrt(abar_t) * u +
sqrt(1 - abar_t) * eps`` with ``u = 2 x - 1`` the image in [-1, 1]. Dividing by
``sqrt(abar_t)`` gives the variance-exploding view used everywhere outside the prior,
``x + sigma * n`` with the image ``x`` in [0, 1] and

    sigma_t = 0.5 * sqrt((1 - abar_t) / abar_t)        (image units, [0, 1])

so standard DDPM checkpoints (linear betas 1e-4..0.02, T=1000) map onto it unchanged, and
so do diffusers' beta schedules (``linear``, ``scaled_linear``, ``squaredcos_cap_v2`` =
``cosine``) and guided-diffusion's (``linear``, ``cosine``). Every function here is pure and
returns float64.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

__all__ = ["KINDS", "VPSchedule", "karras_sigmas", "log_sigmas"]

#: beta schedules a :class:`VPSchedule` can be
KINDS = ("linear", "cosine", "scaled_linear")


@dataclass(frozen=True)
class VPSchedule:
    """A discrete variance-preserving schedule (DDPM).

    Parameters
    ----------
    num_timesteps : int
        Number of discrete diffusion steps ``T``.
    beta_start, beta_end : float
        First and last beta of the schedule.
    kind : {"linear", "cosine", "scaled_linear"}
        Beta schedule: linear (Ho et al. 2020), cosine (Nichol & Dhariwal 2021, betas
        clipped at 0.999; diffusers' ``squaredcos_cap_v2``) or diffusers' ``scaled_linear``
        (betas linear in ``sqrt(beta)``, the latent-diffusion schedule).
    precision : {"float64", "float32"}
        Precision the betas and their cumulative product are computed in. "float32"
        reproduces diffusers' schedulers bit for bit (they compute them in float32, and
        their models were trained on those values); guided-diffusion and this project use
        float64. The tables are returned as float64 either way.
    """

    num_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    kind: str = "linear"
    precision: str = "float64"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"schedule kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.precision not in ("float64", "float32"):
            raise ValueError(f"schedule precision must be 'float64' or 'float32', got {self.precision!r}")
        if self.num_timesteps < 2:
            raise ValueError(f"num_timesteps must be >= 2, got {self.num_timesteps}")
        if not 0 < self.beta_start < self.beta_end < 1:
            raise ValueError(
                f"need 0 < beta_start < beta_end < 1, got {self.beta_start}, {self.beta_end}"
            )

    def to_dict(self) -> dict:
        """The fields, ``precision`` only where it is not the default (so configs written
        before it existed and those written now read the same)."""
        d = asdict(self)
        if d["precision"] == "float64":
            del d["precision"]
        return d

    def _betas(self) -> torch.Tensor:
        T, dt = self.num_timesteps, getattr(torch, self.precision)
        if self.kind == "linear":
            return torch.linspace(self.beta_start, self.beta_end, T, dtype=dt)
        if self.kind == "scaled_linear":
            return torch.linspace(self.beta_start**0.5, self.beta_end**0.5, T, dtype=dt) ** 2
        s = 0.008  # cosine: always computed in float64, then rounded (as diffusers does)
        steps = torch.arange(T + 1, dtype=torch.float64) / T
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        return (1 - f[1:] / f[:-1]).clamp(max=0.999).to(dt)

    def betas(self) -> torch.Tensor:
        """Betas, float64, shape ``(T,)``."""
        return self._betas().double()

    def alphas_cumprod(self) -> torch.Tensor:
        """``abar_t`` for t = 0..T-1, float64 (the product taken in ``precision``)."""
        return torch.cumprod(1 - self._betas(), dim=0).double()

    def sigmas(self) -> torch.Tensor:
        """Noise level of every timestep in image units, increasing, float64."""
        ac = self.alphas_cumprod()
        return 0.5 * torch.sqrt((1 - ac) / ac)

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas()[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas()[-1])

    def t_from_sigma(self, sigma: torch.Tensor) -> torch.Tensor:
        """Continuous timestep for noise level ``sigma`` (image units).

        Linear interpolation of ``t`` against ``log sigma_t``; clamped to [0, T-1].
        """
        return t_from_sigma_table(torch.log(self.sigmas()).to(sigma.device), sigma)

    def sigma_from_t(self, t: torch.Tensor) -> torch.Tensor:
        """Noise level at continuous timestep ``t`` (log-linear interpolation)."""
        return sigma_from_t_table(torch.log(self.sigmas()).to(t.device), t)

    def sampling_sigmas(
        self, steps: int, *, sigma_max: float | None = None, sigma_min: float | None = None,
        spacing: str = "uniform",
    ) -> torch.Tensor:
        """The decreasing noise levels a sampler visits, ending with 0.

        Parameters
        ----------
        steps : int
            Number of network evaluations (the returned tensor has ``steps + 1`` entries).
        sigma_max : float, optional
            Start below the schedule's top (e.g. at the measurement noise); default: top.
        sigma_min : float, optional
            The last nonzero level; default: the schedule's bottom.
        spacing : {"uniform", "karras", "log"}
            "uniform": evenly spaced timesteps (DDIM). "karras": Karras et al. (2022),
            rho = 7. "log": log-uniform (geometric) levels, DPIR's own schedule.

        Returns
        -------
        torch.Tensor
            float64, shape ``(steps + 1,)``, strictly decreasing, last entry 0.
        """
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        top = self.sigma_max if sigma_max is None else min(float(sigma_max), self.sigma_max)
        top = max(top, self.sigma_min)
        lo = self.sigma_min if sigma_min is None else min(max(float(sigma_min), self.sigma_min), top)
        if spacing == "uniform":
            t_top, t_lo = (float(self.t_from_sigma(torch.tensor(v, dtype=torch.float64))) for v in (top, lo))
            ts = torch.linspace(t_top, t_lo, steps, dtype=torch.float64)
            s = self.sigma_from_t(ts)
        elif spacing == "karras":
            s = karras_sigmas(steps, lo, top)
        elif spacing == "log":
            s = log_sigmas(steps, lo, top)
        else:
            raise ValueError(f"spacing must be 'uniform', 'karras' or 'log', got {spacing!r}")
        return torch.cat([s, s.new_zeros(1)])


def log_sigmas(n: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """``n`` geometric (log-uniform) levels from sigma_max down to sigma_min, DPIR's own."""
    return torch.exp(torch.linspace(math.log(sigma_max), math.log(sigma_min), n, dtype=torch.float64))


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. (2022), eq. 5: ``n`` decreasing levels from sigma_max to sigma_min."""
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def t_from_sigma_table(log_s: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """:meth:`VPSchedule.t_from_sigma` on a given ``log sigma_t`` table (float64, on
    ``sigma``'s device: a caller that holds it there needs no host copy per call)."""
    ls = torch.log(sigma.to(torch.float64).clamp(min=1e-12)).clamp(log_s[0], log_s[-1])
    idx = torch.searchsorted(log_s, ls).clamp(1, len(log_s) - 1)
    lo, hi = log_s[idx - 1], log_s[idx]
    return (idx - 1).to(torch.float64) + (ls - lo) / (hi - lo)


def sigma_from_t_table(log_s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """:meth:`VPSchedule.sigma_from_t` on a given ``log sigma_t`` table."""
    T = len(log_s)
    t = t.to(torch.float64).clamp(0, T - 1)
    lo = t.floor().long().clamp(max=T - 2)
    w = t - lo
    return torch.exp(log_s[lo] * (1 - w) + log_s[lo + 1] * w)
