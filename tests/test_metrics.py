"""restore.metrics against scikit-image (the outside reference)."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio as sk_psnr
from skimage.metrics import structural_similarity as sk_ssim

from restore.errors import InputError
from restore.metrics import psnr, rgb_to_y, shave, ssim


def _pairs(shared=None):
    rng = np.random.default_rng(0)
    a = rng.random((61, 47, 3))
    yield a, np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    g = rng.random((33, 40))
    yield g, np.clip(g + 0.05 * rng.standard_normal(g.shape), 0, 1)


def _sk_ssim(a, b):
    return sk_ssim(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0,
                   channel_axis=-1 if a.ndim == 3 else None)


@pytest.mark.parametrize("i", [0, 1])
def test_against_skimage_generated(i):
    a, b = list(_pairs())[i]
    assert abs(psnr(a, b) - sk_psnr(a, b, data_range=1.0)) < 1e-6
    assert abs(ssim(a, b) - _sk_ssim(a, b)) < 1e-12  # the same float64 window: exact to rounding


def test_against_skimage_on_test_images(shared_data):
    from restore.io import read_image

    for name in sorted((shared_data / "test" / "CBSD68").glob("*.png"))[:3]:
        a = read_image(name).array.astype(np.float64) / 255
        rng = np.random.default_rng(1)
        b = np.clip(a + 25 / 255 * rng.standard_normal(a.shape), 0, 1)
        assert abs(psnr(a, b) - sk_psnr(a, b, data_range=1.0)) < 0.01
        assert abs(ssim(a, b) - _sk_ssim(a, b)) < 1e-12


def test_tensor_and_batch_inputs():
    a, b = next(_pairs())
    ta = torch.from_numpy(a.transpose(2, 0, 1))[None]
    tb = torch.from_numpy(b.transpose(2, 0, 1))[None]
    assert abs(psnr(ta, tb) - psnr(a, b)) < 1e-9
    assert abs(ssim(torch.cat([ta, ta]), torch.cat([tb, tb])) - ssim(a, b)) < 1e-9


def test_y_channel_and_shave():
    rgb = np.ones((8, 8, 3))
    assert np.allclose(rgb_to_y(rgb), 235 / 255)  # BT.601 white
    assert np.allclose(rgb_to_y(np.zeros((8, 8, 3))), 16 / 255)
    assert shave(rgb, 2).shape == (4, 4, 3)
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))


def test_uint8_arrays_get_the_dtype_range_as_in_scikit_image():
    """Regression: restore.psnr on the uint8 arrays the API returns used data_range=1."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    import restore

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-6, 7, a.shape), 0, 255).astype(np.uint8)
    assert abs(restore.psnr(a, b) - peak_signal_noise_ratio(a, b)) < 1e-9
    assert restore.psnr(a, b) > 30
    sk = structural_similarity(a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                               use_sample_covariance=False)
    assert abs(restore.ssim(a, b) - sk) < 1e-12  # kornia's float32 window was 2e-5 off (an API trial)
    a16, b16 = a.astype(np.uint16) * 257, b.astype(np.uint16) * 257
    assert abs(restore.psnr(a16, b16) - peak_signal_noise_ratio(a16, b16)) < 1e-9
    # the same pair as floats scores the same
    assert abs(restore.psnr(a / 255.0, b / 255.0) - restore.psnr(a, b)) < 1e-9


@pytest.mark.parametrize("shift", [0, -100])
def test_signed_integers_get_scikit_images_range_and_wide_integers_are_refused(shift):
    """A trial: int16 PSNR used the dtype's span where scikit-image's PSNR takes its maximum for
    a reference with no negative value (6.02 dB apart); its SSIM takes the span. int64 arrays
    of 0-255 (what ``np.array`` of Python ints gives) scored 371 dB: a wider integer's range is
    asked for. NaN gave a NaN PSNR."""
    import warnings

    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    import restore

    rng = np.random.default_rng(0)
    a = (rng.integers(0, 256, (32, 32, 3)) + shift).astype(np.int16)
    b = np.clip(a + rng.integers(-6, 7, a.shape), shift, 255 + shift).astype(np.int16)
    assert restore.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b), abs=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-image asks for data_range on an integer SSIM
        sk = structural_similarity(a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                   use_sample_covariance=False)
    assert restore.ssim(a, b) == pytest.approx(sk, abs=1e-6)
    assert restore.psnr(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(restore.psnr(a, b))
    wide = np.array(a.tolist()), np.array(b.tolist())
    assert wide[0].dtype == np.int64
    for f in (restore.psnr, restore.ssim):
        with pytest.raises(ValueError, match="int64 images: .* pass data_range"):
            f(*wide)
    assert restore.psnr(*wide, data_range=255) == pytest.approx(restore.psnr(a.astype(float) / 255, b / 255.0,
                                                                             data_range=1))
    for bad in (np.nan, np.inf):
        for f in (restore.psnr, restore.ssim):
            with pytest.raises(ValueError, match="NaN or inf"):
                f(np.full((16, 16), bad), np.zeros((16, 16)))


def test_mixed_dtypes_are_refused_unless_data_range_is_given():
    import restore

    a = np.zeros((16, 16), np.uint8)
    with pytest.raises(InputError, match="different dtypes"):  # a ValueError too
        restore.psnr(a, a / 255.0)
    with pytest.raises(InputError, match="different dtypes"):  # a ValueError too
        restore.ssim(a, a.astype(np.uint16))
    assert restore.psnr(a, a + 1.0, data_range=255) > 40


def test_psnr_of_identical_images_is_inf_as_scikit_image():
    import warnings

    from skimage.metrics import peak_signal_noise_ratio

    from restore.metrics import psnr

    a = np.full((8, 8, 3), 77, np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-image divides by zero
        want = peak_signal_noise_ratio(a, a)
    assert psnr(a, a) == want == float("inf")


def test_metrics_in_strips_equal_scikit_image(monkeypatch):
    """PSNR and SSIM run in strips of rows (a photo's float64 moments at once took 10.8 GB at
    18 MP): with strips of a few rows they still equal scikit-image's."""
    import restore.metrics as m

    rng = np.random.default_rng(3)
    a = (rng.random((37, 45, 3)) * 255).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 20, a.shape), 0, 255).astype(np.uint8)
    monkeypatch.setattr(m, "SSIM_STRIP_VALUES", 3 * 45 * 4)  # 4 rows a strip
    assert abs(m.psnr(a, b) - sk_psnr(a, b)) < 1e-9
    sk = sk_ssim(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=-1)
    assert abs(m.ssim(a, b) - sk) < 1e-7  # float64 sums in another order


