"""Unit tests of analysis._utils: errors, checks, atomic files, z-scores, Welch, data paths."""

import os
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from analysis import _utils
from analysis._utils import (DataError, atomic_savez, atomic_write, atomic_write_json,
                             check_array, check_finite, check_same_rows, json_default,
                             sha256_file, shared_data_path, welch_ttest, where, zscore)


# --------------------------------------------------------------------------- errors
def test_where_prefixes_the_source_or_nothing():
    assert where("study.csv") == "study.csv: "
    assert where(None) == ""
    assert where("") == ""


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


# --------------------------------------------------------------------------- checks
def test_check_finite_names_file_field_count_and_first_position():
    x = np.zeros((4, 3))
    x[2, 1] = np.nan
    x[3, 0] = np.inf
    with pytest.raises(DataError) as err:
        check_finite(x, "features", source="eeg.npz")
    msg = str(err.value)
    assert msg.startswith("eeg.npz: field 'features' holds 2 NaN/inf value(s)")
    assert "first at index (2, 1): row 2, column 1" in msg


def test_check_finite_uses_readable_row_and_column_names():
    words = ["the", "cat", "sat"]
    x = np.ones((3, 2, 2))
    x[1, 0, 1] = np.nan
    with pytest.raises(DataError, match=r"word 1 \('cat'\), channel 0 at window 1"):
        check_finite(x, "responses", row_name=lambda i: f"word {i} ({words[i]!r})",
                     col_name=lambda c, w: f"channel {c} at window {w}")


def test_check_finite_ignores_integer_and_accepts_finite_values():
    check_finite(np.arange(5), "counts")
    check_finite(np.ones(3), "x")
    with pytest.raises(DataError, match="the value"):
        check_finite(np.float64("nan"), "scalar")


def test_check_array_rank_shape_and_conversion():
    arr = check_array([[1, 2], [3, 4]], "X", ndim=2, shape=(None, 2))
    assert arr.dtype == np.float64 and arr.shape == (2, 2)
    with pytest.raises(DataError, match=r"f.csv: 'X' has shape \(3,\) \(1 axes\); "
                                        r"expected 2 or 3 axes"):
        check_array(np.ones(3), "X", ndim=(2, 3), source="f.csv")
    with pytest.raises(DataError, match=r"'X' has shape \(2, 3\); expected \(any, 2\)"):
        check_array(np.ones((2, 3)), "X", shape=(None, 2))
    with pytest.raises(DataError, match=r"'X' has shape \(2,\); expected \(any, 2\)"):
        check_array(np.ones(2), "X", shape=(None, 2))
    with pytest.raises(DataError, match="'X' cannot be read as numbers"):
        check_array(["a", "b"], "X")
    with pytest.raises(DataError, match="field 'X' holds 1 NaN"):
        check_array([1.0, np.nan], "X")
    kept = check_array([1.0, np.nan], "X", finite=False)
    assert np.isnan(kept[1])
    assert check_array(np.arange(3), "X", dtype=None).dtype.kind == "i"


def test_check_same_rows_names_every_array_and_its_rows():
    check_same_rows({"a": np.ones((3, 2)), "b": np.ones(3)})
    with pytest.raises(DataError, match=r"x.npz: row counts differ \('a' has 3, 'b' has 4\)"):
        check_same_rows({"a": np.ones((3, 2)), "b": np.ones(4)}, source="x.npz")


# --------------------------------------------------------------------------- files
def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    atomic_write(path, lambda tmp: tmp.write_text("one"))
    atomic_write(path, lambda tmp: tmp.write_text("two"))
    assert path.read_text() == "two"
    assert _leftovers(path.parent) == []


def test_failed_atomic_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_atomic_savez_keeps_the_name_and_round_trips(tmp_path):
    path = tmp_path / "arrays.data"
    atomic_savez(path, a=np.arange(3), b=np.eye(2))
    assert path.exists() and not (tmp_path / "arrays.data.npz").exists()
    with np.load(path) as npz:
        np.testing.assert_array_equal(npz["a"], np.arange(3))
        np.testing.assert_array_equal(npz["b"], np.eye(2))
    assert _leftovers(tmp_path) == []


