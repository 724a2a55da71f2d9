"""Any MEG/EEG study brought through MNE: word-locked epochs and BIDS recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils import DataError, check_finite
from ..data import WordDataset
from ..text import segment_sentences
from ._io import _window_edges

__all__ = ["load_mne_epochs", "load_bids"]


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


_NON_WORD_PREFIXES = ("BAD", "EDGE", "bad", "edge")
_NON_WORD_DESCRIPTIONS = frozenset(["boundary", "n/a"])


def _bids_word_events_from_annotations(raw, prefix):
    import mne

    descriptions = []
    for d in raw.annotations.description:
        if prefix is not None:
            if d.startswith(prefix):
                descriptions.append(d)
        elif not d.startswith(_NON_WORD_PREFIXES) and d not in _NON_WORD_DESCRIPTIONS:
            descriptions.append(d)
    event_id = {d: i + 1 for i, d in enumerate(dict.fromkeys(descriptions))}
    if not event_id:
        return np.zeros((0, 3), dtype=int), []
    events, _ = mne.events_from_annotations(raw, event_id=event_id, verbose="error")
    names = {v: k for k, v in event_id.items()}
    words = [names[e][len(prefix):] if prefix else names[e] for e in events[:, 2]]
    return events, words


def _bids_word_events_from_tsv(raw, events_tsv, column):
    import pandas as pd

    try:
        table = pd.read_csv(events_tsv, sep="\t", keep_default_na=False, dtype=str)
    except FileNotFoundError:
        raise DataError(f"{events_tsv}: file not found.") from None
    except Exception as err:
        raise DataError(f"{events_tsv}: cannot read as a BIDS events table ({err}).") from err
    for col in ("onset", column):
        if col not in table.columns:
            raise DataError(
                f"{events_tsv}: no '{col}' column (columns: {list(table.columns)}); "
                f"expected word events with 'onset' and '{column}'."
            )
    table = table[~table[column].isin(["", "n/a"])]
    onsets = pd.to_numeric(table["onset"], errors="coerce").to_numpy()
    if np.isnan(onsets).any():
        row = int(table.index[np.flatnonzero(np.isnan(onsets))[0]])
        raise DataError(f"{events_tsv}: column 'onset' row {row} is not a number.")
    # BIDS onsets count from the first sample of the recording
    samples = raw.first_samp + np.rint(onsets * raw.info["sfreq"]).astype(int)
    events = np.column_stack([samples, np.zeros_like(samples), np.ones_like(samples)])
    return events, list(table[column])


def load_bids(bids_root, subject, task, session=None, run=None, datatype="meg",
              word_column=None, description_prefix=None, window_ms=25.0, tmin=0.0,
              tmax=0.5, picks="data"):
    """Load one BIDS recording with word events and bin it with :func:`load_mne_epochs`.

    The recording is read with :func:`mne_bids.read_raw_bids`, epoched at each word
    onset (no filtering, no baseline correction) and binned into windows.

    Parameters
    ----------
    bids_root : str | Path
        Root of the BIDS dataset.
    subject, task : str
        BIDS entities of the recording.
    session, run : str | None
        Optional BIDS entities.
    datatype : str
        ``"meg"`` or ``"eeg"``.
    word_column : str | None
        Column of ``*_events.tsv`` holding the word (rows where it is empty or
        ``n/a`` are skipped). ``None`` takes the words from the annotation
        descriptions (the ``trial_type`` column), skipping ``BAD*``/``EDGE*``/
        ``boundary`` annotations.
    description_prefix : str | None
        With ``word_column=None``: only annotations whose description starts with
        this prefix are words, and the word is the rest (e.g. ``"word/"``).
    window_ms, tmin, tmax, picks
        As in :func:`load_mne_epochs`.

    Returns
    -------
    WordDataset
        Words whose epoch runs past the recording are dropped by MNE and listed in
        ``provenance["dropped_words"]`` (event index, word).

    Raises
    ------
    DataError
        Unreadable dataset, no word events, missing events columns, and the errors
        of :func:`load_mne_epochs`.
    """
    import mne
    import mne_bids
    import pandas as pd

    bids_path = mne_bids.BIDSPath(root=bids_root, subject=subject, task=task, session=session,
                                  run=run, datatype=datatype)
    try:
        raw = mne_bids.read_raw_bids(bids_path, verbose="error")
    except Exception as err:
        raise DataError(f"{bids_path}: cannot read the BIDS recording ({type(err).__name__}: {err}).") from err
    if word_column is None:
        events, words = _bids_word_events_from_annotations(raw, description_prefix)
        words_from = "annotation descriptions"
    else:
        events_tsv = bids_path.copy().update(suffix="events", extension=".tsv").fpath
        events, words = _bids_word_events_from_tsv(raw, events_tsv, word_column)
        words_from = f"events.tsv column '{word_column}'"
    if not words:
        raise DataError(f"{bids_path}: no word events found in {words_from}.")
    order = np.argsort(events[:, 0], kind="stable")
    events, words = events[order], [words[i] for i in order]
    events[:, 2] = 1
    try:
        epochs = mne.Epochs(raw, events, event_id={"word": 1}, tmin=tmin, tmax=tmax, baseline=None,
                            metadata=pd.DataFrame({"word": words}), preload=True,
                            reject_by_annotation=False, verbose="error")
    except Exception as err:
        raise DataError(f"{bids_path}: cannot epoch the word events ({type(err).__name__}: {err}).") from err
    kept = set(epochs.selection.tolist())
    dropped = [[i, w] for i, w in enumerate(words) if i not in kept]
    dataset = load_mne_epochs(epochs, window_ms=window_ms, tmin=tmin, tmax=tmax, picks=picks)
    dataset.provenance.update({
        "loader": "load_bids",
        "bids_path": str(bids_path.fpath),
        "words_from": words_from,
        "dropped_words": dropped,
    })
    dataset.source = f"BIDS {bids_path.basename}"
    return dataset
