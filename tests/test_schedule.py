import torch

from restore.prior.schedule import VPSchedule, karras_sigmas


def test_sigmas_match_ddpm_linear_schedule():
    s = VPSchedule()
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    ac = torch.cumprod(1 - betas, 0)
    assert torch.allclose(s.sigmas(), 0.5 * torch.sqrt((1 - ac) / ac))
    assert s.sigmas().dtype == torch.float64
    assert (s.sigmas().diff() > 0).all()


def test_t_sigma_roundtrip_and_clamping():
    s = VPSchedule()
    t = torch.tensor([0.0, 3.5, 250.25, 998.0], dtype=torch.float64)
    assert torch.allclose(s.t_from_sigma(s.sigma_from_t(t)), t, atol=1e-6)
    assert float(s.t_from_sigma(torch.tensor(1e-9))) == 0.0
    assert float(s.t_from_sigma(torch.tensor(1e9))) == 999.0


def test_sampling_sigmas_decrease_to_zero():
    s = VPSchedule(kind="cosine")
    for spacing in ("uniform", "karras", "log"):
        sig = s.sampling_sigmas(7, sigma_max=0.3, spacing=spacing)
        assert sig.shape == (8,) and sig[-1] == 0 and (sig.diff() < 0).all()
        assert abs(float(sig[0]) - 0.3) < 1e-9
    assert abs(float(s.sampling_sigmas(3)[0]) / s.sigma_max - 1) < 1e-9


def test_karras_endpoints():
    k = karras_sigmas(5, 0.01, 2.0)
    assert abs(float(k[0]) - 2.0) < 1e-12 and abs(float(k[-1]) - 0.01) < 1e-12


def test_sigma_min_ends_every_spacing_and_log_is_geometric():
    import pytest

    s = VPSchedule()
    for spacing in ("uniform", "karras", "log"):
        sig = s.sampling_sigmas(20, sigma_max=0.2, sigma_min=0.01, spacing=spacing)
        assert sig.shape == (21,) and sig[-1] == 0 and (sig.diff() < 0).all()
        assert abs(float(sig[0]) - 0.2) < 1e-9 and abs(float(sig[-2]) - 0.01) < 1e-9
    ratios = (sig[1:-1] / sig[:-2]).numpy()  # log spacing: one constant ratio, (0.01 / 0.2) ** (1 / 19)
    assert abs(ratios - (0.01 / 0.2) ** (1 / 19)).max() < 1e-12
    # below the schedule's bottom it is clamped; above sigma_max, sigma_max wins
    assert abs(float(s.sampling_sigmas(5, sigma_min=1e-9, spacing="log")[-2]) - s.sigma_min) < 1e-12
    assert float(s.sampling_sigmas(3, sigma_max=0.1, sigma_min=0.5, spacing="log")[-2]) <= 0.1 + 1e-12
    with pytest.raises(ValueError, match="'uniform', 'karras' or 'log'"):
        s.sampling_sigmas(3, spacing="cosine")

