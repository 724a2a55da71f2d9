"""The WordDataset container: validation, views and its on-disk format."""

import numpy as np
import pytest

from analysis.data import DataError, WordDataset, load_dataset_file, neuromag306_info, open_dataset


def _toy(n=12, n_ch=306, n_win=20, **kw):
    rng = np.random.default_rng(0)
    info = neuromag306_info()
    args = dict(words=[f"w{i}." if i % 4 == 3 else f"w{i}" for i in range(n)],
                sentence=np.repeat(np.arange(n // 4), 4),
                responses=rng.standard_normal((n, n_ch, n_win)).astype(np.float32),
                times=np.arange(n_win) * 25.0, ch_names=info["ch_names"], info=info,
                source="toy")
    args.update(kw)
    return WordDataset(**args)


def test_neuromag_info_has_306_channels_of_two_types():
    info = neuromag306_info()
    types = info.get_channel_types()
    assert len(types) == 306 and types.count("mag") == 102 and types.count("grad") == 204
    locs = np.array([ch["loc"][:3] for ch in info["chs"]])
    assert np.all(np.linalg.norm(locs, axis=1) > 0.05)  # every sensor has a position


def test_word_count_mismatch_names_source_and_axes():
    with pytest.raises(DataError, match=r"toy: 11 words but 'responses' has 12 rows"):
        _toy(words=[f"w{i}" for i in range(11)])


def test_wrong_rank_and_nan_are_rejected():
    with pytest.raises(DataError, match="expected 3 axes"):
        _toy(responses=np.zeros((12, 306)))
    bad = np.zeros((12, 306, 20), np.float32)
    bad[3, 7, 2] = np.nan
    with pytest.raises(DataError, match=r"'responses' holds 1 NaN/inf values \(first at index \(3, 7, 2\)\)"):
        _toy(responses=bad)


def test_times_channels_and_categories_must_match():
    with pytest.raises(DataError, match="'times' has 19 entries"):
        _toy(times=np.arange(19) * 25.0)
    with pytest.raises(DataError, match="category 'emotion' has 3 labels; expected 12"):
        _toy(categories={"emotion": [1, 0, 1]})
    with pytest.raises(DataError, match="'sentence' decreases"):
        _toy(sentence=np.array([0, 0, 1, 1, 0, 0, 2, 2, 2, 2, 3, 3]))


def test_subset_sentences_and_summary():
    ds = _toy(categories={"emotion": np.arange(12) % 2 == 0})
    assert ds.sentences()[0] == "w0 w1 w2 w3."
    sub = ds.subset(np.arange(12) >= 4)
    assert sub.n_words == 8 and sub.categories["emotion"].sum() == 4
    np.testing.assert_array_equal(sub.responses, ds.responses[4:])
    assert ds.summary()["n_sentences"] == 3


def test_save_and_load_round_trip(tmp_path):
    ds = _toy(categories={"physical": np.arange(12) % 3 == 0},
              subject_responses=np.zeros((2, 12, 306, 20), np.float32),
              provenance={"seed": 3})
    path = ds.save(tmp_path / "toy")
    back = load_dataset_file(path)
    np.testing.assert_array_equal(back.responses, ds.responses)
    assert back.words == ds.words and back.provenance["seed"] == 3
    assert back.info.get_channel_types() == ds.info.get_channel_types()
    np.testing.assert_allclose(back.info["chs"][5]["loc"], ds.info["chs"][5]["loc"])
    assert back.subject_responses.shape == (2, 12, 306, 20)


def test_corrupted_saved_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="broken.npz: cannot read as a saved WordDataset"):
        load_dataset_file(bad)


def test_open_dataset_rejects_unknown_kind_and_missing_path():
    with pytest.raises(DataError, match="unknown dataset kind 'eeg'"):
        open_dataset("eeg")
    with pytest.raises(DataError, match="needs a path"):
        open_dataset("moth")
