"""Calibration of the tests on nulls with serial dependence (small version of
``benchmarks/bench_calibration.py``), and the nulls, BH family and category test."""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as st

from analysis import calibration as C
from analysis import stats
from analysis._utils import DataError

N_WORDS, N_DRAWS = 400, 200


def _null_pairs(rho, groups=None):
    """AR(1) targets and two AR(1) 'predictions', all independent: every rejection is false."""
    y = C.ar1_targets(N_WORDS, N_DRAWS, rho, groups, seed=1)
    a = C.ar1_targets(N_WORDS, N_DRAWS, rho, groups, seed=2)
    b = C.ar1_targets(N_WORDS, N_DRAWS, rho, groups, seed=3)
    return y, a, b


def _sentences(n=N_WORDS, seed=0):
    """Sentence labels with lengths 5-14 (many share a length)."""
    lengths = np.random.default_rng(seed).integers(5, 15, n)
    return np.repeat(np.arange(n), lengths)[:n]


def test_binomial_range_is_scipy_binom():
    lo, hi = C.binomial_range(200, 0.05)
    assert lo == st.binom.ppf(0.005, 200, 0.05) / 200
    assert hi == st.binom.ppf(0.995, 200, 0.05) / 200
    assert C.rate_entry(np.r_[np.ones(10), np.zeros(190)].astype(bool), 0.05)["inside"]


def test_ar1_targets_have_the_lag1_autocorrelation_asked_for():
    g = _sentences()
    y = C.ar1_targets(N_WORDS, 300, 0.8, seed=0)
    assert np.mean(stats.lag1_autocorrelation(y)) == pytest.approx(0.8, abs=0.03)
    ys = C.ar1_targets(N_WORDS, 300, 0.8, groups=g, seed=0)
    # restarted in each sentence: neighbours across a sentence edge are independent
    edge = np.flatnonzero(np.diff(g) != 0)
    assert abs(np.mean([np.corrcoef(ys[edge, j], ys[edge + 1, j])[0, 1]
                        for j in range(300)])) < 0.03
    assert np.mean(stats.lag1_autocorrelation(ys, g)) == pytest.approx(0.8, abs=0.05)


@pytest.mark.parametrize("rho", [0.0, 0.8])
def test_r_difference_test_keeps_its_rate_with_the_block_null(rho):
    """The found problem: the word shuffle rejects a true null far too often at rho 0.8."""
    y, a, b = _null_pairs(rho)
    new = C.fpr_r_difference(y, a, b, 0.05, scheme="blocks", n_permutations=400, seed=4)
    old = C.fpr_r_difference(y, a, b, 0.05, scheme="words", n_permutations=400, seed=4)
    print(rho, "blocks", new["rate"], "words", old["rate"], new["range"])
    assert new["inside"], new
    if rho == 0.8:
        assert old["rate"] > old["range"][1], old  # the paper's shuffle fails
        assert new["lag1_y"] == pytest.approx(0.8, abs=0.05)


def test_sentence_null_keeps_its_rate_on_isolated_sentences():
    g = _sentences()
    y, a, b = _null_pairs(0.8, g)
    new = C.fpr_r_difference(y, a, b, 0.05, scheme="sentences", groups=g, n_permutations=400,
                             seed=4)
    old = C.fpr_r_difference(y, a, b, 0.05, scheme="words", groups=g, n_permutations=400,
                             seed=4)
    assert new["inside"], new
    assert old["rate"] > old["range"][1], old


