import itertools
import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from restore.errors import WeightsError
from restore.prior import UNet, load_prior
from restore.prior.weights import CONFIG_FILE, WEIGHTS_FILE


def test_any_size_and_gray(tiny_prior):
    g = torch.Generator().manual_seed(0)
    for shape in [(2, 3, 37, 53), (1, 1, 19, 64), (1, 3, 1, 1)]:
        x = torch.rand(shape, generator=g)
        with torch.no_grad():
            out = tiny_prior(x, 0.1)
        assert out.shape == x.shape and torch.isfinite(out).all()


def test_denoiser_is_identity_at_tiny_noise(tiny_prior):
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(tiny_prior(x, 1e-6), x, atol=1e-4)


def test_tiled_matches_untiled(tiny_prior):
    """Seam error of the tiled network call on an image 2.5 tiles wide."""
    from restore.prior import Prior

    x = torch.rand(1, 3, 96, 160, generator=torch.Generator().manual_seed(1))
    full = Prior(tiny_prior.net, tiny_prior.schedule, tile=None)
    tiled = Prior(tiny_prior.net, tiny_prior.schedule, tile=64, tile_overlap=32)
    with torch.no_grad():
        a, b = full(x, 0.2), tiled(x, 0.2)
    err = (a - b).abs()
    assert err.max() < 0.05 and err.mean() < 0.005


def test_a_check_between_tiles_stops_a_tiled_call(tiny_prior):
    """``between_tiles``: its check runs before each tile of this thread's tiled calls (the
    browser app cancels a large photo's single step with it); what it raises stops the call;
    outside the block, and for an untiled call, nothing is checked."""
    import threading

    from restore.prior.denoiser import Prior, between_tiles

    tiled = Prior(tiny_prior.net, tiny_prior.schedule, tile=64, tile_overlap=32)
    x = torch.rand(1, 3, 160, 160)
    seen = []

    class Stop(Exception):
        pass

    def check():
        seen.append(threading.get_ident())
        if len(seen) == 3:
            raise Stop

    with between_tiles(check), pytest.raises(Stop):
        tiled(x, 0.2)
    assert len(seen) == 3  # stopped at the third tile
    with between_tiles(lambda: seen.append(0)):
        tiled(x, 0.2)
        assert seen.count(0) == 16  # 4 x 4 tiles of 64 px over 160 px, each checked once
        Prior(tiny_prior.net, tiny_prior.schedule, tile=None)(x, 0.2)
        other = threading.Thread(target=lambda: tiled(x, 0.2))  # another thread's calls are its own
        other.start()
        other.join()
    assert seen.count(0) == 16
    n = len(seen)
    tiled(x, 0.2)
    assert len(seen) == n


