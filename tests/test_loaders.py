"""Tests of analysis.loaders: each loader reads small files written here in the exact
published layouts, and each kind of bad input raises DataError naming file and problem."""

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io as sio

from analysis.data import DataError, WordDataset
from layouts import (FRANK_COLS, HP_N, frank_rows as _frank_rows, hp_words as _hp_words,
                     labels_cell as _labels_cell, write_frank as _write_frank,
                     write_hp as _write_hp)

from analysis.loaders import (
    load_bids,
    load_frank2015,
    load_harry_potter,
    load_mne_epochs,
    load_moth,
    read_annotations,
    segment_sentences,
)

REAL_FRANK = Path(__file__).resolve().parents[1].parent / "shared/data/frank2015/all_measures.csv"


# --------------------------------------------------------------------------- sentences

def test_segment_sentences_basic_rules():
    words = ["Mr.", "Dursley", "said", "hello.", "Yes.", "He", "left", "the", "room.\"",
             "Then", "Dr.", "Who", "J.", "came", "home!", "Go", "now", "please", "okay?", "x"]
    sent = segment_sentences(words)
    # "Mr." and "Dr." and "J." never end; "Yes." is too short; closing quote allowed
    assert sent.tolist() == [0, 0, 0, 0] + [1] * 5 + [2] * 6 + [3] * 4 + [4]


def test_segment_sentences_empty_words_do_not_count():
    words = ["", "", "a", "b", "c.", "d", "e", "f", "g."]
    assert segment_sentences(words).tolist() == [0] * 9  # only 3 real words before "c."
    assert segment_sentences([]).shape == (0,)


# --------------------------------------------------------------------------- Harry Potter

@pytest.fixture
def hp_dir(tmp_path):
    denoised, subj = _write_hp(tmp_path / "hp")
    denoised[7, 13, 250] = 42.0  # planted: word 7, window 13, channel 250
    np.save(tmp_path / "hp" / "denoised_HP.npy", denoised)
    return tmp_path / "hp", denoised, subj


def test_hp_values_land_in_place(hp_dir):
    root, denoised, _ = hp_dir
    ds = load_harry_potter(root, drop_first=0)
    assert isinstance(ds, WordDataset)
    assert ds.responses.shape == (HP_N, 306, 20)
    assert ds.responses[7, 250, 13] == 42.0
    np.testing.assert_array_equal(ds.responses, np.transpose(denoised, (0, 2, 1)))
    np.testing.assert_array_equal(ds.times, np.arange(20) * 25.0)
    assert ds.info is not None and len(ds.ch_names) == 306
    assert ds.words[:4] == ["Harry", "said", "", "Mr."]  # empty word kept in place


def test_hp_drop_first_and_file_path(hp_dir):
    root, denoised, _ = hp_dir
    ds = load_harry_potter(root / "denoised_HP.npy", drop_first=5)
    full = [w.replace("@", "").replace("+", "").replace("\\", "").replace("^", "").strip()
            for w in _hp_words()]
    assert ds.words == full[5:]
    np.testing.assert_array_equal(ds.responses[2], denoised[7].T)
    assert ds.responses[2, 250, 13] == 42.0
    assert ds.provenance["dropped_first"] == 5
    assert ds.sentence[0] == 0
    assert load_harry_potter(root).n_words == HP_N - 20  # the default drops 20


def test_hp_subjects(hp_dir):
    root, _, subj = hp_dir
    ds = load_harry_potter(root, subjects=["A", "B"], drop_first=0)
    assert ds.subject_responses.shape == (2, HP_N, 306, 20)
    np.testing.assert_allclose(ds.subject_responses[1, 3, 100, 4], subj["B"][3, 100, 4], rtol=1e-6)
    assert load_harry_potter(root, subjects="all", drop_first=0).n_subjects == 2
    with pytest.raises(DataError, match="Z_HP_notDetrended_25ms.mat"):
        load_harry_potter(root, subjects=["Z"])


def test_hp_chapter10(tmp_path):
    rng = np.random.default_rng(1)
    arr = rng.standard_normal((30, 20, 306))
    np.save(tmp_path / "denoised_HP_chapter2.npy", arr)
    np.save(tmp_path / "words_chapter_2.npy", np.array(["@The"] + ["word"] * 29))
    ds = load_harry_potter(tmp_path, chapter=10, drop_first=0)
    assert ds.words[0] == "The" and ds.n_words == 30
    np.testing.assert_allclose(ds.responses[4, 9, 3], arr[4, 3, 9], rtol=1e-6)


