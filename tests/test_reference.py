"""Published protocols and reference values (analysis.reference, split_half_ceiling)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis._utils import DataError
from analysis.loaders.frank2015 import published_exclusion
from analysis.reference import (DEVARDA_MEASURES, DEVARDA_PUBLISHED, DEVARDA_REFERENCE_COLUMNS,
                                FUTRELL2018_CEILING, FUTRELL2018_PUBLISHED, devarda_correlations,
                                devarda_exclusion, futrell2018_score,
                                futrell2018_sentence_initial, split_half_ceiling)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_FRANK = SHARED / "frank2015" / "all_measures.csv"
REAL_EEG = SHARED / "frank2015" / "single_trials" / "data_EEG.csv"
REAL_STORIES = SHARED / "naturalstories" / "all_stories.tok"

FINAL = "sentence-final word (holds '.')"
COMMA = "attached to a comma"
CLITIC = "clitic or possessive (holds \"'\")"
SPLIT = "split by the GPT-2 tokenizer"


# ------------------------------------------------------------------ de Varda exclusion
def _hand_table():
    words = ["the", "counter.", "Mary,", "John's", "didn't.", "bars", "heaved", "sniffed.",
             "tea", "1,000"]
    multi = [0, 1, 0, 1, 1, 0, 1, 1, 0, 1]
    return pd.DataFrame({"word": words, "is_multitoken_GPT2": multi},
                        index=np.arange(100, 100 + len(words)))


def test_devarda_exclusion_rows_and_reasons():
    table = _hand_table()
    out = devarda_exclusion(table)
    assert list(out.columns) == ["kept", "reason"]
    assert out.index.equals(table.index)
    assert out["kept"].dtype == bool
    assert list(out["reason"]) == ["", FINAL, COMMA, CLITIC, FINAL, "", "", FINAL, "", COMMA]
    assert list(out["kept"]) == [True, False, False, False, False, True, True, False, True,
                                 False]
    # the same rule as the loader's flag
    np.testing.assert_array_equal(~out["kept"].to_numpy(), published_exclusion(table["word"]))


def test_devarda_exclusion_multitoken_option_only_adds_its_reason_to_kept_words():
    out = devarda_exclusion(_hand_table(), exclude_multitoken=True)
    assert list(out["reason"]) == ["", FINAL, COMMA, CLITIC, FINAL, "", SPLIT, FINAL, "", COMMA]
    assert list(out.index[out["kept"]]) == [100, 105, 108]


def test_devarda_exclusion_errors():
    with pytest.raises(DataError, match="no column 'word'"):
        devarda_exclusion(pd.DataFrame({"token": ["a"]}))
    with pytest.raises(DataError, match="is_multitoken_GPT2"):
        devarda_exclusion(pd.DataFrame({"word": ["a"]}), exclude_multitoken=True)
    with pytest.raises(DataError, match="expected 0 or 1"):
        devarda_exclusion(pd.DataFrame({"word": ["a", "b"], "is_multitoken_GPT2": [0, 2]}),
                          exclude_multitoken=True)
    with pytest.raises(DataError, match="DataFrame"):
        devarda_exclusion(["a", "b."])


# ------------------------------------------------------------------ de Varda correlations
def _pairwise_r(x, y):
    ok = np.isfinite(x) & np.isfinite(y)
    return np.corrcoef(x[ok], y[ok])[0, 1], int(ok.sum())


def test_devarda_correlations_against_numpy_and_pandas():
    rng = np.random.default_rng(3)
    n = 60
    words = [f"w{i}" for i in range(n)]
    for i in (5, 17, 33):
        words[i] += "."          # excluded by the published rule
    words[40] += ","
    s = rng.standard_normal(n)
    table = pd.DataFrame({
        "word": words,
        "s_ref": s,
        "N400": -0.5 * s + rng.standard_normal(n),
        "RTfirstpass": 0.8 * s + rng.standard_normal(n),
    })
    table.loc[[5, 17, 33, 40], "N400"] += 20.0     # wrap-up outliers on excluded words
    table.loc[[2, 9], "N400"] = np.nan             # missing values: pairwise-complete rows
    ours = s + 0.3 * rng.standard_normal(n)
    ours[11] = np.nan
    out = devarda_correlations(table, {"ref": "s_ref", "ours": ours},
                               measures=["N400", "RTfirstpass"])
    assert list(out.index) == ["ref", "ours"]
    assert list(out["r"].columns) == ["N400", "RTfirstpass"]
    keep = np.ones(n, bool)
    keep[[5, 17, 33, 40]] = False
    for name, x in (("ref", s), ("ours", ours)):
        for m in ("N400", "RTfirstpass"):
            y = table[m].to_numpy()
            r, used = _pairwise_r(x[keep], y[keep])
            assert out["r"].loc[name, m] == pytest.approx(r, abs=1e-12)
            assert out["n"].loc[name, m] == used
    assert out["n"].loc["ref", "N400"] == n - 4 - 2
    assert out["n"].loc["ours", "N400"] == n - 4 - 3
    # pandas .corr on the kept rows gives the same table for the column predictor
    frame = table[keep][["s_ref", "N400", "RTfirstpass"]].corr()
    assert out["r"].loc["ref", "N400"] == pytest.approx(frame.loc["s_ref", "N400"], abs=1e-12)
    # no exclusion: all rows
    everything = devarda_correlations(table, ["s_ref"], measures={"N400": "N400"},
                                      kept=np.ones(n, bool))
    assert everything["n"].loc["s_ref", "N400"] == n - 2
    r_all, _ = _pairwise_r(s, table["N400"].to_numpy())
    assert everything["r"].loc["s_ref", "N400"] == pytest.approx(r_all, abs=1e-12)


def test_devarda_correlations_errors():
    table = pd.DataFrame({"word": ["a", "b", "c", "d"], "x": [1.0, 2, 3, 5],
                          "N400": [1.0, 0, 2, 1]})
    with pytest.raises(DataError, match="does not have"):
        devarda_correlations(table, ["nope"], measures=["N400"])
    with pytest.raises(DataError, match="does not have"):
        devarda_correlations(table, ["x"], measures=["P600"])
    with pytest.raises(DataError, match="one value per row"):
        devarda_correlations(table, {"ours": [1.0, 2.0]}, measures=["N400"])
    with pytest.raises(DataError, match="infinite"):
        devarda_correlations(table, {"ours": [1.0, np.inf, 2, 3]}, measures=["N400"])
    with pytest.raises(DataError, match="booleans"):
        devarda_correlations(table, ["x"], measures=["N400"], kept=[1, 1, 1, 1])
    with pytest.raises(DataError, match="one flag per row"):
        devarda_correlations(table, ["x"], measures=["N400"], kept=np.ones(3, bool))
    with pytest.raises(DataError, match="expected a number"):
        devarda_correlations(table.assign(N400=["1", "x", "2", "3"]), ["x"], measures=["N400"])


def test_devarda_published_table_layout():
    frame = DEVARDA_PUBLISHED.frame()
    assert list(frame.index) == list(DEVARDA_REFERENCE_COLUMNS)
    assert list(frame.columns) == list(DEVARDA_MEASURES)
    assert DEVARDA_PUBLISHED.n == 1487
    assert "df_corr.csv" in DEVARDA_PUBLISHED.source
    # headline numbers as printed in the research notes (3 decimals)
    assert frame.loc["s_GPT2", "N400"] == pytest.approx(-0.282, abs=5e-4)
    assert frame.loc["s_GPT2", "RTfirstpass"] == pytest.approx(0.548, abs=5e-4)
    assert frame.loc["s_GPT2", "self_paced_reading_time"] == pytest.approx(0.154, abs=5e-4)
    assert frame.loc["s_GPT2_xl", "N400"] == pytest.approx(-0.285, abs=5e-4)
    assert list(DEVARDA_PUBLISHED.frame(labels=True).columns)[6:] == [
        "SPR", "FFix", "FPass", "RightBound", "GoPast"]
    with pytest.raises(TypeError):
        DEVARDA_PUBLISHED.r["s_GPT2"]["N400"] = 0.0      # read-only


@pytest.mark.skipif(not REAL_FRANK.is_file(), reason="Frank et al. (2015) data not available")
def test_devarda_protocol_reproduces_published_correlations_on_real_file():
    from analysis.loaders import read_frank2015_table

    table = read_frank2015_table(REAL_FRANK)
    assert len(table) == 1726
    excl = devarda_exclusion(table)
    assert int(excl["kept"].sum()) == 1487
    counts = excl["reason"].value_counts()
    assert (counts[FINAL], counts[COMMA], counts[CLITIC]) == (205, 16, 18)
    assert int(devarda_exclusion(table, exclude_multitoken=True)["kept"].sum()) == 1481
    out = devarda_correlations(table, list(DEVARDA_REFERENCE_COLUMNS))
    assert (out["n"].to_numpy() == 1487).all()
    diff = (out["r"] - DEVARDA_PUBLISHED.frame()).abs().to_numpy()
    assert diff.max() < 1e-6
    # the shipped is_start_end column is not the published rule (1,521 rows)
    shipped = devarda_correlations(table, ["s_GPT2"], kept=table["is_start_end"].to_numpy() == 0)
    assert (shipped["n"].to_numpy() == 1521).all()
    assert abs(shipped["r"].loc["s_GPT2", "N400"] - DEVARDA_PUBLISHED.r["s_GPT2"]["N400"]) > 0.05


# ------------------------------------------------------------------ Futrell2018
def _pair_with_r(r, n, seed=0):
    """x, y of length n whose sample Pearson r is exactly ``r``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    e = rng.standard_normal(n)
    x = (x - x.mean()) / np.linalg.norm(x - x.mean())
    e = e - e.mean()
    e = e - (e @ x) * x
    e /= np.linalg.norm(e)
    return x, r * x + np.sqrt(1 - r ** 2) * e


