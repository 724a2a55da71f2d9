"""The two-band ("banded") ridge of :func:`analysis.encoding.ridge_oof` and ``fit_encoding``.

Checks: a scale grid of one value 1.0 is exactly the one-band fit of the concatenated
features (in the primal form, in the kernel form used when there are more columns than
training rows, with and without an unpenalized baseline band, with numpy and torch);
a signal planted only in the second band makes the search pick a large scale for it and
beats the first band alone; bad arguments are refused with a message.
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from analysis.encoding import fit_encoding, ridge_oof

GRID = np.logspace(-1, 5, 7)


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    with threadpool_limits(1):
        yield


def _bands(n=200, d1=8, d2=6, t=4, seed=0, signal_in=(1, 2)):
    """Two bands of features and targets built from the bands named in ``signal_in``."""
    rng = np.random.default_rng(seed)
    x1 = rng.standard_normal((n, d1))
    x2 = rng.standard_normal((n, d2))
    y = rng.standard_normal((n, t))
    if 1 in signal_in:
        y += x1 @ rng.standard_normal((d1, t)) * 0.4
    if 2 in signal_in:
        y += x2 @ rng.standard_normal((d2, t)) * 0.6
    return x1.astype(np.float32), x2.astype(np.float32), (y * 2.0 + 5.0).astype(np.float32)


@pytest.mark.parametrize("n,d1,d2", [(200, 8, 6), (60, 40, 35)])  # primal, kernel form
def test_scale_one_is_the_one_band_fit_of_the_concatenation(n, d1, d2):
    x1, x2, y = _bands(n, d1, d2)
    x = np.concatenate([x1, x2], axis=1)
    one, choice = ridge_oof(x, y, GRID, n_folds=5, n_inner=3)
    two, choice2, scale = ridge_oof(x, y, GRID, n_folds=5, n_inner=3, second_band=d1,
                                    band_scales=[1.0])
    assert np.all(scale == 0)
    np.testing.assert_array_equal(choice2, choice)
    np.testing.assert_allclose(two, one, rtol=1e-3, atol=1e-3 * np.abs(one).max())


def test_scale_one_with_an_unpenalized_baseline():
    x1, x2, y = _bands(180, 6, 5, seed=3)
    baseline = np.random.default_rng(9).standard_normal((180, 2)).astype(np.float32)
    y = y + 3 * baseline[:, :1]
    x = np.concatenate([x1, x2], axis=1)
    one, _ = ridge_oof(x, y, GRID, n_folds=4, n_inner=3, unpenalized=baseline)
    two, _, _ = ridge_oof(x, y, GRID, n_folds=4, n_inner=3, unpenalized=baseline,
                          second_band=6, band_scales=[1.0])
    np.testing.assert_allclose(two, one, rtol=1e-3, atol=1e-3 * np.abs(one).max())


def test_torch_two_band_matches_numpy():
    pytest.importorskip("torch")
    x1, x2, y = _bands(120, 6, 5, seed=4)
    x = np.concatenate([x1, x2], axis=1)
    kw = dict(n_folds=4, n_inner=3, second_band=6, band_scales=[0.3, 1.0, 3.0])
    a = ridge_oof(x, y, GRID, **kw)
    b = ridge_oof(x, y, GRID, backend="torch", device="cpu", **kw)
    np.testing.assert_allclose(b[0], a[0], rtol=1e-3, atol=1e-3 * np.abs(a[0]).max())


def test_signal_in_the_second_band_only_is_found_there():
    x1, x2, y = _bands(400, 10, 10, t=6, seed=1, signal_in=(2,))
    data = y[:, :, None]  # (n_words, channels, 1 window)
    scales = [0.1, 1.0, 10.0]
    first = fit_encoding(x1, data, alphas=GRID, n_folds=5, n_inner=3)
    both = fit_encoding(x1, data, alphas=GRID, n_folds=5, n_inner=3, second_band=x2,
                        band_scales=scales)
    assert both.band_scales.shape == (5, 6, 1)  # (folds, channels, windows)
    # the second band carries everything: its penalty is made small relative to the first
    assert np.median(both.band_scales) == 10.0
    assert np.all(both.r > first.r + 0.2)
    assert both.params["second_band_columns"] == 10 and both.params["d"] == 20
    # and the first band alone has no signal
    assert np.all(first.r < 0.15)


def test_signal_in_the_first_band_only_keeps_the_second_small():
    x1, x2, y = _bands(400, 10, 10, t=6, seed=2, signal_in=(1,))
    both = fit_encoding(x1, y[:, :, None], alphas=GRID, n_folds=5, n_inner=3,
                        second_band=x2, band_scales=[0.1, 1.0, 10.0])
    assert np.median(both.band_scales) <= 1.0


@pytest.mark.parametrize("second_band", [None, 0, 14, -2])
def test_bad_second_band_is_refused(second_band):
    x1, x2, y = _bands(60, 8, 6)
    x = np.concatenate([x1, x2], axis=1)
    with pytest.raises(ValueError, match="second_band"):
        ridge_oof(x, y, GRID, n_folds=3, n_inner=2, second_band=second_band,
                  band_scales=[1.0])


@pytest.mark.parametrize("scales", [[], [0.0, 1.0], [-1.0], [np.nan]])
def test_bad_band_scales_are_refused(scales):
    x1, x2, y = _bands(60, 8, 6)
    x = np.concatenate([x1, x2], axis=1)
    with pytest.raises(ValueError, match="band_scales"):
        ridge_oof(x, y, GRID, n_folds=3, n_inner=2, second_band=8, band_scales=scales)


def test_fit_encoding_band_arguments_are_checked():
    x1, x2, y = _bands(60, 8, 6)
    with pytest.raises(ValueError, match="band_scales needs a second_band"):
        fit_encoding(x1, y[:, :, None], alphas=GRID, n_folds=3, n_inner=2, band_scales=[1.0])
    with pytest.raises(Exception, match="second band"):
        fit_encoding(x1, y[:, :, None], alphas=GRID, n_folds=3, n_inner=2,
                     second_band=x2[:50])