def test_hp_swapped_axes(tmp_path):
    _write_hp(tmp_path, denoised=np.zeros((HP_N, 306, 20)), subjects=("A",))
    with pytest.raises(DataError, match=r"denoised_HP\.npy.*axis order \(word, channel, window\)"):
        load_harry_potter(tmp_path)


def test_hp_wrong_rank(tmp_path):
    _write_hp(tmp_path, denoised=np.zeros((HP_N, 20 * 306)), subjects=("A",))
    with pytest.raises(DataError, match=r"denoised_HP\.npy.*expected 3 axes"):
        load_harry_potter(tmp_path)


def test_hp_subject_swapped_axes(hp_dir):
    root, _, _ = hp_dir
    sio.savemat(root / "meg" / "C_HP_notDetrended_25ms.mat", {"data": np.zeros((HP_N, 20, 306))})
    with pytest.raises(DataError, match=r"C_HP_notDetrended_25ms\.mat.*'data'.*\(word, window, channel\)"):
        load_harry_potter(root, subjects=["C"])


def test_hp_word_count_mismatch(tmp_path):
    _write_hp(tmp_path, labels=_hp_words(HP_N - 1), subjects=("A",))
    with pytest.raises(DataError, match=r"A_HP_notDetrended_25ms\.mat: 59 words but .* 60 response rows"):
        load_harry_potter(tmp_path)


def test_hp_extra_labels(tmp_path):
    _write_hp(tmp_path, labels=_hp_words(HP_N + 3), subjects=("A",))
    with pytest.warns(UserWarning, match="keeping the first 60"):
        ds = load_harry_potter(tmp_path, drop_first=0)
    assert ds.provenance["labels_truncated"] == {"from": 63, "to": 60}
    with pytest.raises(DataError, match="63 words but"):
        load_harry_potter(tmp_path, truncate_labels=False)


def test_hp_nan(tmp_path):
    bad = np.zeros((HP_N, 20, 306))
    bad[3, 2, 1] = np.nan
    _write_hp(tmp_path, denoised=bad, subjects=("A",))
    with pytest.raises(DataError, match=r"denoised_HP\.npy.*'responses'.*NaN/inf"):
        load_harry_potter(tmp_path)


def test_hp_missing_labels_and_corrupt_files(tmp_path):
    _write_hp(tmp_path, subjects=("A",))
    sio.savemat(tmp_path / "meg" / "A_HP_notDetrended_25ms.mat", {"data": np.zeros((HP_N, 306, 20))})
    with pytest.raises(DataError, match=r"A_HP_notDetrended_25ms\.mat: no entry 'labels'"):
        load_harry_potter(tmp_path)
    (tmp_path / "meg" / "A_HP_notDetrended_25ms.mat").write_bytes(b"MATLAB garbage" * 20)
    with pytest.raises(DataError, match=r"A_HP_notDetrended_25ms\.mat: cannot read"):
        load_harry_potter(tmp_path)
    (tmp_path / "denoised_HP.npy").write_bytes(b"\x93NUMPY broken")
    with pytest.raises(DataError, match=r"denoised_HP\.npy: cannot read"):
        load_harry_potter(tmp_path)
    with pytest.raises(DataError, match="not found"):
        load_harry_potter(tmp_path / "absent")


# --------------------------------------------------------------------------- annotations

ANN_WORDS = ["Harry", "smiled,", "sadly.", "He", "ran"]


def _write_annotations(folder, rows_per_annotator):
    paths = []
    for k, rows in enumerate(rows_per_annotator):
        path = Path(folder) / f"annotator{k}.csv"
        pd.DataFrame(rows, columns=["Word", "Emotion", "Figurative", "Physical"]).to_csv(path, index=False)
        paths.append(path)
    return paths


