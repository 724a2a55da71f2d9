"""The Moth MEG recordings (one listener, continuous speech), from the published pickles."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .._utils import DataError, check_finite
from ..data import WordDataset
from ..text import segment_sentences
from ._io import _read_pickle, _window_edges, _window_means

__all__ = ["load_moth", "MOTH_FILES"]


MOTH_FILES = {
    "meg": "Moth_MEG.pkl",
    "onsets": "Moth_word_onset_point.pkl",
    "words": "Moth_words.pkl",
    "stories": "Moth_run_info_test_story_dict.pkl",
}


def _as_mapping(obj, path, what):
    if not hasattr(obj, "keys") or not hasattr(obj, "__getitem__"):
        raise DataError(f"{path}: holds a {type(obj).__name__}; expected a dict {what}.")
    return obj


def _moth_run(meg, path, trial, n_channels):
    if trial not in meg:
        raise DataError(f"{path}: no recording for trial {trial!r}.")
    run = np.asarray(meg[trial], dtype=np.float64)
    if run.ndim != 2:
        raise DataError(
            f"{path}: trial {trial!r} has shape {run.shape}; expected 2 axes (samples, channels)."
        )
    if run.shape[1] > run.shape[0]:
        raise DataError(
            f"{path}: trial {trial!r} has shape {run.shape}, which looks like "
            "(channels, samples); expected (samples, channels) with more samples than channels."
        )
    if n_channels is not None and run.shape[1] != n_channels:
        raise DataError(
            f"{path}: trial {trial!r} has {run.shape[1]} channels; expected {n_channels} "
            "like the other trials."
        )
    check_finite(run, f"trial {trial!r}", str(path))
    return run


def _zscore_run(run, path, trial):
    std = run.std(axis=0)
    flat = np.flatnonzero(std == 0)
    if flat.size:
        raise DataError(
            f"{path}: trial {trial!r} channel {int(flat[0])} is constant; cannot z-score it "
            "over time (expected a varying signal on every channel)."
        )
    return (run - run.mean(axis=0)) / std


def _moth_words_and_onsets(words_map, onsets_map, trials, folder):
    """Words and onsets per trial; trials missing from the pickles use the story's first."""
    wpath, opath = folder / MOTH_FILES["words"], folder / MOTH_FILES["onsets"]
    ref = next((t for t in trials if t in words_map and t in onsets_map), None)
    if ref is None:
        raise DataError(
            f"{wpath} / {opath}: none of the trials {list(trials)} has both words and onsets."
        )
    words = [w.decode() if isinstance(w, bytes) else str(w) for w in words_map[ref]]
    out = {}
    for t in trials:
        if t in words_map:
            other = [w.decode() if isinstance(w, bytes) else str(w) for w in words_map[t]]
            if other != words:
                raise DataError(
                    f"{wpath}: trial {t!r} has different words from trial {ref!r}; "
                    "expected repeats of a story to hold the same words."
                )
        onsets = np.asarray(onsets_map.get(t, onsets_map[ref]), dtype=float)
        if onsets.ndim != 1 or onsets.size != len(words):
            raise DataError(
                f"{opath}: trial {t!r} has {onsets.size} onsets for {len(words)} words in "
                f"{wpath}; expected one onset sample per word."
            )
        if not np.all(np.isfinite(onsets)) or np.any(np.diff(onsets) < 0):
            raise DataError(
                f"{opath}: trial {t!r} onsets are not finite and non-decreasing; expected "
                "one sample index per word in presentation order."
            )
        out[t] = np.rint(onsets).astype(int)
    return words, out


def _moth_story(loaded, folder, story, edges, edge, n_channels):
    """Word windows of one story, averaged over its repeats.

    Returns the kept words, their windows (n_words, channels, n_windows), the
    dropped words as [story, position, word] and the number of channels.
    """
    meg_path = folder / MOTH_FILES["meg"]
    trials = loaded["stories"][story]
    trials = [trials] if np.ndim(trials) == 0 else list(trials)
    words, onsets = _moth_words_and_onsets(loaded["words"], loaded["onsets"], trials, folder)
    keep = np.ones(len(words), dtype=bool)
    runs = {}
    for t in trials:
        run = _moth_run(loaded["meg"], meg_path, t, n_channels)
        n_channels = run.shape[1]
        if onsets[t].size and (onsets[t][0] < 0 or onsets[t][-1] >= run.shape[0]):
            raise DataError(
                f"{folder / MOTH_FILES['onsets']}: trial {t!r} onsets span "
                f"{onsets[t][0]}..{onsets[t][-1]} but the recording has {run.shape[0]} "
                "samples; expected onsets inside the recording (check sfreq and trial keys)."
            )
        past = onsets[t] + edges[-1] > run.shape[0]
        if past.any() and edge == "error":
            i = int(np.flatnonzero(past)[0])
            raise DataError(
                f"{meg_path}: trial {t!r} word {i} ({words[i]!r}) needs samples up to "
                f"{onsets[t][i] + edges[-1]} but the recording has {run.shape[0]}; "
                "use edge='drop' to leave such words out."
            )
        keep &= ~past
        runs[t] = _zscore_run(run, meg_path, t)
    idx = np.flatnonzero(keep)
    windows = np.mean([_window_means(runs[t], onsets[t][idx], edges) for t in trials], axis=0)
    dropped = [[str(story), int(i), words[i]] for i in np.flatnonzero(~keep)]
    return [words[i] for i in idx], windows, dropped, n_channels


