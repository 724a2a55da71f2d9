"""Assembling the word dataset's parts from the rows: stories and sentences of the
presented words, every row's values by participant, word, measure and window, and the
per-word metadata.
"""

from __future__ import annotations

import numpy as np

from ...text import segment_sentences
from ._checks import _plain
from ._columns import _MISSING

def _stories_and_sentences(roles, unique_keys, presented):
    """Story and sentence index of each presented word, and the sentence rule used.

    ``unique_keys`` (n_presented, 3) holds the sorted (story, sentence, position) keys.
    """
    n_presented = len(presented)
    story_index = (np.unique(unique_keys[:, 0], return_inverse=True)[1].ravel()
                   if roles["story"] else np.zeros(n_presented, dtype=np.int64))
    if roles["sentence"]:  # a sentence is a (story, sentence) pair
        sentence_index = np.unique(unique_keys[:, :2], axis=0, return_inverse=True)[1].ravel()
        return story_index, sentence_index, f"column '{roles['sentence']}'"
    sentence_index = np.zeros(n_presented, dtype=np.int64)
    offset = 0
    for s in np.unique(story_index):  # a story's first word starts a sentence
        members = np.flatnonzero(story_index == s)
        segmented = segment_sentences([presented[i] for i in members])
        sentence_index[members] = segmented + offset
        offset += int(segmented.max()) + 1
    rule = "analysis.text.segment_sentences" + (" within each story" if roles["story"] else "")
    return story_index, sentence_index, rule


def _values(roles, keys, labels, times_of_row, word_of_row, values_of_row, n_presented):
    """Every row's values placed by participant, word, measure and window.

    Returns
    -------
    cube : ndarray, shape (n_participants or 1, n_presented, n_measures, n_windows)
        NaN where there is no row or no value.
    seen : ndarray of bool, shape (n_participants or 1, n_presented)
        Where a row exists.
    subject_labels : list
        Participant labels in order (empty without a participant column).
    time_values : ndarray, shape (n_windows,)
    """
    n_rows = len(word_of_row)
    if roles["participant"]:
        codes, subj_of_row = np.unique(keys["participant"], return_inverse=True)
        subj_of_row = subj_of_row.ravel()
        first = np.full(len(codes), n_rows, dtype=np.int64)
        np.minimum.at(first, subj_of_row, np.arange(n_rows))
        subject_labels = [_plain(labels["participant"][r]) for r in first]
    else:
        subj_of_row = np.zeros(n_rows, dtype=np.int64)
        subject_labels = []
    time_values, time_of_row = np.unique(times_of_row, return_inverse=True)
    n_subj = max(1, len(subject_labels))
    cube = np.full((n_subj, n_presented, len(time_values), values_of_row.shape[1]), np.nan)
    cube[subj_of_row, word_of_row, time_of_row.ravel()] = values_of_row
    seen = np.zeros((n_subj, n_presented), dtype=bool)
    seen[subj_of_row, word_of_row] = True
    return cube.transpose(0, 1, 3, 2), seen, subject_labels, time_values


def _maybe_numbers(values):
    """A column for the metadata: numbers where every present value is one, else text."""
    import pandas as pd

    text = pd.Series(values, dtype=object).astype(str).str.strip()
    missing = text.str.lower().isin(_MISSING)
    numbers = pd.to_numeric(text.where(~missing, None), errors="coerce")
    if numbers[~missing].notna().all() and (~missing).any():
        arr = numbers.to_numpy(dtype=float)
        if np.isfinite(arr).all() and np.all(arr == np.round(arr)):
            return arr.astype(np.int64)
        return arr
    return pd.Series(values, dtype=object).to_numpy()


def _metadata(table, roles, labels, pos, word_of_row, first_row, sentence_index, word_excluded,
              cube, seen, in_sentence):
    """Per presented word: key labels, position in sentence, exclusion, other columns.

    ``in_sentence`` is each word's position in its presented sentence (1 = first),
    preceding context-only words counted.
    """
    import pandas as pd

    meta = pd.DataFrame(index=np.arange(len(first_row)))
    for role in ("story", "sentence"):
        if roles[role]:
            meta[roles[role]] = _maybe_numbers(labels[role][first_row])
    if roles["position"]:
        meta[roles["position"]] = _maybe_numbers(pos[first_row])
    meta["word_in_sentence"] = np.asarray(in_sentence).astype(np.int64)
    meta["excluded"] = word_excluded
    used = {c for r, c in roles.items() if isinstance(c, str) and c} | set(roles["measures"])
    others = [c for c in table.columns if c not in used]
    varying = []
    if roles["participant"] or roles["time"]:
        for column in others:
            text = table.frame[column].astype(str)
            first = text.to_numpy(dtype=object)[first_row][word_of_row]
            if np.array_equal(first, text.to_numpy(dtype=object)):
                meta[column] = _maybe_numbers(text.to_numpy(dtype=object)[first_row])
            else:
                varying.append(column)
    else:
        for column in others:
            meta[column] = _maybe_numbers(table.frame[column].to_numpy(dtype=object)[first_row])
    if roles["participant"]:
        meta["n_trials"] = seen.sum(axis=0)  # participants with a row for the word
        meta["n_valid_trials"] = np.isfinite(cube).all(axis=(2, 3)).sum(axis=0)
    else:
        meta[table.unit] = table.lines[first_row]  # where the word is in the file
    kept = [c for c in others if c not in varying]
    return meta, kept, varying