def test_futrell2018_score_matches_numpy_and_the_published_normalisation():
    raw = FUTRELL2018_PUBLISHED["distilgpt2"]["raw"]
    s, rt = _pair_with_r(raw, 500)
    s = s * 3 + 7
    rt = 300 + 40 * rt
    first = np.zeros(500, bool)
    out = futrell2018_score(s, rt, first)
    assert out["raw_r"] == pytest.approx(raw, abs=1e-12)
    assert out["abs_r"] == pytest.approx(raw, abs=1e-12)
    assert out["ceiling"] == FUTRELL2018_CEILING == 0.85804302
    assert out["normalised"] == pytest.approx(FUTRELL2018_PUBLISHED["distilgpt2"]["normalised"],
                                              abs=1e-7)
    assert not out["clipped"]
    assert out["n_words"] == 500
    # a negative relation scores its absolute value, as the benchmark's metric does
    neg = futrell2018_score(-s, rt, first)
    assert neg["raw_r"] == pytest.approx(-raw, abs=1e-12)
    assert neg["normalised"] == pytest.approx(out["normalised"], abs=1e-12)
    # the published gpt2-xl raw value is implied by the same ceiling
    xl = FUTRELL2018_PUBLISHED["gpt2-xl"]
    assert xl["raw"] is None
    assert xl["raw_implied"] == pytest.approx(0.2731, abs=1e-4)


