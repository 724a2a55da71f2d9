"""The minimum detectable effect of each test family (analysis.power)."""

import numpy as np
import pandas as pd
import pytest

from analysis import power
from analysis._utils import DataError

# 300 words in 30 sentences of 10: the "sentences" null of the Frank et al. (2015) design
GROUPS = np.repeat(np.arange(30), 10)
R_KW = dict(groups=GROUPS, scheme="sentences", r_reference=0.2, prediction_correlation=0.8,
            n_sim=60, n_permutations=100, seed=0)


@pytest.fixture(scope="module")
def mde_r():
    return power.mde_r_difference(300, lag1=0.3, **R_KW)


def test_r_difference_positive_control(mde_r):
    """Well above the MDE the test rejects in >= 80 % of fresh draws; at half, clearly less."""
    m = mde_r["mde"]
    assert np.isfinite(m) and 0 < m < 0.5
    assert mde_r["power_at_mde"] >= 0.8
    fresh = dict(R_KW, seed=11)
    assert power.mde_r_difference(300, lag1=0.3, at=1.5 * m, **fresh) >= 0.8
    assert power.mde_r_difference(300, lag1=0.3, at=0.5 * m, **fresh) < 0.6
    # no effect: about the nominal rate (the null is calibrated)
    assert power.mde_r_difference(300, lag1=0.3, at=0.0, **fresh) <= 0.15


def test_r_difference_grows_with_autocorrelation_and_shrinks_with_n(mde_r):
    """Ignoring the autocorrelation would make the MDE at lag-1 0.8 equal the one at 0."""
    at0 = power.mde_r_difference(300, lag1=0.0, **R_KW)["mde"]
    at8 = power.mde_r_difference(300, lag1=0.8, **R_KW)["mde"]
    assert at0 <= mde_r["mde"] <= at8
    assert at8 > 1.3 * at0
    big = power.mde_r_difference(1200, lag1=0.3, **dict(R_KW, groups=np.repeat(np.arange(120), 10)))
    assert big["mde"] < 0.75 * mde_r["mde"]


def test_r_difference_ceiling_caps_the_search():
    res = power.mde_r_difference(300, lag1=0.3, **dict(R_KW, r_reference=0.2), ceiling=0.21)
    assert res["mde"] == np.inf
    assert "no effect it could show" in power.null_power_sentence(0.5, res)


def test_category_positive_control_and_autocorrelation():
    cat = np.zeros(300, bool)
    cat[(np.arange(300) % 20) < 5] = True  # category words in runs of 5, as in passages
    kw = dict(groups=GROUPS, scheme="sentences", value_sd=10.0, n_sim=60,
              n_permutations=100, seed=0)
    res = power.mde_category(cat, lag1=0.0, **kw)
    m = res["mde"]
    assert 0 < m < 40 and res["power_at_mde"] >= 0.8
    fresh = dict(kw, seed=5)
    assert power.mde_category(cat, lag1=0.0, at=1.5 * m, **fresh) >= 0.8
    assert power.mde_category(cat, lag1=0.0, at=0.5 * m, **fresh) < 0.6
    # clustered category words: positively autocorrelated values average out less
    # within a run, so the MDE must grow with the autocorrelation
    assert power.mde_category(cat, lag1=0.8, **kw)["mde"] > 1.3 * m
    # spread category words (every sixth): the contrast with their neighbours cancels
    # the shared drift, so the same autocorrelation lowers the MDE: the simulation
    # keeps the real positions of the category words
    spread = np.zeros(300, bool)
    spread[::6] = True
    assert (power.mde_category(spread, lag1=0.8, **kw)["mde"]
            < power.mde_category(spread, lag1=0.0, **kw)["mde"])


