"""Statistics helpers: correlations, p-values, FDR, RSA and noise ceilings."""

import numpy as np
import pytest
from scipy import stats as st

from analysis import stats
from analysis._utils import DataError
from analysis.stats import (binomial_false_positive_bound, fdr_bh, pearson_columns,
                            r_pvalue, random_word_subset, rdm, rdm_spearman,
                            rsa_noise_ceiling, rsa_timecourse, significance_mask,
                            spearman_brown, split_half_reliability)


def test_pearson_columns_matches_corrcoef_and_flags_constants():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((40, 3, 2)), rng.standard_normal((40, 3, 2))
    b[:, 1, 1] = 2.0
    r = pearson_columns(a, b)
    assert r.shape == (3, 2)
    assert r[0, 1] == pytest.approx(np.corrcoef(a[:, 0, 1], b[:, 0, 1])[0, 1])
    assert np.isnan(r[1, 1])
    with pytest.raises(ValueError, match="expected the same shape"):
        pearson_columns(a, b[:-1])


def test_one_sided_p_matches_scipy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(50)
    for y in (x + rng.standard_normal(50), -x + rng.standard_normal(50)):
        res = st.pearsonr(x, y, alternative="greater")
        assert r_pvalue(res.statistic, 50) == pytest.approx(res.pvalue, rel=1e-6)
    assert np.isnan(r_pvalue(np.nan, 50))
    with pytest.raises(ValueError, match="more than 2"):
        r_pvalue(0.5, 2)


def test_significance_mask_is_boolean():
    mask = significance_mask([1e-4, 0.01, np.nan, 0.0009])
    assert mask.dtype == bool and mask.tolist() == [True, False, False, True]