def test_futrell2018_score_clips_at_one_and_keeps_the_unclipped_value():
    s, rt = _pair_with_r(0.5, 200, seed=1)
    out = futrell2018_score(s, rt, np.zeros(200, bool), ceiling=0.25)
    assert out["normalised"] == 1.0
    assert out["normalised_unclipped"] == pytest.approx(2.0, abs=1e-12)
    assert out["clipped"]


def test_futrell2018_score_exclusions_are_counted_once_each():
    rng = np.random.default_rng(2)
    n = 100
    s = rng.standard_normal(n)
    rt = 2 * s + rng.standard_normal(n)
    first = np.zeros(n, bool)
    first[[0, 20, 40]] = True
    s[0] = np.nan           # sentence-initial and without surprisal: counted as initial
    s[[5, 6]] = np.nan
    rt[[6, 7]] = np.nan     # word 6 lacks both: counted under surprisal
    rt[50] = np.inf
    out = futrell2018_score(s, rt, first)
    assert (out["n_sentence_initial"], out["n_nonfinite_surprisal"], out["n_nonfinite_rt"]) == \
        (3, 2, 2)
    assert out["n_words"] == n - 7 and out["n_total"] == n
    keep = ~first & np.isfinite(s) & np.isfinite(rt)
    assert out["raw_r"] == pytest.approx(np.corrcoef(s[keep], rt[keep])[0, 1], abs=1e-12)


def test_futrell2018_score_errors():
    s, rt = _pair_with_r(0.3, 10)
    first = np.zeros(10, bool)
    with pytest.raises(DataError, match="booleans"):
        futrell2018_score(s, rt, np.zeros(10))
    with pytest.raises(DataError, match="one value per word"):
        futrell2018_score(s, rt[:9], first)
    for bad in (0.0, 1.5, np.nan):
        with pytest.raises(DataError, match="ceiling"):
            futrell2018_score(s, rt, first, ceiling=bad)
    with pytest.raises(DataError, match="at least 3"):
        futrell2018_score(s, rt, np.arange(10) > 1)
    with pytest.raises(DataError, match="constant"):
        futrell2018_score(np.ones(10), rt, first)


def test_futrell2018_sentence_initial_rule():
    words = ["If", "you", "go.", "Then", "Mr.", "Smith", "ended!'", "he", "said.", "'Why?'",
             "Because;'", "it", "rained!", "Done."]
    flags = futrell2018_sentence_initial(words)
    expected = {0, 3, 9, 10, 13}    # not after "Mr.", not before lower-case "he" / "it"
    assert set(np.flatnonzero(flags)) == expected
    assert futrell2018_sentence_initial([]).shape == (0,)
    with pytest.raises(DataError, match="expected strings"):
        futrell2018_sentence_initial(["a", 3])


@pytest.mark.skipif(not REAL_STORIES.is_file(), reason="Natural Stories data not available")
def test_futrell2018_sentence_initial_on_natural_stories():
    tok = pd.read_csv(REAL_STORIES, sep="\t", keep_default_na=False, dtype={"word": str})
    flags = futrell2018_sentence_initial(tok["word"])
    assert len(tok) == 10256
    assert int(flags.sum()) == 481          # Brain-Score's data test: 481 sentences
    assert flags[tok["zone"].to_numpy() == 1].all()


