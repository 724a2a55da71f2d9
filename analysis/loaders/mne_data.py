"""Any MEG/EEG study brought through MNE as word-locked epochs (BIDS studies: :mod:`.bids`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils import DataError, check_finite
from ..data import WordDataset
from ..text import segment_sentences
from ._io import _window_edges

__all__ = ["load_mne_epochs"]


def _read_epochs(path_or_epochs):
    import mne

    if isinstance(path_or_epochs, mne.BaseEpochs):
        return path_or_epochs, repr(path_or_epochs)
    path = Path(path_or_epochs)
    if not path.is_file():
        raise DataError(f"{path}: file not found.")
    try:
        return mne.read_epochs(path, preload=True, verbose="error"), str(path)
    except Exception as err:
        raise DataError(f"{path}: cannot read as MNE epochs ({type(err).__name__}: {err}).") from err


def _metadata_words(meta, source, word_column):
    if meta is None:
        raise DataError(
            f"{source}: epochs have no metadata; expected a metadata table with a "
            f"'{word_column}' column holding the word of each epoch."
        )
    if word_column not in meta.columns:
        raise DataError(
            f"{source}: metadata has no '{word_column}' column (columns: "
            f"{list(meta.columns)}); expected the word of each epoch there."
        )
    col = meta[word_column]
    missing = np.flatnonzero(col.isna().to_numpy())
    if missing.size:
        raise DataError(
            f"{source}: metadata column '{word_column}' is missing at epoch {int(missing[0])}; "
            "expected a word for every epoch."
        )
    return [str(w) for w in col]


def _metadata_sentences(meta, source, column, words):
    import pandas as pd

    if column is None or column not in meta.columns:
        return segment_sentences(words), "segment_sentences"
    codes, _ = pd.factorize(meta[column], use_na_sentinel=False)
    if np.any(np.diff(codes) < 0):
        i = int(np.flatnonzero(np.diff(codes) < 0)[0]) + 1
        raise DataError(
            f"{source}: metadata column '{column}' returns to an earlier sentence at epoch "
            f"{i}; expected the epochs of each sentence to be contiguous, in order."
        )
    return codes.astype(np.int64), f"metadata column '{column}'"


def _epoch_window_start(times, sfreq, tmin, tmax, n_windows, edges, source):
    """Index of the sample at ``tmin``; checks the epochs cover [tmin, tmax)."""
    start = int(np.round((tmin - times[0]) * sfreq))
    if start < 0 or start + edges[-1] > times.size:
        raise DataError(
            f"{source}: epochs span {times[0]:.3f}..{times[-1]:.3f} s but {n_windows} windows "
            f"from {tmin} to {tmax} s are requested; expected epochs covering tmin..tmax "
            "(re-epoch with a wider window or narrow tmin/tmax)."
        )
    return start


def _metadata_groups(meta, source, columns):
    """Contiguous integer labels of grouping columns found in the metadata."""
    import pandas as pd

    groups = {}
    for column in columns:
        if meta is None or column not in meta.columns:
            continue
        codes, _ = pd.factorize(meta[column], use_na_sentinel=False)
        if np.any(np.diff(codes) < 0):
            i = int(np.flatnonzero(np.diff(codes) < 0)[0]) + 1
            raise DataError(f"{source}: metadata column '{column}' returns to an earlier value "
                            f"at epoch {i}; expected each {column} to be one contiguous block.")
        groups[column] = codes.astype(np.int64)
    return groups


def load_mne_epochs(path_or_epochs, window_ms=25.0, tmin=0.0, tmax=0.5, picks="data",
                    word_column="word", sentence_column="sentence",
                    group_columns=("story", "run", "chapter")):
    """Turn word-locked MNE epochs into a :class:`WordDataset`.

    Parameters
    ----------
    path_or_epochs : str | Path | mne.BaseEpochs
        Epochs (or a ``*-epo.fif`` file), one per word in presentation order,
        time-locked to word onset, with a ``metadata`` table.
    window_ms : float
        Width of the windows in ms; the samples of each window are averaged.
    tmin, tmax : float
        Span binned into windows, in seconds relative to word onset;
        ``(tmax - tmin)`` must be a whole number of windows.
    picks : str | list
        Channels kept, as for :meth:`mne.Epochs.pick` (default: data channels).
    word_column : str
        Metadata column holding the word.
    sentence_column : str | None
        Metadata column holding the sentence (numbers or text; the epochs of a
        sentence must be contiguous). If absent, sentences come from
        :func:`segment_sentences`.
    group_columns : sequence of str
        Metadata columns, where present, that label larger units (stories, runs) which
        cross-validation folds must not straddle; each becomes a key of
        :attr:`WordDataset.groups`.

    Returns
    -------
    WordDataset
        ``responses`` (n_epochs, n_channels, n_windows) with window starts
        ``tmin*1000 + k*window_ms`` ms, the picked ``Info``, ``context="running"``.

    Raises
    ------
    DataError
        Unreadable file, no metadata or no word column, epochs not covering
        ``[tmin, tmax)``, a span that is not a whole number of windows, NaN/inf.
    """
    epochs, source = _read_epochs(path_or_epochs)
    words = _metadata_words(epochs.metadata, source, word_column)
    sentence, sentence_from = _metadata_sentences(epochs.metadata, source, sentence_column, words)
    n_float = (tmax - tmin) * 1000.0 / window_ms
    n_windows = int(round(n_float))
    if n_windows < 1 or abs(n_float - n_windows) > 1e-6:
        raise DataError(
            f"{source}: tmin={tmin}, tmax={tmax} s is {n_float:g} windows of {window_ms} ms; "
            "expected a whole, positive number of windows."
        )
    sfreq = float(epochs.info["sfreq"])
    edges = _window_edges(n_windows, window_ms, sfreq, source)
    start = _epoch_window_start(epochs.times, sfreq, tmin, tmax, n_windows, edges, source)
    try:
        picked = epochs.copy()
        if not picked.preload:
            picked.load_data()
        picked.pick(picks)
    except ValueError as err:
        raise DataError(f"{source}: picks={picks!r} selects no valid channel ({err}).") from err
    data = picked.get_data(copy=False)  # (epoch, channel, time)
    check_finite(data, "epochs data", source)
    responses = np.stack([data[:, :, start + lo:start + hi].mean(axis=-1)
                          for lo, hi in zip(edges[:-1], edges[1:])], axis=-1)
    return WordDataset(
        words=words,
        sentence=sentence,
        responses=responses.astype(np.float32),
        times=tmin * 1000.0 + np.arange(n_windows) * window_ms,
        ch_names=picked.ch_names,
        info=picked.info,
        window_ms=float(window_ms),
        context="running",
        groups=_metadata_groups(epochs.metadata, source, group_columns),
        provenance={
            "loader": "load_mne_epochs",
            "source": source,
            "sfreq": sfreq,
            "tmin": tmin,
            "tmax": tmax,
            "picks": picks if isinstance(picks, str) else list(picks),
            "sentences_from": sentence_from,
        },
        source=source if len(source) < 200 else "MNE epochs",
    )