def test_fdr_bh_against_hand_computation():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    reject, q = fdr_bh(p, 0.05)
    np.testing.assert_allclose(q[:4], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(q[4]) and reject.tolist() == [True, True, True, True, False]
    reject, _ = fdr_bh(np.array([[0.2, 0.04], [0.9, 0.5]]), 0.05)
    assert reject.shape == (2, 2) and not reject.any()


def test_binomial_bound_and_spearman_brown():
    assert binomial_false_positive_bound(1000, 1e-3, 0.999) == int(st.binom.ppf(0.999, 1000, 1e-3))
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    out = split_half_reliability(np.arange(10.0), np.arange(10.0) + 0.1)
    assert out["half_r"] == pytest.approx(1.0) and out["reliability"] == pytest.approx(1.0)


def test_rdm_is_correlation_distance():
    x = np.random.default_rng(2).standard_normal((5, 7))
    c = np.corrcoef(x)
    np.testing.assert_allclose(rdm(x), 1 - c[np.triu_indices(5, 1)])
    assert rdm_spearman(rdm(x), rdm(x)) == pytest.approx(1.0)


def test_random_subset_is_seeded():
    a = random_word_subset(100, 10, seed=3)
    assert np.array_equal(a, random_word_subset(100, 10, seed=3)) and len(np.unique(a)) == 10
    assert not np.array_equal(a, random_word_subset(100, 10, seed=4))
    assert np.array_equal(random_word_subset(5, 10, seed=0), np.arange(5))


def test_rsa_finds_the_window_driven_by_features():
    rng = np.random.default_rng(4)
    feats = rng.standard_normal((300, 20))
    resp = rng.standard_normal((300, 15, 3))
    resp[:, :, 1] += 2 * feats @ rng.standard_normal((20, 15))
    rho = rsa_timecourse(feats, resp, n_subset=150, seed=0)
    assert rho.shape == (3,) and rho[1] > 0.3 and abs(rho[0]) < 0.1 and abs(rho[2]) < 0.1
    with pytest.raises(ValueError, match="expected the same words"):
        rsa_timecourse(feats[:-1], resp)


def test_noise_ceiling_bounds():
    rng = np.random.default_rng(5)
    signal = rng.standard_normal((120, 10, 2))
    subs = signal + 0.8 * rng.standard_normal((4, 120, 10, 2))
    lower, upper = rsa_noise_ceiling(subs, n_subset=100, seed=1)
    assert lower.shape == upper.shape == (2,)
    assert np.all(lower < upper) and np.all(lower > 0.1)
    same = np.repeat(signal[None], 3, axis=0)
    lo, up = rsa_noise_ceiling(same, n_subset=100)
    np.testing.assert_allclose(lo, 1.0)
    np.testing.assert_allclose(up, 1.0)
    with pytest.raises(ValueError, match="n_subjects >= 2"):
        rsa_noise_ceiling(subs[:1])


def test_numeric_entry_points_name_what_is_wrong():
    from analysis._utils import DataError
    from analysis import stats

    rng = np.random.default_rng(0)
    y = rng.standard_normal((30, 4))
    bad = y.copy()
    bad[7, 2] = np.nan
    with pytest.raises(DataError, match=r"first array' holds 1 NaN/inf.*row 7"):
        stats.pearson_columns(bad, y)
    with pytest.raises(DataError, match="shapes"):
        stats.pearson_columns(y, y[:, :3])
    with pytest.raises(DataError, match=r"pred_b' holds 1 NaN/inf.*word 7"):
        stats.permutation_r_difference(y, y, bad, n_permutations=5)
    feats = rng.standard_normal((30, 5))
    feats[3, 1] = np.inf
    with pytest.raises(DataError, match=r"rsa_timecourse features' holds 1 NaN/inf.*word 3, column 1"):
        stats.rsa_timecourse(feats, rng.standard_normal((30, 2, 3)))
    with pytest.raises(DataError, match="infinite"):
        stats.category_ttest(np.full((4, 2), np.inf), np.array([1, 1, 0, 0], bool))
    with pytest.raises(DataError, match=r"mask \(3,\)"):
        stats.category_ttest(np.zeros((4, 2)), np.ones(3, bool))


def test_noise_ceiling_recovers_the_reliability_of_simulated_subjects():
    """k subjects, each the truth plus noise of sd s: the mean has reliability k/(k+s^2)."""
    from analysis.stats import noise_ceiling

    rng = np.random.default_rng(2)
    k, n = 8, 3000
    truth = rng.standard_normal((n, 2, 3))
    sd = np.array([[0.5, 1.0, 2.0], [1.5, 3.0, 0.7]])  # per channel x window
    sub = truth[None] + sd[None, None] * rng.standard_normal((k, n, 2, 3))
    sub[0, :10] = np.nan  # missing trials are allowed
    out = noise_ceiling(sub, n_splits=30, seed=0)
    expected = k / (k + sd ** 2)  # (n_channels, n_windows), as EncodingResult.r
    np.testing.assert_allclose(out["reliability"], expected, atol=0.03)
    np.testing.assert_allclose(out["ceiling_r"], np.sqrt(expected), atol=0.03)


def _better_worse_study(n_sentences=60, words=8, n_cols=40, gain_cols=10, gain=0.5, seed=0):
    """Responses, a base prediction and a second one that adds signal to some columns."""
    rng = np.random.default_rng(seed)
    n = n_sentences * words
    sentence = np.repeat(np.arange(n_sentences), words)
    signal = rng.standard_normal((n, n_cols))
    extra = rng.standard_normal((n, n_cols))
    y = signal + extra + rng.standard_normal((n, n_cols))
    pred_a = signal + 0.5 * rng.standard_normal((n, n_cols))
    pred_b = pred_a.copy()
    pred_b[:, :gain_cols] += gain * extra[:, :gain_cols]
    return y, pred_a, pred_b, sentence


def test_bootstrap_better_worse_brackets_the_share_and_excludes_zero_with_an_effect():
    """Positive control: 10 of 40 columns gain; the interval holds 25 % and excludes 0."""
    y, a, b, sentence = _better_worse_study()
    test = stats.permutation_r_difference(y, a, b, n_permutations=300, seed=1,
                                          scheme="sentences", groups=sentence)
    # the 30 columns where the predictions agree have no null spread
    assert np.all(test["null_sd"][:10] > 0) and np.all(test["null_sd"][10:] == 0)
    assert np.all(np.abs(test["null_mean"]) < 0.05)
    classes = stats.better_worse_same(test["p_greater"], test["p_less"])
    share = 100 * (classes == 1).mean()
    assert share == 25.0
    ci = stats.bootstrap_better_worse(y, a, b, test, groups=sentence, n_boot=200, seed=2)
    lo, hi = ci["percent_better_ci"]
    assert 0 < lo <= share <= hi <= 30
    assert ci["percent_worse_ci"][1] < 5 and ci["units"] == "sentences"


def test_bootstrap_better_worse_null_interval_starts_at_zero():
    """With no effect, nothing is better and the interval's low end is 0."""
    y, a, b, sentence = _better_worse_study(gain=0.0)
    b = a + 1e-3 * np.random.default_rng(5).standard_normal(a.shape)
    test = stats.permutation_r_difference(y, a, b, n_permutations=300, seed=1,
                                          scheme="sentences", groups=sentence)
    ci = stats.bootstrap_better_worse(y, a, b, test, groups=sentence, n_boot=200, seed=2)
    assert ci["percent_better_ci"][0] == 0.0 and ci["percent_worse_ci"][0] == 0.0
    assert ci["percent_better_ci"][1] < 15


def _better_worse_by_hand(y, a, b, test, groups, n_boot, seed, q=0.05, level=0.95):
    """The rerun interval written out: each resample's words repeated, BH run again."""
    n, m = y.shape
    weights = np.vstack([np.ones(n, int), stats.resample_weights(n, groups, n_boot, seed)])
    floor = 2 / (test["null"]["n_permutations"] + 1)
    counts = []
    for w in weights.astype(int):
        rows = np.repeat(np.arange(n), w)
        delta = np.array([np.corrcoef(y[rows, j], b[rows, j])[0, 1]
                          - np.corrcoef(y[rows, j], a[rows, j])[0, 1] for j in range(m)])
        t = (delta - test["null_mean"]) / test["null_sd"]
        reject, qv = fdr_bh(np.maximum(2 * st.norm.sf(np.abs(t)), floor), q)
        counts.append(np.sum(reject & (qv < q) & (t > 0)))
    shift = 100 * (np.array(counts[1:]) - counts[0]) / m
    share = 100 * np.mean(stats.better_worse_same(test["p_greater"], test["p_less"], q) == 1)
    tail = 50 * (1 - level)
    return np.clip(share + np.percentile(shift, [tail, 100 - tail]) - shift.mean(), 0, 100)


def test_bootstrap_better_worse_runs_the_bh_rule_again_in_each_resample():
    """Regression: the threshold held fixed left out how BH's cut moves with the data.

    Twenty columns share most of their noise and gain by 0 to 0.5, so their deltas move
    together and the number past BH's cut feeds back on the cut. The interval must be
    the one from running the whole rule (normal p of each resample's delta against the
    permutation null's moments, BH at q) in every resample; the fixed threshold (the
    old rule) gave a narrower one here, [25.2, 80.2] against [21.7, 81.7] around 55 %.
    """
    rng = np.random.default_rng(3)
    n_sentences, words, m = 50, 6, 20
    sentence = np.repeat(np.arange(n_sentences), words)
    n = sentence.size
    x1, x2 = rng.standard_normal((2, n, 1))
    gain = np.linspace(0, 0.5, m)[None, :]
    noise = 0.8 * rng.standard_normal((n, 1)) + 0.6 * rng.standard_normal((n, m))
    y = 0.3 * x1 + gain * x2 + noise
    a = 0.3 * x1 + 0.1 * rng.standard_normal((n, m))
    b = 0.3 * x1 + gain * x2 + 0.1 * rng.standard_normal((n, m))
    test = stats.permutation_r_difference(y, a, b, n_permutations=300, seed=1,
                                          scheme="sentences", groups=sentence)
    ci = stats.bootstrap_better_worse(y, a, b, test, groups=sentence, n_boot=100, seed=4)
    expected = _better_worse_by_hand(y, a, b, test, sentence, n_boot=100, seed=4)
    np.testing.assert_allclose(ci["percent_better_ci"], expected, atol=1e-9)
    fixed = stats.bootstrap_better_worse(y, a, b, test, groups=sentence, n_boot=100, seed=4,
                                         thresholds="fixed")["percent_better_ci"]
    assert np.diff(fixed)[0] < np.diff(expected)[0]
    assert ci["thresholds"] == "rerun"


def test_bootstrap_better_worse_names_what_is_missing():
    y, a, b, sentence = _better_worse_study(n_sentences=10)
    with pytest.raises(DataError, match="null_mean"):
        stats.bootstrap_better_worse(y, a, b, {"p_greater": 0, "p_less": 0}, groups=sentence)
    test = stats.permutation_r_difference(y, a, b, n_permutations=20, seed=1)
    with pytest.raises(DataError, match="groups of shape"):
        stats.bootstrap_better_worse(y, a, b, test, groups=sentence[:-1])
    with pytest.raises(ValueError, match="thresholds='refit'"):
        stats.bootstrap_better_worse(y, a, b, test, groups=sentence, thresholds="refit")


def test_ceiling_share_is_the_median_share_over_significant_tests():
    r = np.array([[0.1, 0.2], [0.3, 0.05]])
    ceiling = np.array([[0.5, 0.4], [0.0, 0.5]])
    sig = np.array([[True, True], [True, False]])
    out = stats.ceiling_share(r, ceiling, sig)
    # shares 0.2 and 0.5 (the test with a ceiling of 0 is left out); ceilings 0.5, 0.4, 0
    assert out["share_median"] == pytest.approx(0.35)
    assert out["median_ceiling"] == pytest.approx(0.4) and out["n_significant"] == 3
    assert out["text"] == ("Over the 3 significant channels and windows, the median "
                           "ceiling is 0.40 and the model reaches a median 0.35 of it.")
    none = stats.ceiling_share(r, ceiling, np.zeros_like(sig))
    assert np.isnan(none["share_median"]) and none["text"].startswith("No channel")
    assert "no separate subjects" in stats.ceiling_share(r, None, sig)["text"]
    with pytest.raises(ValueError, match="must have the same shape"):
        stats.ceiling_share(r, ceiling[:1], sig)


def test_variance_ratio_finds_where_a_group_varies_more():
    rng = np.random.default_rng(0)
    resp = rng.standard_normal((400, 3, 4))
    group = np.arange(400) % 4 == 0
    resp[group, 1, 2] *= 3.0  # planted: three times the spread
    ratio = stats.variance_ratio(resp, group)
    assert ratio.shape == (3, 4)
    assert np.unravel_index(np.argmax(ratio), ratio.shape) == (1, 2)
    assert ratio[1, 2] == pytest.approx(9, rel=0.35) and np.median(ratio) == pytest.approx(1, abs=0.3)
    with pytest.raises(ValueError, match="expected at least 2 on each side"):
        stats.variance_ratio(resp, np.arange(400) == 0)
    with pytest.raises(ValueError, match="a mask of shape \\(3,\\)"):
        stats.variance_ratio(resp, np.ones(3, bool))


def test_rsa_ceiling_text_says_when_the_model_passes_the_lower_bound():
    lower = np.array([0.1, 0.2])
    assert stats.rsa_ceiling_text(np.array([0.05, 0.1]), lower).endswith("the others'.")
    assert "loose floor" in stats.rsa_ceiling_text(np.array([0.05, 0.3]), lower)
    assert "no separate subjects" in stats.rsa_ceiling_text(np.array([0.05, 0.3]), None)
    assert "fewer than three channels" in stats.rsa_ceiling_text(None, None)