# ------------------------------------------------------------------ split-half ceiling
def _simulated_participants(n_subjects, n_items, noise_sd, seed):
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal(n_items)
    return truth + noise_sd * rng.standard_normal((n_subjects, n_items))


@pytest.mark.parametrize("k, noise_sd", [(20, 2.5), (24, 5.0), (9, 1.0)])
def test_split_half_ceiling_recovers_spearman_brown_reliability(k, noise_sd):
    values = _simulated_participants(k, 3000, noise_sd, seed=k)
    out = split_half_ceiling(values, n_splits=50, seed=0)
    expected = k / (k + noise_sd ** 2)
    # odd k (9): halves of 4 and 5; the factor-2 correction is then approximate
    assert out["ceiling"] == pytest.approx(expected, abs=0.03)
    assert out["ceiling"] == out["mean"] == out["reliability"]
    assert out["corrected"].shape == out["half_r"].shape == (50,)
    np.testing.assert_allclose(out["corrected"], 2 * out["half_r"] / (1 + out["half_r"]))
    lo, hi = out["interval"]
    assert lo <= out["median"] <= hi
    assert (out["n_items"] == 3000).all()


def test_split_half_ceiling_with_missing_values():
    k, s = 24, 4.0
    values = _simulated_participants(k, 3000, s, seed=7)
    rng = np.random.default_rng(8)
    values[rng.random(values.shape) < 0.25] = np.nan        # 25 % missing at random
    values[1:, 0] = np.nan          # item 0: one participant only, so it lacks one half
    out = split_half_ceiling(values, n_splits=40, seed=1)
    assert (out["n_items"] == 2999).all()
    expected = 0.75 * k / (0.75 * k + s ** 2)               # mean of ~18 participants
    assert out["ceiling"] == pytest.approx(expected, abs=0.03)


def test_split_half_ceiling_is_seeded_and_summaries_agree():
    values = _simulated_participants(10, 200, 1.5, seed=4)
    a = split_half_ceiling(values, n_splits=20, seed=5)
    b = split_half_ceiling(values, n_splits=20, seed=5, method="median")
    c = split_half_ceiling(values, n_splits=20, seed=5, method="fisher_z")
    np.testing.assert_array_equal(a["corrected"], b["corrected"])
    assert b["ceiling"] == pytest.approx(np.median(a["corrected"]))
    z = np.tanh(np.arctanh(a["half_r"]).mean())
    assert c["ceiling"] == pytest.approx(2 * z / (1 + z))
    assert a["sd"] == pytest.approx(a["corrected"].std(ddof=1))
    assert not np.array_equal(a["corrected"],
                              split_half_ceiling(values, n_splits=20, seed=6)["corrected"])


def test_split_half_ceiling_errors():
    values = _simulated_participants(4, 10, 1.0, seed=0)
    with pytest.raises(DataError, match="at least two"):
        split_half_ceiling(values[:1])
    with pytest.raises(DataError, match=r"expected \(n_subjects, n_items, \.\.\.\)"):
        split_half_ceiling(values[0])
    with pytest.raises(DataError, match="method"):
        split_half_ceiling(values, method="max")
    with pytest.raises(DataError, match="n_splits"):
        split_half_ceiling(values, n_splits=0)
    bad = values.copy()
    bad[1, 2] = np.inf
    with pytest.raises(DataError, match="infinite"):
        split_half_ceiling(bad)
    sparse = np.full((4, 10), np.nan)
    sparse[0] = 1.0
    with pytest.raises(DataError, match="at least 3"):
        split_half_ceiling(sparse)


@pytest.mark.skipif(not REAL_EEG.is_file(), reason="Frank et al. single-trial data not available")
def test_split_half_ceiling_of_the_real_n400():
    trials = pd.read_csv(REAL_EEG, sep="\t", usecols=["subj_nr", "item", "N400", "reject_data",
                                                      "reject_word"])
    trials = trials[~trials["reject_word"].astype(bool)]
    n400 = trials["N400"].where(~trials["reject_data"].astype(bool))
    values = trials.assign(v=n400).pivot(index="subj_nr", columns="item", values="v")
    assert values.shape == (24, 1487)
    out = split_half_ceiling(values.to_numpy(), n_splits=100, seed=0)
    # research notes §3.4: 0.352 (sd 0.024; 2.5-97.5 %: 0.310-0.401), computed, not published
    assert out["ceiling"] == pytest.approx(0.352, abs=1e-3)
    assert out["interval"][0] == pytest.approx(0.310, abs=2e-3)
    assert out["interval"][1] == pytest.approx(0.401, abs=2e-3)