def test_validity_matches_welch_power_and_shrinks_with_groups():
    from scipy import stats

    res = power.mde_validity(20, 20, score_sd=1.0, n_tests=1, n_sim=2000, seed=0)
    # normal approximation of the one-sided two-sample test: (z_a + z_b) sqrt(2 / n)
    approx = (stats.norm.ppf(0.95) + stats.norm.ppf(0.8)) * np.sqrt(2 / 20)
    assert res["mde"] == pytest.approx(approx, rel=0.12)
    assert power.mde_validity(60, 60, 1.0, n_sim=2000)["mde"] < res["mde"]
    # Benjamini-Hochberg over 50 hypotheses: a single true one needs more
    assert power.mde_validity(20, 20, 1.0, n_tests=50, n_sim=2000)["mde"] > res["mde"]


def test_refit_mde_follows_the_drawn_null():
    """The refit MDE is a multiple of the drawn null's sd: (z_0.975 + z_0.8) for a pure
    shift, more where the observed Delta r spreads more with the effect."""
    from scipy import stats

    k = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    shift = power.mde_refit(0.04, spread_growth=0.0)
    assert shift["mde"] == pytest.approx(k * 0.04, rel=1e-3)
    assert shift["power_at_mde"] == pytest.approx(0.8, abs=1e-3)
    assert power.refit_power_at(0.0, 0.04) == pytest.approx(0.05)
    # the spread growth k: both tails of N(d, 1 + k d) beyond +-z_0.975 hold 80 % at the
    # book's MDE d (in null sds)
    res = power.mde_refit(0.04, n_words=1487, n_permutations=1000)
    d, z = res["mde"] / 0.04, stats.norm.ppf(0.975)
    spread = np.sqrt(1 + power.REFIT_SPREAD_GROWTH * d)
    assert stats.norm.sf((z - d) / spread) + stats.norm.cdf((-z - d) / spread) == (
        pytest.approx(0.8, abs=1e-3))
    assert res["power_at_mde"] == pytest.approx(0.8, abs=1e-3) and res["mde"] > 1.4 * shift["mde"]
    # an offset null: the MDE holds in both directions, so it grows by the offset
    off = power.mde_refit(0.04, null_mean=-0.01)
    assert off["mde"] == pytest.approx(res["mde"] + 0.01)
    assert power.refit_power_at(-off["mde"], 0.04, -0.01) == pytest.approx(0.8, abs=1e-3)
    assert power.refit_power_at(off["mde"], 0.04, -0.01) > 0.82
    # the shift model is the power of a normal shift tested at the null's quantiles
    rng = np.random.default_rng(0)
    draws = 0.03 + 0.02 * rng.standard_normal(20000)
    assert np.mean(np.abs(draws) > stats.norm.ppf(0.975) * 0.02) == pytest.approx(
        power.refit_power_at(0.03, 0.02, spread_growth=0.0), abs=0.01)
    text = power.null_power_sentence(0.4, res, label="q")
    assert text == ("not significant (q = 0.4); with 1,487 words and its refit null (1,000 "
                    "permutations, both models fitted again on each; sd 0.04), this test "
                    f"detects Δr ≥ {res['mde']:.3g} with 80 % power")
    with pytest.raises(DataError, match="null_sd"):
        power.mde_refit(0.0)
    with pytest.raises(DataError, match="power"):
        power.mde_refit(0.04, power=0.01)


def test_refit_spread_growth_matches_the_planted_effects():
    """The constant reproduces the benchmark's measured 80 % crossing; a pure shift does not.

    ``benchmarks/bench_refit_null.py`` planted effects of several sizes and ran the refit
    test (200 draws each); the book's model must predict the measured rate where the
    measured power crossed 80 %, and the pure shift is shown to miss it.
    """
    import json
    from pathlib import Path

    res = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "results"
                      / "refit_null.json").read_text())
    cells = [c for c in res["power_cells"] if c["design"] == "swapped column"]
    crossing = min((c for c in cells if c["refit"]["rate"] >= 0.8),
                   key=lambda c: c["effect_in_null_sds"])
    se = np.sqrt(0.8 * 0.2 / crossing["refit"]["n_draws"])
    d = crossing["effect_in_null_sds"]
    assert power.refit_power_at(d, 1.0) == pytest.approx(crossing["refit"]["rate"], abs=2 * se)
    assert power.refit_power_at(d, 1.0, spread_growth=0.0) > crossing["refit"]["rate"] + 3 * se
    below = max((c for c in cells if c["refit"]["rate"] < 0.8),
                key=lambda c: c["effect_in_null_sds"])
    assert below["effect_in_null_sds"] < power.mde_refit(1.0)["mde"] <= 1.05 * d