def test_floats_on_another_scale_are_refused_as_in_scikit_image():
    """0-255 floats were scored with a range of 1 (-13.9 dB, SSIM 0.999) where scikit-image
    refuses them; data_range given, they are scored as uint8 would be."""
    from skimage.metrics import peak_signal_noise_ratio

    a = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32) * 255
    b = np.clip(a + 5, 0, 255)
    with pytest.raises(ValueError, match="outside"):
        peak_signal_noise_ratio(a, b)
    for f in (psnr, ssim):
        with pytest.raises(ValueError, match="pass data_range"):
            f(a, b)
        with pytest.raises(ValueError, match="pass data_range"):
            f(torch.from_numpy(a), torch.from_numpy(b))
    assert psnr(a, b, data_range=255) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255))
    noisy = a / 255 + np.random.default_rng(1).normal(0, 0.2, a.shape)  # unclipped noise is still scored
    assert np.isfinite(psnr(a / 255, noisy))


def test_ssim_over_a_region_is_scikit_images_map_averaged_there():
    """A hole's SSIM: scikit-image's SSIM map (full=True) averaged over the hole's pixels whose
    window lies inside the image (its mean takes those); it was the SSIM of the hole's bounding
    box, the whole image for scattered holes (equal to the image's SSIM to every digit)."""
    rng = np.random.default_rng(0)
    a = rng.random((40, 52, 3))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    where = rng.random((40, 52)) < 0.3
    _, full = sk_ssim(a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                      data_range=1.0, full=True)
    inner = where[5:-5, 5:-5]
    ref = full.mean(axis=2)[5:-5, 5:-5][inner].mean()
    assert ssim(a, b, data_range=1.0, where=where) == pytest.approx(ref, abs=1e-6)  # (read as float32)
    assert ssim(a, b, data_range=1.0, where=np.ones((40, 52), bool)) == pytest.approx(ssim(a, b, data_range=1.0))
    edge = np.zeros((40, 52), bool)
    edge[:3] = True  # no window centred there lies inside the image
    assert np.isnan(ssim(a, b, data_range=1.0, where=edge))


def test_read_only_arrays_are_scored_without_a_warning():
    """A trial: np.asarray of a gray PIL image (read-only) gave torch's 'The given NumPy array is not
    writable' warning from restore.ssim (colour ones were copied by the transpose)."""
    import warnings

    rng = np.random.default_rng(3)
    a, b = (rng.integers(0, 256, (40, 48), dtype=np.uint8) for _ in range(2))
    ra, rb = a.copy(), b.copy()
    ra.flags.writeable = rb.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert abs(ssim(ra, rb) - _sk_ssim(a / 255, b / 255)) < 1e-4
        where = np.ones(a.shape, bool)
        where.flags.writeable = False
        assert ssim(ra, rb, where=where) == pytest.approx(ssim(a, b))  # (a read-only mask too)
        assert psnr(ra, rb) == pytest.approx(sk_psnr(a, b, data_range=255))


def test_a_negative_float_reference_asks_for_its_range():
    """An API trial: a [-1, 1] pair scored 20.09 dB where scikit-image's PSNR gives 26.11 (it takes
    2 for a reference with negative values; its SSIM asks for the range): no silent answer, and
    with the range given both agree with scikit-image."""
    rng = np.random.default_rng(1)
    a = rng.random((40, 44))
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    A, B = a * 2 - 1, b * 2 - 1
    for f in (psnr, ssim):
        with pytest.raises(ValueError, match="negative values .* pass data_range"):
            f(A, B)
        with pytest.raises(ValueError, match="negative values"):
            f(torch.from_numpy(A)[None, None], torch.from_numpy(B)[None, None])
    assert psnr(A, B, data_range=2) == pytest.approx(sk_psnr(A, B), abs=1e-9)
    assert ssim(A, B, data_range=2) == pytest.approx(
        sk_ssim(A, B, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=2), abs=1e-12)
    assert np.isfinite(psnr(a, a + rng.normal(0, 0.2, a.shape)))  # the output's unclipped noise is still scored
