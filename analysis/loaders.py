"""Loaders for the published file layouts, each returning a :class:`WordDataset`.

One function per source (SPEC §1):

- :func:`load_harry_potter` -- the Harry Potter MEG files of Wehbe et al. (2014) as
  distributed with the paper's code (``denoised_HP.npy``, ``meg/*.mat``);
- :func:`load_moth` -- the Moth MEG pickles (continuous recordings, word onsets);
- :func:`load_mne_epochs` and :func:`load_bids` -- any MEG/EEG study brought through MNE;
- :func:`load_frank2015` -- the Frank et al. (2015) ERP table from the
  "prediction-resource" of de Varda et al. (2023).

Plus two helpers used by the loaders and downstream code: :func:`segment_sentences`
and :func:`read_annotations` (the authors' word-category CSVs).

Every loader checks its input and raises :class:`~analysis.data.DataError` with a
message naming the file, the field and what was expected.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np

from .data import DataError, WordDataset, check_finite, neuromag306_info

__all__ = [
    "load_harry_potter",
    "load_moth",
    "load_mne_epochs",
    "load_bids",
    "load_frank2015",
    "segment_sentences",
    "read_annotations",
    "strip_hp_word",
    "read_frank2015_table",
]

# --------------------------------------------------------------------------- sentences

_CLOSERS = "\"'\u201d\u2019)]}\u00bb"
_OPENERS = "\"'\u201c\u2018([{\u00ab"
_ABBREVIATIONS = frozenset(
    ["mr.", "mrs.", "ms.", "dr.", "st.", "prof.", "etc.", "e.g.", "i.e.", "jr.", "sr.",
     "vs.", "mt."]
)
_MIN_SENTENCE_WORDS = 4  # "more than 3 words" (SPEC §4)


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


# --------------------------------------------------------------------------- helpers

def _read_pickle(path):
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found.") from None
    except Exception as err:  # truncated or corrupted pickles raise many types
        raise DataError(f"{path}: cannot read as a pickle ({type(err).__name__}: {err}).") from err


def _load_npy(path, allow_pickle=False):
    try:
        return np.load(path, allow_pickle=allow_pickle)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found.") from None
    except Exception as err:
        raise DataError(f"{path}: cannot read as a .npy array ({type(err).__name__}: {err}).") from err


def _load_mat(path, variable):
    from scipy.io import loadmat

    try:
        mat = loadmat(path, variable_names=[variable])
    except FileNotFoundError:
        raise DataError(f"{path}: file not found.") from None
    except NotImplementedError as err:  # MATLAB v7.3 files are HDF5
        raise DataError(
            f"{path}: MATLAB v7.3 (HDF5) files are not supported; re-save it with "
            "save(..., '-v7') ({err})."
        ) from err
    except Exception as err:
        raise DataError(f"{path}: cannot read as a MATLAB file ({type(err).__name__}: {err}).") from err
    if variable not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise DataError(f"{path}: no entry '{variable}' (found {found}).")
    return mat[variable]


def _window_edges(n_windows, window_ms, sfreq, source):
    """Sample offsets of the window edges (n_windows + 1 integers from 0)."""
    edges = np.round(np.arange(n_windows + 1) * window_ms * sfreq / 1000.0).astype(int)
    if np.any(np.diff(edges) < 1):
        raise DataError(
            f"{source}: windows of {window_ms} ms hold no sample at {sfreq} Hz; "
            "expected a sampling rate of at least one sample per window."
        )
    return edges


def _window_means(run, starts, edges):
    """Window means of a continuous recording around each start sample.

    ``run`` is (samples, channels); word ``i`` window ``k`` averages samples
    ``starts[i] + edges[k]`` to ``starts[i] + edges[k + 1] - 1``. Returns an array
    (n_starts, channels, n_windows). One gather per window keeps memory at
    (n_starts, window width, channels).
    """
    out = np.empty((len(starts), run.shape[1], len(edges) - 1))
    for k in range(len(edges) - 1):
        idx = starts[:, None] + np.arange(edges[k], edges[k + 1])
        out[:, :, k] = run[idx].mean(axis=1)
    return out


# --------------------------------------------------------------------------- Harry Potter

HP_N_WINDOWS = 20
HP_WINDOW_MS = 25.0
HP_N_CHANNELS = 306
_HP_FILES = {
    9: ("denoised_HP.npy", "A_HP_notDetrended_25ms.mat"),
    10: ("denoised_HP_chapter2.npy", "words_chapter_2.npy"),
}
_HP_SUBJECT_PATTERN = "{}_HP_notDetrended_25ms.mat"


def strip_hp_word(word):
    """Clean one Harry Potter label as the authors do.

    Removes the markup characters ``@ \\ + ^`` and surrounding whitespace; the result
    may be empty.

    Parameters
    ----------
    word : str

    Returns
    -------
    str
    """
    return re.sub(r"[@\\+^]", "", str(word)).strip()


def _find_file(root, name):
    """``root/name`` or ``root/meg/name``, whichever exists, else None."""
    for candidate in (Path(root) / name, Path(root) / "meg" / name):
        if candidate.is_file():
            return candidate
    return None


def _cell_text(cell, path, index):
    """Unwrap a MATLAB cell (nested 1-element object arrays) down to its string."""
    value = cell
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.ravel()[0]
    if isinstance(value, np.ndarray) and value.size == 0:
        return ""  # an empty cell or an empty MATLAB string
    if isinstance(value, np.ndarray) and value.dtype.kind == "U" and value.size == 1:
        value = str(value.ravel()[0])
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        raise DataError(
            f"{path}: entry 'labels' cell {index} holds {type(value).__name__} "
            f"{getattr(value, 'shape', '')}; expected one string per cell."
        )
    return value


def _read_hp_labels(path):
    labels = _load_mat(path, "labels")
    if labels.dtype.kind == "U":  # a MATLAB char matrix rather than a cell array
        return [str(w) for w in labels.ravel()]
    if labels.dtype != object:
        raise DataError(
            f"{path}: entry 'labels' has dtype {labels.dtype}; expected a cell array "
            "of strings, one per word."
        )
    return [_cell_text(cell, path, i) for i, cell in enumerate(labels.ravel())]


def _read_hp_words(path, chapter):
    if chapter == 9:
        raw = _read_hp_labels(path)
    else:
        arr = _load_npy(path, allow_pickle=True)  # the published file may hold an object array
        if arr.ndim != 1:
            raise DataError(
                f"{path}: words array has shape {arr.shape}; expected one word per entry (1 axis)."
            )
        raw = [w.decode("utf-8", "replace") if isinstance(w, bytes) else str(w) for w in arr]
    return [strip_hp_word(w) for w in raw]


def _check_hp_axes(arr, path, expected, field):
    """Check a (word, *rest) array against the expected trailing axes, naming swaps."""
    names = {HP_N_WINDOWS: "window", HP_N_CHANNELS: "channel"}
    want = ", ".join(["word"] + [names[n] for n in expected])
    if arr.ndim != 3:
        raise DataError(
            f"{path}: field '{field}' has shape {arr.shape}; expected 3 axes ({want}) "
            f"of shape (n_words, {', '.join(map(str, expected))})."
        )
    if arr.shape[1:] == expected:
        return
    if arr.shape[1:] == expected[::-1]:
        got = ", ".join(["word"] + [names[n] for n in expected[::-1]])
        raise DataError(
            f"{path}: field '{field}' has shape {arr.shape}, which looks like axis order "
            f"({got}); expected ({want}) = (n_words, {', '.join(map(str, expected))})."
        )
    raise DataError(
        f"{path}: field '{field}' has shape {arr.shape}; expected (n_words, "
        f"{', '.join(map(str, expected))}) = ({want}) with {HP_N_CHANNELS} Neuromag "
        f"channels and {HP_N_WINDOWS} windows of 25 ms."
    )


def _resolve_hp_paths(meg_path, words_path, chapter):
    if chapter not in _HP_FILES:
        raise DataError(f"chapter must be 9 or 10, got {chapter!r}.")
    npy_name, words_name = _HP_FILES[chapter]
    meg_path = Path(meg_path)
    if not meg_path.exists():
        raise DataError(f"{meg_path}: file or folder not found.")
    root = meg_path if meg_path.is_dir() else meg_path.parent
    if meg_path.is_dir():
        found = _find_file(meg_path, npy_name)
        if found is None:
            raise DataError(f"{meg_path}: no '{npy_name}' in this folder or its 'meg/' subfolder.")
        meg_path = found
    if words_path is None:
        words_path = _find_file(root, words_name)
        if words_path is None:
            raise DataError(
                f"{root}: no '{words_name}' (the chapter {chapter} words) in this folder "
                "or its 'meg/' subfolder; pass words_path."
            )
    return meg_path, Path(words_path), root


def _resolve_hp_subjects(subjects, root):
    if subjects == "all":
        found = sorted(set((root / "meg").glob(_HP_SUBJECT_PATTERN.format("*")))
                       | set(root.glob(_HP_SUBJECT_PATTERN.format("*"))))
        if not found:
            raise DataError(f"{root}: no per-subject files '{_HP_SUBJECT_PATTERN.format('*')}'.")
        return found
    if isinstance(subjects, (str, os.PathLike)):
        subjects = [subjects]
    paths = []
    for s in subjects:
        if Path(s).is_file():
            paths.append(Path(s))
            continue
        found = _find_file(root, _HP_SUBJECT_PATTERN.format(s))
        if found is None:
            raise DataError(
                f"{root}: no per-subject file '{_HP_SUBJECT_PATTERN.format(s)}' for "
                f"subject {s!r} in this folder or its 'meg/' subfolder."
            )
        paths.append(found)
    return paths


def _read_hp_subject(path, n_words):
    data = np.asarray(_load_mat(path, "data"))
    _check_hp_axes(data, path, (HP_N_CHANNELS, HP_N_WINDOWS), "data")
    if data.shape[0] != n_words:
        raise DataError(
            f"{path}: field 'data' has {data.shape[0]} words; expected {n_words}, the "
            "number of words in the group-level responses."
        )
    check_finite(data, "data", str(path))
    return data.astype(np.float32)


def load_harry_potter(meg_path, words_path=None, chapter=9, subjects=None, drop_first=20,
                      annotations=None, truncate_labels=True):
    """Load the Harry Potter MEG data of Wehbe et al. (2014) as distributed.

    Parameters
    ----------
    meg_path : str | Path
        The group-level file (``denoised_HP.npy`` for chapter 9,
        ``denoised_HP_chapter2.npy`` for chapter 10) of shape (n_words, 20, 306) =
        (word, window, channel), or the folder holding the files as distributed
        (``denoised_HP*.npy`` and ``words_chapter_2.npy`` at its top, the MATLAB
        files there or in ``meg/``).
    words_path : str | Path | None
        Chapter 9: the MATLAB file whose ``labels`` cell array holds the words
        (``meg/A_HP_notDetrended_25ms.mat``); chapter 10: ``words_chapter_2.npy``.
        ``None`` looks next to ``meg_path`` (and in its ``meg/`` subfolder).
    chapter : {9, 10}
        Which chapter.
    subjects : None | "all" | sequence of str or Path
        Per-subject files ``{S}_HP_notDetrended_25ms.mat`` (entry ``data`` of shape
        (n_words, 306, 20) = (word, channel, window)) to load into
        ``subject_responses``: subject letters (``"A"``, ``"B"``, ...), file paths,
        or ``"all"`` for every such file found. ``None`` loads none.
    drop_first : int
        Number of leading words removed (default 20: they lack a full 20-word
        context, SPEC §1.1). Recorded in ``provenance["dropped_first"]``.
    annotations : str | Path | sequence | None
        Word-category CSVs in the authors' format for the whole chapter (see
        :func:`read_annotations`); stored in ``categories``.
    truncate_labels : bool
        The chapter 9 ``labels`` cell array may hold more entries than there are
        response rows; the authors' code keeps the first ones. When True, extra
        trailing labels are dropped with a warning and a record in
        ``provenance["labels_truncated"]``; when False they raise
        :class:`DataError`. Fewer labels than responses always raise.

    Returns
    -------
    WordDataset
        ``responses`` (n_words, 306, 20) with window starts 0, 25, ..., 475 ms, the
        Neuromag-306 Info of :func:`analysis.data.neuromag306_info` (channels in
        standard FIF order, assumed to match the files), ``context="running"``.

    Raises
    ------
    DataError
        Missing or unreadable files, wrong shape or axis order, word count different
        from response count, NaN/inf values.
    """
    meg_path, words_path, root = _resolve_hp_paths(meg_path, words_path, chapter)
    responses = _load_npy(meg_path)
    _check_hp_axes(responses, meg_path, (HP_N_WINDOWS, HP_N_CHANNELS), "responses")
    check_finite(responses, "responses", str(meg_path))
    n = responses.shape[0]

    words = _read_hp_words(words_path, chapter)
    provenance = {}
    if len(words) > n and truncate_labels and chapter == 9:
        warnings.warn(f"{words_path}: {len(words)} labels for {n} responses; keeping the first {n}.")
        provenance["labels_truncated"] = {"from": len(words), "to": n}
        words = words[:n]
    if len(words) != n:
        raise DataError(
            f"{words_path}: {len(words)} words but {meg_path} has {n} response rows; "
            "expected one word per response row."
        )

    subject_paths = [] if subjects is None else _resolve_hp_subjects(subjects, root)
    subject_responses = None
    if subject_paths:
        subject_responses = np.stack([_read_hp_subject(p, n) for p in subject_paths])

    categories = {} if annotations is None else read_annotations(annotations, words)
    provenance.update({
        "loader": "load_harry_potter",
        "chapter": chapter,
        "responses_file": str(meg_path),
        "words_file": str(words_path),
        "subject_files": [str(p) for p in subject_paths],
        "axis_order_in_file": "(word, window, channel), transposed to (word, channel, window)",
        "word_cleaning": "removed '@ \\ + ^' and surrounding whitespace; empty words kept",
        "dropped_first": int(drop_first),
        "reference": "Wehbe et al. (2014), PLoS ONE 9(11): e112575",
    })
    info = neuromag306_info()
    dataset = WordDataset(
        words=words,
        sentence=segment_sentences(words),
        responses=np.transpose(responses, (0, 2, 1)).astype(np.float32),
        times=np.arange(HP_N_WINDOWS) * HP_WINDOW_MS,
        ch_names=info["ch_names"],
        info=info,
        window_ms=HP_WINDOW_MS,
        subject_responses=subject_responses,
        categories=categories,
        context="running",
        provenance=provenance,
        source=f"Harry Potter chapter {chapter} MEG ({meg_path.name})",
    )
    return _drop_first(dataset, drop_first)


def _drop_first(dataset, k):
    if k < 0 or k >= dataset.n_words:
        raise DataError(
            f"{dataset.source}: drop_first={k}; expected 0 <= drop_first < {dataset.n_words}."
        )
    if k == 0:
        return dataset
    sub = dataset.subset(np.arange(k, dataset.n_words))
    sub.sentence = sub.sentence - sub.sentence[0]
    sub.provenance.pop("subset", None)  # recorded as dropped_first instead
    return sub


# --------------------------------------------------------------------------- Moth

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


# --------------------------------------------------------------------------- MNE

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


def load_mne_epochs(path_or_epochs, window_ms=25.0, tmin=0.0, tmax=0.5, picks="data",
                    word_column="word", sentence_column="sentence"):
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


# --------------------------------------------------------------------------- Frank 2015

FRANK_COMPONENTS = ("ELAN", "LAN", "N400", "EPNP", "P600", "PNP")
# Component time windows (ms after word onset) of Frank et al. (2015), for reference.
FRANK_COMPONENT_WINDOWS_MS = {
    "ELAN": (125, 175), "LAN": (300, 400), "N400": (300, 500),
    "EPNP": (400, 600), "P600": (500, 700), "PNP": (600, 700),
}
_FRANK_REQUIRED = ("sentence", "word", "sent_id", "context_length") + FRANK_COMPONENTS
_FRANK_HOWTO = (
    "Get all_measures.csv from the public repository 'prediction-resource' of de Varda, "
    "Marelli & Amenta (2023, Behavior Research Methods); the EEG measures are from Frank, "
    "Otten, Galli & Vigliocco (2015, Brain and Language 140:1-11). Pass its path or set "
    "FRANK2015_PATH."
)


def _frank_default_path(path):
    if path is not None:
        path = Path(path)
        return path / "all_measures.csv" if path.is_dir() else path
    env = os.environ.get("FRANK2015_PATH")
    if env:
        path = Path(env)
        return path / "all_measures.csv" if path.is_dir() else path
    repo_root = Path(__file__).resolve().parents[1]
    default = repo_root.parent / "shared" / "data" / "frank2015" / "all_measures.csv"
    if default.is_file():
        return default
    raise DataError(f"Frank et al. (2015) data not found (looked for {default}). {_FRANK_HOWTO}")


def _frank_numeric(table, column, path):
    import pandas as pd

    values = pd.to_numeric(table[column].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(values))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{path}: column '{column}' row {i} (line {i + 2}, word {table['word'].iloc[i]!r}) is "
            f"{table[column].iloc[i]!r}; expected a number."
        )
    return values


def read_frank2015_table(path=None):
    """Read the Frank et al. (2015) per-word table, ordered by sentence then position.

    Text columns are read verbatim (a word such as "None" stays a word); the other
    columns are converted to numbers where every value parses (blanks -> NaN).

    Parameters
    ----------
    path : str | Path | None
        ``all_measures.csv`` or its folder; see :func:`load_frank2015`.

    Returns
    -------
    pandas.DataFrame
        One row per word, index reset, in dataset order.
    """
    import pandas as pd

    path = _frank_default_path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found. {_FRANK_HOWTO}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as err:
        raise DataError(f"{path}: cannot read as CSV ({type(err).__name__}: {err}).") from err
    missing = [c for c in _FRANK_REQUIRED if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing}; expected the all_measures.csv layout.")
    table.attrs["path"] = str(path)
    for col in ("sent_id", "context_length") + FRANK_COMPONENTS:
        table[col] = _frank_numeric(table, col, path)
    table[["sent_id", "context_length"]] = table[["sent_id", "context_length"]].astype(int)
    for col in table.columns:
        if col in ("sentence", "item", "word", "word2", "sent_id", "context_length") + FRANK_COMPONENTS:
            continue
        blank = table[col].str.strip().isin(["", "NA", "NaN", "nan"])
        converted = pd.to_numeric(table[col].where(~blank), errors="coerce")
        if converted.notna().sum() == (~blank).sum():
            table[col] = converted
    dup = table.duplicated(["sent_id", "context_length"])
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"{path}: row {i} (line {i + 2}) repeats sent_id {table['sent_id'].iloc[i]} and context_length "
            f"{table['context_length'].iloc[i]}; expected one row per word position."
        )
    return table.sort_values(["sent_id", "context_length"], kind="stable").reset_index(drop=True)


def load_frank2015(path=None, return_table=False):
    """Load the Frank et al. (2015) EEG data: six ERP components per word.

    The six component amplitudes (averaged over 24 readers) are the six channels of a
    single window. Sentences were read in isolation, so ``context="sentence"``.

    Parameters
    ----------
    path : str | Path | None
        ``all_measures.csv`` (or its folder). ``None`` uses the environment variable
        ``FRANK2015_PATH``, else ``../shared/data/frank2015/all_measures.csv`` beside
        the repository, else raises :class:`DataError` saying where to get the file.
    return_table : bool
        Also return the full per-word table (reading times, cloze probability,
        surprisal columns, ...), row ``i`` describing word ``i`` of the dataset.

    Returns
    -------
    WordDataset or (WordDataset, pandas.DataFrame)
        Words ordered by ``sent_id`` then position; ``sentence`` numbers sentences
        0..n-1 in ``sent_id`` order. ``times=[0.]`` and ``window_ms=700``: one window
        covering all component windows (``provenance["component_windows_ms"]``).
        The file has no row for the first word of each sentence (no EEG measure), so
        ``provenance["sentence_initial_words"]`` gives those words, one per sentence,
        for building the language-model context.

    Raises
    ------
    DataError
        File not found, missing columns, non-numeric or non-finite ERP values,
        duplicated word positions.
    """
    table = read_frank2015_table(path)
    path = table.attrs["path"]
    responses = table[list(FRANK_COMPONENTS)].to_numpy(dtype=float)
    check_finite(responses, "ERP components", path)
    sentence = np.unique(table["sent_id"].to_numpy(), return_inverse=True)[1]
    first_rows = table.groupby("sent_id", sort=True).head(1)
    initial = [str(s).split()[0] if str(s).split() else "" for s in first_rows["sentence"]]
    dataset = WordDataset(
        words=list(table["word"]),
        sentence=sentence,
        responses=responses[:, :, None],
        times=np.array([0.0]),
        ch_names=list(FRANK_COMPONENTS),
        info=None,
        window_ms=700.0,
        context="sentence",
        provenance={
            "loader": "load_frank2015",
            "file": path,
            "n_participants": 24,
            "component_windows_ms": {k: list(v) for k, v in FRANK_COMPONENT_WINDOWS_MS.items()},
            "sentence_initial_words": initial,
            "sent_ids": [int(s) for s in first_rows["sent_id"]],
            "references": [
                "Frank, Otten, Galli & Vigliocco (2015), Brain and Language 140:1-11",
                "de Varda, Marelli & Amenta (2023), Behavior Research Methods "
                "('prediction-resource')",
            ],
        },
        source=f"Frank et al. (2015) EEG ({Path(path).name})",
    )
    return (dataset, table) if return_table else dataset


# --------------------------------------------------------------------------- annotations

ANNOTATION_COLUMNS = ("Word", "Emotion", "Figurative", "Physical")


def _normalise_word(word):
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
        if _normalise_word(a) != _normalise_word(b):
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


def frank2015_context(dataset):
    """Re-insert the sentence-initial words that ``all_measures.csv`` has no row for.

    The Frank et al. (2015) table starts each sentence at its second word, but a
    language model must read the first word as context. This returns the full word
    list to extract features from, and which of its words are the dataset's rows.

    Parameters
    ----------
    dataset : WordDataset
        As returned by :func:`load_frank2015`.

    Returns
    -------
    words : list of str
        Every sentence with its first word restored.
    sentence : ndarray of int
        Sentence index of each word.
    keep : ndarray of bool
        True for the words that are rows of ``dataset`` (in the same order).
    """
    initial = dataset.provenance.get("sentence_initial_words")
    if initial is None:
        raise DataError(f"{dataset.source}: no 'sentence_initial_words' in the provenance; "
                        "expected a dataset made by load_frank2015.")
    sentences = np.unique(dataset.sentence)
    if len(initial) != len(sentences):
        raise DataError(f"{dataset.source}: {len(initial)} sentence-initial words for "
                        f"{len(sentences)} sentences; expected one per sentence.")
    words, sentence, keep = [], [], []
    for first, s in zip(initial, sentences):
        idx = np.flatnonzero(dataset.sentence == s)
        words += [first] + [dataset.words[i] for i in idx]
        sentence += [s] * (len(idx) + 1)
        keep += [False] + [True] * len(idx)
    return words, np.array(sentence), np.array(keep)
