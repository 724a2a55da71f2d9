"""The dataset registry: names, defaults the chapters ask for, records by value."""

import numpy as np
import pytest
from layouts import write_frank

from analysis import datasets as D
from analysis.data import DataError


def test_unknown_name_and_missing_path_are_clear_errors():
    with pytest.raises(DataError, match=r"unknown dataset 'eeg'; expected one of \[.*'frank2015'"):
        D.open_dataset("eeg")
    with pytest.raises(DataError, match="dataset 'moth' needs a path"):
        D.open_dataset("moth", sfreq=1000)  # (required options are checked first)


def test_every_source_declares_what_the_chapters_ask():
    table = D.registry_table()
    assert {"simulated", "harry_potter", "moth", "mne", "bids", "frank2015", "saved"} \
        <= set(table.index)
    frank = D.dataset_spec("frank2015")
    assert frank.context == "sentence" and frank.window is None and not frank.geometry
    assert frank.focus_channels == ("N400",) and frank.cv_groups == "sentence"
    sim = D.dataset_spec("simulated")
    assert sim.window == (300.0, 425.0) and sim.geometry and sim.subjects


def test_record_reopens_the_same_data_and_detects_changes(tmp_path):
    path = write_frank(tmp_path / "all_measures.csv")
    ds = D.open_dataset("frank2015", path, exclude="published")
    rec = D.dataset_record(ds)
    assert rec.name == "frank2015" and rec.options == {"exclude": "published", "n_words": 0}
    back = D.DatasetRecord.from_dict(rec.to_dict()).reopen()
    assert back.words == ds.words and back.n_words == 6
    np.testing.assert_array_equal(back.responses, ds.responses)
    text = path.read_text().replace("7.2", "9.9")  # the file changes under our feet
    path.write_text(text)
    with pytest.raises(DataError, match="differ from those the encoding chapter used"):
        rec.reopen()
    with pytest.raises(DataError, match=r"field\(s\) \['fingerprint'\] missing"):
        D.DatasetRecord.from_dict({k: v for k, v in rec.to_dict().items() if k != "fingerprint"})


def test_n_words_keeps_whole_sentences(tmp_path):
    path = write_frank(tmp_path / "all_measures.csv")
    ds = D.open_dataset("frank2015", path, n_words=5)
    assert ds.n_words == 4 and ds.n_sentences == 1  # the second sentence does not fit
    assert D.dataset_record(ds).options["n_words"] == 5


def test_windows_and_channels_of_interest(tmp_path):
    frank = D.open_dataset("frank2015", write_frank(tmp_path / "a.csv"))
    mask, used = D.window_of_interest(frank)
    assert mask.tolist() == [True] and used is None
    assert D.channels_of_interest(frank).tolist() == [False, False, True, False, False, False]
    assert D.channels_of_interest(frank, ["LAN", "P600"]).sum() == 2
    with pytest.raises(DataError, match=r"channel\(s\) \['Fz'\] not in the data"):
        D.channels_of_interest(frank, ["Fz"])
    with pytest.raises(DataError, match="set the 'window' parameter"):
        D.window_of_interest(frank, (300, 425))
    from analysis.data import WordDataset

    meg = WordDataset(words=list("abcdef"), sentence=np.zeros(6, int),
                      responses=np.zeros((6, 2, 20)), times=np.arange(20) * 25.0,
                      ch_names=["m1", "m2"], provenance={"dataset": "mne"})
    mask, used = D.window_of_interest(meg)
    assert used == (300.0, 425.0) and np.flatnonzero(mask).tolist() == [12, 13, 14, 15, 16, 17]


def test_register_a_new_source(tmp_path):
    from analysis.data import WordDataset

    def load_toy(path, scale=1.0):
        return WordDataset(words=["a", "b", "c."], sentence=[0, 0, 0],
                           responses=scale * np.ones((3, 1, 1)) * [[[1]], [[2]], [[3]]],
                           times=[0.0], ch_names=["rt"])

    D.register_dataset(D.DatasetSpec("toy-test", load_toy, "toy", window=None, needs_path=False))
    try:
        ds = D.open_dataset("toy-test", scale=2.0)
        assert ds.responses[:, 0, 0].tolist() == [2, 4, 6]
        assert D.dataset_record(ds).reopen().responses.sum() == 12
    finally:
        D._REGISTRY.pop("toy-test")


def test_required_loader_options_come_from_each_loaders_signature():
    assert D.required_options("moth") == ["sfreq"]
    assert all(D.required_options(n) == [] for n in ("simulated", "mne", "frank2015", "table",
                                                     "bids"))  # bids: every subject and story
    with pytest.raises(DataError, match=r"'moth' needs the loader option\(s\) \['sfreq'\]"
                                        r".*Sampling rate.*-p dataset_options "
                                        r"'\{stories: \[.a.\], sfreq: 1000\}'"):
        D.open_dataset("moth", ".", stories=["a"])
    D.check_required_options("moth", {"sfreq": 1000})  # complete: no error


def test_a_registered_loaders_required_option_is_checked_before_loading():
    calls = []

    def load_toy(path, gain, scale=1.0):
        """A toy.

        Parameters
        ----------
        gain : float
            Multiplies the responses.
        """
        calls.append(gain)

    D.register_dataset(D.DatasetSpec("toy-required", load_toy, "toy", needs_path=False))
    try:
        with pytest.raises(DataError, match=r"\['gain'\] in dataset_options; gain \(float\): "
                                            r"Multiplies the responses\. For example: -p "
                                            r"dataset_options '\{scale: 2\.0, gain: \.\.\.\}'"):
            D.open_dataset("toy-required", scale=2.0)
        assert calls == []  # the loader never ran
    finally:
        D._REGISTRY.pop("toy-required")


def test_category_table_counts_each_label():
    table = D.category_table({"emotion": np.array([1, 0, 0, 1], bool),
                              "physical": np.array([0, 0, 0, 1], bool)})
    assert table.loc["emotion"].tolist() == [2, 50.0]
    assert table.loc["physical", "share of words (%)"] == 25.0
    assert D.category_table({}).empty