def test_sentence_and_null_power():
    rec = {"family": "r_difference", "mde": 0.0213, "power": 0.8, "n_words": 1487,
           "n_groups": 205, "group_name": "sentences", "lag1": 0.412}
    text = power.null_power_sentence(0.33, rec)
    assert text == ("not significant (p = 0.33); with 1,487 words in 205 sentences and lag-1 "
                    "autocorrelation 0.41, this test detects Δr ≥ 0.0213 with 80 % power")
    sig = power.null_power(0.001, "validity", n_divergent=5, n_convergent=5, score_sd=1.0)
    assert sig["null"] is False and sig["mde"] is None and sig["sentence"].startswith("significant")
    null = power.null_power(0.4, "validity", label="q", n_divergent=12, n_convergent=12,
                            score_sd=0.05, n_tests=20, n_sim=400)
    assert null["null"] and null["mde"] > 0
    assert null["sentence"].startswith("not significant (q = 0.4); with 12 divergent")


def test_chain_power_uses_research_sentences():
    rng = np.random.default_rng(0)
    roles = ["proposal"] * 4 + ["research"] * 8 + ["validation"] * 4
    sents = pd.DataFrame({"set": ["divergent"] * 16 + ["convergent"] * 16,
                          "role": roles * 2})
    scores = rng.normal(0, 0.1, (5, 32))
    chain = pd.DataFrame({"q": [0.3, 0.5, 0.9, 0.9, 0.9]})
    res = power.chain_power(chain, scores, sents, n_sim=400)
    assert (res["n_divergent"], res["n_convergent"], res["n_tests"]) == (8, 8, 5)
    assert 0.05 < res["mde"] < 0.5


def test_bad_design_is_refused():
    with pytest.raises(DataError, match="lag1"):
        power.mde_r_difference(300, GROUPS, lag1=1.2)
    with pytest.raises(DataError, match="groups"):
        power.mde_r_difference(300, GROUPS[:10], lag1=0.2)
    with pytest.raises(DataError, match="category words"):
        power.mde_category(np.zeros(300, bool), GROUPS)
    with pytest.raises(DataError, match="test="):
        power.minimum_detectable_effect("anova")