def load_moth(folder, sfreq, stories=None, n_windows=20, window_ms=25.0, edge="drop",
              info=None):
    """Load the Moth MEG recordings (one listener, continuous speech) from the pickles.

    Each run (trial) is z-scored over time per channel; each word gets
    ``n_windows`` windows of ``window_ms`` starting at its own onset sample (no shift
    by one word, unlike the public code); the windows of the repeats of a story are
    averaged; stories are concatenated in order.

    Parameters
    ----------
    folder : str | Path
        Folder holding ``Moth_MEG.pkl`` (trial -> array (samples, channels)),
        ``Moth_word_onset_point.pkl`` (trial -> onset sample per word),
        ``Moth_words.pkl`` (trial -> words) and
        ``Moth_run_info_test_story_dict.pkl`` (story -> trial keys). A repeat absent
        from the words/onsets pickles uses those of the story's first trial.
    sfreq : float
        Sampling rate of the recordings in Hz. Required: the pickles do not store it.
    stories : sequence | None
        Stories to load, in this order; ``None`` takes all, in the pickle's order.
    n_windows : int
        Number of windows per word.
    window_ms : float
        Width of each window in ms.
    edge : {"drop", "error"}
        Words whose last window runs past the end of a recording (in any repeat):
        ``"drop"`` removes them and lists them in ``provenance["dropped_words"]``
        (story, position in story, word); ``"error"`` raises :class:`DataError`.
    info : mne.Info | None
        Sensor description for topomaps; its channel count must match. ``None``
        names the channels ``MEG000``, ``MEG001``, ... without geometry.

    Returns
    -------
    WordDataset
        ``responses`` (n_words, n_channels, n_windows), ``context="running"``.
        Sentences come from :func:`segment_sentences` within each story (a story
        never shares a sentence with the next); ``provenance["story_starts"]`` gives
        the first word index of each story.

    Raises
    ------
    DataError
        Missing or unreadable pickles, unknown trial keys, word/onset count
        mismatch, recordings of the wrong rank or axis order, NaN/inf values,
        onsets outside a recording, windows past the end with ``edge="error"``.
    """
    if edge not in ("drop", "error"):
        raise DataError(f"edge must be 'drop' or 'error', got {edge!r}.")
    if not sfreq or sfreq <= 0:
        raise DataError(f"sfreq must be a positive sampling rate in Hz, got {sfreq!r}.")
    folder = Path(folder)
    loaded = {k: _as_mapping(_read_pickle(folder / name), folder / name, "keyed by trial or story")
              for k, name in MOTH_FILES.items()}
    story_map, meg_path = loaded["stories"], folder / MOTH_FILES["meg"]
    edges = _window_edges(n_windows, window_ms, sfreq, str(meg_path))
    stories = list(story_map.keys()) if stories is None else list(stories)

    all_words, blocks, sentences, starts, dropped = [], [], [], [], []
    next_sentence = 0
    n_channels = None if info is None else len(info["ch_names"])
    for story in stories:
        if story not in story_map:
            raise DataError(f"{folder / MOTH_FILES['stories']}: no story {story!r}.")
        story_words, windows, story_dropped, n_channels = _moth_story(
            loaded, folder, story, edges, edge, n_channels)
        dropped += story_dropped
        story_sentences = segment_sentences(story_words) + next_sentence
        if len(story_words) > 100 and np.unique(story_sentences).size == 1:
            warnings.warn(f"{folder / MOTH_FILES['words']}: story {story!r} has no sentence-final "
                          "punctuation; all its words form one sentence.")
        next_sentence = story_sentences[-1] + 1 if story_sentences.size else next_sentence
        starts.append(len(all_words))
        sentences.append(story_sentences)
        all_words += story_words
        blocks.append(windows)

    ch_names = [f"MEG{i:03d}" for i in range(n_channels)] if info is None else list(info["ch_names"])
    return WordDataset(
        words=all_words,
        sentence=np.concatenate(sentences),
        responses=np.concatenate(blocks).astype(np.float32),
        times=np.arange(n_windows) * float(window_ms),
        ch_names=ch_names,
        info=info,
        window_ms=float(window_ms),
        context="running",
        groups={"story": np.repeat(np.arange(len(stories)),
                                   np.diff(np.r_[starts, len(all_words)]))},
        provenance={
            "loader": "load_moth",
            "folder": str(folder),
            "stories": [str(s) for s in stories],
            "story_starts": starts,
            "sfreq": float(sfreq),
            "preprocessing": "z-score per channel over each run; word-locked window means; "
                             "repeats of a story averaged",
            "edge": edge,
            "dropped_words": dropped,
        },
        source=f"Moth MEG ({folder})",
    )
