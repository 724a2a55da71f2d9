"""Untrusted files and text: pickles never run code, data text is escaped on pages (issue 21)."""

import os
import pickle
import shlex

import numpy as np
import pytest

from analysis.data import DataError
from analysis.loaders import load_harry_potter, load_moth
from analysis.loaders._io import _load_npy, _read_pickle
from test_loaders import SFREQ, _write_moth


class _Payload:
    """Pickles as a call to ``os.system`` that creates ``marker`` when unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(self.marker)}",)


def _hp_chapter10(folder, words):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "denoised_HP_chapter2.npy",
            np.random.default_rng(0).standard_normal((len(words), 20, 306)).astype(np.float32))
    np.save(folder / "words_chapter_2.npy", words)  # np.save pickles object arrays
    return folder


def test_payload_runs_under_plain_pickle(tmp_path):
    """Positive control: the payload really runs when unpickled the unsafe way."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


def test_moth_words_pickle_with_payload_is_refused(tmp_path):
    _write_moth(tmp_path)
    marker = tmp_path / "ran"
    with open(tmp_path / "Moth_words.pkl", "wb") as fh:
        pickle.dump({"t1": [_Payload(marker)]}, fh)
    with pytest.raises(DataError, match=r"Moth_words\.pkl: refused to load '(posix|os)\.system'"):
        load_moth(tmp_path, sfreq=SFREQ)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_pickle_payload_refused_at_every_protocol(tmp_path, protocol):
    marker = tmp_path / "ran"
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps([1, _Payload(marker)], protocol=protocol))
    with pytest.raises(DataError, match=r"x\.pkl: refused to load '(posix|os)\.system'"):
        _read_pickle(path)
    assert not marker.exists()


def test_hp_words_npy_with_payload_is_refused(tmp_path):
    marker = tmp_path / "ran"
    words = np.array(["@The", _Payload(marker)] + ["word"] * 28, dtype=object)
    folder = _hp_chapter10(tmp_path / "hp", words)
    with pytest.raises(DataError, match=r"words_chapter_2\.npy: refused to load '(posix|os)\.system'"):
        load_harry_potter(folder, chapter=10, drop_first=0)
    assert not marker.exists()


def test_pickle_renamed_npy_is_not_unpickled(tmp_path):
    """``np.load(allow_pickle=True)`` unpickles any non-.npy file; the loader must not."""
    marker = tmp_path / "ran"
    folder = _hp_chapter10(tmp_path / "hp", np.array(["w"] * 30))
    (folder / "words_chapter_2.npy").write_bytes(pickle.dumps(np.array([_Payload(marker)], dtype=object)))
    with pytest.raises(DataError, match=r"words_chapter_2\.npy: cannot read as a \.npy array"):
        load_harry_potter(folder, chapter=10, drop_first=0)
    assert not marker.exists()


def test_object_array_refused_where_numbers_expected(tmp_path):
    np.save(tmp_path / "denoised_HP_chapter2.npy", np.array([1.0, "x"], dtype=object))
    with pytest.raises(DataError, match=r"denoised_HP_chapter2\.npy: holds a numpy object array"):
        _load_npy(tmp_path / "denoised_HP_chapter2.npy")


@pytest.mark.parametrize("words", [
    np.array(["@The", "boy"] + ["word"] * 28, dtype=object),
    np.array([b"@The", b"boy"] + [b"word"] * 28, dtype=object),
    np.array(["@The", "boy"] + ["word"] * 28),
    np.array([np.str_("@The"), np.str_("boy")] + [np.str_("word")] * 28, dtype=object),
], ids=["str-objects", "bytes-objects", "unicode", "numpy-str-objects"])
def test_hp_words_npy_legitimate_layouts_load(tmp_path, words):
    folder = _hp_chapter10(tmp_path / "hp", words)
    ds = load_harry_potter(folder, chapter=10, drop_first=0)
    assert ds.words[:3] == ["The", "boy", "word"] and ds.n_words == 30


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_moth_pickles_legitimate_layouts_load(tmp_path, protocol):
    meg, onsets, words = _write_moth(tmp_path)
    # what the published pickles hold: dicts of float arrays, word arrays, numpy scalars
    stored = {"Moth_MEG.pkl": {k: v.astype(np.float32) for k, v in meg.items()},
              "Moth_word_onset_point.pkl": {k: np.array(v, dtype=np.int64) for k, v in onsets.items()},
              "Moth_words.pkl": {"t1": np.array(words["t1"]), "t3": [np.str_(w) for w in words["t3"]]},
              "Moth_run_info_test_story_dict.pkl": {"storyA": ("t1", "t2"), "storyB": np.array(["t3"])}}
    for name, obj in stored.items():
        (tmp_path / name).write_bytes(pickle.dumps(obj, protocol=protocol))
    ds = load_moth(tmp_path, sfreq=SFREQ)
    assert ds.words == words["t1"] + words["t3"]
    assert ds.responses.shape == (11, 4, 20)


def test_numpy1_pickles_load(tmp_path):
    """Pickles written by numpy < 2 name ``numpy.core.multiarray``; they still load."""
    obj = {"a": np.arange(4.0), "w": np.array(["x", "yy"]), "s": np.float64(2.5)}
    raw = pickle.dumps(obj, protocol=2)
    assert b"numpy._core.multiarray" in raw
    (tmp_path / "old.pkl").write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    back = _read_pickle(tmp_path / "old.pkl")
    np.testing.assert_array_equal(back["a"], obj["a"])
    assert back["w"].tolist() == ["x", "yy"] and back["s"] == 2.5
