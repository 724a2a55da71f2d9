"""Layer selection inside the cross-validation (:func:`analysis.encoding.nested_layer_oof`).

Choosing the layer with the highest out-of-fold r and then reporting that r (and its gain
over a baseline) as if the layer had been fixed in advance inflates the gain; choosing it
inside each outer fold from the training words only does not. Small random fixtures:
a second each.
"""

import numpy as np
import pytest

from analysis.encoding import (centre_within_folds, fit_encoding, layer_sweep, modal_layer,
                               nested_layer_choice, nested_layer_oof, ridge_oof)
from analysis.stats import pearson_columns, permutation_r_difference

GRID = np.logspace(-1, 5, 7)
N, N_LAYERS, D = 240, 6, 12


def _layers(rng):
    """Hidden states that look like a model's: neighbouring layers share most of their signal."""
    h = [rng.standard_normal((N, D))]
    for _ in range(N_LAYERS - 1):
        h.append(0.7 * h[-1] + 0.7 * rng.standard_normal((N, D)))
    return np.stack(h)


def _setting(seed, planted=None):
    rng = np.random.default_rng(seed)
    hidden = _layers(rng)
    baseline = rng.standard_normal((N, 2))
    y = rng.standard_normal((N, 1))
    if planted is not None:
        y = y + 0.6 * (hidden[planted] @ rng.standard_normal((D, 1))) / np.sqrt(D)
    groups = np.repeat(np.arange(N // 8), 8)  # sentences of 8 words
    return hidden, baseline, y, groups


def _r(pred, y):
    return float(pearson_columns(pred, y)[0])


def _gains(seed):
    """Gain over the baseline of the best layer (old) and of the nested procedure (new).

    Both on r within folds (:func:`centre_within_folds`), as the real-data chapter reports.
    """
    hidden, baseline, y, groups = _setting(seed)
    kw = dict(alphas=GRID, n_folds=5, n_inner=4, groups=groups, unpenalized=baseline)
    out = nested_layer_oof(hidden, y, **kw)
    c = lambda a: centre_within_folds(a, out["splits"])  # noqa: E731
    yc = c(y)
    r_baseline = _r(c(ridge_oof(np.zeros((N, 0)), y, GRID, 5, 4, groups=groups,
                                unpenalized=baseline)[0]), yc)
    r_layers = [_r(c(p), yc) for p in out["layer_predictions"]]
    r_nested = _r(c(out["predictions"]), yc)
    return max(r_layers) - r_baseline, r_nested - r_baseline, out, r_baseline, y


def test_nested_gain_is_not_inflated_on_noise_while_the_argmax_gain_is():
    old, new, pvals = [], [], []
    for seed in range(30):
        g_old, g_new, out, _, y = _gains(seed)
        old.append(g_old)
        new.append(g_new)
    old, new = np.array(old), np.array(new)
    se_old, se_new = old.std(ddof=1) / np.sqrt(30), new.std(ddof=1) / np.sqrt(30)
    # the old procedure (best layer's r reported as if fixed) gains on pure noise
    assert old.mean() > 2 * se_old, (old.mean(), se_old)
    # the nested procedure does not: centred on zero or below
    assert new.mean() < 2 * se_new, (new.mean(), se_new)
    assert new.mean() < old.mean()


def test_nested_gain_permutation_test_is_calibrated_on_noise():
    """False-positive rate of the gain's test (p < 0.1) on 40 noise targets, r within folds."""
    p = []
    for seed in range(40):
        hidden, baseline, y, groups = _setting(100 + seed)
        kw = dict(alphas=GRID, n_folds=5, n_inner=4, groups=groups, unpenalized=baseline)
        out = nested_layer_oof(hidden, y, **kw)
        b = ridge_oof(np.zeros((N, 0)), y, GRID, 5, 4, groups=groups, unpenalized=baseline)[0]
        c = lambda a: centre_within_folds(a, out["splits"])  # noqa: E731
        p.append(float(permutation_r_difference(c(y), c(b), c(out["predictions"]),
                                                n_permutations=199, seed=seed)["p_greater"][0]))
    rate = np.mean(np.array(p) < 0.1)
    # 40 tests at 0.1: 4 expected; 9 or more has probability < 0.01 under calibration
    # (measured on 100 seeds: 4 % below 0.05, 11 % below 0.1; pooled r gave 11 % and 20 %)
    assert rate <= 8 / 40, rate


def test_planted_layer_is_chosen_in_most_folds_and_recovered():
    hidden, baseline, y, groups = _setting(7, planted=3)
    out = nested_layer_oof(hidden, y, alphas=GRID, n_folds=5, n_inner=4, groups=groups,
                           unpenalized=baseline)
    assert out["chosen_layers"].shape == (5, 1)
    assert np.mean(out["chosen_layers"] == 3) >= 0.6, out["chosen_layers"].ravel()
    assert modal_layer(out["chosen_layers"]) == 3
    assert _r(out["predictions"], y) > 0.3
    assert set(np.unique(out["best_alphas"])) <= set(GRID)


def test_stitched_predictions_come_from_the_chosen_layer_of_each_fold():
    hidden, baseline, y, groups = _setting(3, planted=2)
    out = nested_layer_oof(hidden, y, layers=[0, 2, 4], alphas=GRID, n_folds=4, n_inner=3,
                           groups=groups)
    for k, (_, test) in enumerate(out["splits"]):
        li = [0, 2, 4].index(int(out["chosen_layers"][k, 0]))
        np.testing.assert_array_equal(out["predictions"][test],
                                      out["layer_predictions"][li][test])
        # the choice is the smallest inner error of that fold
        assert li == int(np.argmin(out["inner_error"][:, k, 0]))


def test_fit_level_choice_matches_array_level_and_sweep_records_the_decision():
    hidden, baseline, y, groups = _setting(5, planted=4)
    resp = y[:, :, None]
    kw = dict(alphas=GRID, n_folds=4, n_inner=3, groups=groups)
    fits = {l: fit_encoding(hidden[l], resp, layer=l, baseline=baseline, **kw)
            for l in range(N_LAYERS)}
    res = nested_layer_choice(fits, resp, **kw)
    arr = nested_layer_oof(hidden, y, unpenalized=baseline, **kw)
    np.testing.assert_allclose(res.predictions[:, 0, 0], arr["predictions"][:, 0], rtol=1e-6)
    np.testing.assert_array_equal(res.chosen_layers[:, 0, 0], arr["chosen_layers"][:, 0])
    assert res.layer == modal_layer(arr["chosen_layers"])
    sweep = layer_sweep(hidden, resp, **kw)
    dec = sweep.layer_decision()
    assert len(dec["fold_layers"]) == 4 and dec["layer"] == modal_layer(dec["fold_layers"])
    assert "modal layer" in dec["rule"] and dec["sweep_argmax"] == sweep.chosen_layer


def test_nested_choice_refuses_fits_without_inner_errors():
    hidden, baseline, y, groups = _setting(1)
    resp = y[:, :, None]
    fits = {0: fit_encoding(hidden[0], resp, alphas=GRID, n_folds=4, n_inner=3,
                            second_band=hidden[1])}
    with pytest.raises(ValueError, match="inner_error"):
        nested_layer_choice(fits, resp, n_folds=4)


# ------------------------------------------------ margin of the chosen layer over the runner-up
def _twin_layers(seed, identifiable):
    """Three layers: noise, and two that share a part and each have their own.

    The responses (6 channels x 2 windows) read out the first twin's own part
    (``identifiable``: that layer alone carries the signal) or the shared part (both
    twins carry the same signal).
    """
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((N, D))
    own = rng.standard_normal((2, N, D))
    hidden = np.stack([rng.standard_normal((N, D)), shared + own[0], shared + own[1]])
    drive = own[0] if identifiable else shared
    signal = drive @ rng.standard_normal((D, 1)) / np.sqrt(D)
    y = 0.5 * signal[:, :, None] * rng.standard_normal((1, 6, 2)) \
        + rng.standard_normal((N, 6, 2))
    return hidden.astype(np.float32), y.astype(np.float32)


def _margin(seed, identifiable):
    hidden, y = _twin_layers(seed, identifiable)
    sweep = layer_sweep(hidden, y, alphas=GRID, n_folds=10, n_inner=3,
                        groups=np.repeat(np.arange(N // 8), 8))
    return sweep.margin(n_boot=500)


def test_margin_interval_excludes_the_runner_up_of_an_identifiable_layer():
    m = _margin(0, identifiable=True)
    assert m["chosen"] == 1 and m["runner_up"] in (0, 2)
    assert m["ci"][0] > 0 and m["margin"] > 0, m
    assert m["ci"][0] <= m["ci_sentences"][0] and m["ci"][0] <= m["ci_folds"][0]
    assert m["n_units"] == N // 8 and m["n_folds"] == 10


def test_margin_interval_includes_zero_when_two_layers_carry_the_same_signal():
    m = _margin(100, identifiable=False)
    assert m["chosen"] in (1, 2) and m["runner_up"] in (1, 2)
    assert m["ci"][0] < 0 < m["ci"][1], m


@pytest.mark.slow
def test_margin_interval_is_calibrated_when_two_layers_carry_the_same_signal():
    """False-positive rate of "the chosen layer beats the runner-up" (60 seeds), and power.

    Measured: the reported interval excluded 0 in 2 of 60 same-signal seeds (none on the
    positive side) and the sentence bootstrap alone in 18 (it treats the fitted models as
    fixed); with an identifiable layer the reported interval was above 0 in 16 of 20.
    """
    both, boot = 0, 0
    for seed in range(100, 160):
        m = _margin(seed, identifiable=False)
        both += not m["ci"][0] < 0 < m["ci"][1]
        boot += not m["ci_sentences"][0] < 0 < m["ci_sentences"][1]
    # 60 intervals at 95 %: 3 expected; 8 or more has probability < 0.02 when calibrated
    assert both <= 7, both
    assert boot > both  # the bootstrap alone is too narrow here
    power = sum(_margin(seed, identifiable=True)["ci"][0] > 0 for seed in range(20))
    assert power >= 14, power
