"""Operators by their properties on odd sizes (deepinv-style)."""

import numpy as np
import pytest
import torch

from restore.errors import InputError
from restore.tasks.denoise import Denoise
from restore.tasks.inpaint import Inpaint
from restore.tasks.superres import SuperResolve


def _ops():
    g = torch.Generator().manual_seed(0)
    known = torch.rand(1, 37, 53, generator=g) > 0.4
    yield Denoise((3, 37, 53), 0.1)
    yield Inpaint(known, (3, 37, 53), 0.05)
    yield Inpaint(torch.rand(3, 37, 53, generator=g) > 0.5, (3, 37, 53))
    for s, k in [(2, "bicubic"), (3, "bicubic"), (4, "box"), (8, "bicubic")]:
        H, W = 37 - 37 % s + (s if s == 8 else 0), 53 - 53 % s
        yield SuperResolve((1, H, W), s, k, 0.02)


OPS = list(_ops())


@pytest.mark.parametrize("op", OPS, ids=lambda o: f"{o.task}-{o.x_shape}-{getattr(o, 'scale', '')}")
def test_operator_properties(op):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, *op.x_shape, generator=g, dtype=torch.float64)
    y = op.A(x)
    v = torch.rand(y.shape, generator=g, dtype=torch.float64)
    # adjointness <A x, v> = <x, A^T v>
    assert abs(float((y * v).sum() - (x * op.A_adjoint(v)).sum())) < 1e-9 * float(y.numel())
    # pseudo-inverse: A A+ y = y for y in the range, A A+ A = A, A+ A idempotent
    assert torch.allclose(op.A(op.A_dagger(y)), y, atol=1e-9)
    p = op.project(x)
    assert torch.allclose(op.project(p), p, atol=1e-9)
    # SVD parts reproduce A
    assert torch.allclose(op.U(op.singulars(x) * op.Vt(x)), y, atol=1e-9)
    assert torch.allclose(op.V(op.Vt(x)), x, atol=1e-9)


@pytest.mark.parametrize("op", OPS[:4] + OPS[-1:], ids=lambda o: o.task)
def test_prox_is_the_minimiser(op):
    g = torch.Generator().manual_seed(2)
    z = torch.rand(1, *op.x_shape, generator=g, dtype=torch.float64)
    y = op.A(torch.rand(1, *op.x_shape, generator=g, dtype=torch.float64))
    rho = 0.3
    x = op.prox(z, y, rho).requires_grad_(True)
    f = ((y - op.A(x)) ** 2).sum() + rho * ((x - z) ** 2).sum()
    (grad,) = torch.autograd.grad(f, x)
    assert grad.abs().max() < 1e-8


@pytest.mark.parametrize("op", [OPS[0], OPS[1], OPS[4]], ids=lambda o: o.task)
def test_measurement_noise_std(op):
    x = torch.full((4, *op.x_shape), 0.5)
    g = torch.Generator().manual_seed(3)
    y = op.measure(x, g)
    r = y - op.A(x)
    if op.task == "inpaint":
        r = r[op.mask(r).expand_as(r) > 0]
    assert abs(float(r.std()) / op.sigma_y - 1) < 0.05


def test_bicubic_matches_pillow():
    from PIL import Image

    yy, xx = np.mgrid[0:48, 0:64]
    img = (127 + 60 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + 30 * np.cos((xx + yy) / 11.0)).astype(np.uint8)
    for s in (2, 3, 4, 8):
        H, W = 48 - 48 % s, 64 - 64 % s
        im = img[:H, :W]
        pil = np.asarray(Image.fromarray(im).resize((W // s, H // s), Image.BICUBIC)).astype(np.float64)
        op = SuperResolve((1, H, W), s)
        ours = op.A(torch.from_numpy(im.astype(np.float64))[None, None])[0, 0].numpy()
        # Pillow rounds to uint8 after each of its two 1-D passes
        assert np.abs(ours - pil).max() <= 1.0 and abs((ours - pil).mean()) < 0.1


def test_operator_errors():
    with pytest.raises(InputError, match="not supported"):
        SuperResolve((3, 40, 40), 5)
    with pytest.raises(InputError, match="multiple"):
        SuperResolve((3, 41, 40), 4)
    with pytest.raises(InputError, match="no hole"):
        Inpaint(torch.ones(8, 8, dtype=torch.bool), (3, 8, 8))
    with pytest.raises(InputError, match="whole image"):
        Inpaint(torch.zeros(8, 8, dtype=torch.bool), (3, 8, 8))
    with pytest.raises(InputError, match="mask is"):
        Inpaint(torch.ones(8, 9, dtype=torch.bool), (3, 8, 8))


def test_estimate_sigma():
    from restore.tasks.denoise import estimate_sigma

    g = torch.Generator().manual_seed(0)
    x = 0.5 + 0.1 * torch.randn(1, 3, 128, 128, generator=g)
    assert abs(estimate_sigma(x) - 0.1) < 0.01


def test_estimate_sigma_is_scikit_images_without_its_warnings():
    """The same numbers as ``skimage.restoration.estimate_sigma`` (per channel, averaged), with
    no warnings filter set: it had been set around scikit-image's call (a flat channel warns), and
    the filters were the whole process's (a program's other threads lost theirs for a moment)."""
    import warnings

    from skimage.restoration import estimate_sigma as reference

    from restore.noise import estimate_sigma

    g = torch.Generator().manual_seed(1)
    for shape in [(1, 3, 64, 48), (1, 1, 37, 53), (1, 3, 5, 200), (2, 3, 16, 16)]:
        x = (0.3 * torch.rand(*shape, generator=g)).double()
        ref = np.mean([np.mean(reference(b.numpy().transpose(1, 2, 0), channel_axis=-1, average_sigmas=False))
                       for b in x])
        assert estimate_sigma(x) == pytest.approx(ref, rel=1e-12)
    ramp = torch.linspace(0, 1, 32).expand(1, 3, 32, 32)  # no nonzero diagonal detail: no noise, no warning
    filters = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert estimate_sigma(torch.full((1, 3, 40, 40), 0.5)) < 1e-12 and estimate_sigma(ramp) < 1e-12
    assert warnings.filters == filters


def test_sr_start_is_consistent_and_does_not_ring_at_the_edges():
    """The bicubic pseudo-inverse (the minimum-norm start) rang at the image's edges, a first
    column 62 levels dark, which few sampler steps left as a frame; the start is now bicubic
    upsampling corrected in the row space: as consistent with y, and smooth where x is."""
    H, W = 48, 64
    yy, xx = torch.meshgrid(torch.linspace(0.2, 0.8, H), torch.linspace(0.1, 0.9, W), indexing="ij")
    x = torch.stack([yy, xx, 0.5 * (xx + yy)])[None]
    for kernel in ("bicubic", "box"):
        op = SuperResolve((3, H, W), scale=4, kernel=kernel)
        y = op.A(x)
        z = op.init(y)
        assert torch.allclose(op.A(z), y, atol=1e-5)
        if kernel == "bicubic":
            edge = torch.cat([(z - x)[..., :, :2].flatten(), (z - x)[..., :, -2:].flatten(),
                              (z - x)[..., :2, :].flatten(), (z - x)[..., -2:, :].flatten()])
            assert edge.abs().max() < 4 / 255 < (op.A_dagger(y) - x)[..., :, 0].abs().max()