def _three_annotators(folder):
    a = [["Harry", "", "", ""], ["smiled", "1", "", "1"], ["sadly", "1", "", ""], ["He", "", "", ""], ["ran", "", "", "1"]]
    b = [["harry", "", "1", ""], ["smiled,", "1", "", ""], ["sadly.", "", "", ""], ["he", "", "", ""], ["ran", "0", "", "1"]]
    c = [["Harry", "", "", ""], ["smiled", "0", "", "1"], ["sadly", "1", "", ""], ["He", "", "", ""], ["ran", "", "", ""]]
    return _write_annotations(folder, [a, b, c])


def test_annotations_majority(tmp_path):
    paths = _three_annotators(tmp_path)
    cats = read_annotations(paths, ANN_WORDS)
    assert cats["emotion"].tolist() == [False, True, True, False, False]
    assert cats["physical"].tolist() == [False, True, False, False, True]
    assert cats["figurative"].tolist() == [False] * 5  # 1 of 3 is not a majority
    assert read_annotations(paths, ANN_WORDS, min_agree=1)["figurative"][0]
    assert read_annotations(paths[0], ANN_WORDS)["physical"].tolist() == [False, True, False, False, True]


def test_annotations_errors(tmp_path):
    paths = _three_annotators(tmp_path)
    bad_word = _write_annotations(tmp_path / "..", [[["Harry", "", "", ""], ["frowned", "", "", ""]] + [["x", "", "", ""]] * 3])
    with pytest.raises(DataError, match=r"annotator0\.csv: column 'Word' row 1 .*'frowned'"):
        read_annotations(bad_word, ANN_WORDS)
    with pytest.raises(DataError, match=r"annotator0\.csv: 5 rows but the dataset has 6 words"):
        read_annotations(paths, ANN_WORDS + ["away"])
    pd.DataFrame({"Word": ANN_WORDS, "Emotion": ["", "2", "", "", ""], "Figurative": "", "Physical": ""}
                 ).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"bad\.csv: column 'Emotion' row 1 .*expected 0, 1 or blank"):
        read_annotations(tmp_path / "bad.csv", ANN_WORDS)
    pd.DataFrame({"Word": ANN_WORDS, "Emotion": ""}).to_csv(tmp_path / "cols.csv", index=False)
    with pytest.raises(DataError, match=r"cols\.csv: missing columns \['Figurative', 'Physical'\]"):
        read_annotations(tmp_path / "cols.csv", ANN_WORDS)
    with pytest.raises(DataError, match="min_agree=4"):
        read_annotations(paths, ANN_WORDS, min_agree=4)


def test_hp_with_annotations(tmp_path):
    _write_hp(tmp_path, subjects=("A",))
    words = _hp_words()
    rows = [[w, "1" if i == 25 else "", "", ""] for i, w in enumerate(words)]
    paths = _write_annotations(tmp_path, [rows, rows, [[w, "", "", ""] for w in words]])
    ds = load_harry_potter(tmp_path, annotations=paths)  # drops 20: word 25 -> 5
    assert np.flatnonzero(ds.categories["emotion"]).tolist() == [5]


# --------------------------------------------------------------------------- Moth

SFREQ = 200.0  # 25 ms = 5 samples; 20 windows = 100 samples
N_CH = 4


def _write_moth(folder, meg=None, onsets=None, words=None, stories=None, seed=0):
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if words is None:
        words = {"t1": ["I", "went", "out", "today.", "It", "rained."],
                 "t3": ["Then", "we", "all", "sang", "loudly."]}
    if onsets is None:
        onsets = {"t1": [10, 40, 75, 110, 150, 190], "t2": [12, 40, 78, 110, 150, 190],
                  "t3": [5, 30, 60, 90, 120]}
    if meg is None:
        meg = {"t1": rng.standard_normal((300, N_CH)), "t2": rng.standard_normal((300, N_CH)) * 3 + 1,
               "t3": rng.standard_normal((260, N_CH))}
    if stories is None:
        stories = {"storyA": ["t1", "t2"], "storyB": ["t3"]}
    for name, obj in [("Moth_MEG.pkl", meg), ("Moth_word_onset_point.pkl", onsets),
                      ("Moth_words.pkl", words), ("Moth_run_info_test_story_dict.pkl", stories)]:
        with open(folder / name, "wb") as fh:
            pickle.dump(obj, fh)
    return meg, onsets, words


def _expected_word_windows(run, onset):
    z = (run - run.mean(0)) / run.std(0)
    return np.array([z[onset + 5 * k: onset + 5 * k + 5].mean(0) for k in range(20)]).T