def test_tile_layout_covers_evenly_with_the_fewest_tiles():
    """Every pixel covered, neighbours overlap by at least ``overlap``, no tile over ``tile``,
    one size for all (a multiple of ``multiple`` where it fits), and no more tiles than the
    minimum: a side just over the tile size costs two small tiles, not two full ones."""
    import math

    from restore.tiling import tile_layout

    for n in [1, 63, 64, 65, 100, 1034, 4000, 6000]:
        for tile, ov, mult in [(64, 32, 1), (64, 16, 8), (1024, 32, 16), (512, 64, 16)]:
            lay = tile_layout(n, tile, ov, mult)
            assert lay[0][0] == 0 and lay[-1][0] + lay[-1][1] == n
            assert len({size for _, size in lay}) == 1 and all(size <= min(tile, n) for _, size in lay)
            for (a, sa), (b, _) in itertools.pairwise(lay):
                assert a < b and a + sa - b >= ov
            k = 1 if n <= tile else math.ceil((n - ov) / (tile - ov))
            assert len(lay) == k
            if k > 1 and -(-lay[0][1] // mult) * mult <= tile:
                assert lay[0][1] % mult == 0
    assert tile_layout(1034, 1024, 32, 16) == [(0, 544), (490, 544)]  # was 2 x 1024


def test_edm_prior_with_zero_network_is_the_gaussian_mmse_denoiser():
    """With F = 0 the EDM preconditioning leaves ``D = c_skip x``: the exact posterior mean
    for i.i.d. Gaussian data of mean 1/2 and std sigma_data / 2 (image units)."""
    from restore.prior import Prior, VPSchedule

    net = UNet(3, (8, 16), (1, 1), unshuffle=2, emb_dim=16)  # zero-initialised output
    sd = 0.5
    p = Prior(net, VPSchedule(), prediction="edm", sigma_data=sd)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    for s in (0.01, 0.1, 1.0, 20.0):
        var0 = (sd / 2) ** 2
        expect = 0.5 + var0 / (var0 + s**2) * (x - 0.5)
        with torch.no_grad():
            assert torch.allclose(p(x, s), expect, atol=1e-5)
    e = Prior(net, VPSchedule(), prediction="eps")  # F = 0 there means D = identity
    with torch.no_grad():
        assert torch.equal(e(x, 1.0), x)
    with pytest.raises(ValueError, match="prediction"):
        Prior(net, VPSchedule(), prediction="score")


def test_edm_prior_round_trips_through_weights(tmp_path):
    from restore.prior import VPSchedule, save_prior

    torch.manual_seed(0)
    net = UNet(3, (8, 16), (1, 1), unshuffle=2, emb_dim=16)
    with torch.no_grad():
        for prm in net.parameters():
            prm.normal_(0, 0.05)
    save_prior(tmp_path / "e", net, VPSchedule(), prediction="edm", sigma_data=0.4)
    p = load_prior(tmp_path / "e")
    assert p.prediction == "edm" and p.sigma_data == 0.4
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        u = (2 * x - 1) / (1 + 4 * 0.3**2) ** 0.5
        f = net(u, p.schedule.t_from_sigma(torch.tensor([0.3], dtype=torch.float64)).float())
        sn, sd = 0.6, 0.4
        expect = 0.5 * (sd**2 / (sn**2 + sd**2) * (2 * x - 1) + sn * sd / (sn**2 + sd**2) ** 0.5 * f + 1)
        assert torch.allclose(p(x, 0.3), expect, atol=1e-5)


def test_default_network_within_flop_budget():
    from restore.paths import PRETRAINED_DIR

    cfg = json.loads((PRETRAINED_DIR / "restore-small" / CONFIG_FILE).read_text())["network"]
    net = UNet(cfg["in_channels"], tuple(cfg["channels"]), tuple(cfg["blocks"]), cfg["unshuffle"], cfg["emb_dim"])
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        net(torch.zeros(1, 3, 256, 256), torch.tensor([10.0]))
    assert fc.get_total_flops() <= 25e9


def test_shipped_prior_loads():
    p = load_prior()
    assert p.name == "restore-small" and p.sigma_max > 10


def test_shipped_prior_is_stable_on_clean_images(shared_data):
    """The shipped prior passes the training stability check on real photos (clean input at
    every sigma of the samplers' range gives a smoothed image, not a blow-up), at the figure
    its config records."""
    from restore.io import read_image, to_tensor
    from restore.train import stability_check

    p = load_prior()
    ims = []
    for f in sorted((shared_data / "test" / "CBSD68").glob("*.png"))[:2]:
        x = to_tensor(read_image(f).array)
        H, W = x.shape[-2:]
        ims.append(x[..., (H - 128) // 2 : (H + 128) // 2, (W - 128) // 2 : (W + 128) // 2])
    st = stability_check(p, ims)
    assert st["stable"] and p.info["stability"]["stable"]
    assert abs(st["clean_psnr_min"] - p.info["stability"]["clean_psnr_min"]) < 2.0


def _copy(src, dst):
    dst.mkdir()
    for f in (CONFIG_FILE, WEIGHTS_FILE):
        (dst / f).write_bytes((src / f).read_bytes())
    return dst


def test_bad_weights_give_clear_errors(tiny_prior_dir, tmp_path):
    d = _copy(tiny_prior_dir, tmp_path / "a")
    (d / WEIGHTS_FILE).write_bytes((d / WEIGHTS_FILE).read_bytes()[:100])
    with pytest.raises(WeightsError, match="not a valid safetensors"):
        load_prior(d)

    d = _copy(tiny_prior_dir, tmp_path / "b")
    cfg = json.loads((d / CONFIG_FILE).read_text())
    cfg["network"]["channels"] = [8, 32]
    (d / CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="shape"):
        load_prior(d)

    d = _copy(tiny_prior_dir, tmp_path / "c")
    (d / CONFIG_FILE).write_text("{not json")
    with pytest.raises(WeightsError, match="JSON"):
        load_prior(d)

    d = _copy(tiny_prior_dir, tmp_path / "d")
    cfg = json.loads((d / CONFIG_FILE).read_text())
    del cfg["schedule"]["beta_end"]
    (d / CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="beta_end"):
        load_prior(d)

    d = _copy(tiny_prior_dir, tmp_path / "e")
    cfg = json.loads((d / CONFIG_FILE).read_text())
    cfg["prediction"] = "score"
    (d / CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="prediction"):
        load_prior(d)

    with pytest.raises(WeightsError, match="no prior"):
        load_prior(tmp_path / "missing")

    d = _copy(tiny_prior_dir, tmp_path / "f")
    cfg = json.loads((d / CONFIG_FILE).read_text())
    cfg["network"]["blocks"] = cfg["network"]["blocks"][:1]
    (d / CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match=r"f/config.json: network.channels/blocks are inconsistent"):
        load_prior(d)


def test_pickle_file_is_never_loaded(tiny_prior_dir, tmp_path):
    """A pickle disguised as the weights file is rejected, not executed."""
    import pickle

    d = _copy(tiny_prior_dir, tmp_path / "p")

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle executed')",))

    (d / WEIGHTS_FILE).write_bytes(pickle.dumps(Boom()))
    with pytest.raises(WeightsError):
        load_prior(d)


def test_cpu_runs_channels_last_with_the_same_result(tiny_prior_dir):
    """On the CPU the loaded network's conv weights are channels-last (faster oneDNN
    kernels); the output matches a plain contiguous network to float rounding."""
    import copy

    p = load_prior(tiny_prior_dir)
    convs = [w for w in p.net.parameters() if w.ndim == 4]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    u = torch.randn(2, 3, 37, 53, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([10.0, 500.0])
    plain = copy.deepcopy(p.net).to(memory_format=torch.contiguous_format)
    m = p.net.size_multiple
    padded = torch.nn.functional.pad(u, (0, (-53) % m, 0, (-37) % m), mode="reflect")
    with torch.no_grad():
        assert torch.allclose(p._net_padded(u, t), plain(padded, t)[..., :37, :53], atol=1e-5)
