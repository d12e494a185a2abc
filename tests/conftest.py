"""Shared fixtures: a tiny prior on disk, an analytic Gaussian prior, the shared data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED


@pytest.fixture(scope="session")
def tiny_prior_dir(tmp_path_factory) -> Path:
    """A tiny randomly initialised prior (not the identity), saved as a prior directory."""
    from restore.prior import UNet, VPSchedule, save_prior

    torch.manual_seed(0)
    net = UNet(3, (8, 16), (1, 1), unshuffle=2, emb_dim=16)
    with torch.no_grad():
        for p in net.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.02)
    d = tmp_path_factory.mktemp("tiny-prior")
    save_prior(d, net, VPSchedule(), {"note": "test prior"})
    return d


@pytest.fixture(autouse=True)
def _random_prior_converges(request, monkeypatch):
    """The tiny prior is random: a sampler's result with it is no restoration, and would be
    refused as far from its measurement, or as holes unlike their surroundings
    (``restore.api._check_converged``). Tests that take it
    for the plumbing run without that check; ``@pytest.mark.converges`` keeps it."""
    if {"tiny_prior", "tiny_prior_dir"} & set(request.fixturenames) and not request.node.get_closest_marker(
            "converges"):
        import restore.api

        monkeypatch.setattr(restore.api, "DIVERGED", float("inf"))
        monkeypatch.setattr(restore.api, "HOLE_SATURATED", float("inf"))  # and holes unlike their surroundings
        monkeypatch.setattr(restore.api, "HOLE_BUSY", float("inf"))


@pytest.fixture(scope="session")
def tiny_prior(tiny_prior_dir):
    from restore.prior import load_prior

    return load_prior(tiny_prior_dir)


class GaussianPrior:
    """Data ``x ~ N(mu, Sigma)`` (dense, small): the exact denoiser
    ``D(x, s) = mu + Sigma (Sigma + s^2 I)^-1 (x - mu)`` and the exact posterior of
    ``y = A x + n`` for a linear operator given as a matrix."""

    def __init__(self, shape=(1, 6, 6), seed=0, corr=1.5, var=0.02, mean=0.45):
        g = torch.Generator().manual_seed(seed)
        C, H, W = shape
        self.shape = shape
        n = C * H * W
        yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
        pts = torch.stack([yy.flatten(), xx.flatten()], 1).double()
        d2 = ((pts[:, None] - pts[None]) ** 2).sum(-1)
        k = torch.exp(-d2 / (2 * corr**2))
        self.Sigma = var * torch.kron(torch.eye(C, dtype=torch.float64), k) + 1e-4 * torch.eye(n, dtype=torch.float64)
        self.mu = mean + 0.05 * torch.randn(n, generator=g, dtype=torch.float64)
        self.n = n

    def __call__(self, x, sigma):
        B = x.shape[0]
        s = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1).expand(B)
        xf = x.reshape(B, -1).double() - self.mu
        out = torch.empty_like(xf)
        for sv in s.unique():  # one solve per distinct noise level
            idx = s == sv
            M = self.Sigma @ torch.linalg.inv(self.Sigma + sv**2 * torch.eye(self.n, dtype=torch.float64))
            out[idx] = self.mu + xf[idx] @ M.T
        return out.reshape(x.shape).to(x.dtype)

    def sample(self, g):
        L = torch.linalg.cholesky(self.Sigma)
        return (self.mu + L @ torch.randn(self.n, generator=g, dtype=torch.float64)).reshape(1, *self.shape)

    def posterior(self, A: torch.Tensor, y: torch.Tensor, sigma_y: float):
        """Exact posterior mean and covariance of x given y = A x + n."""
        S, mu = self.Sigma, self.mu
        G = A @ S @ A.T + (sigma_y**2 + 1e-10) * torch.eye(A.shape[0], dtype=torch.float64)
        K = S @ A.T @ torch.linalg.inv(G)
        mean = mu + K @ (y.flatten().double() - A @ mu)
        cov = S - K @ A @ S
        return mean, cov


@pytest.fixture
def gaussian_prior():
    return GaussianPrior()


def operator_matrix(op, x_shape) -> torch.Tensor:
    """Dense matrix of an operator (columns = images of basis vectors)."""
    n = int(np.prod(x_shape))
    eye = torch.eye(n, dtype=torch.float64).reshape(n, *x_shape)
    return op.A(eye).reshape(n, -1).T


def float_tolerance(ref: torch.Tensor, net: torch.nn.Module | None = None, slack: float = 2.0) -> float:
    """Absolute tolerance for two float computations of the same result that may order their
    sums differently (another library version, kernel or thread count): ``slack`` machine
    epsilons of ``ref``'s dtype times its largest magnitude, and for a network, times the
    sum over its conv / linear layers of sqrt(fan-in), how rounding grows with the dot
    products' length and the network's depth. Derived from the computation, not from one
    run's observed difference."""
    eps = torch.finfo(ref.dtype).eps
    growth = 1.0
    if net is not None:
        growth = sum(m.weight[0].numel() ** 0.5 for m in net.modules()
                     if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    return slack * eps * float(ref.abs().max()) * max(growth, 1.0)
