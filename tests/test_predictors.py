"""Nuisance predictors of the real-data baseline (Methods page, real-data protocols)."""

import numpy as np
import pandas as pd

from analysis.data import Stimulus, WordDataset
from analysis.predictors import BASELINE_PREDICTORS, log_frequency, nuisance_predictors, word_length


def test_word_length_ignores_punctuation():
    assert word_length(['"Harry,"', "said.", "--", "don't"]).tolist() == [5, 4, 0, 5]


def test_positions_and_final_flag_come_from_the_presented_text():
    st = Stimulus("Anne lost control . Then she laughed .".split(), [0, 0, 0, 0, 1, 1, 1, 1],
                  np.array([1, 2, 5, 6]))
    ds = WordDataset(words=["lost", "control", "she", "laughed"], sentence=[0, 0, 1, 1],
                     responses=np.zeros((4, 1, 1)), times=[0.0], ch_names=["N400"],
                     stimulus=st)
    X, info = nuisance_predictors(ds)
    assert info["names"] == list(BASELINE_PREDICTORS)
    assert X[:, 2].tolist() == [2, 3, 2, 3]  # the first presented word has no row
    assert X[:, 3].tolist() == [0, 0, 0, 0]  # "." closes each sentence, and is not a row
    assert "wordfreq" in info["frequency_source"]
    assert X[0, 1] < log_frequency(["the"])[0][0]  # "lost" is rarer than "the"


def test_published_frequency_column_is_used_and_gaps_filled():
    meta = pd.DataFrame({"Subtlex_log10": [4.0, np.nan, 2.0, 3.5]})
    values, source = log_frequency(["the", "of", "weir", "boat"], meta)
    assert values[[0, 2, 3]].tolist() == [4.0, 2.0, 3.5] and np.isfinite(values[1])
    assert "Subtlex_log10" in source and "1 missing" in source


def test_pre_word_baseline_is_a_nuisance_column_when_the_loader_provides_it():
    words = ["lost", "control", "she", "laughed."]
    meta = pd.DataFrame({"baseline_mean": [0.5, -1.25, 2.0, 0.0]})
    ds = WordDataset(words=words, sentence=[0, 0, 1, 1], responses=np.zeros((4, 1, 1)),
                     times=[0.0], ch_names=["N400"], metadata=meta)
    X, info = nuisance_predictors(ds)
    assert X.shape == (4, 5) and info["names"][-1] == "pre-word baseline"
    assert X[:, 4].tolist() == [0.5, -1.25, 2.0, 0.0]
    assert info["pre_word_baseline"] == "baseline_mean"
    plain = WordDataset(words=words, sentence=[0, 0, 1, 1], responses=np.zeros((4, 1, 1)),
                        times=[0.0], ch_names=["N400"])
    X4, info4 = nuisance_predictors(plain)
    assert X4.shape == (4, 4) and info4["pre_word_baseline"] is None
    np.testing.assert_array_equal(X4, X[:, :4])


def test_missing_pre_word_baseline_is_named():
    import pytest

    from analysis._utils import DataError

    meta = pd.DataFrame({"baseline_mean": [0.5, np.nan]})
    ds = WordDataset(words=["a", "b."], sentence=[0, 0], responses=np.zeros((2, 1, 1)),
                     times=[0.0], ch_names=["N400"], metadata=meta, source="trials.csv")
    with pytest.raises(DataError, match=r"trials.csv: metadata column 'baseline_mean'.*word 1 \('b\.'"):
        nuisance_predictors(ds)
