"""The WordDataset container: validation, views and its on-disk format."""

import numpy as np
import pytest

import pandas as pd

from analysis.data import DataError, Stimulus, WordDataset, load_dataset_file, neuromag306_info


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
    with pytest.raises(DataError, match=r"'responses' holds 1 NaN/inf value\(s\) \(first at index \(3, 7, 2\): "
                       r"word 3 \('w3\.'\), channel 7, window 2\)"):
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


def _small(n=12, **kw):
    rng = np.random.default_rng(1)
    args = dict(words=[f"w{i}." if i % 4 == 3 else f"w{i}" for i in range(n)],
                sentence=np.repeat(np.arange(n // 4), 4),
                responses=rng.standard_normal((n, 2, 3)).astype(np.float32),
                times=np.arange(3) * 25.0, ch_names=["a", "b"], source="small")
    args.update(kw)
    return WordDataset(**args)


def test_subset_keeps_the_presented_text_as_context():
    ds = _small(groups={"story": np.repeat([0, 1], 6)},
                metadata=pd.DataFrame({"freq": np.arange(12)}))
    sub = ds.subset(ds.sentence != 1, note="drop the middle sentence")
    assert sub.n_words == 8 and sub.words == ds.words[:4] + ds.words[8:]
    st = sub.presented()
    assert st.words == ds.words and st.index.tolist() == [0, 1, 2, 3, 8, 9, 10, 11]
    assert sub.metadata["freq"].tolist() == [0, 1, 2, 3, 8, 9, 10, 11]
    assert sub.groups["story"].tolist() == [0] * 4 + [1] * 4
    assert "drop the middle sentence" in sub.provenance["subset"][0]
    # a subset of a subset still points into the original text
    subsub = sub.subset(np.arange(8) >= 4)
    assert subsub.presented().index.tolist() == [8, 9, 10, 11]


def test_first_sentences_cuts_the_text_after_the_last_kept_word():
    ds = _small()
    head = ds.first_sentences(6)  # sentence 1 does not fit whole: only sentence 0 stays
    assert head.n_words == 4 and head.stimulus is None
    assert ds.first_sentences(0) is ds and ds.first_sentences(99) is ds
    sub = ds.subset(np.arange(12) % 4 != 0)  # the first word of each sentence is context only
    cut = sub.first_sentences(6)
    assert cut.words == ["w1", "w2", "w3.", "w5", "w6", "w7."]
    assert cut.presented().words == ds.words[:8]  # ends after the last kept word


def test_stimulus_must_match_the_rows():
    st = Stimulus(["A", "b", "c."], np.zeros(3, int), np.array([1, 2]))
    _small(n=4, words=["x", "y", "z", "q."], sentence=np.zeros(4, int))  # no stimulus: fine
    ds = WordDataset(words=["b", "c."], sentence=[0, 0], responses=np.zeros((2, 1, 1)),
                     times=[0.0], ch_names=["c"], stimulus=st, source="s")
    assert ds.presented().words == ["A", "b", "c."]
    with pytest.raises(DataError, match=r"s: word 0 is 'x' but the stimulus word it points to is 'b'"):
        WordDataset(words=["x", "c."], sentence=[0, 0], responses=np.zeros((2, 1, 1)),
                    times=[0.0], ch_names=["c"], stimulus=st, source="s")
    with pytest.raises(DataError, match="increasing positions"):
        Stimulus(["a", "b"], np.zeros(2, int), np.array([1, 0]))


def test_groups_must_be_contiguous_and_missing_subject_trials_are_allowed():
    with pytest.raises(DataError, match="group 'story' decreases"):
        _small(groups={"story": np.r_[np.zeros(6), np.ones(3), np.zeros(3)]})
    with pytest.raises(DataError, match="no grouping 'run'"):
        _small().group_labels("run")
    sub = np.random.default_rng(0).standard_normal((3, 12, 2, 3))
    sub[1, 4, 0, 2] = np.nan  # a rejected trial
    ds = _small(subject_responses=sub)
    assert np.isnan(ds.subject_responses).sum() == 1
    sub[0, 0, 0, 0] = np.inf
    with pytest.raises(DataError, match="subject_responses"):
        _small(subject_responses=sub)


def test_save_and_load_keep_stimulus_groups_and_metadata(tmp_path):
    ds = _small(groups={"story": np.repeat([0, 1], 6)},
                metadata=pd.DataFrame({"freq": np.arange(12.0), "tag": list("abcdefghijkl")}))
    sub = ds.subset(np.arange(12) % 4 != 0)
    back = load_dataset_file(sub.save(tmp_path / "s.npz"))
    assert back.presented().words == ds.words and back.presented().index.tolist() == \
        sub.presented().index.tolist()
    assert back.groups["story"].tolist() == sub.groups["story"].tolist()
    assert back.metadata["tag"].tolist() == sub.metadata["tag"].tolist()
