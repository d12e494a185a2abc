"""Forward operators ``y = A x + n`` (deepinv's ``physics``, DDRM's ``H_functions``).

Every operator here has a singular value decomposition ``A = U diag(s) V^T`` that is cheap
to apply, which gives the pseudo-inverse, the proximal step of the data term and DDRM's
spectral updates from one place. Subclasses override ``A`` / ``A_adjoint`` / ``A_dagger``
where a direct formula is faster.

Conventions: ``x`` is ``(B, C, H, W)`` in [0, 1]; the spectral coefficients ``V^T x`` have
the shape of ``x``; ``U^T y`` is returned zero-padded to that shape as well, with the
singular values (zero where nothing is measured) in ``singulars`` (broadcastable).
"""

from __future__ import annotations

import torch

from . import CAPABILITIES

__all__ = ["CAPABILITIES", "Operator"]



class Operator:
    """Base class of a task's forward operator.

    Attributes
    ----------
    x_shape : tuple
        ``(C, H, W)`` of the image being restored.
    sigma_y : float
        Standard deviation of the measurement noise (image units).
    capabilities : frozenset of str
        Subset of :data:`CAPABILITIES`.
    """

    capabilities: frozenset = frozenset({"pinv", "svd", "grad"})
    task: str = ""

    def __init__(self, x_shape: tuple[int, int, int], sigma_y: float = 0.0) -> None:
        if sigma_y < 0:
            raise ValueError(f"sigma_y must be >= 0, got {sigma_y}")
        self.x_shape = tuple(int(v) for v in x_shape)
        self.sigma_y = float(sigma_y)

    # -- SVD parts (subclasses implement) -----------------------------------------
    def Vt(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def V(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def Ut(self, y: torch.Tensor) -> torch.Tensor:
        """``U^T y`` zero-padded to the spectral shape (that of ``x``)."""
        raise NotImplementedError

    def U(self, z: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`Ut` on the measured coefficients."""
        raise NotImplementedError

    def singulars(self, like: torch.Tensor) -> torch.Tensor:
        """Singular values, broadcastable to the spectral shape (0 = not measured)."""
        raise NotImplementedError

    # -- derived -------------------------------------------------------------------
    def A(self, x: torch.Tensor) -> torch.Tensor:
        return self.U(self.singulars(x) * self.Vt(x))

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.V(self.singulars(y) * self.Ut(y))

    def A_dagger(self, y: torch.Tensor) -> torch.Tensor:
        s = self.singulars(y)
        return self.V(torch.where(s > 0, self.Ut(y) / s.clamp(min=1e-12), torch.zeros_like(s)))

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """``A_dagger A x``: the part of ``x`` the measurement sees (row space)."""
        return self.A_dagger(self.A(x))

    def prox(self, z: torch.Tensor, y: torch.Tensor, rho: float) -> torch.Tensor:
        """``argmin_x ||y - A x||^2 + rho ||x - z||^2`` (exact, through the SVD)."""
        s = self.singulars(z)
        zt, ut = self.Vt(z), self.Ut(y)
        if rho <= 0:
            xt = torch.where(s > 0, ut / s.clamp(min=1e-12), zt)
        else:
            xt = (s * ut + rho * zt) / (s * s + rho)
        return self.V(xt)

    def measure(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Synthesise ``y = A x + sigma_y n`` from a clean image (for evaluation)."""
        y = self.A(x)
        if self.sigma_y > 0:
            n = torch.randn(y.shape, generator=generator, device=_gen_device(generator)).to(y)
            y = y + self.sigma_y * self._noise_support(n)
        return y

    def _noise_support(self, n: torch.Tensor) -> torch.Tensor:
        return n

    def init(self, y: torch.Tensor) -> torch.Tensor:
        """A starting estimate of ``x`` from ``y`` (the pseudo-inverse)."""
        return self.A_dagger(y)

    def describe(self) -> dict:
        return {"task": self.task, "sigma_y": self.sigma_y}


def _gen_device(g: torch.Generator | None) -> torch.device:
    return g.device if g is not None else torch.device("cpu")
