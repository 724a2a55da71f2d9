"""Text rules shared by the loaders and the chapters: sentences, positions, annotations.

* :func:`segment_sentences` -- sentence boundaries of a running text (Methods page, divergent sentences and hypotheses);
* :func:`sentence_positions` -- each word's position in its sentence;
* :func:`read_annotations` -- word-category labels in the paper's authors' CSV format
  (``Word, Emotion, Figurative, Physical``; the Methods page (fine-tuning and the brain re-test));
* :func:`normalise_word` -- the comparison key used to match words across files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ._utils import DataError

__all__ = ["segment_sentences", "sentence_positions", "read_annotations", "normalise_word",
           "ANNOTATION_COLUMNS"]

_CLOSERS = "\"'\u201d\u2019)]}\u00bb"
_OPENERS = "\"'\u201c\u2018([{\u00ab"
_ABBREVIATIONS = frozenset(
    ["mr.", "mrs.", "ms.", "dr.", "st.", "prof.", "etc.", "e.g.", "i.e.", "jr.", "sr.",
     "vs.", "mt."]
)
_MIN_SENTENCE_WORDS = 4  # "more than 3 words" (Methods page, divergent sentences and hypotheses)


def _ends_sentence(word):
    core = word.strip().rstrip(_CLOSERS)
    if not core.endswith((".", "!", "?")):
        return False
    bare = core.lstrip(_OPENERS)
    if bare.lower() in _ABBREVIATIONS:
        return False
    # a single capital initial ("J. K. Rowling") does not end a sentence
    return re.fullmatch(r"[A-Z]\.", bare) is None


def segment_sentences(words):
    """Assign a sentence index to each word of a running text.

    A sentence ends at a word ending with ``.``, ``!`` or ``?`` (possibly followed by
    closing quotes or brackets) once the sentence holds more than 3 words.
    Abbreviations (Mr., Mrs., Ms., Dr., St., Prof., etc., e.g., i.e., Jr., Sr., vs.,
    Mt.) and single capital initials ("J.") never end a sentence. Empty words keep
    their place but do not count towards the 3 words.

    Parameters
    ----------
    words : sequence of str
        The words in presentation order, punctuation kept.

    Returns
    -------
    ndarray of int64, shape (n_words,)
        Sentence index per word, starting at 0 and non-decreasing.
    """
    out = np.zeros(len(words), dtype=np.int64)
    current, count = 0, 0
    for i, word in enumerate(words):
        out[i] = current
        if str(word).strip():
            count += 1
        if count >= _MIN_SENTENCE_WORDS and _ends_sentence(str(word)):
            current, count = current + 1, 0
    return out


def sentence_positions(sentence):
    """Position of each word in its sentence (1 = first row of the sentence).

    Parameters
    ----------
    sentence : ndarray of int, shape (n_words,)
        Sentence index per word, contiguous per sentence.

    Returns
    -------
    ndarray of float, shape (n_words,)
    """
    sentence = np.asarray(sentence)
    if sentence.size == 0:
        return np.zeros(0)
    starts = np.r_[0, np.flatnonzero(np.diff(sentence)) + 1]
    pos = np.arange(len(sentence)) - np.repeat(starts, np.diff(np.r_[starts, len(sentence)]))
    return pos + 1.0


ANNOTATION_COLUMNS = ("Word", "Emotion", "Figurative", "Physical")


def normalise_word(word):
    """Lower-case word without punctuation, symbols or underscores (for matching)."""
    return re.sub(r"[\W_]", "", str(word).lower())


def _read_annotation_file(path, words):
    import pandas as pd

    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found.") from None
    except Exception as err:
        raise DataError(f"{path}: cannot read as CSV ({type(err).__name__}: {err}).") from err
    by_name = {str(c).strip().lower(): c for c in table.columns}
    missing = [c for c in ANNOTATION_COLUMNS if c.lower() not in by_name]
    if missing:
        raise DataError(
            f"{path}: missing columns {missing} (found {list(table.columns)}); expected "
            f"{list(ANNOTATION_COLUMNS)}."
        )
    file_words = list(table[by_name["word"]])
    for i, (a, b) in enumerate(zip(file_words, words)):
        if normalise_word(a) != normalise_word(b):
            raise DataError(
                f"{path}: column 'Word' row {i} (line {i + 2}) is {a!r} but dataset word {i} "
                f"is {b!r}; expected the annotation rows to follow the dataset words."
            )
    if len(file_words) != len(words):
        raise DataError(
            f"{path}: {len(file_words)} rows but the dataset has {len(words)} words; "
            "expected one row per word."
        )
    labels = {}
    for name in ANNOTATION_COLUMNS[1:]:
        col = table[by_name[name.lower()]].str.strip()
        values = pd.to_numeric(col.where(col != "", "0"), errors="coerce").to_numpy()
        bad = np.flatnonzero(~np.isin(values, [0, 1]))
        if bad.size:
            i = int(bad[0])
            raise DataError(
                f"{path}: column '{name}' row {i} (line {i + 2}) is {col.iloc[i]!r}; "
                "expected 0, 1 or blank."
            )
        labels[name.lower()] = values.astype(int)
    return labels


def read_annotations(paths, words, min_agree=None):
    """Read word-category annotations in the authors' CSV format.

    Each file is one annotator, one row per word, with columns ``Word, Emotion,
    Figurative, Physical`` holding 0, 1 or blank (blank = 0).

    Parameters
    ----------
    paths : str | Path | sequence of str or Path
        One CSV per annotator.
    words : sequence of str
        The dataset's words; each file's ``Word`` column must match them row by row
        after removing punctuation and case.
    min_agree : int | None
        Number of annotators that must mark a word for it to be positive; ``None``
        means a strict majority (2 of 3; 1 of 1).

    Returns
    -------
    dict of str to ndarray of bool
        ``{"emotion": ..., "figurative": ..., "physical": ...}``, each (n_words,).

    Raises
    ------
    DataError
        Unreadable file, missing columns, values other than 0/1/blank, row count or
        word mismatch (naming the first mismatching row).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise DataError("read_annotations: no annotation files given.")
    need = len(paths) // 2 + 1 if min_agree is None else int(min_agree)
    if not 1 <= need <= len(paths):
        raise DataError(f"read_annotations: min_agree={min_agree} with {len(paths)} files; "
                        f"expected 1..{len(paths)}.")
    per_file = [_read_annotation_file(p, words) for p in paths]
    return {name.lower(): np.sum([f[name.lower()] for f in per_file], axis=0) >= need
            for name in ANNOTATION_COLUMNS[1:]}