def test_circular_null_keeps_its_rate_within_stories():
    stories = np.repeat(np.arange(4), N_WORDS // 4)
    y, a, b = _null_pairs(0.8, stories)
    new = C.fpr_r_difference(y, a, b, 0.05, scheme="circular", groups=stories,
                             n_permutations=400, seed=4)
    assert new["inside"], new


def test_encoding_p_value_with_effective_n_keeps_its_rate():
    y, a, _ = _null_pairs(0.8)
    old = C.fpr_encoding(y, a, 0.05, corrected=False)
    new = C.fpr_encoding(y, a, 0.05, corrected=True)
    assert old["rate"] > old["range"][1], old  # n - 2 degrees of freedom: too liberal
    assert new["inside"], new
    # no autocorrelation given: the plain n - 2 test (scipy's pearsonr)
    assert stats.r_pvalue(0.2, 50, 0.0, 0.0) == pytest.approx(stats.r_pvalue(0.2, 50))
    assert stats.effective_n(400, 0.8, 0.8) == pytest.approx(400 * 0.36 / 1.64)


def test_new_tests_reject_a_planted_effect():
    """Positive control: the calibrated tests keep their power."""
    y, a, _ = _null_pairs(0.8)
    signal = C.ar1_targets(N_WORDS, N_DRAWS, 0.8, seed=9)
    planted = C.plant(y, signal, 0.1)
    better = 0.5 * a + signal  # b carries the planted signal, a does not
    res = stats.permutation_r_difference(planted, a, better, 400, seed=4)
    power = np.mean(res["p_greater"] < 0.05)
    enc = C.fpr_encoding(planted, better, 0.05)["rate"]
    print("power: r difference", power, "encoding", enc)
    assert power > 0.8 and enc > 0.8


def test_permutation_schemes_move_whole_units():
    g = _sentences(60)
    perms = np.concatenate(list(stats.dependence_preserving_permutations(
        60, "sentences", g, 50, seed=3, chunk=7)))
    again = np.concatenate(list(stats.dependence_preserving_permutations(
        60, "sentences", g, 50, seed=3, chunk=50)))
    assert np.array_equal(perms, again)  # chunking does not change the draws
    assert (perms != np.arange(60)).any()
    lengths = np.bincount(g)
    for p in perms:
        assert np.array_equal(np.sort(p), np.arange(60))
        for s in np.unique(g):
            rows = p[g == s]  # a sentence receives a whole sentence of its length, in order
            assert np.all(np.diff(rows) == 1) and lengths[g[rows[0]]] == lengths[s]
    stories = np.repeat([0, 1], [25, 35])
    for p in next(stats.dependence_preserving_permutations(60, "circular", stories, 20, 1)):
        assert set(p[:25]) == set(range(25)) and set(p[25:]) == set(range(25, 60))
        assert np.all(np.diff(p[:25]) % 25 == 1)  # a rotation
    for p in next(stats.dependence_preserving_permutations(60, "blocks", None, 20, 1,
                                                           block_length=10)):
        assert np.all(p.reshape(6, 10) - p.reshape(6, 10)[:, :1] == np.arange(10))
    with pytest.raises(DataError, match="unknown null scheme"):
        next(stats.dependence_preserving_permutations(60, "sentence", g, 5))
    with pytest.raises(DataError, match="no two units"):
        next(stats.dependence_preserving_permutations(6, "sentences", [0, 1, 1, 2, 2, 2], 5))


def test_permutation_r_difference_records_its_null():
    y, a, b = _null_pairs(0.5)
    res = stats.permutation_r_difference(y[:, :5], a[:, :5], b[:, :5], 20, scheme="circular")
    assert res["null"]["scheme"] == "circular" and res["lag1_y"].shape == (5,)
    assert res["null"]["median_lag1_y"] == pytest.approx(0.5, abs=0.15)


def test_one_bh_family_for_better_and_worse():
    """Separate families each spend q: a lone p_greater = 0.04 was called 'better'."""
    pg, pl = np.array([0.04]), np.array([0.96])
    old_better = stats.fdr_bh(pg, 0.05)[0]  # the former rule: BH per direction
    assert old_better[0]
    assert stats.better_worse_same(pg, pl)[0] == 0  # two-sided p = 0.08
    # with strong effects both directions are still found, in one family
    pg = np.array([1e-4, 0.9, 0.5, 0.03])
    pl = np.array([0.9, 1e-4, 0.5, 0.97])
    assert stats.better_worse_same(pg, pl).tolist() == [1, -1, 0, 0]


def test_category_effect_in_either_direction_is_reported():
    """The null control makes the category words worse (t ~ -6.7); a one-sided test saw
    'no window'."""
    from analysis import finetune as ft

    rng = np.random.default_rng(0)
    n, n_win = 600, 4
    cat = np.zeros(n, bool)
    cat[rng.choice(n, 60, replace=False)] = True
    delta = rng.standard_normal((n, n_win))
    delta[cat, 2] -= 0.9  # the category's error grows with the new model: worse
    delta[cat, 0] += 0.9  # and falls in another window: better
    one_sided = stats.category_ttest(delta, cat, alternative="greater")
    assert one_sided["p"][2] > 0.5  # the former test
    res = stats.category_ttest(delta, cat)
    assert res["t"][2] < -5 and res["p"][2] < 1e-6
    res["q"] = stats.fdr_bh(res["p"])[1]
    times = np.array([0.0, 25.0, 50.0, 75.0])
    retest = {"classes": np.zeros((3, n_win), np.int8), "category": res,
              "shares": {"better": np.zeros(n_win), "worse": np.zeros(n_win)},
              "base": SimpleNamespace(r=np.zeros((3, n_win))),
              "ft": SimpleNamespace(r=np.zeros((3, n_win))), "test": {}}
    summary = ft.retest_summary(retest, times)
    assert summary["category_windows_ms"] == [0.0]
    assert summary["category_worse_windows_ms"] == [50.0]
    assert ft.retest._windows_text(summary) == "0 ms; 50 ms (category words worse)"


def test_null_count_replaces_the_binomial_bound():
    """Correlated targets: the false-positive count varies far more than a binomial."""
    rng = np.random.default_rng(0)
    shared = C.ar1_targets(N_WORDS, 1, 0.8, seed=5)
    y = 0.8 * shared + 0.6 * C.ar1_targets(N_WORDS, 300, 0.8, seed=6)  # correlated columns
    pred = 0.8 * C.ar1_targets(N_WORDS, 1, 0.8, seed=7) + 0.6 * rng.standard_normal((N_WORDS,
                                                                                   300))
    res = stats.null_significant_count(pred, y, 0.05, n_permutations=60, seed=1)
    assert res["counts"].shape == (60,) and res["bound"] >= np.quantile(res["counts"], 0.95)
    binomial = stats.binomial_false_positive_bound(300, 0.05, 0.95)
    assert res["bound"] > binomial  # all targets move together under the null


def test_each_source_declares_its_null():
    from analysis import datasets as D
    from analysis.data import WordDataset

    def ds(name, **groups):
        n = 40
        return WordDataset(words=["w"] * n, sentence=np.repeat(np.arange(8), 5),
                           responses=np.zeros((n, 1, 1)), times=[0.0], ch_names=["x"],
                           provenance={"dataset": name}, groups=groups)

    frank = D.null_design(ds("frank2015"))
    assert frank["scheme"] == "sentences" and np.array_equal(frank["groups"],
                                                             np.repeat(np.arange(8), 5))
    story = D.null_design(ds("naturalstories", story=np.repeat([0, 1], 20)))
    assert story["scheme"] == "circular" and np.array_equal(story["groups"],
                                                            np.repeat([0, 1], 20))
    sim = D.null_design(ds("simulated"))
    assert sim == {"scheme": "blocks", "groups": None, "block_length": 20}
    assert D.null_design(ds("simulated"), scheme="words")["scheme"] == "words"
    assert set(D.registry_table()["null"]) <= {"blocks of 20", "circular", "sentences"}


def test_torch_backend_uses_the_same_dependence_preserving_permutations():
    pytest.importorskip("torch")
    g = _sentences(120)
    y, a, b = (C.ar1_targets(120, 6, 0.8, g, seed=s) for s in (1, 2, 3))
    kw = dict(n_permutations=64, seed=2, scheme="sentences", groups=g, perm_block=16)
    ref = stats.permutation_r_difference(y, a, b, **kw)
    got = stats.permutation_r_difference(y, a, b, backend="torch", device="cpu", **kw)
    assert np.allclose(ref["p_greater"], got["p_greater"], atol=2 / 65)
    assert np.allclose(ref["p_less"], got["p_less"], atol=2 / 65)


def test_bartlett_effective_n_holds_where_the_lag1_form_under_corrects():
    """Predictions with long memory (as ridge predictions from hidden states have)."""
    slow = C.ar1_targets(N_WORDS, 300, 0.98, seed=11)
    pred = 0.7 * slow + 0.71 * np.random.default_rng(12).standard_normal((N_WORDS, 300))
    y = C.ar1_targets(N_WORDS, 300, 0.8, seed=13)
    r = stats.pearson_columns(pred, y)
    lag1 = stats.r_pvalue(r, N_WORDS, stats.lag1_autocorrelation(pred),
                          stats.lag1_autocorrelation(y))
    old = C.rate_entry(lag1 < 0.05, 0.05)
    new = C.fpr_encoding(y, pred, 0.05)
    print("lag-1 form", old["rate"], "Bartlett", new["rate"], new["range"])
    assert old["rate"] > old["range"][1] and new["inside"], (old, new)


def _smooth_pair_and_noise(n, draws):
    """Two smooth 8-column feature sets sharing most of their variance, and AR(1) noise
    targets (rho 0.8, one per draw): the null of a comparison of two similar models."""
    from scipy.ndimage import uniform_filter1d

    rng = np.random.default_rng(5)
    common = uniform_filter1d(rng.standard_normal((n, 8)), 5, axis=0)
    x_a = common + 0.5 * uniform_filter1d(rng.standard_normal((n, 8)), 5, axis=0)
    x_b = common + 0.5 * uniform_filter1d(rng.standard_normal((n, 8)), 5, axis=0)
    return x_a, x_b, C.ar1_targets(n, draws, 0.8, seed=3)


def test_refit_null_of_out_of_fold_predictions_is_calibrated():
    """The re-test's refit null at suite size (the large version:
    benchmarks/bench_refit_null.py): 80 AR(1) noise targets (rho 0.8) predicted out of
    fold by two smooth feature sets; the refit null's rejection rate stays inside the
    binomial 99 % range of alpha, and its spread is wider than the fixed-prediction
    null's, whose narrowness is what made the re-test liberal."""
    from analysis.encoding import centre_within_folds, cv_splits, fit_encoding
    from analysis.finetune import refit_r_difference

    n, draws, n_perm = 200, 80, 99
    x_a, x_b, y = _smooth_pair_and_noise(n, draws)
    kw = dict(n_folds=5, n_inner=3)
    splits = cv_splits(n, 5)
    yc = centre_within_folds(y, splits)
    pa, pb = (centre_within_folds(fit_encoding(x, y[:, :, None], **kw).predictions[:, :, 0],
                                  splits) for x in (x_a, x_b))
    observed = stats.pearson_columns(pb, yc) - stats.pearson_columns(pa, yc)
    refit = refit_r_difference(yc, x_a, x_b, observed, splits, n_perm, seed=1,
                               null={"scheme": "blocks", "block_length": 10}, **kw)
    fixed = stats.permutation_r_difference(yc, pa, pb, n_perm, seed=1, block_length=10)
    lo, hi = C.binomial_range(draws, 0.05)
    rate = {name: np.mean(stats.two_sided_p(res["p_greater"], res["p_less"]) < 0.05)
            for name, res in (("refit", refit), ("fixed", fixed))}
    assert lo <= rate["refit"] <= hi and rate["refit"] < rate["fixed"]  # 0.025 and 0.0875
    # the refit null's spread is that of the observed differences over the draws
    spread = {name: np.mean(res["null_sd"]) / np.std(observed)
              for name, res in (("refit", refit), ("fixed", fixed))}
    assert 0.85 < spread["refit"] < 1.15 and spread["fixed"] < spread["refit"] - 0.05


def test_scaled_null_widens_the_fixed_null_by_the_refit_ratio():
    """Where refitting every target is beyond the budget, the fixed-prediction null is
    widened by the refit/fixed spread ratio measured on 16 targets drawn at random (the
    large version: benchmarks/bench_scaled_null.py). On 80 AR(1) noise targets (rho 0.8)
    the ratio measured on the subset is that of all targets, and the scaled test's
    rate stays inside the binomial 99 % range with a spread matching the observed one."""
    from analysis.encoding import (centre_within_folds, cv_splits, fit_encoding,
                                   refit_null_r, refit_null_scale)

    n, draws, n_perm = 200, 80, 99
    x_a, x_b, y = _smooth_pair_and_noise(n, draws)
    kw = dict(n_folds=5, n_inner=3)
    splits = cv_splits(n, 5)
    null = {"scheme": "blocks", "block_length": 10}
    yc = centre_within_folds(y, splits)
    pa, pb = (centre_within_folds(fit_encoding(x, y[:, :, None], **kw).predictions[:, :, 0],
                                  splits) for x in (x_a, x_b))
    scale = refit_null_scale(yc, pa, pb, x_a, x_b, splits, n_perm, seed=1, null=null, **kw)
    assert scale["scale_targets"] == 16 and scale["scale_permutations"] == n_perm
    fixed = stats.permutation_r_difference(yc, pa, pb, n_perm, seed=1, **null)
    every = refit_null_r(yc, {"a": (x_a, {}), "b": (x_b, {})}, splits, n_perm, seed=1,
                         null=null, **kw)
    ratio_all = np.mean((every["b"] - every["a"]).std(0)) / np.mean(fixed["null_sd"])
    assert scale["scale"] == pytest.approx(ratio_all, rel=0.1) and scale["scale"] > 1.05
    scaled = stats.permutation_r_difference(yc, pa, pb, n_perm, seed=1,
                                            null_scale=scale["scale"], **null)
    np.testing.assert_allclose(scaled["null_sd"], scale["scale"] * fixed["null_sd"], rtol=1e-6)
    assert (scaled["p_greater"] >= fixed["p_greater"] - 1e-12)[fixed["delta"] > 0].all()
    lo, hi = C.binomial_range(draws, 0.05)
    rate = np.mean(stats.two_sided_p(scaled["p_greater"], scaled["p_less"]) < 0.05)
    spread = np.mean(scaled["null_sd"]) / np.std(fixed["delta"])
    assert lo <= rate <= hi and 0.85 < spread < 1.2
    with pytest.raises(ValueError, match="null_scale"):
        stats.permutation_r_difference(yc, pa, pb, 9, null_scale=0.0)
    # two models that predict alike: no spread to widen, the scale stays 1 (no error)
    same = refit_null_scale(yc, pa, pa, x_a, x_a, splits, 9, seed=1, null=null, **kw)
    assert same["scale"] == 1.0


def test_instruction_comparison_refit_null_is_calibrated(monkeypatch):
    """Chapter 06's comparison with the refit null at suite size (the large version:
    benchmarks/bench_instruction_null.py): 80 AR(1) noise targets (rho 0.8), a plain and
    an "instruction" feature set that share most of their variance; the refit null's
    two-sided rate for instruction vs plain stays inside the binomial 99 % range of
    alpha and below the fixed-prediction null's. The reported deltas are the fits' own
    (within-fold-centred) r differences under either null."""
    from analysis import instructions as I

    n, draws, n_perm = 200, 80, 99
    plain, instr, y = _smooth_pair_and_noise(n, draws)
    y = y[:, :, None]
    kw = dict(fit_kw=dict(n_folds=5, n_inner=3), n_permutations=n_perm, seed=1, n_boot=20,
              band_scales=(1.0,))
    res = {null: I.compare_instructions(plain, {"A": instr}, y, null=null, **kw)
           for null in ("refit", "fixed")}
    assert res["refit"].params["null"] == "refit" and res["refit"].params["n_refit"] == n_perm
    assert res["fixed"].params["null"] == "fixed predictions"
    lo, hi = C.binomial_range(draws, 0.05)
    rate = {k: np.mean(stats.two_sided_p(r.table["p_better"], r.table["p_worse"]) < 0.05)
            for k, r in res.items()}
    assert lo <= rate["refit"] <= hi  # 0.05 (fixed predictions: 0.0625)
    # spread: refit 0.94, fixed predictions 0.84
    # the refit null's spread is that of the observed differences over the draws; the
    # fixed-prediction null's is narrower (what makes it liberal)
    spread = {k: r.table["null_sd"].mean() / r.table["delta"].std(ddof=0) for k, r in res.items()}
    assert 0.85 < spread["refit"] < 1.15 and spread["fixed"] < spread["refit"] - 0.05
    for r in res.values():
        t = r.table
        np.testing.assert_allclose(t["delta"], t["r_instruction"] - t["r_plain"], atol=1e-9)
    # "auto" refits while targets x permutations stay within the cap, and not beyond it
    assert I.compare_instructions(plain, {"A": instr}, y[:, :3], **kw).params["null"] == "refit"
    monkeypatch.setattr("analysis.encoding.REFIT_MAX_FITS", 3 * n_perm - 1)
    auto = I.compare_instructions(plain, {"A": instr}, y[:, :3], **kw)
    assert auto.params["null"] == "fixed predictions" and auto.params["n_refit"] == 0
def test_interval_coverage_counts_planted_intervals():
    truth = 0.2
    iv = np.array([[0.1, 0.3]] * 14 + [[0.25, 0.4]] * 4 + [[-0.1, 0.15]] * 2)  # 14 cover
    e = C.interval_coverage(iv, truth, level=0.95)
    assert e["coverage"] == 0.7 and e["count"] == 14 and e["n_draws"] == 20
    assert e["above"] == 0.2 and e["below"] == 0.1  # intervals wholly above / below
    assert e["range"] == list(C.binomial_range(20, 0.95)) == [0.8, 1.0]
    assert not e["inside"]
    assert e["median_width"] == pytest.approx(0.2)
    assert C.interval_coverage(iv[:17], truth)["inside"]  # 14 + 3 of 17: 0.82
    assert C.interval_coverage(iv, np.full(20, 0.3))["coverage"] == 0.9  # truth per draw
    with pytest.raises(DataError, match="shape"):
        C.interval_coverage(iv[:, :1], truth)
    g = C.sentence_labels(100, 4, 11, seed=0)
    assert g.shape == (100,) and np.all(np.diff(g) >= 0) and 4 <= np.bincount(g)[0] <= 11


def test_coverage_of_sentence_bootstrap_and_word_bootstrap_undercovers():
    """Coverage of the book's intervals on r and on a gain in r (bootstrap_mean_r as
    r_interval and component_encoding call it), small version of
    benchmarks/bench_coverage.py: 60 simulated datasets with known population values."""
    g = C.sentence_labels(500, 4, 11, seed=0)
    isolated = C.coverage_r_intervals(g, 0.5, restart=True, n_draws=60, n_boot=200, seed=1,
                                      units=("sentences",))
    assert isolated["truth"]["r"] == pytest.approx(0.2 / np.sqrt(1.0625))
    for quantity in ("r", "gain"):
        assert isolated[quantity]["sentences"]["inside"], isolated[quantity]
    # a story whose noise and predictors run on across words (lag-1 0.8): resampling words
    # as if independent gives intervals far too narrow
    story = C.coverage_r_intervals(g, 0.8, rho_x=0.8, restart=False, n_draws=60, n_boot=200,
                                   seed=1, units=("words",))
    for quantity in ("r", "gain"):
        e = story[quantity]["words"]
        assert e["coverage"] < e["range"][0], e
    with pytest.raises(DataError, match="units"):
        C.coverage_r_intervals(g, 0.5, units=("stories",))


def test_coverage_of_percent_better_interval_mechanics():
    """coverage_better_worse on a tiny design: its target follows the planted signal."""
    g = C.sentence_labels(300, 4, 11, seed=0)
    kw = dict(n_tests=10, n_draws=4, n_permutations=100, n_boot=50, seed=2)
    strong = C.coverage_better_worse(g, 0.5, c2_max=1.5, **kw)
    none = C.coverage_better_worse(g, 0.5, c2_max=0.0, units=("sentences",), **kw)
    assert strong["truth"] >= 60 and none["truth"] <= 10  # 9 of 10 columns carry signal
    assert set(strong) == {"truth", "sd_reported", "sentences", "words"}
    assert strong["sentences"]["n_draws"] == 4 and "words" not in none
    with pytest.raises(DataError, match="units"):
        C.coverage_better_worse(g, 0.5, units=(), **kw)
    both = C.coverage_better_worse(g, 0.5, c2_max=1.5, units=("sentences",),
                                   thresholds=("rerun", "fixed"), **kw)
    assert both["sentences"] == strong["sentences"]  # the same datasets and resamples
    assert both["sentences, thresholds fixed"]["n_draws"] == 4
    assert both["sentences"]["sd_interval"] == pytest.approx(
        both["sentences"]["median_width"] / (2 * 1.959964), rel=1e-6)
    with pytest.raises(DataError, match="thresholds"):
        C.coverage_better_worse(g, 0.5, thresholds=("refit",), **kw)