def test_moth_zscore_repeats_and_windows(tmp_path):
    meg, onsets, words = _write_moth(tmp_path)
    ds = load_moth(tmp_path, sfreq=SFREQ)
    # every window fits: the last word needs samples up to 190 + 100 <= 300
    assert ds.words == words["t1"] + words["t3"]
    assert ds.responses.shape == (11, N_CH, 20)
    for i in range(6):
        want = (_expected_word_windows(meg["t1"], onsets["t1"][i])
                + _expected_word_windows(meg["t2"], onsets["t2"][i])) / 2
        np.testing.assert_allclose(ds.responses[i], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ds.responses[7], _expected_word_windows(meg["t3"], 30), rtol=1e-5, atol=1e-6)
    assert ds.sentence.tolist() == [0] * 4 + [1] * 2 + [2] * 5  # a story starts a sentence
    assert ds.provenance["story_starts"] == [0, 6]
    assert ds.provenance["dropped_words"] == []
    np.testing.assert_array_equal(ds.times, np.arange(20) * 25.0)


def test_moth_each_word_at_its_own_onset(tmp_path):
    meg = {"t1": np.random.default_rng(2).standard_normal((300, N_CH)) * 0.01}
    onsets = {"t1": [10, 40, 75, 110, 150, 190]}
    meg["t1"][75:80, 2] += 50.0  # a burst at word 2's onset, first 25 ms
    _write_moth(tmp_path, meg=meg, onsets=onsets, words={"t1": list("abcdef")}, stories={"s": ["t1"]})
    ds = load_moth(tmp_path, sfreq=SFREQ)
    assert np.argmax(ds.responses[:, 2, 0]) == 2
    assert ds.responses[2, 2, 0] > 5 and abs(ds.responses[1, 2, 0]) < 1 and abs(ds.responses[3, 2, 0]) < 1


def test_moth_edge_drop_and_error(tmp_path):
    _write_moth(tmp_path, onsets={"t1": [10, 40, 75, 110, 150, 250], "t2": [12, 40, 78, 110, 150, 190],
                                  "t3": [5, 30, 60, 90, 200]})
    ds = load_moth(tmp_path, sfreq=SFREQ)
    assert ds.provenance["dropped_words"] == [["storyA", 5, "rained."], ["storyB", 4, "loudly."]]
    assert ds.n_words == 9 and "rained." not in ds.words
    with pytest.raises(DataError, match=r"Moth_MEG\.pkl: trial 't1' word 5 \('rained.'\) needs samples up to 350"):
        load_moth(tmp_path, sfreq=SFREQ, edge="error")


def test_moth_bad_inputs(tmp_path):
    _write_moth(tmp_path / "a", onsets={"t1": [10, 40], "t2": [12, 40], "t3": [5, 30, 60, 90, 120]})
    with pytest.raises(DataError, match=r"Moth_word_onset_point\.pkl: trial 't1' has 2 onsets for 6 words"):
        load_moth(tmp_path / "a", sfreq=SFREQ)
    rng = np.random.default_rng(0)
    _write_moth(tmp_path / "b", meg={"t1": rng.standard_normal((N_CH, 300)), "t2": rng.standard_normal((N_CH, 300)),
                                     "t3": rng.standard_normal((N_CH, 260))})
    with pytest.raises(DataError, match=r"Moth_MEG\.pkl: trial 't1' has shape \(4, 300\), which looks like \(channels, samples\)"):
        load_moth(tmp_path / "b", sfreq=SFREQ)
    meg = {k: rng.standard_normal((300, N_CH)) for k in ("t1", "t2", "t3")}
    meg["t2"][5, 1] = np.inf
    _write_moth(tmp_path / "c", meg=meg)
    with pytest.raises(DataError, match=r"Moth_MEG\.pkl.*trial 't2'.*NaN/inf"):
        load_moth(tmp_path / "c", sfreq=SFREQ)
    _write_moth(tmp_path / "d", stories={"storyA": ["t1", "t9"]})
    with pytest.raises(DataError, match=r"Moth_MEG\.pkl: no recording for trial 't9'"):
        load_moth(tmp_path / "d", sfreq=SFREQ)
    _write_moth(tmp_path / "e", words={"t1": list("abcdef"), "t2": list("abcdeX"), "t3": list("abcde")})
    with pytest.raises(DataError, match=r"Moth_words\.pkl: trial 't2' has different words"):
        load_moth(tmp_path / "e", sfreq=SFREQ)
    (tmp_path / "e" / "Moth_MEG.pkl").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match=r"Moth_MEG\.pkl: cannot read as a pickle"):
        load_moth(tmp_path / "e", sfreq=SFREQ)
    _write_moth(tmp_path / "f")
    (tmp_path / "f" / "Moth_words.pkl").unlink()
    with pytest.raises(DataError, match=r"Moth_words\.pkl: file not found"):
        load_moth(tmp_path / "f", sfreq=SFREQ)