def _fake_dataset(n, seed=0):
    from types import SimpleNamespace

    from analysis.calibration import ar1_targets

    y = ar1_targets(n, 3, 0.5, seed=seed).reshape(n, 1, 3)
    cat = np.zeros(n, bool)
    starts = np.random.default_rng(seed).choice(n - 3, n // 12, replace=False)
    cat[(starts[:, None] + np.arange(3)).ravel()] = True  # runs of 3 at random places
    # no registered source: the default null (blocks of 20 words over one series)
    return SimpleNamespace(provenance={}, responses=y, categories={"emotion": cat})


def test_retest_and_instruction_power_read_the_results():
    """The chapters' glue: records from a re-test and an instruction comparison."""
    from types import SimpleNamespace

    from analysis.stats import category_ttest, fdr_bh, permutation_r_difference

    n = 200
    ds = _fake_dataset(n)
    rng = np.random.default_rng(1)
    base = ds.responses + rng.normal(0, 3, ds.responses.shape)
    tuned = base + rng.normal(0, 1, base.shape)
    test = permutation_r_difference(ds.responses, base, tuned, 50, seed=0)
    values = rng.normal(0, 5, (n, 3))
    cat = category_ttest(values, ds.categories["emotion"], n_permutations=50, groups=None)
    cat.update(q=fdr_bh(cat["p"])[1], category="emotion")
    rt = {"test": test, "base": SimpleNamespace(predictions=base, r=test["r_a"]),
          "ft": SimpleNamespace(predictions=tuned), "delta_mse": values, "category": cat}
    res = power.retest_power(rt, ds, n_sim=20, n_permutations=50)
    assert res["r"]["null"] and np.isfinite(res["r"]["mde"]) and res["r"]["n_tests"] == 3
    assert 0.5 < res["r"]["prediction_correlation"] < 0.99
    assert res["r"]["test_null"] == "fixed predictions" and "refit" not in res["r"]["sentence"]

    # the re-test ran the refit null: its MDE is that null's, not the fixed-prediction
    # simulation's (which describes another test)
    sd = np.array([[0.03, 0.05, 0.04]])
    refit_test = dict(test, null=dict(test["null"], refit=True, n_permutations=50),
                      null_sd=sd, null_mean=np.array([[0.0, -0.002, 0.004]]))
    ref = power.retest_power(dict(rt, test=refit_test), ds, n_sim=20, n_permutations=50)["r"]
    assert ref["test_null"] == "refit" and ref["n_tests"] == 3 and ref["n_words"] == n
    assert ref["mde"] == pytest.approx(power.mde_refit(0.04, 0.0)["mde"])
    assert ref["mde"] != pytest.approx(res["r"]["mde"], rel=0.05)
    assert "its refit null (50 permutations" in ref["sentence"]
    # both models alike on every permuted response (a quick run of a user's data): no
    # MDE to state, and no error
    flat = dict(refit_test, null_sd=np.zeros_like(sd), null_mean=np.zeros_like(sd))
    same = power.retest_power(dict(rt, test=flat), ds, n_sim=20, n_permutations=50)["r"]
    assert same["mde"] is None and "can detect no difference" in same["sentence"]
    assert res["category"]["null"] and res["category"]["n_in"] == int(ds.categories["emotion"].sum())
    assert res["category"]["value_sd"] == pytest.approx(5, rel=0.2)
    assert "% of the base error" in res["category"]["sentence"]

    summary = pd.DataFrame({"mean_delta": [0.001, -0.004], "q_mean_better": [0.6, 0.9],
                            "q_mean_worse": [0.7, 0.5], "mean_r_plain": [0.1, 0.1]},
                           index=["emotion", "physics"])
    comp = SimpleNamespace(summary=summary, params={"n_words": 150},
                           fits={"plain": SimpleNamespace(predictions=base),
                                 "physics": SimpleNamespace(predictions=tuned)})
    out = power.instruction_power(comp, ds, n_sim=20, n_permutations=50)
    assert out["instruction"] == "physics" and out["n_words"] == 150 and out["p"] == 0.5
    assert out["sentence"].startswith("not significant (q = 0.5); with 150 words")
    assert out["test_null"] == "fixed predictions"
    # a re-test on many targets with the scaled null: simulated with its scale, so a
    # wider null needs a larger effect
    scaled_test = dict(test, null=dict(test["null"], refit=False, scale=1.6,
                                       kind="scaled fixed predictions"))
    wide = power.retest_power(dict(rt, test=scaled_test), ds, n_sim=20, n_permutations=50)["r"]
    assert wide["test_null"] == "scaled fixed predictions" and wide["null_scale"] == 1.6
    assert wide["mde"] > res["r"]["mde"]
    # the comparison drew the refit null: the MDE of its mean over targets
    summary_refit = summary.assign(null_sd_of_mean=[0.002, 0.003],
                                   null_mean_of_mean=[0.0, 0.0005])
    comp_refit = SimpleNamespace(summary=summary_refit,
                                 params={"n_words": 150, "null": "refit", "n_refit": 99},
                                 fits=comp.fits)
    ref6 = power.instruction_power(comp_refit, ds)
    assert ref6["instruction"] == "physics" and ref6["test_null"] == "refit"
    assert ref6["mde"] == pytest.approx(power.mde_refit(0.003, 0.0005)["mde"])