def test_atomic_write_json_converts_numpy_and_refuses_nan(tmp_path):
    import json

    path = tmp_path / "r.json"
    atomic_write_json(path, {"n": np.int64(3), "x": np.arange(2), "p": tmp_path / "f"})
    assert json.loads(path.read_text()) == {"n": 3, "x": [0, 1], "p": str(tmp_path / "f")}
    with pytest.raises(ValueError):
        atomic_write_json(path, {"x": float("nan")})
    assert json.loads(path.read_text())["n"] == 3  # the old file survived
    assert _leftovers(tmp_path) == []
    with pytest.raises(TypeError, match="cannot store set"):
        json_default({1})


def test_sha256_file_matches_hashlib(tmp_path):
    import hashlib

    data = os.urandom(3000)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path, block=1000) == hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- numbers
def test_zscore_values_and_constant_columns():
    x = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    z = zscore(x)
    np.testing.assert_allclose(z[:, 0], stats.zscore(x[:, 0]))
    np.testing.assert_array_equal(z[:, 1], 0.0)
    assert np.isfinite(z).all()


def test_zscore_with_training_statistics():
    train = np.array([[0.0], [2.0]])
    test = np.array([[4.0]])
    z = zscore(test, mean=train.mean(0, keepdims=True), sd=train.std(0, keepdims=True))
    np.testing.assert_allclose(z, [[3.0]])
    np.testing.assert_allclose(zscore(test, mean=0.0, sd=0.0), [[4.0]])  # zero sd -> 1


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_welch_ttest_matches_scipy(alternative):
    rng = np.random.default_rng(1)
    a = rng.normal(0.3, 1.0, 15)
    b = rng.normal(0.0, 2.5, 40)
    t, p = welch_ttest(a, b, alternative=alternative)
    ref = stats.ttest_ind(a, b, equal_var=False, alternative=alternative)
    assert t == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)


def test_welch_ttest_along_an_axis_omits_nan_and_flags_small_samples():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 10))
    b = rng.normal(size=(3, 12))
    a[1, :3] = np.nan
    a[2, 1:] = np.nan  # one value left: no test
    t, p = welch_ttest(a, b, axis=1)
    assert t.shape == p.shape == (3,)
    ref0 = stats.ttest_ind(a[0], b[0], equal_var=False, alternative="greater")
    ref1 = stats.ttest_ind(a[1, 3:], b[1], equal_var=False, alternative="greater")
    assert t[0] == pytest.approx(ref0.statistic) and p[0] == pytest.approx(ref0.pvalue)
    assert t[1] == pytest.approx(ref1.statistic) and p[1] == pytest.approx(ref1.pvalue)
    assert np.isnan(t[2]) and np.isnan(p[2])
    t1, p1 = welch_ttest([1.0], [1.0, 2.0, 3.0])
    assert np.isnan(t1) and np.isnan(p1)


# --------------------------------------------------------------------------- data paths
def test_shared_data_path_order(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    (shared / "corpus").mkdir(parents=True)
    (shared / "corpus" / "a.csv").write_text("x")
    monkeypatch.setattr(_utils, "SHARED_DATA", shared)
    monkeypatch.delenv("TEST_CORPUS_PATH", raising=False)
    assert shared_data_path("corpus/a.csv", env="TEST_CORPUS_PATH") == shared / "corpus" / "a.csv"
    assert shared_data_path("corpus/missing.csv") is None
    monkeypatch.setenv("TEST_CORPUS_PATH", str(tmp_path / "env.csv"))
    assert shared_data_path("corpus/a.csv", env="TEST_CORPUS_PATH") == tmp_path / "env.csv"
    explicit = shared_data_path("corpus/a.csv", env="TEST_CORPUS_PATH", path="~/mine.csv")
    assert explicit == Path.home() / "mine.csv"
    monkeypatch.setenv("TEST_CORPUS_PATH", "")  # empty variable: ignored
    assert shared_data_path("corpus/a.csv", env="TEST_CORPUS_PATH") == shared / "corpus" / "a.csv"


def test_shared_data_default_is_beside_the_repository():
    assert _utils.SHARED_DATA == _utils.REPO_ROOT.parent / "shared" / "data"
    assert (_utils.REPO_ROOT / "analysis" / "_utils.py").is_file()