# --------------------------------------------------------------------------- MNE epochs

def _epochs(n=8, metadata=True, seed=0):
    import mne

    rng = np.random.default_rng(seed)
    info = mne.create_info(["MEG0111", "MEG0112", "STI101"], 1000.0, ["mag", "grad", "stim"])
    data = rng.standard_normal((n, 3, 600))  # -0.1 .. 0.499 s
    meta = None
    if metadata:
        meta = pd.DataFrame({"word": [f"w{i}." if i % 4 == 3 else f"w{i}" for i in range(n)],
                             "sentence": np.repeat(np.arange(n // 4), 4)})
    return mne.EpochsArray(data, info, tmin=-0.1, metadata=meta, verbose="error"), data


def test_epochs_binning_and_picks(tmp_path):
    epochs, data = _epochs()
    path = tmp_path / "words-epo.fif"
    epochs.save(path, verbose="error")
    ds = load_mne_epochs(path)
    assert ds.responses.shape == (8, 2, 20) and ds.ch_names == ["MEG0111", "MEG0112"]
    assert ds.info["ch_names"] == ds.ch_names
    for i, c, w in [(0, 0, 0), (5, 1, 13), (7, 1, 19)]:
        start = 100 + 25 * w
        np.testing.assert_allclose(ds.responses[i, c, w], data[i, c, start:start + 25].mean(), rtol=1e-5)
    assert ds.sentence.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert ds.words[3] == "w3."
    ds2 = load_mne_epochs(epochs, window_ms=50, tmin=-0.1, tmax=0.3, picks=["MEG0112"])
    np.testing.assert_array_equal(ds2.times, [-100, -50, 0, 50, 100, 150, 200, 250])
    np.testing.assert_allclose(ds2.responses[2, 0, 3], data[2, 1, 150:200].mean(), rtol=1e-5)


def test_epochs_without_sentence_column_are_segmented():
    epochs, _ = _epochs()
    epochs.metadata = epochs.metadata.drop(columns="sentence")
    ds = load_mne_epochs(epochs)
    assert ds.sentence.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert ds.provenance["sentences_from"] == "segment_sentences"


def test_epochs_errors(tmp_path):
    epochs, _ = _epochs(metadata=False)
    with pytest.raises(DataError, match="no metadata"):
        load_mne_epochs(epochs)
    epochs.metadata = pd.DataFrame({"token": ["a"] * 8})
    with pytest.raises(DataError, match=r"metadata has no 'word' column"):
        load_mne_epochs(epochs)
    epochs, _ = _epochs()
    with pytest.raises(DataError, match=r"epochs span -0.100\.\.0.499 s .* from 0.0 to 0.6"):
        load_mne_epochs(epochs, tmax=0.6)
    with pytest.raises(DataError, match=r"epochs span"):
        load_mne_epochs(epochs, tmin=-0.2, tmax=0.3)
    with pytest.raises(DataError, match="whole, positive number of windows"):
        load_mne_epochs(epochs, tmax=0.51)
    meta = epochs.metadata.copy()
    meta["sentence"] = [0, 0, 1, 1, 0, 0, 2, 2]
    epochs.metadata = meta
    with pytest.raises(DataError, match="'sentence' returns to an earlier sentence at epoch 4"):
        load_mne_epochs(epochs)
    bad = tmp_path / "broken-epo.fif"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match=r"broken-epo\.fif: cannot read as MNE epochs"):
        load_mne_epochs(bad)


# --------------------------------------------------------------------------- BIDS

BIDS_WORDS = ["The", "cat", "sat", "down.", "It", "slept"]
BIDS_ONSETS = [0.2, 0.9, 1.6, 2.3, 3.0, 3.8]  # last word's 500 ms run past the 4 s recording


def _bids_raw(seed=0):
    import mne

    rng = np.random.default_rng(seed)
    info = mne.create_info(["MEG0111", "MEG0121", "MEG0131"], 200.0, "mag")
    data = rng.standard_normal((3, 800)) * 1e-13
    data[1, 180 + 10: 180 + 15] = 5e-12  # word 1 (0.9 s = sample 180), window 2 (50-75 ms)
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_meas_date(1_600_000_000)
    raw.info["line_freq"] = 50
    return raw, data


def _write_bids(root, with_column=False):
    import mne
    import mne_bids

    raw, data = _bids_raw()
    bids_path = mne_bids.BIDSPath(subject="01", task="reading", datatype="meg", root=root)
    kwargs = {}
    if with_column:
        events = np.column_stack([np.rint(np.array(BIDS_ONSETS) * 200).astype(int),
                                  np.zeros(6, int), np.ones(6, int)])
        kwargs = dict(events=events, event_id={"word": 1},
                      event_metadata=pd.DataFrame({"word": BIDS_WORDS}),
                      extra_columns_descriptions={"word": "the word shown"})
    else:
        raw.set_annotations(mne.Annotations(BIDS_ONSETS + [1.0], [0.0] * 6 + [0.5],
                                            BIDS_WORDS + ["BAD_blink"], orig_time=raw.info["meas_date"]))
    mne_bids.write_raw_bids(raw, bids_path, allow_preload=True, format="FIF", overwrite=True,
                            verbose="error", **kwargs)
    return data


@pytest.mark.parametrize("with_column", [False, True])
def test_bids_words_and_values(tmp_path, with_column):
    data = _write_bids(tmp_path, with_column)
    ds = load_bids(tmp_path, subject="01", task="reading", word_column="word" if with_column else None)
    assert ds.words == BIDS_WORDS[:5]
    assert ds.provenance["dropped_words"] == [[5, "slept"]]
    assert ds.responses.shape == (5, 3, 20)
    np.testing.assert_allclose(ds.responses[1, 1, 2], data[1, 190:195].mean(), rtol=1e-4)
    assert np.argmax(np.abs(ds.responses[:, 1, 2])) == 1
    assert ds.sentence.tolist() == [0, 0, 0, 0, 1]


def test_bids_errors(tmp_path):
    _write_bids(tmp_path)
    with pytest.raises(DataError, match=r"no word events found in column 'trial_type' \(values after 'word/'\)"):
        load_bids(tmp_path, subject="01", task="reading", description_prefix="word/")
    with pytest.raises(DataError, match=r"events\.tsv: no 'word' column"):
        load_bids(tmp_path, subject="01", task="reading", word_column="word")
    with pytest.raises(DataError, match=r"no meg/eeg recording matches .*'02'.*the dataset has "
                                        r"\{'subject': \['01'\]"):
        load_bids(tmp_path, subject="02", task="reading")


# --------------------------------------------------------------------------- Frank 2015

def test_frank_synthetic_layout(tmp_path):
    path = _write_frank(tmp_path / "all_measures.csv")
    ds = load_frank2015(tmp_path)  # a folder is accepted
    table = ds.metadata
    assert ds.words == ["lost", "control", "and", "laughed.", "of", "us", "came", "home."]
    assert ds.sentence.tolist() == [0] * 4 + [1] * 4
    assert ds.responses.shape == (8, 6, 1) and ds.ch_names == ["ELAN", "LAN", "N400", "EPNP", "P600", "PNP"]
    np.testing.assert_allclose(ds.responses[5, 2, 0], 7 + 0.2 + 2)  # "us": sent 7, pos 2, N400
    assert ds.context == "sentence" and ds.info is None
    assert ds.provenance["sentence_initial_words"] == ["Anne", "None"]  # "None" stays a word
    assert ds.presented().words == "Anne lost control and laughed. None of us came home.".split()
    assert ds.presented().index.tolist() == [1, 2, 3, 4, 6, 7, 8, 9]
    assert table["item"].iloc[4] == "None" and table["word"].tolist() == ds.words
    assert table["published_exclusion"].tolist() == [False] * 3 + [True] + [False] * 3 + [True]
    assert table["cloze_p_smoothed"].dtype == float and table["Subtlex_log10"].isna().all()
    assert load_frank2015(path).n_words == 8


def test_frank_path_resolution(tmp_path, monkeypatch):
    path = _write_frank(tmp_path / "frank.csv")
    monkeypatch.setenv("FRANK2015_PATH", str(path))
    assert load_frank2015().n_words == 8
    with pytest.raises(DataError, match=r"nope\.csv: file not found.*prediction-resource"):
        load_frank2015(tmp_path / "nope.csv")


def test_frank_bad_inputs(tmp_path):
    rows = _frank_rows()
    rows[2][8] = "abc"  # N400 column
    _write_frank(tmp_path / "a.csv", rows)
    with pytest.raises(DataError, match=r"a\.csv: column 'N400' row 5 \(line 7, word 'came'\) is 'abc'; expected a number"):
        load_frank2015(tmp_path / "a.csv")
    rows = _frank_rows()
    rows[0][9] = "inf"
    _write_frank(tmp_path / "b.csv", rows)
    with pytest.raises(DataError, match=r"b\.csv.*'ERP components'.*NaN/inf"):
        load_frank2015(tmp_path / "b.csv")
    _write_frank(tmp_path / "c.csv", [r[:8] + r[9:] for r in _frank_rows()],
                 [c for c in FRANK_COLS if c != "N400"])
    with pytest.raises(DataError, match=r"c\.csv: missing columns \['N400'\]"):
        load_frank2015(tmp_path / "c.csv")
    rows = _frank_rows()
    rows[1][3] = 1
    _write_frank(tmp_path / "d.csv", rows)
    with pytest.raises(DataError, match=r"d\.csv: row \d+ \(line \d+\) repeats sent_id 7 and context_length 1"):
        load_frank2015(tmp_path / "d.csv")


@pytest.mark.skipif(not REAL_FRANK.is_file(), reason="Frank et al. (2015) data not available")
def test_frank_real_file():
    ds = load_frank2015(REAL_FRANK)
    table = ds.metadata
    # as the data README says: 1,726 words in 205 sentences (sentence-initial words absent)
    assert ds.n_words == 1726
    assert len(np.unique(ds.sentence)) == 205
    assert ds.responses.shape == (1726, 6, 1)
    assert np.isfinite(ds.responses).all()
    assert ds.words[:4] == ["lost", "control", "and", "laughed."]
    assert ds.provenance["sentence_initial_words"][0] == "Anne"
    assert ds.provenance["sentence_initial_words"][ds.provenance["sent_ids"].index(74)] == "None"
    assert table["item"].notna().all()
    # each sentence's words follow its text after the first word
    for s, text in zip(np.unique(ds.sentence)[:20], table.groupby("sent_id", sort=True)["sentence"].first()):
        assert [w for w, k in zip(ds.words, ds.sentence) if k == s] == text.split()[1:]
    assert ds.presented().n_presented == 1931  # every sentence with its first word
    # de Varda et al. (2023): words with '.', ',' or "'" are left out -> 1,487 words
    kept = load_frank2015(REAL_FRANK, exclude="published")
    assert kept.n_words == 1487 and kept.presented().n_presented == 1931


def test_loaded_datasets_save_and_reload(tmp_path):
    from analysis.data import load_dataset_file

    _write_moth(tmp_path / "moth")
    _write_frank(tmp_path / "all_measures.csv")
    epochs, _ = _epochs()
    for i, ds in enumerate([load_moth(tmp_path / "moth", sfreq=SFREQ), load_frank2015(tmp_path),
                            load_mne_epochs(epochs)]):
        back = load_dataset_file(ds.save(tmp_path / f"ds{i}.npz"))
        np.testing.assert_array_equal(back.responses, ds.responses)
        assert back.words == ds.words and back.provenance["loader"] == ds.provenance["loader"]


def test_frank_word_must_match_its_sentence(tmp_path):
    rows = _frank_rows()
    rows[1][1] = "misplaced"  # the word at context_length 2 of "None of us came home."
    with pytest.raises(DataError, match=r"has word 'misplaced' but its sentence holds 'us'"):
        load_frank2015(_write_frank(tmp_path / "all_measures.csv", rows))
