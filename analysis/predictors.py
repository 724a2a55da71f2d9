"""Word-level nuisance predictors: what a language model must beat (Methods page, real-data protocols).

Reading times and ERP amplitudes depend on properties of a word that need no language
model: its length, how frequent it is, where it stands in its sentence, and whether it
ends the sentence (wrap-up effects). An encoding model of real data is read against a
baseline of these predictors; the language model's contribution is its gain over them.

Frequency is the Zipf value (log10 of occurrences per billion words) from the
``wordfreq`` package (Speer 2022, data bundled in the package, no download), unless the
dataset carries its own frequency column (``Subtlex_log10`` in the Frank et al. 2015
table, ``log_freq`` in the single-trial files), which is then used as published.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._utils import DataError
from .text import sentence_positions

__all__ = ["BASELINE_PREDICTORS", "PRE_WORD_BASELINE_COLUMNS", "word_length", "log_frequency",
           "nuisance_predictors"]

#: The baseline of the Methods page (real-data protocols), in order.
BASELINE_PREDICTORS = ("word length", "log frequency", "position in sentence",
                       "sentence-final")

#: Per-word columns of a dataset's ``metadata`` that hold the EEG potential before word
#: onset (the pre-word baseline, not subtracted): ``baseline_mean`` of the Frank et al.
#: (2015) single trials (:func:`analysis.loaders.frank2015.load_frank2015_trials`). An
#: ERP amplitude measured without baseline correction carries the slow drift of the
#: preceding words, so the baseline model includes it where a loader provides it.
PRE_WORD_BASELINE_COLUMNS = ("baseline_mean",)

_STRIP = ".,;:!?\"'()[]{}-\u2013\u2014\u2018\u2019\u201c\u201d"


def word_length(words):
    """Number of characters of each word without surrounding punctuation.

    Parameters
    ----------
    words : sequence of str

    Returns
    -------
    ndarray of float, shape (n_words,)
    """
    return np.array([len(str(w).strip().strip(_STRIP)) for w in words], dtype=float)


def log_frequency(words, metadata=None, column=None):
    """Log frequency of each word.

    Parameters
    ----------
    words : sequence of str
    metadata : pandas.DataFrame | None
        The dataset's per-word table; its frequency column is used when present.
    column : str | None
        Name of that column (default: the first of ``Subtlex_log10``, ``log_freq``,
        ``log_frequency`` found).

    Returns
    -------
    values : ndarray of float, shape (n_words,)
        Missing values (words absent from the published column) are filled with the
        ``wordfreq`` Zipf value of the word.
    source : str
        Where the values came from.
    """
    from wordfreq import zipf_frequency

    zipf = np.array([zipf_frequency(str(w).strip().strip(_STRIP).lower() or "_", "en")
                     for w in words], dtype=float)
    if metadata is not None:
        candidates = [column] if column else ["Subtlex_log10", "log_freq", "log_frequency"]
        found = next((c for c in candidates if c in metadata.columns), None)
        if column and found is None:
            raise DataError(f"metadata has no frequency column {column!r}; columns are "
                            f"{list(metadata.columns)}.")
        if found is not None:
            values = np.asarray(metadata[found], dtype=float)
            missing = ~np.isfinite(values)
            # the published column is on another scale than Zipf: fill the few missing
            # words by a linear map fitted on the words that have both
            if missing.any() and (~missing).sum() > 2:
                slope, intercept = np.polyfit(zipf[~missing], values[~missing], 1)
                values = np.where(missing, slope * zipf + intercept, values)
            return values, (f"metadata column '{found}'"
                            + (f" ({int(missing.sum())} missing values filled from wordfreq)"
                               if missing.any() else ""))
    return zipf, "wordfreq Zipf frequency (English)"


def nuisance_predictors(dataset):
    """The baseline predictors of every word of a dataset.

    Parameters
    ----------
    dataset : WordDataset

    Returns
    -------
    X : ndarray of float, shape (n_words, 4) or (n_words, 5)
        Columns :data:`BASELINE_PREDICTORS`: characters, log frequency, position of the
        word in its presented sentence (1 = first word shown), 1 for the last word of a
        presented sentence; and a fifth, ``"pre-word baseline"``, when the dataset's
        metadata has a column of :data:`PRE_WORD_BASELINE_COLUMNS` (the mean potential
        before word onset, in the responses' units).
    info : dict
        ``names``, ``frequency_source`` and ``pre_word_baseline`` (the column used, or
        None).

    Raises
    ------
    DataError
        A pre-word baseline column with a missing or non-numeric value (naming the
        dataset, column and first word).

    Notes
    -----
    Position and sentence-final flag come from the presented text
    (:meth:`WordDataset.presented`), so a row whose sentence-initial word has no
    response (Frank et al. 2015) still has position 2.
    """
    st = dataset.presented()
    pos_all = sentence_positions(st.sentence)
    last = np.r_[st.sentence[1:] != st.sentence[:-1], True]
    freq, source = log_frequency(dataset.words, dataset.metadata)
    columns = [word_length(dataset.words), freq, pos_all[st.index], last[st.index].astype(float)]
    names = list(BASELINE_PREDICTORS)
    meta = dataset.metadata
    pre = next((c for c in PRE_WORD_BASELINE_COLUMNS
                if meta is not None and c in meta.columns), None)
    if pre is not None:
        values = pd.to_numeric(meta[pre], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"{dataset.source or 'dataset'}: metadata column {pre!r} (pre-word "
                            f"baseline) has no finite value at word {i} ({dataset.words[i]!r}; "
                            f"{bad.size} such words); expected a number for every word.")
        columns.append(values)
        names.append("pre-word baseline")
    return np.column_stack(columns), {"names": names, "frequency_source": source,
                                      "pre_word_baseline": pre}
